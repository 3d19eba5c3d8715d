//! [`Exporter`]: the export loop, its durable cursor, and the one-shot [`export_range`].
//!
//! Each tick: (1) make sure the hourly tables of today and tomorrow exist (and yesterday's,
//! on the first start); (2) once an hour, drop tables past retention; (3) export the complete
//! 5-minute intervals after the cursor, oldest first. An interval is complete `seal_delay`
//! after its end, when its base slots are sealed in the store. After all its rows are committed
//! to every stat database, the cursor moves past it (`Store::put_meta`), so an outage or a
//! restart resumes exactly there; because the rows' primary key makes a second write of an
//! interval a no-op, the rows written before a failure are not duplicated either.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate};
use tarsmon_engine::Store;
use tarsmon_ingest::time::{Clock, TARS_INTERVAL_MS, TarsLabel, TimestampMs, UtcOffset};
use tarsmon_ingest::{StatTable, TableKind};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::ExporterConfig;
use crate::ddl::STAT_TABLE_PREFIX;
use crate::error::{Error, Result};
use crate::rows::{StatRow, rollup};
use crate::server::Server;
use crate::stats::{ExporterStats, error_chain};
use crate::tables::{StatDb, TableManager};
use crate::writer::{IntervalWrite, write_interval};

/// The metadata name of the cursor of the `stat` table: the start of the first 5-minute
/// interval not yet exported, as 8 bytes of little-endian epoch milliseconds.
pub const STAT_CURSOR: &str = "mysql_export_cursor.stat";

/// How many intervals one tick exports at most, so that table creation, retention and shutdown
/// are not held up by a long backlog (the loop goes on at once while there is a backlog).
const INTERVALS_PER_TICK: usize = 12;

/// How often retention runs.
const RETENTION_EVERY_MS: i64 = 3_600_000;

/// How often the day's tables are checked again even when nothing failed (someone may drop a
/// table by hand).
const TABLES_EVERY_MS: i64 = 600_000;

/// What one [`Exporter::tick`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Intervals with data written in this tick.
    pub exported_intervals: u64,
    /// Rows written in this tick.
    pub exported_rows: u64,
    /// Complete intervals still behind the cursor after this tick.
    pub backlog_intervals: u64,
}

/// What [`export_range`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Intervals with data written.
    pub intervals: u64,
    /// Rows written.
    pub rows: u64,
}

/// The servers, databases and table state shared by the loop and by [`export_range`].
#[derive(Debug)]
struct Sink {
    config: ExporterConfig,
    servers: Vec<Server>,
    dbs: Vec<StatDb>,
    tables: TableManager,
    stats: Arc<ExporterStats>,
}

impl Sink {
    fn new(config: ExporterConfig) -> Result<Self> {
        config.sanitize()?;
        let mut urls: Vec<&str> = Vec::new();
        let mut dbs = Vec::new();
        for db in &config.stat_databases {
            let url = config.url_of(db);
            let server = urls.iter().position(|u| *u == url).unwrap_or_else(|| {
                urls.push(url);
                urls.len() - 1
            });
            dbs.push(StatDb { server, name: db.name.clone() });
        }
        let servers = urls
            .iter()
            .map(|u| Server::new(u, config.max_connections, config.timeout))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            servers,
            dbs,
            tables: TableManager::default(),
            stats: Arc::new(ExporterStats::new()),
            config,
        })
    }

    /// Writes one interval's rows, each to the database its key hashes to.
    async fn write(&mut self, interval: TimestampMs, rows: &[StatRow]) -> Result<()> {
        let label = TarsLabel::of(interval, self.config.labels_offset());
        let table = format!("{STAT_TABLE_PREFIX}{}", label.table_suffix());
        let n = self.dbs.len();
        let mut shards: Vec<Vec<&StatRow>> = vec![Vec::new(); n];
        for row in rows {
            shards[row.key.shard(n)].push(row);
        }
        for (i, shard) in shards.iter().enumerate() {
            self.tables.ensure_table(&self.servers, &self.dbs, i, &table, &self.stats).await?;
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
                return Err(e);
            }
        }
        self.stats.add_exported(rows.len() as u64);
        Ok(())
    }

    async fn close(self) {
        for server in self.servers {
            server.disconnect().await;
        }
    }
}

/// The exporter of the `stat` table: reads sealed slots from the store and writes the classic
/// `tars_stat.tars_stat_YYYYMMDDHH` tables. Create it with [`Exporter::new`] and drive it with
/// [`Exporter::run`], or use [`Exporter::start`].
#[derive(Debug)]
pub struct Exporter {
    sink: Sink,
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    /// The first interval not exported yet; read from the store on the first tick.
    cursor: Option<TimestampMs>,
    /// When retention last ran without error.
    last_retention: Option<TimestampMs>,
    /// The local day and time the day's tables were last all seen to exist.
    last_tables: Option<(NaiveDate, TimestampMs)>,
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
            cursor: None,
            last_retention: None,
            last_tables: None,
        })
    }

    /// Creates the exporter and spawns [`Exporter::run`] on the current tokio runtime. The
    /// task ends (after closing its connections) when `shutdown` is cancelled.
    pub fn start(
        config: ExporterConfig,
        store: Arc<Store>,
        clock: Arc<dyn Clock>,
        shutdown: CancellationToken,
    ) -> Result<(JoinHandle<()>, Arc<ExporterStats>)> {
        let exporter = Self::new(config, store, clock)?;
        let stats = exporter.stats();
        Ok((tokio::spawn(exporter.run(shutdown)), stats))
    }

    /// The exporter's counters.
    pub fn stats(&self) -> Arc<ExporterStats> {
        self.sink.stats.clone()
    }

    /// Ticks until `shutdown` is cancelled: at once again while there is a backlog, after
    /// `poll_interval` when there is none, after an exponential back-off (from `retry_backoff`
    /// up to `max_backoff`) after a failure. Cancelling interrupts a tick: an interval whose
    /// transaction did not commit is not in the cursor and is written again next time.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let c = &self.sink.config;
        info!(databases = ?c.stat_databases.iter().map(|d| &d.name).collect::<Vec<_>>(),
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
                        info!(backlog = report.backlog_intervals, "MySQL export recovered");
                    }
                    failures = 0;
                    if report.backlog_intervals > 0 && report.exported_intervals > 0 {
                        Duration::ZERO
                    } else {
                        config.poll_interval
                    }
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let wait = config
                        .retry_backoff
                        .saturating_mul(1 << (failures - 1).min(16))
                        .min(config.max_backoff);
                    warn!(error = %error_chain(&e), backlog = self.sink.stats.snapshot().backlog_intervals,
                        retry_in = ?wait, "MySQL export failed; the data stays in the store and is retried");
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

    /// One round: tables, retention, then up to a dozen intervals of export. Every part runs
    /// even if an earlier one failed; the first error is returned (and every error is counted
    /// in [`ExporterStats`]).
    pub async fn tick(&mut self) -> Result<TickReport> {
        let now = self.clock.now();
        let today = local_date(now, self.sink.config.labels_offset());
        let mut first_error = None;

        let tables_due =
            self.last_tables.is_none_or(|(day, at)| day != today || now.0 - at.0 >= TABLES_EVERY_MS);
        if tables_due {
            let s = &mut self.sink;
            match s.tables.ensure_days(&s.servers, &s.dbs, today, &s.stats).await {
                Ok(()) => self.last_tables = Some((today, now)),
                Err(e) => {
                    s.stats.record_error(&e);
                    first_error.get_or_insert(e);
                }
            }
        }

        let retention_days = self.sink.config.retention_days;
        let retention_due = self.last_retention.is_none_or(|at| now.0 - at.0 >= RETENTION_EVERY_MS);
        if retention_days > 0 && retention_due {
            let keep_from =
                today.checked_sub_days(Days::new(u64::from(retention_days))).unwrap_or(NaiveDate::MIN);
            let s = &mut self.sink;
            match s.tables.drop_before(&s.servers, &s.dbs, keep_from, &s.stats).await {
                Ok(_) => self.last_retention = Some(now),
                Err(e) => {
                    s.stats.record_error(&e);
                    first_error.get_or_insert(e);
                }
            }
        }

        let report = match self.export(now).await {
            Ok(report) => report,
            Err(e) => {
                self.sink.stats.record_error(&e);
                return Err(first_error.unwrap_or(e));
            }
        };
        first_error.map_or(Ok(report), Err)
    }

    /// Exports the complete intervals after the cursor, at most [`INTERVALS_PER_TICK`] of
    /// those with data.
    async fn export(&mut self, now: TimestampMs) -> Result<TickReport> {
        let mut cursor = match self.cursor {
            Some(c) => c,
            None => {
                let stored = read_cursor(self.store.clone()).await?;
                let start = stored
                    .unwrap_or_else(|| interval_of(now.saturating_sub(self.sink.config.initial_lookback)));
                self.cursor = Some(start);
                start
            }
        };
        self.sink.stats.set_cursor(cursor);
        let ready_end = interval_of(now.saturating_sub(self.sink.config.seal_delay));
        let backlog = |cursor: TimestampMs| ((ready_end.0 - cursor.0).max(0) / TARS_INTERVAL_MS) as u64;
        self.sink.stats.set_backlog(backlog(cursor));
        let mut report = TickReport { backlog_intervals: backlog(cursor), ..TickReport::default() };
        if cursor >= ready_end {
            return Ok(report);
        }
        let intervals = intervals_with_data(self.store.clone(), cursor, ready_end).await?;
        if let Some(&first) = intervals.first()
            && first > cursor
        {
            // The intervals before the first with data are empty: done, without a write.
            cursor = first;
            self.commit_cursor(cursor).await?;
            report.backlog_intervals = backlog(cursor);
            self.sink.stats.set_backlog(report.backlog_intervals);
        }
        let truncated = intervals.len() > INTERVALS_PER_TICK;
        for &interval in intervals.iter().take(INTERVALS_PER_TICK) {
            let rows = read_interval(self.store.clone(), interval).await?;
            self.sink.write(interval, &rows).await?;
            cursor = next_interval(interval);
            self.commit_cursor(cursor).await?;
            report.exported_intervals += 1;
            report.exported_rows += rows.len() as u64;
            report.backlog_intervals = backlog(cursor);
            self.sink.stats.set_backlog(report.backlog_intervals);
        }
        if !truncated && cursor < ready_end {
            // Nothing else up to `ready_end`: the empty intervals are done too.
            cursor = ready_end;
            self.commit_cursor(cursor).await?;
            report.backlog_intervals = 0;
            self.sink.stats.set_backlog(0);
        }
        Ok(report)
    }

    async fn commit_cursor(&mut self, cursor: TimestampMs) -> Result<()> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.put_meta(STAT_CURSOR, &cursor.0.to_le_bytes())).await??;
        self.cursor = Some(cursor);
        self.sink.stats.set_cursor(cursor);
        Ok(())
    }
}

/// Writes every interval with data in `[from, to)` (widened to whole 5-minute intervals) to
/// the stat databases of `config`, creating tables as needed, and calls `progress(done,
/// total)` after each interval. Does not read or move the exporter's cursor, and is safe to
/// run over time that was exported already: rows that are there stay as they are.
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
        let intervals = intervals_with_data(store.clone(), from, to).await?;
        let total = intervals.len() as u64;
        progress(0, total);
        let mut summary = ExportSummary::default();
        for interval in intervals {
            let rows = read_interval(store.clone(), interval).await?;
            sink.write(interval, &rows).await?;
            summary.intervals += 1;
            summary.rows += rows.len() as u64;
            progress(summary.intervals, total);
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

/// The local date of `t`.
fn local_date(t: TimestampMs, offset: UtcOffset) -> NaiveDate {
    let local = t.0.saturating_add(i64::from(offset.seconds()) * 1000);
    DateTime::from_timestamp_millis(local).unwrap_or_default().date_naive()
}

/// The stored cursor, off the async threads (RocksDB reads block).
async fn read_cursor(store: Arc<Store>) -> Result<Option<TimestampMs>> {
    let value = tokio::task::spawn_blocking(move || store.meta(STAT_CURSOR)).await??;
    match value {
        None => Ok(None),
        Some(v) => {
            let bytes: [u8; 8] = v
                .as_slice()
                .try_into()
                .map_err(|_| Error::BadCursor { name: STAT_CURSOR.to_owned(), len: v.len() })?;
            Ok(Some(TimestampMs(i64::from_le_bytes(bytes))))
        }
    }
}

/// The starts of the 5-minute intervals in `[from, to)` that hold a sealed `stat` slot.
async fn intervals_with_data(
    store: Arc<Store>,
    from: TimestampMs,
    to: TimestampMs,
) -> Result<Vec<TimestampMs>> {
    let slots = tokio::task::spawn_blocking(move || store.slots(StatTable::NAME, from, to)).await??;
    let mut intervals: Vec<TimestampMs> = slots.into_iter().map(interval_of).collect();
    intervals.dedup();
    Ok(intervals)
}

/// The rolled-up rows of one interval. Reading and rolling up both run on a blocking thread:
/// a slot of 100k keys is a lot of decoding and hashing.
async fn read_interval(store: Arc<Store>, interval: TimestampMs) -> Result<Vec<StatRow>> {
    tokio::task::spawn_blocking(move || {
        let batches = store.scan(StatTable::NAME, interval, next_interval(interval))?;
        rollup(interval, &batches)
    })
    .await?
}
