//! Chunks written by earlier versions must stay readable.
//!
//! `data/stat_chunk_v1.bin` was written by chunk format version 1 (the first release of the
//! store) and is committed. A later format version may write differently, but its reader must
//! keep decoding this file to exactly the rows below: stores in the field hold such chunks
//! until retention drops them. Never regenerate the file to make this test pass; when a new
//! format version arrives, add a `stat_chunk_v2.bin` (with the ignored writer test adapted)
//! next to this one.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, Int64Array, StringArray, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use tarsmon_engine::{ChunkError, decode_chunk, encode_chunk};

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
