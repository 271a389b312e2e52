//! `/debug/pprof` over real sockets on 127.0.0.1: every endpoint of a server
//! with CPU, heap and lock profiling on, decoded; `go tool pprof` reading from
//! it; bad requests; the token; the loopback default; the axum router.

#![allow(clippy::unwrap_used)]

use std::alloc::System;
use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use rustprof::http::{self, Options};

#[global_allocator]
static ALLOC: rustprof::heap::Sampled<System> = rustprof::heap::Sampled::new(System);

/// One test at a time (one CPU profile per process).
fn lock() -> MutexGuard<'static, ()> {
    static L: StdMutex<()> = StdMutex::new(());
    L.lock().unwrap_or_else(|e| e.into_inner())
}

#[inline(never)]
fn http_hot_function(n: u64) -> u64 {
    let mut x = n | 1;
    for i in 0..n {
        x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) ^ i;
    }
    x
}

/// A function with no inlined callees at its entry, so the symbol endpoint
/// (which, like Go's, names the innermost inlined function) reports it.
#[inline(never)]
extern "C" fn http_symbol_target(x: u64) -> u64 {
    x ^ 0x5a5a
}

#[inline(never)]
fn http_kept_allocation() -> Vec<Vec<u8>> {
    (0..256).map(|i| vec![i as u8; 64 * 1024]).collect()
}

#[inline(never)]
fn http_lock_holder(m: &rustprof::sync::Mutex<u64>) {
    let mut g = m.lock().unwrap();
    std::thread::sleep(Duration::from_millis(2));
    *g += 1;
}

/// A process-wide workload: a busy thread, 16 MiB kept, two threads
/// contending on a lock.
fn workload() {
    static STARTED: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    STARTED.get_or_init(|| {
        rustprof::sync::set_block_profile_rate(1);
        rustprof::sync::set_mutex_profile_fraction(1);
        std::thread::spawn(|| {
            loop {
                black_box(http_hot_function(black_box(5_000_000)));
            }
        });
        let m = Arc::new(rustprof::sync::Mutex::new(0u64));
        for _ in 0..2 {
            let m = m.clone();
            std::thread::spawn(move || {
                loop {
                    http_lock_holder(&m);
                }
            });
        }
        http_kept_allocation()
    });
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, k: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(k)).map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn raw(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(request).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| panic!("no response: {buf:?}"));
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(": ").map(|(k, v)| (k.to_string(), v.to_string()))).collect();
    let mut body = buf[end + 4..].to_vec();
    if headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v == "chunked") {
        body = dechunk(&body);
    }
    Reply { status, headers, body }
}

/// The body of a chunked response; panics when it is cut short.
fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").expect("chunk size line");
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        b = &b[eol + 2..];
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[..n]);
        assert_eq!(&b[n..n + 2], b"\r\n");
        b = &b[n + 2..];
    }
}

fn get(addr: SocketAddr, path: &str) -> Reply {
    raw(addr, format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
}

fn decode(r: &Reply) -> rustprof::Profile {
    assert_eq!(r.status, 200, "{}", r.text());
    rustprof_profile::decode(&r.body).unwrap()
}

fn names(p: &rustprof::Profile) -> Vec<String> {
    p.functions.iter().map(|f| p.str(f.name).to_string()).collect()
}

#[test]
fn every_endpoint() {
    let _l = lock();
    workload();
    let server = http::serve("127.0.0.1:0").unwrap();
    let a = server.local_addr();
    let settings = || {
        (
            rustprof::heap::sample_rate(),
            rustprof::sync::block_profile_rate(),
            rustprof::sync::mutex_profile_fraction(),
        )
    };
    let before = (settings(), rustprof::heap::record_count(), rustprof::sync::block_record_count());

    let index = get(a, "/debug/pprof/");
    assert_eq!(index.status, 200);
    assert_eq!(index.header("Content-Type"), Some("text/html; charset=utf-8"));
    for name in ["allocs", "block", "cmdline", "goroutine", "heap", "mutex", "profile", "threads"] {
        assert!(index.text().contains(&format!("<a href='{name}?debug=1'>{name}</a>")), "{name}");
    }

    let cpu = get(a, "/debug/pprof/profile?seconds=1");
    assert_eq!(cpu.header("Content-Disposition"), Some("attachment; filename=\"profile\""));
    assert_eq!(cpu.header("Content-Type"), Some("application/octet-stream"));
    let p = decode(&cpu);
    assert!(names(&p).iter().any(|n| n.contains("http_hot_function")), "{:?}", names(&p));
    assert_eq!(p.str(p.sample_types[1].ty), "cpu");

    for name in ["heap", "allocs"] {
        let r = get(a, &format!("/debug/pprof/{name}?gc=1"));
        assert_eq!(
            r.header("Content-Disposition"),
            Some(format!("attachment; filename=\"{name}\"").as_str())
        );
        let p = decode(&r);
        assert_eq!(p.sample_types.len(), 4);
        assert!(names(&p).iter().any(|n| n.contains("http_kept_allocation")), "{name}: {:?}", names(&p));
    }
    let delta = get(a, "/debug/pprof/heap?seconds=1");
    assert_eq!(delta.header("Content-Disposition"), Some("attachment; filename=\"heap-delta\""));
    let d = decode(&delta);
    assert!(d.duration_nanos >= 1_000_000_000);
    // The kept blocks did not change in that second: not in the delta.
    assert!(!d.samples.iter().any(|s| s.locations.iter().any(|&l| {
        d.location_lines(l)
            .iter()
            .any(|ln| d.str(d.functions[ln.function as usize].name).contains("http_kept"))
    })));

    for name in ["block", "mutex"] {
        let p = decode(&get(a, &format!("/debug/pprof/{name}")));
        assert_eq!(p.str(p.sample_types[1].ty), "delay");
        assert!(names(&p).iter().any(|n| n.contains("http_lock_holder")), "{name}: {:?}", names(&p));
        let t = get(a, &format!("/debug/pprof/{name}?debug=1"));
        assert_eq!(t.header("Content-Type"), Some("text/plain; charset=utf-8"));
        assert!(
            t.text().starts_with(if name == "block" { "--- contention:\n" } else { "--- mutex:\n" }),
            "{}",
            t.text()
        );
        assert!(t.text().contains("http_lock_holder"));
    }
    for name in ["goroutine", "threads"] {
        let p = decode(&get(a, &format!("/debug/pprof/{name}")));
        assert!(p.samples.len() >= 3);
        let t1 = get(a, &format!("/debug/pprof/{name}?debug=1")).text();
        assert!(t1.starts_with("threads profile: total "), "{t1}");
        let t2 = get(a, &format!("/debug/pprof/{name}?debug=2")).text();
        assert!(t2.contains("http_hot_function"), "{t2}");
    }
    let heap_text = get(a, "/debug/pprof/heap?debug=1").text();
    assert!(heap_text.starts_with("heap profile: "), "{heap_text}");
    assert!(heap_text.contains("@ heap/1048576"));
    assert!(heap_text.contains("# TotalAlloc = "));

    let cmdline = get(a, "/debug/pprof/cmdline");
    let args: Vec<String> = std::env::args().collect();
    assert_eq!(cmdline.text(), args.join("\0"));

    assert_eq!(http_symbol_target(1), 0x5a5b);
    let pc = http_symbol_target as extern "C" fn(u64) -> u64 as usize;
    let sym = get(a, &format!("/debug/pprof/symbol?{pc:#x}+0x1"));
    assert!(sym.text().starts_with("num_symbols: 1\n"));
    assert!(sym.text().contains(&format!("{pc:#x} http::http_symbol_target")), "{}", sym.text());
    let body = format!("{pc:#x}");
    let post = raw(
        a,
        format!("POST /debug/pprof/symbol HTTP/1.1\r\nContent-Length: {}\r\n\r\n{body}", body.len())
            .as_bytes(),
    );
    assert!(post.text().contains("http_symbol_target"), "{}", post.text());
    assert_eq!(get(a, "/debug/pprof/symbol").text(), "num_symbols: 1\n");

    // Serving every profile (deltas included) left the service's profiling as
    // it was: same rates, and nothing recorded was dropped.
    assert_eq!(settings(), before.0);
    assert!(rustprof::heap::record_count() >= before.1);
    assert!(rustprof::sync::block_record_count() >= before.2);
}

#[test]
fn go_errors() {
    let _l = lock();
    let server = Options::new("127.0.0.1:0").max_seconds(60).serve().unwrap();
    let a = server.local_addr();
    let check = |path: &str, status: u16, body: &str| {
        let r = get(a, path);
        assert_eq!((r.status, r.text().as_str()), (status, body), "{path}");
        assert_eq!(r.header("X-Go-Pprof"), Some("1"), "{path}");
        assert_eq!(r.header("Content-Type"), Some("text/plain; charset=utf-8"));
    };
    check("/debug/pprof/nosuch", 404, "Unknown profile\n");
    check("/debug/pprof/heap?seconds=x", 400, "invalid value for \"seconds\" - must be a positive integer\n");
    check("/debug/pprof/heap?seconds=0", 400, "invalid value for \"seconds\" - must be a positive integer\n");
    check("/debug/pprof/heap?seconds=1&debug=1", 400, "seconds and debug params are incompatible\n");
    let limit = "profile duration exceeds the server's limit of 59 seconds (Options::max_seconds)\n";
    check("/debug/pprof/profile?seconds=100", 400, limit);
    check("/debug/pprof/heap?seconds=100", 400, limit);
    check("/elsewhere", 404, "404 page not found\n");
    let r = raw(a, b"POST /debug/pprof/heap HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(r.status, 405);
    // A second CPU profile while one runs: Go's message.
    let busy = rustprof::cpu::start(rustprof::cpu::CpuOptions::default()).unwrap();
    check(
        "/debug/pprof/profile?seconds=1",
        500,
        "Could not enable CPU profiling: cpu profiling already in use\n",
    );
    drop(busy);
}

#[test]
fn bad_requests_leave_the_server_serving() {
    let _l = lock();
    let server = http::serve("127.0.0.1:0").unwrap();
    let a = server.local_addr();
    let send = |bytes: &[u8]| -> Option<u16> {
        let mut s = TcpStream::connect(a).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(15))).ok()?;
        let _ = s.write_all(bytes);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        std::str::from_utf8(buf.get(9..12)?).ok()?.parse().ok()
    };
    assert_eq!(send(b"\x16\x03\x01garbage\r\n\r\n"), Some(400));
    assert_eq!(send(b"GET /debug/pprof/ HTTP/1.1\r\n"), Some(400));
    let mut huge = b"GET /debug/pprof/ HTTP/1.1\r\nX: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 100_000));
    assert_eq!(send(&huge), Some(431));
    let many: String = (0..500).map(|i| format!("H{i}: v\r\n")).collect();
    assert_eq!(send(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()), Some(431));
    assert_eq!(send(b"GET /debug/pprof/heap HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n"), Some(413));
    // 1000 random malformed requests, bounded in time.
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let start = Instant::now();
    let pieces: [&[u8]; 10] = [
        b"GET ",
        b"/debug/pprof/",
        b"heap",
        b"?seconds=",
        b"%zz",
        b" HTTP/1.1",
        b"\r\n",
        b"Content-Length: 3",
        b"\x00\xff",
        b": ",
    ];
    for _ in 0..1000 {
        let mut req = Vec::new();
        for _ in 0..(rng % 12) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            req.extend_from_slice(pieces[(rng % 10) as usize]);
        }
        req.extend_from_slice(b"\r\n\r\n");
        if let Some(code) = send(&req) {
            assert!(
                [200, 400, 404, 405, 408, 413, 431].contains(&code),
                "{code} for {:?}",
                String::from_utf8_lossy(&req)
            );
        }
        assert!(start.elapsed() < Duration::from_secs(120), "malformed requests took too long");
    }
    assert_eq!(get(a, "/debug/pprof/").status, 200);
}

#[test]
fn token_and_loopback() {
    let _l = lock();
    let err = http::serve("0.0.0.0:0").err().expect("a non-loopback address needs allow_remote");
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("non-loopback"), "{err}");
    drop(Options::new("0.0.0.0:0").allow_remote(true).serve().unwrap());
    assert!(http::serve("no-such-host.invalid:1").is_err());

    let server = Options::new("127.0.0.1:0").token("s3cret").serve().unwrap();
    let a = server.local_addr();
    assert_eq!(get(a, "/debug/pprof/").status, 401);
    let wrong = raw(a, b"GET /debug/pprof/ HTTP/1.1\r\nAuthorization: Bearer s3cre\r\n\r\n");
    assert_eq!(wrong.status, 401);
    let ok = raw(a, b"GET /debug/pprof/ HTTP/1.1\r\nAuthorization: Bearer s3cret\r\n\r\n");
    assert_eq!(ok.status, 200);
    // The scheme is case-insensitive (RFC 7235); the token is not.
    for auth in ["bearer s3cret", "BEARER s3cret", "beaRer   s3cret"] {
        let r = raw(a, format!("GET /debug/pprof/ HTTP/1.1\r\nAuthorization: {auth}\r\n\r\n").as_bytes());
        assert_eq!(r.status, 200, "{auth}");
    }
    for auth in ["Bearer S3CRET", "Basic s3cret", "Bearers3cret"] {
        let r = raw(a, format!("GET /debug/pprof/ HTTP/1.1\r\nAuthorization: {auth}\r\n\r\n").as_bytes());
        assert_eq!(r.status, 401, "{auth}");
    }
    server.stop();
    assert!(TcpStream::connect_timeout(&a, Duration::from_millis(500)).is_err() || get_fails(a));
}

fn get_fails(a: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect(a) else { return true };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.write_all(b"GET /debug/pprof/ HTTP/1.1\r\n\r\n");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    buf.is_empty()
}

fn go_pprof(args: &[&str]) -> Option<String> {
    let dir = std::env::temp_dir().join(format!("rustprof-http-go-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = match Command::new("go").args(["tool", "pprof"]).args(args).env("PPROF_TMPDIR", &dir).output() {
        Ok(o) => o,
        Err(e) => {
            assert!(std::env::var_os("CI").is_none(), "go is required in CI: {e}");
            eprintln!("skipping: go not found: {e}");
            return None;
        }
    };
    assert!(out.status.success(), "go tool pprof {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn go_tool_pprof_reads_from_the_server() {
    let _l = lock();
    workload();
    let server = http::serve("127.0.0.1:0").unwrap();
    let base = format!("http://{}/debug/pprof", server.local_addr());
    let Some(top) = go_pprof(&["-top", "-seconds", "2", &format!("{base}/profile")]) else { return };
    assert!(top.contains("http_hot_function"), "{top}");
    let heap = go_pprof(&["-top", &format!("{base}/heap")]).unwrap();
    assert!(heap.contains("http_kept_allocation"), "{heap}");
    let mutex = go_pprof(&["-top", &format!("{base}/mutex")]).unwrap();
    assert!(mutex.contains("http_lock_holder"), "{mutex}");
}

#[test]
fn axum_router_serves_the_same() {
    let _l = lock();
    workload();
    let stop = Arc::new(AtomicBool::new(false));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let a = listener.local_addr().unwrap();
    let app = rustprof::http::axum::router_with(&Options::new("").token("t"));
    rt.spawn(async move { axum::serve(listener, app).await });
    let r = raw(
        a,
        b"GET /debug/pprof/heap HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nConnection: close\r\n\r\n",
    );
    let p = decode(&r);
    assert!(names(&p).iter().any(|n| n.contains("http_kept_allocation")));
    let r = raw(a, b"GET /debug/pprof/nosuch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nConnection: close\r\n\r\n");
    assert_eq!((r.status, r.text().as_str()), (404, "Unknown profile\n"));
    let r = raw(a, b"GET /debug/pprof/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(r.status, 401);
    // The execution trace, streamed through the router.
    let r = raw(
        a,
        b"GET /debug/pprof/trace?seconds=0.5 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("Content-Disposition"), Some("attachment; filename=\"trace\""));
    let t = rustprof_trace::decode(&r.body).unwrap();
    assert!(t.events.iter().any(|e| e.name == rustprof_trace::vocab::LOCK_WAIT), "{} events", t.events.len());
    stop.store(true, Ordering::Relaxed);
    rt.shutdown_timeout(Duration::from_secs(1));
}

#[path = "../../trace/tests/common/mod.rs"]
mod perfetto;

#[test]
fn trace_endpoint_streams_the_work_done_meanwhile() {
    let _l = lock();
    workload();
    let server = http::serve("127.0.0.1:0").unwrap();
    let a = server.local_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let worker = std::thread::Builder::new()
        .name("traced-worker".into())
        .spawn(move || {
            let mut n = 0u64;
            while !s2.load(Ordering::Relaxed) {
                let _r = rustprof::trace::region("work during trace");
                n = n.wrapping_add(black_box(http_hot_function(10_000)));
                std::thread::sleep(Duration::from_millis(5));
            }
            n
        })
        .unwrap();
    let t0 = Instant::now();
    let fetch = std::thread::spawn(move || get(a, "/debug/pprof/trace?seconds=1.5"));
    // While it runs, another trace (over HTTP or the program's own) is refused.
    std::thread::sleep(Duration::from_millis(300));
    let busy = get(a, "/debug/pprof/trace?seconds=1");
    assert_eq!(busy.status, 503);
    assert_eq!(busy.text(), "Could not enable tracing: tracing is already enabled\n");
    assert!(busy.header("Retry-After").is_some());
    assert!(matches!(rustprof::trace::start(Vec::new()), Err(rustprof::trace::TraceError::AlreadyRunning)));
    let r = fetch.join().unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    worker.join().unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("Content-Type"), Some("application/octet-stream"));
    assert_eq!(r.header("Content-Disposition"), Some("attachment; filename=\"trace\""));
    let t = rustprof_trace::decode(&r.body).unwrap();
    assert_eq!(t.truncated_at, None);
    let worker_track = t
        .tracks
        .iter()
        .find(|tr| tr.name == "traced-worker")
        .unwrap_or_else(|| panic!("no worker track in {:?}", t.tracks))
        .uuid;
    let regions = t
        .events
        .iter()
        .filter(|e| e.track == worker_track && e.kind == rustprof_trace::EventKind::SliceBegin)
        .filter(|e| e.name == "work during trace")
        .count();
    assert!(regions >= 20, "{regions} regions");
    // The workload's threads waited for their lock meanwhile.
    assert!(t.events.iter().any(|e| e.name == rustprof_trace::vocab::LOCK_WAIT));
    if let Some(py) = perfetto::perfetto_python() {
        let path = std::env::temp_dir().join(format!("rustprof-http-trace-{}.pftrace", std::process::id()));
        std::fs::write(&path, &r.body).unwrap();
        let d = perfetto::perfetto_dump(&py, &path);
        assert_eq!(d["events"].as_array().unwrap().len(), t.events.len());
        let _ = std::fs::remove_file(path);
    }
    assert!(!rustprof::trace::is_enabled());

    // Longer than the server allows: Go's 400.
    let r = get(a, "/debug/pprof/trace?seconds=1000");
    assert_eq!(r.status, 400, "{}", r.text());
    // A client that leaves ends its trace: another may start soon after.
    {
        let mut s = TcpStream::connect(a).unwrap();
        s.write_all(b"GET /debug/pprof/trace?seconds=60 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut head = [0u8; 64];
        let _ = s.read(&mut head);
    }
    let left = Instant::now();
    loop {
        match rustprof::trace::start(Vec::new()) {
            Ok(()) => break,
            Err(_) => {
                assert!(left.elapsed() < Duration::from_secs(10), "the trace of a client that left goes on");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    rustprof::trace::stop().unwrap();
}
