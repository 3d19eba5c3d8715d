//! Interop with the real npm packages `@tars/rpc` and `@tars/stream` (versions pinned in
//! `interop/node/package-lock.json`; `scripts/test.sh` installs them).
//!
//! 1. A Node `@tars/rpc` client calls a tarsmon servant over TARS v1, TUP v3 and TUP v2,
//!    oneway, and an unknown function.
//! 2. tarsmon's client calls the example `NodeTars` server shipped inside `@tars/rpc`.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use tarsmon_framework::client::{CallOptions, ServantProxy};
use tarsmon_framework::codec::Writer;
use tarsmon_framework::packet::{TARS_VERSION, TUP_VERSION2, TUP_VERSION3};
use tarsmon_framework::tup::UniAttribute;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn node_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../interop/node");
    assert!(
        dir.join("node_modules/@tars/rpc").is_dir(),
        "the npm packages are missing: run ./scripts/test.sh (or `npm ci` in interop/node)"
    );
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_client_calls_tarsmon_over_tars_tup3_tup2_and_oneway() {
    let srv = common::start(|_| {}).await;
    let out = Command::new("node")
        .arg("rpc_client.js")
        .arg(srv.addr.port().to_string())
        .current_dir(node_dir())
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("done"),
        "node client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cases: std::collections::BTreeMap<String, Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| (v["case"].as_str().unwrap_or_default().to_owned(), v))
        .collect();
    for case in ["tars", "tup3", "tup2"] {
        let v = &cases[case];
        assert_eq!(v["ret"], 100002, "{case}: {v}");
        assert_eq!(v["sValue1"], "OUT_czzou_1", "{case}: {v}");
        assert_eq!(v["sValue2"], "OUT_czzou_2", "{case}: {v}");
    }
    // @tars/rpc reports a server-side -3 as the error code.
    assert_eq!(cases["tars_nofunc"]["error"], -3, "{}", cases["tars_nofunc"]);
    assert_eq!(cases["tup3_nofunc"]["error"], -3, "{}", cases["tup3_nofunc"]);
    assert_eq!(cases["after_oneway"]["sValue1"], "OUT_after_1");
    // Every call reached the servant, the oneway one included.
    assert_eq!(srv.servant.calls.load(Ordering::SeqCst), 7);
    assert_eq!(srv.metrics.oneway_requests.load(Ordering::Relaxed), 1);
}

struct NodeServer {
    child: tokio::process::Child,
    port: u16,
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

async fn start_node_server() -> NodeServer {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new("node")
        .arg("rpc_server.js")
        .arg(port.to_string())
        .current_dir(node_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(l) = lines.next_line().await.unwrap() {
            if l.contains("ready") {
                return;
            }
        }
        panic!("node server exited before it was ready");
    })
    .await
    .expect("node server ready in time");
    // Keep draining stdout: the example server logs every call, and a closed pipe kills it.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    NodeServer { child, port }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tarsmon_client_calls_the_node_example_server() {
    let node = start_node_server().await;
    let prx = ServantProxy::direct(&format!(
        "TARS.NodeTarsServer.NodeTarsObj@tcp -h 127.0.0.1 -p {} -t 60000",
        node.port
    ))
    .unwrap();

    let mut args = Writer::new();
    args.string(b"czzou", 1);
    let args = args.into_inner();
    let rsp = prx.invoke("getUsrName", args.clone()).await.unwrap().ok().unwrap();
    let mut r = rsp.reader();
    assert_eq!(r.read::<i32>(0).unwrap(), 100002);
    assert_eq!(r.read::<String>(2).unwrap(), "OUT_czzou_1");
    assert_eq!(r.read::<String>(3).unwrap(), "OUT_czzou_2");

    for version in [TUP_VERSION3, TUP_VERSION2] {
        let mut a = UniAttribute::new(version);
        a.put("sUsrName", &"czzou".to_owned());
        let rsp = prx.invoke_tup(version, "getUsrName", &a).await.unwrap().ok().unwrap();
        let attrs = rsp.attributes().unwrap();
        assert_eq!(attrs.get::<i32>("").unwrap(), Some(100002), "TUP v{version}");
        assert_eq!(attrs.get::<String>("sValue1").unwrap().as_deref(), Some("OUT_czzou_1"));
    }

    assert_eq!(prx.invoke("tars_ping", Vec::new()).await.unwrap().ret, 0);
    assert_eq!(prx.invoke("noSuchFunc", Vec::new()).await.unwrap().ret, -3);
    let rsp = prx.invoke("getUsrName", Vec::new()).await.unwrap();
    assert_eq!(rsp.ret, -1);
    assert!(rsp.desc.contains("require field not exist"), "{}", rsp.desc);

    let oneway = CallOptions { oneway: true, ..CallOptions::default() };
    assert!(prx.invoke_with(TARS_VERSION, "getUsrName", args.clone(), &oneway).await.unwrap().is_none());
    // The next reply is for the next call, not a stray answer to the oneway one.
    let rsp = prx.invoke("getUsrName", args).await.unwrap().ok().unwrap();
    assert_eq!(rsp.reader().read::<i32>(0).unwrap(), 100002);
}

/// The whole chain with real npm packages: a Node client configured with only a locator makes
/// calls; `@tars/monitor` reports them to tarsmon's StatObj (found through the embedded
/// registry); a MonitorQuery encoded with `@tars/stream`, and SQL, return exactly those calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_monitor_reports_reach_querystat_and_sql_exactly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tarsmon.toml"), common::config_with_free_ports("")).unwrap();
    let t = common::Tarsmon::start(dir.path(), &["serve", "--config", "tarsmon.toml"], true);
    let calls = 17;
    let out = Command::new("node")
        .arg("monitor_client.js")
        .arg(t.port("tars.tarsregistry.QueryObj").to_string())
        .arg(calls.to_string())
        .current_dir(node_dir())
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("done"),
        "node client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("\"calls\":{calls},\"ok\":{calls}")), "{stdout}");

    let sql = "SELECT sum(succ_count) AS n, min(source) AS source, min(master_name) AS master FROM stat \
               WHERE slave_name = 'tars.tarsregistry' AND interface_name = 'findObjectById'";
    let rows = t.sql(sql).await;
    assert_eq!(rows[0]["n"].as_i64(), Some(calls), "{rows:?}");
    assert_eq!(rows[0]["source"], "client");
    assert_eq!(rows[0]["master"], "Test.NodeClient");

    let date = t.sql("SELECT replace(CAST(tars_fdate(now()) AS VARCHAR), '-', '') AS d").await[0]["d"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = Command::new("node")
        .arg("monitor_query.js")
        .arg(t.port("tars.tarsquerystat.QueryObj").to_string())
        .arg(&date)
        .arg("f_date,interface_name")
        .arg("slave_name=tars.tarsregistry")
        .current_dir(node_dir())
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|_| panic!("bad output:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(v["ret"], 0, "{v}");
    assert_eq!(v["rsp"]["ret"], 0, "{v}");
    let row = &v["rsp"]["result"][format!("{date},findObjectById")];
    assert_eq!(row[0].as_f64(), Some(calls as f64), "{v}");
    t.stop();
}
