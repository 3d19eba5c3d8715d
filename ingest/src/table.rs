//! What the pipeline needs to know about a table: its name, key, value and Arrow form.

use std::hash::Hash;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;

use crate::buckets::{ALLOCATOR_OVERHEAD, Merge};
use crate::notify::{NotifyBatchBuilder, NotifyEntry, NotifyValue, notify_schema, read_notify_batch};
use crate::property::{
    PropertyBatchBuilder, PropertyKey, PropertyValue, property_schema, read_property_batch,
};
use crate::stat::{PackedStatKey, StatBatchBuilder, StatValue, read_stat_batch, stat_schema};
use crate::time::TimestampMs;

/// Rows read back from a batch: slot, key, value.
pub type Rows<T> = Vec<(TimestampMs, <T as TableKind>::Key, <T as TableKind>::Value)>;

/// A kind of aggregated table (`stat`, `property`).
pub trait TableKind: Send + Sync + 'static {
    /// The table's name in the store and in SQL.
    const NAME: &'static str;
    /// The row key.
    type Key: Hash + Eq + Clone + Send + Sync + 'static;
    /// The row value.
    type Value: Merge + Clone + Send + Sync + 'static;

    /// The text column a sealed slot's rows are grouped by in the store
    /// ([`tarsmon_engine::Store::write_slot_by`]): the column queries most often ask for one
    /// value of, so that they read only that value's part of each slot.
    const SEGMENT_BY: Option<&'static str> = None;

    /// Whether closed hours are compacted ([`tarsmon_engine::Store::compact_hour`], by
    /// [`crate::Pipeline::compact`]): one chunk per hour instead of one per slot, for tables
    /// that queries read by the day. Off for tables whose slots are rewritten one by one
    /// (`notify`'s retention).
    const COMPACT: bool = false;

    /// Whether every row's `time` is the start of its slot (rows aggregated per slot), so
    /// that the rows with `time` in a range are exactly those of the slots in it. Not for
    /// tables that keep each report's own time (`notify`).
    const TIME_IS_SLOT: bool = true;

    /// The Arrow schema of a sealed slot.
    fn schema() -> SchemaRef;
    /// Builds the batch of one slot's rows.
    fn to_batch<'a>(
        slot: TimestampMs,
        rows: impl ExactSizeIterator<Item = (&'a Self::Key, &'a Self::Value)>,
    ) -> RecordBatch;
    /// Reads rows back (checkpoint recovery).
    fn from_batch(batch: &RecordBatch) -> Result<Rows<Self>, ArrowError>;
    /// Heap bytes a key holds (for the memory budget).
    fn key_heap(key: &Self::Key) -> usize;
}

impl Merge for StatValue {
    fn merge(&mut self, other: &Self) {
        StatValue::merge(self, other);
    }
}

/// The `stat` table: call statistics.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatTable;

impl TableKind for StatTable {
    const NAME: &'static str = "stat";
    /// TarsWeb's call-statistics pages always ask for one callee.
    const SEGMENT_BY: Option<&'static str> = Some("slave_name");
    const COMPACT: bool = true;
    /// Packed: one allocation per key, found by a borrowed [`crate::stat::StatKeyRef`].
    type Key = PackedStatKey;
    type Value = StatValue;

    fn schema() -> SchemaRef {
        stat_schema()
    }

    fn to_batch<'a>(
        slot: TimestampMs,
        rows: impl ExactSizeIterator<Item = (&'a PackedStatKey, &'a StatValue)>,
    ) -> RecordBatch {
        let mut b = StatBatchBuilder::with_capacity(rows.len());
        for (k, v) in rows {
            b.append_ref(slot, &k.unpack(), v);
        }
        b.finish()
    }

    fn from_batch(batch: &RecordBatch) -> Result<Vec<(TimestampMs, PackedStatKey, StatValue)>, ArrowError> {
        Ok(read_stat_batch(batch)?
            .into_iter()
            .map(|(t, k, v)| (t, PackedStatKey::from(&k.as_ref()), v))
            .collect())
    }

    fn key_heap(key: &PackedStatKey) -> usize {
        key.heap_bytes()
    }
}

impl Merge for PropertyValue {
    fn merge(&mut self, other: &Self) {
        PropertyValue::merge(self, other);
    }
}

/// The `property` table: business metrics, one row per property and policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct PropertyTable;

impl TableKind for PropertyTable {
    const NAME: &'static str = "property";
    /// TarsWeb's property page asks for one module.
    const SEGMENT_BY: Option<&'static str> = Some("module_name");
    const COMPACT: bool = true;
    type Key = PropertyKey;
    type Value = PropertyValue;

    fn schema() -> SchemaRef {
        property_schema()
    }

    fn to_batch<'a>(
        slot: TimestampMs,
        rows: impl ExactSizeIterator<Item = (&'a PropertyKey, &'a PropertyValue)>,
    ) -> RecordBatch {
        let mut b = PropertyBatchBuilder::with_capacity(rows.len());
        for (k, v) in rows {
            b.append(slot, k, v);
        }
        b.finish()
    }

    fn from_batch(batch: &RecordBatch) -> Result<Vec<(TimestampMs, PropertyKey, PropertyValue)>, ArrowError> {
        read_property_batch(batch)
    }

    fn key_heap(key: &PropertyKey) -> usize {
        // Its seven strings are a heap block each, with the allocator's overhead.
        key.heap_bytes() + 7 * ALLOCATOR_OVERHEAD
    }
}

impl Merge for NotifyValue {
    fn merge(&mut self, _other: &Self) {}
}

/// The `notify` table: one row per notification, never merged.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotifyTable;

impl TableKind for NotifyTable {
    const NAME: &'static str = "notify";
    /// A notification keeps the time it was received, within its slot.
    const TIME_IS_SLOT: bool = false;
    type Key = NotifyEntry;
    type Value = NotifyValue;

    fn schema() -> SchemaRef {
        notify_schema()
    }

    /// Rows in receive order (time, then arrival).
    fn to_batch<'a>(
        _slot: TimestampMs,
        rows: impl ExactSizeIterator<Item = (&'a NotifyEntry, &'a NotifyValue)>,
    ) -> RecordBatch {
        let mut entries: Vec<&NotifyEntry> = rows.map(|(k, _)| k).collect();
        entries.sort_unstable_by_key(|e| (e.record.notifytime, e.id));
        let mut b = NotifyBatchBuilder::with_capacity(entries.len());
        for e in entries {
            b.append(&e.record);
        }
        b.finish()
    }

    fn from_batch(batch: &RecordBatch) -> Result<Rows<Self>, ArrowError> {
        Ok(read_notify_batch(batch)?
            .into_iter()
            .map(|r| (r.notifytime, NotifyEntry::new(r), NotifyValue))
            .collect())
    }

    fn key_heap(key: &NotifyEntry) -> usize {
        // Its ten strings are a heap block each, with the allocator's overhead.
        key.record.heap_bytes() + 10 * ALLOCATOR_OVERHEAD
    }
}
