#![allow(clippy::unwrap_used)]
//! `-folded` (issue 18.5): the collapsed stacks `flamegraph.pl` and
//! `inferno-flamegraph` read. Each line is checked against the format's
//! grammar, and the stacks and values are checked against `go tool pprof
//! -traces` (the reference, in an exact unit) on the same profile and options:
//! the same frames root first (inlined frames their own), the same values
//! summed per stack, filters and sample index honoured. A crafted profile
//! checks escaping, merging, order, units, `-mean` and `-output`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{profile, run_tool, rustprof, temp_dir};
use rustprof_profile::{Line, ProfileBuilder};

/// The format, strictly: no empty line, a stack of non-empty frames without
/// line breaks, one space, a positive integer without sign or leading zero,
/// and no stack twice; lines in bytewise order.
fn check_grammar(out: &str) -> BTreeMap<String, i64> {
    assert!(out.ends_with('\n') || out.is_empty(), "no final newline: {out:?}");
    let mut stacks = BTreeMap::new();
    let mut last: Option<&str> = None;
    for line in out.lines() {
        assert!(!line.contains('\r'), "carriage return in {line:?}");
        let (stack, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value in {line:?}"));
        assert!(
            !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) && !value.starts_with('0'),
            "value {value:?} of {line:?} is not a positive integer"
        );
        assert!(!stack.is_empty() && stack.split(';').all(|f| !f.is_empty()), "empty frame in {line:?}");
        if let Some(prev) = last {
            assert!(prev < stack, "{prev:?} before {stack:?}: not sorted, or a stack twice");
        }
        last = Some(stack);
        stacks.insert(stack.to_string(), value.parse::<i64>().unwrap());
    }
    stacks
}

/// The escaping `-folded` applies to frame names.
fn escape(name: &str) -> String {
    name.replace('%', "%25").replace(';', "%3B").replace('\n', "%0A").replace('\r', "%0D")
}

/// Stacks of a `-traces` report (values printed in an exact unit), root first,
/// joined as `-folded` joins them, values summed per stack.
fn stacks_of_traces(text: &str) -> BTreeMap<String, i64> {
    let mut stacks: BTreeMap<String, i64> = BTreeMap::new();
    let mut frames: Vec<String> = Vec::new();
    let mut value: Option<i64> = None;
    let mut started = false;
    let mut flush = |frames: &mut Vec<String>, value: &mut Option<i64>| {
        if let Some(v) = value.take() {
            frames.reverse();
            *stacks.entry(frames.join(";")).or_default() += v;
        }
        frames.clear();
    };
    for line in text.lines() {
        if line.starts_with("-----------+") {
            started = true;
            flush(&mut frames, &mut value);
            continue;
        }
        if !started {
            continue; // header
        }
        // `{value:>10}   frame`, `{"":>10}   frame` or `{key:>10}:  values`
        // (a value wider than 10 characters shifts the frame).
        let name = if let Some(frame) = line.strip_prefix(&" ".repeat(13)) {
            frame
        } else {
            let (head, frame) = line.trim_start().split_once("   ").unwrap_or(("", ""));
            let digits = head.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            match digits.parse::<i64>() {
                Ok(v) if !frame.is_empty() => {
                    value = Some(v);
                    frame
                }
                _ => {
                    assert!(line.contains(":  "), "unexpected traces line {line:?}");
                    continue; // a label
                }
            }
        };
        frames.push(escape(name.strip_suffix(" (inline)").unwrap_or(name)));
    }
    stacks.retain(|_, v| *v != 0);
    stacks
}

/// `-folded` against the reference's `-traces` with the same options; `unit`
/// is the profile's own unit (both print exact values in it).
fn compare_with_traces(options: &[&str], unit: &str, source: &str) {
    let unit_flag = format!("-unit={unit}");
    let (ok, folded, err) = rustprof(&[&["-folded", unit_flag.as_str()], options, &[source]].concat());
    assert!(ok, "{err}");
    let got = check_grammar(&folded);
    assert!(!got.is_empty(), "no stacks for {options:?}");
    let traces_args = [&["-traces", unit_flag.as_str()], options, &[source]].concat();
    let want = match run_tool("go", &["tool", "pprof"], &traces_args) {
        Some(t) => t,
        None => {
            // No Go outside CI: rustprof's own -traces (conformance-tested) stands in.
            let (ok, t, err) = rustprof(&traces_args);
            assert!(ok, "{err}");
            t
        }
    };
    let want = stacks_of_traces(&want);
    assert_eq!(got, want, "-folded {options:?} differs from -traces");
}

#[test]
fn cpu_stacks_are_the_traces_stacks() {
    let cpu = profile("go-bench.cpu.pb.gz");
    compare_with_traces(&[], "ns", &cpu);
    // The default unit is the profile's.
    assert_eq!(rustprof(&["-folded", &cpu]), rustprof(&["-folded", "-unit=ns", &cpu]));
    compare_with_traces(&["-sample_index=samples"], "count", &cpu);
    compare_with_traces(&["-focus=HashPassword", "-hide=^runtime\\."], "ns", &cpu);
    compare_with_traces(&["-lines", "-ignore=mapassign"], "ns", &cpu);
    // Today's Go records inlined calls: frames of their own.
    compare_with_traces(&[], "ns", &profile("go127-bench.cpu.pb.gz"));
}

#[test]
fn heap_stacks_follow_the_sample_index() {
    let heap = profile("go127-heap.pb.gz");
    compare_with_traces(&["-sample_index=alloc_space"], "B", &heap);
    compare_with_traces(&["-sample_index=inuse_objects", "-show_from=main"], "count", &heap);
    compare_with_traces(&["-tagroot=bytes"], "B", &profile("go-bench.alloc.pb.gz"));
}

#[test]
fn inlined_frames_are_frames() {
    let (ok, folded, err) = rustprof(&["-folded", &profile("go127-bench.cpu.pb.gz")]);
    assert!(ok, "{err}");
    let (ok, traces, err) = rustprof(&["-traces", &profile("go127-bench.cpu.pb.gz")]);
    assert!(ok, "{err}");
    // The profile has inlined frames: each is a frame of the folded stack.
    let inlined: Vec<&str> =
        traces.lines().filter_map(|l| l.strip_suffix(" (inline)")).map(|l| l[13..].trim_start()).collect();
    assert!(!inlined.is_empty(), "the profile has no inlined frames");
    let frames: std::collections::HashSet<&str> =
        folded.lines().flat_map(|l| l.rsplit_once(' ').unwrap().0.split(';')).collect();
    for name in inlined {
        assert!(frames.contains(name), "{name} is not a frame");
    }
}

/// A profile of nanosecond samples: names that need escaping, an inlined
/// call, two samples of one stack, a sample of value 0, a sample of no stack.
fn crafted(path: &Path) {
    let mut b = ProfileBuilder::new(&[("samples", "count"), ("cpu", "nanoseconds")]);
    let mut f = |name: &str| b.add_function(name, name, "src/lib.rs", 1);
    let main = f("main");
    let semi = f("weird;name");
    let odd = f("a%3Bb\nc");
    let inl = f("inlined_helper");
    let leaf = f("leaf");
    let line = |function, line| Line { function, line, column: 0 };
    let l_main = b.add_location(None, 0x10, &[line(main, 3)], false);
    let l_semi = b.add_location(None, 0x20, &[line(inl, 9), line(semi, 5)], false);
    let l_odd = b.add_location(None, 0x30, &[line(odd, 7)], false);
    let l_leaf = b.add_location(None, 0x40, &[line(leaf, 2)], false);
    let label = b.label_str("thread", "worker");
    b.add_sample(&[l_leaf, l_semi, l_main], &[2, 20_000_000], &[]);
    b.add_sample(&[l_odd, l_main], &[1, 10_000_000], &[]);
    b.add_sample(&[l_main], &[0, 0], &[]);
    b.add_sample(&[], &[1, 10_000_000], &[]);
    // The first stack again, with a label (folded stacks have none): merged.
    b.add_sample(&[l_leaf, l_semi, l_main], &[1, 1_500_000], &[label]);
    let p = b.build();
    std::fs::write(path, rustprof_profile::encode_as_pprof(&p)).unwrap();
}

#[test]
fn crafted_profile_exactly() {
    let dir = temp_dir("folded");
    let path = dir.join("crafted.pb.gz");
    crafted(&path);
    let p = path.to_str().unwrap();
    let (ok, out, err) = rustprof(&["-folded", p]);
    assert!(ok, "{err}");
    check_grammar(&out);
    assert_eq!(out, "main;a%253Bb%0Ac 10000000\nmain;weird%3Bname;inlined_helper;leaf 21500000\n");
    // Another sample index; -unit converts and rounds; -divide_by divides.
    let (ok, out, _) = rustprof(&["-folded", "-sample_index=samples", p]);
    assert!(ok);
    assert_eq!(out, "main;a%253Bb%0Ac 1\nmain;weird%3Bname;inlined_helper;leaf 3\n");
    let (ok, out, _) = rustprof(&["-folded", "-unit=ms", p]);
    assert!(ok);
    assert_eq!(out, "main;a%253Bb%0Ac 10\nmain;weird%3Bname;inlined_helper;leaf 22\n");
    let (ok, out, _) = rustprof(&["-folded", "-unit=s", p]);
    assert!(ok);
    assert_eq!(out, "", "stacks under half a second round to nothing");
    let (ok, out, _) = rustprof(&["-folded", "-divide_by=1000", "-unit=ns", p]);
    assert!(ok);
    assert_eq!(out, "main;a%253Bb%0Ac 10000\nmain;weird%3Bname;inlined_helper;leaf 21500\n");
    // -mean: each sample's value divided by its count, then summed.
    let (ok, out, _) = rustprof(&["-folded", "-mean", p]);
    assert!(ok);
    assert_eq!(out, "main;a%253Bb%0Ac 10000000\nmain;weird%3Bname;inlined_helper;leaf 11500000\n");
    // Filters: -focus keeps, -hide removes frames (the stacks merge again).
    let (ok, out, _) = rustprof(&["-folded", "-focus=leaf", "-hide=inlined", p]);
    assert!(ok);
    assert_eq!(out, "main;weird%3Bname;leaf 21500000\n");
    // -output writes the file and says so on stderr.
    let file = dir.join("out.folded");
    let (ok, out, err) = rustprof(&["-folded", &format!("-output={}", file.display()), p]);
    assert!(ok, "{err}");
    assert_eq!(out, "");
    assert!(err.contains("Generating report in"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "main;a%253Bb%0Ac 10000000\nmain;weird%3Bname;inlined_helper;leaf 21500000\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shell_folded_writes_the_same() {
    let dir = temp_dir("folded-shell");
    let cpu = profile("go-bench.cpu.pb.gz");
    let (ok, want, err) = rustprof(&["-folded", "-focus=HashPassword", &cpu]);
    assert!(ok, "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rustprof"))
        .arg(&cpu)
        .current_dir(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"focus=HashPassword\nfolded >stacks.txt\nfolded\nquit\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(dir.join("stacks.txt")).unwrap(), want);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&want));
    let _ = std::fs::remove_dir_all(&dir);
}
