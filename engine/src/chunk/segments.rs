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
//!
//! Version 3 is a compacted chunk: the rows of several consecutive slots of one hour (see
//! [`crate::Store::compact_hour`]) in one index and one set of segments, so a query over a day
//! reads 24 indexes and 24 segments per callee instead of 1 440 of each. Its index is the
//! version-2 payload followed by:
//!
//! ```text
//! u32   slot count k, then k × i64 slot starts, strictly ascending
//! per segment: k × u32, how many of its rows belong to each slot
//! ```
//!
//! Within each segment the rows are in slot order, so the rows of any range of slots are one
//! contiguous run of every segment: a scan of part of the hour slices each segment it reads,
//! and skips a segment that holds no row of the range without reading it.

use std::ops::Range;

use arrow::array::{Array, AsArray, UInt32Array};
use arrow::compute::{concat_batches, take_record_batch};
use arrow::datatypes::{DataType, Schema};
use arrow::record_batch::RecordBatch;
use arrow_ipc::writer::StreamWriter;

use super::header::{self, HEADER_LEN, VERSION_2, VERSION_3, crc32};
use super::{ChunkFilter, decode_v1, encoding, ipc_options};
use crate::error::ChunkError;

/// Fewest rows a segment holds, unless the whole slot has fewer: groups smaller than this are
/// packed together. Each segment carries about 2–3 KB of IPC metadata (one record batch and
/// one dictionary message per text column), so segments much smaller than this would cost more
/// in metadata than a filtered read saves.
pub(crate) const MIN_SEGMENT_ROWS: usize = 256;

/// Fewest rows a segment of a compacted hour holds: an hour has 60 times the rows of a slot,
/// and a callee's segment is read once per hour instead of once per slot, so fewer, larger
/// segments cost less in metadata and lookups for the same bytes read.
pub(crate) const MIN_COMPACTED_SEGMENT_ROWS: usize = 4096;

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
    encode_with(batch, segment_by, min_rows, None)
}

/// The slots of a batch to encode in version 3: their starts, strictly ascending, and for each
/// row (in the batch's order, which must be slot order) the index of its slot in `starts`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowSlots<'a> {
    /// The slot starts.
    pub(crate) starts: &'a [i64],
    /// Per row, an index into `starts`; non-decreasing.
    pub(crate) of_row: &'a [u32],
}

/// Encodes `batch`, the rows of several slots in slot order, in version 3 (see the module doc).
pub(crate) fn encode_slots(
    batch: &RecordBatch,
    slots: RowSlots<'_>,
    segment_by: Option<usize>,
    min_rows: usize,
) -> Result<EncodedSlot, ChunkError> {
    let ascending = slots.starts.windows(2).all(|w| w[0] < w[1]);
    let ordered = slots.of_row.windows(2).all(|w| w[0] <= w[1]);
    let in_bounds = slots.of_row.last().is_none_or(|&i| (i as usize) < slots.starts.len());
    if !ascending || !ordered || !in_bounds || slots.of_row.len() != batch.num_rows() {
        return Err(ChunkError::Inconsistent);
    }
    encode_with(batch, segment_by, min_rows, Some(slots))
}

/// [`encode`] and [`encode_slots`].
fn encode_with(
    batch: &RecordBatch,
    segment_by: Option<usize>,
    min_rows: usize,
    slots: Option<RowSlots<'_>>,
) -> Result<EncodedSlot, ChunkError> {
    let plan = plan(batch, segment_by, min_rows)?;
    // Chosen from every row, so that all segments share one schema.
    let layout = encoding::layout(batch);
    // Per segment, its rows per slot: a segment keeps the batch's row order, so slot order.
    let slot_rows = |rows: &mut dyn Iterator<Item = usize>| -> Vec<u32> {
        let Some(slots) = slots else { return Vec::new() };
        let mut counts = vec![0u32; slots.starts.len()];
        for row in rows {
            counts[slots.of_row[row] as usize] += 1;
        }
        counts
    };
    // One gather puts every segment's rows next to each other; segments are then slices.
    let grouped = match &plan.order {
        None => batch.clone(),
        Some(order) => take_record_batch(batch, &UInt32Array::from(order.clone()))?,
    };
    let mut schema_message: Option<Vec<u8>> = None;
    let mut segments = Vec::with_capacity(plan.parts.len());
    let mut entries = Vec::with_capacity(plan.parts.len());
    let mut offset = 0;
    for part in plan.parts {
        let rows = grouped.slice(offset, part.rows);
        let per_slot = match &plan.order {
            None => slot_rows(&mut (offset..offset + part.rows)),
            Some(order) => slot_rows(&mut order[offset..offset + part.rows].iter().map(|&r| r as usize)),
        };
        offset += part.rows;
        let (schema, body) = write_stream(&encoding::to_storage(&rows, &layout)?)?;
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
            slot_rows: per_slot,
        });
        segments.push(body);
    }
    let schema_message = schema_message.ok_or(ChunkError::Inconsistent)?;
    let slots = slots.map_or_else(Vec::new, |s| s.starts.to_vec());
    let index = Index { schema_message, segment_by, entries, slots };
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
    // Rows by value (nulls apart), values numbered as the dictionary encoder numbers them.
    let mut distinct = encoding::Distinct::default();
    let mut rows_of: Vec<Vec<u32>> = Vec::new();
    let mut null_rows: Vec<u32> = Vec::new();
    for row in 0..values.len() {
        let at = u32::try_from(row).map_err(|_| ChunkError::TooLarge { len: values.len() })?;
        if values.is_null(row) {
            null_rows.push(at);
            continue;
        }
        let id = distinct.id(values.value(row));
        if id == rows_of.len() {
            rows_of.push(Vec::new());
        }
        rows_of[id].push(at);
    }
    let nulls = (!null_rows.is_empty()).then_some((None, null_rows));
    let mut groups: Vec<(Option<&str>, Vec<u32>)> =
        nulls.into_iter().chain(distinct.into_values().into_iter().map(Some).zip(rows_of)).collect();
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
    /// Version 3: the segment's rows per slot of [`Index::slots`]; empty in version 2.
    slot_rows: Vec<u32>,
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
    /// Version 3: the slots the chunk holds, ascending. Empty in version 2, whose chunk holds
    /// the one slot of its key.
    slots: Vec<i64>,
}

impl Index {
    /// Parses the index payload of a version-2 or version-3 chunk (header already checked).
    pub(crate) fn parse(payload: &[u8], version: u8) -> Result<Index, ChunkError> {
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
            entries.push(Entry { rows, len, crc, values, slot_rows: Vec::new() });
        }
        let mut slots = Vec::new();
        if version == VERSION_3 {
            let k = r.len()?;
            // Each slot takes 8 bytes plus 4 per segment.
            if k > r.0.len() / (8 + 4 * entries.len()) {
                return Err(ChunkError::Implausible { what: "slot count" });
            }
            slots = (0..k).map(|_| r.i64()).collect::<Result<_, _>>()?;
            if k == 0 || !slots.windows(2).all(|w| w[0] < w[1]) {
                return Err(ChunkError::Inconsistent);
            }
            for entry in &mut entries {
                entry.slot_rows = (0..k).map(|_| r.u32()).collect::<Result<_, _>>()?;
                if entry.slot_rows.iter().map(|&n| u64::from(n)).sum::<u64>() != u64::from(entry.rows) {
                    return Err(ChunkError::Inconsistent);
                }
            }
        }
        if !r.0.is_empty() {
            return Err(ChunkError::Inconsistent);
        }
        Ok(Index { schema_message, segment_by, entries, slots })
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
        if self.slots.is_empty() {
            header::seal(&mut out, VERSION_2)?;
            return Ok(out);
        }
        put_len(&mut out, self.slots.len())?;
        for slot in &self.slots {
            out.extend_from_slice(&slot.to_le_bytes());
        }
        for e in &self.entries {
            for n in &e.slot_rows {
                out.extend_from_slice(&n.to_le_bytes());
            }
        }
        header::seal(&mut out, VERSION_3)?;
        Ok(out)
    }

    /// The slots of a version-3 chunk, ascending; empty for version 2 (the key's slot).
    pub(crate) fn slots(&self) -> &[i64] {
        &self.slots
    }

    /// How many rows the chunk holds.
    pub(crate) fn rows(&self) -> u64 {
        self.entries.iter().map(|e| u64::from(e.rows)).sum()
    }

    /// The rows of `entry` whose slot is in `range` (all of them in version 2): one run, since
    /// a segment's rows are in slot order.
    fn rows_in(&self, entry: &Entry, range: &Range<i64>) -> Range<usize> {
        let all = 0..entry.rows as usize;
        if self.slots.is_empty() {
            return all;
        }
        let first = self.slots.partition_point(|&s| s < range.start);
        let end = self.slots.partition_point(|&s| s < range.end).max(first);
        let count = |slots: &[u32]| slots.iter().map(|&n| n as usize).sum::<usize>();
        let before = count(&entry.slot_rows[..first]);
        before..before + count(&entry.slot_rows[first..end])
    }

    /// How many segments the chunk has (segment keys `0..count`).
    pub(crate) fn segment_count(&self) -> u32 {
        // `parse` and `encode` both bound the count by a u32.
        u32::try_from(self.entries.len()).unwrap_or(u32::MAX)
    }

    /// The segments that may hold rows `filter` keeps among those of the slots in `range`:
    /// all of them, unless a condition is on the segment column, in which case only those
    /// whose values include the wanted one; in version 3, only those with rows in `range`.
    pub(crate) fn wanted(&self, filter: ChunkFilter<'_>, range: &Range<i64>) -> Vec<u32> {
        // The conditions that only test the segment column: a segment must hold one of the
        // values each of them names.
        let on_segment: Vec<Vec<&str>> = filter
            .conditions()
            .filter(|terms| terms.iter().all(|t| Some(t.column) == self.segment_by))
            .map(|terms| terms.iter().map(|t| t.value.as_str()).collect())
            .collect();
        let holds_one = |e: &Entry, values: &[&str]| {
            e.values.iter().any(|v| v.as_deref().is_some_and(|v| values.contains(&v)))
        };
        (0..self.segment_count())
            .zip(&self.entries)
            .filter(|(_, e)| on_segment.iter().all(|values| holds_one(e, values)))
            .filter(|(_, e)| self.slots.is_empty() || !self.rows_in(e, range).is_empty())
            .map(|(i, _)| i)
            .collect()
    }

    /// Decodes `segments` (pairs of segment number and stored value, as picked by
    /// [`Index::wanted`]) into one batch of the rows of the slots in `range`, as
    /// [`super::decode_chunk_columns`] does for a version-1 chunk.
    pub(crate) fn decode(
        &self,
        segments: &[(u32, &[u8])],
        filter: ChunkFilter<'_>,
        range: &Range<i64>,
    ) -> Result<RecordBatch, ChunkError> {
        let mut batches = Vec::with_capacity(segments.len());
        for &(number, bytes) in segments {
            let entry = self.checked(number, bytes)?;
            let rows = self.rows_in(entry, range);
            let whole = rows.len() == entry.rows as usize;
            batches.push(decode_v1(&self.payload(bytes), filter, (!whole).then_some(rows))?);
        }
        self.concat(batches, filter)
    }

    /// Decodes every segment (`segments[i]` is segment `i`) and splits the rows by slot: one
    /// batch per slot of a version-3 chunk, in slot order. A version-2 chunk is one batch, of
    /// the slot of its key, `key_slot`.
    pub(crate) fn decode_by_slot(
        &self,
        key_slot: i64,
        segments: &[&[u8]],
    ) -> Result<Vec<(i64, RecordBatch)>, ChunkError> {
        let all = ChunkFilter::default();
        if segments.len() != self.entries.len() {
            let missing = segments.len().min(self.entries.len());
            return Err(ChunkError::MissingSegment { segment: u32::try_from(missing).unwrap_or(u32::MAX) });
        }
        let mut decoded = Vec::with_capacity(segments.len());
        for (number, bytes) in (0..).zip(segments) {
            self.checked(number, bytes)?;
            decoded.push(decode_v1(&self.payload(bytes), all, None)?);
        }
        if self.slots.is_empty() {
            return Ok(vec![(key_slot, self.concat(decoded, all)?)]);
        }
        let mut offsets = vec![0usize; decoded.len()];
        let mut out = Vec::with_capacity(self.slots.len());
        for (i, &slot) in self.slots.iter().enumerate() {
            let mut parts = Vec::new();
            for ((batch, entry), offset) in decoded.iter().zip(&self.entries).zip(&mut offsets) {
                let n = entry.slot_rows[i] as usize;
                if n > 0 {
                    parts.push(batch.slice(*offset, n));
                    *offset += n;
                }
            }
            out.push((slot, self.concat(parts, all)?));
        }
        Ok(out)
    }

    /// The entry of segment `number`, after checking `bytes` against its length and checksum.
    fn checked(&self, number: u32, bytes: &[u8]) -> Result<&Entry, ChunkError> {
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
        Ok(entry)
    }

    /// A segment as a whole version-1 payload: the schema message, then the segment.
    fn payload(&self, segment: &[u8]) -> Vec<u8> {
        let mut payload = Vec::with_capacity(self.schema_message.len() + segment.len());
        payload.extend_from_slice(&self.schema_message);
        payload.extend_from_slice(segment);
        payload
    }

    /// The batches of some segments as one.
    fn concat(
        &self,
        mut batches: Vec<RecordBatch>,
        filter: ChunkFilter<'_>,
    ) -> Result<RecordBatch, ChunkError> {
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
        encoding::from_storage(&empty)
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

    fn i64(&mut self) -> Result<i64, ChunkError> {
        let (head, rest) = self.0.split_first_chunk::<8>().ok_or(ChunkError::Inconsistent)?;
        self.0 = rest;
        Ok(i64::from_le_bytes(*head))
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
