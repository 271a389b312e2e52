//! Libraries loaded, called into and unloaded continuously while every
//! profiler runs (issue 13's crash): libz, liblzma and libbz2, as
//! `crates/rustprof/tests/dlclose.rs` does.

use std::ffi::CStr;
use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Shared;

/// The libraries and a function of each that takes (pointer, length) and
/// computes over the buffer (bzip2's: its version string).
const LIBS: [(&CStr, &CStr); 3] =
    [(c"libz.so.1", c"crc32"), (c"liblzma.so.5", c"lzma_crc64"), (c"libbz2.so.1.0", c"BZ2_bzlibVersion")];

/// Loads `lib`, calls its function over `buf`, unloads it. `false` when the
/// library is missing.
fn cycle(lib: &CStr, sym: &CStr, buf: &[u8]) -> bool {
    // SAFETY: loading a system library, calling a function with the C signature
    // it has (crc32(ulong, ptr, uint), lzma_crc64(ptr, size_t, u64),
    // BZ2_bzlibVersion(void)), then unloading it; no pointer into it is kept.
    unsafe {
        let h = libc::dlopen(lib.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        if h.is_null() {
            return false;
        }
        let f = libc::dlsym(h, sym.as_ptr());
        if !f.is_null() {
            match sym.to_bytes() {
                b"crc32" => {
                    let f: extern "C" fn(u64, *const u8, u32) -> u64 = std::mem::transmute(f);
                    black_box(f(0, buf.as_ptr(), buf.len() as u32));
                }
                b"lzma_crc64" => {
                    let f: extern "C" fn(*const u8, usize, u64) -> u64 = std::mem::transmute(f);
                    black_box(f(buf.as_ptr(), buf.len(), 0));
                }
                _ => {
                    let f: extern "C" fn() -> *const libc::c_char = std::mem::transmute(f);
                    black_box(f());
                }
            }
        }
        libc::dlclose(h);
    }
    true
}

/// Whether every library loads (checked once before the run: a missing one
/// is a setup error, not a hang of the `dl` threads).
pub(crate) fn check() -> Result<(), String> {
    let buf = [0u8; 64];
    for (lib, sym) in LIBS {
        if !cycle(lib, sym, &buf) {
            return Err(format!("{} is missing (install zlib1g liblzma5 libbz2-1.0)", lib.to_string_lossy()));
        }
    }
    Ok(())
}

pub(crate) fn worker(s: &Shared, t: usize) {
    let buf = vec![t as u8; 256 * 1024];
    let mut i = t;
    while !s.stopping() {
        let (lib, sym) = LIBS[i % LIBS.len()];
        i += 1;
        if cycle(lib, sym, &buf) {
            s.dl.fetch_add(1, Ordering::Relaxed);
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}
