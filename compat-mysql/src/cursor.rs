//! [`Cursor`]: how far one table is exported, kept durably in the store's metadata.

use std::sync::Arc;

use tarsmon_engine::Store;
use tarsmon_ingest::time::TimestampMs;

use crate::error::{Error, Result};
use crate::stats::{ExporterStats, Table};

/// The start of the first interval (or slot) of one table not exported yet, stored under a
/// metadata name as 8 bytes of little-endian epoch milliseconds. It is only moved after the
/// data before it is committed in MySQL, so a crash or an outage resumes at the first
/// interval that may be missing.
#[derive(Debug)]
pub(crate) struct Cursor {
    name: &'static str,
    table: Table,
    /// The value; read from the store on first use.
    at: Option<TimestampMs>,
}

impl Cursor {
    pub(crate) fn new(name: &'static str, table: Table) -> Self {
        Self { name, table, at: None }
    }

    /// The cursor: the stored value, or `initial` when there is none (the first start).
    pub(crate) async fn load(
        &mut self,
        store: &Arc<Store>,
        initial: TimestampMs,
        stats: &ExporterStats,
    ) -> Result<TimestampMs> {
        let at = match self.at {
            Some(at) => at,
            None => {
                let at = read(store.clone(), self.name).await?.unwrap_or(initial);
                self.at = Some(at);
                at
            }
        };
        stats.set_cursor(self.table, at);
        Ok(at)
    }

    /// Moves the cursor to `at`, durably (off the async threads: RocksDB writes block).
    pub(crate) async fn commit(
        &mut self,
        store: &Arc<Store>,
        at: TimestampMs,
        stats: &ExporterStats,
    ) -> Result<()> {
        let (store, name) = (store.clone(), self.name);
        tokio::task::spawn_blocking(move || store.put_meta(name, &at.0.to_le_bytes())).await??;
        self.at = Some(at);
        stats.set_cursor(self.table, at);
        Ok(())
    }
}

/// The stored cursor `name`, off the async threads (RocksDB reads block).
async fn read(store: Arc<Store>, name: &'static str) -> Result<Option<TimestampMs>> {
    let value = tokio::task::spawn_blocking(move || store.meta(name)).await??;
    match value {
        None => Ok(None),
        Some(v) => {
            let bytes: [u8; 8] = v
                .as_slice()
                .try_into()
                .map_err(|_| Error::BadCursor { name: name.to_owned(), len: v.len() })?;
            Ok(Some(TimestampMs(i64::from_le_bytes(bytes))))
        }
    }
}
