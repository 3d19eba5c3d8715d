//! [`ExporterStats`]: the exporter's counters, shared with metrics and logs.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use tarsmon_ingest::time::TimestampMs;

use crate::error::Error;

/// Counters of a running exporter. Atomics, because the exporter task writes them while
/// metrics and the HTTP side read them from other threads; no reader needs a consistent view of
/// several counters at once, so there is no lock around them.
#[derive(Debug, Default)]
pub struct ExporterStats {
    exported_rows: AtomicU64,
    exported_intervals: AtomicU64,
    backlog_intervals: AtomicU64,
    errors: AtomicU64,
    table_errors: AtomicU64,
    tables_created: AtomicU64,
    tables_dropped: AtomicU64,
    /// The cursor's value in ms, `i64::MIN` before the first read.
    cursor: AtomicI64,
    /// The text of the last error. A mutex because it is a `String`; written only on errors,
    /// read by metrics.
    last_error: Mutex<Option<String>>,
}

/// A copy of [`ExporterStats`] at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExporterStatsSnapshot {
    /// Rows written (sent in an `INSERT IGNORE` that committed), since start.
    pub exported_rows: u64,
    /// 5-minute intervals with data exported, since start.
    pub exported_intervals: u64,
    /// Complete 5-minute intervals not yet exported (with or without data): the backlog.
    pub backlog_intervals: u64,
    /// Failed steps of a tick (table creation, retention, export), since start. Each is
    /// retried on a later tick.
    pub errors: u64,
    /// Failed `CREATE DATABASE`/`CREATE TABLE`/`DROP TABLE` statements, since start.
    pub table_errors: u64,
    /// Tables created, since start.
    pub tables_created: u64,
    /// Tables dropped by retention, since start.
    pub tables_dropped: u64,
    /// Every interval before this time is exported; `None` before the cursor was read.
    pub cursor: Option<TimestampMs>,
    /// The last error, with its causes, if there ever was one.
    pub last_error: Option<String>,
}

impl ExporterStats {
    pub(crate) fn new() -> Self {
        Self { cursor: AtomicI64::new(i64::MIN), ..Self::default() }
    }

    /// The current values.
    pub fn snapshot(&self) -> ExporterStatsSnapshot {
        let cursor = self.cursor.load(Ordering::Relaxed);
        ExporterStatsSnapshot {
            exported_rows: self.exported_rows.load(Ordering::Relaxed),
            exported_intervals: self.exported_intervals.load(Ordering::Relaxed),
            backlog_intervals: self.backlog_intervals.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            table_errors: self.table_errors.load(Ordering::Relaxed),
            tables_created: self.tables_created.load(Ordering::Relaxed),
            tables_dropped: self.tables_dropped.load(Ordering::Relaxed),
            cursor: (cursor != i64::MIN).then_some(TimestampMs(cursor)),
            last_error: self.last_error(),
        }
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

    pub(crate) fn add_exported(&self, rows: u64) {
        self.exported_rows.fetch_add(rows, Ordering::Relaxed);
        self.exported_intervals.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn table_created(&self) {
        self.tables_created.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn table_dropped(&self) {
        self.tables_dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn set_backlog(&self, intervals: u64) {
        self.backlog_intervals.store(intervals, Ordering::Relaxed);
    }

    pub(crate) fn set_cursor(&self, cursor: TimestampMs) {
        self.cursor.store(cursor.0, Ordering::Relaxed);
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
