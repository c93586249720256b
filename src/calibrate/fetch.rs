//! Reading `--from`: a running service's `/metrics` over plain HTTP/1.1, or a saved file.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Why the metrics could not be read; the text names the source and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(pub String);

/// Where the metrics come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Url {
        host: String,
        port: u16,
        path: String,
    },
    File(std::path::PathBuf),
}

/// `http://host[:port][/path]` (path default `/metrics`), or a file path. Any other
/// `scheme://` is refused.
pub fn source(from: &str) -> Result<Source, FetchError> {
    if let Some(rest) = from.strip_prefix("http://") {
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/metrics"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => {
                let port = p.parse::<u16>().map_err(|_| {
                    FetchError(format!(
                        "--from {from}: the port `{p}` is not a number from 0 to 65535"
                    ))
                })?;
                (h, port)
            }
            None => (authority, 80),
        };
        if host.is_empty() {
            return Err(FetchError(format!("--from {from}: the URL has no host")));
        }
        return Ok(Source::Url {
            host: host.to_string(),
            port,
            path: if path.is_empty() { "/metrics" } else { path }.to_string(),
        });
    }
    if let Some((scheme, _)) = from.split_once("://") {
        return Err(FetchError(format!(
            "--from {from}: `{scheme}://` is not supported; give an http:// URL of the service's /metrics, or a file with a saved copy (curl -o metrics.txt URL)"
        )));
    }
    Ok(Source::File(from.into()))
}

/// The text at `from`.
pub fn read(from: &str) -> Result<String, FetchError> {
    match source(from)? {
        Source::File(p) => std::fs::read_to_string(&p)
            .map_err(|e| FetchError(format!("--from {}: cannot read: {e}", p.display()))),
        Source::Url { host, port, path } => get(from, &host, port, &path),
    }
}

fn get(from: &str, host: &str, port: u16, path: &str) -> Result<String, FetchError> {
    let fail = |why: String| FetchError(format!("--from {from}: {why}"));
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| fail(format!("cannot resolve {host}: {e}")))?
        .collect();
    let mut last = None;
    let mut stream = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, Duration::from_secs(5)) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let mut stream = stream.ok_or_else(|| {
        fail(format!(
            "cannot connect to {host}:{port}: {}; is the service running?",
            last.map(|e| e.to_string())
                .unwrap_or_else(|| "no address".into())
        ))
    })?;
    let io = |e: std::io::Error| fail(format!("reading from {host}:{port}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(io)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/plain\r\nConnection: close\r\n\r\n"
    )
    .map_err(io)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(io)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| fail("the answer is not HTTP".into()))?;
    let status = head.lines().next().unwrap_or("");
    let code = status.split_whitespace().nth(1).unwrap_or("");
    if code != "200" {
        return Err(fail(format!("the service answered `{status}`")));
    }
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if chunked {
        dechunk(body).ok_or_else(|| fail("a malformed chunked answer".into()))
    } else {
        Ok(body.to_string())
    }
}

fn dechunk(mut body: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        body = rest.get(size..)?.strip_prefix("\r\n")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        assert_eq!(
            source("http://127.0.0.1:19150").unwrap(),
            Source::Url {
                host: "127.0.0.1".into(),
                port: 19150,
                path: "/metrics".into()
            }
        );
        assert_eq!(
            source("http://localhost/m").unwrap(),
            Source::Url {
                host: "localhost".into(),
                port: 80,
                path: "/m".into()
            }
        );
        assert_eq!(
            source("saved.txt").unwrap(),
            Source::File("saved.txt".into())
        );
        assert!(source("https://x/metrics")
            .unwrap_err()
            .0
            .contains("`https://` is not supported"));
        assert!(source("http://x:99999/").unwrap_err().0.contains("port"));
        assert!(source("http://:80/").unwrap_err().0.contains("no host"));
    }

    #[test]
    fn chunked_bodies() {
        assert_eq!(
            dechunk("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").as_deref(),
            Some("abcde")
        );
        assert_eq!(dechunk("zz\r\n"), None);
    }
}
