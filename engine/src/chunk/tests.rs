use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int32Array, Int64Array, StringArray, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use arrow_ipc::CompressionType;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::{IpcWriteOptions, StreamWriter};
use proptest::prelude::*;

use super::encoding::ENCODING_KEY;
use super::header::{HEADER_LEN, MAGIC, crc32};
use super::segments::{self, EncodedSlot};
use super::{ChunkFilter, Stored, TextEquals, decode_chunk, decode_chunk_columns, encode_chunk, open_stored};
use crate::error::ChunkError;

/// One generated column.
#[derive(Debug, Clone)]
enum Col {
    Utf8(Vec<Option<String>>),
    Int32(Vec<Option<i32>>),
    Int64(Vec<Option<i64>>),
    Timestamp(Vec<Option<i64>>),
}

impl Col {
    fn field(&self, name: String, nullable: bool) -> Field {
        let data_type = match self {
            Col::Utf8(_) => DataType::Utf8,
            Col::Int32(_) => DataType::Int32,
            Col::Int64(_) => DataType::Int64,
            Col::Timestamp(_) => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        };
        Field::new(name, data_type, nullable)
    }

    fn array(&self) -> ArrayRef {
        match self {
            Col::Utf8(v) => Arc::new(StringArray::from(v.clone())),
            Col::Int32(v) => Arc::new(Int32Array::from(v.clone())),
            Col::Int64(v) => Arc::new(Int64Array::from(v.clone())),
            Col::Timestamp(v) => Arc::new(TimestampMillisecondArray::from(v.clone()).with_timezone("UTC")),
        }
    }
}

/// `rows` values from `values`, some of them null when `nullable`.
fn cells<T: std::fmt::Debug + 'static>(
    values: impl Strategy<Value = T> + 'static,
    rows: usize,
    nullable: bool,
) -> impl Strategy<Value = Vec<Option<T>>> {
    let cell =
        if nullable { prop::option::weighted(0.8, values).boxed() } else { values.prop_map(Some).boxed() };
    prop::collection::vec(cell, rows)
}

fn column(rows: usize, nullable: bool) -> impl Strategy<Value = Col> {
    // Names repeat in real data; mix a small pool with arbitrary text.
    let text = prop_oneof![Just("tars.tarsstat.StatObj".to_owned()), Just(String::new()), "\\PC{0,12}",];
    prop_oneof![
        cells(text, rows, nullable).prop_map(Col::Utf8),
        cells(any::<i32>(), rows, nullable).prop_map(Col::Int32),
        // Narrow spans (stored as 1-, 2- or 4-byte offsets) around any base, and any values.
        cells(-100i32..100, rows, nullable).prop_map(Col::Int32),
        cells(any::<i64>(), rows, nullable).prop_map(Col::Int64),
        (any::<i64>(), prop_oneof![Just(200i64), Just(60_000), Just(4_000_000_000)]).prop_flat_map(
            move |(base, span)| {
                let lo = base.min(i64::MAX - span);
                cells(lo..=lo + span, rows, nullable).prop_map(Col::Int64)
            }
        ),
        cells(any::<i64>(), rows, nullable).prop_map(Col::Timestamp),
        cells(1_700_000_000_000i64..1_700_003_600_000, rows, nullable).prop_map(Col::Timestamp),
    ]
}

/// Batches of 1..6 columns of the types the tables use, 0..40 rows, with nulls.
fn batch() -> impl Strategy<Value = RecordBatch> {
    (0usize..40, prop::collection::vec(any::<bool>(), 1..6), any::<bool>())
        .prop_flat_map(|(rows, nullables, with_metadata)| {
            let columns: Vec<_> =
                nullables.iter().map(|&n| column(rows, n).prop_map(move |c| (c, n))).collect();
            (columns, Just(with_metadata))
        })
        .prop_map(|(columns, with_metadata)| {
            let fields: Vec<Field> = columns
                .iter()
                .enumerate()
                .map(|(i, (c, nullable))| {
                    let field = c.field(format!("c{i}"), *nullable);
                    if with_metadata {
                        field.with_metadata(HashMap::from([("unit".to_owned(), "ms".to_owned())]))
                    } else {
                        field
                    }
                })
                .collect();
            let metadata = if with_metadata {
                HashMap::from([("table".to_owned(), "stat".to_owned())])
            } else {
                HashMap::new()
            };
            let schema = Arc::new(Schema::new_with_metadata(fields, metadata));
            RecordBatch::try_new(schema, columns.iter().map(|(c, _)| c.array()).collect()).unwrap()
        })
}

proptest! {
    #[test]
    fn decoding_some_columns_equals_projecting_the_whole(batch in batch(), pick in prop::collection::vec(any::<prop::sample::Index>(), 0..4)) {
        let bytes = encode_chunk(&batch).unwrap();
        let n = batch.num_columns();
        let projection: Vec<usize> = if n == 0 { Vec::new() } else { pick.iter().map(|i| i.index(n)).collect() };
        let want = batch.project(&projection).unwrap();
        let filter = ChunkFilter { projection: Some(&projection), text_equals: &[], text_any: &[] };
        prop_assert_eq!(decode_chunk_columns(&bytes, filter).unwrap(), want);
        prop_assert_eq!(decode_chunk_columns(&bytes, ChunkFilter::default()).unwrap(), batch);
    }

    /// A text condition keeps exactly the rows holding the value, whether or not its column
    /// is among those decoded; `ChunkFilter::apply` on the plain batch agrees.
    #[test]
    fn text_conditions_keep_exactly_the_matching_rows(batch in batch(), row in any::<prop::sample::Index>()) {
        let bytes = encode_chunk(&batch).unwrap();
        let text = (0..batch.num_columns()).find(|&i| batch.column(i).data_type() == &DataType::Utf8);
        let (Some(column), true) = (text, batch.num_rows() > 0) else { return Ok(()) };
        let strings = batch.column(column).as_any().downcast_ref::<StringArray>().unwrap();
        let at = row.index(batch.num_rows());
        let value = if strings.is_null(at) { "no such value".to_owned() } else { strings.value(at).to_owned() };
        let keep: arrow::array::BooleanArray =
            (0..batch.num_rows()).map(|i| Some(strings.is_valid(i) && strings.value(i) == value)).collect();
        let want = arrow::compute::filter_record_batch(&batch, &keep).unwrap();
        let cond = [TextEquals { column, value }];
        let filter = ChunkFilter { projection: None, text_equals: &cond, text_any: &[] };
        prop_assert_eq!(decode_chunk_columns(&bytes, filter).unwrap(), want.clone());
        prop_assert_eq!(filter.apply(&batch).unwrap(), want.clone());
        let others: Vec<usize> = (0..batch.num_columns()).filter(|&i| i != column).collect();
        let want = want.project(&others).unwrap();
        let filter = ChunkFilter { projection: Some(&others), text_equals: &cond, text_any: &[] };
        prop_assert_eq!(decode_chunk_columns(&bytes, filter).unwrap(), want.clone());
        prop_assert_eq!(filter.apply(&batch).unwrap(), want);
    }

    /// A condition of several terms (`a = x OR b IN (y, z)`) keeps exactly the rows where one
    /// of them holds; no terms keeps no row.
    #[test]
    fn any_of_several_terms_keeps_exactly_the_rows_where_one_holds(
        batch in batch(),
        picks in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 0..4),
        project: bool,
    ) {
        let bytes = encode_chunk(&batch).unwrap();
        let text: Vec<usize> =
            (0..batch.num_columns()).filter(|&i| batch.column(i).data_type() == &DataType::Utf8).collect();
        if text.is_empty() || batch.num_rows() == 0 {
            return Ok(());
        }
        let strings = |c: usize| batch.column(c).as_any().downcast_ref::<StringArray>().unwrap().clone();
        let terms: Vec<TextEquals> = picks
            .iter()
            .map(|(c, r)| {
                let column = text[c.index(text.len())];
                let s = strings(column);
                let at = r.index(batch.num_rows());
                let value = if s.is_null(at) { "no such value".to_owned() } else { s.value(at).to_owned() };
                TextEquals { column, value }
            })
            .collect();
        let keep: arrow::array::BooleanArray = (0..batch.num_rows())
            .map(|i| Some(terms.iter().any(|t| { let s = strings(t.column); s.is_valid(i) && s.value(i) == t.value })))
            .collect();
        let projection: Vec<usize> = if project { vec![0] } else { (0..batch.num_columns()).collect() };
        let want = arrow::compute::filter_record_batch(&batch, &keep).unwrap().project(&projection).unwrap();
        let any = [super::TextAny(terms)];
        let filter = ChunkFilter { projection: Some(&projection), text_equals: &[], text_any: &any };
        prop_assert_eq!(decode_chunk_columns(&bytes, filter).unwrap(), want.clone());
        prop_assert_eq!(filter.apply(&batch).unwrap(), want);
    }

    #[test]
    fn round_trip(batch in batch()) {
        let bytes = encode_chunk(&batch).unwrap();
        let decoded = decode_chunk(&bytes).unwrap();
        prop_assert_eq!(decoded.schema(), batch.schema());
        prop_assert_eq!(decoded, batch);
    }

    /// Any truncation or single-byte change is detected before Arrow reads the payload.
    #[test]
    fn damaged_chunks_are_errors(batch in batch(), cut in any::<prop::sample::Index>(), flip in 1u8..) {
        let bytes = encode_chunk(&batch).unwrap();
        let at = cut.index(bytes.len());
        prop_assert!(decode_chunk(&bytes[..at]).is_err());
        let mut flipped = bytes.clone();
        flipped[at] ^= flip;
        prop_assert!(decode_chunk(&flipped).is_err());
    }

    /// A damaged stream behind a valid header (re-sealed so the checksum passes) reaches
    /// Arrow's reader, which panics on some of them: `decode_chunk` still returns, with an
    /// error or whatever batch the bytes happen to hold.
    #[test]
    fn damaged_payload_behind_a_valid_header_does_not_panic(
        batch in batch(),
        cut in any::<prop::sample::Index>(),
        flip in 1u8..,
    ) {
        let mut bytes = encode_chunk(&batch).unwrap();
        let at = HEADER_LEN + cut.index(bytes.len() - HEADER_LEN);
        bytes[at] ^= flip;
        super::header::seal(&mut bytes, super::header::VERSION_1).unwrap();
        if let Ok(decoded) = decode_chunk(&bytes) {
            // Only bytes that do not matter (padding, unused metadata) can be flipped unnoticed.
            prop_assert_eq!(decoded.num_rows(), batch.num_rows());
        }
    }
}

fn repeated_string_batch(rows: usize) -> (RecordBatch, usize) {
    let long = "tars.tarsnotify.NotifyObj@tcp -h 192.168.100.200 -p 18593 -t 60000 / some.server".repeat(2);
    let raw_len = long.len() * rows;
    let names = StringArray::from(vec![long.as_str(); rows]);
    let schema = Arc::new(Schema::new(vec![Field::new("name", DataType::Utf8, false)]));
    (RecordBatch::try_new(schema, vec![Arc::new(names)]).unwrap(), raw_len)
}

/// `batch` as an LZ4 IPC stream without the dictionary step, for comparison.
fn plain_ipc_len(batch: &RecordBatch) -> usize {
    let options = IpcWriteOptions::default().try_with_compression(Some(CompressionType::LZ4_FRAME)).unwrap();
    let mut out = Vec::new();
    let mut writer = StreamWriter::try_new_with_options(&mut out, &batch.schema(), options).unwrap();
    writer.write(batch).unwrap();
    writer.finish().unwrap();
    drop(writer);
    out.len()
}

#[test]
fn strings_are_dictionary_encoded_on_disk() {
    let (batch, raw_len) = repeated_string_batch(10_000);
    let bytes = encode_chunk(&batch).unwrap();
    let plain_len = plain_ipc_len(&batch);
    eprintln!("raw {raw_len} plain {plain_len} chunk {}", bytes.len());
    // 1.6 MB of one repeated string: the dictionary holds it once and the keys (all 0)
    // compress to almost nothing; LZ4 alone on the plain column does far worse.
    assert!(bytes.len() * 1000 < raw_len, "chunk is {} bytes for {raw_len} bytes of text", bytes.len());
    assert!(bytes.len() * 10 < plain_len, "chunk is {} bytes, plain LZ4 IPC {plain_len}", bytes.len());

    // The stored schema really holds a dictionary column, marked for the reader.
    let stored = StreamReader::try_new(&bytes[HEADER_LEN..], None).unwrap();
    let field = stored.schema().field(0).clone();
    assert_eq!(field.data_type(), &DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)));
    assert_eq!(field.metadata().get(ENCODING_KEY).map(String::as_str), Some("dictionary"));

    assert_eq!(decode_chunk(&bytes).unwrap(), batch);
}

#[test]
fn integers_of_a_narrow_span_are_stored_as_narrow_offsets() {
    let n = 1000;
    let time: Vec<i64> = (0..n).map(|i| 1_705_309_200_000 + (i / 100) * 60_000).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("time", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), false),
        Field::new("count", DataType::Int64, true),
        Field::new("port", DataType::Int32, false),
        Field::new("wide", DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(TimestampMillisecondArray::from(time).with_timezone("UTC")),
            Arc::new(Int64Array::from(
                (0..n).map(|i| (i % 7 != 0).then_some(-5 + i % 200)).collect::<Vec<_>>(),
            )),
            Arc::new(Int32Array::from((0..n).map(|i| 20_000 + (i as i32 % 3000)).collect::<Vec<_>>())),
            Arc::new(Int64Array::from((0..n).map(|i| i * (i64::MAX / 1000)).collect::<Vec<_>>())),
        ],
    )
    .unwrap();
    let bytes = encode_chunk(&batch).unwrap();
    let stored = StreamReader::try_new(&bytes[HEADER_LEN..], None).unwrap().schema();
    let types: Vec<&DataType> = stored.fields().iter().map(|f| f.data_type()).collect();
    assert_eq!(types, [&DataType::UInt32, &DataType::UInt8, &DataType::UInt16, &DataType::Int64]);
    assert_eq!(stored.field(1).metadata().get(super::encoding::BASE_KEY).map(String::as_str), Some("-5"));
    assert_eq!(decode_chunk(&bytes).unwrap(), batch);
}

#[test]
fn empty_and_columnless_batches_round_trip() {
    let (batch, _) = repeated_string_batch(0);
    assert_eq!(decode_chunk(&encode_chunk(&batch).unwrap()).unwrap(), batch);

    let options = RecordBatchOptions::new().with_row_count(Some(7));
    let columnless = RecordBatch::try_new_with_options(Arc::new(Schema::empty()), vec![], &options).unwrap();
    let decoded = decode_chunk(&encode_chunk(&columnless).unwrap()).unwrap();
    assert_eq!(decoded.num_rows(), 7);
    assert_eq!(decoded.num_columns(), 0);
}

#[test]
fn header_errors_are_specific() {
    let (batch, _) = repeated_string_batch(3);
    let bytes = encode_chunk(&batch).unwrap();
    assert_eq!(bytes[..4], MAGIC);

    assert!(matches!(decode_chunk(&[]), Err(ChunkError::TooShort { len: 0 })));
    assert!(matches!(decode_chunk(&bytes[..HEADER_LEN - 1]), Err(ChunkError::TooShort { .. })));

    let mut bad_magic = bytes.clone();
    bad_magic[0] = b'X';
    assert!(matches!(decode_chunk(&bad_magic), Err(ChunkError::BadMagic { .. })));

    let mut future = bytes.clone();
    future[4] = 4;
    assert!(matches!(decode_chunk(&future), Err(ChunkError::UnsupportedVersion { version: 4 })));
    // Versions 2 and 3 are indexes whose rows are elsewhere: only the store can read them.
    for version in [2, 3] {
        future[4] = version;
        assert!(matches!(decode_chunk(&future), Err(ChunkError::Segmented)));
    }

    let truncated = &bytes[..bytes.len() - 1];
    let err = decode_chunk(truncated).unwrap_err();
    assert!(
        matches!(err, ChunkError::LengthMismatch { actual, .. } if actual == bytes.len() - HEADER_LEN - 1)
    );
    assert!(err.to_string().contains("header says"), "{err}");

    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x40;
    assert!(matches!(decode_chunk(&flipped), Err(ChunkError::ChecksumMismatch { .. })));
}

#[test]
fn reserved_metadata_is_rejected() {
    let field = Field::new("name", DataType::Int32, false)
        .with_metadata(HashMap::from([(ENCODING_KEY.to_owned(), "dictionary".to_owned())]));
    let batch =
        RecordBatch::try_new(Arc::new(Schema::new(vec![field])), vec![Arc::new(Int32Array::from(vec![1]))])
            .unwrap();
    assert!(matches!(encode_chunk(&batch), Err(ChunkError::ReservedMetadata { .. })));
}

#[test]
fn dictionary_columns_given_by_the_caller_stay_dictionaries() {
    let dict: arrow::array::DictionaryArray<arrow::datatypes::Int32Type> =
        vec!["a", "b", "a"].into_iter().collect();
    let schema = Arc::new(Schema::new(vec![Field::new("d", dict.data_type().clone(), false)]));
    let batch = RecordBatch::try_new(schema, vec![Arc::new(dict)]).unwrap();
    let decoded = decode_chunk(&encode_chunk(&batch).unwrap()).unwrap();
    assert_eq!(decoded.schema(), batch.schema());
    assert_eq!(decoded, batch);
}

#[test]
fn crc32_matches_the_standard_check_value() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
}

/// Reads back a version-2 slot as the store does: the index, then the segments it wants.
fn decode_slot(slot: &EncodedSlot, filter: ChunkFilter<'_>) -> Result<RecordBatch, ChunkError> {
    let segments: Vec<&[u8]> = slot.segments.iter().map(Vec::as_slice).collect();
    super::decode_slot(&slot.index, &segments, filter)
}

/// The rows of `batch` as text, sorted: segments regroup rows, so compare row sets.
fn sorted_rows(batch: &RecordBatch) -> Vec<String> {
    let mut rows: Vec<String> = (0..batch.num_rows())
        .map(|r| {
            let cells: Vec<String> = batch
                .columns()
                .iter()
                .map(|c| {
                    if c.is_null(r) {
                        "∅".to_owned()
                    } else {
                        arrow::util::display::array_value_to_string(c, r).unwrap()
                    }
                })
                .collect();
            cells.join("|")
        })
        .collect();
    rows.sort();
    rows
}

/// The first text column of `batch`, if any.
fn text_column(batch: &RecordBatch) -> Option<usize> {
    (0..batch.num_columns()).find(|&i| batch.column(i).data_type() == &DataType::Utf8)
}

proptest! {
    /// Grouped into segments of any size, a slot reads back to the same rows and schema.
    #[test]
    fn segmented_slots_round_trip(batch in batch(), min_rows in 1usize..8, grouped: bool) {
        let segment_by = if grouped { text_column(&batch) } else { None };
        let slot = segments::encode(&batch, segment_by, min_rows).unwrap();
        let decoded = decode_slot(&slot, ChunkFilter::default()).unwrap();
        prop_assert_eq!(decoded.schema(), batch.schema());
        if segment_by.is_none() {
            prop_assert_eq!(slot.segments.len(), 1);
            prop_assert_eq!(decoded, batch);
        } else {
            prop_assert_eq!(sorted_rows(&decoded), sorted_rows(&batch));
        }
    }

    /// A condition on the segment column reads only segments holding the value and keeps
    /// exactly the matching rows, with any projection.
    #[test]
    fn segment_filters_keep_exactly_the_matching_rows(
        batch in batch(),
        min_rows in 1usize..8,
        row in any::<prop::sample::Index>(),
        project: bool,
    ) {
        let (Some(column), true) = (text_column(&batch), batch.num_rows() > 0) else { return Ok(()) };
        let strings = batch.column(column).as_any().downcast_ref::<StringArray>().unwrap();
        let at = row.index(batch.num_rows());
        let value = if strings.is_null(at) { "no such value".to_owned() } else { strings.value(at).to_owned() };
        let keep: arrow::array::BooleanArray =
            (0..batch.num_rows()).map(|i| Some(strings.is_valid(i) && strings.value(i) == value)).collect();
        let slot = segments::encode(&batch, Some(column), min_rows).unwrap();
        let cond = [TextEquals { column, value: value.clone() }];
        let projection: Vec<usize> = if project { vec![column] } else { (0..batch.num_columns()).collect() };
        let want = arrow::compute::filter_record_batch(&batch, &keep).unwrap().project(&projection).unwrap();
        let filter = ChunkFilter { projection: Some(&projection), text_equals: &cond, text_any: &[] };
        let got = decode_slot(&slot, filter).unwrap();
        prop_assert_eq!(got.schema(), want.schema());
        prop_assert_eq!(sorted_rows(&got), sorted_rows(&want));
        let Stored::Segmented(index) = open_stored(&slot.index).unwrap() else { unreachable!() };
        prop_assert!(index.wanted(filter, &(i64::MIN..i64::MAX)).len() <= 1, "a value lives in one segment");
    }

    /// Damage to the index or to a segment is an error (or, behind a re-sealed header, at
    /// least not a panic), never a wrong batch of the right size passed off silently.
    #[test]
    fn damaged_segmented_slots_are_errors(batch in batch(), cut in any::<prop::sample::Index>(), flip in 1u8..) {
        let segment_by = text_column(&batch);
        let slot = segments::encode(&batch, segment_by, 2).unwrap();
        let at = cut.index(slot.index.len());
        prop_assert!(open_stored(&slot.index[..at]).is_err());
        let mut index = slot.index.clone();
        index[at] ^= flip;
        match open_stored(&index) {
            Err(_) => {}
            // The checksum covers the payload, not the version byte: read as version 1, the
            // index is no IPC stream.
            Ok(Stored::Whole(payload)) => prop_assert!(super::decode_v1(payload, ChunkFilter::default(), None).is_err()),
            Ok(Stored::Segmented(_)) => prop_assert!(false, "damage at {} went unnoticed", at),
        }
        if at >= HEADER_LEN {
            super::header::seal(&mut index, super::header::VERSION_2).unwrap();
            if let Ok(Stored::Segmented(damaged)) = open_stored(&index) {
                let parts: Vec<(u32, &[u8])> = (0..damaged.segment_count())
                    .filter_map(|n| slot.segments.get(n as usize).map(|s| (n, s.as_slice())))
                    .collect();
                let _ = damaged.decode(&parts, ChunkFilter::default(), &(i64::MIN..i64::MAX));
            }
        }
        let mut damaged = EncodedSlot { index: slot.index.clone(), segments: slot.segments.clone() };
        let seg = &mut damaged.segments[0];
        if !seg.is_empty() {
            let at = cut.index(seg.len());
            seg[at] ^= flip;
            let result = decode_slot(&damaged, ChunkFilter::default());
            prop_assert!(matches!(result, Err(ChunkError::ChecksumMismatch { .. })), "{:?}", result);
        }
    }
}

/// Three callees of 300 rows each: three segments, and a filter on one callee reads one.
#[test]
fn a_filtered_read_touches_only_its_segment() {
    let names: Vec<String> = (0..900).map(|i| format!("App.Server{}", i % 3)).collect();
    let ids: Vec<i64> = (0..900).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("slave_name", DataType::Utf8, false),
        Field::new("id", DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![Arc::new(StringArray::from(names)), Arc::new(Int64Array::from(ids))],
    )
    .unwrap();
    let slot = super::encode_slot(&batch, Some(0)).unwrap();
    assert_eq!(slot.segments.len(), 3);
    let cond = [TextEquals { column: 0, value: "App.Server1".to_owned() }];
    let filter = ChunkFilter { projection: Some(&[1]), text_equals: &cond, text_any: &[] };
    let Stored::Segmented(index) = open_stored(&slot.index).unwrap() else { unreachable!() };
    assert_eq!(index.wanted(filter, &(i64::MIN..i64::MAX)), vec![1]);
    let got = decode_slot(&slot, filter).unwrap();
    let ids = got.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
    let want: Vec<i64> = (0..900).filter(|i| i % 3 == 1).collect();
    assert_eq!(ids.values().to_vec(), want, "rows keep their order within a segment");

    // No callee of that name: no segment read, an empty batch of the asked-for columns.
    let cond = [TextEquals { column: 0, value: "Nobody".to_owned() }];
    let filter = ChunkFilter { projection: Some(&[1]), text_equals: &cond, text_any: &[] };
    assert!(index.wanted(filter, &(i64::MIN..i64::MAX)).is_empty());
    let empty = decode_slot(&slot, filter).unwrap();
    assert_eq!(empty.num_rows(), 0);
    assert_eq!(empty.schema().field(0).name(), "id");

    // Groups smaller than the minimum share a segment.
    let small = super::encode_slot(&batch.slice(0, 30), Some(0)).unwrap();
    assert_eq!(small.segments.len(), 1);
    // A segment column that is not text is refused.
    assert!(matches!(super::encode_slot(&batch, Some(1)), Err(ChunkError::SegmentColumn { .. })));
    assert!(matches!(super::encode_slot(&batch, Some(2)), Err(ChunkError::SegmentColumn { .. })));
}

/// Slot starts (minutes) for the rows of a batch of `rows` rows: non-decreasing, drawn from
/// `k` slots, some of which may hold no row.
fn row_slots(rows: usize) -> impl Strategy<Value = (Vec<i64>, Vec<u32>)> {
    (1usize..6, prop::collection::vec(any::<prop::sample::Index>(), rows)).prop_map(move |(k, picks)| {
        let starts: Vec<i64> = (0..k as i64).map(|m| 60_000 * (m * 2 + 1)).collect();
        let mut of_row: Vec<u32> = picks.iter().map(|p| p.index(k) as u32).collect();
        of_row.sort_unstable();
        (starts, of_row)
    })
}

/// Reads a version-3 slot as the store does, for the slots in `range`.
fn decode_range(
    slot: &EncodedSlot,
    filter: ChunkFilter<'_>,
    range: std::ops::Range<i64>,
) -> Result<RecordBatch, ChunkError> {
    let segment = |n: u32| Ok(slot.segments.get(n as usize).map(Vec::as_slice));
    super::decode_stored(&slot.index, filter, &range, segment, |e| e)
}

proptest! {
    /// A compacted hour reads back, for any range of its slots, exactly the rows of those
    /// slots, and split by slot, each slot's rows.
    #[test]
    fn compacted_slots_read_back_by_range_and_by_slot(
        (batch, (starts, of_row)) in batch().prop_flat_map(|b| { let n = b.num_rows(); (Just(b), row_slots(n)) }),
        min_rows in 1usize..8,
        a in 0i64..12, len in 0i64..12,
    ) {
        let segment_by = text_column(&batch);
        let slots = super::RowSlots { starts: &starts, of_row: &of_row };
        let slot = segments::encode_slots(&batch, slots, segment_by, min_rows).unwrap();
        let range = 60_000 * a..60_000 * (a + len);
        let keep: arrow::array::BooleanArray =
            of_row.iter().map(|&i| Some(range.contains(&starts[i as usize]))).collect();
        let want = arrow::compute::filter_record_batch(&batch, &keep).unwrap();
        let got = decode_range(&slot, ChunkFilter::default(), range.clone()).unwrap();
        prop_assert_eq!(got.schema(), batch.schema());
        prop_assert_eq!(sorted_rows(&got), sorted_rows(&want));

        let segments: Vec<&[u8]> = slot.segments.iter().map(Vec::as_slice).collect();
        let Stored::Segmented(index) = open_stored(&slot.index).unwrap() else { unreachable!() };
        prop_assert_eq!(index.slots(), starts.as_slice());
        let by_slot = index.decode_by_slot(0, &segments).unwrap();
        prop_assert_eq!(by_slot.len(), starts.len());
        for (i, (start, rows)) in by_slot.iter().enumerate() {
            let keep: arrow::array::BooleanArray = of_row.iter().map(|&r| Some(r as usize == i)).collect();
            let want = arrow::compute::filter_record_batch(&batch, &keep).unwrap();
            prop_assert_eq!(*start, starts[i]);
            prop_assert_eq!(sorted_rows(rows), sorted_rows(&want));
        }
    }

    /// Damage to a compacted index is an error, never rows of the wrong slots.
    #[test]
    fn damaged_compacted_indexes_are_errors(
        (batch, (starts, of_row)) in batch().prop_flat_map(|b| { let n = b.num_rows(); (Just(b), row_slots(n)) }),
        cut in any::<prop::sample::Index>(),
        flip in 1u8..,
    ) {
        let slots = super::RowSlots { starts: &starts, of_row: &of_row };
        let slot = segments::encode_slots(&batch, slots, text_column(&batch), 2).unwrap();
        let at = cut.index(slot.index.len());
        prop_assert!(open_stored(&slot.index[..at]).is_err());
        let mut index = slot.index.clone();
        index[at] ^= flip;
        if at >= HEADER_LEN {
            // Behind a re-sealed header the parser itself must refuse or stay consistent.
            super::header::seal(&mut index, super::header::VERSION_3).unwrap();
            if let Ok(Stored::Segmented(damaged)) = open_stored(&index) {
                let segments: Vec<&[u8]> = slot.segments.iter().map(Vec::as_slice).collect();
                let _ = damaged.decode_by_slot(0, &segments);
                let parts: Vec<(u32, &[u8])> = (0..damaged.segment_count())
                    .filter_map(|n| slot.segments.get(n as usize).map(|s| (n, s.as_slice())))
                    .collect();
                let _ = damaged.decode(&parts, ChunkFilter::default(), &(0..180_000));
            }
        } else {
            prop_assert!(open_stored(&index).is_err() || at == 4, "damage at {} went unnoticed", at);
        }
    }
}

#[test]
fn compacted_slots_must_be_ordered() {
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)])),
        vec![Arc::new(Int64Array::from(vec![1, 2]))],
    )
    .unwrap();
    let encode = |starts: &[i64], of_row: &[u32]| {
        segments::encode_slots(&batch, super::RowSlots { starts, of_row }, None, 1)
    };
    assert!(encode(&[1, 2], &[0, 1]).is_ok());
    assert!(encode(&[2, 1], &[0, 1]).is_err(), "slots not ascending");
    assert!(encode(&[1, 2], &[1, 0]).is_err(), "rows not in slot order");
    assert!(encode(&[1, 2], &[0, 2]).is_err(), "slot index out of range");
    assert!(encode(&[1, 2], &[0]).is_err(), "a slot per row");
}
