//! The hex vectors of spec `tars-protocol.md` §9.1 and property tests of every encode/decode pair.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;

use super::*;

pub(crate) use crate::testing::hex;

fn enc<T: Encode + ?Sized>(v: &T, tag: u8) -> Vec<u8> {
    to_bytes(v, tag)
}

#[test]
fn integers_use_the_narrowest_encoding() {
    let cases: &[(i64, u8, &str)] = &[
        (0, 0, "0c"),
        (1, 0, "00 01"),
        (-1, 0, "00 ff"),
        (127, 1, "10 7f"),
        (128, 1, "11 00 80"),
        (-128, 1, "10 80"),
        (-129, 1, "11 ff 7f"),
        (32767, 2, "21 7f ff"),
        (32768, 2, "22 00 00 80 00"),
        (-32769, 2, "22 ff ff 7f ff"),
        (2147483647, 3, "32 7f ff ff ff"),
        (2147483648, 3, "33 00 00 00 00 80 00 00 00"),
        (-2147483649, 3, "33 ff ff ff ff 7f ff ff ff"),
        (i64::MAX, 3, "33 7f ff ff ff ff ff ff ff"),
        (i64::MIN, 3, "33 80 00 00 00 00 00 00 00"),
        (5, 14, "e0 05"),
        (5, 15, "f0 0f 05"),
        (5, 200, "f0 c8 05"),
        (5, 255, "f0 ff 05"),
        (0, 15, "fc 0f"),
    ];
    for &(v, tag, want) in cases {
        assert_eq!(enc(&v, tag), hex(want), "i64 {v} @{tag}");
        assert_eq!(from_bytes::<i64>(&hex(want), tag).unwrap(), v);
        if let Ok(v32) = i32::try_from(v) {
            assert_eq!(enc(&v32, tag), hex(want), "i32 {v} @{tag}");
            assert_eq!(from_bytes::<i32>(&hex(want), tag).unwrap(), v32);
        }
    }
}

#[test]
fn bools_bytes_and_unsigned_types() {
    assert_eq!(enc(&true, 0), hex("00 01"));
    assert_eq!(enc(&false, 0), hex("0c"));
    assert_eq!(enc(&-1i8, 0), hex("00 ff"));
    assert_eq!(enc(&200u8, 0), hex("01 00 c8"));
    assert_eq!(enc(&40000u16, 0), hex("02 00 00 9c 40"));
    assert_eq!(enc(&4294967295u32, 0), hex("03 00 00 00 00 ff ff ff ff"));
    assert_eq!(from_bytes::<u8>(&hex("01 00 c8"), 0).unwrap(), 200);
    assert_eq!(from_bytes::<u32>(&hex("03 00 00 00 00 ff ff ff ff"), 0).unwrap(), u32::MAX);
    assert!(from_bytes::<bool>(&hex("00 01"), 0).unwrap());
    assert!(!from_bytes::<bool>(&hex("0c"), 0).unwrap());
}

#[test]
fn floats_are_written_cpp_style_and_read_in_every_style() {
    assert_eq!(enc(&1.5f32, 0), hex("04 3f c0 00 00"));
    assert_eq!(enc(&0f32, 0), hex("04 00 00 00 00"));
    assert_eq!(enc(&1.5f64, 1), hex("15 3f f8 00 00 00 00 00 00"));
    assert_eq!(enc(&0f64, 1), hex("15 00 00 00 00 00 00 00 00"));
    assert_eq!(enc(&-0.1f64, 1), hex("15 bf b9 99 99 99 99 99 9a"));
    // Node writes zero as ZeroTag; C++ widens FLOAT into double.
    assert_eq!(from_bytes::<f32>(&hex("0c"), 0).unwrap(), 0.0);
    assert_eq!(from_bytes::<f64>(&hex("1c"), 1).unwrap(), 0.0);
    assert_eq!(from_bytes::<f64>(&hex("14 3f c0 00 00"), 1).unwrap(), 1.5);
    assert_eq!(from_bytes::<f64>(&hex("15 bf b9 99 99 99 99 99 9a"), 1).unwrap(), -0.1);
}

#[test]
fn strings_switch_to_string4_above_255_bytes() {
    assert_eq!(enc("", 0), hex("06 00"));
    assert_eq!(enc("abc", 1), hex("16 03 61 62 63"));
    assert_eq!(enc("中", 1), hex("16 03 e4 b8 ad"));
    let s255 = "x".repeat(255);
    let e = enc(s255.as_str(), 2);
    assert_eq!((e.len(), &e[..3]), (257, &[0x26, 0xff, 0x78][..]));
    let s256 = "x".repeat(256);
    let e = enc(s256.as_str(), 2);
    assert_eq!((e.len(), &e[..6]), (261, &hex("27 00 00 01 00 78")[..]));
    assert_eq!(from_bytes::<String>(&e, 2).unwrap(), s256);
    assert_eq!(from_bytes::<&str>(&hex("16 03 e4 b8 ad"), 1).unwrap(), "中");
    // Strings are opaque bytes: invalid UTF-8 is replaced, not rejected, by owned targets.
    assert_eq!(from_bytes::<String>(&hex("06 01 ff"), 0).unwrap(), "\u{fffd}");
    assert_eq!(from_bytes::<&str>(&hex("06 01 ff"), 0), Err(DecodeError::InvalidUtf8));
}

#[test]
fn byte_vectors_are_simple_lists_and_lists_are_accepted() {
    assert_eq!(enc(&vec![1u8, 2, 0xff], 7), hex("7d 00 00 03 01 02 ff"));
    assert_eq!(enc(&Vec::<u8>::new(), 7), hex("7d 00 0c"));
    assert_eq!(enc(&vec![1i8, 2, -1], 7), hex("7d 00 00 03 01 02 ff"));
    // TarsCpp reads a LIST of INT1 as vector<byte>.
    assert_eq!(from_bytes::<Vec<u8>>(&hex("19 00 02 00 01 00 02"), 1).unwrap(), [1, 2]);
    let bytes = hex("7d 00 00 03 01 02 ff");
    let borrowed: Cow<'_, [u8]> = from_bytes(&bytes, 7).unwrap();
    assert!(matches!(borrowed, Cow::Borrowed(&[1, 2, 0xff])));
}

#[test]
fn lists_and_maps() {
    assert_eq!(enc(&vec![1i32, 1000, 0], 1), hex("19 00 03 00 01 01 03 e8 0c"));
    assert_eq!(enc(&vec!["a".to_owned(), "bc".to_owned()], 2), hex("29 00 02 06 01 61 06 02 62 63"));
    assert_eq!(enc(&BTreeMap::<String, String>::new(), 9), hex("98 0c"));
    let m = BTreeMap::from([("a".to_owned(), "b".to_owned())]);
    assert_eq!(enc(&m, 9), hex("98 00 01 06 01 61 16 01 62"));
    let m = BTreeMap::from([(5i32, 0i32), (10, 3)]);
    assert_eq!(enc(&m, 3), hex("38 00 02 00 05 1c 00 0a 10 03"));
    assert_eq!(from_bytes::<BTreeMap<i32, i32>>(&hex("38 00 02 00 05 1c 00 0a 10 03"), 3).unwrap(), m);
    let h: HashMap<String, String> = from_bytes(&hex("98 00 01 06 01 61 16 01 62"), 9).unwrap();
    assert_eq!(h["a"], "b");
}

crate::tars_struct! {
    #[derive(Debug, Clone, PartialEq)]
    struct TestInfo: "Test.TestInfo" {
        1 require ii: i32 = 34,
        2 optional s: String = "abc",
    }
}

crate::tars_struct! {
    #[derive(Debug, Clone, PartialEq)]
    struct TestInfo2: "Test.TestInfo2" {
        1 require t: TestInfo,
        2 require a: i32 = 12345,
    }
}

#[test]
fn structs_follow_the_cpp_check_default_rule_and_read_node_output() {
    let v = TestInfo2::default();
    assert_eq!(v.t.ii, 34);
    let cpp = hex("1a 10 22 0b 21 30 39");
    let node = hex("1a 10 22 26 03 61 62 63 0b 21 30 39");
    let mut w = Writer::new();
    v.encode_fields(&mut w);
    assert_eq!(w.as_slice(), cpp);
    for bytes in [&cpp, &node] {
        assert_eq!(TestInfo2::decode_fields(&mut Reader::new(bytes)).unwrap(), v);
    }
    let changed = TestInfo2 { t: TestInfo { ii: 34, s: "x".into() }, a: 12345 };
    let mut w = Writer::new();
    changed.encode_fields(&mut w);
    assert_eq!(TestInfo2::decode_fields(&mut Reader::new(w.as_slice())).unwrap(), changed);
}

crate::tars_struct! {
    #[derive(Debug, Clone, PartialEq)]
    struct Newer: "Test.Newer" {
        0 require a: i32,
        1 optional nested: TestInfo,
        2 optional list: Vec<String>,
        3 optional map: BTreeMap<String, Vec<u8>>,
        4 optional f: f64,
        7 optional d: i64,
        200 optional far: String,
    }
}

crate::tars_struct! {
    #[derive(Debug, Clone, PartialEq)]
    struct Older: "Test.Older" {
        0 require a: i32,
        7 optional d: i64,
    }
}

#[test]
fn unknown_fields_are_skipped_and_missing_optionals_keep_defaults() {
    let newer = Newer {
        a: 7,
        nested: TestInfo { ii: 1, s: "n".into() },
        list: vec!["x".into(); 3],
        map: BTreeMap::from([("k".into(), vec![1, 2])]),
        f: 2.5,
        d: 1 << 40,
        far: "far".into(),
    };
    let bytes = to_bytes(&newer, 0);
    let older: Older = from_bytes(&bytes, 0).unwrap();
    assert_eq!(older, Older { a: 7, d: 1 << 40 });
    // A struct in a list: the reader must skip to each struct's end.
    let pair = vec![newer.clone(), newer];
    let olders: Vec<Older> = from_bytes(&to_bytes(&pair, 1), 1).unwrap();
    assert_eq!(olders.len(), 2);
    // Missing require field.
    assert_eq!(from_bytes::<Older>(&hex("0a 70 01 0b"), 0), Err(DecodeError::RequiredMissing { tag: 0 }));
}

#[test]
fn hostile_inputs_fail_cleanly() {
    // Lengths and counts past the end never allocate.
    assert!(matches!(
        from_bytes::<String>(&hex("07 7f ff ff ff 61"), 0),
        Err(DecodeError::LengthPastEnd { .. })
    ));
    assert!(matches!(
        from_bytes::<Vec<i32>>(&hex("09 02 7f ff ff ff"), 0),
        Err(DecodeError::LengthPastEnd { .. })
    ));
    assert!(matches!(
        from_bytes::<Vec<u8>>(&hex("0d 00 02 7f ff ff ff"), 0),
        Err(DecodeError::LengthPastEnd { .. })
    ));
    assert_eq!(from_bytes::<Vec<i32>>(&hex("09 00 ff"), 0), Err(DecodeError::NegativeLength(-1)));
    assert!(matches!(
        from_bytes::<BTreeMap<i32, i32>>(&hex("08 02 00 10 00 00"), 0),
        Err(DecodeError::LengthPastEnd { .. })
    ));
    // Undefined type ids.
    assert_eq!(from_bytes::<i32>(&hex("0e"), 0), Err(DecodeError::InvalidType(14)));
    assert_eq!(Reader::new(&hex("0f")).skip_to_tag(1), Err(DecodeError::InvalidType(15)));
    // String length past the end.
    assert_eq!(from_bytes::<String>(&hex("06 05 61 62"), 0), Err(DecodeError::Truncated));
    // Truncated integers and heads.
    assert_eq!(from_bytes::<i32>(&hex("02 00 00"), 0), Err(DecodeError::Truncated));
    assert_eq!(from_bytes::<i32>(&hex("f2"), 0), Err(DecodeError::Truncated));
    // A wider wire type than the target is a mismatch; a narrower one is widened.
    assert!(matches!(
        from_bytes::<i32>(&hex("03 00 00 00 00 00 00 00 01"), 0),
        Err(DecodeError::Mismatch { .. })
    ));
    assert_eq!(from_bytes::<i64>(&hex("00 ff"), 0), Ok(-1));
    // Deep nesting is refused instead of overflowing the stack.
    let deep = vec![0x0a; 100_000];
    assert_eq!(Reader::new(&deep).skip_to_tag(1), Err(DecodeError::TooDeep));
    // A SimpleList whose inner head is not Char.
    assert_eq!(from_bytes::<Vec<u8>>(&hex("0d 01 00 01 ff"), 0), Err(DecodeError::BadSimpleList));
}

fn roundtrip<T>(v: &T, tag: u8)
where
    T: Encode + for<'de> Decode<'de> + PartialEq + std::fmt::Debug,
{
    let bytes = to_bytes(v, tag);
    let back: T = from_bytes(&bytes, tag).unwrap();
    assert_eq!(&back, v);
}

crate::tars_struct! {
    #[derive(Debug, Clone, PartialEq)]
    struct Everything: "Test.Everything" {
        0 require b: bool,
        1 require c: i8,
        2 optional s16: i16,
        3 optional s32: i32,
        4 optional s64: i64,
        5 optional u_8: u8,
        6 optional u_16: u16,
        7 optional u_32: u32,
        8 optional f: f32,
        9 optional d: f64,
        10 optional s: String,
        11 optional bytes: Vec<u8>,
        12 optional ints: Vec<i64>,
        13 optional strings: BTreeMap<String, String>,
        14 optional nested: Vec<TestInfo>,
        15 optional deep: BTreeMap<i32, Vec<BTreeMap<String, Vec<u8>>>>,
        255 optional last: i32,
    }
}

prop_compose! {
    fn test_info()(ii in any::<i32>(), s in ".{0,8}") -> TestInfo { TestInfo { ii, s } }
}

prop_compose! {
    fn everything()(
        (b, c, s16, s32, s64, u_8, u_16, u_32) in (any::<bool>(), any::<i8>(), any::<i16>(), any::<i32>(), any::<i64>(), any::<u8>(), any::<u16>(), any::<u32>()),
        f in any::<f32>().prop_filter("not NaN", |f| !f.is_nan()),
        d in any::<f64>().prop_filter("not NaN", |f| !f.is_nan()),
        s in ".{0,300}",
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        ints in proptest::collection::vec(any::<i64>(), 0..20),
        strings in proptest::collection::btree_map(".{0,5}", ".{0,5}", 0..5),
        nested in proptest::collection::vec(test_info(), 0..4),
        deep in proptest::collection::btree_map(any::<i32>(), proptest::collection::vec(proptest::collection::btree_map(".{0,3}", proptest::collection::vec(any::<u8>(), 0..4), 0..3), 0..3), 0..3),
        last in any::<i32>(),
    ) -> Everything {
        Everything { b, c, s16, s32, s64, u_8, u_16, u_32, f, d, s, bytes, ints, strings, nested, deep, last }
    }
}

proptest! {
    #[test]
    fn every_integer_roundtrips(v in any::<i64>(), tag in any::<u8>()) {
        roundtrip(&v, tag);
        roundtrip(&(v as i32), tag);
        roundtrip(&(v as i16), tag);
        roundtrip(&(v as i8), tag);
        roundtrip(&(v as u32), tag);
        roundtrip(&(v as u16), tag);
        roundtrip(&(v as u8), tag);
    }

    #[test]
    fn strings_and_bytes_roundtrip(s in ".{0,600}", b in proptest::collection::vec(any::<u8>(), 0..600), tag in any::<u8>()) {
        roundtrip(&s, tag);
        roundtrip(&b, tag);
    }

    #[test]
    fn nested_structs_roundtrip(v in everything(), tag in any::<u8>()) {
        roundtrip(&v, tag);
        roundtrip(&vec![v.clone(), v], tag);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = from_bytes::<Everything>(&bytes, 0);
        let _ = Everything::decode_fields(&mut Reader::new(&bytes));
        let mut r = Reader::new(&bytes);
        while let Ok(Some(ty)) = r.skip_to_tag(255) {
            if r.skip_field(ty).is_err() {
                break;
            }
        }
    }
}
