//! A DataFusion table over a [`TableSource`], pruning by the `time` column.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use tarsmon_engine::{ChunkFilter, TextAny, TextEquals};
use tarsmon_ingest::time::TimestampMs;

use crate::source::TableSource;

/// The column every slot table is partitioned by.
pub const TIME_COLUMN: &str = "time";

/// Exposes a [`TableSource`] to SQL. Filters on `time` (comparisons with timestamp literals,
/// `BETWEEN`) narrow the slots read; text conditions (`column = 'literal'`, `LIKE` a literal
/// without wildcards, `IN` a list of literals, and `OR`s of those) are tested on each chunk's
/// dictionaries while it is decoded, before any string of a row is built; only the columns the
/// query uses are decoded. Both are exact, so DataFusion does not filter the rows again (a
/// time comparison is exact when it compares `time` itself with a whole-millisecond literal
/// and the table's `time` is its slot's start; otherwise DataFusion re-checks it).
#[derive(Debug)]
pub struct SlotTableProvider {
    source: Arc<dyn TableSource>,
}

impl SlotTableProvider {
    /// A provider reading `source`.
    pub fn new(source: Arc<dyn TableSource>) -> Self {
        Self { source }
    }
}

/// A half-open range of milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeRange {
    pub(crate) from: i64,
    pub(crate) to: i64,
}

impl TimeRange {
    const ALL: TimeRange = TimeRange { from: i64::MIN, to: i64::MAX };

    fn intersect(self, o: TimeRange) -> TimeRange {
        TimeRange { from: self.from.max(o.from), to: self.to.min(o.to) }
    }
}

/// A timestamp literal's value in milliseconds, if it is a whole number of them (a finer one
/// would need rounding, which depends on the comparison: such filters are left to DataFusion).
fn timestamp_ms(v: &ScalarValue) -> Option<i64> {
    let whole = |x: i64, per_ms: i64| (x % per_ms == 0).then_some(x / per_ms);
    match v {
        ScalarValue::TimestampMillisecond(Some(x), _) => Some(*x),
        ScalarValue::TimestampSecond(Some(x), _) => x.checked_mul(1000),
        ScalarValue::TimestampMicrosecond(Some(x), _) => whole(*x, 1000),
        ScalarValue::TimestampNanosecond(Some(x), _) => whole(*x, 1_000_000),
        _ => None,
    }
}

/// Whether `e` is the `time` column, possibly cast to a timestamp type of the same or a
/// finer unit or another time zone: casts that keep every value (a coarser unit would
/// truncate).
fn is_time_column(e: &Expr) -> bool {
    match e {
        Expr::Column(c) => c.name == TIME_COLUMN,
        Expr::Cast(c) => {
            matches!(
                c.field.data_type(),
                DataType::Timestamp(TimeUnit::Millisecond | TimeUnit::Microsecond | TimeUnit::Nanosecond, _)
            ) && is_time_column(&c.expr)
        }
        _ => false,
    }
}

/// A timestamp literal in whole milliseconds.
fn literal_ms(e: &Expr) -> Option<i64> {
    match e {
        Expr::Literal(v, _) => timestamp_ms(v),
        Expr::Cast(c) => literal_ms(&c.expr),
        _ => None,
    }
}

/// The range of `time` a filter allows, if it is a comparison of `time` with a literal or an
/// `AND` of such comparisons.
pub(crate) fn time_range(filter: &Expr) -> Option<TimeRange> {
    match filter {
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::And, right }) => {
            time_range(left)?.intersect_some(right)
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (op, v) = if is_time_column(left) {
                (*op, literal_ms(right)?)
            } else if is_time_column(right) {
                (op.swap()?, literal_ms(left)?)
            } else {
                return None;
            };
            Some(match op {
                Operator::Eq => TimeRange { from: v, to: v.saturating_add(1) },
                Operator::Gt => TimeRange { from: v.saturating_add(1), to: i64::MAX },
                Operator::GtEq => TimeRange { from: v, to: i64::MAX },
                Operator::Lt => TimeRange { from: i64::MIN, to: v },
                Operator::LtEq => TimeRange { from: i64::MIN, to: v.saturating_add(1) },
                _ => return None,
            })
        }
        Expr::Between(b) if !b.negated && is_time_column(&b.expr) => {
            Some(TimeRange { from: literal_ms(&b.low)?, to: literal_ms(&b.high)?.saturating_add(1) })
        }
        _ => None,
    }
}

impl TimeRange {
    /// `self` narrowed by `other`, if `other` is a time range too.
    fn intersect_some(self, other: &Expr) -> Option<TimeRange> {
        Some(self.intersect(time_range(other)?))
    }
}

/// A text condition on `Utf8` columns of `schema`, as the terms of which one must hold:
/// `column = 'text'` (either way round), `column LIKE 'text'` (no wildcard or escape in the
/// pattern, case-sensitive), `column IN ('a', 'b')`, and `OR`s of those.
pub(crate) fn text_condition(filter: &Expr, schema: &Schema) -> Option<TextAny> {
    let mut terms = Vec::new();
    text_terms(filter, schema, &mut terms)?;
    Some(TextAny(terms))
}

/// Adds the terms of `filter` (see [`text_condition`]) to `terms`; `None` if it is not one.
fn text_terms(filter: &Expr, schema: &Schema, terms: &mut Vec<TextEquals>) -> Option<()> {
    let text_column = |e: &Expr| match e {
        Expr::Column(c) => {
            let i = schema.index_of(&c.name).ok()?;
            (schema.field(i).data_type() == &DataType::Utf8).then_some(i)
        }
        _ => None,
    };
    let text = |e: &Expr| match e {
        Expr::Literal(
            ScalarValue::Utf8(Some(v)) | ScalarValue::Utf8View(Some(v)) | ScalarValue::LargeUtf8(Some(v)),
            _,
        ) => Some(v.clone()),
        _ => None,
    };
    match filter {
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::Or, right }) => {
            text_terms(left, schema, terms)?;
            text_terms(right, schema, terms)?;
        }
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::Eq, right }) => {
            let (column, value) = match (text_column(left), text_column(right)) {
                (Some(c), None) => (c, text(right)?),
                (None, Some(c)) => (c, text(left)?),
                _ => return None,
            };
            terms.push(TextEquals { column, value });
        }
        Expr::Like(like) if !like.negated && !like.case_insensitive && like.escape_char.is_none() => {
            let value = text(&like.pattern)?;
            if value.contains(['%', '_', '\\']) {
                return None;
            }
            terms.push(TextEquals { column: text_column(&like.expr)?, value });
        }
        Expr::InList(list) if !list.negated => {
            let column = text_column(&list.expr)?;
            for v in &list.list {
                terms.push(TextEquals { column, value: text(v)? });
            }
        }
        _ => return None,
    }
    Some(())
}

#[async_trait]
impl TableProvider for SlotTableProvider {
    fn schema(&self) -> SchemaRef {
        self.source.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        let schema = self.schema();
        let exact_time = self.source.time_is_slot();
        Ok(filters
            .iter()
            .map(|f| {
                if text_condition(f, &schema).is_some() {
                    // Tested exactly while decoding (and on the open slot's rows).
                    TableProviderFilterPushDown::Exact
                } else if time_range(f).is_some() {
                    // Rows carry their slot's start as `time`: reading exactly the slots in
                    // range is reading exactly the rows in range.
                    if exact_time {
                        TableProviderFilterPushDown::Exact
                    } else {
                        TableProviderFilterPushDown::Inexact
                    }
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let schema = self.schema();
        // Every filter given is either a time range or a text condition (or neither, when
        // DataFusion passes an unsupported one along: then it also applies it itself).
        let range = filters.iter().filter_map(time_range).fold(TimeRange::ALL, TimeRange::intersect);
        let text: Vec<TextAny> = filters.iter().filter_map(|f| text_condition(f, &schema)).collect();
        let source = self.source.clone();
        let schema = match projection {
            Some(p) => Arc::new(schema.project(p)?),
            None => schema,
        };
        // Only the columns the query uses are decoded.
        let columns = projection.cloned();
        // The store read blocks; keep it off the query runtime's workers.
        let batches = tokio::task::spawn_blocking(move || {
            if range.from >= range.to {
                return Ok(Vec::new());
            }
            let filter = ChunkFilter { projection: columns.as_deref(), text_equals: &[], text_any: &text };
            source.scan(TimestampMs(range.from), TimestampMs(range.to), filter)
        })
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))?
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let partitions = split(batches, 2);
        Ok(MemorySourceConfig::try_new_exec(&partitions, schema, None)?)
    }
}

/// Deals batches round-robin into `n` partitions, so aggregation uses every core.
fn split(batches: Vec<RecordBatch>, n: usize) -> Vec<Vec<RecordBatch>> {
    let mut parts = vec![Vec::new(); n];
    for (i, b) in batches.into_iter().enumerate() {
        parts[i % n].push(b);
    }
    parts
}
