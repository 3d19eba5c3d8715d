//! The `notify` table's Arrow schema, and conversion between records and `RecordBatch`es.
//!
//! Columns, in `t_server_notifys` order (spec §4.4) after `time`: `time` (`notifytime`,
//! UTC; named `time` like every table's time column, so time filters prune the same way),
//! `application`, `server_name`, `container_name`, `node_name`, `set_name`, `set_area`,
//! `set_group` (null when the reported set was malformed), `server_id`, `thread_id`,
//! `command`, `result`, then `kind` (`report`/`notify`) and `level` (`normal`/`warn`/`error`).

use std::sync::{Arc, LazyLock};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringBuilder, TimestampMillisecondBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit, TimestampMillisecondType};
use arrow::error::ArrowError;

use super::{NotifyCommand, NotifyKind, NotifyLevel, NotifyRecord};
use crate::time::TimestampMs;

/// The string columns after `time`, in schema order, and whether each may be null.
const COLUMNS: [(&str, bool); 13] = [
    ("application", false),
    ("server_name", false),
    ("container_name", false),
    ("node_name", false),
    ("set_name", true),
    ("set_area", true),
    ("set_group", true),
    ("server_id", false),
    ("thread_id", false),
    ("command", false),
    ("result", false),
    ("kind", false),
    ("level", false),
];

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields =
        vec![Field::new("time", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), false)];
    fields.extend(COLUMNS.iter().map(|(n, nullable)| Field::new(*n, DataType::Utf8, *nullable)));
    Arc::new(Schema::new(fields))
});

/// The schema of the `notify` table (see the module docs for the columns).
pub fn notify_schema() -> SchemaRef {
    SCHEMA.clone()
}

/// Builds `notify` batches record by record.
#[derive(Debug)]
pub struct NotifyBatchBuilder {
    time: TimestampMillisecondBuilder,
    strings: [StringBuilder; COLUMNS.len()],
}

impl NotifyBatchBuilder {
    /// A builder with room for `rows` records.
    pub fn with_capacity(rows: usize) -> Self {
        Self {
            time: TimestampMillisecondBuilder::with_capacity(rows).with_timezone("UTC"),
            strings: std::array::from_fn(|_| StringBuilder::with_capacity(rows, rows * 16)),
        }
    }

    /// Appends one record.
    pub fn append(&mut self, r: &NotifyRecord) {
        self.time.append_value(r.notifytime.0);
        let s = [
            Some(r.application.as_str()),
            Some(r.server_name.as_str()),
            Some(r.container_name.as_str()),
            Some(r.node_name.as_str()),
            r.set_name.as_deref(),
            r.set_area.as_deref(),
            r.set_group.as_deref(),
            Some(r.server_id.as_str()),
            Some(r.thread_id.as_str()),
            Some(r.command.as_str()),
            Some(r.result.as_str()),
            Some(r.kind.as_str()),
            Some(r.level.as_str()),
        ];
        for (b, s) in self.strings.iter_mut().zip(s) {
            b.append_option(s);
        }
    }

    /// Finishes the batch.
    pub fn finish(mut self) -> RecordBatch {
        let mut cols: Vec<ArrayRef> = vec![Arc::new(self.time.finish())];
        cols.extend(self.strings.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        // The columns match the schema by construction.
        RecordBatch::try_new(notify_schema(), cols).unwrap_or_else(|e| unreachable!("notify batch: {e}"))
    }
}

/// Reads the records of a `notify` batch.
pub fn read_notify_batch(batch: &RecordBatch) -> Result<Vec<NotifyRecord>, ArrowError> {
    let col = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| ArrowError::SchemaError(format!("notify batch lacks column {name}")))
    };
    let time = col("time")?
        .as_primitive_opt::<TimestampMillisecondType>()
        .ok_or_else(|| ArrowError::SchemaError("column time is not Timestamp(ms)".into()))?;
    let s = COLUMNS
        .iter()
        .map(|&(name, _)| {
            col(name)?
                .as_string_opt::<i32>()
                .ok_or_else(|| ArrowError::SchemaError(format!("column {name} is not Utf8")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bad =
        |what: &str, v: &str| ArrowError::InvalidArgumentError(format!("bad {what} {v:?} in a notify batch"));
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        if time.is_null(i) {
            return Err(ArrowError::InvalidArgumentError("null time in a notify batch".into()));
        }
        let text = |c: usize| s[c].value(i).to_owned();
        let opt = |c: usize| (!s[c].is_null(i)).then(|| s[c].value(i).to_owned());
        let (command, kind, level) = (s[9].value(i), s[11].value(i), s[12].value(i));
        out.push(NotifyRecord {
            notifytime: TimestampMs(time.value(i)),
            application: text(0),
            server_name: text(1),
            container_name: text(2),
            node_name: text(3),
            set_name: opt(4),
            set_area: opt(5),
            set_group: opt(6),
            server_id: text(7),
            thread_id: text(8),
            command: NotifyCommand::parse(command).ok_or_else(|| bad("command", command))?,
            result: text(10),
            kind: NotifyKind::parse(kind).ok_or_else(|| bad("kind", kind))?,
            level: NotifyLevel::parse(level).ok_or_else(|| bad("level", level))?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::notify::NotifyReport;

    fn record(i: i64, set: &str) -> NotifyRecord {
        let report = NotifyReport {
            kind: if i % 2 == 0 { NotifyKind::Report } else { NotifyKind::Notify },
            app: "Test",
            set,
            container: "",
            server: "HelloServer",
            message: "restart [warn] ünïcode",
            thread_id: "42",
            level: NotifyLevel::from_wire((i % 3) as i32),
            node_name: if i % 2 == 0 { "" } else { "node-1" },
        };
        NotifyRecord::from_report(&report, "10.0.0.5", TimestampMs(1_700_000_000_000 + i))
    }

    #[test]
    fn records_round_trip_through_a_batch() {
        let records = vec![record(0, ""), record(1, "mtt.sz.1"), record(2, "bad"), record(3, "*.a.b")];
        let mut b = NotifyBatchBuilder::with_capacity(records.len());
        for r in &records {
            b.append(r);
        }
        let batch = b.finish();
        assert_eq!(batch.schema(), notify_schema());
        assert_eq!(batch.num_rows(), 4);
        // A malformed set is stored as nulls, an empty one as empty strings.
        let set_name = batch.column_by_name("set_name").unwrap();
        assert_eq!((set_name.is_null(0), set_name.is_null(1), set_name.is_null(2)), (false, false, true));
        assert_eq!(read_notify_batch(&batch).unwrap(), records);
    }

    #[test]
    fn reading_rejects_unknown_enum_values_and_missing_columns() {
        let mut b = NotifyBatchBuilder::with_capacity(1);
        b.append(&record(0, ""));
        let batch = b.finish();
        let mut cols = batch.columns().to_vec();
        cols[10] = Arc::new(arrow::array::StringArray::from(vec!["[fatal]"]));
        let bad = RecordBatch::try_new(notify_schema(), cols).unwrap();
        assert!(read_notify_batch(&bad).is_err());
        let projected = batch.project(&[0, 1, 2]).unwrap();
        assert!(read_notify_batch(&projected).is_err());
    }
}
