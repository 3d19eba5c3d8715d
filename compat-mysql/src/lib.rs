//! The optional MySQL exporter: writes the classic tables of the TARS monitoring services from
//! tarsmon's store — `tars_stat.tars_stat_YYYYMMDDHH` (tarsstat), `tars_property.
//! tars_property_YYYYMMDDHH` (tarsproperty) and `db_tars.t_server_notifys` (tarsnotify) — for
//! tools and older TarsWeb versions that read MySQL.
//!
//! Main types:
//! - [`ExporterConfig`]: server URL, databases, batch size, back-off, retention, time zone.
//! - [`Exporter`]: the loop — [`Exporter::start`] spawns it and returns its
//!   [`ExporterStats`]; [`Exporter::tick`] runs one round (tests, tools).
//! - [`export_range`]: a one-shot back-fill of a time range.
//! - [`ExportEvent`]: the start and the end of an outage, given to an [`ExportHook`]
//!   ([`Exporter::with_hook`]) — tarsmon records them as notifications.
//! - [`ddl`]: the exact `CREATE` statements of the original tables.
//!
//! Data flow: the ingest pipeline seals base slots of the tables `stat`, `property` and
//! `notify` into the [`Store`](tarsmon_engine::Store) → every tick the exporter reads, per
//! table and after that table's own durable cursor (`Store::put_meta`):
//! - `stat`: the complete 5-minute intervals, rolled up into rows keyed like the MySQL table,
//!   with tarsstat's `f_date`/`f_tflag` labels, `interv_count` and `ave_time`, spread over
//!   the stat databases by a stable hash of the key, written in one transaction of batched
//!   `INSERT IGNORE`s per database, then `t_ecstatus`;
//! - `property`: the complete 5-minute intervals, merged into one row per property head and
//!   policy with tarsproperty's `value` text, written in one transaction per interval, then
//!   `t_ecstatus`;
//! - `notify`: the sealed base slots, one row per notification, a group of slots per
//!   transaction;
//!
//! and only then moves the cursor past what was written. Property intervals and notify slots
//! also leave a marker row in the same transaction (`t_tarsmon_export`), because those
//! tables cannot de-duplicate: a retry after a crash between the commit and the cursor write
//! skips them instead of writing them twice. Alongside, a table manager creates the 24 hourly
//! tables of today and tomorrow (and yesterday's on the first start) before they are needed,
//! retries failed `CREATE`s on every tick, and drops tables past retention.
//!
//! Faults of the originals this avoids (spec §6.3, §7, §10.1): lazily created tables
//! (yesterday's never exist on a fresh install), a failed `CREATE` cached as done for the rest
//! of the day, an interval lost after one failed retry while MySQL is down, rows that collide
//! on the table's key silently dropped by `INSERT IGNORE` (they are merged instead), averages
//! weighted by reports and histograms merged by position (by samples and by label here), and
//! tarsproperty's partial retry that skips the wrong rows.

mod config;
mod cursor;
pub mod ddl;
mod error;
mod events;
mod exporter;
mod marker;
mod notify;
mod property;
mod rows;
mod server;
mod stats;
mod tables;
mod writer;

pub use config::{ExporterConfig, StatDatabase};
pub use error::{Error, Result};
pub use events::{ExportEvent, ExportHook};
pub use exporter::{
    ExportSummary, Exporter, NOTIFY_CURSOR, PROPERTY_CURSOR, STAT_CURSOR, TickReport, export_range,
};
pub use stats::{DatabaseKind, DatabaseStatus, ExporterStats, ExporterStatsSnapshot};
