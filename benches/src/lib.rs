//! tarsmon's end-to-end benchmarks and the `tarsmon-load` load generator, which speaks real
//! TARS over real sockets to a real server.
//!
//! - [`report`]: the key space of a run and its pre-encoded `reportMicMsg` requests (TARS v1
//!   or TUP v3, a dozen entries each, like real clients).
//! - [`load`]: connections that pipeline those requests with a bounded window, optionally
//!   paced and oneway, measuring latency with hdrhistogram.
//! - [`sink`]: the null sink, a server that only frames and discards — the baseline every
//!   ingest figure is compared to.
//! - [`verify`]: after a run, querystat is asked how many calls it counted; a run that lost
//!   data fails.
//! - [`cpu`]: CPU time of the server process, for CPU-seconds per million entries.
//!
//! Micro-benchmarks live in each crate's own `benches/`.

pub mod cpu;
pub mod load;
pub mod report;
pub mod sink;
pub mod verify;
