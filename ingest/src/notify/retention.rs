//! The `notify` table's retention by count: keep the newest N notifications per `server_id`.
//!
//! tarsnotify means to do this (`retainHistory = 100`, spec §4.3) and never does (its query
//! never matches and its `DELETE` is a syntax error). Here sealed slots holding rows past the
//! newest N of their server are rewritten without them, each in one atomic write. The age
//! limit is the store's retention (whole hour partitions), as for every table.

use std::collections::HashMap;

use arrow::array::{AsArray, BooleanArray, RecordBatch};
use arrow::compute::{concat_batches, filter_record_batch};
use arrow::datatypes::TimestampMillisecondType;
use arrow::error::ArrowError;
use tarsmon_engine::Store;

use super::notify_schema;
use crate::NotifyTable;
use crate::error::Result;
use crate::table::TableKind;
use crate::time::TimestampMs;

/// What one retention pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionOutcome {
    /// Rows removed.
    pub removed_rows: u64,
    /// Slots rewritten.
    pub rewritten_slots: u64,
}

/// Keeps the newest `keep` rows of every `server_id` among the sealed slots before `before`
/// (pass the pipeline's first open slot) and removes the rest.
///
/// Reads the whole sealed `notify` table (notifications are few next to call statistics).
/// Must not run concurrently with sealing of the same table: call it from the task that
/// calls `Pipeline::persist`.
pub fn keep_newest_per_server(store: &Store, keep: usize, before: TimestampMs) -> Result<RetentionOutcome> {
    let chunks = store.scan_slots(NotifyTable::NAME, TimestampMs(i64::MIN), before)?;
    // Slots newest first, each slot's chunks merged.
    let mut slots: Vec<(TimestampMs, RecordBatch)> = Vec::new();
    for (slot, batch) in chunks.into_iter().rev() {
        match slots.last_mut() {
            Some((s, merged)) if *s == slot => {
                *merged = concat_batches(&notify_schema(), [&batch, merged])?;
            }
            _ => slots.push((slot, batch)),
        }
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut outcome = RetentionOutcome::default();
    for (slot, batch) in slots {
        let time = column_time(&batch)?;
        let server = batch
            .column_by_name("server_id")
            .and_then(|c| c.as_string_opt::<i32>())
            .ok_or_else(|| ArrowError::SchemaError("notify batch without a Utf8 server_id column".into()))?;
        let mut order: Vec<usize> = (0..batch.num_rows()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse((time[i], i)));
        let mut keep_row = vec![true; batch.num_rows()];
        for i in order {
            let n = seen.entry(server.value(i).to_owned()).or_default();
            *n += 1;
            if *n > keep {
                keep_row[i] = false;
            }
        }
        let removed = keep_row.iter().filter(|k| !**k).count();
        if removed == 0 {
            continue;
        }
        let kept = filter_record_batch(&batch, &BooleanArray::from(keep_row))?;
        store.rewrite_slot(NotifyTable::NAME, slot, (kept.num_rows() > 0).then_some(&kept))?;
        outcome.removed_rows += removed as u64;
        outcome.rewritten_slots += 1;
    }
    Ok(outcome)
}

fn column_time(batch: &RecordBatch) -> Result<Vec<i64>> {
    let t = batch
        .column_by_name("time")
        .and_then(|c| c.as_primitive_opt::<TimestampMillisecondType>())
        .ok_or_else(|| ArrowError::SchemaError("notify batch without a Timestamp(ms) time column".into()))?;
    Ok(t.values().to_vec())
}
