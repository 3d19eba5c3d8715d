//! Chunk format version 2: a sealed slot as a small index plus segments, so that a scan that
//! filters on the segment column reads and decompresses only the segments holding that value.
//!
//! A slot's rows are grouped by the value of one text column (for `stat`, the callee
//! `slave_name`: TarsWeb's pages always ask for one callee). Consecutive groups, in value
//! order, are packed into segments of at least [`MIN_SEGMENT_ROWS`] rows, so a slot of many
//! tiny groups does not become thousands of tiny segments; a group is never split. Each segment
//! is an Arrow IPC stream without its schema message (dictionaries of its own rows, one record
//! batch, end of stream), stored under its own RocksDB key. The index, stored under the chunk
//! key, carries what the segments share and what a reader needs to pick them:
//!
//! ```text
//! the 13-byte chunk header (version = 2), then the index payload:
//! u32   schema message length, then the Arrow IPC schema message all segments continue
//! u32   segment column + 1 (0: the rows are not grouped, there is one segment)
//! u32   segment count
//! per segment:
//!   u32 rows   u32 byte length   u32 CRC-32 of the segment value   u32 value count
//!   per value: u32 length (u32::MAX for null) then the UTF-8 bytes
//! ```
//!
//! All integers are little-endian. A segment is checked against its length and checksum in the
//! index before Arrow reads it, so the guarantees of version 1 hold per segment.

use std::collections::HashMap;

use arrow::array::{Array, AsArray, UInt32Array};
use arrow::compute::{concat_batches, take_record_batch};
use arrow::datatypes::{DataType, Schema};
use arrow::record_batch::RecordBatch;
use arrow_ipc::writer::StreamWriter;

use super::header::{self, HEADER_LEN, VERSION_2, crc32};
use super::{ChunkFilter, decode_v1, dictionary, ipc_options};
use crate::error::ChunkError;

/// Fewest rows a segment holds, unless the whole slot has fewer: groups smaller than this are
/// packed together. Each segment carries about 2–3 KB of IPC metadata (one record batch and
/// one dictionary message per text column), so segments much smaller than this would cost more
/// in metadata than a filtered read saves.
pub(crate) const MIN_SEGMENT_ROWS: usize = 256;

/// Marks a null value in the index.
const NULL_LEN: u32 = u32::MAX;

/// A batch encoded in version 2: the value for the chunk key and the segment values, in order
/// (segment `i` is stored under segment key `i`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedSlot {
    /// The index value (header and index payload), stored under the chunk key.
    pub index: Vec<u8>,
    /// The segment values, stored under the segment keys `0..`.
    pub segments: Vec<Vec<u8>>,
}

/// Encodes `batch` in version 2, grouping its rows by the text column `segment_by` (an index
/// into the batch's schema) into segments of at least `min_rows` rows, or as one segment.
pub(crate) fn encode(
    batch: &RecordBatch,
    segment_by: Option<usize>,
    min_rows: usize,
) -> Result<EncodedSlot, ChunkError> {
    let plan = plan(batch, segment_by, min_rows)?;
    // One gather puts every segment's rows next to each other; segments are then slices.
    let grouped = match plan.order {
        None => batch.clone(),
        Some(order) => take_record_batch(batch, &UInt32Array::from(order))?,
    };
    let mut schema_message: Option<Vec<u8>> = None;
    let mut segments = Vec::with_capacity(plan.parts.len());
    let mut entries = Vec::with_capacity(plan.parts.len());
    let mut offset = 0;
    for part in plan.parts {
        let rows = grouped.slice(offset, part.rows);
        offset += part.rows;
        let (schema, body) = write_stream(&dictionary::to_storage(&rows)?)?;
        match &schema_message {
            None => schema_message = Some(schema),
            // Every segment has the schema of `batch`: the same message, byte for byte.
            Some(first) if *first != schema => return Err(ChunkError::Inconsistent),
            Some(_) => {}
        }
        entries.push(Entry {
            rows: u32::try_from(part.rows).map_err(|_| ChunkError::TooLarge { len: part.rows })?,
            len: u32::try_from(body.len()).map_err(|_| ChunkError::TooLarge { len: body.len() })?,
            crc: crc32(&body),
            values: part.values,
        });
        segments.push(body);
    }
    let schema_message = schema_message.ok_or(ChunkError::Inconsistent)?;
    let index = Index { schema_message, segment_by, entries };
    Ok(EncodedSlot { index: index.to_bytes()?, segments })
}

/// How a batch is cut into segments.
struct Plan {
    /// The rows in segment order (`None`: the batch's own order, one segment).
    order: Option<Vec<u32>>,
    /// The segments, in order: each takes the next `rows` rows of `order`.
    parts: Vec<Part>,
}

/// One planned segment: how many rows it takes, and the values of the segment column they
/// hold.
struct Part {
    rows: usize,
    values: Vec<Option<String>>,
}

/// Groups the rows of `batch` into segments (see the module doc).
fn plan(batch: &RecordBatch, segment_by: Option<usize>, min_rows: usize) -> Result<Plan, ChunkError> {
    let whole = |values| Plan { order: None, parts: vec![Part { rows: batch.num_rows(), values }] };
    let Some(column) = segment_by else { return Ok(whole(Vec::new())) };
    let field = batch
        .schema_ref()
        .fields()
        .get(column)
        .cloned()
        .ok_or(ChunkError::SegmentColumn { column, reason: "no such column" })?;
    if field.data_type() != &DataType::Utf8 {
        return Err(ChunkError::SegmentColumn { column, reason: "not a Utf8 column" });
    }
    let values = batch.column(column).as_string::<i32>();
    let mut groups: HashMap<Option<&str>, Vec<u32>> = HashMap::new();
    for row in 0..values.len() {
        let value = values.is_valid(row).then(|| values.value(row));
        let row = u32::try_from(row).map_err(|_| ChunkError::TooLarge { len: values.len() })?;
        groups.entry(value).or_default().push(row);
    }
    let mut groups: Vec<(Option<&str>, Vec<u32>)> = groups.into_iter().collect();
    groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    if groups.len() <= 1 {
        return Ok(whole(groups.into_iter().map(|(v, _)| v.map(str::to_owned)).collect()));
    }
    let mut order = Vec::with_capacity(values.len());
    let mut parts = Vec::new();
    let (mut start, mut current) = (0, Vec::new());
    for (value, rows) in groups {
        order.extend(rows);
        current.push(value.map(str::to_owned));
        if order.len() - start >= min_rows {
            parts.push(Part { rows: order.len() - start, values: std::mem::take(&mut current) });
            start = order.len();
        }
    }
    if !current.is_empty() {
        parts.push(Part { rows: order.len() - start, values: current });
    }
    // Rows keep their order within a segment.
    let mut start = 0;
    for part in &parts {
        order[start..start + part.rows].sort_unstable();
        start += part.rows;
    }
    Ok(Plan { order: Some(order), parts })
}

/// Writes `stored` as an IPC stream and splits it into the schema message and the rest.
fn write_stream(stored: &RecordBatch) -> Result<(Vec<u8>, Vec<u8>), ChunkError> {
    let mut out = Vec::new();
    let schema_len = {
        let mut writer = StreamWriter::try_new_with_options(&mut out, &stored.schema(), ipc_options()?)?;
        let schema_len = writer.get_ref().len();
        writer.write(stored)?;
        writer.finish()?;
        schema_len
    };
    let body = out.split_off(schema_len);
    Ok((out, body))
}

/// What the index says about one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    rows: u32,
    len: u32,
    crc: u32,
    values: Vec<Option<String>>,
}

/// The decoded index of a version-2 chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Index {
    /// The IPC schema message every segment continues.
    schema_message: Vec<u8>,
    /// The column the rows are grouped by, if any.
    segment_by: Option<usize>,
    /// The segments, in storage order.
    entries: Vec<Entry>,
}

impl Index {
    /// Parses the index payload of a version-2 chunk (header already checked).
    pub(crate) fn parse(payload: &[u8]) -> Result<Index, ChunkError> {
        let mut r = Reader(payload);
        let schema_len = r.len()?;
        let schema_message = r.bytes(schema_len)?.to_vec();
        let segment_by = match r.u32()? {
            0 => None,
            n => Some(usize::try_from(n - 1).map_err(|_| ChunkError::Inconsistent)?),
        };
        let count = r.len()?;
        // Each entry takes at least 16 bytes: a count beyond that is a lie, not an allocation.
        if count > payload.len() / 16 {
            return Err(ChunkError::Implausible { what: "segment count" });
        }
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            let (rows, len, crc) = (r.u32()?, r.u32()?, r.u32()?);
            let n = r.len()?;
            if n > r.0.len() / 4 {
                return Err(ChunkError::Implausible { what: "segment value count" });
            }
            let mut values = Vec::with_capacity(n);
            for _ in 0..n {
                values.push(match r.u32()? {
                    NULL_LEN => None,
                    len => {
                        let bytes = r.bytes(usize::try_from(len).map_err(|_| ChunkError::Inconsistent)?)?;
                        Some(std::str::from_utf8(bytes).map_err(|_| ChunkError::Inconsistent)?.to_owned())
                    }
                });
            }
            entries.push(Entry { rows, len, crc, values });
        }
        if !r.0.is_empty() {
            return Err(ChunkError::Inconsistent);
        }
        Ok(Index { schema_message, segment_by, entries })
    }

    /// The index as a chunk value: header and payload.
    fn to_bytes(&self) -> Result<Vec<u8>, ChunkError> {
        let mut out = vec![0; HEADER_LEN];
        put_len(&mut out, self.schema_message.len())?;
        out.extend_from_slice(&self.schema_message);
        let segment_by = match self.segment_by {
            None => 0,
            Some(c) => u32::try_from(c)
                .ok()
                .and_then(|c| c.checked_add(1))
                .ok_or(ChunkError::SegmentColumn { column: c, reason: "column index too large" })?,
        };
        out.extend_from_slice(&segment_by.to_le_bytes());
        put_len(&mut out, self.entries.len())?;
        for e in &self.entries {
            for n in [e.rows, e.len, e.crc] {
                out.extend_from_slice(&n.to_le_bytes());
            }
            put_len(&mut out, e.values.len())?;
            for value in &e.values {
                match value {
                    None => out.extend_from_slice(&NULL_LEN.to_le_bytes()),
                    Some(v) => {
                        put_len(&mut out, v.len())?;
                        out.extend_from_slice(v.as_bytes());
                    }
                }
            }
        }
        header::seal(&mut out, VERSION_2)?;
        Ok(out)
    }

    /// How many segments the chunk has (segment keys `0..count`).
    pub(crate) fn segment_count(&self) -> u32 {
        // `parse` and `encode` both bound the count by a u32.
        u32::try_from(self.entries.len()).unwrap_or(u32::MAX)
    }

    /// The segments that may hold rows `filter` keeps: all of them, unless a condition is on
    /// the segment column, in which case only those whose values include the wanted one.
    pub(crate) fn wanted(&self, filter: ChunkFilter<'_>) -> Vec<u32> {
        let conditions: Vec<&str> = filter
            .text_equals
            .iter()
            .filter(|c| Some(c.column) == self.segment_by)
            .map(|c| c.value.as_str())
            .collect();
        (0..self.segment_count())
            .zip(&self.entries)
            .filter(|(_, e)| conditions.iter().all(|&c| e.values.iter().any(|v| v.as_deref() == Some(c))))
            .map(|(i, _)| i)
            .collect()
    }

    /// Decodes `segments` (pairs of segment number and stored value, as picked by
    /// [`Index::wanted`]) into one batch, as [`super::decode_chunk_columns`] does for a
    /// version-1 chunk.
    pub(crate) fn decode(
        &self,
        segments: &[(u32, &[u8])],
        filter: ChunkFilter<'_>,
    ) -> Result<RecordBatch, ChunkError> {
        let mut batches = Vec::with_capacity(segments.len());
        for &(number, bytes) in segments {
            let entry = usize::try_from(number)
                .ok()
                .and_then(|i| self.entries.get(i))
                .ok_or(ChunkError::MissingSegment { segment: number })?;
            if usize::try_from(entry.len).ok() != Some(bytes.len()) {
                return Err(ChunkError::LengthMismatch { expected: entry.len, actual: bytes.len() });
            }
            let actual = crc32(bytes);
            if actual != entry.crc {
                return Err(ChunkError::ChecksumMismatch { expected: entry.crc, actual });
            }
            let mut payload = Vec::with_capacity(self.schema_message.len() + bytes.len());
            payload.extend_from_slice(&self.schema_message);
            payload.extend_from_slice(bytes);
            batches.push(decode_v1(&payload, filter)?);
        }
        match batches.len() {
            0 => self.empty(filter),
            1 => Ok(batches.swap_remove(0)),
            _ => Ok(concat_batches(&batches[0].schema(), &batches)?),
        }
    }

    /// A batch of no rows with the columns `filter` asks for.
    fn empty(&self, filter: ChunkFilter<'_>) -> Result<RecordBatch, ChunkError> {
        let stored = arrow_ipc::convert::try_schema_from_ipc_buffer(&self.schema_message)?;
        let stored = match filter.projection {
            Some(p) => stored.project(p)?,
            None => stored,
        };
        let empty = RecordBatch::new_empty(std::sync::Arc::new(Schema::clone(&stored)));
        dictionary::from_storage(&empty)
    }
}

/// Appends `n` as a u32.
fn put_len(out: &mut Vec<u8>, n: usize) -> Result<(), ChunkError> {
    let n = u32::try_from(n).map_err(|_| ChunkError::TooLarge { len: n })?;
    out.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

/// Reads the index payload front to back; running out of bytes is [`ChunkError::Inconsistent`].
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u32(&mut self) -> Result<u32, ChunkError> {
        let (head, rest) = self.0.split_first_chunk::<4>().ok_or(ChunkError::Inconsistent)?;
        self.0 = rest;
        Ok(u32::from_le_bytes(*head))
    }

    fn len(&mut self) -> Result<usize, ChunkError> {
        usize::try_from(self.u32()?).map_err(|_| ChunkError::Inconsistent)
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], ChunkError> {
        if n > self.0.len() {
            return Err(ChunkError::Inconsistent);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
}
