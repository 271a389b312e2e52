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
//! `profile?seconds=N` (CPU, default 30 s), `trace?seconds=N` (an execution
//! trace, [`crate::trace`], default 1 s, one at a time), `heap` and `allocs` (`gc` accepted,
//! `seconds=N` for a delta profile), `block`, `mutex`, `threads`, `tasks` and
//! `goroutine` (tokio's task dump with feature `tokio` built with `--cfg
//! tokio_unstable`, `rustprof::tasks`; else the thread dump), `cmdline`, `symbol` (GET
//! and POST), `debug=1`/`debug=2` text forms, with Go's content types,
//! `Content-Disposition`, error bodies and status codes. So `go tool pprof` reads
//! from a rustprof server, and `rustprof` reads from a Go one.
//!
//! Safe by default: [`serve`] refuses a non-loopback address unless
//! [`Options::allow_remote`] says otherwise; [`Options::token`] requires
//! `Authorization: Bearer <token>` (compared in constant time); requests are
//! limited in size, header count and total time ([`Options::request_timeout`]);
//! a malformed request gets a 400 and the server keeps serving. Requests only
//! read the profiles: sampling rates and recorded data are left as the service
//! set them.
//!
//! Bounded cost, whatever the clients do: every profile is written to the
//! connection as it is encoded (text forms record by record), so a request
//! holds its profile and a buffer, not its text; at most
//! [`Options::max_profiles`] profiles are built or sent at once, holding at
//! most [`Options::max_profile_memory`] together; a request over either limit
//! waits up to 5 s, then gets a 503 with `Retry-After`. Connections over
//! [`Options::max_connections`] get a 503 too (read and answered, not reset).
//! A client that leaves stops its request; a response not taken by the client
//! within [`Options::write_timeout`] is cut. Symbols come from the
//! process-wide cache ([`crate::symbols`]), and everything the server
//! allocates is rustprof's own ([`crate::heap::own_stats`]), neither counted
//! in the program's [`crate::heap::stats`] nor sampled.
//!
//! With feature `axum`, `axum::router()` serves the same endpoints from a service
//! that already runs axum.

#![allow(unsafe_code)]

mod conn;
mod handlers;
mod limits;
mod request;
mod tasks;
mod text;
mod trace;

#[cfg(feature = "axum")]
pub mod axum;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

pub use handlers::{Body, BodyWriter, Request, Response};
pub use request::{parse as parse_request, query_pairs as parse_query};

/// How a server is set up; [`Options::serve`] starts it.
#[derive(Clone, Debug)]
pub struct Options {
    addr: String,
    token: Option<String>,
    allow_remote: bool,
    max_seconds: u64,
    max_connections: usize,
    cpu_hz: u32,
    max_profiles: usize,
    max_profile_memory: usize,
    request_timeout: Duration,
    write_timeout: Duration,
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
            max_profiles: 2,
            max_profile_memory: 256 << 20,
            request_timeout: request::READ_TIMEOUT,
            write_timeout: Duration::from_secs(60),
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

    /// The longest `seconds` a request may ask for is one less (default 600);
    /// longer ones get a 400 naming this option.
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

    /// Profiles built or being sent at once (default 2); more wait up to 5 s,
    /// then get a 503 with `Retry-After`.
    pub fn max_profiles(mut self, n: usize) -> Self {
        self.max_profiles = n.max(1);
        self
    }

    /// Bytes the profiles of all requests may hold together (default 256 MiB),
    /// as [`rustprof_profile::Profile::heap_bytes`] counts them; a request that
    /// would pass it waits, then gets a 503. A profile is always served when it
    /// is the only one held.
    pub fn max_profile_memory(mut self, bytes: usize) -> Self {
        self.max_profile_memory = bytes;
        self
    }

    /// The time a client has to send its whole request (default 10 s), from
    /// the moment it connected, however slowly the bytes come; then a 408.
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d.max(Duration::from_millis(10));
        self
    }

    /// The time a client has to take a whole response (default 60 s) once it
    /// starts; then the connection is closed.
    pub fn write_timeout(mut self, d: Duration) -> Self {
        self.write_timeout = d.max(Duration::from_millis(10));
        self
    }

    /// Binds and starts serving on a thread of its own.
    pub fn serve(self) -> io::Result<Server> {
        // The server's state is rustprof's own; `self` stays the program's.
        crate::heap::own(|| self.serve_own())
    }

    fn serve_own(&self) -> io::Result<Server> {
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
        let ctx = Arc::new(handlers::Ctx::new(self));
        let counters = ctx.counters.clone();
        let limits = conn::Limits {
            max_connections: self.max_connections,
            request_timeout: self.request_timeout,
            write_timeout: self.write_timeout,
        };
        let stop2 = stop.clone();
        let thread =
            crate::heap::spawn_own("rustprof-http", move || accept_loop(listener, ctx, stop2, limits))?;
        Ok(Server { addr, inner: Some(Inner { stop, counters, thread }) })
    }
}

/// Starts a server on `addr` with the default [`Options`] (loopback only).
pub fn serve(addr: impl Into<String>) -> io::Result<Server> {
    Options::new(addr).serve()
}

/// A running server; [`Server::stop`] or dropping it stops it.
///
/// Dropping it at once is a mistake the compiler points out:
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// fn main() -> std::io::Result<()> {
///     rustprof::http::serve("127.0.0.1:0")?; // the server would stop here
///     Ok(())
/// }
/// ```
#[must_use = "the server stops when this is dropped: keep it (`let _server = ...`) for as long as it should serve"]
pub struct Server {
    addr: SocketAddr,
    /// Taken (and freed as rustprof's own memory) when the server stops.
    inner: Option<Inner>,
}

struct Inner {
    stop: Arc<AtomicBool>,
    counters: Arc<limits::Counters>,
    thread: crate::heap::OwnThread<()>,
}

/// What a [`Server`] has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Responses written whole.
    pub served: u64,
    /// 503s for the profile limits ([`Options::max_profiles`],
    /// [`Options::max_profile_memory`]).
    pub busy: u64,
    /// 503s for [`Options::max_connections`].
    pub too_many_connections: u64,
    /// Requests not received in time (408), responses not taken in time.
    pub timed_out: u64,
    /// Requests stopped because their client left.
    pub canceled: u64,
    /// Malformed requests (4xx before any handler).
    pub bad_requests: u64,
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

    /// Counters of what the server did.
    pub fn stats(&self) -> ServerStats {
        let Some(c) = self.inner.as_ref().map(|i| &i.counters) else { return ServerStats::default() };
        let r = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        ServerStats {
            served: r(&c.served),
            busy: r(&c.busy),
            too_many_connections: r(&c.too_many_connections),
            timed_out: r(&c.timed_out),
            canceled: r(&c.canceled),
            bad_requests: r(&c.bad),
        }
    }

    /// Stops accepting connections and waits for the accept loop to end
    /// (requests in progress finish on their own threads).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(inner) = self.inner.take() else { return };
        let addr = self.addr;
        crate::heap::own(move || {
            inner.stop.store(true, Ordering::Release);
            // Wake the blocking accept.
            let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
            let _ = inner.thread.join();
        });
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn accept_loop(listener: TcpListener, ctx: Arc<handlers::Ctx>, stop: Arc<AtomicBool>, limits: conn::Limits) {
    let active = Arc::new(AtomicUsize::new(0));
    let rejecter = conn::Rejecter::start();
    for c in listener.incoming() {
        if stop.load(Ordering::Acquire) {
            break;
        }
        let Ok(stream) = c else {
            // Out of fds and the like: do not spin.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        if active.load(Ordering::Acquire) >= limits.max_connections {
            limits::Counters::bump(&ctx.counters.too_many_connections);
            conn::reject(stream, rejecter.as_ref());
            continue;
        }
        active.fetch_add(1, Ordering::AcqRel);
        let (ctx, active2, limits) = (ctx.clone(), active.clone(), limits.clone());
        let spawned = crate::heap::spawn_own("rustprof-http-c", move || {
            conn::serve(stream, &ctx, &limits);
            active2.fetch_sub(1, Ordering::AcqRel);
        });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::AcqRel);
        }
    }
}
