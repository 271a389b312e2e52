//! The HTTP/1.1 client under [`super`]: one request per connection,
//! `Content-Length`, chunked or close-delimited bodies, an overall deadline,
//! over plain TCP (`http://`) or TLS (`https://`, `https+insecure://`, through
//! [`super::tls`]).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// The largest response body read: the profile size bound (`-max_profile_size`).
pub(super) fn max_body() -> usize {
    usize::try_from(crate::limits::max_profile_size()).unwrap_or(usize::MAX)
}

fn body_too_large() -> String {
    format!(
        "response body larger than the limit of {}; {}",
        rustprof_profile::human_bytes(crate::limits::max_profile_size()),
        crate::limits::HINT
    )
}

/// The environment variable holding a bearer token sent with every request
/// (for servers started with `rustprof::http::Options::token`).
pub const TOKEN_ENV: &str = "RUSTPROF_TOKEN";

/// An HTTP response.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The status line's text after the code (`Bad Request`).
    pub reason: String,
    /// Headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// How a URL's connection is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scheme {
    /// `http://`: plain TCP.
    Http,
    /// `https://`: TLS, the server's certificate verified (system roots, or
    /// `-tls_ca`).
    Https,
    /// `https+insecure://` (pprof's): TLS without verifying the certificate.
    HttpsInsecure,
}

impl Scheme {
    /// The scheme as written in a URL made from this one.
    pub(super) fn name(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::HttpsInsecure => "https+insecure",
        }
    }
}

/// The parts of an `http://` or `https://` URL.
#[derive(Debug)]
pub(super) struct Target {
    pub(super) scheme: Scheme,
    pub(super) host: String,
    pub(super) port: u16,
    /// Path and query, starting with `/`.
    pub(super) path: String,
}

/// Splits an `http(s)://` URL with [`crate::sources`]' URL parser, then the
/// host from the port.
pub(super) fn parse_target(url: &str) -> Result<Target, String> {
    let u = crate::sources::parse_url(url).map_err(|()| "invalid URL".to_string())?;
    let scheme = match u.scheme.as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        "https+insecure" => Scheme::HttpsInsecure,
        s => return Err(format!("unsupported protocol scheme \"{s}\"")),
    };
    let mut path = u.rest.split('#').next().unwrap_or("").to_string();
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    let (host, port) = if let Some(v6) = u.host.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or("bad IPv6 address in URL")?;
        (h.to_string(), after.strip_prefix(':').unwrap_or(""))
    } else {
        match u.host.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p),
            None => (u.host.clone(), ""),
        }
    };
    if host.is_empty() {
        return Err("no host in URL".into());
    }
    let port = if port.is_empty() {
        if scheme == Scheme::Http { 80 } else { 443 }
    } else {
        port.parse::<u16>().map_err(|_| format!("invalid port {port:?}"))?
    };
    Ok(Target { scheme, host, port, path })
}

/// Sends one request and reads the whole response before `timeout` passes.
/// Errors read like Go's `net/http` client's (`Get "url": …`).
pub fn request(method: &str, url: &str, body: Option<&[u8]>, timeout: Duration) -> Result<Response, String> {
    let verb = if method == "GET" { "Get" } else { "Post" };
    let err = |e: String| format!("{verb} \"{url}\": {e}");
    let t = parse_target(url).map_err(err)?;
    let deadline = Instant::now() + timeout;
    let addrs: Vec<_> = (t.host.as_str(), t.port)
        .to_socket_addrs()
        .map_err(|e| err(format!("dial tcp: lookup {}: {e}", t.host)))?
        .collect();
    let mut last = String::from("no addresses");
    let mut stream = None;
    for a in &addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            last = "context deadline exceeded (Client.Timeout exceeded while dialing)".into();
            break;
        }
        match TcpStream::connect_timeout(a, left) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = format!("dial tcp {a}: connect: {}", crate::fetch::go_io_error(&e)),
        }
    }
    let tcp = stream.ok_or_else(|| err(last))?;
    let _ = tcp.set_nodelay(true);
    let mut s = match t.scheme {
        Scheme::Http => Conn::Plain(tcp),
        Scheme::Https | Scheme::HttpsInsecure => Conn::Tls(Box::new(
            super::tls::connect(tcp, &t.host, t.scheme == Scheme::HttpsInsecure).map_err(err)?,
        )),
    };
    let host_header = if t.host.contains(':') {
        format!("[{}]:{}", t.host, t.port)
    } else {
        format!("{}:{}", t.host, t.port)
    };
    let mut head = format!(
        "{method} {} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: rustprof/{}\r\nAccept-Encoding: identity\r\nConnection: close\r\n",
        t.path,
        env!("CARGO_PKG_VERSION")
    );
    if let Ok(token) = std::env::var(TOKEN_ENV)
        && !token.is_empty()
    {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("Content-Type: application/octet-stream\r\nContent-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body.unwrap_or(&[]));
    // The TLS handshake happens in this first write: it reads too.
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
    s.tcp().set_write_timeout(Some(left)).map_err(|e| err(e.to_string()))?;
    s.tcp().set_read_timeout(Some(left)).map_err(|e| err(e.to_string()))?;
    s.write_all(&out).and_then(|()| s.flush()).map_err(|e| err(write_error(&e)))?;
    let mut r = Reader { s, buf: Vec::new(), pos: 0, deadline, eof: false };
    read_response(&mut r).map_err(err)
}

/// What a failed write (or TLS handshake) says.
fn write_error(e: &std::io::Error) -> String {
    match super::tls::error_text(e) {
        Some(tls) => tls,
        None if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
            "context deadline exceeded (Client.Timeout exceeded while awaiting headers)".into()
        }
        None => format!("write: {}", crate::fetch::go_io_error(e)),
    }
}

/// A connection: plain TCP or TLS over TCP.
enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Conn {
    /// The TCP socket underneath (for its timeouts).
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &s.sock,
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => match s.read(buf) {
                // A server that closes without close_notify (many do, after a
                // close-delimited body): the end of the body, as Go takes it.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(0),
                r => r,
            },
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// Buffered reads from the socket that respect the deadline.
struct Reader {
    s: Conn,
    buf: Vec<u8>,
    pos: usize,
    deadline: Instant,
    eof: bool,
}

impl Reader {
    /// Reads more bytes into the buffer; false at end of stream.
    fn fill(&mut self, stage: &str) -> Result<bool, String> {
        if self.eof {
            return Ok(false);
        }
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("context deadline exceeded (Client.Timeout exceeded while {stage})"));
        }
        self.s.tcp().set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.s.read(&mut chunk) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    if self.pos > 0 && self.pos == self.buf.len() {
                        self.buf.clear();
                        self.pos = 0;
                    }
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
                {
                    return Err(format!("context deadline exceeded (Client.Timeout exceeded while {stage})"));
                }
                Err(e) => {
                    return Err(super::tls::error_text(&e)
                        .unwrap_or_else(|| format!("read: {}", crate::fetch::go_io_error(&e))));
                }
            }
        }
    }

    /// The next line (without CRLF), at most `max` bytes.
    fn line(&mut self, max: usize, stage: &str) -> Result<String, String> {
        loop {
            if let Some(i) = self.buf[self.pos..].iter().position(|&b| b == b'\n') {
                let line = &self.buf[self.pos..self.pos + i];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let s = String::from_utf8_lossy(line).into_owned();
                self.pos += i + 1;
                return Ok(s);
            }
            if self.buf.len() - self.pos > max {
                return Err("malformed HTTP response: line too long".into());
            }
            if !self.fill(stage)? {
                return Err("unexpected EOF".into());
            }
        }
    }

    /// Exactly `n` bytes appended to `out`.
    fn exact(&mut self, n: usize, out: &mut Vec<u8>) -> Result<(), String> {
        let mut need = n;
        while need > 0 {
            if self.pos == self.buf.len() && !self.fill("reading body")? {
                return Err("unexpected EOF".into());
            }
            let take = need.min(self.buf.len() - self.pos);
            out.extend_from_slice(&self.buf[self.pos..self.pos + take]);
            self.pos += take;
            need -= take;
        }
        Ok(())
    }
}

/// Waits for the first bytes of the answer and fails at once when they cannot
/// start an HTTP response (a server of another protocol that speaks first, or
/// answers garbage, then keeps the connection open: SSH, SMTP, a database),
/// rather than at the deadline, which is `-seconds` away.
fn check_http(r: &mut Reader) -> Result<(), String> {
    const MAGIC: &[u8] = b"HTTP/";
    loop {
        let got = &r.buf[r.pos..];
        let n = got.len().min(MAGIC.len());
        if got[..n] != MAGIC[..n] {
            let first = got.split(|&b| b == b'\n').next().unwrap_or(got);
            let first = &first[..first.len().min(80)];
            return Err(format!(
                "malformed HTTP response {:?} (not an HTTP server)",
                String::from_utf8_lossy(first).trim_end()
            ));
        }
        if n == MAGIC.len() || !r.fill("awaiting headers")? {
            return Ok(());
        }
    }
}

fn read_response(r: &mut Reader) -> Result<Response, String> {
    check_http(r)?;
    let status_line = r.line(16 * 1024, "awaiting headers")?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(format!("malformed HTTP response {status_line:?}"));
    }
    let status: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("malformed HTTP status code in {status_line:?}"))?;
    let reason = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let l = r.line(64 * 1024, "awaiting headers")?;
        if l.is_empty() {
            break;
        }
        if headers.len() > 1000 {
            return Err("malformed HTTP response: too many headers".into());
        }
        let (k, v) = l.split_once(':').ok_or_else(|| format!("malformed MIME header line: {l}"))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let mut resp = Response { status, reason, headers, body: Vec::new() };
    let chunked =
        resp.header("Transfer-Encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let mut body = Vec::new();
    if chunked {
        loop {
            let size_line = r.line(4096, "reading body")?;
            let hex = size_line.split(';').next().unwrap_or("").trim();
            let n = usize::from_str_radix(hex, 16).map_err(|_| format!("malformed chunk size {hex:?}"))?;
            if n == 0 {
                // Trailers, up to the empty line.
                while !r.line(64 * 1024, "reading body")?.is_empty() {}
                break;
            }
            if body.len() + n > max_body() {
                return Err(body_too_large());
            }
            r.exact(n, &mut body)?;
            r.line(2, "reading body")?;
        }
    } else if let Some(len) = resp.header("Content-Length") {
        let n: usize = len.parse().map_err(|_| format!("bad Content-Length {len:?}"))?;
        if n > max_body() {
            return Err(body_too_large());
        }
        r.exact(n, &mut body)?;
    } else {
        body.extend_from_slice(&r.buf[r.pos..]);
        r.pos = r.buf.len();
        while r.fill("reading body")? {
            body.extend_from_slice(&r.buf[r.pos..]);
            r.pos = r.buf.len();
            if body.len() > max_body() {
                return Err(body_too_large());
            }
        }
    }
    resp.body = body;
    Ok(resp)
}
