//! Issue 13.1: the profiled program must survive libraries being unloaded while
//! it is sampled. Threads load libz, liblzma and libbz2 with `dlopen`, spend time
//! in their code, and `dlclose` them again, over and over, while the CPU
//! profiler samples at 1 kHz. Before the unwinder copied the unwind tables into
//! its own memory, a sample taken between a `dlclose` and the next refresh read
//! the unloaded library's `.eh_frame_hdr` and crashed the process (5 of 10 runs
//! within 4–17 s). The workload runs in a child process, so a crash is a test
//! failure with its signal, not a dead test runner.

#![allow(clippy::unwrap_used)]

use std::ffi::CStr;
use std::hint::black_box;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustprof::cpu::{self, CpuOptions};

const CHILD: &str = "RUSTPROF_DLCLOSE_CHILD";

/// Loads `lib`, runs `sym` over `buf` a few times, unloads it. Returns false
/// when the library is not installed.
fn cycle(lib: &CStr, sym: &CStr, buf: &[u8]) -> bool {
    // SAFETY: loading a system library and calling one of its checksum
    // functions with the signature it documents, before unloading it; no
    // pointer into the library outlives the dlclose.
    unsafe {
        let h = libc::dlopen(lib.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        if h.is_null() {
            return false;
        }
        let f = libc::dlsym(h, sym.as_ptr());
        if !f.is_null() {
            match sym.to_bytes() {
                // uLong crc32(uLong crc, const Bytef *buf, uInt len)
                b"crc32" => {
                    let f: extern "C" fn(u64, *const u8, u32) -> u64 = std::mem::transmute(f);
                    for _ in 0..8 {
                        black_box(f(0, buf.as_ptr(), buf.len() as u32));
                    }
                }
                // uint64_t lzma_crc64(const uint8_t *buf, size_t size, uint64_t crc)
                b"lzma_crc64" => {
                    let f: extern "C" fn(*const u8, usize, u64) -> u64 = std::mem::transmute(f);
                    // Long enough in the library for a refresh to see it loaded.
                    for _ in 0..64 {
                        black_box(f(buf.as_ptr(), buf.len(), 0));
                    }
                }
                // int BZ2_bzBuffToBuffCompress(char *dest, unsigned *destLen, char *source,
                //                              unsigned sourceLen, int blockSize100k,
                //                              int verbosity, int workFactor)
                _ => {
                    type Compress = extern "C" fn(*mut u8, *mut u32, *const u8, u32, i32, i32, i32) -> i32;
                    let f: Compress = std::mem::transmute(f);
                    let src = &buf[..64 * 1024];
                    let mut dest = vec![0u8; src.len() * 2 + 1024];
                    let mut len = dest.len() as u32;
                    black_box(f(dest.as_mut_ptr(), &mut len, src.as_ptr(), src.len() as u32, 1, 0, 30));
                }
            }
        }
        libc::dlclose(h);
    }
    true
}

/// The child: profile at 1 kHz while threads load and unload the libraries.
fn child(seconds: u64) {
    let libs: [(&CStr, &CStr); 3] = [
        (c"libz.so.1", c"crc32"),
        (c"liblzma.so.5", c"lzma_crc64"),
        (c"libbz2.so.1.0", c"BZ2_bzBuffToBuffCompress"),
    ];
    for (lib, sym) in libs {
        assert!(cycle(lib, sym, &[0u8; 64 * 1024]), "{} is not installed ({sym:?})", lib.to_string_lossy());
    }
    let g = cpu::start(CpuOptions::with_frequency(1000)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let cycles = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..3)
        .map(|t| {
            let (stop, cycles) = (stop.clone(), cycles.clone());
            std::thread::spawn(move || {
                let buf: Vec<u8> = (0..256 * 1024u32).map(|i| (i * 31 + t) as u8).collect();
                let mut i = t as usize;
                while !stop.load(Ordering::Relaxed) {
                    let (lib, sym) = libs[i % libs.len()];
                    cycle(lib, sym, &buf);
                    cycles.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let p = g.stop().unwrap();
    println!("cycles={} samples={}", cycles.load(Ordering::Relaxed), p.samples.len());
    // Every library was unloaded before the profile was built: their samples
    // still carry their names (the mappings seen while they were loaded).
    let files: Vec<&str> = p.mappings.iter().map(|m| p.str(m.filename)).collect();
    let names: Vec<&str> = p.functions.iter().map(|f| p.str(f.name)).collect();
    for lib in ["libz.so", "liblzma.so", "libbz2.so"] {
        assert!(files.iter().any(|f| f.contains(lib)), "no mapping of the unloaded {lib}: {files:?}");
    }
    assert!(names.iter().any(|n| n.contains("crc32")), "no frame named crc32 from the unloaded libz");
}

fn run_children(seconds: u64) {
    let exe = std::env::current_exe().unwrap();
    let spawn = |no_sigtrap: bool| {
        let mut c = Command::new(&exe);
        c.args(["--exact", "dlclose_while_profiling_does_not_crash", "--nocapture", "--test-threads=1"])
            .env(CHILD, seconds.to_string());
        if no_sigtrap {
            c.env("RUSTPROF_NO_SIGTRAP", "1");
        }
        c.spawn().unwrap()
    };
    // Both timer mechanisms at once: perf events with SIGTRAP, and SIGPROF.
    let children = [spawn(false), spawn(true)];
    for (mut c, name) in children.into_iter().zip(["perf events", "RUSTPROF_NO_SIGTRAP=1"]) {
        let status = c.wait().unwrap();
        assert!(status.success(), "the profiled child ({name}) died: {status}");
    }
}

#[test]
fn dlclose_while_profiling_does_not_crash() {
    if let Ok(s) = std::env::var(CHILD) {
        child(s.parse().unwrap());
        return;
    }
    let seconds = std::env::var("RUSTPROF_DLCLOSE_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(25);
    run_children(seconds);
}
