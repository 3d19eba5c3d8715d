//! Sharded aggregation buckets for the open slot(s) of one table.
//!
//! Each reporting thread updates its own shard: shards are picked by a per-thread index, so
//! two reporters contend only if they run on threads mapped to the same shard (there are more
//! shards than threads). A shard's lock is otherwise touched only by the sealer, once per slot,
//! and by the rare snapshot for a live query or a checkpoint. A report of many rows takes the
//! lock once for all of them ([`Buckets::writer`]). A key already present in the shard is found
//! by its borrowed form and updated in place: no allocation. The rows of a shard are a
//! [`SlotRows`] (paged rows plus an index that keeps each row's hash; see its module).
//!
//! Memory is capped by a budget shared by all shards. A new key that does not fit is dropped
//! and counted ([`BucketStats::dropped`]); keys already present keep aggregating.

mod rows;

use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use hashbrown::{DefaultHashBuilder, Equivalent};
use parking_lot::{Mutex, MutexGuard};

pub use rows::{Iter, SlotRows};

use crate::time::TimestampMs;

/// A value that aggregates.
pub trait Merge {
    /// Folds `other` into `self`.
    fn merge(&mut self, other: &Self);
}

/// What happened to one update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// The key was present; the value was merged.
    Merged,
    /// A new key was inserted.
    Inserted,
    /// A new key did not fit in the memory budget and was dropped.
    Dropped,
}

/// Counters of the buckets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BucketStats {
    /// Estimated bytes held by open rows.
    pub bytes: usize,
    /// The memory budget.
    pub budget: usize,
    /// Updates merged into a row already present, since start.
    pub merged: u64,
    /// Updates that created a row, since start.
    pub inserted: u64,
    /// Updates dropped because the budget was exhausted, since start.
    pub dropped: u64,
}

/// One shard behind its lock, on its own cache line(s).
type ShardCell<K, V> = Padded<Mutex<Shard<K, V>>>;

/// Bytes the allocator adds to each heap block (its header and rounding, about): what a key's
/// heap size ([`crate::TableKind::key_heap`]) adds per block it holds.
pub(crate) const ALLOCATOR_OVERHEAD: usize = 16;

/// Per-row overhead on top of the row itself and its key's heap bytes: the index entry at its
/// usual fill (8 bytes and a control byte, 44–87 % full).
const ROW_OVERHEAD: usize = 16;

#[derive(Debug)]
struct Shard<K, V> {
    slot: TimestampMs,
    rows: SlotRows<K, V>,
    /// Estimated bytes of `rows`, released when the rows are taken.
    bytes: usize,
    /// Rows (and their bytes) of earlier slots this shard still holds, waiting for the sealer.
    older: Vec<(TimestampMs, SlotRows<K, V>, usize)>,
    /// Updates merged and rows inserted by this shard, since start: counted under the lock
    /// the update holds anyway, instead of in an atomic every reporting core would contend on.
    merged: u64,
    inserted: u64,
}

/// Pads a shard to its own cache lines, so shards updated by different cores do not share one.
#[derive(Debug)]
#[repr(align(128))]
struct Padded<T>(T);

/// Sharded buckets of one table.
#[derive(Debug)]
pub struct Buckets<K, V> {
    /// One mutex per shard: uncontended in steady state (see the module docs).
    shards: Box<[ShardCell<K, V>]>,
    /// Bytes held by rows of every shard; checked against `budget` on each insert.
    used: AtomicUsize,
    budget: usize,
    dropped: AtomicU64,
    /// One hasher for every shard, so the hashes their indexes keep agree when shards merge.
    hasher: DefaultHashBuilder,
    /// Heap bytes an owned key holds, for the budget.
    key_heap: fn(&K) -> usize,
}

thread_local! {
    /// This thread's shard number, assigned round-robin on first use.
    static SHARD_INDEX: usize = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed)
    };
}

impl<K: Hash + Eq, V: Merge + Clone> Buckets<K, V> {
    /// Buckets with `shards` shards and a memory budget of `budget` bytes; `key_heap` tells
    /// the heap bytes an owned key holds.
    pub fn new(shards: usize, budget: usize, key_heap: fn(&K) -> usize) -> Self {
        let shards = (0..shards.max(1))
            .map(|_| {
                Padded(Mutex::new(Shard {
                    slot: TimestampMs(i64::MIN),
                    rows: SlotRows::default(),
                    bytes: 0,
                    older: Vec::new(),
                    merged: 0,
                    inserted: 0,
                }))
            })
            .collect();
        Self {
            shards,
            used: AtomicUsize::new(0),
            budget,
            dropped: AtomicU64::new(0),
            hasher: DefaultHashBuilder::default(),
            key_heap,
        }
    }

    /// Locks this thread's shard for updates of `slot`, for as many updates as the caller has
    /// (the rows of one report). A slot earlier than the shard's current one is merged into
    /// the current one (a report racing a slot boundary counts in the later slot). Hold it
    /// only while updating: the sealer waits for it.
    pub fn writer(&self, slot: TimestampMs) -> Writer<'_, K, V> {
        let i = SHARD_INDEX.with(|i| *i) % self.shards.len();
        let mut shard = self.shards[i].0.lock();
        if slot > shard.slot {
            let old_slot = shard.slot;
            // The next slot will hold about as many keys: size its index once.
            let capacity = shard.rows.len();
            let old = std::mem::replace(&mut shard.rows, SlotRows::with_capacity(capacity));
            let old_bytes = std::mem::take(&mut shard.bytes);
            if !old.is_empty() {
                // The bytes stay accounted until the sealer takes the rows.
                shard.older.push((old_slot, old, old_bytes));
            }
            shard.slot = slot;
        }
        Writer { buckets: self, shard }
    }

    /// Merges `value` into the row `key` of `slot` (one update; see [`Self::writer`]).
    pub fn update<Q>(&self, slot: TimestampMs, key: &Q, value: &V) -> Update
    where
        Q: Hash + Equivalent<K> + ?Sized,
        K: for<'a> From<&'a Q>,
    {
        self.writer(slot).update(key, value)
    }

    /// Like [`Self::update`], with an owned key (recovering a checkpoint; rare, so the key is
    /// cloned on insert rather than moved).
    pub fn update_owned(&self, slot: TimestampMs, key: &K, value: &V) -> Update
    where
        K: Clone,
    {
        self.writer(slot).upsert(key, value, K::clone)
    }

    /// Takes every row of slots before `limit` out of the buckets, merged per slot, in slot
    /// order, and releases their memory.
    pub fn take_before(&self, limit: TimestampMs) -> Vec<(TimestampMs, SlotRows<K, V>)> {
        let mut taken: Vec<(TimestampMs, SlotRows<K, V>)> = Vec::new();
        let mut released = 0;
        for shard in self.shards.iter() {
            let mut s = shard.0.lock();
            let mut parts: Vec<_> = s.older.extract_if(.., |(slot, _, _)| *slot < limit).collect();
            if s.slot < limit && !s.rows.is_empty() {
                let (slot, rows, bytes) = (s.slot, std::mem::take(&mut s.rows), std::mem::take(&mut s.bytes));
                parts.push((slot, rows, bytes));
            }
            drop(s);
            for (slot, rows, bytes) in parts {
                released += bytes;
                match taken.iter_mut().find(|(t, _)| *t == slot) {
                    Some((_, into)) => into.merge_from(rows, V::merge),
                    None => taken.push((slot, rows)),
                }
            }
        }
        self.used.fetch_sub(released, Ordering::Relaxed);
        taken.sort_by_key(|(slot, _)| *slot);
        taken
    }

    /// A copy of every open row, merged per slot, in slot order (for live queries and
    /// checkpoints). Locks one shard at a time.
    pub fn snapshot(&self) -> Vec<(TimestampMs, SlotRows<K, V>)>
    where
        K: Clone,
    {
        let mut out: Vec<(TimestampMs, SlotRows<K, V>)> = Vec::new();
        for shard in self.shards.iter() {
            let s = shard.0.lock();
            let parts =
                s.older.iter().map(|(slot, rows, _)| (*slot, rows)).chain(std::iter::once((s.slot, &s.rows)));
            for (slot, rows) in parts {
                if rows.is_empty() {
                    continue;
                }
                match out.iter_mut().find(|(t, _)| *t == slot) {
                    Some((_, into)) => into.merge_copy(rows, V::merge),
                    None => out.push((slot, rows.clone())),
                }
            }
        }
        out.sort_by_key(|(slot, _)| *slot);
        out
    }

    /// Updates dropped because the budget was exhausted, since start (without locking).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Current counters. Locks one shard at a time: not from inside a [`Writer`].
    pub fn stats(&self) -> BucketStats {
        let (mut merged, mut inserted) = (0, 0);
        for shard in self.shards.iter() {
            let s = shard.0.lock();
            merged += s.merged;
            inserted += s.inserted;
        }
        BucketStats {
            bytes: self.used.load(Ordering::Relaxed),
            budget: self.budget,
            merged,
            inserted,
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

/// This thread's shard, locked for the updates of one report ([`Buckets::writer`]).
#[derive(Debug)]
pub struct Writer<'a, K, V> {
    buckets: &'a Buckets<K, V>,
    shard: MutexGuard<'a, Shard<K, V>>,
}

impl<K: Hash + Eq, V: Merge + Clone> Writer<'_, K, V> {
    /// Merges `value` into the row `key`; a new key is inserted if it fits in the budget.
    pub fn update<Q>(&mut self, key: &Q, value: &V) -> Update
    where
        Q: Hash + Equivalent<K> + ?Sized,
        K: for<'a> From<&'a Q>,
    {
        self.upsert(key, value, |q| K::from(q))
    }

    fn upsert<Q>(&mut self, key: &Q, value: &V, own: impl FnOnce(&Q) -> K) -> Update
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        let hash = self.buckets.hasher.hash_one(key);
        let shard = &mut *self.shard;
        if let Some(v) = shard.rows.get_mut(hash, key) {
            v.merge(value);
            shard.merged += 1;
            return Update::Merged;
        }
        let key = own(key);
        let size = (self.buckets.key_heap)(&key) + std::mem::size_of::<(K, V)>() + ROW_OVERHEAD;
        let used = &self.buckets.used;
        if used.fetch_add(size, Ordering::Relaxed) + size > self.buckets.budget {
            used.fetch_sub(size, Ordering::Relaxed);
            self.buckets.dropped.fetch_add(1, Ordering::Relaxed);
            return Update::Dropped;
        }
        shard.bytes += size;
        shard.inserted += 1;
        shard.rows.insert_new(hash, key, value.clone());
        Update::Inserted
    }
}
