//! [`ExporterStats`]: the exporter's counters, shared with metrics and logs.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use tarsmon_ingest::time::TimestampMs;

use crate::error::Error;

/// The store tables the exporter writes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    /// `stat` → `tars_stat_YYYYMMDDHH`.
    Stat = 0,
    /// `property` → `tars_property_YYYYMMDDHH`.
    Property = 1,
    /// `notify` → `t_server_notifys`.
    Notify = 2,
}

/// The counters of one table.
#[derive(Debug)]
struct TableCounters {
    rows: AtomicU64,
    /// Intervals (stat, property) or slots (notify) with data written.
    units: AtomicU64,
    /// Complete intervals or slots not yet exported.
    backlog: AtomicU64,
    /// The cursor's value in ms, `i64::MIN` before the first read.
    cursor: AtomicI64,
}

impl Default for TableCounters {
    fn default() -> Self {
        Self {
            rows: AtomicU64::new(0),
            units: AtomicU64::new(0),
            backlog: AtomicU64::new(0),
            cursor: AtomicI64::new(i64::MIN),
        }
    }
}

impl TableCounters {
    fn cursor(&self) -> Option<TimestampMs> {
        let c = self.cursor.load(Ordering::Relaxed);
        (c != i64::MIN).then_some(TimestampMs(c))
    }
}

/// Which classic tables a database holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// A call-statistics database (`tars_stat_YYYYMMDDHH`), one of `stat_databases`.
    Stat,
    /// The property database (`tars_property_YYYYMMDDHH`).
    Property,
}

/// The health of one database with hourly tables, as querystat's `activeDb` and
/// `retThreads` report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseStatus {
    /// The database name.
    pub name: String,
    /// Its server, `host:port`.
    pub server: String,
    /// What it holds.
    pub kind: DatabaseKind,
    /// Whether the exporter's last work on it — creating the day's tables, or writing an
    /// interval — succeeded. `true` before the first attempt: nothing has failed yet.
    pub up: bool,
}

/// One database's health flag.
#[derive(Debug)]
struct DatabaseHealth {
    name: String,
    server: String,
    kind: DatabaseKind,
    up: AtomicBool,
}

/// Counters of a running exporter. Atomics, because the exporter task writes them while
/// metrics and the HTTP side read them from other threads; no reader needs a consistent view of
/// several counters at once, so there is no lock around them.
#[derive(Debug, Default)]
pub struct ExporterStats {
    /// Indexed by [`Table`].
    tables: [TableCounters; 3],
    /// The databases with hourly tables, in the exporter's order: the stat databases as
    /// configured, then the property database. Fixed at start; only the flags change.
    databases: Vec<DatabaseHealth>,
    /// Whether the last tick failed (set on the first failed tick, cleared by the next one
    /// that succeeds): the outage state the exporter's events report.
    failing: AtomicBool,
    already_written: AtomicU64,
    errors: AtomicU64,
    table_errors: AtomicU64,
    tables_created: AtomicU64,
    tables_dropped: AtomicU64,
    /// The text of the last error. A mutex because it is a `String`; written only on errors,
    /// read by metrics.
    last_error: Mutex<Option<String>>,
}

/// A copy of [`ExporterStats`] at one moment.
///
/// The first fields predate the property and notify export and keep their names: rows and
/// errors count every table, intervals are those of the call statistics, and the backlog is
/// the larger of the call-statistics and property backlogs (what an alert on "export is
/// behind" wants). The per-table fields follow.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExporterStatsSnapshot {
    /// Rows written (in a transaction that committed) to every table, since start.
    pub exported_rows: u64,
    /// 5-minute intervals of call statistics with data exported, since start.
    pub exported_intervals: u64,
    /// Complete 5-minute intervals not yet exported: the larger of `stat_backlog_intervals`
    /// and `property_backlog_intervals`.
    pub backlog_intervals: u64,
    /// Failed steps of a tick (table creation, retention, the export of a table), since
    /// start. Each is retried on a later tick.
    pub errors: u64,
    /// Failed `CREATE DATABASE`/`CREATE TABLE`/`DROP TABLE` statements, since start.
    pub table_errors: u64,
    /// Tables created (hourly stat and property tables, `t_server_notifys`), since start.
    pub tables_created: u64,
    /// Tables dropped by retention, since start.
    pub tables_dropped: u64,
    /// Every call-statistics interval before this time is exported; `None` before the cursor
    /// was read.
    pub cursor: Option<TimestampMs>,
    /// The last error, with its causes, if there ever was one.
    pub last_error: Option<String>,
    /// Rows written to the `tars_stat_*` tables, since start.
    pub stat_rows: u64,
    /// Complete call-statistics intervals not yet exported.
    pub stat_backlog_intervals: u64,
    /// Rows written to the `tars_property_*` tables, since start.
    pub property_rows: u64,
    /// 5-minute property intervals with data exported, since start.
    pub property_intervals: u64,
    /// Complete property intervals not yet exported.
    pub property_backlog_intervals: u64,
    /// Every property interval before this time is exported.
    pub property_cursor: Option<TimestampMs>,
    /// Rows written to `t_server_notifys`, since start.
    pub notify_rows: u64,
    /// Base slots of notifications with data exported, since start.
    pub notify_slots: u64,
    /// Sealed notification slots not yet exported.
    pub notify_backlog_slots: u64,
    /// Every notification slot before this time is exported.
    pub notify_cursor: Option<TimestampMs>,
    /// Property intervals and notify slots found already written (their marker had
    /// committed, e.g. before a crash that kept the cursor from moving) and skipped, since
    /// start.
    pub already_written: u64,
    /// Whether the last tick failed: the export is in an outage (`tarsmon_mysql_up` 0).
    pub failing: bool,
    /// The health of every database with hourly tables: the stat databases as configured,
    /// then the property database.
    pub databases: Vec<DatabaseStatus>,
}

impl ExporterStats {
    /// Counters for an exporter writing to `databases` (`(name, server, kind)`, in the
    /// exporter's order), every one of them up.
    pub(crate) fn new(databases: impl IntoIterator<Item = (String, String, DatabaseKind)>) -> Self {
        let databases = databases
            .into_iter()
            .map(|(name, server, kind)| DatabaseHealth { name, server, kind, up: AtomicBool::new(true) })
            .collect();
        Self { databases, ..Self::default() }
    }

    /// The current values.
    pub fn snapshot(&self) -> ExporterStatsSnapshot {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let [stat, property, notify] = &self.tables;
        ExporterStatsSnapshot {
            exported_rows: self.tables.iter().map(|t| load(&t.rows)).fold(0, u64::saturating_add),
            exported_intervals: load(&stat.units),
            backlog_intervals: load(&stat.backlog).max(load(&property.backlog)),
            errors: load(&self.errors),
            table_errors: load(&self.table_errors),
            tables_created: load(&self.tables_created),
            tables_dropped: load(&self.tables_dropped),
            cursor: stat.cursor(),
            last_error: self.last_error(),
            stat_rows: load(&stat.rows),
            stat_backlog_intervals: load(&stat.backlog),
            property_rows: load(&property.rows),
            property_intervals: load(&property.units),
            property_backlog_intervals: load(&property.backlog),
            property_cursor: property.cursor(),
            notify_rows: load(&notify.rows),
            notify_slots: load(&notify.units),
            notify_backlog_slots: load(&notify.backlog),
            notify_cursor: notify.cursor(),
            already_written: load(&self.already_written),
            failing: self.is_failing(),
            databases: self.databases(),
        }
    }

    /// Whether the last tick failed.
    pub fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// The health of every database with hourly tables: the stat databases as configured,
    /// then the property database.
    pub fn databases(&self) -> Vec<DatabaseStatus> {
        self.databases
            .iter()
            .map(|d| DatabaseStatus {
                name: d.name.clone(),
                server: d.server.clone(),
                kind: d.kind,
                up: d.up.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Records whether the last work on database `i` (an index in the exporter's order)
    /// succeeded.
    pub(crate) fn set_database_up(&self, i: usize, up: bool) {
        if let Some(d) = self.databases.get(i) {
            d.up.store(up, Ordering::Relaxed);
        }
    }

    /// Records the outcome of a tick; returns the previous state (whether the tick before
    /// failed).
    pub(crate) fn set_failing(&self, failing: bool) -> bool {
        self.failing.swap(failing, Ordering::Relaxed)
    }

    /// The last error, if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub(crate) fn record_error(&self, e: &Error) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.set_last_error(e);
    }

    pub(crate) fn record_table_error(&self, e: &Error) {
        self.table_errors.fetch_add(1, Ordering::Relaxed);
        self.set_last_error(e);
    }

    fn set_last_error(&self, e: &Error) {
        let text = error_chain(e);
        *self.last_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(text);
    }

    /// Counts `units` intervals or slots with `rows` rows written to `table`.
    pub(crate) fn add_exported(&self, table: Table, units: u64, rows: u64) {
        let t = &self.tables[table as usize];
        t.rows.fetch_add(rows, Ordering::Relaxed);
        t.units.fetch_add(units, Ordering::Relaxed);
    }

    pub(crate) fn add_already_written(&self, units: u64) {
        self.already_written.fetch_add(units, Ordering::Relaxed);
    }

    pub(crate) fn table_created(&self) {
        self.tables_created.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn table_dropped(&self) {
        self.tables_dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn set_backlog(&self, table: Table, units: u64) {
        self.tables[table as usize].backlog.store(units, Ordering::Relaxed);
    }

    pub(crate) fn set_cursor(&self, table: Table, cursor: TimestampMs) {
        self.tables[table as usize].cursor.store(cursor.0, Ordering::Relaxed);
    }
}

/// `e` and its sources, `: `-separated.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
