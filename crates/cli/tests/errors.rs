//! Bad input: one clear line on stderr naming the problem, exit status 1 (as
//! `go tool pprof`), never a panic, never output on stdout.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn profiles() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/conformance/profiles")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rustprof")).args(args).env("TZ", "UTC").output().unwrap()
}

fn tmp(name: &str, data: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("rustprof-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p.to_string_lossy().into_owned()
}

/// Exit 1, nothing on stdout, no panic, and stderr contains every `needle`.
fn fails_with(args: &[&str], needles: &[&str]) {
    let out = run(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: status {:?}, stderr: {err}", out.status);
    assert!(out.stdout.is_empty(), "{args:?}: wrote to stdout: {}", String::from_utf8_lossy(&out.stdout));
    assert!(!err.contains("panicked"), "{args:?}: panic: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: stderr lacks {n:?}: {err}");
    }
}

#[test]
fn missing_file() {
    fails_with(
        &["-top", "/nonexistent/cpu.pb.gz"],
        &[
            "/nonexistent/cpu.pb.gz: open /nonexistent/cpu.pb.gz: no such file or directory",
            "failed to fetch any source profiles",
        ],
    );
}

#[test]
fn directory_is_not_a_profile() {
    let dir = std::env::temp_dir();
    let d = dir.to_string_lossy().into_owned();
    fails_with(&["-top", &d], &[&d, "failed to fetch any source profiles"]);
}

#[test]
fn not_a_profile() {
    let f = tmp("garbage.txt", b"this is not a profile\n");
    fails_with(&["-top", &f], &["garbage.txt: parsing profile:", "failed to fetch any source profiles"]);
    let f = tmp("empty.pb.gz", b"");
    fails_with(&["-top", &f], &["empty.pb.gz: parsing profile: empty input file"]);
}

#[test]
fn truncated_profile() {
    let data = std::fs::read(profiles().join("go-heap.pb.gz")).unwrap();
    let f = tmp("truncated.pb.gz", &data[..data.len() / 2]);
    fails_with(&["-top", &f], &["truncated.pb.gz: parsing profile: decompressing profile"]);
}

#[test]
fn invalid_regexps() {
    let p = profiles().join("go-heap.pb.gz");
    let p = p.to_str().unwrap();
    fails_with(&["-top", "-focus=(", p], &["parsing focus regexp: error parsing regexp"]);
    fails_with(&["-top", "-ignore=[", p], &["parsing ignore regexp"]);
    fails_with(&["-list", "(", p], &["parsing argument regexp (:"]);
    fails_with(&["-top", "-tagfocus=a(", p], &["parsing tagfocus regexp"]);
}

#[test]
fn unknown_flag_and_missing_value() {
    fails_with(
        &["-top", "-bogus", "x"],
        &["flag provided but not defined: -bogus\nRun 'rustprof --help' for every format and option.\n"],
    );
    fails_with(&["-top", "-focus"], &["flag needs an argument: -focus"]);
    fails_with(&["-top", "-nodecount=abc", "x"], &["invalid value \"abc\" for flag -nodecount"]);
    fails_with(&["-top", "-list=x", "y"], &["must set at most one output format"]);
    fails_with(&["-top", "-lines", "-files", "y"], &["conflicting options set"]);
    fails_with(&["-top"], &["no profile source specified"]);
}

#[test]
fn unknown_sample_index() {
    let p = profiles().join("go-heap.pb.gz");
    fails_with(
        &["-top", "-sample_index=zzz", p.to_str().unwrap()],
        &["sample_index \"zzz\" must be one of: [alloc_objects alloc_space inuse_objects inuse_space]"],
    );
    fails_with(
        &["-top", "-sample_index=9", p.to_str().unwrap()],
        &["sample_index 9 is outside the range [0..3]"],
    );
}

#[test]
fn incompatible_base() {
    let heap = profiles().join("go-heap.pb.gz");
    let cpu = profiles().join("go-bench.cpu.pb.gz");
    fails_with(
        &["-top", "-base", heap.to_str().unwrap(), cpu.to_str().unwrap()],
        &["period type: incompatible types: {cpu nanoseconds 0 0} {space bytes 0 0}"],
    );
    fails_with(
        &["-top", "-base", "x", "-diff_base", "y", cpu.to_str().unwrap()],
        &["-base and -diff_base flags cannot both be specified"],
    );
    fails_with(&["-top", "-normalize", cpu.to_str().unwrap()], &["must have base profile to normalize by"]);
}

#[test]
fn peek_and_list_without_match() {
    let p = profiles().join("go-heap.pb.gz");
    fails_with(
        &["-peek", "NoSuchFunction", p.to_str().unwrap()],
        &["no matches found for regexp: NoSuchFunction"],
    );
    fails_with(
        &["-list", "NoSuchFunction", p.to_str().unwrap()],
        &["no matches found for regexp: NoSuchFunction"],
    );
}

#[test]
fn help_exits_zero() {
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Output formats (select at most one):") && err.contains("-nodecount"));
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, data).unwrap();
    gz.finish().unwrap()
}

/// `string_table = [""]` then `n` copies of the 2-byte field `field`.
fn tiny_fields(field: [u8; 2], n: usize) -> Vec<u8> {
    let mut d = vec![0x32, 0x00];
    for _ in 0..n {
        d.extend_from_slice(&field);
    }
    d
}

#[test]
fn a_gzip_bomb_stops_at_the_size_limit() {
    // 8 MiB of comments in ~8 KB of gzip.
    let f = tmp("bomb.pb.gz", &gzip(&tiny_fields([0x68, 0x00], 4 << 20)));
    fails_with(
        &["-top", "-max_profile_size=1mb", &f],
        &[
            "bomb.pb.gz: parsing profile: profile is larger than the limit of 1.00 MiB uncompressed; -max_profile_size=SIZE raises the limit",
        ],
    );
    // Raised, it is read (and has no samples).
    fails_with(&["-top", "-max_profile_size=64mb", &f], &["profile has no samples"]);
}

#[test]
fn absurd_element_counts_are_refused_in_one_line() {
    // 4M empty mappings: 8 MiB of file, ~220 MiB of tables; the limit allows 2 × 16 MiB.
    let f = tmp("mappings.pb.gz", &gzip(&tiny_fields([0x1a, 0x00], 4 << 20)));
    fails_with(
        &["-top", "-max_profile_size=16mb", &f],
        &[
            "mappings.pb.gz: parsing profile: 4194304 mappings would take 224.00 MiB of memory, more than the limit of 32.00 MiB; -max_profile_size=SIZE raises the limit",
        ],
    );
}

#[test]
fn endless_inputs_are_read_up_to_the_limit() {
    fails_with(
        &["-top", "-max_profile_size=4mb", "/dev/zero"],
        &["/dev/zero: read /dev/zero: more than 4.00 MiB without an end (it is not a regular file)"],
    );
    // A FIFO whose writer never stops.
    let dir = std::env::temp_dir().join(format!("rustprof-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("endless");
    let _ = std::fs::remove_file(&fifo);
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let path = fifo.clone();
    let writer = std::thread::spawn(move || {
        let mut w = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let chunk = vec![0x68u8; 64 << 10];
        // Until the reader closes its end (EPIPE: Rust ignores SIGPIPE).
        while std::io::Write::write_all(&mut w, &chunk).is_ok() {}
    });
    let p = fifo.to_string_lossy().into_owned();
    fails_with(&["-top", "-max_profile_size=2mb", &p], &["more than 2.00 MiB without an end"]);
    writer.join().unwrap();
    // A FIFO that holds a whole profile is read as a file is.
    let _ = std::fs::remove_file(&fifo);
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let src = profiles().join("go-bench.cpu.pb.gz");
    let path = fifo.clone();
    let writer = std::thread::spawn(move || std::fs::copy(&src, &path).unwrap());
    let out = run(&["-top", "-nodecount=1", &p]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    writer.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_size_limit_is_one_line() {
    let f = profiles().join("go-bench.cpu.pb.gz").to_string_lossy().into_owned();
    fails_with(
        &["-top", "-max_profile_size=lots", &f],
        &["invalid value \"lots\" for flag -max_profile_size: a size such as 4gb, 512mb or 1073741824"],
    );
}

#[test]
fn a_typo_gets_two_lines_not_the_whole_usage() {
    let out = run(&["-tpo", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "flag provided but not defined: -tpo (did you mean -top?)\nRun 'rustprof --help' for every format and option.\n"
    );
    // No argument at all still gets the usage, as pprof prints it.
    let out = run(&[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("Output formats (select at most one):"));
}

#[test]
fn a_closed_stderr_is_no_panic() {
    // A pipe whose reading end is closed: every write to it fails (EPIPE).
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = Command::new(env!("CARGO_BIN_EXE_rustprof"))
        .args(["-tpo", "x"])
        .stdout(std::process::Stdio::null())
        .stderr(writer)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1), "{status:?}");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let f = profiles().join("go-bench.cpu.pb.gz");
    let status = Command::new(env!("CARGO_BIN_EXE_rustprof"))
        .args(["-top", "-focus=nothing-matches", f.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(writer)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn version() {
    let out = run(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    let v = String::from_utf8_lossy(&out.stdout);
    assert!(v.starts_with(&format!("rustprof {} ", env!("CARGO_PKG_VERSION"))), "{v}");
    assert_eq!(run(&["-version"]).stdout, out.stdout);
}

#[test]
fn flags_after_the_source_are_flags() {
    let f = profiles().join("go-bench.cpu.pb.gz");
    let f = f.to_str().unwrap();
    let before = run(&["-top", "-nodecount=3", f]);
    let after = run(&[f, "-top", "-nodecount", "3"]);
    assert!(before.status.success() && after.status.success(), "{}", String::from_utf8_lossy(&after.stderr));
    assert_eq!(String::from_utf8_lossy(&after.stdout), String::from_utf8_lossy(&before.stdout));
    assert_eq!(after.stderr, before.stderr);
}
