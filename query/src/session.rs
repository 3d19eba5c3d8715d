//! The query engine: a DataFusion session over tarsmon's tables, on its own runtime.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::DataFusionError;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use tarsmon_ingest::time::UtcOffset;

use crate::error::{Error, Result};
use crate::provider::SlotTableProvider;
use crate::source::TableSource;
use crate::{udf, views};

/// Settings of the query engine.
#[derive(Debug, Clone)]
pub struct QueryConfig {
    /// Offset of the TARS labels (`f_date`, `f_tflag`).
    pub offset: UtcOffset,
    /// Memory DataFusion may use for one engine (default 1 GiB); a query past it fails cleanly.
    pub memory_limit: usize,
    /// Threads of the query runtime (default 2), apart from the RPC runtime.
    pub threads: usize,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self { offset: UtcOffset::UTC, memory_limit: 1 << 30, threads: 2 }
    }
}

/// The result of a query.
#[derive(Debug, Clone)]
pub struct QueryOutput {
    /// Column names and types (also for an empty result).
    pub schema: SchemaRef,
    /// The rows.
    pub batches: Vec<RecordBatch>,
}

/// Runs SQL over tarsmon's tables. Cheap to share (`Arc`).
pub struct QueryEngine {
    ctx: SessionContext,
    /// DataFusion runs here, never on the RPC runtime. `Option` so `Drop` can shut it down
    /// without blocking the runtime it may be dropped from.
    runtime: Option<tokio::runtime::Runtime>,
    sources: Vec<(String, Arc<dyn TableSource>)>,
    config: QueryConfig,
}

impl std::fmt::Debug for QueryEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tables: Vec<&str> = self.sources.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("QueryEngine")
            .field("tables", &tables)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl QueryEngine {
    /// Builds the session: one table per source (`stat`, …), the views and the functions.
    pub async fn start(config: QueryConfig, tables: Vec<(&str, Arc<dyn TableSource>)>) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.threads.max(1))
            .thread_name("tarsmon-query")
            .enable_all()
            .build()
            .map_err(|e| Error::Invalid(format!("cannot start the query runtime: {e}")))?;
        let env = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(FairSpillPool::new(config.memory_limit)))
            .build_arc()?;
        let session =
            SessionConfig::new().with_target_partitions(config.threads.max(1)).with_information_schema(true);
        let ctx = SessionContext::new_with_config_rt(session, env);
        for f in udf::all(config.offset) {
            ctx.register_udf(f);
        }
        for f in udf::aggregates() {
            ctx.register_udaf(f);
        }
        let mut sources = Vec::new();
        for (name, source) in tables {
            ctx.register_table(name, Arc::new(SlotTableProvider::new(source.clone())))?;
            sources.push((name.to_owned(), source));
        }
        if sources.iter().any(|(n, _)| n == "stat") {
            ctx.sql(views::TARS_STAT).await?;
        }
        if sources.iter().any(|(n, _)| n == "property") {
            ctx.sql(views::TARS_PROPERTY).await?;
        }
        Ok(Self { ctx, runtime: Some(runtime), sources, config })
    }

    /// The settings.
    pub fn config(&self) -> &QueryConfig {
        &self.config
    }

    /// The source registered as `name`.
    pub fn source(&self, name: &str) -> Option<&Arc<dyn TableSource>> {
        self.sources.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }

    /// Runs one read-only SQL statement (`SELECT`, `SHOW`, `EXPLAIN`, `DESCRIBE`); DDL, DML and
    /// other statements are refused.
    pub async fn sql(&self, sql: &str) -> Result<QueryOutput> {
        let ctx = self.ctx.clone();
        let sql = sql.to_owned();
        let runtime = self.runtime.as_ref().ok_or(Error::Stopped)?;
        let task = runtime.spawn(async move {
            let options =
                SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
            let df = ctx.sql_with_options(&sql, options).await?;
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            let batches = df.collect().await?;
            Ok::<_, DataFusionError>(QueryOutput { schema, batches })
        });
        task.await.map_err(|_| Error::Stopped)?.map_err(classify)
    }
}

/// Separates the caller's mistakes from engine failures.
fn classify(e: DataFusionError) -> Error {
    match e.find_root() {
        DataFusionError::SQL(..) | DataFusionError::Plan(_) | DataFusionError::SchemaError(..) => {
            Error::Invalid(e.strip_backtrace())
        }
        _ => Error::DataFusion(e),
    }
}

impl Drop for QueryEngine {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
