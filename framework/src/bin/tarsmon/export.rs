//! `tarsmon export-mysql`: back-fill the classic MySQL tables from a data directory that no
//! tarsmon is serving, for a time range, with a progress bar on stderr and a summary per
//! table on stdout.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};
use tarsmon_compat_mysql::{ExportSummary, ExporterConfig, export_range};
use tarsmon_engine::Store;
use tarsmon_ingest::time::TimestampMs;

use crate::config::Config;

/// Options of `tarsmon export-mysql`.
#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    /// Start of the range: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM` (in the labels' time zone) or RFC 3339.
    #[arg(long)]
    from: String,
    /// End of the range (exclusive), same forms; default: now.
    #[arg(long)]
    to: Option<String>,
    /// The MySQL server, `mysql://USER:PASS@HOST:PORT` (overrides `mysql.url`).
    #[arg(long, value_name = "URL")]
    mysql: Option<String>,
    /// Data directory (default: the config's `data_dir`).
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
    /// Configuration file (`[mysql]`, `[query]` time zone, `data_dir`).
    #[arg(long, short)]
    config: Option<std::path::PathBuf>,
}

pub(crate) async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let mut config = Config::load(args.config.as_deref())?;
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    if let Some(url) = args.mysql {
        config.mysql.get_or_insert_with(Default::default).url = url;
    }
    config.sanitize()?;
    let Some(exporter) = config.mysql_exporter()? else {
        bail!("no MySQL server: pass --mysql URL or set [mysql] url in the config");
    };
    let offset = FixedOffset::east_opt(exporter.labels_offset().seconds()).context("time zone")?;
    let from = parse_time(&args.from, offset)?;
    let to = match &args.to {
        Some(t) => parse_time(t, offset)?,
        None => TimestampMs(chrono::Utc::now().timestamp_millis()),
    };
    if to <= from {
        bail!("--to must be after --from");
    }
    let dir = config.data_dir.join("store");
    if !dir.exists() {
        bail!("{} holds no tarsmon store", config.data_dir.display());
    }
    let store = Arc::new(Store::open(&dir, config.storage.store_config()).with_context(|| {
        format!(
            "opening {} (stop the tarsmon serving it first; a running tarsmon exports by itself)",
            dir.display()
        )
    })?);
    let mut progress = Progress::new(std::io::stderr().is_terminal());
    let summary = export_range(store, &exporter, from, to, |done, total| progress.show(done, total)).await?;
    progress.finish();
    print!("{}", summary_text(&summary, &exporter));
    Ok(())
}

/// The progress of the back-fill on stderr: on a terminal a bar redrawn in place, else (a log,
/// a pipe) a line at every tenth of the way.
struct Progress {
    terminal: bool,
    /// The last tenth printed, off a terminal.
    last_tenth: Option<u64>,
    started: bool,
}

impl Progress {
    fn new(terminal: bool) -> Self {
        Self { terminal, last_tenth: None, started: false }
    }

    fn show(&mut self, done: u64, total: u64) {
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = write!(err, "\r{}", progress_line(done, total));
            let _ = err.flush();
            self.started = true;
        } else {
            let tenth = (done * 10).checked_div(total).unwrap_or(10);
            if self.last_tenth != Some(tenth) {
                self.last_tenth = Some(tenth);
                let _ = writeln!(err, "{}", progress_line(done, total));
            }
        }
    }

    fn finish(&self) {
        if self.started {
            eprintln!();
        }
    }
}

/// `[#########           ] 12/27 intervals and notify slot groups`: what is done of the
/// intervals with data (call statistics, then properties) and of the 5-minute groups of
/// notify slots.
fn progress_line(done: u64, total: u64) -> String {
    const WIDTH: u64 = 30;
    let filled = (done.min(total) * WIDTH).checked_div(total).unwrap_or(WIDTH);
    let bar: String = (0..WIDTH).map(|i| if i < filled { '#' } else { ' ' }).collect();
    format!("exporting [{bar}] {done}/{total} intervals and notify slot groups")
}

/// What was written, per table, for stdout.
fn summary_text(s: &ExportSummary, config: &ExporterConfig) -> String {
    let names: Vec<&str> = config.stat_databases.iter().map(|d| d.name.as_str()).collect();
    let stat_dbs = match names.as_slice() {
        [one] => (*one).to_owned(),
        several => format!("{{{}}}", several.join(",")),
    };
    let mut out = format!(
        "{}.tars_stat_*: {} intervals, {} rows\n{}.tars_property_*: {} intervals, {} rows\n\
         {}.t_server_notifys: {} slots, {} rows\n",
        stat_dbs,
        s.intervals,
        s.stat_rows,
        config.property_database,
        s.property_intervals,
        s.property_rows,
        config.notify_database,
        s.notify_slots,
        s.notify_rows,
    );
    if s.already_written > 0 {
        out.push_str(&format!(
            "skipped {} property intervals and notify slots already written by an earlier export\n",
            s.already_written
        ));
    }
    out.push_str(&format!("exported {} rows\n", s.rows));
    out
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]` (in `offset`) or RFC 3339.
fn parse_time(s: &str, offset: FixedOffset) -> anyhow::Result<TimestampMs> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(TimestampMs(t.timestamp_millis()));
    }
    let naive = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
        .with_context(|| format!("bad time {s:?}: use YYYY-MM-DD, YYYY-MM-DD HH:MM or RFC 3339"))?;
    let t = offset.from_local_datetime(&naive).single().context("ambiguous local time")?;
    Ok(TimestampMs(t.timestamp_millis()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_the_labels_zone() {
        let east8 = FixedOffset::east_opt(8 * 3600).unwrap();
        let midnight = parse_time("2024-01-15", east8).unwrap();
        assert_eq!(midnight, TimestampMs(1_705_248_000_000));
        assert_eq!(parse_time("2024-01-15 08:00", east8).unwrap(), TimestampMs(midnight.0 + 8 * 3_600_000));
        assert_eq!(parse_time("2024-01-15T00:00:00+08:00", east8).unwrap(), midnight);
        assert!(parse_time("yesterday", east8).is_err());
    }

    #[test]
    fn the_summary_shows_every_table_and_the_bar_fills_up() {
        let s = ExportSummary {
            intervals: 12,
            rows: 1210,
            property_intervals: 3,
            property_rows: 200,
            notify_slots: 5,
            notify_rows: 10,
            stat_rows: 1000,
            already_written: 2,
        };
        let mut config = ExporterConfig::default();
        assert_eq!(
            summary_text(&s, &config),
            "tars_stat.tars_stat_*: 12 intervals, 1000 rows\n\
             tars_property.tars_property_*: 3 intervals, 200 rows\n\
             db_tars.t_server_notifys: 5 slots, 10 rows\n\
             skipped 2 property intervals and notify slots already written by an earlier export\n\
             exported 1210 rows\n"
        );
        config.stat_databases.push(tarsmon_compat_mysql::StatDatabase::named("tars_stat_b"));
        assert!(summary_text(&s, &config).starts_with("{tars_stat,tars_stat_b}.tars_stat_*: 12 intervals"));
        assert!(progress_line(0, 4).contains(&format!("[{}] 0/4", " ".repeat(30))));
        assert!(progress_line(2, 4).contains(&format!("[{}{}] 2/4", "#".repeat(15), " ".repeat(15))));
        assert!(progress_line(0, 0).contains(&format!("[{}] 0/0", "#".repeat(30))));
    }
}
