//! The aggregation step alone: merging report entries into the open slot when their keys are
//! already there (warm keys: no allocation), for 10k and 200k distinct keys, on one thread:
//! - `pipeline_report`: as the StatObj servant does it, reports of 12 entries (what real
//!   clients send), one [`Pipeline::recorder`] (one shard lock) per report;
//! - `pipeline_record_in`: one entry at a time, a lock each.
//!
//! Baseline in the same run: the same lookups in a plain `hashbrown::HashMap<StatKey, _>` with
//! no shards, no lock and no memory accounting — the floor for a hash-map update of owned keys.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tarsmon_engine::{Store, StoreConfig};
use tarsmon_ingest::stat::{Source, StatKey, StatKeyRef, StatValue};
use tarsmon_ingest::time::{Clock, ManualClock, TimestampMs};
use tarsmon_ingest::{Pipeline, PipelineConfig, StatTable};

fn keys(n: usize) -> Vec<StatKey> {
    (0..n)
        .map(|i| StatKey {
            source: Source::Client,
            master_name: format!("Shop.OrderServer{}", i % 50),
            slave_name: "Shop.PaymentServer".into(),
            interface_name: format!("settleOrder{}", i / 50),
            master_ip: format!("10.1.{}.{}", i % 200, i % 7),
            slave_ip: "10.2.0.1".into(),
            slave_port: 20000,
            return_value: 0,
            tars_version: "3.0.13".into(),
            slave_set_name: String::new(),
            slave_set_area: String::new(),
            slave_set_id: String::new(),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let value = {
        let mut v = StatValue {
            succ_count: 3,
            total_time: 30,
            max_rsp_time: 20,
            min_rsp_time: 1,
            ..Default::default()
        };
        v.add_interval(10, 3);
        v
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), StoreConfig::default()).unwrap());
    let mut g = c.benchmark_group("aggregate_warm");
    for n in [10_000usize, 200_000] {
        let keys = keys(n);
        let refs: Vec<StatKeyRef<'_>> = keys.iter().map(StatKey::as_ref).collect();
        let clock = Arc::new(ManualClock::new(TimestampMs(1_705_309_200_000)));
        let p =
            Pipeline::<StatTable>::open(store.clone(), clock as Arc<dyn Clock>, PipelineConfig::default())
                .unwrap();
        let slot = p.current_slot();
        for r in &refs {
            p.record_in(slot, r, &value);
        }
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("pipeline_report", n), &refs, |b, refs| {
            b.iter(|| {
                for report in refs.chunks(12) {
                    let mut recorder = p.recorder(slot);
                    for r in report {
                        black_box(recorder.record(r, &value));
                    }
                }
            })
        });
        g.bench_with_input(BenchmarkId::new("pipeline_record_in", n), &refs, |b, refs| {
            b.iter(|| {
                for r in refs {
                    black_box(p.record_in(slot, r, &value));
                }
            })
        });
        let mut plain: hashbrown::HashMap<StatKey, StatValue> =
            keys.iter().map(|k| (k.clone(), value)).collect();
        g.bench_with_input(BenchmarkId::new("baseline_plain_hashmap", n), &refs, |b, refs| {
            b.iter(|| {
                for r in refs {
                    if let Some(v) = plain.get_mut(r) {
                        v.merge(&value);
                    }
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
