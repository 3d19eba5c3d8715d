//! `tarsmon serve`: open the store, start the pipelines and the query engine, bind every
//! role's adapter, answer until SIGINT/SIGTERM, then shut down in order: stop accepting, finish
//! open connections, seal and checkpoint, close the store.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tarsmon_engine::Store;
use tarsmon_framework::endpoint::Endpoint;
use tarsmon_framework::http::HttpState;
use tarsmon_framework::metrics::Metrics;
use tarsmon_framework::roles::Role;
use tarsmon_framework::servant::Servant;
use tarsmon_framework::server::Adapter;
use tarsmon_framework::services::pending::PendingRole;
use tarsmon_framework::services::querystat::QueryStatService;
use tarsmon_framework::services::registry::Registry;
use tarsmon_framework::services::stat::StatService;
use tarsmon_ingest::time::{Clock, SlotWidth, SystemClock};
use tarsmon_ingest::{Pipeline, PipelineConfig, StatTable};
use tarsmon_query::{QueryConfig, QueryEngine, TableSource};
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use crate::config::Config;

/// How often the persister seals ended slots and considers a checkpoint.
const PERSIST_TICK: Duration = Duration::from_millis(500);
/// How often retention runs.
const RETENTION_TICK: Duration = Duration::from_secs(600);

pub(crate) async fn serve(config: Config) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let store_dir = config.data_dir.join("store");
    let store = Arc::new(
        Store::open(&store_dir, config.storage.store_config())
            .with_context(|| format!("opening the store in {}", store_dir.display()))?,
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let stat = Arc::new(Pipeline::<StatTable>::open(
        store.clone(),
        clock.clone(),
        PipelineConfig {
            slot: SlotWidth::new(config.stat.slot.0)?,
            checkpoint_interval: config.stat.checkpoint_interval.0,
            memory_budget: usize::try_from(config.stat.memory_budget.0).unwrap_or(usize::MAX),
            ..PipelineConfig::default()
        },
    )?);
    let engine = Arc::new(
        QueryEngine::start(
            QueryConfig {
                offset: config.utc_offset()?,
                memory_limit: usize::try_from(config.query.memory_limit.0).unwrap_or(usize::MAX),
                threads: config.query.threads,
            },
            vec![("stat", stat.clone() as Arc<dyn TableSource>)],
        )
        .await?,
    );

    let adapters = config.adapters()?;
    // Bind every listener first: with port 0 in the config, the registry must hand out the
    // ports actually bound, so it is built last.
    let mut listeners = Vec::new();
    for (role, a) in &adapters {
        let std_listener = std::net::TcpListener::bind(a.endpoint.socket_addr_string())
            .with_context(|| format!("binding {} on {}", role.object(), a.endpoint))?;
        let port = std_listener.local_addr()?.port();
        listeners.push((*role, a.clone(), std_listener, port));
    }
    let advertised = listeners.iter().map(|(role, a, _, port)| {
        let ep = Endpoint::tcp(config.advertise_host(), *port, a.endpoint.timeout);
        (role.object(), ep)
    });
    let registry = Arc::new(Registry::new(advertised));

    let shutdown = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut metrics = Metrics::default();
    metrics.add_pipeline("stat", stat.clone());
    let stat_service = Arc::new(StatService::new(stat.clone()));
    metrics.set_stat_service(stat_service.clone());
    for (role, mut a, std_listener, port) in listeners {
        a.endpoint.port = port;
        let servant: Arc<dyn Servant> = match role {
            Role::Registry => registry.clone(),
            Role::Stat => stat_service.clone(),
            Role::QueryStat => Arc::new(QueryStatService::new(engine.clone())),
            other => Arc::new(PendingRole::new(other.object())),
        };
        let endpoint = a.endpoint.clone();
        let adapter = Adapter::new(a, servant);
        metrics.add_adapter(role.object(), adapter.metrics());
        let bound = adapter
            .with_listener(std_listener)
            .with_context(|| format!("binding {} on {endpoint}", role.object()))?;
        // One line per adapter on stdout, for people and for scripts that start tarsmon.
        println!(
            "listening {} {}",
            role.object(),
            Endpoint::tcp(endpoint.host.clone(), bound.local_addr().port(), endpoint.timeout)
        );
        tasks.spawn(bound.run(shutdown.clone()));
    }
    let mut http_task = None;
    if config.http.enabled {
        let listener = tokio::net::TcpListener::bind(&config.http.listen)
            .await
            .with_context(|| format!("binding the HTTP API on {}", config.http.listen))?;
        println!("listening http http://{}", listener.local_addr()?);
        let state = HttpState { engine: engine.clone(), metrics: Arc::new(metrics) };
        http_task = Some(tokio::spawn(tarsmon_framework::http::serve(listener, state, shutdown.clone())));
    }
    let persister = tokio::spawn(persist_loop(stat.clone(), store.clone(), clock.clone(), shutdown.clone()));
    info!(data_dir = %config.data_dir.display(), "tarsmon started");

    wait_for_signal().await?;
    info!("shutting down: no new connections, finishing open ones");
    shutdown.cancel();
    while tasks.join_next().await.is_some() {}
    if let Some(h) = http_task {
        let _ = h.await;
    }
    let _ = persister.await;
    info!("sealing ended slots and checkpointing the open one");
    let s = stat.clone();
    tokio::task::spawn_blocking(move || s.shutdown()).await??;
    drop(engine);
    info!("tarsmon stopped");
    Ok(())
}

/// Seals ended slots, checkpoints the open one, and applies retention — off the RPC threads.
async fn persist_loop(
    stat: Arc<Pipeline<StatTable>>,
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(PERSIST_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_retention = tokio::time::Instant::now() - RETENTION_TICK;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let (s, st, c) = (stat.clone(), store.clone(), clock.clone());
        let run_retention = last_retention.elapsed() >= RETENTION_TICK;
        if run_retention {
            last_retention = tokio::time::Instant::now();
        }
        let result = tokio::task::spawn_blocking(move || {
            s.persist()?;
            if run_retention {
                let dropped = st.apply_retention(c.now())?;
                if dropped > 0 {
                    info!(partitions = dropped, "retention dropped old hour partitions");
                }
            }
            anyhow::Ok(())
        })
        .await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => error!(error = %e, "persisting failed; data stays in memory and is retried"),
            Err(e) => error!(error = %e, "persist task panicked"),
        }
    }
}

async fn wait_for_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
}
