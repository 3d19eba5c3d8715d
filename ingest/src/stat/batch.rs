//! The `stat` table's Arrow schema, and conversion between rows and `RecordBatch`es.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    Array, ArrayRef, AsArray, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow::datatypes::{
    DataType, Field, Int32Type, Int64Type, Schema, SchemaRef, TimeUnit, TimestampMillisecondType,
};
use arrow::error::ArrowError;

use super::{LATENCY_BOUNDS, Source, StatKey, StatKeyRef, StatValue};
use crate::time::TimestampMs;

/// Names of the nine latency-bucket columns, `interv_5` … `interv_3000`.
pub const INTERVAL_COLUMNS: [&str; 9] = [
    "interv_5",
    "interv_10",
    "interv_50",
    "interv_100",
    "interv_200",
    "interv_500",
    "interv_1000",
    "interv_2000",
    "interv_3000",
];

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let utf8 = |n: &str| Field::new(n, DataType::Utf8, false);
    let i32f = |n: &str| Field::new(n, DataType::Int32, false);
    let i64f = |n: &str| Field::new(n, DataType::Int64, false);
    let mut fields = vec![
        Field::new("time", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), false),
        utf8("source"),
        utf8("master_name"),
        utf8("slave_name"),
        utf8("interface_name"),
        utf8("master_ip"),
        utf8("slave_ip"),
        i32f("slave_port"),
        i32f("return_value"),
        utf8("tars_version"),
        utf8("slave_set_name"),
        utf8("slave_set_area"),
        utf8("slave_set_id"),
        i64f("succ_count"),
        i64f("timeout_count"),
        i64f("exce_count"),
        i64f("total_time"),
        i64f("max_rsp_time"),
        i64f("min_rsp_time"),
    ];
    fields.extend(INTERVAL_COLUMNS.iter().map(|n| i64f(n)));
    Arc::new(Schema::new(fields))
});

/// The schema of the `stat` table: `time` (slot start, UTC), the key columns, the figures, and
/// one column per latency bucket (`LATENCY_BOUNDS`).
pub fn stat_schema() -> SchemaRef {
    SCHEMA.clone()
}

/// Builds `stat` batches row by row.
#[derive(Debug)]
pub struct StatBatchBuilder {
    time: TimestampMillisecondBuilder,
    strings: [StringBuilder; 10],
    ints: [Int32Builder; 2],
    figures: [Int64Builder; 6 + LATENCY_BOUNDS.len()],
}

impl StatBatchBuilder {
    /// A builder with room for `rows` rows.
    pub fn with_capacity(rows: usize) -> Self {
        Self {
            time: TimestampMillisecondBuilder::with_capacity(rows).with_timezone("UTC"),
            strings: std::array::from_fn(|_| StringBuilder::with_capacity(rows, rows * 16)),
            ints: std::array::from_fn(|_| Int32Builder::with_capacity(rows)),
            figures: std::array::from_fn(|_| Int64Builder::with_capacity(rows)),
        }
    }

    /// Appends one row.
    pub fn append(&mut self, slot: TimestampMs, k: &StatKey, v: &StatValue) {
        self.append_ref(slot, &k.as_ref(), v);
    }

    /// Appends one row, from a borrowed key.
    pub fn append_ref(&mut self, slot: TimestampMs, k: &StatKeyRef<'_>, v: &StatValue) {
        self.time.append_value(slot.0);
        let s = [
            k.source.as_str(),
            k.master_name,
            k.slave_name,
            k.interface_name,
            k.master_ip,
            k.slave_ip,
            k.tars_version,
            k.slave_set_name,
            k.slave_set_area,
            k.slave_set_id,
        ];
        for (b, s) in self.strings.iter_mut().zip(s) {
            b.append_value(s);
        }
        self.ints[0].append_value(k.slave_port);
        self.ints[1].append_value(k.return_value);
        let f = [v.succ_count, v.timeout_count, v.exce_count, v.total_time, v.max_rsp_time, v.min_rsp_time];
        for (b, x) in self.figures.iter_mut().zip(f.into_iter().chain(v.intervals)) {
            b.append_value(x);
        }
    }

    /// Finishes the batch.
    pub fn finish(mut self) -> RecordBatch {
        let s: Vec<ArrayRef> = self.strings.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
        let mut cols: Vec<ArrayRef> = vec![Arc::new(self.time.finish())];
        // Column order of the schema: source, 5 names/ips, port, return value, version, 3 set fields.
        cols.extend(s[..6].iter().cloned());
        cols.push(Arc::new(self.ints[0].finish()));
        cols.push(Arc::new(self.ints[1].finish()));
        cols.extend(s[6..].iter().cloned());
        cols.extend(self.figures.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        // The columns match the schema by construction.
        RecordBatch::try_new(stat_schema(), cols).unwrap_or_else(|e| unreachable!("stat batch: {e}"))
    }
}

/// Reads the rows of a `stat` batch (a checkpoint, or a test's query result).
pub fn read_stat_batch(batch: &RecordBatch) -> Result<Vec<(TimestampMs, StatKey, StatValue)>, ArrowError> {
    let col = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| ArrowError::SchemaError(format!("stat batch lacks column {name}")))
    };
    let utf8 = |name: &str| -> Result<_, ArrowError> {
        col(name)?
            .as_string_opt::<i32>()
            .ok_or_else(|| ArrowError::SchemaError(format!("column {name} is not Utf8")))
    };
    let i64c = |name: &str| -> Result<_, ArrowError> {
        col(name)?
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| ArrowError::SchemaError(format!("column {name} is not Int64")))
    };
    let i32c = |name: &str| -> Result<_, ArrowError> {
        col(name)?
            .as_primitive_opt::<Int32Type>()
            .ok_or_else(|| ArrowError::SchemaError(format!("column {name} is not Int32")))
    };
    let time = col("time")?
        .as_primitive_opt::<TimestampMillisecondType>()
        .ok_or_else(|| ArrowError::SchemaError("column time is not Timestamp(ms)".into()))?;
    let (source, mn, sn, iname, mip, sip) = (
        utf8("source")?,
        utf8("master_name")?,
        utf8("slave_name")?,
        utf8("interface_name")?,
        utf8("master_ip")?,
        utf8("slave_ip")?,
    );
    let (ver, ssn, ssa, ssi) =
        (utf8("tars_version")?, utf8("slave_set_name")?, utf8("slave_set_area")?, utf8("slave_set_id")?);
    let (port, ret) = (i32c("slave_port")?, i32c("return_value")?);
    let figures = ["succ_count", "timeout_count", "exce_count", "total_time", "max_rsp_time", "min_rsp_time"]
        .into_iter()
        .map(i64c)
        .collect::<Result<Vec<_>, _>>()?;
    let intervals = INTERVAL_COLUMNS.into_iter().map(i64c).collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        if time.is_null(i) {
            return Err(ArrowError::InvalidArgumentError("null time in a stat batch".into()));
        }
        let source = Source::parse(source.value(i))
            .ok_or_else(|| ArrowError::InvalidArgumentError(format!("bad source {:?}", source.value(i))))?;
        let key = StatKey {
            source,
            master_name: mn.value(i).to_owned(),
            slave_name: sn.value(i).to_owned(),
            interface_name: iname.value(i).to_owned(),
            master_ip: mip.value(i).to_owned(),
            slave_ip: sip.value(i).to_owned(),
            slave_port: port.value(i),
            return_value: ret.value(i),
            tars_version: ver.value(i).to_owned(),
            slave_set_name: ssn.value(i).to_owned(),
            slave_set_area: ssa.value(i).to_owned(),
            slave_set_id: ssi.value(i).to_owned(),
        };
        let value = StatValue {
            succ_count: figures[0].value(i),
            timeout_count: figures[1].value(i),
            exce_count: figures[2].value(i),
            total_time: figures[3].value(i),
            max_rsp_time: figures[4].value(i),
            min_rsp_time: figures[5].value(i),
            intervals: std::array::from_fn(|j| intervals[j].value(i)),
        };
        out.push((TimestampMs(time.value(i)), key, value));
    }
    Ok(out)
}
