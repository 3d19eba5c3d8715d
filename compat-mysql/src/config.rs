//! [`ExporterConfig`]: where the exporter writes, how often, and its limits.

use std::time::Duration;

use serde::{Deserialize, Deserializer};
use tarsmon_ingest::time::UtcOffset;

use crate::error::{Error, Result};

/// Settings of the MySQL exporter. Every field has a default (`#[serde(default)]`), so an empty
/// `[mysql]` section plus a `url` is a working configuration.
///
/// Durations are written as seconds (`30`) or with a unit (`"500ms"`, `"10s"`, `"5m"`, `"1h"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExporterConfig {
    /// The MySQL/MariaDB server: `mysql://USER:PASS@HOST:PORT`. A database in the path is
    /// ignored: every statement names its database. Default `mysql://root@127.0.0.1:3306`.
    pub url: String,
    /// The call-statistics databases (default: one, `tars_stat`, on `url`). With several, each
    /// 5-minute row goes to one of them, chosen by a stable hash of its key (like tarsstat's
    /// `insert2MultiDbs`, which spreads rows over `<statdb><dbN>`). Each entry is a name, or a
    /// table `{ name = "tars_stat", url = "mysql://…" }` for a database on another server.
    pub stat_databases: Vec<StatDatabase>,
    /// The property database (`tars_property_YYYYMMDDHH` tables, `t_ecstatus`), on `url`.
    /// Default `tars_property`.
    pub property_database: String,
    /// The database of `t_server_notifys`, on `url`. Default `db_tars`, where TarsWeb reads
    /// it.
    pub notify_database: String,
    /// The `source_id` column and the suffix of `t_ecstatus.appname`; tarsstat writes its own
    /// IP there (varchar(15)). Default `tarsmon`, the value the `tars_stat` SQL view shows.
    /// It also names this exporter's markers in `t_tarsmon_export`: several tarsmon instances
    /// writing to the same databases need distinct values.
    pub source_id: String,
    /// Rows per multi-row `INSERT IGNORE` (tarsstat's `maxInsertCount`). Default 1000, at most
    /// 3000 (19 placeholders per row must stay below MySQL's 65535).
    pub batch_size: usize,
    /// The first wait after a failed tick; it doubles per consecutive failure up to
    /// `max_backoff`. Default 1 s.
    #[serde(deserialize_with = "duration")]
    pub retry_backoff: Duration,
    /// The longest wait between retries. Default 60 s.
    #[serde(deserialize_with = "duration")]
    pub max_backoff: Duration,
    /// How often the exporter looks for newly sealed intervals. Default 5 s.
    #[serde(deserialize_with = "duration")]
    pub poll_interval: Duration,
    /// How long after its end a 5-minute interval is exported: the time its last base slot
    /// needs to be sealed into the store (the binary seals twice a second). Default 10 s.
    #[serde(deserialize_with = "duration")]
    pub seal_delay: Duration,
    /// The longest one MySQL call (connect, statement, commit) may take before it counts as
    /// failed. Default 30 s.
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
    /// On the very first start (no cursor in the store yet) the exporter begins this far back.
    /// Older data can be written with [`crate::export_range`]. Default 1 h.
    #[serde(deserialize_with = "duration")]
    pub initial_lookback: Duration,
    /// Hourly stat and property tables whose day is more than this many days ago are dropped
    /// (tarsstat's `stat_reserve_time` and tarsproperty's `property_reserve_time`: default 31,
    /// minimum 2), and so are the export markers of that time. `0` keeps every table.
    /// `t_server_notifys` is never dropped.
    pub retention_days: u32,
    /// The time zone of the `f_date`/`f_tflag` labels and of the table names, as `+08:00`,
    /// `-05:30` or `UTC` (tarsstat uses the host's local time). Default: unset, which means the
    /// caller's zone — tarsmon passes its `query.time_zone`, so MySQL and querystat agree — or
    /// UTC for a caller that sets none (see [`ExporterConfig::labels_offset`]).
    #[serde(deserialize_with = "utc_offset")]
    pub time_zone: Option<UtcOffset>,
    /// Connections per MySQL server. Default 4.
    pub max_connections: usize,
}

/// One call-statistics database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatDatabase {
    /// The database name, e.g. `tars_stat`.
    pub name: String,
    /// Its server, when it is not [`ExporterConfig::url`].
    pub url: Option<String>,
}

impl StatDatabase {
    /// A database named `name` on the exporter's main server.
    pub fn named(name: &str) -> Self {
        Self { name: name.to_owned(), url: None }
    }
}

impl<'de> Deserialize<'de> for StatDatabase {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Name(String),
            Full {
                name: String,
                #[serde(default)]
                url: Option<String>,
            },
        }
        Ok(match Form::deserialize(d)? {
            Form::Name(name) => Self { name, url: None },
            Form::Full { name, url } => Self { name, url },
        })
    }
}

impl Default for ExporterConfig {
    fn default() -> Self {
        Self {
            url: "mysql://root@127.0.0.1:3306".to_owned(),
            stat_databases: vec![StatDatabase::named("tars_stat")],
            property_database: "tars_property".to_owned(),
            notify_database: "db_tars".to_owned(),
            source_id: "tarsmon".to_owned(),
            batch_size: 1000,
            retry_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            poll_interval: Duration::from_secs(5),
            seal_delay: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            initial_lookback: Duration::from_secs(3600),
            retention_days: 31,
            time_zone: None,
            max_connections: 4,
        }
    }
}

/// The most rows per `INSERT`: 19 placeholders each, below MySQL's limit of 65535.
pub(crate) const MAX_BATCH_SIZE: usize = 3000;

impl ExporterConfig {
    /// A default configuration writing to `url`.
    pub fn with_url(url: &str) -> Self {
        Self { url: url.to_owned(), ..Self::default() }
    }

    /// Checks the settings at start-up: names must be plain identifiers (they are spliced into
    /// DDL), sizes and durations within range. Fixes nothing silently.
    pub fn sanitize(&self) -> Result<()> {
        let bad = |reason: String| Err(Error::Config { reason });
        if self.stat_databases.is_empty() {
            return bad("stat_databases is empty: name at least one database (e.g. tars_stat)".into());
        }
        let names = self
            .stat_databases
            .iter()
            .map(|d| d.name.as_str())
            .chain([self.property_database.as_str(), self.notify_database.as_str()]);
        for name in names {
            if !is_identifier(name) {
                return bad(format!("database name {name:?} must be 1-64 ASCII letters, digits or '_'"));
            }
        }
        for (i, a) in self.stat_databases.iter().enumerate() {
            if self.stat_databases[..i].iter().any(|b| b.name == a.name && b.url == a.url) {
                return bad(format!("stat database {:?} is listed twice", a.name));
            }
        }
        if self.source_id.is_empty() || self.source_id.chars().count() > 15 {
            return bad(format!(
                "source_id {:?} must be 1-15 characters (a varchar(15) column)",
                self.source_id
            ));
        }
        if crate::ddl::PROPERTY_TABLE_PREFIX.len().max(crate::ddl::STAT_TABLE_PREFIX.len())
            + self.source_id.chars().count()
            > 64
        {
            return bad("source_id is too long for t_ecstatus.appname".into());
        }
        if self.batch_size == 0 || self.batch_size > MAX_BATCH_SIZE {
            return bad(format!("batch_size {} must be 1..={MAX_BATCH_SIZE}", self.batch_size));
        }
        if self.retention_days == 1 {
            return bad(
                "retention_days must be 0 (keep all) or at least 2 (yesterday's tables are queried)".into()
            );
        }
        if self.max_connections == 0 {
            return bad("max_connections must be at least 1".into());
        }
        for (name, d) in [
            ("retry_backoff", self.retry_backoff),
            ("max_backoff", self.max_backoff),
            ("poll_interval", self.poll_interval),
            ("timeout", self.timeout),
        ] {
            if d.is_zero() {
                return bad(format!("{name} must be greater than zero"));
            }
        }
        if self.max_backoff < self.retry_backoff {
            return bad("max_backoff must not be shorter than retry_backoff".into());
        }
        Ok(())
    }

    /// The offset the labels are computed in: `time_zone`, or UTC when unset.
    pub fn labels_offset(&self) -> UtcOffset {
        self.time_zone.unwrap_or(UtcOffset::UTC)
    }

    /// The URL of stat database `db`.
    pub(crate) fn url_of<'a>(&'a self, db: &'a StatDatabase) -> &'a str {
        db.url.as_deref().unwrap_or(&self.url)
    }
}

/// Whether `s` may be spliced into SQL as a backquoted identifier.
pub(crate) fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Deserialises a duration written as seconds or as `"500ms"`, `"10s"`, `"5m"`, `"1h"`, `"1d"`.
fn duration<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        Seconds(u64),
        Text(String),
    }
    match Form::deserialize(d)? {
        Form::Seconds(s) => Ok(Duration::from_secs(s)),
        Form::Text(s) => parse_duration(&s).map_err(serde::de::Error::custom),
    }
}

/// Parses `"500ms"`, `"10s"`, `"5m"`, `"1h"`, `"1d"` or plain seconds.
pub(crate) fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let ms: u64 = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        u => return Err(format!("unknown duration unit {u:?} in {s:?} (use ms, s, m, h, d)")),
    };
    n.checked_mul(ms).map(Duration::from_millis).ok_or_else(|| format!("duration {s:?} is too large"))
}

/// Deserialises a UTC offset written as `+08:00`, `-05:30` or `UTC`.
fn utc_offset<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<UtcOffset>, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map(Some).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let c = ExporterConfig::default();
        c.sanitize().unwrap();
        assert_eq!(c.stat_databases, vec![StatDatabase::named("tars_stat")]);
        assert_eq!((c.retention_days, c.batch_size), (31, 1000));
        assert_eq!(c.property_database, "tars_property");
        assert_eq!(c.notify_database, "db_tars");
    }

    #[test]
    fn parses_durations_offsets_and_both_database_forms() {
        let c: ExporterConfig = toml::from_str(
            r#"
            url = "mysql://u:p@db:3306"
            stat_databases = ["tars_stat", { name = "tars_stat2", url = "mysql://u:p@db2:3306" }]
            retry_backoff = "500ms"
            poll_interval = 2
            time_zone = "+08:00"
            "#,
        )
        .unwrap();
        c.sanitize().unwrap();
        assert_eq!(c.stat_databases[1].url.as_deref(), Some("mysql://u:p@db2:3306"));
        assert_eq!(c.retry_backoff, Duration::from_millis(500));
        assert_eq!(c.poll_interval, Duration::from_secs(2));
        assert_eq!(c.labels_offset().seconds(), 8 * 3600);
        assert_eq!(ExporterConfig::default().labels_offset(), UtcOffset::UTC);
        assert_eq!(c.seal_delay, Duration::from_secs(10));
        assert!(toml::from_str::<ExporterConfig>("retry_backoff = \"5 weeks\"").is_err());
        assert!(toml::from_str::<ExporterConfig>("unknown_key = 1").is_err());
    }

    #[test]
    fn rejects_names_that_would_be_spliced_into_sql() {
        for name in ["", "tars`stat", "a b", "x;DROP"] {
            let c = ExporterConfig { stat_databases: vec![StatDatabase::named(name)], ..Default::default() };
            assert!(c.sanitize().is_err(), "{name:?}");
        }
        let c = ExporterConfig { batch_size: 5000, ..Default::default() };
        assert!(c.sanitize().is_err());
        let c = ExporterConfig { retention_days: 1, ..Default::default() };
        assert!(c.sanitize().is_err());
    }
}
