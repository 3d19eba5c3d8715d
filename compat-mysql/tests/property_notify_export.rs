//! The property and notify export against a real MariaDB (started by the tests, see
//! `mysql_export/mariadb.rs`): reports recorded through the ingest pipelines into a temporary
//! store come out as rows of `tars_property.tars_property_YYYYMMDDHH` and
//! `db_tars.t_server_notifys`, once each, across outages, failed transactions and restarts.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, unreachable_pub)]

// Shared with other test binaries; it allows the parts this one does not use.
#[path = "mysql_export/mariadb.rs"]
mod mariadb;

use std::sync::Arc;
use std::time::Duration;

use mariadb::MariaDb;
use tarsmon_compat_mysql::{Exporter, ExporterConfig, NOTIFY_CURSOR, PROPERTY_CURSOR, ddl, export_range};
use tarsmon_engine::{Store, StoreConfig};
use tarsmon_ingest::notify::{NotifyEntry, NotifyKind, NotifyLevel, NotifyRecord, NotifyReport, NotifyValue};
use tarsmon_ingest::property::{PropertyKeyRef, parse_report};
use tarsmon_ingest::time::{Clock, ManualClock, TimestampMs};
use tarsmon_ingest::{NotifyTable, Pipeline, PipelineConfig, PropertyTable};

const MIN: i64 = 60_000;

/// `YYYY-MM-DD HH:MM:SS[.mmm]` UTC.
fn at(s: &str) -> TimestampMs {
    let format = if s.contains('.') { "%Y-%m-%d %H:%M:%S%.f" } else { "%Y-%m-%d %H:%M:%S" };
    let dt = chrono::NaiveDateTime::parse_from_str(s, format).unwrap();
    TimestampMs(dt.and_utc().timestamp_millis())
}

fn plus(t: TimestampMs, ms: i64) -> TimestampMs {
    TimestampMs(t.0 + ms)
}

/// A store, a clock, and the property and notify pipelines writing into it.
struct Ingest {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    clock: Arc<ManualClock>,
    property: Pipeline<PropertyTable>,
    notify: Pipeline<NotifyTable>,
}

impl Ingest {
    fn new(start: TimestampMs) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), StoreConfig::default()).unwrap());
        let clock = Arc::new(ManualClock::new(start));
        let config = PipelineConfig { shards: 2, ..PipelineConfig::default() };
        let property =
            Pipeline::open(store.clone(), clock.clone() as Arc<dyn Clock>, config.clone()).unwrap();
        let notify = Pipeline::open(store.clone(), clock.clone() as Arc<dyn Clock>, config).unwrap();
        Self { _dir: dir, store, clock, property, notify }
    }

    /// Moves the clock to `t` and seals what has ended.
    fn set(&self, t: TimestampMs) {
        self.clock.set(t);
        self.property.persist().unwrap();
        self.notify.persist().unwrap();
    }

    /// Records one `{policy, value}` item of property `name`, as tarsproperty receives it.
    fn property(&self, name: &str, policy: &str, value: &str) {
        let key = PropertyKeyRef {
            module_name: "App.Server",
            ip: "10.0.0.7",
            property_name: name,
            set_name: "mtt",
            set_area: "sz",
            set_id: "1",
            policy,
        };
        let value = parse_report(policy, value).unwrap().expect("a value to record");
        self.property.record(&key, &value);
    }

    /// Records one notification received now from `peer`.
    fn notify(&self, report: &NotifyReport<'_>, peer: &str) {
        let slot = self.notify.current_slot();
        let entry = NotifyEntry::new(NotifyRecord::from_report(report, peer, self.clock.now().max(slot)));
        self.notify.record_in(slot, &entry, &NotifyValue);
    }

    fn exporter(&self, config: ExporterConfig) -> Exporter {
        Exporter::new(config, self.store.clone(), self.clock.clone() as Arc<dyn Clock>).unwrap()
    }

    fn cursor(&self, name: &str) -> Option<TimestampMs> {
        self.store.meta(name).unwrap().map(|v| TimestampMs(i64::from_le_bytes(v.try_into().unwrap())))
    }
}

fn config(db: &MariaDb) -> ExporterConfig {
    ExporterConfig {
        time_zone: Some("+08:00".parse().unwrap()),
        initial_lookback: Duration::from_secs(2 * 86_400),
        ..ExporterConfig::with_url(&db.root_url())
    }
}

fn report<'a>(message: &'a str, set: &'a str) -> NotifyReport<'a> {
    NotifyReport {
        kind: NotifyKind::Report,
        app: "Test",
        set,
        container: "c1",
        server: "HelloServer",
        message,
        thread_id: "1234",
        level: NotifyLevel::Normal,
        node_name: "",
    }
}

type PropertyRow = (String, String, String, String, String, String, String, String, String, String);

async fn property_rows(db: &MariaDb, table: &str) -> Vec<PropertyRow> {
    db.query(&format!(
        "SELECT CAST(f_date AS CHAR), f_tflag, master_name, master_ip, property_name, set_name, set_area, set_id, \
         policy, value FROM tars_property.{table} ORDER BY property_name, policy"
    ))
    .await
}

async fn count(db: &MariaDb, sql: &str) -> u64 {
    db.query::<u64>(sql).await[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn property_rows_of_every_policy_land_with_tarsproperty_text() {
    let db = MariaDb::start().await;
    // 01:55-02:04 UTC is 09:55-10:04 at +08:00: intervals 0960 (table …09) and 1005 (…10).
    let ingest = Ingest::new(at("2024-01-15 01:55:10"));
    // Base slot 01:55: a TarsCpp client.
    ingest.property("reqs", "Sum", "10");
    ingest.property("reqs", "Count", "3");
    ingest.property("lat", "Max", "7");
    ingest.property("lat", "Min", "3");
    ingest.property("lat", "Avg", "30=3"); // three samples, average 10
    ingest.property("lat", "Distr", "5|3,10|2,max|1");
    ingest.property("only_once", "Avg", "12.5");
    ingest.property("custom", "Custom", "1.5");
    // Base slot 01:56: the same properties from a Node client (no `max`, other bounds).
    ingest.set(at("2024-01-15 01:56:10"));
    ingest.property("reqs", "Sum", "5");
    ingest.property("reqs", "Count", "4");
    ingest.property("lat", "Max", "12");
    ingest.property("lat", "Min", "2");
    ingest.property("lat", "Avg", "5"); // one sample of 5
    ingest.property("lat", "Distr", "5|1,20|4");
    ingest.property("custom", "Custom", "2");
    // The next interval.
    ingest.set(at("2024-01-15 02:00:30"));
    ingest.property("reqs", "Sum", "1");
    ingest.set(at("2024-01-15 02:05:15"));

    let mut exporter = ingest.exporter(config(&db));
    let report = exporter.tick().await.unwrap();
    assert_eq!(
        (report.property_intervals, report.property_rows, report.property_backlog_intervals),
        (2, 9, 0)
    );
    assert_eq!(report.exported_rows, 9);
    assert_eq!(ingest.cursor(PROPERTY_CURSOR), Some(at("2024-01-15 02:05:00")));

    let row = |name: &str, policy: &str, value: &str| -> PropertyRow {
        (
            "2024-01-15".into(),
            "0960".into(),
            "App.Server".into(),
            "10.0.0.7".into(),
            name.into(),
            "mtt".into(),
            "sz".into(),
            "1".into(),
            policy.into(),
            value.into(),
        )
    };
    assert_eq!(
        property_rows(&db, "tars_property_2024011509").await,
        vec![
            row("custom", "Custom", "3.5"),
            // (30 + 5) / (3 + 1) samples; tarsproperty's average of averages would be 7.5.
            row("lat", "Avg", "8.75"),
            // Merged by label; tarsproperty adds by position and reads past the shorter one.
            row("lat", "Distr", "5|4,10|2,20|4,max|1"),
            row("lat", "Max", "12"),
            row("lat", "Min", "2"),
            row("only_once", "Avg", "12.5"),
            row("reqs", "Count", "7"),
            row("reqs", "Sum", "15"),
        ]
    );
    let next = property_rows(&db, "tars_property_2024011510").await;
    assert_eq!(
        next.iter().map(|r| (r.1.as_str(), r.4.as_str(), r.9.as_str())).collect::<Vec<_>>(),
        vec![("1005", "reqs", "1")]
    );

    // The hourly tables of yesterday, today and tomorrow; t_ecstatus as tarsproperty keeps it;
    // one marker per interval written.
    let tables: Vec<String> = db
        .query(
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = 'tars_property' \
             AND table_name LIKE 'tars\\_property\\_%'",
        )
        .await;
    assert_eq!(tables.len(), 72);
    let status: Vec<(String, String)> =
        db.query("SELECT appname, lasttime FROM tars_property.t_ecstatus").await;
    assert_eq!(status, vec![("tars_property_tarsmon".into(), "20240115 1005".into())]);
    let markers: Vec<(String, i64, String)> =
        db.query("SELECT writer, slot, label FROM tars_property.t_tarsmon_export ORDER BY slot").await;
    assert_eq!(
        markers,
        vec![
            ("property:tarsmon".into(), at("2024-01-15 01:55:00").0, "20240115 0960".into()),
            ("property:tarsmon".into(), at("2024-01-15 02:00:00").0, "20240115 1005".into()),
        ]
    );
    let s = exporter.stats().snapshot();
    assert_eq!((s.property_intervals, s.property_rows, s.exported_rows, s.errors), (2, 9, 9, 0));
    assert_eq!(s.property_cursor, Some(at("2024-01-15 02:05:00")));
    exporter.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_rows_land_in_t_server_notifys_with_tarsnotify_columns() {
    let db = MariaDb::start().await;
    let ingest = Ingest::new(at("2024-01-15 02:00:05.250"));
    ingest.notify(&report("restart [fail]", "mtt.sz.1"), "10.0.0.5");
    ingest.clock.set(at("2024-01-15 02:00:40"));
    let alarm = NotifyReport {
        kind: NotifyKind::Notify,
        level: NotifyLevel::Warn,
        node_name: "node-1",
        container: "",
        ..report("disk almost full", "")
    };
    ingest.notify(&alarm, "10.0.0.5");
    ingest.set(at("2024-01-15 02:01:10"));
    ingest.notify(&report("😀 malformed set", "bad"), "10.0.0.6");
    ingest.set(at("2024-01-15 02:02:01"));
    // In the open slot: not exported until it is sealed.
    ingest.notify(&report("config reloaded", ""), "10.0.0.5");
    ingest.set(at("2024-01-15 02:02:30"));

    let mut exporter = ingest.exporter(config(&db));
    let r = exporter.tick().await.unwrap();
    assert_eq!((r.notify_slots, r.notify_rows, r.notify_backlog_slots), (2, 3, 0));
    assert_eq!(ingest.cursor(NOTIFY_CURSOR), Some(at("2024-01-15 02:02:00")));

    type Row = (
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
        String,
        String,
        String,
        String,
    );
    let query = "SELECT application, server_name, container_name, node_name, set_name, set_area, set_group, \
                 server_id, thread_id, command, result, CAST(notifytime AS CHAR) FROM db_tars.t_server_notifys ORDER BY id";
    let s = |v: &str| v.to_owned();
    let some = |v: &str| Some(v.to_owned());
    let expected_first: Vec<Row> = vec![
        (
            s("Test"),
            s("HelloServer"),
            s("c1"),
            s("10.0.0.5"),
            some("mtt"),
            some("sz"),
            some("1"),
            s("Test.HelloServer_10.0.0.5"),
            s("1234"),
            s("[error]"),
            s("restart [fail]"),
            s("2024-01-15 10:00:05"),
        ),
        (
            s("Test"),
            s("HelloServer"),
            s(""),
            s("node-1"),
            some(""),
            some(""),
            some(""),
            s("Test.HelloServer_node-1"),
            s("1234"),
            s("[warn]"),
            s("disk almost full"),
            s("2024-01-15 10:00:40"),
        ),
        (
            s("Test"),
            s("HelloServer"),
            s("c1"),
            s("10.0.0.6"),
            None,
            None,
            None,
            s("Test.HelloServer_10.0.0.6"),
            s("1234"),
            s("[normal]"),
            s("? malformed set"),
            s("2024-01-15 10:01:10"),
        ),
    ];
    assert_eq!(db.query::<Row>(query).await, expected_first);

    // Nothing new, nothing written; then the open slot is sealed and follows.
    assert_eq!(exporter.tick().await.unwrap().notify_slots, 0);
    ingest.set(at("2024-01-15 02:03:15"));
    let r = exporter.tick().await.unwrap();
    assert_eq!((r.notify_slots, r.notify_rows), (1, 1));
    let rows = db.query::<Row>(query).await;
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[..3], expected_first[..]);
    assert_eq!((rows[3].10.as_str(), rows[3].11.as_str()), ("config reloaded", "2024-01-15 10:02:01"));
    let s = exporter.stats().snapshot();
    assert_eq!((s.notify_slots, s.notify_rows, s.notify_backlog_slots, s.errors), (3, 4, 0, 0));
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM db_tars.t_tarsmon_export WHERE writer = 'notify:tarsmon'").await,
        3
    );
    exporter.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_caught_up_later_and_retries_never_duplicate() {
    let mut db = MariaDb::start().await;
    let start = at("2024-01-15 02:00:00");
    let ingest = Ingest::new(start);
    // One property report and one notification per minute, for 20 minutes.
    let record_minute = |m: i64| {
        ingest.set(plus(start, m * MIN + 20_000));
        ingest.property("reqs", "Sum", "1");
        ingest.notify(&report(&format!("message {m}"), ""), "10.0.0.5");
    };
    let mut exporter = ingest.exporter(config(&db));
    for m in 0..5 {
        record_minute(m);
    }
    ingest.set(plus(start, 5 * MIN + 15_000));
    let r = exporter.tick().await.unwrap();
    assert_eq!((r.property_intervals, r.notify_slots), (1, 5));

    // MariaDB goes away for intervals 1..=3; reports keep arriving.
    db.stop();
    for m in 5..20 {
        record_minute(m);
        ingest.set(plus(start, (m + 1) * MIN + 15_000));
        if (m + 1) % 5 == 0 {
            assert!(exporter.tick().await.is_err());
        }
    }
    let s = exporter.stats().snapshot();
    assert_eq!((s.property_backlog_intervals, s.notify_backlog_slots, s.backlog_intervals), (3, 15, 3));
    assert_eq!(ingest.cursor(PROPERTY_CURSOR), Some(plus(start, 5 * MIN)));
    assert_eq!(ingest.cursor(NOTIFY_CURSOR), Some(plus(start, 5 * MIN)));

    // Back: the backlog drains (a stale pooled connection may cost one more tick).
    db.restart().await;
    let mut ticks = 0;
    loop {
        ticks += 1;
        assert!(ticks <= 5, "backlog not drained: {:?}", exporter.stats().snapshot());
        if exporter.tick().await.is_ok() {
            let s = exporter.stats().snapshot();
            if s.property_backlog_intervals == 0 && s.notify_backlog_slots == 0 {
                break;
            }
        }
    }
    assert_eq!(ingest.cursor(PROPERTY_CURSOR), Some(plus(start, 20 * MIN)));
    assert_eq!(ingest.cursor(NOTIFY_CURSOR), Some(plus(start, 20 * MIN)));

    let check = || async {
        let per_tflag: Vec<(String, String)> = db
            .query("SELECT f_tflag, value FROM tars_property.tars_property_2024011510 ORDER BY f_tflag")
            .await;
        let five = |f: &str| (f.to_owned(), "5".to_owned());
        assert_eq!(per_tflag, vec![five("1005"), five("1010"), five("1015"), five("1020")]);
        let (rows, distinct): (u64, u64) =
            db.query("SELECT COUNT(*), COUNT(DISTINCT result) FROM db_tars.t_server_notifys").await[0];
        assert_eq!((rows, distinct), (20, 20));
    };
    check().await;
    exporter.close().await;

    // A crash after the commits but before the cursors moved looks like older cursors: the
    // intervals and slots are found marked and skipped.
    ingest.store.put_meta(PROPERTY_CURSOR, &start.0.to_le_bytes()).unwrap();
    ingest.store.put_meta(NOTIFY_CURSOR, &start.0.to_le_bytes()).unwrap();
    let mut again = ingest.exporter(config(&db));
    let r = again.tick().await.unwrap();
    assert_eq!((r.property_intervals, r.notify_slots, r.exported_rows), (0, 0, 0));
    assert_eq!(again.stats().snapshot().already_written, 4 + 20);
    assert_eq!(ingest.cursor(PROPERTY_CURSOR), Some(plus(start, 20 * MIN)));
    check().await;
    again.close().await;

    // A back-fill over exported time writes nothing either.
    let summary = export_range(ingest.store.clone(), &config(&db), start, plus(start, 20 * MIN), |_, _| {})
        .await
        .unwrap();
    assert_eq!((summary.property_intervals, summary.notify_slots, summary.rows), (0, 0, 0));
    assert_eq!(summary.already_written, 4 + 20);
    check().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_that_fails_midway_leaves_nothing_and_is_retried_once() {
    let db = MariaDb::start().await;
    let ingest = Ingest::new(at("2024-01-15 02:00:05"));
    ingest.property("a", "Sum", "1");
    ingest.property("b", "Sum", "2");
    ingest.property("boom", "Sum", "3");
    ingest.notify(&report("first", ""), "10.0.0.5");
    ingest.notify(&report("second", ""), "10.0.0.5");
    ingest.notify(&report("boom", ""), "10.0.0.5");
    ingest.set(at("2024-01-15 02:05:15"));

    // The tables exist, with triggers that fail the insert of the third row (the property rows'
    // order is the pipeline's hash order; the notify rows' is their receive order). One row
    // per INSERT, so the failure comes after two rows of the same transaction were inserted.
    for sql in [
        ddl::create_database("tars_property"),
        ddl::property_table("tars_property", "tars_property_2024011510"),
        ddl::create_database("db_tars"),
        ddl::server_notifys_table("db_tars"),
    ] {
        db.admin(&sql).await;
    }
    db.admin(
        "CREATE TRIGGER tars_property.fail_boom BEFORE INSERT ON tars_property.tars_property_2024011510 FOR EACH ROW \
         BEGIN IF (SELECT COUNT(*) FROM tars_property.tars_property_2024011510) >= 2 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'boom'; END IF; END",
    )
    .await;
    db.admin(
        "CREATE TRIGGER db_tars.fail_boom BEFORE INSERT ON db_tars.t_server_notifys FOR EACH ROW \
         BEGIN IF NEW.result = 'boom' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'boom'; END IF; END",
    )
    .await;
    let mut exporter = ingest.exporter(ExporterConfig { batch_size: 1, ..config(&db) });
    let e = exporter.tick().await.unwrap_err();
    assert!(e.to_string().contains("INSERT IGNORE INTO tars_property"), "{e}");
    let s = exporter.stats().snapshot();
    assert!(s.errors >= 2 && s.last_error.as_deref().unwrap().contains("boom"), "{s:?}");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM tars_property.tars_property_2024011510").await, 0);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM db_tars.t_server_notifys").await, 0);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM tars_property.t_tarsmon_export").await, 0);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM db_tars.t_tarsmon_export").await, 0);
    assert_eq!((s.property_backlog_intervals, s.notify_backlog_slots), (1, 1));

    // The DBA removes the triggers: the next tick writes every row, once.
    db.admin("DROP TRIGGER tars_property.fail_boom").await;
    db.admin("DROP TRIGGER db_tars.fail_boom").await;
    let r = exporter.tick().await.unwrap();
    assert_eq!((r.property_rows, r.notify_rows), (3, 3));
    let values: Vec<(String, String)> =
        db.query("SELECT property_name, value FROM tars_property.tars_property_2024011510 ORDER BY 1").await;
    assert_eq!(values, vec![("a".into(), "1".into()), ("b".into(), "2".into()), ("boom".into(), "3".into())]);
    let results: Vec<String> = db.query("SELECT result FROM db_tars.t_server_notifys ORDER BY id").await;
    assert_eq!(results, vec!["first", "second", "boom"]);
    exporter.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_range_backfills_property_and_notify_without_touching_the_cursors() {
    let db = MariaDb::start().await;
    let start = at("2024-01-14 23:50:00"); // 07:50 local
    let ingest = Ingest::new(start);
    for i in 0..4 {
        ingest.set(plus(start, i * 5 * MIN + 1_000));
        ingest.property("reqs", "Count", &(i + 1).to_string());
        ingest.notify(&report(&format!("n{i}"), ""), "10.0.0.5");
    }
    ingest.set(plus(start, 30 * MIN));
    let mut seen = Vec::new();
    let summary =
        export_range(ingest.store.clone(), &config(&db), start, plus(start, 20 * MIN), |done, total| {
            seen.push((done, total))
        })
        .await
        .unwrap();
    assert_eq!(
        (
            summary.property_intervals,
            summary.property_rows,
            summary.notify_slots,
            summary.notify_rows,
            summary.rows,
            summary.stat_rows,
            summary.already_written
        ),
        (4, 4, 4, 4, 8, 0, 0)
    );
    assert_eq!((seen.first(), seen.last()), (Some(&(0, 8)), Some(&(8, 8))));
    let rows: Vec<(String, String)> = db
        .query(
            "SELECT f_tflag, value FROM tars_property.tars_property_2024011507 UNION ALL \
             SELECT f_tflag, value FROM tars_property.tars_property_2024011508 ORDER BY 1",
        )
        .await;
    let r = |f: &str, v: &str| (f.to_owned(), v.to_owned());
    assert_eq!(rows, vec![r("0755", "1"), r("0760", "2"), r("0805", "3"), r("0810", "4")]);
    let times: Vec<String> =
        db.query("SELECT CAST(notifytime AS CHAR) FROM db_tars.t_server_notifys ORDER BY id").await;
    assert_eq!(
        times,
        vec!["2024-01-15 07:50:01", "2024-01-15 07:55:01", "2024-01-15 08:00:01", "2024-01-15 08:05:01"]
    );
    assert_eq!((ingest.cursor(PROPERTY_CURSOR), ingest.cursor(NOTIFY_CURSOR)), (None, None));
}
