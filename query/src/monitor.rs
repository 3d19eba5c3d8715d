//! TarsWeb's `MonitorQuery` (querystat and queryproperty, monitoring spec §8.1) over the
//! `stat` and `property` tables.
//!
//! Differences from tarsquerystat / tarsqueryproperty, all deliberate:
//! - field, index and group names are checked against the table's columns (the original
//!   splices them into SQL); values are always literals;
//! - `tflag1..tflag2` selects exactly those 5-minute intervals (the original reads whole
//!   hourly tables);
//! - a day without data is an empty result, not an error;
//! - a call counts once: the callers' rows (`source = 'client'`) plus the callee rows of
//!   callers that cannot report themselves (`tup_client`, `one_way_client`,
//!   `not_tars_client`); TarsCpp ≥ 3.0.13's `stat_from_server` rows only when a condition asks
//!   for that `master_name`;
//! - property values are reduced by their policy, never summed across policies (see
//!   [`QueryEngine::monitor_property`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
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

/// A day in milliseconds.
const DAY_MS: i64 = 86_400_000;

/// Callers that cannot report themselves; their calls are counted from the callee's report.
const SERVER_ONLY_MASTERS: &[&str] = &["tup_client", "one_way_client", "not_tars_client"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    Text,
    Number,
    Date,
}

/// `s` as an SQL string literal.
pub(crate) fn quote(s: &str) -> String {
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

/// Columns of `tars_property` a condition or `groupby` may name, and their expression over
/// `property`.
const PROPERTY_FIELDS: &[(&str, &str, FieldKind)] = &[
    ("f_date", "tars_fdate(time)", FieldKind::Date),
    ("f_tflag", "tars_tflag(time)", FieldKind::Text),
    ("master_name", "module_name", FieldKind::Text),
    ("master_ip", "ip", FieldKind::Text),
    ("property_name", "property_name", FieldKind::Text),
    ("set_name", "set_name", FieldKind::Text),
    ("set_area", "set_area", FieldKind::Text),
    ("set_id", "set_id", FieldKind::Text),
    ("policy", "policy", FieldKind::Text),
];

/// The one index of `tars_property`.
const PROPERTY_INDEX: &str = "value";

/// A request checked against one table's columns: its SQL pieces.
struct Plan {
    /// `... AS g0, ... AS g1` for the group fields.
    select: Vec<String>,
    /// The group expressions.
    groups: Vec<String>,
    /// What each group column holds.
    shown: Vec<Shown>,
    /// The `WHERE` clause: time range and conditions.
    filter: String,
}

/// What a group column of the answer holds, and so how it becomes the key's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    /// The text itself.
    Text,
    /// A local 5-minute interval's number since the epoch: shown as its `f_tflag`.
    Interval,
    /// A local day's number since the epoch: shown as its `f_date` (`YYYYMMDD`).
    Day,
}

impl Shown {
    /// The width of the local intervals or days numbered, in ms (`None` for text).
    fn bin_ms(self) -> Option<i64> {
        match self {
            Self::Text => None,
            Self::Interval => Some(TARS_INTERVAL_MS),
            Self::Day => Some(DAY_MS),
        }
    }
}

impl QueryEngine {
    /// The `[from, to)` time range of `req` (`date`, `tflag1..tflag2`) in ms since the epoch.
    fn time_range(&self, req: &MonitorRequest) -> Result<(i64, i64)> {
        let offset_ms = i64::from(self.config().offset.seconds()) * 1000;
        let date = parse_date(&req.date)?;
        let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp_millis() - offset_ms;
        // Interval labels name interval ends; `from` is the start of the first one.
        let from = midnight + (tflag_minutes(&req.tflag1)? - 5).max(0) * 60_000;
        let to = midnight + tflag_minutes(&req.tflag2)?.div_euclid(5) * 5 * 60_000;
        Ok((from, to))
    }

    /// Checks `req`'s group fields and conditions against `fields` and builds the SQL pieces.
    fn plan(&self, req: &MonitorRequest, fields: &[(&str, &'static str, FieldKind)]) -> Result<Plan> {
        let field = |name: &str| {
            fields
                .iter()
                .find(|(n, _, _)| *n == name)
                .map(|(_, e, k)| (*e, *k))
                .ok_or_else(|| Error::Invalid(format!("unknown field {name:?}")))
        };
        let (from, to) = self.time_range(req)?;
        let offset_ms = i64::from(self.config().offset.seconds()) * 1000;
        let mut select = Vec::new();
        let mut groups = Vec::new();
        let mut shown = Vec::new();
        for (i, g) in req.groupby.iter().enumerate() {
            let (expr, kind) = field(g)?;
            // The labels are grouped by as integers (the local interval's or day's number),
            // and turned into text only for the few groups of the answer: far cheaper than a
            // label string for every row.
            let as_text = match g.as_str() {
                "f_tflag" => Shown::Interval,
                "f_date" => Shown::Day,
                _ => Shown::Text,
            };
            let (value, group) = match as_text.bin_ms() {
                Some(width) => {
                    let bin = format!("(CAST(time AS BIGINT) + {offset_ms}) / {width}");
                    (bin.clone(), bin)
                }
                None if kind == FieldKind::Date => {
                    (format!("replace(CAST({expr} AS VARCHAR), '-', '')"), expr.to_owned())
                }
                None => (format!("CAST({expr} AS VARCHAR)"), expr.to_owned()),
            };
            select.push(format!("{value} AS g{i}"));
            groups.push(group);
            shown.push(as_text);
        }
        let mut filter = format!("time >= to_timestamp_millis({from}) AND time < to_timestamp_millis({to})");
        for c in &req.conditions {
            let (expr, kind) = field(&c.field)?;
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
        Ok(Plan { select, groups, shown, filter })
    }

    /// Answers a MonitorQuery on `stat` (`dataid = "tars_stat"`).
    pub async fn monitor_stat(&self, req: &MonitorRequest) -> Result<MonitorResult> {
        if req.indexs.is_empty() {
            return Err(Error::Invalid("indexs must name at least one column".into()));
        }
        let Plan { mut select, groups, shown, mut filter } = self.plan(req, STAT_FIELDS)?;
        for (i, idx) in req.indexs.iter().enumerate() {
            if !STAT_INDEXES.contains(&idx.as_str()) {
                return Err(Error::Invalid(format!("unknown index {idx:?}")));
            }
            select.push(format!("CAST(sum({idx}) AS DOUBLE) AS v{i}"));
        }
        let mut masters: Vec<&str> = SERVER_ONLY_MASTERS.to_vec();
        if req.conditions.iter().any(|c| c.field == "master_name" && c.val == "stat_from_server") {
            masters.push("stat_from_server");
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
            let keys = self.group_keys(batch, &shown)?;
            let values: Vec<_> = (0..req.indexs.len()).map(|i| batch.column(req.groupby.len() + i)).collect();
            for (row, key) in keys.into_iter().enumerate() {
                // An aggregate without GROUP BY over no rows yields one row of NULLs: no data.
                if req.groupby.is_empty() && values.iter().all(|v| v.is_null(row)) {
                    continue;
                }
                let vals: Vec<f64> = values.iter().map(|v| f64_at(v, row)).collect();
                // Sums: groups whose keys read alike add up (one day's intervals never do).
                match result.entry(key) {
                    std::collections::btree_map::Entry::Vacant(e) => {
                        e.insert(vals);
                    }
                    std::collections::btree_map::Entry::Occupied(mut e) => {
                        e.get_mut().iter_mut().zip(vals).for_each(|(a, b)| *a += b);
                    }
                }
            }
        }
        Ok(MonitorResult { result, last_time: self.last_time("stat") })
    }

    /// Answers a MonitorQuery on `property` (`dataid = "tars_property"`, `indexs =
    /// ["value"]`).
    ///
    /// Each group's `value` is reduced by its policy: `Sum`, `Count` and non-standard policies
    /// add, `Max` / `Min` take the extreme, `Avg` is the sample-weighted average, `Distr` is
    /// the number of samples — and, when grouped by `policy`, one more key per bucket with
    /// the policy field `Distr|<bound>` (`Distr|max` for the overflow bucket) holding its
    /// count. A group that mixes policies has no meaningful value and is an error naming them
    /// (tarsqueryproperty sums them).
    pub async fn monitor_property(&self, req: &MonitorRequest) -> Result<MonitorResult> {
        if req.indexs.is_empty() || req.indexs.iter().any(|i| i != PROPERTY_INDEX) {
            return Err(Error::Invalid(format!(
                "tars_property has one index, \"{PROPERTY_INDEX}\"; got {:?}",
                req.indexs
            )));
        }
        let Plan { mut select, mut groups, shown, filter } = self.plan(req, PROPERTY_FIELDS)?;
        select.push("policy AS p".into());
        select.push(
            "CAST(CASE policy WHEN 'Max' THEN max(value) WHEN 'Min' THEN min(value) \
             WHEN 'Avg' THEN CASE WHEN sum(count) > 0 THEN sum(sum) / sum(count) ELSE 0.0 END \
             ELSE sum(value) END AS DOUBLE) AS v"
                .into(),
        );
        select.push("tars_distr_merge(distr) AS d".into());
        groups.push("policy".into());
        let sql = format!(
            "SELECT {} FROM property WHERE {filter} GROUP BY {}",
            select.join(", "),
            groups.join(", ")
        );
        let out = self.sql(&sql).await?;
        let n = req.groupby.len();
        let policy_at = req.groupby.iter().position(|g| g == "policy");
        // key → (policy, value, histogram) of each policy in the group.
        let mut groups: BTreeMap<String, Vec<(String, f64, Option<String>)>> = BTreeMap::new();
        // Each group is one interval or day of one request day, so no two keys read alike:
        // the policies' values are never merged here.
        for batch in &out.batches {
            let keys = self.group_keys(batch, &shown)?;
            let policy = batch.column(n).as_string::<i32>();
            let (value, distr) = (batch.column(n + 1), batch.column(n + 2).as_string::<i32>());
            for (row, key) in keys.into_iter().enumerate() {
                let d = (!distr.is_null(row)).then(|| distr.value(row).to_owned());
                groups.entry(key).or_default().push((policy.value(row).to_owned(), f64_at(value, row), d));
            }
        }
        let mut result = BTreeMap::new();
        for (key, mut rows) in groups {
            if rows.len() > 1 {
                rows.sort_by(|a, b| a.0.cmp(&b.0));
                let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
                let shown = if key.is_empty() { "the result" } else { key.as_str() };
                return Err(Error::Invalid(format!(
                    "{shown} mixes the policies {}: add a policy condition or group by policy",
                    names.join(", ")
                )));
            }
            let Some((policy, value, distr)) = rows.pop() else { continue };
            if let (Some(at), "Distr", Some(d)) = (policy_at, policy.as_str(), distr) {
                let hist = tarsmon_ingest::property::parse_distr(&d)
                    .map_err(|e| Error::Invalid(format!("stored Distr {d:?} is unreadable: {e}")))?;
                for (label, count) in hist.buckets() {
                    let mut parts: Vec<String> = key.split(',').map(str::to_owned).collect();
                    if let Some(p) = parts.get_mut(at) {
                        *p = format!("Distr|{label}");
                    }
                    result.insert(parts.join(","), vec![*count as f64; req.indexs.len()]);
                }
            }
            result.insert(key, vec![value; req.indexs.len()]);
        }
        Ok(MonitorResult { result, last_time: self.last_time("property") })
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

impl QueryEngine {
    /// The group key of every row: the first columns (one per `shown`) as text, joined by `,`.
    fn group_keys(&self, batch: &RecordBatch, shown: &[Shown]) -> Result<Vec<String>> {
        let offset = self.config().offset;
        let offset_ms = i64::from(offset.seconds()) * 1000;
        let columns: Vec<Vec<String>> = shown
            .iter()
            .enumerate()
            .map(|(i, kind)| {
                let column = batch.column(i);
                Ok(match kind.bin_ms() {
                    None => {
                        let text = cast(column, &DataType::Utf8)
                            .map_err(datafusion::error::DataFusionError::from)?;
                        let text = text.as_string::<i32>();
                        (0..batch.num_rows())
                            .map(|r| if text.is_null(r) { "" } else { text.value(r) }.to_owned())
                            .collect()
                    }
                    Some(width) => {
                        let n = cast(column, &DataType::Int64)
                            .map_err(datafusion::error::DataFusionError::from)?;
                        let n = n.as_primitive::<Int64Type>();
                        (0..batch.num_rows())
                            .map(|r| {
                                let label =
                                    TarsLabel::of(TimestampMs(n.value(r) * width - offset_ms), offset);
                                if *kind == Shown::Interval {
                                    label.tflag_str().to_owned()
                                } else {
                                    label.date_compact()
                                }
                            })
                            .collect()
                    }
                })
            })
            .collect::<Result<_>>()?;
        Ok((0..batch.num_rows())
            .map(|row| columns.iter().map(|c| c[row].as_str()).collect::<Vec<_>>().join(","))
            .collect())
    }
}

/// A `DOUBLE` cell, NULL as 0.
fn f64_at(column: &ArrayRef, row: usize) -> f64 {
    let v = column.as_primitive::<Float64Type>();
    if v.is_null(row) { 0.0 } else { v.value(row) }
}
