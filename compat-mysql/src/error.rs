//! The crate's error type.

use tarsmon_engine::TimestampMs;

/// Everything that can go wrong while exporting to MySQL.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration was rejected by [`crate::ExporterConfig::sanitize`].
    #[error("bad MySQL exporter configuration: {reason}")]
    Config {
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A MySQL URL of the configuration does not parse.
    #[error("bad MySQL URL {url:?}")]
    Url {
        /// The URL with its password masked.
        url: String,
        /// Why it does not parse.
        #[source]
        source: mysql_async::UrlError,
    },
    /// A statement or a connection to MySQL failed (retried on the next tick).
    #[error("MySQL {server}: {what}")]
    Mysql {
        /// The server (`host:port`).
        server: String,
        /// What the exporter was doing, e.g. "CREATE TABLE tars_stat.tars_stat_2024011509".
        what: String,
        /// The driver's error.
        #[source]
        source: mysql_async::Error,
    },
    /// A MySQL call did not finish within [`crate::ExporterConfig::timeout`].
    #[error("MySQL {server}: {what} timed out after {after:?}")]
    Timeout {
        /// The server (`host:port`).
        server: String,
        /// What the exporter was doing.
        what: String,
        /// The configured timeout.
        after: std::time::Duration,
    },
    /// Reading tarsmon's store (slots, chunks or the cursor) failed.
    #[error("reading the store")]
    Store(#[from] tarsmon_engine::Error),
    /// A stored chunk does not have its table's schema.
    #[error("a {table} chunk of interval {interval} does not decode")]
    Batch {
        /// The store table: `stat`, `property` or `notify`.
        table: &'static str,
        /// Start of the 5-minute interval (of the base slot, for `notify`).
        interval: TimestampMs,
        /// Arrow's error.
        #[source]
        source: arrow::error::ArrowError,
    },
    /// The stored cursor is not 8 bytes (written by an unknown version).
    #[error("the export cursor {name:?} holds {len} bytes, expected 8")]
    BadCursor {
        /// The metadata name.
        name: String,
        /// Its length.
        len: usize,
    },
    /// A blocking store read running on `spawn_blocking` panicked or was cancelled.
    #[error("a blocking store read did not complete")]
    Blocking(#[from] tokio::task::JoinError),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
