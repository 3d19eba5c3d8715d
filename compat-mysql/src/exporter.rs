//! [`Exporter`]: the export loop, its durable cursors, and the one-shot [`export_range`].
//!
//! Each tick: (1) make sure the hourly tables of today and tomorrow exist (and yesterday's,
//! on the first start) in every stat database and in the property database, and that
//! `t_server_notifys` exists; (2) once an hour, drop hourly tables past retention; (3) export
//! each table from its own cursor, oldest first:
//! - `stat` and `property`: the complete 5-minute intervals. An interval is complete
//!   `seal_delay` after its end, when its base slots are sealed in the store.
//! - `notify`: the sealed base slots, a group of them per transaction.
//!
//! After a table's data is committed, its cursor moves past it (`Store::put_meta`), so an
//! outage or a restart resumes exactly there. What was committed but not yet in the cursor
//! (a crash in between, a `COMMIT` whose answer was lost) is not duplicated: the stat rows'
//! primary key makes a second write a no-op, and property intervals and notify slots carry a
//! marker committed with their rows ([`crate::marker`]), so they are skipped.
//!
//! The three tables are independent: one failing (a missing grant on the property database,
//! say) is counted and retried, and does not stop the others; the loop's back-off after a
//! failed tick slows all of them.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate};
use tarsmon_engine::Store;
use tarsmon_ingest::time::{Clock, TARS_INTERVAL_MS, TarsLabel, TimestampMs, UtcOffset};
use tarsmon_ingest::{NotifyTable, PropertyTable, StatTable, TableKind};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::ExporterConfig;
use crate::cursor::Cursor;
use crate::ddl::{PROPERTY_TABLE_PREFIX, STAT_TABLE_PREFIX};
use crate::error::{Error, Result};
use crate::events::{ExportEvent, ExportHook, HookSlot};
use crate::marker::Markers;
use crate::notify::{NotifySlot, NotifyWritten, decode_slot, write_notify_slots};
use crate::property::{PropertyRow, PropertyWrite, write_property_interval};
use crate::rows::{StatRow, rollup};
use crate::server::Server;
use crate::stats::{DatabaseKind, ExporterStats, Table, error_chain};
use crate::tables::{Hourly, HourlyDb, NotifyDb, TableManager};
use crate::writer::{IntervalWrite, write_interval};

/// The metadata name of the cursor of the `stat` table: the start of the first 5-minute
/// interval not yet exported, as 8 bytes of little-endian epoch milliseconds.
pub const STAT_CURSOR: &str = "mysql_export_cursor.stat";

/// The metadata name of the cursor of the `property` table (same form as [`STAT_CURSOR`]).
pub const PROPERTY_CURSOR: &str = "mysql_export_cursor.property";

/// The metadata name of the cursor of the `notify` table: the start of the first base slot
/// not yet exported (same form as [`STAT_CURSOR`]).
pub const NOTIFY_CURSOR: &str = "mysql_export_cursor.notify";

/// How many intervals of one table one tick exports at most, so that table creation,
/// retention and shutdown are not held up by a long backlog (the loop goes on at once while
/// there is a backlog).
const INTERVALS_PER_TICK: usize = 12;

/// How many notify slots one tick exports at most (an hour of 60 s slots, twice).
const NOTIFY_SLOTS_PER_TICK: usize = 120;

/// How many notify slots one transaction writes at most; fewer when they hold more than
/// `batch_size` rows. Notifications are few, so grouping saves a round trip per slot.
const NOTIFY_SLOTS_PER_TRANSACTION: usize = 60;

/// How often retention runs.
const RETENTION_EVERY_MS: i64 = 3_600_000;

/// How often the day's tables are checked again even when nothing failed (someone may drop a
/// table by hand).
const TABLES_EVERY_MS: i64 = 600_000;

/// What one [`Exporter::tick`] did. The first three fields predate the property and notify
/// export and keep their names (see [`crate::ExporterStatsSnapshot`] for the same choice).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Call-statistics intervals with data written in this tick.
    pub exported_intervals: u64,
    /// Rows written in this tick, to every table.
    pub exported_rows: u64,
    /// Complete 5-minute intervals still behind a cursor after this tick: the larger of the
    /// call-statistics and property backlogs.
    pub backlog_intervals: u64,
    /// Call-statistics rows written in this tick.
    pub stat_rows: u64,
    /// Property intervals with data written in this tick.
    pub property_intervals: u64,
    /// Property rows written in this tick.
    pub property_rows: u64,
    /// Complete property intervals still behind the cursor.
    pub property_backlog_intervals: u64,
    /// Notify slots with data written in this tick.
    pub notify_slots: u64,
    /// Notify rows written in this tick.
    pub notify_rows: u64,
    /// Sealed notify slots still behind the cursor.
    pub notify_backlog_slots: u64,
}

impl TickReport {
    /// Whether this tick wrote something and left more to do: the loop goes on at once.
    fn more_to_do(&self) -> bool {
        let wrote = self.exported_intervals + self.property_intervals + self.notify_slots > 0;
        wrote && (self.backlog_intervals > 0 || self.notify_backlog_slots > 0)
    }
}

/// What [`export_range`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Call-statistics intervals with data written.
    pub intervals: u64,
    /// Rows written, to every table.
    pub rows: u64,
    /// Property intervals with data written (not counting those already written).
    pub property_intervals: u64,
    /// Property rows written.
    pub property_rows: u64,
    /// Notify slots with data written (not counting those already written).
    pub notify_slots: u64,
    /// Notify rows written.
    pub notify_rows: u64,
    /// Call-statistics rows written (rows already there are left as they are and counted
    /// too: `INSERT IGNORE` cannot tell).
    pub stat_rows: u64,
    /// Property intervals and notify slots found already written (marked by an earlier
    /// export) and skipped.
    pub already_written: u64,
}

/// A table exported by 5-minute intervals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IntervalTable {
    Stat,
    Property,
}

impl IntervalTable {
    fn name(self) -> &'static str {
        match self {
            IntervalTable::Stat => StatTable::NAME,
            IntervalTable::Property => PropertyTable::NAME,
        }
    }

    fn stats(self) -> Table {
        match self {
            IntervalTable::Stat => Table::Stat,
            IntervalTable::Property => Table::Property,
        }
    }
}

/// What exporting one interval did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exported {
    /// Written now, with this many rows.
    Rows(u64),
    /// Marked as written by an earlier attempt: nothing written now.
    AlreadyWritten,
}

/// The servers, databases and table state shared by the loop and by [`export_range`].
#[derive(Debug)]
struct Sink {
    config: ExporterConfig,
    servers: Vec<Server>,
    /// The stat databases (the first `config.stat_databases.len()`), then the property
    /// database.
    dbs: Vec<HourlyDb>,
    notify_db: NotifyDb,
    property_markers: Markers,
    notify_markers: Markers,
    tables: TableManager,
    stats: Arc<ExporterStats>,
}

impl Sink {
    fn new(config: ExporterConfig) -> Result<Self> {
        config.sanitize()?;
        let mut urls: Vec<&str> = Vec::new();
        let mut server_of = |url| {
            urls.iter().position(|u| *u == url).unwrap_or_else(|| {
                urls.push(url);
                urls.len() - 1
            })
        };
        let mut dbs = Vec::new();
        for db in &config.stat_databases {
            dbs.push(HourlyDb {
                server: server_of(config.url_of(db)),
                name: db.name.clone(),
                kind: Hourly::Stat,
            });
        }
        let main = server_of(&config.url);
        dbs.push(HourlyDb { server: main, name: config.property_database.clone(), kind: Hourly::Property });
        let notify_db = NotifyDb { server: main, name: config.notify_database.clone() };
        let servers = urls
            .iter()
            .map(|u| Server::new(u, config.max_connections, config.timeout))
            .collect::<Result<Vec<_>>>()?;
        let stats = ExporterStats::new(dbs.iter().map(|db| {
            let kind = match db.kind {
                Hourly::Stat => DatabaseKind::Stat,
                Hourly::Property => DatabaseKind::Property,
            };
            (db.name.clone(), servers[db.server].name.clone(), kind)
        }));
        Ok(Self {
            servers,
            dbs,
            property_markers: Markers::new(&config.property_database, PropertyTable::NAME, &config.source_id),
            notify_markers: Markers::new(&config.notify_database, NotifyTable::NAME, &config.source_id),
            notify_db,
            tables: TableManager::default(),
            stats: Arc::new(stats),
            config,
        })
    }

    /// The index of the property database in `dbs`.
    fn property_db(&self) -> usize {
        self.config.stat_databases.len()
    }

    /// Creates what is missing of the hourly tables around `today` and of the notify tables.
    /// Tries both; returns the first error.
    async fn ensure_tables(&mut self, today: NaiveDate) -> Result<()> {
        let hourly = self.tables.ensure_days(&self.servers, &self.dbs, today, &self.stats).await;
        let notify = self.tables.ensure_notify(&self.servers, &self.notify_db, &self.stats).await;
        hourly.and(notify)
    }

    /// Drops the hourly tables of days before `keep_from`, and the export markers of that
    /// time (the data they guard is not exported again).
    async fn apply_retention(&mut self, keep_from: NaiveDate) -> Result<()> {
        let dropped = self.tables.drop_before(&self.servers, &self.dbs, keep_from, &self.stats).await;
        let before = local_midnight(keep_from, self.config.labels_offset());
        let mut markers = Ok(());
        let property = self.property_db();
        if self.tables.is_ready(property) {
            let server = &self.servers[self.dbs[property].server];
            markers = markers.and(self.property_markers.expire(server, before).await.map(drop));
        }
        if self.tables.notify_is_ready() {
            let server = &self.servers[self.notify_db.server];
            markers = markers.and(self.notify_markers.expire(server, before).await.map(drop));
        }
        dropped.map(drop).and(markers)
    }

    /// Reads, rolls up and writes one interval of `table`.
    async fn export_interval(
        &mut self,
        store: &Arc<Store>,
        table: IntervalTable,
        interval: TimestampMs,
    ) -> Result<Exported> {
        match table {
            IntervalTable::Stat => {
                let rows = read_stat_interval(store.clone(), interval).await?;
                self.write_stat(interval, &rows).await?;
                Ok(Exported::Rows(rows.len() as u64))
            }
            IntervalTable::Property => {
                let rows = read_property_interval(store.clone(), interval).await?;
                self.write_property(interval, &rows).await
            }
        }
    }

    /// Writes one interval's stat rows, each to the database its key hashes to.
    async fn write_stat(&mut self, interval: TimestampMs, rows: &[StatRow]) -> Result<()> {
        let label = TarsLabel::of(interval, self.config.labels_offset());
        let table = format!("{STAT_TABLE_PREFIX}{}", label.table_suffix());
        let n = self.config.stat_databases.len();
        let mut shards: Vec<Vec<&StatRow>> = vec![Vec::new(); n];
        for row in rows {
            shards[row.key.shard(n)].push(row);
        }
        for (i, shard) in shards.iter().enumerate() {
            if let Err(e) = self.tables.ensure_table(&self.servers, &self.dbs, i, &table, &self.stats).await {
                self.stats.set_database_up(i, false);
                return Err(e);
            }
            let db = &self.dbs[i];
            let w = IntervalWrite {
                db: &db.name,
                table: &table,
                label,
                source_id: &self.config.source_id,
                rows: shard,
                batch_size: self.config.batch_size,
            };
            if let Err(e) = write_interval(&self.servers[db.server], w).await {
                self.tables.forget(i);
                self.stats.set_database_up(i, false);
                return Err(e);
            }
            self.stats.set_database_up(i, true);
        }
        self.stats.add_exported(Table::Stat, 1, rows.len() as u64);
        Ok(())
    }

    /// Writes one interval's property rows into its hourly table.
    async fn write_property(&mut self, interval: TimestampMs, rows: &[PropertyRow]) -> Result<Exported> {
        let label = TarsLabel::of(interval, self.config.labels_offset());
        let table = format!("{PROPERTY_TABLE_PREFIX}{}", label.table_suffix());
        let i = self.property_db();
        if let Err(e) = self.tables.ensure_table(&self.servers, &self.dbs, i, &table, &self.stats).await {
            self.stats.set_database_up(i, false);
            return Err(e);
        }
        let db = &self.dbs[i];
        let w = PropertyWrite {
            db: &db.name,
            table: &table,
            interval,
            label,
            source_id: &self.config.source_id,
            markers: &self.property_markers,
            rows,
            batch_size: self.config.batch_size,
        };
        let result = write_property_interval(&self.servers[db.server], w).await;
        self.stats.set_database_up(i, result.is_ok());
        match result {
            Ok(Some(n)) => {
                self.stats.add_exported(Table::Property, 1, n);
                Ok(Exported::Rows(n))
            }
            Ok(None) => {
                self.stats.add_already_written(1);
                Ok(Exported::AlreadyWritten)
            }
            Err(e) => {
                self.tables.forget(i);
                Err(e)
            }
        }
    }

    /// Writes the notify slots `slots` (sealed, in order) in one transaction.
    async fn write_notify(&mut self, slots: &[NotifySlot]) -> Result<NotifyWritten> {
        self.tables.ensure_notify(&self.servers, &self.notify_db, &self.stats).await?;
        let server = &self.servers[self.notify_db.server];
        let offset = self.config.labels_offset();
        let result = write_notify_slots(
            server,
            &self.notify_db.name,
            &self.notify_markers,
            slots,
            offset,
            self.config.batch_size,
        )
        .await;
        match result {
            Ok(written) => {
                self.stats.add_exported(Table::Notify, written.slots, written.rows);
                self.stats.add_already_written(written.skipped);
                Ok(written)
            }
            Err(e) => {
                self.tables.forget_notify();
                Err(e)
            }
        }
    }

    async fn close(self) {
        for server in self.servers {
            server.disconnect().await;
        }
    }
}

/// The exporter: reads sealed slots of the `stat`, `property` and `notify` tables from the
/// store and writes the classic `tars_stat.tars_stat_YYYYMMDDHH`,
/// `tars_property.tars_property_YYYYMMDDHH` and `db_tars.t_server_notifys` tables. Create it
/// with [`Exporter::new`] and drive it with [`Exporter::run`], or use [`Exporter::start`].
#[derive(Debug)]
pub struct Exporter {
    sink: Sink,
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    stat: Cursor,
    property: Cursor,
    notify: Cursor,
    /// When retention last ran without error.
    last_retention: Option<TimestampMs>,
    /// The local day and time the day's tables were last all seen to exist.
    last_tables: Option<(NaiveDate, TimestampMs)>,
    /// Called with the outage and recovery events ([`Exporter::with_hook`]).
    hook: HookSlot,
}

impl Exporter {
    /// An exporter with `config` (checked with [`ExporterConfig::sanitize`]). Does no I/O:
    /// MySQL is first contacted on the first tick, and an unreachable server is an error of
    /// that tick, retried, not of `new`.
    pub fn new(config: ExporterConfig, store: Arc<Store>, clock: Arc<dyn Clock>) -> Result<Self> {
        Ok(Self {
            sink: Sink::new(config)?,
            store,
            clock,
            stat: Cursor::new(STAT_CURSOR, Table::Stat),
            property: Cursor::new(PROPERTY_CURSOR, Table::Property),
            notify: Cursor::new(NOTIFY_CURSOR, Table::Notify),
            last_retention: None,
            last_tables: None,
            hook: HookSlot::default(),
        })
    }

    /// Calls `hook` with every [`ExportEvent`]: once when the export starts failing (the
    /// first failed tick after a healthy one), once when it recovers. Replaces an earlier
    /// hook.
    pub fn with_hook(mut self, hook: ExportHook) -> Self {
        self.hook = HookSlot(Some(hook));
        self
    }

    /// Creates the exporter and spawns [`Exporter::run`] on the current tokio runtime. The
    /// task ends (after closing its connections) when `shutdown` is cancelled.
    pub fn start(
        config: ExporterConfig,
        store: Arc<Store>,
        clock: Arc<dyn Clock>,
        shutdown: CancellationToken,
    ) -> Result<(JoinHandle<()>, Arc<ExporterStats>)> {
        Ok(Self::new(config, store, clock)?.spawn(shutdown))
    }

    /// Spawns [`Exporter::run`] on the current tokio runtime (after [`Exporter::with_hook`],
    /// say) and returns its task and counters.
    pub fn spawn(self, shutdown: CancellationToken) -> (JoinHandle<()>, Arc<ExporterStats>) {
        let stats = self.stats();
        (tokio::spawn(self.run(shutdown)), stats)
    }

    /// The exporter's counters.
    pub fn stats(&self) -> Arc<ExporterStats> {
        self.sink.stats.clone()
    }

    /// Ticks until `shutdown` is cancelled: at once again while there is a backlog, after
    /// `poll_interval` when there is none, after an exponential back-off (from `retry_backoff`
    /// up to `max_backoff`) after a failure. Cancelling interrupts a tick: data whose
    /// transaction did not commit is not in a cursor and is written again next time.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let c = &self.sink.config;
        info!(databases = ?c.stat_databases.iter().map(|d| &d.name).collect::<Vec<_>>(),
            property_database = %c.property_database, notify_database = %c.notify_database,
            time_zone = %c.labels_offset(), "MySQL exporter started");
        let mut failures: u32 = 0;
        loop {
            let outcome = tokio::select! {
                () = shutdown.cancelled() => break,
                outcome = self.tick() => outcome,
            };
            let config = &self.sink.config;
            let wait = match outcome {
                Ok(report) => {
                    if failures > 0 {
                        info!(
                            backlog = report.backlog_intervals,
                            notify_backlog = report.notify_backlog_slots,
                            "MySQL export recovered"
                        );
                    }
                    failures = 0;
                    if report.more_to_do() { Duration::ZERO } else { config.poll_interval }
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let wait = config
                        .retry_backoff
                        .saturating_mul(1 << (failures - 1).min(16))
                        .min(config.max_backoff);
                    let s = self.sink.stats.snapshot();
                    warn!(error = %error_chain(&e), backlog = s.backlog_intervals,
                        notify_backlog = s.notify_backlog_slots, retry_in = ?wait,
                        "MySQL export failed; the data stays in the store and is retried");
                    wait
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
        self.close().await;
        info!("MySQL exporter stopped");
    }

    /// Closes the connections.
    pub async fn close(self) {
        self.sink.close().await;
    }

    /// One round: tables, retention, then the export of each table (up to a dozen intervals
    /// of stat and of property, up to 120 notify slots). Every part runs even if an earlier
    /// one failed; the first error is returned (and every error is
    /// counted in [`ExporterStats`]). The first failed tick after a successful one (or the
    /// first tick of all) emits [`ExportEvent::Failing`], the first successful one after a
    /// failure [`ExportEvent::Recovered`].
    pub async fn tick(&mut self) -> Result<TickReport> {
        let outcome = self.tick_once().await;
        self.observe(&outcome);
        outcome
    }

    /// Moves the outage state on `outcome` and emits the event of a change.
    fn observe(&self, outcome: &Result<TickReport>) {
        let stats = &self.sink.stats;
        let was_failing = stats.set_failing(outcome.is_err());
        let event = match outcome {
            Err(e) if !was_failing => {
                let s = stats.snapshot();
                ExportEvent::Failing {
                    error: error_chain(e),
                    backlog_intervals: s.backlog_intervals,
                    notify_backlog_slots: s.notify_backlog_slots,
                }
            }
            Ok(report) if was_failing => ExportEvent::Recovered {
                backlog_intervals: report.backlog_intervals,
                notify_backlog_slots: report.notify_backlog_slots,
            },
            _ => return,
        };
        self.hook.emit(&event);
    }

    async fn tick_once(&mut self) -> Result<TickReport> {
        let now = self.clock.now();
        let today = local_date(now, self.sink.config.labels_offset());
        let mut first_error = None;
        let mut fail = |e: Error, stats: &ExporterStats| {
            stats.record_error(&e);
            first_error.get_or_insert(e);
        };

        let tables_due =
            self.last_tables.is_none_or(|(day, at)| day != today || now.0 - at.0 >= TABLES_EVERY_MS);
        if tables_due {
            match self.sink.ensure_tables(today).await {
                Ok(()) => self.last_tables = Some((today, now)),
                Err(e) => fail(e, &self.sink.stats),
            }
        }

        let retention_days = self.sink.config.retention_days;
        let retention_due = self.last_retention.is_none_or(|at| now.0 - at.0 >= RETENTION_EVERY_MS);
        if retention_days > 0 && retention_due {
            let keep_from =
                today.checked_sub_days(Days::new(u64::from(retention_days))).unwrap_or(NaiveDate::MIN);
            match self.sink.apply_retention(keep_from).await {
                Ok(()) => self.last_retention = Some(now),
                Err(e) => fail(e, &self.sink.stats),
            }
        }

        let mut report = TickReport::default();
        match self.export_intervals(IntervalTable::Stat, now).await {
            Ok((intervals, rows, backlog)) => {
                report.exported_intervals = intervals;
                report.stat_rows = rows;
                report.backlog_intervals = backlog;
            }
            Err(e) => {
                report.backlog_intervals = self.sink.stats.snapshot().stat_backlog_intervals;
                fail(e, &self.sink.stats);
            }
        }
        match self.export_intervals(IntervalTable::Property, now).await {
            Ok((intervals, rows, backlog)) => {
                report.property_intervals = intervals;
                report.property_rows = rows;
                report.property_backlog_intervals = backlog;
            }
            Err(e) => {
                report.property_backlog_intervals = self.sink.stats.snapshot().property_backlog_intervals;
                fail(e, &self.sink.stats);
            }
        }
        match self.export_notify(now).await {
            Ok((slots, rows, backlog)) => {
                report.notify_slots = slots;
                report.notify_rows = rows;
                report.notify_backlog_slots = backlog;
            }
            Err(e) => {
                report.notify_backlog_slots = self.sink.stats.snapshot().notify_backlog_slots;
                fail(e, &self.sink.stats);
            }
        }
        report.backlog_intervals = report.backlog_intervals.max(report.property_backlog_intervals);
        report.exported_rows = report.stat_rows + report.property_rows + report.notify_rows;
        first_error.map_or(Ok(report), Err)
    }

    fn cursor(&mut self, table: IntervalTable) -> &mut Cursor {
        match table {
            IntervalTable::Stat => &mut self.stat,
            IntervalTable::Property => &mut self.property,
        }
    }

    /// Exports the complete intervals of `table` after its cursor, at most
    /// [`INTERVALS_PER_TICK`] of those with data. Returns the intervals and rows written and
    /// the backlog left.
    async fn export_intervals(&mut self, table: IntervalTable, now: TimestampMs) -> Result<(u64, u64, u64)> {
        let initial = interval_of(now.saturating_sub(self.sink.config.initial_lookback));
        let store = self.store.clone();
        let stats = self.sink.stats.clone();
        let which = table.stats();
        let mut cursor = self.cursor(table).load(&store, initial, &stats).await?;
        let ready_end = interval_of(now.saturating_sub(self.sink.config.seal_delay));
        let backlog = |cursor: TimestampMs| ((ready_end.0 - cursor.0).max(0) / TARS_INTERVAL_MS) as u64;
        stats.set_backlog(which, backlog(cursor));
        let (mut intervals_written, mut rows_written) = (0, 0);
        if cursor >= ready_end {
            return Ok((0, 0, backlog(cursor)));
        }
        let intervals = intervals_with_data(store.clone(), table.name(), cursor, ready_end).await?;
        if let Some(&first) = intervals.first()
            && first > cursor
        {
            // The intervals before the first with data are empty: done, without a write.
            cursor = first;
            self.cursor(table).commit(&store, cursor, &stats).await?;
            stats.set_backlog(which, backlog(cursor));
        }
        let truncated = intervals.len() > INTERVALS_PER_TICK;
        for &interval in intervals.iter().take(INTERVALS_PER_TICK) {
            let exported = self.sink.export_interval(&store, table, interval).await?;
            cursor = next_interval(interval);
            self.cursor(table).commit(&store, cursor, &stats).await?;
            if let Exported::Rows(n) = exported {
                intervals_written += 1;
                rows_written += n;
            }
            stats.set_backlog(which, backlog(cursor));
        }
        if !truncated && cursor < ready_end {
            // Nothing else up to `ready_end`: the empty intervals are done too.
            cursor = ready_end;
            self.cursor(table).commit(&store, cursor, &stats).await?;
            stats.set_backlog(which, 0);
        }
        Ok((intervals_written, rows_written, backlog(cursor)))
    }

    /// Exports the sealed notify slots after the cursor, at most [`NOTIFY_SLOTS_PER_TICK`].
    /// Returns the slots and rows written and the sealed slots left.
    ///
    /// Which slots are sealed: a slot is sealed `seal_delay` after its end, and its width is
    /// the pipeline's, unknown here. Every slot start is a multiple of the width, and the width
    /// divides 5 minutes, so `step` = gcd(5 min, the starts listed) is a multiple of the width
    /// (the width itself once two neighbouring slots were seen). Every slot before
    /// `ready_end` = `now - seal_delay` rounded down to `step` then ends by `ready_end`: it
    /// is sealed.
    async fn export_notify(&mut self, now: TimestampMs) -> Result<(u64, u64, u64)> {
        let initial = interval_of(now.saturating_sub(self.sink.config.initial_lookback));
        let store = self.store.clone();
        let stats = self.sink.stats.clone();
        let mut cursor = self.notify.load(&store, initial, &stats).await?;
        let sealed_by = now.saturating_sub(self.sink.config.seal_delay);
        let listed = list_slots(store.clone(), NotifyTable::NAME, cursor, sealed_by).await?;
        let step = listed.iter().fold(TARS_INTERVAL_MS, |g, s| gcd(g, s.0));
        let ready_end = TimestampMs(sealed_by.0.div_euclid(step) * step);
        let ready: Vec<TimestampMs> = listed.into_iter().filter(|s| *s < ready_end).collect();
        stats.set_backlog(Table::Notify, ready.len() as u64);
        if cursor >= ready_end {
            return Ok((0, 0, ready.len() as u64));
        }
        let (mut slots_written, mut rows_written, mut done) = (0, 0, 0);
        let limit = ready.len().min(NOTIFY_SLOTS_PER_TICK);
        while done < limit {
            let group = read_notify_group(&store, &ready[done..limit], self.sink.config.batch_size).await?;
            let written = self.sink.write_notify(&group).await?;
            done += group.len();
            slots_written += written.slots;
            rows_written += written.rows;
            cursor = ready.get(done).copied().unwrap_or(ready_end);
            self.notify.commit(&store, cursor, &stats).await?;
            stats.set_backlog(Table::Notify, (ready.len() - done) as u64);
        }
        if ready.is_empty() && cursor < ready_end {
            self.notify.commit(&store, ready_end, &stats).await?;
        }
        Ok((slots_written, rows_written, (ready.len() - done) as u64))
    }
}

/// Reads the leading slots of `slots` that one transaction writes: at most
/// [`NOTIFY_SLOTS_PER_TRANSACTION`], ending with the slot that brings them to `batch_size`
/// rows (so a transaction holds about one full `INSERT`, and at least one slot).
async fn read_notify_group(
    store: &Arc<Store>,
    slots: &[TimestampMs],
    batch_size: usize,
) -> Result<Vec<NotifySlot>> {
    let mut group = Vec::new();
    let mut rows = 0;
    for &slot in slots.iter().take(NOTIFY_SLOTS_PER_TRANSACTION) {
        let read = read_notify_slot(store.clone(), slot).await?;
        rows += read.records.len();
        group.push(read);
        if rows >= batch_size {
            break;
        }
    }
    Ok(group)
}

/// Writes every interval with data in `[from, to)` (widened to whole 5-minute intervals) to
/// the stat and property databases of `config`, and every notify slot in that range to the
/// notify database, creating tables as needed, and calls `progress(done, total)` after each
/// interval (of each table; a notify interval is the slots of 5 minutes). Does not read or
/// move the exporter's cursors, and is safe to run over time that was exported already: stat
/// rows that are there stay as they are, and property intervals and notify slots that are
/// marked as written are skipped.
pub async fn export_range(
    store: Arc<Store>,
    config: &ExporterConfig,
    from: TimestampMs,
    to: TimestampMs,
    mut progress: impl FnMut(u64, u64),
) -> Result<ExportSummary> {
    let mut sink = Sink::new(config.clone())?;
    let (from, to) = (interval_of(from), interval_of(TimestampMs(to.0.saturating_add(TARS_INTERVAL_MS - 1))));
    let result = async {
        let stat = intervals_with_data(store.clone(), StatTable::NAME, from, to).await?;
        let property = intervals_with_data(store.clone(), PropertyTable::NAME, from, to).await?;
        let notify = list_slots(store.clone(), NotifyTable::NAME, from, to).await?;
        let mut notify_groups: Vec<Vec<TimestampMs>> = Vec::new();
        for slot in notify {
            match notify_groups.last_mut() {
                Some(g) if g.first().is_some_and(|&f| interval_of(f) == interval_of(slot)) => g.push(slot),
                _ => notify_groups.push(vec![slot]),
            }
        }
        let total = (stat.len() + property.len() + notify_groups.len()) as u64;
        let mut done = 0;
        progress(0, total);
        let mut summary = ExportSummary::default();
        for (table, intervals) in [(IntervalTable::Stat, stat), (IntervalTable::Property, property)] {
            for interval in intervals {
                match sink.export_interval(&store, table, interval).await? {
                    Exported::Rows(n) => {
                        match table {
                            IntervalTable::Stat => {
                                summary.intervals += 1;
                                summary.stat_rows += n;
                            }
                            IntervalTable::Property => {
                                summary.property_intervals += 1;
                                summary.property_rows += n;
                            }
                        }
                        summary.rows += n;
                    }
                    Exported::AlreadyWritten => summary.already_written += 1,
                }
                done += 1;
                progress(done, total);
            }
        }
        for group in notify_groups {
            let mut slots = Vec::with_capacity(group.len());
            for slot in group {
                slots.push(read_notify_slot(store.clone(), slot).await?);
            }
            let written = sink.write_notify(&slots).await?;
            summary.notify_slots += written.slots;
            summary.notify_rows += written.rows;
            summary.rows += written.rows;
            summary.already_written += written.skipped;
            done += 1;
            progress(done, total);
        }
        Ok::<_, Error>(summary)
    }
    .await;
    sink.close().await;
    result
}

/// The start of the 5-minute interval containing `t`.
fn interval_of(t: TimestampMs) -> TimestampMs {
    TimestampMs(t.0.div_euclid(TARS_INTERVAL_MS) * TARS_INTERVAL_MS)
}

fn next_interval(t: TimestampMs) -> TimestampMs {
    TimestampMs(t.0.saturating_add(TARS_INTERVAL_MS))
}

/// The greatest common divisor (of a positive `a` and any `b`).
fn gcd(a: i64, b: i64) -> i64 {
    let (mut a, mut b) = (a.unsigned_abs(), b.unsigned_abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    // At most `a`'s magnitude, which came from an i64.
    i64::try_from(a).unwrap_or(TARS_INTERVAL_MS)
}

/// The local date of `t`.
fn local_date(t: TimestampMs, offset: UtcOffset) -> NaiveDate {
    let local = t.0.saturating_add(i64::from(offset.seconds()) * 1000);
    DateTime::from_timestamp_millis(local).unwrap_or_default().date_naive()
}

/// The time local `day` begins at `offset`.
fn local_midnight(day: NaiveDate, offset: UtcOffset) -> TimestampMs {
    let local = day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp_millis();
    TimestampMs(local.saturating_sub(i64::from(offset.seconds()) * 1000))
}

/// The sealed slots of `table` in `[from, to)`, off the async threads (RocksDB reads block).
async fn list_slots(
    store: Arc<Store>,
    table: &'static str,
    from: TimestampMs,
    to: TimestampMs,
) -> Result<Vec<TimestampMs>> {
    Ok(tokio::task::spawn_blocking(move || store.slots(table, from, to)).await??)
}

/// The starts of the 5-minute intervals in `[from, to)` that hold a sealed slot of `table`.
async fn intervals_with_data(
    store: Arc<Store>,
    table: &'static str,
    from: TimestampMs,
    to: TimestampMs,
) -> Result<Vec<TimestampMs>> {
    let mut intervals: Vec<TimestampMs> =
        list_slots(store, table, from, to).await?.into_iter().map(interval_of).collect();
    intervals.dedup();
    Ok(intervals)
}

/// The rolled-up stat rows of one interval. Reading and rolling up both run on a blocking
/// thread: a slot of 100k keys is a lot of decoding and hashing.
async fn read_stat_interval(store: Arc<Store>, interval: TimestampMs) -> Result<Vec<StatRow>> {
    tokio::task::spawn_blocking(move || {
        let batches = store.scan(StatTable::NAME, interval, next_interval(interval))?;
        rollup(interval, &batches)
    })
    .await?
}

/// The rolled-up property rows of one interval (on a blocking thread, like stat's).
async fn read_property_interval(store: Arc<Store>, interval: TimestampMs) -> Result<Vec<PropertyRow>> {
    tokio::task::spawn_blocking(move || {
        let batches = store.scan(PropertyTable::NAME, interval, next_interval(interval))?;
        crate::property::rollup(interval, &batches)
    })
    .await?
}

/// The records of one notify slot.
async fn read_notify_slot(store: Arc<Store>, slot: TimestampMs) -> Result<NotifySlot> {
    tokio::task::spawn_blocking(move || {
        let batches = store.scan(NotifyTable::NAME, slot, TimestampMs(slot.0 + 1))?;
        decode_slot(slot, &batches)
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_step_is_a_multiple_of_every_width_that_fits() {
        let base = 1_705_280_400_000; // 2024-01-15 01:00:00 UTC, a multiple of 5 minutes.
        let step = |starts: &[i64]| starts.iter().fold(TARS_INTERVAL_MS, |g, s| gcd(g, base + s));
        assert_eq!(step(&[]), TARS_INTERVAL_MS);
        assert_eq!(step(&[0]), TARS_INTERVAL_MS);
        assert_eq!(step(&[60_000, 120_000]), 60_000);
        assert_eq!(step(&[120_000]), 60_000);
        assert_eq!(step(&[10_000, 20_000]), 10_000);
        assert_eq!(step(&[150_000]), 150_000);
    }

    #[test]
    fn local_midnight_is_the_start_of_the_local_day() {
        let day = NaiveDate::from_ymd_opt(2024, 1, 15).unwrap_or_default();
        let offset: UtcOffset = "+08:00".parse().unwrap_or(UtcOffset::UTC);
        let t = local_midnight(day, offset);
        assert_eq!(local_date(t, offset), day);
        assert_eq!(local_date(TimestampMs(t.0 - 1), offset), day.pred_opt().unwrap_or_default());
    }
}
