//! [`Encode`]/[`Decode`] for the TARS built-in types and containers.
//!
//! | Rust | TARS IDL | wire |
//! |---|---|---|
//! | `bool` | bool | Int8 / ZeroTag |
//! | `i8`, `i16`, `i32`, `i64` | byte, short, int, long | narrowest integer |
//! | `u8`, `u16`, `u32` | unsigned byte/short/int | widened one step (short, int, long) |
//! | `f32`, `f64` | float, double | FLOAT / DOUBLE (ZeroTag accepted) |
//! | `String`, `Cow<str>`, `&str` | string | String1 / String4 |
//! | `Vec<u8>`, `Cow<[u8]>` | `vector<byte>` | SimpleList (LIST accepted) |
//! | `Vec<T>` | `vector<T>` | LIST |
//! | `BTreeMap`, `HashMap`, [`MapEntries`](crate::codec::MapEntries) | `map<K, V>` | MAP |
//!
//! Strings are opaque bytes on the wire. `String` and `Cow<str>` replace invalid UTF-8 with
//! U+FFFD (`Cow` stays borrowed when the bytes are valid); `&str` rejects invalid UTF-8.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};

use super::{DecodeError, Reader, TypeId, Writer};

/// A value that can be written as a TARS field.
pub trait Encode {
    /// Writes `self` as a field with `tag`.
    fn encode(&self, w: &mut Writer, tag: u8);

    /// The tars2cpp check-default rule for an `optional` field (spec §1.9): whether the field
    /// may be left out given its declared default. Scalars and strings are omitted when equal
    /// to the default, containers when empty; bools and structs are always written.
    fn is_omittable(&self, default: &Self) -> bool {
        let _ = default;
        false
    }

    /// Writes a `vector<Self>`. The default is a LIST; bytes override it with a SimpleList.
    fn encode_slice(items: &[Self], w: &mut Writer, tag: u8)
    where
        Self: Sized,
    {
        w.list_begin(items.len(), tag);
        for item in items {
            item.encode(w, 0);
        }
    }
}

/// A value that can be read from a TARS field, possibly borrowing from the input.
pub trait Decode<'de>: Sized {
    /// Reads the payload of a field whose head (`tag`, `ty`) was just consumed.
    fn decode(r: &mut Reader<'de>, tag: u8, ty: TypeId) -> Result<Self, DecodeError>;

    /// Reads a `vector<Self>` payload. The default reads a LIST; bytes also accept SimpleList.
    fn decode_vec(r: &mut Reader<'de>, tag: u8, ty: TypeId) -> Result<Vec<Self>, DecodeError> {
        if ty != TypeId::List {
            return Err(DecodeError::Mismatch { tag, found: ty as u8, expected: "list" });
        }
        let n = r.read_count(1)?;
        r.nested(|r| {
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                out.push(r.read(0)?);
            }
            Ok(out)
        })
    }
}

/// The type name a value carries in a TUP version 2 attribute (spec §2.7).
pub trait TupName {
    /// E.g. `int32`, `string`, `list<int32>`, `map<string,string>`, `tars.StatMicMsgHead`.
    fn tup_name() -> String;
}

impl<T: Encode + ?Sized> Encode for &T {
    fn encode(&self, w: &mut Writer, tag: u8) {
        (**self).encode(w, tag);
    }
}

macro_rules! int_impl {
    ($t:ty, $via:ty, $write:ident, $widest:ident, $name:literal) => {
        impl Encode for $t {
            #[inline]
            fn encode(&self, w: &mut Writer, tag: u8) {
                w.$write(<$via>::from(*self), tag);
            }
            fn is_omittable(&self, default: &Self) -> bool {
                self == default
            }
        }
        impl<'de> Decode<'de> for $t {
            #[inline]
            fn decode(r: &mut Reader<'de>, tag: u8, ty: TypeId) -> Result<Self, DecodeError> {
                let v = r.int_payload(tag, ty, TypeId::$widest, $name)?;
                <$t>::try_from(v).map_err(|_| DecodeError::OutOfRange { tag })
            }
        }
        impl TupName for $t {
            fn tup_name() -> String {
                $name.to_owned()
            }
        }
    };
}

int_impl!(i16, i16, i16, Int16, "short");
int_impl!(i32, i32, i32, Int32, "int32");
int_impl!(i64, i64, i64, Int64, "int64");
// Unsigned IDL types travel as the next wider signed type (spec §1.4).
int_impl!(u16, i32, i32, Int32, "int32");
int_impl!(u32, i64, i64, Int64, "int64");

impl Encode for i8 {
    #[inline]
    fn encode(&self, w: &mut Writer, tag: u8) {
        w.i8(*self, tag);
    }
    fn is_omittable(&self, default: &Self) -> bool {
        self == default
    }
    fn encode_slice(items: &[Self], w: &mut Writer, tag: u8) {
        let bytes: Vec<u8> = items.iter().map(|&b| b as u8).collect();
        w.bytes(&bytes, tag);
    }
}

impl<'de> Decode<'de> for i8 {
    #[inline]
    fn decode(r: &mut Reader<'de>, tag: u8, ty: TypeId) -> Result<Self, DecodeError> {
        let v = r.int_payload(tag, ty, TypeId::Int8, "char")?;
        Ok(v as i8) // Int8/ZeroTag payloads always fit
    }
    fn decode_vec(r: &mut Reader<'de>, tag: u8, ty: TypeId) -> Result<Vec<Self>, DecodeError> {
        Ok(read_byte_vec(r, tag, ty)?.iter().map(|&b| b as i8).collect())
    }
}

impl TupName for i8 {
    fn tup_name() -> String {
        "char".to_owned()
    }
}

/// A scalar `u8` is TARS `unsigned byte` (sent as a short); `Vec<u8>` is `vector<byte>`.
impl Encode for u8 {
    #[inline]
    fn encode(&self, w: &mut Writer, tag: u8) {
        w.i16(i16::from(*self), tag);
    }
    fn is_omittable(&self, default: &Self) -> bool {
        self == default
    }
    fn encode_slice(items: &[Self], w: &mut Writer, tag: u8) {
        w.bytes(items, tag);
    }
}

impl<'de> Decode<'de> for u8 {
    #[inline]
    fn decode(r: &mut Reader<'de>, tag: u8, ty: TypeId) -> Result<Self, DecodeError> {
        let v = r.int_payload(tag, ty, TypeId::Int16, "short")?;
        u8::try_from(v).map_err(|_| DecodeError::OutOfRange { tag })
    }
    fn decode_vec(r: &mut Reader<'de>, tag: u8, ty: TypeId) -> Result<Vec<Self>, DecodeError> {
        read_byte_vec(r, tag, ty).map(Cow::into_owned)
    }
}

impl TupName for u8 {
    fn tup_name() -> String {
        "short".to_owned()
    }
}

/// Reads `vector<byte>`: a SimpleList (borrowed) or, like TarsCpp, a LIST of Int8 (copied).
fn read_byte_vec<'de>(r: &mut Reader<'de>, tag: u8, ty: TypeId) -> Result<Cow<'de, [u8]>, DecodeError> {
    match ty {
        TypeId::SimpleList => {
            let n = r.read_simple_list_len()?;
            r.take(n).map(Cow::Borrowed)
        }
        TypeId::List => {
            let n = r.read_count(1)?;
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let b: i8 = r.read(0)?;
                out.push(b as u8);
            }
            Ok(Cow::Owned(out))
        }
        _ => Err(DecodeError::Mismatch { tag, found: ty as u8, expected: "list<char>" }),
    }
}

impl Encode for bool {
    #[inline]
    fn encode(&self, w: &mut Writer, tag: u8) {
        w.bool(*self, tag);
    }
}

impl<'de> Decode<'de> for bool {
    #[inline]
    fn decode(r: &mut Reader<'de>, tag: u8, ty: TypeId) -> Result<Self, DecodeError> {
        Ok(r.int_payload(tag, ty, TypeId::Int8, "bool")? != 0)
    }
}

impl TupName for bool {
    fn tup_name() -> String {
        "bool".to_owned()
    }
}

impl Encode for f32 {
    fn encode(&self, w: &mut Writer, tag: u8) {
        w.f32(*self, tag);
    }
    fn is_omittable(&self, default: &Self) -> bool {
        self.to_bits() == default.to_bits()
    }
}

impl<'de> Decode<'de> for f32 {
    fn decode(r: &mut Reader<'de>, tag: u8, ty: TypeId) -> Result<Self, DecodeError> {
        match ty {
            TypeId::ZeroTag => Ok(0.0),
            TypeId::Float => r.f32_payload(),
            _ => Err(DecodeError::Mismatch { tag, found: ty as u8, expected: "float" }),
        }
    }
}

impl TupName for f32 {
    fn tup_name() -> String {
        "float".to_owned()
    }
}

impl Encode for f64 {
    fn encode(&self, w: &mut Writer, tag: u8) {
        w.f64(*self, tag);
    }
    fn is_omittable(&self, default: &Self) -> bool {
        self.to_bits() == default.to_bits()
    }
}

impl<'de> Decode<'de> for f64 {
    fn decode(r: &mut Reader<'de>, tag: u8, ty: TypeId) -> Result<Self, DecodeError> {
        match ty {
            TypeId::ZeroTag => Ok(0.0),
            TypeId::Float => r.f32_payload().map(f64::from),
            TypeId::Double => r.f64_payload(),
            _ => Err(DecodeError::Mismatch { tag, found: ty as u8, expected: "double" }),
        }
    }
}

impl TupName for f64 {
    fn tup_name() -> String {
        "double".to_owned()
    }
}

impl Encode for str {
    #[inline]
    fn encode(&self, w: &mut Writer, tag: u8) {
        w.string(self.as_bytes(), tag);
    }
    fn is_omittable(&self, default: &Self) -> bool {
        self == default
    }
}

impl Encode for String {
    #[inline]
    fn encode(&self, w: &mut Writer, tag: u8) {
        w.string(self.as_bytes(), tag);
    }
    fn is_omittable(&self, default: &Self) -> bool {
        self == default
    }
}

impl<'de> Decode<'de> for String {
    fn decode(r: &mut Reader<'de>, tag: u8, ty: TypeId) -> Result<Self, DecodeError> {
        Ok(String::from_utf8_lossy(r.string_payload(tag, ty)?).into_owned())
    }
}

impl Encode for Cow<'_, str> {
    #[inline]
    fn encode(&self, w: &mut Writer, tag: u8) {
        w.string(self.as_bytes(), tag);
    }
    fn is_omittable(&self, default: &Self) -> bool {
        self == default
    }
}

impl<'de> Decode<'de> for Cow<'de, str> {
    /// Borrowed when the bytes are UTF-8 (checked with `str::from_utf8`, whose ASCII fast
    /// path is several times `from_utf8_lossy`'s chunk walk); otherwise a lossy copy.
    #[inline]
    fn decode(r: &mut Reader<'de>, tag: u8, ty: TypeId) -> Result<Self, DecodeError> {
        let bytes = r.string_payload(tag, ty)?;
        Ok(match std::str::from_utf8(bytes) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(bytes),
        })
    }
}

impl<'de> Decode<'de> for &'de str {
    #[inline]
    fn decode(r: &mut Reader<'de>, tag: u8, ty: TypeId) -> Result<Self, DecodeError> {
        std::str::from_utf8(r.string_payload(tag, ty)?).map_err(|_| DecodeError::InvalidUtf8)
    }
}

macro_rules! string_name {
    ($($t:ty),*) => {$(
        impl TupName for $t {
            fn tup_name() -> String {
                "string".to_owned()
            }
        }
    )*};
}
string_name!(String, Cow<'_, str>, &str);

impl Encode for Cow<'_, [u8]> {
    fn encode(&self, w: &mut Writer, tag: u8) {
        w.bytes(self, tag);
    }
    fn is_omittable(&self, _default: &Self) -> bool {
        self.is_empty()
    }
}

impl<'de> Decode<'de> for Cow<'de, [u8]> {
    fn decode(r: &mut Reader<'de>, tag: u8, ty: TypeId) -> Result<Self, DecodeError> {
        read_byte_vec(r, tag, ty)
    }
}

impl TupName for Cow<'_, [u8]> {
    fn tup_name() -> String {
        "list<char>".to_owned()
    }
}

impl<T: Encode> Encode for [T] {
    fn encode(&self, w: &mut Writer, tag: u8) {
        T::encode_slice(self, w, tag);
    }
}

impl<T: Encode> Encode for Vec<T> {
    #[inline]
    fn encode(&self, w: &mut Writer, tag: u8) {
        T::encode_slice(self, w, tag);
    }
    fn is_omittable(&self, _default: &Self) -> bool {
        self.is_empty()
    }
}

impl<'de, T: Decode<'de>> Decode<'de> for Vec<T> {
    #[inline]
    fn decode(r: &mut Reader<'de>, tag: u8, ty: TypeId) -> Result<Self, DecodeError> {
        T::decode_vec(r, tag, ty)
    }
}

impl<T: TupName> TupName for Vec<T> {
    fn tup_name() -> String {
        format!("list<{}>", T::tup_name())
    }
}

/// A TARS `map` as a list of entries in wire order.
///
/// Use it for maps whose keys are structs (StatF's `map<StatMicMsgHead, StatMicMsgBody>`) or
/// whose order matters: decoding it costs no hashing, and duplicate keys are kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MapEntries<K, V>(pub Vec<(K, V)>);

fn encode_map<'a, K: Encode + 'a, V: Encode + 'a>(
    len: usize,
    entries: impl Iterator<Item = (&'a K, &'a V)>,
    w: &mut Writer,
    tag: u8,
) {
    w.map_begin(len, tag);
    for (k, v) in entries {
        k.encode(w, 0);
        v.encode(w, 1);
    }
}

fn decode_map<'de, K: Decode<'de>, V: Decode<'de>>(
    r: &mut Reader<'de>,
    tag: u8,
    ty: TypeId,
    insert: impl FnMut(K, V),
) -> Result<(), DecodeError> {
    r.map_entries(tag, ty, insert)
}

impl<K: Encode, V: Encode> Encode for MapEntries<K, V> {
    fn encode(&self, w: &mut Writer, tag: u8) {
        encode_map(self.0.len(), self.0.iter().map(|(k, v)| (k, v)), w, tag);
    }
    fn is_omittable(&self, _default: &Self) -> bool {
        self.0.is_empty()
    }
}

impl<'de, K: Decode<'de>, V: Decode<'de>> Decode<'de> for MapEntries<K, V> {
    fn decode(r: &mut Reader<'de>, tag: u8, ty: TypeId) -> Result<Self, DecodeError> {
        let mut out = Vec::new();
        decode_map(r, tag, ty, |k, v| out.push((k, v)))?;
        Ok(Self(out))
    }
}

impl<K: Encode, V: Encode> Encode for BTreeMap<K, V> {
    fn encode(&self, w: &mut Writer, tag: u8) {
        encode_map(self.len(), self.iter(), w, tag);
    }
    fn is_omittable(&self, _default: &Self) -> bool {
        self.is_empty()
    }
}

impl<'de, K: Decode<'de> + Ord, V: Decode<'de>> Decode<'de> for BTreeMap<K, V> {
    fn decode(r: &mut Reader<'de>, tag: u8, ty: TypeId) -> Result<Self, DecodeError> {
        let mut out = BTreeMap::new();
        decode_map(r, tag, ty, |k, v| {
            // Like every TARS reader, the first occurrence of a duplicate key wins.
            out.entry(k).or_insert(v);
        })?;
        Ok(out)
    }
}

impl<K: Encode, V: Encode, S> Encode for HashMap<K, V, S> {
    fn encode(&self, w: &mut Writer, tag: u8) {
        encode_map(self.len(), self.iter(), w, tag);
    }
    fn is_omittable(&self, _default: &Self) -> bool {
        self.is_empty()
    }
}

impl<'de, K, V, S> Decode<'de> for HashMap<K, V, S>
where
    K: Decode<'de> + Hash + Eq,
    V: Decode<'de>,
    S: BuildHasher + Default,
{
    fn decode(r: &mut Reader<'de>, tag: u8, ty: TypeId) -> Result<Self, DecodeError> {
        let mut out = HashMap::default();
        decode_map(r, tag, ty, |k, v| {
            out.entry(k).or_insert(v);
        })?;
        Ok(out)
    }
}

macro_rules! map_name {
    ($($t:ident),*) => {$(
        impl<K: TupName, V: TupName> TupName for $t<K, V> {
            fn tup_name() -> String {
                format!("map<{},{}>", K::tup_name(), V::tup_name())
            }
        }
    )*};
}
map_name!(BTreeMap, MapEntries);

impl<K: TupName, V: TupName, S> TupName for HashMap<K, V, S> {
    fn tup_name() -> String {
        format!("map<{},{}>", K::tup_name(), V::tup_name())
    }
}
