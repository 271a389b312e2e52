//! The endpoints, independent of the transport (the std server and the axum
//! router both call [`handle`]).
//!
//! A profile is built once per request, after the request got a place at the
//! [`Gate`]; its body is then written as it is produced ([`Body::Stream`]), so
//! that a request holds the profile and a buffer, never its text or encoding
//! whole.

use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustprof_profile::Profile;

use super::limits::{Full, Gate};
use super::request::query_pairs;
use super::{Options, text};

/// A request, as the handlers see it.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The decoded path, e.g. `/debug/pprof/heap`.
    pub path: String,
    /// The query string as sent (without `?`).
    pub raw_query: String,
    /// Header names lower-cased, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body (POST).
    pub body: Vec<u8>,
    /// Sent as HTTP/1.0 (a streamed body then ends with the connection
    /// rather than being chunked).
    pub http10: bool,
}

/// Writes a response body to the connection, as it is produced.
pub type BodyWriter = Box<dyn FnOnce(&mut dyn Write) -> io::Result<()> + Send>;

/// A response body.
pub enum Body {
    /// Bytes in memory (sent with a `Content-Length`).
    Bytes(Vec<u8>),
    /// Written as it is produced (chunked, or up to the end of the connection).
    Stream(BodyWriter),
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Body::Stream(_) => write!(f, "Stream"),
        }
    }
}

/// A response: status, headers (without `Content-Length`), body.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header lines.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Body,
}

impl Response {
    fn new(status: u16, content_type: &str, body: Vec<u8>) -> Response {
        Response::with_body(status, content_type, Body::Bytes(body))
    }

    pub(crate) fn with_body(status: u16, content_type: &str, body: Body) -> Response {
        Response {
            status,
            headers: vec![
                ("Content-Type".into(), content_type.into()),
                ("X-Content-Type-Options".into(), "nosniff".into()),
            ],
            body,
        }
    }

    pub(crate) fn with(mut self, k: &str, v: &str) -> Response {
        self.headers.push((k.into(), v.into()));
        self
    }

    /// The body written whole into memory (for transports that cannot stream,
    /// and tests).
    pub fn into_bytes(self) -> io::Result<Vec<u8>> {
        match self.body {
            Body::Bytes(b) => Ok(b),
            Body::Stream(w) => {
                let mut out = Vec::new();
                w(&mut out)?;
                Ok(out)
            }
        }
    }
}

/// What the handlers need from the server's options.
pub(crate) struct Ctx {
    token: Option<String>,
    max_seconds: u64,
    cpu_hz: u32,
    pub(crate) gate: Arc<Gate>,
    pub(crate) counters: Arc<super::limits::Counters>,
}

impl Ctx {
    pub(crate) fn new(o: &Options) -> Ctx {
        Ctx {
            token: o.token.clone(),
            max_seconds: o.max_seconds,
            cpu_hz: o.cpu_hz,
            gate: Arc::new(Gate::new(o.max_profiles, o.max_profile_memory)),
            counters: Arc::default(),
        }
    }

    /// [`Options::max_seconds`].
    pub(crate) fn max_seconds(&self) -> u64 {
        self.max_seconds
    }
}

/// The reason phrase of a status.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        499 => "Client Closed Request",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Go's `serveError`: plain text, `X-Go-Pprof: 1` (so `go tool pprof` shows the
/// body), message and a newline.
pub(crate) fn error(status: u16, msg: &str) -> Response {
    Response::new(status, "text/plain; charset=utf-8", format!("{msg}\n").into_bytes())
        .with("X-Go-Pprof", "1")
}

/// Compares in time independent of where the strings differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= (a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0xff)) as usize;
    }
    diff == 0
}

/// The profiles the index lists, with Go's descriptions where Go has the
/// profile.
const PROFILES: [(&str, &str); 11] = [
    ("allocs", "A sampling of all past memory allocations"),
    ("block", "Stack traces that led to blocking on synchronization primitives"),
    ("cmdline", "The command line invocation of the current program"),
    (
        "goroutine",
        "Stack traces of all current tokio tasks when task dumps are available (see tasks), else of all threads",
    ),
    (
        "heap",
        "A sampling of memory allocations of live objects. You can specify the gc GET parameter to run GC before taking the heap sample.",
    ),
    ("mutex", "Stack traces of holders of contended mutexes"),
    (
        "profile",
        "CPU profile. You can specify the duration in the seconds GET parameter. After you get the profile file, use the go tool pprof command to investigate the profile.",
    ),
    ("symbol", "Maps program counters to function names (GET ?0xPC+0xPC or POST them)"),
    (
        "tasks",
        "Stack traces of all current tokio tasks (feature tokio, built with --cfg tokio_unstable). Use debug=2 as a query parameter for every task.",
    ),
    ("threads", "Stack traces of all current threads. Use debug=2 as a query parameter for every thread."),
    (
        "trace",
        "A trace of execution of the current program. You can specify the duration in the seconds GET parameter. After you get the trace file, open it in ui.perfetto.dev (Perfetto's format).",
    ),
];

/// Whether `Authorization` carries `token` with the `Bearer` scheme (the
/// scheme's case does not matter, RFC 7235).
fn authorized(req: &Request, token: &str) -> bool {
    let given = req.headers.iter().find(|(k, _)| k == "authorization").map(|(_, v)| v.as_str());
    given
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .is_some_and(|(_, t)| constant_time_eq(t.trim().as_bytes(), token.as_bytes()))
}

/// The endpoint a path names: `Some("")` for the index, `Some(name)` for
/// `/debug/pprof/name` (one path segment), `None` for anything else.
pub(crate) fn endpoint(path: &str) -> Option<&str> {
    if path == "/debug/pprof" {
        return Some("");
    }
    let name = path.strip_prefix("/debug/pprof/")?;
    (!name.contains('/')).then_some(name)
}

/// Serves one request. `gone` says whether the client has left (a long
/// profile then ends early).
pub(crate) fn handle(req: &Request, ctx: &Ctx, gone: &dyn Fn() -> bool) -> Response {
    if let Some(token) = &ctx.token
        && !authorized(req, token)
    {
        return error(401, "Unauthorized").with("WWW-Authenticate", "Bearer");
    }
    let Some(name) = endpoint(&req.path) else {
        return error(404, "404 page not found");
    };
    let post_ok = name == "symbol";
    if req.method != "GET" && req.method != "HEAD" && !(post_ok && req.method == "POST") {
        return error(405, "Method Not Allowed")
            .with("Allow", if post_ok { "GET, HEAD, POST" } else { "GET, HEAD" });
    }
    let q = query_pairs(&req.raw_query);
    let param = |k: &str| -> Option<String> { q.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()) };
    match name {
        "" => index(),
        "cmdline" => {
            let args: Vec<String> = std::env::args().collect();
            Response::new(200, "text/plain; charset=utf-8", args.join("\0").into_bytes())
        }
        "symbol" => symbol(req),
        "profile" => cpu_profile(ctx, param("seconds").as_deref(), param("hz").as_deref(), gone),
        "trace" => super::trace::handle(ctx, param("seconds").as_deref()),
        _ => named(ctx, name, &param, gone),
    }
}

/// The 503 of a request turned away by the [`Gate`] (or the answer to one
/// whose client left).
fn full(f: Full) -> Response {
    match f {
        Full::Gone => error(499, "client gone"),
        f => error(503, &f.message()).with("Retry-After", "2"),
    }
}

/// The bytes a profile takes in memory, as the [`Gate`] counts them.
fn size_of_profile(p: &Profile) -> usize {
    p.heap_bytes()
}

fn index() -> Response {
    let mut rows = String::new();
    let mut descs = String::new();
    for (name, desc) in PROFILES {
        let count = count_of(name);
        rows.push_str(&format!("<tr><td>{count}</td><td><a href='{name}?debug=1'>{name}</a></td></tr>\n"));
        descs.push_str(&format!("<li><div class=profile-name>{name}: </div> {desc}</li>\n"));
    }
    let body = format!(
        "<html>\n<head>\n<title>/debug/pprof/</title>\n<style>\n.profile-name{{\n\tdisplay:inline-block;\n\twidth:6rem;\n}}\n</style>\n</head>\n<body>\n/debug/pprof/<br>\n<br>\nTypes of profiles available:\n<table>\n<thead><td>Count</td><td>Profile</td></thead>\n{rows}</table>\n<a href=\"goroutine?debug=2\">full goroutine stack dump</a>\n<br>\n<p>\nProfile Descriptions:\n<ul>\n{descs}</ul>\n</p>\n</body>\n</html>"
    );
    Response::new(200, "text/html; charset=utf-8", body.into_bytes())
}

/// The index's count column: records of each profile (as Go's `Count()`).
fn count_of(name: &str) -> usize {
    match name {
        "allocs" | "heap" => crate::heap::record_count(),
        "block" => crate::sync::block_record_count(),
        "mutex" => crate::sync::mutex_record_count(),
        "tasks" => super::tasks::count().unwrap_or(0),
        "goroutine" => super::tasks::count()
            .unwrap_or_else(|| std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0)),
        "threads" => std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0),
        _ => 0,
    }
}

/// Go's `ParseInt` for `seconds` of the CPU profile: invalid or ≤ 0 means 30.
fn cpu_seconds(v: Option<&str>) -> u64 {
    v.and_then(|s| s.parse::<i64>().ok()).filter(|&n| n > 0).map_or(30, |n| n as u64)
}

/// Sleeps up to `d`, returning early (false) when the client leaves.
fn wait(d: Duration, gone: &dyn Fn() -> bool) -> bool {
    let end = Instant::now() + d;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
        if gone() {
            return false;
        }
    }
}

/// A profile, gzip-compressed as it is written; the place at the gate is held
/// until the body is written.
fn octet(name: &str, p: Profile, ticket: super::limits::Ticket) -> Response {
    let body: BodyWriter = Box::new(move |w| {
        let _ticket = ticket;
        crate::write_gzip(&p, w)
    });
    Response::with_body(200, "application/octet-stream", Body::Stream(body))
        .with("Content-Disposition", &format!("attachment; filename=\"{name}\""))
}

/// A text body written from `p` as it is produced.
fn text_body(
    p: Profile,
    ticket: super::limits::Ticket,
    write: impl FnOnce(&Profile, &mut dyn Write) -> io::Result<()> + Send + 'static,
) -> Response {
    let body: BodyWriter = Box::new(move |w| {
        let _ticket = ticket;
        write(&p, w)
    });
    Response::with_body(200, "text/plain; charset=utf-8", Body::Stream(body))
}

pub(crate) fn limit_error(ctx: &Ctx) -> Response {
    error(
        400,
        &format!(
            "profile duration exceeds the server's limit of {} seconds (Options::max_seconds)",
            ctx.max_seconds.saturating_sub(1)
        ),
    )
}

/// A place at the gate, or the response that says why not.
fn admit(ctx: &Ctx, gone: &dyn Fn() -> bool) -> Result<super::limits::Ticket, Response> {
    ctx.gate.enter(gone).map_err(full)
}

fn cpu_profile(ctx: &Ctx, seconds: Option<&str>, hz: Option<&str>, gone: &dyn Fn() -> bool) -> Response {
    let secs = cpu_seconds(seconds);
    if secs >= ctx.max_seconds {
        return limit_error(ctx);
    }
    let hz =
        hz.and_then(|h| h.parse::<u32>().ok()).filter(|h| (1..=10_000).contains(h)).unwrap_or(ctx.cpu_hz);
    let prof = match crate::cpu::start(crate::cpu::CpuOptions::with_frequency(hz)) {
        Ok(p) => p,
        Err(e) => return error(500, &format!("Could not enable CPU profiling: {e}")),
    };
    if !wait(Duration::from_secs(secs), gone) {
        drop(prof);
        return error(499, "client gone");
    }
    let mut ticket = match admit(ctx, gone) {
        Ok(t) => t,
        Err(r) => return r,
    };
    match prof.stop() {
        Ok(p) => match ticket.hold(size_of_profile(&p), gone) {
            Ok(()) => octet("profile", p, ticket),
            Err(f) => full(f),
        },
        Err(e) => error(500, &format!("Could not enable CPU profiling: {e}")),
    }
}

/// Takes a named profile now.
fn take(name: &str) -> Option<Result<Profile, String>> {
    Some(match name {
        "heap" => Ok(crate::heap::profile()),
        "allocs" => Ok(crate::heap::allocs_profile()),
        "block" => Ok(crate::sync::block_profile()),
        "mutex" => Ok(crate::sync::mutex_profile()),
        "goroutine" | "threads" => crate::threads::profile().map_err(|e| e.to_string()),
        _ => return None,
    })
}

fn named(ctx: &Ctx, name: &str, param: &dyn Fn(&str) -> Option<String>, gone: &dyn Fn() -> bool) -> Response {
    if !matches!(name, "heap" | "allocs" | "block" | "mutex" | "goroutine" | "threads" | "tasks") {
        return error(404, "Unknown profile");
    }
    let debug = param("debug").and_then(|d| d.parse::<i64>().ok()).unwrap_or(0);
    if let Some(s) = param("seconds").filter(|s| !s.is_empty()) {
        return delta(ctx, name, &s, debug, gone);
    }
    let mut ticket = match admit(ctx, gone) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if matches!(name, "goroutine" | "tasks") {
        match super::tasks::take(name, debug) {
            None => {} // the thread dump
            Some(Err(why)) => return error(501, &why),
            Some(Ok(super::tasks::Taken::Profile(p))) => {
                return match ticket.hold(size_of_profile(&p), gone) {
                    Ok(()) => octet("goroutine", *p, ticket),
                    Err(f) => full(f),
                };
            }
            Some(Ok(super::tasks::Taken::Text(t))) => {
                return match ticket.hold(t.capacity(), gone) {
                    Ok(()) => Response::new(200, "text/plain; charset=utf-8", t.into_bytes()),
                    Err(f) => full(f),
                };
            }
        }
    }
    if debug != 0 && matches!(name, "goroutine" | "threads") {
        return match crate::threads::dump_text(if debug >= 2 { 2 } else { 1 }) {
            Ok(b) => match ticket.hold(b.capacity(), gone) {
                Ok(()) => Response::new(200, "text/plain; charset=utf-8", b.into_bytes()),
                Err(f) => full(f),
            },
            Err(e) => error(500, &format!("failed to collect profile: {e}")),
        };
    }
    let p = match take(name) {
        Some(Ok(p)) => p,
        Some(Err(e)) => return error(500, &format!("failed to collect profile: {e}")),
        None => return error(404, "Unknown profile"),
    };
    if let Err(f) = ticket.hold(size_of_profile(&p), gone) {
        return full(f);
    }
    if debug == 0 {
        return octet(name, p, ticket);
    }
    match name {
        "heap" | "allocs" => {
            let stats = crate::heap::stats();
            text_body(p, ticket, move |p, w| text::heap(p, stats, w))
        }
        "block" => text_body(p, ticket, |p, w| text::contention("contention", p, w)),
        _ => text_body(p, ticket, |p, w| text::contention("mutex", p, w)),
    }
}

/// Go's `serveDeltaProfile`: the profile's change over `seconds`.
fn delta(ctx: &Ctx, name: &str, seconds: &str, debug: i64, gone: &dyn Fn() -> bool) -> Response {
    let secs = match seconds.parse::<i64>() {
        Ok(n) if n > 0 => n as u64,
        _ => return error(400, "invalid value for \"seconds\" - must be a positive integer"),
    };
    if secs >= ctx.max_seconds {
        return limit_error(ctx);
    }
    if debug != 0 {
        return error(400, "seconds and debug params are incompatible");
    }
    let mut ticket = match admit(ctx, gone) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let t0 = crate::sys::now_ns();
    let p0 = match take(name) {
        Some(Ok(p)) => p,
        _ => return error(500, "failed to collect profile"),
    };
    // The first profile is held while waiting, the second while subtracting.
    if let Err(f) = ticket.hold(2 * size_of_profile(&p0), gone) {
        return full(f);
    }
    if !wait(Duration::from_secs(secs), gone) {
        return error(500, "context canceled");
    }
    let t1 = crate::sys::now_ns();
    let p1 = match take(name) {
        Some(Ok(p)) => p,
        _ => return error(500, "failed to collect profile"),
    };
    let Ok(mut d) = rustprof_profile::subtract(&p1, &p0) else {
        return error(500, "failed to compute delta");
    };
    drop((p0, p1));
    d.samples.retain(|_, s| s.values.iter().any(|&v| v != 0));
    d.time_nanos = t1;
    d.duration_nanos = t1 - t0;
    octet(&format!("{name}-delta"), d, ticket)
}

/// Go's symbol protocol: `num_symbols: 1`, then `0xPC name` for each known PC.
fn symbol(req: &Request) -> Response {
    let input = if req.method == "POST" {
        String::from_utf8_lossy(&req.body).into_owned()
    } else {
        req.raw_query.clone()
    };
    let pcs: Vec<u64> = input.split('+').filter_map(|w| parse_uint(w.trim())).filter(|&pc| pc != 0).collect();
    let mut out = String::from("num_symbols: 1\n");
    if !pcs.is_empty() {
        let frames = crate::symbols::symbolize_now(&pcs);
        for (pc, f) in pcs.iter().zip(frames) {
            if let Some(first) = f.frames.first().filter(|f| !f.function.is_empty()) {
                out.push_str(&format!("{pc:#x} {}\n", first.function));
            }
        }
    }
    Response::new(200, "text/plain; charset=utf-8", out.into_bytes())
}

/// `strconv.ParseUint(s, 0, 64)`: `0x` hex, `0o`/leading-0 octal, `0b` binary,
/// decimal.
fn parse_uint(s: &str) -> Option<u64> {
    let s = s.replace('_', "");
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if let Some(b) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        u64::from_str_radix(b, 2).ok()
    } else if let Some(o) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        u64::from_str_radix(o, 8).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_uints() {
        assert_eq!(parse_uint("0x671004"), Some(0x671004));
        assert_eq!(parse_uint("017"), Some(15));
        assert_eq!(parse_uint("42"), Some(42));
        assert_eq!(parse_uint("0b101"), Some(5));
        assert_eq!(parse_uint("zz"), None);
    }

    #[test]
    fn seconds_like_go() {
        assert_eq!(cpu_seconds(None), 30);
        assert_eq!(cpu_seconds(Some("1.5")), 30);
        assert_eq!(cpu_seconds(Some("-3")), 30);
        assert_eq!(cpu_seconds(Some("5")), 5);
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
