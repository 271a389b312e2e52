//! The process-wide symbol cache: every profile rustprof builds in-process
//! (CPU, heap, block, mutex, threads, the HTTP endpoints, `/debug/pprof/symbol`)
//! symbolizes through it, so that the program's binaries are read and their
//! DWARF parsed once, not at every profile.
//!
//! Its memory is bounded: [`set_cache_limit`] (default [`DEFAULT_CACHE_LIMIT`])
//! caps the bytes the open binaries hold (the file read into memory, and what
//! has been parsed of its symbols and DWARF, measured through rustprof's own
//! allocation counters when [`crate::heap::Sampled`] is the global allocator,
//! else the file's size). Past the limit the least recently used binaries are
//! closed after the build that needed them; one binary larger than the limit
//! is opened for each build and closed after it. A binary that is no longer
//! mapped (a library `dlclose`d) is closed at the next build, and one replaced
//! on disk (another size or modification time, another build ID) is read
//! again. All of it is rustprof's own memory ([`crate::heap::own_stats`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use rustprof_symbolize::{
    AddressFrames, Frame, MapEntry, Symbolizer, is_unsymbolizable, symbolize_addresses,
};

use crate::heap;

/// The default [`set_cache_limit`]: 128 MiB.
pub const DEFAULT_CACHE_LIMIT: usize = 128 << 20;

static LIMIT: AtomicUsize = AtomicUsize::new(DEFAULT_CACHE_LIMIT);
static OPENS: AtomicU64 = AtomicU64::new(0);
static LOOKUPS: AtomicU64 = AtomicU64::new(0);

/// What the cache holds, for [`cache_stats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Open binaries, least recently used first.
    pub binaries: Vec<PathBuf>,
    /// Bytes they hold (measured or estimated as described in the
    /// [module documentation](self)).
    pub bytes: usize,
    /// The limit in force.
    pub limit: usize,
    /// Binaries read from disk so far (the first time, or again after they were
    /// closed or replaced).
    pub opens: u64,
    /// Addresses looked up so far.
    pub lookups: u64,
}

struct Cache {
    sym: Symbolizer,
    /// Bytes held per open binary.
    cost: HashMap<PathBuf, usize>,
}

static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

fn lock() -> MutexGuard<'static, Option<Cache>> {
    CACHE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Caps the memory of the symbol cache (bytes; 0 keeps nothing between
/// builds). Takes effect at the next build.
pub fn set_cache_limit(bytes: usize) {
    LIMIT.store(bytes, Ordering::Relaxed);
}

/// The cache's current contents and counters.
pub fn cache_stats() -> CacheStats {
    heap::hand_over(heap::own(|| {
        let g = lock();
        let (binaries, bytes) = match g.as_ref() {
            Some(c) => (c.sym.open_paths().map(Path::to_path_buf).collect(), c.cost.values().sum()),
            None => (Vec::new(), 0),
        };
        CacheStats {
            binaries,
            bytes,
            limit: LIMIT.load(Ordering::Relaxed),
            opens: OPENS.load(Ordering::Relaxed),
            lookups: LOOKUPS.load(Ordering::Relaxed),
        }
    }))
}

/// Closes every cached binary.
pub fn clear_cache() {
    heap::own(|| *lock() = None);
}

/// Heap bytes of what [`symbolize_addresses`] returns (which the measurement
/// of one call sees alongside what the cache kept).
fn result_bytes(r: &[AddressFrames]) -> usize {
    let frames: usize = r
        .iter()
        .map(|a| {
            a.frames.capacity() * size_of::<Frame>()
                + a.frames
                    .iter()
                    .map(|f| f.function.capacity() + f.system_name.capacity() + f.file.capacity())
                    .sum::<usize>()
        })
        .sum();
    std::mem::size_of_val(r) + frames
}

/// Symbolizes `addrs` of this process, mapped as `maps` says: one
/// [`AddressFrames`] per address, as [`symbolize_addresses`] gives them, through
/// the shared cache. rustprof's own work (see [`heap::Own`]); the caller hands
/// the results over if they leave rustprof.
pub(crate) fn symbolize(maps: &[MapEntry], addrs: &[u64]) -> Vec<AddressFrames> {
    let _inside = heap::Own::enter();
    let mut out: Vec<AddressFrames> = vec![AddressFrames::default(); addrs.len()];
    if addrs.is_empty() {
        return out;
    }
    // The addresses of each mapped file, looked up file by file so that the
    // memory a file's lookups keep is charged to it.
    let mut by_file: Vec<(&str, Vec<usize>)> = Vec::new();
    let mut order: Vec<usize> = (0..maps.len()).collect();
    order.sort_by_key(|&i| maps[i].start);
    for (i, &a) in addrs.iter().enumerate() {
        let j = order.partition_point(|&k| maps[k].start <= a);
        let Some(&k) = j.checked_sub(1).and_then(|j| order.get(j)) else { continue };
        if !maps[k].contains(a) {
            continue;
        }
        out[i].mapping = Some(k);
        let path = maps[k].path.as_str();
        if is_unsymbolizable(path) {
            continue;
        }
        match by_file.iter_mut().find(|(p, _)| *p == path) {
            Some((_, v)) => v.push(i),
            None => by_file.push((path, vec![i])),
        }
    }
    LOOKUPS.fetch_add(addrs.len() as u64, Ordering::Relaxed);
    let measured = heap::is_installed();
    let mut g = lock();
    let c = g.get_or_insert_with(|| Cache { sym: Symbolizer::with_capacity(64), cost: HashMap::new() });
    // Binaries no longer mapped are closed (a dlclose'd library).
    let gone: Vec<PathBuf> = c
        .sym
        .open_paths()
        .filter(|p| !maps.iter().any(|m| Path::new(&m.path) == *p))
        .map(Path::to_path_buf)
        .collect();
    for p in gone {
        c.sym.remove(&p);
        c.cost.remove(&p);
    }
    for (path, idxs) in by_file {
        let path_buf = PathBuf::from(path);
        let was_open = c.sym.open_paths().any(|p| p == path_buf);
        let subset: Vec<u64> = idxs.iter().map(|&i| addrs[i]).collect();
        let before = heap::thread_own_stats().live_bytes();
        let found = symbolize_addresses(&mut c.sym, maps, &subset);
        let grown = heap::thread_own_stats().live_bytes() - before - result_bytes(&found) as i64;
        let now_open = c.sym.open_paths().any(|p| p == path_buf);
        if now_open && !was_open {
            OPENS.fetch_add(1, Ordering::Relaxed);
        }
        if now_open {
            let e = c.cost.entry(path_buf.clone()).or_insert(0);
            if measured {
                // What this file's lookups kept (the first: the file itself
                // and its tables).
                let before = if was_open { *e as i64 } else { 0 };
                *e = (before + grown).max(0) as usize;
            } else {
                *e = c.sym.open(&path_buf).map(|b| b.file_size()).unwrap_or(0);
            }
        } else {
            c.cost.remove(&path_buf);
        }
        for (i, f) in idxs.into_iter().zip(found) {
            out[i].frames = f.frames;
        }
    }
    // Over the limit: close the least recently used.
    let limit = LIMIT.load(Ordering::Relaxed);
    while c.cost.values().sum::<usize>() > limit {
        let Some(p) = c.sym.open_paths().next().map(Path::to_path_buf) else { break };
        c.sym.remove(&p);
        c.cost.remove(&p);
    }
    // Entries the symbolizer closed on its own (its count limit).
    let open: Vec<PathBuf> = c.sym.open_paths().map(Path::to_path_buf).collect();
    c.cost.retain(|p, _| open.contains(p));
    out
}

/// Symbolizes `addrs` against the process's current mappings (for
/// `/debug/pprof/symbol`).
#[cfg(feature = "http")]
pub(crate) fn symbolize_now(addrs: &[u64]) -> Vec<AddressFrames> {
    let _inside = heap::Own::enter();
    let maps = rustprof_symbolize::read_proc_maps(None).unwrap_or_default();
    symbolize(&maps, addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn target_fn() -> u64 {
        std::hint::black_box(7)
    }

    /// Serializes the tests that use the process-wide cache.
    static L: Mutex<()> = Mutex::new(());

    #[test]
    fn opens_a_binary_once_and_closes_it_when_unmapped() {
        let _l = L.lock().unwrap_or_else(|e| e.into_inner());
        clear_cache();
        set_cache_limit(DEFAULT_CACHE_LIMIT);
        let maps = rustprof_symbolize::read_proc_maps(None).unwrap();
        let addr = target_fn as fn() -> u64 as usize as u64;
        let opens = cache_stats().opens;
        for _ in 0..3 {
            let r = symbolize(&maps, &[addr]);
            assert!(r[0].frames.iter().any(|f| f.function.ends_with("target_fn")), "{r:?}");
        }
        let s = cache_stats();
        assert_eq!(s.opens, opens + 1, "{s:?}");
        assert_eq!(s.binaries.len(), 1, "{s:?}");
        assert!(s.bytes > 0, "{s:?}");
        // The same mapping under another name: the process no longer maps the
        // first file, which is closed.
        let moved: Vec<MapEntry> =
            maps.iter().map(|m| MapEntry { path: format!("{}.gone", m.path), ..m.clone() }).collect();
        let _ = symbolize(&moved, &[addr]);
        assert!(cache_stats().binaries.iter().all(|p| !p.to_string_lossy().ends_with(".gone")));
        assert!(!cache_stats().binaries.contains(&s.binaries[0]));
    }

    #[test]
    fn a_limit_of_zero_keeps_nothing() {
        let _l = L.lock().unwrap_or_else(|e| e.into_inner());
        clear_cache();
        set_cache_limit(0);
        let maps = rustprof_symbolize::read_proc_maps(None).unwrap();
        let addr = target_fn as fn() -> u64 as usize as u64;
        let opens = cache_stats().opens;
        let r = symbolize(&maps, &[addr]);
        assert!(r[0].frames.iter().any(|f| f.function.ends_with("target_fn")));
        let _ = symbolize(&maps, &[addr]);
        let s = cache_stats();
        set_cache_limit(DEFAULT_CACHE_LIMIT);
        assert!(s.binaries.is_empty(), "{s:?}");
        assert_eq!(s.opens, opens + 2);
    }

    /// A library symbolized, then dlclose'd: closed at the next build (zlib
    /// is part of every Debian system, `zlib1g` is required).
    #[test]
    fn a_dlclosed_library_is_closed() {
        let _l = L.lock().unwrap_or_else(|e| e.into_inner());
        clear_cache();
        set_cache_limit(usize::MAX / 2);
        // SAFETY: loading and unloading zlib, whose constructors do nothing;
        // the symbol is only used as an address, while the library is loaded.
        let (handle, addr) = unsafe {
            let h = libc::dlopen(c"libz.so.1".as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
            assert!(!h.is_null(), "libz.so.1 (package zlib1g) is needed by this test");
            let f = libc::dlsym(h, c"zlibVersion".as_ptr());
            assert!(!f.is_null());
            (h, f as u64)
        };
        let maps = rustprof_symbolize::read_proc_maps(None).unwrap();
        let r = symbolize(&maps, &[addr]);
        assert!(r[0].frames.iter().any(|f| f.function == "zlibVersion"), "{r:?}");
        let libz = |s: &CacheStats| s.binaries.iter().any(|p| p.to_string_lossy().contains("libz.so"));
        // (Whether it is cached now is not asserted: another test's build,
        // with maps read before the dlopen, may close it meanwhile.)
        // SAFETY: nothing of the library is used any more.
        unsafe { libc::dlclose(handle) };
        let maps = rustprof_symbolize::read_proc_maps(None).unwrap();
        let still_mapped = maps.iter().any(|m| m.path.contains("libz.so"));
        let here = target_fn as fn() -> u64 as usize as u64;
        let _ = symbolize(&maps, &[here]);
        let s = cache_stats();
        set_cache_limit(DEFAULT_CACHE_LIMIT);
        // Nothing else in this test binary links zlib.
        assert!(!still_mapped, "libz.so is still mapped after dlclose");
        assert!(!libz(&s), "{s:?}");
    }
}
