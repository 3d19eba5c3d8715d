use thiserror::Error;

/// Errors of the query layer.
#[derive(Debug, Error)]
pub enum Error {
    /// The query is invalid (bad SQL, unknown column, forbidden statement): the caller's fault.
    #[error("{0}")]
    Invalid(String),
    /// DataFusion failed while planning or running a query.
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// Reading the store or the open slot failed.
    #[error(transparent)]
    Ingest(#[from] tarsmon_ingest::Error),
    /// The query runtime is gone (shutting down).
    #[error("query runtime stopped")]
    Stopped,
}

/// Result of the query layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;
