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
use tarsmon_framework::server::{Adapter, ConnectionThreads};
use tarsmon_framework::services::notify::{NotifyCounters, NotifyService};
use tarsmon_framework::services::pending::PendingRole;
use tarsmon_framework::services::property::{PropertyCounters, PropertyService};
use tarsmon_framework::services::querystat::{DbStatusSource, QueryPropertyService, QueryStatService};
use tarsmon_framework::services::registry::Registry;
use tarsmon_framework::services::stat::StatService;
use tarsmon_ingest::time::{Clock, SystemClock};
use tarsmon_query::{QueryConfig, QueryEngine};
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use crate::config::Config;
use crate::tables::Tables;

/// How often the persister seals ended slots and considers a checkpoint.
const PERSIST_TICK: Duration = Duration::from_millis(500);

pub(crate) async fn serve(config: Config) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let store_dir = config.data_dir.join("store");
    let store = Arc::new(
        Store::open(&store_dir, config.storage.store_config())
            .with_context(|| format!("opening the store in {}", store_dir.display()))?,
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let tables = Tables::open(&config, &store, &clock)?;
    let engine = Arc::new(
        QueryEngine::start(
            QueryConfig {
                offset: config.utc_offset()?,
                memory_limit: usize::try_from(config.query.memory_limit.0).unwrap_or(usize::MAX),
                threads: config.query.threads,
            },
            tables.sources(),
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
    let threads = match config.server.threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let connection_threads =
        Arc::new(ConnectionThreads::start(threads).context("starting the connection threads")?);
    let mut tasks = tokio::task::JoinSet::new();
    let mut metrics = Metrics::default();
    metrics.add_pipeline("stat", tables.stat.clone());
    metrics.add_pipeline("property", tables.property.clone());
    metrics.add_pipeline("notify", tables.notify.clone());
    let stat_service = Arc::new(StatService::new(tables.stat.clone()));
    metrics.set_stat_service(stat_service.clone());
    let property_service = Arc::new(PropertyService::new(tables.property.clone()));
    let notify_service = Arc::new(NotifyService::new(
        tables.notify.clone(),
        clock.clone(),
        config.notify.filter(),
        engine.clone(),
    ));
    {
        let (p, n) = (property_service.clone(), notify_service.clone());
        metrics.add_extra(Arc::new(move |out: &mut String| {
            render_property_metrics(p.counters(), out);
            render_notify_metrics(n.counters(), out);
        }));
    }
    // The exporter is made here (no I/O yet) so that metrics and the query servants can read
    // its counters; it is spawned once everything else runs.
    #[cfg(feature = "mysql")]
    let exporter = match config.mysql_exporter()? {
        Some(cfg) => {
            info!(url = %redact(&cfg.url), "MySQL exporter on");
            let exporter = tarsmon_compat_mysql::Exporter::new(cfg, store.clone(), clock.clone())?;
            Some(exporter.with_hook(outage_notifier(notify_service.clone(), config.advertise_host())))
        }
        None => None,
    };
    #[cfg(feature = "mysql")]
    let (stat_dbs, property_dbs) = match &exporter {
        Some(e) => {
            let stats = e.stats();
            let m = stats.clone();
            metrics.add_extra(Arc::new(move |out: &mut String| render_mysql_metrics(&m.snapshot(), out)));
            (
                Some(db_status(stats.clone(), tarsmon_compat_mysql::DatabaseKind::Stat)),
                Some(db_status(stats, tarsmon_compat_mysql::DatabaseKind::Property)),
            )
        }
        None => (None, None),
    };
    #[cfg(not(feature = "mysql"))]
    let (stat_dbs, property_dbs): (Option<DbStatusSource>, Option<DbStatusSource>) = (None, None);
    for (role, mut a, std_listener, port) in listeners {
        a.endpoint.port = port;
        let servant: Arc<dyn Servant> = match role {
            Role::Registry => registry.clone(),
            Role::Stat => stat_service.clone(),
            Role::Property => property_service.clone(),
            Role::Notify => notify_service.clone(),
            Role::QueryStat => {
                let service = QueryStatService::new(engine.clone());
                Arc::new(match stat_dbs.clone() {
                    Some(dbs) => service.with_databases(dbs),
                    None => service,
                })
            }
            Role::QueryProperty => {
                let service = QueryPropertyService::new(engine.clone());
                Arc::new(match property_dbs.clone() {
                    Some(dbs) => service.with_databases(dbs),
                    None => service,
                })
            }
            other => Arc::new(PendingRole::new(other.object())),
        };
        let endpoint = a.endpoint.clone();
        let adapter = Adapter::new(a, servant).with_threads(connection_threads.clone());
        metrics.add_adapter(role.object(), adapter.metrics());
        let bound = adapter
            .with_listener(std_listener)
            .with_context(|| format!("binding {} on {endpoint}", role.object()))?;
        // One line per adapter on stdout, for people and for scripts that start tarsmon.
        announce(&format!(
            "listening {} {}",
            role.object(),
            Endpoint::tcp(endpoint.host.clone(), bound.local_addr().port(), endpoint.timeout)
        ));
        tasks.spawn(bound.run(shutdown.clone()));
    }
    let mut http_task = None;
    if config.http.enabled {
        let listener = tokio::net::TcpListener::bind(&config.http.listen)
            .await
            .with_context(|| format!("binding the HTTP API on {}", config.http.listen))?;
        announce(&format!("listening http http://{}", listener.local_addr()?));
        let state = HttpState { engine: engine.clone(), metrics: Arc::new(metrics) };
        http_task = Some(tokio::spawn(tarsmon_framework::http::serve(listener, state, shutdown.clone())));
    }
    let persister = tokio::spawn(persist_loop(
        tables.clone(),
        store.clone(),
        clock.clone(),
        config.notify.retain_per_server,
        config.storage.retention_interval.0,
        shutdown.clone(),
    ));
    // The exporter has its own token: it stops after the last slot is sealed, so that slot is
    // still exported on the next start (its cursor is durable), never half-way.
    #[cfg(feature = "mysql")]
    let mysql = exporter.map(|exporter| {
        let token = CancellationToken::new();
        let (task, _) = exporter.spawn(token.clone());
        (task, token)
    });
    info!(data_dir = %config.data_dir.display(), "tarsmon started");

    wait_for_signal().await?;
    info!("shutting down: no new connections, finishing open ones");
    shutdown.cancel();
    while tasks.join_next().await.is_some() {}
    // Every connection has finished (each adapter's `run` waited for its own).
    let ct = connection_threads.clone();
    tokio::task::spawn_blocking(move || ct.shutdown()).await?;
    if let Some(h) = http_task {
        let _ = h.await;
    }
    let _ = persister.await;
    info!("sealing ended slots and checkpointing the open one");
    let t = tables.clone();
    tokio::task::spawn_blocking(move || t.shutdown()).await??;
    #[cfg(feature = "mysql")]
    if let Some((task, token)) = mysql {
        token.cancel();
        let _ = task.await;
    }
    drop(engine);
    info!("tarsmon stopped");
    Ok(())
}

/// Seals ended slots, checkpoints the open one, compacts closed hours and applies retention —
/// off the RPC threads.
async fn persist_loop(
    tables: Tables,
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    notify_keep: usize,
    retention_every: Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(PERSIST_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // `None` until the first run (right at start; `Instant` cannot go before boot).
    let mut last_retention: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let (t, st, c) = (tables.clone(), store.clone(), clock.clone());
        let run_retention = last_retention.is_none_or(|t| t.elapsed() >= retention_every);
        if run_retention {
            last_retention = Some(tokio::time::Instant::now());
        }
        let result = tokio::task::spawn_blocking(move || {
            t.persist()?;
            // At most one closed hour per table and tick: sealing waits for no more than that.
            t.compact()?;
            if run_retention {
                let dropped = st.apply_retention(c.now())?;
                if dropped > 0 {
                    info!(partitions = dropped, "retention dropped old hour partitions");
                }
                // In this task, so it never races the sealing of the same slots.
                if notify_keep > 0 {
                    let sealed = t.notify.current_slot();
                    let r =
                        tarsmon_ingest::notify::retention::keep_newest_per_server(&st, notify_keep, sealed)?;
                    if r.removed_rows > 0 {
                        info!(rows = r.removed_rows, keep = notify_keep, "notify retention removed old rows");
                    }
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

/// Counter families: `(name, help, value)`.
fn render_counters(rows: &[(&str, &str, u64)], out: &mut String) {
    use std::fmt::Write;
    for (name, help, v) in rows {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
    }
}

fn render_property_metrics(c: &PropertyCounters, out: &mut String) {
    use std::sync::atomic::Ordering::Relaxed;
    render_counters(
        &[
            ("tarsmon_property_reports_total", "reportPropMsg calls.", c.reports.load(Relaxed)),
            ("tarsmon_property_values_total", "Property values aggregated.", c.values.load(Relaxed)),
            (
                "tarsmon_property_empty_values_total",
                "Values that carry nothing (untouched Max, Min 0, Avg 0=0): not recorded.",
                c.empty_values.load(Relaxed),
            ),
            (
                "tarsmon_property_bad_values_total",
                "Values rejected: not parseable for their policy.",
                c.bad_values.load(Relaxed),
            ),
            (
                "tarsmon_property_unknown_policies_total",
                "Values with a non-standard policy (stored, summed).",
                c.unknown_policies.load(Relaxed),
            ),
            (
                "tarsmon_property_dropped_values_total",
                "Values dropped: memory budget exhausted.",
                c.dropped_values.load(Relaxed),
            ),
        ],
        out,
    );
}

fn render_notify_metrics(c: &NotifyCounters, out: &mut String) {
    use std::sync::atomic::Ordering::Relaxed;
    render_counters(
        &[
            ("tarsmon_notify_stored_total", "Notifications stored.", c.stored.load(Relaxed)),
            (
                "tarsmon_notify_legacy_total",
                "Of those, from reportServer/notifyServer.",
                c.legacy.load(Relaxed),
            ),
            ("tarsmon_notify_filtered_total", "Notifications dropped by a filter.", c.filtered.load(Relaxed)),
            (
                "tarsmon_notify_bad_sets_total",
                "Notifications with a malformed sSet.",
                c.bad_sets.load(Relaxed),
            ),
            (
                "tarsmon_notify_bad_types_total",
                "Notifications refused: unknown eType.",
                c.bad_types.load(Relaxed),
            ),
            (
                "tarsmon_notify_dropped_total",
                "Notifications dropped: memory budget exhausted.",
                c.dropped.load(Relaxed),
            ),
            ("tarsmon_notify_history_queries_total", "getNotifyInfo calls.", c.history_queries.load(Relaxed)),
        ],
        out,
    );
}

/// The exporter's hook: records the start and the end of an export outage as a notification
/// of tarsmon itself (`tars.tarsmon` on `node`; level error, then normal), so it shows on
/// TarsWeb's alarm page and, once the export works again, in `t_server_notifys`.
#[cfg(feature = "mysql")]
fn outage_notifier(notify: Arc<NotifyService>, node: &str) -> tarsmon_compat_mysql::ExportHook {
    use tarsmon_ingest::notify::NotifyLevel;
    let node = node.to_owned();
    Arc::new(move |event: &tarsmon_compat_mysql::ExportEvent| {
        let level = if event.is_failing() { NotifyLevel::Error } else { NotifyLevel::Normal };
        notify.notify_own(&node, level, &event.message());
    })
}

/// The `activeDb`/`totalDb`/`retThreads` source of a query servant: the health of the
/// exporter's databases of `kind` (the stat databases, or the property database).
#[cfg(feature = "mysql")]
fn db_status(
    stats: Arc<tarsmon_compat_mysql::ExporterStats>,
    kind: tarsmon_compat_mysql::DatabaseKind,
) -> DbStatusSource {
    use tarsmon_framework::services::querystat::DbStatus;
    Arc::new(move || DbStatus::from_health(stats.databases().iter().filter(|d| d.kind == kind).map(|d| d.up)))
}

/// `s` escaped for a Prometheus label value.
#[cfg(feature = "mysql")]
fn label_value(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The exporter's counters in the Prometheus text format.
#[cfg(feature = "mysql")]
fn render_mysql_metrics(s: &tarsmon_compat_mysql::ExporterStatsSnapshot, out: &mut String) {
    use std::fmt::Write;
    let rows = [
        (
            "tarsmon_mysql_up",
            "1 while the MySQL export works, 0 from a failed round until one succeeds.",
            "gauge",
            u64::from(!s.failing),
        ),
        ("tarsmon_mysql_exported_rows_total", "Rows written to MySQL.", "counter", s.exported_rows),
        (
            "tarsmon_mysql_exported_intervals_total",
            "5-minute intervals written to MySQL.",
            "counter",
            s.exported_intervals,
        ),
        (
            "tarsmon_mysql_backlog_intervals",
            "Complete 5-minute intervals not yet exported.",
            "gauge",
            s.backlog_intervals,
        ),
        ("tarsmon_mysql_errors_total", "Failed exporter steps (retried).", "counter", s.errors),
        (
            "tarsmon_mysql_table_errors_total",
            "Failed CREATE/DROP statements (retried).",
            "counter",
            s.table_errors,
        ),
        ("tarsmon_mysql_tables_created_total", "Hourly tables created.", "counter", s.tables_created),
        ("tarsmon_mysql_stat_rows_total", "Rows written to tars_stat_*.", "counter", s.stat_rows),
        ("tarsmon_mysql_property_rows_total", "Rows written to tars_property_*.", "counter", s.property_rows),
        ("tarsmon_mysql_notify_rows_total", "Rows written to t_server_notifys.", "counter", s.notify_rows),
        (
            "tarsmon_mysql_property_backlog_intervals",
            "Complete property intervals not yet exported.",
            "gauge",
            s.property_backlog_intervals,
        ),
        (
            "tarsmon_mysql_notify_backlog_slots",
            "Sealed notification slots not yet exported.",
            "gauge",
            s.notify_backlog_slots,
        ),
        (
            "tarsmon_mysql_already_written_total",
            "Intervals or slots found already exported (marker committed) and skipped.",
            "counter",
            s.already_written,
        ),
        (
            "tarsmon_mysql_tables_dropped_total",
            "Hourly tables dropped by retention.",
            "counter",
            s.tables_dropped,
        ),
    ];
    for (name, help, kind, v) in rows {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
    }
    let name = "tarsmon_mysql_database_up";
    let _ = writeln!(
        out,
        "# HELP {name} 1 if the last write to (or table check of) this database succeeded.\n# TYPE {name} gauge"
    );
    for d in &s.databases {
        let kind = match d.kind {
            tarsmon_compat_mysql::DatabaseKind::Stat => "stat",
            tarsmon_compat_mysql::DatabaseKind::Property => "property",
        };
        let _ = writeln!(
            out,
            "{name}{{database=\"{}\",server=\"{}\",kind=\"{kind}\"}} {}",
            label_value(&d.name),
            label_value(&d.server),
            u64::from(d.up)
        );
    }
}

/// `mysql://user:secret@host` → `mysql://user:***@host`, for logs.
#[cfg(feature = "mysql")]
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// One line on stdout; a closed stdout (a parent that stopped reading) is not an error: the
/// line is for people and scripts, and serving must go on without them.
fn announce(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
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
