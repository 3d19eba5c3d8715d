//! Business metrics and notifications end to end through the real binary and real Node
//! clients: PropertyObj reports in TarsCpp, Node and tarsproperty forms (encoded by
//! `@tars/stream`), `@tars/monitor`'s own property reporter, queryproperty and SQL; NotifyObj's
//! current and legacy calls, the `command` rules, filters, count retention and `kill -9`.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Tarsmon, config_with_free_ports};
use serde_json::{Value, json};
use tokio::process::Command;

const PROPERTY: &str = "tars.tarsproperty.PropertyObj";
const NOTIFY: &str = "tars.tarsnotify.NotifyObj";
const QUERYPROPERTY: &str = "tars.tarsqueryproperty.QueryObj";

const FAST: &str = "[property]\nslot = \"1s\"\ncheckpoint_interval = \"200ms\"\n\
     [notify]\nslot = \"1s\"\ncheckpoint_interval = \"200ms\"\n\
     [query]\ntime_zone = \"+08:00\"\n";

fn node_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../interop/node");
    assert!(
        dir.join("node_modules/@tars/rpc").is_dir(),
        "run scripts/setup.sh first: the interop tests need the real @tars/* packages"
    );
    dir
}

fn start(extra: &str) -> (tempfile::TempDir, Tarsmon) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tarsmon.toml"), config_with_free_ports(extra)).unwrap();
    let t = Tarsmon::start(dir.path(), &["serve", "--config", "tarsmon.toml"], true);
    (dir, t)
}

/// Runs a script of `interop/node` and returns its last stdout line as JSON.
async fn node(script: &str, args: &[String], env: &[(&str, &str)]) -> Value {
    let mut cmd = Command::new("node");
    cmd.arg(script).args(args).current_dir(node_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().await.expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap_or_else(|_| {
        panic!("{script}: bad output:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr))
    })
}

async fn report_props(t: &Tarsmon, entries: Value) {
    let v = node("property_report.js", &[t.port(PROPERTY).to_string(), entries.to_string()], &[]).await;
    assert_eq!(v["ret"], 0, "{v}");
}

/// TarsWeb's property query through `@tars/stream`; returns `(ret, msg, result)`.
async fn queryproperty(t: &Tarsmon, date: &str, groupby: &str, conds: &[&str]) -> (i64, String, Value) {
    let mut args = vec![t.port(QUERYPROPERTY).to_string(), date.to_owned(), groupby.to_owned()];
    args.extend(conds.iter().map(|c| c.to_string()));
    let v = node("monitor_query.js", &args, &[("DATAID", "tars_property")]).await;
    let rsp = &v["rsp"];
    (rsp["ret"].as_i64().unwrap(), rsp["msg"].as_str().unwrap_or("").to_owned(), rsp["result"].clone())
}

/// Today's `f_date` in the configured zone (+08:00), `YYYYMMDD`.
fn today() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(8)).format("%Y%m%d").to_string()
}

async fn metric(t: &Tarsmon, name: &str) -> f64 {
    let (status, body) = t.get("/metrics").await;
    assert_eq!(status, 200);
    body.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("metric {name} missing"))
        .parse()
        .unwrap()
}

fn module_entry(module: &str, property: &str, info: &[(&str, &str)]) -> Value {
    json!({ "module": module, "property": property, "ver": 2, "info": info })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_policy_merges_exactly_across_encodings_and_reporters() {
    let (_dir, t) = start(FAST);
    let prop = "queueWaitTime";
    // TarsCpp: a plain Avg, Distr with its `max` bucket, the untouched Max and Min "0" that
    // carry no value.
    report_props(
        &t,
        json!([module_entry(
            "Shop.OrderServer",
            prop,
            &[
                ("Sum", "10"),
                ("Count", "3"),
                ("Max", "-9999999"),
                ("Min", "0"),
                ("Avg", "12.5"),
                ("Distr", "5|1,10|2,max|1")
            ]
        )]),
    )
    .await;
    // Node: a floored Avg, Distr without `max`.
    report_props(
        &t,
        json!([module_entry(
            "Shop.OrderServer",
            prop,
            &[("Sum", "5"), ("Count", "2"), ("Max", "40"), ("Min", "3"), ("Avg", "7"), ("Distr", "5|2,10|0")]
        )]),
    )
    .await;
    // tarsproperty's own merged form for Avg, a second reporter, malformed values and a
    // policy outside the standard six.
    report_props(
        &t,
        json!([
            module_entry("Shop.OrderServer", prop, &[("Avg", "30=3"), ("Max", "25"), ("Min", "2")]),
            module_entry("Shop.CartServer", prop, &[("Avg", "100"), ("Max", "90")]),
        ]),
    )
    .await;
    // (A map has each head once, so these go in a report of their own.)
    report_props(
        &t,
        json!([module_entry(
            "Shop.OrderServer",
            prop,
            &[("Sum", "abc"), ("Count", "-1"), ("Distr", "5|x"), ("P99", "7")]
        )]),
    )
    .await;

    // Hand-computed, OrderServer only: Sum 10+5; Count 3+2; Max max(40, 25) (-9999999 is no
    // value); Min min(3, 2) ("0" is no value); Avg samples 12.5 (1) + 7 (1) + 30 (3) = 49.5
    // over 5; Distr by label 5: 1+2, 10: 2+0, max: 1; P99 summed.
    let date = today();
    let (ret, msg, result) = queryproperty(
        &t,
        &date,
        "f_date,policy",
        &["master_name=Shop.OrderServer", "property_name=queueWaitTime"],
    )
    .await;
    assert_eq!(ret, 0, "{msg}");
    let got: BTreeMap<String, f64> = result
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.split_once(',').unwrap().1.to_owned(), v[0].as_f64().unwrap()))
        .collect();
    let want: BTreeMap<String, f64> = [
        ("Sum", 15.0),
        ("Count", 5.0),
        ("Max", 40.0),
        ("Min", 2.0),
        ("Avg", 9.9),
        ("Distr", 6.0),
        ("Distr|5", 3.0),
        ("Distr|10", 2.0),
        ("Distr|max", 1.0),
        ("P99", 7.0),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (k, v) in &want {
        assert!((got[k] - v).abs() < 1e-9, "{k}: got {}, want {v}", got[k]);
    }

    // Across both reporters, grouped by slot: Avg is weighted by samples (49.5 + 100) / 6,
    // not an average of averages, and one value per interval.
    let (ret, msg, result) =
        queryproperty(&t, &date, "f_tflag", &["property_name=queueWaitTime", "policy=Avg"]).await;
    assert_eq!(ret, 0, "{msg}");
    let values: Vec<f64> = result.as_object().unwrap().values().map(|v| v[0].as_f64().unwrap()).collect();
    if values.len() == 1 {
        assert!((values[0] - 149.5 / 6.0).abs() < 1e-9, "{values:?}");
    }
    // A group that mixes policies has no meaningful value: a clear error, not a sum.
    let (ret, msg, _) = queryproperty(&t, &date, "f_tflag", &["property_name=queueWaitTime"]).await;
    assert_eq!(ret, -1);
    assert!(msg.contains("mixes the policies"), "{msg}");

    // SQL: the raw table and the MySQL-shaped view agree with the hand-computed values.
    let rows = t
        .sql(
            "SELECT policy, value, num_value, distr FROM tars_property \
             WHERE master_name = 'Shop.OrderServer' ORDER BY policy",
        )
        .await;
    let by_policy: BTreeMap<&str, &Value> = rows.iter().map(|r| (r["policy"].as_str().unwrap(), r)).collect();
    if rows.len() == 7 {
        // (Unless the reports straddled a 5-minute boundary.)
        assert_eq!(by_policy["Sum"]["value"], "15");
        assert_eq!(by_policy["Max"]["value"], "40");
        assert_eq!(by_policy["Avg"]["value"], "9.9");
        assert_eq!(by_policy["Distr"]["value"], "5|3,10|2,max|1");
    }
    let sums = t
        .sql(
            "SELECT policy, sum(value) AS s, sum(sum) / sum(count) AS avg, tars_distr_merge(distr) AS d \
             FROM property WHERE module_name = 'Shop.OrderServer' GROUP BY policy ORDER BY policy",
        )
        .await;
    let sums: BTreeMap<&str, &Value> = sums.iter().map(|r| (r["policy"].as_str().unwrap(), r)).collect();
    assert_eq!(sums["Sum"]["s"].as_f64(), Some(15.0));
    assert_eq!(sums["Count"]["s"].as_f64(), Some(5.0));
    assert!((sums["Avg"]["avg"].as_f64().unwrap() - 9.9).abs() < 1e-9);
    assert_eq!(sums["Distr"]["d"], "5|3,10|2,max|1");
    let ips = t.sql("SELECT DISTINCT ip FROM property").await;
    assert_eq!(ips, vec![json!({"ip": "127.0.0.1"})], "ip is the peer, not the reported head");

    // Rejected and empty values are counted, never guessed.
    assert_eq!(metric(&t, "tarsmon_property_bad_values_total").await, 3.0);
    assert_eq!(metric(&t, "tarsmon_property_empty_values_total").await, 2.0);
    assert_eq!(metric(&t, "tarsmon_property_unknown_policies_total").await, 1.0);
    t.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_tars_monitor_property_reporter_is_read_back_through_queryproperty_and_sql() {
    let (_dir, t) = start(FAST);
    let registry = t.port("tars.tarsregistry.QueryObj").to_string();
    let values = ["5", "50", "500", "5000"].map(String::from);
    let v = node("property_client.js", &[vec![registry], values.to_vec()].concat(), &[]).await;
    assert_eq!(v["done"], true, "{v}");

    // @tars/monitor: Sum 5555, Count 4, Max 5000, Min 5, Avg floor(5555 / 4) as one sample,
    // Distr with `<=` bounds 10, 100, 1000 (5000 is above every bound and not counted).
    let rows = t
        .sql(
            "SELECT policy, sum(value) AS s, max(value) AS mx, min(value) AS mn, tars_distr_merge(distr) AS d \
             FROM property WHERE module_name = 'Test.NodeProps' AND property_name = 'latency' \
             GROUP BY policy ORDER BY policy",
        )
        .await;
    let p: BTreeMap<&str, &Value> = rows.iter().map(|r| (r["policy"].as_str().unwrap(), r)).collect();
    assert_eq!(p.len(), 6, "{rows:?}");
    assert_eq!(p["Sum"]["s"].as_f64(), Some(5555.0));
    assert_eq!(p["Count"]["s"].as_f64(), Some(4.0));
    assert_eq!(p["Max"]["mx"].as_f64(), Some(5000.0));
    assert_eq!(p["Min"]["mn"].as_f64(), Some(5.0));
    assert_eq!(p["Avg"]["s"].as_f64(), Some(1388.0));
    assert_eq!(p["Distr"]["d"], "10|1,100|1,1000|1");

    let (ret, msg, result) = queryproperty(
        &t,
        &today(),
        "f_date,policy",
        &["master_name=Test.NodeProps", "property_name=latency"],
    )
    .await;
    assert_eq!(ret, 0, "{msg}");
    let r = result.as_object().unwrap();
    let key = |p: &str| format!("{},{p}", today());
    assert_eq!(r[&key("Max")][0].as_f64(), Some(5000.0));
    assert_eq!(r[&key("Avg")][0].as_f64(), Some(1388.0));
    assert_eq!(r[&key("Distr|100")][0].as_f64(), Some(1.0));
    t.stop();
}

async fn notify(t: &Tarsmon, method: &str, args: Value) -> Value {
    let v = node("notify_client.js", &[t.port(NOTIFY).to_string(), method.to_owned(), args.to_string()], &[])
        .await;
    assert_eq!(v["ok"], true, "{method}: {v}");
    v
}

fn report_info(kind: i32, server: &str, message: &str, level: i32, node_name: &str) -> Value {
    json!({ "type": kind, "app": "Test", "set": "", "container": "c1", "server": server,
            "message": message, "thread": "42", "level": level, "node": node_name })
}

async fn wait_for(t: &Tarsmon, sql: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows = t.sql(sql).await;
        if done(&rows) || Instant::now() > deadline {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_current_and_legacy_commands_filters_and_history() {
    let config = format!(
        "{FAST}[notify.filters]\ndefault = \"heartbeat\"\n\"Test.HelloServer\" = \"ignore-me|skip;\"\n"
    );
    let (_dir, t) = start(&config);
    // REPORT: command from the message, in the rule's order.
    for (i, m) in
        ["restart [alarm]", "disk [error]", "slow [warn]", "reload [fail]", "started"].iter().enumerate()
    {
        notify(&t, "reportNotifyInfo", report_info(0, "HelloServer", &format!("{i}:{m}"), 0, "n1")).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // NOTIFY: command from the level, whatever the message says.
    notify(&t, "reportNotifyInfo", report_info(1, "HelloServer", "5:[alarm] business", 2, "n1")).await;
    // Filtered: the default list, and HelloServer's own.
    notify(&t, "reportNotifyInfo", report_info(0, "HelloServer", "heartbeat ok", 0, "n1")).await;
    notify(&t, "reportNotifyInfo", report_info(0, "HelloServer", "please ignore-me", 0, "n1")).await;
    notify(&t, "reportNotifyInfo", report_info(0, "OtherServer", "skip is only HelloServer's", 0, "")).await;
    // Legacy calls; no node name: the peer IP.
    notify(&t, "reportServer", json!({"name": "Test.LegacyServer", "thread": "7", "message": "restart"}))
        .await;
    notify(&t, "notifyServer", json!({"name": "Test.LegacyServer", "level": 1, "message": "disk [alarm]"}))
        .await;

    let rows = t
        .sql(
            "SELECT server_id, node_name, command, result, kind, level, thread_id, set_name \
             FROM notify ORDER BY time, result",
        )
        .await;
    let find = |needle: &str| rows.iter().find(|r| r["result"].as_str().unwrap().contains(needle)).unwrap();
    assert_eq!(rows.len(), 9, "{rows:#?}");
    assert_eq!(find("0:restart")["command"], "[alarm]");
    assert_eq!(find("1:disk")["command"], "[error]");
    assert_eq!(find("2:slow")["command"], "[warn]");
    assert_eq!(find("3:reload")["command"], "[error]");
    assert_eq!(find("4:started")["command"], "[normal]");
    assert_eq!(find("5:")["command"], "[error]");
    assert_eq!(find("5:")["kind"], "notify");
    assert_eq!(find("0:restart")["server_id"], "Test.HelloServer_n1");
    assert_eq!(find("0:restart")["set_name"], "");
    assert_eq!(find("skip is only")["server_id"], "Test.OtherServer_127.0.0.1");
    let restart = rows.iter().find(|r| r["result"] == "restart").unwrap();
    assert_eq!(restart["server_id"], "Test.LegacyServer_127.0.0.1");
    assert_eq!((restart["command"].as_str(), restart["thread_id"].as_str()), (Some("[normal]"), Some("7")));
    assert_eq!(find("disk [alarm]")["command"], "[warn]", "NOTIFY: from the level");
    assert_eq!(metric(&t, "tarsmon_notify_filtered_total").await, 2.0);
    assert_eq!(metric(&t, "tarsmon_notify_legacy_total").await, 2.0);

    // The legacy paged history: newest first, FW 1.4's key `App` + `Server`.
    let v = notify(&t, "getNotifyInfo", json!({"name": "TestHelloServer", "ip": "n1", "page": 0})).await;
    assert_eq!(v["ret"], 0);
    let items = v["info"]["items"].as_array().unwrap();
    assert_eq!(items.first().unwrap()["message"], "5:[alarm] business");
    assert_eq!(items.first().unwrap()["level"], 2);
    assert_eq!(items.first().unwrap()["serverId"], "Test.HelloServer_n1");
    assert_eq!(v["info"]["nextpage"], -1);
    assert_eq!(items.len(), 6);
    t.stop();
}

/// Past the memory budget a notification is not stored, and the real client is told so
/// (tarsnotify acknowledged it either way).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_over_the_memory_budget_is_refused_not_acknowledged() {
    // The default 60 s slot: all four land in one open slot, whose memory is not freed.
    let (_dir, t) = start("[notify]\nmemory_budget = \"4KiB\"\n");
    let big = "x".repeat(1500);
    let mut refused = Vec::new();
    for i in 0..4 {
        let args = report_info(0, "FloodServer", &format!("{i}:{big}"), 0, "n1").to_string();
        let v = node("notify_client.js", &[t.port(NOTIFY).to_string(), "reportNotifyInfo".into(), args], &[])
            .await;
        if v["ok"] != true {
            refused.push(v["error"].as_str().unwrap_or_default().to_owned());
        }
    }
    assert!(!refused.is_empty() && refused.len() < 4, "refused: {refused:?}");
    let stored = wait_for(&t, "SELECT count(*) AS n FROM notify", |r| r[0]["n"].as_i64() > Some(0)).await;
    let stored = stored[0]["n"].as_i64().unwrap();
    assert_eq!(stored as usize + refused.len(), 4, "every notification is stored or refused: {refused:?}");
    assert_eq!(metric(&t, "tarsmon_rows_dropped_total{table=\"notify\"}").await as usize, refused.len());
    t.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_retention_keeps_the_newest_n_per_server() {
    let config = format!("{FAST}[storage]\nretention_interval = \"1s\"\n")
        .replace("[notify]\n", "[notify]\nretain_per_server = 3\n");
    let (_dir, t) = start(&config);
    for i in 0..6 {
        notify(&t, "reportNotifyInfo", report_info(0, "HelloServer", &format!("{i}:m"), 0, "n1")).await;
    }
    for i in 0..2 {
        notify(&t, "reportNotifyInfo", report_info(0, "OtherServer", &format!("{i}:o"), 0, "n1")).await;
    }
    // Once sealed, only the newest 3 of HelloServer_n1 remain; the other server is untouched.
    let kept = wait_for(
        &t,
        "SELECT result FROM notify WHERE server_id = 'Test.HelloServer_n1' ORDER BY time DESC, result DESC",
        |r| r.len() == 3,
    )
    .await;
    let kept: Vec<&str> = kept.iter().map(|r| r["result"].as_str().unwrap()).collect();
    assert_eq!(kept, ["5:m", "4:m", "3:m"]);
    let others = t.sql("SELECT count(*) AS n FROM notify WHERE server_id <> 'Test.HelloServer_n1'").await;
    assert_eq!(others[0]["n"], 2);
    t.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn property_and_notify_data_survive_kill_9() {
    let (dir, t) = start(FAST);
    report_props(&t, json!([module_entry("Crash.Props", "q", &[("Sum", "7"), ("Avg", "4=2")])])).await;
    notify(&t, "reportNotifyInfo", report_info(0, "CrashServer", "before the crash", 0, "n1")).await;
    // Past the checkpoint interval (200 ms) and the persist tick (500 ms).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    t.kill9();

    let t = Tarsmon::start(dir.path(), &["serve", "--config", "tarsmon.toml"], true);
    let props = t
        .sql("SELECT policy, sum(value) AS s, sum(count) AS c FROM property WHERE module_name = 'Crash.Props' GROUP BY policy ORDER BY policy")
        .await;
    assert_eq!(props, vec![json!({"policy": "Avg", "s": 2.0, "c": 2}), json!({"policy": "Sum", "s": 7.0})]);
    let notes = t.sql("SELECT result FROM notify WHERE server_id = 'Test.CrashServer_n1'").await;
    assert_eq!(notes, vec![json!({"result": "before the crash"})]);
    // Sealing the recovered slots does not duplicate anything.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let notes = t.sql("SELECT count(*) AS n FROM notify WHERE server_id = 'Test.CrashServer_n1'").await;
    assert_eq!(notes[0]["n"], 1);
    let props = t
        .sql("SELECT sum(value) AS s FROM property WHERE module_name = 'Crash.Props' AND policy = 'Sum'")
        .await;
    assert_eq!(props[0]["s"].as_f64(), Some(7.0));
    t.stop();
}
