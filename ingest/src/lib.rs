//! tarsmon's ingest layer: domain types (`StatKey`, `StatValue`, property policies, notify
//! records), time slots by receive time with an injectable clock, the in-memory aggregation
//! buckets, and sealing a slot into Arrow `RecordBatch`es.
//!
//! Status: the crate is laid out but its types are not written yet; they arrive with the
//! call-statistics issue. It must not know the wire format (that is `tarsmon-framework`) or
//! RocksDB (that is `tarsmon-engine`).
