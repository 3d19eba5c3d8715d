//! The `tarsmon` binary: `tarsmon serve` (the default) runs every framework role; the other
//! subcommands are clients of a running tarsmon (or of any TARS server).

mod config;
#[cfg(feature = "mysql")]
mod export;
mod offline;
mod querystat;
mod serve;
mod tables;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tarsmon_framework::client::{Communicator, decode_ret};

/// tarsmon: the TARS monitoring and statistics engine.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Log filter (`error`, `warn`, `info`, `debug`, or a tracing directive); RUST_LOG wins.
    #[arg(long, global = true, default_value = "info")]
    log: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run tarsmon: every framework role on its standard port (the default command).
    Serve(ServeArgs),
    /// Run one read-only SQL statement and print the result; against the running tarsmon's
    /// HTTP API, or, with `--data-dir`, directly on a data directory no tarsmon is using.
    Sql {
        /// The statement, e.g. `SELECT * FROM tars_stat LIMIT 10`.
        query: String,
        /// Output format.
        #[arg(long, default_value = "table", value_parser = ["table", "csv", "json"])]
        format: String,
        /// Base URL of the running tarsmon's HTTP API.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// Query this data directory offline instead of a running server.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Configuration file (for `[stat]`/`[query]` settings when offline).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Send TarsWeb's service-monitor query to querystat and print the rows as TarsWeb shows
    /// them: calls, average time, failure and timeout rate per 5-minute slot (or per group).
    Querystat(querystat::QuerystatArgs),
    /// Send TarsWeb's property-monitor query to queryproperty and print the value per
    /// 5-minute slot (or per group), reduced by each policy's own rule.
    Queryproperty(querystat::QuerypropertyArgs),
    /// Back-fill the classic MySQL tables (`tars_stat_YYYYMMDDHH`, `t_ecstatus`) for a time
    /// range from a data directory no tarsmon is serving (a running tarsmon exports by itself).
    #[cfg(feature = "mysql")]
    ExportMysql(export::ExportArgs),
    /// Call `tars_ping` on an object, directly (`Obj@tcp -h H -p P`) or through a locator.
    Ping {
        /// Object, e.g. `tars.tarsstat.StatObj` or `tars.tarsstat.StatObj@tcp -h 127.0.0.1 -p 18293`.
        object: String,
        /// Registry used to resolve a bare object name.
        #[arg(long, default_value = "tars.tarsregistry.QueryObj@tcp -h 127.0.0.1 -p 17890")]
        locator: String,
        /// Call timeout in milliseconds.
        #[arg(long, default_value_t = 3000)]
        timeout_ms: u64,
    },
}

/// Options of `tarsmon serve`.
#[derive(Debug, Default, clap::Args)]
struct ServeArgs {
    /// TOML configuration file (see tarsmon.example.toml); without it, the defaults.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Data directory (default `./tarsmon-data`; overrides `data_dir`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Host for every standard endpoint (overrides `server.host`).
    #[arg(long)]
    host: Option<String>,
    /// Turn the MySQL exporter on, writing to `mysql://USER:PASS@HOST:PORT` (overrides
    /// `mysql.url`; the other `[mysql]` keys keep their values or defaults).
    #[cfg(feature = "mysql")]
    #[arg(long, value_name = "URL")]
    mysql: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&cli.log))
        .context("bad --log filter")?;
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => {
            let mut config = config::Config::load(args.config.as_deref())?;
            if let Some(dir) = args.data_dir {
                config.data_dir = dir;
            }
            if let Some(host) = args.host {
                config.server.host = host;
            }
            #[cfg(feature = "mysql")]
            if let Some(url) = args.mysql {
                config.mysql.get_or_insert_with(Default::default).url = url;
            }
            config.sanitize()?;
            runtime.block_on(serve::serve(config))
        }
        Command::Sql { query, format, url, data_dir, config } => runtime.block_on(async {
            let text = match data_dir {
                Some(dir) => {
                    let mut cfg = config::Config::load(config.as_deref())?;
                    cfg.data_dir = dir;
                    cfg.sanitize()?;
                    offline::sql(&cfg, &query, format.parse()?).await?
                }
                None => {
                    let (status, body) = tarsmon_framework::http_client::post(
                        &format!("{}/sql?format={format}", url.trim_end_matches('/')),
                        &query,
                    )
                    .await?;
                    if status != 200 {
                        anyhow::bail!("{}", body.trim_end());
                    }
                    body
                }
            };
            print!("{text}");
            Ok(())
        }),
        Command::Querystat(args) => runtime.block_on(querystat::run(args)),
        Command::Queryproperty(args) => runtime.block_on(querystat::run_property(args)),
        #[cfg(feature = "mysql")]
        Command::ExportMysql(args) => runtime.block_on(export::run(args)),
        Command::Ping { object, locator, timeout_ms } => runtime.block_on(async {
            let comm = Communicator::with_locator(&locator)?.with_timeout(Duration::from_millis(timeout_ms));
            let prx = comm.proxy(&object).await?;
            let started = std::time::Instant::now();
            let rsp = prx.invoke("tars_ping", Vec::new()).await?.ok()?;
            let ret: i32 = decode_ret(&rsp).unwrap_or(0);
            println!(
                "{} at {} answered {} in {:?}",
                prx.object(),
                prx.endpoints()[0],
                ret,
                started.elapsed()
            );
            Ok(())
        }),
    }
}
