//! The stat pipeline against a real store with an injected clock: slot boundaries, sealing,
//! checkpoints and recovery without duplicates, the memory cap, and a model check.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use tarsmon_engine::{Store, StoreConfig};
use tarsmon_ingest::buckets::Update;
use tarsmon_ingest::stat::{Source, StatKey, StatKeyRef, StatValue, read_stat_batch};
use tarsmon_ingest::time::{Clock, ManualClock, SlotWidth, TimestampMs};
use tarsmon_ingest::{Pipeline, PipelineConfig, StatTable};

const T0: i64 = 1_705_309_200_000; // 2024-01-15 09:00:00 UTC

fn key(i: u32) -> StatKey {
    StatKey {
        source: if i.is_multiple_of(2) { Source::Client } else { Source::Server },
        master_name: format!("App.M{}", i % 7),
        slave_name: "App.S".into(),
        interface_name: format!("f{i}"),
        master_ip: "10.0.0.1".into(),
        slave_ip: "10.0.0.2".into(),
        slave_port: 1000,
        return_value: 0,
        tars_version: String::new(),
        slave_set_name: String::new(),
        slave_set_area: String::new(),
        slave_set_id: String::new(),
    }
}

fn calls(n: i64) -> StatValue {
    let mut v = StatValue {
        succ_count: n,
        total_time: 3 * n,
        max_rsp_time: 3,
        min_rsp_time: 3,
        ..Default::default()
    };
    v.add_interval(5, n);
    v
}

struct Fixture {
    dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    config: PipelineConfig,
}

impl Fixture {
    fn new(config: PipelineConfig) -> Self {
        Self { dir: tempfile::tempdir().unwrap(), clock: Arc::new(ManualClock::new(TimestampMs(T0))), config }
    }

    fn open(&self) -> Pipeline<StatTable> {
        let store = Arc::new(Store::open(self.dir.path(), StoreConfig::default()).unwrap());
        Pipeline::open(store, self.clock.clone() as Arc<dyn Clock>, self.config.clone()).unwrap()
    }
}

fn record(p: &Pipeline<StatTable>, k: &StatKey, v: &StatValue) -> Update {
    let r: StatKeyRef<'_> = k.as_ref();
    p.record(&r, v)
}

/// Sum of succ_count per (slot, interface) over everything the pipeline can see.
fn totals(p: &Pipeline<StatTable>) -> BTreeMap<(i64, String), i64> {
    let mut out = BTreeMap::new();
    for b in p.scan(TimestampMs(i64::MIN), TimestampMs(i64::MAX)).unwrap() {
        for (slot, k, v) in read_stat_batch(&b).unwrap() {
            *out.entry((slot.0, k.interface_name)).or_default() += v.succ_count;
        }
    }
    out
}

#[test]
fn reports_land_in_the_slot_of_their_arrival_and_seal_at_the_boundary() {
    let f = Fixture::new(PipelineConfig::default());
    let p = f.open();
    record(&p, &key(1), &calls(2));
    f.clock.advance(Duration::from_millis(59_999));
    record(&p, &key(1), &calls(3)); // still 09:00
    p.persist().unwrap();
    assert_eq!(p.stats().sealed_slots, 0);
    f.clock.advance(Duration::from_millis(1)); // 09:01:00.000 opens the next slot
    record(&p, &key(1), &calls(4));
    p.persist().unwrap();
    let s = p.stats();
    assert_eq!((s.sealed_slots, s.sealed_rows), (1, 1));
    let t = totals(&p);
    assert_eq!(t[&(T0, "f1".into())], 5);
    assert_eq!(t[&(T0 + 60_000, "f1".into())], 4);
}

#[test]
fn checkpoint_recovery_restores_the_open_slot_without_duplicates() {
    let f = Fixture::new(PipelineConfig {
        checkpoint_interval: Duration::from_secs(5),
        ..PipelineConfig::default()
    });
    {
        let p = f.open();
        record(&p, &key(1), &calls(10)); // slot 09:00, sealed below
        f.clock.advance(Duration::from_secs(60));
        p.persist().unwrap();
        record(&p, &key(2), &calls(7)); // slot 09:01
        f.clock.advance(Duration::from_secs(5));
        p.persist().unwrap(); // checkpoint holds f2=7
        record(&p, &key(2), &calls(1)); // after the checkpoint: lost by the crash below
        // Crash: dropped without shutdown.
    }
    {
        let p = f.open(); // still 09:01: the checkpoint goes back into the buckets
        assert_eq!(totals(&p)[&(T0 + 60_000, "f2".into())], 7);
        record(&p, &key(2), &calls(3));
        f.clock.advance(Duration::from_secs(60));
        p.persist().unwrap(); // seals 09:01 = 7 + 3, and removes the checkpoint atomically
        let t = totals(&p);
        assert_eq!((t[&(T0, "f1".into())], t[&(T0 + 60_000, "f2".into())]), (10, 10));
    }
    let p = f.open();
    let t = totals(&p);
    assert_eq!(
        (t[&(T0, "f1".into())], t[&(T0 + 60_000, "f2".into())]),
        (10, 10),
        "no duplicates after reopen"
    );
}

#[test]
fn a_checkpoint_of_an_ended_slot_is_sealed_on_open() {
    let f = Fixture::new(PipelineConfig::default());
    {
        let p = f.open();
        record(&p, &key(3), &calls(5));
        p.shutdown().unwrap(); // checkpoints the open 09:00 slot
    }
    f.clock.advance(Duration::from_secs(3600));
    let p = f.open();
    assert_eq!(p.stats().sealed_slots, 0); // sealed by `open` itself, not by persist
    assert_eq!(totals(&p)[&(T0, "f3".into())], 5);
    drop(p);
    let p = f.open();
    assert_eq!(totals(&p)[&(T0, "f3".into())], 5, "sealed once");
}

#[test]
fn the_memory_cap_drops_new_keys_counts_them_and_keeps_merging_old_ones() {
    let f = Fixture::new(PipelineConfig { memory_budget: 4096, ..PipelineConfig::default() });
    let p = f.open();
    let mut inserted = 0;
    for i in 0..1000 {
        if record(&p, &key(i), &calls(1)) == Update::Inserted {
            inserted += 1;
        }
    }
    let s = p.stats();
    assert!(inserted > 0 && inserted < 1000);
    assert_eq!(s.dropped, 1000 - inserted);
    assert!(s.open_bytes <= 4096);
    // A key already present still aggregates past the cap.
    assert_eq!(record(&p, &key(0), &calls(1)), Update::Merged);
    // Sealing frees the budget.
    f.clock.advance(Duration::from_secs(60));
    p.persist().unwrap();
    assert_eq!(p.stats().open_bytes, 0);
    assert_eq!(record(&p, &key(999), &calls(1)), Update::Inserted);
}

#[test]
fn reporters_on_many_threads_are_all_counted() {
    let f = Fixture::new(PipelineConfig { shards: 4, ..PipelineConfig::default() });
    let p = Arc::new(f.open());
    std::thread::scope(|s| {
        for t in 0..8u32 {
            let p = p.clone();
            s.spawn(move || {
                for i in 0..1000u32 {
                    record(&p, &key((i + t) % 50), &calls(1));
                }
            });
        }
    });
    let t = totals(&p);
    assert_eq!(t.values().sum::<i64>(), 8000);
    assert_eq!(t.len(), 50);
}

#[derive(Debug, Clone)]
enum Step {
    Report { key: u32, n: i64 },
    Advance { ms: u64 },
    Persist,
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0u32..20, 1i64..100).prop_map(|(key, n)| Step::Report { key, n }),
        2 => (0u64..90_000).prop_map(|ms| Step::Advance { ms }),
        2 => Just(Step::Persist),
        1 => Just(Step::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Whatever the interleaving of reports, time, persists and clean restarts, the store and
    /// the open slot together hold exactly what was reported, each in its arrival slot.
    #[test]
    fn pipeline_matches_a_model(steps in proptest::collection::vec(step(), 1..60)) {
        let f = Fixture::new(PipelineConfig { checkpoint_interval: Duration::from_secs(1), ..PipelineConfig::default() });
        let width = SlotWidth::DEFAULT;
        let mut p = f.open();
        let mut model: BTreeMap<(i64, String), i64> = BTreeMap::new();
        for s in steps {
            match s {
                Step::Report { key: k, n } => {
                    record(&p, &key(k), &calls(n));
                    *model.entry((width.slot_of(f.clock.now()).0, format!("f{k}"))).or_default() += n;
                }
                Step::Advance { ms } => f.clock.advance(Duration::from_millis(ms)),
                Step::Persist => p.persist().unwrap(),
                Step::Reopen => {
                    p.shutdown().unwrap();
                    drop(p);
                    p = f.open();
                }
            }
        }
        prop_assert_eq!(totals(&p), model);
    }
}

#[test]
fn closed_hours_are_compacted_once_and_read_the_same() {
    let f = Fixture::new(PipelineConfig::default());
    let p = f.open();
    // 09:00 to 10:59, one report per key and minute: two hours of 60 slots.
    for m in 0..120 {
        f.clock.set(TimestampMs(T0 + m * 60_000));
        for i in 0..5 {
            record(&p, &key(i), &calls(i64::from(i) + m));
        }
        p.persist().unwrap();
    }
    let before = totals(&p);
    // 11:05: hour 10 closed only 5 minutes ago; hour 9 is due.
    f.clock.set(TimestampMs(T0 + 125 * 60_000));
    p.persist().unwrap();
    assert!(!p.compact().unwrap(), "one hour per call, and no other hour is due");
    assert_eq!(p.stats().compacted_hours, 1);
    assert!(!p.compact().unwrap());
    assert_eq!(totals(&p), before);
    // 11:10: hour 10 too.
    f.clock.set(TimestampMs(T0 + 130 * 60_000));
    p.persist().unwrap();
    p.compact().unwrap();
    assert_eq!(p.stats().compacted_hours, 2);
    assert_eq!(totals(&p), before);
    // The cursor survives a restart: nothing is compacted twice.
    drop(p);
    let p = f.open();
    p.persist().unwrap();
    assert!(!p.compact().unwrap());
    assert_eq!(p.stats().compacted_hours, 0);
    assert_eq!(totals(&p), before);
    assert_eq!(p.stats().compact_errors, 0);
}
