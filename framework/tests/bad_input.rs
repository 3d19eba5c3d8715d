//! Hostile and broken clients: truncated frames, huge lengths, undefined type ids, bad
//! lengths inside arguments, and 10 000 garbage connections — while a valid client keeps
//! being answered, nothing panics, and memory stays bounded.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::{OBJ, start};
use tarsmon_framework::client::ServantProxy;
use tarsmon_framework::codec::Writer;
use tarsmon_framework::packet::{RequestPacket, write_frame};
use tarsmon_framework::testing::hex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `bytes`, then reads until the server closes or `wait` passes; returns what came back.
async fn send_and_drain(addr: std::net::SocketAddr, bytes: &[u8], wait: Duration) -> Vec<u8> {
    let mut sock = TcpStream::connect(addr).await.unwrap();
    let _ = sock.write_all(bytes).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, sock.read_to_end(&mut out)).await;
    out
}

fn request_frame(func: &str, args: Vec<u8>) -> Vec<u8> {
    let req = RequestPacket {
        i_version: 1,
        i_request_id: 7,
        s_servant_name: OBJ.into(),
        s_func_name: func.into(),
        s_buffer: args.into(),
        ..Default::default()
    };
    let mut out = Vec::new();
    write_frame(&mut out, |w| req.encode_fields(w));
    out
}

fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn framing_errors_close_only_the_offending_connection() {
    let srv = start(|_| {}).await;
    let good = ServantProxy::direct(&srv.proxy_string()).unwrap();
    good.invoke("test", Vec::new()).await.unwrap().ok().unwrap();

    // Length 2^31: refused before anything is buffered, connection closed.
    let out = send_and_drain(srv.addr, &hex("80 00 00 00 10 01"), Duration::from_secs(5)).await;
    assert!(out.is_empty());
    // Length below 4.
    send_and_drain(srv.addr, &hex("00 00 00 02"), Duration::from_secs(5)).await;
    assert_eq!(srv.metrics.bad_frames.load(Ordering::Relaxed), 2);

    // A RequestPacket with undefined type ids 14 and 15.
    for bad in ["00 00 00 06 1e 01", "00 00 00 06 1f 01"] {
        assert!(send_and_drain(srv.addr, &hex(bad), Duration::from_secs(5)).await.is_empty());
    }
    assert_eq!(srv.metrics.bad_packets.load(Ordering::Relaxed), 2);

    // Truncated frame, then the client goes away.
    let mut frame = request_frame("test", Vec::new());
    frame.truncate(frame.len() - 3);
    send_and_drain(srv.addr, &frame, Duration::from_millis(200)).await;

    // The first client never noticed.
    good.invoke("test", Vec::new()).await.unwrap().ok().unwrap();
}

#[tokio::test]
async fn bad_arguments_get_minus_one_and_the_connection_lives_on() {
    let srv = start(|_| {}).await;
    // sUsrName@1 as a String4 whose length runs past the end of the buffer.
    let mut frame = request_frame("getUsrName", hex("17 7f ff ff ff 61 62"));
    frame.extend(request_frame("getUsrName", hex("16 01 61")));
    let mut sock = TcpStream::connect(srv.addr).await.unwrap();
    sock.write_all(&frame).await.unwrap();
    let mut buf = bytes::BytesMut::new();
    let mut rets = Vec::new();
    while rets.len() < 2 {
        assert!(sock.read_buf(&mut buf).await.unwrap() > 0);
        while let Some(f) = tarsmon_framework::packet::split_frame(&mut buf, 1 << 20).unwrap() {
            let rsp = tarsmon_framework::packet::ResponsePacket::decode_fields(
                &mut tarsmon_framework::codec::Reader::new(&f),
            )
            .unwrap();
            rets.push(rsp.i_ret);
        }
    }
    assert_eq!(rets, vec![-1, 0]);
}

/// A tiny deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn garbage(i: u64) -> Vec<u8> {
    let mut rng = Rng(i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let kind = rng.next() % 5;
    let mut bytes = match kind {
        // Pure noise.
        0 => (0..rng.next() % 200).map(|_| rng.next() as u8).collect(),
        // A huge claimed length, then a trickle.
        1 => {
            let mut v = 0xffff_fff0u32.to_be_bytes().to_vec();
            v.extend((0..64).map(|_| rng.next() as u8));
            v
        }
        // A plausible length (up to 10 MiB) with a little noise: the server must not reserve it.
        2 => {
            let mut v = ((rng.next() % (10 << 20)) as u32 + 4).to_be_bytes().to_vec();
            v.extend((0..100).map(|_| rng.next() as u8));
            v
        }
        // A valid frame with flipped bytes.
        3 => {
            let mut w = Writer::new();
            w.string(b"czzou", 1);
            let mut f = request_frame("getUsrName", w.into_inner());
            for _ in 0..4 {
                let at = 4 + (rng.next() as usize % (f.len() - 4));
                f[at] ^= rng.next() as u8 | 1;
            }
            f
        }
        // Deeply nested structs inside a valid length.
        _ => {
            let mut v = 1004u32.to_be_bytes().to_vec();
            v.extend(std::iter::repeat_n(0x0a, 1000));
            v
        }
    };
    bytes.truncate(bytes.len().max(1));
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_garbage_connections_do_not_disturb_a_valid_client() {
    let srv = start(|c| c.max_connections = 20_000).await;
    let rss_before = vm_rss_kib();
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let good = {
        let (stop, answered) = (stop.clone(), answered.clone());
        let prx = ServantProxy::direct(&srv.proxy_string()).unwrap().with_timeout(Duration::from_secs(10));
        tokio::spawn(async move {
            let mut w = Writer::new();
            w.string(b"ok", 1);
            let args = w.into_inner();
            while !stop.load(Ordering::Relaxed) {
                let rsp = prx.invoke("getUsrName", args.clone()).await.expect("valid client failed");
                assert_eq!(rsp.ret, 0);
                assert_eq!(rsp.reader().read::<String>(2).unwrap(), "OUT_ok_1");
                answered.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let total = 10_000u64;
    let wave = 250u64;
    let mut peak_rss = rss_before;
    for w in 0..total / wave {
        let mut conns = Vec::new();
        for i in 0..wave {
            let addr = srv.addr;
            conns.push(tokio::spawn(async move {
                send_and_drain(addr, &garbage(w * wave + i), Duration::from_millis(100)).await;
            }));
        }
        for c in conns {
            c.await.unwrap();
        }
        peak_rss = peak_rss.max(vm_rss_kib());
    }
    stop.store(true, Ordering::Relaxed);
    good.await.unwrap();
    let m = &srv.metrics;
    assert_eq!(m.connections_accepted.load(Ordering::Relaxed), total + 1);
    assert!(answered.load(Ordering::Relaxed) > 0);
    assert!(m.bad_frames.load(Ordering::Relaxed) + m.bad_packets.load(Ordering::Relaxed) > 0);
    // Claimed lengths of up to 4 GiB on thousands of connections must not turn into buffers.
    let growth_mib = peak_rss.saturating_sub(rss_before) / 1024;
    assert!(growth_mib < 256, "RSS grew by {growth_mib} MiB");
    // Every garbage connection is gone.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(m.connections_open.load(Ordering::Relaxed) <= 1);
}
