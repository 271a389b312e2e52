//! The legacy formats pprof reads (issue 17.3), on files real tools wrote (Go
//! 1.27's `debug=1` profiles, gperftools' CPU, heap, heap_v2 and growth profiles)
//! and on crafted ones for formats no tool here writes (Java, threadz, C++
//! contentionz, big-endian CPU profiles): rustprof's `-raw`, `-top` and
//! `-traces` equal, byte for byte, what Go 1.27.3's `go tool pprof` printed
//! (tests/data/legacy/expected, made by tests/data/legacy/regen.sh) and what the
//! `go` on PATH prints now. Files pprof rejects get one line naming the file and
//! the format they are not, and exit 1.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/legacy").canonicalize().unwrap()
}

/// (stdout, stderr, exit code) of a program run in the data directory.
fn run(prog: &str, pre: &[&str], args: &[&str]) -> (Vec<u8>, Vec<u8>, i32) {
    let out = Command::new(prog)
        .args(pre)
        .args(args)
        .current_dir(data())
        .env("TZ", "UTC")
        .env("RUSTPROF_COMPAT", common::go_compat())
        .env_remove("PPROF_BINARY_PATH")
        .env("PPROF_TMPDIR", std::env::temp_dir())
        .output()
        .unwrap();
    (out.stdout, out.stderr, out.status.code().unwrap_or(-1))
}

fn ours(args: &[&str]) -> (Vec<u8>, Vec<u8>, i32) {
    run(env!("CARGO_BIN_EXE_rustprof"), &[], args)
}

/// The profiles: every file of go/, gperftools/ and crafted/ but sources.
fn profiles() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["go", "gperftools", "crafted"] {
        for e in std::fs::read_dir(data().join(dir)).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            let source = [".py", ".c", ".cc", "main.go.txt"].iter().any(|s| name.ends_with(s));
            if !source {
                out.push(format!("{dir}/{name}"));
            }
        }
    }
    out.sort();
    out
}

const COMMANDS: &[&str] = &["raw", "top", "traces"];

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn every_legacy_file_gives_pprofs_output() {
    let files = profiles();
    assert!(files.len() >= 19, "{files:?}");
    let mut checked = 0;
    for f in &files {
        for c in COMMANDS {
            let expected = data().join("expected").join(format!("{}.{c}", f.replace('/', "_")));
            let want = std::fs::read(&expected)
                .unwrap_or_else(|e| panic!("{}: {e} (run tests/data/legacy/regen.sh)", expected.display()));
            let want_err = std::fs::read(expected.with_extension(format!("{c}.err"))).unwrap();
            let (out, mut err, code) = ours(&["-symbolize=none", &format!("-{c}"), f]);
            if code != 0 {
                err.extend_from_slice(format!("exit {code}\n").as_bytes());
            }
            assert!(out == want, "{f} -{c}:\n--- go\n{}--- rustprof\n{}", show(&want), show(&out));
            assert!(
                err == want_err,
                "{f} -{c} stderr:\n--- go\n{}--- rustprof\n{}",
                show(&want_err),
                show(&err)
            );
            checked += 1;
        }
    }
    assert_eq!(checked, files.len() * COMMANDS.len());
}

#[test]
fn live_go_tool_pprof_agrees() {
    if !common::require("go", &["version"], "golang (Go 1.27.3: .ci/run installs it)") {
        return;
    }
    for f in profiles() {
        for c in COMMANDS {
            let args = ["-symbolize=none", &format!("-{c}"), &f];
            let g = run("go", &["tool", "pprof"], &args);
            let o = ours(&args);
            assert!(o.0 == g.0, "{f} -{c}:\n--- go\n{}--- rustprof\n{}", show(&g.0), show(&o.0));
            assert_eq!(show(&o.1), show(&g.1), "{f} -{c}: stderr");
        }
    }
    // Go's texts name no binary: what pprof says about symbolizing them too.
    for f in ["go/heap.txt", "go/block.txt", "go/goroutine.txt.gz"] {
        let g = run("go", &["tool", "pprof"], &["-top", f]);
        let o = ours(&["-top", f]);
        assert_eq!((show(&o.0), show(&o.1)), (show(&g.0), show(&g.1)), "{f} -top");
    }
}

/// Files that are no profile pprof reads, each with what rustprof must say.
const REJECTED: &[(&str, &str)] = &[
    (
        "bad-count.txt",
        "parsing profile: malformed profile format (it starts like a Go goroutine profile in text",
    ),
    (
        "bad-heap.txt",
        "parsing profile: inuse count was 0 but inuse bytes was 16 (it starts like a legacy text heap",
    ),
    (
        "cut-cpu.prof",
        "unrecognized profile format (not profile.proto, a Perfetto trace or a legacy profile pprof reads: it starts like a gperftools binary CPU profile",
    ),
    (
        "goroutine-debug2.txt",
        "not profile.proto, a Perfetto trace or a legacy profile pprof reads: it looks like a Go goroutine dump (debug=2)",
    ),
    (
        "notes.txt",
        "not profile.proto, a Perfetto trace or a legacy profile pprof reads: it looks like text, starting \"hello, world\"",
    ),
    ("trace.json", "not profile.proto, a Perfetto trace or a legacy profile pprof reads: it looks like JSON"),
];

#[test]
fn rejected_files_get_one_line_and_exit_1() {
    for (f, says) in REJECTED {
        let path = format!("rejected/{f}");
        let (out, err, code) = ours(&["-top", &path]);
        let err = show(&err);
        assert_eq!((out.len(), code), (0, 1), "{f}: {err}");
        let first = err.lines().next().unwrap();
        assert!(first.starts_with(&format!("{path}: parsing profile: ")), "{f}: {err}");
        assert!(first.contains(says), "{f}: {first}\n  wanted: {says}");
        // pprof's closing line, as pprof prints it.
        assert_eq!(err.lines().skip(1).collect::<Vec<_>>(), ["failed to fetch any source profiles"], "{f}");
    }
    // Random bytes (protobuf-looking: no guess what they are).
    let dir = common::temp_dir("legacy-noise");
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let noise: Vec<u8> = (0..70_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let noise_path = dir.join("noise.bin");
    std::fs::write(&noise_path, &noise).unwrap();
    let p = noise_path.to_string_lossy().into_owned();
    let (_, err, code) = ours(&["-top", &p]);
    let err = show(&err);
    assert_eq!(code, 1, "{err}");
    assert!(err.starts_with(&format!("{p}: parsing profile: ")), "{err}");
    assert!(err.lines().next().unwrap().contains("not a legacy profile pprof reads"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rejections_lead_with_pprofs_words() {
    if !common::require("go", &["version"], "golang (Go 1.27.3: .ci/run installs it)") {
        return;
    }
    for (f, _) in REJECTED {
        let path = format!("rejected/{f}");
        let g = run("go", &["tool", "pprof"], &["-top", &path]);
        let o = ours(&["-top", &path]);
        assert_eq!(o.0, g.0, "{f}: stdout");
        assert!(g.2 != 0 && o.2 == 1, "{f}: exit {} (go) {} (rustprof)", g.2, o.2);
        let (gs, os) = (show(&g.1), show(&o.1));
        let (gl, ol): (Vec<&str>, Vec<&str>) = (gs.lines().collect(), os.lines().collect());
        assert_eq!(gl.len(), ol.len(), "{f}:\n--- go\n{gs}--- ours\n{os}");
        for (g, o) in gl.iter().zip(&ol) {
            assert!(
                o.starts_with(g),
                "{f}: ours does not lead with pprof's words:\n  go:   {g}\n  ours: {o}"
            );
        }
    }
}

/// The fuzz target's deterministic sibling (fuzz/fuzz_targets/legacy.rs): every
/// prefix length in steps, and byte changes at every position in steps, of each
/// legacy file parse to a profile that validates, to "not legacy", or to a
/// one-line error — never a panic.
#[test]
fn legacy_mutations_never_panic() {
    let mut files = profiles();
    files.extend(REJECTED.iter().map(|(f, _)| format!("rejected/{f}")));
    let mut runs = 0;
    let mut check = |data: &[u8]| {
        runs += 1;
        match rustprof_cli::legacy::parse(data) {
            Ok(Some(p)) => rustprof_profile::validate(&p).unwrap(),
            Ok(None) => {}
            Err(e) => assert!(!e.contains('\n'), "{e:?}"),
        }
    };
    for f in &files {
        let data = std::fs::read(data().join(f)).unwrap();
        let step = (data.len() / 300).max(1);
        for n in (0..data.len()).step_by(step) {
            check(&data[..n]);
        }
        for i in (0..data.len()).step_by(step) {
            for b in [b'\n', b' ', b'0', b'x', b'-', b'=', 0xff, data[i].wrapping_add(1)] {
                let mut m = data.clone();
                m[i] = b;
                check(&m);
            }
        }
    }
    assert!(runs > 20_000, "{runs}");
}

/// A `?debug=1` text fetched over HTTP is read as the same file is: one
/// request to a one-shot server, the report equal to the file's.
#[test]
fn legacy_text_over_http() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let body = std::fs::read(data().join("go/heap.txt")).unwrap();
    let server = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 1024];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = c.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            req.extend_from_slice(&buf[..n]);
        }
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        c.write_all(head.as_bytes()).unwrap();
        c.write_all(&body).unwrap();
        String::from_utf8_lossy(&req).into_owned()
    });
    let tmp = common::temp_dir("legacy-http");
    let url = format!("http://127.0.0.1:{port}/debug/pprof/heap?debug=1");
    let out = Command::new(env!("CARGO_BIN_EXE_rustprof"))
        .args(["-symbolize=none", "-raw", &url])
        .env("PPROF_TMPDIR", &tmp)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    let req = server.join().unwrap();
    assert!(req.starts_with("GET /debug/pprof/heap?debug=1 "), "{req}");
    assert!(out.status.success(), "{}", show(&out.stderr));
    let want = std::fs::read(data().join("expected/go_heap.txt.raw")).unwrap();
    assert!(out.stdout == want, "--- file\n{}--- over http\n{}", show(&want), show(&out.stdout));
    let _ = std::fs::remove_dir_all(&tmp);
}
