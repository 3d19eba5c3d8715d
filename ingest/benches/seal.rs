//! Sealing one slot: merging the shards, building the Arrow batch and writing the compressed
//! chunk to RocksDB, for 100k and 1M keys. Baseline in the same run: building the same batch
//! without writing it (what the store adds on top).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tarsmon_engine::{Store, StoreConfig};
use tarsmon_ingest::stat::{PackedStatKey, Source, StatKey, StatKeyRef, StatValue};
use tarsmon_ingest::time::{Clock, ManualClock, TimestampMs};
use tarsmon_ingest::{Pipeline, PipelineConfig, StatTable, TableKind};

fn key(i: usize) -> StatKey {
    StatKey {
        source: Source::Client,
        master_name: format!("Shop.OrderServer{}", i % 100),
        slave_name: format!("Shop.Svc{}", i % 30),
        interface_name: format!("method{}", i / 3000),
        master_ip: format!("10.1.{}.{}", (i / 100) % 250, i % 100),
        slave_ip: "10.2.0.1".into(),
        slave_port: 20000,
        return_value: 0,
        tars_version: "3.0.13".into(),
        slave_set_name: String::new(),
        slave_set_area: String::new(),
        slave_set_id: String::new(),
    }
}

fn bench(c: &mut Criterion) {
    let value =
        StatValue { succ_count: 3, total_time: 30, max_rsp_time: 20, min_rsp_time: 1, ..Default::default() };
    let mut g = c.benchmark_group("seal_slot");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    for n in [100_000usize, 1_000_000] {
        let keys: Vec<StatKey> = (0..n).map(key).collect();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), StoreConfig::default()).unwrap());
        let clock = Arc::new(ManualClock::new(TimestampMs(1_705_309_200_000)));
        let config = PipelineConfig {
            memory_budget: 4 << 30,
            checkpoint_interval: Duration::from_secs(3600),
            ..Default::default()
        };
        let p = Pipeline::<StatTable>::open(store, clock.clone() as Arc<dyn Clock>, config).unwrap();
        g.bench_with_input(BenchmarkId::new("persist", n), &keys, |b, keys| {
            b.iter_batched(
                || {
                    for k in keys {
                        let r: StatKeyRef<'_> = k.as_ref();
                        p.record(&r, &value);
                    }
                    clock.advance(Duration::from_secs(60));
                },
                |()| p.persist().unwrap(),
                criterion::BatchSize::PerIteration,
            )
        });
        let packed: Vec<PackedStatKey> = keys.iter().map(|k| PackedStatKey::from(&k.as_ref())).collect();
        g.bench_with_input(BenchmarkId::new("baseline_build_batch_only", n), &packed, |b, keys| {
            b.iter(|| StatTable::to_batch(TimestampMs(0), keys.iter().map(|k| (k, &value))))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
