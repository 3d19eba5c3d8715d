//! The RPC server: adapters (one endpoint + one servant each), the accept loop, and one task
//! per connection.
//!
//! Layering follows mini-redis: bytes → frames ([`split_frame`](crate::packet::split_frame)) →
//! packets ([`RequestPacket`](crate::packet::RequestPacket)) → [`Servant::dispatch`] → reply
//! frames. Each layer sees only the one below.

mod connection;
mod reply;
mod threads;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::allow::AllowList;
use crate::endpoint::{Endpoint, Transport};
use crate::servant::Servant;

pub use reply::write_reply;
pub use threads::ConnectionThreads;

/// Limits and identity of one adapter.
#[derive(Debug, Clone)]
pub struct AdapterConfig {
    /// The servant (object) name requests must carry, e.g. `tars.tarsstat.StatObj`.
    pub object: String,
    /// Where to listen; `-t` is the connection idle timeout.
    pub endpoint: Endpoint,
    /// Connections served at once; further ones are closed at accept and counted.
    pub max_connections: usize,
    /// Largest frame accepted; a larger length prefix closes the connection.
    pub max_frame: u32,
    /// Requests of one connection whose reply is still being computed; past it the
    /// connection stops reading (back-pressure) until one completes.
    pub max_in_flight: usize,
    /// Peers allowed to connect (empty: all).
    pub allow: AllowList,
}

impl AdapterConfig {
    /// An adapter with the default limits: 10 000 connections, 10 MiB frames, 64 requests in
    /// flight per connection, no allow-list.
    pub fn new(object: impl Into<String>, endpoint: Endpoint) -> Self {
        Self {
            object: object.into(),
            endpoint,
            max_connections: 10_000,
            max_frame: 10 * 1024 * 1024,
            max_in_flight: 64,
            allow: AllowList::default(),
        }
    }
}

/// Counters of one adapter. Every refusal and every malformed input increments one.
#[derive(Debug, Default)]
pub struct AdapterMetrics {
    /// Connections accepted and served.
    pub connections_accepted: AtomicU64,
    /// Connections open now.
    pub connections_open: AtomicU64,
    /// Connections closed at accept because `max_connections` were open.
    pub connections_over_limit: AtomicU64,
    /// Connections closed at accept because the peer is not on the allow-list.
    pub connections_not_allowed: AtomicU64,
    /// Connections closed after `-t` without a byte.
    pub connections_idle_closed: AtomicU64,
    /// Connections closed because a length prefix was below 4 or above `max_frame`.
    pub bad_frames: AtomicU64,
    /// Connections closed because a frame did not decode as a `RequestPacket`.
    pub bad_packets: AtomicU64,
    /// Requests dispatched (any outcome), oneway included.
    pub requests: AtomicU64,
    /// Oneway requests among `requests`.
    pub oneway_requests: AtomicU64,
    /// Replies with a non-zero `iRet` (decode errors, unknown functions, wrong servant, …).
    pub error_replies: AtomicU64,
}

impl AdapterMetrics {
    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// An adapter ready to bind: its configuration, its servant and its counters.
pub struct Adapter {
    config: AdapterConfig,
    servant: Arc<dyn Servant>,
    metrics: Arc<AdapterMetrics>,
    threads: Option<Arc<ConnectionThreads>>,
}

impl Adapter {
    /// An adapter serving `servant` under `config`. Its connections run on the runtime that
    /// runs [`BoundAdapter::run`], unless [`Self::with_threads`] says otherwise.
    pub fn new(config: AdapterConfig, servant: Arc<dyn Servant>) -> Self {
        Self { config, servant, metrics: Arc::default(), threads: None }
    }

    /// Runs the adapter's connections on `threads` (see [`ConnectionThreads`]).
    pub fn with_threads(mut self, threads: Arc<ConnectionThreads>) -> Self {
        self.threads = Some(threads);
        self
    }

    /// The adapter's counters (shared with its connections).
    pub fn metrics(&self) -> Arc<AdapterMetrics> {
        self.metrics.clone()
    }

    /// Binds the endpoint. Port 0 picks a free port (see [`BoundAdapter::local_addr`]).
    pub async fn bind(self) -> std::io::Result<BoundAdapter> {
        if self.config.endpoint.transport != Transport::Tcp {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                format!("only tcp endpoints are served: {}", self.config.endpoint),
            ));
        }
        let listener = TcpListener::bind(self.config.endpoint.socket_addr_string()).await?;
        let local_addr = listener.local_addr()?;
        Ok(BoundAdapter { adapter: self, listener, local_addr })
    }

    /// Serves on a listener bound by the caller (who may need its port before building
    /// other servants, as the registry does). Must be called inside a tokio runtime.
    pub fn with_listener(self, listener: std::net::TcpListener) -> std::io::Result<BoundAdapter> {
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        let local_addr = listener.local_addr()?;
        Ok(BoundAdapter { adapter: self, listener, local_addr })
    }
}

/// An adapter listening on its socket; [`BoundAdapter::run`] serves it.
pub struct BoundAdapter {
    adapter: Adapter,
    listener: TcpListener,
    local_addr: SocketAddr,
}

/// What every connection of an adapter shares.
pub(crate) struct Shared {
    pub(crate) config: AdapterConfig,
    pub(crate) servant: Arc<dyn Servant>,
    pub(crate) metrics: Arc<AdapterMetrics>,
}

impl BoundAdapter {
    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The object name served.
    pub fn object(&self) -> &str {
        &self.adapter.config.object
    }

    /// The adapter's counters.
    pub fn metrics(&self) -> Arc<AdapterMetrics> {
        self.adapter.metrics.clone()
    }

    /// Accepts and serves connections until `shutdown` is cancelled, then waits for every
    /// connection task to finish.
    pub async fn run(self, shutdown: CancellationToken) {
        let Self { adapter, listener, local_addr } = self;
        let shared =
            Arc::new(Shared { config: adapter.config, servant: adapter.servant, metrics: adapter.metrics });
        let threads = adapter.threads;
        // Bounds the connections served at once; a permit lives as long as its connection.
        let limit = Arc::new(Semaphore::new(shared.config.max_connections));
        let tasks = TaskTracker::new();
        info!(object = %shared.config.object, %local_addr, "adapter listening");
        loop {
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => break,
                a = listener.accept() => a,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    warn!(object = %shared.config.object, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            if !shared.config.allow.allows(peer.ip()) {
                AdapterMetrics::inc(&shared.metrics.connections_not_allowed);
                warn!(object = %shared.config.object, %peer, "connection refused: not on the allow-list");
                continue;
            }
            let Ok(permit) = limit.clone().try_acquire_owned() else {
                AdapterMetrics::inc(&shared.metrics.connections_over_limit);
                warn!(object = %shared.config.object, %peer, max = shared.config.max_connections,
                    "connection refused: connection limit reached");
                continue;
            };
            AdapterMetrics::inc(&shared.metrics.connections_accepted);
            debug!(object = %shared.config.object, %peer, "connection accepted");
            let (shared, shutdown) = (shared.clone(), shutdown.clone());
            match &threads {
                None => {
                    tasks.spawn(async move {
                        connection::Connection::new(stream, peer, shared, shutdown).run().await;
                        drop(permit);
                    });
                }
                Some(threads) => {
                    // The socket moves to the other runtime's reactor.
                    let stream = match stream.into_std() {
                        Ok(s) => s,
                        Err(e) => {
                            warn!(object = %shared.config.object, %peer, error = %e, "cannot hand a connection over");
                            continue;
                        }
                    };
                    threads.spawn(tasks.track_future(async move {
                        match tokio::net::TcpStream::from_std(stream) {
                            Ok(stream) => {
                                connection::Connection::new(stream, peer, shared, shutdown).run().await
                            }
                            Err(e) => warn!(%peer, error = %e, "cannot take over a connection"),
                        }
                        drop(permit);
                    }));
                }
            }
        }
        tasks.close();
        tasks.wait().await;
        info!(object = %shared.config.object, "adapter stopped");
    }
}
