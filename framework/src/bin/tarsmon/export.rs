//! `tarsmon export-mysql`: back-fill the classic MySQL tables from a data directory that no
//! tarsmon is serving, for a time range, with a progress line.

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};
use tarsmon_compat_mysql::export_range;
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
    let mut stderr = std::io::stderr();
    let summary = export_range(store, &exporter, from, to, |done, total| {
        let _ = write!(stderr, "\rexporting 5-minute intervals: {done}/{total}");
        let _ = stderr.flush();
    })
    .await?;
    eprintln!();
    println!("exported {} intervals, {} rows", summary.intervals, summary.rows);
    Ok(())
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
}
