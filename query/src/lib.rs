//! tarsmon's query layer: SQL over the store and the open slot through DataFusion.
//!
//! Main types: [`QueryEngine`] (a DataFusion session on its own runtime, read-only SQL),
//! [`SlotTableProvider`] (a table over a [`TableSource`] that prunes slots by `time`), the
//! views with the classic MySQL column names ([`views`]), tarsmon's SQL functions ([`udf`]),
//! TarsWeb's MonitorQuery semantics ([`monitor`]) and the legacy notification history
//! ([`notify`]).
//!
//! Data flow: SQL → DataFusion plan → `SlotTableProvider::scan` with the `time` range taken
//! from the filters → [`TableSource::scan`] (sealed chunks from the store plus the open slot,
//! each row exactly once) → DataFusion executes the rest.
//!
//! This crate never opens RocksDB itself; it reads through `tarsmon-ingest`'s pipelines.

mod error;
pub mod format;
pub mod monitor;
pub mod notify;
pub mod provider;
mod session;
pub mod source;
pub mod udf;
pub mod views;

pub use error::{Error, Result};
pub use format::Format;
pub use monitor::{Condition, MonitorRequest, MonitorResult, Op};
pub use notify::NotifyHistoryRow;
pub use provider::SlotTableProvider;
pub use session::{QueryConfig, QueryEngine, QueryOutput};
pub use source::TableSource;
