//! Call statistics end to end through the real binary: reports in (TarsCpp-style, Node-style,
//! server-side), rows out through SQL and querystat; `kill -9` and restart; the memory cap.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Tarsmon, config_with_free_ports};
use tarsmon_framework::client::{CallOptions, ServantProxy};
use tarsmon_framework::codec::{Encode, MapEntries, Writer};
use tarsmon_framework::idl::monitor::{Condition, MonitorQueryReq, MonitorQueryRsp};
use tarsmon_framework::idl::stat::{StatMicMsgBody, StatMicMsgHead};
use tarsmon_framework::packet::TARS_VERSION;
use tarsmon_framework::testing::hex;

const STAT: &str = "tars.tarsstat.StatObj";
const QUERYSTAT: &str = "tars.tarsquerystat.QueryObj";

fn start(extra: &str) -> (tempfile::TempDir, Tarsmon) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tarsmon.toml"), config_with_free_ports(extra)).unwrap();
    let t = Tarsmon::start(dir.path(), &["serve", "--config", "tarsmon.toml"], true);
    (dir, t)
}

const FAST: &str =
    "[stat]\nslot = \"1s\"\ncheckpoint_interval = \"200ms\"\n[query]\ntime_zone = \"+08:00\"\n";

fn head(master: &str, iface: &str) -> StatMicMsgHead<'static> {
    StatMicMsgHead {
        master_name: master.to_owned().into(),
        slave_name: "Shop.PaymentServer".into(),
        interface_name: iface.to_owned().into(),
        master_ip: "10.1.1.1".into(),
        slave_ip: "10.2.2.2".into(),
        slave_port: 20000,
        return_value: 0,
        slave_set_name: "shop".into(),
        slave_set_area: "sz".into(),
        slave_set_id: "1".into(),
        tars_version: "".into(),
    }
}

fn body(count: i32, exec: i32, timeout: i32) -> StatMicMsgBody {
    StatMicMsgBody {
        count,
        timeout_count: timeout,
        exec_count: exec,
        interval_count: MapEntries(vec![(5, 0), (10, count), (50, 0)]),
        total_rsp_time: i64::from(count) * 8,
        max_rsp_time: 9,
        min_rsp_time: 7,
    }
}

fn report_args(entries: Vec<(StatMicMsgHead<'static>, StatMicMsgBody)>, from_client: bool) -> Vec<u8> {
    let mut w = Writer::new();
    MapEntries(entries).encode(&mut w, 1);
    w.bool(from_client, 2);
    w.into_inner()
}

async fn report(t: &Tarsmon, args: Vec<u8>, node_name: Option<&str>) {
    let rsp = report_reply(t, args, node_name).await;
    assert_eq!(rsp.ret, 0, "{}", rsp.desc);
    assert_eq!(rsp.reader().read::<i32>(0).unwrap(), 0);
}

/// Sends one `reportMicMsg` and returns the reply, whatever its `iRet`.
async fn report_reply(
    t: &Tarsmon,
    args: Vec<u8>,
    node_name: Option<&str>,
) -> tarsmon_framework::client::Response {
    let prx = ServantProxy::direct(&t.proxy(STAT)).unwrap();
    let mut opts = CallOptions::default();
    if let Some(n) = node_name {
        opts.context.insert("node_name".into(), n.into());
    }
    prx.invoke_with(TARS_VERSION, "reportMicMsg", args, &opts).await.unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpp_node_and_server_reports_are_stored_with_the_right_columns() {
    let (_dir, t) = start(FAST);
    // TarsCpp client: `name@version`, node_name in the context, set fields.
    report(
        &t,
        report_args(vec![(head("Shop.OrderServer@3.0.13", "pay"), body(5, 1, 2))], true),
        Some("node-7"),
    )
    .await;
    // TarsCpp server-side report of a oneway caller: bFromClient = false.
    report(&t, report_args(vec![(head("one_way_client", "pay"), body(3, 0, 0))], false), Some("srv-host"))
        .await;
    // An all-zero body is dropped, as tarsstat does.
    report(&t, report_args(vec![(head("Shop.OrderServer@3.0.13", "idle"), body(0, 0, 0))], true), None).await;
    // Node `@tars/monitor` frame captured in spec §9.4 (a): minRspTime arrives as 1 here and
    // empty optional strings are written.
    let node = hex(
        "18 00 01 0a 06 0f \"Test.NodeClient\" 16 0b \"Test.Server\" 26 05 \"hello\" 36 09 \"127.0.0.1\" 46 09 \"127.0.0.1\" 51 27 10 6c 76 00 86 00 96 00 a6 00 0b 1a 00 03 1c 20 01 38 00 03 00 05 1c 00 0a 10 03 00 32 1c 40 1e 50 14 60 01 0b 20 01",
    );
    report(&t, node, None).await;

    let rows = t
        .sql("SELECT source, master_name, tars_version, master_ip, slave_ip, slave_name, interface_name, slave_set_name, \
              succ_count, exce_count, timeout_count, total_time, max_rsp_time, min_rsp_time, interv_10 \
              FROM stat ORDER BY master_name")
        .await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    let by_master: BTreeMap<String, &serde_json::Value> =
        rows.iter().map(|r| (r["master_name"].as_str().unwrap().to_owned(), r)).collect();
    let cpp = by_master["Shop.OrderServer"];
    assert_eq!(cpp["source"], "client");
    assert_eq!(cpp["tars_version"], "3.0.13");
    assert_eq!(cpp["master_ip"], "node-7", "the reporter's node_name replaces masterIp");
    assert_eq!(cpp["slave_ip"], "10.2.2.2");
    assert_eq!(cpp["slave_set_name"], "shop");
    assert_eq!(
        (cpp["succ_count"].as_i64(), cpp["exce_count"].as_i64(), cpp["timeout_count"].as_i64()),
        (Some(5), Some(1), Some(2))
    );
    assert_eq!(
        (cpp["total_time"].as_i64(), cpp["max_rsp_time"].as_i64(), cpp["min_rsp_time"].as_i64()),
        (Some(40), Some(9), Some(7))
    );
    assert_eq!(cpp["interv_10"].as_i64(), Some(5));
    let server = by_master["one_way_client"];
    assert_eq!(server["source"], "server");
    assert_eq!(server["master_ip"], "10.1.1.1");
    assert_eq!(server["slave_ip"], "srv-host", "a server report's slaveIp is the reporter's host");
    let node = by_master["Test.NodeClient"];
    assert_eq!(node["master_ip"], "127.0.0.1", "no node_name: the peer IP");
    assert_eq!(
        (node["succ_count"].as_i64(), node["interv_10"].as_i64(), node["tars_version"].as_str()),
        (Some(3), Some(3), Some(""))
    );

    // The MySQL-shaped view, with the original's derived columns.
    let v = t.sql("SELECT f_tflag, succ_count, ave_time, interv_count, maxrsp_time, minrsp_time FROM tars_stat WHERE master_name = 'Shop.OrderServer'").await;
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["ave_time"].as_i64(), Some(8));
    assert_eq!(v[0]["interv_count"], "5|0,10|5,50|0,100|0,200|0,500|0,1000|0,2000|0,3000|0");
    assert_eq!(v[0]["f_tflag"].as_str().unwrap().len(), 4);
    t.stop();
}

fn monitor_req(date: &str, groupby: &[&str], conditions: Vec<Condition>) -> Vec<u8> {
    let req = MonitorQueryReq {
        uid: "test".into(),
        dataid: "tars_stat".into(),
        date: date.into(),
        tflag1: "0000".into(),
        tflag2: "2360".into(),
        conditions,
        indexs: ["succ_count", "timeout_count", "exce_count", "total_time"].map(String::from).to_vec(),
        groupby: groupby.iter().map(|s| s.to_string()).collect(),
        ..MonitorQueryReq::default()
    };
    let mut w = Writer::new();
    req.encode(&mut w, 1);
    w.into_inner()
}

async fn monitor(t: &Tarsmon, args: Vec<u8>) -> MonitorQueryRsp {
    let prx = ServantProxy::direct(&t.proxy(QUERYSTAT)).unwrap();
    let rsp = prx.invoke("query", args).await.unwrap().ok().unwrap();
    let mut r = rsp.reader();
    let ret: i32 = r.read(0).unwrap();
    let out: MonitorQueryRsp = r.read(2).unwrap();
    assert_eq!(ret, out.ret);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn querystat_counts_each_call_once_and_agrees_with_sql() {
    let (_dir, t) = start(FAST);
    report(
        &t,
        report_args(
            vec![
                (head("Shop.OrderServer@3.0.13", "pay"), body(5, 1, 2)),
                (head("Shop.OrderServer@3.0.13", "refund"), body(4, 0, 0)),
            ],
            true,
        ),
        None,
    )
    .await;
    // The callee's own view of the same calls: never added to the callers' rows.
    report(&t, report_args(vec![(head("stat_from_server", "pay"), body(5, 1, 2))], false), None).await;
    // Calls whose caller cannot report (oneway): counted from the callee.
    report(&t, report_args(vec![(head("one_way_client", "pay"), body(10, 0, 0))], false), None).await;

    let today = t.sql("SELECT replace(CAST(tars_fdate(now()) AS VARCHAR), '-', '') AS d").await[0]["d"]
        .as_str()
        .unwrap()
        .to_owned();
    let cond = |f: &str, v: &str| Condition { field: f.into(), op: 5, val: v.into() };
    let rsp = monitor(
        &t,
        monitor_req(&today, &["f_date", "interface_name"], vec![cond("slave_name", "Shop.PaymentServer")]),
    )
    .await;
    assert_eq!(rsp.ret, 0, "{}", rsp.msg);
    assert_eq!((rsp.active_db, rsp.total_db), (1, 1));
    assert_eq!(rsp.result[&format!("{today},pay")], vec![15.0, 2.0, 1.0, 120.0]);
    assert_eq!(rsp.result[&format!("{today},refund")], vec![4.0, 0.0, 0.0, 32.0]);
    // Asking for stat_from_server explicitly shows those rows.
    let rsp = monitor(
        &t,
        monitor_req(&today, &["f_date", "master_name"], vec![cond("master_name", "stat_from_server")]),
    )
    .await;
    assert_eq!(rsp.result[&format!("{today},stat_from_server")], vec![5.0, 2.0, 1.0, 40.0]);
    // Grouped by slot: one key per 5-minute label, summing to the same total.
    let rsp = monitor(&t, monitor_req(&today, &["f_tflag"], vec![])).await;
    let total: f64 = rsp.result.values().map(|v| v[0]).sum();
    assert_eq!(total, 19.0);
    assert!(rsp.result.keys().all(|k| k.len() == 4));
    // SQL over the view says the same, written the way the old query service wrote it.
    let sql = t.sql(&format!(
        "SELECT sum(succ_count) AS s FROM tars_stat WHERE f_date = DATE '{}-{}-{}' AND (source = 'client' OR master_name = 'one_way_client')",
        &today[..4], &today[4..6], &today[6..]
    )).await;
    assert_eq!(sql[0]["s"].as_i64(), Some(19));
    // Faults of the original, fixed: names are checked, an empty day is not an error.
    let bad = monitor(&t, monitor_req(&today, &["f_date", "slave_name; DROP TABLE x"], vec![])).await;
    assert_eq!(bad.ret, -1);
    assert!(bad.msg.contains("unknown field"), "{}", bad.msg);
    let empty = monitor(&t, monitor_req("20000101", &["f_tflag"], vec![])).await;
    assert_eq!((empty.ret, empty.result.len()), (0, 0));
    t.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_at_most_the_checkpoint_window_and_never_duplicates() {
    let (dir, t) = start(FAST);
    let prx = Arc::new(ServantProxy::direct(&t.proxy(STAT)).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    // Acknowledged reports, one call each, with the time of their acknowledgement.
    let sender = {
        let (prx, stop) = (prx.clone(), stop.clone());
        tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let args =
                    report_args(vec![(head("Crash.Client", &format!("f{}", i % 5)), body(1, 0, 0))], true);
                match prx.invoke("reportMicMsg", args).await {
                    Ok(r) if r.ret == 0 => acked.push(Instant::now()),
                    _ => break,
                }
                i += 1;
            }
            acked
        })
    };
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let killed_at = Instant::now();
    t.kill9();
    stop.store(true, Ordering::Relaxed);
    let acked = sender.await.unwrap();
    let sent = acked.len() as i64;
    // Checkpoint every 200 ms, persist tick 500 ms: anything acknowledged a second before the
    // kill must have survived.
    let must_survive = acked.iter().filter(|&&a| a + Duration::from_secs(1) < killed_at).count() as i64;
    assert!(must_survive > 0);

    let t = Tarsmon::start(dir.path(), &["serve", "--config", "tarsmon.toml"], true);
    let count = |rows: Vec<serde_json::Value>| rows[0]["n"].as_i64().unwrap_or(0);
    let after_restart =
        count(t.sql("SELECT sum(succ_count) AS n FROM stat WHERE master_name = 'Crash.Client'").await);
    assert!(after_restart <= sent, "duplicates: {after_restart} counted, {sent} sent");
    assert!(after_restart >= must_survive, "lost more than the window: {after_restart} < {must_survive}");
    // Once the recovered slot and everything else is sealed, the count does not change.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let sealed =
        count(t.sql("SELECT sum(succ_count) AS n FROM stat WHERE master_name = 'Crash.Client'").await);
    assert_eq!(sealed, after_restart);
    // And after a clean restart neither.
    assert!(t.stop().success());
    let t = Tarsmon::start(dir.path(), &["serve", "--config", "tarsmon.toml"], true);
    assert_eq!(
        count(t.sql("SELECT sum(succ_count) AS n FROM stat WHERE master_name = 'Crash.Client'").await),
        sealed
    );
    t.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_cap_drops_visibly_and_the_server_keeps_serving() {
    let (_dir, t) = start("[stat]\nmemory_budget = \"16KiB\"\n");
    let entries: Vec<_> = (0..200).map(|i| (head("Cap.Client", &format!("f{i}")), body(1, 0, 0))).collect();
    // The caller is told that part of its report was not stored, and how much.
    let rsp = report_reply(&t, report_args(entries, true), None).await;
    assert_eq!(rsp.ret, -9, "overload");
    assert!(
        rsp.desc.contains("memory budget exhausted") && rsp.desc.contains("of 200 entries dropped"),
        "{}",
        rsp.desc
    );
    let (status, metrics) = t.get("/metrics").await;
    assert_eq!(status, 200);
    let dropped: u64 = metrics
        .lines()
        .find(|l| l.starts_with("tarsmon_stat_dropped_entries_total"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap()
        .parse()
        .unwrap();
    assert!(dropped > 0 && dropped < 200, "{dropped}");
    assert!(metrics.contains("tarsmon_rows_dropped_total{table=\"stat\"}"));
    let kept = t.sql("SELECT count(*) AS n FROM stat").await[0]["n"].as_i64().unwrap();
    assert_eq!(kept as u64 + dropped, 200);
    assert!(rsp.desc.contains(&format!("{dropped} of 200")), "{}", rsp.desc);
    // Still serving: the next report is answered (stored if its key is open in the shard of
    // the thread that takes it, refused otherwise) and the connection stays usable.
    let rsp =
        report_reply(&t, report_args(vec![(head("Cap.Client", "f0"), body(1, 0, 0))], true), None).await;
    assert!(rsp.ret == 0 || rsp.ret == -9, "{rsp:?}");
    t.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sql_is_a_clear_400_and_writes_are_refused() {
    let (_dir, t) = start("");
    let base = t.http.clone().unwrap();
    for bad in ["SELEC 1", "SELECT nope FROM stat", "DROP VIEW tars_stat", "CREATE TABLE x (a INT)"] {
        let (status, body) = common::http_post(&format!("{base}/sql"), bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(!body.is_empty());
    }
    let (status, _) = t.get("/health").await;
    assert_eq!(status, 200);
    t.stop();
}
