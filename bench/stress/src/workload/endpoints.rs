//! HTTP clients fetching every endpoint of `rustprof::http::serve` in a loop,
//! each response checked (profiles decoded and validated, text forms by their
//! first line), counting the valid ones and the others.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Shared, client};

/// How a response's body is checked.
#[derive(Clone, Copy)]
enum Check {
    /// A profile.proto (gzipped): decoded and validated.
    Proto,
    /// An execution trace (Perfetto protobuf): decoded, complete, with tracks.
    Trace,
    /// Text that starts with this.
    Starts(&'static str),
    /// Text that contains this.
    Contains(&'static str),
}

/// Every endpoint (`{pc}` is replaced by the address of a function here).
const ENDPOINTS: [(&str, Check); 25] = [
    ("/debug/pprof/", Check::Contains("Types of profiles available")),
    ("/debug/pprof/cmdline", Check::Contains("--child")),
    ("/debug/pprof/symbol?{pc}", Check::Contains("endpoints::client")),
    ("/debug/pprof/profile?seconds=1", Check::Proto),
    ("/debug/pprof/heap", Check::Proto),
    ("/debug/pprof/heap?debug=1", Check::Starts("heap profile:")),
    ("/debug/pprof/heap?debug=2", Check::Starts("heap profile:")),
    ("/debug/pprof/heap?seconds=1", Check::Proto),
    ("/debug/pprof/allocs", Check::Proto),
    ("/debug/pprof/allocs?debug=1", Check::Starts("heap profile:")),
    ("/debug/pprof/allocs?debug=2", Check::Starts("heap profile:")),
    ("/debug/pprof/allocs?seconds=1", Check::Proto),
    ("/debug/pprof/block", Check::Proto),
    ("/debug/pprof/block?debug=1", Check::Starts("--- contention:")),
    ("/debug/pprof/block?seconds=1", Check::Proto),
    ("/debug/pprof/mutex", Check::Proto),
    ("/debug/pprof/mutex?debug=1", Check::Starts("--- mutex:")),
    ("/debug/pprof/mutex?seconds=1", Check::Proto),
    ("/debug/pprof/goroutine", Check::Proto),
    ("/debug/pprof/goroutine?debug=1", Check::Starts("threads profile: total")),
    ("/debug/pprof/goroutine?debug=2", Check::Starts("thread ")),
    ("/debug/pprof/threads", Check::Proto),
    ("/debug/pprof/threads?debug=1", Check::Starts("threads profile: total")),
    ("/debug/pprof/threads?debug=2", Check::Starts("thread ")),
    ("/debug/pprof/trace?seconds=1", Check::Trace),
];

/// Failures printed in full (the rest are only counted).
const PRINTED_FAILURES: u64 = 20;

/// Valid responses per endpoint.
pub(crate) struct Seen([AtomicU64; ENDPOINTS.len()]);

impl Default for Seen {
    fn default() -> Self {
        Seen(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

impl Seen {
    /// The endpoints never answered validly so far, comma-separated (`-`
    /// when none): no spaces, for the heartbeat line.
    pub(crate) fn never_ok(&self) -> String {
        let v: Vec<&str> = ENDPOINTS
            .iter()
            .zip(&self.0)
            .filter(|(_, n)| n.load(Ordering::Relaxed) == 0)
            .map(|((p, _), _)| p.trim_start_matches("/debug/pprof/"))
            .map(|p| if p.is_empty() { "index" } else { p })
            .collect();
        if v.is_empty() { "-".into() } else { v.join(",").replace(' ', "") }
    }
}

/// Client `i`: every endpoint in turn, starting at a different one.
pub(crate) fn client(s: &Shared, addr: SocketAddr, i: usize) {
    let pc = format!("{:#x}", client as *const () as usize);
    let mut k = i * 5;
    while !s.stopping() {
        let e = k % ENDPOINTS.len();
        k += 1;
        let (template, check) = ENDPOINTS[e];
        let path = template.replace("{pc}", &pc);
        let result = if template.contains("profile?") {
            // The process's one CPU profile: wait for the profile loop's turn.
            match s.cpu_turn.take_for_http(s) {
                Some(_turn) => fetch(addr, &path, check),
                None => break,
            }
        } else if template.contains("trace?") {
            // One trace at a time in a process (another gets a 503): the
            // clients take turns.
            let _turn = s.trace_turn.lock().unwrap_or_else(|e| e.into_inner());
            fetch(addr, &path, check)
        } else {
            fetch(addr, &path, check)
        };
        match result {
            Ok(()) => {
                s.ok.fetch_add(1, Ordering::Relaxed);
                s.endpoints.0[e].fetch_add(1, Ordering::Relaxed);
            }
            Err(why) => {
                let n = s.failed.fetch_add(1, Ordering::Relaxed);
                if n < PRINTED_FAILURES {
                    eprintln!("rustprof-stress child: GET {path}: {why}");
                }
            }
        }
        s.http.fetch_add(1, Ordering::Relaxed);
    }
}

fn fetch(addr: SocketAddr, path: &str, check: Check) -> Result<(), String> {
    let r = client::get(addr, path)?;
    if r.status != 200 {
        let text = String::from_utf8_lossy(&r.body[..r.body.len().min(200)]).trim().to_string();
        return Err(format!("status {}: {text}", r.status));
    }
    match check {
        Check::Proto => {
            let p = rustprof_profile::decode(&r.body)
                .map_err(|e| format!("decoding the {} byte profile: {e}", r.body.len()))?;
            rustprof_profile::validate(&p).map_err(|e| format!("invalid profile: {e}"))
        }
        Check::Trace => {
            let t = rustprof_trace::decode(&r.body)
                .map_err(|e| format!("decoding the {} byte trace: {e}", r.body.len()))?;
            match t.truncated_at {
                Some(at) => Err(format!("trace cut at byte {at} of {}", r.body.len())),
                None if t.tracks.is_empty() => Err("a trace without tracks".into()),
                None => Ok(()),
            }
        }
        Check::Starts(prefix) if r.body.starts_with(prefix.as_bytes()) => Ok(()),
        Check::Contains(what) if r.body.windows(what.len()).any(|w| w == what.as_bytes()) => Ok(()),
        Check::Starts(what) | Check::Contains(what) => {
            let text = String::from_utf8_lossy(&r.body[..r.body.len().min(80)]).to_string();
            Err(format!("expected {what:?} in the {} byte body, which starts {text:?}", r.body.len()))
        }
    }
}
