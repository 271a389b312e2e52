//! Task dumps and async waits on a real axum service (examples/axum_pool.rs):
//! under load, the block profile names the handler waiting for the pool, and
//! the task dump (`/debug/pprof/goroutine`) shows the request tasks parked
//! there, with their ids, idle times and spawn locations.
//!
//! The task dump needs `--cfg tokio_unstable`: built without it, this file
//! checks that the endpoints explain that in one line, and
//! `task_dumps_with_tokio_unstable` builds and runs this same file with the
//! flag (its own target directory, target/tokio-unstable).

#![allow(clippy::unwrap_used)]

#[path = "../examples/axum_pool.rs"]
#[allow(dead_code, unreachable_pub)]
mod example;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// GET `path`: (status, body), the body de-chunked (as text, lossily).
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut rest = &raw[split + 4..];
    if !head.contains("transfer-encoding: chunked") {
        return (status, String::from_utf8_lossy(rest).into_owned());
    }
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&rest[eol + 2..eol + 2 + n]);
        rest = &rest[eol + 2 + n + 2..];
    }
    (status, String::from_utf8_lossy(&out).into_owned())
}

/// Starts the example service on a runtime of its own; `register`: list the
/// runtime in task dumps.
fn start() -> (tokio::runtime::Runtime, SocketAddr) {
    let rt = example::runtime().unwrap();
    rustprof::tasks::register("service", rt.handle());
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        let pool = example::pool(2);
        axum::serve(listener, example::app(pool)).await.unwrap();
    });
    (rt, addr)
}

#[test]
fn pool_waits_in_block_profile_and_task_dump() {
    rustprof::sync::set_block_profile_rate(1);
    let (_rt, addr) = start();
    // 40 queries at once on a pool of 2 whose backend takes 20 ms each: most
    // of them wait for a connection for a while.
    let clients: Vec<_> = (0..40).map(|_| std::thread::spawn(move || get(addr, "/query"))).collect();
    std::thread::sleep(Duration::from_millis(150));
    let during = get(addr, "/debug/pprof/goroutine?debug=1");
    let during2 = get(addr, "/debug/pprof/goroutine?debug=2");
    let during0 = get(addr, "/debug/pprof/tasks");
    for c in clients {
        let (status, body) = c.join().unwrap();
        assert_eq!(status, 200, "{body}");
    }
    // The block profile: the handler waited for the pool.
    let (status, block) = get(addr, "/debug/pprof/block?debug=1");
    assert_eq!(status, 200);
    let at_pool = block.lines().filter(|l| l.starts_with('#') && l.contains("handle_query")).count();
    assert!(at_pool > 0, "block profile without handle_query:\n{block}");

    if cfg!(tokio_unstable) {
        let (status, text) = during;
        assert_eq!(status, 200, "{text}");
        assert!(text.starts_with("goroutine profile: total "), "{text}");
        // The most common stack: the tasks parked in handle_query, at the pool.
        let first = text.split("\n\n").next().unwrap();
        let n: usize = first.lines().nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
        assert!(n >= 10, "{n} tasks in the biggest group:\n{text}");
        assert!(first.contains("handle_query") && first.contains("Semaphore"), "{first}");
        assert!(first.contains("# labels: {\"runtime\":\"service\""), "{first}");
        let (status, text) = during2;
        assert_eq!(status, 200);
        let parked = text.split("\n\n").filter(|t| t.contains("handle_query")).count();
        assert!(parked >= 10, "{parked} tasks in handle_query:\n{text}");
        assert!(text.contains(" [idle, ") && text.contains("created at "), "{text}");
        let (status, p) = during0;
        assert_eq!(status, 200, "{p}");
    } else {
        // Without the flag: `goroutine` is the thread dump, `tasks` says why not.
        assert!(during.1.starts_with("threads profile: total "), "{}", during.1);
        assert_eq!(during0.0, 501);
        assert!(
            during0.1.contains("--cfg tokio_unstable") && during0.1.lines().count() == 1,
            "{}",
            during0.1
        );
        let e = rustprof::tasks::dump().unwrap_err();
        assert!(e.to_string().contains("--cfg tokio_unstable"), "{e}");
    }
}

/// 10,000 idle tasks: the dump lists them all, in one group.
#[cfg(tokio_unstable)]
#[test]
fn ten_thousand_idle_tasks() {
    let rt = example::runtime().unwrap();
    rustprof::tasks::register("idle", rt.handle());
    let gate = std::sync::Arc::new(rustprof::sync::tokio::Semaphore::new(0));
    for _ in 0..10_000 {
        let g = gate.clone();
        rt.spawn(async move { parked_forever(&g).await });
    }
    std::thread::sleep(Duration::from_millis(200));
    let tasks = rustprof::tasks::dump().unwrap();
    let idle: Vec<_> = tasks.iter().filter(|t| t.runtime == "idle").collect();
    assert!(idle.len() >= 10_000, "{}", idle.len());
    assert!(
        idle.iter()
            .all(|t| t.idle.is_some() && t.spawned_at.as_deref().is_some_and(|s| s.contains("tasks.rs")))
    );
    let p = rustprof::tasks::profile().unwrap();
    let biggest = p.samples.iter().map(|s| s.values[0]).max().unwrap();
    assert!(biggest >= 10_000, "{biggest}");
    gate.close();
}

#[cfg(tokio_unstable)]
#[inline(never)]
async fn parked_forever(gate: &rustprof::sync::tokio::Semaphore) {
    let _ = gate.acquire().await;
}

/// Runs this file again built with `--cfg tokio_unstable`.
#[cfg(not(tokio_unstable))]
#[test]
fn task_dumps_with_tokio_unstable() {
    if std::env::var_os("RUSTPROF_NESTED").is_some() {
        return;
    }
    let target = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/tokio-unstable");
    let out = std::process::Command::new(env!("CARGO"))
        .args(["test", "-p", "rustprof", "--test", "tasks", "--", "--test-threads=1"])
        .env("RUSTFLAGS", "--cfg tokio_unstable")
        .env("CARGO_TARGET_DIR", target)
        .env("RUSTPROF_NESTED", "1")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("test ten_thousand_idle_tasks ... ok"), "{text}");
}
