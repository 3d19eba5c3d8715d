//! Model-based test of the store: random sequences of writes, checkpoints, scans, retention
//! and reopens are applied both to a real [`Store`] and to a plain in-memory model; every read
//! must agree with the model.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use proptest::prelude::*;
use tarsmon_engine::{HOUR_MS, Store, StoreConfig, TimestampMs};

const MINUTE: i64 = 60_000;
const TABLES: [&str; 3] = ["stat", "property", "stat2"];
const RETENTION_HOURS: u64 = 3;

/// The batch written by operation `id`: `id % 4` rows (so some are empty), one nullable string.
fn batch(id: i64) -> RecordBatch {
    let rows = usize::try_from(id % 4).unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]));
    let names: Vec<Option<String>> =
        (0..rows).map(|r| if r == 1 { None } else { Some(format!("server-{}", id % 3)) }).collect();
    RecordBatch::try_new(
        schema,
        vec![Arc::new(Int64Array::from(vec![id; rows])), Arc::new(StringArray::from(names))],
    )
    .unwrap()
}

#[derive(Debug, Clone)]
enum Op {
    WriteSlot { table: usize, slot: i64 },
    PutCheckpoint { table: usize, slot: i64 },
    DeleteCheckpoint { table: usize },
    Scan { table: usize, from: i64, to: i64 },
    ApplyRetention { now: i64 },
    DropBefore { table: usize, before: i64 },
    Reopen,
}

/// A slot start: whole minutes from 2 hours before the epoch to 8 hours after it.
fn slot() -> impl Strategy<Value = i64> {
    (-120i64..480).prop_map(|m| m * MINUTE)
}

/// A range bound: usually near the slots (not always on a minute), sometimes the extremes.
fn bound() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => -150 * MINUTE..500 * MINUTE,
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let table = 0..TABLES.len();
    prop_oneof![
        6 => (table.clone(), slot()).prop_map(|(table, slot)| Op::WriteSlot { table, slot }),
        3 => (table.clone(), slot()).prop_map(|(table, slot)| Op::PutCheckpoint { table, slot }),
        1 => table.clone().prop_map(|table| Op::DeleteCheckpoint { table }),
        4 => (table.clone(), bound(), bound()).prop_map(|(table, from, to)| Op::Scan { table, from, to }),
        1 => (0..12 * HOUR_MS).prop_map(|now| Op::ApplyRetention { now }),
        1 => (table, bound()).prop_map(|(table, before)| Op::DropBefore { table, before }),
        1 => Just(Op::Reopen),
    ]
}

/// What the store should hold.
#[derive(Debug, Default)]
struct Model {
    /// `(table, slot)` → ids of the chunks, in write order.
    chunks: BTreeMap<(usize, i64), Vec<i64>>,
    /// table → (slot, id) of its checkpoint.
    checkpoints: HashMap<usize, (i64, i64)>,
}

impl Model {
    fn scan(&self, table: usize, from: i64, to: i64) -> (Vec<RecordBatch>, Vec<TimestampMs>) {
        let mut batches = Vec::new();
        let mut slots = Vec::new();
        if from < to {
            for (&(_, slot), ids) in self.chunks.range((table, from)..(table, to)) {
                slots.push(TimestampMs(slot));
                batches.extend(ids.iter().map(|&id| batch(id)));
            }
        }
        (batches, slots)
    }

    /// Drops the chunks of `table` before `before`; returns the hour partitions they covered.
    fn drop_before(&mut self, table: usize, before: i64) -> usize {
        let doomed: Vec<(usize, i64)> =
            self.chunks.range((table, i64::MIN)..(table, before)).map(|(k, _)| *k).collect();
        let mut hours: Vec<i64> = doomed.iter().map(|&(_, s)| TimestampMs(s).hour_start().0).collect();
        hours.dedup();
        for k in doomed {
            self.chunks.remove(&k);
        }
        hours.len()
    }
}

fn config() -> StoreConfig {
    StoreConfig { retention: Duration::from_secs(RETENTION_HOURS * 3600), ..StoreConfig::default() }
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Some(Store::open(dir.path(), config()).unwrap());
    let mut model = Model::default();
    for (id, op) in ops.into_iter().enumerate() {
        let id = i64::try_from(id).unwrap();
        let s = store.as_ref().unwrap();
        match op {
            Op::WriteSlot { table, slot } => {
                s.write_slot(TABLES[table], TimestampMs(slot), &batch(id)).unwrap();
                model.chunks.entry((table, slot)).or_default().push(id);
                if model.checkpoints.get(&table).is_some_and(|&(cp, _)| cp <= slot) {
                    model.checkpoints.remove(&table);
                }
            }
            Op::PutCheckpoint { table, slot } => {
                s.put_checkpoint(TABLES[table], TimestampMs(slot), &batch(id)).unwrap();
                model.checkpoints.insert(table, (slot, id));
            }
            Op::DeleteCheckpoint { table } => {
                s.delete_checkpoint(TABLES[table]).unwrap();
                model.checkpoints.remove(&table);
            }
            Op::Scan { table, from, to } => {
                let (want_batches, want_slots) = model.scan(table, from, to);
                let (from, to) = (TimestampMs(from), TimestampMs(to));
                prop_assert_eq!(s.scan(TABLES[table], from, to).unwrap(), want_batches);
                prop_assert_eq!(s.slots(TABLES[table], from, to).unwrap(), want_slots);
            }
            Op::ApplyRetention { now } => {
                let keep_from = TimestampMs(now).saturating_sub(config().retention).hour_start().0;
                let want: usize = (0..TABLES.len()).map(|t| model.drop_before(t, keep_from)).sum();
                prop_assert_eq!(s.apply_retention(TimestampMs(now)).unwrap(), want);
            }
            Op::DropBefore { table, before } => {
                s.drop_before(TABLES[table], TimestampMs(before)).unwrap();
                model.drop_before(table, before);
            }
            Op::Reopen => {
                drop(store.take());
                store = Some(Store::open(dir.path(), config()).unwrap());
            }
        }
        // Checkpoints are small: compare all of them after every step.
        let s = store.as_ref().unwrap();
        for (t, name) in TABLES.iter().enumerate() {
            let got = s.checkpoint(name).unwrap();
            let want = model.checkpoints.get(&t).map(|&(slot, id)| (TimestampMs(slot), batch(id)));
            prop_assert_eq!(got, want, "checkpoint of {}", name);
        }
    }
    // Finally everything, after one more reopen.
    drop(store.take());
    let s = Store::open(dir.path(), config()).unwrap();
    for (t, name) in TABLES.iter().enumerate() {
        let (want, _) = model.scan(t, i64::MIN, i64::MAX);
        prop_assert_eq!(s.scan(name, TimestampMs::MIN, TimestampMs::MAX).unwrap(), want);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_model(ops in prop::collection::vec(op(), 1..60)) {
        run(ops)?;
    }
}
