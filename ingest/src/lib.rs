//! tarsmon's ingest layer: the domain types of reports, time slots by receive time with an
//! injectable clock, the in-memory aggregation buckets, and the pipeline that seals slots into
//! Arrow `RecordBatch`es in the store.
//!
//! Data flow: a servant turns a report into a key (borrowed, e.g. [`stat::StatKeyRef`]) and a
//! value ([`stat::StatValue`]) and calls [`Pipeline::record`], which merges it into the
//! reporting thread's shard of [`buckets::Buckets`] for the current slot. A background task
//! calls [`Pipeline::persist`]: ended slots are merged across shards, turned into a batch
//! ([`table::TableKind::to_batch`]) and written to the store; the open slot is checkpointed.
//!
//! Tables: [`stat`] (call statistics, [`StatTable`]); [`property`] (business metrics, one row
//! per property and policy: [`property::PropertyKeyRef`], a [`property::PropertyValue`]
//! decoded by [`property::parse_report`], [`PropertyTable`]); [`notify`] (alarms and status
//! messages, not aggregated: one [`notify::NotifyRecord`] per report, with tarsnotify's rules
//! for `server_id`, `command` and the set fields, stored one row each: [`NotifyTable`]).
//!
//! This crate knows neither the wire format (`tarsmon-framework`) nor RocksDB
//! (`tarsmon-engine` hides it).

pub mod buckets;
mod error;
pub mod notify;
pub mod pipeline;
pub mod property;
pub mod stat;
pub mod table;
pub mod time;

pub use error::{Error, Result};
pub use pipeline::{Pipeline, PipelineConfig, PipelineStats, Recorder};
pub use table::{NotifyTable, PropertyTable, StatTable, TableKind};
