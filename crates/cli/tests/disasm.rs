//! `-disasm`: annotated assembly of real binaries, compared with Go 1.27's
//! `go tool pprof` on the same binary and profile: a Go program profiled by
//! runtime/pprof, and a Rust program (the `disasm_cpu` example) profiled by
//! rustprof. Both print the instructions in Go's syntax.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const GO_PROGRAM: &str = r#"package main

import (
	"os"
	"runtime/pprof"
)

//go:noinline
func hot(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i * i % 7
	}
	return s
}

//go:noinline
func warm(n int) int {
	s := uint32(1)
	for i := 0; i < n; i++ {
		s = s*1664525 + 1013904223
		if s&0x100 != 0 {
			s ^= s >> 3
		}
	}
	return int(s)
}

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	pprof.StartCPUProfile(f)
	t := 0
	for j := 0; j < 150; j++ {
		t += hot(1000000) + warm(1000000)
	}
	pprof.StopCPUProfile()
	f.Close()
	if t == 42 {
		println(t)
	}
}
"#;

/// Whether Go 1.27 is there (under CI it must be).
fn have_go() -> bool {
    common::require("go", &["version"], "golang") && common::go_compat().is_empty()
}

/// The Go program, built, and its CPU profile: (binary, profile).
fn go_case() -> &'static (PathBuf, PathBuf) {
    static CASE: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    CASE.get_or_init(|| {
        let dir = common::temp_dir("disasm-go");
        std::fs::write(dir.join("main.go"), GO_PROGRAM).unwrap();
        std::fs::write(dir.join("go.mod"), "module hot\n\ngo 1.27\n").unwrap();
        let bin = dir.join("hot");
        let st =
            Command::new("go").arg("build").arg("-o").arg(&bin).arg(".").current_dir(&dir).status().unwrap();
        assert!(st.success(), "go build failed");
        let prof = dir.join("cpu.pprof");
        let st = Command::new(&bin).arg(&prof).status().unwrap();
        assert!(st.success(), "the Go program failed");
        (bin, prof)
    })
}

/// The `disasm_cpu` example: `cargo test` builds examples with the tests; a
/// run of this file alone (`--test disasm`) builds it here.
fn rust_example() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().unwrap();
            let deps = exe.parent().unwrap();
            let p = deps.parent().unwrap().join("examples").join("disasm_cpu");
            if !p.exists() {
                let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
                let st = Command::new(cargo)
                    .args(["build", "-q", "-p", "rustprof-cli", "--example", "disasm_cpu"])
                    .status()
                    .unwrap();
                assert!(st.success(), "cargo build --example disasm_cpu failed");
            }
            assert!(p.exists(), "{} is missing after cargo built it", p.display());
            p
        })
        .clone()
}

/// A CPU profile of the example, recorded by rustprof.
fn rust_case() -> &'static (PathBuf, PathBuf) {
    static CASE: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    CASE.get_or_init(|| {
        let dir = common::temp_dir("disasm-rust");
        let bin = rust_example();
        let prof = dir.join("cpu.pb.gz");
        let out = Command::new(&bin).arg(&prof).output().unwrap();
        assert!(out.status.success(), "disasm_cpu: {}", String::from_utf8_lossy(&out.stderr));
        (bin, prof)
    })
}

fn go_pprof(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("go").arg("tool").arg("pprof").args(args).env("TZ", "UTC").output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Both tools' `-disasm` (or other) output for the same arguments.
fn compare(args: &[&str]) -> String {
    let (gok, gout, gerr) = go_pprof(args);
    let (ok, out, err) = common::rustprof(args);
    assert_eq!(ok, gok, "{args:?}: exit status differs; Go: {gerr}; rustprof: {err}");
    assert_eq!(out, gout, "{args:?}: rustprof's output differs from Go's (stderr: {err})");
    out
}

#[test]
fn go_binary_disasm_matches_go() {
    if !have_go() {
        return;
    }
    let (bin, prof) = go_case();
    let out = compare(&["-disasm=main.hot", s(bin), s(prof)]);
    assert!(out.contains("ROUTINE ======================== main.hot\n"), "{out}");
    assert!(out.contains("IMULQ"), "{out}");
    // Every instruction of the hot function has the file:line of its first line.
    assert!(out.contains(";main.go:"), "{out}");
    // Two functions, by name; an address regexp.
    compare(&["-disasm=main.(hot|warm)", s(bin), s(prof)]);
    compare(&["-disasm=main", "-cum", "-unit=ms", s(bin), s(prof)]);
}

#[test]
fn go_binary_disasm_by_address_matches_go() {
    if !have_go() {
        return;
    }
    let (bin, prof) = go_case();
    let (ok, text, _) = common::rustprof(&["-top", "-addresses", "-nodecount=1", s(bin), s(prof)]);
    assert!(ok);
    // The first row: flat flat% sum% cum cum% ADDRESS name ...
    let addr = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|w| w.len() >= 6 && w.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no address in:\n{text}"))
        .to_string();
    compare(&[&format!("-disasm=0x{addr}"), s(bin), s(prof)]);
    // An address in a symbol without samples, and one in no symbol: both fail alike.
    let obj = rustprof_cli::disasm::ObjFile::open(s(bin), 0).unwrap();
    let cold = obj.symbols(&regex::Regex::new("^runtime\\.printlock$").unwrap(), 0);
    let cold = format!("-disasm={:#x}", cold.first().expect("runtime.printlock").start + 1);
    for flag in [cold.as_str(), "-disasm=0x1"] {
        let (gok, _, gerr) = go_pprof(&[flag, s(bin), s(prof)]);
        let (ok, _, err) = common::rustprof(&[flag, s(bin), s(prof)]);
        assert!(!gok && !ok, "{flag}: {gerr} / {err}");
        assert_eq!(err.lines().last(), gerr.lines().last(), "{flag}");
    }
}

#[test]
fn rust_binary_disasm_matches_go() {
    if !have_go() {
        return;
    }
    let (bin, prof) = rust_case();
    let out = compare(&["-disasm=mix", s(bin), s(prof)]);
    assert!(out.contains("ROUTINE ======================== "), "{out}");
    assert!(out.contains("disasm_cpu::mix"), "the samples' function names annotate the instructions:\n{out}");
    // Without the binary argument: the mapping names the binary.
    compare(&["-disasm=mix", s(prof)]);
}

#[test]
fn rust_binary_disasm_without_go() {
    // What holds whether or not Go is there: the hot function is annotated.
    let (bin, prof) = rust_case();
    let (ok, out, err) = common::rustprof(&["-disasm=mix", s(bin), s(prof)]);
    assert!(ok, "{err}");
    let flat: usize = out.lines().filter(|l| l.contains(": ") && !l.trim_start().starts_with('.')).count();
    assert!(flat > 0, "no instruction has samples:\n{out}");
    assert!(out.lines().any(|l| l.contains("IMULQ") || l.contains("XORQ")), "{out}");
}

#[test]
fn disasm_errors() {
    let (bin, prof) = rust_case();
    let (ok, _, err) = common::rustprof(&["-disasm=no_such_function_anywhere", s(bin), s(prof)]);
    assert!(!ok);
    assert!(err.contains("no matches found for regexp no_such_function_anywhere"), "{err}");
    let (ok, _, err) = common::rustprof(&["-disasm=mix", "-intel_syntax", s(bin), s(prof)]);
    assert!(!ok);
    assert!(err.contains("printing assembly in Intel syntax is not supported"), "{err}");
    // The binary the profile names is gone: said on stdout, then nothing matches.
    let dir = common::temp_dir("disasm-missing");
    let gone = dir.join("gone");
    std::fs::copy(bin, &gone).unwrap();
    let p = dir.join("cpu.pb.gz");
    let out = Command::new(&gone).arg(&p).output().unwrap();
    assert!(out.status.success());
    std::fs::remove_file(&gone).unwrap();
    let args = ["-disasm=mix", s(&p)];
    let (ok, out, err) = common::rustprof(&args);
    assert!(!ok, "{out}");
    assert_eq!(out, format!("open {}: no such file or directory\n", gone.display()));
    assert!(err.contains("no matches found for regexp mix"), "{err}");
    if have_go() {
        compare(&args);
    }
}

/// Instructions of `bin`'s symbols matching `rx` as `go tool objdump` prints
/// them, and as rustprof decodes them: the (address, Go, rustprof) of those
/// that differ, and how many were compared.
fn objdump_differences(bin: &Path, rx: &str) -> (Vec<(u64, String, String)>, usize) {
    let out = common::run_tool("go", &["tool", "objdump", "-s", rx], &[s(bin)]).unwrap();
    let obj = rustprof_cli::disasm::ObjFile::open(s(bin), 0).unwrap();
    let mut want: Vec<(u64, String)> = Vec::new();
    for line in out.lines() {
        if line.starts_with("TEXT ") {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').map(str::trim).filter(|f| !f.is_empty()).collect();
        if fields.len() < 4 {
            continue;
        }
        let addr = u64::from_str_radix(fields[1].trim_start_matches("0x"), 16).unwrap();
        want.push((addr, fields[3..].join("\t")));
    }
    let syms = obj.symbols(&regex::Regex::new(rx).unwrap(), 0);
    let mut got: std::collections::HashMap<u64, String> = std::collections::HashMap::new();
    for sym in &syms {
        for i in obj.disasm(sym.start, sym.end + 1) {
            got.insert(i.addr, i.text);
        }
    }
    if let Ok(a) = std::env::var("DISASM_AT") {
        let a = u64::from_str_radix(&a, 16).unwrap();
        let mut near: Vec<_> = got.iter().filter(|(k, _)| k.abs_diff(a) < 24).collect();
        near.sort();
        for (k, v) in near {
            eprintln!("rustprof {k:x}: {v}");
        }
        for (k, v) in want.iter().filter(|(k, _)| k.abs_diff(a) < 24) {
            eprintln!("go {k:x}: {v}");
        }
    }
    let mut diffs = Vec::new();
    for (addr, text) in &want {
        let mine = got.get(addr).cloned().unwrap_or_else(|| "<none>".into());
        if mine != *text {
            diffs.push((*addr, text.clone(), mine));
        }
    }
    (diffs, want.len())
}

/// Every instruction of every symbol of the Go binary (`DISASM_RX` narrows it).
#[test]
fn go_syntax_agrees_with_go_objdump() {
    if !have_go() {
        return;
    }
    let (bin, _) = go_case();
    let rx = std::env::var("DISASM_RX").unwrap_or_else(|_| ".".into());
    let (diffs, n) = objdump_differences(bin, &rx);
    let mut kinds: std::collections::BTreeMap<String, (usize, String)> = std::collections::BTreeMap::new();
    for d in &diffs {
        let k = d.1.split(' ').next().unwrap_or("").to_string();
        let e = kinds.entry(k).or_insert((0, format!("{:x}: go {:?} rustprof {:?}", d.0, d.1, d.2)));
        e.0 += 1;
    }
    for (k, (n, ex)) in &kinds {
        eprintln!("{k}: {n}, e.g. {ex}");
    }
    eprintln!("{} of {n} instructions differ", diffs.len());
    assert!(n > 20, "too few instructions compared: {n}");
    assert!(diffs.is_empty(), "{} of {n} instructions differ from go tool objdump", diffs.len());
}

/// Every instruction of every symbol of the Rust example (`DISASM_RUST_RX`
/// narrows it): AVX2, BMI2, folded functions, `.llvm.` symbols.
#[test]
fn go_syntax_agrees_with_go_objdump_on_a_rust_binary() {
    if !have_go() {
        return;
    }
    let bin = rust_example();
    let rx = std::env::var("DISASM_RUST_RX").unwrap_or_else(|_| ".".into());
    let (diffs, n) = objdump_differences(&bin, &rx);
    let mut kinds: std::collections::BTreeMap<String, (usize, String)> = std::collections::BTreeMap::new();
    for d in &diffs {
        let k = d.1.split(' ').next().unwrap_or("").to_string();
        let e = kinds.entry(k).or_insert((0, format!("{:x}: go {:?} rustprof {:?}", d.0, d.1, d.2)));
        e.0 += 1;
    }
    for (k, (n, ex)) in &kinds {
        eprintln!("{k}: {n}, e.g. {ex}");
    }
    assert!(n > 1000, "too few instructions compared: {n}");
    assert!(diffs.is_empty(), "{} of {n} instructions differ from go tool objdump", diffs.len());
}

/// `-weblist`'s page: (head, body from `</head>` on).
fn weblist(tool: &str, args: &[&str], out: &Path) -> (String, String) {
    let mut full: Vec<&str> = vec![];
    let o = format!("-output={}", s(out));
    full.push(&o);
    full.extend_from_slice(args);
    let ok = if tool == "go" { go_pprof(&full).0 } else { common::rustprof(&full).0 };
    assert!(ok, "{tool} {full:?} failed");
    let page = std::fs::read_to_string(out).unwrap();
    let at = page.find("</head>").unwrap_or_else(|| panic!("no </head> in {page}"));
    (page[..at].to_string(), page[at..].to_string())
}

#[test]
fn go_binary_weblist_matches_go() {
    if !have_go() {
        return;
    }
    let (bin, prof) = go_case();
    let dir = common::temp_dir("weblist-go");
    for rx in ["main.hot", "main.(hot|warm)"] {
        let flag = format!("-weblist={rx}");
        let args = [flag.as_str(), s(bin), s(prof)];
        let (ghead, gbody) = weblist("go", &args, &dir.join("go.html"));
        let (head, body) = weblist("rustprof", &args, &dir.join("rp.html"));
        // The page after its head (legend, routines, lines, instructions) is Go's,
        // byte for byte; the head has the same title, a style sheet and the script.
        assert_eq!(body, gbody, "-weblist={rx}");
        let title = |h: &str| h[h.find("<title>").unwrap()..h.find("</title>").unwrap()].to_string();
        assert_eq!(title(&head), title(&ghead));
        assert!(head.contains("function pprof_toggle_asm("), "{head}");
        assert!(body.contains("<span class=asm>") && body.contains("IMULQ"), "{body}");
        assert!(body.contains("<h2>main.hot</h2>"), "{body}");
    }
}

#[test]
fn rust_binary_weblist_matches_go() {
    if !have_go() {
        return;
    }
    let (bin, prof) = rust_case();
    let dir = common::temp_dir("weblist-rust");
    let args = ["-weblist=mix", s(bin), s(prof)];
    let (_, gbody) = weblist("go", &args, &dir.join("go.html"));
    let (_, body) = weblist("rustprof", &args, &dir.join("rp.html"));
    assert_eq!(body, gbody);
}

#[test]
fn web_ui_disasm_view() {
    let (bin, prof) = rust_case();
    let server = common::Server::start(&[s(bin), s(prof)]);
    let r = server.get("/ui/disasm?f=mix");
    assert_eq!(r.status, 200, "{}", r.text());
    let page = r.text();
    assert!(page.contains("<pre id=\"rp-disasm\""), "{page}");
    assert!(page.contains("ROUTINE ======================== _ZN10disasm_cpu3mix"), "{page}");
    // The text is -disasm's.
    let (ok, text, _) = common::rustprof(&["-disasm=mix", s(bin), s(prof)]);
    assert!(ok);
    let first = text.lines().find(|l| l.contains(": ")).unwrap();
    assert!(page.contains(&first.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")), "{first}");
    let r = server.get("/ui/disasm?f=no_such_symbol_here");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("no matches found for regexp no_such_symbol_here"), "{}", r.text());
}

/// Without Go: instructions `go tool objdump` printed (kept in tests/data, a few
/// per mnemonic and operand shape, from the Go and the Rust test binaries).
#[test]
fn go_syntax_of_recorded_instructions() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/disasm/go_objdump_sample.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let no_symbols = |_: u64| None;
    let mut n = 0;
    let mut bad = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut parts = line.splitn(3, ' ');
        let (addr, hex, want) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        let pc = u64::from_str_radix(addr.trim_start_matches("0x"), 16).unwrap();
        let bytes: Vec<u8> =
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
        let (got, size) = rustprof_cli::disasm::decode(&bytes, pc, &no_symbols);
        if got != want || size != bytes.len() as u64 {
            bad.push(format!("{addr} {hex}: want {want:?}, got {got:?} ({size} bytes)"));
        }
        n += 1;
    }
    assert!(n > 800, "{n} instructions");
    assert!(bad.is_empty(), "{} of {n} differ:\n{}", bad.len(), bad.join("\n"));
}

/// A position-independent Go binary (mapped elsewhere than it is linked).
#[test]
fn go_pie_binary_disasm_matches_go() {
    if !have_go() {
        return;
    }
    let (bin, _) = go_case();
    let dir = bin.parent().unwrap();
    let pie = dir.join("hot-pie");
    let st = Command::new("go")
        .args(["build", "-buildmode=pie", "-o"])
        .arg(&pie)
        .arg(".")
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(st.success(), "go build -buildmode=pie failed");
    let prof = dir.join("pie.pprof");
    assert!(Command::new(&pie).arg(&prof).status().unwrap().success());
    let out = compare(&["-disasm=main.hot", s(&pie), s(&prof)]);
    assert!(out.contains(";main.go:"), "{out}");
    let (_, gbody) = weblist("go", &["-weblist=main.hot", s(&pie), s(&prof)], &dir.join("pie-go.html"));
    let (_, body) = weblist("rustprof", &["-weblist=main.hot", s(&pie), s(&prof)], &dir.join("pie-rp.html"));
    assert_eq!(body, gbody);
}
