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

/// A `tarsmon` process started by a test, with the endpoints it printed.
pub struct Tarsmon {
    pub child: std::process::Child,
    /// `(object, port)` of every TARS adapter.
    pub ports: Vec<(String, u16)>,
    /// `http://HOST:PORT` of the HTTP API, if enabled.
    pub http: Option<String>,
}

impl Tarsmon {
    /// Starts `tarsmon` in `dir` with `args`; waits until every adapter (and the HTTP API, when
    /// `http` is true) is listening.
    pub fn start(dir: &std::path::Path, args: &[&str], http: bool) -> Tarsmon {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tarsmon"))
            .args(args)
            .current_dir(dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("tarsmon starts");
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut t = Tarsmon { child, ports: Vec::new(), http: None };
        while t.ports.len() < tarsmon_framework::roles::Role::ALL.len() || (http && t.http.is_none()) {
            let line = lines.next().expect("tarsmon printed its endpoints").unwrap();
            let rest = line.strip_prefix("listening ").expect("a listening line");
            let (obj, ep) = rest.split_once(' ').unwrap();
            if obj == "http" {
                t.http = Some(ep.to_owned());
                continue;
            }
            let port = ep.split_whitespace().skip_while(|w| *w != "-p").nth(1).unwrap().parse().unwrap();
            t.ports.push((obj.to_owned(), port));
        }
        t
    }

    /// The port of `object`.
    pub fn port(&self, object: &str) -> u16 {
        self.ports.iter().find(|(o, _)| o == object).unwrap().1
    }

    /// A direct proxy string for `object`.
    pub fn proxy(&self, object: &str) -> String {
        format!("{object}@tcp -h 127.0.0.1 -p {} -t 60000", self.port(object))
    }

    /// SIGKILL, as a crash.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::forget(self);
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        std::process::Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().unwrap();
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::mem::forget(self);
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("tarsmon did not stop within 10 s of SIGTERM");
    }

    /// Runs SQL through the HTTP API (`format=json`) and returns the rows.
    pub async fn sql(&self, sql: &str) -> Vec<serde_json::Value> {
        let base = self.http.as_ref().expect("http enabled");
        let (status, body) = http_post(&format!("{base}/sql?format=json"), sql).await;
        assert_eq!(status, 200, "{sql}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// GETs a path of the HTTP API.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let base = self.http.as_ref().expect("http enabled");
        http_request("GET", &format!("{base}{path}"), "").await
    }
}

impl Drop for Tarsmon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A config file setting every adapter and the HTTP API to port 0, plus `extra` TOML.
pub fn config_with_free_ports(extra: &str) -> String {
    let mut toml = String::from("data_dir = \"data\"\n");
    toml.push_str(extra);
    toml.push_str("\n[http]\nlisten = \"127.0.0.1:0\"\n");
    for role in tarsmon_framework::roles::Role::ALL {
        toml.push_str(&format!("[adapters.{}]\nendpoint = \"tcp -h 127.0.0.1 -p 0 -t 60000\"\n", role.key()));
    }
    toml
}

pub async fn http_post(url: &str, body: &str) -> (u16, String) {
    http_request("POST", url, body).await
}

async fn http_request(method: &str, url: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap());
    let mut sock = tokio::net::TcpStream::connect(authority).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    sock.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, payload) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, payload.to_owned())
}
