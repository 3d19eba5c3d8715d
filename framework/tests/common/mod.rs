//! Shared by the integration tests: a test servant with the interface of `@tars/rpc`'s example
//! `NodeTars` server, and helpers to start adapters on ephemeral ports.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tarsmon_framework::endpoint::Endpoint;
use tarsmon_framework::servant::{Args, Current, Dispatch, Servant, ServantError};
use tarsmon_framework::server::{Adapter, AdapterConfig, AdapterMetrics};
use tokio_util::sync::CancellationToken;

pub const OBJ: &str = "TARS.NodeTarsServer.NodeTarsObj";

/// `interface NodeTars { int test(); int getUsrName(string sUsrName, out string sValue1,
/// out string sValue2); }` — answers like the Node example server: 100002, "OUT_<name>_1",
/// "OUT_<name>_2". Also `slow(int ms)`, which replies after `ms` milliseconds.
#[derive(Default)]
pub struct NodeTars {
    pub calls: AtomicU64,
}

impl Servant for NodeTars {
    fn dispatch(&self, current: &Current<'_>, mut args: Args<'_>) -> Dispatch {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let reply = current.reply();
        match current.func() {
            "test" => Dispatch::Ready(Ok(reply.ret(&0i32))),
            "getUsrName" => Dispatch::Ready((|| {
                let name: String = args.required(1, "sUsrName")?;
                Ok(reply.ret(&100002i32).out(2, "sValue1", &format!("OUT_{name}_1")).out(
                    3,
                    "sValue2",
                    &format!("OUT_{name}_2"),
                ))
            })()),
            "slow" => {
                let ms: i32 = match args.required(1, "ms") {
                    Ok(v) => v,
                    Err(e) => return Dispatch::Ready(Err(ServantError::Decode(e))),
                };
                Dispatch::Later(Box::pin(async move {
                    tokio::time::sleep(Duration::from_millis(ms as u64)).await;
                    Ok(reply.ret(&ms))
                }))
            }
            _ => Dispatch::no_func(),
        }
    }
}

pub struct Running {
    pub addr: SocketAddr,
    pub servant: Arc<NodeTars>,
    pub metrics: Arc<AdapterMetrics>,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub fn proxy_string(&self) -> String {
        format!("{OBJ}@tcp -h 127.0.0.1 -p {} -t 60000", self.addr.port())
    }
}

/// Starts a `NodeTars` adapter on 127.0.0.1:0; `tune` adjusts its limits.
pub async fn start(tune: impl FnOnce(&mut AdapterConfig)) -> Running {
    let mut config = AdapterConfig::new(OBJ, Endpoint::tcp("127.0.0.1", 0, Duration::from_secs(60)));
    tune(&mut config);
    let servant = Arc::new(NodeTars::default());
    let adapter = Adapter::new(config, servant.clone());
    let metrics = adapter.metrics();
    let bound = adapter.bind().await.expect("bind");
    let addr = bound.local_addr();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(bound.run(shutdown.clone()));
    Running { addr, servant, metrics, shutdown, task }
}
