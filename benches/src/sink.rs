//! The null sink: a TARS server that only frames requests and discards them — the floor that
//! the loopback socket and the generator impose on any server. Two-way requests get a canned
//! success reply (the generator would stall otherwise), built from the request header alone;
//! the arguments are never decoded.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;
use tarsmon_framework::codec::Reader;
use tarsmon_framework::packet::{RequestPacket, split_frame};
use tarsmon_framework::servant::Reply;
use tarsmon_framework::server::write_reply;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Largest frame the sink accepts.
const MAX_FRAME: u32 = 10 << 20;

/// What the sink has seen.
#[derive(Debug, Default)]
pub struct SinkCounters {
    /// Frames read.
    pub frames: AtomicU64,
    /// Bytes read.
    pub bytes: AtomicU64,
}

/// Serves `listener` until the process ends.
pub async fn serve(listener: TcpListener, counters: Arc<SinkCounters>) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let counters = counters.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, &counters).await {
                eprintln!("sink: connection ended: {e}");
            }
        });
    }
}

async fn connection(mut stream: TcpStream, counters: &SinkCounters) -> anyhow::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = BytesMut::with_capacity(128 * 1024);
    let mut out = Vec::with_capacity(64 * 1024);
    loop {
        let n = stream.read_buf(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
        while let Some(frame) = split_frame(&mut buf, MAX_FRAME)? {
            counters.frames.fetch_add(1, Ordering::Relaxed);
            let req = RequestPacket::decode_fields(&mut Reader::new(&frame))?;
            if !req.is_oneway() {
                write_reply(&req, Ok(Reply::new(req.i_version).ret(&0i32)), &mut out);
            }
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
    }
}
