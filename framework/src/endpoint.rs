//! Endpoint strings in TARS syntax (`tcp -h HOST -p PORT -t TIMEOUT`) and proxy strings
//! (`Obj@tcp -h … -p …:tcp -h … -p …`), spec §3.2.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Transport of an endpoint. tarsmon serves TCP only; `udp`/`ssl` parse but are refused when
/// an adapter is bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `tcp`
    Tcp,
    /// `udp`
    Udp,
    /// `ssl`
    Ssl,
}

impl Transport {
    /// `EndpointF.istcp` value: 0 UDP, 1 TCP, 2 SSL.
    pub fn istcp(self) -> i32 {
        match self {
            Self::Udp => 0,
            Self::Tcp => 1,
            Self::Ssl => 2,
        }
    }
}

/// One endpoint: `tcp -h 127.0.0.1 -p 18293 -t 60000`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Transport.
    pub transport: Transport,
    /// Host name or IP; `*` is stored as `0.0.0.0`.
    pub host: String,
    /// Port.
    pub port: u16,
    /// `-t`: for a server, the connection idle timeout; for a client, the call timeout.
    pub timeout: Duration,
}

/// Why an endpoint or proxy string is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// The string does not start with `tcp`, `udp` or `ssl`.
    #[error("endpoint must start with tcp, udp or ssl: {0:?}")]
    Transport(String),
    /// An option is missing its value or the value does not parse.
    #[error("bad value for option {opt} in {s:?}")]
    BadOption {
        /// The option, e.g. `-p`.
        opt: String,
        /// The whole endpoint string.
        s: String,
    },
    /// `-h` is missing.
    #[error("endpoint has no host (-h): {0:?}")]
    NoHost(String),
    /// A proxy string has an empty object name.
    #[error("proxy string has no object name: {0:?}")]
    NoObject(String),
}

/// The default `-t` value (TarsCpp `TC_Endpoint`): 3 s.
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(3000);

impl Endpoint {
    /// A TCP endpoint.
    pub fn tcp(host: impl Into<String>, port: u16, timeout: Duration) -> Self {
        Self { transport: Transport::Tcp, host: host.into(), port, timeout }
    }

    /// `host:port`, for connecting or binding.
    pub fn socket_addr_string(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut words = s.split_whitespace();
        let transport = match words.next() {
            Some(w) if w.eq_ignore_ascii_case("tcp") => Transport::Tcp,
            Some(w) if w.eq_ignore_ascii_case("udp") => Transport::Udp,
            Some(w) if w.eq_ignore_ascii_case("ssl") => Transport::Ssl,
            _ => return Err(EndpointError::Transport(s.to_owned())),
        };
        let bad = |opt: &str| EndpointError::BadOption { opt: opt.to_owned(), s: s.to_owned() };
        let (mut host, mut port, mut timeout) = (None, 0u16, DEFAULT_TIMEOUT);
        while let Some(opt) = words.next() {
            if !opt.starts_with('-') {
                continue; // TarsCpp ignores stray words too
            }
            // Every option takes a value; unknown ones (-g -q -w -v -e -b) are ignored.
            let value = words.next().ok_or_else(|| bad(opt))?;
            match opt {
                "-h" => host = Some(if value == "*" { "0.0.0.0" } else { value }.to_owned()),
                "-p" => port = value.parse().map_err(|_| bad(opt))?,
                "-t" => {
                    timeout = Duration::from_millis(value.parse().map_err(|_| bad(opt))?);
                }
                _ => {}
            }
        }
        let host = host.ok_or_else(|| EndpointError::NoHost(s.to_owned()))?;
        Ok(Self { transport, host, port, timeout })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = match self.transport {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Ssl => "ssl",
        };
        write!(f, "{t} -h {} -p {} -t {}", self.host, self.port, self.timeout.as_millis())
    }
}

/// A proxy string: an object name, optionally with direct endpoints (`Obj@ep:ep`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyString {
    /// Object name, e.g. `tars.tarsstat.StatObj`.
    pub object: String,
    /// Direct endpoints; empty means "resolve through the locator".
    pub endpoints: Vec<Endpoint>,
}

impl FromStr for ProxyString {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (object, rest) = match s.split_once('@') {
            Some((o, r)) => (o, Some(r)),
            None => (s, None),
        };
        // TarsCpp strips a `#…` suffix from the object name.
        let object = object.split('#').next().unwrap_or_default().trim();
        if object.is_empty() {
            return Err(EndpointError::NoObject(s.to_owned()));
        }
        let endpoints = match rest {
            Some(r) => r
                .split(':')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::parse)
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        Ok(Self { object: object.to_owned(), endpoints })
    }
}

impl fmt::Display for ProxyString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.object)?;
        for (i, e) in self.endpoints.iter().enumerate() {
            f.write_str(if i == 0 { "@" } else { ":" })?;
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tars_endpoint_syntax() {
        let e: Endpoint = "tcp -h 127.0.0.1 -p 18293 -t 60000".parse().unwrap();
        assert_eq!(e, Endpoint::tcp("127.0.0.1", 18293, Duration::from_secs(60)));
        assert_eq!(e.to_string(), "tcp -h 127.0.0.1 -p 18293 -t 60000");
        let e: Endpoint = "tcp -h * -p 1 -g 3 -e 0".parse().unwrap();
        assert_eq!((e.host.as_str(), e.timeout), ("0.0.0.0", DEFAULT_TIMEOUT));
        assert!("http -h a -p 1".parse::<Endpoint>().is_err());
        assert!("tcp -p 1".parse::<Endpoint>().is_err());
        assert!("tcp -h a -p 99999".parse::<Endpoint>().is_err());
        assert!("tcp -h a -p".parse::<Endpoint>().is_err());
    }

    #[test]
    fn parses_proxy_strings() {
        let p: ProxyString =
            "tars.tarsregistry.QueryObj@tcp -h 127.0.0.1 -p 17890:tcp -h 127.0.0.2 -p 17891".parse().unwrap();
        assert_eq!(p.object, "tars.tarsregistry.QueryObj");
        assert_eq!(p.endpoints.len(), 2);
        assert_eq!(p.endpoints[1].port, 17891);
        let p: ProxyString = "tars.tarsstat.StatObj".parse().unwrap();
        assert!(p.endpoints.is_empty());
        assert!("@tcp -h a -p 1".parse::<ProxyString>().is_err());
    }
}
