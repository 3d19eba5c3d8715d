//! Model-based test of the store: random sequences of writes, checkpoints, scans, retention
//! and reopens are applied both to a real [`Store`] and to a plain in-memory model; every read
//! must agree with the model. Hour compactions ([`Store::compact_hour`]) are among the
//! operations: every read must answer as if they had not happened.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, Int64Array, StringArray};
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
    CompactHour { table: usize, hour: i64 },
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
        1 => (table.clone(), bound()).prop_map(|(table, before)| Op::DropBefore { table, before }),
        3 => (table, slot()).prop_map(|(table, hour)| Op::CompactHour { table, hour }),
        1 => Just(Op::Reopen),
    ]
}

/// One chunk: its rows as `(slot, id)` of the writes they came from, in storage order, and
/// whether it is a compacted hour.
#[derive(Debug, Clone, Default)]
struct Chunk {
    rows: Vec<(i64, i64)>,
    compacted: bool,
}

/// What the store should hold.
#[derive(Debug, Default)]
struct Model {
    /// `(table, slot of the key)` → its chunks, in write order.
    chunks: BTreeMap<(usize, i64), Vec<Chunk>>,
    /// table → (slot, id) of its checkpoint.
    checkpoints: HashMap<usize, (i64, i64)>,
}

/// Rows as a scan returns them: `(key, value)`.
type Rows = Vec<(i64, Option<String>)>;
/// Per slot, its rows.
type SlotRows = Vec<(TimestampMs, Rows)>;

impl Model {
    /// The chunks of `table` that may hold slots in `[from, to)`.
    fn chunks_in(&self, table: usize, from: i64, to: i64) -> impl Iterator<Item = &Chunk> {
        let start = TimestampMs(from).hour_start().0;
        let range = if start < to { (table, start)..(table, to) } else { (table, 0)..(table, 0) };
        self.chunks.range(range).flat_map(|(_, chunks)| chunks)
    }

    /// The rows of `[from, to)` as a scan returns them, and the sealed slots.
    fn scan(&self, table: usize, from: i64, to: i64) -> (Rows, Vec<TimestampMs>) {
        let mut rows = Vec::new();
        let mut slots = std::collections::BTreeSet::new();
        for chunk in self.chunks_in(table, from, to) {
            for &(slot, id) in chunk.rows.iter().filter(|(s, _)| *s >= from && *s < to) {
                slots.insert(TimestampMs(slot));
                rows.extend(rows_of(&[batch(id)]));
            }
        }
        (rows, slots.into_iter().collect())
    }

    /// What [`Store::scan_slots`] returns: per chunk, one entry per slot (of a compacted
    /// chunk) or the chunk's own, with its rows.
    fn scan_slots(&self, table: usize, from: i64, to: i64) -> SlotRows {
        let mut out: SlotRows = Vec::new();
        for chunk in self.chunks_in(table, from, to) {
            let mut mine: SlotRows = Vec::new();
            for &(slot, id) in chunk.rows.iter().filter(|(s, _)| *s >= from && *s < to) {
                match mine.last_mut() {
                    Some((s, rows)) if chunk.compacted && s.0 == slot => rows.extend(rows_of(&[batch(id)])),
                    _ => mine.push((TimestampMs(slot), rows_of(&[batch(id)]))),
                }
            }
            out.extend(mine);
        }
        out
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

    /// Merges the chunks of the hour of `hour` into one at its first key, if there are two or
    /// more (the test's hours are far below the row limit).
    fn compact_hour(&mut self, table: usize, hour: i64) {
        let start = TimestampMs(hour).hour_start().0;
        let keys: Vec<(usize, i64)> =
            self.chunks.range((table, start)..(table, start + HOUR_MS)).map(|(k, _)| *k).collect();
        let count: usize = keys.iter().map(|k| self.chunks[k].len()).sum();
        if count < 2 {
            return;
        }
        let mut rows: Vec<(i64, i64)> = Vec::new();
        for k in &keys {
            for chunk in self.chunks.remove(k).unwrap_or_default() {
                rows.extend(chunk.rows);
            }
        }
        rows.sort_by_key(|(slot, _)| *slot);
        self.chunks.insert(keys[0], vec![Chunk { rows, compacted: true }]);
    }
}

/// The rows of `batches` as `(id, name)`, in order.
fn rows_of(batches: &[RecordBatch]) -> Rows {
    let mut out = Vec::new();
    for b in batches {
        let ids = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        let names = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        for r in 0..b.num_rows() {
            out.push((ids.value(r), names.is_valid(r).then(|| names.value(r).to_owned())));
        }
    }
    out
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
                model
                    .chunks
                    .entry((table, slot))
                    .or_default()
                    .push(Chunk { rows: vec![(slot, id)], compacted: false });
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
                let (want_rows, want_slots) = model.scan(table, from, to);
                let want_by_slot = model.scan_slots(table, from, to);
                let (from, to) = (TimestampMs(from), TimestampMs(to));
                prop_assert_eq!(rows_of(&s.scan(TABLES[table], from, to).unwrap()), want_rows);
                prop_assert_eq!(s.slots(TABLES[table], from, to).unwrap(), want_slots);
                let by_slot: Vec<_> = s
                    .scan_slots(TABLES[table], from, to)
                    .unwrap()
                    .into_iter()
                    .map(|(slot, b)| (slot, rows_of(&[b])))
                    .collect();
                prop_assert_eq!(by_slot, want_by_slot);
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
            Op::CompactHour { table, hour } => {
                let done = s.compact_hour(TABLES[table], TimestampMs(hour), None).unwrap();
                prop_assert!(!done.raced);
                model.compact_hour(table, hour);
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
        prop_assert_eq!(rows_of(&s.scan(name, TimestampMs::MIN, TimestampMs::MAX).unwrap()), want);
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
