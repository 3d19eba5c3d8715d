//! A DataFusion table over a [`TableSource`], pruning by the `time` column.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use tarsmon_engine::{ChunkFilter, TextEquals};
use tarsmon_ingest::time::TimestampMs;

use crate::source::TableSource;

/// The column every slot table is partitioned by.
pub const TIME_COLUMN: &str = "time";

/// Exposes a [`TableSource`] to SQL. Filters on `time` (comparisons with timestamp literals,
/// `BETWEEN`) narrow the slots read; filters `text_column = 'literal'` (or `LIKE` a literal
/// without wildcards) drop rows while chunks are decoded, before their strings are built; only
/// the columns the query uses are decoded. DataFusion still applies every filter to the rows.
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

fn timestamp_ms(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::TimestampMillisecond(Some(x), _) => Some(*x),
        ScalarValue::TimestampSecond(Some(x), _) => x.checked_mul(1000),
        ScalarValue::TimestampMicrosecond(Some(x), _) => Some(x.div_euclid(1000)),
        ScalarValue::TimestampNanosecond(Some(x), _) => Some(x.div_euclid(1_000_000)),
        _ => None,
    }
}

fn is_time_column(e: &Expr) -> bool {
    match e {
        Expr::Column(c) => c.name == TIME_COLUMN,
        Expr::Cast(c) => is_time_column(&c.expr),
        Expr::TryCast(c) => is_time_column(&c.expr),
        _ => false,
    }
}

fn literal_ms(e: &Expr) -> Option<i64> {
    match e {
        Expr::Literal(v, _) => timestamp_ms(v),
        Expr::Cast(c) => literal_ms(&c.expr),
        _ => None,
    }
}

/// The range of `time` a filter allows, if it is a comparison of `time` with a literal.
pub(crate) fn time_range(filter: &Expr) -> Option<TimeRange> {
    match filter {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            if *op == Operator::And {
                return match (time_range(left), time_range(right)) {
                    (Some(a), Some(b)) => Some(a.intersect(b)),
                    (Some(a), None) | (None, Some(a)) => Some(a),
                    (None, None) => None,
                };
            }
            let (op, v) = if is_time_column(left) {
                (*op, literal_ms(right)?)
            } else if is_time_column(right) {
                (op.swap()?, literal_ms(left)?)
            } else {
                return None;
            };
            // Bounds at millisecond precision, rounded outward: pruning may read a little more
            // than needed, never less.
            Some(match op {
                Operator::Eq => TimeRange { from: v, to: v.saturating_add(1) },
                Operator::Gt | Operator::GtEq => TimeRange { from: v, to: i64::MAX },
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

/// `column = 'text'`, `'text' = column` or `column LIKE 'text'` (no wildcard or escape in
/// the pattern, case-sensitive) on a `Utf8` column of `schema`: the column's index and the
/// text.
pub(crate) fn text_equals(filter: &Expr, schema: &Schema) -> Option<TextEquals> {
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
    let (column, value) = match filter {
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::Eq, right }) => {
            match (text_column(left), text_column(right)) {
                (Some(c), None) => (c, text(right)?),
                (None, Some(c)) => (c, text(left)?),
                _ => return None,
            }
        }
        Expr::Like(like) if !like.negated && !like.case_insensitive && like.escape_char.is_none() => {
            let value = text(&like.pattern)?;
            if value.contains(['%', '_', '\\']) {
                return None;
            }
            (text_column(&like.expr)?, value)
        }
        _ => return None,
    };
    Some(TextEquals { column, value })
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
        Ok(filters
            .iter()
            .map(|f| {
                if time_range(f).is_some() || text_equals(f, &schema).is_some() {
                    // Slots and chunks are pruned, not every row: DataFusion must still apply
                    // the filter.
                    TableProviderFilterPushDown::Inexact
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
        let range = filters.iter().filter_map(time_range).fold(TimeRange::ALL, TimeRange::intersect);
        let text: Vec<TextEquals> = filters.iter().filter_map(|f| text_equals(f, &self.schema())).collect();
        let source = self.source.clone();
        let schema = match projection {
            Some(p) => Arc::new(self.schema().project(p)?),
            None => self.schema(),
        };
        // Only the columns the query uses are decoded.
        let columns = projection.cloned();
        // The store read blocks; keep it off the query runtime's workers.
        let batches = tokio::task::spawn_blocking(move || {
            if range.from >= range.to {
                return Ok(Vec::new());
            }
            let filter = ChunkFilter { projection: columns.as_deref(), text_equals: &text };
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
