//! The serializer side of a chunk: the fixed header that frames the Arrow IPC payload.
//!
//! Layout (every version): magic `b"TMCK"`, version byte, payload length (u32 LE), CRC-32
//! of the payload (u32 LE), payload.

use crate::error::ChunkError;

/// First four bytes of every chunk.
pub(super) const MAGIC: [u8; 4] = *b"TMCK";
/// Format version 1: LZ4_FRAME Arrow IPC stream with dictionary-encoded strings.
pub(super) const VERSION_1: u8 = 1;
/// Format version 2: an index of segments, each a version-1 payload without its schema
/// message (`segments`).
pub(super) const VERSION_2: u8 = 2;
/// Format version 3: a version-2 index that also splits each segment's rows among several
/// slots (a compacted hour, `segments`).
pub(super) const VERSION_3: u8 = 3;
/// Length of the header.
pub(super) const HEADER_LEN: usize = 13;

/// Fills in the header of `chunk`, whose first [`HEADER_LEN`] bytes were reserved for it and
/// whose remainder is the payload.
pub(super) fn seal(chunk: &mut [u8], version: u8) -> Result<(), ChunkError> {
    let Some((head, payload)) = chunk.split_first_chunk_mut::<HEADER_LEN>() else {
        return Err(ChunkError::TooShort { len: chunk.len() });
    };
    let len = u32::try_from(payload.len()).map_err(|_| ChunkError::TooLarge { len: payload.len() })?;
    head[0..4].copy_from_slice(&MAGIC);
    head[4] = version;
    head[5..9].copy_from_slice(&len.to_le_bytes());
    head[9..13].copy_from_slice(&crc32(payload).to_le_bytes());
    Ok(())
}

/// Checks the header of `chunk` and returns its version and payload.
///
/// The payload returned is exactly as long as the header says and matches its checksum.
pub(super) fn open(chunk: &[u8]) -> Result<(u8, &[u8]), ChunkError> {
    let Some((head, payload)) = chunk.split_first_chunk::<HEADER_LEN>() else {
        return Err(ChunkError::TooShort { len: chunk.len() });
    };
    let [m0, m1, m2, m3, version, l0, l1, l2, l3, c0, c1, c2, c3] = *head;
    if [m0, m1, m2, m3] != MAGIC {
        return Err(ChunkError::BadMagic { found: [m0, m1, m2, m3] });
    }
    if !(VERSION_1..=VERSION_3).contains(&version) {
        return Err(ChunkError::UnsupportedVersion { version });
    }
    let expected_len = u32::from_le_bytes([l0, l1, l2, l3]);
    if usize::try_from(expected_len).ok() != Some(payload.len()) {
        return Err(ChunkError::LengthMismatch { expected: expected_len, actual: payload.len() });
    }
    let expected_crc = u32::from_le_bytes([c0, c1, c2, c3]);
    let actual_crc = crc32(payload);
    if expected_crc != actual_crc {
        return Err(ChunkError::ChecksumMismatch { expected: expected_crc, actual: actual_crc });
    }
    Ok((version, payload))
}

/// CRC-32 (IEEE 802.3, as in zlib and PNG) of `data`.
///
/// RocksDB already checksums its blocks; this one guards the step from value bytes to Arrow's
/// reader, which must never see a damaged stream (see the module doc of `chunk`).
///
/// `crc32fast` computes it with the CPU's carry-less multiply (PCLMULQDQ) where there is one.
/// With a table lookup per byte, checking the chunks was 37 % of the samples of a day-long
/// query (`tarsmon-bench day --tarsmon-only` under perf); with crc32fast, 2.5 %.
pub(super) fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}
