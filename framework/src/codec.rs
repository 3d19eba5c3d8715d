//! The TARS binary encoding ("Tars"/"JCE" stream), spec `tars-protocol.md` §1.
//!
//! Every value is a *head* (tag + type id) followed by a payload. [`Writer`] always picks the
//! narrowest integer encoding and writes floats C++-style (never ZeroTag), so its output is
//! byte-identical to TarsCpp/TarsGo for the same values. [`Reader`] accepts every variant the
//! real implementations produce (Node's ZeroTag floats, LIST-encoded `vector<byte>`, optional
//! fields written or omitted, unknown fields), and checks every length and count against the
//! bytes that remain, so a hostile length never allocates more than the input holds.
//!
//! Types implement [`Encode`] and [`Decode`]; structs are declared once with
//! [`tars_struct!`](crate::tars_struct).

mod error;
mod head;
mod macros;
mod reader;
mod types;
mod writer;

#[cfg(test)]
pub(crate) mod tests;

pub use error::DecodeError;
pub use head::{Head, TypeId};
pub use reader::{MAX_DEPTH, Reader};
pub use types::{Decode, Encode, MapEntries, TupName};
pub use writer::Writer;

/// Encodes `value` alone at `tag` (how TUP stores one attribute, and how tests build fields).
pub fn to_bytes<T: Encode + ?Sized>(value: &T, tag: u8) -> Vec<u8> {
    let mut w = Writer::new();
    value.encode(&mut w, tag);
    w.into_inner()
}

/// Decodes a required value at `tag` from `bytes` (the inverse of [`to_bytes`]).
pub fn from_bytes<'de, T: Decode<'de>>(bytes: &'de [u8], tag: u8) -> Result<T, DecodeError> {
    Reader::new(bytes).read(tag)
}
