//! Symbolizing this test binary's own code, the way the in-process profilers
//! do: `/proc/self/maps`, then `symbolize_addresses`.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use rustprof_symbolize::{Symbolizer, read_build_id, read_proc_maps, symbolize_addresses};

#[inline(never)]
fn marker_function(x: u64) -> u64 {
    std::hint::black_box(x).wrapping_mul(7) ^ 0x55
}

const MARKER_LINE: u32 = 10;

#[test]
fn symbolizes_own_function() {
    assert_eq!(marker_function(1), 7 ^ 0x55);
    let maps = read_proc_maps(None).unwrap();
    let exe = std::env::current_exe().unwrap();
    assert!(maps.iter().all(|m| m.is_executable()));
    let main = maps.iter().find(|m| Path::new(&m.path) == exe).expect("the test binary is mapped");
    assert_eq!(main.build_id, read_build_id(&exe).unwrap().unwrap_or_default());

    let addr = marker_function as fn(u64) -> u64 as usize as u64;
    let mut s = Symbolizer::new();
    let got = symbolize_addresses(&mut s, &maps, &[addr, addr + 4, 1]);
    assert_eq!(got.len(), 3);
    assert_eq!(Path::new(&maps[got[0].mapping.unwrap()].path), exe);
    for g in &got[..2] {
        let f = g.frames.last().unwrap();
        assert_eq!(f.function, "in_process::marker_function", "{:?}", g.frames);
        assert!(f.file.ends_with("tests/in_process.rs"), "{f:?}");
        assert!((MARKER_LINE..=MARKER_LINE + 1).contains(&f.line), "{f:?}");
        assert_eq!(f.start_line, MARKER_LINE);
    }
    assert_eq!(got[2].mapping, None);
    assert!(got[2].frames.is_empty());

    // A function of a shared library: libc's, when dynamically linked.
    let libc = maps.iter().find(|m| m.path.contains("libc.so"));
    if let Some(libc) = libc {
        let b = s.open(Path::new(&libc.path)).unwrap();
        assert!(b.symbol_count() > 0);
    }

    assert!(!s.is_empty());
    s.clear();
    assert!(s.is_empty());
}

#[test]
fn cache_is_bounded_and_refreshes() {
    let maps = read_proc_maps(None).unwrap();
    let mut paths: Vec<&str> = maps.iter().map(|m| m.path.as_str()).filter(|p| p.starts_with('/')).collect();
    paths.dedup();
    let mut s = Symbolizer::with_capacity(1);
    for p in &paths {
        let _ = s.open(Path::new(p));
        assert!(s.len() <= 1);
    }
    let exe = std::env::current_exe().unwrap();
    s.open(&exe).unwrap();
    s.open(&exe).unwrap();
    assert_eq!(s.open_paths().collect::<Vec<_>>(), vec![exe.as_path()]);
    // Asking for another build ID is refused.
    let err = s.open_expecting(&exe, "0123").unwrap_err();
    assert!(err.to_string().contains("build ID mismatch"), "{err}");
    assert!(err.to_string().contains(&*exe.to_string_lossy()), "{err}");
    s.set_capacity(3);
    assert_eq!(s.capacity(), 3);
}
