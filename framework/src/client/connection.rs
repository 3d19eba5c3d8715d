//! One client TCP connection: a writer task, a reader task, and the table of calls awaiting
//! their reply.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::{ClientError, Response};
use crate::codec::{DecodeError, Reader};
use crate::endpoint::Endpoint;
use crate::packet::{READ_CHUNK, RequestPacket, ResponsePacket, peek_version, split_frame, write_frame};

/// Calls awaiting a reply, by request id. A std `Mutex`: it is held only to insert or remove
/// one entry, never across an await.
type Pending = Arc<Mutex<HashMap<u32, oneshot::Sender<Response>>>>;

/// Request frames queued for the writer task; a full queue makes callers wait.
const WRITE_QUEUE: usize = 1024;

pub(super) struct ClientConnection {
    tx: mpsc::Sender<Vec<u8>>,
    pending: Pending,
    /// Request ids are u32 on the wire (as `i32`), wrap around, and skip 0 (push).
    next_id: AtomicU32,
    /// Cancelled when either task ends: the proxy then reconnects.
    closed: CancellationToken,
}

impl ClientConnection {
    pub(super) async fn connect(ep: &Endpoint, timeout: Duration, max_frame: u32) -> std::io::Result<Self> {
        let addr = ep.socket_addr_string();
        let stream = tokio::time::timeout(timeout, TcpStream::connect(&addr)).await.map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::TimedOut, format!("connect {addr} timed out"))
        })??;
        let _ = stream.set_nodelay(true);
        let (rd, wr) = stream.into_split();
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let pending = Pending::default();
        let closed = CancellationToken::new();
        tokio::spawn(write_loop(wr, rx, closed.clone()));
        tokio::spawn(read_loop(rd, pending.clone(), closed.clone(), max_frame));
        Ok(Self { tx, pending, next_id: AtomicU32::new(1), closed })
    }

    pub(super) fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    fn next_id(&self) -> u32 {
        loop {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            if id != 0 {
                return id;
            }
        }
    }

    pub(super) async fn call(
        &self,
        request: &mut RequestPacket<'_>,
        timeout: Duration,
    ) -> Result<Option<Response>, ClientError> {
        let id = self.next_id();
        request.i_request_id = id as i32;
        let mut frame = Vec::with_capacity(request.s_buffer.len() + 64);
        write_frame(&mut frame, |w| request.encode_fields(w));
        if request.is_oneway() {
            self.tx.send(frame).await.map_err(|_| ClientError::Closed)?;
            return Ok(None);
        }
        let (otx, orx) = oneshot::channel();
        self.lock_pending().insert(id, otx);
        if self.tx.send(frame).await.is_err() {
            self.lock_pending().remove(&id);
            return Err(ClientError::Closed);
        }
        match tokio::time::timeout(timeout, orx).await {
            Ok(Ok(rsp)) => Ok(Some(rsp)),
            Ok(Err(_)) => Err(ClientError::Closed),
            Err(_) => {
                self.lock_pending().remove(&id);
                Err(ClientError::Timeout { func: request.s_func_name.to_string(), timeout })
            }
        }
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, HashMap<u32, oneshot::Sender<Response>>> {
        lock(&self.pending)
    }
}

impl Drop for ClientConnection {
    fn drop(&mut self) {
        self.closed.cancel();
    }
}

fn lock(p: &Pending) -> std::sync::MutexGuard<'_, HashMap<u32, oneshot::Sender<Response>>> {
    // A panic while holding this lock cannot leave the map inconsistent (single inserts and
    // removes), so a poisoned lock is still safe to use.
    p.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn write_loop(mut wr: OwnedWriteHalf, mut rx: mpsc::Receiver<Vec<u8>>, closed: CancellationToken) {
    let mut batch = Vec::new();
    let mut joined = Vec::new();
    loop {
        let n = tokio::select! {
            _ = closed.cancelled() => break,
            n = rx.recv_many(&mut batch, 64) => n,
        };
        if n == 0 {
            break;
        }
        // Pipelined requests go out in one write.
        joined.clear();
        for f in batch.drain(..) {
            joined.extend_from_slice(&f);
        }
        if wr.write_all(&joined).await.is_err() {
            break;
        }
    }
    closed.cancel();
}

async fn read_loop(mut rd: OwnedReadHalf, pending: Pending, closed: CancellationToken, max_frame: u32) {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    'read: loop {
        if buf.capacity() == buf.len() {
            buf.reserve(READ_CHUNK);
        }
        let n = tokio::select! {
            _ = closed.cancelled() => break,
            n = rd.read_buf(&mut buf) => n,
        };
        match n {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        loop {
            match split_frame(&mut buf, max_frame) {
                Ok(Some(frame)) => match decode_response(&frame) {
                    Ok((id, rsp)) => {
                        if let Some(tx) = lock(&pending).remove(&id) {
                            let _ = tx.send(rsp);
                        }
                    }
                    Err(e) => {
                        debug!(error = %e, "undecodable reply; closing connection");
                        break 'read;
                    }
                },
                Ok(None) => break,
                Err(e) => {
                    debug!(error = %e, "bad reply frame; closing connection");
                    break 'read;
                }
            }
        }
    }
    closed.cancel();
    // Dropping the senders wakes every waiting call with `Closed`.
    lock(&pending).clear();
}

/// Decodes a reply: a `RequestPacket` for TUP versions, a `ResponsePacket` otherwise.
fn decode_response(body: &[u8]) -> Result<(u32, Response), DecodeError> {
    let version = peek_version(body)?;
    let mut r = Reader::new(body);
    if matches!(version, crate::packet::TUP_VERSION2 | crate::packet::TUP_VERSION3) {
        let p = RequestPacket::decode_fields(&mut r)?;
        let status: std::collections::BTreeMap<String, String> =
            p.status.into_iter().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let ret = status.get("STATUS_RESULT_CODE").and_then(|c| c.parse().ok()).unwrap_or(0);
        let desc = status.get("STATUS_RESULT_DESC").cloned().unwrap_or_default();
        let rsp = Response { version, ret, desc, buffer: p.s_buffer.into_owned(), status };
        Ok((p.i_request_id as u32, rsp))
    } else {
        let p = ResponsePacket::decode_fields(&mut r)?;
        let status = p.status.into_iter().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let rsp = Response {
            version,
            ret: p.i_ret,
            desc: p.s_result_desc.into_owned(),
            buffer: p.s_buffer.into_owned(),
            status,
        };
        Ok((p.i_request_id as u32, rsp))
    }
}
