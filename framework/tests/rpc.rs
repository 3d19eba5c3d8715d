//! The RPC server and client over real sockets: TARS v1, TUP v3/v2, oneway, pipelining,
//! framework return codes, limits.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{OBJ, start};
use tarsmon_framework::allow::AllowList;
use tarsmon_framework::client::{ClientError, ServantProxy, decode_ret};
use tarsmon_framework::codec::Writer;
use tarsmon_framework::packet::{TUP_VERSION2, TUP_VERSION3};
use tarsmon_framework::tup::UniAttribute;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn name_arg(name: &str) -> Vec<u8> {
    let mut w = Writer::new();
    w.string(name.as_bytes(), 1);
    w.into_inner()
}

#[tokio::test]
async fn tars_v1_call_returns_value_and_out_params() {
    let srv = start(|_| {}).await;
    let prx = ServantProxy::direct(&srv.proxy_string()).unwrap();
    let rsp = prx.invoke("getUsrName", name_arg("czzou")).await.unwrap().ok().unwrap();
    let mut r = rsp.reader();
    assert_eq!(r.read::<i32>(0).unwrap(), 100002);
    assert_eq!(r.read::<String>(2).unwrap(), "OUT_czzou_1");
    assert_eq!(r.read::<String>(3).unwrap(), "OUT_czzou_2");
}

#[tokio::test]
async fn tup_v3_and_v2_calls() {
    let srv = start(|_| {}).await;
    let prx = ServantProxy::direct(&srv.proxy_string()).unwrap();
    for version in [TUP_VERSION3, TUP_VERSION2] {
        let mut a = UniAttribute::new(version);
        a.put("sUsrName", &"czzou".to_owned());
        let rsp = prx.invoke_tup(version, "getUsrName", &a).await.unwrap().ok().unwrap();
        assert_eq!(rsp.version, version);
        let attrs = rsp.attributes().unwrap();
        assert_eq!(attrs.get::<i32>("").unwrap(), Some(100002));
        assert_eq!(attrs.get::<i32>("tars_ret").unwrap(), Some(100002));
        assert_eq!(attrs.get::<String>("sValue2").unwrap().as_deref(), Some("OUT_czzou_2"));
        // A missing argument is a decode error (-1) in TUP too.
        let empty = UniAttribute::new(version);
        let rsp = prx.invoke_tup(version, "getUsrName", &empty).await.unwrap();
        assert_eq!(rsp.ret, -1);
        let rsp = prx.invoke_tup(version, "noSuchFunc", &empty).await.unwrap();
        assert_eq!(rsp.ret, -3);
        assert_eq!(rsp.attributes().unwrap(), UniAttribute::new(version));
    }
}

#[tokio::test]
async fn framework_return_codes() {
    let srv = start(|_| {}).await;
    let prx = ServantProxy::direct(&srv.proxy_string()).unwrap();
    let rsp = prx.invoke("tars_ping", Vec::new()).await.unwrap();
    assert_eq!(rsp.ret, 0);
    assert_eq!(prx.invoke("noSuchFunc", Vec::new()).await.unwrap().ret, -3);
    // Missing required argument.
    let rsp = prx.invoke("getUsrName", Vec::new()).await.unwrap();
    assert_eq!(rsp.ret, -1);
    assert!(rsp.desc.contains("require field not exist"), "{}", rsp.desc);
    // A servant name this adapter does not serve (TarsCpp answers -4; Node does not check).
    let wrong = ServantProxy::direct(&format!("X.Y.ZObj@tcp -h 127.0.0.1 -p {}", srv.addr.port())).unwrap();
    assert_eq!(wrong.invoke("tars_ping", Vec::new()).await.unwrap().ret, -4);
    assert!(srv.metrics.error_replies.load(Ordering::Relaxed) >= 3);
}

#[tokio::test]
async fn oneway_calls_run_and_get_no_reply() {
    let srv = start(|_| {}).await;
    let prx = ServantProxy::direct(&srv.proxy_string()).unwrap();
    for _ in 0..10 {
        prx.invoke_oneway("getUsrName", name_arg("x")).await.unwrap();
    }
    // A normal call after the oneway ones gets its own reply (not a stray oneway answer).
    let rsp = prx.invoke("test", Vec::new()).await.unwrap().ok().unwrap();
    assert_eq!(decode_ret::<i32>(&rsp).unwrap(), 0);
    assert_eq!(srv.servant.calls.load(Ordering::SeqCst), 11);
    assert_eq!(srv.metrics.oneway_requests.load(Ordering::Relaxed), 10);
}

#[tokio::test]
async fn pipelined_calls_on_one_connection_are_matched_by_request_id() {
    let srv = start(|_| {}).await;
    let prx = std::sync::Arc::new(ServantProxy::direct(&srv.proxy_string()).unwrap());
    // Slow replies computed concurrently must not block, or be confused with, fast ones.
    let mut calls = Vec::new();
    for i in 0..200 {
        let prx = prx.clone();
        calls.push(tokio::spawn(async move {
            if i % 10 == 0 {
                let mut w = Writer::new();
                w.i32(50, 1);
                let rsp = prx.invoke("slow", w.into_inner()).await.unwrap().ok().unwrap();
                assert_eq!(decode_ret::<i32>(&rsp).unwrap(), 50);
            } else {
                let name = format!("n{i}");
                let rsp = prx.invoke("getUsrName", name_arg(&name)).await.unwrap().ok().unwrap();
                assert_eq!(rsp.reader().read::<String>(2).unwrap(), format!("OUT_{name}_1"));
            }
        }));
    }
    for c in calls {
        c.await.unwrap();
    }
    assert_eq!(srv.metrics.connections_accepted.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn raw_pipelined_frames_in_one_write() {
    let srv = start(|_| {}).await;
    let mut sock = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    // Three requests (ids 1..=3) in a single segment.
    let mut bytes = Vec::new();
    for id in 1..=3 {
        let req = tarsmon_framework::packet::RequestPacket {
            i_version: 1,
            i_request_id: id,
            s_servant_name: OBJ.into(),
            s_func_name: "tars_ping".into(),
            ..Default::default()
        };
        tarsmon_framework::packet::write_frame(&mut bytes, |w| req.encode_fields(w));
    }
    sock.write_all(&bytes).await.unwrap();
    let mut got = Vec::new();
    let mut buf = bytes::BytesMut::new();
    while got.len() < 3 {
        sock.read_buf(&mut buf).await.unwrap();
        while let Some(f) = tarsmon_framework::packet::split_frame(&mut buf, 1 << 20).unwrap() {
            let rsp = tarsmon_framework::packet::ResponsePacket::decode_fields(
                &mut tarsmon_framework::codec::Reader::new(&f),
            )
            .unwrap();
            got.push((rsp.i_request_id, rsp.i_ret));
        }
    }
    assert_eq!(got, vec![(1, 0), (2, 0), (3, 0)]);
}

#[tokio::test]
async fn connection_limit_closes_extra_connections_and_counts_them() {
    let srv = start(|c| c.max_connections = 2).await;
    let a = ServantProxy::direct(&srv.proxy_string()).unwrap();
    let b = ServantProxy::direct(&srv.proxy_string()).unwrap();
    a.invoke("test", Vec::new()).await.unwrap().ok().unwrap();
    b.invoke("test", Vec::new()).await.unwrap().ok().unwrap();
    let c = ServantProxy::direct(&srv.proxy_string()).unwrap().with_timeout(Duration::from_millis(500));
    assert!(c.invoke("test", Vec::new()).await.is_err());
    assert_eq!(srv.metrics.connections_over_limit.load(Ordering::Relaxed), 1);
    // The connections within the limit keep working.
    a.invoke("test", Vec::new()).await.unwrap().ok().unwrap();
}

#[tokio::test]
async fn allow_list_refuses_other_peers() {
    let srv = start(|c| c.allow = AllowList::try_from(vec!["10.0.0.0/8".to_owned()]).unwrap()).await;
    let prx = ServantProxy::direct(&srv.proxy_string()).unwrap().with_timeout(Duration::from_millis(500));
    let err = prx.invoke("test", Vec::new()).await.unwrap_err();
    assert!(matches!(err, ClientError::Closed | ClientError::Timeout { .. }), "{err}");
    assert_eq!(srv.metrics.connections_not_allowed.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let srv = start(|c| c.endpoint.timeout = Duration::from_millis(200)).await;
    let mut sock = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    let mut buf = [0u8; 1];
    // The server closes the idle connection: the read sees EOF instead of hanging.
    let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut buf)).await.unwrap().unwrap();
    assert_eq!(n, 0);
    assert_eq!(srv.metrics.connections_idle_closed.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn shutdown_stops_the_adapter() {
    let srv = start(|_| {}).await;
    let prx = ServantProxy::direct(&srv.proxy_string()).unwrap();
    prx.invoke("test", Vec::new()).await.unwrap().ok().unwrap();
    srv.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), srv.task).await.unwrap().unwrap();
    assert!(tokio::net::TcpStream::connect(srv.addr).await.is_err());
}
