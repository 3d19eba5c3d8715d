//! The pipeline of one table: reports → sharded buckets → sealed slots in the store, with
//! checkpoints of the open slot.
//!
//! [`Pipeline::record`] is the hot path (any thread). [`Pipeline::persist`] is called by one
//! background task every second or so: it seals every slot that has ended and, every
//! `checkpoint_interval`, writes the open slot as a checkpoint, so `kill -9` loses at most that
//! window. [`Pipeline::open`] recovers a checkpoint: still the current slot → back into the
//! buckets; an earlier slot → sealed at once. Sealing a slot removes the checkpoint in the same
//! atomic write, so a row is never stored twice. [`Pipeline::compact`], called by the same
//! task, merges the sealed slots of each closed hour into one chunk (tables with
//! [`TableKind::COMPACT`]), so that queries over days read 24 chunks a day, not 1 440.

use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use arrow::array::RecordBatch;
use hashbrown::Equivalent;
use parking_lot::{Mutex, RwLock};
use tarsmon_engine::{ChunkFilter, Store};
use tracing::{info, warn};

use crate::buckets::{Buckets, SlotRows, Update, Writer};
use crate::error::Result;
use crate::table::TableKind;
use crate::time::{Clock, SlotWidth, TimestampMs};

/// An hour is compacted once the first unsealed slot is this far past its end: by then
/// nothing is sealed into it any more, and the MySQL exporter, which reads the hour's slots
/// in 5-minute intervals, has usually read them from the cheaper per-slot chunks.
pub const COMPACT_DELAY: Duration = Duration::from_secs(10 * 60);

/// One hour in milliseconds.
const HOUR_MS: i64 = 3_600_000;

/// Settings of a pipeline.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Width of a base slot (default 60 s; divides 5 minutes).
    pub slot: SlotWidth,
    /// How often the open slot is checkpointed (default 5 s).
    pub checkpoint_interval: Duration,
    /// Memory for open rows; past it new keys are dropped and counted (default 512 MiB).
    pub memory_budget: usize,
    /// Number of bucket shards (default: 4 per available core).
    pub shards: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            slot: SlotWidth::DEFAULT,
            checkpoint_interval: Duration::from_secs(5),
            memory_budget: 512 << 20,
            shards: 4 * std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// Counters of a pipeline, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PipelineStats {
    /// Updates merged into an existing row.
    pub merged: u64,
    /// Updates that created a row.
    pub inserted: u64,
    /// Updates dropped because the memory budget was exhausted.
    pub dropped: u64,
    /// Estimated bytes of open rows.
    pub open_bytes: usize,
    /// The memory budget.
    pub memory_budget: usize,
    /// Slots sealed since start.
    pub sealed_slots: u64,
    /// Rows sealed since start.
    pub sealed_rows: u64,
    /// Checkpoints written since start.
    pub checkpoints: u64,
    /// Failed seal or checkpoint attempts since start (retried; nothing is dropped).
    pub persist_errors: u64,
    /// Closed hours compacted into fewer chunks since start.
    pub compacted_hours: u64,
    /// Failed hour compactions since start (retried; the hour stays readable as it was).
    pub compact_errors: u64,
}

#[derive(Debug, Default)]
struct Counters {
    sealed_slots: AtomicU64,
    sealed_rows: AtomicU64,
    checkpoints: AtomicU64,
    persist_errors: AtomicU64,
    compacted_hours: AtomicU64,
    compact_errors: AtomicU64,
}

#[derive(Debug)]
struct PersistState {
    last_checkpoint: TimestampMs,
}

/// Slots taken from the buckets whose write to the store has not succeeded yet.
type UnwrittenSlots<T> = Vec<(TimestampMs, SlotRows<<T as TableKind>::Key, <T as TableKind>::Value>)>;

/// The ingest pipeline of table `T`.
pub struct Pipeline<T: TableKind> {
    buckets: Buckets<T::Key, T::Value>,
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    config: PipelineConfig,
    /// The first slot not yet sealed: a report never lands in a slot before it, even if the
    /// clock steps back.
    open_from: AtomicI64,
    /// Taken (write) while rows move from the buckets to the store and (read) by [`Self::scan`],
    /// so a query sees every row exactly once.
    handover: RwLock<()>,
    /// Serialises `persist` calls (one background task in practice; tests may call directly).
    persist: Mutex<PersistState>,
    /// Slots taken from the buckets whose write failed: retried first, and visible to scans.
    /// Changed only under `handover` (write), read under `handover` (read).
    unwritten: Mutex<UnwrittenSlots<T>>,
    /// The first hour [`Self::compact`] has not compacted yet (`None`: not read from the
    /// store's metadata yet). Moved back when a slot is sealed into an earlier hour.
    compact_from: Mutex<Option<TimestampMs>>,
    counters: Counters,
}

impl<T: TableKind> std::fmt::Debug for Pipeline<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("table", &T::NAME)
            .field("config", &self.config)
            .field("open_from", &self.open_from)
            .finish_non_exhaustive()
    }
}

impl<T: TableKind> Pipeline<T> {
    /// Opens the pipeline of `T` on `store`, recovering the checkpoint a previous run left.
    pub fn open(store: Arc<Store>, clock: Arc<dyn Clock>, config: PipelineConfig) -> Result<Self> {
        let now = clock.now();
        let p = Self {
            buckets: Buckets::new(config.shards, config.memory_budget, T::key_heap),
            store,
            clock,
            open_from: AtomicI64::new(i64::MIN),
            handover: RwLock::new(()),
            persist: Mutex::new(PersistState { last_checkpoint: now }),
            unwritten: Mutex::new(Vec::new()),
            compact_from: Mutex::new(None),
            counters: Counters::default(),
            config,
        };
        if let Some((slot, batch)) = p.store.checkpoint(T::NAME)? {
            let current = p.config.slot.slot_of(now);
            if slot >= current {
                let rows = T::from_batch(&batch)?;
                info!(table = T::NAME, rows = rows.len(), "recovering the open slot from its checkpoint");
                // A checkpoint holds one slot; its rows go back into it (a row's own time may
                // be later than the slot start, as in `notify`).
                for (_, key, value) in &rows {
                    p.buckets.update_owned(slot, key, value);
                }
            } else {
                info!(table = T::NAME, rows = batch.num_rows(), "sealing the checkpoint of an ended slot");
                p.store.write_slot_by(T::NAME, slot, &batch, T::SEGMENT_BY)?;
                p.sealed_into(slot);
                p.open_from.store(p.config.slot.next(slot).0, Ordering::SeqCst);
            }
        }
        Ok(p)
    }

    /// The pipeline's settings.
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// The slot a report received now belongs to.
    pub fn current_slot(&self) -> TimestampMs {
        let slot = self.config.slot.slot_of(self.clock.now());
        TimestampMs(slot.0.max(self.open_from.load(Ordering::Relaxed)))
    }

    /// Aggregates one report row into the current slot. Never blocks on I/O.
    pub fn record<Q>(&self, key: &Q, value: &T::Value) -> Update
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
        T::Key: for<'a> From<&'a Q>,
    {
        self.recorder(self.current_slot()).record(key, value)
    }

    /// Aggregates one report row into `slot`, a value [`Self::current_slot`] returned for this
    /// report (read the clock once per report, not once per row).
    pub fn record_in<Q>(&self, slot: TimestampMs, key: &Q, value: &T::Value) -> Update
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
        T::Key: for<'a> From<&'a Q>,
    {
        self.recorder(slot).record(key, value)
    }

    /// Locks this thread's shard of the buckets for the rows of one report, all aggregated
    /// into `slot` (a value [`Self::current_slot`] returned for this report): one lock per
    /// report instead of one per row. Never blocks on I/O; hold it only while recording.
    pub fn recorder(&self, slot: TimestampMs) -> Recorder<'_, T> {
        Recorder { writer: self.buckets.writer(slot), pipeline: self }
    }

    /// Seals every slot that has ended and, when due, checkpoints the open slot. Blocking
    /// (RocksDB writes): call it off the RPC threads.
    pub fn persist(&self) -> Result<()> {
        let mut state = self.persist.lock();
        let now = self.clock.now();
        let limit = self.config.slot.slot_of(now);
        self.seal_before(limit)?;
        let due = now.0 - state.last_checkpoint.0 >= self.config.checkpoint_interval.as_millis() as i64;
        if due {
            self.checkpoint(&mut state, now)?;
        }
        Ok(())
    }

    /// Seals what has ended and checkpoints the open slot now (ordered shutdown).
    pub fn shutdown(&self) -> Result<()> {
        let mut state = self.persist.lock();
        let now = self.clock.now();
        self.seal_before(self.config.slot.slot_of(now))?;
        self.checkpoint(&mut state, now)?;
        self.store.flush()?;
        Ok(())
    }

    fn seal_before(&self, limit: TimestampMs) -> Result<()> {
        let _handover = self.handover.write();
        // Reports from now on land at `limit` or later, even if the clock steps back.
        self.open_from.fetch_max(limit.0, Ordering::SeqCst);
        let mut unwritten = self.unwritten.lock();
        let mut slots = std::mem::take(&mut *unwritten);
        slots.extend(self.buckets.take_before(limit));
        let mut failure = None;
        for (slot, rows) in slots {
            if failure.is_some() {
                unwritten.push((slot, rows));
                continue;
            }
            let batch = T::to_batch(slot, rows.iter());
            match self.store.write_slot_by(T::NAME, slot, &batch, T::SEGMENT_BY) {
                Ok(()) => {
                    self.sealed_into(slot);
                    self.counters.sealed_slots.fetch_add(1, Ordering::Relaxed);
                    self.counters.sealed_rows.fetch_add(rows.len() as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    self.counters.persist_errors.fetch_add(1, Ordering::Relaxed);
                    warn!(table = T::NAME, slot = slot.0, error = %e, "sealing a slot failed; will retry");
                    unwritten.push((slot, rows));
                    failure = Some(e);
                }
            }
        }
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// Notes that `slot` was sealed: if its hour was compacted already, it is compacted again.
    fn sealed_into(&self, slot: TimestampMs) {
        if let Some(from) = self.compact_from.lock().as_mut() {
            *from = (*from).min(slot.hour_start());
        }
    }

    /// The metadata key of the compaction cursor.
    fn compact_cursor_key() -> String {
        format!("compact.{}", T::NAME)
    }

    /// Compacts the next closed hour of the table that needs it ([`TableKind::COMPACT`];
    /// see [`tarsmon_engine::Store::compact_hour`]), and returns whether there may be more to
    /// do. An hour is closed once the first unsealed slot is [`COMPACT_DELAY`] past its end.
    /// One hour per call, since one takes about a second for 10k keys: the background task
    /// calls it after every [`Self::persist`], so sealing is never held up by more than one.
    /// Blocking. A failure is counted and retried on the next call.
    pub fn compact(&self) -> Result<bool> {
        if !T::COMPACT {
            return Ok(false);
        }
        let open_from = self.open_from.load(Ordering::SeqCst);
        if open_from == i64::MIN {
            return Ok(false);
        }
        let limit = TimestampMs(open_from).saturating_sub(COMPACT_DELAY).hour_start();
        let mut from = self.compact_from.lock();
        let start = match *from {
            Some(t) => t,
            None => {
                let stored = self.store.meta(&Self::compact_cursor_key())?;
                let t = stored
                    .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
                    .map_or(TimestampMs(i64::MIN), |b| TimestampMs(i64::from_le_bytes(b)));
                *from = Some(t);
                t
            }
        };
        if start >= limit {
            return Ok(false);
        }
        let hours = self.store.partitions(T::NAME, start, limit)?;
        let Some(&hour) = hours.first() else {
            self.advance_compaction(&mut from, limit)?;
            return Ok(false);
        };
        match self.store.compact_hour(T::NAME, hour, T::SEGMENT_BY) {
            Ok(done) if done.raced => Ok(true),
            Ok(done) => {
                if done.chunks_after < done.chunks_before {
                    self.counters.compacted_hours.fetch_add(1, Ordering::Relaxed);
                    info!(
                        table = T::NAME,
                        hour = hour.0,
                        chunks = done.chunks_before,
                        into = done.chunks_after,
                        rows = done.rows,
                        "compacted a closed hour"
                    );
                }
                self.advance_compaction(&mut from, TimestampMs(hour.0.saturating_add(HOUR_MS)))?;
                Ok(hours.len() > 1)
            }
            Err(e) => {
                self.counters.compact_errors.fetch_add(1, Ordering::Relaxed);
                warn!(table = T::NAME, hour = hour.0, error = %e, "compacting an hour failed; will retry");
                Err(e.into())
            }
        }
    }

    /// Moves the compaction cursor to `to`, in memory and in the store.
    fn advance_compaction(&self, from: &mut Option<TimestampMs>, to: TimestampMs) -> Result<()> {
        self.store.put_meta(&Self::compact_cursor_key(), &to.0.to_le_bytes())?;
        *from = Some(to);
        Ok(())
    }

    fn checkpoint(&self, state: &mut PersistState, now: TimestampMs) -> Result<()> {
        state.last_checkpoint = now;
        let open = self.buckets.snapshot();
        let Some((slot, rows)) = open.last() else {
            return Ok(());
        };
        let batch = T::to_batch(*slot, rows.iter());
        if let Err(e) = self.store.put_checkpoint(T::NAME, *slot, &batch) {
            self.counters.persist_errors.fetch_add(1, Ordering::Relaxed);
            return Err(e.into());
        }
        self.counters.checkpoints.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Every row with slot in `[from, to)`: sealed slots from the store plus the open ones.
    pub fn scan(&self, from: TimestampMs, to: TimestampMs) -> Result<Vec<RecordBatch>> {
        self.scan_columns(from, to, ChunkFilter::default())
    }

    /// Like [`Self::scan`], with only the columns `filter.projection` lists (indices into
    /// [`TableKind::schema`], in that order), and only the rows that satisfy `filter`'s
    /// conditions (exactly; see [`ChunkFilter`]): sealed chunks test them while decoding,
    /// the open slots' rows are filtered here.
    pub fn scan_columns(
        &self,
        from: TimestampMs,
        to: TimestampMs,
        filter: ChunkFilter<'_>,
    ) -> Result<Vec<RecordBatch>> {
        let _handover = self.handover.read();
        let mut out = self.store.scan_columns(T::NAME, from, to, filter)?;
        let in_range = |slot: &TimestampMs| *slot >= from && *slot < to;
        let filtered = |slot: TimestampMs, batch: RecordBatch| {
            filter.apply(&batch).map_err(|source| tarsmon_engine::Error::Chunk {
                table: T::NAME.to_owned(),
                slot,
                source,
            })
        };
        for (slot, rows) in self.unwritten.lock().iter().filter(|(s, _)| in_range(s)) {
            out.push(filtered(*slot, T::to_batch(*slot, rows.iter()))?);
        }
        for (slot, rows) in self.buckets.snapshot().iter().filter(|(s, _)| in_range(s)) {
            out.push(filtered(*slot, T::to_batch(*slot, rows.iter()))?);
        }
        Ok(out)
    }

    /// Current counters.
    pub fn stats(&self) -> PipelineStats {
        let b = self.buckets.stats();
        let c = &self.counters;
        PipelineStats {
            merged: b.merged,
            inserted: b.inserted,
            dropped: b.dropped,
            open_bytes: b.bytes,
            memory_budget: b.budget,
            sealed_slots: c.sealed_slots.load(Ordering::Relaxed),
            sealed_rows: c.sealed_rows.load(Ordering::Relaxed),
            checkpoints: c.checkpoints.load(Ordering::Relaxed),
            persist_errors: c.persist_errors.load(Ordering::Relaxed),
            compacted_hours: c.compacted_hours.load(Ordering::Relaxed),
            compact_errors: c.compact_errors.load(Ordering::Relaxed),
        }
    }
}

/// This thread's shard of a pipeline's buckets, locked for the rows of one report
/// ([`Pipeline::recorder`]).
pub struct Recorder<'a, T: TableKind> {
    writer: Writer<'a, T::Key, T::Value>,
    pipeline: &'a Pipeline<T>,
}

impl<T: TableKind> Recorder<'_, T> {
    /// Aggregates one row. A new key that does not fit in the memory budget is dropped and
    /// counted ([`Update::Dropped`]); the first drop and then every power of two is logged.
    pub fn record<Q>(&mut self, key: &Q, value: &T::Value) -> Update
    where
        Q: Hash + Equivalent<T::Key> + ?Sized,
        T::Key: for<'a> From<&'a Q>,
    {
        let u = self.writer.update(key, value);
        if u == Update::Dropped {
            let dropped = self.pipeline.buckets.dropped();
            // Visible, without flooding the log.
            if dropped.is_power_of_two() {
                warn!(
                    table = T::NAME,
                    dropped,
                    budget = self.pipeline.config.memory_budget,
                    "memory budget for open rows exhausted: new keys are dropped (counted)"
                );
            }
        }
        u
    }
}

impl<T: TableKind> std::fmt::Debug for Recorder<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("table", &T::NAME).finish_non_exhaustive()
    }
}
