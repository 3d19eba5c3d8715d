//! A DataFusion table over a [`TableSource`], pruning by the `time` column.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use tarsmon_ingest::time::TimestampMs;

use crate::source::TableSource;

/// The column every slot table is partitioned by.
pub const TIME_COLUMN: &str = "time";

/// Exposes a [`TableSource`] to SQL. Filters on `time` (comparisons with timestamp literals,
/// `BETWEEN`) narrow the slots read; DataFusion still applies them to the rows.
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

#[async_trait]
impl TableProvider for SlotTableProvider {
    fn schema(&self) -> SchemaRef {
        self.source.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| match time_range(f) {
                // Slots are pruned, rows are not: DataFusion must still apply the filter.
                Some(_) => TableProviderFilterPushDown::Inexact,
                None => TableProviderFilterPushDown::Unsupported,
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
        let source = self.source.clone();
        // The store read blocks; keep it off the query runtime's workers.
        let batches = tokio::task::spawn_blocking(move || {
            if range.from >= range.to {
                return Ok(Vec::new());
            }
            source.scan(TimestampMs(range.from), TimestampMs(range.to))
        })
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))?
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let partitions = split(batches, 2);
        Ok(MemorySourceConfig::try_new_exec(&partitions, self.schema(), projection.cloned())?)
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
