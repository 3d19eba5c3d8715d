//! `servant/PropertyF.tars`: business metrics ("properties", monitoring spec §3.1).
//!
//! The head borrows its strings from the frame; a report decodes without copying them.

use std::borrow::Cow;

use crate::codec::MapEntries;

crate::tars_struct! {
    /// Identifies one property of one module (and set).
    #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct StatPropMsgHead<'a>: "tars.StatPropMsgHead" {
        /// Reporting module (`App.Server`, with a set suffix when sets are enabled).
        0 require module_name: Cow<'a, str>,
        /// Reporter IP (TarsCpp sends `""`; tarsproperty uses the peer IP).
        1 require ip: Cow<'a, str>,
        /// Property name.
        2 require property_name: Cow<'a, str>,
        /// Set name.
        3 optional set_name: Cow<'a, str>,
        /// Set area.
        4 optional set_area: Cow<'a, str>,
        /// Set group id.
        5 optional set_id: Cow<'a, str>,
        /// Container name (discarded, as tarsproperty does).
        6 optional s_container: Cow<'a, str>,
        /// Encoder version: 1 (default), 2 for TarsCpp ≥ 2 and Node.
        7 optional i_property_ver: i32 = 1,
    }
}

crate::tars_struct! {
    /// One policy's value of a property.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StatPropInfo<'a>: "tars.StatPropInfo" {
        /// `Sum`, `Avg`, `Distr`, `Count`, `Max` or `Min` (case-sensitive).
        0 require policy: Cow<'a, str>,
        /// The policy's value as text (see monitoring spec §3.2 for the forms).
        1 require value: Cow<'a, str>,
    }
}

crate::tars_struct! {
    /// The values of one property in one report interval.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StatPropMsgBody<'a>: "tars.StatPropMsgBody" {
        /// One entry per policy.
        0 require v_info: Vec<StatPropInfo<'a>>,
    }
}

/// The argument of `reportPropMsg` at tag 1.
pub type StatPropMsg<'a> = MapEntries<StatPropMsgHead<'a>, StatPropMsgBody<'a>>;

/// Method names of `PropertyF`.
pub mod property_f {
    /// `int reportPropMsg(map<StatPropMsgHead, StatPropMsgBody> statmsg)`.
    pub const REPORT_PROP_MSG: &str = "reportPropMsg";
}
