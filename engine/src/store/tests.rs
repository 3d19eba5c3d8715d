use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use super::Store;
use crate::config::StoreConfig;
use crate::error::{ChunkError, Error};
use crate::key;
use crate::time::{HOUR_MS, TimestampMs};

const MIN: i64 = 60_000;

/// A one-row batch identified by `id`.
fn batch(id: i64) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]));
    let name = StringArray::from(vec![Some(format!("row-{id}"))]);
    RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![id])), Arc::new(name)]).unwrap()
}

/// The ids of `batches`, in order.
fn ids(batches: &[RecordBatch]) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| {
            let ids = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            ids.values().to_vec()
        })
        .collect()
}

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(dir.path(), StoreConfig::default()).unwrap()
}

#[test]
fn store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
}

#[test]
fn write_slot_clears_a_checkpoint_that_is_not_newer() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let t = TimestampMs(10 * MIN);

    store.put_checkpoint("stat", t, &batch(1)).unwrap();
    let (slot, cp) = store.checkpoint("stat").unwrap().unwrap();
    assert_eq!((slot, ids(&[cp])), (t, vec![1]));

    // Sealing the checkpointed slot removes the checkpoint in the same write.
    store.write_slot("stat", t, &batch(2)).unwrap();
    assert!(store.checkpoint("stat").unwrap().is_none());

    // A checkpoint of a newer slot survives a (late) chunk of an older slot...
    store.put_checkpoint("stat", TimestampMs(12 * MIN), &batch(3)).unwrap();
    store.write_slot("stat", TimestampMs(11 * MIN), &batch(4)).unwrap();
    assert_eq!(store.checkpoint("stat").unwrap().map(|(s, _)| s), Some(TimestampMs(12 * MIN)));

    // ...and is only the checkpoint of its own table.
    store.write_slot("property", TimestampMs(13 * MIN), &batch(5)).unwrap();
    assert!(store.checkpoint("stat").unwrap().is_some());

    // A chunk of a later slot also clears it (the checkpointed slot was lost or empty).
    store.write_slot("stat", TimestampMs(13 * MIN), &batch(6)).unwrap();
    assert!(store.checkpoint("stat").unwrap().is_none());

    // Both effects of each write survive a reopen.
    store.put_checkpoint("stat", TimestampMs(20 * MIN), &batch(7)).unwrap();
    drop(store);
    let store = open(&dir);
    assert_eq!(ids(&store.scan("stat", TimestampMs::MIN, TimestampMs::MAX).unwrap()), vec![2, 4, 6]);
    assert_eq!(
        store.checkpoint("stat").unwrap().map(|(s, b)| (s, ids(&[b]))),
        Some((TimestampMs(20 * MIN), vec![7]))
    );
    store.delete_checkpoint("stat").unwrap();
    store.delete_checkpoint("stat").unwrap();
    assert!(store.checkpoint("stat").unwrap().is_none());
}

#[test]
fn several_chunks_per_slot_keep_write_order_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let t = TimestampMs(HOUR_MS + 5 * MIN);
    {
        let store = open(&dir);
        store.write_slot("stat", t, &batch(1)).unwrap();
        store.write_slot("stat", t, &batch(2)).unwrap();
        store.write_slot("stat", TimestampMs(t.0 - MIN), &batch(0)).unwrap();
    }
    let store = open(&dir);
    // The sequence number continues after a reopen instead of overwriting chunk 0.
    store.write_slot("stat", t, &batch(3)).unwrap();
    assert_eq!(ids(&store.scan("stat", t, TimestampMs(t.0 + 1)).unwrap()), vec![1, 2, 3]);
    assert_eq!(
        store.slots("stat", TimestampMs::MIN, TimestampMs::MAX).unwrap(),
        vec![TimestampMs(t.0 - MIN), t]
    );
}

#[test]
fn concurrent_writes_to_one_slot_all_survive() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(&dir));
    let t = TimestampMs(0);
    let threads: Vec<_> = (0..4)
        .map(|thread| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..25 {
                    store.write_slot("stat", t, &batch(thread * 100 + i)).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let mut got = ids(&store.scan("stat", t, TimestampMs(1)).unwrap());
    got.sort_unstable();
    let mut want: Vec<i64> = (0..4).flat_map(|t| (0..25).map(move |i| t * 100 + i)).collect();
    want.sort_unstable();
    assert_eq!(got, want);
}

#[test]
fn scans_return_exactly_the_range_in_slot_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    // Slots around hour boundaries and before 1970, written out of order.
    let mut slots: Vec<i64> =
        vec![-HOUR_MS - MIN, -MIN, 0, MIN, HOUR_MS - MIN, HOUR_MS, 3 * HOUR_MS + 7 * MIN];
    slots.reverse();
    for &s in &slots {
        store.write_slot("stat", TimestampMs(s), &batch(s)).unwrap();
        store.write_slot("stat2", TimestampMs(s), &batch(-1)).unwrap();
        store.write_slot("sta", TimestampMs(s), &batch(-2)).unwrap();
    }
    slots.sort_unstable();
    let bounds =
        [i64::MIN, -HOUR_MS - MIN, -HOUR_MS, -1, 0, 1, MIN, HOUR_MS - MIN, HOUR_MS, 4 * HOUR_MS, i64::MAX];
    for &from in &bounds {
        for &to in &bounds {
            let got = ids(&store.scan("stat", TimestampMs(from), TimestampMs(to)).unwrap());
            let want: Vec<i64> = slots.iter().copied().filter(|&s| from <= s && s < to).collect();
            assert_eq!(got, want, "scan [{from}, {to})");
            let got_slots = store.slots("stat", TimestampMs(from), TimestampMs(to)).unwrap();
            assert_eq!(got_slots, want.iter().map(|&s| TimestampMs(s)).collect::<Vec<_>>());
        }
    }
}

#[test]
fn scans_never_read_outside_their_key_range() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    for s in [0, MIN, 2 * MIN] {
        store.write_slot("stat", TimestampMs(s), &batch(s)).unwrap();
    }
    // Garbage in the slots just before and just after the range: a scan that decoded
    // anything outside [MIN, 2 * MIN) would fail.
    store.db.put(key::chunk_key("stat", TimestampMs(0), 1), b"garbage").unwrap();
    store.db.put(key::chunk_key("stat", TimestampMs(2 * MIN), 0), b"garbage").unwrap();
    assert_eq!(ids(&store.scan("stat", TimestampMs(MIN), TimestampMs(2 * MIN)).unwrap()), vec![MIN]);
    assert!(store.scan("stat", TimestampMs(0), TimestampMs(MIN)).is_err());
}

#[test]
fn corrupt_values_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let t = TimestampMs(5 * MIN);
    store.write_slot("stat", t, &batch(1)).unwrap();
    let chunk_key = key::chunk_key("stat", t, 0);
    let good = store.db.get(&chunk_key).unwrap().unwrap();

    store.db.put(&chunk_key, &good[..good.len() / 2]).unwrap();
    let err = store.scan("stat", t, TimestampMs(t.0 + 1)).unwrap_err();
    assert!(
        matches!(&err, Error::Chunk { table, slot, source: ChunkError::LengthMismatch { .. } }
            if table == "stat" && *slot == t),
        "{err:?}"
    );
    assert!(err.to_string().contains("\"stat\""), "{err}");
    // `slots` reads keys only, so it still works.
    assert_eq!(store.slots("stat", t, TimestampMs(t.0 + 1)).unwrap(), vec![t]);

    store.put_checkpoint("stat", t, &batch(2)).unwrap();
    store.db.put(key::checkpoint_key("stat"), [1, 2, 3]).unwrap();
    assert!(matches!(
        store.checkpoint("stat"),
        Err(Error::Checkpoint { source: ChunkError::TooShort { len: 3 }, .. })
    ));
    let mut bad = key::encode_i64(t.0).to_vec();
    bad.extend_from_slice(&good[..20]);
    store.db.put(key::checkpoint_key("stat"), bad).unwrap();
    assert!(matches!(store.checkpoint("stat"), Err(Error::Checkpoint { .. })));

    // A chunk key that does not follow the layout is reported, not skipped or panicked on.
    store.db.put([key::chunks_start().as_slice(), b"stat\0short"].concat(), b"x").unwrap();
    assert!(matches!(store.scan("stat", TimestampMs::MIN, TimestampMs::MAX), Err(Error::CorruptKey { .. })));
}

#[test]
fn invalid_table_names_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    for bad in ["", "a\0b"] {
        assert!(matches!(
            store.write_slot(bad, TimestampMs(0), &batch(1)),
            Err(Error::InvalidTableName { .. })
        ));
        assert!(matches!(
            store.scan(bad, TimestampMs::MIN, TimestampMs::MAX),
            Err(Error::InvalidTableName { .. })
        ));
        assert!(store.put_checkpoint(bad, TimestampMs(0), &batch(1)).is_err());
    }
}

#[test]
fn retention_drops_whole_old_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig { retention: Duration::from_secs(2 * 3600), ..StoreConfig::default() };
    let store = Store::open(dir.path(), config).unwrap();
    // Hours 0, 1, 2, 3 of table stat (two slots in hour 1), hour 1 of table notify.
    for (table, s) in [("stat", 0), ("stat", HOUR_MS), ("stat", HOUR_MS + MIN), ("stat", 2 * HOUR_MS)] {
        store.write_slot(table, TimestampMs(s), &batch(s)).unwrap();
    }
    store.write_slot("stat", TimestampMs(3 * HOUR_MS), &batch(3 * HOUR_MS)).unwrap();
    store.write_slot("notify", TimestampMs(HOUR_MS + MIN), &batch(7)).unwrap();
    store.put_checkpoint("stat", TimestampMs(0), &batch(8)).unwrap();

    // now - retention = 1h59m: only hour 0 has ended before it.
    assert_eq!(store.apply_retention(TimestampMs(3 * HOUR_MS + 59 * MIN)).unwrap(), 1);
    assert_eq!(ids(&store.scan("stat", TimestampMs::MIN, TimestampMs::MAX).unwrap()).first(), Some(&HOUR_MS));
    // now - retention = 2h: hours 0 and 1 have ended; hour 0 is already gone.
    assert_eq!(store.apply_retention(TimestampMs(4 * HOUR_MS)).unwrap(), 2);
    assert_eq!(
        ids(&store.scan("stat", TimestampMs::MIN, TimestampMs::MAX).unwrap()),
        vec![2 * HOUR_MS, 3 * HOUR_MS]
    );
    assert!(store.scan("notify", TimestampMs::MIN, TimestampMs::MAX).unwrap().is_empty());
    assert_eq!(store.apply_retention(TimestampMs(4 * HOUR_MS)).unwrap(), 0);
    // Checkpoints are not retention's business.
    assert!(store.checkpoint("stat").unwrap().is_some());

    store.drop_before("stat", TimestampMs(3 * HOUR_MS)).unwrap();
    assert_eq!(ids(&store.scan("stat", TimestampMs::MIN, TimestampMs::MAX).unwrap()), vec![3 * HOUR_MS]);
    drop(store);
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    assert_eq!(
        store.slots("stat", TimestampMs::MIN, TimestampMs::MAX).unwrap(),
        vec![TimestampMs(3 * HOUR_MS)]
    );
}

#[test]
fn retention_counts_the_partial_first_partition() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig { retention: Duration::ZERO, ..StoreConfig::default() };
    let store = Store::open(dir.path(), config).unwrap();
    let first_full_hour = TimestampMs(i64::MIN + HOUR_MS).hour_start();
    for s in [i64::MIN, first_full_hour.0 - 1, first_full_hour.0, first_full_hour.0 + HOUR_MS] {
        store.write_slot("stat", TimestampMs(s), &batch(s)).unwrap();
    }
    assert_eq!(store.apply_retention(TimestampMs(first_full_hour.0 + 2 * HOUR_MS)).unwrap(), 3);
    assert!(store.scan("stat", TimestampMs::MIN, TimestampMs::MAX).unwrap().is_empty());
}

#[test]
fn meta_round_trips_and_persists() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    assert_eq!(store.meta("cursor").unwrap(), None);
    store.put_meta("cursor", b"42").unwrap();
    store.put_meta("cursor", b"43").unwrap();
    store.put_meta("", b"").unwrap();
    store.flush().unwrap();
    store.close().unwrap();
    let store = open(&dir);
    assert_eq!(store.meta("cursor").unwrap().as_deref(), Some(&b"43"[..]));
    assert_eq!(store.meta("").unwrap().as_deref(), Some(&b""[..]));
    // Metadata does not show up as a table.
    assert_eq!(store.tables().unwrap(), Vec::<String>::new());
}

#[test]
fn unknown_store_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.db.put(key::FORMAT_KEY, [9]).unwrap();
    drop(store);
    let err = Store::open(dir.path(), StoreConfig::default()).unwrap_err();
    assert!(matches!(err, Error::UnsupportedStoreFormat { expected: 1, .. }), "{err:?}");
}

#[test]
fn a_second_open_of_the_same_directory_fails() {
    let dir = tempfile::tempdir().unwrap();
    let _store = open(&dir);
    assert!(matches!(Store::open(dir.path(), StoreConfig::default()), Err(Error::RocksDb(_))));
}

/// `rows` rows whose `name` cycles through `callees` callees; `id` is the row number.
fn callee_batch(rows: i64, callees: i64) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]));
    let names =
        StringArray::from((0..rows).map(|i| Some(format!("App.Server{}", i % callees))).collect::<Vec<_>>());
    RecordBatch::try_new(
        schema,
        vec![Arc::new(Int64Array::from((0..rows).collect::<Vec<_>>())), Arc::new(names)],
    )
    .unwrap()
}

/// How many segment keys of `table` the store holds.
fn segment_keys(store: &Store, table: &str) -> usize {
    let prefix = key::segment_table_prefix(table);
    store
        .db
        .prefix_iterator(&prefix)
        .take_while(|kv| kv.as_ref().is_ok_and(|(k, _)| k.starts_with(&prefix)))
        .count()
}

#[test]
fn a_filtered_scan_reads_only_the_segments_of_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let t = TimestampMs(5 * MIN);
    store.write_slot_by("stat", t, &callee_batch(900, 3), Some("name")).unwrap();
    assert_eq!(segment_keys(&store, "stat"), 3);
    let range = (t, TimestampMs(t.0 + MIN));
    let only = |name: &str| [crate::TextEquals { column: 1, value: name.to_owned() }];

    let cond = only("App.Server0");
    let filter = crate::ChunkFilter { projection: None, text_equals: &cond, text_any: &[] };
    let want: Vec<i64> = (0..900).filter(|i| i % 3 == 0).collect();
    assert_eq!(ids(&store.scan_columns("stat", range.0, range.1, filter).unwrap()), want);
    assert_eq!(ids(&store.scan("stat", range.0, range.1).unwrap()).len(), 900);

    // Garbage in the segment of Server2: the scan for Server0 never reads it, a full scan
    // reports it.
    store.db.put(key::segment_key("stat", t, 0, 2), b"garbage").unwrap();
    assert_eq!(ids(&store.scan_columns("stat", range.0, range.1, filter).unwrap()), want);
    let err = store.scan("stat", range.0, range.1).unwrap_err();
    assert!(matches!(err, Error::Chunk { source: ChunkError::LengthMismatch { .. }, .. }), "{err:?}");

    // A segment that the index lists but the store lacks is an error, not fewer rows.
    store.db.delete(key::segment_key("stat", t, 0, 1)).unwrap();
    let cond = only("App.Server1");
    let filter = crate::ChunkFilter { projection: None, text_equals: &cond, text_any: &[] };
    let err = store.scan_columns("stat", range.0, range.1, filter).unwrap_err();
    assert!(matches!(err, Error::Chunk { source: ChunkError::MissingSegment { segment: 1 }, .. }), "{err:?}");

    // The segment column must be a text column of the batch.
    assert!(store.write_slot_by("stat", t, &callee_batch(3, 1), Some("nope")).is_err());
    let err = store.write_slot_by("stat", t, &callee_batch(3, 1), Some("id")).unwrap_err();
    assert!(matches!(err, Error::Chunk { source: ChunkError::SegmentColumn { .. }, .. }), "{err:?}");
}

#[test]
fn rewrites_retention_and_drops_remove_segments_too() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig { retention: Duration::from_secs(3600), ..StoreConfig::default() };
    let store = Store::open(dir.path(), config).unwrap();
    for s in [0, MIN, HOUR_MS, 2 * HOUR_MS] {
        store.write_slot_by("stat", TimestampMs(s), &callee_batch(600, 2), Some("name")).unwrap();
    }
    assert_eq!(segment_keys(&store, "stat"), 8);

    store.rewrite_slot("stat", TimestampMs(MIN), Some(&batch(7))).unwrap();
    assert_eq!(segment_keys(&store, "stat"), 7);
    assert_eq!(ids(&store.scan("stat", TimestampMs(MIN), TimestampMs(2 * MIN)).unwrap()), vec![7]);
    store.rewrite_slot("stat", TimestampMs(MIN), None).unwrap();
    assert_eq!(segment_keys(&store, "stat"), 6);

    // now - retention = 1h: hour 0 is dropped, with its segments.
    assert_eq!(store.apply_retention(TimestampMs(2 * HOUR_MS)).unwrap(), 1);
    assert_eq!(segment_keys(&store, "stat"), 4);
    store.drop_before("stat", TimestampMs(2 * HOUR_MS)).unwrap();
    assert_eq!(segment_keys(&store, "stat"), 2);
    assert_eq!(ids(&store.scan("stat", TimestampMs::MIN, TimestampMs::MAX).unwrap()).len(), 600);
}

/// The ids of `batches`, sorted.
fn sorted_ids(batches: &[RecordBatch]) -> Vec<i64> {
    let mut ids = ids(batches);
    ids.sort_unstable();
    ids
}

/// How many chunk keys of `table` the store holds.
fn chunk_keys(store: &Store, table: &str) -> usize {
    let prefix = key::chunk_table_prefix(table);
    store
        .db
        .prefix_iterator(&prefix)
        .take_while(|kv| kv.as_ref().is_ok_and(|(k, _)| k.starts_with(&prefix)))
        .count()
}

/// Slot `m` of hour 1 holds rows `1000 m ..` over three callees.
fn slot_batch(m: i64, rows: i64) -> RecordBatch {
    let b = callee_batch(rows, 3);
    let ids = Int64Array::from((0..rows).map(|i| 1000 * m + i).collect::<Vec<_>>());
    RecordBatch::try_new(b.schema(), vec![Arc::new(ids), b.column(1).clone()]).unwrap()
}

#[test]
fn a_compacted_hour_answers_every_read_as_its_slots_did() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let hour = TimestampMs(HOUR_MS);
    let at = |m: i64| TimestampMs(HOUR_MS + m * MIN);
    for m in 0..60 {
        store.write_slot_by("stat", at(m), &slot_batch(m, 300), Some("name")).unwrap();
    }
    // A slot of the next hour is not part of it.
    store.write_slot_by("stat", at(60), &slot_batch(60, 300), Some("name")).unwrap();
    let before: Vec<Vec<i64>> =
        (0..61).map(|m| sorted_ids(&store.scan("stat", at(m), at(m + 1)).unwrap())).collect();

    let done = store.compact_hour("stat", TimestampMs(HOUR_MS + 17 * MIN), Some("name")).unwrap();
    assert_eq!(done, super::Compaction { chunks_before: 60, chunks_after: 1, rows: 18_000, raced: false });
    assert_eq!(chunk_keys(&store, "stat"), 2);
    // One segment per callee (100 rows each per slot, 6 000 in the hour), plus the next hour's.
    assert_eq!(segment_keys(&store, "stat"), 3 + 1);

    // Any range: the same rows as before, and the same sealed slots.
    for (from, to) in [(0, 61), (0, 60), (17, 18), (5, 42), (59, 61), (60, 61)] {
        let want: Vec<i64> = before[from..to].concat();
        let got = sorted_ids(&store.scan("stat", at(from as i64), at(to as i64)).unwrap());
        assert_eq!(got, want, "slots {from}..{to}");
        let slots = store.slots("stat", at(from as i64), at(to as i64)).unwrap();
        assert_eq!(slots, (from..to).map(|m| at(m as i64)).collect::<Vec<_>>());
    }
    let by_slot = store.scan_slots("stat", hour, at(61)).unwrap();
    assert_eq!(by_slot.len(), 61);
    for (m, (slot, batch)) in by_slot.iter().enumerate() {
        assert_eq!((*slot, sorted_ids(std::slice::from_ref(batch))), (at(m as i64), before[m].clone()));
    }

    // A filtered scan reads only its callee's segment: garbage in another is never seen.
    let cond = [crate::TextEquals { column: 1, value: "App.Server0".to_owned() }];
    let filter = crate::ChunkFilter { projection: None, text_equals: &cond, text_any: &[] };
    let want: Vec<i64> = before[..60].concat().into_iter().filter(|id| id % 1000 % 3 == 0).collect();
    store.db.put(key::segment_key("stat", hour, 0, 2), b"garbage").unwrap();
    assert_eq!(sorted_ids(&store.scan_columns("stat", hour, at(60), filter).unwrap()), want);
    assert!(store.scan("stat", hour, at(60)).is_err());

    // Compacting again is a no-op; a slot of the hour cannot be rewritten alone.
    let again = store.compact_hour("stat", hour, Some("name")).unwrap();
    assert_eq!((again.chunks_before, again.chunks_after), (1, 1));
    let err = store.rewrite_slot("stat", at(3), None).unwrap_err();
    assert!(matches!(err, Error::Compacted { .. }), "{err:?}");
}

#[test]
fn late_slots_are_folded_in_and_big_hours_become_several_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig { compact_max_rows: 1_000, ..StoreConfig::default() };
    let store = Store::open(dir.path(), config).unwrap();
    let at = |m: i64| TimestampMs(m * MIN);
    for m in 0..60 {
        store.write_slot_by("stat", at(m), &slot_batch(m, 300), Some("name")).unwrap();
    }
    let all = sorted_ids(&store.scan("stat", at(0), at(60)).unwrap());
    // 300 rows a slot, at most 1 000 a chunk: runs of 3 slots.
    let done = store.compact_hour("stat", at(0), Some("name")).unwrap();
    assert_eq!((done.chunks_before, done.chunks_after), (60, 20));
    assert_eq!(sorted_ids(&store.scan("stat", at(0), at(60)).unwrap()), all);
    assert_eq!(store.compact_hour("stat", at(0), Some("name")).unwrap().chunks_after, 20);

    // A slot written again after compaction is its own chunk until the next compaction, which
    // folds it into the chunk holding its slot's rows (a slot's chunks stay together).
    store.write_slot_by("stat", at(4), &slot_batch(100, 2), Some("name")).unwrap();
    let mut with_late = all.clone();
    with_late.extend([100_000, 100_001]);
    with_late.sort_unstable();
    assert_eq!(sorted_ids(&store.scan("stat", at(0), at(60)).unwrap()), with_late);
    assert_eq!(sorted_ids(&store.scan("stat", at(4), at(5)).unwrap()).len(), 302);
    let done = store.compact_hour("stat", at(0), Some("name")).unwrap();
    assert_eq!((done.chunks_before, done.chunks_after), (21, 20));
    assert_eq!(sorted_ids(&store.scan("stat", at(0), at(60)).unwrap()), with_late);
    assert_eq!(store.slots("stat", at(0), at(60)).unwrap().len(), 60);
}
