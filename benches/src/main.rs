//! `tarsmon-load`: load for a real tarsmon (or any TARS StatObj/PropertyObj/NotifyObj), and
//! the null sink.
//!
//! ```text
//! tarsmon-load stat [--connections 8] [--keys 200000] [--duration 10s] [--oneway] [--tup] …
//! tarsmon-load property …    (same options)
//! tarsmon-load notify …      (same options; one notification per request)
//! tarsmon-load sink [--listen 127.0.0.1:18299]
//! ```
//!
//! `--query-load N` adds N tasks that query while the load runs (TarsWeb's page through
//! querystat, and SQL through the HTTP API), with their own latency percentiles.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use tarsmon_benches::load::{LoadConfig, run};
use tarsmon_benches::report::{KeySpace, Kind, Protocol};
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
    /// Send `reportPropMsg` load (one `Count` of 1 per property) to a PropertyObj, then check
    /// through queryproperty that every value was counted.
    Property(StatArgs),
    /// Send `reportNotifyInfo` load (one notification per request) to a NotifyObj, then check
    /// with SQL over the HTTP API that every notification was stored.
    Notify(StatArgs),
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
    /// The servant to load: a name resolved through the locator, or `Obj@tcp -h H -p P`
    /// (default: tars.tarsstat.StatObj, tars.tarsproperty.PropertyObj or
    /// tars.tarsnotify.NotifyObj).
    #[arg(long)]
    target: Option<String>,
    /// The querystat object (verification of stat load, and the query load).
    #[arg(long, default_value = "tars.tarsquerystat.QueryObj")]
    querystat: String,
    /// The queryproperty object (verification of property load).
    #[arg(long, default_value = "tars.tarsqueryproperty.QueryObj")]
    queryproperty: String,
    /// tarsmon's HTTP API, `host:port` (verification of notify load, and SQL query load).
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: String,
    /// Tasks querying while the load runs, each alternating TarsWeb's page (querystat) and
    /// an SQL aggregate (HTTP); their latencies are reported apart.
    #[arg(long, default_value_t = 0)]
    query_load: usize,
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
    /// Caller (stat), module (property) or application (notify) name of the run (default:
    /// unique per run); verification counts only it.
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
        Command::Stat(args) => finish(rt.block_on(load(Kind::Stat, args))?),
        Command::Property(args) => finish(rt.block_on(load(Kind::Property, args))?),
        Command::Notify(args) => finish(rt.block_on(load(Kind::Notify, args))?),
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

/// Exit code 1 for a run that failed its checks.
fn finish(ok: bool) -> anyhow::Result<()> {
    if !ok {
        std::process::exit(1);
    }
    Ok(())
}

async fn load(kind: Kind, args: StatArgs) -> anyhow::Result<bool> {
    if args.oneway && kind == Kind::Notify {
        bail!(
            "notify load cannot be oneway: every call stores a notification, so there is no empty closing call"
        );
    }
    let comm = Communicator::with_locator(&args.locator)?.with_timeout(Duration::from_secs(30));
    let target_name = args.target.as_deref().unwrap_or(kind.default_target());
    let target = comm.proxy(target_name).await.with_context(|| format!("resolving {target_name}"))?;
    let ep = target.endpoints().first().context("the target has no endpoint")?;
    let master_name = args.master_name.clone().unwrap_or_else(|| {
        let t = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        format!("Load.Client{}x{t}", std::process::id())
    });
    let protocol = if args.tup { Protocol::Tup } else { Protocol::Tars };
    let reports = Arc::new(KeySpace { master_name: master_name.clone(), keys: args.keys }.reports_of(
        kind,
        args.entries,
        protocol,
    ));
    let cfg = LoadConfig {
        addr: format!("{}:{}", ep.host, ep.port),
        object: target.object().to_owned(),
        kind,
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
    let queries = if args.query_load > 0 {
        let qs =
            comm.proxy(&args.querystat).await.with_context(|| format!("resolving {}", args.querystat))?;
        Some(QueryLoad::start(args.query_load, Arc::new(qs), args.http.clone()))
    } else {
        None
    };
    let result = run(&cfg, reports).await?;
    let wall = t0.elapsed();
    if let Some(q) = queries {
        q.stop().await?.print();
    }
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
        let now = SystemTime::now();
        let (n, what) = match kind {
            Kind::Stat => {
                let qs = comm
                    .proxy(&args.querystat)
                    .await
                    .with_context(|| format!("resolving {}", args.querystat))?;
                (verify::reported_calls(&qs, &master_name, started, now).await?, "querystat counted calls")
            }
            Kind::Property => {
                let qp = comm
                    .proxy(&args.queryproperty)
                    .await
                    .with_context(|| format!("resolving {}", args.queryproperty))?;
                let n = verify::reported_property_count(&qp, &master_name, started, now).await?;
                (n, "queryproperty counted values")
            }
            Kind::Notify => {
                (verify::stored_notifications(&args.http, &master_name).await?, "SQL counted notifications")
            }
        };
        let expected = result.entries_acked as f64 * f64::from(tarsmon_benches::report::CALLS_PER_ENTRY);
        println!("verify: {what} {n} for {master_name}, {expected} acknowledged");
        ok &= n == expected;
        counted = Some(n);
    }
    println!(
        "{{\"entries_sent\":{},\"entries_acked\":{},\"entries_per_sec\":{:.0},\"p50_us\":{},\"p99_us\":{},\"server_cpu_s\":{},\"generator_cpu_s\":{},\"wall_s\":{:.3},\"counted\":{},\"ok\":{ok}}}",
        result.entries_sent,
        result.entries_acked,
        result.entries_per_sec(),
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        server_cpu.map_or("null".into(), |c| format!("{:.3}", c.as_secs_f64())),
        own_cpu.map_or("null".into(), |c| format!("{:.3}", c.as_secs_f64())),
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

/// Queries running while the load runs: each task alternates TarsWeb's service-monitor page
/// (today, by `f_tflag`, one callee) through querystat and an SQL aggregate through the HTTP
/// API, until stopped.
struct QueryLoad {
    stop: Arc<std::sync::atomic::AtomicBool>,
    tasks: tokio::task::JoinSet<anyhow::Result<QueryStats>>,
}

/// What the query tasks measured.
struct QueryStats {
    monitor_us: hdrhistogram::Histogram<u64>,
    sql_us: hdrhistogram::Histogram<u64>,
    errors: u64,
    first_error: Option<String>,
}

impl QueryStats {
    fn new() -> anyhow::Result<Self> {
        let h = || hdrhistogram::Histogram::new_with_bounds(1, 100_000_000, 3);
        Ok(Self { monitor_us: h()?, sql_us: h()?, errors: 0, first_error: None })
    }

    fn print(&self) {
        let p = |h: &hdrhistogram::Histogram<u64>| {
            format!(
                "{} queries, p50 {} µs, p99 {} µs",
                h.len(),
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.99)
            )
        };
        println!("query load: MonitorQuery page {}; SQL {}", p(&self.monitor_us), p(&self.sql_us));
        println!(
            "query load errors: {}{}",
            self.errors,
            self.first_error.as_deref().map(|e| format!(" (first: {e})")).unwrap_or_default()
        );
    }
}

impl QueryLoad {
    fn start(tasks: usize, querystat: Arc<tarsmon_framework::client::ServantProxy>, http: String) -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..tasks {
            let (stop, qs, http) = (stop.clone(), querystat.clone(), http.clone());
            set.spawn(async move {
                let mut stats = QueryStats::new()?;
                let sql = "SELECT slave_name, sum(succ_count) AS calls FROM stat \
                           WHERE time >= now() - INTERVAL '1 hour' GROUP BY slave_name";
                while !stop.load(Ordering::Relaxed) {
                    let t0 = Instant::now();
                    match verify::page(&qs, "Load.Server0").await {
                        Ok(()) => stats.monitor_us.saturating_record(micros(t0)),
                        Err(e) => stats.fail(&e),
                    }
                    let t0 = Instant::now();
                    match verify::http_sql(&http, sql).await {
                        Ok(_) => stats.sql_us.saturating_record(micros(t0)),
                        Err(e) => stats.fail(&e),
                    }
                }
                Ok(stats)
            });
        }
        Self { stop, tasks: set }
    }

    async fn stop(mut self) -> anyhow::Result<QueryStats> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = QueryStats::new()?;
        while let Some(done) = self.tasks.join_next().await {
            let s = done??;
            all.monitor_us.add(&s.monitor_us)?;
            all.sql_us.add(&s.sql_us)?;
            all.errors += s.errors;
            all.first_error = all.first_error.or(s.first_error);
        }
        Ok(all)
    }
}

impl QueryStats {
    fn fail(&mut self, e: &anyhow::Error) {
        self.errors += 1;
        self.first_error.get_or_insert_with(|| format!("{e:#}"));
    }
}

fn micros(t0: Instant) -> u64 {
    t0.elapsed().as_micros().try_into().unwrap_or(u64::MAX)
}
