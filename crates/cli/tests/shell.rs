#![allow(clippy::unwrap_used)]
//! The interactive shell against the reference: each script is piped into
//! `go tool pprof` and into `rustprof` on the same profile, and stdout, stderr,
//! the exit status and the files written must be identical. The expected output
//! comes from `go tool pprof` run at test time. Without Go the tests are skipped
//! with a message, unless `CI` is set (CI installs Go).

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/conformance").canonicalize().unwrap()
}

fn profile(name: &str) -> String {
    data().join("profiles").join(name).to_string_lossy().into_owned()
}

fn source_path() -> String {
    format!("-source_path={}", data().join("src").to_string_lossy())
}

/// Whether `go` runs; panics under CI when it does not.
fn have_go() -> bool {
    let ok = Command::new("go").arg("version").output().is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("go is not installed: the shell tests need `go tool pprof` as the reference");
        }
        eprintln!("skipping: `go` is not installed, so there is no reference to compare with");
    }
    ok
}

/// What one run produced.
#[derive(Debug, PartialEq)]
struct Outcome {
    stdout: String,
    stderr: String,
    status: Option<i32>,
    /// Files written in the working directory: text content, or the size class
    /// of binary outputs (whose encoding may differ).
    files: BTreeMap<String, String>,
}

fn run(program: &[&str], args: &[String], script: &str, dir: &Path) -> Outcome {
    if dir.exists() {
        std::fs::remove_dir_all(dir).unwrap();
    }
    std::fs::create_dir_all(dir).unwrap();
    let mut child = Command::new(program[0])
        .args(&program[1..])
        .args(args)
        .current_dir(dir)
        .env("TZ", "UTC")
        .env("RUSTPROF_COMPAT", common::go_compat())
        .env("PPROF_TMPDIR", dir)
        .env_remove("PPROF_BINARY_PATH")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = script.as_bytes().to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let mut files = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let bytes = std::fs::read(e.path()).unwrap();
        let content = if name.ends_with(".gz") {
            "(compressed)".to_string()
        } else {
            String::from_utf8_lossy(&bytes).into_owned()
        };
        files.insert(name, content);
    }
    let _ = std::fs::remove_dir_all(dir);
    Outcome {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        status: out.status.code(),
        files,
    }
}

/// The line of the shell's `help` for rustprof's `flame`, which pprof lacks.
const FLAME_HELP: &str = "    flame            Outputs an interactive flame graph (standalone HTML)\n";
/// The lines of the shell's `help` for rustprof's other extensions: `folded`
/// and the `list_recursion` option (which `o` lists only once it is set).
const EXTENSION_HELP: &[&str] = &[
    FLAME_HELP,
    "    folded           Outputs the samples as folded stacks (flamegraph.pl, inferno)\n",
    "    list_recursion   How list counts a recursive function's cumulative value (pprof or once)\n",
];

/// Runs `script` through both tools and compares everything.
fn check(name: &str, args: &[String], script: &str) {
    let tmp = std::env::temp_dir().join(format!("rustprof-shell-test-{}-{name}", std::process::id()));
    let want = run(&["go", "tool", "pprof"], args, script, &tmp.join("go"));
    let mut got = run(&[env!("CARGO_BIN_EXE_rustprof")], args, script, &tmp.join("rustprof"));
    // rustprof's own commands and options are listed by `help`; pprof has no such lines.
    for line in EXTENSION_HELP {
        got.stderr = got.stderr.replace(line, "");
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(want.stdout.starts_with("(pprof) "), "{name}: the reference did not run the shell: {want:?}");
    if want != got {
        for (what, w, g) in [("stdout", &want.stdout, &got.stdout), ("stderr", &want.stderr, &got.stderr)] {
            if w != g {
                let line = w.lines().zip(g.lines()).position(|(a, b)| a != b).unwrap_or(0);
                eprintln!(
                    "{name}: {what} differs from line {}:\n  go:       {:?}\n  rustprof: {:?}",
                    line + 1,
                    w.lines().nth(line),
                    g.lines().nth(line)
                );
            }
        }
        assert_eq!(want, got, "{name}: rustprof's shell differs from go tool pprof's");
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn greeting_top_list_options_help() {
    if !have_go() {
        return;
    }
    let a = vec![source_path(), profile("go-bench.cpu.pb.gz")];
    check("basic", &a, "top\nlist HashPassword\no\nhelp\nquit\n");
    check("options", &a, "o\noptions\n");
    check(
        "help",
        &a,
        "help\nhelp top\nhelp list\nhelp peek\nhelp nodecount\nhelp sample_index\nhelp compact_labels\nhelp lines\nhelp cum\nhelp granularity\nhelp sort\nhelp o\nhelp foo bar\n",
    );
}

#[test]
fn reports() {
    if !have_go() {
        return;
    }
    let a = vec![source_path(), profile("go-bench.cpu.pb.gz")];
    check(
        "reports",
        &a,
        "top -cum\ntop5 mallocgc -sha256\ntop 3 --cum\npeek HashPassword\ntree 5\ntraces\ntags\ncomments\n",
    );
    check("raw-dot", &a, "raw\ndot\ndot 5 mallocgc\n");
    check("list", &a, "list HashPassword\nlist HashPassword -cum\nlist ^$\nlist10\n");
}

#[test]
fn assignments_persist() {
    if !have_go() {
        return;
    }
    let a = vec![profile("go-bench.cpu.pb.gz")];
    check(
        "settings",
        &a,
        "nodecount=5\ntop\ngranularity=lines\ntop\nlines\nnoinlines\ntop\ncum=true\ntop\nunit=ms\ntop\ndivide_by=2\ntop\no\n",
    );
    check(
        "filters",
        &a,
        "focus=mallocgc\ntop\nignore=sha\nhide=runtime\ntop\n:\ntop\nfocus = mallocgc //: a comment\ntop\nfocus=nomatch\ntop\n:\no\n",
    );
    check("not-persistent", &a, "top 3 mallocgc -madvise\ntop\no\n");
}

#[test]
fn sample_type_shortcuts() {
    if !have_go() {
        return;
    }
    check(
        "cpu-shortcuts",
        &[profile("go-bench.cpu.pb.gz")],
        "samples\ntop\ncpu\nmean_cpu\ntop\ntotal_cpu\no\nsample_index=0\no\nsample_index=\no\nsample_index=3\nsample_index=foo\nsample_index\n",
    );
    check(
        "alloc-shortcuts",
        &[profile("go-bench.alloc.pb.gz")],
        "alloc_space\ntop\nalloc_objects\ntop -cum\ninuse_space\ntop\ntotal_alloc_space\nmean_alloc_space\ntop\nsample_index=inuse_objects\no\n",
    );
    check(
        "delay-shortcuts",
        &[profile("go-bench.block.pb.gz")],
        "top\ndelay\ntop\nmean_delay\ntop\ncontentions\ntop\no\n",
    );
    check("mutex", &[profile("go-bench.mutex.pb.gz")], "mean_delay\ntop\ntotal_delay\ntop\n");
}

#[test]
fn tags_and_labels() {
    if !have_go() {
        return;
    }
    let a = vec![profile("go-labels.cpu.pb.gz")];
    check("tags", &a, "tags\ntags foo -bar\ntagfocus=a\ntop\ntraces\n:\ntags\n");
    check("goroutine", &[profile("go-goroutine.pb.gz")], "top\ntraces\ntags\n");
}

#[test]
fn errors_and_odd_input() {
    if !have_go() {
        return;
    }
    let a = vec![profile("go-bench.cpu.pb.gz")];
    check(
        "errors",
        &a,
        "cum\nlines\nsort\nsort cum\nnodecount 5\nnodecount\nnodecount10\nfoo\nfoo10\n=5\nlist\npeek\ntop >\nnodecount=abc\nnodefraction=x\ntrim=maybe\ngranularity=bogus\ndivide_by=0\ntop\n",
    );
    check("blank-lines", &a, "\n\n   \n\t\ntop\r\n");
    check("no-final-newline", &a, "top3");
    check("empty-script", &a, "");
    check("quit-early", &a, "q\ntop\n");
    check("exit", &a, "exit\n");
}

#[test]
fn output_files() {
    if !have_go() {
        return;
    }
    let a = vec![profile("go-bench.cpu.pb.gz")];
    check("redirect", &a, "top >top.txt\ntop > t2.txt 3\noutput=o.txt\ntop\noutput=\ntop 2\n");
    check("binary-away-from-tty", &a, "proto\ntopproto\ncallgrind\n");
}

#[test]
fn command_line_options() {
    if !have_go() {
        return;
    }
    let a = args(&["-nodecount=3", "-focus=runtime", "-cum"]);
    let mut with = a.clone();
    with.push(profile("go-bench.cpu.pb.gz"));
    check("flags", &with, "o\ntop\n");
    check("bad-sample-index", &args(&["-sample_index=bogus", &profile("go-bench.cpu.pb.gz")]), "o\ntop\n");
    let alloc = profile("go-bench.alloc.pb.gz");
    check("zero-total-hint", &args(&["-base", &alloc, &alloc]), "top\n");
}

/// rustprof's own behaviour (pprof accepts these and fails at the next report).
#[test]
fn a_bad_filter_is_refused_when_set() {
    let a = vec![profile("go-bench.cpu.pb.gz")];
    let tmp = std::env::temp_dir().join(format!("rustprof-shell-badre-{}", std::process::id()));
    let got =
        run(&[env!("CARGO_BIN_EXE_rustprof")], &a, "focus=(\ntagfocus=a=(\nfocus=Hash\no\ntop 1\n", &tmp);
    let _ = std::fs::remove_dir_all(&tmp);
    assert_eq!(
        got.stderr.matches("parsing focus regexp: error parsing regexp: missing closing ): `(`").count(),
        1,
        "{}",
        got.stderr
    );
    assert!(got.stderr.contains("tagfocus"), "{}", got.stderr);
    // The good value that followed is the one in force.
    assert!(got.stderr.contains("focus                     = Hash"), "{}", got.stderr);
    assert!(got.stderr.contains("tagfocus                  = \"\""), "{}", got.stderr);
}

#[test]
fn help_lists_flame() {
    let a = vec![profile("go-bench.cpu.pb.gz")];
    let tmp = std::env::temp_dir().join(format!("rustprof-shell-help-{}", std::process::id()));
    let got = run(&[env!("CARGO_BIN_EXE_rustprof")], &a, "help\n", &tmp);
    let _ = std::fs::remove_dir_all(&tmp);
    for line in EXTENSION_HELP {
        assert!(got.stderr.contains(line), "{line:?} missing from {}", got.stderr);
    }
}
