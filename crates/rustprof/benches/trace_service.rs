//! The execution tracer's cost on a tokio HTTP service under load (issue 15:
//! tracing on at most 5 % fewer requests/s than no tracing; a flight recorder
//! recording and never written at most 1 %).
//!
//! The service: an axum router on a multi-thread tokio runtime with 2
//! workers. Each request runs a `trace::region` around its synchronous part
//! (parsing: some CPU, then an update of shared state under a contended
//! `rustprof::sync::Mutex`), spawns a lookup task through
//! `rustprof::trace::tokio::spawn` (a track of its own: polls, wake-ups)
//! that awaits a timer and computes, awaits its answer (a channel), then
//! renders the response in a second region; one request in eight logs.
//!
//! The load comes from a child process (this binary, re-executed), so that
//! the process CPU measured is the service's alone: a current-thread tokio
//! client keeping `CONNECTIONS` keep-alive HTTP/1.1 connections busy, one
//! request in flight on each, for SECONDS per configuration. Configurations
//! (no trace; a trace running into `io::sink`, with context switches as
//! users get them; a flight recorder recording, never written) are
//! interleaved over ROUNDS rounds in the same run. Each round's ratio
//! compares a configuration with the no-trace run of the same round; the
//! medians are printed with the quartiles of those ratios.
//!
//! ```sh
//! cargo bench -p rustprof --bench trace_service -- [SECONDS [ROUNDS]]
//! ```
//!
//! On a shared machine requests/s follows what other processes leave of the
//! CPUs; CPU time per request (the service process's, collector included)
//! is the steady figure.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use rustprof::trace::{self, FlightRecorder, FlightRecorderConfig};

const CONNECTIONS: usize = 32;
const WORKERS: usize = 2;
const CLIENT_ARG: &str = "__trace_service_client";

#[inline(never)]
fn work(n: u64) -> u64 {
    let mut x = n | 1;
    for i in 0..n {
        x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(11) ^ i;
    }
    x
}

fn process_cpu() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec to the valid pointer given.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// The service's shared state: a small table every request updates.
struct App {
    table: rustprof::sync::Mutex<Vec<u64>>,
    served: AtomicU64,
}

async fn handle(State(app): State<Arc<App>>) -> String {
    let n = app.served.fetch_add(1, Ordering::Relaxed);
    let key = {
        let _r = trace::region("request");
        // Parsing, validation: some CPU.
        let h = work(black_box(4_000));
        let mut t = app.table.lock().unwrap();
        let slot = (h as usize) % t.len();
        t[slot] = t[slot].wrapping_add(work(black_box(300)));
        if n % 8 == 0 {
            trace::log("http", "an eighth of the requests log");
        }
        t[slot]
    };
    // A lookup elsewhere: a task of its own awaiting a timer, then computing.
    let lookup = trace::tokio::spawn("lookup", async move {
        tokio::time::sleep(Duration::from_micros(200)).await;
        work(black_box(2_000)) ^ key
    });
    let v = lookup.await.unwrap();
    let _r = trace::region("render");
    format!("{v:016x} {}\n", work(black_box(1_000)) & 0xff)
}

/// One configuration's run: requests/s (the client's count over its
/// elapsed time) and the service's CPU seconds per request.
struct Run {
    rps: f64,
    cpu_per_req: f64,
}

struct Client {
    stdin: std::process::ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
    child: std::process::Child,
}

impl Client {
    fn spawn(addr: std::net::SocketAddr) -> Client {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([CLIENT_ARG, &addr.to_string(), &CONNECTIONS.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the client did not connect: {line:?}");
        Client { stdin, stdout, child }
    }

    /// Loads the service for `d`; the service's CPU is measured over that
    /// window only (the client is connected before and idle after).
    fn run(&mut self, d: Duration) -> Run {
        let c0 = process_cpu();
        writeln!(self.stdin, "run {}", d.as_millis()).unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let cpu = process_cpu() - c0;
        let mut it = line.split_whitespace().map(|x| x.parse::<u64>().unwrap());
        let (requests, elapsed_ns) = (it.next().unwrap(), it.next().unwrap());
        assert!(requests > 0, "no request completed");
        Run { rps: requests as f64 / (elapsed_ns as f64 * 1e-9), cpu_per_req: cpu / requests as f64 }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}

/// The child: `CONNECTIONS` keep-alive connections, each sending a request
/// as soon as the previous answer is in, during each `run MS` asked on stdin.
fn client_main(addr: &str, connections: usize) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut conns = Vec::new();
        for _ in 0..connections {
            let s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.set_nodelay(true).unwrap();
            conns.push(s);
        }
        println!("ready");
        let stdin = std::io::stdin();
        let mut line = String::new();
        loop {
            line.clear();
            if stdin.lock().read_line(&mut line).unwrap() == 0 || line.trim() == "quit" {
                return;
            }
            let ms: u64 = line.trim().strip_prefix("run ").unwrap().parse().unwrap();
            let t0 = Instant::now();
            let deadline = t0 + Duration::from_millis(ms);
            let tasks: Vec<_> = conns
                .drain(..)
                .map(|mut s| {
                    tokio::spawn(async move {
                        let mut n = 0u64;
                        let mut buf = Vec::with_capacity(4096);
                        while Instant::now() < deadline {
                            request(&mut s, &mut buf).await;
                            n += 1;
                        }
                        (s, n)
                    })
                })
                .collect();
            let mut total = 0;
            for t in tasks {
                let (s, n) = t.await.unwrap();
                total += n;
                conns.push(s);
            }
            println!("{total} {}", t0.elapsed().as_nanos());
        }
    });
}

/// One request and its whole response (headers, then `content-length` bytes).
async fn request(s: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) {
    let mut req: &[u8] = b"GET / HTTP/1.1\r\nhost: bench\r\n\r\n";
    while !req.is_empty() {
        s.writable().await.unwrap();
        match s.try_write(req) {
            Ok(k) => req = &req[k..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("writing a request: {e}"),
        }
    }
    buf.clear();
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).unwrap().to_ascii_lowercase();
            assert!(head.starts_with("http/1.1 200"), "unexpected response: {head}");
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .expect("a content-length")
                .trim()
                .parse()
                .unwrap();
            while buf.len() < end + 4 + len {
                let k = read(s, &mut chunk).await;
                buf.extend_from_slice(&chunk[..k]);
            }
            return;
        }
        let k = read(s, &mut chunk).await;
        buf.extend_from_slice(&chunk[..k]);
    }
}

/// Reads what the service sent (tokio's `io-util` is not among the
/// dev-dependency's features: readiness, then a non-blocking read).
async fn read(s: &mut tokio::net::TcpStream, chunk: &mut [u8]) -> usize {
    loop {
        tokio::time::timeout(Duration::from_secs(30), s.readable())
            .await
            .expect("the service did not answer in 30 s")
            .unwrap();
        match s.try_read(chunk) {
            Ok(0) => panic!("the service closed the connection"),
            Ok(k) => return k,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("reading a response: {e}"),
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn spread(v: &[f64]) -> String {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    format!("[{:.3}..{:.3}]", v[v.len() / 4], v[v.len() * 3 / 4])
}

#[derive(Clone, Default)]
struct Shared(Arc<std::sync::Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(CLIENT_ARG) {
        client_main(&args[1], args[2].parse().unwrap());
        return;
    }
    // `cargo test --benches` runs this once as a smoke test: keep it short.
    let quick = args.iter().any(|a| a == "--test");
    let mut nums = args.iter().filter_map(|a| a.parse::<f64>().ok());
    let seconds = nums.next().unwrap_or(if quick { 0.3 } else { 3.0 });
    let rounds = nums.next().map_or(if quick { 1 } else { 9 }, |r| r as usize).max(1);
    let window = Duration::from_secs_f64(seconds);

    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(WORKERS).enable_all().build().unwrap();
    let app = Arc::new(App { table: rustprof::sync::Mutex::new(vec![0; 64]), served: AtomicU64::new(0) });
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new().route("/", get(handle)).with_state(app.clone());
    rt.spawn(async move { axum::serve(listener, router).await.unwrap() });
    let mut client = Client::spawn(addr);

    println!(
        "service: axum, {WORKERS} tokio workers; client: a child process, {CONNECTIONS} keep-alive connections; \
         {rounds} rounds x 3 configurations x {seconds} s"
    );
    // Warm up (connections, allocator, caches).
    client.run(window.min(Duration::from_millis(500)));

    let (mut off, mut on, mut fr) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        // The order rotates, so that no configuration always follows another.
        for k in 0..3 {
            match (round + k) % 3 {
                0 => off.push(client.run(window)),
                1 => {
                    trace::start(std::io::sink()).unwrap();
                    on.push(client.run(window));
                    trace::stop().unwrap();
                }
                _ => {
                    let f = FlightRecorder::new(FlightRecorderConfig::default());
                    f.start().unwrap();
                    fr.push(client.run(window));
                    f.stop();
                }
            }
        }
    }

    let ratios = |runs: &[Run], f: fn(&Run) -> f64| -> Vec<f64> {
        runs.iter().zip(&off).map(|(r, o)| f(r) / f(o)).collect()
    };
    let med = |runs: &[Run], f: fn(&Run) -> f64| median(&mut runs.iter().map(f).collect::<Vec<_>>());
    let rps = |r: &Run| r.rps;
    let cpu = |r: &Run| r.cpu_per_req;
    println!(
        "  no trace          {:>8.0} requests/s, {:>6.1} us CPU/request",
        med(&off, rps),
        med(&off, cpu) * 1e6
    );
    for (name, runs, target) in [("trace running", &on, "0.95"), ("flight recorder", &fr, "0.99")] {
        let rr = ratios(runs, rps);
        let cr = ratios(runs, cpu);
        println!(
            "  {name:<16}  {:>8.0} requests/s, {:>6.1} us CPU/request; per round vs no trace: \
             requests/s {:.3}x {} (target >= {target}x), CPU/request {:.3}x {}",
            med(runs, rps),
            med(runs, cpu) * 1e6,
            median(&mut rr.clone()),
            spread(&rr),
            median(&mut cr.clone()),
            spread(&cr),
        );
    }

    // What a trace of this service holds: one more traced run, decoded.
    let out = Shared::default();
    trace::start(out.clone()).unwrap();
    let served0 = app.served.load(Ordering::Relaxed);
    let t0 = Instant::now();
    client.run(window.min(Duration::from_secs(1)));
    let d = t0.elapsed().as_secs_f64();
    trace::stop().unwrap();
    let served = app.served.load(Ordering::Relaxed) - served0;
    let bytes = out.0.lock().unwrap().clone();
    let t = rustprof_trace::decode(&bytes).unwrap();
    let sched: std::collections::HashSet<u64> = t
        .tracks
        .iter()
        .filter(|tr| tr.name == rustprof_trace::vocab::SCHED_TRACK)
        .map(|tr| tr.uuid)
        .collect();
    let switches = t.events.iter().filter(|e| sched.contains(&e.track)).count();
    println!(
        "\na traced run: {served} requests in {d:.2} s, {} events ({:.1} per request, {:.0} events/s, \
         of which {:.0}/s CPU-state slices' begins and ends), {:.1} bytes/event, {} dropped",
        t.events.len(),
        t.events.len() as f64 / served.max(1) as f64,
        t.events.len() as f64 / d,
        switches as f64 / d,
        bytes.len() as f64 / t.events.len().max(1) as f64,
        t.dropped_events(),
    );
    // Lock waits' stacks are symbolized by the collector: how often a
    // binary was opened for that over the whole run (every session).
    let stats = rustprof::symbols::cache_stats();
    println!(
        "symbol cache: {} binaries opened in the run, {} addresses looked up",
        stats.opens, stats.lookups
    );
    drop(client);
}
