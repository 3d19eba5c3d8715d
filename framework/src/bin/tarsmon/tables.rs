//! The pipelines of every table, opened alike by `serve` and by the offline `sql`.

use std::sync::Arc;

use tarsmon_engine::Store;
use tarsmon_ingest::time::Clock;
use tarsmon_ingest::{NotifyTable, Pipeline, PropertyTable, StatTable};
use tarsmon_query::TableSource;

use crate::config::Config;

/// The pipelines of `stat`, `property` and `notify` on one store.
#[derive(Debug, Clone)]
pub(crate) struct Tables {
    pub(crate) stat: Arc<Pipeline<StatTable>>,
    pub(crate) property: Arc<Pipeline<PropertyTable>>,
    pub(crate) notify: Arc<Pipeline<NotifyTable>>,
}

impl Tables {
    /// Opens every pipeline, recovering the checkpoints a previous run left.
    pub(crate) fn open(config: &Config, store: &Arc<Store>, clock: &Arc<dyn Clock>) -> anyhow::Result<Self> {
        Ok(Self {
            stat: Arc::new(Pipeline::open(store.clone(), clock.clone(), config.stat.pipeline_config()?)?),
            property: Arc::new(Pipeline::open(
                store.clone(),
                clock.clone(),
                config.property.pipeline_config()?,
            )?),
            notify: Arc::new(Pipeline::open(store.clone(), clock.clone(), config.notify.pipeline_config()?)?),
        })
    }

    /// The tables for the query engine, by SQL name.
    pub(crate) fn sources(&self) -> Vec<(&'static str, Arc<dyn TableSource>)> {
        vec![
            ("stat", self.stat.clone() as Arc<dyn TableSource>),
            ("property", self.property.clone() as Arc<dyn TableSource>),
            ("notify", self.notify.clone() as Arc<dyn TableSource>),
        ]
    }

    /// Seals ended slots and checkpoints open ones, every table even when one fails (the
    /// first error is returned; the failed table retries on the next call). Blocking.
    pub(crate) fn persist(&self) -> tarsmon_ingest::Result<()> {
        first_error([self.stat.persist(), self.property.persist(), self.notify.persist()])
    }

    /// Compacts the next closed hour of each table that needs it (see [`Pipeline::compact`]),
    /// every table even when one fails (the first error is returned). Blocking.
    pub(crate) fn compact(&self) -> tarsmon_ingest::Result<()> {
        first_error([self.stat.compact().map(drop), self.property.compact().map(drop), Ok(())])
    }

    /// Seals what has ended and checkpoints every open slot now (ordered shutdown). Blocking.
    pub(crate) fn shutdown(&self) -> tarsmon_ingest::Result<()> {
        first_error([self.stat.shutdown(), self.property.shutdown(), self.notify.shutdown()])
    }
}

fn first_error(results: [tarsmon_ingest::Result<()>; 3]) -> tarsmon_ingest::Result<()> {
    results.into_iter().find(Result::is_err).unwrap_or(Ok(()))
}
