//! RPC packets and framing (spec §2): `RequestPacket`, `ResponsePacket`, the 4-byte length
//! prefix, versions, packet types and return codes.

use std::borrow::Cow;
use std::collections::BTreeMap;

use bytes::{Buf, BytesMut};

use crate::codec::{DecodeError, Reader, Writer};

/// `iVersion` of a plain TARS call.
pub const TARS_VERSION: i16 = 1;
/// `iVersion` of TUP "complex" (`map<string, map<string, vector<byte>>>`), spoken by Node and Java.
pub const TUP_VERSION2: i16 = 2;
/// `iVersion` of TUP "simple" (`map<string, vector<byte>>`).
pub const TUP_VERSION3: i16 = 3;
/// `cPacketType` of a call that expects a reply.
pub const NORMAL: i8 = 0;
/// `cPacketType` of a oneway call: the server never replies.
pub const ONEWAY: i8 = 1;

/// A string map as carried in `context` and `status`.
pub type StringMap<'a> = BTreeMap<Cow<'a, str>, Cow<'a, str>>;

crate::tars_struct! {
    /// A request frame's body (`tup/RequestF.tars`). Every field is `require`.
    #[derive(Debug, Clone, PartialEq)]
    pub struct RequestPacket<'a>: "tars.RequestPacket" {
        /// 1 = TARS, 2/3 = TUP.
        1 require i_version: i16,
        /// 0 = normal, 1 = oneway.
        2 require c_packet_type: i8,
        /// Message-type bit field (dyeing, tracing, …).
        3 require i_message_type: i32,
        /// Matches the response to the request.
        4 require i_request_id: i32,
        /// Object name, e.g. `tars.tarsstat.StatObj`.
        5 require s_servant_name: Cow<'a, str>,
        /// Method name.
        6 require s_func_name: Cow<'a, str>,
        /// The arguments (TARS fields) or a TUP UniAttribute.
        7 require s_buffer: Cow<'a, [u8]>,
        /// Client timeout in milliseconds.
        8 require i_timeout: i32,
        /// Business context (`node_name`, …).
        9 require context: StringMap<'a>,
        /// Framework status (dyeing, TUP result code, …).
        10 require status: StringMap<'a>,
    }
}

crate::tars_struct! {
    /// A response frame's body for TARS-version calls. TUP replies use [`RequestPacket`].
    #[derive(Debug, Clone, PartialEq)]
    pub struct ResponsePacket<'a>: "tars.ResponsePacket" {
        /// Echoes the request's version.
        1 require i_version: i16,
        /// Always 0.
        2 require c_packet_type: i8,
        /// Echoes the request id.
        3 require i_request_id: i32,
        /// Echoes the request's message type.
        4 require i_message_type: i32,
        /// Framework return code, see [`RetCode`].
        5 require i_ret: i32,
        /// Return value and out parameters (empty on error).
        6 require s_buffer: Cow<'a, [u8]>,
        /// Framework status (always written; tolerated missing, as Java omits it).
        7 always status: StringMap<'a>,
        /// Error description.
        8 optional s_result_desc: Cow<'a, str>,
        /// Response context.
        9 optional context: StringMap<'a>,
    }
}

impl RequestPacket<'_> {
    /// Whether the caller expects no reply.
    pub fn is_oneway(&self) -> bool {
        self.c_packet_type == ONEWAY
    }

    /// Whether the arguments are a TUP UniAttribute.
    pub fn is_tup(&self) -> bool {
        matches!(self.i_version, TUP_VERSION2 | TUP_VERSION3)
    }

    /// Copies every borrowed field, detaching the packet from its frame buffer.
    pub fn into_owned(self) -> RequestPacket<'static> {
        RequestPacket {
            i_version: self.i_version,
            c_packet_type: self.c_packet_type,
            i_message_type: self.i_message_type,
            i_request_id: self.i_request_id,
            s_servant_name: Cow::Owned(self.s_servant_name.into_owned()),
            s_func_name: Cow::Owned(self.s_func_name.into_owned()),
            s_buffer: Cow::Owned(self.s_buffer.into_owned()),
            i_timeout: self.i_timeout,
            context: own_map(self.context),
            status: own_map(self.status),
        }
    }
}

impl ResponsePacket<'_> {
    /// Copies every borrowed field, detaching the packet from its frame buffer.
    pub fn into_owned(self) -> ResponsePacket<'static> {
        ResponsePacket {
            i_version: self.i_version,
            c_packet_type: self.c_packet_type,
            i_request_id: self.i_request_id,
            i_message_type: self.i_message_type,
            i_ret: self.i_ret,
            s_buffer: Cow::Owned(self.s_buffer.into_owned()),
            status: own_map(self.status),
            s_result_desc: Cow::Owned(self.s_result_desc.into_owned()),
            context: own_map(self.context),
        }
    }
}

fn own_map(m: StringMap<'_>) -> StringMap<'static> {
    m.into_iter().map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned()))).collect()
}

/// The framework return codes of `ResponsePacket.iRet` (`servant/BaseF.tars`, spec §2.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum RetCode {
    /// Success.
    Success = 0,
    /// The server could not decode the request or its arguments.
    DecodeErr = -1,
    /// The server could not encode the reply.
    EncodeErr = -2,
    /// No such function.
    NoFunc = -3,
    /// No such servant.
    NoServant = -4,
    /// The request waited in the server's queue past its timeout.
    QueueTimeout = -6,
    /// Client side: the call timed out.
    InvokeTimeout = -7,
    /// Client side: could not connect.
    ProxyConnectErr = -8,
    /// The server is overloaded.
    Overload = -9,
    /// Client side: no endpoint available.
    AdapterNull = -10,
    /// Client side: the reply could not be decoded.
    ClientDecodeErr = -12,
    /// Any other server error.
    Unknown = -99,
}

/// Appends a length-prefixed frame: 4-byte big-endian total length (counting itself), body.
pub fn write_frame(out: &mut Vec<u8>, body: impl FnOnce(&mut Writer)) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    let mut w = Writer::from_vec(std::mem::take(out));
    body(&mut w);
    *out = w.into_inner();
    let len = u32::try_from(out.len() - start).unwrap_or(u32::MAX);
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

/// Why the byte stream of a connection cannot be framed; the connection must be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The length prefix is below 4 (it counts itself).
    #[error("frame length {0} is below the 4-byte minimum")]
    TooShort(u32),
    /// The length prefix exceeds the configured maximum.
    #[error("frame length {len} exceeds the maximum of {max} bytes")]
    TooLong {
        /// The claimed length.
        len: u32,
        /// The configured maximum.
        max: u32,
    },
}

/// The most a connection's buffer grows by at once while a frame is incomplete.
pub const READ_CHUNK: usize = 64 * 1024;

/// Splits one complete frame body off the front of `buf`, if it holds one.
///
/// Returns `Ok(None)` while more bytes are needed. The length is checked before anything is
/// buffered for it, so a hostile length never makes the caller reserve more than `max` bytes.
pub fn split_frame(buf: &mut BytesMut, max: u32) -> Result<Option<BytesMut>, FrameError> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    if len < 4 {
        return Err(FrameError::TooShort(len));
    }
    if len > max {
        return Err(FrameError::TooLong { len, max });
    }
    let len = len as usize;
    if buf.len() < len {
        // Grow towards the frame in steps, so memory follows the bytes actually received and
        // not the length a peer merely claims.
        buf.reserve((len - buf.len()).min(READ_CHUNK));
        return Ok(None);
    }
    let mut frame = buf.split_to(len);
    frame.advance(4);
    Ok(Some(frame))
}

/// Peeks `iVersion` (tag 1) of a packet body, to tell a TUP reply (a `RequestPacket`) from a
/// `ResponsePacket` before decoding it.
pub fn peek_version(body: &[u8]) -> Result<i16, DecodeError> {
    Reader::new(body).read(1)
}

#[cfg(test)]
mod tests;
