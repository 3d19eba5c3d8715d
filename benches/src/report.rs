//! The reports a load run sends: a key space of distinct stat heads, cut into `reportMicMsg`
//! argument buffers of `entries` heads each, as real clients send them (about a dozen entries,
//! ~1.5 KB per frame).

use std::borrow::Cow;

use tarsmon_framework::codec::{Encode, MapEntries, Writer};
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
                let args = match protocol {
                    Protocol::Tars => {
                        let mut w = Writer::new();
                        msg.encode(&mut w, 1);
                        w.bool(true, 2);
                        w.into_inner()
                    }
                    Protocol::Tup => {
                        let mut a = UniAttribute::new(TUP_VERSION3);
                        a.put("msg", &msg);
                        a.put("bFromClient", &true);
                        a.encode()
                    }
                };
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
    fn heads_are_distinct() {
        let ks = KeySpace { master_name: "Load.T".into(), keys: 50_000 };
        let set: std::collections::HashSet<_> = (0..ks.keys).map(|k| ks.head(k)).collect();
        assert_eq!(set.len(), ks.keys);
    }
}
