//! `tarsmon sql --data-dir`: open a data directory directly (no server running on it) and run
//! SQL over it, the checkpointed open slot included.

use std::sync::Arc;

use anyhow::Context;
use tarsmon_engine::Store;
use tarsmon_ingest::time::{SlotWidth, SystemClock};
use tarsmon_ingest::{Pipeline, PipelineConfig, StatTable};
use tarsmon_query::{Format, QueryConfig, QueryEngine, TableSource};

use crate::config::Config;

pub(crate) async fn sql(config: &Config, query: &str, format: Format) -> anyhow::Result<String> {
    let dir = config.data_dir.join("store");
    if !dir.exists() {
        anyhow::bail!("{} holds no tarsmon store", config.data_dir.display());
    }
    let store = Arc::new(Store::open(&dir, config.storage.store_config()).with_context(|| {
        format!("opening {} (is a tarsmon serving it? then omit --data-dir)", dir.display())
    })?);
    let stat = Arc::new(Pipeline::<StatTable>::open(
        store,
        Arc::new(SystemClock),
        PipelineConfig { slot: SlotWidth::new(config.stat.slot.0)?, ..PipelineConfig::default() },
    )?);
    let engine = QueryEngine::start(
        QueryConfig { offset: config.utc_offset()?, threads: config.query.threads, ..QueryConfig::default() },
        vec![("stat", stat as Arc<dyn TableSource>)],
    )
    .await?;
    Ok(engine.sql(query).await?.render(format)?)
}
