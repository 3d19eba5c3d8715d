//! A minimal HTTP/1.1 client for calls to a running tarsmon's API (one request per
//! connection, `Connection: close`): the CLI's `sql` and the load generator's checks.

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// POSTs `body` to `url` (`http://HOST:PORT/path?query`) and returns the status and the body.
pub async fn post(url: &str, body: &str) -> anyhow::Result<(u16, String)> {
    let rest = url.strip_prefix("http://").context("only http:// URLs are supported")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut sock = tokio::net::TcpStream::connect(authority)
        .await
        .with_context(|| format!("cannot reach tarsmon at {authority} (is it running? or use --data-dir)"))?;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    sock.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    sock.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let (head, payload) = text.split_once("\r\n\r\n").context("malformed HTTP response")?;
    let status: u16 =
        head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).context("malformed status line")?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked { dechunk(payload)? } else { payload.to_owned() };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> anyhow::Result<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = s.split_once("\r\n").context("malformed chunk")?;
        let n = usize::from_str_radix(size.trim(), 16).context("malformed chunk size")?;
        if n == 0 {
            return Ok(out);
        }
        if rest.len() < n {
            bail!("truncated chunk");
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::dechunk;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk("3\r\nn\n1\r\n1\r\n2\r\n0\r\n\r\n").unwrap(), "n\n12");
        assert_eq!(dechunk("4\r\nn\n12\r\n0\r\n\r\n").unwrap(), "n\n12");
        assert!(dechunk("9\r\nshort\r\n").is_err());
    }
}
