//! Spec §9.2–9.5: packet frames, TUP attributes, StatF and registry payloads from the real
//! implementations.

use std::borrow::Cow;

use super::*;
use crate::codec::tests::hex;
use crate::codec::{Encode, from_bytes, to_bytes};
use crate::idl::registry::EndpointF;
use crate::idl::stat::StatMicMsg;
use crate::servant::{Reply, ServantError};
use crate::server::write_reply;
use crate::tup::UniAttribute;

fn frame_of(body: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut out = Vec::new();
    write_frame(&mut out, body);
    out
}

fn split(bytes: &[u8]) -> BytesMut {
    let mut buf = BytesMut::from(bytes);
    let frame = split_frame(&mut buf, 1 << 20).unwrap().unwrap();
    assert!(buf.is_empty());
    frame
}

const FIND_REQ: &str = "00 00 00 58 10 01 2c 3c 40 01 56 1a 74 61 72 73 2e 74 61 72 73 72 65 67 69 73 74 72 79 2e 51 75 65 72 79 4f 62 6a
66 0e 66 69 6e 64 4f 62 6a 65 63 74 42 79 49 64 7d 00 00 17 16 15 74 61 72 73 2e 74 61 72 73 73 74 61 74 2e 53 74
61 74 4f 62 6a 81 0b b8 98 0c a8 0c";

#[test]
fn request_packet_matches_cpp_and_node() {
    let bytes = hex(FIND_REQ);
    let frame = split(&bytes);
    let req = RequestPacket::decode_fields(&mut Reader::new(&frame)).unwrap();
    assert_eq!((req.i_version, req.i_request_id, req.i_timeout), (1, 1, 3000));
    assert_eq!(req.s_servant_name, "tars.tarsregistry.QueryObj");
    assert_eq!(req.s_func_name, "findObjectById");
    assert_eq!(from_bytes::<String>(&req.s_buffer, 1).unwrap(), "tars.tarsstat.StatObj");
    assert_eq!(frame_of(|w| req.encode_fields(w)), bytes);
}

fn request(version: i16, id: i32, func: &str) -> RequestPacket<'static> {
    RequestPacket {
        i_version: version,
        c_packet_type: 0,
        i_message_type: 0,
        i_request_id: id,
        s_servant_name: Cow::Borrowed("TARS.NodeTarsServer.NodeTarsObj"),
        s_func_name: Cow::Owned(func.to_owned()),
        s_buffer: Cow::Borrowed(&[]),
        i_timeout: 3000,
        context: StringMap::new(),
        status: StringMap::new(),
    }
}

#[test]
fn responses_are_written_cpp_style() {
    let mut out = Vec::new();
    write_reply(&request(1, 1, "f"), Ok(Reply::new(1).ret(&0i32)), &mut out);
    assert_eq!(out, hex("00 00 00 12 10 01 2c 30 01 4c 5c 6d 00 00 01 0c 78 0c"));

    let mut out = Vec::new();
    write_reply(&request(1, 13, "f"), Err(ServantError::NoFunc), &mut out);
    let want = hex("00 00 00 23 10 01 2c 30 0d 4c 50 fd 6d 00 0c 78 0c 86 10 \"no such function\"");
    assert_eq!(out, want);

    // The spec's C++ vector for the same reply with TarsCpp's description.
    let rsp = ResponsePacket {
        i_version: 1,
        i_request_id: 13,
        i_ret: RetCode::NoFunc as i32,
        s_result_desc: Cow::Borrowed("no func"),
        ..ResponsePacket::default()
    };
    let want = hex("00 00 00 1a 10 01 2c 30 0d 4c 50 fd 6d 00 0c 78 0c 86 07 6e 6f 20 66 75 6e 63");
    assert_eq!(frame_of(|w| rsp.encode_fields(w)), want);
}

#[test]
fn node_style_responses_decode() {
    let bytes = hex("00 00 00 16 10 01 2c 30 0c 4c 5c 6d 00 00 01 0c 78 0c 86 00 98 0c");
    let frame = split(&bytes);
    let rsp = ResponsePacket::decode_fields(&mut Reader::new(&frame)).unwrap();
    assert_eq!((rsp.i_request_id, rsp.i_ret, &*rsp.s_buffer), (12, 0, &[0x0c][..]));
    // Java omits status: still a valid response.
    let java = hex("10 01 2c 30 0c 4c 5c 6d 00 00 01 0c");
    assert!(ResponsePacket::decode_fields(&mut Reader::new(&java)).unwrap().status.is_empty());
    // The Node server's -1 with a description.
    let err = hex(
        "10 01 2c 30 0f 4c 50 ff 6d 00 0c 78 0c 86 34 \"BindAdapter Exception:require field not exist, tag:1\" 98 0c",
    );
    let rsp = ResponsePacket::decode_fields(&mut Reader::new(&err)).unwrap();
    assert_eq!(
        (rsp.i_ret, rsp.s_result_desc.as_ref()),
        (-1, "BindAdapter Exception:require field not exist, tag:1")
    );
}

#[test]
fn tup_v3_request_and_reply() {
    let req = hex(
        "00 00 00 5a 10 03 2c 3c 40 10 56 1f \"TARS.NodeTarsServer.NodeTarsObj\" 66 0a \"getUsrName\" 7d 00 00 18 08 00 01 06 08 73 55 73 72 4e 61 6d 65 1d 00 00 07 06 05 63 7a 7a 6f 75 81 0b b8 98 0c a8 0c",
    );
    let frame = split(&req);
    let p = RequestPacket::decode_fields(&mut Reader::new(&frame)).unwrap();
    assert!(p.is_tup());
    let attrs = UniAttribute::decode(p.i_version, &p.s_buffer).unwrap();
    assert_eq!(attrs.get::<String>("sUsrName").unwrap().as_deref(), Some("czzou"));

    // The Node server's reply decodes; its return value is under "".
    let rsp_buffer = hex(
        "08 00 03 06 00 1d 00 00 05 02 00 01 86 a2 06 07 \"sValue1\" 1d 00 00 0d 06 0b \"OUT_czzou_1\" 06 07 \"sValue2\" 1d 00 00 0d 06 0b \"OUT_czzou_2\"",
    );
    let a = UniAttribute::decode(3, &rsp_buffer).unwrap();
    assert_eq!(a.get::<i32>("").unwrap(), Some(100002));
    assert_eq!(a.get::<String>("sValue2").unwrap().as_deref(), Some("OUT_czzou_2"));

    // Our error reply to a TUP call: an empty UniAttribute and the result code in status.
    let mut out = Vec::new();
    write_reply(&p, Err(ServantError::NoFunc), &mut out);
    let frame = split(&out);
    let r = RequestPacket::decode_fields(&mut Reader::new(&frame)).unwrap();
    assert_eq!(&*r.s_buffer, &hex("08 0c")[..]);
    assert_eq!(r.status["STATUS_RESULT_CODE"], "-3");
    assert_eq!((r.i_request_id, r.i_timeout, r.s_func_name.as_ref()), (16, 0, "getUsrName"));
}

#[test]
fn tup_v2_attributes_carry_type_names() {
    let req = hex("08 00 01 06 08 \"sUsrName\" 18 00 01 06 06 \"string\" 1d 00 00 07 06 05 \"czzou\"");
    let a = UniAttribute::decode(2, &req).unwrap();
    assert_eq!(a.get::<String>("sUsrName").unwrap().as_deref(), Some("czzou"));

    let mut a = UniAttribute::new(2);
    a.put("", &100002i32);
    a.put("sValue1", &"OUT_czzou_1".to_owned());
    a.put("sValue2", &"OUT_czzou_2".to_owned());
    let want = hex("08 00 03 06 00 18 00 01 06 05 \"int32\" 1d 00 00 05 02 00 01 86 a2
        06 07 \"sValue1\" 18 00 01 06 06 \"string\" 1d 00 00 0d 06 0b \"OUT_czzou_1\"
        06 07 \"sValue2\" 18 00 01 06 06 \"string\" 1d 00 00 0d 06 0b \"OUT_czzou_2\"");
    assert_eq!(a.encode(), want);

    // Node names lists "List<…>": found by attribute name regardless.
    let node = hex("08 00 01 06 01 76 18 00 01 06 0b \"List<int32>\" 1d 00 00 05 09 00 01 00 07");
    assert_eq!(UniAttribute::decode(2, &node).unwrap().get::<Vec<i32>>("v").unwrap(), Some(vec![7]));
}

#[test]
fn tup_requests_match_node_tup_encode() {
    for (version, want) in [
        (3, "00 00 00 59 10 03 2c 3c 40 01 56 19 \"Test.HelloServer.HelloObj\" 66 08 \"sayHello\" 7d 00 00 21
             08 00 02 06 04 \"name\" 1d 00 00 07 06 05 \"world\" 06 05 \"times\" 1d 00 00 02 00 03  8c 98 0c a8 0c"),
        (2, "00 00 00 6e 10 02 2c 3c 40 01 56 19 \"Test.HelloServer.HelloObj\" 66 08 \"sayHello\" 7d 00 00 36
             08 00 02 06 04 \"name\" 18 00 01 06 06 \"string\" 1d 00 00 07 06 05 \"world\"
             06 05 \"times\" 18 00 01 06 05 \"int32\" 1d 00 00 02 00 03  8c 98 0c a8 0c"),
    ] {
        let mut a = UniAttribute::new(version);
        a.put("name", &"world".to_owned());
        a.put("times", &3i32);
        let buffer = a.encode();
        let p = RequestPacket {
            i_version: version,
            i_request_id: 1,
            s_servant_name: Cow::Borrowed("Test.HelloServer.HelloObj"),
            s_func_name: Cow::Borrowed("sayHello"),
            s_buffer: Cow::Owned(buffer),
            ..RequestPacket::default()
        };
        assert_eq!(frame_of(|w| p.encode_fields(w)), hex(want), "TUP v{version}");
    }
}

const NODE_REPORT: &str = "18 00 01 0a 06 0f 54 65 73 74 2e 4e 6f 64 65 43 6c 69 65 6e 74 16 0b 54 65 73 74 2e 53 65 72 76 65 72 26 05 68 65 6c
6c 6f 36 09 31 32 37 2e 30 2e 30 2e 31 46 09 31 32 37 2e 30 2e 30 2e 31 51 27 10 6c 76 00 86 00 96 00 a6 00 0b 1a 00
03 1c 20 01 38 00 03 00 05 1c 00 0a 10 03 00 32 1c 40 1e 50 14 60 01 0b 20 01";

#[test]
fn node_stat_report_decodes_borrowing_strings() {
    let bytes = hex(NODE_REPORT);
    let mut r = Reader::new(&bytes);
    let msg: StatMicMsg<'_> = r.read(1).unwrap();
    let from_client: bool = r.read(2).unwrap();
    assert!(from_client);
    let (head, body) = &msg.0[0];
    assert_eq!(head.master_name, "Test.NodeClient");
    assert!(matches!(head.master_name, Cow::Borrowed(_)));
    assert_eq!((head.slave_name.as_ref(), head.interface_name.as_ref()), ("Test.Server", "hello"));
    assert_eq!((head.slave_port, head.return_value), (10000, 0));
    assert_eq!((body.count, body.timeout_count, body.exec_count), (3, 0, 1));
    assert_eq!(body.interval_count.0, vec![(5, 0), (10, 3), (50, 0)]);
    assert_eq!((body.total_rsp_time, body.max_rsp_time, body.min_rsp_time), (30, 20, 1));
    // Re-encoding (C++ style: empty optional strings omitted) decodes to the same report.
    let again = to_bytes(&msg, 1);
    assert_eq!(from_bytes::<StatMicMsg<'_>>(&again, 1).unwrap(), msg);
    assert!(again.len() < bytes.len());
}

#[test]
fn automatic_node_report_with_two_entries() {
    let bytes = hex("18 00 02
 0a 06 0f \"Test.NodeClient\" 16 0d \"tars.tarsstat\" 26 0c \"reportMicMsg\" 36 09 \"127.0.0.1\" 46 09 \"127.0.0.1\" 51 47 75 6c 76 00 86 00 96 00 a6 00 0b
 1a 00 02 1c 2c 38 00 09 00 05 1c 00 0a 1c 00 32 10 01 00 64 10 01 01 00 c8 1c 01 01 f4 1c 01 03 e8 1c 01 07 d0 1c 01 0b b8 1c 40 57 50 33 6c 0b
 0a 06 0f \"Test.NodeClient\" 16 11 \"tars.tarsregistry\" 26 19 \"findObjectByIdInSameGroup\" 36 09 \"127.0.0.1\" 46 09 \"127.0.0.1\" 51 45 e2 6c 76 00 86 00 96 00 a6 00 0b
 1a 00 01 1c 2c 38 00 09 00 05 1c 00 0a 1c 00 32 10 01 00 64 1c 01 00 c8 1c 01 01 f4 1c 01 03 e8 1c 01 07 d0 1c 01 0b b8 1c 40 0e 50 0e 6c 0b
20 01");
    let mut r = Reader::new(&bytes);
    let msg: StatMicMsg<'_> = r.read(1).unwrap();
    assert_eq!(msg.0.len(), 2);
    let (h, b) = &msg.0[0];
    assert_eq!((h.slave_name.as_ref(), h.slave_port), ("tars.tarsstat", 18293));
    assert_eq!((b.count, b.total_rsp_time, b.max_rsp_time, b.min_rsp_time), (2, 87, 51, 0));
    assert_eq!(b.interval_count.0.len(), 9);
    assert_eq!(msg.0[1].0.slave_port, 17890);
    assert!(r.read::<bool>(2).unwrap());
}

#[test]
fn registry_payloads() {
    let ep =
        EndpointF { host: "127.0.0.1".into(), port: 18293, timeout: 60000, istcp: 1, ..EndpointF::default() };
    let cpp = hex("09 00 01 0a 06 09 31 32 37 2e 30 2e 30 2e 31 11 47 75 22 00 00 ea 60 30 01 4c 0b");
    assert_eq!(to_bytes(&vec![ep.clone()], 0), cpp);
    let node = hex(
        "09 00 01 0a 06 09 31 32 37 2e 30 2e 30 2e 31 11 47 75 22 00 00 ea 60 30 01 4c 5c 6c 76 00 8c 9c bc cc 0b",
    );
    assert_eq!(from_bytes::<Vec<EndpointF>>(&node, 0).unwrap(), vec![ep.clone()]);
    // findObjectById4Any reply: ret@0, active@2, inactive@3.
    let any = hex(
        "0c 29 00 01 0a 06 09 \"127.0.0.1\" 11 47 75 22 00 00 ea 60 30 01 4c 5c 6c 76 00 8c 9c bc cc 0b 39 0c",
    );
    let mut r = Reader::new(&any);
    assert_eq!(r.read::<i32>(0).unwrap(), 0);
    assert_eq!(r.read::<Vec<EndpointF>>(2).unwrap(), vec![ep.clone()]);
    assert!(r.read::<Vec<EndpointF>>(3).unwrap().is_empty());
    let mut w = Writer::new();
    0i32.encode(&mut w, 0);
    vec![ep].encode(&mut w, 2);
    Vec::<EndpointF>::new().encode(&mut w, 3);
    assert_eq!(
        w.into_inner(),
        hex("0c 29 00 01 0a 06 09 \"127.0.0.1\" 11 47 75 22 00 00 ea 60 30 01 4c 0b 39 0c")
    );
}

#[test]
fn framing_rejects_bad_lengths_and_waits_for_more() {
    let mut buf = BytesMut::from(&hex("00 00 00 03")[..]);
    assert_eq!(split_frame(&mut buf, 100), Err(FrameError::TooShort(3)));
    let mut buf = BytesMut::from(&hex("80 00 00 00")[..]);
    assert_eq!(split_frame(&mut buf, 100), Err(FrameError::TooLong { len: 1 << 31, max: 100 }));
    let mut buf = BytesMut::from(&hex("00 00 00 08 01")[..]);
    assert_eq!(split_frame(&mut buf, 100), Ok(None));
    let mut buf = BytesMut::from(&hex("00 00 00 05 01 00 00 00 04 00 00")[..]);
    assert_eq!(split_frame(&mut buf, 100).unwrap().as_deref(), Some(&[1u8][..]));
    assert_eq!(split_frame(&mut buf, 100).unwrap().as_deref(), Some(&[][..]));
    assert_eq!(split_frame(&mut buf, 100), Ok(None));
}
