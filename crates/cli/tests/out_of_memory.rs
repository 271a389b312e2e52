//! Running out of memory ends the analyzer like any other error: one line naming
//! the file and the problem, exit status 1; never an abort or a core dump.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use rustprof_profile::{Line, ProfileBuilder};

/// A CPU profile of a few MB uncompressed: 40,000 samples over 4,000 functions.
fn big_profile() -> Vec<u8> {
    let mut b = ProfileBuilder::new(&[("samples", "count"), ("cpu", "nanoseconds")]);
    b.period("cpu", "nanoseconds", 10_000_000);
    let locs: Vec<u32> = (0..4000u64)
        .map(|i| {
            let name = format!("pkg{}.(*Type{}).method_with_a_long_name_{i}", i % 37, i % 101);
            let f = b.add_function(&name, &name, "src/pkg/file.go", 1);
            b.add_location(None, 0x1000 + i * 16, &[Line { function: f, line: i as i64, column: 0 }], false)
        })
        .collect();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..40_000i64 {
        let stack: Vec<u32> = (0..12)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                locs[(x % locs.len() as u64) as usize]
            })
            .collect();
        b.add_sample(&stack, &[1 + i % 7, (1 + i % 7) * 10_000_000], &[]);
    }
    let mut out = Vec::new();
    rustprof_profile::write_gzip(&b.build(), &mut out).unwrap();
    out
}

/// Under address-space limits from "cannot even start" to "enough", every run
/// either succeeds or fails with a short message and status 1.
#[test]
fn a_failed_allocation_is_an_error_not_an_abort() {
    let dir = common::temp_dir("oom");
    let file = dir.join("big.pb.gz");
    std::fs::write(&file, big_profile()).unwrap();
    let (mut ok, mut refused) = (0, 0);
    let starts = |kb: u32| {
        Command::new("sh")
            .args(["-c", &format!("ulimit -v {kb}; exec \"$0\" --version"), env!("CARGO_BIN_EXE_rustprof")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    for kb in (4_000..=200_000).step_by(4_000) {
        // Below what the loader needs to start the binary at all, there is
        // nothing of ours to test.
        if !starts(kb) {
            continue;
        }
        let script = format!("ulimit -v {kb}; exec \"$0\" -top -nodecount=5 -max_profile_size=10gb \"$1\"");
        let out = Command::new("sh")
            .args(["-c", &script, env!("CARGO_BIN_EXE_rustprof"), file.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.signal().is_none(), "limit {kb} KiB: killed by a signal: {stderr}");
        match out.status.code() {
            Some(0) => ok += 1,
            Some(1) => {
                refused += 1;
                assert!(stderr.lines().count() <= 3, "limit {kb} KiB: {stderr}");
                assert!(!stderr.contains("panicked"), "limit {kb} KiB: {stderr}");
                assert!(stderr.contains("memory"), "limit {kb} KiB: {stderr}");
            }
            other => panic!("limit {kb} KiB: exit {other:?}: {stderr}"),
        }
    }
    assert!(
        ok > 0 && refused > 0,
        "the limits tried did not cover both outcomes: {ok} ran, {refused} refused"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// An allocation that fails outside the decoder goes through the standard
/// library's handler, which aborts: the analyzer turns that abort into status 1
/// with one line of its own.
#[test]
fn an_abort_exits_with_status_one() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rustprof"))
        .arg(common::profile("go-heap.pb.gz"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the shell answers a command, its handlers are in place.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"help\n").unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGABRT) };
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{:?}: {stderr}", out.status);
    assert!(stderr.contains("rustprof: aborted"), "{stderr}");
}
