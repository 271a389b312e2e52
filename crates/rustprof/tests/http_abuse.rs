//! The HTTP server under abuse: trickling clients, connection bursts over the
//! limit, clients that leave, paths and headers that must be refused, and the
//! memory a request may hold.

#![allow(clippy::unwrap_used)]

use std::alloc::System;
use std::hint::black_box;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustprof::http::Options;

#[global_allocator]
static ALLOC: rustprof::heap::Sampled<System> = rustprof::heap::Sampled::new(System);

fn lock() -> MutexGuard<'static, ()> {
    static L: Mutex<()> = Mutex::new(());
    L.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sends `request`, reads the answer to the end; the status, or the error.
fn exchange(a: SocketAddr, request: &[u8]) -> Result<(u16, String), std::io::Error> {
    let mut s = TcpStream::connect(a)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(request)?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    Ok((status, text))
}

fn get(a: SocketAddr, path: &str) -> u16 {
    exchange(a, format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).unwrap().0
}

#[test]
fn paths_that_only_resemble_an_endpoint_are_404() {
    let _l = lock();
    let server = rustprof::http::serve("127.0.0.1:0").unwrap();
    let a = server.local_addr();
    for path in
        ["/debug/pprofheap", "//heap", "/debug/pprof//heap", "/debug/pprof/heap/", "/debug/pprof/x/heap"]
    {
        assert_eq!(get(a, path), 404, "{path}");
    }
    for path in ["/debug/pprof", "/debug/pprof/", "/debug/pprof/cmdline"] {
        assert_eq!(get(a, path), 200, "{path}");
    }
}

#[test]
fn two_content_lengths_are_400() {
    let _l = lock();
    let server = rustprof::http::serve("127.0.0.1:0").unwrap();
    let a = server.local_addr();
    for req in [
        &b"POST /debug/pprof/symbol HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n0x1"[..],
        b"POST /debug/pprof/symbol HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 0\r\n\r\n0x1",
        b"GET /debug/pprof/ HTTP/1.1\r\nContent-Length: 0\r\ncontent-length: 5\r\n\r\n",
    ] {
        let (status, text) = exchange(a, req).unwrap();
        assert_eq!(status, 400, "{text}");
        assert!(text.contains("more than one Content-Length"), "{text}");
    }
}

/// A client sending one byte every 0.9 × the request timeout: each read
/// returns before a per-read timeout would fire, so only a deadline for the
/// whole request stops it. The answer must come before the third byte (at
/// 1.8 × the timeout) is due.
#[test]
fn a_trickling_client_gets_408_at_the_deadline() {
    let _l = lock();
    let timeout = Duration::from_secs(2);
    let server = Options::new("127.0.0.1:0").request_timeout(timeout).serve().unwrap();
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    let request = b"GET /debug/pprof/ HTTP/1.1\r\n\r\n";
    let mut sent = 0;
    let mut answer = Vec::new();
    while sent < request.len() {
        s.write_all(&request[sent..sent + 1]).unwrap();
        sent += 1;
        std::thread::sleep(timeout * 9 / 10);
        s.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 512];
        match s.read(&mut buf) {
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                break;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
        s.set_nonblocking(false).unwrap();
    }
    assert!(sent <= 2, "the server was still reading after {sent} bytes (one every {:?})", timeout * 9 / 10);
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert_eq!(server.stats().timed_out, 1);
}

/// Connections over the limit that have already sent their request get the
/// whole 503 (with `Retry-After`), not a reset.
#[test]
fn connections_over_the_limit_get_a_503_not_a_reset() {
    let _l = lock();
    let server = Options::new("127.0.0.1:0")
        .max_connections(1)
        .request_timeout(Duration::from_secs(60))
        .serve()
        .unwrap();
    let a = server.local_addr();
    // The one connection allowed, sending nothing.
    let mut hog = TcpStream::connect(a).unwrap();
    hog.write_all(b"GET").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // A burst: every request is sent before any answer is read.
    let mut conns: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = TcpStream::connect(a).unwrap();
            s.write_all(b"GET /debug/pprof/heap HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            s
        })
        .collect();
    let (mut ok, mut resets, mut other) = (0, 0, Vec::new());
    for s in &mut conns {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut buf = Vec::new();
        match s.read_to_end(&mut buf) {
            Ok(_) => {
                let t = String::from_utf8_lossy(&buf);
                if t.starts_with("HTTP/1.1 503")
                    && t.contains("Retry-After: 1")
                    && t.contains("max_connections")
                {
                    ok += 1;
                } else {
                    other.push(t.into_owned());
                }
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => resets += 1,
            Err(e) => other.push(e.to_string()),
        }
    }
    assert_eq!((ok, resets), (200, 0), "{other:?}");
    assert_eq!(server.stats().too_many_connections, 200);
    drop(hog);
}

/// Many records of the program's allocations (distinct stacks and sizes), so
/// that the heap profile's text is large.
#[inline(never)]
fn many_records(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| black_box(vec![1u8; 1 + i])).collect()
}

/// A client that leaves after the first bytes of a large text profile stops
/// it: the response is not written to the end, and the request's place is
/// free again.
#[test]
fn a_client_that_leaves_stops_its_request() {
    let _l = lock();
    let old = rustprof::heap::set_sample_rate(1);
    let kept = many_records(40_000);
    rustprof::heap::set_sample_rate(old);
    let server = Options::new("127.0.0.1:0").max_connections(1).max_profiles(1).serve().unwrap();
    let a = server.local_addr();
    {
        let mut s = TcpStream::connect(a).unwrap();
        s.write_all(b"GET /debug/pprof/heap?debug=1 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut first = [0u8; 4096];
        s.read_exact(&mut first).unwrap();
        assert!(first.starts_with(b"HTTP/1.1 200"));
    }
    let start = Instant::now();
    while server.stats().canceled == 0 {
        assert!(start.elapsed() < Duration::from_secs(120), "{:?}", server.stats());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.stats().served, 0, "{:?}", server.stats());
    // The place is free: the next request is served.
    assert_eq!(get(a, "/debug/pprof/cmdline"), 200);
    drop(kept);
}

/// A request waiting for a place whose client leaves is dropped from the
/// wait; one that waits too long gets a 503 with `Retry-After`.
#[test]
fn requests_over_the_profile_limit_get_a_503() {
    let _l = lock();
    let server = Options::new("127.0.0.1:0").max_profiles(1).max_seconds(60).serve().unwrap();
    let a = server.local_addr();
    // Holds the one place for 10 s (a delta profile holds its first profile).
    let holder = std::thread::spawn(move || {
        exchange(a, b"GET /debug/pprof/heap?seconds=10 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap().0
    });
    std::thread::sleep(Duration::from_secs(1));
    let (status, text) = exchange(a, b"GET /debug/pprof/heap HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("Retry-After: 2") && text.contains("Options::max_profiles"), "{text}");
    assert_eq!(holder.join().unwrap(), 200);
    assert_eq!(server.stats().busy, 1);
}
