//! SQL and MonitorQuery over a real store and pipeline, checked against a simple model.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Int64Type;
use proptest::prelude::*;
use tarsmon_engine::{Store, StoreConfig};
use tarsmon_ingest::stat::{Source, StatKeyRef, StatValue};
use tarsmon_ingest::time::{Clock, ManualClock, TimestampMs, UtcOffset};
use tarsmon_ingest::{Pipeline, PipelineConfig, StatTable};
use tarsmon_query::{Condition, MonitorRequest, Op, QueryConfig, QueryEngine, TableSource};

/// 2024-01-15 00:00:00 at +08:00.
const DAY_START: i64 = 1_705_248_000_000;

struct World {
    _dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    pipeline: Arc<Pipeline<StatTable>>,
    engine: QueryEngine,
}

async fn world(start: i64) -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(TimestampMs(start)));
    let store = Arc::new(Store::open(dir.path(), StoreConfig::default()).unwrap());
    let pipeline = Arc::new(
        Pipeline::<StatTable>::open(store, clock.clone() as Arc<dyn Clock>, PipelineConfig::default())
            .unwrap(),
    );
    let engine = QueryEngine::start(
        QueryConfig { offset: "+08:00".parse::<UtcOffset>().unwrap(), ..QueryConfig::default() },
        vec![("stat", pipeline.clone() as Arc<dyn TableSource>)],
    )
    .await
    .unwrap();
    World { _dir: dir, clock, pipeline, engine }
}

fn report(p: &Pipeline<StatTable>, source: Source, master: &str, iface: &str, succ: i64) {
    let k = StatKeyRef {
        source,
        master_name: master,
        slave_name: "App.S",
        interface_name: iface,
        master_ip: "1.1.1.1",
        slave_ip: "2.2.2.2",
        slave_port: 1,
        return_value: 0,
        tars_version: "",
        slave_set_name: "",
        slave_set_area: "",
        slave_set_id: "",
    };
    let mut v = StatValue {
        succ_count: succ,
        exce_count: 1,
        total_time: succ * 2,
        max_rsp_time: 2,
        ..Default::default()
    };
    v.add_interval(5, succ);
    p.record(&k, &v);
}

async fn int_rows(e: &QueryEngine, sql: &str) -> BTreeMap<String, i64> {
    let out = e.sql(sql).await.unwrap();
    let mut m = BTreeMap::new();
    for b in &out.batches {
        let k = datafusion::arrow::compute::cast(b.column(0), &datafusion::arrow::datatypes::DataType::Utf8)
            .unwrap();
        let k = k.as_string::<i32>();
        let v = datafusion::arrow::compute::cast(b.column(1), &datafusion::arrow::datatypes::DataType::Int64)
            .unwrap();
        let v = v.as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            m.insert(k.value(i).to_owned(), if v.is_null(i) { 0 } else { v.value(i) });
        }
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_views_and_monitor_ranges() {
    // 09:58 local (+08:00) on 2024-01-15.
    let w = world(DAY_START + (9 * 60 + 58) * 60_000).await;
    report(&w.pipeline, Source::Client, "App.M", "f", 3);
    w.clock.advance(Duration::from_secs(120)); // 10:00 → interval 1005
    report(&w.pipeline, Source::Client, "App.M", "f", 4);
    w.pipeline.persist().unwrap();
    let flags = int_rows(&w.engine, "SELECT f_tflag, succ_count FROM tars_stat ORDER BY f_tflag").await;
    assert_eq!(flags, BTreeMap::from([("0960".into(), 3), ("1005".into(), 4)]));
    let dates =
        int_rows(&w.engine, "SELECT CAST(f_date AS VARCHAR), sum(succ_count) FROM tars_stat GROUP BY f_date")
            .await;
    assert_eq!(dates, BTreeMap::from([("2024-01-15".into(), 7)]));

    let req = |t1: &str, t2: &str| MonitorRequest {
        date: "20240115".into(),
        tflag1: t1.into(),
        tflag2: t2.into(),
        conditions: vec![Condition { field: "slave_name".into(), op: Op::Like, val: "App.%".into() }],
        indexs: vec!["succ_count".into(), "exce_count".into()],
        groupby: vec!["f_tflag".into()],
    };
    let all = w.engine.monitor_stat(&req("0000", "2360")).await.unwrap();
    assert_eq!(all.result.get("0960"), Some(&vec![3.0, 1.0]));
    assert_eq!(all.result.get("1005"), Some(&vec![4.0, 1.0]));
    // The range is honoured exactly (the original read whole hourly tables).
    let only = w.engine.monitor_stat(&req("0960", "0960")).await.unwrap();
    assert_eq!(only.result.keys().collect::<Vec<_>>(), vec!["0960"]);
    let late = w.engine.monitor_stat(&req("1005", "2360")).await.unwrap();
    assert_eq!(late.result.keys().collect::<Vec<_>>(), vec!["1005"]);
    // f_date grouping gives YYYYMMDD keys.
    let mut by_date = req("0000", "2360");
    by_date.groupby = vec!["f_date".into(), "master_name".into()];
    let r = w.engine.monitor_stat(&by_date).await.unwrap();
    assert_eq!(r.result.get("20240115,App.M"), Some(&vec![7.0, 2.0]));
    // Unknown names and malformed dates are errors, not SQL.
    for bad in [
        MonitorRequest { groupby: vec!["f_tflag; drop".into()], ..req("0000", "2360") },
        MonitorRequest { indexs: vec!["sleep(1)".into()], ..req("0000", "2360") },
        MonitorRequest { date: "2024-13-45".into(), ..req("0000", "2360") },
        MonitorRequest { tflag1: "9999".into(), ..req("0000", "2360") },
    ] {
        assert!(w.engine.monitor_stat(&bad).await.is_err(), "{bad:?}");
    }
    // Values are literals: a quote cannot escape.
    let mut quoted = req("0000", "2360");
    quoted.conditions =
        vec![Condition { field: "master_name".into(), op: Op::Eq, val: "x' OR '1'='1".into() }];
    assert!(w.engine.monitor_stat(&quoted).await.unwrap().result.is_empty());
    // lastTime: the interval [09:55, 10:00) is sealed and complete.
    assert_eq!(all.last_time, "20240115 0960");
    // TarsWeb's filters are all exact at the scan: DataFusion does not filter rows again.
    let explain = w
        .engine
        .sql(&format!(
            "EXPLAIN SELECT sum(succ_count) FROM stat WHERE time >= to_timestamp_millis({DAY_START}) \
             AND slave_name LIKE 'App.S' AND (source = 'client' OR master_name IN ('tup_client'))"
        ))
        .await
        .unwrap();
    let text: String = explain
        .batches
        .iter()
        .flat_map(|b| (0..b.num_rows()).map(move |i| b.column(1).as_string::<i32>().value(i).to_owned()))
        .collect();
    assert!(!text.contains("FilterExec"), "{text}");
    // Not so for a condition the scan cannot test.
    let explain =
        w.engine.sql("EXPLAIN SELECT sum(succ_count) FROM stat WHERE slave_name LIKE 'App.%'").await.unwrap();
    let text: String = explain
        .batches
        .iter()
        .flat_map(|b| (0..b.num_rows()).map(move |i| b.column(1).as_string::<i32>().value(i).to_owned()))
        .collect();
    assert!(text.contains("FilterExec"), "{text}");
}

#[derive(Debug, Clone)]
enum Step {
    Report { master: u8, iface: u8, server: bool, n: i64 },
    Advance(u64),
    Persist,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0u8..3, 0u8..4, any::<bool>(), 1i64..50).prop_map(|(master, iface, server, n)| Step::Report { master, iface, server, n }),
        2 => (0u64..400_000).prop_map(Step::Advance),
        1 => Just(Step::Persist),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    /// SQL group-by sums over sealed and open data equal a model's, per interval and per key.
    #[test]
    fn sql_sums_equal_the_model(steps in proptest::collection::vec(step(), 1..40)) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let w = world(DAY_START + 3_600_000).await;
            let mut by_key: BTreeMap<String, i64> = BTreeMap::new();
            let mut by_flag: BTreeMap<String, i64> = BTreeMap::new();
            let mut by_slot: BTreeMap<i64, i64> = BTreeMap::new();
            let offset: UtcOffset = "+08:00".parse().unwrap();
            for s in steps {
                match s {
                    Step::Report { master, iface, server, n } => {
                        let (m, f) = (format!("App.M{master}"), format!("f{iface}"));
                        let source = if server { Source::Server } else { Source::Client };
                        report(&w.pipeline, source, &m, &f, n);
                        *by_key.entry(format!("{}|{m}|{f}", source_str(server))).or_default() += n;
                        let label = tarsmon_ingest::time::TarsLabel::of(w.clock.now(), offset);
                        *by_flag.entry(label.tflag_str().to_owned()).or_default() += n;
                        *by_slot.entry(w.pipeline.current_slot().0).or_default() += n;
                    }
                    Step::Advance(ms) => w.clock.advance(Duration::from_millis(ms)),
                    Step::Persist => w.pipeline.persist().unwrap(),
                }
            }
            let sql = "SELECT concat(source, '|', master_name, '|', interface_name), sum(succ_count) FROM stat GROUP BY 1";
            assert_eq!(int_rows(&w.engine, sql).await, by_key);
            let flags = int_rows(&w.engine, "SELECT f_tflag, sum(succ_count) FROM tars_stat GROUP BY f_tflag").await;
            assert_eq!(flags, by_flag);
            // Equality and wildcard-free LIKE on text columns are applied while chunks are
            // decoded; the answers must not change (nor for a wildcard, not pushed down).
            for (cond, wanted) in [
                ("master_name = 'App.M1'", "|App.M1|"),
                ("master_name LIKE 'App.M2'", "|App.M2|"),
                ("'f3' = interface_name", "|f3"),
                ("master_name LIKE 'App.M%' AND source = 'server'", "server|"),
            ] {
                let sql = format!("SELECT concat(source, '|', master_name, '|', interface_name), sum(succ_count) FROM stat WHERE {cond} GROUP BY 1");
                let want: BTreeMap<String, i64> =
                    by_key.iter().filter(|(k, _)| k.contains(wanted)).map(|(k, v)| (k.clone(), *v)).collect();
                assert_eq!(int_rows(&w.engine, &sql).await, want, "{cond}");
            }
            // IN lists and ORs of text conditions are tested exactly while decoding too.
            let any_of = |parts: &[&str]| -> BTreeMap<String, i64> {
                by_key.iter().filter(|(k, _)| parts.iter().any(|p| k.contains(p))).map(|(k, v)| (k.clone(), *v)).collect()
            };
            for (cond, parts) in [
                ("master_name IN ('App.M0', 'App.M2')", &["|App.M0|", "|App.M2|"][..]),
                ("source = 'server' OR master_name = 'App.M1'", &["server|", "|App.M1|"][..]),
                ("(master_name = 'App.M1' OR interface_name IN ('f0', 'f3')) AND source = 'client'", &[][..]),
            ] {
                let sql = format!("SELECT concat(source, '|', master_name, '|', interface_name), sum(succ_count) FROM stat WHERE {cond} GROUP BY 1");
                let want = if parts.is_empty() {
                    by_key.iter()
                        .filter(|(k, _)| k.starts_with("client|") && (k.contains("|App.M1|") || k.ends_with("|f0") || k.ends_with("|f3")))
                        .map(|(k, v)| (k.clone(), *v)).collect()
                } else {
                    any_of(parts)
                };
                assert_eq!(int_rows(&w.engine, &sql).await, want, "{cond}");
            }
            // Time ranges are exact (the table's rows carry their slot's start).
            let mid = DAY_START + 3_600_000 + 120_000;
            for (cond, keep) in [
                (format!("time >= to_timestamp_millis({mid})"), &(|t: i64| t >= mid) as &dyn Fn(i64) -> bool),
                (format!("time > to_timestamp_millis({mid})"), &|t: i64| t > mid),
                (format!("time < to_timestamp_millis({mid})"), &|t: i64| t < mid),
                (format!("time <= to_timestamp_millis({mid}) AND time > to_timestamp_millis({})", mid - 60_000), &|t: i64| t <= mid && t > mid - 60_000),
                (format!("time BETWEEN to_timestamp_millis({}) AND to_timestamp_millis({mid})", mid - 60_000), &|t: i64| t >= mid - 60_000 && t <= mid),
            ] {
                let sql = format!("SELECT 'all', sum(succ_count) FROM stat WHERE {cond} HAVING count(*) > 0");
                let total: i64 = by_slot.iter().filter(|(t, _)| keep(**t)).map(|(_, n)| n).sum();
                let want: BTreeMap<String, i64> = if by_slot.keys().any(|t| keep(*t)) { BTreeMap::from([("all".to_owned(), total)]) } else { BTreeMap::new() };
                assert_eq!(int_rows(&w.engine, &sql).await, want, "{cond}");
            }
            let none = "SELECT 'x', count(*) FROM stat WHERE master_name = 'nobody' HAVING count(*) > 0";
            assert!(int_rows(&w.engine, none).await.is_empty());
        });
    }
}

fn source_str(server: bool) -> &'static str {
    if server { "server" } else { "client" }
}

/// Notifications keep their own time within the slot they were received in: a time filter
/// that starts inside a slot still finds the later rows of that slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_time_filters_inside_a_slot() {
    use tarsmon_ingest::NotifyTable;
    use tarsmon_ingest::notify::{
        NotifyEntry, NotifyKind, NotifyLevel, NotifyRecord, NotifyReport, NotifyValue,
    };
    let dir = tempfile::tempdir().unwrap();
    let start = DAY_START + 3_600_000; // a slot start
    let clock = Arc::new(ManualClock::new(TimestampMs(start)));
    let store = Arc::new(Store::open(dir.path(), StoreConfig::default()).unwrap());
    let notify = Arc::new(
        Pipeline::<NotifyTable>::open(store, clock.clone() as Arc<dyn Clock>, PipelineConfig::default())
            .unwrap(),
    );
    let engine =
        QueryEngine::start(QueryConfig::default(), vec![("notify", notify.clone() as Arc<dyn TableSource>)])
            .await
            .unwrap();
    for secs in [10, 40, 50] {
        let report = NotifyReport {
            kind: NotifyKind::Report,
            app: "App",
            set: "",
            container: "",
            server: "S",
            message: "m",
            thread_id: "1",
            level: NotifyLevel::Normal,
            node_name: "n1",
        };
        let at = TimestampMs(start + secs * 1000);
        notify.record(&NotifyEntry::new(NotifyRecord::from_report(&report, "10.0.0.1", at)), &NotifyValue);
    }
    let count = |sql: String| {
        let engine = &engine;
        async move {
            let out = engine.sql(&sql).await.unwrap();
            let b = &out.batches[0];
            datafusion::arrow::compute::cast(b.column(0), &datafusion::arrow::datatypes::DataType::Int64)
                .unwrap()
                .as_primitive::<Int64Type>()
                .value(0)
        }
    };
    let from = start + 30_000;
    let sql = |from: i64| format!("SELECT count(*) FROM notify WHERE time >= to_timestamp_millis({from})");
    assert_eq!(count(sql(from)).await, 2, "open slot");
    clock.advance(Duration::from_secs(120));
    notify.persist().unwrap();
    assert_eq!(count(sql(from)).await, 2, "sealed slot");
    assert_eq!(
        count(format!("SELECT count(*) FROM notify WHERE time < to_timestamp_millis({from})")).await,
        1
    );
}
