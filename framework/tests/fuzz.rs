//! Mutation fuzzing of every decoder that reads untrusted bytes: frames, `RequestPacket`,
//! `ResponsePacket`, TUP attributes and StatF reports. Seeds are the frames of spec §9;
//! mutations flip, insert, delete and splice bytes and rewrite lengths.
//!
//! The toolchain here is stable-only, so `cargo fuzz` (nightly) is not available; this runs
//! inside the test suite for a bounded time: `TARSMON_FUZZ_SECS` (default 10) seconds, and
//! `TARSMON_FUZZ_SEED` to reproduce a run. Properties: no decoder panics, and whatever decodes
//! re-encodes to bytes that decode to the same value.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bytes::BytesMut;
use tarsmon_framework::codec::{Reader, from_bytes, to_bytes};
use tarsmon_framework::idl::stat::StatMicMsg;
use tarsmon_framework::packet::{RequestPacket, ResponsePacket, split_frame, write_frame};
use tarsmon_framework::testing::hex;
use tarsmon_framework::tup::UniAttribute;

const SEEDS: &[&str] = &[
    // findObjectById request (§9.2)
    "00 00 00 58 10 01 2c 3c 40 01 56 1a \"tars.tarsregistry.QueryObj\" 66 0e \"findObjectById\" 7d 00 00 17 16 15 \"tars.tarsstat.StatObj\" 81 0b b8 98 0c a8 0c",
    // Node reportMicMsg (§9.4 a)
    "00 00 00 a2 10 01 2c 3c 40 02 56 15 \"tars.tarsstat.StatObj\" 66 0c \"reportMicMsg\" 7d 00 00 68 18 00 01 0a 06 0f \"Test.NodeClient\" 16 0b \"Test.Server\" 26 05 \"hello\" 36 09 \"127.0.0.1\" 46 09 \"127.0.0.1\" 51 27 10 6c 76 00 86 00 96 00 a6 00 0b 1a 00 03 1c 20 01 38 00 03 00 05 1c 00 0a 10 03 00 32 1c 40 1e 50 14 60 01 0b 20 01 81 0b b8 98 0c a8 0c",
    // TUP v3 request (§9.3)
    "00 00 00 5a 10 03 2c 3c 40 10 56 1f \"TARS.NodeTarsServer.NodeTarsObj\" 66 0a \"getUsrName\" 7d 00 00 18 08 00 01 06 08 \"sUsrName\" 1d 00 00 07 06 05 \"czzou\" 81 0b b8 98 0c a8 0c",
    // Node response (§9.2)
    "00 00 00 16 10 01 2c 30 0c 4c 5c 6d 00 00 01 0c 78 0c 86 00 98 0c",
    // registry reply with a node_name context (§9.4 b)
    "00 00 00 33 10 01 2c 30 02 4c 5c 6d 00 00 1e 0c 29 00 01 0a 06 09 \"127.0.0.1\" 11 47 75 22 00 00 ea 60 30 01 4c 0b 39 0c 78 0c 86 00 98 0c",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    for _ in 0..1 + rng.below(4) {
        let len = input.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.next() as u8;
            }
            2 => {
                let i = rng.below(len + 1);
                input.insert(i, rng.next() as u8);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = rng.below(len - i).min(8) + 1;
                input.drain(i..(i + n).min(len));
            }
            4 => {
                // Splice a slice of another seed.
                let other = &seeds[rng.below(seeds.len())];
                let a = rng.below(other.len());
                let b = a + rng.below(other.len() - a);
                let at = rng.below(len + 1);
                input.splice(at..at, other[a..b].iter().copied());
            }
            5 if len >= 4 => {
                // Interesting lengths and counts.
                let v: u32 = [0, 1, 4, 0x7f, 0xff, 0x100, 0x7fff_ffff, 0x8000_0000, u32::MAX][rng.below(9)];
                let i = rng.below(len - 3);
                input[i..i + 4].copy_from_slice(&v.to_be_bytes());
            }
            _ if len > 0 => input.truncate(rng.below(len)),
            _ => {}
        }
    }
}

fn check(input: &[u8]) {
    // Framing, as the server reads it.
    let mut buf = BytesMut::from(input);
    while let Ok(Some(_)) = split_frame(&mut buf, 1 << 20) {}
    let body = input.get(4..).unwrap_or_default();
    for bytes in [input, body] {
        if let Ok(req) = RequestPacket::decode_fields(&mut Reader::new(bytes)) {
            let mut again = Vec::new();
            write_frame(&mut again, |w| req.encode_fields(w));
            let back = RequestPacket::decode_fields(&mut Reader::new(&again[4..])).unwrap();
            assert_eq!(back, req);
            if req.is_tup() {
                let _ = UniAttribute::decode(req.i_version, &req.s_buffer);
            }
            let mut r = Reader::new(&req.s_buffer);
            if let Ok(msg) = r.read::<StatMicMsg<'_>>(1) {
                let again = to_bytes(&msg, 1);
                assert_eq!(from_bytes::<StatMicMsg<'_>>(&again, 1).unwrap(), msg);
            }
        }
        if let Ok(rsp) = ResponsePacket::decode_fields(&mut Reader::new(bytes)) {
            let mut again = Vec::new();
            write_frame(&mut again, |w| rsp.encode_fields(w));
            assert_eq!(ResponsePacket::decode_fields(&mut Reader::new(&again[4..])).unwrap(), rsp);
        }
        let _ = UniAttribute::decode(2, bytes);
        let _ = UniAttribute::decode(3, bytes);
    }
}

#[test]
fn mutated_frames_never_panic_and_decoded_values_roundtrip() {
    let secs: u64 = std::env::var("TARSMON_FUZZ_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    let seed: u64 = std::env::var("TARSMON_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed);
    let seeds: Vec<Vec<u8>> = SEEDS.iter().map(|s| hex(s)).collect();
    for s in &seeds {
        check(s);
    }
    let mut rng = Rng(seed | 1);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut runs = 0u64;
    while Instant::now() < deadline {
        for _ in 0..1000 {
            let mut input = seeds[rng.below(seeds.len())].clone();
            mutate(&mut rng, &mut input, &seeds);
            check(&input);
            runs += 1;
        }
    }
    eprintln!("fuzz: {runs} inputs in {secs} s (seed {seed})");
    assert!(runs > 0);
}
