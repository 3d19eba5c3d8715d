//! `servant/EndpointF.tars` and `servant/QueryF.tars` (spec §3.1).

crate::tars_struct! {
    /// One endpoint of an object, as the registry returns it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct EndpointF: "tars.EndpointF" {
        /// Host or IP.
        0 require host: String,
        /// Port.
        1 require port: i32,
        /// Timeout in ms.
        2 require timeout: i32,
        /// 0 UDP, 1 TCP, 2 SSL.
        3 require istcp: i32,
        /// Grid (grey release) flag.
        4 require grid: i32,
        /// Group work id.
        5 optional groupworkid: i32,
        /// Group real id.
        6 optional grouprealid: i32,
        /// Set id (`name.area.group`).
        7 optional set_id: String,
        /// QoS.
        8 optional qos: i32,
        /// Backup flag.
        9 optional bak_flag: i32,
        /// Weight.
        11 optional weight: i32,
        /// Weight type.
        12 optional weight_type: i32,
        /// Auth type (0 none).
        13 optional auth_type: i32,
        /// Node name.
        14 optional node_name: String,
    }
}

/// `QueryF` method names the embedded registry answers. All take `id@1`; the `…InSameStation`
/// and `…InSameSet` variants take a second `in` string at tag 2 and shift the `out` lists to
/// tags 3 and 4.
pub mod query_f {
    /// `vector<EndpointF> findObjectById(string id)`.
    pub const FIND_OBJECT_BY_ID: &str = "findObjectById";
    /// `int findObjectById4Any(string id, out vector<EndpointF> activeEp, out … inactiveEp)`.
    pub const FIND_OBJECT_BY_ID_4_ANY: &str = "findObjectById4Any";
    /// Same signature as `findObjectById4Any`.
    pub const FIND_OBJECT_BY_ID_4_ALL: &str = "findObjectById4All";
    /// Same signature as `findObjectById4Any`; the Node and C++ clients' default.
    pub const FIND_OBJECT_BY_ID_IN_SAME_GROUP: &str = "findObjectByIdInSameGroup";
    /// `(string id, string sStation, out active, out inactive)`.
    pub const FIND_OBJECT_BY_ID_IN_SAME_STATION: &str = "findObjectByIdInSameStation";
    /// `(string id, string setId, out active, out inactive)`.
    pub const FIND_OBJECT_BY_ID_IN_SAME_SET: &str = "findObjectByIdInSameSet";
}
