//! Heap and allocs profiles written by `rustprof::heap` (the global allocator of
//! this test binary) read by `go tool pprof` (installed by .ci/run) and by
//! `rustprof`, every sample type selectable with `-sample_index`, both analyzers
//! giving the same report.

#![allow(clippy::unwrap_used)]

mod common;
use common::run_tool as run;

use std::alloc::System;
use std::hint::black_box;
use std::path::PathBuf;

#[global_allocator]
static ALLOC: rustprof::heap::Sampled<System> = rustprof::heap::Sampled::new(System);

/// Allocates 32 MiB in 64 KiB blocks and keeps half of them.
#[inline(never)]
fn interop_allocating_function() -> Vec<Vec<u8>> {
    let mut kept = Vec::new();
    for i in 0..512 {
        let v = black_box(vec![i as u8; 64 * 1024]);
        if i % 2 == 0 {
            kept.push(v);
        }
    }
    kept
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rustprof-heap-interop-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

#[test]
fn heap_and_allocs_profiles_read_in_go_tool_pprof_and_rustprof() {
    rustprof::heap::seed_thread(3);
    let kept = interop_allocating_function();
    let heap = tmp("heap.pb.gz");
    let allocs = tmp("allocs.pb.gz");
    rustprof::write_gzip(&rustprof::heap::profile(), std::fs::File::create(&heap).unwrap()).unwrap();
    rustprof::write_gzip(&rustprof::heap::allocs_profile(), std::fs::File::create(&allocs).unwrap()).unwrap();
    drop(kept);
    let rustprof_bin = env!("CARGO_BIN_EXE_rustprof");
    for (file, default) in [(&heap, "inuse_space"), (&allocs, "alloc_space")] {
        let f = file.to_str().unwrap();
        let ours = run(rustprof_bin, &[], &["-top", f]).unwrap();
        assert!(ours.contains("heap_interop::interop_allocating_function"), "{ours}");
        assert!(ours.contains(&format!("Type: {default}")), "{ours}");
        let go = run("go", &["tool", "pprof"], &["-top", f]);
        if let Some(go) = &go {
            assert_eq!(go, &ours);
        }
        for index in ["alloc_objects", "alloc_space", "inuse_objects", "inuse_space"] {
            let arg = format!("-sample_index={index}");
            let ours = run(rustprof_bin, &[], &["-top", &arg, f]).unwrap();
            assert!(ours.contains(&format!("Type: {index}")), "{ours}");
            assert!(ours.contains("heap_interop::interop_allocating_function"), "{ours}");
            if go.is_some() {
                let go = run("go", &["tool", "pprof"], &["-top", &arg, f]).unwrap();
                assert_eq!(go, ours, "{index}");
            }
        }
    }
}
