//! The heap profiler's process-wide counters and samples leave rustprof's own
//! allocations out, on whatever thread (symbolizing, building profiles, the HTTP
//! server's threads).
//!
//! One test in this binary: the test harness allocates on its own thread when
//! another test ends, which the process-wide counters would see.

#![allow(clippy::unwrap_used)]

use std::alloc::System;
use std::io::{Read, Write};
use std::net::TcpStream;

use rustprof::Profile;
use rustprof::heap::{self, Sampled};

#[global_allocator]
static ALLOC: Sampled<System> = Sampled::new(System);

/// Restores the default rate when a test ends (also on failure).
struct Rate(usize);
impl Rate {
    fn set(r: usize) -> Rate {
        Rate(heap::set_sample_rate(r))
    }
}
impl Drop for Rate {
    fn drop(&mut self) {
        heap::set_sample_rate(self.0);
    }
}

/// The crates rustprof symbolizes and builds profiles with, and the HTTP
/// server's work: none of their frames may appear in a heap profile (the
/// program's own call to `serve` may).
const OWN: [&str; 11] = [
    "rustprof_symbolize::",
    "addr2line::",
    "gimli::",
    "object::",
    "rustprof_profile::",
    "rustprof::pbuild",
    "rustprof::symbols",
    "rustprof::http::handlers",
    "rustprof::http::text",
    "rustprof::http::request",
    "rustprof::http::conn",
];

/// Bytes of `sample_type` in samples with a frame of rustprof's own machinery,
/// and one such frame.
fn own_bytes(p: &Profile, sample_type: &str) -> (i64, String) {
    let idx = p.sample_type_index(sample_type).unwrap();
    let (mut total, mut example) = (0, String::new());
    for s in p.samples.iter() {
        let hit = s.locations.iter().flat_map(|&l| p.location_lines(l)).find_map(|line| {
            let name = p.str(p.functions[line.function as usize].name);
            OWN.iter()
                .any(|o| name.starts_with(o) || name.contains(&format!("<{o}")))
                .then(|| name.to_string())
        });
        if let Some(name) = hit {
            total += s.values[idx];
            example = name;
        }
    }
    (total, example)
}

#[test]
fn rustprofs_work_on_any_thread_is_not_the_programs() {
    building_profiles_is_not_counted_nor_sampled();
    serving_profiles_over_http_is_not_counted_nor_sampled();
}

fn building_profiles_is_not_counted_nor_sampled() {
    let _r = Rate::set(1);
    heap::seed_thread(7);
    rustprof::sync::set_block_profile_rate(1);
    let (tx, rx) = std::sync::mpsc::channel::<u32>();
    let h = std::thread::spawn(move || rx.recv().unwrap());
    std::thread::sleep(std::time::Duration::from_millis(5));
    tx.send(1).unwrap();
    h.join().unwrap();
    let before = heap::stats();
    let mine = heap::thread_stats();
    // Block and threads profiles, built on this (the program's) thread.
    let b = rustprof::sync::block_profile();
    let t = rustprof::threads::profile().unwrap();
    let own = heap::stats().since(&before);
    let me = heap::thread_stats().since(&mine);
    // The program holds the profiles it asked for: their allocations are its
    // own, counted on this thread; nothing else is.
    assert_eq!(own.allocs, me.allocs, "other threads: {own:?}, this one: {me:?}");
    let held = (b.heap_bytes() + t.heap_bytes()) as u64;
    assert!(me.alloc_bytes < 4 * held + 64 * 1024, "{me:?} for profiles of {held} bytes");
    drop((b, t));
    rustprof::sync::set_block_profile_rate(0);
    let p = heap::allocs_profile();
    let (bytes, example) = own_bytes(&p, "alloc_space");
    assert_eq!(bytes, 0, "rustprof's own allocations sampled, e.g. in {example}");
}

/// Sends a request, reads the whole response into a buffer made before.
fn fetch(addr: std::net::SocketAddr, path: &str, buf: &mut [u8]) -> usize {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).unwrap();
    let mut n = 0;
    loop {
        if n == buf.len() {
            panic!("response over {} bytes", buf.len());
        }
        match s.read(&mut buf[n..]).unwrap() {
            0 => return n,
            k => n += k,
        }
    }
}

fn serving_profiles_over_http_is_not_counted_nor_sampled() {
    let _r = Rate::set(1);
    rustprof::sync::set_block_profile_rate(1);
    let mut buf = vec![0u8; 64 << 20];
    // From before the server starts to after it stopped: what the program
    // does here is this thread's, everything else rustprof's.
    let before = heap::stats();
    let mine = heap::thread_stats();
    let server = rustprof::http::serve("127.0.0.1:0").unwrap();
    let addr = server.local_addr();
    for path in [
        "/debug/pprof/heap?debug=1",
        "/debug/pprof/allocs",
        "/debug/pprof/block?debug=1",
        "/debug/pprof/mutex",
        "/debug/pprof/threads",
        "/debug/pprof/goroutine?debug=2",
        "/debug/pprof/profile?seconds=1",
        "/debug/pprof/",
        "/debug/pprof/nothing",
    ] {
        let n = fetch(addr, path, &mut buf);
        assert!(n > 0, "{path}");
    }
    drop(server);
    let all = heap::stats().since(&before);
    let me = heap::thread_stats().since(&mine);
    assert_eq!(
        (all.allocs - me.allocs, all.frees - me.frees),
        (0, 0),
        "the server's threads counted: {all:?} (this thread: {me:?})"
    );
    rustprof::sync::set_block_profile_rate(0);
    let p = heap::allocs_profile();
    let (bytes, example) = own_bytes(&p, "alloc_space");
    assert_eq!(bytes, 0, "rustprof's own allocations sampled, e.g. in {example}");
}
