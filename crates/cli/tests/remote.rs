//! The `rustprof` binary fetching profiles over HTTP (real sockets on
//! 127.0.0.1): from rustprof's own `/debug/pprof` server, from a real Go
//! program running net/http/pprof (built by the test; Go installed by .ci/run),
//! and from a hand-written server that needs `-symbolize=remote`.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustprof_profile::{MappingInfo, ProfileBuilder};

static LOCK: Mutex<()> = Mutex::new(());

#[inline(never)]
fn remote_hot_function(n: u64) -> u64 {
    let mut x = n | 1;
    for i in 0..n {
        x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(23) ^ i;
    }
    x
}

/// Burns CPU in [`remote_hot_function`] on a thread until dropped.
struct Busy(&'static AtomicBool, Option<std::thread::JoinHandle<()>>);

fn busy() -> Busy {
    static STOP: AtomicBool = AtomicBool::new(false);
    STOP.store(false, Ordering::SeqCst);
    let t = std::thread::spawn(|| {
        let mut r = 0;
        while !STOP.load(Ordering::Relaxed) {
            r ^= remote_hot_function(black_box(100_000));
        }
        black_box(r);
    });
    Busy(&STOP, Some(t))
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
        if let Some(t) = self.1.take() {
            let _ = t.join();
        }
    }
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rustprof-remote-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rustprof(args: &[&str], tmp: &PathBuf) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rustprof"))
        .args(args)
        .env("PPROF_TMPDIR", tmp)
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn fetches_cpu_profile_from_rustprof_server_and_saves_it() {
    let _l = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let server = rustprof::http::serve("127.0.0.1:0").unwrap();
    let _b = busy();
    let tmp = tmpdir("cpu");
    let url = format!("http://{}/debug/pprof/profile", server.local_addr());
    let start = Instant::now();
    let out = rustprof(&["-top", "-seconds", "2", &url], &tmp);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(start.elapsed() >= Duration::from_secs(2), "the server sampled for -seconds");
    assert!(stdout.contains("remote::remote_hot_function"), "{stdout}");
    assert!(stderr.contains(&format!("Fetching profile over HTTP from {url}?seconds=2")), "{stderr}");
    assert!(stderr.contains("Please wait... (2s)"), "{stderr}");
    assert!(!stderr.contains('\r'), "no progress bar without a terminal: {stderr:?}");
    // Saved as pprof names it: pprof.<binary>.<sample types>.NNN.pb.gz.
    let saved = stderr
        .lines()
        .find_map(|l| l.strip_prefix("Saved profile in "))
        .unwrap_or_else(|| panic!("{stderr}"));
    let exe = std::env::current_exe().unwrap();
    let base = exe.file_name().unwrap().to_str().unwrap();
    assert_eq!(saved, tmp.join(format!("pprof.{base}.samples.cpu.001.pb.gz")).to_str().unwrap());
    let p = rustprof_profile::decode(&std::fs::read(saved).unwrap()).unwrap();
    assert!(p.samples.len() > 10);
    // The saved file reads back to the same report.
    let again = rustprof(&["-top", saved], &tmp);
    assert!(text(&again.stdout).contains("remote::remote_hot_function"));

    // A bare host:port means its /debug/pprof/profile; the next save is 002.
    let hostport = server.local_addr().to_string();
    let out = rustprof(&["-top", "-seconds", "1", &hostport], &tmp);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "Fetching profile over HTTP from http://{hostport}/debug/pprof/profile?seconds=1"
        )),
        "{stderr}"
    );
    assert!(stderr.contains(".samples.cpu.002.pb.gz"), "{stderr}");
    assert!(text(&out.stdout).contains("remote::remote_hot_function"));
}

#[test]
fn several_sources_partial_failure_errors_and_the_shell() {
    let _l = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let server = rustprof::http::serve("127.0.0.1:0").unwrap();
    let _b = busy();
    let tmp = tmpdir("multi");
    let good = format!("http://{}/debug/pprof/profile?seconds=1", server.local_addr());
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/debug/pprof/profile", l.local_addr().unwrap())
    };
    let missing = format!("http://{}/debug/pprof/nothing", server.local_addr());
    let out = rustprof(&["-top", &good, &dead, &missing], &tmp);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("{dead}: Get \"{dead}\": dial tcp"))
            && stderr.contains("connection refused"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{missing}: server response: 404 Not Found - Unknown profile")),
        "{stderr}"
    );
    assert!(stderr.contains("Fetched 1 source profiles out of 3"), "{stderr}");
    assert!(text(&out.stdout).contains("remote::remote_hot_function"));

    // Only failures: a clear error and a non-zero exit.
    let out = rustprof(&["-top", &dead], &tmp);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("failed to fetch any source profiles"), "{}", text(&out.stderr));

    // The server's own error text comes through (Go's 400 beyond its limit).
    let bad = format!("http://{}/debug/pprof/profile?seconds=100000", server.local_addr());
    let out = rustprof(&["-top", &bad], &tmp);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("server response: 400 Bad Request - "), "{}", text(&out.stderr));

    // -timeout shorter than the sampling: Go's deadline message, quickly.
    let start = Instant::now();
    let slow = format!("http://{}/debug/pprof/profile?seconds=5", server.local_addr());
    let out = rustprof(&["-top", "-timeout", "1", &slow], &tmp);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("Client.Timeout exceeded"), "{}", text(&out.stderr));
    assert!(start.elapsed() < Duration::from_secs(4));
    std::thread::sleep(Duration::from_secs(5)); // let the server's CPU profile end

    // The interactive shell on a fetched profile.
    let mut child = Command::new(env!("CARGO_BIN_EXE_rustprof"))
        .arg(&good)
        .env("PPROF_TMPDIR", &tmp)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"top 5\nquit\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("remote::remote_hot_function"), "{}", text(&out.stdout));
}

/// A server with an unsymbolized CPU profile (addresses only) and a symbol
/// endpoint that knows their names: the names appear only through
/// `-symbolize=remote`.
#[test]
fn remote_symbolization_through_the_symbol_endpoint() {
    let mut b = ProfileBuilder::new(&[("samples", "count"), ("cpu", "nanoseconds")]);
    b.period("cpu", "nanoseconds", 10_000_000);
    let m = b.add_mapping(&MappingInfo {
        memory_start: 0x400000,
        memory_limit: 0x500000,
        filename: "",
        ..Default::default()
    });
    let hot = b.add_location(Some(m), 0x401234, &[], false);
    let cold = b.add_location(Some(m), 0x402000, &[], false);
    let main = b.add_location(Some(m), 0x403000, &[], false);
    b.add_sample(&[hot, main], &[90, 900_000_000], &[]);
    b.add_sample(&[cold, main], &[10, 100_000_000], &[]);
    let body = rustprof_profile::encode(&b.build());

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let posted = std::sync::Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = posted.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut first = String::new();
            r.read_line(&mut first).unwrap();
            let mut len = 0;
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut req = vec![0; len];
            r.read_exact(&mut req).unwrap();
            let reply: Vec<u8> = if first.starts_with("GET /debug/pprof/profile") {
                let mut v = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
                v.extend_from_slice(&body);
                v
            } else if first.starts_with("POST /debug/pprof/symbol") {
                let req = String::from_utf8(req).unwrap();
                seen.lock().unwrap().push(req.clone());
                let mut out = String::from("num_symbols: 1\n");
                for a in req.split('+') {
                    let name = match u64::from_str_radix(a.trim_start_matches("0x"), 16).unwrap() {
                        0x401234 => "app::hot_path",
                        0x402000 => "app::cold_path",
                        0x403000 => "app::main",
                        _ => continue,
                    };
                    out.push_str(&format!("{a} {name}\n"));
                }
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{out}", out.len()).into_bytes()
            } else {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec()
            };
            s.write_all(&reply).unwrap();
        }
    });
    let tmp = tmpdir("symz");
    let url = format!("http://{addr}/debug/pprof/profile");
    let out = rustprof(&["-top", "-symbolize=remote", &url], &tmp);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let hot = stdout.lines().find(|l| l.ends_with("app::hot_path")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(hot.contains("90.00%"), "{hot}");
    assert!(stdout.contains("app::cold_path") && stdout.contains("app::main"), "{stdout}");
    let posted = posted.lock().unwrap().clone();
    assert_eq!(posted.len(), 1, "{posted:?}");
    let mut addrs: Vec<&str> = posted[0].split('+').collect();
    addrs.sort();
    assert_eq!(addrs, ["0x401234", "0x402000", "0x403000"]);

    // Without remote symbolization there are no names (go tool pprof prints the same).
    let out = rustprof(&["-top", "-symbolize=none", &url], &tmp);
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("app::") && stdout.contains("<unknown>"), "{stdout}");
    let out = rustprof(&["-top", "-addresses", "-symbolize=none", &url], &tmp);
    assert!(text(&out.stdout).contains("0000000000401234"), "{}", text(&out.stdout));
}

/// `rustprof -top -seconds 2` against a real Go program serving net/http/pprof.
#[test]
fn fetches_from_a_go_net_http_pprof_server() {
    let dir = tmpdir("go");
    let src = dir.join("main.go");
    std::fs::write(
        &src,
        r#"package main

import (
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
)

var sink []byte

//go:noinline
func spinHot(n int) int {
	x := n | 1
	for i := 0; i < n; i++ {
		x = x*31 + i ^ (x >> 7)
	}
	return x
}

//go:noinline
func keepMemory() {
	for i := 0; i < 64; i++ {
		sink = append(sink, make([]byte, 1<<16)...)
	}
}

func main() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	keepMemory()
	go func() {
		r := 0
		for {
			r ^= spinHot(1000000)
		}
	}()
	fmt.Println(l.Addr().String())
	http.Serve(l, nil)
}
"#,
    )
    .unwrap();
    let bin = dir.join("gosrv");
    let build = match Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(&src)
        .current_dir(&dir)
        .env("GO111MODULE", "off")
        .env("GOFLAGS", "")
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            assert!(std::env::var_os("CI").is_none(), "go is required in CI: {e}");
            eprintln!("skipping: go not found: {e}");
            return;
        }
    };
    assert!(build.status.success(), "go build: {}", text(&build.stderr));
    let mut child = Command::new(&bin).stdout(Stdio::piped()).spawn().unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let _k = Kill(child);
    let hostport = line.trim().to_string();
    let tmp = tmpdir("go-saved");

    let out = rustprof(&["-top", "-seconds", "2", &format!("http://{hostport}/debug/pprof/profile")], &tmp);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("main.spinHot"), "{stdout}");
    assert!(
        stderr.contains("Saved profile in ") && stderr.contains("pprof.gosrv.samples.cpu.001.pb.gz"),
        "{stderr}"
    );

    let out = rustprof(
        &["-top", "-sample_index=inuse_space", &format!("http://{hostport}/debug/pprof/heap")],
        &tmp,
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("main.keepMemory"), "{stdout}");

    // Go's own error text comes through.
    let out = rustprof(&["-top", &format!("http://{hostport}/debug/pprof/nothing")], &tmp);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("server response: 404 Not Found - Unknown profile"),
        "{}",
        text(&out.stderr)
    );
}
