use thiserror::Error;

/// Errors of the ingest layer.
#[derive(Debug, Error)]
pub enum Error {
    /// A configuration value cannot work.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] tarsmon_engine::Error),
    /// Building or reading an Arrow batch failed (a bug, or a checkpoint of another schema).
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
}

/// Result of the ingest layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;
