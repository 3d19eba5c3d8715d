//! Chunks written by earlier versions must stay readable.
//!
//! `data/stat_chunk_v1.bin` was written by chunk format version 1 (the first release of the
//! store) and is committed. A later format version may write differently, but its reader must
//! keep decoding this file to exactly the rows below: stores in the field hold such chunks
//! until retention drops them. Never regenerate the file to make this test pass; when a new
//! format version arrives, add a `stat_chunk_v2.bin` (with the ignored writer test adapted)
//! next to this one. `data/stat_chunk_v2.*.bin` are a version-2 slot (index and segments),
//! `data/stat_chunk_v3.*.bin` a version-3 compacted chunk (two slots).

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, Int64Array, StringArray, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use tarsmon_engine::{
    ChunkError, ChunkFilter, TextEquals, decode_chunk, decode_slot, encode_chunk, encode_slot, encode_slots,
};

fn sample_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/stat_chunk_v1.bin")
}

/// The rows stored in `stat_chunk_v1.bin`: three call-statistics rows of one minute slot,
/// shaped like the `stat` table, with a null in a nullable column.
fn expected() -> RecordBatch {
    let utc = || Some("UTC".into());
    let fields = vec![
        Field::new("time", DataType::Timestamp(TimeUnit::Millisecond, utc()), false),
        Field::new("source", DataType::Utf8, false),
        Field::new("master_name", DataType::Utf8, false),
        Field::new("master_ip", DataType::Utf8, false),
        Field::new("slave_name", DataType::Utf8, false),
        Field::new("slave_ip", DataType::Utf8, false),
        Field::new("slave_port", DataType::Int32, false),
        Field::new("interface_name", DataType::Utf8, false),
        Field::new("return_value", DataType::Int32, false),
        Field::new("slave_set_name", DataType::Utf8, true),
        Field::new("succ_count", DataType::Int64, false),
        Field::new("timeout_count", DataType::Int64, false),
        Field::new("exce_count", DataType::Int64, false),
        Field::new("total_time", DataType::Int64, false),
    ];
    let time = 1_700_000_040_000;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampMillisecondArray::from(vec![time; 3]).with_timezone("UTC")),
        Arc::new(StringArray::from(vec!["client", "client", "server"])),
        Arc::new(StringArray::from(vec![
            "TestApp.HelloClient",
            "TestApp.HelloClient",
            "TestApp.HelloServer",
        ])),
        Arc::new(StringArray::from(vec!["10.0.0.1", "10.0.0.1", "10.0.0.2"])),
        Arc::new(StringArray::from(vec!["TestApp.HelloServer"; 3])),
        Arc::new(StringArray::from(vec!["10.0.0.2"; 3])),
        Arc::new(Int32Array::from(vec![18601; 3])),
        Arc::new(StringArray::from(vec!["sayHello", "sayBye", "sayHello"])),
        Arc::new(Int32Array::from(vec![0, -7, 0])),
        Arc::new(StringArray::from(vec![Some("app.sz.1"), None, Some("app.sz.1")])),
        Arc::new(Int64Array::from(vec![120, 3, 118])),
        Arc::new(Int64Array::from(vec![1, 0, 0])),
        Arc::new(Int64Array::from(vec![0, 3, 2])),
        Arc::new(Int64Array::from(vec![2400, 45, 2360])),
    ];
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

#[test]
fn version_1_chunk_still_decodes() {
    let bytes = std::fs::read(sample_path()).expect("tests/data/stat_chunk_v1.bin is committed");
    assert_eq!(&bytes[..5], b"TMCK\x01", "the sample is a version-1 chunk");
    let batch = decode_chunk(&bytes).unwrap();
    assert_eq!(batch.schema(), expected().schema());
    assert_eq!(batch, expected());

    // A damaged copy is an error, not a panic.
    let truncated = &bytes[..bytes.len() - 10];
    assert!(matches!(decode_chunk(truncated), Err(ChunkError::LengthMismatch { .. })));
}

/// Writes the sample. Run once, by hand, when the format version that the sample belongs to
/// is released: `cargo test --release -p tarsmon-engine --test chunk_compat -- --ignored`.
#[test]
#[ignore = "writes tests/data/stat_chunk_v1.bin; the committed file must not change"]
fn write_version_1_sample() {
    std::fs::write(sample_path(), encode_chunk(&expected()).unwrap()).unwrap();
}

fn v2_sample_path(part: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/stat_chunk_v2.{part}.bin"))
}

/// The segment column of the version-2 sample: `master_name` (index 2) splits the rows in two.
const V2_SEGMENT_BY: usize = 2;

#[test]
fn version_2_slot_still_decodes() {
    let index =
        std::fs::read(v2_sample_path("index")).expect("tests/data/stat_chunk_v2.index.bin is committed");
    assert_eq!(&index[..5], b"TMCK\x02", "the sample is a version-2 index");
    let segments: Vec<Vec<u8>> =
        (0..).map_while(|n| std::fs::read(v2_sample_path(&format!("segment{n}"))).ok()).collect();
    assert_eq!(segments.len(), 1, "three rows are fewer than a segment's minimum: one segment");
    let parts: Vec<&[u8]> = segments.iter().map(Vec::as_slice).collect();
    let batch = decode_slot(&index, &parts, ChunkFilter::default()).unwrap();
    assert_eq!(batch.schema(), expected().schema());
    assert_eq!(batch, expected());
    let cond = [TextEquals { column: V2_SEGMENT_BY, value: "TestApp.HelloServer".to_owned() }];
    let one =
        decode_slot(&index, &parts, ChunkFilter { projection: None, text_equals: &cond, text_any: &[] })
            .unwrap();
    assert_eq!(one, expected().slice(2, 1));
    assert!(matches!(
        decode_slot(&index, &[], ChunkFilter::default()),
        Err(ChunkError::MissingSegment { segment: 0 })
    ));
}

/// Writes the version-2 sample (see [`write_version_1_sample`]).
#[test]
#[ignore = "writes tests/data/stat_chunk_v2.*.bin; the committed files must not change"]
fn write_version_2_sample() {
    let slot = encode_slot(&expected(), Some(V2_SEGMENT_BY)).unwrap();
    std::fs::write(v2_sample_path("index"), &slot.index).unwrap();
    for (n, segment) in slot.segments.iter().enumerate() {
        std::fs::write(v2_sample_path(&format!("segment{n}")), segment).unwrap();
    }
}

fn v3_sample_path(part: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/stat_chunk_v3.{part}.bin"))
}

/// The slots of the version-3 sample: the first two rows in one minute, the third in the next.
const V3_SLOTS: [i64; 2] = [1_700_000_040_000, 1_700_000_100_000];
const V3_ROW_SLOTS: [u32; 3] = [0, 0, 1];

#[test]
fn version_3_compacted_chunk_still_decodes() {
    let index =
        std::fs::read(v3_sample_path("index")).expect("tests/data/stat_chunk_v3.index.bin is committed");
    assert_eq!(&index[..5], b"TMCK\x03", "the sample is a version-3 index");
    let segments: Vec<Vec<u8>> =
        (0..).map_while(|n| std::fs::read(v3_sample_path(&format!("segment{n}"))).ok()).collect();
    assert_eq!(segments.len(), 1);
    let parts: Vec<&[u8]> = segments.iter().map(Vec::as_slice).collect();
    let batch = decode_slot(&index, &parts, ChunkFilter::default()).unwrap();
    assert_eq!(batch, expected());
    let cond = [TextEquals { column: V2_SEGMENT_BY, value: "TestApp.HelloServer".to_owned() }];
    let one =
        decode_slot(&index, &parts, ChunkFilter { projection: None, text_equals: &cond, text_any: &[] })
            .unwrap();
    assert_eq!(one, expected().slice(2, 1));
}

/// Writes the version-3 sample (see [`write_version_1_sample`]).
#[test]
#[ignore = "writes tests/data/stat_chunk_v3.*.bin; the committed files must not change"]
fn write_version_3_sample() {
    let slot = encode_slots(&expected(), &V3_SLOTS, &V3_ROW_SLOTS, Some(V2_SEGMENT_BY)).unwrap();
    std::fs::write(v3_sample_path("index"), &slot.index).unwrap();
    for (n, segment) in slot.segments.iter().enumerate() {
        std::fs::write(v3_sample_path(&format!("segment{n}")), segment).unwrap();
    }
}
