//! Encoding: narrowest integers, C++-style floats, String1/String4, SimpleList (spec §1.4–1.8).

use super::TypeId;

/// Appends TARS-encoded fields to a growable buffer.
///
/// The output is byte-identical to TarsCpp's `TarsOutputStream` for the same values.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer that appends to `buf` (reusing its allocation).
    pub fn from_vec(buf: Vec<u8>) -> Self {
        Self { buf }
    }

    /// The bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// Takes the written bytes.
    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }

    /// Appends raw bytes (an already-encoded field sequence).
    pub fn put_raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Writes a head: one byte for tags below 15, two bytes above.
    #[inline]
    pub fn head(&mut self, ty: TypeId, tag: u8) {
        if tag < 15 {
            self.buf.push((tag << 4) | ty as u8);
        } else {
            self.buf.extend_from_slice(&[0xf0 | ty as u8, tag]);
        }
    }

    /// Writes an `i8` (ZeroTag for 0).
    #[inline]
    pub fn i8(&mut self, v: i8, tag: u8) {
        if v == 0 {
            self.head(TypeId::ZeroTag, tag);
        } else {
            self.head(TypeId::Int8, tag);
            self.buf.push(v as u8);
        }
    }

    /// Writes an `i16`, narrowed when it fits in an `i8`.
    #[inline]
    pub fn i16(&mut self, v: i16, tag: u8) {
        if let Ok(n) = i8::try_from(v) {
            self.i8(n, tag);
        } else {
            self.head(TypeId::Int16, tag);
            self.buf.extend_from_slice(&v.to_be_bytes());
        }
    }

    /// Writes an `i32`, narrowed when it fits in an `i16`.
    #[inline]
    pub fn i32(&mut self, v: i32, tag: u8) {
        if let Ok(n) = i16::try_from(v) {
            self.i16(n, tag);
        } else {
            self.head(TypeId::Int32, tag);
            self.buf.extend_from_slice(&v.to_be_bytes());
        }
    }

    /// Writes an `i64`, narrowed when it fits in an `i32`.
    #[inline]
    pub fn i64(&mut self, v: i64, tag: u8) {
        if let Ok(n) = i32::try_from(v) {
            self.i32(n, tag);
        } else {
            self.head(TypeId::Int64, tag);
            self.buf.extend_from_slice(&v.to_be_bytes());
        }
    }

    /// Writes a bool as an `i8` (true = 1, false = ZeroTag).
    #[inline]
    pub fn bool(&mut self, v: bool, tag: u8) {
        self.i8(i8::from(v), tag);
    }

    /// Writes an `f32`, always as FLOAT (C++ style; Node would write ZeroTag for 0).
    #[inline]
    pub fn f32(&mut self, v: f32, tag: u8) {
        self.head(TypeId::Float, tag);
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Writes an `f64`, always as DOUBLE.
    #[inline]
    pub fn f64(&mut self, v: f64, tag: u8) {
        self.head(TypeId::Double, tag);
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Writes a string's bytes: String1 up to 255 bytes, String4 above.
    #[inline]
    pub fn string(&mut self, v: &[u8], tag: u8) {
        if let Ok(len) = u8::try_from(v.len()) {
            self.head(TypeId::String1, tag);
            self.buf.push(len);
        } else {
            self.head(TypeId::String4, tag);
            self.buf.extend_from_slice(&len_u32(v.len()).to_be_bytes());
        }
        self.buf.extend_from_slice(v);
    }

    /// Writes `vector<byte>` as a SimpleList.
    #[inline]
    pub fn bytes(&mut self, v: &[u8], tag: u8) {
        self.head(TypeId::SimpleList, tag);
        self.head(TypeId::Int8, 0);
        self.i32(len_i32(v.len()), 0);
        self.buf.extend_from_slice(v);
    }

    /// Starts a LIST of `count` elements; the caller then writes each element at tag 0.
    #[inline]
    pub fn list_begin(&mut self, count: usize, tag: u8) {
        self.head(TypeId::List, tag);
        self.i32(len_i32(count), 0);
    }

    /// Starts a MAP of `count` entries; the caller then writes key@0, value@1 per entry.
    #[inline]
    pub fn map_begin(&mut self, count: usize, tag: u8) {
        self.head(TypeId::Map, tag);
        self.i32(len_i32(count), 0);
    }

    /// Starts a struct at `tag`.
    #[inline]
    pub fn struct_begin(&mut self, tag: u8) {
        self.head(TypeId::StructBegin, tag);
    }

    /// Ends a struct (`0x0B`).
    #[inline]
    pub fn struct_end(&mut self) {
        self.head(TypeId::StructEnd, 0);
    }
}

/// TARS lengths are 32-bit on the wire. Anything we encode is bounded by the frame limit
/// (at most a few hundred MiB), so saturating here can only affect a caller that tries to send
/// a >2 GiB value, which the framing layer rejects anyway.
fn len_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
