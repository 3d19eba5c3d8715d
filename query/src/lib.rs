//! tarsmon's query layer: DataFusion `TableProvider`s over the engine (plus the live, unsealed
//! slot), SQL views with the classic MySQL column names (`tars_stat`, `tars_property`), UDFs
//! (`tars_tflag`, percentiles) and the semantics of TarsWeb's `MonitorQuery`.
//!
//! Status: the crate is laid out (DataFusion is pinned; every crate uses the Arrow it
//! re-exports) but the tables are not written yet; they arrive with the call-statistics issue.
//! It never opens RocksDB itself.
