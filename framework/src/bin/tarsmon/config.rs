//! The `tarsmon` configuration file (TOML). Every key has a default; `tarsmon.example.toml`
//! at the repository root lists them all.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use tarsmon_framework::allow::AllowList;
use tarsmon_framework::endpoint::Endpoint;
use tarsmon_framework::roles::Role;
use tarsmon_framework::server::AdapterConfig;
use tarsmon_ingest::time::{SlotWidth, UtcOffset};

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Config {
    /// Where tarsmon keeps its data.
    pub(crate) data_dir: PathBuf,
    /// Settings shared by every adapter.
    pub(crate) server: ServerConfig,
    /// Per-role overrides, keyed `registry`, `config`, `stat`, `property`, `notify`, `log`,
    /// `querystat`, `queryproperty`.
    pub(crate) adapters: BTreeMap<Role, AdapterOverride>,
    /// `[stat]`: call-statistics aggregation.
    pub(crate) stat: PipelineSection,
    /// `[property]`: business-metric aggregation (same keys as `[stat]`).
    pub(crate) property: PipelineSection,
    /// `[notify]`: notifications.
    pub(crate) notify: NotifySection,
    /// `[storage]`: the embedded store.
    pub(crate) storage: StorageConfig,
    /// `[query]`: SQL and MonitorQuery.
    pub(crate) query: QuerySection,
    /// `[http]`: the HTTP API.
    pub(crate) http: HttpSection,
    /// `[mysql]`: the MySQL exporter; absent = off.
    #[cfg(feature = "mysql")]
    pub(crate) mysql: Option<tarsmon_compat_mysql::ExporterConfig>,
}

/// `[http]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct HttpSection {
    /// `false` leaves the HTTP API off.
    pub(crate) enabled: bool,
    /// Address of the HTTP API (SQL, metrics).
    pub(crate) listen: String,
}

impl Default for HttpSection {
    fn default() -> Self {
        Self { enabled: true, listen: "127.0.0.1:8080".into() }
    }
}

/// `[stat]` and `[property]`: an aggregating pipeline.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct PipelineSection {
    /// Width of a base slot; must divide 5 minutes.
    pub(crate) slot: HumanDuration,
    /// How often the open slot is checkpointed (what `kill -9` can lose at most).
    pub(crate) checkpoint_interval: HumanDuration,
    /// Memory for open rows; past it new keys are dropped and counted.
    pub(crate) memory_budget: ByteSize,
}

impl Default for PipelineSection {
    fn default() -> Self {
        Self {
            slot: HumanDuration(Duration::from_secs(60)),
            checkpoint_interval: HumanDuration(Duration::from_secs(5)),
            memory_budget: ByteSize(512 << 20),
        }
    }
}

impl PipelineSection {
    /// The pipeline's settings.
    pub(crate) fn pipeline_config(&self) -> anyhow::Result<tarsmon_ingest::PipelineConfig> {
        Ok(tarsmon_ingest::PipelineConfig {
            slot: SlotWidth::new(self.slot.0)?,
            checkpoint_interval: self.checkpoint_interval.0,
            memory_budget: usize::try_from(self.memory_budget.0).unwrap_or(usize::MAX),
            ..tarsmon_ingest::PipelineConfig::default()
        })
    }

    fn sanitize(&self, section: &str) -> anyhow::Result<()> {
        SlotWidth::new(self.slot.0).with_context(|| format!("{section}.slot"))?;
        if self.checkpoint_interval.0 < Duration::from_millis(100) {
            bail!("{section}.checkpoint_interval must be at least 100ms");
        }
        Ok(())
    }
}

/// `[notify]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct NotifySection {
    /// Width of a slot (notifications are sealed per slot); must divide 5 minutes.
    pub(crate) slot: HumanDuration,
    /// Keep at most this many notifications per `server_id` (the newest); 0 = no limit.
    pub(crate) retain_per_server: usize,
    /// The open slot is checkpointed this often.
    pub(crate) checkpoint_interval: HumanDuration,
    /// Memory for notifications not yet sealed; past it new ones are dropped and counted.
    pub(crate) memory_budget: ByteSize,
    /// tarsnotify's `<filter>`: `default` or `App.Server` → substrings separated by `|` or
    /// `;`; a message containing one is dropped (and counted).
    pub(crate) filters: BTreeMap<String, String>,
}

impl Default for NotifySection {
    fn default() -> Self {
        Self {
            slot: HumanDuration(Duration::from_secs(60)),
            retain_per_server: 100,
            checkpoint_interval: HumanDuration(Duration::from_secs(5)),
            memory_budget: ByteSize(64 << 20),
            filters: BTreeMap::new(),
        }
    }
}

impl NotifySection {
    /// The pipeline's settings.
    pub(crate) fn pipeline_config(&self) -> anyhow::Result<tarsmon_ingest::PipelineConfig> {
        Ok(tarsmon_ingest::PipelineConfig {
            slot: SlotWidth::new(self.slot.0)?,
            checkpoint_interval: self.checkpoint_interval.0,
            memory_budget: usize::try_from(self.memory_budget.0).unwrap_or(usize::MAX),
            ..tarsmon_ingest::PipelineConfig::default()
        })
    }

    /// The filter.
    pub(crate) fn filter(&self) -> tarsmon_ingest::notify::NotifyFilter {
        tarsmon_ingest::notify::NotifyFilter::new(self.filters.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

/// `[storage]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct StorageConfig {
    /// Data older than this is dropped, by whole hours.
    pub(crate) retention: HumanDuration,
    /// How often retention (by age, and the notify count limit) runs.
    pub(crate) retention_interval: HumanDuration,
    /// Wait for `fsync` of the store's write-ahead log on every write (survives power loss,
    /// not only a crash of the process).
    pub(crate) sync_writes: bool,
    /// Most rows in one compacted chunk of a closed hour (bounds the compaction's memory).
    pub(crate) compact_max_rows: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            retention: HumanDuration(Duration::from_secs(31 * 86_400)),
            retention_interval: HumanDuration(Duration::from_secs(600)),
            sync_writes: false,
            compact_max_rows: tarsmon_engine::StoreConfig::DEFAULT_COMPACT_MAX_ROWS,
        }
    }
}

impl StorageConfig {
    /// The engine's settings.
    pub(crate) fn store_config(&self) -> tarsmon_engine::StoreConfig {
        tarsmon_engine::StoreConfig {
            retention: self.retention.0,
            sync_writes: self.sync_writes,
            compact_max_rows: self.compact_max_rows,
        }
    }
}

/// `[query]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct QuerySection {
    /// Time zone of the TARS labels: `local` (this machine's offset at start-up, like the
    /// original), `UTC`, or a fixed offset such as `+08:00`.
    pub(crate) time_zone: String,
    /// Memory one query engine may use.
    pub(crate) memory_limit: ByteSize,
    /// Threads of the query runtime.
    pub(crate) threads: usize,
}

impl Default for QuerySection {
    fn default() -> Self {
        Self { time_zone: "local".into(), memory_limit: ByteSize(1 << 30), threads: 2 }
    }
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ServerConfig {
    /// Host every default endpoint binds to.
    pub(crate) host: String,
    /// Host the embedded registry hands out; empty = `host` (or 127.0.0.1 when `host` is a
    /// wildcard address).
    pub(crate) advertise_host: String,
    /// Connections each adapter serves at once.
    pub(crate) max_connections: usize,
    /// Largest frame accepted.
    pub(crate) max_frame_size: ByteSize,
    /// Replies one connection may have pending before it stops reading.
    pub(crate) max_in_flight: usize,
    /// Idle connections are closed after this long (the `-t` of default endpoints).
    pub(crate) idle_timeout: HumanDuration,
    /// Peers allowed to connect to every adapter; empty = all.
    pub(crate) allow: AllowList,
    /// Threads that run client connections (each connection stays on one); 0 = one per core.
    pub(crate) threads: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./tarsmon-data"),
            server: ServerConfig::default(),
            adapters: BTreeMap::new(),
            stat: PipelineSection::default(),
            property: PipelineSection::default(),
            notify: NotifySection::default(),
            storage: StorageConfig::default(),
            query: QuerySection::default(),
            http: HttpSection::default(),
            #[cfg(feature = "mysql")]
            mysql: None,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            advertise_host: String::new(),
            max_connections: 10_000,
            max_frame_size: ByteSize(10 * 1024 * 1024),
            max_in_flight: 64,
            idle_timeout: HumanDuration(Duration::from_secs(60)),
            allow: AllowList::default(),
            threads: 0,
        }
    }
}

/// `[adapters.ROLE]`: overrides for one role; unset keys take the `[server]` values.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct AdapterOverride {
    /// `false` leaves the role's port closed.
    pub(crate) enabled: Option<bool>,
    /// A TARS endpoint string, e.g. `tcp -h 0.0.0.0 -p 18293 -t 60000`.
    pub(crate) endpoint: Option<String>,
    /// Allow-list for this adapter only.
    pub(crate) allow: Option<AllowList>,
    /// Connection limit for this adapter only.
    pub(crate) max_connections: Option<usize>,
}

/// A size in bytes, written as a number or as `"10MiB"`, `"512KiB"`, `"1GB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "toml::Value")]
pub(crate) struct ByteSize(pub(crate) u64);

impl TryFrom<toml::Value> for ByteSize {
    type Error = String;

    fn try_from(v: toml::Value) -> Result<Self, String> {
        match v {
            toml::Value::Integer(n) => u64::try_from(n).map(Self).map_err(|_| format!("negative size {n}")),
            toml::Value::String(s) => parse_size(&s).map(Self),
            other => Err(format!("expected a size like \"10MiB\", got {other}")),
        }
    }
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("bad size {s:?}"))?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        u => return Err(format!("unknown size unit {u:?} in {s:?} (use B, KiB, MiB, GiB, KB, MB, GB)")),
    };
    n.checked_mul(mult).ok_or_else(|| format!("size {s:?} is too large"))
}

/// A duration, written as seconds or as `"60s"`, `"500ms"`, `"5m"`, `"1h"`, `"31d"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "toml::Value")]
pub(crate) struct HumanDuration(pub(crate) Duration);

impl TryFrom<toml::Value> for HumanDuration {
    type Error = String;

    fn try_from(v: toml::Value) -> Result<Self, String> {
        match v {
            toml::Value::Integer(n) => u64::try_from(n)
                .map(|n| Self(Duration::from_secs(n)))
                .map_err(|_| format!("negative duration {n}")),
            toml::Value::String(s) => parse_duration(&s).map(Self),
            other => Err(format!("expected a duration like \"60s\", got {other}")),
        }
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let ms = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        u => return Err(format!("unknown duration unit {u:?} in {s:?} (use ms, s, m, h, d)")),
    };
    n.checked_mul(ms).map(Duration::from_millis).ok_or_else(|| format!("duration {s:?} is too large"))
}

impl Config {
    /// Reads `path`, or returns the defaults when `path` is `None`.
    pub(crate) fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in config file {}", path.display()))
    }

    /// Parses TOML text.
    pub(crate) fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(toml::from_str(text)?)
    }

    /// Rejects values that cannot work, with a message naming the key.
    pub(crate) fn sanitize(&self) -> anyhow::Result<()> {
        let s = &self.server;
        if !(64..=(100 << 20)).contains(&s.max_frame_size.0) {
            bail!("server.max_frame_size must be between 64 B and 100 MiB (TarsCpp's limit)");
        }
        if s.max_connections == 0 || s.max_in_flight == 0 {
            bail!("server.max_connections and server.max_in_flight must be at least 1");
        }
        if s.idle_timeout.0.is_zero() {
            bail!("server.idle_timeout must be positive");
        }
        self.stat.sanitize("stat")?;
        self.property.sanitize("property")?;
        SlotWidth::new(self.notify.slot.0).context("notify.slot")?;
        if self.notify.checkpoint_interval.0 < Duration::from_millis(100) {
            bail!("notify.checkpoint_interval must be at least 100ms");
        }
        if self.storage.retention_interval.0 < Duration::from_secs(1) {
            bail!("storage.retention_interval must be at least 1s");
        }
        if self.storage.compact_max_rows < 1 {
            bail!("storage.compact_max_rows must be at least 1");
        }
        if self.storage.retention.0 < Duration::from_secs(3600) {
            bail!("storage.retention must be at least 1h");
        }
        if self.query.threads == 0 {
            bail!("query.threads must be at least 1");
        }
        self.utc_offset()?;
        #[cfg(feature = "mysql")]
        if let Some(m) = &self.mysql {
            m.sanitize().context("[mysql]")?;
        }
        self.adapters().map(drop)
    }

    /// The exporter's settings, with the labels' time zone defaulting to `query.time_zone` so
    /// MySQL rows and querystat agree; `None` when the exporter is off.
    #[cfg(feature = "mysql")]
    pub(crate) fn mysql_exporter(&self) -> anyhow::Result<Option<tarsmon_compat_mysql::ExporterConfig>> {
        let Some(mut m) = self.mysql.clone() else { return Ok(None) };
        if m.time_zone.is_none() {
            m.time_zone = Some(self.utc_offset()?);
        }
        Ok(Some(m))
    }

    /// The offset of the TARS labels.
    pub(crate) fn utc_offset(&self) -> anyhow::Result<UtcOffset> {
        if self.query.time_zone.eq_ignore_ascii_case("local") {
            let secs = chrono::Local::now().offset().local_minus_utc();
            // Offsets are whole 5 minutes everywhere today; round defensively.
            return Ok(UtcOffset::from_seconds((secs / 300) * 300)?);
        }
        self.query.time_zone.parse::<UtcOffset>().context("query.time_zone")
    }

    /// The host the registry advertises.
    pub(crate) fn advertise_host(&self) -> &str {
        match (self.server.advertise_host.as_str(), self.server.host.as_str()) {
            ("", "0.0.0.0" | "::" | "*") => "127.0.0.1",
            ("", host) => host,
            (adv, _) => adv,
        }
    }

    /// The adapter of every enabled role.
    pub(crate) fn adapters(&self) -> anyhow::Result<Vec<(Role, AdapterConfig)>> {
        let s = &self.server;
        let mut out = Vec::new();
        for role in Role::ALL {
            let o = self.adapters.get(&role).cloned().unwrap_or_default();
            if o.enabled == Some(false) {
                continue;
            }
            let endpoint = match &o.endpoint {
                Some(e) => {
                    e.parse::<Endpoint>().with_context(|| format!("adapters.{}.endpoint", role.key()))?
                }
                None => Endpoint::tcp(s.host.clone(), role.default_port(), s.idle_timeout.0),
            };
            let mut a = AdapterConfig::new(role.object(), endpoint);
            a.max_connections = o.max_connections.unwrap_or(s.max_connections);
            // sanitize() bounds the size to 100 MiB, so it fits in u32.
            a.max_frame = u32::try_from(s.max_frame_size.0).unwrap_or(u32::MAX);
            a.max_in_flight = s.max_in_flight;
            a.allow = o.allow.unwrap_or_else(|| s.allow.clone());
            out.push((role, a));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_states_the_defaults() {
        let text = include_str!("../../../../tarsmon.example.toml");
        assert_eq!(Config::parse(text).unwrap(), Config::default());
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }

    #[test]
    fn units_and_overrides_parse() {
        let c = Config::parse(
            r#"
            [server]
            max_frame_size = "1MiB"
            idle_timeout = "1500ms"
            allow = ["127.0.0.0/8"]
            [adapters.stat]
            endpoint = "tcp -h 127.0.0.1 -p 0 -t 1000"
            max_connections = 5
            [adapters.log]
            enabled = false
            "#,
        )
        .unwrap();
        c.sanitize().unwrap();
        assert_eq!(c.server.max_frame_size, ByteSize(1 << 20));
        assert_eq!(c.server.idle_timeout, HumanDuration(Duration::from_millis(1500)));
        let adapters = c.adapters().unwrap();
        assert_eq!(adapters.len(), 7);
        let stat = &adapters.iter().find(|(r, _)| *r == Role::Stat).unwrap().1;
        assert_eq!((stat.endpoint.port, stat.max_connections), (0, 5));
        assert!(Config::parse("[server]\nmax_frame_size = \"10 parsecs\"").is_err());
        assert!(Config::parse("[server]\nunknown_key = 1").is_err());
        assert!(Config::parse("[adapters.nosuchrole]\nenabled = false").is_err());
        let c = Config::parse(
            "[property]\nslot = \"30s\"\n[notify]\nretain_per_server = 5\n[notify.filters]\ndefault = \"a|b\"\n",
        )
        .unwrap();
        c.sanitize().unwrap();
        assert_eq!(c.property.slot, HumanDuration(Duration::from_secs(30)));
        assert!(c.notify.filter().drops("App", "Server", "xbx"));
        assert!(Config::parse("[property]\nslot = \"7s\"").unwrap().sanitize().is_err());
        assert!(Config::parse("[server]\nmax_frame_size = 10").unwrap().sanitize().is_err());
    }

    #[cfg(feature = "mysql")]
    #[test]
    fn a_mysql_section_turns_the_exporter_on_with_the_query_zone() {
        assert!(Config::default().mysql_exporter().unwrap().is_none());
        let c =
            Config::parse("[query]\ntime_zone = \"+08:00\"\n[mysql]\nurl = \"mysql://u:p@127.0.0.1:3307\"\n")
                .unwrap();
        c.sanitize().unwrap();
        let m = c.mysql_exporter().unwrap().unwrap();
        assert_eq!(m.url, "mysql://u:p@127.0.0.1:3307");
        assert_eq!(m.time_zone, Some(c.utc_offset().unwrap()));
        assert!(Config::parse("[mysql]\nno_such_key = 1").is_err());
    }
}
