//! The aggregation step alone: merging report entries into the open slot when their keys are
//! already there (warm keys: no allocation), for 10k and 200k distinct keys, on one thread:
//! - `pipeline_report`: as the StatObj servant does it, reports of 12 entries (what real
//!   clients send), one [`Pipeline::recorder`] (one shard lock) per report;
//! - `pipeline_record_in`: one entry at a time, a lock each.
//!
//! The keys borrow their text from one buffer per report, as the servant's keys borrow from
//! the frame. Baseline in the same run: the same lookups in a plain
//! `hashbrown::HashMap<StatKey, _>` with no shards, no lock and no memory accounting — the
//! floor for a hash-map update of owned keys.

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

/// The text of each report's keys in one buffer, as a frame holds a report's 12 heads.
fn frames(keys: &[StatKey]) -> Vec<String> {
    keys.chunks(12)
        .map(|report| {
            report
                .iter()
                .flat_map(|k| {
                    let r = k.as_ref();
                    [r.master_name, r.slave_name, r.interface_name, r.master_ip, r.slave_ip, r.tars_version]
                })
                .collect()
        })
        .collect()
}

/// Keys borrowing their text from `frames` (made by [`frames`] from `keys`).
fn borrowed<'a>(keys: &[StatKey], frames: &'a [String]) -> Vec<StatKeyRef<'a>> {
    let mut out = Vec::with_capacity(keys.len());
    for (report, frame) in keys.chunks(12).zip(frames) {
        let mut at = 0;
        let mut next = |len: usize| {
            let s = &frame[at..at + len];
            at += len;
            s
        };
        for k in report {
            out.push(StatKeyRef {
                master_name: next(k.master_name.len()),
                slave_name: next(k.slave_name.len()),
                interface_name: next(k.interface_name.len()),
                master_ip: next(k.master_ip.len()),
                slave_ip: next(k.slave_ip.len()),
                tars_version: next(k.tars_version.len()),
                slave_set_name: "",
                slave_set_area: "",
                slave_set_id: "",
                ..k.as_ref()
            });
        }
    }
    out
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
        let frames = frames(&keys);
        let refs = borrowed(&keys, &frames);
        assert!(refs.iter().zip(&keys).all(|(r, k)| *r == k.as_ref()));
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
