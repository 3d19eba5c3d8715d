//! The notify pipeline against a real store with an injected clock: one row per
//! notification (equal ones too), checkpoint recovery into the slot they were received in,
//! and retention of the newest N per server.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use tarsmon_engine::{Store, StoreConfig};
use tarsmon_ingest::notify::retention::keep_newest_per_server;
use tarsmon_ingest::notify::{
    NotifyEntry, NotifyKind, NotifyLevel, NotifyRecord, NotifyReport, NotifyValue, read_notify_batch,
};
use tarsmon_ingest::time::{Clock, ManualClock, SlotWidth, TimestampMs};
use tarsmon_ingest::{NotifyTable, Pipeline, PipelineConfig};

const T0: i64 = 1_705_309_200_000; // 2024-01-15 09:00:00 UTC, a slot start

fn config() -> PipelineConfig {
    PipelineConfig {
        slot: SlotWidth::new(Duration::from_secs(60)).unwrap(),
        checkpoint_interval: Duration::from_millis(100),
        ..PipelineConfig::default()
    }
}

fn record(server: &str, message: &str, at: TimestampMs) -> NotifyRecord {
    let report = NotifyReport {
        kind: NotifyKind::Report,
        app: "Test",
        set: "",
        container: "",
        server,
        message,
        thread_id: "1",
        level: NotifyLevel::Normal,
        node_name: "n1",
    };
    NotifyRecord::from_report(&report, "10.0.0.1", at)
}

fn add(p: &Pipeline<NotifyTable>, r: NotifyRecord) {
    let e = NotifyEntry::new(r);
    p.record(&e, &NotifyValue);
}

fn all(p: &Pipeline<NotifyTable>) -> Vec<NotifyRecord> {
    let mut out = Vec::new();
    for b in p.scan(TimestampMs(0), TimestampMs(i64::MAX)).unwrap() {
        out.extend(read_notify_batch(&b).unwrap());
    }
    out
}

#[test]
fn equal_notifications_stay_separate_rows_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(TimestampMs(T0 + 5_000)));
    let store = Arc::new(Store::open(dir.path(), StoreConfig::default()).unwrap());
    let p = Pipeline::<NotifyTable>::open(store, clock.clone(), config()).unwrap();
    add(&p, record("S", "same", clock.now()));
    add(&p, record("S", "same", clock.now()));
    clock.advance(Duration::from_millis(10));
    add(&p, record("S", "later", clock.now()));
    let rows = all(&p);
    assert_eq!(rows.iter().map(|r| r.result.as_str()).collect::<Vec<_>>(), ["same", "same", "later"]);
    // Sealed: the same rows.
    clock.advance(Duration::from_secs(60));
    p.persist().unwrap();
    assert_eq!(p.stats().sealed_rows, 3);
    assert_eq!(all(&p).len(), 3);
}

#[test]
fn a_checkpoint_recovers_into_the_slot_it_was_received_in() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(TimestampMs(T0 + 30_000)));
    {
        let store = Arc::new(Store::open(dir.path(), StoreConfig::default()).unwrap());
        let p = Pipeline::<NotifyTable>::open(store, clock.clone(), config()).unwrap();
        add(&p, record("S", "a", clock.now()));
        clock.advance(Duration::from_millis(200));
        p.persist().unwrap(); // checkpoint
        assert_eq!(p.stats().checkpoints, 1);
    } // "crash": the open slot exists only as a checkpoint
    let store = Arc::new(Store::open(dir.path(), StoreConfig::default()).unwrap());
    let p = Pipeline::<NotifyTable>::open(store.clone(), clock.clone(), config()).unwrap();
    let rows = all(&p);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].notifytime, TimestampMs(T0 + 30_000));
    // Sealed into slot T0 (not into the slot of its own time stamp, which is not a slot start).
    clock.advance(Duration::from_secs(60));
    p.persist().unwrap();
    let slots = store.scan_slots("notify", TimestampMs(0), TimestampMs(i64::MAX)).unwrap();
    assert_eq!(slots.len(), 1);
    assert_eq!(slots[0].0, TimestampMs(T0));
    assert_eq!(all(&p).len(), 1, "no duplicate after sealing the recovered checkpoint");
}

#[test]
fn retention_keeps_the_newest_n_per_server_across_slots() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(TimestampMs(T0)));
    let store = Arc::new(Store::open(dir.path(), StoreConfig::default()).unwrap());
    let p = Pipeline::<NotifyTable>::open(store.clone(), clock.clone(), config()).unwrap();
    // Three slots: A gets 2 + 2 + 1 rows, B one row in the first slot.
    for (slot, n) in [(0, 2), (1, 2), (2, 1)] {
        clock.set(TimestampMs(T0 + slot * 60_000 + 1_000));
        for i in 0..n {
            add(&p, record("A", &format!("a{slot}.{i}"), TimestampMs(clock.now().0 + i)));
        }
        if slot == 0 {
            add(&p, record("B", "b", clock.now()));
        }
    }
    clock.set(TimestampMs(T0 + 3 * 60_000));
    p.persist().unwrap();

    let outcome = keep_newest_per_server(&store, 2, p.current_slot()).unwrap();
    assert_eq!(outcome.removed_rows, 3);
    assert_eq!(outcome.rewritten_slots, 2);
    let mut kept: Vec<String> = all(&p).into_iter().map(|r| r.result).collect();
    kept.sort();
    assert_eq!(kept, ["a1.1", "a2.0", "b"]);
    // Idempotent.
    assert_eq!(keep_newest_per_server(&store, 2, p.current_slot()).unwrap().removed_rows, 0);
    // The emptied first slot holds only B's row; nothing else was touched.
    let slots = store.scan_slots("notify", TimestampMs(0), TimestampMs(i64::MAX)).unwrap();
    assert_eq!(
        slots.iter().map(|(s, b)| (s.0 - T0, b.num_rows())).collect::<Vec<_>>(),
        [(0, 1), (60_000, 1), (120_000, 1)]
    );
}
