//! The export benchmark: one 5-minute interval of `keys` distinct heads (five 60 s slots in
//! tarsmon's store) written by the MySQL exporter into a real MariaDB, timed. Baseline in the
//! same run: the same rows, read back from the table, inserted again into an empty copy of it
//! with plain multi-row `INSERT`s of the exporter's batch size in one transaction — the floor
//! that MariaDB and the client impose, without reading the store, rolling up or merging.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, ensure};
use chrono::Utc;
use mysql_async::prelude::Queryable;
use tarsmon_compat_mysql::{ExporterConfig, export_range};
use tarsmon_engine::{Store, StoreConfig};
use tarsmon_ingest::time::{TimestampMs, UtcOffset};

use crate::dataset::{stat_keys, write_stat_slots};
use crate::mariadb::MariaDb;

const INTERVAL_MS: i64 = 300_000;

/// The results.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportReport {
    /// Rows in the interval (one per key).
    pub rows: u64,
    /// Seconds the exporter took for the interval.
    pub export_s: f64,
    /// Seconds the plain re-insert of the same rows took.
    pub baseline_s: f64,
}

impl ExportReport {
    /// The results as a Markdown table row set, for BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "| rows | exporter | plain INSERT baseline | exporter / baseline |\n|---|---|---|---|"
        );
        let _ = writeln!(
            s,
            "| {} | {:.2} s = {:.0} rows/s | {:.2} s = {:.0} rows/s | {:.2}× the baseline's time |",
            self.rows,
            self.export_s,
            self.rows as f64 / self.export_s.max(1e-9),
            self.baseline_s,
            self.rows as f64 / self.baseline_s.max(1e-9),
            self.export_s / self.baseline_s.max(1e-9),
        );
        s
    }
}

/// Runs the benchmark (blocking; it starts its own runtime).
pub fn run(keys: usize, buffer_pool: &str) -> anyhow::Result<ExportReport> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let work = tempfile::tempdir()?;
    let store = Arc::new(Store::open(&work.path().join("store"), StoreConfig::default())?);
    // An interval of today, and one head in the interval before it: exporting that one first
    // creates the hour's table, so the timed export is the rows alone.
    let now = Utc::now().timestamp_millis();
    let interval = TimestampMs(now - now.rem_euclid(3_600_000) + 30 * 60_000);
    let warm = TimestampMs(interval.0 - INTERVAL_MS);
    write_stat_slots(&store, &stat_keys(1), warm, interval, 60_000)?;
    write_stat_slots(&store, &stat_keys(keys), interval, TimestampMs(interval.0 + INTERVAL_MS), 60_000)?;
    rt.block_on(async {
        let db = MariaDb::start_with(&[&format!("--innodb-buffer-pool-size={buffer_pool}")]).await;
        let config = ExporterConfig { time_zone: Some(UtcOffset::UTC), ..ExporterConfig::with_url(&db.root_url()) };
        export_range(store.clone(), &config, warm, interval, |_, _| {}).await?;
        let t0 = Instant::now();
        let summary =
            export_range(store.clone(), &config, interval, TimestampMs(interval.0 + 1), |_, _| {}).await?;
        let export_s = t0.elapsed().as_secs_f64();
        ensure!(summary.rows == keys as u64, "exported {} rows, expected {keys}", summary.rows);

        let mut conn = mysql_async::Conn::from_url(db.root_url()).await?;
        let table: Vec<String> = conn
            .query(
                "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = 'tars_stat' \
                 AND table_rows > 0 ORDER BY table_rows DESC LIMIT 1",
            )
            .await?;
        let table = table.into_iter().next().context("no exported table")?;
        // The interval's rows (the warm-up's one is in the same hour table, with an earlier label).
        let rows: Vec<mysql_async::Row> = conn
            .query(format!(
                "SELECT * FROM tars_stat.{table} WHERE f_tflag = (SELECT max(f_tflag) FROM tars_stat.{table})"
            ))
            .await?;
        ensure!(rows.len() == keys, "read back {} rows, expected {keys}", rows.len());
        conn.query_drop(format!("CREATE TABLE tars_stat.baseline_copy LIKE tars_stat.{table}")).await?;
        let columns = rows.first().map_or(0, mysql_async::Row::len);
        let t0 = Instant::now();
        conn.query_drop("START TRANSACTION").await?;
        for chunk in rows.chunks(config.batch_size) {
            let mut sql = String::from("INSERT INTO tars_stat.baseline_copy VALUES ");
            for (i, row) in chunk.iter().enumerate() {
                sql.push_str(if i == 0 { "(" } else { ",(" });
                for c in 0..columns {
                    if c > 0 {
                        sql.push(',');
                    }
                    sql.push_str(&row.as_ref(c).map_or_else(|| "NULL".to_owned(), |v| v.as_sql(false)));
                }
                sql.push(')');
            }
            conn.query_drop(sql).await?;
        }
        conn.query_drop("COMMIT").await?;
        let baseline_s = t0.elapsed().as_secs_f64();
        conn.disconnect().await?;
        Ok(ExportReport { rows: summary.rows, export_s, baseline_s })
    })
}
