//! Stress, bounded to about 25 seconds: 16 threads allocating, locking, spawning
//! and ending threads, panicking and catching it, loading a library with
//! `dlopen` and calling into it, all profiled at 1 kHz. No hang (a watchdog
//! aborts after two minutes), no crash, samples recorded, the profile valid.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustprof::cpu::{self, CpuOptions};

fn dlopen_cos() -> Option<extern "C" fn(f64) -> f64> {
    let lib = c"libm.so.6";
    let sym = c"cos";
    // SAFETY: loading the C math library and looking up `cos`.
    unsafe {
        let h = libc::dlopen(lib.as_ptr(), libc::RTLD_NOW);
        if h.is_null() {
            return None;
        }
        let f = libc::dlsym(h, sym.as_ptr());
        if f.is_null() {
            return None;
        }
        Some(std::mem::transmute::<*mut libc::c_void, extern "C" fn(f64) -> f64>(f))
    }
}

#[test]
fn stress_sixteen_threads_at_one_khz() {
    // Watchdog: a hang fails the test instead of blocking CI.
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(120));
        eprintln!("stress test hung");
        std::process::abort();
    });
    std::panic::set_hook(Box::new(|_| {}));
    let g = cpu::start(CpuOptions::with_frequency(1000)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(Mutex::new(BTreeMap::<u64, Vec<u8>>::new()));
    let spawned = Arc::new(AtomicU64::new(0));
    let panics = Arc::new(AtomicU64::new(0));
    let dl_calls = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for t in 0..16u64 {
        let (stop, shared, spawned, panics, dl_calls) =
            (stop.clone(), shared.clone(), spawned.clone(), panics.clone(), dl_calls.clone());
        workers.push(std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                match (t + i) % 5 {
                    0 => {
                        let v: Vec<String> = (0..64).map(|k| format!("{t}-{i}-{k}")).collect();
                        black_box(v);
                    }
                    1 => {
                        let mut m = shared.lock().unwrap();
                        m.insert(i * 16 + t, vec![t as u8; (i % 64) as usize]);
                        if m.len() > 1000 {
                            let k = *m.keys().next().unwrap();
                            m.remove(&k);
                        }
                    }
                    2 => {
                        let h = std::thread::spawn(move || black_box((0..1000u64).sum::<u64>()));
                        h.join().unwrap();
                        spawned.fetch_add(1, Ordering::Relaxed);
                    }
                    3 => {
                        let r = std::panic::catch_unwind(|| {
                            if black_box(true) {
                                panic!("stress panic");
                            }
                        });
                        if r.is_err() {
                            panics.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    _ => {
                        if let Some(cos) = dlopen_cos() {
                            let mut x = 0.0;
                            for k in 0..1000 {
                                x += cos(k as f64);
                            }
                            black_box(x);
                            dl_calls.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        }));
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(25) {
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let p = g.stop().unwrap();
    let _ = std::panic::take_hook();
    let samples: i64 = p.samples.iter().map(|s| s.values[0]).sum();
    let comments: Vec<&str> = p.comments.iter().map(|&c| p.str(c)).collect();
    assert!(samples > 1000, "only {samples} samples: {comments:?}");
    assert!(spawned.load(Ordering::Relaxed) > 100);
    assert!(panics.load(Ordering::Relaxed) > 100);
    assert!(dl_calls.load(Ordering::Relaxed) > 10);
    rustprof_profile::validate(&p).unwrap();
    let back = rustprof_profile::decode(&rustprof_profile::encode(&p)).unwrap();
    assert_eq!(back.samples.len(), p.samples.len());
    // The dlopened library's code is symbolized.
    let names: Vec<&str> = p.functions.iter().map(|f| p.str(f.name)).collect();
    assert!(names.iter().any(|n| n.contains("cos")), "no frame in libm");
}
