//! `servant/StatF.tars`: call statistics reports (spec §5.1, monitoring spec §2.1).
//!
//! The head borrows its strings from the frame: a report decodes without copying them.

use std::borrow::Cow;

use crate::codec::MapEntries;

crate::tars_struct! {
    /// Identifies one caller → callee interface and return value.
    #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct StatMicMsgHead<'a>: "tars.StatMicMsgHead" {
        /// Caller module (`App.Server`, TarsCpp appends `@version`).
        0 require master_name: Cow<'a, str>,
        /// Callee `App.Server`.
        1 require slave_name: Cow<'a, str>,
        /// Called function.
        2 require interface_name: Cow<'a, str>,
        /// Caller IP.
        3 require master_ip: Cow<'a, str>,
        /// Callee IP.
        4 require slave_ip: Cow<'a, str>,
        /// Callee port.
        5 require slave_port: i32,
        /// Return value of the call.
        6 require return_value: i32,
        /// Callee set name.
        7 optional slave_set_name: Cow<'a, str>,
        /// Callee set area.
        8 optional slave_set_area: Cow<'a, str>,
        /// Callee set group id.
        9 optional slave_set_id: Cow<'a, str>,
        /// Caller's TARS version.
        10 optional tars_version: Cow<'a, str>,
    }
}

crate::tars_struct! {
    /// Aggregated figures of the calls of one head in one report interval.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StatMicMsgBody: "tars.StatMicMsgBody" {
        /// Successful calls.
        0 require count: i32,
        /// Timed-out calls.
        1 require timeout_count: i32,
        /// Failed calls.
        2 require exec_count: i32,
        /// Latency histogram: bucket upper bound (ms) → calls.
        3 require interval_count: MapEntries<i32, i32>,
        /// Sum of latencies (ms) of successful calls.
        4 require total_rsp_time: i64,
        /// Largest latency (ms).
        5 require max_rsp_time: i32,
        /// Smallest latency (ms); Node clients always send 0.
        6 require min_rsp_time: i32,
    }
}

/// The argument of `reportMicMsg` at tag 1.
pub type StatMicMsg<'a> = MapEntries<StatMicMsgHead<'a>, StatMicMsgBody>;

/// Method names of `StatF`.
pub mod stat_f {
    /// `int reportMicMsg(map<StatMicMsgHead, StatMicMsgBody> msg, bool bFromClient)`.
    pub const REPORT_MIC_MSG: &str = "reportMicMsg";
    /// `int reportSampleMsg(vector<StatSampleMsg> msg)`.
    pub const REPORT_SAMPLE_MSG: &str = "reportSampleMsg";
}
