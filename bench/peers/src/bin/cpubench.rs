//! CPU profiler benchmark: 2 threads × a fixed amount of integer mixing (the
//! peer-bench workload), under no profiler, rustprof, or pprof-rs.
//!
//! `cpubench <none|rustprof|pprof> HZ ROUNDS` prints one line of `key=value`:
//! wall and CPU seconds of the profiled window, samples recorded, samples
//! expected (window CPU × Hz), the profile's CPU total, RSS before and after
//! starting the profiler, and each thread's share of the samples.

use std::hint::black_box;
use std::time::Instant;

#[inline(never)]
fn mix_block(seed: u64) -> u64 {
    let mut x = seed | 1;
    for i in 0..16_384u64 {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53) ^ i;
    }
    x
}

#[inline(never)]
fn worker_loop(rounds: u64, seed: u64) -> u64 {
    let mut acc = seed;
    for r in 0..rounds {
        acc ^= mix_block(black_box(acc ^ r));
    }
    acc
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.trim().trim_end_matches(" kB").to_string())))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn cpu_s() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

/// The floor: perf task-clock events signalling SIGTRAP to each worker, with a
/// handler that only counts (what the kernel and the VM charge per signal).
mod floor {
    use std::sync::atomic::{AtomicI64, Ordering};
    pub static SIGNALS: AtomicI64 = AtomicI64::new(0);
    extern "C" fn on_trap(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
        SIGNALS.fetch_add(1, Ordering::Relaxed);
    }
    pub fn install() {
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_trap as *const () as usize;
            act.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigaction(libc::SIGTRAP, &act, std::ptr::null_mut());
        }
    }
    /// Opens a sigtrap task-clock event on the calling thread.
    pub fn attach(hz: u32) {
        let mut attr = [0u64; 16]; // perf_event_attr, 128 bytes
        attr[0] = 1 | (128u64 << 32); // type SOFTWARE, size
        attr[1] = 1; // config TASK_CLOCK
        attr[2] = 1_000_000_000 / hz as u64; // sample_period
        attr[5] = (1 << 36) | (1 << 37) | (1 << 6); // remove_on_exec, sigtrap, exclude_hv
        attr[6] = 1; // wakeup_events
        let fd = unsafe { libc::syscall(libc::SYS_perf_event_open, attr.as_ptr(), 0, -1, -1, 8) };
        assert!(fd >= 0, "perf_event_open: {}", std::io::Error::last_os_error());
    }
}

enum Guard {
    None,
    Rustprof(rustprof::cpu::CpuProfiler),
    #[cfg(feature = "pprof")]
    Pprof(pprof::ProfilerGuard<'static>),
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let kind = args.get(1).map(String::as_str).unwrap_or("none");
    let hz: u32 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100);
    let rounds: u64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(38_000);
    let rss0 = rss_kb();
    let t_start = Instant::now();
    let guard = match kind {
        "rustprof" => Guard::Rustprof(
            rustprof::cpu::start(rustprof::cpu::CpuOptions {
                thread_labels: true,
                mechanism: match std::env::var("MECH").as_deref() {
                    Ok("timer") => rustprof::cpu::Mechanism::ThreadTimer,
                    Ok("itimer") => rustprof::cpu::Mechanism::ProcessTimer,
                    _ => rustprof::cpu::Mechanism::Auto,
                },
                ..rustprof::cpu::CpuOptions::with_frequency(hz)
            })
                .expect("start"),
        ),
        #[cfg(feature = "pprof")]
        "pprof" => Guard::Pprof(
            pprof::ProfilerGuardBuilder::default()
                .frequency(hz as i32)
                .blocklist(&["libc", "libgcc", "pthread", "vdso"])
                .build()
                .expect("pprof"),
        ),
        "floor" => {
            floor::install();
            Guard::None
        }
        _ => Guard::None,
    };
    let floor_hz = if kind == "floor" { hz } else { 0 };
    let startup = t_start.elapsed().as_secs_f64();
    let rss1 = rss_kb();
    let c0 = cpu_s();
    let w0 = Instant::now();
    let hs: Vec<_> = (0..2u64)
        .map(|i| std::thread::Builder::new().name(format!("worker-{i}")).spawn(move || {
            if floor_hz > 0 {
                floor::attach(floor_hz);
            }
            worker_loop(rounds, i)
        }).expect("spawn"))
        .collect();
    let mut acc = 0;
    for h in hs {
        acc ^= h.join().expect("join");
    }
    let wall = w0.elapsed().as_secs_f64();
    let cpu = cpu_s() - c0;
    let rss2 = rss_kb();
    let (samples, cpu_ns_reported, w0_samples, w1_samples) = match guard {
        Guard::None => {
            let n = floor::SIGNALS.load(std::sync::atomic::Ordering::Relaxed);
            (n, n * 1_000_000_000 / hz as i64, 0, 0)
        }
        Guard::Rustprof(g) => {
            let p = g.stop().expect("stop");
            let mut s = 0;
            let mut c = 0;
            let (mut a, mut b) = (0, 0);
            for smp in p.samples.iter() {
                s += smp.values[0];
                c += smp.values[1];
                for l in smp.labels {
                    if p.str(l.key) == "thread" {
                        match p.str(l.str) {
                            "worker-0" => a += smp.values[0],
                            "worker-1" => b += smp.values[0],
                            _ => {}
                        }
                    }
                }
            }
            (s, c, a, b)
        }
        #[cfg(feature = "pprof")]
        Guard::Pprof(g) => {
            let r = g.report().build().expect("report");
            let (mut s, mut a, mut b) = (0i64, 0i64, 0i64);
            for (frames, count) in r.data.iter() {
                s += *count as i64;
                match frames.thread_name.as_str() {
                    "worker-0" => a += *count as i64,
                    "worker-1" => b += *count as i64,
                    _ => {}
                }
            }
            (s, s * 1_000_000_000 / hz as i64, a, b)
        }
    };
    println!(
        "kind={kind} hz={hz} wall={wall:.3} cpu={cpu:.3} samples={samples} expected={:.0} cpu_reported_s={:.3} rss_before_kb={rss0} rss_started_kb={rss1} rss_end_kb={rss2} startup_s={startup:.4} w0={w0_samples} w1={w1_samples} acc={acc}",
        cpu * hz as f64,
        cpu_ns_reported as f64 / 1e9
    );
}
