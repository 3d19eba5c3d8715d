//! `tars.tarsproperty.PropertyObj` (`PropertyF`): business metrics into the `property`
//! pipeline.
//!
//! Head rules, as tarsproperty applies them (monitoring spec §3.3): the `ip` column is the
//! peer IP of the connection (TarsCpp sends `ip=""`), `sContainer` and `iPropertyVer` are
//! discarded. Each `{policy, value}` item becomes one row, its value decoded by
//! [`tarsmon_ingest::property::parse_report`]; a value that does not parse is rejected and
//! counted (tarsproperty would store or sum it as garbage), the other items of the report are
//! kept.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tarsmon_ingest::PropertyTable;
use tarsmon_ingest::buckets::Update;
use tarsmon_ingest::pipeline::Pipeline;
use tarsmon_ingest::property::{Policy, PropertyKeyRef, parse_report};
use tracing::debug;

use crate::idl::property::{StatPropMsgBody, StatPropMsgHead, property_f};
use crate::servant::{Args, Current, Dispatch, Reply, Servant, ServantError};

/// Counters of the PropertyObj servant (beyond the pipeline's own).
#[derive(Debug, Default)]
pub struct PropertyCounters {
    /// `reportPropMsg` calls handled.
    pub reports: AtomicU64,
    /// `{policy, value}` items aggregated.
    pub values: AtomicU64,
    /// Items that carry no value by the client's own convention (TarsCpp's untouched `Max`
    /// `-9999999`, `Min` `0`, `Avg` `0=0`): not recorded, not an error.
    pub empty_values: AtomicU64,
    /// Items whose value does not parse for its policy: rejected.
    pub bad_values: AtomicU64,
    /// Items with a policy outside the six standard ones (stored, summed).
    pub unknown_policies: AtomicU64,
    /// Items dropped because the memory budget was exhausted.
    pub dropped_values: AtomicU64,
}

/// The PropertyObj servant.
#[derive(Debug)]
pub struct PropertyService {
    pipeline: Arc<Pipeline<PropertyTable>>,
    counters: PropertyCounters,
}

impl PropertyService {
    /// A servant feeding `pipeline`.
    pub fn new(pipeline: Arc<Pipeline<PropertyTable>>) -> Self {
        Self { pipeline, counters: PropertyCounters::default() }
    }

    /// The servant's counters.
    pub fn counters(&self) -> &PropertyCounters {
        &self.counters
    }

    fn report_prop_msg(&self, current: &Current<'_>, mut args: Args<'_>) -> Result<Reply, ServantError> {
        let ip = current.peer.ip().to_string();
        let slot = self.pipeline.current_slot();
        let (mut values, mut empty, mut bad, mut unknown, mut dropped) = (0u64, 0u64, 0u64, 0u64, 0u64);
        // One lock of this thread's shard for the whole report.
        let mut recorder = self.pipeline.recorder(slot);
        args.for_each_entry(1, "statmsg", |head: StatPropMsgHead<'_>, body: StatPropMsgBody<'_>| {
            for info in &body.v_info {
                let value = match parse_report(&info.policy, &info.value) {
                    Ok(Some(v)) => v,
                    Ok(None) => {
                        empty += 1;
                        continue;
                    }
                    Err(e) => {
                        bad += 1;
                        debug!(
                            module = %head.module_name,
                            property = %head.property_name,
                            policy = %info.policy,
                            value = %info.value,
                            error = %e,
                            "property value rejected"
                        );
                        continue;
                    }
                };
                if Policy::known(&info.policy).is_none() {
                    unknown += 1;
                }
                let key = PropertyKeyRef {
                    module_name: &head.module_name,
                    ip: &ip,
                    property_name: &head.property_name,
                    set_name: &head.set_name,
                    set_area: &head.set_area,
                    set_id: &head.set_id,
                    policy: &info.policy,
                };
                values += 1;
                if recorder.record(&key, &value) == Update::Dropped {
                    dropped += 1;
                }
            }
        })?;
        drop(recorder);
        let c = &self.counters;
        c.reports.fetch_add(1, Ordering::Relaxed);
        c.values.fetch_add(values, Ordering::Relaxed);
        c.empty_values.fetch_add(empty, Ordering::Relaxed);
        c.bad_values.fetch_add(bad, Ordering::Relaxed);
        c.unknown_policies.fetch_add(unknown, Ordering::Relaxed);
        c.dropped_values.fetch_add(dropped, Ordering::Relaxed);
        // tarsproperty returns 0; rejected values are counted (and logged at debug level).
        // Values dropped for memory are counted, and the caller is told.
        if dropped > 0 {
            return Err(super::refuse_dropped("values", dropped, values));
        }
        Ok(current.reply().ret(&0i32))
    }
}

impl Servant for PropertyService {
    fn dispatch(&self, current: &Current<'_>, args: Args<'_>) -> Dispatch {
        match current.func() {
            property_f::REPORT_PROP_MSG => Dispatch::Ready(self.report_prop_msg(current, args)),
            _ => Dispatch::no_func(),
        }
    }
}
