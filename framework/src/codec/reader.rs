//! Decoding: skip-to-tag, skip-field, widening, and bounds checks (spec §1.9–1.11).

use super::{Decode, DecodeError, Head, TypeId};

/// Deepest struct/list/map nesting accepted. Real TARS messages nest a handful of levels; the
/// limit exists so that a hostile frame of nested StructBegin heads cannot overflow the stack.
pub const MAX_DEPTH: u32 = 64;

/// A forward-only cursor over TARS-encoded bytes.
///
/// Values borrowed from the input (`&str`, `Cow<str>`, `Cow<[u8]>`) point into the original
/// buffer, so decoding a report does not copy its strings.
#[derive(Debug, Clone)]
pub struct Reader<'de> {
    buf: &'de [u8],
    pos: usize,
    depth: u32,
}

impl<'de> Reader<'de> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'de [u8]) -> Self {
        Self { buf, pos: 0, depth: 0 }
    }

    /// Bytes not yet consumed.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Whether every byte was consumed.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The head at the cursor, without consuming it.
    #[inline]
    pub fn peek_head(&self) -> Result<Head, DecodeError> {
        Head::peek(&self.buf[self.pos..])
    }

    /// Consumes `n` bytes and returns them.
    #[inline]
    pub fn take(&mut self, n: usize) -> Result<&'de [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    #[inline]
    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Reads a required field.
    #[inline]
    pub fn read<T: Decode<'de>>(&mut self, tag: u8) -> Result<T, DecodeError> {
        self.read_opt(tag)?.ok_or(DecodeError::RequiredMissing { tag })
    }

    /// Reads an optional field; `None` if it is absent.
    #[inline]
    pub fn read_opt<T: Decode<'de>>(&mut self, tag: u8) -> Result<Option<T>, DecodeError> {
        match self.skip_to_tag(tag)? {
            Some(ty) => T::decode(self, tag, ty).map(Some),
            None => Ok(None),
        }
    }

    /// Advances to the field with `tag`, skipping lower tags, and consumes its head.
    ///
    /// Returns `None`, leaving the cursor in place, at the end of the input, at a StructEnd,
    /// or before a higher tag (fields are written in ascending tag order).
    pub fn skip_to_tag(&mut self, tag: u8) -> Result<Option<TypeId>, DecodeError> {
        while !self.is_empty() {
            let head = self.peek_head()?;
            if head.ty == TypeId::StructEnd || head.tag > tag {
                return Ok(None);
            }
            self.pos += head.len;
            if head.tag == tag {
                return Ok(Some(head.ty));
            }
            self.skip_field(head.ty)?;
        }
        Ok(None)
    }

    /// Skips the payload of a field whose head was consumed.
    pub fn skip_field(&mut self, ty: TypeId) -> Result<(), DecodeError> {
        match ty {
            TypeId::Int8 => self.take(1).map(drop),
            TypeId::Int16 => self.take(2).map(drop),
            TypeId::Int32 | TypeId::Float => self.take(4).map(drop),
            TypeId::Int64 | TypeId::Double => self.take(8).map(drop),
            TypeId::String1 => {
                let n = self.take_array::<1>()?[0];
                self.take(usize::from(n)).map(drop)
            }
            TypeId::String4 => {
                let n = u32::from_be_bytes(self.take_array()?);
                let n = self.check_len(i64::from(n), 1)?;
                self.take(n).map(drop)
            }
            TypeId::Map => {
                let n = self.read_count(2)?;
                self.nested(|r| {
                    for _ in 0..n * 2 {
                        r.skip_any()?;
                    }
                    Ok(())
                })
            }
            TypeId::List => {
                let n = self.read_count(1)?;
                self.nested(|r| {
                    for _ in 0..n {
                        r.skip_any()?;
                    }
                    Ok(())
                })
            }
            TypeId::SimpleList => {
                let n = self.read_simple_list_len()?;
                self.take(n).map(drop)
            }
            TypeId::StructBegin => self.nested(Self::skip_to_struct_end),
            TypeId::StructEnd | TypeId::ZeroTag => Ok(()),
        }
    }

    fn skip_any(&mut self) -> Result<(), DecodeError> {
        let head = self.peek_head()?;
        self.pos += head.len;
        self.skip_field(head.ty)
    }

    /// Skips fields up to and including the StructEnd that closes the current struct.
    pub fn skip_to_struct_end(&mut self) -> Result<(), DecodeError> {
        loop {
            let head = self.peek_head()?;
            self.pos += head.len;
            if head.ty == TypeId::StructEnd {
                return Ok(());
            }
            self.skip_field(head.ty)?;
        }
    }

    /// Runs `f` one nesting level deeper, failing past [`MAX_DEPTH`].
    pub fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<T, DecodeError> {
        if self.depth >= MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    /// Reads an integer payload of wire type `ty` (ZeroTag, Int8..=`widest`), sign-extended.
    #[inline]
    pub fn int_payload(
        &mut self,
        tag: u8,
        ty: TypeId,
        widest: TypeId,
        expected: &'static str,
    ) -> Result<i64, DecodeError> {
        if ty as u8 > widest as u8 && ty != TypeId::ZeroTag {
            return Err(DecodeError::Mismatch { tag, found: ty as u8, expected });
        }
        Ok(match ty {
            TypeId::ZeroTag => 0,
            TypeId::Int8 => i64::from(self.take_array::<1>()?[0] as i8),
            TypeId::Int16 => i64::from(i16::from_be_bytes(self.take_array()?)),
            TypeId::Int32 => i64::from(i32::from_be_bytes(self.take_array()?)),
            TypeId::Int64 => i64::from_be_bytes(self.take_array()?),
            _ => return Err(DecodeError::Mismatch { tag, found: ty as u8, expected }),
        })
    }

    /// Decodes the entries of a MAP whose head (`tag`, `ty`) was consumed, handing each key
    /// and value to `f` as it is read.
    pub fn map_entries<K: Decode<'de>, V: Decode<'de>>(
        &mut self,
        tag: u8,
        ty: TypeId,
        mut f: impl FnMut(K, V),
    ) -> Result<(), DecodeError> {
        if ty != TypeId::Map {
            return Err(DecodeError::Mismatch { tag, found: ty as u8, expected: "map" });
        }
        let n = self.read_count(2)?;
        self.nested(|r| {
            for _ in 0..n {
                let k = r.read(0)?;
                let v = r.read(1)?;
                f(k, v);
            }
            Ok(())
        })
    }

    /// Reads a FLOAT payload (after its head) as `f32`.
    #[inline]
    pub fn f32_payload(&mut self) -> Result<f32, DecodeError> {
        Ok(f32::from_be_bytes(self.take_array()?))
    }

    /// Reads a DOUBLE payload (after its head) as `f64`.
    #[inline]
    pub fn f64_payload(&mut self) -> Result<f64, DecodeError> {
        Ok(f64::from_be_bytes(self.take_array()?))
    }

    /// Reads a string payload (String1 or String4) as raw bytes borrowed from the input.
    #[inline]
    pub fn string_payload(&mut self, tag: u8, ty: TypeId) -> Result<&'de [u8], DecodeError> {
        let n = match ty {
            TypeId::String1 => usize::from(self.take_array::<1>()?[0]),
            TypeId::String4 => {
                let n = u32::from_be_bytes(self.take_array()?);
                self.check_len(i64::from(n), 1)?
            }
            _ => return Err(DecodeError::Mismatch { tag, found: ty as u8, expected: "string" }),
        };
        self.take(n)
    }

    /// Reads the length of a SimpleList whose head was consumed (inner head + int length).
    #[inline]
    pub fn read_simple_list_len(&mut self) -> Result<usize, DecodeError> {
        let inner = self.peek_head()?;
        if inner.ty != TypeId::Int8 || inner.tag != 0 {
            return Err(DecodeError::BadSimpleList);
        }
        self.pos += inner.len;
        let n: i64 = self.read(0)?;
        self.check_len(n, 1)
    }

    /// Reads a LIST/MAP element count (a full int field at tag 0) and checks that `count`
    /// elements of at least `min_bytes_each` fit in what remains.
    #[inline]
    pub fn read_count(&mut self, min_bytes_each: usize) -> Result<usize, DecodeError> {
        let n: i64 = self.read(0)?;
        self.check_len(n, min_bytes_each)
    }

    fn check_len(&self, n: i64, min_bytes_each: usize) -> Result<usize, DecodeError> {
        if n < 0 {
            return Err(DecodeError::NegativeLength(n));
        }
        let remaining = self.remaining();
        // `n` is non-negative here; `usize` holds any i64 on the 64-bit targets we build for,
        // and a value that does not fit cannot fit in the buffer either.
        let n_us = usize::try_from(n).unwrap_or(usize::MAX);
        if n_us.saturating_mul(min_bytes_each) > remaining {
            return Err(DecodeError::LengthPastEnd { claimed: n as u64, remaining });
        }
        Ok(n_us)
    }
}
