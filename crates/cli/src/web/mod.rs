//! The web UI (`-http=[host]:[port]`): a local HTTP server with the views of
//! pprof's web interface — Top, Graph, Flame Graph, Peek, Source — whose
//! menus (sample type, refine, search) keep every state in the URL.
//!
//! Every request starts from the command line's options, applies the URL's
//! parameters (pprof's names: `f`, `i`, `h`, `s`, `sf`, `si`, `n`, `g`...) and
//! generates its report from a copy of the profile with the same driver code
//! as the command line ([`crate::driver::generate_raw_report`]), so numbers
//! agree exactly with `rustprof -top` and friends.
//!
//! [`http`] reads requests and writes responses (std only, one thread per
//! connection, a bounded number of them); [`views`] answers each path;
//! [`page`] draws the page around a view, [`tags`] lists the profile's labels
//! for its *Tags* menu. The scripts and styles are embedded
//! in the binary (`assets/`) and served from `/ui/static/`: nothing is loaded
//! from the network.

pub mod http;
pub mod page;
pub mod tags;
pub mod timeline;
pub mod timeline_data;
pub mod views;

use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rustprof_profile::Profile;

use crate::config::Config;
use crate::driver::{Source, Ui};
use crate::report::flame::FlameTree;

/// At most this many connections are served at once; more get 503.
pub const MAX_CONNECTIONS: usize = 64;
/// At most this many reports are computed at once (each copies the profile).
pub const MAX_REPORTS: usize = 2;

/// A counting gate bounding concurrent work.
pub struct Gate {
    count: Mutex<usize>,
    cv: Condvar,
    max: usize,
}

/// Holds a place in a [`Gate`] until dropped.
pub struct GateGuard<'a>(&'a Gate);

impl Gate {
    /// A gate letting `max` through at once.
    pub fn new(max: usize) -> Gate {
        Gate { count: Mutex::new(0), cv: Condvar::new(), max: max.max(1) }
    }

    /// Waits for a place.
    pub fn enter(&self) -> GateGuard<'_> {
        let mut n = self.count.lock().unwrap_or_else(|e| e.into_inner());
        while *n >= self.max {
            n = self.cv.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        *n += 1;
        GateGuard(self)
    }
}

impl Drop for GateGuard<'_> {
    fn drop(&mut self) {
        let mut n = self.0.count.lock().unwrap_or_else(|e| e.into_inner());
        *n = n.saturating_sub(1);
        self.0.cv.notify_one();
    }
}

/// A flame tree with the warnings of the report it came from.
pub type CachedTree = (Arc<FlameTree>, Vec<String>);

/// What the server knows: the profile, the command line's options.
pub struct WebUi {
    /// The profile (merged, with its base), copied for every report.
    pub prof: Profile,
    /// The options of the command line: the defaults of every request.
    pub cfg: Config,
    /// The profile's sample type names.
    pub sample_types: Vec<String>,
    /// A base was given (`-base` or `-diff_base`).
    pub has_base: bool,
    /// Bounds concurrent report generation.
    pub gate: Gate,
    /// The last few flame trees, by the options that made them.
    pub flames: Mutex<Vec<(String, CachedTree)>>,
    /// The profile's label keys and values (the *Tags* menu).
    pub tags: tags::Tags,
    /// The profile's comments, shown on every page.
    pub comments: Vec<String>,
}

impl WebUi {
    /// The state for serving `prof` with the command line's `cfg`.
    pub fn new(prof: Profile, cfg: Config, has_base: bool) -> WebUi {
        let sample_types = prof.sample_types.iter().map(|t| prof.str(t.ty).to_string()).collect();
        let si = crate::driver::sample_index(&prof, &cfg.sample_index).unwrap_or(0);
        let tags = tags::Tags::of(&prof, si);
        let comments = prof.comments.iter().map(|&c| prof.str(c).to_string()).collect();
        WebUi {
            prof,
            cfg,
            sample_types,
            has_base,
            gate: Gate::new(MAX_REPORTS),
            flames: Mutex::new(Vec::new()),
            tags,
            comments,
        }
    }
}

/// Splits `-http`'s `[host]:[port]` (Go's `net.SplitHostPort` rules); an empty
/// host is `localhost`, an empty port is any free port.
pub fn split_host_port(s: &str) -> Result<(String, Option<u16>), String> {
    let err = |why: &str| format!("could not split http address: address {s}: {why}");
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or_else(|| err("missing ']' in address"))?;
        let port = after.strip_prefix(':').ok_or_else(|| err("missing port in address"))?;
        (h, port)
    } else {
        let i = s.rfind(':').ok_or_else(|| err("missing port in address"))?;
        let (h, p) = (&s[..i], &s[i + 1..]);
        if h.contains(':') {
            return Err(err("too many colons in address"));
        }
        (h, p)
    };
    let host = if host.is_empty() { "localhost" } else { host };
    let port = if port.is_empty() {
        None
    } else {
        Some(port.parse::<u16>().map_err(|_| format!("invalid port number: {}", crate::gofmt::quote(port)))?)
    };
    Ok((host.to_string(), port))
}

/// Whether the server only answers local clients (as pprof decides).
pub fn is_localhost(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]")
}

/// Listens on `host:port` (IPv4 first when the name has both).
pub fn bind(host: &str, port: u16) -> Result<TcpListener, String> {
    let mut addrs: Vec<std::net::SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("listen tcp {}: {e}", host_port(host, port)))?
        .collect();
    addrs.sort_by_key(|a| a.is_ipv6());
    let mut last = format!("listen tcp {}: no address", host_port(host, port));
    for a in addrs {
        match TcpListener::bind(a) {
            Ok(l) => return Ok(l),
            Err(e) => {
                last = format!("listen tcp {}: {}", host_port(host, port), crate::fetch::go_io_error(&e))
            }
        }
    }
    Err(last)
}

/// `host:port`, with brackets around IPv6 hosts.
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

/// What answers the requests of a server.
pub trait Router: Send + Sync + 'static {
    /// Answers one request.
    fn route(&self, req: &http::Request) -> http::Response;
}

impl Router for WebUi {
    fn route(&self, req: &http::Request) -> http::Response {
        WebUi::route(self, req)
    }
}

/// Serves the web UI until the process is stopped.
pub fn serve(prof: Profile, cfg: Config, source: &Source, ui: &mut dyn Ui) -> Result<(), String> {
    let state = Arc::new(WebUi::new(prof, cfg, !source.base.is_empty()));
    serve_router(state, source, ui)
}

/// Serves `state` on `-http`'s address until the process is stopped.
pub fn serve_router(state: Arc<dyn Router>, source: &Source, ui: &mut dyn Ui) -> Result<(), String> {
    let (host, port) = split_host_port(&source.http_hostport)?;
    let listener = bind(&host, port.unwrap_or(0))?;
    let port = listener.local_addr().map_err(|e| format!("listen: {e}"))?.port();
    let url = format!("http://{}", host_port(&host, port));
    ui.print(&format!("Serving web UI on {url}"));
    if !source.http_disable_browser && ui.is_terminal() {
        let target = format!("{url}/ui/");
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            if !crate::post::open_with(&crate::post::browsers_for(false), &target) {
                crate::driver::errln(&target);
            }
        });
    }
    let local_only = is_localhost(&host);
    let active = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        let mut stream = match conn {
            Ok(s) => s,
            Err(_) => {
                // Out of descriptors, a reset before accept...: go on.
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            let busy = http::Response::new(503, "text/plain; charset=utf-8", "server busy, try again\n");
            let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
            let _ = http::write_response(&mut stream, &busy, false);
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let guard = ActiveGuard(active.clone());
        let state = state.clone();
        let _ = std::thread::Builder::new().name("rustprof-web".into()).spawn(move || {
            let _guard = guard;
            handle(stream, &*state, local_only);
        });
    }
    Ok(())
}

/// Counts a connection being served until dropped.
struct ActiveGuard(Arc<AtomicUsize>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serves one connection: one request, one response.
pub fn handle(mut stream: TcpStream, state: &dyn Router, local_only: bool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(120)));
    let peer_ok = !local_only || stream.peer_addr().is_ok_and(|a| a.ip().to_canonical().is_loopback());
    let req = match http::read_request(&mut stream) {
        Ok(r) => r,
        Err(http::ReadError::Closed) => return,
        Err(http::ReadError::Bad(why)) => {
            let resp = page::plain_error(400, &format!("bad request: {why}"));
            let _ = http::write_response(&mut stream, &resp, false);
            return;
        }
        Err(http::ReadError::TooLarge) => {
            let resp = page::plain_error(431, "request too large");
            let _ = http::write_response(&mut stream, &resp, false);
            return;
        }
    };
    let head_only = req.method == "HEAD";
    let resp = if !peer_ok {
        page::plain_error(403, "permission denied")
    } else if req.method != "GET" && !head_only {
        page::plain_error(405, "method not allowed: use GET").with_header("Allow", "GET, HEAD")
    } else {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| state.route(&req))) {
            Ok(r) => r,
            Err(_) => page::plain_error(500, "internal error while generating this view"),
        }
    };
    let _ = http::write_response(&mut stream, &resp, head_only);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn host_and_port() {
        assert_eq!(split_host_port(":8080").unwrap(), ("localhost".to_string(), Some(8080)));
        assert_eq!(split_host_port("0.0.0.0:").unwrap(), ("0.0.0.0".to_string(), None));
        assert_eq!(split_host_port(":").unwrap(), ("localhost".to_string(), None));
        assert_eq!(split_host_port("[::1]:9").unwrap(), ("::1".to_string(), Some(9)));
        assert_eq!(
            split_host_port("8080").unwrap_err(),
            "could not split http address: address 8080: missing port in address"
        );
        assert!(split_host_port("a:b:c").unwrap_err().contains("too many colons"));
        assert!(split_host_port("[::1]").unwrap_err().contains("missing port"));
        assert_eq!(split_host_port("h:x").unwrap_err(), "invalid port number: \"x\"");
        assert_eq!(split_host_port("h:70000").unwrap_err(), "invalid port number: \"70000\"");
        assert!(is_localhost("localhost") && is_localhost("::1") && !is_localhost("0.0.0.0"));
        assert_eq!(host_port("::1", 80), "[::1]:80");
    }

    #[test]
    fn gate_bounds_concurrency() {
        let gate = Arc::new(Gate::new(2));
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let (gate, inside, most) = (gate.clone(), inside.clone(), most.clone());
                std::thread::spawn(move || {
                    let _g = gate.enter();
                    let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(most.load(Ordering::SeqCst) <= 2);
    }
}
