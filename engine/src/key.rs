//! The RocksDB key layout: every key the store writes is built and parsed here.
//!
//! All keys live in the default column family and start with a one-byte tag, so each kind of
//! record is one contiguous key range:
//!
//! | tag    | kind        | rest of the key                                       | value                     |
//! |--------|-------------|-------------------------------------------------------|---------------------------|
//! | `0x00` | store info  | `"format"`                                            | one byte, store format    |
//! | `0x01` | chunk       | `table` `0x00` `partition:i64` `slot:i64` `seq:u32`    | a chunk ([`crate::chunk`]) |
//! | `0x02` | checkpoint  | `table`                                               | `slot:i64` then a chunk   |
//! | `0x03` | metadata    | the caller's key, UTF-8                               | the caller's bytes        |
//! | `0x04` | segment     | `table` `0x00` `partition:i64` `slot:i64` `seq:u32` `segment:u32` | one segment of a version-2 chunk |
//!
//! Integers are big-endian so that byte order is numeric order; an `i64` has its sign bit
//! flipped first (`v as u64 ^ 1 << 63`), which maps `i64::MIN..=i64::MAX` onto
//! `0..=u64::MAX` in order. `partition` is the start of the UTC hour holding `slot`
//! ([`TimestampMs::hour_start`]) and `seq` numbers the chunks written for one slot, from 0.
//!
//! Why this order: a table's chunk keys sort by `(partition, slot, seq)`. Since `partition` is
//! a non-decreasing function of `slot`, that is slot order, so the chunks with slot start in
//! `[from, to)` are exactly the keys in `[chunk_bound(from), chunk_bound(to))`: a time-range
//! scan is one seek plus a bounded forward iteration, and dropping the hours before `t` is one
//! `delete_range`. A version-2 chunk's segments mirror its key under their own tag, so walking
//! the chunk keys never reads a segment, the segments of a chunk are neighbours, and the same
//! time ranges delete them. A compacted hour (chunk format 3) is keyed at its first slot and may
//! hold later slots of the same hour, so a scan starts at the hour of `from`, never earlier:
//! compaction stays inside one partition. Table names cannot contain `0x00`, so the separator ends the name: no table's
//! range overlaps another's, even when one name is a prefix of the other.

use crate::error::{Error, Result};
use crate::time::TimestampMs;

/// Tag byte of the store-wide information records.
const INFO_TAG: u8 = 0x00;
/// Tag byte of sealed slot chunks.
const CHUNK_TAG: u8 = 0x01;
/// Tag byte of open-slot checkpoints.
const CHECKPOINT_TAG: u8 = 0x02;
/// Tag byte of caller metadata.
const META_TAG: u8 = 0x03;
/// Tag byte of the segments of version-2 chunks.
const SEGMENT_TAG: u8 = 0x04;
/// Ends the table name inside a chunk key.
const TABLE_SEPARATOR: u8 = 0x00;
/// Longest accepted table name, in bytes: names are short identifiers ("stat").
pub(crate) const MAX_TABLE_NAME_LEN: usize = 255;
/// Length of the part of a chunk key after the table separator.
const CHUNK_SUFFIX_LEN: usize = 8 + 8 + 4;

/// Key of the record holding the store format version.
pub(crate) const FORMAT_KEY: &[u8] = &[INFO_TAG, b'f', b'o', b'r', b'm', b'a', b't'];

/// Encodes `v` so that byte-wise order is numeric order.
pub(crate) const fn encode_i64(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

/// Inverse of [`encode_i64`].
pub(crate) const fn decode_i64(bytes: [u8; 8]) -> i64 {
    (u64::from_be_bytes(bytes) ^ (1 << 63)) as i64
}

/// Checks that `table` can be used in a key: non-empty, at most [`MAX_TABLE_NAME_LEN`] bytes,
/// and free of the `0x00` separator.
pub(crate) fn validate_table(table: &str) -> Result<()> {
    let reason = if table.is_empty() {
        "empty"
    } else if table.len() > MAX_TABLE_NAME_LEN {
        "longer than 255 bytes"
    } else if table.as_bytes().contains(&TABLE_SEPARATOR) {
        "contains a NUL byte"
    } else {
        return Ok(());
    };
    Err(Error::InvalidTableName { name: table.to_owned(), reason })
}

/// `CHUNK_TAG table 0x00`: the prefix shared by all chunk keys of `table`.
pub(crate) fn chunk_table_prefix(table: &str) -> Vec<u8> {
    table_prefix(CHUNK_TAG, table)
}

/// `SEGMENT_TAG table 0x00`: the prefix shared by all segment keys of `table`.
pub(crate) fn segment_table_prefix(table: &str) -> Vec<u8> {
    table_prefix(SEGMENT_TAG, table)
}

/// `tag table 0x00`, with room for the rest of a key.
fn table_prefix(tag: u8, table: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(2 + table.len() + CHUNK_SUFFIX_LEN + 4);
    key.push(tag);
    key.extend_from_slice(table.as_bytes());
    key.push(TABLE_SEPARATOR);
    key
}

/// The smallest segment key of `table` whose slot is `>= slot` (as [`chunk_bound`]).
pub(crate) fn segment_bound(table: &str, slot: TimestampMs) -> Vec<u8> {
    let mut key = segment_table_prefix(table);
    key.extend_from_slice(&encode_i64(slot.hour_start().0));
    key.extend_from_slice(&encode_i64(slot.0));
    key
}

/// The key of segment `segment` of chunk `seq` of `(table, slot)`.
pub(crate) fn segment_key(table: &str, slot: TimestampMs, seq: u32, segment: u32) -> Vec<u8> {
    let mut key = segment_bound(table, slot);
    key.extend_from_slice(&seq.to_be_bytes());
    key.extend_from_slice(&segment.to_be_bytes());
    key
}

/// The smallest chunk key of `table` whose slot is `>= slot`; also the exclusive end of the
/// keys whose slot is `< slot`.
pub(crate) fn chunk_bound(table: &str, slot: TimestampMs) -> Vec<u8> {
    let mut key = chunk_table_prefix(table);
    key.extend_from_slice(&encode_i64(slot.hour_start().0));
    key.extend_from_slice(&encode_i64(slot.0));
    key
}

/// The key of chunk `seq` of `(table, slot)`.
pub(crate) fn chunk_key(table: &str, slot: TimestampMs, seq: u32) -> Vec<u8> {
    let mut key = chunk_bound(table, slot);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// A key greater than every chunk key of `table` and not greater than any chunk key of a
/// table that sorts after it: `CHUNK_TAG table 0x01`.
pub(crate) fn chunk_table_end(table: &str) -> Vec<u8> {
    let mut key = chunk_table_prefix(table);
    if let Some(last) = key.last_mut() {
        *last = TABLE_SEPARATOR + 1;
    }
    key
}

/// The first key of the chunk range (for walking all tables).
pub(crate) const fn chunks_start() -> [u8; 1] {
    [CHUNK_TAG]
}

/// The end (exclusive) of the chunk range.
pub(crate) const fn chunks_end() -> [u8; 1] {
    [CHUNK_TAG + 1]
}

/// The parts of a chunk key after the table name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChunkKey {
    /// Start of the hour partition.
    pub(crate) partition: TimestampMs,
    /// Start of the slot.
    pub(crate) slot: TimestampMs,
    /// Sequence number of the chunk within the slot.
    pub(crate) seq: u32,
}

impl ChunkKey {
    /// Parses `key`, which must be a chunk key of the table whose prefix
    /// ([`chunk_table_prefix`]) is `prefix`.
    pub(crate) fn parse(prefix: &[u8], key: &[u8]) -> Result<ChunkKey> {
        let corrupt = |reason| Error::CorruptKey { key: key.to_vec(), reason };
        let suffix = key.strip_prefix(prefix).ok_or_else(|| corrupt("not a key of this table"))?;
        let (partition, rest) = suffix.split_first_chunk::<8>().ok_or_else(|| corrupt("too short"))?;
        let (slot, rest) = rest.split_first_chunk::<8>().ok_or_else(|| corrupt("too short"))?;
        let seq: [u8; 4] = rest.try_into().map_err(|_| corrupt("chunk key suffix is not 20 bytes"))?;
        let parsed = ChunkKey {
            partition: TimestampMs(decode_i64(*partition)),
            slot: TimestampMs(decode_i64(*slot)),
            seq: u32::from_be_bytes(seq),
        };
        if parsed.partition != parsed.slot.hour_start() {
            return Err(corrupt("partition is not the hour of the slot"));
        }
        Ok(parsed)
    }
}

/// The table name of a chunk key, or an error if `key` is not one.
pub(crate) fn chunk_key_table(key: &[u8]) -> Result<&str> {
    let corrupt = |reason| Error::CorruptKey { key: key.to_vec(), reason };
    let rest = match key.split_first() {
        Some((&CHUNK_TAG, rest)) => rest,
        _ => return Err(corrupt("not a chunk key")),
    };
    let end = rest.iter().position(|&b| b == TABLE_SEPARATOR).ok_or_else(|| corrupt("no table separator"))?;
    std::str::from_utf8(&rest[..end]).map_err(|_| corrupt("table name is not UTF-8"))
}

/// The key of the checkpoint of `table`.
pub(crate) fn checkpoint_key(table: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + table.len());
    key.push(CHECKPOINT_TAG);
    key.extend_from_slice(table.as_bytes());
    key
}

/// The key of the metadata record `name`.
pub(crate) fn meta_key(name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + name.len());
    key.push(META_TAG);
    key.extend_from_slice(name.as_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn i64_encoding_preserves_order(a: i64, b: i64) {
            prop_assert_eq!(a.cmp(&b), encode_i64(a).cmp(&encode_i64(b)));
            prop_assert_eq!(decode_i64(encode_i64(a)), a);
        }

        #[test]
        fn chunk_key_order_is_slot_order(a: i64, b: i64, sa: u32, sb: u32) {
            let ka = chunk_key("stat", TimestampMs(a), sa);
            let kb = chunk_key("stat", TimestampMs(b), sb);
            prop_assert_eq!((a, sa).cmp(&(b, sb)), ka.cmp(&kb));
            // A key is inside [bound(from), bound(to)) exactly when its slot is in [from, to).
            prop_assert_eq!(ka >= chunk_bound("stat", TimestampMs(b)), a >= b);
            prop_assert_eq!(ka < chunk_bound("stat", TimestampMs(b)), a < b);
        }

        #[test]
        fn chunk_key_parses_back(slot: i64, seq: u32) {
            let key = chunk_key("stat", TimestampMs(slot), seq);
            let parsed = ChunkKey::parse(&chunk_table_prefix("stat"), &key).unwrap();
            prop_assert_eq!(
                parsed,
                ChunkKey { partition: TimestampMs(slot).hour_start(), slot: TimestampMs(slot), seq }
            );
            prop_assert_eq!(chunk_key_table(&key).unwrap(), "stat");
        }
    }

    #[test]
    fn table_ranges_do_not_overlap() {
        let stat_end = chunk_table_end("stat");
        let max_stat = chunk_key("stat", TimestampMs::MAX, u32::MAX);
        let min_stat2 = chunk_key("stat2", TimestampMs::MIN, 0);
        assert!(max_stat < stat_end);
        assert!(stat_end <= min_stat2);
        assert!(chunk_key("sta", TimestampMs::MAX, u32::MAX) < chunk_key("stat", TimestampMs::MIN, 0));
        assert!(chunks_start().as_slice() < chunk_key("a", TimestampMs::MIN, 0).as_slice());
        assert!(chunks_end().as_slice() > chunk_key("\u{10ffff}", TimestampMs::MAX, u32::MAX).as_slice());
        assert!(chunks_end().as_slice() <= checkpoint_key("a").as_slice());
        // Segments are outside the chunk range, ordered like their chunks, and a slot's
        // segment bound separates them as the chunk bound separates chunks.
        let seg = segment_key("stat", TimestampMs(60_000), 2, 7);
        assert!(seg.as_slice() >= chunks_end().as_slice());
        assert!(seg > meta_key("\u{10ffff}"));
        assert!(
            segment_key("stat", TimestampMs(60_000), 2, u32::MAX)
                < segment_key("stat", TimestampMs(60_000), 3, 0)
        );
        assert!(seg >= segment_bound("stat", TimestampMs(60_000)));
        assert!(seg < segment_bound("stat", TimestampMs(60_001)));
        assert!(seg.starts_with(&segment_table_prefix("stat")));
    }

    #[test]
    fn table_names_are_validated() {
        assert!(validate_table("stat").is_ok());
        assert!(validate_table("").is_err());
        assert!(validate_table("a\0b").is_err());
        assert!(validate_table(&"x".repeat(MAX_TABLE_NAME_LEN)).is_ok());
        assert!(validate_table(&"x".repeat(MAX_TABLE_NAME_LEN + 1)).is_err());
    }

    #[test]
    fn malformed_chunk_keys_are_errors() {
        let prefix = chunk_table_prefix("stat");
        let key = chunk_key("stat", TimestampMs(7_200_000), 3);
        assert!(ChunkKey::parse(&prefix, &key[..key.len() - 1]).is_err());
        assert!(ChunkKey::parse(&chunk_table_prefix("other"), &key).is_err());
        let mut wrong_partition = key.clone();
        wrong_partition[prefix.len()..prefix.len() + 8].copy_from_slice(&encode_i64(0));
        assert!(ChunkKey::parse(&prefix, &wrong_partition).is_err());
        assert!(chunk_key_table(&checkpoint_key("stat")).is_err());
    }
}
