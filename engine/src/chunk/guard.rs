//! A pre-check of a chunk's Arrow IPC stream before Arrow reads it.
//!
//! Arrow's reader allocates what the stream's metadata claims — the uncompressed length in
//! front of each LZ4 buffer, row counts — before it can notice that the claim is wrong, and an
//! allocation of petabytes aborts the process (no unwind to catch). The checksum keeps
//! accidental damage out, but a start-up that aborts on every restart is the worst outcome, so
//! the claims are bounded here first: nothing a version-1 chunk can legitimately hold comes
//! near these limits (a slot of a million rows is tens of MiB).

use crate::error::ChunkError;

/// Largest uncompressed buffer a chunk may claim.
const MAX_BUFFER: i64 = 1 << 30;
/// Largest total of uncompressed buffers in one chunk.
const MAX_TOTAL: i64 = 4 << 30;
/// Most rows one batch (or dictionary) may claim.
const MAX_ROWS: i64 = 1 << 28;

/// Walks the IPC stream's messages and checks their size claims.
pub(super) fn check(payload: &[u8]) -> Result<(), ChunkError> {
    let implausible = |what: &'static str| ChunkError::Implausible { what };
    let mut pos = 0usize;
    let mut total = 0i64;
    loop {
        let mut len = read_i32(payload, &mut pos)?;
        if len == -1 {
            // Continuation marker, then the real length.
            len = read_i32(payload, &mut pos)?;
        }
        if len == 0 {
            return Ok(()); // end of stream
        }
        let len = usize::try_from(len).map_err(|_| implausible("message length"))?;
        let meta = take(payload, &mut pos, len)?;
        let msg = arrow_ipc::root_as_message(meta).map_err(|_| ChunkError::Inconsistent)?;
        let body_len = usize::try_from(msg.bodyLength()).map_err(|_| implausible("body length"))?;
        let body = take(payload, &mut pos, body_len)?;
        let batch =
            msg.header_as_record_batch().or_else(|| msg.header_as_dictionary_batch().and_then(|d| d.data()));
        let Some(batch) = batch else { continue };
        if !(0..=MAX_ROWS).contains(&batch.length()) {
            return Err(implausible("row count"));
        }
        for node in batch.nodes().into_iter().flatten() {
            if !(0..=MAX_ROWS).contains(&node.length()) || !(0..=node.length()).contains(&node.null_count()) {
                return Err(implausible("column length"));
            }
        }
        let compressed = batch.compression().is_some();
        for buf in batch.buffers().into_iter().flatten() {
            let (offset, length) = (buf.offset(), buf.length());
            if offset < 0 || length < 0 || offset.saturating_add(length) > msg.bodyLength() {
                return Err(implausible("buffer bounds"));
            }
            let claimed = if compressed && length >= 8 {
                let start = usize::try_from(offset).map_err(|_| implausible("buffer offset"))?;
                let prefix = body.get(start..start + 8).ok_or(ChunkError::Inconsistent)?;
                let n = i64::from_le_bytes(prefix.try_into().map_err(|_| ChunkError::Inconsistent)?);
                // -1 marks a buffer stored uncompressed.
                if n == -1 { length - 8 } else { n }
            } else {
                length
            };
            if !(0..=MAX_BUFFER).contains(&claimed) {
                return Err(implausible("buffer size"));
            }
            total = total.saturating_add(claimed);
            if total > MAX_TOTAL {
                return Err(implausible("total size"));
            }
        }
    }
}

fn read_i32(payload: &[u8], pos: &mut usize) -> Result<i32, ChunkError> {
    let b = take(payload, pos, 4)?;
    Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn take<'a>(payload: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], ChunkError> {
    let end = pos.checked_add(n).ok_or(ChunkError::Inconsistent)?;
    let out = payload.get(*pos..end).ok_or(ChunkError::Inconsistent)?;
    *pos = end;
    Ok(out)
}
