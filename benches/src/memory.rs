//! Resident memory per live key: a fresh process records `keys` distinct stat heads into an
//! open slot and reports how much its resident set grew. Baseline, in another fresh process of
//! the same run: the same keys and values in a plain `hashbrown::HashMap<StatKey, StatValue>`
//! — what holding the rows at all costs. (tarsstat needs ~340 B per head in its shared-memory
//! map, BASELINES.md.)

use std::sync::Arc;

use anyhow::Context;
use tarsmon_engine::{Store, StoreConfig};
use tarsmon_ingest::stat::{StatKey, StatValue};
use tarsmon_ingest::time::{Clock, ManualClock, TimestampMs};
use tarsmon_ingest::{Pipeline, PipelineConfig, StatTable};

use crate::dataset::{stat_key, stat_value};

/// What a probe holds the keys in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Holder {
    /// The stat pipeline's open slot, as `tarsmon serve` holds them.
    Pipeline,
    /// A plain `hashbrown::HashMap<StatKey, StatValue>`.
    Hashmap,
}

/// What one probe measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Probe {
    /// Growth of the resident set while recording, in bytes.
    pub rss_bytes: u64,
    /// The pipeline's own estimate of its open rows (0 for the plain map).
    pub estimated_bytes: u64,
}

/// The resident set of this process in bytes (`VmRSS` of `/proc/self/status`).
pub fn resident_bytes() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .context("no VmRSS in /proc/self/status")?;
    Ok(kb * 1024)
}

/// Records `keys` distinct heads into `holder` in this process and measures the growth.
pub fn probe(holder: Holder, keys: usize) -> anyhow::Result<Probe> {
    match holder {
        Holder::Pipeline => {
            let dir = tempfile::tempdir()?;
            let store = Arc::new(Store::open(dir.path(), StoreConfig::default())?);
            let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(TimestampMs(1_705_309_200_000)));
            let config = PipelineConfig { memory_budget: usize::MAX / 2, ..PipelineConfig::default() };
            let p = Pipeline::<StatTable>::open(store, clock, config)?;
            let before = resident_bytes()?;
            for k in 0..keys {
                let key = stat_key(k);
                let r = key.as_ref();
                p.record(&r, &stat_value(k, 0));
            }
            let after = resident_bytes()?;
            let stats = p.stats();
            anyhow::ensure!(stats.inserted == keys as u64, "{} of {keys} keys recorded", stats.inserted);
            Ok(Probe { rss_bytes: after.saturating_sub(before), estimated_bytes: stats.open_bytes as u64 })
        }
        Holder::Hashmap => {
            let before = resident_bytes()?;
            let mut map: hashbrown::HashMap<StatKey, StatValue> = hashbrown::HashMap::new();
            for k in 0..keys {
                map.insert(stat_key(k), stat_value(k, 0));
            }
            let after = resident_bytes()?;
            anyhow::ensure!(map.len() == keys, "{} of {keys} keys held", map.len());
            Ok(Probe { rss_bytes: after.saturating_sub(before), estimated_bytes: 0 })
        }
    }
}
