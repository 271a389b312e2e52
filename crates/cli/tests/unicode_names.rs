//! Randomized property test: profiles whose function names, file names, object
//! files, label keys and values, comments and `drop_frames` are arbitrary Unicode
//! (Go's `·`, CJK, emoji, combining marks, parentheses in every position, quotes,
//! markup, names cut around pprof's 80-byte limits) go through every report of the
//! command line and the web UI's views with random options, in process. None may
//! panic: each either prints a report or returns an error.
//!
//! The seed of a failing case is printed; `UNICODE_SEED=N` reruns one case.

#![allow(clippy::unwrap_used)]

use std::panic::{AssertUnwindSafe, catch_unwind};

use rustprof_cli::driver::{self, BufferUi};
use rustprof_cli::web::http::Request;
use rustprof_profile::{Line, Profile, ProfileBuilder};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Pieces names are made of: multi-byte characters next to every ASCII delimiter
/// the reports look for.
const PIECES: &[&str] = &[
    "runtime",
    "main",
    "·",
    "(",
    ")",
    "(*T)",
    ".",
    "..",
    "/",
    "::",
    "<",
    ">",
    "&",
    "\"",
    "\\",
    "'",
    " ",
    "\t",
    "é",
    "ü",
    "日本語",
    "🦀",
    "\u{301}",
    "\u{200b}",
    "ﬁ",
    "[...]",
    "[…]",
    "(anonymous namespace)",
    "operator()",
    "{closure#0}",
    "func1",
    "type:.hash",
    "·2",
    "%",
    "{",
    "}",
    "|",
    "-",
    "+",
    "0x7f",
    "_",
    "$",
    "#",
    "=",
    ":",
    ",",
    ";",
    "\u{10ffff}",
    "Ω",
    "ß",
    "İ",
    "\u{feff}",
    "\n",
    "\r",
];

fn name(r: &mut Rng) -> String {
    let n = r.below(14);
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(r.pick(PIECES));
    }
    if r.chance(10) {
        // Around the 80-byte cut of active filters and dot labels, with a wide
        // character straddling the limit.
        while s.len() < 78 + r.below(4) {
            s.push('a');
        }
        s.push_str("·日本");
    }
    s
}

fn build(r: &mut Rng) -> Profile {
    let types: &[(&str, &str)] = match r.below(3) {
        0 => &[("samples", "count"), ("cpu", "nanoseconds")],
        1 => &[
            ("alloc_objects", "count"),
            ("alloc_space", "bytes"),
            ("inuse_objects", "count"),
            ("inuse_space", "bytes"),
        ],
        _ => &[("contentions", "count"), ("delay", "nanoseconds")],
    };
    let mut b = ProfileBuilder::new(types);
    b.period("cpu", "nanoseconds", 10_000_000);
    if r.chance(50) {
        let c = name(r);
        b.comment(&c);
    }
    if r.chance(40) {
        // Any string is a legal drop_frames regexp or an error pprof ignores.
        let d = regex_from(r);
        let k = if r.chance(30) { regex_from(r) } else { String::new() };
        b.frames_filter(&d, &k);
    }
    let objfile = name(r);
    let m = b.add_mapping(&rustprof_profile::MappingInfo {
        memory_start: 0x1000,
        memory_limit: 0x100000,
        file_offset: 0,
        filename: &objfile,
        build_id: "",
        has_functions: true,
        has_filenames: true,
        has_line_numbers: true,
        has_inline_frames: true,
    });
    let nfuncs = 1 + r.below(12);
    let funcs: Vec<u32> = (0..nfuncs)
        .map(|_| {
            let (n, sys, file) = (name(r), name(r), name(r));
            b.add_function(&n, &sys, &file, r.below(50) as i64)
        })
        .collect();
    let nlocs = 1 + r.below(16);
    let locs: Vec<u32> = (0..nlocs)
        .map(|i| {
            let depth = 1 + r.below(3);
            let lines: Vec<Line> = (0..depth)
                .map(|_| Line { function: funcs[r.below(funcs.len())], line: r.below(200) as i64, column: 0 })
                .collect();
            let mapping = if r.chance(80) { Some(m) } else { None };
            b.add_location(mapping, 0x1000 + 16 * i as u64, &lines, false)
        })
        .collect();
    let keys: Vec<String> = (0..1 + r.below(3)).map(|_| name(r)).collect();
    for _ in 0..1 + r.below(40) {
        let stack: Vec<u32> = (0..1 + r.below(10)).map(|_| locs[r.below(locs.len())]).collect();
        let values: Vec<i64> =
            types.iter().map(|_| r.below(1000) as i64 - if r.chance(5) { 500 } else { 0 }).collect();
        let mut labels = Vec::new();
        for k in &keys {
            if r.chance(50) {
                let v = name(r);
                labels.push(b.label_str(k, &v));
            } else if r.chance(30) {
                let unit = r.pick(&["bytes", "", "ms", "日本"]);
                labels.push(b.label_num(k, r.below(5000) as i64, unit));
            }
        }
        b.add_sample(&stack, &values, &labels);
    }
    b.build()
}

/// A regexp: an escaped fragment of the pieces, or a raw one (maybe invalid).
fn regex_from(r: &mut Rng) -> String {
    let s = name(r);
    if r.chance(70) { regex::escape(&s) } else { s }
}

fn options(r: &mut Rng) -> Vec<String> {
    let mut o = Vec::new();
    let regex_flags = ["focus", "ignore", "hide", "show", "show_from", "prune_from", "tagshow", "taghide"];
    for f in regex_flags {
        if r.chance(20) {
            o.push(format!("-{f}={}", regex_from(r)));
        }
    }
    for f in ["tagfocus", "tagignore"] {
        if r.chance(15) {
            let v = match r.below(3) {
                0 => regex_from(r),
                1 => format!("{}={}", name(r), regex_from(r)),
                _ => format!("{}:{}", r.below(100), r.below(5000)),
            };
            o.push(format!("-{f}={v}"));
        }
    }
    for f in ["tagroot", "tagleaf"] {
        if r.chance(10) {
            o.push(format!("-{f}={}", name(r)));
        }
    }
    if r.chance(50) {
        o.push(format!("-{}", r.pick(&["functions", "filefunctions", "files", "lines", "addresses"])));
    }
    for f in ["cum", "call_tree", "compact_labels", "noinlines", "trim=false", "relative_percentages", "mean"]
    {
        if r.chance(10) {
            o.push(format!("-{f}"));
        }
    }
    if r.chance(30) {
        o.push(format!("-nodecount={}", r.below(6)));
    }
    if r.chance(10) {
        o.push(format!("-add_comment={}", name(r)));
    }
    if r.chance(20) {
        o.push(format!("-sample_index={}", r.below(2)));
    }
    if r.chance(20) {
        o.push("-list_recursion=once".into());
    }
    o
}

const COMMANDS: &[&str] = &[
    "top",
    "text",
    "tree",
    "peek",
    "traces",
    "raw",
    "tags",
    "dot",
    "callgrind",
    "proto",
    "topproto",
    "comments",
    "list",
    "flame",
    "folded",
    "disasm",
    "weblist",
];

fn run_case(seed: u64) {
    let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let main = build(&mut r);
    let base = build(&mut r);
    let cmd = r.pick(COMMANDS);
    let mut args = vec![if matches!(cmd, "list" | "peek" | "disasm" | "weblist") {
        format!("-{cmd}={}", regex_from(&mut r))
    } else {
        format!("-{cmd}")
    }];
    args.extend(options(&mut r));
    let with_base = r.chance(25);
    if with_base {
        args.push(format!("-{}=base", r.pick(&["base", "diff_base"])));
        if r.chance(50) {
            args.push("-normalize".into());
        }
    }
    args.push("-symbolize=none".into());
    args.push("main".into());
    let ctx = format!("seed {seed}: rustprof {}", args.join(" "));
    let result = catch_unwind(AssertUnwindSafe(|| {
        let Ok((source, cmd, cfg)) = driver::parse_flags(&args) else { return };
        let mut ui = BufferUi::default();
        let (m, b) = (main.clone(), base.clone());
        let fetcher =
            move |src: &str, _: &driver::Source, _: &mut dyn driver::Ui| -> Result<(Profile, bool), String> {
                Ok((if src == "base" { b.clone() } else { m.clone() }, false))
            };
        let Ok(fetched) = rustprof_cli::fetch::fetch_profiles(&source, &fetcher, &mut ui) else { return };
        let p = rustprof_profile::compact(&fetched.profile);
        if let Some(cmd) = cmd
            && let Ok((_, mut rpt)) = driver::generate_raw_report(p.clone(), &cmd, &cfg, &mut ui)
        {
            let _ = rustprof_cli::report::generate(&mut rpt);
        }
        // The web UI's views over the same profile (the graph needs graphviz: left out).
        let web = rustprof_cli::web::WebUi::new(p, cfg, with_base);
        let f = regex_from(&mut r);
        for (path, query) in [
            ("/ui/top", vec![]),
            ("/ui/flamegraph", vec![]),
            ("/ui/flamegraph.json", vec![]),
            ("/ui/peek", vec![("f".to_string(), f.clone())]),
            ("/ui/source", vec![("f".to_string(), f.clone())]),
            ("/ui/top", vec![("f".to_string(), f.clone()), ("h".to_string(), f.clone())]),
        ] {
            let req = Request { method: "GET".into(), path: path.into(), raw_query: String::new(), query };
            let _ = web.route(&req);
        }
    }));
    if result.is_err() {
        panic!("panicked: {ctx}");
    }
}

#[test]
fn arbitrary_unicode_names_never_panic_any_report() {
    if let Some(seed) = std::env::var("UNICODE_SEED").ok().and_then(|s| s.parse().ok()) {
        run_case(seed);
        return;
    }
    let cases: u64 = std::env::var("UNICODE_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(1500);
    let mut failed = Vec::new();
    for seed in 1..=cases {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let r = catch_unwind(|| run_case(seed));
        std::panic::set_hook(hook);
        if let Err(e) = r {
            let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
            failed.push(msg);
            if failed.len() >= 5 {
                break;
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} case(s) panicked (rerun one with UNICODE_SEED=N):\n{}",
        failed.len(),
        failed.join("\n")
    );
}

/// The case of issue 20: a Go runtime name with `·` before its first `(` and a
/// `drop_frames` that matches it panicked every command.
#[test]
fn drop_frames_with_middle_dot_before_paren() {
    let mut b = ProfileBuilder::new(&[("samples", "count")]);
    b.frames_filter("type:\\.hash.*", "");
    let f = b.add_function("type:.hash.[2]interface {}·2(x)", "", "f.go", 1);
    let g = b.add_function("main.main", "", "f.go", 1);
    let l1 = b.add_location(None, 0x10, &[Line { function: f, line: 1, column: 0 }], false);
    let l2 = b.add_location(None, 0x20, &[Line { function: g, line: 1, column: 0 }], false);
    b.add_sample(&[l1, l2], &[5], &[]);
    let p = b.build();
    let mut ui = BufferUi::default();
    let args: Vec<String> = ["-top", "-symbolize=none", "main"].iter().map(|s| s.to_string()).collect();
    let (source, cmd, cfg) = driver::parse_flags(&args).unwrap();
    let fetcher = move |_: &str,
                        _: &driver::Source,
                        _: &mut dyn driver::Ui|
          -> Result<(Profile, bool), String> { Ok((p.clone(), false)) };
    let fetched = rustprof_cli::fetch::fetch_profiles(&source, &fetcher, &mut ui).unwrap();
    let (_, mut rpt) = driver::generate_raw_report(fetched.profile, &cmd.unwrap(), &cfg, &mut ui).unwrap();
    let out = String::from_utf8(rustprof_cli::report::generate(&mut rpt).unwrap()).unwrap();
    assert!(out.contains("main.main"), "{out}");
    assert!(!out.contains("type:.hash"), "dropped frames are gone: {out}");
}
