//! TarsWeb's `MonitorQuery` (querystat, monitoring spec §8.1) over the `stat` table.
//!
//! Differences from tarsquerystat, all deliberate:
//! - field, index and group names are checked against the table's columns (the original
//!   splices them into SQL); values are always literals;
//! - `tflag1..tflag2` selects exactly those 5-minute intervals (the original reads whole
//!   hourly tables);
//! - a day without data is an empty result, not an error;
//! - a call counts once: the callers' rows (`source = 'client'`) plus the callee rows of
//!   callers that cannot report themselves (`tup_client`, `one_way_client`,
//!   `not_tars_client`); TarsCpp ≥ 3.0.13's `stat_from_server` rows only when a condition asks
//!   for that `master_name`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use tarsmon_ingest::time::{TARS_INTERVAL_MS, TarsLabel, TimestampMs};

use crate::error::{Error, Result};
use crate::session::QueryEngine;

/// A comparison operator of a condition (`MonitorQuery.OP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `LIKE` (`%` and `_` wildcards)
    Like,
}

impl Op {
    /// From the IDL enum value (0..=5).
    pub fn from_i32(v: i32) -> Option<Self> {
        Some(match v {
            0 => Op::Eq,
            1 => Op::Gt,
            2 => Op::Gte,
            3 => Op::Lt,
            4 => Op::Lte,
            5 => Op::Like,
            _ => return None,
        })
    }

    fn sql(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Gt => ">",
            Op::Gte => ">=",
            Op::Lt => "<",
            Op::Lte => "<=",
            Op::Like => "LIKE",
        }
    }
}

/// One `field op 'value'` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// Column name (as in the MySQL table).
    pub field: String,
    /// Operator.
    pub op: Op,
    /// Value, always treated as a literal.
    pub val: String,
}

/// A MonitorQuery request, independent of the wire encoding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitorRequest {
    /// `YYYYMMDD`.
    pub date: String,
    /// First interval label, `HHMM` (`0000` = from midnight).
    pub tflag1: String,
    /// Last interval label, `HHMM` (`2360` = to midnight).
    pub tflag2: String,
    /// Filters.
    pub conditions: Vec<Condition>,
    /// Columns to sum, in the order of the result values.
    pub indexs: Vec<String>,
    /// Columns to group by, in the order of the result key.
    pub groupby: Vec<String>,
}

/// The answer: group key (values joined by `,`) → one value per index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MonitorResult {
    /// Rows by key.
    pub result: BTreeMap<String, Vec<f64>>,
    /// Label of the last complete, sealed 5-minute interval: `YYYYMMDD HHMM`.
    pub last_time: String,
}

/// Columns of `tars_stat` a condition or `groupby` may name, and their expression over `stat`.
const STAT_FIELDS: &[(&str, &str, FieldKind)] = &[
    ("f_date", "tars_fdate(time)", FieldKind::Date),
    ("f_tflag", "tars_tflag(time)", FieldKind::Text),
    ("source", "source", FieldKind::Text),
    ("master_name", "master_name", FieldKind::Text),
    ("slave_name", "slave_name", FieldKind::Text),
    ("interface_name", "interface_name", FieldKind::Text),
    ("master_ip", "master_ip", FieldKind::Text),
    ("slave_ip", "slave_ip", FieldKind::Text),
    ("slave_port", "slave_port", FieldKind::Number),
    ("return_value", "return_value", FieldKind::Number),
    ("tars_version", "tars_version", FieldKind::Text),
    ("slave_set_name", "slave_set_name", FieldKind::Text),
    ("slave_set_area", "slave_set_area", FieldKind::Text),
    ("slave_set_id", "slave_set_id", FieldKind::Text),
];

/// Columns `indexs` may name (summed).
const STAT_INDEXES: &[&str] = &[
    "succ_count",
    "timeout_count",
    "exce_count",
    "total_time",
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

/// Callers that cannot report themselves; their calls are counted from the callee's report.
const SERVER_ONLY_MASTERS: &[&str] = &["tup_client", "one_way_client", "not_tars_client"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    Text,
    Number,
    Date,
}

fn field(name: &str) -> Result<(&'static str, FieldKind)> {
    STAT_FIELDS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, e, k)| (*e, *k))
        .ok_or_else(|| Error::Invalid(format!("unknown field {name:?}")))
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn parse_date(s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y%m%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y-%m-%d"))
        .map_err(|_| Error::Invalid(format!("bad date {s:?}: expected YYYYMMDD")))
}

/// Minutes after local midnight at which the interval labelled `tflag` ends.
fn tflag_minutes(s: &str) -> Result<i64> {
    let bad = || Error::Invalid(format!("bad tflag {s:?}: expected HHMM between 0000 and 2360"));
    if s.len() != 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let (h, m): (i64, i64) = (s[..2].parse().map_err(|_| bad())?, s[2..].parse().map_err(|_| bad())?);
    if h > 24 || m > 60 || h * 60 + m > 1440 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

impl QueryEngine {
    /// Answers a MonitorQuery on `stat` (`dataid = "tars_stat"`).
    pub async fn monitor_stat(&self, req: &MonitorRequest) -> Result<MonitorResult> {
        let offset_ms = i64::from(self.config().offset.seconds()) * 1000;
        let date = parse_date(&req.date)?;
        let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp_millis() - offset_ms;
        // Interval labels name interval ends; `from` is the start of the first one.
        let from = midnight + (tflag_minutes(&req.tflag1)? - 5).max(0) * 60_000;
        let to = midnight + tflag_minutes(&req.tflag2)?.div_euclid(5) * 5 * 60_000;
        if req.indexs.is_empty() {
            return Err(Error::Invalid("indexs must name at least one column".into()));
        }
        let mut select = Vec::new();
        let mut groups = Vec::new();
        for (i, g) in req.groupby.iter().enumerate() {
            let (expr, kind) = field(g)?;
            let shown = match kind {
                FieldKind::Date => format!("replace(CAST({expr} AS VARCHAR), '-', '')"),
                _ => format!("CAST({expr} AS VARCHAR)"),
            };
            select.push(format!("{shown} AS g{i}"));
            groups.push(expr);
        }
        for (i, idx) in req.indexs.iter().enumerate() {
            if !STAT_INDEXES.contains(&idx.as_str()) {
                return Err(Error::Invalid(format!("unknown index {idx:?}")));
            }
            select.push(format!("CAST(sum({idx}) AS DOUBLE) AS v{i}"));
        }
        let mut masters: Vec<&str> = SERVER_ONLY_MASTERS.to_vec();
        let mut filter = format!("time >= to_timestamp_millis({from}) AND time < to_timestamp_millis({to})");
        for c in &req.conditions {
            let (expr, kind) = field(&c.field)?;
            if c.field == "master_name" && c.val == "stat_from_server" {
                masters.push("stat_from_server");
            }
            let value = match kind {
                FieldKind::Text => quote(&c.val),
                FieldKind::Number if c.op == Op::Like => quote(&c.val),
                FieldKind::Number => c
                    .val
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| Error::Invalid(format!("{} needs a number, got {:?}", c.field, c.val)))?
                    .to_string(),
                FieldKind::Date if c.op == Op::Like => quote(&c.val),
                FieldKind::Date => format!("DATE {}", quote(&parse_date(&c.val)?.to_string())),
            };
            let lhs = if kind != FieldKind::Text && c.op == Op::Like {
                format!("CAST({expr} AS VARCHAR)")
            } else {
                expr.to_owned()
            };
            let _ = write!(filter, " AND {lhs} {} {value}", c.op.sql());
        }
        let masters: Vec<String> = masters.iter().map(|m| quote(m)).collect();
        let _ = write!(filter, " AND (source = 'client' OR master_name IN ({}))", masters.join(", "));
        let mut sql = format!("SELECT {} FROM stat WHERE {filter}", select.join(", "));
        if !groups.is_empty() {
            let _ = write!(sql, " GROUP BY {}", groups.join(", "));
        }
        let out = self.sql(&sql).await?;
        let mut result = BTreeMap::new();
        for batch in &out.batches {
            let keys = (0..req.groupby.len())
                .map(|i| cast(batch.column(i), &DataType::Utf8))
                .collect::<Result<Vec<_>, _>>()
                .map_err(datafusion::error::DataFusionError::from)?;
            let values: Vec<_> = (0..req.indexs.len()).map(|i| batch.column(req.groupby.len() + i)).collect();
            for row in 0..batch.num_rows() {
                let key: Vec<&str> = keys
                    .iter()
                    .map(|k| {
                        let k = k.as_string::<i32>();
                        if k.is_null(row) { "" } else { k.value(row) }
                    })
                    .collect();
                let vals: Vec<f64> = values
                    .iter()
                    .map(|v| {
                        let v = v.as_primitive::<Float64Type>();
                        if v.is_null(row) { 0.0 } else { v.value(row) }
                    })
                    .collect();
                // An aggregate without GROUP BY over no rows yields one row of NULLs: no data.
                if req.groupby.is_empty() && values.iter().all(|v| v.is_null(row)) {
                    continue;
                }
                result.insert(key.join(","), vals);
            }
        }
        Ok(MonitorResult { result, last_time: self.last_time("stat") })
    }

    /// `YYYYMMDD HHMM` of the last complete 5-minute interval already sealed in `table`.
    pub fn last_time(&self, table: &str) -> String {
        let Some(source) = self.source(table) else {
            return String::new();
        };
        let open = source.open_from().0;
        let sealed_end = open.div_euclid(TARS_INTERVAL_MS) * TARS_INTERVAL_MS;
        let label = TarsLabel::of(TimestampMs(sealed_end - 1), self.config().offset);
        format!("{} {}", label.date_compact(), label.tflag_str())
    }
}
