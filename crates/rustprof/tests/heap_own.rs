//! The heap profiler's exact counters and samples leave rustprof's own
//! allocations out (symbolizing, building profiles, the HTTP server's threads),
//! and count every free, also by a thread that never allocated.

#![allow(clippy::unwrap_used)]

use std::alloc::System;
use std::hint::black_box;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Mutex, MutexGuard};

use rustprof::Profile;
use rustprof::heap::{self, Sampled};

#[global_allocator]
static ALLOC: Sampled<System> = Sampled::new(System);

/// The rate is process-wide: one test at a time.
fn lock() -> MutexGuard<'static, ()> {
    static L: Mutex<()> = Mutex::new(());
    L.lock().unwrap_or_else(|e| e.into_inner())
}

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
fn frees_by_a_thread_that_never_allocated_are_counted() {
    let _l = lock();
    let blocks: Vec<Vec<u8>> = (0..100).map(|_| vec![7u8; 1 << 20]).collect();
    let before = heap::stats();
    // A raw thread, so that nothing but the frees runs on it (std's spawn
    // allocates on the new thread for its bookkeeping).
    extern "C" fn drop_them(arg: *mut libc::c_void) -> *mut libc::c_void {
        // SAFETY: `arg` is the Box made below, handed over to this thread.
        drop(unsafe { Box::from_raw(arg as *mut Vec<Vec<u8>>) });
        std::ptr::null_mut()
    }
    let arg = Box::into_raw(Box::new(blocks)) as *mut libc::c_void;
    let mut t: libc::pthread_t = 0;
    // SAFETY: a thread running `drop_them` with the box it owns from now on;
    // joined below.
    unsafe {
        assert_eq!(libc::pthread_create(&mut t, std::ptr::null(), drop_them, arg), 0);
        assert_eq!(libc::pthread_join(t, std::ptr::null_mut()), 0);
    }
    let d = heap::stats().since(&before);
    // 100 blocks, the outer vector and the box.
    assert!(d.frees >= 102, "{d:?}");
    assert!(d.free_bytes >= 100 << 20, "{d:?}");
}

#[test]
fn thread_counters_count_exactly_the_program_allocations_while_sampling_all() {
    let _l = lock();
    let _r = Rate::set(1);
    // Every allocation is sampled: the profiler's table grows as it records
    // them, and none of that may show in the counters.
    let before = heap::thread_stats();
    for i in 0..100_000usize {
        black_box(Vec::<u8>::with_capacity(1 + i % 5000));
    }
    let d = heap::thread_stats().since(&before);
    assert_eq!((d.allocs, d.frees), (100_000, 100_000), "{d:?}");
    let bytes: u64 = (0..100_000u64).map(|i| 1 + i % 5000).sum();
    assert_eq!((d.alloc_bytes, d.free_bytes), (bytes, bytes));
}

#[test]
fn building_profiles_is_not_counted_nor_sampled() {
    let _l = lock();
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

#[test]
fn serving_profiles_over_http_is_not_counted_nor_sampled() {
    let _l = lock();
    let _r = Rate::set(1);
    rustprof::sync::set_block_profile_rate(1);
    let server = rustprof::http::serve("127.0.0.1:0").unwrap();
    let addr = server.local_addr();
    let mut buf = vec![0u8; 64 << 20];
    // Warm: the first request opens the binaries.
    fetch(addr, "/debug/pprof/heap", &mut buf);
    let before = heap::stats();
    let mine = heap::thread_stats();
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
    let all = heap::stats().since(&before);
    let me = heap::thread_stats().since(&mine);
    assert_eq!(
        (all.allocs - me.allocs, all.frees - me.frees),
        (0, 0),
        "the server's threads counted: {all:?} (this thread: {me:?})"
    );
    drop(server);
    rustprof::sync::set_block_profile_rate(0);
    let p = heap::allocs_profile();
    let (bytes, example) = own_bytes(&p, "alloc_space");
    assert_eq!(bytes, 0, "rustprof's own allocations sampled, e.g. in {example}");
}

/// One allocation site with 20,000 different sizes: Go keeps one record per
/// size class, not per size, so the profile (and its text) stays bounded by
/// the program's call sites; the bytes are still exact.
#[test]
fn records_are_per_size_class_not_per_size() {
    let _l = lock();
    let _r = Rate::set(1);
    #[inline(never)]
    fn many_sizes() -> Vec<Vec<u8>> {
        (1..=20_000usize).map(|n| black_box(vec![0u8; n])).collect()
    }
    let kept = many_sizes();
    let p = heap::profile();
    let idx = p.sample_type_index("inuse_space").unwrap();
    let (mut records, mut bytes) = (0, 0);
    for s in p.samples.iter() {
        let here = s.locations.first().is_some_and(|&l| {
            p.location_lines(l)
                .iter()
                .any(|line| p.str(p.functions[line.function as usize].name).contains("many_sizes"))
        });
        if here && s.values[idx] > 0 {
            records += 1;
            bytes += s.values[idx];
        }
    }
    // 8 classes up to 128 bytes, 8 per doubling above (the outer vector too).
    assert!(records <= 8 + 8 * 8 + 1, "{records} records");
    assert_eq!(bytes, (1..=20_000i64).sum::<i64>() + 20_000 * 24);
    drop(kept);
}
