//! The optional MySQL exporter: writes the classic `tars_stat.tars_stat_YYYYMMDDHH` tables
//! (and, later, `tars_property.tars_property_YYYYMMDDHH` and `db_tars.t_server_notifys`) from
//! tarsmon's store, for tools and older TarsWeb versions that read MySQL.
//!
//! Main types:
//! - [`ExporterConfig`]: server URL, databases, batch size, back-off, retention, time zone.
//! - [`Exporter`]: the loop — [`Exporter::start`] spawns it and returns its
//!   [`ExporterStats`]; [`Exporter::tick`] runs one round (tests, tools).
//! - [`export_range`]: a one-shot back-fill of a time range.
//! - [`ddl`]: the exact `CREATE` statements of the original tables.
//!
//! Data flow: the ingest pipeline seals base slots of table `stat` into the
//! [`Store`](tarsmon_engine::Store) → every tick the exporter reads the complete 5-minute
//! intervals after its cursor (`Store::slots`/`Store::scan`, on blocking threads), rolls each up
//! into 5-minute rows keyed like the MySQL table, with tarsstat's `f_date`/`f_tflag` labels,
//! `interv_count` and `ave_time`, spreads them over the stat databases by a stable hash of the
//! key, writes them in one transaction of batched `INSERT IGNORE`s per database, updates
//! `t_ecstatus`, and only then moves the durable cursor (`Store::put_meta`) past the
//! interval. Alongside, a table manager creates the 24 hourly tables of today and tomorrow
//! (and yesterday's on the first start) before they are needed, retries failed `CREATE`s on
//! every tick, and drops tables past retention.
//!
//! Faults of tarsstat this avoids (spec §6.3, §10.1): lazily created tables (yesterday's never
//! exist on a fresh install), a failed `CREATE` cached as done for the rest of the day, an
//! interval lost after one failed retry while MySQL is down, rows that collide on the table's
//! key silently dropped by `INSERT IGNORE` (they are merged instead).

mod config;
pub mod ddl;
mod error;
mod exporter;
mod rows;
mod server;
mod stats;
mod tables;
mod writer;

pub use config::{ExporterConfig, StatDatabase};
pub use error::{Error, Result};
pub use exporter::{ExportSummary, Exporter, STAT_CURSOR, TickReport, export_range};
pub use stats::{ExporterStats, ExporterStatsSnapshot};
