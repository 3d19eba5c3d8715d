//! Reports in → rows in the right hourly table with the right labels, and the totals TarsWeb
//! shows are the same whether they come from MySQL, queried the way the old query service
//! (tarsquerystat) queried it, or from tarsmon's own MonitorQuery answer.
//!
//! Why the totals agree. A MySQL row is keyed by the report head without `source`: the
//! caller's and the callee's report of one head would be summed into one row. But the two
//! sides never report the same head: a caller reports its own name, the callee's port and
//! IP; a callee reports a pseudo caller (`tup_client`, `one_way_client`, `not_tars_client`
//! for callers that cannot report, `stat_from_server` for TarsCpp ≥ 3.0.13's own view of
//! every call), port 0 and its own host. So summing MySQL rows counts:
//! - every caller-reported call once, and every call of a caller that cannot report once
//!   (from the callee) — exactly what tarsmon's querystat counts;
//! - plus the `stat_from_server` rows, the callee's second view of calls its callers
//!   reported already. tarsquerystat sums them into TarsWeb's totals (spec §2.2 OBSERVATION,
//!   the double count); tarsmon counts them only when a condition asks for that master.
//!
//! The test therefore checks: for a server without `stat_from_server` reports the MySQL
//! and tarsmon totals are equal key by key; for one with them, MySQL's totals are tarsmon's
//! plus exactly those rows, and asking both for `master_name = 'stat_from_server'` gives the
//! same numbers.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, unreachable_pub)]

// Shared with other test binaries; it allows the parts this one does not use.
#[path = "mysql_export/mariadb.rs"]
mod mariadb;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mariadb::MariaDb;
use tarsmon_compat_mysql::{Exporter, ExporterConfig};
use tarsmon_engine::{Store, StoreConfig};
use tarsmon_ingest::stat::{Source, StatKeyRef, StatValue};
use tarsmon_ingest::time::{Clock, ManualClock, TimestampMs, UtcOffset};
use tarsmon_ingest::{Pipeline, PipelineConfig, StatTable};
use tarsmon_query::{Condition, MonitorRequest, Op, QueryConfig, QueryEngine, TableSource};

/// 2024-01-15 09:50 at +08:00 (01:50 UTC).
const START: i64 = 1_705_283_400_000;
const MIN: i64 = 60_000;
const DATE: &str = "20240115";
/// TarsWeb's indexes, in its order.
const INDEXES: [&str; 4] = ["succ_count", "timeout_count", "exce_count", "total_time"];

/// Group key → one total per index.
type Totals = BTreeMap<String, Vec<f64>>;

/// One report row: who called whom, from which side.
struct Report {
    source: Source,
    master: &'static str,
    master_ip: &'static str,
    slave: &'static str,
    slave_ip: &'static str,
    slave_port: i32,
    interface: &'static str,
    return_value: i32,
}

/// Callers (client side, several masters and interfaces, two servers) and callees (server
/// side: a TUP caller, a oneway caller, and TarsCpp ≥ 3.0.13's own view of the calls).
const REPORTS: &[Report] = &[
    report(Source::Client, "App.Web", "10.0.0.1", "App.Order", "10.0.1.1", 10001, "create", 0),
    report(Source::Client, "App.Web", "10.0.0.1", "App.Order", "10.0.1.1", 10001, "query", 0),
    report(Source::Client, "App.Web", "10.0.0.1", "App.Order", "10.0.1.1", 10001, "query", -7),
    report(Source::Client, "App.Batch", "10.0.0.2", "App.Order", "10.0.1.2", 10001, "query", 0),
    report(Source::Client, "App.Web", "10.0.0.1", "App.Stock", "10.0.2.1", 10002, "reserve", 0),
    report(Source::Client, "App.Batch", "10.0.0.2", "App.Stock", "10.0.2.1", 10002, "count", 0),
    // Callee reports: port 0, the callee's own host, the caller's IP as master_ip.
    report(Source::Server, "tup_client", "10.0.9.9", "App.Order", "10.0.1.1", 0, "query", 0),
    report(Source::Server, "one_way_client", "10.0.9.8", "App.Stock", "10.0.2.1", 0, "log", 0),
    report(Source::Server, "stat_from_server", "10.0.0.1", "App.Order", "10.0.1.1", 0, "create", 0),
    report(Source::Server, "stat_from_server", "10.0.0.2", "App.Order", "10.0.1.2", 0, "query", 0),
];

#[allow(clippy::too_many_arguments)]
const fn report(
    source: Source,
    master: &'static str,
    master_ip: &'static str,
    slave: &'static str,
    slave_ip: &'static str,
    slave_port: i32,
    interface: &'static str,
    return_value: i32,
) -> Report {
    Report { source, master, master_ip, slave, slave_ip, slave_port, interface, return_value }
}

/// The calls of row `r` in minute `m`: varying counts, some failures and timeouts.
fn value(r: usize, m: i64) -> StatValue {
    let (r, m) = (r as i64, m);
    let succ = 1 + (r * 7 + m * 3) % 11;
    let ms = 2 + (r + m) % 40;
    let mut v = StatValue {
        succ_count: succ,
        timeout_count: (r + m) % 3,
        exce_count: (r * m) % 4,
        total_time: succ * ms,
        max_rsp_time: ms,
        min_rsp_time: ms,
        ..Default::default()
    };
    v.add_interval(if ms < 10 { 10 } else { 50 }, succ);
    v
}

fn record(pipeline: &Pipeline<StatTable>, r: usize, m: i64) {
    let head = &REPORTS[r];
    let k = StatKeyRef {
        source: head.source,
        master_name: head.master,
        slave_name: head.slave,
        interface_name: head.interface,
        master_ip: head.master_ip,
        slave_ip: head.slave_ip,
        slave_port: head.slave_port,
        return_value: head.return_value,
        tars_version: if head.source == Source::Client { "3.0.22" } else { "" },
        slave_set_name: "",
        slave_set_area: "",
        slave_set_id: "",
    };
    pipeline.record(&k, &value(r, m));
}

/// TarsWeb's request: today, the whole day, `LIKE` conditions, `groupby`.
fn request(conditions: &[(&str, &str)], groupby: &[&str]) -> MonitorRequest {
    MonitorRequest {
        date: DATE.into(),
        tflag1: "0000".into(),
        tflag2: "2360".into(),
        conditions: conditions
            .iter()
            .map(|(f, v)| Condition { field: (*f).into(), op: Op::Like, val: (*v).into() })
            .collect(),
        indexs: INDEXES.iter().map(|i| (*i).to_owned()).collect(),
        groupby: groupby.iter().map(|g| (*g).to_owned()).collect(),
    }
}

/// The request answered the way tarsquerystat answers it (spec §8.1): one `SELECT` per hourly
/// table of the day (`tflag` from `0000` in steps of an hour while `<= 2360`), `sum(index)`s
/// then the group fields with the first `f_date` turned into `DATE_FORMAT(f_date,
/// '%Y%m%d') as f_date`, `where 1=1 and field like 'value'`, values of equal keys added across
/// tables.
async fn tarsquerystat(db: &MariaDb, req: &MonitorRequest) -> Totals {
    let sum_field = req.indexs.iter().map(|i| format!(" sum({i})")).collect::<Vec<_>>().join(", ");
    let group_field = req.groupby.join(", ");
    let select = format!("{sum_field},{group_field}").replacen(
        "f_date",
        "DATE_FORMAT( f_date, '%Y%m%d') as f_date",
        1,
    );
    let mut where_cond = " where 1=1 ".to_owned();
    for c in &req.conditions {
        assert_eq!(c.op, Op::Like);
        where_cond.push_str(&format!(" and {} like '{}'", c.field, c.val.replace('\'', "\\'")));
    }
    let mut totals = Totals::new();
    for hour in 0..24 {
        let table = format!("tars_stat.tars_stat_{}{hour:02}", req.date);
        let sql = format!("select {select} from {table} {where_cond} group by {group_field} order by null");
        let rows: Vec<mysql_async::Row> = db.query(&sql).await;
        for r in rows {
            let cell = |i: usize| -> String {
                match r.as_ref(i).unwrap() {
                    mysql_async::Value::Bytes(b) => String::from_utf8(b.clone()).unwrap(),
                    mysql_async::Value::NULL => String::new(),
                    other => panic!("unexpected {other:?} in {sql}"),
                }
            };
            let n = req.indexs.len();
            let key = (n..n + req.groupby.len()).map(cell).collect::<Vec<_>>().join(",");
            let values: Vec<f64> = (0..n).map(|i| cell(i).parse().unwrap()).collect();
            let entry = totals.entry(key).or_insert_with(|| vec![0.0; n]);
            for (t, v) in entry.iter_mut().zip(values) {
                *t += v;
            }
        }
    }
    totals
}

/// `a - b`, key by key (keys of `b` missing from `a` are an error).
fn minus(a: &Totals, b: &Totals) -> Totals {
    let mut out = a.clone();
    for (k, v) in b {
        let t = out.get_mut(k).unwrap_or_else(|| panic!("{k} only in the subtrahend"));
        for (x, y) in t.iter_mut().zip(v) {
            *x -= y;
        }
    }
    out.retain(|_, v| v.iter().any(|x| *x != 0.0));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_totals_the_old_way_equal_tarsmons_querystat() {
    let db = MariaDb::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), StoreConfig::default()).unwrap());
    let clock = Arc::new(ManualClock::new(TimestampMs(START)));
    let pipeline = Arc::new(
        Pipeline::<StatTable>::open(
            store.clone(),
            clock.clone() as Arc<dyn Clock>,
            PipelineConfig::default(),
        )
        .unwrap(),
    );
    let offset: UtcOffset = "+08:00".parse().unwrap();
    let engine = QueryEngine::start(
        QueryConfig { offset, ..QueryConfig::default() },
        vec![("stat", pipeline.clone() as Arc<dyn TableSource>)],
    )
    .await
    .unwrap();

    // 25 minutes of reports, 09:50-10:15 local: five intervals over two hourly tables.
    for m in 0..25 {
        clock.set(TimestampMs(START + m * MIN + 1_000));
        for r in 0..REPORTS.len() {
            record(&pipeline, r, m);
        }
        pipeline.persist().unwrap();
    }
    clock.set(TimestampMs(START + 30 * MIN + 15_000));
    pipeline.persist().unwrap();
    let config = ExporterConfig {
        time_zone: Some(offset),
        initial_lookback: Duration::from_secs(3600),
        ..ExporterConfig::with_url(&db.root_url())
    };
    let mut exporter = Exporter::new(config, store.clone(), clock.clone() as Arc<dyn Clock>).unwrap();
    let report = exporter.tick().await.unwrap();
    // Every row head is its own MySQL row: 10 heads × 5 intervals.
    assert_eq!((report.exported_intervals, report.stat_rows, report.backlog_intervals), (5, 50, 0));
    exporter.close().await;

    // Rows in the right hourly table with the right labels (the end of each interval).
    let labels: Vec<(String, String, u64)> = db
        .query(
            "SELECT 'tars_stat_2024011509', f_tflag, COUNT(*) FROM tars_stat.tars_stat_2024011509 GROUP BY f_tflag \
             UNION ALL SELECT 'tars_stat_2024011510', f_tflag, COUNT(*) FROM tars_stat.tars_stat_2024011510 \
             GROUP BY f_tflag ORDER BY 1, 2",
        )
        .await;
    let labels: Vec<(&str, &str, u64)> =
        labels.iter().map(|(t, f, n)| (t.as_str(), f.as_str(), *n)).collect();
    assert_eq!(
        labels,
        vec![
            ("tars_stat_2024011509", "0955", 10),
            ("tars_stat_2024011509", "0960", 10),
            ("tars_stat_2024011510", "1005", 10),
            ("tars_stat_2024011510", "1010", 10),
            ("tars_stat_2024011510", "1015", 10),
        ]
    );

    // A server without stat_from_server reports: the same totals, key by key, for each of
    // TarsWeb's views (per 5-minute label, and per day and interface / caller).
    let views: [&[&str]; 3] = [&["f_tflag"], &["f_date", "interface_name"], &["f_date", "master_name"]];
    for groupby in views {
        let req = request(&[("slave_name", "App.Stock")], groupby);
        let mysql = tarsquerystat(&db, &req).await;
        let tarsmon = engine.monitor_stat(&req).await.unwrap().result;
        assert!(!mysql.is_empty());
        assert_eq!(mysql, tarsmon, "group by {groupby:?}");
    }
    // The known total, from the data itself: App.Stock's rows are 4, 5 and 7.
    let succ: i64 = (0..25).flat_map(|m| [4, 5, 7].map(|r| value(r, m).succ_count)).sum();
    let day = engine.monitor_stat(&request(&[("slave_name", "App.Stock")], &["f_date"])).await.unwrap();
    assert_eq!(day.result[DATE][0], succ as f64);

    // A TarsCpp ≥ 3.0.13 server: MySQL adds its own view of the calls (stat_from_server) to
    // the callers'; tarsmon does not. The difference is exactly those rows, and asking for
    // them gives the same numbers from both.
    for groupby in &views[..2] {
        let req = request(&[("slave_name", "App.Order")], groupby);
        let mysql = tarsquerystat(&db, &req).await;
        let tarsmon = engine.monitor_stat(&req).await.unwrap().result;
        let own_view = request(&[("slave_name", "App.Order"), ("master_name", "stat_from_server")], groupby);
        let mysql_own = tarsquerystat(&db, &own_view).await;
        assert!(!mysql_own.is_empty());
        assert_eq!(engine.monitor_stat(&own_view).await.unwrap().result, mysql_own, "group by {groupby:?}");
        assert_eq!(minus(&mysql, &mysql_own), tarsmon, "group by {groupby:?}");
    }
    // Callers that cannot report are counted once, from the callee, by both.
    let req =
        request(&[("slave_name", "App.Order"), ("master_name", "tup_client")], &["f_date", "master_name"]);
    let tup = tarsquerystat(&db, &req).await;
    assert_eq!(tup.len(), 1);
    assert_eq!(engine.monitor_stat(&req).await.unwrap().result, tup);
}
