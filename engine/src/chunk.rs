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
//! entry `tarsmon.chunk.encoding = dictionary`. Since tarsmon 0.1 of 2026-12-05, `Int32`,
//! `Int64` and `Timestamp(ms)` columns whose values in the chunk span less than 2^32 are stored
//! as unsigned offsets from their smallest value, 1, 2 or 4 bytes wide
//! (`tarsmon.chunk.encoding = offset`, with `tarsmon.chunk.base` and `tarsmon.chunk.type`);
//! chunks written before have no such columns and read as before. The reader turns every
//! column back and removes those entries, so [`decode_chunk`] returns exactly the schema that
//! was given to [`encode_chunk`]. The `tarsmon.chunk.*` metadata keys are reserved: a batch
//! that already uses one is rejected.
//!
//! The length and checksum are checked before Arrow sees a byte, so a damaged value gives a
//! [`ChunkError`] and Arrow's reader, which trusts the offsets and lengths inside the stream
//! (it allocates and slices by them), only sees bytes this writer produced.
//!
//! Format version 2 ([`segments`]) is what the store writes for sealed slots: the value under
//! the chunk key is an index (same 13-byte header, version 2), and the rows are in segments
//! under keys of their own, grouped by one text column, so a scan filtered on that column
//! reads only the segments that hold its value. Each segment is a version-1 payload without
//! its schema message, which the index carries once. Checkpoints stay version 1: one value.
//! [`encode_chunk`] and [`decode_chunk`] are the version-1, one-value form; a version-2 index
//! given to [`decode_chunk`] is [`ChunkError::Segmented`]. Format version 3 is version 2 for
//! the rows of several slots of one hour (a compacted hour): its index also records which
//! slots it holds and how each segment's rows divide among them.
//!
//! The code follows the data: [`encoding`] turns the caller's batch into its storage form and
//! back (and filters rows on that form), [`header`] frames the IPC payload, [`segments`] splits a slot and indexes the parts.
//! **Compatibility:** a chunk written by any released version must stay readable; a new
//! layout gets a new version byte and its own decode path next to the others, and
//! `tests/chunk_compat.rs` keeps a version-1 chunk to prove it.

use std::ops::Range;

mod encoding;
mod guard;
mod header;
mod segments;
#[cfg(test)]
mod tests;

use arrow::record_batch::RecordBatch;
use arrow_ipc::CompressionType;
use arrow_ipc::MetadataVersion;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::{IpcWriteOptions, StreamWriter};

use crate::error::ChunkError;
use header::{HEADER_LEN, VERSION_1, VERSION_2, VERSION_3};
pub use segments::EncodedSlot;
pub(crate) use segments::{Index, RowSlots};

/// Buffer alignment inside the IPC payload. Arrow's default of 64 wastes up to 63 bytes per
/// buffer, which is a lot in a small chunk; 8 is enough for every type, and the reader
/// copies into aligned memory anyway.
const IPC_ALIGNMENT: usize = 8;

/// Encodes `batch` as one self-contained chunk value (version 1): the form of checkpoints.
pub fn encode_chunk(batch: &RecordBatch) -> Result<Vec<u8>, ChunkError> {
    let stored = encoding::to_storage(batch, &encoding::layout(batch))?;
    let mut out = vec![0; HEADER_LEN];
    {
        let mut writer = StreamWriter::try_new_with_options(&mut out, &stored.schema(), ipc_options()?)?;
        writer.write(&stored)?;
        writer.finish()?;
    }
    header::seal(&mut out, VERSION_1)?;
    Ok(out)
}

/// The IPC options of every payload: V5 metadata, 8-byte alignment, LZ4_FRAME buffers.
fn ipc_options() -> Result<IpcWriteOptions, ChunkError> {
    Ok(IpcWriteOptions::try_new(IPC_ALIGNMENT, false, MetadataVersion::V5)?
        .try_with_compression(Some(CompressionType::LZ4_FRAME))?)
}

/// Encodes `batch` as a sealed slot in format version 2, its rows grouped into segments by
/// the text column `segment_by` (an index into the batch's schema), or in one segment.
pub fn encode_slot(batch: &RecordBatch, segment_by: Option<usize>) -> Result<EncodedSlot, ChunkError> {
    segments::encode(batch, segment_by, segments::MIN_SEGMENT_ROWS)
}

/// Encodes `batch`, the rows of several slots in slot order, as a version-3 chunk (a
/// compacted hour) grouped into segments like [`encode_slot`]. `slots` are the slot starts,
/// strictly ascending; `row_slots[r]` is the index in `slots` of row `r`'s slot
/// (non-decreasing). [`crate::Store::compact_hour`] writes these; [`decode_slot`] reads them.
pub fn encode_slots(
    batch: &RecordBatch,
    slots: &[i64],
    row_slots: &[u32],
    segment_by: Option<usize>,
) -> Result<EncodedSlot, ChunkError> {
    let slots = RowSlots { starts: slots, of_row: row_slots };
    segments::encode_slots(batch, slots, segment_by, segments::MIN_COMPACTED_SEGMENT_ROWS)
}

/// Decodes a sealed slot from the value under its chunk key (`index`: a version-2 or
/// version-3 index, or a whole version-1 chunk) and all its segment values, in order (none for
/// version 1), as `filter` asks: every row, of every slot a version-3 chunk holds. The store
/// reads only the segments a filter needs; this reads from memory, for tools and tests.
pub fn decode_slot(
    index: &[u8],
    segments: &[&[u8]],
    filter: ChunkFilter<'_>,
) -> Result<RecordBatch, ChunkError> {
    let segment = |n: u32| Ok(usize::try_from(n).ok().and_then(|i| segments.get(i)).copied());
    decode_stored(index, filter, &(i64::MIN..i64::MAX), segment, |e| e)
}

/// Decodes the value under a chunk key as `filter` asks: a version-1 chunk directly, a
/// version-2 or -3 index by asking `segment` for each segment it needs (`None`: missing, which
/// is [`ChunkError::MissingSegment`]). Of a version-3 chunk only the rows of the slots in
/// `range` are returned (the caller has chosen a version-1 or -2 chunk by its slot already).
/// `wrap` turns a chunk error into the caller's error.
pub(crate) fn decode_stored<S: AsRef<[u8]>, E>(
    value: &[u8],
    filter: ChunkFilter<'_>,
    range: &Range<i64>,
    mut segment: impl FnMut(u32) -> Result<Option<S>, E>,
    wrap: impl Fn(ChunkError) -> E,
) -> Result<RecordBatch, E> {
    match open_stored(value).map_err(&wrap)? {
        Stored::Whole(payload) => decode_v1(payload, filter, None).map_err(wrap),
        Stored::Segmented(index) => {
            let mut values = Vec::new();
            for n in index.wanted(filter, range) {
                let value = segment(n)?.ok_or_else(|| wrap(ChunkError::MissingSegment { segment: n }))?;
                values.push((n, value));
            }
            let wanted: Vec<(u32, &[u8])> = values.iter().map(|(n, v)| (*n, v.as_ref())).collect();
            index.decode(&wanted, filter, range).map_err(wrap)
        }
    }
}

/// Decodes every row of the value under a chunk key, split by slot: `(key_slot, batch)` for a
/// version-1 or -2 chunk, one batch per slot, in slot order, for a version-3 chunk. `segment`
/// and `wrap` as in [`decode_stored`].
pub(crate) fn decode_stored_by_slot<S: AsRef<[u8]>, E>(
    value: &[u8],
    key_slot: i64,
    mut segment: impl FnMut(u32) -> Result<Option<S>, E>,
    wrap: impl Fn(ChunkError) -> E,
) -> Result<Vec<(i64, RecordBatch)>, E> {
    match open_stored(value).map_err(&wrap)? {
        Stored::Whole(payload) => {
            Ok(vec![(key_slot, decode_v1(payload, ChunkFilter::default(), None).map_err(wrap)?)])
        }
        Stored::Segmented(index) => {
            let mut values = Vec::with_capacity(index.segment_count() as usize);
            for n in 0..index.segment_count() {
                values.push(segment(n)?.ok_or_else(|| wrap(ChunkError::MissingSegment { segment: n }))?);
            }
            let all: Vec<&[u8]> = values.iter().map(AsRef::as_ref).collect();
            index.decode_by_slot(key_slot, &all).map_err(wrap)
        }
    }
}

/// What a value under a chunk key holds, without decoding rows: its slots and its row count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Extent {
    /// The slots, ascending: the key's slot alone unless the chunk is a compacted hour.
    pub(crate) slots: Vec<i64>,
    /// Rows, or `None` for a version-1 chunk (its row count is inside the Arrow payload).
    pub(crate) rows: Option<u64>,
}

/// Whether the value under a chunk key says it is a compacted hour (version 3), from its
/// header's version byte alone: nothing is checked, so a damaged value may say either.
pub(crate) fn claims_compacted(value: &[u8]) -> bool {
    value.starts_with(&header::MAGIC) && value.get(header::MAGIC.len()) == Some(&VERSION_3)
}

/// The [`Extent`] of the value under the chunk key whose slot is `key_slot`.
pub(crate) fn extent(value: &[u8], key_slot: i64) -> Result<Extent, ChunkError> {
    Ok(match open_stored(value)? {
        Stored::Whole(_) => Extent { slots: vec![key_slot], rows: None },
        Stored::Segmented(index) => {
            let slots = if index.slots().is_empty() { vec![key_slot] } else { index.slots().to_vec() };
            Extent { slots, rows: Some(index.rows()) }
        }
    })
}

/// What a value under a chunk key holds.
#[derive(Debug)]
pub(crate) enum Stored<'a> {
    /// A whole version-1 chunk: its checked payload.
    Whole(&'a [u8]),
    /// The index of a version-2 chunk, whose rows are in segments.
    Segmented(Index),
}

/// Checks the header of a value under a chunk key and says what it holds.
pub(crate) fn open_stored(bytes: &[u8]) -> Result<Stored<'_>, ChunkError> {
    let (version, payload) = header::open(bytes)?;
    match version {
        VERSION_1 => Ok(Stored::Whole(payload)),
        VERSION_2 | VERSION_3 => Ok(Stored::Segmented(Index::parse(payload, version)?)),
        version => Err(ChunkError::UnsupportedVersion { version }),
    }
}

/// Decodes a chunk written by [`encode_chunk`] of this or any earlier version.
///
/// Never panics on bad input: truncation, bit flips and foreign bytes give a [`ChunkError`].
pub fn decode_chunk(bytes: &[u8]) -> Result<RecordBatch, ChunkError> {
    decode_chunk_columns(bytes, ChunkFilter::default())
}

/// A condition `column = value` on a text column, which a chunk can apply while decoding: on
/// its dictionary-encoded form, before the strings of the rows are materialized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextEquals {
    /// The column's index in the chunk's (the table's) schema.
    pub column: usize,
    /// The value rows must hold.
    pub value: String,
}

/// A condition that holds when any of its terms does: `a = 'x' OR b IN ('y', 'z')` is the
/// terms `a = 'x'`, `b = 'y'`, `b = 'z'`. No terms: no row holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextAny(pub Vec<TextEquals>);

/// What to decode of a chunk: which columns, and which rows.
///
/// The row conditions are exact: a row is returned if and only if it satisfies every one of
/// them (a null never equals a value). They are tested on the stored dictionaries, so the
/// strings of rows that fail are never built, and a condition's column is read for the test
/// even when the projection leaves it out. A condition on a column that is not text is a
/// [`ChunkError::FilterColumn`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ChunkFilter<'a> {
    /// The columns to decode (indices into the chunk's schema; the batch has them in that
    /// order), or all. The others are neither decompressed nor converted: a query that reads
    /// 8 of 25 columns pays for 8.
    pub projection: Option<&'a [usize]>,
    /// Rows must satisfy every one of these.
    pub text_equals: &'a [TextEquals],
    /// And every one of these.
    pub text_any: &'a [TextAny],
}

impl ChunkFilter<'_> {
    /// Whether the filter has row conditions.
    pub fn has_conditions(&self) -> bool {
        !self.text_equals.is_empty() || !self.text_any.is_empty()
    }

    /// The conditions as lists of terms, each list holding when any of its terms does.
    fn conditions(&self) -> impl Iterator<Item = &[TextEquals]> {
        self.text_equals.iter().map(std::slice::from_ref).chain(self.text_any.iter().map(|a| a.0.as_slice()))
    }

    /// Applies the filter to `batch`, a batch with every column of the table's schema (text
    /// columns `Utf8` or dictionary-encoded): the rows that satisfy the conditions, with the
    /// columns of the projection. For rows that are not in a chunk (the open slot).
    pub fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch, ChunkError> {
        let kept = encoding::keep_matching(batch.clone(), None, *self)?;
        Ok(match self.projection {
            Some(p) => kept.project(p)?,
            None => kept,
        })
    }
}

/// Like [`decode_chunk`], decoding only what `filter` asks for.
pub fn decode_chunk_columns(bytes: &[u8], filter: ChunkFilter<'_>) -> Result<RecordBatch, ChunkError> {
    let (version, payload) = header::open(bytes)?;
    match version {
        VERSION_1 => decode_v1(payload, filter, None),
        VERSION_2 | VERSION_3 => Err(ChunkError::Segmented),
        version => Err(ChunkError::UnsupportedVersion { version }),
    }
}

/// Reads the payload of a version-1 chunk (header already checked), as `filter` asks; of its
/// rows only those in `rows`, if given (before `filter`'s row conditions apply).
pub(crate) fn decode_v1(
    payload: &[u8],
    filter: ChunkFilter<'_>,
    rows: Option<Range<usize>>,
) -> Result<RecordBatch, ChunkError> {
    // Arrow's IPC reader trusts the offsets inside the stream and panics on some inconsistent
    // ones (`Buffer::slice_with_length`). The checksum keeps accidental damage from getting
    // here; catching the unwind also turns a bad payload that carries a matching checksum (or
    // a reader bug) into an error rather than a crash. That matters at start-up, where a panic
    // while reading a checkpoint would repeat on every restart.
    std::panic::catch_unwind(|| read_v1(payload, filter, rows)).unwrap_or(Err(ChunkError::Inconsistent))
}

/// [`decode_v1`] without the unwind guard.
fn read_v1(
    payload: &[u8],
    filter: ChunkFilter<'_>,
    rows: Option<Range<usize>>,
) -> Result<RecordBatch, ChunkError> {
    guard::check(payload)?;
    // The projection, plus the columns the conditions test that it leaves out (dropped again
    // once the rows are filtered).
    let read: Option<Vec<usize>> = filter.projection.map(|p| {
        let mut read = p.to_vec();
        for term in filter.conditions().flatten() {
            if !read.contains(&term.column) {
                read.push(term.column);
            }
        }
        read
    });
    let mut reader = StreamReader::try_new(payload, read.clone())?;
    let stored = reader.next().ok_or(ChunkError::BatchCount { count: 0 })??;
    if reader.next().is_some() {
        return Err(ChunkError::BatchCount { count: 2 });
    }
    let stored = match rows {
        Some(r) if r.end <= stored.num_rows() => stored.slice(r.start, r.len()),
        Some(_) => return Err(ChunkError::Inconsistent),
        None => stored,
    };
    let stored = encoding::keep_matching(stored, read.as_deref(), filter)?;
    let stored = match filter.projection {
        Some(p) if p.len() < stored.num_columns() => stored.project(&(0..p.len()).collect::<Vec<_>>())?,
        _ => stored,
    };
    encoding::from_storage(&stored)
}
