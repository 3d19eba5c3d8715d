//! `tarsmon sql --data-dir`: open a data directory directly (no server running on it) and run
//! SQL over it, the checkpointed open slot included.

use std::sync::Arc;

use anyhow::Context;
use tarsmon_engine::Store;
use tarsmon_ingest::time::{Clock, SystemClock};
use tarsmon_query::{Format, QueryConfig, QueryEngine};

use crate::config::Config;
use crate::tables::Tables;

pub(crate) async fn sql(config: &Config, query: &str, format: Format) -> anyhow::Result<String> {
    let dir = config.data_dir.join("store");
    if !dir.exists() {
        anyhow::bail!("{} holds no tarsmon store", config.data_dir.display());
    }
    let store = Arc::new(Store::open(&dir, config.storage.store_config()).with_context(|| {
        format!("opening {} (is a tarsmon serving it? then omit --data-dir)", dir.display())
    })?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let tables = Tables::open(config, &store, &clock)?;
    let engine = QueryEngine::start(
        QueryConfig { offset: config.utc_offset()?, threads: config.query.threads, ..QueryConfig::default() },
        tables.sources(),
    )
    .await?;
    Ok(engine.sql(query).await?.render(format)?)
}
