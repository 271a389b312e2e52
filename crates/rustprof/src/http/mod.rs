//! `/debug/pprof` over HTTP, as Go's `net/http/pprof` serves it.
//!
//! ```no_run
//! // A small server on its own thread; dropping the handle stops it.
//! let server = rustprof::http::serve("127.0.0.1:6060")?;
//! println!("profiles at {}", server.url());
//! // go tool pprof -seconds 5 http://127.0.0.1:6060/debug/pprof/profile
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Endpoints and parameters are Go's: the index page at `/debug/pprof/`,
//! `profile?seconds=N` (CPU, default 30 s), `heap` and `allocs` (`gc` accepted,
//! `seconds=N` for a delta profile), `block`, `mutex`, `threads` (and
//! `goroutine`, its alias for tools that ask for it), `cmdline`, `symbol` (GET
//! and POST), `debug=1`/`debug=2` text forms, with Go's content types,
//! `Content-Disposition`, error bodies and status codes. So `go tool pprof` reads
//! from a rustprof server, and `rustprof` reads from a Go one.
//!
//! Safe by default: [`serve`] refuses a non-loopback address unless
//! [`Options::allow_remote`] says otherwise; [`Options::token`] requires
//! `Authorization: Bearer <token>` (compared in constant time); requests are
//! limited in size, header count and time; a malformed request gets a 400 and
//! the server keeps serving. Requests only read the profiles: sampling rates and
//! recorded data are left as the service set them.
//!
//! With feature `axum`, `axum::router()` serves the same endpoints from a service
//! that already runs axum.

#![allow(unsafe_code)]

mod handlers;
mod request;
mod text;

#[cfg(feature = "axum")]
pub mod axum;

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

pub use handlers::{Request, Response};

/// How a server is set up; [`Options::serve`] starts it.
#[derive(Clone, Debug)]
pub struct Options {
    addr: String,
    token: Option<String>,
    allow_remote: bool,
    max_seconds: u64,
    max_connections: usize,
    cpu_hz: u32,
}

impl Options {
    /// A server on `addr` (e.g. `"127.0.0.1:6060"`, or port 0 for any free port).
    pub fn new(addr: impl Into<String>) -> Self {
        Options {
            addr: addr.into(),
            token: None,
            allow_remote: false,
            max_seconds: 600,
            max_connections: 64,
            cpu_hz: 100,
        }
    }

    /// Requires `Authorization: Bearer <token>` on every request (401 otherwise).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Allows an address that is not loopback (the profiles show the program's
    /// code and data: put them behind a token, and a firewall).
    pub fn allow_remote(mut self, allow: bool) -> Self {
        self.allow_remote = allow;
        self
    }

    /// The longest `seconds` a request may ask for (default 600); longer ones get
    /// Go's 400 `profile duration exceeds server's WriteTimeout`.
    pub fn max_seconds(mut self, seconds: u64) -> Self {
        self.max_seconds = seconds.max(1);
        self
    }

    /// Connections served at once (default 64); more get a 503.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// The CPU profile's sampling rate (default 100 Hz, like Go); a request may
    /// ask for another with `hz=N`.
    pub fn cpu_frequency(mut self, hz: u32) -> Self {
        self.cpu_hz = hz.clamp(1, 10_000);
        self
    }

    /// Binds and starts serving on a thread of its own.
    pub fn serve(self) -> io::Result<Server> {
        let addrs: Vec<SocketAddr> = self
            .addr
            .to_socket_addrs()
            .map_err(|e| {
                io::Error::new(e.kind(), format!("rustprof http: bad address {:?}: {e}", self.addr))
            })?
            .collect();
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("rustprof http: address {:?} resolves to nothing", self.addr),
            ));
        }
        if !self.allow_remote
            && let Some(a) = addrs.iter().find(|a| !a.ip().is_loopback())
        {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "rustprof http: refusing to serve profiles on non-loopback address {a} \
                     (use Options::allow_remote(true), ideally with a token)"
                ),
            ));
        }
        let listener = TcpListener::bind(&addrs[..])
            .map_err(|e| io::Error::new(e.kind(), format!("rustprof http: binding {}: {e}", self.addr)))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let ctx = Arc::new(handlers::Ctx::new(&self));
        let (stop2, max) = (stop.clone(), self.max_connections);
        let thread = crate::heap::spawn_own("rustprof-http", move || accept_loop(listener, ctx, stop2, max))?;
        Ok(Server { addr, stop, thread: Some(thread) })
    }
}

/// Starts a server on `addr` with the default [`Options`] (loopback only).
pub fn serve(addr: impl Into<String>) -> io::Result<Server> {
    Options::new(addr).serve()
}

/// A running server; [`Server::stop`] or dropping it stops it.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<crate::heap::OwnThread<()>>,
}

impl Server {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/debug/pprof/`.
    pub fn url(&self) -> String {
        format!("http://{}/debug/pprof/", self.addr)
    }

    /// Stops accepting connections and waits for the accept loop to end
    /// (requests in progress finish on their own threads).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wake the blocking accept.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn accept_loop(listener: TcpListener, ctx: Arc<handlers::Ctx>, stop: Arc<AtomicBool>, max: usize) {
    let active = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        if stop.load(Ordering::Acquire) {
            break;
        }
        let Ok(mut stream) = conn else {
            // Out of fds and the like: do not spin.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        if active.load(Ordering::Acquire) >= max {
            let r = handlers::error(503, "too many connections");
            let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
            let _ = write_response(&mut stream, &r, false);
            continue;
        }
        active.fetch_add(1, Ordering::AcqRel);
        let (ctx, active2) = (ctx.clone(), active.clone());
        let spawned = crate::heap::spawn_own("rustprof-http-c", move || {
            serve_connection(stream, &ctx);
            active2.fetch_sub(1, Ordering::AcqRel);
        });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Serves one request on a connection, then closes it.
fn serve_connection(mut stream: TcpStream, ctx: &handlers::Ctx) {
    let _ = stream.set_read_timeout(Some(request::READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(30)));
    let _ = stream.set_nodelay(true);
    let req = match request::read(&mut stream) {
        Ok(r) => r,
        Err(request::BadRequest::Closed) => return,
        Err(e) => {
            let _ = write_response(&mut stream, &handlers::error(e.status(), &e.to_string()), false);
            return;
        }
    };
    let head = req.method == "HEAD";
    let probe = stream.try_clone().ok();
    let gone = move || probe.as_ref().is_some_and(client_gone);
    let resp = handlers::handle(&req, ctx, &gone);
    let _ = write_response(&mut stream, &resp, head);
}

/// Whether the client closed its side (a profile in progress then stops early,
/// as Go's handler does when the request context ends).
fn client_gone(s: &TcpStream) -> bool {
    if s.set_nonblocking(true).is_err() {
        return false;
    }
    let mut b = [0u8; 1];
    let r = s.peek(&mut b);
    let _ = s.set_nonblocking(false);
    matches!(r, Ok(0)) || matches!(&r, Err(e) if e.kind() != io::ErrorKind::WouldBlock)
}

fn write_response(w: &mut TcpStream, r: &Response, head: bool) -> io::Result<()> {
    let mut out = Vec::with_capacity(256 + r.body.len());
    let _ = write!(out, "HTTP/1.1 {} {}\r\n", r.status, handlers::reason(r.status));
    for (k, v) in &r.headers {
        let _ = write!(out, "{k}: {v}\r\n");
    }
    let _ = write!(out, "Content-Length: {}\r\nConnection: close\r\n\r\n", r.body.len());
    if !head {
        out.extend_from_slice(&r.body);
    }
    w.write_all(&out)?;
    w.flush()
}
