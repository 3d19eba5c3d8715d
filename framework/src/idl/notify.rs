//! `servant/NotifyF.tars`: alarms and framework status messages (monitoring spec §4.1),
//! including the legacy calls that older clients still send.

crate::tars_struct! {
    /// One notification (`ReportInfo`; tags start at 1).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ReportInfo: "tars.ReportInfo" {
        /// `ReportType`: 0 = REPORT (framework status), 1 = NOTIFY (business alarm).
        1 require e_type: i32,
        /// Application.
        2 require s_app: String,
        /// Set division `name.area.group`, or empty.
        3 require s_set: String,
        /// Container name.
        4 require s_container: String,
        /// Server name.
        5 require s_server: String,
        /// The message.
        6 require s_message: String,
        /// Reporting thread.
        7 optional s_thread_id: String,
        /// `NOTIFYLEVEL`: 0 normal, 1 warn, 2 error.
        8 optional e_level: i32,
        /// Node name (since 2019); the peer IP when empty.
        9 optional s_node_name: String,
    }
}

crate::tars_struct! {
    /// Key of the legacy paged history (`getNotifyInfo`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct NotifyKey: "tars.NotifyKey" {
        /// `App` + `Server` (no dot, as the original builds it).
        1 require name: String,
        /// Node IP.
        2 require ip: String,
        /// Page number.
        3 require page: i32,
    }
}

crate::tars_struct! {
    /// One entry of the legacy history.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct NotifyItem: "tars.NotifyItem" {
        /// `YYYY-MM-DD HH:MM:SS`.
        1 require s_time_stamp: String,
        /// `App.Server_node`.
        2 require s_server_id: String,
        /// Level.
        3 require i_level: i32,
        /// Message.
        4 require s_message: String,
    }
}

crate::tars_struct! {
    /// A page of the legacy history.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct NotifyInfo: "tars.NotifyInfo" {
        /// Next page number, or -1 when none.
        1 require nextpage: i32,
        /// The entries.
        2 require notify_items: Vec<NotifyItem>,
    }
}

/// `ReportType::REPORT`.
pub const REPORT: i32 = 0;
/// `ReportType::NOTIFY`.
pub const NOTIFY: i32 = 1;

/// Method names of `Notify`.
pub mod notify_f {
    /// `void reportNotifyInfo(ReportInfo info)`.
    pub const REPORT_NOTIFY_INFO: &str = "reportNotifyInfo";
    /// Legacy `void reportServer(string sServerName, string sThreadId, string sMessage)`.
    pub const REPORT_SERVER: &str = "reportServer";
    /// Legacy `void notifyServer(string sServerName, NOTIFYLEVEL level, string sMessage)`.
    pub const NOTIFY_SERVER: &str = "notifyServer";
    /// Legacy `int getNotifyInfo(NotifyKey stKey, out NotifyInfo stInfo)`.
    pub const GET_NOTIFY_INFO: &str = "getNotifyInfo";
}
