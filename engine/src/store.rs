//! [`Store`]: the RocksDB instance and every operation on it.
//!
//! Keys follow [`crate::key`], values are chunks ([`crate::chunk`]). Writes go through the
//! write-ahead log; reads use RocksDB iterators, each of which sees one consistent snapshot.

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use arrow::record_batch::RecordBatch;
use rocksdb::{
    DB, DBCompressionType, DBRawIterator, Options, ReadOptions, Snapshot, WriteBatch, WriteOptions,
};

use crate::chunk::{self, ChunkFilter, decode_chunk, encode_chunk};
use crate::config::StoreConfig;
use crate::error::{ChunkError, Error, Result};
use crate::key::{self, ChunkKey};
use crate::time::{HOUR_MS, TimestampMs};

/// The store format this version reads and writes, kept under [`key::FORMAT_KEY`].
const STORE_FORMAT: u8 = 1;

/// RocksDB background threads (flushes and compactions). The target box has 2 cores, and the
/// store's write rate is low (a few chunks per slot), so two are plenty.
const BACKGROUND_THREADS: i32 = 2;

/// The embedded store: sealed slot chunks, open-slot checkpoints and small metadata of all
/// tables, in one RocksDB instance under one directory.
///
/// `Store` is `Send + Sync`; share it with `Arc<Store>`. Every method that returns `Ok` after
/// writing has put the write into RocksDB's write-ahead log, so it survives `kill -9` (and,
/// with [`StoreConfig::sync_writes`], a power loss). Dropping the store closes RocksDB;
/// [`Store::close`] does the same but syncs the log first and reports errors.
pub struct Store {
    /// The database. `DB` is RocksDB's single-threaded-column-family mode: it is `Send + Sync`
    /// and every operation used here takes `&self`; only creating column families would need
    /// `&mut`, and the store uses the default one alone.
    db: DB,
    /// The settings the store was opened with.
    config: StoreConfig,
    /// WAL on (RocksDB's default); `fsync` per write if [`StoreConfig::sync_writes`].
    write_options: WriteOptions,
    /// Serialises the store's read-then-write operations: allocating a chunk's sequence number
    /// (read the last one, write the next), `write_slot`'s "delete the checkpoint if it is not
    /// newer" and retention. Without it two concurrent `write_slot`s for one slot could pick
    /// the same sequence number and one chunk would overwrite the other, or a `put_checkpoint`
    /// landing between `write_slot`'s read and its write would be deleted. A plain mutex is
    /// enough: these writes happen a few times per slot, never on a hot path; readers do not
    /// take it.
    write_lock: Mutex<()>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("path", &self.db.path()).field("config", &self.config).finish()
    }
}

impl Store {
    /// Opens the store in `dir`, creating the directory and an empty store if missing.
    ///
    /// Fails if another process has the store open (RocksDB's lock file) or if the directory
    /// holds a store of an unknown format.
    pub fn open(dir: &Path, config: StoreConfig) -> Result<Store> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.increase_parallelism(BACKGROUND_THREADS);
        options.set_max_background_jobs(BACKGROUND_THREADS);
        // LZ4 is the only compression library built in; chunk values are already LZ4-compressed
        // Arrow, so this mainly shrinks keys and metadata.
        options.set_compression_type(DBCompressionType::Lz4);
        options.set_bottommost_compression_type(DBCompressionType::Lz4);
        // Keep RocksDB's own info logs from piling up in the data directory.
        options.set_keep_log_file_num(4);
        let db = DB::open(&options, dir)?;

        let mut write_options = WriteOptions::default();
        write_options.set_sync(config.sync_writes);
        let store = Store { db, config, write_options, write_lock: Mutex::new(()) };
        store.check_format()?;
        Ok(store)
    }

    /// Records the store format in a new store, or checks it in an existing one.
    fn check_format(&self) -> Result<()> {
        match self.db.get_pinned(key::FORMAT_KEY)? {
            Some(found) if *found == [STORE_FORMAT] => Ok(()),
            Some(found) => {
                Err(Error::UnsupportedStoreFormat { found: found.to_vec(), expected: STORE_FORMAT })
            }
            None => Ok(self.db.put_opt(key::FORMAT_KEY, [STORE_FORMAT], &self.write_options)?),
        }
    }

    /// The settings the store was opened with.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// The directory of the store.
    pub fn path(&self) -> &Path {
        self.db.path()
    }

    /// Stores `batch` as a sealed chunk of `(table, slot)`, in one segment; see
    /// [`Store::write_slot_by`].
    pub fn write_slot(&self, table: &str, slot: TimestampMs, batch: &RecordBatch) -> Result<()> {
        self.write_slot_by(table, slot, batch, None)
    }

    /// Stores `batch` as a sealed chunk of `(table, slot)`, its rows grouped into segments by
    /// the text column `segment_by` (chunk format version 2): a scan whose filter asks for one
    /// value of that column ([`ChunkFilter::text_equals`]) reads and decodes only the segments
    /// holding it. The column must be `Utf8`.
    ///
    /// In the same atomic RocksDB write, deletes the checkpoint of `table` if its slot is
    /// `<= slot` (the checkpoint is now sealed; a newer checkpoint is kept). A slot may
    /// receive several chunks; [`Store::scan`] returns them all, in write order.
    pub fn write_slot_by(
        &self,
        table: &str,
        slot: TimestampMs,
        batch: &RecordBatch,
        segment_by: Option<&str>,
    ) -> Result<()> {
        key::validate_table(table)?;
        let chunk_error = |source| Error::Chunk { table: table.to_owned(), slot, source };
        let column = segment_by.map(|name| batch.schema_ref().index_of(name)).transpose();
        let encoded =
            chunk::encode_slot(batch, column.map_err(|e| chunk_error(e.into()))?).map_err(chunk_error)?;
        let _guard = self.lock_writes();
        let seq = self.next_seq(table, slot)?;
        let mut wb = WriteBatch::default();
        put_encoded(&mut wb, table, slot, seq, encoded);
        if self.checkpoint_slot(table)?.is_some_and(|checkpoint| checkpoint <= slot) {
            wb.delete(key::checkpoint_key(table));
        }
        Ok(self.db.write_opt(wb, &self.write_options)?)
    }

    /// The sequence number for the next chunk of `(table, slot)`. Caller holds `write_lock`.
    fn next_seq(&self, table: &str, slot: TimestampMs) -> Result<u32> {
        let mut iter = self.raw_iter(key::chunk_bound(table, slot), None);
        iter.seek_for_prev(key::chunk_key(table, slot, u32::MAX));
        let next = match iter.key() {
            Some(last) => {
                let last = ChunkKey::parse(&key::chunk_table_prefix(table), last)?;
                // The lower bound keeps the iterator inside this table, but a smaller slot of it
                // is still possible.
                if last.slot == slot {
                    last.seq
                        .checked_add(1)
                        .ok_or_else(|| Error::TooManyChunks { table: table.to_owned(), slot })?
                } else {
                    0
                }
            }
            None => 0,
        };
        iter.status()?;
        Ok(next)
    }

    /// The rows of `table` whose slot start is in `[from, to)`, one batch per chunk, in key
    /// order: slot order, and write order within a slot, except that a compacted hour
    /// ([`Store::compact_hour`]) is one batch (in slot order) placed at its first slot.
    ///
    /// Reads one snapshot: writes that land during the scan are either all seen or not at all.
    pub fn scan(&self, table: &str, from: TimestampMs, to: TimestampMs) -> Result<Vec<RecordBatch>> {
        self.scan_columns(table, from, to, ChunkFilter::default())
    }

    /// Like [`Store::scan`], decoding only what `filter` asks for (see [`ChunkFilter`]: some
    /// columns, and rows that may match some text conditions). Many chunks are decoded on
    /// several threads (one per core), since decoding, not reading, is most of a scan.
    pub fn scan_columns(
        &self,
        table: &str,
        from: TimestampMs,
        to: TimestampMs,
        filter: ChunkFilter<'_>,
    ) -> Result<Vec<RecordBatch>> {
        let snapshot = self.db.snapshot();
        let mut chunks: Vec<(ChunkKey, Vec<u8>)> = Vec::new();
        self.walk_chunks(&snapshot, table, from, to, |chunk, value| {
            chunks.push((chunk, value.to_vec()));
            Ok(())
        })?;
        let range = from.0..to.0;
        let decode = |part: &[(ChunkKey, Vec<u8>)]| -> Result<Vec<RecordBatch>> {
            part.iter()
                .map(|(chunk, value)| read_chunk(&snapshot, table, *chunk, value, filter, &range))
                .collect()
        };
        let threads =
            std::thread::available_parallelism().map_or(1, |n| n.get()).min(chunks.len() / 4).max(1);
        if threads == 1 {
            return decode(&chunks);
        }
        let per_thread = chunks.len().div_ceil(threads);
        std::thread::scope(|s| {
            let parts: Vec<_> = chunks.chunks(per_thread).map(|part| s.spawn(move || decode(part))).collect();
            let mut out = Vec::with_capacity(chunks.len());
            for part in parts {
                // Decoding catches Arrow's panics itself; one here is a bug, passed on as is.
                out.extend(part.join().unwrap_or_else(|e| std::panic::resume_unwind(e))?);
            }
            Ok(out)
        })
    }

    /// Like [`Store::scan`], as one batch per slot and chunk with its slot: a compacted hour is
    /// split back into its slots. In key order, so a slot written again after its hour was
    /// compacted comes after the compacted hour's batches.
    pub fn scan_slots(
        &self,
        table: &str,
        from: TimestampMs,
        to: TimestampMs,
    ) -> Result<Vec<(TimestampMs, RecordBatch)>> {
        let snapshot = self.db.snapshot();
        let mut out = Vec::new();
        self.walk_chunks(&snapshot, table, from, to, |chunk, value| {
            let slots = read_chunk_by_slot(&snapshot, table, chunk, value)?;
            out.extend(
                slots
                    .into_iter()
                    .map(|(slot, batch)| (TimestampMs(slot), batch))
                    .filter(|(s, _)| *s >= from && *s < to),
            );
            Ok(())
        })?;
        Ok(out)
    }

    /// Replaces every chunk of the sealed slot `(table, slot)` by `batch` (or by nothing), in
    /// one atomic write: for retention rules finer than whole partitions. The caller must not
    /// seal into the same slot concurrently. A slot inside a compacted hour
    /// ([`Store::compact_hour`]) cannot be replaced alone: [`Error::Compacted`].
    ///
    /// The new chunk has one segment (see [`Store::write_slot_by`]).
    pub fn rewrite_slot(&self, table: &str, slot: TimestampMs, batch: Option<&RecordBatch>) -> Result<()> {
        key::validate_table(table)?;
        let encoded = batch
            .map(|b| chunk::encode_slot(b, None))
            .transpose()
            .map_err(|source| Error::Chunk { table: table.to_owned(), slot, source })?;
        let _guard = self.lock_writes();
        let next = TimestampMs(slot.0.saturating_add(1));
        let mut compacted = false;
        self.walk_chunks(&self.db.snapshot(), table, slot, next, |chunk, value| {
            compacted |= chunk_extent(table, chunk, value)?.slots.len() > 1;
            Ok(())
        })?;
        if compacted {
            return Err(Error::Compacted { table: table.to_owned(), slot });
        }
        let mut wb = WriteBatch::default();
        wb.delete_range(key::chunk_bound(table, slot), key::chunk_bound(table, next));
        wb.delete_range(key::segment_bound(table, slot), key::segment_bound(table, next));
        if let Some(encoded) = encoded {
            put_encoded(&mut wb, table, slot, 0, encoded);
        }
        Ok(self.db.write_opt(wb, &self.write_options)?)
    }

    /// The distinct slot starts of `table` in `[from, to)` that hold at least one chunk (or
    /// are part of a compacted hour), in order: the slots that are sealed.
    pub fn slots(&self, table: &str, from: TimestampMs, to: TimestampMs) -> Result<Vec<TimestampMs>> {
        let mut slots = std::collections::BTreeSet::new();
        self.walk_chunks(&self.db.snapshot(), table, from, to, |chunk, value| {
            let in_range = |s: &i64| *s >= from.0 && *s < to.0;
            match chunk_extent(table, chunk, value) {
                Ok(extent) => slots.extend(extent.slots.into_iter().filter(in_range).map(TimestampMs)),
                // The slot is sealed even if its chunk cannot be read: scans report that.
                Err(_) => {
                    slots.insert(chunk.slot);
                }
            }
            Ok(())
        })?;
        Ok(slots.into_iter().collect())
    }

    /// Compacts the sealed chunks of the hour holding `hour` of `table`: the chunks of
    /// consecutive slots are merged into one chunk (format version 3, rows grouped into
    /// segments by the text column `segment_by`, as [`Store::write_slot_by`] does) of at most
    /// [`StoreConfig::compact_max_rows`] rows, so a scan over a day reads 24 chunks instead of
    /// 1 440. Scans, [`Store::slots`] and [`Store::scan_slots`] answer exactly as before.
    ///
    /// Call it once the hour's slots are all sealed; a slot written later is a chunk of its
    /// own again, folded in by the next call. Reading and encoding run without blocking other
    /// writes; if the hour's chunks change meanwhile, nothing is written and the outcome says
    /// so ([`Compaction::raced`]): call again. Idempotent: an hour already compacted is read
    /// (its indexes only) and left as is.
    pub fn compact_hour(
        &self,
        table: &str,
        hour: TimestampMs,
        segment_by: Option<&str>,
    ) -> Result<Compaction> {
        key::validate_table(table)?;
        let hour = hour.hour_start();
        let end = TimestampMs(hour.0.saturating_add(HOUR_MS));
        let snapshot = self.db.snapshot();
        let mut chunks: Vec<(ChunkKey, Vec<u8>)> = Vec::new();
        self.walk_chunks(&snapshot, table, hour, end, |chunk, value| {
            chunks.push((chunk, value.to_vec()));
            Ok(())
        })?;
        let mut outcome =
            Compaction { chunks_before: chunks.len(), chunks_after: chunks.len(), ..Compaction::default() };
        let mut rows = Vec::with_capacity(chunks.len());
        for (chunk, value) in &chunks {
            rows.push(match chunk_extent(table, *chunk, value)?.rows {
                Some(n) => n,
                None => {
                    read_chunk(&snapshot, table, *chunk, value, ChunkFilter::default(), &(hour.0..end.0))?
                        .num_rows() as u64
                }
            });
        }
        let keys: Vec<ChunkKey> = chunks.iter().map(|(c, _)| *c).collect();
        let mut writes = Vec::new();
        for run in plan_runs(&keys, &rows, self.config.compact_max_rows as u64) {
            let (first, last) = (keys[run.start].slot, keys[run.end - 1].slot);
            let mut parts: Vec<(i64, RecordBatch)> = Vec::new();
            for (chunk, value) in &chunks[run.clone()] {
                parts.extend(read_chunk_by_slot(&snapshot, table, *chunk, value)?);
            }
            let chunk_error = |source| Error::Chunk { table: table.to_owned(), slot: first, source };
            let (batch, slots, row_slots) = merge_slots(parts).map_err(chunk_error)?;
            let column = segment_by.map(|name| batch.schema_ref().index_of(name)).transpose();
            let column = column.map_err(|e| chunk_error(e.into()))?;
            let encoded = chunk::encode_slots(&batch, &slots, &row_slots, column).map_err(chunk_error)?;
            outcome.rows += batch.num_rows() as u64;
            outcome.chunks_after -= run.len() - 1;
            writes.push((first, last, encoded));
        }
        if writes.is_empty() {
            return Ok(outcome);
        }
        drop(snapshot);
        let _guard = self.lock_writes();
        let mut now: Vec<(ChunkKey, Vec<u8>)> = Vec::with_capacity(chunks.len());
        self.walk_chunks(&self.db.snapshot(), table, hour, end, |chunk, value| {
            now.push((chunk, value.to_vec()));
            Ok(())
        })?;
        if now != chunks {
            return Ok(Compaction { raced: true, chunks_after: outcome.chunks_before, rows: 0, ..outcome });
        }
        let mut wb = WriteBatch::default();
        for (first, last, encoded) in writes {
            // The run holds every chunk whose slot is in [first, last] (runs never split a
            // slot), so this deletes exactly the run; the put, later in the batch, survives it.
            let next = TimestampMs(last.0.saturating_add(1));
            wb.delete_range(key::chunk_bound(table, first), key::chunk_bound(table, next));
            wb.delete_range(key::segment_bound(table, first), key::segment_bound(table, next));
            put_encoded(&mut wb, table, first, 0, encoded);
        }
        self.db.write_opt(wb, &self.write_options)?;
        Ok(outcome)
    }

    /// The hour partitions of `table` that hold chunks and start in `[from, to)`, in order.
    /// One seek per partition.
    pub fn partitions(&self, table: &str, from: TimestampMs, to: TimestampMs) -> Result<Vec<TimestampMs>> {
        key::validate_table(table)?;
        let prefix = key::chunk_table_prefix(table);
        let start = key::chunk_bound(table, from.hour_start());
        let mut iter = self.raw_iter(start.clone(), Some(key::chunk_bound(table, to.hour_start())));
        iter.seek(&start);
        let mut out = Vec::new();
        while let Some(k) = iter.key() {
            let chunk = ChunkKey::parse(&prefix, k)?;
            if chunk.partition >= from {
                out.push(chunk.partition);
            }
            let Some(next) = chunk.partition.0.checked_add(HOUR_MS) else { break };
            iter.seek(key::chunk_bound(table, TimestampMs(next).hour_start()));
        }
        iter.status()?;
        Ok(out)
    }

    /// Calls `visit` with every chunk key of `table` that holds rows of a slot in `[from, to)`,
    /// and its value, in key order, as `snapshot` sees them. The key range does the pruning:
    /// one seek to the start of `from`'s hour (a compacted chunk there, keyed at its first slot,
    /// may hold later slots), and the iterator's upper bound stops it at `to`. Of the chunks
    /// before `from` in that hour only the indexes are read. Segments are not read.
    fn walk_chunks(
        &self,
        snapshot: &Snapshot<'_>,
        table: &str,
        from: TimestampMs,
        to: TimestampMs,
        mut visit: impl FnMut(ChunkKey, &[u8]) -> Result<()>,
    ) -> Result<()> {
        key::validate_table(table)?;
        if from >= to {
            return Ok(());
        }
        let prefix = key::chunk_table_prefix(table);
        let start = key::chunk_bound(table, from.hour_start());
        let mut iter = snapshot.raw_iterator_opt(bounds(start.clone(), Some(key::chunk_bound(table, to))));
        iter.seek(&start);
        while let Some((key, value)) = iter.item() {
            let chunk = ChunkKey::parse(&prefix, key)?;
            // Only a compacted chunk holds slots after its key's; the others are skipped on the
            // header's version byte, unchecked.
            let wanted = chunk.slot >= from
                || chunk::claims_compacted(value)
                    && match chunk::extent(value, chunk.slot.0) {
                        Ok(extent) => extent.slots.last().is_some_and(|&last| last >= from.0),
                        // Unreadable: visited, so the caller reports it rather than skips it.
                        Err(_) => true,
                    };
            if wanted {
                visit(chunk, value)?;
            }
            iter.next();
        }
        Ok(iter.status()?)
    }

    /// Stores `batch` as the checkpoint of the open slot `slot` of `table`, replacing the
    /// previous checkpoint of that table.
    pub fn put_checkpoint(&self, table: &str, slot: TimestampMs, batch: &RecordBatch) -> Result<()> {
        key::validate_table(table)?;
        let chunk =
            encode_chunk(batch).map_err(|source| Error::Checkpoint { table: table.to_owned(), source })?;
        let mut value = Vec::with_capacity(8 + chunk.len());
        value.extend_from_slice(&key::encode_i64(slot.0));
        value.extend_from_slice(&chunk);
        let _guard = self.lock_writes();
        Ok(self.db.put_opt(key::checkpoint_key(table), value, &self.write_options)?)
    }

    /// The checkpoint of `table`, if any: its slot and batch.
    pub fn checkpoint(&self, table: &str) -> Result<Option<(TimestampMs, RecordBatch)>> {
        key::validate_table(table)?;
        let Some(value) = self.db.get_pinned(key::checkpoint_key(table))? else {
            return Ok(None);
        };
        let (slot, chunk) = split_checkpoint(table, &value)?;
        let batch =
            decode_chunk(chunk).map_err(|source| Error::Checkpoint { table: table.to_owned(), source })?;
        Ok(Some((slot, batch)))
    }

    /// The slot of `table`'s checkpoint, without decoding its batch.
    fn checkpoint_slot(&self, table: &str) -> Result<Option<TimestampMs>> {
        match self.db.get_pinned(key::checkpoint_key(table))? {
            Some(value) => Ok(Some(split_checkpoint(table, &value)?.0)),
            None => Ok(None),
        }
    }

    /// Deletes the checkpoint of `table` (no error if there is none).
    pub fn delete_checkpoint(&self, table: &str) -> Result<()> {
        key::validate_table(table)?;
        let _guard = self.lock_writes();
        Ok(self.db.delete_opt(key::checkpoint_key(table), &self.write_options)?)
    }

    /// Stores `value` under the metadata key `name` (cursors and other small state),
    /// replacing any previous value.
    pub fn put_meta(&self, name: &str, value: &[u8]) -> Result<()> {
        Ok(self.db.put_opt(key::meta_key(name), value, &self.write_options)?)
    }

    /// The metadata value stored under `name`, if any.
    pub fn meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_pinned(key::meta_key(name))?.map(|v| v.to_vec()))
    }

    /// Drops every hour partition, of every table, that ends at or before
    /// `now - retention`, and returns how many partitions were dropped.
    ///
    /// Uses RocksDB range deletions: the data disappears from reads at once and its space is
    /// reclaimed by later compactions. Checkpoints are not touched.
    pub fn apply_retention(&self, now: TimestampMs) -> Result<usize> {
        // Partition [p, p + 1h) lies wholly before the cutoff time iff p < hour_start(cutoff).
        let keep_from = now.saturating_sub(self.config.retention).hour_start();
        let _guard = self.lock_writes();
        let mut batch = WriteBatch::default();
        let mut dropped = 0;
        for table in self.tables()? {
            let partitions = self.count_partitions_before(&table, keep_from)?;
            if partitions > 0 {
                delete_before(&mut batch, &table, keep_from);
                dropped += partitions;
            }
        }
        if dropped > 0 {
            self.db.write_opt(batch, &self.write_options)?;
        }
        Ok(dropped)
    }

    /// Drops every chunk of `table` whose slot starts before `before`. A compacted hour
    /// ([`Store::compact_hour`]) counts as its first slot: with `before` on an hour boundary
    /// (as retention uses it) the cut is exact.
    pub fn drop_before(&self, table: &str, before: TimestampMs) -> Result<()> {
        key::validate_table(table)?;
        let _guard = self.lock_writes();
        let mut batch = WriteBatch::default();
        delete_before(&mut batch, table, before);
        Ok(self.db.write_opt(batch, &self.write_options)?)
    }

    /// The names of the tables that hold chunks, in key order. One seek per table.
    fn tables(&self) -> Result<Vec<String>> {
        let mut tables = Vec::new();
        let mut iter = self.raw_iter(key::chunks_start().to_vec(), Some(key::chunks_end().to_vec()));
        iter.seek(key::chunks_start());
        while let Some(k) = iter.key() {
            let table = key::chunk_key_table(k)?.to_owned();
            iter.seek(key::chunk_table_end(&table));
            tables.push(table);
        }
        iter.status()?;
        Ok(tables)
    }

    /// How many hour partitions of `table` start before `before`. One seek per partition.
    fn count_partitions_before(&self, table: &str, before: TimestampMs) -> Result<usize> {
        let prefix = key::chunk_table_prefix(table);
        let mut iter = self.raw_iter(prefix.clone(), Some(key::chunk_bound(table, before)));
        iter.seek(&prefix);
        let mut count = 0;
        while let Some(k) = iter.key() {
            let chunk = ChunkKey::parse(&prefix, k)?;
            count += 1;
            // `hour_start` again because the first partition of the i64 range is partial.
            let Some(next) = chunk.partition.0.checked_add(HOUR_MS) else { break };
            iter.seek(key::chunk_bound(table, TimestampMs(next).hour_start()));
        }
        iter.status()?;
        Ok(count)
    }

    /// Syncs the write-ahead log to disk and flushes the memtables into SST files.
    ///
    /// Not needed for crash safety (writes are in the log already); useful before a backup
    /// or to make recovery after a restart shorter.
    pub fn flush(&self) -> Result<()> {
        self.db.flush_wal(true)?;
        Ok(self.db.flush()?)
    }

    /// Flushes the memtables and compacts RocksDB's files over the whole key range, so the
    /// space of deleted and replaced chunks (retention, [`Store::compact_hour`]) is given back
    /// now rather than by background compactions over time. Blocking; it rewrites every file.
    pub fn reclaim_space(&self) -> Result<()> {
        self.db.flush()?;
        self.db.compact_range::<&[u8], &[u8]>(None, None);
        Ok(())
    }

    /// Syncs the write-ahead log and closes the store. Use it as the last step of an ordered
    /// shutdown; dropping the store closes it too, but cannot report an error.
    pub fn close(self) -> Result<()> {
        Ok(self.db.flush_wal(true)?)
    }

    /// Takes `write_lock`.
    fn lock_writes(&self) -> MutexGuard<'_, ()> {
        // The mutex guards no data (it only orders writes), so a panic while it was held left
        // nothing half-updated: a poisoned lock is safe to use.
        self.write_lock.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A raw iterator over the keys in `[lower, upper)`.
    fn raw_iter(&self, lower: Vec<u8>, upper: Option<Vec<u8>>) -> DBRawIterator<'_> {
        self.db.raw_iterator_opt(bounds(lower, upper))
    }
}

/// Read options for an iterator over the keys in `[lower, upper)`.
fn bounds(lower: Vec<u8>, upper: Option<Vec<u8>>) -> ReadOptions {
    let mut options = ReadOptions::default();
    options.set_iterate_lower_bound(lower);
    if let Some(upper) = upper {
        options.set_iterate_upper_bound(upper);
    }
    options
}

/// Adds the index and segments of chunk `seq` of `(table, slot)` to `wb`.
fn put_encoded(wb: &mut WriteBatch, table: &str, slot: TimestampMs, seq: u32, encoded: chunk::EncodedSlot) {
    wb.put(key::chunk_key(table, slot, seq), encoded.index);
    for (segment, value) in (0..).zip(encoded.segments) {
        wb.put(key::segment_key(table, slot, seq, segment), value);
    }
}

/// Adds to `wb` the deletion of every chunk and segment of `table` whose slot starts before
/// `before`.
fn delete_before(wb: &mut WriteBatch, table: &str, before: TimestampMs) {
    wb.delete_range(key::chunk_table_prefix(table), key::chunk_bound(table, before));
    wb.delete_range(key::segment_table_prefix(table), key::segment_bound(table, before));
}

/// Decodes the rows of the slots in `range` of the chunk `chunk` of `table`, whose value
/// under the chunk key is `value`, as `filter` asks, reading the segments it needs from
/// `snapshot` (the one `value` was read from, so the two agree).
fn read_chunk(
    snapshot: &Snapshot<'_>,
    table: &str,
    chunk: ChunkKey,
    value: &[u8],
    filter: ChunkFilter<'_>,
    range: &std::ops::Range<i64>,
) -> Result<RecordBatch> {
    let segment = |n| Ok(snapshot.get_pinned(key::segment_key(table, chunk.slot, chunk.seq, n))?);
    chunk::decode_stored(value, filter, range, segment, chunk_error(table, chunk))
}

/// Decodes every row of the chunk `chunk` of `table`, as one batch per slot (see
/// [`Store::scan_slots`]).
fn read_chunk_by_slot(
    snapshot: &Snapshot<'_>,
    table: &str,
    chunk: ChunkKey,
    value: &[u8],
) -> Result<Vec<(i64, RecordBatch)>> {
    let segment = |n| Ok(snapshot.get_pinned(key::segment_key(table, chunk.slot, chunk.seq, n))?);
    chunk::decode_stored_by_slot(value, chunk.slot.0, segment, chunk_error(table, chunk))
}

/// The slots and rows of the chunk `chunk` of `table` (see [`chunk::extent`]).
fn chunk_extent(table: &str, chunk: ChunkKey, value: &[u8]) -> Result<chunk::Extent> {
    chunk::extent(value, chunk.slot.0).map_err(chunk_error(table, chunk))
}

/// Wraps a chunk error of the chunk `chunk` of `table`.
fn chunk_error(table: &str, chunk: ChunkKey) -> impl Fn(ChunkError) -> Error + '_ {
    move |source| Error::Chunk { table: table.to_owned(), slot: chunk.slot, source }
}

/// What [`Store::compact_hour`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compaction {
    /// Chunks of the hour before.
    pub chunks_before: usize,
    /// Chunks of the hour after (equal when there was nothing to merge, or it raced).
    pub chunks_after: usize,
    /// Rows rewritten into compacted chunks.
    pub rows: u64,
    /// The hour's chunks changed while it was being compacted; nothing was written.
    pub raced: bool,
}

/// Groups the chunks `keys` of one hour (in key order, with their row counts) into runs to
/// merge: consecutive chunks of at most `max_rows` rows in all (a slot's chunks always stay in
/// one run, whatever their rows), each of at least two chunks.
fn plan_runs(keys: &[ChunkKey], rows: &[u64], max_rows: u64) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let (mut start, mut total) = (0, 0u64);
    for (i, (key, &n)) in keys.iter().zip(rows).enumerate() {
        let same_slot = i > start && keys[i - 1].slot == key.slot;
        if i > start && !same_slot && total.saturating_add(n) > max_rows {
            if i - start >= 2 {
                runs.push(start..i);
            }
            (start, total) = (i, 0);
        }
        total = total.saturating_add(n);
    }
    if keys.len() - start >= 2 {
        runs.push(start..keys.len());
    }
    runs
}

/// Puts the batches of several slots (unordered, a slot possibly several times) into one
/// batch in slot order, with its distinct slots and each row's index among them.
fn merge_slots(mut parts: Vec<(i64, RecordBatch)>) -> Result<(RecordBatch, Vec<i64>, Vec<u32>), ChunkError> {
    // Stable: a slot's batches keep their write order.
    parts.sort_by_key(|(slot, _)| *slot);
    let mut slots: Vec<i64> = Vec::new();
    let mut row_slots = Vec::new();
    for (slot, batch) in &parts {
        if slots.last() != Some(slot) {
            slots.push(*slot);
        }
        let index = u32::try_from(slots.len() - 1).map_err(|_| ChunkError::TooLarge { len: slots.len() })?;
        row_slots.extend(std::iter::repeat_n(index, batch.num_rows()));
    }
    let schema = parts.first().map(|(_, b)| b.schema()).ok_or(ChunkError::Inconsistent)?;
    let batches: Vec<RecordBatch> = parts.into_iter().map(|(_, b)| b).collect();
    Ok((arrow::compute::concat_batches(&schema, &batches)?, slots, row_slots))
}

/// Splits a checkpoint value into its slot and its chunk.
fn split_checkpoint<'a>(table: &str, value: &'a [u8]) -> Result<(TimestampMs, &'a [u8])> {
    let (slot, chunk) = value.split_first_chunk::<8>().ok_or_else(|| Error::Checkpoint {
        table: table.to_owned(),
        source: ChunkError::TooShort { len: value.len() },
    })?;
    Ok((TimestampMs(key::decode_i64(*slot)), chunk))
}
