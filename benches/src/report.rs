//! The reports a load run sends: a key space of distinct stat heads, cut into `reportMicMsg`
//! argument buffers of `entries` heads each, as real clients send them (about a dozen entries,
//! ~1.5 KB per frame).

use std::borrow::Cow;

use tarsmon_framework::codec::{Encode, MapEntries, TupName, Writer};
use tarsmon_framework::idl::notify::{REPORT, ReportInfo, notify_f};
use tarsmon_framework::idl::property::{StatPropInfo, StatPropMsgBody, StatPropMsgHead, property_f};
use tarsmon_framework::idl::stat::{StatMicMsgBody, StatMicMsgHead};
use tarsmon_framework::packet::{TARS_VERSION, TUP_VERSION3};
use tarsmon_framework::tup::UniAttribute;

/// The protocol a run speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// TARS v1: arguments by tag (what TarsCpp and TarsGo send).
    Tars,
    /// TUP v3: arguments by name in a UniAttribute.
    Tup,
}

impl Protocol {
    /// `iVersion` of the request packets.
    pub fn version(self) -> i16 {
        match self {
            Protocol::Tars => TARS_VERSION,
            Protocol::Tup => TUP_VERSION3,
        }
    }
}

/// Calls each entry reports; the run's expected total is `entries sent × CALLS_PER_ENTRY`.
pub const CALLS_PER_ENTRY: i32 = 1;

/// What a run reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `StatF.reportMicMsg`: call statistics, `entries` heads per request.
    Stat,
    /// `PropertyF.reportPropMsg`: business metrics, `entries` properties per request, each
    /// with one `Count` value of 1.
    Property,
    /// `NotifyF.reportNotifyInfo`: one notification per request.
    Notify,
}

impl Kind {
    /// The object a run sends to by default.
    pub fn default_target(self) -> &'static str {
        match self {
            Kind::Stat => "tars.tarsstat.StatObj",
            Kind::Property => "tars.tarsproperty.PropertyObj",
            Kind::Notify => "tars.tarsnotify.NotifyObj",
        }
    }

    /// The method the requests call.
    pub fn func(self) -> &'static str {
        match self {
            Kind::Stat => "reportMicMsg",
            Kind::Property => property_f::REPORT_PROP_MSG,
            Kind::Notify => notify_f::REPORT_NOTIFY_INFO,
        }
    }
}

/// Encodes `fields` as the arguments of one request: by tag for TARS v1, by name for TUP.
fn encode_args(protocol: Protocol, fields: impl Fn(&mut ArgWriter<'_, '_>)) -> Vec<u8> {
    match protocol {
        Protocol::Tars => {
            let mut w = Writer::new();
            fields(&mut ArgWriter::Tars(&mut w));
            w.into_inner()
        }
        Protocol::Tup => {
            let mut a = UniAttribute::new(TUP_VERSION3);
            fields(&mut ArgWriter::Tup(&mut a));
            a.encode()
        }
    }
}

/// Where [`encode_args`] puts an argument.
enum ArgWriter<'w, 'a> {
    Tars(&'w mut Writer),
    Tup(&'w mut UniAttribute<'a>),
}

impl ArgWriter<'_, '_> {
    fn put<T: Encode + TupName>(&mut self, tag: u8, name: &str, value: &T) {
        match self {
            ArgWriter::Tars(w) => value.encode(w, tag),
            ArgWriter::Tup(a) => a.put(name, value),
        }
    }
}

/// The arguments of a request of `kind` that reports nothing (the closing call of a oneway
/// run); `None` for notify, where every call stores a notification.
pub fn empty_args(kind: Kind, protocol: Protocol) -> Option<Vec<u8>> {
    match kind {
        Kind::Stat => {
            let msg: MapEntries<StatMicMsgHead<'_>, StatMicMsgBody> = MapEntries(Vec::new());
            Some(encode_args(protocol, |w| {
                w.put(1, "msg", &msg);
                w.put(2, "bFromClient", &true);
            }))
        }
        Kind::Property => {
            let msg: MapEntries<StatPropMsgHead<'_>, StatPropMsgBody<'_>> = MapEntries(Vec::new());
            Some(encode_args(protocol, |w| w.put(1, "statmsg", &msg)))
        }
        Kind::Notify => None,
    }
}

/// The distinct heads of one run, all under one caller name unique to the run, so that
/// verification counts exactly this run's entries.
#[derive(Debug, Clone)]
pub struct KeySpace {
    /// The `master_name` every head carries.
    pub master_name: String,
    /// Distinct heads.
    pub keys: usize,
}

impl KeySpace {
    /// The head of key `k` (0-based, `k < keys`).
    fn head(&self, k: usize) -> StatMicMsgHead<'static> {
        StatMicMsgHead {
            master_name: Cow::Owned(format!("{}@3.0.22", self.master_name)),
            slave_name: Cow::Owned(format!("Load.Server{}", k % 20)),
            interface_name: Cow::Owned(format!("method{}", k / 20 % 500)),
            master_ip: Cow::Owned(format!("10.{}.{}.{}", k / 10_000 % 250, k / 100 % 100, k % 100)),
            slave_ip: Cow::Borrowed("10.255.0.1"),
            slave_port: 20_000 + i32::try_from(k % 20).unwrap_or(0),
            return_value: 0,
            slave_set_name: Cow::Borrowed(""),
            slave_set_area: Cow::Borrowed(""),
            slave_set_id: Cow::Borrowed(""),
            tars_version: Cow::Borrowed(""),
        }
    }

    /// The requests of `kind` that cover the key space once (see [`Self::reports`],
    /// [`Self::property_reports`], [`Self::notify_reports`]).
    pub fn reports_of(&self, kind: Kind, entries: usize, protocol: Protocol) -> Vec<Report> {
        match kind {
            Kind::Stat => self.reports(entries, protocol),
            Kind::Property => self.property_reports(entries, protocol),
            Kind::Notify => self.notify_reports(protocol),
        }
    }

    /// `reportPropMsg(statmsg)` buffers covering the key space once, `entries` properties per
    /// buffer: module `master_name` (unique to the run), property `p<k>`, one `Count` of 1.
    pub fn property_reports(&self, entries: usize, protocol: Protocol) -> Vec<Report> {
        let body = StatPropMsgBody {
            v_info: vec![StatPropInfo { policy: Cow::Borrowed("Count"), value: Cow::Borrowed("1") }],
        };
        (0..self.keys)
            .step_by(entries.max(1))
            .map(|start| {
                let heads: Vec<_> = (start..(start + entries.max(1)).min(self.keys))
                    .map(|k| {
                        let head = StatPropMsgHead {
                            module_name: Cow::Borrowed(self.master_name.as_str()),
                            ip: Cow::Borrowed(""),
                            property_name: Cow::Owned(format!("p{k}")),
                            set_name: Cow::Borrowed(""),
                            set_area: Cow::Borrowed(""),
                            set_id: Cow::Borrowed(""),
                            s_container: Cow::Borrowed(""),
                            i_property_ver: 2,
                        };
                        (head, body.clone())
                    })
                    .collect();
                let n = heads.len();
                let msg = MapEntries(heads);
                Report { args: encode_args(protocol, |w| w.put(1, "statmsg", &msg)), entries: n }
            })
            .collect()
    }

    /// `reportNotifyInfo(info)` buffers, one notification each, for servers `S<k>` of the
    /// application `master_name` (unique to the run).
    pub fn notify_reports(&self, protocol: Protocol) -> Vec<Report> {
        (0..self.keys)
            .map(|k| {
                let info = ReportInfo {
                    e_type: REPORT,
                    s_app: self.master_name.clone(),
                    s_set: String::new(),
                    s_container: String::new(),
                    s_server: format!("S{}", k % 1000),
                    s_message: format!("[succ] restart {k}"),
                    s_thread_id: String::new(),
                    e_level: 0,
                    s_node_name: "10.0.0.1".to_owned(),
                };
                Report { args: encode_args(protocol, |w| w.put(1, "info", &info)), entries: 1 }
            })
            .collect()
    }

    /// The argument buffers (`reportMicMsg(msg, bFromClient = true)`, bare fields) that cover
    /// the key space once, `entries` heads per buffer (the last one may hold fewer), encoded
    /// for `protocol`.
    pub fn reports(&self, entries: usize, protocol: Protocol) -> Vec<Report> {
        let entries = entries.max(1);
        let body = StatMicMsgBody {
            count: CALLS_PER_ENTRY,
            timeout_count: 0,
            exec_count: 0,
            interval_count: MapEntries(vec![(5, 0), (10, CALLS_PER_ENTRY), (50, 0), (100, 0), (200, 0)]),
            total_rsp_time: 7,
            max_rsp_time: 7,
            min_rsp_time: 7,
        };
        (0..self.keys)
            .step_by(entries)
            .map(|start| {
                let heads: Vec<_> =
                    (start..(start + entries).min(self.keys)).map(|k| (self.head(k), body.clone())).collect();
                let n = heads.len();
                let msg = MapEntries(heads);
                let args = encode_args(protocol, |w| {
                    w.put(1, "msg", &msg);
                    w.put(2, "bFromClient", &true);
                });
                Report { args, entries: n }
            })
            .collect()
    }
}

/// One pre-encoded `reportMicMsg` argument buffer.
#[derive(Debug, Clone)]
pub struct Report {
    /// The bare argument fields.
    pub args: Vec<u8>,
    /// Heads it carries.
    pub entries: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_cover_the_key_space_once() {
        let ks = KeySpace { master_name: "Load.T".into(), keys: 100 };
        let r = ks.reports(12, Protocol::Tars);
        assert_eq!(ks.reports(12, Protocol::Tup).len(), 9);
        assert_eq!(r.len(), 9);
        assert_eq!(r.iter().map(|r| r.entries).sum::<usize>(), 100);
        assert_eq!(r.last().map(|r| r.entries), Some(4));
    }

    #[test]
    fn property_and_notify_reports_cover_the_key_space() {
        let ks = KeySpace { master_name: "Load.T".into(), keys: 100 };
        let p = ks.property_reports(12, Protocol::Tars);
        assert_eq!(p.iter().map(|r| r.entries).sum::<usize>(), 100);
        assert_eq!(ks.notify_reports(Protocol::Tup).len(), 100);
        assert!(empty_args(Kind::Notify, Protocol::Tars).is_none());
        assert!(empty_args(Kind::Property, Protocol::Tup).is_some());
    }

    #[test]
    fn heads_are_distinct() {
        let ks = KeySpace { master_name: "Load.T".into(), keys: 50_000 };
        let set: std::collections::HashSet<_> = (0..ks.keys).map(|k| ks.head(k)).collect();
        assert_eq!(set.len(), ks.keys);
    }
}
