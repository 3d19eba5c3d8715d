//! One client connection: read frames, dispatch them, write replies — all in one task, so a
//! batch of pipelined requests costs one read and one write and no hand-over between tasks.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::{AdapterMetrics, Shared, write_reply};
use crate::codec::Reader;
use crate::packet::{READ_CHUNK, RequestPacket, split_frame};
use crate::servant::{Args, Current, Dispatch, Reply, ServantError};

pub(super) struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
}

/// Why the read loop ended.
enum Close {
    Done,
    Protocol,
}

impl Connection {
    pub(super) fn new(
        stream: TcpStream,
        peer: SocketAddr,
        shared: Arc<Shared>,
        shutdown: CancellationToken,
    ) -> Self {
        Self { stream, peer, shared, shutdown }
    }

    pub(super) async fn run(self) {
        let Self { stream, peer, shared, shutdown } = self;
        let metrics = &shared.metrics;
        metrics.connections_open.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Latency matters more than packet count for RPC replies.
        let _ = stream.set_nodelay(true);
        let (mut rd, mut wr) = stream.into_split();
        // Replies of `Dispatch::Later` requests, computed by tasks of their own, come back here
        // and are written by this task. Unbounded, because this task is also the one that
        // drains it: the bound is `in_flight`, whose permit a reply holds until it is queued.
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        // Bounds the `Dispatch::Later` replies of this connection still being computed.
        let in_flight = Arc::new(Semaphore::new(shared.config.max_in_flight));
        let idle = shared.config.endpoint.timeout;
        // The idle timer is re-armed only when it fires, from the time of the last read: one
        // timer per idle period instead of one per read.
        let mut last_read = Instant::now();
        let idle_check = tokio::time::sleep(idle);
        tokio::pin!(idle_check);
        let mut buf = BytesMut::with_capacity(8 * 1024);
        let mut out = Vec::new();
        'read: loop {
            if buf.capacity() == buf.len() {
                buf.reserve(READ_CHUNK.min(buf.len().max(4096)));
            }
            tokio::select! {
                // Queued replies first: they hold no permit, but they are owed.
                biased;
                _ = shutdown.cancelled() => break,
                Some(reply) = rx.recv() => {
                    if wr.write_all(&reply).await.is_err() {
                        break;
                    }
                    continue;
                }
                read = rd.read_buf(&mut buf) => match read {
                    Ok(0) => break,
                    Ok(_) => last_read = Instant::now(),
                    Err(e) => {
                        debug!(%peer, error = %e, "read failed");
                        break;
                    }
                },
                () = &mut idle_check => {
                    let deadline = last_read + idle;
                    if Instant::now() >= deadline {
                        AdapterMetrics::inc(&metrics.connections_idle_closed);
                        debug!(%peer, "closing idle connection");
                        break;
                    }
                    idle_check.as_mut().reset(deadline);
                    continue;
                }
            }
            loop {
                match split_frame(&mut buf, shared.config.max_frame) {
                    Ok(Some(frame)) => {
                        let handled = handle_frame(&frame, peer, &shared, &mut out, &tx, &in_flight).await;
                        if let Close::Protocol = handled {
                            break 'read;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        AdapterMetrics::inc(&metrics.bad_frames);
                        warn!(object = %shared.config.object, %peer, error = %e, "closing connection: bad frame");
                        break 'read;
                    }
                }
            }
            // While this write waits for the peer, nothing is read: back-pressure, not loss.
            if !out.is_empty() {
                if wr.write_all(&out).await.is_err() {
                    break;
                }
                out.clear();
            }
        }
        if !out.is_empty() {
            let _ = wr.write_all(&out).await;
        }
        // Replies still being computed hold a sender; every one is written before closing.
        drop(tx);
        while let Some(reply) = rx.recv().await {
            if wr.write_all(&reply).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
        metrics.connections_open.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Decodes and dispatches one frame; ready replies are appended to `out`.
async fn handle_frame(
    frame: &[u8],
    peer: SocketAddr,
    shared: &Shared,
    out: &mut Vec<u8>,
    tx: &mpsc::UnboundedSender<Vec<u8>>,
    in_flight: &Arc<Semaphore>,
) -> Close {
    let metrics = &shared.metrics;
    let request = match RequestPacket::decode_fields(&mut Reader::new(frame)) {
        Ok(r) => r,
        Err(e) => {
            // Like TarsCpp: without a decodable header there is no request id to answer.
            AdapterMetrics::inc(&metrics.bad_packets);
            warn!(object = %shared.config.object, %peer, error = %e, "closing connection: undecodable RequestPacket");
            return Close::Protocol;
        }
    };
    AdapterMetrics::inc(&metrics.requests);
    if request.is_oneway() {
        AdapterMetrics::inc(&metrics.oneway_requests);
    }
    let current = Current { peer, request: &request };
    let outcome = if request.s_servant_name != shared.config.object {
        Dispatch::Ready(Err(ServantError::NoServant(request.s_servant_name.to_string())))
    } else if request.s_func_name == "tars_ping" {
        Dispatch::Ready(Ok(current.reply().ret(&0i32)))
    } else {
        match Args::new(&request) {
            Ok(args) => shared.servant.dispatch(&current, args),
            Err(e) => Dispatch::Ready(Err(ServantError::Decode(e))),
        }
    };
    match outcome {
        Dispatch::Ready(result) => finish(&request, result, metrics, out),
        Dispatch::Later(fut) => {
            // Waiting here stops this connection from reading: back-pressure, not loss.
            let Ok(permit) = in_flight.clone().acquire_owned().await else {
                return Close::Done;
            };
            let request = request.into_owned();
            let tx = tx.clone();
            let metrics = shared.metrics.clone();
            tokio::spawn(async move {
                let result = fut.await;
                let mut buf = Vec::new();
                finish(&request, result, &metrics, &mut buf);
                if !buf.is_empty() {
                    // Fails only if the connection is gone.
                    let _ = tx.send(buf);
                }
                drop(permit);
            });
        }
    }
    Close::Done
}

fn finish(
    request: &RequestPacket<'_>,
    result: Result<Reply, ServantError>,
    metrics: &AdapterMetrics,
    out: &mut Vec<u8>,
) {
    if let Err(e) = &result {
        AdapterMetrics::inc(&metrics.error_replies);
        debug!(func = %request.s_func_name, error = %e, "call failed");
    }
    if !request.is_oneway() {
        write_reply(request, result, out);
    }
}
