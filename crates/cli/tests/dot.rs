#![allow(clippy::unwrap_used)]
//! The `-dot` report, byte for byte against `go tool pprof` (Go 1.19.8), which
//! produces the expected outputs while the tests run.
//!
//! Without `go` on the PATH these tests are skipped, unless `CI` is set, in
//! which case they fail.
//!
//! Only flag combinations for which `go tool pprof` is deterministic are
//! compared: with negative values (diffs) or call trees with many identical
//! nodes, pprof's order among equal-weight edges, tags and nodes follows Go's
//! random map iteration.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/conformance")
}

/// Whether the reference tool can run; panics under CI when it cannot.
fn have_go() -> bool {
    let ok = Command::new("go").arg("version").output().map(|o| o.status.success()).unwrap_or(false);
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("`go` is required under CI to produce the reference outputs (go tool pprof)");
        }
        eprintln!("skipping: `go` not found, so there is no go tool pprof to compare with");
    }
    ok
}

fn run(program: &str, pre: &[&str], args: &[&str], dir: &Path) -> (bool, String, String) {
    let out = Command::new(program)
        .args(pre)
        .args(args)
        .current_dir(dir)
        .env("TZ", "UTC")
        .env("RUSTPROF_COMPAT", common::go_compat())
        .env_remove("PPROF_BINARY_PATH")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs every combination through both tools; returns a description of each mismatch.
fn compare_all(dir: &Path, combos: &[&str]) -> Vec<String> {
    let mut failures = Vec::new();
    for combo in combos {
        let args: Vec<&str> = combo.split_whitespace().collect();
        let (go_ok, want, go_err) = run("go", &["tool", "pprof"], &args, dir);
        assert!(go_ok, "go tool pprof {combo} failed: {go_err}");
        let (ok, got, err) = run(env!("CARGO_BIN_EXE_rustprof"), &[], &args, dir);
        if !ok || got != want {
            let first = want
                .lines()
                .zip(got.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| want.lines().count().min(got.lines().count()));
            failures.push(format!(
                "rustprof {combo}: exit ok={ok}, stderr={err}\n  first difference at line {}:\n  want: {}\n  got:  {}",
                first + 1,
                want.lines().nth(first).unwrap_or("<end>"),
                got.lines().nth(first).unwrap_or("<end>"),
            ));
        }
    }
    failures
}

#[test]
fn dot_matches_go_tool_pprof_on_conformance_profiles() {
    if !have_go() {
        return;
    }
    let combos = [
        "-dot profiles/go-bench.cpu.pb.gz",
        "-dot -nodecount=12 profiles/go-bench.cpu.pb.gz",
        "-dot -nodecount=5 -cum profiles/go-bench.cpu.pb.gz",
        "-dot -lines -nodecount=20 profiles/go-bench.cpu.pb.gz",
        "-dot -files profiles/go-bench.cpu.pb.gz",
        "-dot -addresses -nodecount=15 profiles/go-bench.cpu.pb.gz",
        "-dot -focus=HashPassword profiles/go-bench.cpu.pb.gz",
        "-dot -call_tree -nodecount=10 profiles/go-bench.cpu.pb.gz",
        "-dot -nodefraction=0.05 -edgefraction=0.01 profiles/go-bench.cpu.pb.gz",
        "-dot -nodefraction=0 -edgefraction=0 -nodecount=100 profiles/go-bench.cpu.pb.gz",
        "-dot -diff_base=profiles/go-labels.cpu.pb.gz -nodecount=20 profiles/go-bench.cpu.pb.gz",
        "-dot -diff_base=profiles/go-labels.cpu.pb.gz -call_tree -nodecount=30 profiles/go-bench.cpu.pb.gz",
        "-dot -diff_base=profiles/go-labels.cpu.pb.gz -nodecount=40 -files profiles/go-bench.cpu.pb.gz",
        "-dot profiles/go-bench.alloc.pb.gz",
        "-dot -sample_index=alloc_objects profiles/go-bench.alloc.pb.gz",
        "-dot -sample_index=alloc_space -nodecount=7 profiles/go-bench.alloc.pb.gz",
        "-dot profiles/go-bench.block.pb.gz",
        "-dot -mean profiles/go-bench.block.pb.gz",
        "-dot -mean -nodecount=4 profiles/go-bench.block.pb.gz",
        "-dot profiles/go-bench.mutex.pb.gz",
        "-dot profiles/go-goroutine.pb.gz",
        "-dot -lines profiles/go-goroutine.pb.gz",
        "-dot profiles/go-heap.pb.gz",
        "-dot -nodecount=5 profiles/go-heap.pb.gz",
        "-dot -sample_index=alloc_objects profiles/go-heap.pb.gz",
        "-dot -sample_index=inuse_space -lines profiles/go-heap.pb.gz",
        "-dot -tagfocus=bytes=1MB profiles/go-heap.pb.gz",
        "-dot -call_tree profiles/go-heap.pb.gz",
        "-dot profiles/go-labels.cpu.pb.gz",
        "-dot -tagfocus=endpoint=login profiles/go-labels.cpu.pb.gz",
        "-dot -tagroot=endpoint -nodecount=15 profiles/go-labels.cpu.pb.gz",
        "-dot -tagignore=endpoint=search -focus=main.hashWork profiles/go-labels.cpu.pb.gz",
        "-dot profiles/synth.cpu.pb.gz",
        "-dot -tagfocus=tenant=2 -nodecount=5 profiles/synth.cpu.pb.gz",
        "-dot -tagfocus=bytes=8kB:1MB profiles/synth.cpu.pb.gz",
        "-dot -lines -nodecount=9 profiles/synth.cpu.pb.gz",
        "-dot -focus=func_1$ profiles/synth.cpu.pb.gz",
        "-dot -nodecount=25 -tagignore=tenant=0 profiles/synth.cpu.pb.gz",
    ];
    let failures = compare_all(&conformance_dir(), &combos);
    assert!(failures.is_empty(), "{} of {} differ:\n{}", failures.len(), combos.len(), failures.join("\n"));
}

/// A minimal protobuf writer for a hand-made profile.proto.
#[derive(Default)]
struct Pb(Vec<u8>);

impl Pb {
    fn varint(&mut self, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(b);
                return;
            }
            self.0.push(b | 0x80);
        }
    }

    fn int(&mut self, field: u64, v: i64) -> &mut Self {
        self.varint(field << 3);
        self.varint(v as u64);
        self
    }

    fn bytes(&mut self, field: u64, b: &[u8]) -> &mut Self {
        self.varint((field << 3) | 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }

    fn msg(&mut self, field: u64, m: &Pb) -> &mut Self {
        self.bytes(field, &m.0)
    }

    fn packed(&mut self, field: u64, vs: &[i64]) -> &mut Self {
        let mut p = Pb::default();
        for &v in vs {
            p.varint(v as u64);
        }
        self.bytes(field, &p.0)
    }
}

struct Strings(Vec<String>);

impl Strings {
    fn id(&mut self, s: &str) -> i64 {
        match self.0.iter().position(|x| x == s) {
            Some(i) => i as i64,
            None => {
                self.0.push(s.to_string());
                (self.0.len() - 1) as i64
            }
        }
    }
}

/// A profile whose names need shortening, splitting and escaping, with string
/// labels (quotes and backslashes included), a numeric `bytes` label with
/// more values than nodelets, inlined frames, and locations without lines.
fn synthetic_profile(delay: bool) -> Vec<u8> {
    let names = [
        "github.com/foo/bar/v2/pkg.(*T[...]).Method",
        "main.main",
        "java.lang.String.indexOf(I)",
        "(anonymous namespace)::ns::Foo::bar",
        "std::vector<int>::push_back",
        "core::ptr::drop_in_place<alloc::vec::Vec<u8>>",
        "<T as core::fmt::Debug>::fmt",
        "weird\"quote\\back",
        "multi\nline.fn",
        "función.ñandú",
        "gopkg.in/yaml.v3.(*decoder).unmarshal",
        "example.com/m/v10/sub.F.func1.2",
        "runtime.mallocgc",
        "",
        "Foo::Bar::~Bar",
        "a.b.c.d.e",
        "sync.(*Mutex).Lock",
        "net/http.HandlerFunc.ServeHTTP",
    ];
    let files =
        ["/src/a\"b.go", "/home/u/go/src/github.com/foo/bar/x.go", "C:\\win\\path.cc", "", "rel/file.rs"];
    let endpoints = ["login", "se\"arch", "back\\slash"];
    let sizes = [16i64, 24, 32, 64, 128, 1024, 4096, 8192, 65536, 1 << 20, 3 << 20];
    let mut s = Strings(vec![String::new()]);
    let mut p = Pb::default();
    let types: [(&str, &str); 2] = if delay {
        [("contentions", "count"), ("delay", "nanoseconds")]
    } else {
        [("samples", "count"), ("cpu", "nanoseconds")]
    };
    for (t, u) in types {
        let mut m = Pb::default();
        m.int(1, s.id(t)).int(2, s.id(u));
        p.msg(1, &m);
    }
    let mut m = Pb::default();
    m.int(1, 1)
        .int(2, 0x40_0000)
        .int(3, 0x80_0000)
        .int(5, s.id("/bin/my\"app"))
        .int(6, s.id("b\\id"))
        .int(7, 1);
    p.msg(3, &m);
    let mut m = Pb::default();
    m.int(1, 2).int(2, 0x7f00_0000_0000).int(3, 0x7f00_0010_0000).int(5, s.id("/usr/lib/libfoo.so"));
    p.msg(3, &m);
    for (i, n) in names.iter().enumerate() {
        let mut f = Pb::default();
        f.int(1, i as i64 + 1)
            .int(2, s.id(n))
            .int(3, s.id(n))
            .int(4, s.id(files[i % files.len()]))
            .int(5, 10 * i as i64);
        p.msg(5, &f);
    }
    let nf = names.len() as i64;
    for i in 0..nf {
        let mut l = Pb::default();
        l.int(1, i + 1).int(2, 1).int(3, 0x40_1000 + 16 * i);
        let mut line = Pb::default();
        line.int(1, i + 1).int(2, 100 + i);
        l.msg(4, &line);
        if i % 5 == 3 {
            let mut line = Pb::default();
            line.int(1, (i + 1) % nf + 1).int(2, 7);
            l.msg(4, &line);
        }
        p.msg(4, &l);
    }
    let mut l = Pb::default();
    l.int(1, nf + 1).int(2, 2).int(3, 0x7f00_0000_1234);
    p.msg(4, &l);
    let mut l = Pb::default();
    l.int(1, nf + 2).int(3, 0x99);
    p.msg(4, &l);
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rnd = |n: u64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    for _ in 0..400 {
        let depth = 1 + rnd(7);
        let stack: Vec<i64> = (0..depth).map(|_| 1 + rnd(nf as u64 + 2) as i64).collect();
        let count = 1 + rnd(50) as i64;
        let value = count * 1000 + rnd(1000) as i64;
        let mut sample = Pb::default();
        sample.packed(1, &stack).packed(2, &[count, value]);
        if rnd(10) < 6 {
            let mut lb = Pb::default();
            lb.int(1, s.id("endpoint")).int(2, s.id(endpoints[rnd(3) as usize]));
            sample.msg(3, &lb);
        }
        if rnd(10) < 5 {
            let mut lb = Pb::default();
            lb.int(1, s.id("tenant")).int(2, s.id(&rnd(3).to_string()));
            sample.msg(3, &lb);
        }
        if rnd(10) < 8 {
            let mut lb = Pb::default();
            lb.int(1, s.id("bytes")).int(3, sizes[rnd(sizes.len() as u64) as usize]);
            sample.msg(3, &lb);
        }
        p.msg(2, &sample);
    }
    p.int(9, 1_700_000_000_000_000_000).int(10, 5_000_000_000);
    let mut pt = Pb::default();
    pt.int(1, s.id(types[1].0)).int(2, s.id(types[1].1));
    p.msg(11, &pt).int(12, 10_000_000);
    p.int(13, s.id("a \"comment\" with \\ backslash"));
    let mut out = Pb::default();
    for x in &s.0 {
        out.bytes(6, x.as_bytes());
    }
    out.0.extend_from_slice(&p.0);
    out.0
}

#[test]
fn dot_matches_go_tool_pprof_on_unusual_names_and_labels() {
    if !have_go() {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dot-test");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("synthetic.pb"), synthetic_profile(false)).unwrap();
    std::fs::write(dir.join("synthetic-delay.pb"), synthetic_profile(true)).unwrap();
    let mut combos = Vec::new();
    for p in ["synthetic.pb", "synthetic-delay.pb"] {
        for flags in [
            "",
            "-nodecount=5",
            "-nodecount=10",
            "-lines",
            "-addresses",
            "-cum",
            "-mean",
            "-nodefraction=0 -edgefraction=0",
            "-tagfocus=endpoint=login",
            "-tagroot=endpoint",
            "-sample_index=0",
            "-noinlines",
            "-tagfocus=bytes=1kB:",
            "-unit=ms",
        ] {
            combos.push(format!("-dot -symbolize=none {flags} {p}"));
        }
    }
    let combos: Vec<&str> = combos.iter().map(String::as_str).collect();
    let failures = compare_all(&dir, &combos);
    assert!(failures.is_empty(), "{} of {} differ:\n{}", failures.len(), combos.len(), failures.join("\n"));
}

/// Call trees trimmed by node count, fraction or `-ignore` join the kept nodes
/// with residual edges: dotted, `...` in their tooltips, and inline only when
/// both edges they replace were (pprof's `TrimTree`). Go orders equal-weight
/// edges of recursive chains by map iteration, so a combination Go does not
/// repeat itself on is skipped; the ones compared must include residual edges.
#[test]
fn call_tree_residual_edges_as_go() {
    if !have_go() {
        return;
    }
    let dir = conformance_dir();
    let combos = [
        "-dot -call_tree -nodecount=3 profiles/go-bench.cpu.pb.gz",
        "-dot -call_tree -nodecount=25 profiles/go-bench.cpu.pb.gz",
        "-dot -call_tree -ignore=mallocgc -nodecount=20 profiles/go-bench.cpu.pb.gz",
        "-dot -call_tree -nodecount=25 profiles/go127-bench.cpu.pb.gz",
        "-dot -call_tree -ignore=mallocgc -nodecount=20 profiles/go127-bench.cpu.pb.gz",
        "-dot -call_tree -hide=runtime profiles/synth.cpu.pb.gz",
        "-dot -call_tree -nodecount=3 profiles/go-bench.alloc.pb.gz",
        "-dot -call_tree -lines -nodecount=15 profiles/go-bench.cpu.pb.gz",
    ];
    let (mut compared, mut dotted) = (0, 0);
    let mut failures = Vec::new();
    for combo in combos {
        let args: Vec<&str> = combo.split_whitespace().collect();
        let (_, a, _) = run("go", &["tool", "pprof"], &args, &dir);
        let (_, b, _) = run("go", &["tool", "pprof"], &args, &dir);
        if a != b {
            continue;
        }
        compared += 1;
        dotted += a.matches("style=\"dotted\"").count();
        failures.extend(compare_all(&dir, &[combo]));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        compared >= 4 && dotted >= 10,
        "too little compared: {compared} combinations, {dotted} residual edges"
    );
}
