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
//! And for `tarsmon-bench` (storage, query, export and memory, each against a baseline in the
//! same run):
//! - [`dataset`]: a synthetic fleet's stat heads and values, written straight into a store.
//! - [`day`]: two days of data in tarsmon and in MariaDB: bytes on disk, export rows/s, and
//!   TarsWeb's page queries side by side.
//! - [`export`]: one 5-minute interval of many keys through the exporter, against plain
//!   `INSERT`s.
//! - [`memory`]: resident bytes per live key, against a plain hash map.
//! - [`mariadb`]: a private MariaDB server (the one the exporter's tests use).
//!
//! Micro-benchmarks live in each crate's own `benches/`.

pub mod cpu;
pub mod dataset;
pub mod day;
pub mod export;
pub mod load;
#[path = "../../compat-mysql/tests/mysql_export/mariadb.rs"]
pub mod mariadb;
pub mod memory;
pub mod report;
pub mod sink;
pub mod verify;
