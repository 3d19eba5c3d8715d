//! [`PackedStatKey`]: a stat key as one byte string, the form in which the open slot holds its
//! keys.
//!
//! A [`super::StatKey`] is nine `String`s: nine allocations, 232 bytes of struct and nine
//! pointers to chase when a lookup compares keys. Packed, the same key is one byte string,
//! compared front to back in one pass over contiguous bytes. A key of up to [`INLINE`] bytes
//! (most: names, IPs and a version come to 80–100) is stored inside the value itself, so a row
//! of the open slot holds its key and its figures side by side: a lookup reads one place in
//! memory, and a new key costs no allocation. Longer keys go to the heap. Layout:
//!
//! ```text
//! source (1 byte: 0 client, 1 server), slave_port (i32 LE), return_value (i32 LE),
//! then for master_name, slave_name, interface_name, master_ip, slave_ip, tars_version,
//! slave_set_name, slave_set_area, slave_set_id: the length (LEB128) and the UTF-8 bytes
//! ```
//!
//! The encoding is canonical (one byte string per key), so byte equality is key equality. A
//! packed key hashes exactly as the [`StatKeyRef`] it was packed from, so a lookup by a
//! borrowed key (the hot path) needs neither packing nor allocation.

use std::fmt;
use std::hash::{Hash, Hasher};

use hashbrown::Equivalent;

use super::{Source, StatKeyRef};
use crate::buckets::ALLOCATOR_OVERHEAD;

/// Bytes before the strings: source, slave_port, return_value.
const FIXED: usize = 9;

/// Longest packed key kept inside the value; with its length and the tag that makes
/// `PackedStatKey` 104 bytes.
pub(crate) const INLINE: usize = 102;

/// A stat key packed into one byte string (see the module doc).
#[derive(Clone)]
pub struct PackedStatKey(Packed);

/// Where the bytes of a packed key are.
#[derive(Clone)]
enum Packed {
    /// In the value: the first `len` bytes of `bytes`.
    Inline { len: u8, bytes: [u8; INLINE] },
    /// On the heap (longer than [`INLINE`]).
    Heap(Box<[u8]>),
}

impl PartialEq for PackedStatKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for PackedStatKey {}

impl PackedStatKey {
    /// The packed bytes.
    fn bytes(&self) -> &[u8] {
        match &self.0 {
            Packed::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Packed::Heap(b) => b,
        }
    }

    /// Borrows the key's fields.
    pub fn unpack(&self) -> StatKeyRef<'_> {
        let packed = self.bytes();
        let (fixed, mut rest) = packed.split_at(FIXED.min(packed.len()));
        let int = |at: usize| {
            let bytes = fixed.get(at..at + 4).and_then(|b| <[u8; 4]>::try_from(b).ok()).unwrap_or_default();
            i32::from_le_bytes(bytes)
        };
        let source = if fixed.first() == Some(&1) { Source::Server } else { Source::Client };
        let mut next = || -> &str {
            let (s, tail) = split_string(rest);
            rest = tail;
            // The bytes were packed from `&str`s, so they are UTF-8.
            std::str::from_utf8(s).unwrap_or_default()
        };
        StatKeyRef {
            source,
            slave_port: int(1),
            return_value: int(5),
            master_name: next(),
            slave_name: next(),
            interface_name: next(),
            master_ip: next(),
            slave_ip: next(),
            tars_version: next(),
            slave_set_name: next(),
            slave_set_area: next(),
            slave_set_id: next(),
        }
    }

    /// Heap bytes the key holds, with the allocator's overhead: none for a key kept inline.
    pub fn heap_bytes(&self) -> usize {
        match &self.0 {
            Packed::Inline { .. } => 0,
            Packed::Heap(b) => b.len() + ALLOCATOR_OVERHEAD,
        }
    }
}

impl StatKeyRef<'_> {
    /// The strings of the key, in packing order.
    fn strings(&self) -> [&str; 9] {
        [
            self.master_name,
            self.slave_name,
            self.interface_name,
            self.master_ip,
            self.slave_ip,
            self.tars_version,
            self.slave_set_name,
            self.slave_set_area,
            self.slave_set_id,
        ]
    }

    /// The three fixed-width fields, packed.
    fn fixed(&self) -> [u8; FIXED] {
        let mut out = [0; FIXED];
        out[0] = match self.source {
            Source::Client => 0,
            Source::Server => 1,
        };
        out[1..5].copy_from_slice(&self.slave_port.to_le_bytes());
        out[5..9].copy_from_slice(&self.return_value.to_le_bytes());
        out
    }

    /// Bytes of the key packed ([`PackedStatKey`]).
    pub fn packed_len(&self) -> usize {
        FIXED + self.strings().iter().map(|s| varint_len(s.len()) + s.len()).sum::<usize>()
    }

    /// Writes the packed form into `out` (exactly [`Self::packed_len`] bytes long).
    fn pack_into(&self, out: &mut [u8]) {
        let (fixed, mut rest) = out.split_at_mut(FIXED);
        fixed.copy_from_slice(&self.fixed());
        for s in self.strings() {
            let mut len = [0u8; 10];
            let n = put_varint(&mut len, s.len());
            let (head, tail) = rest.split_at_mut(n + s.len());
            head[..n].copy_from_slice(&len[..n]);
            head[n..].copy_from_slice(s.as_bytes());
            rest = tail;
        }
    }
}

impl From<&StatKeyRef<'_>> for PackedStatKey {
    fn from(k: &StatKeyRef<'_>) -> Self {
        let len = k.packed_len();
        match u8::try_from(len) {
            Ok(short) if len <= INLINE => {
                let mut bytes = [0u8; INLINE];
                k.pack_into(&mut bytes[..len]);
                PackedStatKey(Packed::Inline { len: short, bytes })
            }
            _ => {
                let mut bytes = vec![0u8; len].into_boxed_slice();
                k.pack_into(&mut bytes);
                PackedStatKey(Packed::Heap(bytes))
            }
        }
    }
}

impl Hash for PackedStatKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.unpack().hash(state);
    }
}

impl Equivalent<PackedStatKey> for StatKeyRef<'_> {
    fn equivalent(&self, k: &PackedStatKey) -> bool {
        let Some((fixed, mut rest)) = k.bytes().split_first_chunk::<FIXED>() else { return false };
        if *fixed != self.fixed() {
            return false;
        }
        for s in self.strings() {
            let (packed, tail) = split_string(rest);
            // Not `==`: see `tarsmon_engine::bytes`.
            if !tarsmon_engine::bytes::equal(packed, s.as_bytes()) {
                return false;
            }
            rest = tail;
        }
        rest.is_empty()
    }
}

impl fmt::Debug for PackedStatKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.unpack().fmt(f)
    }
}

/// Bytes LEB128 takes for `n`.
fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// Writes `n` in LEB128 at the start of `out`; returns the bytes written.
fn put_varint(out: &mut [u8; 10], mut n: usize) -> usize {
    let mut at = 0;
    while n >= 0x80 {
        out[at] = (n as u8 & 0x7f) | 0x80;
        n >>= 7;
        at += 1;
    }
    out[at] = n as u8;
    at + 1
}

/// Splits a length-prefixed string off the front of `bytes`; a malformed rest (impossible for
/// a key packed by `From`) reads as an empty string and an empty rest.
fn split_string(bytes: &[u8]) -> (&[u8], &[u8]) {
    let (mut n, mut shift, mut used) = (0usize, 0u32, 0usize);
    for &b in bytes {
        used += 1;
        n |= usize::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
        if b & 0x80 == 0 {
            let rest = &bytes[used..];
            return if n <= rest.len() { rest.split_at(n) } else { (&[], &[]) };
        }
        shift += 7;
    }
    (&[], &[])
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use proptest::prelude::*;

    use super::*;

    fn key<'a>(strings: &'a [String; 9], source: bool, port: i32, ret: i32) -> StatKeyRef<'a> {
        StatKeyRef {
            source: if source { Source::Server } else { Source::Client },
            master_name: &strings[0],
            slave_name: &strings[1],
            interface_name: &strings[2],
            master_ip: &strings[3],
            slave_ip: &strings[4],
            slave_port: port,
            return_value: ret,
            tars_version: &strings[5],
            slave_set_name: &strings[6],
            slave_set_area: &strings[7],
            slave_set_id: &strings[8],
        }
    }

    fn strings() -> impl Strategy<Value = [String; 9]> {
        // Short names and a few long ones (multi-byte lengths), with non-ASCII text.
        let s = prop_oneof![4 => "\\PC{0,12}", 1 => "[a-z]{100,300}"];
        [s.clone(), s.clone(), s.clone(), s.clone(), s.clone(), s.clone(), s.clone(), s.clone(), s]
    }

    proptest! {
        #[test]
        fn packing_round_trips_and_hashes_like_the_borrowed_key(
            a in strings(), b in strings(), sa: bool, sb: bool, pa: i32, ra: i32, pb: i32, rb: i32,
        ) {
            let (ka, kb) = (key(&a, sa, pa, ra), key(&b, sb, pb, rb));
            let packed = PackedStatKey::from(&ka);
            prop_assert_eq!(packed.unpack(), ka);
            prop_assert_eq!(packed.bytes().len(), ka.packed_len());
            let heap = if ka.packed_len() <= INLINE { 0 } else { ka.packed_len() + ALLOCATOR_OVERHEAD };
            prop_assert_eq!(packed.heap_bytes(), heap);
            let hasher = hashbrown::DefaultHashBuilder::default();
            prop_assert_eq!(hasher.hash_one(&packed), hasher.hash_one(ka));
            prop_assert!(ka.equivalent(&packed));
            // Equal exactly when the keys are equal, both ways of asking.
            prop_assert_eq!(kb.equivalent(&packed), ka == kb);
            prop_assert_eq!(PackedStatKey::from(&kb) == packed, ka == kb);
        }
    }

    #[test]
    fn a_key_and_its_figures_fit_in_a_row_of_224_bytes() {
        assert_eq!(std::mem::size_of::<PackedStatKey>(), 104);
        assert_eq!(std::mem::size_of::<(PackedStatKey, super::super::StatValue)>(), 224);
    }

    #[test]
    fn a_string_boundary_shift_is_a_different_key() {
        let one: [String; 9] = std::array::from_fn(|i| if i == 0 { "ab".into() } else { String::new() });
        let two: [String; 9] = std::array::from_fn(|i| match i {
            0 => "a".into(),
            1 => "b".into(),
            _ => String::new(),
        });
        let (k1, k2) = (key(&one, false, 0, 0), key(&two, false, 0, 0));
        assert!(!k2.equivalent(&PackedStatKey::from(&k1)));
        assert_ne!(PackedStatKey::from(&k1), PackedStatKey::from(&k2));
    }
}
