//! A small HTTP/1.1 server side: reading one request (request line, headers,
//! no body), decoding its path and query, and writing one response. Every
//! connection carries one request (`Connection: close`); anything malformed is
//! an error the caller answers with 400, never a panic.

use std::io::{Read, Write};

/// Longest request head accepted (request line and headers).
pub const MAX_HEAD: usize = 64 * 1024;

/// A parsed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `HEAD`...
    pub method: String,
    /// The decoded path (`/ui/top`).
    pub path: String,
    /// The query as it came (`f=main&n=10`), without `?`.
    pub raw_query: String,
    /// The decoded query parameters, in order.
    pub query: Vec<(String, String)>,
}

impl Request {
    /// The last value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Why no request could be read.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The client closed the connection (or sent nothing in time).
    Closed,
    /// The request is malformed: answer 400 with this reason.
    Bad(String),
    /// The request head is too large: answer 431.
    TooLarge,
}

/// Reads one request head from `r`.
pub fn read_request(r: &mut dyn Read) -> Result<Request, ReadError> {
    let mut buf: Vec<u8> = Vec::with_capacity(2048);
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(e) = head_end(&buf) {
            if e > MAX_HEAD {
                return Err(ReadError::TooLarge);
            }
            break e;
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadError::TooLarge);
        }
        let n = match r.read(&mut chunk) {
            Ok(0) => {
                return if buf.is_empty() {
                    Err(ReadError::Closed)
                } else {
                    Err(ReadError::Bad("incomplete request".into()))
                };
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) if buf.is_empty() => return Err(ReadError::Closed),
            Err(e) => return Err(ReadError::Bad(format!("reading request: {e}"))),
        };
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| ReadError::Bad("request is not UTF-8".into()))?;
    let line = head.lines().next().unwrap_or("");
    parse_request_line(line)
}

/// Where the head ends (the blank line), if it has ended.
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = buf.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Parses `GET /path?query HTTP/1.1`.
pub fn parse_request_line(line: &str) -> Result<Request, ReadError> {
    let bad = |m: &str| ReadError::Bad(m.to_string());
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("malformed request line"));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(bad("malformed method"));
    }
    if !version.starts_with("HTTP/1.") {
        return Err(bad("unsupported HTTP version"));
    }
    // Absolute form (proxies): keep the path.
    let target = match target.strip_prefix("http://").or_else(|| target.strip_prefix("https://")) {
        Some(rest) => match rest.find('/') {
            Some(i) => &rest[i..],
            None => "/",
        },
        None => target,
    };
    if !target.starts_with('/') {
        return Err(bad("request target must be a path"));
    }
    let target = target.split('#').next().unwrap_or("");
    let (raw_path, raw_query) = match target.split_once('?') {
        Some((p, q)) => (p, q),
        None => (target, ""),
    };
    let path = percent_decode(raw_path, false).ok_or_else(|| bad("malformed path encoding"))?;
    let query = parse_query(raw_query).ok_or_else(|| bad("malformed query encoding"))?;
    Ok(Request { method: method.to_string(), path, raw_query: raw_query.to_string(), query })
}

/// Decodes `%XX` escapes (and `+` as a space in queries); `None` for bad
/// escapes or text that is not UTF-8.
pub fn percent_decode(s: &str, plus_is_space: bool) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |c: u8| (c as char).to_digit(16);
                let hi = hex(*b.get(i + 1)?)?;
                let lo = hex(*b.get(i + 2)?)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' if plus_is_space => {
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

/// Parses `a=1&b=x%20y` into pairs; `None` when an escape is malformed.
pub fn parse_query(q: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for kv in q.split(['&', ';']) {
        if kv.is_empty() {
            continue;
        }
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        out.push((percent_decode(k, true)?, percent_decode(v, true)?));
    }
    Some(out)
}

/// Encodes a query parameter value (`encodeURIComponent`'s set).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&c) {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

/// A response.
#[derive(Clone, Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Other headers.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with this status, type and body.
    /// Text (HTML, JSON, SVG) stays UTF-8: a profile's bytes that are not
    /// (held escaped, see `rustprof_profile::escape_bytes`) show as U+FFFD.
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        let mut body = body.into();
        if (content_type.starts_with("text/")
            || content_type.contains("json")
            || content_type.contains("svg"))
            && body.contains(&0xF4)
            && let Ok(s) = std::str::from_utf8(&body)
            && let std::borrow::Cow::Owned(clean) = rustprof_profile::escapes_to_replacement(s)
        {
            body = clean.into_bytes();
        }
        Response { status, content_type, headers: Vec::new(), body }
    }

    /// An HTML page.
    pub fn html(status: u16, body: String) -> Response {
        Response::new(status, "text/html; charset=utf-8", body)
    }

    /// A redirect to `location`.
    pub fn redirect(status: u16, location: String) -> Response {
        let mut r =
            Response::new(status, "text/plain; charset=utf-8", format!("redirecting to {location}\n"));
        r.headers.push(("Location", location));
        r
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }
}

/// The reason phrase of a status code.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Writes `resp` (without the body for `HEAD`).
pub fn write_response(w: &mut dyn Write, resp: &Response, head_only: bool) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\
         X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n",
        resp.status,
        reason(resp.status),
        resp.content_type,
        resp.body.len()
    );
    for (k, v) in &resp.headers {
        // Header values come from our own code, but never let one break the head.
        let v: String = v.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    if !head_only {
        w.write_all(&resp.body)?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn request_lines() {
        let r = parse_request_line("GET /ui/top?f=a%2Bb&n=5&x HTTP/1.1").unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/ui/top");
        assert_eq!(r.raw_query, "f=a%2Bb&n=5&x");
        assert_eq!(r.param("f"), Some("a+b"));
        assert_eq!(r.param("n"), Some("5"));
        assert_eq!(r.param("x"), Some(""));
        assert_eq!(r.param("y"), None);
        let r = parse_request_line("GET http://localhost:8080/ui/?q=a+b HTTP/1.0").unwrap();
        assert_eq!((r.path.as_str(), r.param("q")), ("/ui/", Some("a b")));
        for bad in [
            "",
            "GET",
            "GET /",
            "GET / HTTP/2.0",
            "get / HTTP/1.1",
            "GET x HTTP/1.1",
            "GET /%zz HTTP/1.1",
            "GET /?a=%ff HTTP/1.1",
            "GET /?a=%4 HTTP/1.1",
            "GET / HTTP/1.1 extra",
        ] {
            assert!(matches!(parse_request_line(bad), Err(ReadError::Bad(_))), "{bad:?}");
        }
    }

    #[test]
    fn reading_heads() {
        let mut ok: &[u8] = b"GET /ui/ HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(read_request(&mut ok).unwrap().path, "/ui/");
        let mut lf: &[u8] = b"GET /a HTTP/1.1\nHost: x\n\n";
        assert_eq!(read_request(&mut lf).unwrap().path, "/a");
        let mut empty: &[u8] = b"";
        assert_eq!(read_request(&mut empty), Err(ReadError::Closed));
        let mut cut: &[u8] = b"GET /a HTTP/1.1\r\nHost";
        assert!(matches!(read_request(&mut cut), Err(ReadError::Bad(_))));
        let huge = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_HEAD + 10));
        assert_eq!(read_request(&mut huge.as_bytes()), Err(ReadError::TooLarge));
        let mut binary: &[u8] = b"\xff\xfe\r\n\r\n";
        assert!(matches!(read_request(&mut binary), Err(ReadError::Bad(_))));
    }

    #[test]
    fn encoding_round_trips() {
        let s = "^(main\\.f|a b)$ & ü/=?";
        assert_eq!(percent_decode(&percent_encode(s), true).unwrap(), s);
        assert_eq!(parse_query("a=1;b=2&&c").unwrap().len(), 3);
    }

    #[test]
    fn responses() {
        let mut out = Vec::new();
        let r = Response::redirect(307, "/ui/?a=1\r\nX: y".into());
        write_response(&mut out, &r, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 307 Temporary Redirect\r\n"));
        assert!(text.contains("Location: /ui/?a=1X: y\r\n"));
        let mut out = Vec::new();
        write_response(&mut out, &Response::new(200, "text/plain", "body"), true).unwrap();
        assert!(String::from_utf8(out).unwrap().ends_with("Content-Length: 4\r\nConnection: close\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n\r\n"));
    }
}
