//! Driving load over raw TARS connections: each connection pipelines pre-encoded
//! `reportMicMsg` requests with a bounded number in flight, paced to a target rate if one is
//! given, and matches replies by request id to measure latency.
//!
//! The generator does not go through `ServantProxy`: its per-call channel and timer would cost
//! more than the server's work per request and make the generator the bottleneck. It writes
//! frames in batches of up to [`WRITE_BATCH`] bytes instead, like a busy real client.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::BytesMut;
use hdrhistogram::Histogram;
use tarsmon_framework::codec::Reader;
use tarsmon_framework::packet::{
    NORMAL, ONEWAY, RequestPacket, ResponsePacket, StringMap, TARS_VERSION, peek_version, split_frame,
    write_frame,
};
use tarsmon_framework::tup::UniAttribute;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::report::{Kind, Protocol, Report, empty_args};

/// Bytes of frames gathered before one socket write.
pub const WRITE_BATCH: usize = 64 * 1024;
/// Largest reply frame accepted.
const MAX_REPLY: u32 = 1 << 20;

/// What one run does.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// `host:port` of the server.
    pub addr: String,
    /// The object name requests carry (`tars.tarsstat.StatObj`).
    pub object: String,
    /// What the requests report (and so the method they call).
    pub kind: Kind,
    /// Connections, each driven by its own task.
    pub connections: usize,
    /// Requests awaiting a reply per connection (ignored for oneway).
    pub in_flight: usize,
    /// How long to send.
    pub duration: Duration,
    /// Target entries per second over all connections; `None` = as fast as possible.
    pub rate: Option<f64>,
    /// Send oneway requests (each connection ends with one normal call, whose reply proves
    /// that the server has read everything before it).
    pub oneway: bool,
    /// TARS v1 or TUP v3.
    pub protocol: Protocol,
    /// Stop each connection after this many requests (for exact, reproducible test runs).
    pub max_requests: Option<u64>,
}

/// What one run achieved.
#[derive(Debug)]
pub struct LoadResult {
    /// Requests written.
    pub requests: u64,
    /// Entries in the requests written.
    pub entries_sent: u64,
    /// Entries in requests the server answered with success (all sent ones for oneway runs
    /// whose final call succeeded).
    pub entries_acked: u64,
    /// Requests answered with a non-zero framework or method return code.
    pub error_replies: u64,
    /// Connections that failed (connect, write, read or a malformed reply).
    pub failed_connections: u64,
    /// First connection failure, if any.
    pub first_error: Option<String>,
    /// Request round trips in microseconds (two-way requests only).
    pub latency_us: Histogram<u64>,
    /// Wall time from the first request to the last reply.
    pub elapsed: Duration,
}

impl LoadResult {
    /// Entries per second over the run.
    pub fn entries_per_sec(&self) -> f64 {
        self.entries_sent as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

#[derive(Debug, Default)]
struct ConnOutcome {
    requests: u64,
    entries_sent: u64,
    entries_acked: u64,
    error_replies: u64,
}

/// Runs the load described by `cfg`, connection `i` starting at report `i × len / connections`
/// so connections cover different keys at any moment.
pub async fn run(cfg: &LoadConfig, reports: Arc<Vec<Report>>) -> anyhow::Result<LoadResult> {
    if reports.is_empty() {
        bail!("no reports to send");
    }
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..cfg.connections.max(1) {
        let (cfg, reports) = (cfg.clone(), reports.clone());
        let first = i * reports.len() / cfg.connections.max(1);
        tasks.spawn(async move { drive(&cfg, &reports, first).await });
    }
    let mut result = LoadResult {
        requests: 0,
        entries_sent: 0,
        entries_acked: 0,
        error_replies: 0,
        failed_connections: 0,
        first_error: None,
        latency_us: new_histogram(),
        elapsed: Duration::ZERO,
    };
    while let Some(joined) = tasks.join_next().await {
        match joined.context("connection task")? {
            Ok((o, h)) => {
                result.requests += o.requests;
                result.entries_sent += o.entries_sent;
                result.entries_acked += o.entries_acked;
                result.error_replies += o.error_replies;
                result.latency_us.add(&h).context("merging histograms")?;
            }
            Err(e) => {
                result.failed_connections += 1;
                result.first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
    result.elapsed = start.elapsed();
    Ok(result)
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs … 100 s at 3 significant digits; the bounds are constants, so this cannot fail.
    #[allow(clippy::unwrap_used)]
    Histogram::new_with_bounds(1, 100_000_000, 3).unwrap()
}

/// Requests awaiting their reply: id → (sent at, entries).
type Pending = Arc<Mutex<HashMap<i32, (Instant, usize)>>>;

async fn drive(
    cfg: &LoadConfig,
    reports: &[Report],
    first: usize,
) -> anyhow::Result<(ConnOutcome, Histogram<u64>)> {
    let stream =
        TcpStream::connect(&cfg.addr).await.with_context(|| format!("connecting to {}", cfg.addr))?;
    stream.set_nodelay(true)?;
    let (mut rd, mut wr) = stream.into_split();
    let window = Arc::new(Semaphore::new(cfg.in_flight.max(1)));
    let pending: Pending = Arc::default();
    let per_conn_rate = cfg.rate.map(|r| r / cfg.connections.max(1) as f64);

    let reader = {
        let (window, pending, protocol) = (window.clone(), pending.clone(), cfg.protocol);
        tokio::spawn(async move {
            let mut hist = new_histogram();
            let (mut acked, mut errors) = (0u64, 0u64);
            let mut buf = BytesMut::with_capacity(64 * 1024);
            let mut last_id = None;
            loop {
                while let Some(frame) = split_frame(&mut buf, MAX_REPLY)? {
                    let (id, ok) = decode_reply(&frame, protocol)?;
                    let sent = pending.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.remove(&id);
                    let Some((at, entries)) = sent else { bail!("reply to unknown request id {id}") };
                    hist.saturating_record(at.elapsed().as_micros().try_into().unwrap_or(u64::MAX));
                    if ok {
                        acked += entries as u64;
                    } else {
                        errors += 1;
                    }
                    last_id = Some(id);
                    window.add_permits(1);
                }
                if rd.read_buf(&mut buf).await? == 0 {
                    return anyhow::Ok((acked, errors, hist, last_id));
                }
            }
        })
    };

    let mut out = ConnOutcome::default();
    let mut buf = Vec::with_capacity(WRITE_BATCH + 4096);
    let start = Instant::now();
    let mut next = first;
    let mut id: i32 = 1;
    let limit = cfg.max_requests.unwrap_or(u64::MAX);
    let func = cfg.kind.func();
    let closing = if cfg.oneway {
        Some(
            empty_args(cfg.kind, cfg.protocol)
                .context("oneway runs need a closing call that reports nothing")?,
        )
    } else {
        None
    };
    while start.elapsed() < cfg.duration && out.requests < limit {
        if let Some(rate) = per_conn_rate {
            let allowed = start.elapsed().as_secs_f64() * rate;
            if out.entries_sent as f64 >= allowed {
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
        }
        // Fill a batch: while window permits are free (or always, for oneway) and the batch is
        // not full.
        loop {
            if !cfg.oneway {
                if buf.is_empty() {
                    window.acquire().await?.forget();
                } else if let Ok(p) = window.try_acquire() {
                    p.forget();
                } else {
                    break;
                }
            }
            let report = &reports[next % reports.len()];
            next += 1;
            if !cfg.oneway {
                pending
                    .lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .insert(id, (Instant::now(), report.entries));
            }
            encode_request(&mut buf, cfg, id, func, &report.args, cfg.oneway);
            id = id.wrapping_add(1).max(1);
            out.requests += 1;
            out.entries_sent += report.entries as u64;
            if buf.len() >= WRITE_BATCH || out.requests >= limit || per_conn_rate.is_some() {
                break;
            }
        }
        wr.write_all(&buf).await?;
        buf.clear();
    }
    if let Some(closing) = closing {
        // One normal call (an empty report) after the oneway flood: its reply means the server
        // has processed every frame before it on this connection.
        window.acquire().await?.forget();
        pending.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.insert(id, (Instant::now(), 0));
        encode_request(&mut buf, cfg, id, func, &closing, false);
        wr.write_all(&buf).await?;
    }
    // Wait for every reply (or for the reader to fail), then close our side.
    let mut reader = reader;
    let all = u32::try_from(cfg.in_flight.max(1)).unwrap_or(u32::MAX);
    tokio::select! {
        permits = window.acquire_many(all) => drop(permits?),
        early = &mut reader => {
            early??;
            bail!("the server closed the connection with replies outstanding");
        }
    }
    wr.shutdown().await?;
    let (acked, errors, hist, _) = reader.await??;
    out.error_replies = errors;
    out.entries_acked = if cfg.oneway { if errors == 0 { out.entries_sent } else { 0 } } else { acked };
    Ok((out, hist))
}

fn encode_request(out: &mut Vec<u8>, cfg: &LoadConfig, id: i32, func: &str, args: &[u8], oneway: bool) {
    write_frame(out, |w| {
        RequestPacket {
            i_version: cfg.protocol.version(),
            c_packet_type: if oneway { ONEWAY } else { NORMAL },
            i_message_type: 0,
            i_request_id: id,
            s_servant_name: Cow::Borrowed(&cfg.object),
            s_func_name: Cow::Borrowed(func),
            s_buffer: Cow::Borrowed(args),
            i_timeout: 60_000,
            context: StringMap::new(),
            status: StringMap::new(),
        }
        .encode_fields(w)
    });
}

/// The request id of a reply and whether it reports success (framework code 0 and, for a
/// method that returns one, return value 0).
fn decode_reply(frame: &[u8], protocol: Protocol) -> anyhow::Result<(i32, bool)> {
    let version = peek_version(frame)?;
    if version == TARS_VERSION || protocol == Protocol::Tars {
        let rsp = ResponsePacket::decode_fields(&mut Reader::new(frame))?;
        // A `void` method (reportNotifyInfo) returns no value; an `int` one must return 0.
        let ok = rsp.i_ret == 0
            && (rsp.s_buffer.is_empty() || Reader::new(&rsp.s_buffer).read::<i32>(0).is_ok_and(|v| v == 0));
        Ok((rsp.i_request_id, ok))
    } else {
        let rsp = RequestPacket::decode_fields(&mut Reader::new(frame))?;
        let code = rsp.status.get("STATUS_RESULT_CODE").map(|c| c.as_ref() == "0").unwrap_or(false);
        let attrs = UniAttribute::decode(rsp.i_version, &rsp.s_buffer)?;
        let ok = code && attrs.get::<i32>("").ok().flatten().is_none_or(|v| v == 0);
        Ok((rsp.i_request_id, ok))
    }
}
