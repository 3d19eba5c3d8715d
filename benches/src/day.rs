//! The day benchmark: two full days of call statistics (yesterday and today) for a key space,
//! in tarsmon's store and — written by the MySQL exporter — in a real MariaDB, then:
//! - export: rows/s of the exporter writing both days;
//! - storage: bytes on disk of each, for the same data;
//! - query: TarsWeb's service-monitor page (today and yesterday grouped by `f_tflag` for one
//!   callee, then the drill-down by `interface_name`) answered by tarsmon's querystat engine
//!   and, side by side, by the SQL the original tarsquerystat runs on the hourly tables (one
//!   statement per hour table, in turn, on one connection), p50/p99 over repeated runs. Both
//!   answers are compared first: a benchmark whose answers differ is an error, not a result.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{Days, NaiveDate, Utc};
use mysql_async::prelude::Queryable;
use tarsmon_compat_mysql::{ExporterConfig, export_range};
use tarsmon_engine::{Store, StoreConfig};
use tarsmon_ingest::time::{Clock, ManualClock, TimestampMs, UtcOffset};
use tarsmon_ingest::{NotifyTable, Pipeline, PipelineConfig, PropertyTable, StatTable, TableKind};
use tarsmon_query::{Condition, MonitorRequest, Op, QueryConfig, QueryEngine, TableSource};

use crate::dataset::{dir_bytes, server_name, stat_keys, write_stat_slots};
use crate::mariadb::MariaDb;

const DAY_MS: i64 = 86_400_000;

/// What to run.
#[derive(Debug, Clone)]
pub struct DayConfig {
    /// Distinct stat heads, each reporting once per slot all day.
    pub keys: usize,
    /// Width of tarsmon's base slot in ms (the default pipeline's is 60 s).
    pub slot_ms: i64,
    /// Timed repetitions of each page query (after one untimed warm-up).
    pub queries: usize,
    /// `--innodb-buffer-pool-size` of the MariaDB server.
    pub buffer_pool: String,
    /// Run the MariaDB side (export, storage, queries); without it only tarsmon's queries are
    /// timed (for profiling them).
    pub mysql: bool,
}

/// Latency percentiles of one query, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile (the maximum below 100 runs).
    pub p99_ms: f64,
}

impl Latency {
    fn of(mut runs: Vec<Duration>) -> Self {
        runs.sort();
        let at = |q: f64| {
            let i = ((runs.len() as f64 * q).ceil() as usize).clamp(1, runs.len().max(1)) - 1;
            runs.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
        };
        Self { p50_ms: at(0.5), p99_ms: at(0.99) }
    }
}

/// The results.
#[derive(Debug, Clone, Default)]
pub struct DayReport {
    /// Rows in tarsmon's store (one per key and base slot).
    pub tarsmon_rows: u64,
    /// Seconds to generate and write them into the store.
    pub tarsmon_write_s: f64,
    /// Hours compacted ([`Store::compact_hour`], as the pipeline does once an hour closes).
    pub compacted_hours: usize,
    /// Seconds all those compactions took, one after another.
    pub compact_s: f64,
    /// Bytes of tarsmon's store directory after a flush.
    pub tarsmon_bytes: u64,
    /// Rows the exporter wrote to MariaDB (one per key and 5-minute interval).
    pub mysql_rows: u64,
    /// Seconds the export took.
    pub export_s: f64,
    /// Bytes of the `tars_stat` database's files on disk.
    pub mysql_file_bytes: u64,
    /// `data_length + index_length` of the `tars_stat` tables (InnoDB's own figure).
    pub mysql_table_bytes: u64,
    /// The page (today and yesterday by `f_tflag`), tarsmon.
    pub page_tarsmon: Latency,
    /// The same page, MariaDB.
    pub page_mysql: Latency,
    /// The drill-down (today and yesterday by `f_date, interface_name`), tarsmon.
    pub drill_tarsmon: Latency,
    /// The same drill-down, MariaDB.
    pub drill_mysql: Latency,
    /// Groups in the page answer and in the drill-down answer (both sides agreed).
    pub groups: (usize, usize),
}

impl DayReport {
    /// The results as Markdown, for BENCHMARKS.md.
    pub fn markdown(&self, cfg: &DayConfig) -> String {
        let mut s = String::new();
        let ratio = |a: f64, b: f64| if a > 0.0 { b / a } else { f64::NAN };
        let _ = writeln!(
            s,
            "{} keys × 2 days: {} rows in tarsmon ({} s slots, written in {:.1} s; {} hours compacted \
             in {:.1} s = {:.2} s per hour), {} rows in MariaDB (5-minute rows; exported in {:.1} s = \
             {:.0} rows/s)\n",
            cfg.keys,
            self.tarsmon_rows,
            cfg.slot_ms / 1000,
            self.tarsmon_write_s,
            self.compacted_hours,
            self.compact_s,
            self.compact_s / self.compacted_hours.max(1) as f64,
            self.mysql_rows,
            self.export_s,
            self.mysql_rows as f64 / self.export_s.max(1e-9),
        );
        let _ = writeln!(s, "| storage | tarsmon | MariaDB | tarsmon / MariaDB |\n|---|---|---|---|");
        let _ = writeln!(
            s,
            "| bytes on disk | {:.1} MiB | {:.1} MiB (files; InnoDB reports {:.1} MiB) | {:.3} |",
            self.tarsmon_bytes as f64 / 1048576.0,
            self.mysql_file_bytes as f64 / 1048576.0,
            self.mysql_table_bytes as f64 / 1048576.0,
            self.tarsmon_bytes as f64 / self.mysql_file_bytes.max(1) as f64,
        );
        let _ = writeln!(
            s,
            "| bytes per MySQL row (same data) | {:.1} | {:.1} | |",
            self.tarsmon_bytes as f64 / self.mysql_rows.max(1) as f64,
            self.mysql_file_bytes as f64 / self.mysql_rows.max(1) as f64,
        );
        let _ = writeln!(
            s,
            "| bytes per stored row | {:.1} (per {} s row) | {:.1} (per 5-minute row) | |\n",
            self.tarsmon_bytes as f64 / self.tarsmon_rows.max(1) as f64,
            cfg.slot_ms / 1000,
            self.mysql_file_bytes as f64 / self.mysql_rows.max(1) as f64,
        );
        let _ = writeln!(
            s,
            "| query ({} runs) | tarsmon p50 / p99 | MariaDB p50 / p99 | speed-up at p50 |\n|---|---|---|---|",
            cfg.queries
        );
        for (name, t, m, groups) in [
            ("page: 2 days by f_tflag, one slave_name", self.page_tarsmon, self.page_mysql, self.groups.0),
            (
                "drill-down: 2 days by f_date, interface_name",
                self.drill_tarsmon,
                self.drill_mysql,
                self.groups.1,
            ),
        ] {
            let _ = writeln!(
                s,
                "| {name} ({groups} groups) | {:.1} / {:.1} ms | {:.1} / {:.1} ms | {:.1}× |",
                t.p50_ms,
                t.p99_ms,
                m.p50_ms,
                m.p99_ms,
                ratio(t.p50_ms, m.p50_ms),
            );
        }
        s
    }
}

/// `YYYYMMDD`.
fn ymd(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

fn midnight(d: NaiveDate) -> TimestampMs {
    TimestampMs(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp_millis())
}

/// TarsWeb's request for one day, grouped by `groupby`, for one callee.
fn request(day: NaiveDate, groupby: &[&str], callee: &str) -> MonitorRequest {
    MonitorRequest {
        date: ymd(day),
        tflag1: "0000".into(),
        tflag2: "2360".into(),
        conditions: vec![Condition { field: "slave_name".into(), op: Op::Like, val: callee.into() }],
        indexs: ["succ_count", "timeout_count", "exce_count", "total_time"].map(String::from).to_vec(),
        groupby: groupby.iter().map(|g| (*g).to_owned()).collect(),
    }
}

type Answer = BTreeMap<String, Vec<f64>>;

/// The original tarsquerystat's answer for one day: one statement per hour table, in turn,
/// values of the same key added across tables.
async fn mysql_answer(
    conn: &mut mysql_async::Conn,
    day: NaiveDate,
    groupby: &[&str],
    callee: &str,
) -> anyhow::Result<Answer> {
    let group = groupby.join(", ");
    let shown = group.replacen("f_date", "DATE_FORMAT( f_date, '%Y%m%d') as f_date", 1);
    let mut out = Answer::new();
    for hour in 0..24 {
        let sql = format!(
            "select  sum(succ_count),  sum(timeout_count),  sum(exce_count),  sum(total_time),{shown} \
             from tars_stat.tars_stat_{}{hour:02}  where 1=1 and slave_name like '{callee}' \
             group by {group} order by null;",
            ymd(day)
        );
        let rows: Vec<mysql_async::Row> = conn.query(&sql).await.with_context(|| sql.clone())?;
        for row in rows {
            let mut values = Vec::with_capacity(4);
            for i in 0..4 {
                values.push(row.get_opt::<f64, usize>(i).context("a sum column")?.context("not a number")?);
            }
            let key: Vec<String> = (4..row.len())
                .map(|i| row.get_opt::<String, usize>(i).context("a group column")?.context("not text"))
                .collect::<anyhow::Result<_>>()?;
            let entry = out.entry(key.join(",")).or_insert_with(|| vec![0.0; 4]);
            for (e, v) in entry.iter_mut().zip(values) {
                *e += v;
            }
        }
    }
    Ok(out)
}

fn same(a: &Answer, b: &Answer) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((ka, va), (kb, vb))| {
            ka == kb
                && va.len() == vb.len()
                && va.iter().zip(vb).all(|(x, y)| (x - y).abs() <= 1e-6 * x.abs().max(1.0))
        })
}

/// Starts MariaDB, exports `[from, to)` into it and measures the export and its bytes on disk.
async fn export_and_measure(
    cfg: &DayConfig,
    store: &Arc<Store>,
    from: TimestampMs,
    to: TimestampMs,
    report: &mut DayReport,
) -> anyhow::Result<MariaDb> {
    let db = MariaDb::start_with(&[&format!("--innodb-buffer-pool-size={}", cfg.buffer_pool)]).await;
    let config =
        ExporterConfig { time_zone: Some(UtcOffset::UTC), ..ExporterConfig::with_url(&db.root_url()) };
    eprintln!("day: exporting to MariaDB");
    let t0 = Instant::now();
    let summary = export_range(store.clone(), &config, from, to, |done, total| {
        if done % 48 == 0 {
            eprintln!("day: exported {done}/{total} intervals");
        }
    })
    .await?;
    report.export_s = t0.elapsed().as_secs_f64();
    report.mysql_rows = summary.rows;
    let mut conn = mysql_async::Conn::from_url(db.root_url()).await?;
    let sizes: Vec<(Option<u64>,)> = conn
        .query(
            "SELECT CAST(SUM(data_length + index_length) AS UNSIGNED) FROM information_schema.tables \
         WHERE table_schema = 'tars_stat'",
        )
        .await?;
    report.mysql_table_bytes = sizes.first().and_then(|r| r.0).unwrap_or(0);
    report.mysql_file_bytes = dir_bytes(&db.data_dir().join("tars_stat"))?;
    conn.disconnect().await?;
    Ok(db)
}

/// Runs the benchmark (blocking; it starts its own runtime).
pub fn run(cfg: &DayConfig) -> anyhow::Result<DayReport> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut report = DayReport::default();
    let today = Utc::now().date_naive();
    let yesterday = today.checked_sub_days(Days::new(1)).context("no yesterday")?;
    let (from, to) = (midnight(yesterday), TimestampMs(midnight(today).0 + DAY_MS));

    let work = tempfile::tempdir()?;
    let store_dir = work.path().join("store");
    let keys = stat_keys(cfg.keys);
    eprintln!(
        "day: writing {} keys × {} slots into tarsmon's store",
        cfg.keys,
        (to.0 - from.0) / cfg.slot_ms
    );
    let t0 = Instant::now();
    let store = Arc::new(Store::open(&store_dir, StoreConfig::default())?);
    report.tarsmon_rows = write_stat_slots(&store, &keys, from, to, cfg.slot_ms)?;
    report.tarsmon_write_s = t0.elapsed().as_secs_f64();

    rt.block_on(async {
        // The exporter reads each slot soon after it is sealed, before its hour is compacted.
        let db = if cfg.mysql {
            Some(export_and_measure(cfg, &store, from, to, &mut report).await?)
        } else {
            None
        };
        eprintln!("day: compacting every hour");
        let t0 = Instant::now();
        for hour in store.partitions(StatTable::NAME, from, to)? {
            let done = store.compact_hour(StatTable::NAME, hour, StatTable::SEGMENT_BY)?;
            report.compacted_hours += usize::from(done.chunks_after < done.chunks_before);
        }
        report.compact_s = t0.elapsed().as_secs_f64();
        // What the space of the replaced chunks becomes once RocksDB compacts its files.
        store.reclaim_space()?;
        report.tarsmon_bytes = dir_bytes(&store_dir)?;
        let mut conn = match &db {
            Some(db) => Some(mysql_async::Conn::from_url(db.root_url()).await?),
            None => None,
        };
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(to));
        let pc = PipelineConfig::default;
        let sources: Vec<(&str, Arc<dyn TableSource>)> = vec![
            ("stat", Arc::new(Pipeline::<StatTable>::open(store.clone(), clock.clone(), pc())?)),
            ("property", Arc::new(Pipeline::<PropertyTable>::open(store.clone(), clock.clone(), pc())?)),
            ("notify", Arc::new(Pipeline::<NotifyTable>::open(store.clone(), clock.clone(), pc())?)),
        ];
        let engine =
            QueryEngine::start(QueryConfig { offset: UtcOffset::UTC, ..QueryConfig::default() }, sources)
                .await?;
        let callee = server_name(7);
        for (groupby, slot) in [(&["f_tflag"][..], 0), (&["f_date", "interface_name"][..], 1)] {
            // Both days, as TarsWeb asks: today, then yesterday.
            let tarsmon = async || -> anyhow::Result<Vec<Answer>> {
                let mut out = Vec::new();
                for day in [today, yesterday] {
                    out.push(engine.monitor_stat(&request(day, groupby, &callee)).await?.result);
                }
                Ok(out)
            };
            let t = tarsmon().await?;
            let mut m = Vec::new();
            if let Some(conn) = conn.as_mut() {
                for day in [today, yesterday] {
                    m.push(mysql_answer(conn, day, groupby, &callee).await?);
                }
            }
            if conn.is_some() && !t.iter().zip(&m).all(|(a, b)| same(a, b)) {
                bail!(
                    "tarsmon and MariaDB answer {groupby:?} differently: {:?} vs {:?}",
                    t.first().map(|a| a.iter().next()),
                    m.first().map(|a| a.iter().next())
                );
            }
            let groups = t.iter().map(BTreeMap::len).sum();
            let (mut tt, mut mt) = (Vec::new(), Vec::new());
            for _ in 0..cfg.queries {
                let t0 = Instant::now();
                tarsmon().await?;
                tt.push(t0.elapsed());
                if let Some(conn) = conn.as_mut() {
                    let t0 = Instant::now();
                    for day in [today, yesterday] {
                        mysql_answer(conn, day, groupby, &callee).await?;
                    }
                    mt.push(t0.elapsed());
                }
            }
            let (t, m) = (Latency::of(tt), Latency::of(mt));
            if slot == 0 {
                (report.page_tarsmon, report.page_mysql, report.groups.0) = (t, m, groups);
            } else {
                (report.drill_tarsmon, report.drill_mysql, report.groups.1) = (t, m, groups);
            }
        }
        if let Some(conn) = conn {
            conn.disconnect().await?;
        }
        drop(engine);
        drop(db);
        anyhow::Ok(())
    })?;
    Ok(report)
}
