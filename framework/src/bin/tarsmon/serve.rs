//! `tarsmon serve`: bind every role's adapter, answer until SIGINT/SIGTERM, then shut down in
//! order (stop accepting, finish open connections).

use std::sync::Arc;

use anyhow::Context;
use tarsmon_framework::endpoint::Endpoint;
use tarsmon_framework::roles::Role;
use tarsmon_framework::servant::Servant;
use tarsmon_framework::server::Adapter;
use tarsmon_framework::services::pending::PendingRole;
use tarsmon_framework::services::registry::Registry;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::config::Config;

pub(crate) async fn serve(config: Config) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
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
    for (role, mut a, std_listener, port) in listeners {
        a.endpoint.port = port;
        let servant: Arc<dyn Servant> = match role {
            Role::Registry => registry.clone(),
            other => Arc::new(PendingRole::new(other.object())),
        };
        let endpoint = a.endpoint.clone();
        let bound = Adapter::new(a, servant)
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
    info!(data_dir = %config.data_dir.display(), "tarsmon started");

    wait_for_signal().await?;
    info!("shutting down: no new connections, finishing open ones");
    shutdown.cancel();
    while tasks.join_next().await.is_some() {}
    info!("tarsmon stopped");
    Ok(())
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
