//! The servant contract: what a service implements to answer TARS calls, independent of the
//! protocol version (TARS v1 arguments by tag, TUP v2/v3 arguments by name).

use std::borrow::Cow;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use crate::codec::{Decode, DecodeError, Encode, Reader, TupName, Writer};
use crate::packet::{RequestPacket, RetCode};
use crate::tup::UniAttribute;

/// A TARS object implementation (`StatObj`, `QueryObj`, …), one per adapter.
///
/// The server calls [`Servant::dispatch`] on its I/O task for every request whose servant name
/// matches the adapter. Work that completes at once (aggregating a report) returns
/// [`Dispatch::Ready`]; work that must wait (a query) returns [`Dispatch::Later`] with a
/// `'static` future, which the server runs concurrently with later pipelined requests.
/// For oneway calls the reply is computed and discarded.
pub trait Servant: Send + Sync + 'static {
    /// Handles one call. `args` reads the call's parameters; `current` describes the caller.
    fn dispatch(&self, current: &Current<'_>, args: Args<'_>) -> Dispatch;
}

/// The outcome of [`Servant::dispatch`].
pub enum Dispatch {
    /// The reply is ready.
    Ready(Result<Reply, ServantError>),
    /// The reply will be produced by this future.
    Later(Pin<Box<dyn Future<Output = Result<Reply, ServantError>> + Send>>),
}

impl Dispatch {
    /// The answer for a function the servant does not have (-3).
    pub fn no_func() -> Self {
        Self::Ready(Err(ServantError::NoFunc))
    }
}

impl From<Result<Reply, ServantError>> for Dispatch {
    fn from(r: Result<Reply, ServantError>) -> Self {
        Self::Ready(r)
    }
}

/// Why a call failed. Mapped to a TARS return code in one place, [`ServantError::ret_code`].
#[derive(Debug, thiserror::Error)]
pub enum ServantError {
    /// The arguments could not be decoded.
    #[error("decode error: {0}")]
    Decode(#[from] DecodeError),
    /// The servant has no such function.
    #[error("no such function")]
    NoFunc,
    /// The function exists in the interface but this tarsmon version does not serve it.
    #[error("not implemented: {0}")]
    NotImplemented(String),
    /// The request names a servant this adapter does not serve.
    #[error("no such servant: {0}")]
    NoServant(String),
    /// The server is at a capacity bound and refused the call.
    #[error("overloaded: {0}")]
    Overload(String),
    /// Any other failure, described for `sResultDesc`.
    #[error("{0}")]
    Internal(String),
}

impl ServantError {
    /// The `iRet` this error is reported with.
    pub fn ret_code(&self) -> RetCode {
        match self {
            Self::Decode(_) => RetCode::DecodeErr,
            Self::NoFunc | Self::NotImplemented(_) => RetCode::NoFunc,
            Self::NoServant(_) => RetCode::NoServant,
            Self::Overload(_) => RetCode::Overload,
            Self::Internal(_) => RetCode::Unknown,
        }
    }
}

/// Who is calling and how: the request's header fields and the peer address.
#[derive(Debug)]
pub struct Current<'a> {
    /// The peer's socket address.
    pub peer: SocketAddr,
    /// The decoded request (its `sBuffer` is read through [`Args`]).
    pub request: &'a RequestPacket<'a>,
}

impl Current<'_> {
    /// The function name.
    pub fn func(&self) -> &str {
        &self.request.s_func_name
    }

    /// The caller's host as TARS servers see it: `context["node_name"]` if set, else the peer
    /// IP (TarsCpp `Current::getHostName`).
    pub fn host_name(&self) -> Cow<'_, str> {
        match self.request.context.get("node_name") {
            Some(n) if !n.is_empty() => Cow::Borrowed(n),
            _ => Cow::Owned(self.peer.ip().to_string()),
        }
    }

    /// Whether the caller expects no reply.
    pub fn is_oneway(&self) -> bool {
        self.request.is_oneway()
    }

    /// Starts a reply in the protocol of this request.
    pub fn reply(&self) -> Reply {
        Reply::new(self.request.i_version)
    }
}

/// Reads call parameters: by tag for TARS v1, by name for TUP.
///
/// Parameters must be read in declaration order (TARS v1 is forward-only).
#[derive(Debug)]
pub enum Args<'a> {
    /// TARS v1: bare fields, parameter *i* at tag *i*.
    Tars(Reader<'a>),
    /// TUP v2/v3: a UniAttribute keyed by parameter name.
    Tup(UniAttribute<'a>),
}

impl<'a> Args<'a> {
    /// Prepares to read the parameters of `request`.
    pub fn new(request: &'a RequestPacket<'a>) -> Result<Self, DecodeError> {
        if request.is_tup() {
            UniAttribute::decode(request.i_version, &request.s_buffer).map(Self::Tup)
        } else {
            Ok(Self::Tars(Reader::new(&request.s_buffer)))
        }
    }

    /// Reads an `in` parameter; it must be present.
    pub fn required<T: Decode<'a>>(&mut self, tag: u8, name: &str) -> Result<T, DecodeError> {
        match self {
            Self::Tars(r) => r.read(tag),
            Self::Tup(a) => a.get(name)?.ok_or(DecodeError::MissingAttribute),
        }
    }
    /// Streams the entries of a `map` parameter to `f` without collecting them: each key and
    /// value is decoded (borrowing from the frame) and handed over in wire order.
    pub fn for_each_entry<K, V>(
        &mut self,
        tag: u8,
        name: &str,
        f: impl FnMut(K, V),
    ) -> Result<(), DecodeError>
    where
        K: Decode<'a>,
        V: Decode<'a>,
    {
        match self {
            Self::Tars(r) => match r.skip_to_tag(tag)? {
                Some(ty) => r.map_entries(tag, ty, f),
                None => Err(DecodeError::RequiredMissing { tag }),
            },
            Self::Tup(a) => {
                let raw = a.get_raw(name).ok_or(DecodeError::MissingAttribute)?;
                let mut r = Reader::new(raw);
                match r.skip_to_tag(0)? {
                    Some(ty) => r.map_entries(0, ty, f),
                    None => Err(DecodeError::RequiredMissing { tag: 0 }),
                }
            }
        }
    }

    /// Reads a parameter that may be absent (an `out` parameter some clients send).
    pub fn optional<T: Decode<'a>>(&mut self, tag: u8, name: &str) -> Result<Option<T>, DecodeError> {
        match self {
            Self::Tars(r) => r.read_opt(tag),
            Self::Tup(a) => a.get(name),
        }
    }
}

/// A successful reply under construction: the return value and the `out` parameters.
#[derive(Debug)]
pub struct Reply {
    body: ReplyBody,
}

#[derive(Debug)]
enum ReplyBody {
    Tars(Writer),
    Tup(UniAttribute<'static>),
}

impl Reply {
    /// An empty reply (a `void` method) for a request of `version`.
    pub fn new(version: i16) -> Self {
        let body = if matches!(version, crate::packet::TUP_VERSION2 | crate::packet::TUP_VERSION3) {
            ReplyBody::Tup(UniAttribute::new(version))
        } else {
            ReplyBody::Tars(Writer::new())
        };
        Self { body }
    }

    /// Sets the return value: tag 0 in TARS, attribute `""` (and `"tars_ret"`, as TarsCpp and
    /// TarsGo servers also write) in TUP.
    pub fn ret<T: Encode + TupName>(mut self, value: &T) -> Self {
        match &mut self.body {
            ReplyBody::Tars(w) => value.encode(w, 0),
            ReplyBody::Tup(a) => {
                a.put("", value);
                a.put("tars_ret", value);
            }
        }
        self
    }

    /// Adds an `out` parameter with its tag and name.
    pub fn out<T: Encode + TupName>(mut self, tag: u8, name: &str, value: &T) -> Self {
        match &mut self.body {
            ReplyBody::Tars(w) => value.encode(w, tag),
            ReplyBody::Tup(a) => a.put(name, value),
        }
        self
    }

    /// The encoded `sBuffer`.
    pub fn into_buffer(self) -> Vec<u8> {
        match self.body {
            ReplyBody::Tars(w) => w.into_inner(),
            ReplyBody::Tup(a) => a.encode(),
        }
    }
}
