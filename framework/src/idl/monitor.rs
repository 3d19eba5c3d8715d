//! `framework/MonitorQuery.tars`: TarsWeb's queries to querystat and queryproperty
//! (monitoring spec §8.1).

use std::collections::BTreeMap;

crate::tars_struct! {
    /// One filter: `field op 'val'`; `op` is `OP` (EQ, GT, GTE, LT, LTE, LIKE = 0..5).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Condition: "tars.Condition" {
        /// Column name.
        0 require field: String,
        /// Operator (enum `OP`).
        1 require op: i32,
        /// Value.
        2 require val: String,
    }
}

crate::tars_struct! {
    /// A query as TarsWeb sends it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct MonitorQueryReq: "tars.MonitorQueryReq" {
        /// Request id (a UUID).
        0 require uid: String,
        /// Always `query`.
        1 require method: String = "query",
        /// `tars_stat` or `tars_property`.
        2 require dataid: String,
        /// `YYYYMMDD`.
        3 require date: String,
        /// First interval label, `HHMM`.
        4 require tflag1: String,
        /// Last interval label, `HHMM`.
        5 require tflag2: String,
        /// Filters.
        6 require conditions: Vec<Condition>,
        /// Columns to sum.
        7 require indexs: Vec<String>,
        /// Columns to group by.
        8 require groupby: Vec<String>,
    }
}

crate::tars_struct! {
    /// The answer.
    #[derive(Debug, Clone, PartialEq)]
    pub struct MonitorQueryRsp: "tars.MonitorQueryRsp" {
        /// 0 ok, -1 error.
        0 require ret: i32,
        /// Error message.
        1 optional msg: String,
        /// `YYYYMMDD HHMM` of the last complete sealed interval.
        2 require last_time: String,
        /// Healthy databases: with the MySQL exporter on, the exported databases whose last
        /// write succeeded; else 1 (tarsmon's store).
        3 require active_db: i32,
        /// Databases configured: the exported MySQL databases, else 1.
        4 require total_db: i32,
        /// Per-database result codes (0 healthy, -1 failing).
        5 require ret_threads: Vec<i32>,
        /// Group key (values joined by `,`) → one value per index.
        6 optional result: BTreeMap<String, Vec<f64>>,
    }
}

/// Method name of `MonitorQuery`: `int query(MonitorQueryReq req, out MonitorQueryRsp rsp)`.
pub const QUERY: &str = "query";
