use std::fmt;

/// Why a TARS value could not be decoded.
///
/// Small and `Copy` on purpose: decode errors happen on the ingest hot path (a hostile or buggy
/// client), so they must cost no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended inside a head or a payload.
    Truncated,
    /// A head carries type id 14 or 15, which no implementation defines.
    InvalidType(u8),
    /// A field is present but its wire type cannot be read as the target type.
    Mismatch {
        /// Tag of the offending field.
        tag: u8,
        /// Wire type id found.
        found: u8,
        /// The target type (a TUP type name, e.g. `int32`).
        expected: &'static str,
    },
    /// A `require` field is absent.
    RequiredMissing {
        /// Tag of the missing field.
        tag: u8,
    },
    /// A length or element count is negative.
    NegativeLength(i64),
    /// A length or element count exceeds the bytes that remain in the input.
    LengthPastEnd {
        /// The length the input claims.
        claimed: u64,
        /// The bytes actually left.
        remaining: usize,
    },
    /// A SimpleList's inner head is not `Char` at tag 0.
    BadSimpleList,
    /// Structs, lists or maps nested deeper than [`MAX_DEPTH`](super::MAX_DEPTH).
    TooDeep,
    /// A value is outside the range of the target type (e.g. a `u8` read as 300).
    OutOfRange {
        /// Tag of the offending field.
        tag: u8,
    },
    /// A string that must be UTF-8 is not (only for borrowed `&str` targets).
    InvalidUtf8,
    /// A TUP attribute that a call requires is missing.
    MissingAttribute,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("input truncated"),
            Self::InvalidType(t) => write!(f, "invalid type id {t}"),
            Self::Mismatch { tag, found, expected } => {
                write!(f, "type mismatch at tag {tag}: wire type {found}, expected {expected}")
            }
            Self::RequiredMissing { tag } => write!(f, "require field not exist, tag:{tag}"),
            Self::NegativeLength(n) => write!(f, "negative length {n}"),
            Self::LengthPastEnd { claimed, remaining } => {
                write!(f, "length {claimed} exceeds the {remaining} bytes that remain")
            }
            Self::BadSimpleList => f.write_str("SimpleList inner head is not Char at tag 0"),
            Self::TooDeep => f.write_str("structs nested too deeply"),
            Self::OutOfRange { tag } => write!(f, "value out of range at tag {tag}"),
            Self::InvalidUtf8 => f.write_str("string is not valid UTF-8"),
            Self::MissingAttribute => f.write_str("TUP attribute missing"),
        }
    }
}

impl std::error::Error for DecodeError {}
