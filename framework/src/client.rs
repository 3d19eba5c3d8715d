//! The RPC client: proxies to objects by direct endpoints (`Obj@tcp -h … -p …`) or resolved
//! through a locator (`tars.tarsregistry.QueryObj@…`, `QueryF.findObjectByIdInSameGroup`).
//!
//! One TCP connection per proxy, shared by every call on it; calls are pipelined and their
//! replies matched by request id, so many calls can be in flight at once.

mod connection;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;

use crate::codec::{Decode, DecodeError, Reader, Writer};
use crate::endpoint::{Endpoint, EndpointError, ProxyString, Transport};
use crate::idl::registry::{EndpointF, query_f};
use crate::packet::{NORMAL, ONEWAY, RequestPacket, StringMap, TARS_VERSION};
use crate::tup::UniAttribute;

use connection::ClientConnection;

/// Why a call did not produce a reply.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The proxy or locator string is malformed.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// No endpoint could be connected to.
    #[error("cannot connect to {object}: {source}")]
    Connect {
        /// Object name.
        object: String,
        /// The last connection error.
        source: std::io::Error,
    },
    /// The object has no active endpoint (registry answer empty, or no locator configured).
    #[error("no endpoint for {0}")]
    NoEndpoint(String),
    /// No reply within the timeout.
    #[error("call {func} timed out after {timeout:?}")]
    Timeout {
        /// Function called.
        func: String,
        /// The timeout.
        timeout: Duration,
    },
    /// The connection closed before the reply arrived.
    #[error("connection closed before the reply")]
    Closed,
    /// The reply could not be decoded.
    #[error("bad reply: {0}")]
    Decode(#[from] DecodeError),
    /// The server answered with a non-zero `iRet`.
    #[error("server returned {ret}: {desc}")]
    Ret {
        /// `iRet` (or TUP `STATUS_RESULT_CODE`).
        ret: i32,
        /// `sResultDesc` (or TUP `STATUS_RESULT_DESC`).
        desc: String,
    },
}

/// A reply, from a `ResponsePacket` (TARS) or a `RequestPacket` (TUP).
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The protocol version of the reply.
    pub version: i16,
    /// `iRet`, or TUP's `STATUS_RESULT_CODE` (default 0).
    pub ret: i32,
    /// `sResultDesc`, or TUP's `STATUS_RESULT_DESC`.
    pub desc: String,
    /// `sBuffer`: return value and out parameters.
    pub buffer: Vec<u8>,
    /// Response status map.
    pub status: BTreeMap<String, String>,
}

impl Response {
    /// Fails with [`ClientError::Ret`] unless `ret` is 0.
    pub fn ok(self) -> Result<Self, ClientError> {
        if self.ret == 0 { Ok(self) } else { Err(ClientError::Ret { ret: self.ret, desc: self.desc }) }
    }

    /// A reader over a TARS reply's fields (return value at tag 0, out parameters after).
    pub fn reader(&self) -> Reader<'_> {
        Reader::new(&self.buffer)
    }

    /// The attributes of a TUP reply.
    pub fn attributes(&self) -> Result<UniAttribute<'_>, DecodeError> {
        UniAttribute::decode(self.version, &self.buffer)
    }
}

/// Options of one call.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// Send oneway: the server replies nothing and the call returns once the bytes are queued.
    pub oneway: bool,
    /// Request context (e.g. `node_name`).
    pub context: BTreeMap<String, String>,
}

/// A handle to one object (`App.Server.Obj`) on one or more endpoints.
pub struct ServantProxy {
    object: String,
    endpoints: Vec<Endpoint>,
    timeout: Duration,
    max_frame: u32,
    /// The live connection; a `Mutex` because (re)connecting is rare and must happen once
    /// even when many calls find the connection closed at the same moment.
    conn: Mutex<Option<Arc<ClientConnection>>>,
    /// Round-robin start for the next connection attempt.
    next_endpoint: AtomicUsize,
}

impl std::fmt::Debug for ServantProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServantProxy")
            .field("object", &self.object)
            .field("endpoints", &self.endpoints)
            .finish()
    }
}

/// The default call timeout (TarsCpp `sync-invoke-timeout`): 3 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

impl ServantProxy {
    /// A proxy to `object` on explicit `endpoints`.
    pub fn new(object: impl Into<String>, endpoints: Vec<Endpoint>) -> Self {
        Self {
            object: object.into(),
            endpoints,
            timeout: DEFAULT_TIMEOUT,
            max_frame: 10 * 1024 * 1024,
            conn: Mutex::new(None),
            next_endpoint: AtomicUsize::new(0),
        }
    }

    /// A proxy from a direct proxy string `Obj@tcp -h … -p …`.
    pub fn direct(proxy: &str) -> Result<Self, ClientError> {
        let p: ProxyString = proxy.parse()?;
        if p.endpoints.is_empty() {
            return Err(ClientError::NoEndpoint(p.object));
        }
        Ok(Self::new(p.object, p.endpoints))
    }

    /// Sets the call timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The object name.
    pub fn object(&self) -> &str {
        &self.object
    }

    /// The endpoints calls go to.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// Calls `func` over TARS v1 with pre-encoded arguments (`args` = bare fields).
    pub async fn invoke(&self, func: &str, args: Vec<u8>) -> Result<Response, ClientError> {
        self.invoke_with(TARS_VERSION, func, args, &CallOptions::default()).await?.ok_or(ClientError::Closed)
    }

    /// Calls `func` oneway over TARS v1: no reply is awaited.
    pub async fn invoke_oneway(&self, func: &str, args: Vec<u8>) -> Result<(), ClientError> {
        let opts = CallOptions { oneway: true, ..CallOptions::default() };
        self.invoke_with(TARS_VERSION, func, args, &opts).await.map(drop)
    }

    /// Calls `func` over TUP `version` (2 or 3) with `attributes` as arguments.
    pub async fn invoke_tup(
        &self,
        version: i16,
        func: &str,
        attributes: &UniAttribute<'_>,
    ) -> Result<Response, ClientError> {
        self.invoke_with(version, func, attributes.encode(), &CallOptions::default())
            .await?
            .ok_or(ClientError::Closed)
    }

    /// Sends one request; `Ok(None)` for a oneway call.
    pub async fn invoke_with(
        &self,
        version: i16,
        func: &str,
        buffer: Vec<u8>,
        opts: &CallOptions,
    ) -> Result<Option<Response>, ClientError> {
        let conn = self.connection().await?;
        let context: StringMap<'_> = opts
            .context
            .iter()
            .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str())))
            .collect();
        let mut request = RequestPacket {
            i_version: version,
            c_packet_type: if opts.oneway { ONEWAY } else { NORMAL },
            i_message_type: 0,
            i_request_id: 0,
            s_servant_name: Cow::Borrowed(&self.object),
            s_func_name: Cow::Borrowed(func),
            s_buffer: Cow::Owned(buffer),
            i_timeout: i32::try_from(self.timeout.as_millis()).unwrap_or(i32::MAX),
            context,
            status: StringMap::new(),
        };
        conn.call(&mut request, self.timeout).await
    }

    async fn connection(&self) -> Result<Arc<ClientConnection>, ClientError> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        if self.endpoints.is_empty() {
            return Err(ClientError::NoEndpoint(self.object.clone()));
        }
        let start = self.next_endpoint.fetch_add(1, Ordering::Relaxed);
        let mut last_err = None;
        for i in 0..self.endpoints.len() {
            let ep = &self.endpoints[(start + i) % self.endpoints.len()];
            if ep.transport != Transport::Tcp {
                continue;
            }
            match ClientConnection::connect(ep, self.timeout, self.max_frame).await {
                Ok(c) => {
                    let c = Arc::new(c);
                    *slot = Some(c.clone());
                    return Ok(c);
                }
                Err(e) => last_err = Some(e),
            }
        }
        Err(ClientError::Connect {
            object: self.object.clone(),
            source: last_err.unwrap_or_else(|| std::io::Error::other("no tcp endpoint")),
        })
    }
}

/// Creates proxies, resolving object names without endpoints through the locator.
#[derive(Debug, Default)]
pub struct Communicator {
    locator: Option<Arc<ServantProxy>>,
    timeout: Option<Duration>,
}

impl Communicator {
    /// A communicator without a locator: only direct proxy strings work.
    pub fn new() -> Self {
        Self::default()
    }

    /// A communicator resolving names through `locator`
    /// (`tars.tarsregistry.QueryObj@tcp -h HOST -p 17890`).
    pub fn with_locator(locator: &str) -> Result<Self, ClientError> {
        Ok(Self { locator: Some(Arc::new(ServantProxy::direct(locator)?)), timeout: None })
    }

    /// Sets the timeout of the proxies it creates.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// A proxy for `proxy` (`Obj@endpoints` or a bare `Obj` resolved through the locator).
    pub async fn proxy(&self, proxy: &str) -> Result<ServantProxy, ClientError> {
        let p: ProxyString = proxy.parse()?;
        let endpoints = if p.endpoints.is_empty() { self.resolve(&p.object).await? } else { p.endpoints };
        let prx = ServantProxy::new(p.object, endpoints);
        Ok(match self.timeout {
            Some(t) => prx.with_timeout(t),
            None => prx,
        })
    }

    /// Asks the registry for the active endpoints of `object`
    /// (`QueryF.findObjectByIdInSameGroup`, as the C++ and Node clients do).
    pub async fn resolve(&self, object: &str) -> Result<Vec<Endpoint>, ClientError> {
        let locator = self.locator.as_ref().ok_or_else(|| ClientError::NoEndpoint(object.to_owned()))?;
        let mut args = Writer::new();
        args.string(object.as_bytes(), 1);
        let rsp = locator.invoke(query_f::FIND_OBJECT_BY_ID_IN_SAME_GROUP, args.into_inner()).await?.ok()?;
        let mut r = rsp.reader();
        let ret: i32 = r.read(0)?;
        let active: Vec<EndpointF> = r.read(2)?;
        if ret != 0 || active.is_empty() {
            return Err(ClientError::NoEndpoint(object.to_owned()));
        }
        Ok(active.iter().filter_map(endpoint_from_f).collect())
    }
}

fn endpoint_from_f(e: &EndpointF) -> Option<Endpoint> {
    let transport = match e.istcp {
        0 => Transport::Udp,
        1 => Transport::Tcp,
        2 => Transport::Ssl,
        _ => return None,
    };
    Some(Endpoint {
        transport,
        host: e.host.clone(),
        port: u16::try_from(e.port).ok()?,
        timeout: Duration::from_millis(u64::try_from(e.timeout).unwrap_or(0)),
    })
}

/// Decodes a TARS reply's return value at tag 0.
pub fn decode_ret<'a, T: Decode<'a>>(rsp: &'a Response) -> Result<T, ClientError> {
    Ok(Reader::new(&rsp.buffer).read(0)?)
}
