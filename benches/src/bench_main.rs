//! `tarsmon-bench`: the storage, query, export and memory benchmarks, each printing Markdown
//! for BENCHMARKS.md with its same-run baseline.
//!
//! ```text
//! tarsmon-bench day [--keys 10000] [--queries 20]     storage, export and TarsWeb's page vs MariaDB
//! tarsmon-bench export [--keys 100000]                 one 5-minute interval into MariaDB
//! tarsmon-bench memory [--keys 1000000]                resident bytes per live key
//! ```
//!
//! `day` and `export` start their own MariaDB (`mariadbd` must be installed, as
//! `scripts/setup.sh` does).

use std::process::Command;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tarsmon_benches::day::{self, DayConfig};
use tarsmon_benches::memory::{self, Holder};

#[derive(Parser)]
#[command(name = "tarsmon-bench", about = "tarsmon's storage, query, export and memory benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Two full days of call statistics in tarsmon and (through the exporter) in MariaDB:
    /// export rows/s, bytes on disk, and TarsWeb's page and drill-down queries side by side.
    Day {
        /// Distinct stat heads, each reporting once per slot.
        #[arg(long, default_value_t = 10_000)]
        keys: usize,
        /// Timed runs of each query.
        #[arg(long, default_value_t = 20)]
        queries: usize,
        /// tarsmon's base slot in seconds (the default configuration's is 60).
        #[arg(long, default_value_t = 60)]
        slot_secs: i64,
        /// MariaDB's InnoDB buffer pool.
        #[arg(long, default_value = "4G")]
        buffer_pool: String,
        /// Only time tarsmon's queries (no MariaDB, no export): for profiling them.
        #[arg(long)]
        tarsmon_only: bool,
    },
    /// One 5-minute interval of `keys` heads written by the exporter, against plain INSERTs
    /// of the same rows.
    Export {
        /// Distinct stat heads in the interval.
        #[arg(long, default_value_t = 100_000)]
        keys: usize,
        /// MariaDB's InnoDB buffer pool.
        #[arg(long, default_value = "1G")]
        buffer_pool: String,
    },
    /// Resident memory per live key in the open slot, against a plain hash map of the same
    /// rows (each measured in a fresh process).
    Memory {
        /// Distinct stat heads.
        #[arg(long, default_value_t = 1_000_000)]
        keys: usize,
    },
    /// One memory measurement in this process (used by `memory`).
    #[command(hide = true)]
    MemoryProbe {
        #[arg(long)]
        holder: Holder,
        #[arg(long)]
        keys: usize,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Day { keys, queries, slot_secs, buffer_pool, tarsmon_only } => {
            let cfg = DayConfig {
                keys,
                queries: queries.max(1),
                slot_ms: slot_secs.max(1) * 1000,
                buffer_pool,
                mysql: !tarsmon_only,
            };
            let report = day::run(&cfg)?;
            print!("{}", report.markdown(&cfg));
        }
        Cmd::Export { keys, buffer_pool } => {
            let report = tarsmon_benches::export::run(keys, &buffer_pool)?;
            print!("{}", report.markdown());
        }
        Cmd::Memory { keys } => {
            println!("| holder | keys | resident growth | bytes per key | pipeline's own estimate per key |");
            println!("|---|---|---|---|---|");
            for holder in [Holder::Pipeline, Holder::Hashmap] {
                let name = match holder {
                    Holder::Pipeline => "pipeline",
                    Holder::Hashmap => "hashmap",
                };
                let out = Command::new(std::env::current_exe()?)
                    .args(["memory-probe", "--holder", name, "--keys", &keys.to_string()])
                    .output()?;
                anyhow::ensure!(
                    out.status.success(),
                    "probe failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let text = String::from_utf8(out.stdout)?;
                let (rss, est) = text.trim().split_once(' ').context("probe output")?;
                let (rss, est): (u64, u64) = (rss.parse()?, est.parse()?);
                let label = match holder {
                    Holder::Pipeline => "tarsmon's stat pipeline (open slot)",
                    Holder::Hashmap => "baseline: plain HashMap<StatKey, StatValue>",
                };
                let estimate =
                    if est > 0 { format!("{:.0} B", est as f64 / keys as f64) } else { "—".to_owned() };
                println!(
                    "| {label} | {keys} | {:.1} MiB | {:.0} B | {estimate} |",
                    rss as f64 / 1048576.0,
                    rss as f64 / keys.max(1) as f64
                );
            }
        }
        Cmd::MemoryProbe { holder, keys } => {
            let p = memory::probe(holder, keys)?;
            println!("{} {}", p.rss_bytes, p.estimated_bytes);
        }
    }
    Ok(())
}
