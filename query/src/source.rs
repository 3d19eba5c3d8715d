//! Where a table's rows come from: sealed slots in the store plus the open slot in memory.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use tarsmon_engine::ChunkFilter;
use tarsmon_ingest::time::TimestampMs;
use tarsmon_ingest::{Pipeline, TableKind};

use crate::error::Result;

/// A table the SQL layer can read by time range.
pub trait TableSource: Send + Sync + std::fmt::Debug + 'static {
    /// The table's schema.
    fn schema(&self) -> SchemaRef;
    /// Every row with `time` in `[from, to)`, sealed and open alike, each exactly once, with
    /// only the columns `filter.projection` lists (indices into [`Self::schema`], in that
    /// order) or all of them, and without some or all of the rows that fail
    /// `filter.text_equals` (a hint: the caller applies its conditions again). Blocking (it
    /// reads the store).
    fn scan(&self, from: TimestampMs, to: TimestampMs, filter: ChunkFilter<'_>) -> Result<Vec<RecordBatch>>;
    /// The start of the first slot not yet sealed (data before it is final).
    fn open_from(&self) -> TimestampMs;
}

impl<T: TableKind> TableSource for Pipeline<T> {
    fn schema(&self) -> SchemaRef {
        T::schema()
    }

    fn scan(&self, from: TimestampMs, to: TimestampMs, filter: ChunkFilter<'_>) -> Result<Vec<RecordBatch>> {
        Ok(Pipeline::scan_columns(self, from, to, filter)?)
    }

    fn open_from(&self) -> TimestampMs {
        self.current_slot()
    }
}
