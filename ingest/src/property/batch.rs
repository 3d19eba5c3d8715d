//! The `property` table's Arrow schema, and conversion between rows and `RecordBatch`es.
//!
//! Columns: `time` (slot start, UTC), the key (`module_name`, `ip`, `property_name`,
//! `set_name`, `set_area`, `set_id`, `policy`), the policy's natural `value`, and what exact
//! re-aggregation across slots, IPs or nodes needs:
//!
//! | policy | `value` | `sum` | `count` | `distr` |
//! |---|---|---|---|---|
//! | `Sum` | sum | sum | null | null |
//! | `Count` | count | null | count | null |
//! | `Max` / `Min` | extreme | null | null | null |
//! | `Avg` | `sum / count` | sum of samples | samples | null |
//! | `Distr` | total count | null | total count | `label|count,…` by label |
//! | other | sum | sum | reports | null |
//!
//! So `sum(sum) / sum(count)` re-averages `Avg` rows by samples, `max(value)` / `min(value)`
//! re-reduce extremes, and `distr` is the TarsCpp wire form ([`super::parse_distr`] reads it),
//! sorted by label: plain `Utf8`, which DataFusion's string functions handle and which the
//! store dictionary-encodes like every string column.

use std::fmt::Write as _;
use std::sync::{Arc, LazyLock};

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow::datatypes::{
    DataType, Field, Float64Type, Int64Type, Schema, SchemaRef, TimeUnit, TimestampMillisecondType,
};
use arrow::error::ArrowError;

use super::{Distr, Policy, PropertyKey, PropertyValue, parse_distr};
use crate::time::TimestampMs;

/// The key's string columns, in schema order.
const KEY_COLUMNS: [&str; 7] =
    ["module_name", "ip", "property_name", "set_name", "set_area", "set_id", "policy"];

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields =
        vec![Field::new("time", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), false)];
    fields.extend(KEY_COLUMNS.iter().map(|n| Field::new(*n, DataType::Utf8, false)));
    fields.extend([
        Field::new("value", DataType::Float64, false),
        Field::new("sum", DataType::Float64, true),
        Field::new("count", DataType::Int64, true),
        Field::new("distr", DataType::Utf8, true),
    ]);
    Arc::new(Schema::new(fields))
});

/// The schema of the `property` table (see the module docs for the columns).
pub fn property_schema() -> SchemaRef {
    SCHEMA.clone()
}

/// Builds `property` batches row by row.
#[derive(Debug)]
pub struct PropertyBatchBuilder {
    time: TimestampMillisecondBuilder,
    keys: [StringBuilder; KEY_COLUMNS.len()],
    value: Float64Builder,
    sum: Float64Builder,
    count: Int64Builder,
    distr: StringBuilder,
    /// Reused to format `distr` without allocating per row.
    scratch: String,
}

impl PropertyBatchBuilder {
    /// A builder with room for `rows` rows.
    pub fn with_capacity(rows: usize) -> Self {
        Self {
            time: TimestampMillisecondBuilder::with_capacity(rows).with_timezone("UTC"),
            keys: std::array::from_fn(|_| StringBuilder::with_capacity(rows, rows * 16)),
            value: Float64Builder::with_capacity(rows),
            sum: Float64Builder::with_capacity(rows),
            count: Int64Builder::with_capacity(rows),
            distr: StringBuilder::new(),
            scratch: String::new(),
        }
    }

    /// Appends one row.
    pub fn append(&mut self, slot: TimestampMs, k: &PropertyKey, v: &PropertyValue) {
        self.time.append_value(slot.0);
        let s = [
            k.module_name.as_str(),
            &k.ip,
            &k.property_name,
            &k.set_name,
            &k.set_area,
            &k.set_id,
            k.policy.as_str(),
        ];
        for (b, s) in self.keys.iter_mut().zip(s) {
            b.append_value(s);
        }
        self.value.append_value(v.value());
        self.sum.append_option(v.sum());
        self.count.append_option(v.count());
        match v {
            PropertyValue::Distr(d) => {
                self.scratch.clear();
                // Writing into a String cannot fail.
                let _ = write!(self.scratch, "{d}");
                self.distr.append_value(&self.scratch);
            }
            _ => self.distr.append_null(),
        }
    }

    /// Finishes the batch.
    pub fn finish(mut self) -> RecordBatch {
        let mut cols: Vec<ArrayRef> = vec![Arc::new(self.time.finish())];
        cols.extend(self.keys.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        cols.push(Arc::new(self.value.finish()));
        cols.push(Arc::new(self.sum.finish()));
        cols.push(Arc::new(self.count.finish()));
        cols.push(Arc::new(self.distr.finish()));
        // The columns match the schema by construction.
        RecordBatch::try_new(property_schema(), cols).unwrap_or_else(|e| unreachable!("property batch: {e}"))
    }
}

/// Reads the rows of a `property` batch (a checkpoint, or a test's query result). The value
/// is rebuilt from the columns its policy uses (the module docs' table); a null where one is
/// needed, or a `distr` that does not parse, is an error.
pub fn read_property_batch(
    batch: &RecordBatch,
) -> Result<Vec<(TimestampMs, PropertyKey, PropertyValue)>, ArrowError> {
    let col = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| ArrowError::SchemaError(format!("property batch lacks column {name}")))
    };
    let utf8 = |name: &str| -> Result<_, ArrowError> {
        col(name)?
            .as_string_opt::<i32>()
            .ok_or_else(|| ArrowError::SchemaError(format!("column {name} is not Utf8")))
    };
    let f64c = |name: &str| -> Result<_, ArrowError> {
        col(name)?
            .as_primitive_opt::<Float64Type>()
            .ok_or_else(|| ArrowError::SchemaError(format!("column {name} is not Float64")))
    };
    let time = col("time")?
        .as_primitive_opt::<TimestampMillisecondType>()
        .ok_or_else(|| ArrowError::SchemaError("column time is not Timestamp(ms)".into()))?;
    let keys = KEY_COLUMNS.into_iter().map(utf8).collect::<Result<Vec<_>, _>>()?;
    let (value, sums) = (f64c("value")?, f64c("sum")?);
    let counts = col("count")?
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| ArrowError::SchemaError("column count is not Int64".into()))?;
    let distr = utf8("distr")?;
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        if time.is_null(i) || value.is_null(i) {
            return Err(ArrowError::InvalidArgumentError("null time or value in a property batch".into()));
        }
        let policy = Policy::parse(keys[6].value(i));
        let needed = |column: &str| {
            ArrowError::InvalidArgumentError(format!("null {column} in a {policy} row of a property batch"))
        };
        let sum = || if sums.is_null(i) { Err(needed("sum")) } else { Ok(sums.value(i)) };
        let count = || if counts.is_null(i) { Err(needed("count")) } else { Ok(counts.value(i)) };
        let value = match &policy {
            Policy::Sum => PropertyValue::Sum(sum()?),
            Policy::Count => PropertyValue::Count(count()?),
            Policy::Max => PropertyValue::Max(value.value(i)),
            Policy::Min => PropertyValue::Min(value.value(i)),
            Policy::Avg => PropertyValue::Avg { sum: sum()?, count: count()? },
            Policy::Distr => {
                if distr.is_null(i) {
                    return Err(needed("distr"));
                }
                let text = distr.value(i);
                // An empty histogram (never parsed from a report, but representable) prints as "".
                let d = if text.is_empty() {
                    Distr::default()
                } else {
                    parse_distr(text).map_err(|e| {
                        ArrowError::InvalidArgumentError(format!(
                            "bad distr {text:?} in a property batch: {e}"
                        ))
                    })?
                };
                PropertyValue::Distr(d)
            }
            Policy::Other(_) => PropertyValue::Other { sum: sum()?, reports: count()? },
        };
        let key = PropertyKey {
            module_name: keys[0].value(i).to_owned(),
            ip: keys[1].value(i).to_owned(),
            property_name: keys[2].value(i).to_owned(),
            set_name: keys[3].value(i).to_owned(),
            set_area: keys[4].value(i).to_owned(),
            set_id: keys[5].value(i).to_owned(),
            policy,
        };
        out.push((TimestampMs(time.value(i)), key, value));
    }
    Ok(out)
}
