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
    /// order) or all of them, and only the rows that satisfy `filter`'s conditions (exactly).
    /// Unless [`Self::time_is_slot`], rows with `time` outside `[from, to)` may come too.
    /// Blocking (it reads the store).
    fn scan(&self, from: TimestampMs, to: TimestampMs, filter: ChunkFilter<'_>) -> Result<Vec<RecordBatch>>;
    /// Whether [`Self::scan`] returns exactly the rows with `time` in `[from, to)` (each row's
    /// `time` is its slot's start).
    fn time_is_slot(&self) -> bool;
    /// The start of the first slot not yet sealed (data before it is final).
    fn open_from(&self) -> TimestampMs;
}

impl<T: TableKind> TableSource for Pipeline<T> {
    fn schema(&self) -> SchemaRef {
        T::schema()
    }

    fn scan(&self, from: TimestampMs, to: TimestampMs, filter: ChunkFilter<'_>) -> Result<Vec<RecordBatch>> {
        // A row whose time is not its slot's start may lie after `from` in the slot that
        // holds `from`.
        let from = if T::TIME_IS_SLOT { from } else { self.config().slot.slot_of(from) };
        Ok(Pipeline::scan_columns(self, from, to, filter)?)
    }

    fn time_is_slot(&self) -> bool {
        T::TIME_IS_SLOT
    }

    fn open_from(&self) -> TimestampMs {
        self.current_slot()
    }
}
