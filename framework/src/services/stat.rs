//! `tars.tarsstat.StatObj` (`StatF`): call statistics reports into the `stat` pipeline.
//!
//! Head rules, as tarsstat applies them (monitoring spec §2.3): for a caller's report
//! (`bFromClient`) `masterIp` becomes the reporter's host (`context["node_name"]`, else the peer
//! IP); for a callee's report `slaveIp` does. `masterName@version` is split into
//! `master_name` and `tars_version`. Bodies with no calls at all are dropped (and counted).
//! Unlike tarsstat, `bFromClient` is kept as the `source` column, so the client's and the
//! server's view of the same calls are never summed by accident.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tarsmon_ingest::StatTable;
use tarsmon_ingest::buckets::Update;
use tarsmon_ingest::pipeline::Pipeline;
use tarsmon_ingest::stat::{Source, StatKeyRef, StatValue};

use crate::codec::{Decode, DecodeError, Reader, TypeId};
use crate::idl::stat::{StatMicMsgHead, stat_f};
use crate::servant::{Args, Current, Dispatch, Reply, Servant, ServantError};

/// Counters of the StatObj servant (beyond the pipeline's own).
#[derive(Debug, Default)]
pub struct StatCounters {
    /// `reportMicMsg` calls handled.
    pub reports: AtomicU64,
    /// Entries aggregated.
    pub entries: AtomicU64,
    /// Entries dropped because their body had no calls (as tarsstat does).
    pub empty_entries: AtomicU64,
    /// Entries dropped because the memory budget was exhausted.
    pub dropped_entries: AtomicU64,
    /// `reportSampleMsg` calls (accepted and counted; tarsstat only logs them).
    pub sample_reports: AtomicU64,
}

/// The StatObj servant.
#[derive(Debug)]
pub struct StatService {
    pipeline: Arc<Pipeline<StatTable>>,
    counters: StatCounters,
}

impl StatService {
    /// A servant feeding `pipeline`.
    pub fn new(pipeline: Arc<Pipeline<StatTable>>) -> Self {
        Self { pipeline, counters: StatCounters::default() }
    }

    /// The servant's counters.
    pub fn counters(&self) -> &StatCounters {
        &self.counters
    }

    fn report_mic_msg(&self, current: &Current<'_>, mut args: Args<'_>) -> Result<Reply, ServantError> {
        // `bFromClient` (tag 2) follows the map (tag 1) and decides the head rules, so the
        // entries are decoded first (one pass over the frame, strings borrowed from it) and
        // aggregated after.
        let mut report: Vec<(StatMicMsgHead<'_>, StatValue)> = Vec::with_capacity(16);
        let mut empty = 0u64;
        args.for_each_entry(1, "msg", |head: StatMicMsgHead<'_>, body: Body| {
            if body.0.is_empty() {
                empty += 1;
            } else {
                report.push((head, body.0));
            }
        })?;
        let from_client: bool = args.required(2, "bFromClient")?;
        let host = current.host_name();
        let source = if from_client { Source::Client } else { Source::Server };
        let slot = self.pipeline.current_slot();
        let entries = report.len() as u64;
        let mut dropped = 0u64;
        // One lock of this thread's shard for the whole report.
        let mut recorder = self.pipeline.recorder(slot);
        for (head, value) in &report {
            let (master_name, tars_version) = match head.master_name.split_once('@') {
                Some((name, version)) => (name, version),
                None => (head.master_name.as_ref(), head.tars_version.as_ref()),
            };
            let (master_ip, slave_ip) = if from_client {
                (host.as_ref(), head.slave_ip.as_ref())
            } else {
                (head.master_ip.as_ref(), host.as_ref())
            };
            let key = StatKeyRef {
                source,
                master_name,
                slave_name: &head.slave_name,
                interface_name: &head.interface_name,
                master_ip,
                slave_ip,
                slave_port: head.slave_port,
                return_value: head.return_value,
                tars_version,
                slave_set_name: &head.slave_set_name,
                slave_set_area: &head.slave_set_area,
                slave_set_id: &head.slave_set_id,
            };
            if recorder.record(&key, value) == Update::Dropped {
                dropped += 1;
            }
        }
        drop(recorder);
        let c = &self.counters;
        c.reports.fetch_add(1, Ordering::Relaxed);
        c.entries.fetch_add(entries, Ordering::Relaxed);
        c.empty_entries.fetch_add(empty, Ordering::Relaxed);
        c.dropped_entries.fetch_add(dropped, Ordering::Relaxed);
        // tarsstat always returns 0, even when its hash map is full. Entries dropped for memory
        // are counted, and the caller is told (a oneway report gets no reply either way).
        if dropped > 0 {
            return Err(super::refuse_dropped("entries", dropped, entries));
        }
        Ok(current.reply().ret(&0i32))
    }
}

impl Servant for StatService {
    fn dispatch(&self, current: &Current<'_>, args: Args<'_>) -> Dispatch {
        match current.func() {
            stat_f::REPORT_MIC_MSG => Dispatch::Ready(self.report_mic_msg(current, args)),
            stat_f::REPORT_SAMPLE_MSG => {
                self.counters.sample_reports.fetch_add(1, Ordering::Relaxed);
                Dispatch::Ready(Ok(current.reply().ret(&0i32)))
            }
            _ => Dispatch::no_func(),
        }
    }
}

/// A `StatMicMsgBody` decoded straight into a [`StatValue`], the latency map into the fixed
/// buckets, without allocating.
struct Body(StatValue);

impl<'de> Decode<'de> for Body {
    fn decode(r: &mut Reader<'de>, tag: u8, ty: TypeId) -> Result<Self, DecodeError> {
        if ty != TypeId::StructBegin {
            return Err(DecodeError::Mismatch { tag, found: ty as u8, expected: "tars.StatMicMsgBody" });
        }
        r.nested(|r| {
            let mut v = StatValue {
                succ_count: i64::from(r.read::<i32>(0)?),
                timeout_count: i64::from(r.read::<i32>(1)?),
                exce_count: i64::from(r.read::<i32>(2)?),
                ..StatValue::default()
            };
            match r.skip_to_tag(3)? {
                Some(ty) => r.map_entries(3, ty, |bound: i32, n: i32| v.add_interval(bound, i64::from(n)))?,
                None => return Err(DecodeError::RequiredMissing { tag: 3 }),
            }
            v.total_time = r.read(4)?;
            v.max_rsp_time = i64::from(r.read::<i32>(5)?);
            v.min_rsp_time = i64::from(r.read::<i32>(6)?);
            r.skip_to_struct_end()?;
            Ok(Body(v))
        })
    }
}
