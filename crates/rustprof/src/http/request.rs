//! Reading one HTTP/1.x request, with limits: 16 KiB of request line and
//! headers, 100 headers, a 1 MiB body, and a deadline for all of it (each read
//! waits at most until the deadline, however slowly the bytes come).

use std::fmt;
use std::io::{self, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::Request;

/// Time a client has to send its whole request, by default.
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A source of request bytes whose reads can be bounded in time.
pub(crate) trait Source: Read {
    /// The longest the next read may wait.
    fn set_wait(&mut self, d: Duration) -> io::Result<()>;
}

impl Source for TcpStream {
    fn set_wait(&mut self, d: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(d.max(Duration::from_millis(1))))
    }
}

impl Source for &[u8] {
    fn set_wait(&mut self, _: Duration) -> io::Result<()> {
        Ok(())
    }
}
const MAX_HEAD: usize = 16 * 1024;
const MAX_HEADERS: usize = 100;
const MAX_BODY: usize = 1 << 20;

/// Why a request was not read.
#[derive(Debug)]
pub(crate) enum BadRequest {
    /// The client closed the connection before sending anything.
    Closed,
    /// Too slow.
    Timeout,
    /// Request line and headers too long.
    HeadTooLarge,
    /// Too many header lines.
    TooManyHeaders,
    /// A body over the limit.
    BodyTooLarge,
    /// Anything else malformed.
    Malformed(&'static str),
}

impl BadRequest {
    /// The status to answer with.
    pub(crate) fn status(&self) -> u16 {
        match self {
            BadRequest::Timeout => 408,
            BadRequest::HeadTooLarge | BadRequest::TooManyHeaders => 431,
            BadRequest::BodyTooLarge => 413,
            _ => 400,
        }
    }
}

impl fmt::Display for BadRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadRequest::Closed => write!(f, "connection closed"),
            BadRequest::Timeout => write!(f, "request not received in time"),
            BadRequest::HeadTooLarge => write!(f, "request header too large (limit {MAX_HEAD} bytes)"),
            BadRequest::TooManyHeaders => write!(f, "too many header lines (limit {MAX_HEADERS})"),
            BadRequest::BodyTooLarge => write!(f, "request body too large (limit {MAX_BODY} bytes)"),
            BadRequest::Malformed(what) => write!(f, "malformed request: {what}"),
        }
    }
}

/// Reads a request from `r` (one per connection), all of it before `deadline`.
pub(crate) fn read(r: &mut impl Source, deadline: Instant) -> Result<Request, BadRequest> {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err(BadRequest::HeadTooLarge);
        }
        wait_until(r, deadline, buf.is_empty())?;
        match r.read(&mut chunk) {
            Ok(0) if buf.is_empty() => return Err(BadRequest::Closed),
            Ok(0) => return Err(BadRequest::Malformed("incomplete request")),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return Err(if buf.is_empty() { BadRequest::Closed } else { BadRequest::Timeout });
            }
            Err(_) => return Err(BadRequest::Closed),
        }
    };
    if head_end > MAX_HEAD {
        return Err(BadRequest::HeadTooLarge);
    }
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| BadRequest::Malformed("not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let line = lines.next().ok_or(BadRequest::Malformed("no request line"))?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(BadRequest::Malformed("bad request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(BadRequest::Malformed("unsupported HTTP version"));
    }
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(BadRequest::Malformed("bad method"));
    }
    if !target.starts_with('/') {
        return Err(BadRequest::Malformed("bad request target"));
    }
    let mut headers = Vec::new();
    for l in lines {
        if headers.len() >= MAX_HEADERS {
            return Err(BadRequest::TooManyHeaders);
        }
        let (k, v) = l.split_once(':').ok_or(BadRequest::Malformed("bad header line"))?;
        if k.is_empty() || k.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
            return Err(BadRequest::Malformed("bad header name"));
        }
        headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut lengths = headers.iter().filter(|(k, _)| k == "content-length");
    let length = match (lengths.next(), lengths.next()) {
        (Some((_, v)), None) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
            v.parse::<usize>().map_err(|_| BadRequest::BodyTooLarge)?
        }
        (Some(_), None) => return Err(BadRequest::Malformed("bad Content-Length")),
        (Some(_), Some(_)) => return Err(BadRequest::Malformed("more than one Content-Length")),
        (None, _) => 0,
    };
    if headers.iter().any(|(k, _)| k == "transfer-encoding") {
        return Err(BadRequest::Malformed("chunked request bodies are not supported"));
    }
    if length > MAX_BODY {
        return Err(BadRequest::BodyTooLarge);
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        wait_until(r, deadline, false)?;
        match r.read(&mut chunk) {
            Ok(0) => return Err(BadRequest::Malformed("incomplete body")),
            Ok(n) => body.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Err(BadRequest::Timeout),
        }
    }
    body.truncate(length);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, q),
        None => (target, ""),
    };
    Ok(Request {
        method: method.to_string(),
        path: percent_decode(path).ok_or(BadRequest::Malformed("bad percent-encoding in path"))?,
        raw_query: query.to_string(),
        headers,
        body,
        http10: version == "HTTP/1.0",
    })
}

/// Bounds the next read by the deadline; a request not received by then is a
/// timeout (or a connection that never sent anything, `idle`).
fn wait_until(r: &mut impl Source, deadline: Instant, idle: bool) -> Result<(), BadRequest> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(if idle { BadRequest::Closed } else { BadRequest::Timeout });
    }
    r.set_wait(left).map_err(|_| BadRequest::Closed)
}

/// Parses `bytes` as the server reads a request (no deadline): the request, or
/// the status and message it would be refused with. For tests and fuzzing.
pub fn parse(bytes: &[u8]) -> Result<Request, (u16, String)> {
    let mut r = bytes;
    read(&mut r, Instant::now() + Duration::from_secs(3600)).map_err(|e| (e.status(), e.to_string()))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Decodes `%XX` escapes (and `+` as space when `plus`); `None` when malformed
/// or not UTF-8.
pub(crate) fn percent_decode_with(s: &str, plus: bool) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h = b.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(h).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn percent_decode(s: &str) -> Option<String> {
    percent_decode_with(s, false)
}

/// The query's `key=value` pairs, decoded (malformed pairs are skipped, as Go's
/// `ParseQuery` does).
pub fn query_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((percent_decode_with(k, true)?, percent_decode_with(v, true)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[u8]) -> Result<Request, BadRequest> {
        read(&mut &s[..], Instant::now() + Duration::from_secs(60))
    }

    #[test]
    fn reads_a_request() {
        let r =
            parse(b"GET /debug/pprof/heap?debug=1&x=a%20b HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\r\n").unwrap();
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.raw_query.as_str()),
            ("GET", "/debug/pprof/heap", "debug=1&x=a%20b")
        );
        assert_eq!(query_pairs(&r.raw_query), vec![("debug".into(), "1".into()), ("x".into(), "a b".into())]);
        let r = parse(b"POST /debug/pprof/symbol HTTP/1.1\r\nContent-Length: 5\r\n\r\n0x1+2").unwrap();
        assert_eq!(r.body, b"0x1+2");
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            &b"\x00\x01\x02\r\n\r\n"[..],
            b"GET\r\n\r\n",
            b"GET / HTTP/2\r\n\r\n",
            b"get / HTTP/1.1\r\n\r\n",
            b"GET nopath HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nno-colon\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
            b"GET /%zz HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let mut huge = b"GET / HTTP/1.1\r\n".to_vec();
        huge.extend(std::iter::repeat_n(b'a', 20_000));
        assert!(matches!(parse(&huge), Err(BadRequest::HeadTooLarge)));
        let many: String = (0..200).map(|i| format!("h{i}: v\r\n")).collect();
        assert!(matches!(
            parse(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()),
            Err(BadRequest::TooManyHeaders)
        ));
    }
}
