//! The `property` table's export: rolling the base slots of one 5-minute interval up into the
//! rows of `tars_property_YYYYMMDDHH`, their `value` text, and writing one interval.
//!
//! One row per `(module_name, ip, property_name, set_name, set_area, set_id, policy)` and
//! interval, as tarsproperty writes one row per head and policy (spec §3.3, §7). The base
//! slots' values are merged with [`PropertyValue::merge`], which is exact where tarsproperty
//! is not: an `Avg` is weighted by samples, not by reports, and `Distr` buckets are merged by
//! label, not by position.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt::Write as _;

use arrow::record_batch::RecordBatch;
use mysql_async::prelude::Queryable;
use mysql_async::{Params, TxOpts, Value};
use tarsmon_ingest::PropertyTable;
use tarsmon_ingest::TableKind;
use tarsmon_ingest::property::{Distr, DistrLabel, PropertyKey, PropertyValue, read_property_batch};
use tarsmon_ingest::time::{TarsLabel, TimestampMs};

use crate::error::{Error, Result};
use crate::marker::Markers;
use crate::rows::fit;
use crate::server::Server;
use crate::writer::update_ecstatus;

/// Column widths (characters) of the property table, from the DDL.
const NAME_WIDTH: usize = 128;
const IP_WIDTH: usize = 16;
const PROPERTY_WIDTH: usize = 100;
const SET_WIDTH: usize = 15;
const POLICY_WIDTH: usize = 20;
const VALUE_WIDTH: usize = 255;

/// The key columns of one row of a `tars_property_YYYYMMDDHH` table, cut to the columns'
/// widths (so rows that MySQL would store with the same key are merged here).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PropertyRowKey {
    pub(crate) master_name: String,
    pub(crate) master_ip: String,
    pub(crate) property_name: String,
    pub(crate) set_name: String,
    pub(crate) set_area: String,
    pub(crate) set_id: String,
    pub(crate) policy: String,
}

impl PropertyRowKey {
    fn of(k: &PropertyKey) -> Self {
        Self {
            master_name: fit(&k.module_name, NAME_WIDTH),
            master_ip: fit(&k.ip, IP_WIDTH),
            property_name: fit(&k.property_name, PROPERTY_WIDTH),
            set_name: fit(&k.set_name, SET_WIDTH),
            set_area: fit(&k.set_area, SET_WIDTH),
            set_id: fit(&k.set_id, SET_WIDTH),
            policy: fit(k.policy.as_str(), POLICY_WIDTH),
        }
    }
}

/// One 5-minute row of a property table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PropertyRow {
    pub(crate) key: PropertyRowKey,
    pub(crate) value: PropertyValue,
}

impl PropertyRow {
    /// The `value` column, as text (see [`value_text`]).
    pub(crate) fn value_text(&self) -> String {
        value_text(&self.value)
    }
}

/// Rolls the `property` batches of one interval (every base slot in `[interval, interval +
/// 5 min)`) up into its table rows, in first-seen order.
pub(crate) fn rollup(interval: TimestampMs, batches: &[RecordBatch]) -> Result<Vec<PropertyRow>> {
    let mut rows: Vec<PropertyRow> = Vec::new();
    let mut index: HashMap<PropertyRowKey, usize> = HashMap::new();
    for batch in batches {
        let decoded = read_property_batch(batch).map_err(|source| Error::Batch {
            table: PropertyTable::NAME,
            interval,
            source,
        })?;
        for (_, key, value) in decoded {
            match index.entry(PropertyRowKey::of(&key)) {
                Entry::Occupied(e) => rows[*e.get()].value.merge(&value),
                Entry::Vacant(e) => {
                    rows.push(PropertyRow { key: e.key().clone(), value });
                    e.insert(rows.len() - 1);
                }
            }
        }
    }
    Ok(rows)
}

/// The `value` column as tarsproperty writes it (spec §3.3): numbers as decimal text, whole
/// numbers without a decimal point (`15`); `Avg` as the average, weighted by samples
/// ([`PropertyValue::value`]); `Distr` as the merged histogram `label|count,…` in label order
/// ([`distr_text`]); a non-standard policy as the sum of its values.
pub(crate) fn value_text(v: &PropertyValue) -> String {
    match v {
        PropertyValue::Count(c) => c.to_string(),
        PropertyValue::Distr(d) => distr_text(d),
        PropertyValue::Sum(_)
        | PropertyValue::Max(_)
        | PropertyValue::Min(_)
        | PropertyValue::Avg { .. }
        | PropertyValue::Other { .. } => number_text(v.value()),
    }
}

/// `x` as short decimal text: the shortest digits that read back as `x`, `15` rather than
/// `15.0`, never `-0`; exponent notation (`1e-7`, `1.5e21`) only where plain digits would be
/// long. Values parsed from reports are finite; an overflowed sum is written as the largest
/// finite value.
fn number_text(x: f64) -> String {
    let x = if x.is_nan() { 0.0 } else { x.clamp(f64::MIN, f64::MAX) };
    if x == 0.0 {
        "0".to_owned()
    } else if (1e-6..1e21).contains(&x.abs()) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// A histogram as `label|count,…` (the TarsCpp form, [`Distr`]'s `Display`), within the
/// column's 255 characters. tarsproperty stores a longer string cut anywhere (`INSERT IGNORE`
/// truncates), which leaves a broken last bucket; here the highest bounds are folded into the
/// `max` bucket instead until it fits, which keeps every count and a well-formed histogram
/// (`max` means "above every bound listed").
pub(crate) fn distr_text(d: &Distr) -> String {
    let full = d.to_string();
    if full.len() <= VALUE_WIDTH {
        return full;
    }
    let buckets = d.buckets();
    // Counts of the buckets from `i` on, folded into `max`.
    let mut tail = vec![0i64; buckets.len() + 1];
    for i in (0..buckets.len()).rev() {
        tail[i] = tail[i + 1].saturating_add(buckets[i].1);
    }
    let mut kept = String::new();
    let mut best = format!("max|{}", tail[0]);
    for (i, (label, count)) in buckets.iter().enumerate() {
        if *label == DistrLabel::Max {
            break;
        }
        if i > 0 {
            kept.push(',');
        }
        // Writing into a String cannot fail.
        let _ = write!(kept, "{label}|{count}");
        let candidate = format!("{kept},max|{}", tail[i + 1]);
        if candidate.len() > VALUE_WIDTH {
            break;
        }
        best = candidate;
    }
    best
}

/// What to write: one interval's rows for one hourly property table.
#[derive(Debug)]
pub(crate) struct PropertyWrite<'a> {
    pub(crate) db: &'a str,
    pub(crate) table: &'a str,
    pub(crate) interval: TimestampMs,
    pub(crate) label: TarsLabel,
    pub(crate) source_id: &'a str,
    pub(crate) markers: &'a Markers,
    pub(crate) rows: &'a [PropertyRow],
    pub(crate) batch_size: usize,
}

/// The columns of tarsproperty's `INSERT IGNORE`, in its order (spec §7).
const COLUMNS: &str =
    "f_date,f_tflag,master_name,master_ip,property_name,set_name,set_area,set_id,policy,value";
/// How many values one row binds.
const VALUES_PER_ROW: usize = 10;

/// Writes one interval in one transaction: its marker, then its rows in batched multi-row
/// `INSERT IGNORE`s (tarsproperty's statement; the values are already cut to the columns, so
/// `IGNORE` has nothing to do but keep an unforeseen bad value from blocking the export
/// forever). Then moves the property database's `t_ecstatus.lasttime` forward, as
/// tarsproperty does.
///
/// Returns the rows written, or `None` when the interval is already marked as written (a
/// retry after its commit; see [`crate::marker`]): then nothing is written.
pub(crate) async fn write_property_interval(server: &Server, w: PropertyWrite<'_>) -> Result<Option<u64>> {
    let what = format!("INSERT IGNORE INTO {}.{} ({} rows)", w.db, w.table, w.rows.len());
    let f_date = w.label.date.format("%Y-%m-%d").to_string();
    let tflag = w.label.tflag_str().to_owned();
    let lasttime = format!("{} {tflag}", w.label.date_compact());
    let appname = format!("{}{}", crate::ddl::PROPERTY_TABLE_PREFIX, w.source_id);
    server
        .with_conn(&what, |mut conn| async move {
            if !w.markers.written(&mut conn, &[w.interval]).await?.is_empty() {
                return Ok(None);
            }
            let mut tx = conn.start_transaction(TxOpts::default()).await?;
            w.markers.mark(&mut tx, &[(w.interval, lasttime.clone())]).await?;
            for chunk in w.rows.chunks(w.batch_size) {
                let mut values = Vec::with_capacity(chunk.len() * VALUES_PER_ROW);
                for row in chunk {
                    push_row(&mut values, row, &f_date, &tflag);
                }
                tx.exec_drop(insert_sql(w.db, w.table, chunk.len()), Params::Positional(values)).await?;
            }
            tx.commit().await?;
            update_ecstatus(&mut conn, w.db, appname, lasttime).await?;
            Ok(Some(w.rows.len() as u64))
        })
        .await
}

/// `INSERT IGNORE INTO db.table (…) VALUES (?,…),…` for `rows` rows.
fn insert_sql(db: &str, table: &str, rows: usize) -> String {
    let one = format!("({})", ["?"; VALUES_PER_ROW].join(","));
    format!("INSERT IGNORE INTO `{db}`.`{table}` ({COLUMNS}) VALUES {}", vec![one; rows].join(","))
}

fn push_row(values: &mut Vec<Value>, row: &PropertyRow, f_date: &str, tflag: &str) {
    let k = &row.key;
    let text = |s: &str| Value::Bytes(s.as_bytes().to_vec());
    values.extend([
        text(f_date),
        text(tflag),
        text(&k.master_name),
        text(&k.master_ip),
        text(&k.property_name),
        text(&k.set_name),
        text(&k.set_area),
        text(&k.set_id),
        text(&k.policy),
        Value::Bytes(row.value_text().into_bytes()),
    ]);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tarsmon_ingest::property::{Policy, PropertyBatchBuilder, parse_distr};

    use super::*;

    fn key(name: &str, policy: Policy) -> PropertyKey {
        PropertyKey {
            module_name: "App.Server".into(),
            ip: "10.0.0.1".into(),
            property_name: name.into(),
            set_name: String::new(),
            set_area: String::new(),
            set_id: String::new(),
            policy,
        }
    }

    #[test]
    fn numbers_are_written_like_tarsproperty_writes_them() {
        assert_eq!(number_text(15.0), "15");
        assert_eq!(number_text(-0.0), "0");
        assert_eq!(number_text(12.5), "12.5");
        assert_eq!(number_text(-3.0), "-3");
        assert_eq!(number_text(1.0 / 3.0), "0.3333333333333333");
        assert_eq!(number_text(9_007_199_254_740_993.0), "9007199254740992");
        assert_eq!(number_text(1e-7), "1e-7");
        assert_eq!(number_text(f64::INFINITY), "1.7976931348623157e308");
        assert_eq!(value_text(&PropertyValue::Avg { sum: 10.0, count: 4 }), "2.5");
        assert_eq!(value_text(&PropertyValue::Avg { sum: 0.0, count: 0 }), "0");
        assert_eq!(value_text(&PropertyValue::Count(7)), "7");
        assert_eq!(value_text(&PropertyValue::Other { sum: 4.0, reports: 2 }), "4");
    }

    #[test]
    fn a_long_histogram_folds_its_highest_bounds_into_max() {
        let mut text = String::new();
        for b in 1..=64 {
            let _ = write!(text, "{}|{b},", b * 1000);
        }
        text.push_str("max|1000");
        let d = parse_distr(&text).unwrap();
        assert!(d.to_string().len() > VALUE_WIDTH);
        let fitted = distr_text(&d);
        assert!(fitted.len() <= VALUE_WIDTH, "{fitted}");
        let back = parse_distr(&fitted).unwrap();
        assert_eq!(back.total(), d.total());
        assert_eq!(back.buckets()[..5], d.buckets()[..5]);
        assert_eq!(back.buckets().last().map(|b| b.0), Some(DistrLabel::Max));
        assert!(fitted.starts_with("1000|1,2000|2,"), "{fitted}");
        // A short one is the Display form.
        let d = parse_distr("5|3,10|0,max|1").unwrap();
        assert_eq!(distr_text(&d), "5|3,10|0,max|1");
    }

    #[test]
    fn slots_merge_into_one_row_per_key_and_policy() {
        let t = TimestampMs(1_700_000_100_000);
        let mut a = PropertyBatchBuilder::with_capacity(2);
        a.append(t, &key("queue", Policy::Sum), &PropertyValue::Sum(3.0));
        a.append(t, &key("queue", Policy::Max), &PropertyValue::Max(9.0));
        let mut b = PropertyBatchBuilder::with_capacity(2);
        b.append(TimestampMs(t.0 + 60_000), &key("queue", Policy::Sum), &PropertyValue::Sum(4.0));
        b.append(TimestampMs(t.0 + 60_000), &key("queue", Policy::Max), &PropertyValue::Max(2.0));
        let rows = rollup(t, &[a.finish(), b.finish()]).unwrap();
        let got: Vec<(&str, String)> = rows.iter().map(|r| (r.key.policy.as_str(), r.value_text())).collect();
        assert_eq!(got, vec![("Sum", "7".to_owned()), ("Max", "9".to_owned())]);
    }

    #[test]
    fn insert_has_one_placeholder_per_value() {
        let sql = insert_sql("tars_property", "tars_property_2024011509", 3);
        assert_eq!(sql.matches('?').count(), 3 * VALUES_PER_ROW);
        assert_eq!(COLUMNS.split(',').count(), VALUES_PER_ROW);
    }
}
