//! The field header: `tag << 4 | type`, with a second byte for tags 15..=255 (spec §1.1).

use super::DecodeError;

/// The wire type ids of spec §1.2. Ids 14 and 15 are undefined and rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum TypeId {
    /// 1-byte signed integer.
    Int8 = 0,
    /// 2-byte big-endian signed integer.
    Int16 = 1,
    /// 4-byte big-endian signed integer.
    Int32 = 2,
    /// 8-byte big-endian signed integer.
    Int64 = 3,
    /// IEEE-754 binary32.
    Float = 4,
    /// IEEE-754 binary64.
    Double = 5,
    /// String with a 1-byte length.
    String1 = 6,
    /// String with a 4-byte length.
    String4 = 7,
    /// Map: count, then key@0 / value@1 pairs.
    Map = 8,
    /// List: count, then elements @0.
    List = 9,
    /// Start of a struct.
    StructBegin = 10,
    /// End of a struct (always tag 0).
    StructEnd = 11,
    /// The number zero, no payload.
    ZeroTag = 12,
    /// `vector<byte>`: inner Char head, length, raw bytes.
    SimpleList = 13,
}

impl TypeId {
    /// Maps a type nibble to a type id, rejecting 14 and 15.
    #[inline]
    pub fn from_nibble(n: u8) -> Result<Self, DecodeError> {
        Ok(match n {
            0 => Self::Int8,
            1 => Self::Int16,
            2 => Self::Int32,
            3 => Self::Int64,
            4 => Self::Float,
            5 => Self::Double,
            6 => Self::String1,
            7 => Self::String4,
            8 => Self::Map,
            9 => Self::List,
            10 => Self::StructBegin,
            11 => Self::StructEnd,
            12 => Self::ZeroTag,
            13 => Self::SimpleList,
            other => return Err(DecodeError::InvalidType(other)),
        })
    }
}

/// A decoded field header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Field tag, 0..=255.
    pub tag: u8,
    /// Wire type.
    pub ty: TypeId,
    /// Bytes the head occupies (1 or 2).
    pub len: usize,
}

impl Head {
    /// Parses the head at the start of `buf` without consuming it.
    #[inline]
    pub fn peek(buf: &[u8]) -> Result<Self, DecodeError> {
        let &b = buf.first().ok_or(DecodeError::Truncated)?;
        let ty = TypeId::from_nibble(b & 0x0f)?;
        let tag = b >> 4;
        if tag == 15 {
            let &tag = buf.get(1).ok_or(DecodeError::Truncated)?;
            Ok(Self { tag, ty, len: 2 })
        } else {
            Ok(Self { tag, ty, len: 1 })
        }
    }
}
