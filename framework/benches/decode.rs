//! Decode throughput of a realistic `StatF.reportMicMsg` frame: 12 entries (~1.5 KB), the size
//! TarsCpp clients send (`max-report-size` 1400). Measures framing + `RequestPacket` + the
//! `map<StatMicMsgHead, StatMicMsgBody>` argument, borrowing strings from the frame.
//! Baseline in the same run: one pass summing the frame's bytes (the least work that touches
//! every byte).
//!
//! `reportMicMsg_servant` is what a live server does with the frame: the request packet, then
//! `StatService::dispatch` — decoding straight into the pipeline's values (no allocation per
//! entry) and recording the 12 entries into the open slot (warm keys). Results: BENCHMARKS.md.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tarsmon_framework::codec::{MapEntries, Reader, Writer};
use tarsmon_framework::idl::stat::{StatMicMsg, StatMicMsgBody, StatMicMsgHead};
use tarsmon_framework::packet::{RequestPacket, split_frame, write_frame};
use tarsmon_framework::servant::{Args, Current, Dispatch, Servant};
use tarsmon_framework::services::stat::StatService;
use tarsmon_ingest::time::{Clock, ManualClock, TimestampMs};
use tarsmon_ingest::{Pipeline, PipelineConfig, StatTable};

const ENTRIES: usize = 12;

/// A frame as a TarsCpp client sends it: `name@version` masters, set fields, 9 buckets.
fn report_frame() -> Vec<u8> {
    let entries = (0..ENTRIES)
        .map(|i| {
            let head = StatMicMsgHead {
                master_name: format!("Shop.OrderServer@3.0.{}", i % 3).into(),
                slave_name: "Shop.PaymentServer".into(),
                interface_name: format!("settleOrderBatch{i}").into(),
                master_ip: "10.120.33.17".into(),
                slave_ip: format!("10.120.34.{}", 10 + i).into(),
                slave_port: 20_000 + i as i32,
                return_value: (i % 4) as i32 - 1,
                slave_set_name: "shop".into(),
                slave_set_area: "sz".into(),
                slave_set_id: "1".into(),
                tars_version: "".into(),
            };
            let buckets = [5, 10, 50, 100, 200, 500, 1000, 2000, 3000];
            let body = StatMicMsgBody {
                count: 1200 + i as i32,
                timeout_count: 3,
                exec_count: 7,
                interval_count: MapEntries(buckets.iter().map(|&b| (b, 100 + b % 7)).collect()),
                total_rsp_time: 98_765,
                max_rsp_time: 2_900,
                min_rsp_time: 1,
            };
            (head, body)
        })
        .collect();
    let msg: StatMicMsg<'_> = MapEntries(entries);
    let mut args = Writer::new();
    tarsmon_framework::codec::Encode::encode(&msg, &mut args, 1);
    args.bool(true, 2);
    let req = RequestPacket {
        i_version: 1,
        c_packet_type: 1,
        i_request_id: 42,
        s_servant_name: "tars.tarsstat.StatObj".into(),
        s_func_name: "reportMicMsg".into(),
        s_buffer: args.into_inner().into(),
        i_timeout: 5000,
        ..Default::default()
    };
    let mut frame = Vec::new();
    write_frame(&mut frame, |w| req.encode_fields(w));
    frame
}

/// What the StatObj servant does with a frame before aggregating: everything but the update.
fn decode(frame: &[u8]) -> usize {
    let mut buf = BytesMut::from(frame);
    let body = split_frame(&mut buf, 10 << 20).unwrap().unwrap();
    let req = RequestPacket::decode_fields(&mut Reader::new(&body)).unwrap();
    let mut r = Reader::new(&req.s_buffer);
    let msg: StatMicMsg<'_> = r.read(1).unwrap();
    let from_client: bool = r.read(2).unwrap();
    msg.0.iter().map(|(h, b)| h.interface_name.len() + b.count as usize).sum::<usize>()
        + usize::from(from_client)
}

fn bench(c: &mut Criterion) {
    let frame = report_frame();
    assert!(decode(&frame) > 0);
    let mut g = c.benchmark_group("reportMicMsg_frame");
    g.throughput(Throughput::Bytes(frame.len() as u64));
    g.bench_function("baseline_sum_bytes", |b| {
        b.iter(|| black_box(&frame).iter().map(|&x| u64::from(x)).sum::<u64>())
    });
    g.bench_function("decode", |b| b.iter(|| decode(black_box(&frame))));
    g.finish();
    let mut g = c.benchmark_group("reportMicMsg_entries");
    g.throughput(Throughput::Elements(ENTRIES as u64));
    g.bench_function("decode", |b| b.iter(|| decode(black_box(&frame))));
    g.finish();

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(tarsmon_engine::Store::open(dir.path(), Default::default()).unwrap());
    let clock = Arc::new(ManualClock::new(TimestampMs(1_705_309_200_000)));
    let pipeline =
        Pipeline::<StatTable>::open(store, clock as Arc<dyn Clock>, PipelineConfig::default()).unwrap();
    let service = StatService::new(Arc::new(pipeline));
    let peer = "10.120.33.17:40000".parse().unwrap();
    let serve = |frame: &[u8]| {
        let mut buf = BytesMut::from(frame);
        let body = split_frame(&mut buf, 10 << 20).unwrap().unwrap();
        let request = RequestPacket::decode_fields(&mut Reader::new(&body)).unwrap();
        let current = Current { peer, request: &request };
        match service.dispatch(&current, Args::new(&request).unwrap()) {
            Dispatch::Ready(reply) => reply.is_ok(),
            Dispatch::Later(_) => false,
        }
    };
    assert!(serve(&frame), "the servant must accept the frame");
    let mut g = c.benchmark_group("reportMicMsg_servant");
    g.throughput(Throughput::Elements(ENTRIES as u64));
    g.bench_function("decode_and_record", |b| b.iter(|| serve(black_box(&frame))));
    g.finish();
    eprintln!("frame size: {} bytes, {ENTRIES} entries", frame.len());
}

criterion_group!(benches, bench);
criterion_main!(benches);
