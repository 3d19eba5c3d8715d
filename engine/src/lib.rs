//! tarsmon's embedded store: one RocksDB instance holding sealed time slots as compressed,
//! dictionary-encoded Arrow IPC chunks keyed by table / hour partition / slot, checkpoints of
//! the open slot, retention by whole partitions, and snapshot reads as Arrow streams.
//!
//! Status: the crate is laid out (its RocksDB and Arrow dependencies are pinned and built) but
//! the store is not written yet; it arrives with the call-statistics issue. It must not depend
//! on DataFusion.
