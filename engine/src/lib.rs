//! tarsmon's embedded store: one RocksDB instance that keeps the monitoring tables ("stat",
//! "property", "notify", …) as Arrow record batches, one chunk per sealed time slot.
//!
//! The store is table-agnostic: it stores whatever [`RecordBatch`](arrow::record_batch::RecordBatch)
//! the caller gives it under a table name and a slot start time, and hands the same schema
//! back. It does not depend on DataFusion or on the other tarsmon crates.
//!
//! Main types:
//! - [`Store`]: open a directory, write sealed slots, scan time ranges, compact closed hours
//!   ([`Compaction`]), checkpoint the open slot, keep small metadata, apply retention. `Send + Sync`, shared through `Arc`.
//! - [`TimestampMs`]: UTC milliseconds, the slot start times; [`StoreConfig`]: retention and
//!   durability settings.
//! - [`encode_chunk`] / [`decode_chunk`]: the on-disk form of one batch (versioned header, Arrow
//!   IPC stream, LZ4, dictionary-encoded strings); [`encode_slot`] / [`decode_slot`]: a sealed
//!   slot as an index and segments grouped by one text column; [`Error`] and [`ChunkError`].
//!
//! Data flow. Write: the aggregator seals a slot → [`Store::write_slot_by`] encodes the batch
//! as a chunk index plus segments (rows grouped by one text column) and, in one atomic RocksDB
//! write, puts the index under the key `table / hour partition / slot / sequence`, each segment
//! under that key plus its number, and drops the now-sealed checkpoint. Between seals the open slot is saved
//! with [`Store::put_checkpoint`] and read back after a restart with [`Store::checkpoint`].
//! Read: [`Store::scan`] turns `[from, to)` into one key range, seeks to its start and decodes
//! chunks until its end, reading of each chunk only the segments its filter needs. Compaction:
//! [`Store::compact_hour`] merges the slot chunks of a closed hour into one, which scans slice
//! back to the slots they ask for. Retention: [`Store::apply_retention`] deletes whole hour partitions
//! with range deletions. The key layout is documented in the `key` module, the value format in
//! the `chunk` module.

pub mod bytes;
mod chunk;
mod config;
mod error;
mod key;
mod store;
mod time;

pub use chunk::{
    ChunkFilter, EncodedSlot, TextAny, TextEquals, decode_chunk, decode_chunk_columns, decode_slot,
    encode_chunk, encode_slot, encode_slots,
};
pub use config::StoreConfig;
pub use error::{ChunkError, Error, Result};
pub use store::{Compaction, Store};
pub use time::{HOUR_MS, TimestampMs};
