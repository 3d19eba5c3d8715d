//! The chunk format: one Arrow [`RecordBatch`] as a self-describing, versioned byte string.
//!
//! A chunk is the value stored for one sealed slot (and, behind an 8-byte slot prefix, for a
//! checkpoint). Format version 1:
//!
//! ```text
//! offset  size  field
//! 0       4     magic  b"TMCK"
//! 4       1     version = 1
//! 5       4     payload length, u32 little-endian
//! 9       4     CRC-32 (IEEE) of the payload, u32 little-endian
//! 13      n     payload: an Arrow IPC stream (schema, dictionaries, one record batch, EOS),
//!               buffers compressed with LZ4_FRAME
//! ```
//!
//! Inside the payload every top-level `Utf8` column is stored as `Dictionary<Int32, Utf8>`
//! (monitoring data repeats the same few names in every row) and its field carries the metadata
//! entry `tarsmon.chunk.encoding = dictionary`; the reader casts those columns back and removes
//! the entry, so [`decode_chunk`] returns exactly the schema that was given to [`encode_chunk`].
//! That metadata key is reserved: a batch that already uses it is rejected.
//!
//! The length and checksum are checked before Arrow sees a byte, so a damaged value gives a
//! [`ChunkError`] and Arrow's reader, which trusts the offsets and lengths inside the stream
//! (it allocates and slices by them), only sees bytes this writer produced.
//!
//! The code follows the data: [`dictionary`] turns the caller's batch into its storage form and
//! back, [`header`] frames the IPC payload. **Compatibility:** a chunk written by any released
//! version must stay readable; a new layout gets a new version byte and its own decode path
//! next to version 1, and `tests/chunk_compat.rs` keeps a version-1 chunk to prove it.

mod dictionary;
mod guard;
mod header;
#[cfg(test)]
mod tests;

use arrow::record_batch::RecordBatch;
use arrow_ipc::CompressionType;
use arrow_ipc::MetadataVersion;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::{IpcWriteOptions, StreamWriter};

use crate::error::ChunkError;
use header::{HEADER_LEN, VERSION_1};

/// Buffer alignment inside the IPC payload. Arrow's default of 64 wastes up to 63 bytes per
/// buffer, which is a lot in a small chunk; 8 is enough for every type, and the reader
/// copies into aligned memory anyway.
const IPC_ALIGNMENT: usize = 8;

/// Encodes `batch` as a chunk in the current format (version 1).
pub fn encode_chunk(batch: &RecordBatch) -> Result<Vec<u8>, ChunkError> {
    let stored = dictionary::to_storage(batch)?;
    let options = IpcWriteOptions::try_new(IPC_ALIGNMENT, false, MetadataVersion::V5)?
        .try_with_compression(Some(CompressionType::LZ4_FRAME))?;
    let mut out = vec![0; HEADER_LEN];
    {
        let mut writer = StreamWriter::try_new_with_options(&mut out, &stored.schema(), options)?;
        writer.write(&stored)?;
        writer.finish()?;
    }
    header::seal(&mut out, VERSION_1)?;
    Ok(out)
}

/// Decodes a chunk written by [`encode_chunk`] of this or any earlier version.
///
/// Never panics on bad input: truncation, bit flips and foreign bytes give a [`ChunkError`].
pub fn decode_chunk(bytes: &[u8]) -> Result<RecordBatch, ChunkError> {
    let (version, payload) = header::open(bytes)?;
    match version {
        VERSION_1 => decode_v1(payload),
        version => Err(ChunkError::UnsupportedVersion { version }),
    }
}

/// Reads the payload of a version-1 chunk.
fn decode_v1(payload: &[u8]) -> Result<RecordBatch, ChunkError> {
    // Arrow's IPC reader trusts the offsets inside the stream and panics on some inconsistent
    // ones (`Buffer::slice_with_length`). The checksum keeps accidental damage from getting
    // here; catching the unwind also turns a bad payload that carries a matching checksum (or
    // a reader bug) into an error rather than a crash. That matters at start-up, where a panic
    // while reading a checkpoint would repeat on every restart.
    std::panic::catch_unwind(|| read_v1(payload)).unwrap_or(Err(ChunkError::Inconsistent))
}

/// [`decode_v1`] without the unwind guard.
fn read_v1(payload: &[u8]) -> Result<RecordBatch, ChunkError> {
    guard::check(payload)?;
    let mut reader = StreamReader::try_new(payload, None)?;
    let stored = reader.next().ok_or(ChunkError::BatchCount { count: 0 })??;
    if reader.next().is_some() {
        return Err(ChunkError::BatchCount { count: 2 });
    }
    dictionary::from_storage(&stored)
}
