//! [`StoreConfig`]: the store's settings and their defaults.

use std::time::Duration;

/// Settings of a [`crate::Store`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// How long sealed chunks are kept. [`crate::Store::apply_retention`] drops every hour
    /// partition that ends before `now - retention`. Default: 31 days.
    pub retention: Duration,
    /// Whether every write waits for `fsync` of the write-ahead log. Without it (the default)
    /// a write that returned `Ok` survives a crash or `kill -9` of the process (the log is in
    /// the OS page cache) but not a power loss or kernel crash.
    pub sync_writes: bool,
    /// Most rows [`crate::Store::compact_hour`] puts into one compacted chunk: it decodes
    /// that many rows at once (a few hundred bytes each, about twice over while re-encoding),
    /// so this bounds its memory. An hour with more rows becomes several chunks of consecutive
    /// slots. Default: 1 Mi rows (an hour of 17k keys at 60 s slots in one chunk).
    pub compact_max_rows: usize,
}

impl StoreConfig {
    /// The default retention: 31 days.
    pub const DEFAULT_RETENTION: Duration = Duration::from_secs(31 * 24 * 3600);
    /// The default [`StoreConfig::compact_max_rows`].
    pub const DEFAULT_COMPACT_MAX_ROWS: usize = 1 << 20;
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            retention: Self::DEFAULT_RETENTION,
            sync_writes: false,
            compact_max_rows: Self::DEFAULT_COMPACT_MAX_ROWS,
        }
    }
}
