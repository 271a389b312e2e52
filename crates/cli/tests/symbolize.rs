//! Symbolization of an address-only profile of a real Rust binary built with
//! debug info: from the mapping's file name, from the `[binary]` argument, from
//! `$PPROF_BINARY_PATH` by build ID; inlined frames and demangled names;
//! `-symbolize=none` leaves the addresses.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use rustprof_profile::{MappingInfo, ProfileBuilder};

const SOURCE: &str = include_str!("../../symbolize/tests/fixtures/fixture.rs");

fn work_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-symbolize-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The fixture compiled with debug info, optimized (so it has inlined frames).
fn fixture() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let dir = work_dir();
        let src = dir.join("fixture.rs");
        std::fs::write(&src, SOURCE).unwrap();
        let out = dir.join("fixture");
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        let st = Command::new(rustc)
            .args([
                "--edition=2021",
                "--crate-name=fixture",
                "-g",
                "-Copt-level=2",
                "-Clink-arg=-Wl,--build-id",
            ])
            .arg("-o")
            .arg(&out)
            .arg(&src)
            .status()
            .unwrap();
        assert!(st.success());
        out
    })
}

struct Run {
    addr: u64,
    start: u64,
    limit: u64,
    offset: u64,
}

/// Runs the fixture: the runtime address of `outer_caller` and the executable
/// mapping that contains it.
fn run_fixture() -> Run {
    let out = Command::new(fixture()).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let addr = u64::from_str_radix(text.lines().next().unwrap().trim_start_matches("ADDR "), 16).unwrap();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(range), Some(perms), Some(off)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let Some((a, b)) = range.split_once('-') else { continue };
        let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else { continue };
        if perms.contains('x') && (a..b).contains(&addr) {
            return Run { addr, start: a, limit: b, offset: u64::from_str_radix(off, 16).unwrap() };
        }
    }
    panic!("no executable mapping holds {addr:#x}:\n{text}");
}

/// An address-only CPU profile of the fixture: samples at every 4th byte of
/// `outer_caller`'s first 256 bytes, in a mapping named `file`.
fn profile(file: &str, build_id: &str) -> PathBuf {
    let r = run_fixture();
    let mut b = ProfileBuilder::new(&[("samples", "count"), ("cpu", "nanoseconds")]);
    b.period("cpu", "nanoseconds", 10_000_000);
    let m = b.add_mapping(&MappingInfo {
        memory_start: r.start,
        memory_limit: r.limit,
        file_offset: r.offset,
        filename: file,
        build_id,
        ..Default::default()
    });
    for k in 0..64u64 {
        let loc = b.add_location(Some(m), r.addr + 4 * k, &[], false);
        b.add_sample(&[loc], &[1, 10_000_000], &[]);
    }
    let p = b.build();
    let path = work_dir().join(format!("prof-{}.pb.gz", file.replace('/', "_")));
    std::fs::write(&path, rustprof_profile::encode(&p)).unwrap();
    path
}

fn build_id() -> String {
    rustprof_symbolize::read_build_id(fixture()).unwrap().expect("the fixture has a build ID")
}

fn rustprof(args: &[&str], env: &[(&str, &str)]) -> (String, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_rustprof")).args(args).envs(env.iter().copied()).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn symbolized_from_the_mapping_file() {
    let p = profile(fixture().to_str().unwrap(), &build_id());
    let (top, _) = rustprof(&["-top", p.to_str().unwrap()], &[]);
    assert!(top.contains("fixture::outer_caller"), "{top}");
    assert!(top.contains("fixture::inlined_callee (inline)"), "inlined frames: {top}");
    assert!(!top.contains("17h"), "names are demangled without the hash: {top}");
    let (traces, _) = rustprof(&["-traces", p.to_str().unwrap()], &[]);
    assert!(
        traces.contains("fixture::inlined_callee (inline)\n             fixture::outer_caller"),
        "{traces}"
    );
    let (lines, _) = rustprof(&["-top", "-lines", p.to_str().unwrap()], &[]);
    assert!(lines.contains("fixture.rs:"), "file and line: {lines}");
}

#[test]
fn symbolize_none_keeps_addresses() {
    let p = profile(fixture().to_str().unwrap(), &build_id());
    let (top, _) = rustprof(&["-top", "-symbolize=none", p.to_str().unwrap()], &[]);
    assert!(!top.contains("outer_caller"), "{top}");
    assert!(top.contains("[fixture]"), "{top}");
}

#[test]
fn binary_argument_overrides_the_mapping() {
    let p = profile("/nonexistent/path/fixture", "");
    let (top, _) = rustprof(&["-top", fixture().to_str().unwrap(), p.to_str().unwrap()], &[]);
    assert!(top.contains("fixture::outer_caller"), "{top}");
    assert!(top.starts_with("File: fixture\n"), "{top}");
}

#[test]
fn found_by_build_id_in_pprof_binary_path() {
    let id = build_id();
    let dir = work_dir().join("binaries");
    std::fs::create_dir_all(dir.join(&id)).unwrap();
    std::fs::copy(fixture(), dir.join(&id).join("fixture")).unwrap();
    let p = profile("/elsewhere/fixture", &id);
    let (top, _) = rustprof(&["-top", p.to_str().unwrap()], &[("PPROF_BINARY_PATH", dir.to_str().unwrap())]);
    assert!(top.contains("fixture::outer_caller"), "{top}");
    // A binary with another build ID is refused, with pprof's message.
    let p = profile("/elsewhere/fixture", "0123456789abcdef");
    let plain = work_dir().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    std::fs::copy(fixture(), plain.join("fixture")).unwrap();
    let (top, err) =
        rustprof(&["-top", p.to_str().unwrap()], &[("PPROF_BINARY_PATH", plain.to_str().unwrap())]);
    assert!(!top.contains("outer_caller"), "{top}");
    assert!(err.contains("build-id mismatch"), "{err}");
}
