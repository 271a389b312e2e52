//! A plain `std::net::TcpStream` HTTP/1.1 client for the stress clients: one
//! GET per connection (`Connection: close`), the whole response read within a
//! deadline, then checked: a status line, and a body complete by its
//! `Content-Length` or its chunked coding (a response cut short is a failure,
//! not a short success).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Longest a request may take (a 1 s CPU profile included) on a loaded
/// machine before it counts as failed: under the supervisor's 30 s, so that
/// slow requests are failures counted against the error budget before all
/// clients stuck at once would be a hang.
const DEADLINE: Duration = Duration::from_secs(25);
/// Largest response accepted.
const MAX_RESPONSE: usize = 256 << 20;

pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// GETs `path` from `addr`.
pub(crate) fn get(addr: SocketAddr, path: &str) -> Result<Response, String> {
    let end = Instant::now() + DEADLINE;
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(10)).map_err(|e| format!("connect: {e}"))?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.set_write_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    s.write_all(req.as_bytes()).map_err(|e| format!("sending the request: {e}"))?;
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("no complete response in {} s ({} bytes)", DEADLINE.as_secs(), raw.len()));
        }
        s.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if raw.len() > MAX_RESPONSE {
                    return Err(format!("response over {} MiB", MAX_RESPONSE >> 20));
                }
            }
            // The CPU profiler's signals land on this thread too.
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(format!("reading the response after {} bytes: {e}", raw.len())),
        }
    }
    parse(&raw)
}

/// Parses a whole HTTP/1.1 response.
pub(crate) fn parse(raw: &[u8]) -> Result<Response, String> {
    let head_end =
        find(raw, b"\r\n\r\n").ok_or_else(|| format!("no end of headers in {} bytes", raw.len()))?;
    let head = std::str::from_utf8(&raw[..head_end]).map_err(|_| "headers are not UTF-8".to_string())?;
    let rest = &raw[head_end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut length = None;
    let mut chunked = false;
    for l in lines {
        let (k, v) = l.split_once(':').ok_or_else(|| format!("bad header line {l:?}"))?;
        let v = v.trim();
        if k.eq_ignore_ascii_case("content-length") {
            length = Some(v.parse::<usize>().map_err(|_| format!("bad Content-Length {v:?}"))?);
        } else if k.eq_ignore_ascii_case("transfer-encoding") {
            chunked = v.eq_ignore_ascii_case("chunked");
        }
    }
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = length {
        if rest.len() != n {
            return Err(format!("Content-Length {n}, {} bytes received", rest.len()));
        }
        rest.to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response { status, body })
}

/// Decodes a chunked body; an error when it stops before its last chunk.
fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(data.len());
    loop {
        let eol = find(data, b"\r\n").ok_or("chunked body cut before a chunk size")?;
        let size_text = std::str::from_utf8(&data[..eol]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size =
            usize::from_str_radix(size_text, 16).map_err(|_| format!("bad chunk size {size_text:?}"))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 || &data[size..size + 2] != b"\r\n" {
            return Err(format!("chunked body cut inside a chunk of {size} bytes"));
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_and_cut_responses() {
        let r =
            parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n")
                .unwrap();
        assert_eq!((r.status, &r.body[..]), (200, &b"hello!"[..]));
        let r = parse(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy").unwrap();
        assert_eq!((r.status, &r.body[..]), (503, &b"busy"[..]));
        for cut in [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nContent-Le",
            b"garbage\r\n\r\n",
        ] {
            assert!(parse(cut).is_err(), "{:?}", String::from_utf8_lossy(cut));
        }
    }
}
