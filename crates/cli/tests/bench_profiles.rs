//! The README's main job, end to end: the showcase's benchmark run by `cargo
//! bench` with Go's profiling flags (rustprof's harness), its profiles read by
//! `rustprof` and `go tool pprof` (Go installed by .ci/run): the per-byte
//! `format!` line of `hash_password` holds most of its time.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn rustprof(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rustprof")).args(args).output().unwrap();
    assert!(out.status.success(), "rustprof {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn go_pprof(args: &[&str]) -> Option<String> {
    let out = match Command::new("go").arg("tool").arg("pprof").args(args).output() {
        Ok(o) => o,
        Err(e) => {
            assert!(std::env::var_os("CI").is_none(), "go is required in CI: {e}");
            eprintln!("skipping go tool pprof: {e}");
            return None;
        }
    };
    assert!(out.status.success(), "go tool pprof {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8(out.stdout).unwrap())
}

/// The `(flat, cum, source)` rows of the `-list` routine of `function` in the
/// source file ending with `file`, in nanoseconds or bytes ("." is 0). (pprof
/// lists a function once per source file: code inlined from the standard
/// library, such as `String` methods, gets a routine of its own.)
fn list_rows(list: &str, function: &str, file: &str) -> Vec<(f64, f64, String)> {
    let header = format!("ROUTINE ======================== {function} in ");
    let start = list
        .match_indices(&header)
        .map(|(i, _)| i)
        .find(|&i| list[i..].lines().next().is_some_and(|l| l.ends_with(file)))
        .unwrap_or_else(|| panic!("no routine {function} in {file}:\n{list}"));
    let mut rows = Vec::new();
    for line in list[start..].lines().skip(2) {
        if line.starts_with("ROUTINE") {
            break;
        }
        let mut fields = line.split_whitespace();
        let (Some(flat), Some(cum)) = (fields.next(), fields.next()) else { continue };
        let source = line.split_once(':').map_or("", |(_, s)| s).to_owned();
        rows.push((value(flat), value(cum), source));
    }
    rows
}

/// A value of `-list`: a time or a size with pprof's units.
fn value(s: &str) -> f64 {
    if s == "." {
        return 0.0;
    }
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().unwrap_or_else(|_| panic!("{s:?}"));
    v * match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "mins" => 60e9,
        "hrs" => 3600e9,
        "B" => 1.0,
        "kB" => 1024.0,
        "MB" => 1024.0 * 1024.0,
        "GB" => 1024.0 * 1024.0 * 1024.0,
        _ => panic!("unit of {s:?}"),
    }
}

/// The formatting line dominates the routine's cumulative time.
fn check_format_line_dominates(list: &str, who: &str) {
    let rows = list_rows(list, "hash_password::hash_password", "src/lib.rs");
    let (top_cum, top_src) =
        rows.iter().map(|r| (r.1, r.2.as_str())).fold((0.0, ""), |a, b| if b.0 > a.0 { b } else { a });
    assert!(top_cum > 0.0, "{who}: no samples:\n{list}");
    assert!(top_src.contains("format!("), "{who}: hottest line {top_src:?}:\n{list}");
    // The format! line alone holds more than all other lines together.
    let others: f64 = rows.iter().filter(|r| !r.2.contains("format!(")).map(|r| r.1).sum();
    assert!(top_cum > others, "{who}: format! {top_cum} vs the rest {others}:\n{list}");
}

#[test]
fn showcase_bench_profiles_read_in_rustprof_and_go_tool_pprof() {
    let out_dir = std::env::temp_dir().join(format!("rustprof-bench-profiles-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    // The README's command, with the profiles under a temporary -outputdir
    // (relative paths otherwise land in examples/hash_password, where cargo
    // runs the bench).
    let out = Command::new(cargo)
        .current_dir(workspace_root())
        .args(["bench", "-q", "-p", "hash-password", "--bench", "hash_password", "--"])
        .args(["-bench", "HashPassword$", "-benchmem", "-cpuprofile", "prof.cpu", "-memprofile", "prof.mem"])
        .arg("-outputdir")
        .arg(&out_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "cargo bench:\n{stdout}\n{stderr}");
    // One result: Go's line for the slow version, with exact allocation counts.
    let results: Vec<&str> = stdout.lines().filter(|l| l.starts_with("Benchmark")).collect();
    assert_eq!(results.len(), 1, "{stdout}");
    let fields: Vec<&str> = results[0].split_whitespace().collect();
    assert!(
        fields[0] == "BenchmarkHashPassword" || fields[0].starts_with("BenchmarkHashPassword-"),
        "{stdout}"
    );
    assert_eq!(&fields[3..], &["ns/op", "376", "B/op", "36", "allocs/op"], "{stdout}");
    assert!(stdout.contains("\nPASS\nok  \thash-password\t"), "{stdout}");
    let cpu = out_dir.join("prof.cpu");
    let mem = out_dir.join("prof.mem");
    for (what, p) in [("cpu", &cpu), ("allocs", &mem)] {
        let shown = p.canonicalize().unwrap();
        assert!(
            stderr.contains(&format!("rustprof: saved {what} profile in {}", shown.display())),
            "{stderr}"
        );
    }
    let (cpu, mem) = (cpu.to_str().unwrap(), mem.to_str().unwrap());

    let top = rustprof(&["-top", cpu]);
    assert!(top.contains("hash_password::hash_password"), "{top}");
    assert!(top.contains("core::fmt::"), "{top}");
    let list = rustprof(&["-list", "hash_password$", cpu]);
    check_format_line_dominates(&list, "rustprof");
    // The allocations come from the format! line too.
    let mem_list = rustprof(&["-sample_index=alloc_space", "-list", "hash_password$", mem]);
    check_format_line_dominates(&mem_list, "rustprof allocs");

    if let Some(go_top) = go_pprof(&["-top", cpu]) {
        assert!(go_top.contains("hash_password::hash_password"), "{go_top}");
        let go_list = go_pprof(&["-list", "hash_password$", cpu]).unwrap();
        check_format_line_dominates(&go_list, "go tool pprof");
        let go_mem = go_pprof(&["-sample_index=alloc_space", "-top", mem]).unwrap();
        assert!(go_mem.contains("hash_password::hash_password"), "{go_mem}");
    }
    let _ = std::fs::remove_dir_all(&out_dir);
}
