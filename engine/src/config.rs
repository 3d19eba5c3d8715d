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
}

impl StoreConfig {
    /// The default retention: 31 days.
    pub const DEFAULT_RETENTION: Duration = Duration::from_secs(31 * 24 * 3600);
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { retention: Self::DEFAULT_RETENTION, sync_writes: false }
    }
}
