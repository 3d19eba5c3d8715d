//! The `notify` table's export: the records of sealed base slots become rows of
//! `db_tars.t_server_notifys`, as tarsnotify inserts them (spec §4.3, §4.4).
//!
//! Records are not aggregated: one row per notification, in receive order. `notifytime` is
//! the receive time in the labels' time zone (tarsnotify wrote the MySQL server's `now()`,
//! which is local time on a server in the same zone). A group of slots is written in one
//! transaction together with its markers ([`crate::marker`]), so a retry never duplicates a
//! row even though the table's `AUTO_INCREMENT` key would accept it twice.

use arrow::record_batch::RecordBatch;
use chrono::DateTime;
use mysql_async::prelude::Queryable;
use mysql_async::{Params, TxOpts, Value};
use tarsmon_ingest::notify::{NotifyRecord, read_notify_batch};
use tarsmon_ingest::time::{TimestampMs, UtcOffset};
use tarsmon_ingest::{NotifyTable, TableKind};

use crate::ddl::SERVER_NOTIFYS_TABLE;
use crate::error::{Error, Result};
use crate::marker::Markers;
use crate::rows::fit;
use crate::server::Server;

/// Column widths (characters) of `t_server_notifys`, from the DDL.
const NAME_WIDTH: usize = 128;
const SET_WIDTH: usize = 16;
const SERVER_ID_WIDTH: usize = 100;
const THREAD_ID_WIDTH: usize = 20;
const COMMAND_WIDTH: usize = 50;
/// `result` is a `TEXT`: at most 65535 bytes.
const RESULT_BYTES: usize = 65_535;

/// The records of one sealed base slot.
#[derive(Debug, Clone)]
pub(crate) struct NotifySlot {
    /// The slot's start.
    pub(crate) slot: TimestampMs,
    /// Its records, in receive order.
    pub(crate) records: Vec<NotifyRecord>,
}

/// Decodes the chunks of one slot.
pub(crate) fn decode_slot(slot: TimestampMs, batches: &[RecordBatch]) -> Result<NotifySlot> {
    let mut records = Vec::new();
    for batch in batches {
        let decoded = read_notify_batch(batch).map_err(|source| Error::Batch {
            table: NotifyTable::NAME,
            interval: slot,
            source,
        })?;
        records.extend(decoded);
    }
    // Each chunk is in receive order; a slot rarely has more than one.
    records.sort_by_key(|r| r.notifytime);
    Ok(NotifySlot { slot, records })
}

/// What one [`write_notify_slots`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct NotifyWritten {
    /// Slots written now.
    pub(crate) slots: u64,
    /// Rows written now.
    pub(crate) rows: u64,
    /// Slots found already written (marked) and skipped.
    pub(crate) skipped: u64,
}

/// The columns of tarsnotify's insert (spec §4.3), `id` left to `AUTO_INCREMENT`.
const COLUMNS: &str = "application,server_name,container_name,node_name,set_name,set_area,set_group,server_id,\
thread_id,command,result,notifytime";
/// How many values one row binds.
const VALUES_PER_ROW: usize = 12;

/// Writes `slots` into `db`.`t_server_notifys` in one transaction: the markers of the slots
/// not yet marked, then their rows in batched multi-row `INSERT IGNORE`s (values are cut to
/// the columns beforehand, so `IGNORE` only keeps an unforeseen bad value from blocking the
/// export forever). Slots already marked are skipped.
pub(crate) async fn write_notify_slots(
    server: &Server,
    db: &str,
    markers: &Markers,
    slots: &[NotifySlot],
    offset: UtcOffset,
    batch_size: usize,
) -> Result<NotifyWritten> {
    let rows: usize = slots.iter().map(|s| s.records.len()).sum();
    let what = format!("INSERT IGNORE INTO {db}.{SERVER_NOTIFYS_TABLE} ({} slots, {rows} rows)", slots.len());
    server
        .with_conn(&what, |mut conn| async move {
            let starts: Vec<TimestampMs> = slots.iter().map(|s| s.slot).collect();
            let done = markers.written(&mut conn, &starts).await?;
            let todo: Vec<&NotifySlot> = slots.iter().filter(|s| !done.contains(&s.slot.0)).collect();
            let mut written = NotifyWritten { skipped: done.len() as u64, ..NotifyWritten::default() };
            if todo.is_empty() {
                return Ok(written);
            }
            let marks: Vec<(TimestampMs, String)> =
                todo.iter().map(|s| (s.slot, local_datetime(s.slot, offset))).collect();
            let mut tx = conn.start_transaction(TxOpts::default()).await?;
            markers.mark(&mut tx, &marks).await?;
            let records: Vec<&NotifyRecord> = todo.iter().flat_map(|s| &s.records).collect();
            for chunk in records.chunks(batch_size) {
                let mut values = Vec::with_capacity(chunk.len() * VALUES_PER_ROW);
                for r in chunk {
                    push_row(&mut values, r, offset);
                }
                tx.exec_drop(insert_sql(db, chunk.len()), Params::Positional(values)).await?;
            }
            tx.commit().await?;
            written.slots = todo.len() as u64;
            written.rows = records.len() as u64;
            Ok(written)
        })
        .await
}

/// `t` as a MySQL `DATETIME` in local time at `offset`, to the second (truncated, so a row is
/// never shown later than it arrived).
pub(crate) fn local_datetime(t: TimestampMs, offset: UtcOffset) -> String {
    let local = t.0.saturating_add(i64::from(offset.seconds()) * 1000);
    DateTime::from_timestamp_millis(local)
        .unwrap_or_default()
        .naive_utc()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// `INSERT IGNORE INTO db.t_server_notifys (…) VALUES (?,…),…` for `rows` rows.
fn insert_sql(db: &str, rows: usize) -> String {
    let one = format!("({})", ["?"; VALUES_PER_ROW].join(","));
    format!(
        "INSERT IGNORE INTO `{db}`.`{SERVER_NOTIFYS_TABLE}` ({COLUMNS}) VALUES {}",
        vec![one; rows].join(",")
    )
}

/// `s` cut to at most `max` bytes of MySQL's 3-byte `utf8`, at a character boundary
/// (characters outside the BMP become `?`, see [`fit`]).
fn fit_bytes(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    for c in fit(s, usize::MAX).chars() {
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}

fn push_row(values: &mut Vec<Value>, r: &NotifyRecord, offset: UtcOffset) {
    let text = |s: &str, width: usize| Value::Bytes(fit(s, width).into_bytes());
    // A malformed set is stored as NULLs, as tarsnotify omits the columns (spec §4.3).
    let set = |s: &Option<String>| s.as_deref().map_or(Value::NULL, |s| text(s, SET_WIDTH));
    values.extend([
        text(&r.application, NAME_WIDTH),
        text(&r.server_name, NAME_WIDTH),
        text(&r.container_name, NAME_WIDTH),
        text(&r.node_name, NAME_WIDTH),
        set(&r.set_name),
        set(&r.set_area),
        set(&r.set_group),
        text(&r.server_id, SERVER_ID_WIDTH),
        text(&r.thread_id, THREAD_ID_WIDTH),
        text(r.command.as_str(), COMMAND_WIDTH),
        Value::Bytes(fit_bytes(&r.result, RESULT_BYTES).into_bytes()),
        Value::Bytes(local_datetime(r.notifytime, offset).into_bytes()),
    ]);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn times_are_local_datetimes_truncated_to_the_second() {
        // 2024-01-15 01:02:03.999 UTC.
        let t = TimestampMs(1_705_280_523_999);
        assert_eq!(local_datetime(t, UtcOffset::UTC), "2024-01-15 01:02:03");
        assert_eq!(local_datetime(t, "+08:00".parse().unwrap()), "2024-01-15 09:02:03");
        assert_eq!(local_datetime(t, "-05:30".parse().unwrap()), "2024-01-14 19:32:03");
    }

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        let s = "é".repeat(40_000);
        let cut = fit_bytes(&s, RESULT_BYTES);
        assert!(cut.len() <= RESULT_BYTES && cut.len() >= RESULT_BYTES - 1);
        assert_eq!(fit_bytes("a😀b", 10), "a?b");
        assert_eq!(insert_sql("db_tars", 2).matches('?').count(), 2 * VALUES_PER_ROW);
        assert_eq!(COLUMNS.split(',').count(), VALUES_PER_ROW);
    }
}
