//! [`ConnectionThreads`]: the threads that run client connections, one single-threaded tokio
//! runtime each.
//!
//! A connection is one task (read, dispatch, write) and stays on the thread it is given, so:
//! - no work stealing: a multi-threaded runtime wakes its idle workers to look for work every
//!   time a connection becomes ready, and with pipelined reports that wake-up costs more than
//!   the work (measured: one worker served ~20 % more entries per CPU-second than two on one
//!   connection; BENCHMARKS.md);
//! - a reporter's keys land in one shard of the buckets (shards are per thread), so each key
//!   is held once, not once per thread its connection wandered over.
//!
//! Connections are dealt round-robin as they are accepted.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

/// Threads that run connections (see the module doc).
#[derive(Debug)]
pub struct ConnectionThreads {
    handles: Vec<Handle>,
    /// The next thread to get a connection: round-robin, a relaxed counter is enough.
    next: AtomicUsize,
    /// Ends the threads' runtimes.
    stop: CancellationToken,
    /// Joined by [`Self::shutdown`].
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl ConnectionThreads {
    /// Starts `n` threads (at least one), named `tarsmon-conn-<i>`.
    pub fn start(n: usize) -> std::io::Result<Self> {
        let stop = CancellationToken::new();
        let mut handles = Vec::new();
        let mut threads = Vec::new();
        for i in 0..n.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            handles.push(runtime.handle().clone());
            let stop = stop.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("tarsmon-conn-{i}"))
                    .spawn(move || runtime.block_on(stop.cancelled()))?,
            );
        }
        Ok(Self { handles, next: AtomicUsize::new(0), stop, threads: Mutex::new(threads) })
    }

    /// Runs `task` on the next thread.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        self.handles[i].spawn(task);
    }

    /// Stops the threads and waits for them. Tasks still running are dropped: stop the
    /// adapters first (their `run` returns once their connections have finished).
    pub fn shutdown(&self) {
        self.stop.cancel();
        let threads =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for ConnectionThreads {
    /// Ends the threads without waiting for them ([`Self::shutdown`] waits).
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
