//! The exporter against a real MariaDB (started by the tests, see `mysql_export/mariadb.rs`):
//! stat slots written into a temporary store come out as rows of the classic tables.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, unreachable_pub)]

#[path = "mysql_export/mariadb.rs"]
mod mariadb;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mariadb::MariaDb;
use tarsmon_compat_mysql::{
    DatabaseKind, ExportEvent, Exporter, ExporterConfig, STAT_CURSOR, StatDatabase, ddl, export_range,
};
use tarsmon_engine::{Store, StoreConfig};
use tarsmon_ingest::stat::{Source, StatBatchBuilder, StatKey, StatValue};
use tarsmon_ingest::time::{Clock, ManualClock, TimestampMs};
use tokio_util::sync::CancellationToken;

const MIN: i64 = 60_000;

fn at(s: &str) -> TimestampMs {
    let dt = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
    TimestampMs(dt.and_utc().timestamp_millis())
}

fn temp_store() -> (tempfile::TempDir, Arc<Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    (dir, Arc::new(store))
}

fn key(interface: &str, source: Source) -> StatKey {
    StatKey {
        source,
        master_name: "App.Caller".into(),
        slave_name: "App.Callee".into(),
        interface_name: interface.into(),
        master_ip: "10.0.0.1".into(),
        slave_ip: "10.0.0.2".into(),
        slave_port: 10000,
        return_value: 0,
        tars_version: "3.0.22".into(),
        slave_set_name: String::new(),
        slave_set_area: String::new(),
        slave_set_id: String::new(),
    }
}

/// `succ` successful calls of `ms` each (bucket `<= 10 ms` or `<= 100 ms`), `fail` failures.
fn calls(succ: i64, ms: i64, fail: i64) -> StatValue {
    let mut v = StatValue {
        succ_count: succ,
        exce_count: fail,
        total_time: succ * ms,
        max_rsp_time: ms,
        min_rsp_time: ms,
        ..Default::default()
    };
    v.add_interval(if ms <= 10 { 10 } else { 100 }, succ);
    v
}

fn write_slot(store: &Store, slot: TimestampMs, rows: &[(StatKey, StatValue)]) {
    let mut b = StatBatchBuilder::with_capacity(rows.len());
    for (k, v) in rows {
        b.append(slot, k, v);
    }
    store.write_slot("stat", slot, &b.finish()).unwrap();
}

fn config(db: &MariaDb) -> ExporterConfig {
    ExporterConfig {
        time_zone: Some("+08:00".parse().unwrap()),
        initial_lookback: Duration::from_secs(2 * 86_400),
        ..ExporterConfig::with_url(&db.root_url())
    }
}

fn new_exporter(config: ExporterConfig, store: &Arc<Store>, clock: &Arc<ManualClock>) -> Exporter {
    Exporter::new(config, store.clone(), clock.clone() as Arc<dyn Clock>).unwrap()
}

fn stored_cursor(store: &Store) -> Option<TimestampMs> {
    store.meta(STAT_CURSOR).unwrap().map(|v| TimestampMs(i64::from_le_bytes(v.try_into().unwrap())))
}

/// The tables of `schema`, sorted by byte value (MySQL's `ORDER BY` follows the collation).
async fn table_names(db: &MariaDb, schema: &str) -> Vec<String> {
    let mut names: Vec<String> = db
        .query(&format!(
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = '{schema}'"
        ))
        .await;
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_become_five_minute_rows_with_tars_labels() {
    let db = MariaDb::start().await;
    let (_dir, store) = temp_store();
    // 01:55-02:04 UTC is 09:55-10:04 at +08:00: two intervals, labelled 0960 (table …09) and
    // 1005 (table …10). Both sides report "get"; they share the table's key and are merged.
    for m in 0..10 {
        let slot = TimestampMs(at("2024-01-15 01:55:00").0 + m * MIN);
        write_slot(
            &store,
            slot,
            &[
                (key("get", Source::Client), calls(10, 4, 1)),
                (key("get", Source::Server), calls(2, 6, 0)),
                (key("put", Source::Client), calls(1, 50, 0)),
            ],
        );
    }
    // An interval not complete yet at the clock below (its end + seal_delay is later).
    write_slot(&store, at("2024-01-15 02:05:00"), &[(key("get", Source::Client), calls(1, 1, 0))]);
    let clock = Arc::new(ManualClock::new(at("2024-01-15 02:10:05")));
    let mut exporter = new_exporter(config(&db), &store, &clock);

    let report = exporter.tick().await.unwrap();
    assert_eq!((report.exported_intervals, report.exported_rows, report.backlog_intervals), (2, 4, 0));
    assert_eq!(stored_cursor(&store), Some(at("2024-01-15 02:05:00")));

    type Row = (String, String, String, String, u32, u32, u32, String, u64, u32, u32, u32);
    let q = |table: &str| {
        format!(
            "SELECT CAST(f_date AS CHAR), f_tflag, source_id, interface_name, succ_count, timeout_count, exce_count, \
             interv_count, total_time, ave_time, maxrsp_time, minrsp_time FROM tars_stat.{table} ORDER BY interface_name"
        )
    };
    let rows: Vec<Row> = db.query(&q("tars_stat_2024011509")).await;
    assert_eq!(
        rows,
        vec![
            (
                "2024-01-15".into(),
                "0960".into(),
                "tarsmon".into(),
                "get".into(),
                60,
                0,
                5,
                "5|0,10|60,50|0,100|0,200|0,500|0,1000|0,2000|0,3000|0".into(),
                260,
                4,
                6,
                4
            ),
            (
                "2024-01-15".into(),
                "0960".into(),
                "tarsmon".into(),
                "put".into(),
                5,
                0,
                0,
                "5|0,10|0,50|0,100|5,200|0,500|0,1000|0,2000|0,3000|0".into(),
                250,
                50,
                50,
                50
            ),
        ]
    );
    let rows: Vec<Row> = db.query(&q("tars_stat_2024011510")).await;
    assert_eq!(rows.iter().map(|r| (r.1.as_str(), r.4)).collect::<Vec<_>>(), vec![("1005", 60), ("1005", 5)]);
    // t_ecstatus as tarsstat keeps it.
    let status: Vec<(String, i8, i16, String)> =
        db.query("SELECT appname, action, checkint, lasttime FROM tars_stat.t_ecstatus").await;
    assert_eq!(status, vec![("tars_stat_tarsmon".into(), 0, 5, "20240115 1005".into())]);

    // Nothing new: nothing written. Then the clock passes the last interval.
    assert_eq!(exporter.tick().await.unwrap().exported_intervals, 0);
    clock.set(at("2024-01-15 02:10:10"));
    assert_eq!(exporter.tick().await.unwrap().exported_intervals, 1);
    let status: Vec<String> = db.query("SELECT lasttime FROM tars_stat.t_ecstatus").await;
    assert_eq!(status, vec!["20240115 1010".to_owned()]);
    let s = exporter.stats().snapshot();
    assert_eq!((s.exported_intervals, s.exported_rows, s.errors, s.backlog_intervals), (3, 5, 0, 0));
    exporter.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_server_gets_yesterdays_todays_and_tomorrows_tables() {
    let db = MariaDb::start().await;
    let (_dir, store) = temp_store();
    // 16:30 UTC is 00:30 on the 16th at +08:00.
    let clock = Arc::new(ManualClock::new(at("2024-01-15 16:30:00")));
    let mut exporter = new_exporter(config(&db), &store, &clock);
    exporter.tick().await.unwrap();
    let tables = table_names(&db, "tars_stat").await;
    let mut expected: Vec<String> = ["20240115", "20240116", "20240117"]
        .iter()
        .flat_map(|d| (0..24).map(move |h| format!("tars_stat_{d}{h:02}")))
        .collect();
    expected.push("t_ecstatus".into());
    expected.sort();
    assert_eq!(tables, expected);
    // The same hours of tars_property, and t_server_notifys.
    let tables = table_names(&db, "tars_property").await;
    let mut expected: Vec<String> = ["20240115", "20240116", "20240117"]
        .iter()
        .flat_map(|d| (0..24).map(move |h| format!("tars_property_{d}{h:02}")))
        .collect();
    expected.extend(["t_ecstatus".into(), "t_tarsmon_export".into()]);
    expected.sort();
    assert_eq!(tables, expected);
    assert_eq!(table_names(&db, "db_tars").await, vec!["t_server_notifys", "t_tarsmon_export"]);
    assert_eq!(exporter.stats().snapshot().tables_created, 72 + 72 + 1);

    // Day rollover: the day after tomorrow appears; nothing is dropped.
    clock.set(at("2024-01-16 16:01:00"));
    exporter.tick().await.unwrap();
    let tables = table_names(&db, "tars_stat").await;
    assert_eq!(tables.len(), 96 + 1);
    assert!(tables.contains(&"tars_stat_2024011823".to_owned()));
    exporter.close().await;

    // Every DDL can run again over what exists (IF NOT EXISTS).
    db.admin(&ddl::property_table("tars_property", "tars_property_2024011509")).await;
    db.admin(&ddl::ecstatus_table("tars_property")).await;
    db.admin(&ddl::export_marker_table("tars_property")).await;
    db.admin(&ddl::server_notifys_table("db_tars")).await;
    assert_eq!(table_names(&db, "db_tars").await, vec!["t_server_notifys", "t_tarsmon_export"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_create_is_retried_reported_and_recovers() {
    let db = MariaDb::start().await;
    db.admin("CREATE USER 'exporter'@'127.0.0.1' IDENTIFIED BY 'pw'").await;
    let databases = ["tars_stat", "tars_property", "db_tars"];
    for name in databases {
        db.admin(&format!("CREATE DATABASE {name}")).await;
        // Everything but CREATE.
        db.admin(&format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE, DROP ON {name}.* TO 'exporter'@'127.0.0.1'"
        ))
        .await;
    }
    let (_dir, store) = temp_store();
    write_slot(&store, at("2024-01-15 01:55:00"), &[(key("get", Source::Client), calls(3, 4, 0))]);
    let clock = Arc::new(ManualClock::new(at("2024-01-15 02:01:00")));
    let config = ExporterConfig { url: db.url("exporter", "pw"), ..config(&db) };
    let mut exporter = new_exporter(config, &store, &clock);

    for _ in 0..2 {
        let e = exporter.tick().await.unwrap_err();
        assert!(e.to_string().contains("CREATE TABLE"), "{e}");
    }
    let s = exporter.stats().snapshot();
    assert!(s.table_errors >= 2 && s.errors >= 2, "{s:?}");
    assert!(s.last_error.as_deref().unwrap().contains("denied"), "{s:?}");
    assert_eq!(s.backlog_intervals, 1);
    // The empty intervals before the data are skipped; the cursor stops at the unexported one.
    assert_eq!(stored_cursor(&store), Some(at("2024-01-15 01:55:00")));
    assert!(table_names(&db, "tars_stat").await.is_empty());

    // The DBA fixes the grants: the next tick creates everything and exports the interval.
    for name in databases {
        db.admin(&format!("GRANT CREATE ON {name}.* TO 'exporter'@'127.0.0.1'")).await;
    }
    let report = exporter.tick().await.unwrap();
    assert_eq!((report.exported_intervals, report.backlog_intervals), (1, 0));
    assert_eq!(stored_cursor(&store), Some(at("2024-01-15 02:00:00")));
    assert_eq!(table_names(&db, "tars_stat").await.len(), 72 + 1);
    let succ: Vec<u32> = db.query("SELECT succ_count FROM tars_stat.tars_stat_2024011509").await;
    assert_eq!(succ, vec![3]);
    exporter.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_loses_nothing_and_duplicates_nothing() {
    let mut db = MariaDb::start().await;
    let (_dir, store) = temp_store();
    let start = at("2024-01-15 02:00:00");
    let slot_rows = |m: i64| -> Vec<(StatKey, StatValue)> {
        (0..5).map(|i| (key(&format!("f{i}"), Source::Client), calls(m + 1, 3, 0))).collect()
    };
    let clock = Arc::new(ManualClock::new(start));
    let mut exporter = new_exporter(config(&db), &store, &clock);
    // Interval 0 is exported while MariaDB is up.
    for m in 0..5 {
        write_slot(&store, TimestampMs(start.0 + m * MIN), &slot_rows(m));
    }
    clock.set(TimestampMs(start.0 + 5 * MIN + 15_000));
    assert_eq!(exporter.tick().await.unwrap().exported_intervals, 1);

    // MariaDB goes away for intervals 1..=3; reports keep arriving.
    db.stop();
    for m in 5..20 {
        write_slot(&store, TimestampMs(start.0 + m * MIN), &slot_rows(m));
        clock.set(TimestampMs(start.0 + (m + 1) * MIN + 15_000));
        if (m + 1) % 5 == 0 {
            assert!(exporter.tick().await.is_err());
        }
    }
    let s = exporter.stats().snapshot();
    assert_eq!(s.backlog_intervals, 3);
    assert!(s.last_error.is_some() && s.errors >= 3, "{s:?}");
    assert_eq!(stored_cursor(&store), Some(TimestampMs(start.0 + 5 * MIN)));

    // Back: the backlog drains in order (a stale pooled connection may cost one more tick).
    db.restart().await;
    let mut ticks = 0;
    while exporter.stats().snapshot().backlog_intervals > 0 || ticks == 0 {
        ticks += 1;
        assert!(ticks <= 5, "backlog not drained: {:?}", exporter.stats().snapshot());
        let _ = exporter.tick().await;
    }
    assert_eq!(stored_cursor(&store), Some(TimestampMs(start.0 + 20 * MIN)));

    let expected = |interval: i64| -> u64 { (0..5).map(|m| (interval * 5 + m + 1) as u64).sum::<u64>() * 5 };
    let check = || async {
        let per_tflag: Vec<(String, u64, u64)> = db
            .query("SELECT f_tflag, COUNT(*), CAST(SUM(succ_count) AS UNSIGNED) FROM tars_stat.tars_stat_2024011510 \
                    GROUP BY f_tflag ORDER BY f_tflag")
            .await;
        assert_eq!(
            per_tflag,
            vec![
                ("1005".into(), 5, expected(0)),
                ("1010".into(), 5, expected(1)),
                ("1015".into(), 5, expected(2)),
                ("1020".into(), 5, expected(3)),
            ]
        );
    };
    check().await;
    exporter.close().await;

    // A crash after writing but before the cursor moved looks like an older cursor: the
    // intervals are written again and nothing is duplicated.
    store.put_meta(STAT_CURSOR, &start.0.to_le_bytes()).unwrap();
    let mut again = new_exporter(config(&db), &store, &clock);
    assert_eq!(again.tick().await.unwrap().exported_intervals, 4);
    check().await;
    again.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_spread_over_several_databases_with_correct_totals() {
    let db = MariaDb::start().await;
    let (_dir, store) = temp_store();
    let rows: Vec<_> = (0..60).map(|i| (key(&format!("f{i}"), Source::Client), calls(i + 1, 2, 1))).collect();
    write_slot(&store, at("2024-01-15 01:55:00"), &rows);
    let clock = Arc::new(ManualClock::new(at("2024-01-15 02:01:00")));
    let names = ["tars_stat", "tars_stat_b", "tars_stat_c"];
    let config = ExporterConfig {
        stat_databases: names.iter().map(|n| StatDatabase::named(n)).collect(),
        ..config(&db)
    };
    let mut exporter = new_exporter(config, &store, &clock);
    exporter.tick().await.unwrap();
    let mut total_rows = 0;
    let mut total_succ = 0;
    for name in names {
        let (n, succ, fail): (u64, u64, u64) = db
            .query(&format!(
                "SELECT COUNT(*), CAST(COALESCE(SUM(succ_count), 0) AS UNSIGNED), CAST(COALESCE(SUM(exce_count), 0) AS UNSIGNED) \
                 FROM {name}.tars_stat_2024011509"
            ))
            .await[0];
        assert!(n > 5, "{name} got {n} rows");
        assert_eq!(fail, n);
        total_rows += n;
        total_succ += succ;
        let status: Vec<String> = db.query(&format!("SELECT lasttime FROM {name}.t_ecstatus")).await;
        assert_eq!(status, vec!["20240115 0960".to_owned()]);
        assert_eq!(table_names(&db, name).await.len(), 72 + 1);
    }
    assert_eq!((total_rows, total_succ), (60, (1..=60).sum()));
    exporter.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_drops_exactly_the_old_tables() {
    let db = MariaDb::start().await;
    db.admin("CREATE DATABASE tars_stat").await;
    let mut old = Vec::new();
    for h in 0..24 {
        old.push(format!("tars_stat_20240110{h:02}"));
    }
    old.push("tars_stat_2024011123".into());
    let kept = ["tars_stat_2024011200", "tars_stat_2024011223", "tars_stat_keepme", "tars_stat_20240101"];
    for t in old.iter().map(String::as_str).chain(kept) {
        db.admin(&ddl::stat_table("tars_stat", t)).await;
    }
    let (_dir, store) = temp_store();
    // Local date 2024-01-15; 3 days of retention keep the 12th onwards.
    let clock = Arc::new(ManualClock::new(at("2024-01-15 02:00:00")));
    let config = ExporterConfig { retention_days: 3, ..config(&db) };
    let mut exporter = new_exporter(config, &store, &clock);
    exporter.tick().await.unwrap();
    let tables = table_names(&db, "tars_stat").await;
    for t in &old {
        assert!(!tables.contains(t), "{t} should be dropped");
    }
    for t in kept {
        assert!(tables.contains(&t.to_owned()), "{t} should be kept");
    }
    assert_eq!(exporter.stats().snapshot().tables_dropped, 25);
    // Yesterday, today, tomorrow + the 4 kept + t_ecstatus.
    assert_eq!(tables.len(), 72 + 4 + 1);
    exporter.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_range_backfills_without_touching_the_cursor() {
    let db = MariaDb::start().await;
    let (_dir, store) = temp_store();
    let start = at("2024-01-14 23:50:00"); // 07:50 local
    for i in 0..6 {
        write_slot(
            &store,
            TimestampMs(start.0 + i * 5 * MIN),
            &[(key("f", Source::Client), calls(i + 1, 3, 0))],
        );
    }
    let mut seen = Vec::new();
    let summary =
        export_range(store.clone(), &config(&db), start, TimestampMs(start.0 + 30 * MIN), |done, total| {
            seen.push((done, total));
        })
        .await
        .unwrap();
    assert_eq!((summary.intervals, summary.stat_rows, summary.rows), (6, 6, 6));
    assert_eq!(seen.first(), Some(&(0, 6)));
    assert_eq!(seen.last(), Some(&(6, 6)));
    let rows: Vec<(String, u32)> = db
        .query(
            "SELECT f_tflag, succ_count FROM tars_stat.tars_stat_2024011507 UNION ALL \
                SELECT f_tflag, succ_count FROM tars_stat.tars_stat_2024011508 ORDER BY 1",
        )
        .await;
    assert_eq!(
        rows,
        vec![
            ("0755".into(), 1),
            ("0760".into(), 2),
            ("0805".into(), 3),
            ("0810".into(), 4),
            ("0815".into(), 5),
            ("0820".into(), 6),
        ]
    );
    assert_eq!(stored_cursor(&store), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_started_loop_exports_and_stops_on_shutdown() {
    let db = MariaDb::start().await;
    let (_dir, store) = temp_store();
    write_slot(&store, at("2024-01-15 01:55:00"), &[(key("get", Source::Client), calls(7, 4, 0))]);
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(at("2024-01-15 02:01:00")));
    let shutdown = CancellationToken::new();
    let config = ExporterConfig { poll_interval: Duration::from_millis(50), ..config(&db) };
    let (task, stats) = Exporter::start(config, store.clone(), clock, shutdown.clone()).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while stats.snapshot().exported_intervals == 0 {
        assert!(std::time::Instant::now() < deadline, "nothing exported: {:?}", stats.snapshot());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), task).await.expect("exporter stops").unwrap();
    let succ: Vec<u32> = db.query("SELECT succ_count FROM tars_stat.tars_stat_2024011509").await;
    assert_eq!(succ, vec![7]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_emits_one_failing_and_one_recovered_event() {
    let mut db = MariaDb::start().await;
    let (_dir, store) = temp_store();
    let start = at("2024-01-15 02:00:00");
    let clock = Arc::new(ManualClock::new(start));
    let events: Arc<Mutex<Vec<ExportEvent>>> = Arc::default();
    let seen = events.clone();
    let mut exporter = new_exporter(config(&db), &store, &clock)
        .with_hook(Arc::new(move |e: &ExportEvent| seen.lock().unwrap().push(e.clone())));
    let events = || events.lock().unwrap().clone();
    let slot = |m: i64| {
        write_slot(
            &store,
            TimestampMs(start.0 + m * MIN),
            &[(key("get", Source::Client), calls(m + 1, 3, 0))],
        );
    };
    // Healthy ticks emit nothing.
    for m in 0..5 {
        slot(m);
    }
    clock.set(TimestampMs(start.0 + 5 * MIN + 15_000));
    exporter.tick().await.unwrap();
    exporter.tick().await.unwrap();
    assert_eq!(events(), vec![]);
    assert!(!exporter.stats().snapshot().failing);

    // MariaDB goes away while reports keep coming: one Failing event, however many ticks fail.
    db.stop();
    for m in 5..20 {
        slot(m);
        clock.set(TimestampMs(start.0 + (m + 1) * MIN + 15_000));
        if (m + 1) % 5 == 0 {
            assert!(exporter.tick().await.is_err());
            assert!(exporter.tick().await.is_err());
        }
    }
    let got = events();
    assert_eq!(got.len(), 1, "{got:?}");
    let ExportEvent::Failing { error, backlog_intervals, notify_backlog_slots } = &got[0] else {
        panic!("expected Failing, got {got:?}");
    };
    // Raised on the first failed tick, when the first interval of the outage was waiting.
    assert_eq!((*backlog_intervals, *notify_backlog_slots), (1, 0));
    assert!(error.contains("127.0.0.1:") && error.contains("tars_stat"), "{error}");
    assert!(got[0].message().starts_with("MySQL export failing: MySQL 127.0.0.1:"), "{}", got[0]);
    let s = exporter.stats().snapshot();
    assert!(s.failing);
    assert_eq!(s.backlog_intervals, 3);
    // The stat database failed its last write; the property database had nothing to write.
    let health: Vec<(&str, DatabaseKind, bool)> =
        s.databases.iter().map(|d| (d.name.as_str(), d.kind, d.up)).collect();
    assert_eq!(
        health,
        vec![("tars_stat", DatabaseKind::Stat, false), ("tars_property", DatabaseKind::Property, true)]
    );

    // Back: one Recovered event on the first tick that succeeds (a stale pooled connection may
    // fail one more tick, which is still the same outage).
    db.restart().await;
    let mut ticks = 0;
    while exporter.tick().await.is_err() {
        ticks += 1;
        assert!(ticks <= 3, "not recovered: {:?}", exporter.stats().snapshot());
    }
    exporter.tick().await.unwrap();
    let got = events();
    assert_eq!(got.len(), 2, "{got:?}");
    // Twelve intervals fit in one tick: the three waiting ones were written by it.
    assert_eq!(got[1], ExportEvent::Recovered { backlog_intervals: 0, notify_backlog_slots: 0 });
    assert_eq!(got[1].message(), "MySQL export recovered; backlog 0 intervals");
    let s = exporter.stats().snapshot();
    assert!(!s.failing);
    assert!(s.databases.iter().all(|d| d.up), "{s:?}");
    assert_eq!(stored_cursor(&store), Some(TimestampMs(start.0 + 20 * MIN)));

    // A second outage is a second event.
    db.stop();
    slot(20);
    clock.set(TimestampMs(start.0 + 25 * MIN + 15_000));
    assert!(exporter.tick().await.is_err());
    let got = events();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got[2].is_failing());
    exporter.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_health_is_tracked_per_database() {
    let db = MariaDb::start().await;
    // A port nothing listens on: the second stat database is unreachable.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (_dir, store) = temp_store();
    let rows: Vec<_> = (0..20).map(|i| (key(&format!("f{i}"), Source::Client), calls(1, 2, 0))).collect();
    write_slot(&store, at("2024-01-15 01:55:00"), &rows);
    let clock = Arc::new(ManualClock::new(at("2024-01-15 02:01:00")));
    let far = format!("mysql://root@127.0.0.1:{closed}");
    let config = ExporterConfig {
        stat_databases: vec![
            StatDatabase::named("tars_stat"),
            StatDatabase { name: "tars_stat_far".into(), url: Some(far) },
        ],
        timeout: Duration::from_secs(5),
        ..config(&db)
    };
    let mut exporter = new_exporter(config, &store, &clock);
    let before = exporter.stats().snapshot();
    assert!(before.databases.iter().all(|d| d.up) && !before.failing, "nothing has failed yet");
    assert!(exporter.tick().await.is_err());
    let s = exporter.stats().snapshot();
    let health: Vec<(&str, &str, bool)> =
        s.databases.iter().map(|d| (d.name.as_str(), d.server.as_str(), d.up)).collect();
    let near = db.root_url().trim_start_matches("mysql://root@").to_owned();
    let far_server = format!("127.0.0.1:{closed}");
    assert_eq!(
        health,
        vec![
            ("tars_stat", near.as_str(), true),
            ("tars_stat_far", far_server.as_str(), false),
            ("tars_property", near.as_str(), true)
        ]
    );
    assert!(s.failing);
    exporter.close().await;
}
