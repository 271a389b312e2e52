//! Function names and rustprof's frame trimming in a program built as the
//! README recommends for release builds, `debug = "line-tables-only"` (whose
//! DWARF names functions by their last segment only), and in the same program
//! stripped to its symbol table (what `debug = 0` leaves).
//!
//! The program is `tests/names-fixture`, built by this test with cargo's
//! `names-fixture` profile (its own directory in the workspace's target
//! directory, so nothing else is rebuilt). It writes CPU, heap, block and
//! mutex profiles of functions with known names; the analyzer must find them
//! under their full paths (`-list 'fixture::count_primes'`,
//! `-focus='^fixture::'`), and each profile's samples must start in the
//! program's code, not in rustprof's or the standard library's.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use rustprof_profile::Profile;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The target directory this test was built in (`<target>/debug/deps/<test>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// The fixture built with line tables only.
fn fixture() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let status = Command::new(cargo)
            .current_dir(workspace())
            .args(["build", "-q", "-p", "names-fixture", "--profile", "names-fixture", "--target-dir"])
            .arg(target_dir())
            .status()
            .unwrap();
        assert!(status.success(), "building tests/names-fixture failed: {status}");
        let bin = target_dir().join("names-fixture/fixture");
        assert!(bin.is_file(), "{} missing", bin.display());
        bin
    })
}

/// A copy of the fixture without its DWARF: only the symbol table is left, as
/// with `debug = 0`. `objcopy` from binutils (installed by .ci/run), else the
/// toolchain's `rust-objcopy`.
fn stripped() -> Option<&'static Path> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = fixture();
        // Named after the build it comes from and never replaced: a running
        // program whose file is replaced can no longer read its symbols
        // (`/proc/self/maps` says "(deleted)"), and test processes may run
        // concurrently.
        let md = std::fs::metadata(src).unwrap();
        let mtime = md.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        let stamp = format!("{:x}-{:x}", md.len(), mtime.map_or(0, |d| d.as_nanos()));
        let out = src.with_file_name(format!("fixture-symbols-only-{stamp}"));
        if out.is_file() {
            return Some(out);
        }
        let sysroot = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
            .args(["--print", "sysroot"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        let mut tools = vec![PathBuf::from("objcopy")];
        if let Some(root) = sysroot {
            let rustlib = Path::new(&root).join("lib/rustlib");
            for entry in std::fs::read_dir(&rustlib).into_iter().flatten().flatten() {
                tools.push(entry.path().join("bin/rust-objcopy"));
            }
        }
        let tmp = src.with_file_name(format!("fixture-symbols-only.{}", std::process::id()));
        for tool in tools {
            let ok = Command::new(&tool).arg("--strip-debug").arg(src).arg(&tmp).status();
            if matches!(ok, Ok(s) if s.success()) {
                // Published whole, and only by the first process to get there.
                let _ = std::fs::hard_link(&tmp, &out);
                let _ = std::fs::remove_file(&tmp);
                return Some(out);
            }
        }
        if std::env::var_os("CI").is_some() {
            panic!("objcopy is needed (binutils; .ci/run installs it)");
        }
        eprintln!("no objcopy: skipping the symbols-only variant");
        None
    })
    .as_deref()
}

/// Runs `bin` once, returning the directory with its four profiles.
fn profiles(bin: &Path, name: &str) -> PathBuf {
    let dir = target_dir().join(format!("names-fixture/profiles-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(bin).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}: {}", bin.display(), String::from_utf8_lossy(&out.stderr));
    dir
}

fn lines_profiles() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| profiles(fixture(), "lines"))
}

fn symbols_profiles() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| stripped().map(|b| profiles(b, "symbols"))).as_deref()
}

fn rustprof(args: &[&str], file: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rustprof")).args(args).arg(file).output().unwrap();
    assert!(out.status.success(), "rustprof {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn read(dir: &Path, name: &str) -> Profile {
    rustprof_profile::decode(&std::fs::read(dir.join(name)).unwrap()).unwrap()
}

/// Per function, the value (sample type `index`) of the samples whose first
/// frame (the innermost line of the first location) it is.
fn flat(p: &Profile, index: usize) -> Vec<(String, i64)> {
    let mut by: std::collections::BTreeMap<String, i64> = Default::default();
    for i in 0..p.samples.len() {
        let s = p.samples.get(i);
        let Some(&loc) = s.locations.first() else { continue };
        let Some(line) = p.location_lines(loc).first() else { continue };
        let name = p.str(p.functions[line.function as usize].name).to_string();
        *by.entry(name).or_default() += s.values[index];
    }
    let mut v: Vec<(String, i64)> = by.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

fn total(p: &Profile, index: usize) -> i64 {
    (0..p.samples.len()).map(|i| p.samples.get(i).values[index]).sum()
}

/// Every function name of the profile.
fn names(p: &Profile) -> Vec<&str> {
    p.functions.iter().map(|f| p.str(f.name)).collect()
}

fn check_cpu(dir: &Path, inlined: bool) {
    let p = read(dir, "cpu.pb.gz");
    let names = names(&p);
    assert!(names.contains(&"fixture::handle"), "{names:?}");
    if inlined {
        for f in ["fixture::count_primes", "fixture::work::checksum"] {
            assert!(names.contains(&f), "{f} not in {names:?}");
        }
        // A closure is named after the function it was written in.
        assert!(names.iter().any(|n| n.starts_with("fixture::count_primes::{closure")), "{names:?}");
        // No short Rust names left (`count_primes`, `{closure#0}`, `fold<…>`).
        let short: Vec<&str> = p
            .functions
            .iter()
            .filter(|f| p.str(f.filename).ends_with(".rs") && !p.str(f.name).contains("::"))
            .map(|f| p.str(f.name))
            .collect();
        assert!(short.is_empty(), "short names: {short:?}");
        let list = rustprof(&["-list", "fixture::count_primes$"], &dir.join("cpu.pb.gz"));
        assert!(list.contains("ROUTINE ======================== fixture::count_primes"), "{list}");
        assert!(list.contains("main.rs"), "{list}");
    }
    let list = rustprof(&["-list", "fixture::handle"], &dir.join("cpu.pb.gz"));
    if inlined {
        assert!(list.contains("ROUTINE ======================== fixture::handle"), "{list}");
    } else {
        // Found, without source lines to show (as pprof says it).
        assert!(list.contains("No source information for fixture::handle"), "{list}");
    }
    // Nearly all the time is under `fixture::`.
    let top = rustprof(&["-top", "-focus=^fixture::"], &dir.join("cpu.pb.gz"));
    let shown = top.lines().find(|l| l.starts_with("Showing nodes")).unwrap_or("");
    let pct: f64 = shown
        .split(',')
        .nth(1)
        .and_then(|s| s.split('%').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("{top}"));
    assert!(pct >= 90.0, "{top}");
}

/// The heap profile charges every standard allocation path to the function
/// that asked for memory.
fn check_heap(dir: &Path) {
    let p = read(dir, "heap.pb.gz");
    let objects = p.sample_type_index("alloc_objects").unwrap();
    let flat = flat(&p, objects);
    let of = |f: &str| flat.iter().find(|(n, _)| n == f).map_or(0, |(_, v)| *v);
    // 2000 allocations each (the fixture's `N`), sampled at rate 1.
    for f in [
        "fixture::alloc_vec_push",
        "fixture::alloc_vec_macro",
        "fixture::alloc_string_push",
        "fixture::alloc_format",
        "fixture::alloc_format_loop",
        "fixture::alloc_box",
        "fixture::alloc_hashmap",
        "fixture::alloc_collect",
        "fixture::alloc_to_string",
        "fixture::alloc_to_owned",
        "fixture::alloc_clone",
    ] {
        assert!(of(f) >= 2000, "{f}: {} objects; flat: {flat:?}", of(f));
    }
    // Nothing is charged to rustprof, the allocator or the standard library.
    let total = total(&p, objects);
    let program: i64 = flat.iter().filter(|(n, _)| n.starts_with("fixture::")).map(|(_, v)| v).sum();
    assert!(program * 100 >= total * 99, "{program} of {total}: {flat:?}");
    let top = rustprof(
        &["-top", "-sample_index=alloc_objects", "-focus=^fixture::alloc_"],
        &dir.join("heap.pb.gz"),
    );
    assert!(top.contains("fixture::alloc_format_loop"), "{top}");
}

/// The block profile starts at the waiting function, the mutex profile at
/// the one that held the lock: rustprof's own frames are trimmed.
fn check_locks(dir: &Path) {
    for (file, want) in [("block.pb.gz", "fixture::waiter"), ("mutex.pb.gz", "fixture::holder")] {
        let p = read(dir, file);
        let delay = p.sample_type_index("delay").unwrap();
        let flat = flat(&p, delay);
        let total = total(&p, delay);
        let of = flat.iter().find(|(n, _)| n == want).map_or(0, |(_, v)| *v);
        assert!(total > 0 && of * 100 >= total * 95, "{file}: {want} has {of} of {total}: {flat:?}");
        let top = rustprof(&["-top", "-focus=^fixture::"], &dir.join(file));
        assert!(top.contains(want), "{top}");
    }
}

#[test]
fn cpu_profile_names_with_line_tables_only() {
    check_cpu(lines_profiles(), true);
}

#[test]
fn heap_profile_charges_the_caller_with_line_tables_only() {
    check_heap(lines_profiles());
}

#[test]
fn lock_profiles_start_in_the_program_with_line_tables_only() {
    check_locks(lines_profiles());
}

#[test]
fn cpu_profile_names_with_symbols_only() {
    let Some(dir) = symbols_profiles() else { return };
    check_cpu(dir, false);
}

#[test]
fn heap_profile_charges_the_caller_with_symbols_only() {
    let Some(dir) = symbols_profiles() else { return };
    check_heap(dir);
}

#[test]
fn lock_profiles_start_in_the_program_with_symbols_only() {
    let Some(dir) = symbols_profiles() else { return };
    check_locks(dir);
}
