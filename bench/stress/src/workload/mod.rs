//! The workload child: issue 13's campaign, every profiler at once on 32
//! threads, and a heartbeat line on stdout each second that says how far each
//! part got (the supervisor reads it; see `crate::report::Beat`).

mod churn;
mod client;
mod cpu;
mod dl;
mod endpoints;
mod locks;
mod memory;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Threads of each kind (with the CPU profile loop, the heap rate switcher,
/// the heartbeat and the main thread: 32).
const SPINNERS: usize = 4;
const HEAP_WORKERS: usize = 8;
const LOCK_WORKERS: usize = 8;
const CHURNERS: usize = 2;
const DL_THREADS: usize = 2;
const HTTP_CLIENTS: usize = 4;

/// What every part of the workload counts; the heartbeat reports it.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) stop: AtomicBool,
    /// Every part has stopped (the heartbeat runs until then).
    finished: AtomicBool,
    /// Progress of each part (one per unit of work done).
    pub(crate) cpu: AtomicU64,
    pub(crate) heap: AtomicU64,
    pub(crate) locks: AtomicU64,
    pub(crate) churn: AtomicU64,
    pub(crate) dl: AtomicU64,
    pub(crate) http: AtomicU64,
    /// CPU profiles taken, and those that failed to start, build or decode.
    pub(crate) profiles: AtomicU64,
    pub(crate) profile_errors: AtomicU64,
    /// Samples per CPU-second of the last profile, and the lowest seen (×1000).
    pub(crate) sps_last_milli: AtomicU64,
    pub(crate) sps_min_milli: AtomicU64,
    /// HTTP responses that were complete and valid, and the others.
    pub(crate) ok: AtomicU64,
    pub(crate) failed: AtomicU64,
    /// Panics outside the workload's threads (rustprof's own, caught there).
    pub(crate) panics: AtomicU64,
    pub(crate) endpoints: endpoints::Seen,
    pub(crate) cpu_turn: cpu::Turn,
    /// Held by the client fetching `trace` (one trace at a time).
    pub(crate) trace_turn: std::sync::Mutex<()>,
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// Runs the workload for `d`, then stops it and returns the exit code.
pub(crate) fn run(d: Duration) -> i32 {
    if let Err(e) = dl::check() {
        eprintln!("rustprof-stress child: {e}");
        return 3;
    }
    let shared = Arc::new(Shared::default());
    shared.sps_min_milli.store(u64::MAX, Ordering::Relaxed);
    install_panic_hook(shared.clone());
    rustprof::heap::set_sample_rate(memory::RATES[0]);
    rustprof::sync::set_block_profile_rate(1);
    rustprof::sync::set_mutex_profile_fraction(1);

    let server = match rustprof::http::Options::new("127.0.0.1:0").max_profiles(HTTP_CLIENTS).serve() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rustprof-stress child: rustprof::http::serve on 127.0.0.1: {e}");
            return 1;
        }
    };
    let addr = server.local_addr();

    let mut threads = Vec::new();
    let mut spawn =
        |name: String, f: Box<dyn FnOnce() + Send>| match std::thread::Builder::new().name(name).spawn(f) {
            Ok(h) => threads.push(h),
            Err(e) => eprintln!("rustprof-stress child: spawning a thread: {e}"),
        };
    {
        let s = shared.clone();
        spawn("stress-cpu-loop".into(), Box::new(move || cpu::profile_loop(&s)));
    }
    {
        let s = shared.clone();
        spawn("stress-heap-rate".into(), Box::new(move || memory::rate_switcher(&s)));
    }
    for i in 0..SPINNERS {
        let s = shared.clone();
        spawn(format!("stress-spin-{i}"), Box::new(move || cpu::spin(&s, i)));
    }
    let handoff = memory::Handoff::new(HEAP_WORKERS);
    for i in 0..HEAP_WORKERS {
        let (s, h) = (shared.clone(), handoff.clone());
        spawn(format!("stress-heap-{i}"), Box::new(move || memory::worker(&s, &h, i)));
    }
    let lockset = locks::Locks::new();
    for i in 0..LOCK_WORKERS {
        let (s, l) = (shared.clone(), lockset.clone());
        spawn(format!("stress-locks-{i}"), Box::new(move || locks::worker(&s, &l, i)));
    }
    for i in 0..CHURNERS {
        let s = shared.clone();
        spawn(format!("stress-churn-{i}"), Box::new(move || churn::spawner(&s, i)));
    }
    for i in 0..DL_THREADS {
        let s = shared.clone();
        spawn(format!("stress-dl-{i}"), Box::new(move || dl::worker(&s, i)));
    }
    for i in 0..HTTP_CLIENTS {
        let s = shared.clone();
        spawn(format!("stress-http-{i}"), Box::new(move || endpoints::client(&s, addr, i)));
    }
    let heart = {
        let s = shared.clone();
        std::thread::Builder::new().name("stress-heartbeat".into()).spawn(move || heartbeat(&s))
    };

    let end = Instant::now() + d;
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(200));
    }
    shared.stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    server.stop();
    shared.finished.store(true, Ordering::Relaxed);
    match heart {
        Ok(h) => {
            let _ = h.join();
        }
        Err(e) => eprintln!("rustprof-stress child: spawning the heartbeat thread: {e}"),
    }
    beat(&shared, true);
    0
}

/// A workload thread's panic is a crash (abort, the supervisor reports
/// SIGABRT); a panic elsewhere (rustprof's own threads catch theirs) is counted.
fn install_panic_hook(shared: Arc<Shared>) {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        let name = std::thread::current().name().map(str::to_string).unwrap_or_default();
        if name.starts_with("stress-") || name == "main" {
            eprintln!("rustprof-stress child: panic on thread {name}: aborting");
            std::process::abort();
        }
        shared.panics.fetch_add(1, Ordering::Relaxed);
    }));
}

fn heartbeat(s: &Shared) {
    let mut next = Instant::now();
    while !s.finished.load(Ordering::Relaxed) {
        beat(s, false);
        next += Duration::from_secs(1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}

/// One heartbeat line (`crate::report::Beat` reads it).
fn beat(s: &Shared, last: bool) {
    let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let milli = |v: u64| if v == u64::MAX { 0.0 } else { v as f64 / 1000.0 };
    let line = format!(
        "hb p.cpu={} p.heap={} p.locks={} p.churn={} p.dl={} p.http={} profiles={} profile_errors={} \
         sps={:.1} sps_min={:.1} ok={} failed={} panics={} never_ok={} rate={} live={} own={} symbols={} heap_tables={} stopping={} done={}\n",
        r(&s.cpu),
        r(&s.heap),
        r(&s.locks),
        r(&s.churn),
        r(&s.dl),
        r(&s.http),
        r(&s.profiles),
        r(&s.profile_errors),
        milli(r(&s.sps_last_milli)),
        milli(r(&s.sps_min_milli)),
        r(&s.ok),
        r(&s.failed),
        r(&s.panics),
        s.endpoints.never_ok(),
        rustprof::heap::sample_rate(),
        rustprof::heap::stats().live_bytes().max(0),
        rustprof::heap::own_stats().live_bytes().max(0),
        rustprof::symbols::cache_stats().bytes,
        rustprof::heap::profiler_memory(),
        u8::from(s.stopping()),
        u8::from(last),
    );
    let mut out = std::io::stdout().lock();
    // The supervisor gone (a closed pipe) is not this process's failure.
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
}
