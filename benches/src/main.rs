//! `tarsmon-load`: load for a real tarsmon (or any TARS StatObj), and the null sink.
//!
//! ```text
//! tarsmon-load stat [--connections 8] [--keys 200000] [--duration 10s] [--oneway] [--tup] …
//! tarsmon-load sink [--listen 127.0.0.1:18299]
//! ```

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use tarsmon_benches::load::{LoadConfig, run};
use tarsmon_benches::report::{KeySpace, Protocol};
use tarsmon_benches::sink::{SinkCounters, serve};
use tarsmon_benches::{cpu, verify};
use tarsmon_framework::client::Communicator;

#[derive(Parser)]
#[command(name = "tarsmon-load", about = "Load generator for tarsmon: real TARS over real sockets")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send `reportMicMsg` load to a StatObj, then check through querystat that every entry
    /// was counted (exit code 1 if not).
    Stat(StatArgs),
    /// Run the null sink: frames are read and discarded; two-way calls get a canned reply.
    Sink {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:18299")]
        listen: String,
    },
}

#[derive(Args)]
struct StatArgs {
    /// Registry used to resolve object names without endpoints.
    #[arg(long, default_value = "tars.tarsregistry.QueryObj@tcp -h 127.0.0.1 -p 17890")]
    locator: String,
    /// The StatObj: a name resolved through the locator, or `Obj@tcp -h H -p P`.
    #[arg(long, default_value = "tars.tarsstat.StatObj")]
    target: String,
    /// The querystat object used for verification.
    #[arg(long, default_value = "tars.tarsquerystat.QueryObj")]
    querystat: String,
    /// Connections.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Distinct stat heads.
    #[arg(long, default_value_t = 10_000)]
    keys: usize,
    /// Entries (heads) per request; real clients send about a dozen.
    #[arg(long, default_value_t = 12)]
    entries: usize,
    /// Requests awaiting a reply per connection.
    #[arg(long, default_value_t = 16)]
    in_flight: usize,
    /// How long to send, e.g. `10s`, `500ms`.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Target entries per second over all connections (default: as fast as possible).
    #[arg(long)]
    rate: Option<f64>,
    /// Oneway requests (each connection ends with one normal call).
    #[arg(long)]
    oneway: bool,
    /// TUP v3 instead of TARS v1.
    #[arg(long)]
    tup: bool,
    /// Stop each connection after this many requests.
    #[arg(long)]
    max_requests: Option<u64>,
    /// Skip the querystat check (for the null sink, or servers without querystat).
    #[arg(long)]
    no_verify: bool,
    /// PID of the server, to report its CPU-seconds per million entries.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Caller name of the run (default: unique per run); verification counts only it.
    #[arg(long)]
    master_name: Option<String>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.find(|c: char| !c.is_ascii_digit() && c != '.').map_or((s, "s"), |i| s.split_at(i));
    let n: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("bad duration unit in {s:?} (ms, s, m)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Stat(args) => {
            let ok = rt.block_on(stat(args))?;
            if !ok {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Sink { listen } => rt.block_on(async {
            let listener =
                tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("binding {listen}"))?;
            println!("sink listening on {}", listener.local_addr()?);
            let counters = Arc::new(SinkCounters::default());
            let c = counters.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(10));
                tick.tick().await;
                loop {
                    tick.tick().await;
                    eprintln!(
                        "sink: {} frames, {} bytes",
                        c.frames.load(Ordering::Relaxed),
                        c.bytes.load(Ordering::Relaxed)
                    );
                }
            });
            serve(listener, counters).await?;
            Ok(())
        }),
    }
}

async fn stat(args: StatArgs) -> anyhow::Result<bool> {
    let comm = Communicator::with_locator(&args.locator)?.with_timeout(Duration::from_secs(30));
    let target = comm.proxy(&args.target).await.with_context(|| format!("resolving {}", args.target))?;
    let ep = target.endpoints().first().context("the target has no endpoint")?;
    let master_name = args.master_name.clone().unwrap_or_else(|| {
        let t = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        format!("Load.Client{}x{t}", std::process::id())
    });
    let protocol = if args.tup { Protocol::Tup } else { Protocol::Tars };
    let reports = Arc::new(
        KeySpace { master_name: master_name.clone(), keys: args.keys }.reports(args.entries, protocol),
    );
    let cfg = LoadConfig {
        addr: format!("{}:{}", ep.host, ep.port),
        object: target.object().to_owned(),
        connections: args.connections,
        in_flight: args.in_flight,
        duration: args.duration,
        rate: args.rate,
        oneway: args.oneway,
        protocol,
        max_requests: args.max_requests,
    };
    let server_cpu0 = args.server_pid.and_then(|p| cpu::cpu_time(Some(p)));
    let own_cpu0 = cpu::cpu_time(None);
    let started = SystemTime::now();
    let t0 = Instant::now();
    let result = run(&cfg, reports).await?;
    let wall = t0.elapsed();
    let server_cpu =
        server_cpu0.zip(args.server_pid.and_then(|p| cpu::cpu_time(Some(p)))).map(|(a, b)| b - a);
    let own_cpu = own_cpu0.zip(cpu::cpu_time(None)).map(|(a, b)| b - a);

    let h = &result.latency_us;
    println!(
        "sent {} requests, {} entries in {:.2} s over {} connection(s) ({}{}): {:.0} entries/s, {:.0} requests/s",
        result.requests,
        result.entries_sent,
        result.elapsed.as_secs_f64(),
        cfg.connections,
        if args.tup { "TUP v3" } else { "TARS v1" },
        if args.oneway { ", oneway" } else { "" },
        result.entries_per_sec(),
        result.requests as f64 / result.elapsed.as_secs_f64().max(1e-9),
    );
    if !h.is_empty() {
        println!(
            "latency µs: p50 {} p90 {} p99 {} p99.9 {} max {}",
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.9),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max()
        );
    }
    if let Some(c) = server_cpu {
        println!(
            "server CPU {:.2} s = {:.3} CPU-s per million entries ({:.0} entries per CPU-second)",
            c.as_secs_f64(),
            c.as_secs_f64() * 1e6 / result.entries_sent.max(1) as f64,
            result.entries_sent as f64 / c.as_secs_f64().max(1e-9)
        );
    }
    if let Some(c) = own_cpu {
        println!("generator CPU {:.2} s", c.as_secs_f64());
    }
    println!(
        "errors: {} error replies, {} failed connections{}",
        result.error_replies,
        result.failed_connections,
        result.first_error.as_deref().map(|e| format!(" (first: {e})")).unwrap_or_default()
    );
    let mut ok = result.error_replies == 0
        && result.failed_connections == 0
        && result.entries_acked == result.entries_sent;
    let mut counted = None;
    if !args.no_verify {
        let qs =
            comm.proxy(&args.querystat).await.with_context(|| format!("resolving {}", args.querystat))?;
        let n = verify::reported_calls(&qs, &master_name, started, SystemTime::now()).await?;
        let expected = result.entries_acked as f64 * f64::from(tarsmon_benches::report::CALLS_PER_ENTRY);
        println!("verify: querystat counted {n} calls for {master_name}, {expected} acknowledged");
        ok &= n == expected;
        counted = Some(n);
    }
    println!(
        "{{\"entries_sent\":{},\"entries_acked\":{},\"entries_per_sec\":{:.0},\"p50_us\":{},\"p99_us\":{},\"server_cpu_s\":{},\"wall_s\":{:.3},\"counted\":{},\"ok\":{ok}}}",
        result.entries_sent,
        result.entries_acked,
        result.entries_per_sec(),
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        server_cpu.map_or("null".into(), |c| format!("{:.3}", c.as_secs_f64())),
        wall.as_secs_f64(),
        counted.map_or("null".into(), |n| n.to_string()),
    );
    if !ok && result.entries_acked != result.entries_sent {
        eprintln!(
            "FAIL: {} of {} entries were not acknowledged",
            result.entries_sent - result.entries_acked,
            result.entries_sent
        );
    }
    if result.requests == 0 {
        bail!("no request was sent");
    }
    Ok(ok)
}
