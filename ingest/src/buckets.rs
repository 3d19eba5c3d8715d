//! Sharded aggregation buckets for the open slot(s) of one table.
//!
//! Each reporting thread updates its own shard: shards are picked by a per-thread index, so
//! two reporters contend only if they run on threads mapped to the same shard (there are more
//! shards than threads). A shard's lock is otherwise touched only by the sealer, once per slot,
//! and by the rare snapshot for a live query or a checkpoint. A key already present in the
//! shard is found by its borrowed form and updated in place: no allocation.
//!
//! Memory is capped by a budget shared by all shards. A new key that does not fit is dropped
//! and counted ([`BucketStats::dropped`]); keys already present keep aggregating.

use std::hash::Hash;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use hashbrown::{Equivalent, HashMap};
use parking_lot::Mutex;

use crate::time::TimestampMs;

/// A value that aggregates.
pub trait Merge {
    /// Folds `other` into `self`.
    fn merge(&mut self, other: &Self);
}

/// Rows of one slot, by key.
pub type SlotRows<K, V> = HashMap<K, V>;

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
    /// Updates dropped because the budget was exhausted, since start.
    pub dropped: u64,
}

/// One shard behind its lock, on its own cache line(s).
type ShardCell<K, V> = Padded<Mutex<Shard<K, V>>>;

/// Fixed per-row overhead on top of the key and value: hash table control bytes and slack.
const ROW_OVERHEAD: usize = 32;

#[derive(Debug)]
struct Shard<K, V> {
    slot: TimestampMs,
    rows: SlotRows<K, V>,
    /// Estimated bytes of `rows`, released when the rows are taken.
    bytes: usize,
    /// Rows (and their bytes) of earlier slots this shard still holds, waiting for the sealer.
    older: Vec<(TimestampMs, SlotRows<K, V>, usize)>,
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
}

thread_local! {
    /// This thread's shard number, assigned round-robin on first use.
    static SHARD_INDEX: usize = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed)
    };
}

impl<K: Hash + Eq, V: Merge + Clone> Buckets<K, V> {
    /// Buckets with `shards` shards and a memory budget of `budget` bytes.
    pub fn new(shards: usize, budget: usize) -> Self {
        let shards = (0..shards.max(1))
            .map(|_| {
                Padded(Mutex::new(Shard {
                    slot: TimestampMs(i64::MIN),
                    rows: HashMap::new(),
                    bytes: 0,
                    older: Vec::new(),
                }))
            })
            .collect();
        Self { shards, used: AtomicUsize::new(0), budget, dropped: AtomicU64::new(0) }
    }

    /// Merges `value` into the row `key` of `slot`. `key_heap` is the heap size the owned key
    /// will take (for the memory budget). A slot earlier than the shard's current one is
    /// merged into the current one (a report racing a slot boundary counts in the later slot).
    pub fn update<Q>(&self, slot: TimestampMs, key: &Q, key_heap: usize, value: &V) -> Update
    where
        Q: Hash + Equivalent<K> + ?Sized,
        K: for<'a> From<&'a Q>,
    {
        self.upsert(slot, key, key_heap, value, |q| K::from(q))
    }

    /// Like [`Self::update`], with an owned key (recovering a checkpoint; rare, so the key is
    /// cloned on insert rather than moved).
    pub fn update_owned(&self, slot: TimestampMs, key: &K, key_heap: usize, value: &V) -> Update
    where
        K: Clone,
    {
        self.upsert(slot, key, key_heap, value, K::clone)
    }

    fn upsert<Q>(
        &self,
        slot: TimestampMs,
        key: &Q,
        key_heap: usize,
        value: &V,
        own: impl FnOnce(&Q) -> K,
    ) -> Update
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        let i = SHARD_INDEX.with(|i| *i) % self.shards.len();
        let mut shard = self.shards[i].0.lock();
        if slot > shard.slot {
            let old_slot = shard.slot;
            // The next slot will hold about as many keys: size it once instead of rehashing.
            let capacity = shard.rows.len();
            let old = std::mem::replace(&mut shard.rows, HashMap::with_capacity(capacity));
            let old_bytes = std::mem::take(&mut shard.bytes);
            if !old.is_empty() {
                // The bytes stay accounted until the sealer takes the rows.
                shard.older.push((old_slot, old, old_bytes));
            }
            shard.slot = slot;
        }
        if let Some(v) = shard.rows.get_mut(key) {
            v.merge(value);
            return Update::Merged;
        }
        let size = key_heap + std::mem::size_of::<(K, V)>() + ROW_OVERHEAD;
        if self.used.fetch_add(size, Ordering::Relaxed) + size > self.budget {
            self.used.fetch_sub(size, Ordering::Relaxed);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return Update::Dropped;
        }
        shard.bytes += size;
        shard.rows.insert(own(key), value.clone());
        Update::Inserted
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
                    Some((_, into)) => merge_rows(into, rows),
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
                let i = match out.iter().position(|(t, _)| *t == slot) {
                    Some(i) => i,
                    None => {
                        out.push((slot, HashMap::with_capacity(rows.len())));
                        out.len() - 1
                    }
                };
                let into = &mut out[i].1;
                for (k, v) in rows {
                    match into.get_mut(k) {
                        Some(x) => x.merge(v),
                        None => {
                            into.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
        }
        out.sort_by_key(|(slot, _)| *slot);
        out
    }

    /// Current counters.
    pub fn stats(&self) -> BucketStats {
        BucketStats {
            bytes: self.used.load(Ordering::Relaxed),
            budget: self.budget,
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

fn merge_rows<K: Hash + Eq, V: Merge>(into: &mut SlotRows<K, V>, from: SlotRows<K, V>) {
    if into.len() < from.len() {
        // Merge the smaller map into the larger one.
        let small = std::mem::replace(into, from);
        return merge_rows(into, small);
    }
    for (k, v) in from {
        match into.get_mut(&k) {
            Some(x) => x.merge(&v),
            None => {
                into.insert(k, v);
            }
        }
    }
}
