//! [`SlotRows`]: the rows of one slot in one shard, a hash table built for the open slot's
//! three jobs — update in place, grow without waste, hand over cheaply when the slot seals.
//!
//! The rows live in fixed-size pages in insertion order; a small index of `(row id, 32-bit
//! hash)` pairs finds them. Compared with a `HashMap<K, V>`, whose buckets hold the rows:
//! - **memory**: a hash table is between 44 % and 87 % full, and its empty buckets are as wide
//!   as a row (224 bytes for `stat`). Here only the 8-byte index entries are spare; the pages
//!   waste at most the unfilled end of the last one.
//! - **growth and merging**: the index keeps each row's hash, so growing it, and merging the
//!   shards of a slot when it seals, never hash a key again (for `stat`, re-hashing a packed
//!   key meant unpacking it), and a probe compares a key only when its 32-bit hash matches.
//! - **sealing**: rows are read in insertion order, page by page: sequential memory.
//!
//! The table does not hash: callers pass the 64-bit hash of the key, computed with the one
//! hasher of their [`super::Buckets`], so tables of different shards agree.

use hashbrown::{Equivalent, HashTable};

/// Rows per page. Pages are allocated whole once the first one is full, so a table wastes at
/// most one partly filled page (224 KiB for `stat`), never half of itself after a doubling.
const PAGE: usize = 1024;

/// An index entry: where the row is and the high half of its key's hash.
#[derive(Debug, Clone, Copy)]
struct Entry {
    row: u32,
    hash: u32,
}

/// The hash the index is built on, from the 32 bits an entry keeps: hashbrown takes the
/// bucket from the low bits and the 7-bit tag from the top ones, so the 32 bits go to both.
fn index_hash(hash: u32) -> u64 {
    (u64::from(hash) << 32) | u64::from(hash)
}

/// The 32 bits of a 64-bit key hash an entry keeps.
fn short(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// The rows of one slot (see the module doc).
#[derive(Debug, Clone)]
pub struct SlotRows<K, V> {
    index: HashTable<Entry>,
    pages: Vec<Vec<(K, V)>>,
    len: usize,
}

impl<K, V> Default for SlotRows<K, V> {
    fn default() -> Self {
        Self { index: HashTable::new(), pages: Vec::new(), len: 0 }
    }
}

impl<K, V> SlotRows<K, V> {
    /// An empty table whose index has room for `rows` rows (pages are allocated as rows come).
    pub fn with_capacity(rows: usize) -> Self {
        Self { index: HashTable::with_capacity(rows), pages: Vec::new(), len: 0 }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The rows, in insertion order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter { inner: self.pages.iter().flatten(), left: self.len }
    }

    /// The value of the row whose key is equivalent to `key`; `hash` is the key's hash.
    pub fn get_mut<Q>(&mut self, hash: u64, key: &Q) -> Option<&mut V>
    where
        Q: Equivalent<K> + ?Sized,
    {
        let at = self.position(short(hash), key)?;
        Some(&mut row_mut(&mut self.pages, at).1)
    }

    /// The row id of the key equivalent to `key`, whose hash keeps the 32 bits `h`.
    fn position<Q>(&self, h: u32, key: &Q) -> Option<u32>
    where
        Q: Equivalent<K> + ?Sized,
    {
        let pages = &self.pages;
        self.index.find(index_hash(h), |e| e.hash == h && key.equivalent(&row(pages, e.row).0)).map(|e| e.row)
    }

    /// Adds a row whose key is not in the table; `hash` is the key's hash.
    pub fn insert_new(&mut self, hash: u64, key: K, value: V) {
        self.insert_short(short(hash), key, value);
    }

    /// [`Self::insert_new`], given the 32 bits of the hash an entry keeps.
    fn insert_short(&mut self, h: u32, key: K, value: V) {
        let id =
            u32::try_from(self.len).unwrap_or_else(|_| unreachable!("more than 4G rows in one slot shard"));
        self.index.insert_unique(index_hash(h), Entry { row: id, hash: h }, |e| index_hash(e.hash));
        match self.pages.last_mut() {
            Some(page) if page.len() < PAGE => page.push((key, value)),
            _ => {
                // The first page grows as a `Vec` does (a slot of a few rows stays small); the
                // later ones are allocated whole.
                let mut page = if self.pages.is_empty() { Vec::new() } else { Vec::with_capacity(PAGE) };
                page.push((key, value));
                self.pages.push(page);
            }
        }
        self.len += 1;
    }

    /// Heap bytes the table itself holds (index and pages; not what the keys point to).
    pub fn table_bytes(&self) -> usize {
        let index = self.index.capacity() * (std::mem::size_of::<Entry>() + 1);
        let pages: usize = self.pages.iter().map(|p| p.capacity() * std::mem::size_of::<(K, V)>()).sum();
        index + pages
    }
}

impl<K: Eq, V> SlotRows<K, V> {
    /// Merges `from` into `self`, using the hashes both indexes keep: rows of a key in both
    /// are folded with `merge`, the others move. Takes the larger table as the destination.
    pub fn merge_from(&mut self, mut from: SlotRows<K, V>, mut merge: impl FnMut(&mut V, &V)) {
        if self.len < from.len {
            std::mem::swap(self, &mut from);
        }
        let hashes: Vec<u32> = {
            // Each row's hash, by row id, from `from`'s index.
            let mut h = vec![0u32; from.len];
            for e in from.index.iter() {
                h[e.row as usize] = e.hash;
            }
            h
        };
        self.index.reserve(from.len, |e| index_hash(e.hash));
        for ((key, value), h) in from.pages.into_iter().flatten().zip(hashes) {
            match self.position(h, &key) {
                Some(at) => merge(&mut row_mut(&mut self.pages, at).1, &value),
                None => self.insert_short(h, key, value),
            }
        }
    }
}

impl<K: Eq + Clone, V: Clone> SlotRows<K, V> {
    /// Merges a copy of `from` into `self` (as [`Self::merge_from`], cloning what it moves).
    pub fn merge_copy(&mut self, from: &SlotRows<K, V>, mut merge: impl FnMut(&mut V, &V)) {
        self.index.reserve(from.len, |e| index_hash(e.hash));
        for e in from.index.iter() {
            let (key, value) = row(&from.pages, e.row);
            match self.position(e.hash, key) {
                Some(at) => merge(&mut row_mut(&mut self.pages, at).1, value),
                None => self.insert_short(e.hash, key.clone(), value.clone()),
            }
        }
    }
}

impl<K, V> IntoIterator for SlotRows<K, V> {
    type Item = (K, V);
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<Vec<(K, V)>>>;

    /// The rows, in insertion order.
    fn into_iter(self) -> Self::IntoIter {
        self.pages.into_iter().flatten()
    }
}

/// The row `id` (an id the index holds, so in bounds).
fn row<K, V>(pages: &[Vec<(K, V)>], id: u32) -> &(K, V) {
    let id = id as usize;
    &pages[id / PAGE][id % PAGE]
}

/// The row `id`, mutably.
fn row_mut<K, V>(pages: &mut [Vec<(K, V)>], id: u32) -> &mut (K, V) {
    let id = id as usize;
    &mut pages[id / PAGE][id % PAGE]
}

/// The rows of a [`SlotRows`], in insertion order; knows how many are left.
#[derive(Debug, Clone)]
pub struct Iter<'a, K, V> {
    inner: std::iter::Flatten<std::slice::Iter<'a, Vec<(K, V)>>>,
    left: usize,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        let (k, v) = self.inner.next()?;
        self.left -= 1;
        Some((k, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::hash::BuildHasher;

    use proptest::prelude::*;

    use super::*;

    fn add(t: &mut SlotRows<u32, u64>, s: &hashbrown::DefaultHashBuilder, k: u32, v: u64) {
        let h = s.hash_one(k);
        match t.get_mut(h, &k) {
            Some(x) => *x += v,
            None => t.insert_new(h, k, v),
        }
    }

    fn contents(t: &SlotRows<u32, u64>) -> HashMap<u32, u64> {
        let m: HashMap<u32, u64> = t.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(m.len(), t.len(), "a key appears twice");
        assert_eq!(t.iter().len(), t.len());
        m
    }

    proptest! {
        #[test]
        fn updates_and_merges_match_a_hash_map(
            a in proptest::collection::vec((0u32..3000, 1u64..5), 0..5000),
            b in proptest::collection::vec((0u32..3000, 1u64..5), 0..5000),
        ) {
            let s = hashbrown::DefaultHashBuilder::default();
            let (mut ta, mut tb) = (SlotRows::default(), SlotRows::with_capacity(10));
            let mut model: HashMap<u32, u64> = HashMap::new();
            for &(k, v) in &a {
                add(&mut ta, &s, k, v);
                *model.entry(k).or_default() += v;
            }
            prop_assert_eq!(contents(&ta), model.clone());
            for &(k, v) in &b {
                add(&mut tb, &s, k, v);
                *model.entry(k).or_default() += v;
            }
            let mut copy = ta.clone();
            copy.merge_copy(&tb, |x, y| *x += *y);
            prop_assert_eq!(contents(&copy), model.clone());
            ta.merge_from(tb, |x, y| *x += *y);
            prop_assert_eq!(contents(&ta), model.clone());
            // The merged table still finds every key by its hash.
            for (k, v) in &model {
                prop_assert_eq!(ta.get_mut(s.hash_one(k), k).copied(), Some(*v));
            }
        }
    }

    #[test]
    fn pages_are_allocated_whole_after_the_first() {
        let s = hashbrown::DefaultHashBuilder::default();
        let mut t = SlotRows::default();
        for k in 0..(3 * PAGE as u32 + 1) {
            add(&mut t, &s, k, 1);
        }
        assert_eq!(t.pages.len(), 4);
        assert!(t.pages.iter().all(|p| p.capacity() == PAGE));
        assert_eq!(
            t.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            (0..3 * PAGE as u32 + 1).collect::<Vec<_>>()
        );
    }
}
