//! The errors of the store.

use arrow::error::ArrowError;
use thiserror::Error;

use crate::time::TimestampMs;

/// Errors of the store.
#[derive(Debug, Error)]
pub enum Error {
    /// RocksDB failed (I/O, corruption detected by its checksums, lock held by another process).
    #[error("rocksdb: {0}")]
    RocksDb(#[from] rocksdb::Error),
    /// A table name that cannot be stored.
    #[error("invalid table name {name:?}: {reason}")]
    InvalidTableName {
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A chunk could not be encoded, or a stored chunk could not be decoded.
    #[error("chunk of table {table:?} at slot {slot}: {source}")]
    Chunk {
        /// The table.
        table: String,
        /// The slot start of the chunk.
        slot: TimestampMs,
        /// What went wrong.
        #[source]
        source: ChunkError,
    },
    /// A checkpoint could not be encoded, or the stored one could not be decoded.
    #[error("checkpoint of table {table:?}: {source}")]
    Checkpoint {
        /// The table.
        table: String,
        /// What went wrong.
        #[source]
        source: ChunkError,
    },
    /// A key in the chunk range does not follow the key layout (a bug or a damaged store).
    #[error("corrupt key {key:02x?}: {reason}")]
    CorruptKey {
        /// The raw key.
        key: Vec<u8>,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The directory holds a store written in a format this version does not know.
    #[error("unsupported store format {found:02x?} (this version writes {expected})")]
    UnsupportedStoreFormat {
        /// The stored format marker.
        found: Vec<u8>,
        /// The format this version reads and writes.
        expected: u8,
    },
    /// All 2^32 sequence numbers of one slot are used.
    #[error("table {table:?} slot {slot} already holds the maximum number of chunks")]
    TooManyChunks {
        /// The table.
        table: String,
        /// The slot start.
        slot: TimestampMs,
    },
    /// [`crate::Store::rewrite_slot`] was asked to replace a slot whose rows are part of a
    /// compacted hour ([`crate::Store::compact_hour`]), which it cannot replace in part.
    #[error("table {table:?}: slot {slot} is part of a compacted hour and cannot be rewritten alone")]
    Compacted {
        /// The table.
        table: String,
        /// The slot start.
        slot: TimestampMs,
    },
}

/// Errors encoding or decoding one chunk value ([`crate::encode_chunk`], [`crate::decode_chunk`]).
#[derive(Debug, Error)]
pub enum ChunkError {
    /// A row condition of a [`crate::ChunkFilter`] names a column it cannot test.
    #[error("cannot filter on column {column}: {reason}")]
    FilterColumn {
        /// The column's index in the table's schema.
        column: usize,
        /// Why.
        reason: &'static str,
    },
    /// The value is shorter than the header that every chunk starts with.
    #[error("{len} bytes is shorter than the chunk header")]
    TooShort {
        /// Length of the value.
        len: usize,
    },
    /// The value does not start with the chunk magic.
    #[error("bad magic {found:02x?}")]
    BadMagic {
        /// The first four bytes of the value.
        found: [u8; 4],
    },
    /// The header names a format version this reader does not know.
    #[error("unsupported chunk format version {version}")]
    UnsupportedVersion {
        /// The version byte of the header.
        version: u8,
    },
    /// The payload is not as long as the header says (a truncated or extended value).
    #[error("payload is {actual} bytes but the header says {expected}")]
    LengthMismatch {
        /// Length recorded in the header.
        expected: u32,
        /// Length actually present.
        actual: usize,
    },
    /// The payload does not match its checksum.
    #[error("checksum mismatch: header has {expected:#010x}, payload hashes to {actual:#010x}")]
    ChecksumMismatch {
        /// CRC-32 recorded in the header.
        expected: u32,
        /// CRC-32 of the payload as read.
        actual: u32,
    },
    /// The payload is not a stream of exactly one record batch.
    #[error("payload holds {count} record batches, expected exactly one")]
    BatchCount {
        /// Number of batches found (2 means "more than one").
        count: usize,
    },
    /// Arrow's reader panicked on the payload: its internal offsets are inconsistent although
    /// the checksum matched (a crafted value or a reader bug).
    #[error("inconsistent Arrow IPC payload")]
    Inconsistent,
    /// The payload claims a size no chunk can have (checked before Arrow allocates it).
    #[error("implausible {what} in the Arrow IPC payload")]
    Implausible {
        /// Which claim.
        what: &'static str,
    },
    /// A column's storage encoding marker is unknown or does not match its type.
    #[error("column {field:?}: {reason}")]
    ColumnEncoding {
        /// The column.
        field: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The batch to encode uses field metadata that the chunk format reserves.
    #[error("column {field:?} carries the reserved metadata key {key:?}")]
    ReservedMetadata {
        /// The column.
        field: String,
        /// The reserved key.
        key: &'static str,
    },
    /// The encoded batch does not fit the 4 GiB payload limit of the format.
    #[error("encoded batch is {len} bytes, over the 4 GiB chunk limit")]
    TooLarge {
        /// Encoded payload length.
        len: usize,
    },
    /// The column named to group a slot's rows into segments cannot be used for that.
    #[error("segment column {column}: {reason}")]
    SegmentColumn {
        /// The column's index in the batch.
        column: usize,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// A segment that a version-2 chunk's index lists is not in the store, or a segment number
    /// beyond the index was asked for.
    #[error("segment {segment} of the chunk is missing")]
    MissingSegment {
        /// The segment's number.
        segment: u32,
    },
    /// The value is the index of a version-2 chunk, whose rows are stored in separate
    /// segments: only the store can read it.
    #[error("the value is a version-2 chunk index; its segments are read through the store")]
    Segmented,
    /// Arrow failed to write, read or convert the batch.
    #[error("arrow: {0}")]
    Arrow(#[from] ArrowError),
}

/// Result of the store.
pub type Result<T, E = Error> = std::result::Result<T, E>;
