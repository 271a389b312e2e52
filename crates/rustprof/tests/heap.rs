//! The heap profiler as the global allocator of this test binary: accuracy of
//! the unbiased estimates, in-use after frees, realloc, alignment, cross-thread
//! frees, rates 0 and 1, exact counters, and no deadlock when every allocation
//! is sampled while profiles are being written.

#![allow(clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustprof::Profile;
use rustprof::heap::{self, Sampled};

#[global_allocator]
static ALLOC: Sampled<System> = Sampled::new(System);

/// The rate is process-wide: one test at a time.
fn lock() -> MutexGuard<'static, ()> {
    static L: Mutex<()> = Mutex::new(());
    L.lock().unwrap_or_else(|e| e.into_inner())
}

/// Restores the default rate when a test ends (also on failure).
struct Rate(usize);
impl Rate {
    fn set(r: usize) -> Rate {
        Rate(heap::set_sample_rate(r))
    }
}
impl Drop for Rate {
    fn drop(&mut self) {
        heap::set_sample_rate(self.0);
    }
}

/// Sizes 16 B .. 16 KiB, mixed.
fn size_at(i: usize) -> usize {
    16 << (i * 7 % 11)
}

/// Allocates `total` bytes in mixed sizes and keeps them.
#[inline(never)]
fn alloc_f(total: usize) -> Vec<Vec<u8>> {
    let mut v = Vec::with_capacity(total / 1000);
    let (mut done, mut i) = (0, 0);
    while done < total {
        let n = size_at(i);
        v.push(black_box(vec![1u8; n]));
        done += n;
        i += 1;
    }
    v
}

#[inline(never)]
fn alloc_g(total: usize) -> Vec<Vec<u8>> {
    let mut v = Vec::with_capacity(total / 1000);
    let (mut done, mut i) = (0, 3);
    while done < total {
        let n = size_at(i);
        v.push(black_box(vec![2u8; n]));
        done += n;
        i += 1;
    }
    v
}

/// Sums a sample type over samples whose stack has a frame named like `func`
/// (any inlined line).
fn total_for(p: &Profile, sample_type: &str, func: &str) -> i64 {
    let idx = p.sample_type_index(sample_type).unwrap();
    let mut total = 0;
    for s in p.samples.iter() {
        let hit = s.locations.iter().any(|&l| {
            p.location_lines(l)
                .iter()
                .any(|line| p.str(p.functions[line.function as usize].name).contains(func))
        });
        if hit {
            total += s.values[idx];
        }
    }
    total
}

fn name_of(p: &Profile, s: usize) -> Vec<String> {
    let sample = p.samples.get(s);
    sample
        .locations
        .iter()
        .flat_map(|&l| {
            p.location_lines(l)
                .iter()
                .map(|line| p.str(p.functions[line.function as usize].name).to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn estimates_are_within_ten_percent_and_inuse_follows_frees() {
    let _l = lock();
    let _r = Rate::set(32 * 1024);
    heap::seed_thread(42);
    let f = alloc_f(64 << 20);
    let g = alloc_g(16 << 20);
    let p = heap::profile();
    let fa = total_for(&p, "alloc_space", "alloc_f");
    let ga = total_for(&p, "alloc_space", "alloc_g");
    let fi = total_for(&p, "inuse_space", "alloc_f");
    // The Vec of blocks itself is a few hundred KB; f's data is 64 MiB.
    let within = |est: i64, want: f64| (est as f64 - want).abs() <= want * 0.10;
    assert!(within(fa, (64 << 20) as f64), "alloc_f alloc_space {fa}");
    assert!(within(ga, (16 << 20) as f64), "alloc_g alloc_space {ga}");
    assert!(fa > ga);
    assert!(within(fi, (64 << 20) as f64), "alloc_f inuse_space {fi}");
    drop(f);
    let p = heap::profile();
    let fi = total_for(&p, "inuse_space", "alloc_f");
    let gi = total_for(&p, "inuse_space", "alloc_g");
    let fa2 = total_for(&p, "alloc_space", "alloc_f");
    assert_eq!(fi, 0, "f's blocks are freed");
    assert!(within(gi, (16 << 20) as f64), "alloc_g inuse_space {gi}");
    assert!(fa2 >= fa, "alloc_space is cumulative");
    drop(g);
    // The allocs profile is the same data with alloc_space as default.
    let a = heap::allocs_profile();
    assert_eq!(a.str(a.default_sample_type), "alloc_space");
    assert_eq!(p.str(p.default_sample_type), "");
    rustprof_profile::validate(&p).unwrap();
    // Stacks start in the caller, not in the allocator.
    let names = name_of(&p, 0);
    assert!(!names[0].contains("rustprof::heap"), "{names:?}");
}

#[test]
fn default_rate_estimates_large_volumes() {
    let _l = lock();
    let _r = Rate::set(heap::DEFAULT_SAMPLE_RATE);
    heap::seed_thread(7);
    // 512 MiB and 128 MiB, freed as they go: about 1,000 and 250 samples.
    #[inline(never)]
    fn churn_f() {
        for i in 0..(512usize << 20) / 8192 {
            black_box(vec![0u8; 4096 + (i % 2) * 8192]);
        }
    }
    #[inline(never)]
    fn churn_g() {
        for i in 0..(128usize << 20) / 8192 {
            black_box(vec![0u8; 4096 + (i % 2) * 8192]);
        }
    }
    churn_f();
    churn_g();
    let p = heap::allocs_profile();
    let f = total_for(&p, "alloc_space", "churn_f") as f64;
    let g = total_for(&p, "alloc_space", "churn_g") as f64;
    assert!((f / (512u64 << 20) as f64 - 1.0).abs() < 0.10, "churn_f {f}");
    assert!((g / (128u64 << 20) as f64 - 1.0).abs() < 0.15, "churn_g {g}");
    assert_eq!(total_for(&p, "inuse_space", "churn_f"), 0);
}

#[test]
fn rate_one_records_every_allocation_with_its_size() {
    let _l = lock();
    let _r = Rate::set(1);
    #[inline(never)]
    fn three_sizes() -> Vec<Box<[u8]>> {
        vec![
            vec![0u8; 100].into_boxed_slice(),
            vec![0u8; 200].into_boxed_slice(),
            vec![0u8; 300].into_boxed_slice(),
        ]
    }
    let kept = three_sizes();
    let p = heap::profile();
    // The three boxes and the Vec holding them (3 fat pointers).
    assert_eq!(total_for(&p, "inuse_space", "three_sizes"), 600 + 3 * 16);
    // One sample per (stack, size), each with its `bytes` label.
    let bytes_labels: Vec<i64> = p
        .samples
        .iter()
        .filter(|s| {
            s.locations.iter().any(|&l| {
                p.location_lines(l)
                    .iter()
                    .any(|line| p.str(p.functions[line.function as usize].name).contains("three_sizes"))
            })
        })
        .flat_map(|s| s.labels.iter().filter(|l| p.str(l.key) == "bytes").map(|l| l.num).collect::<Vec<_>>())
        .collect();
    for b in [100, 200, 300] {
        assert!(bytes_labels.contains(&b), "{bytes_labels:?}");
    }
    drop(kept);
    let p = heap::profile();
    assert_eq!(total_for(&p, "inuse_space", "three_sizes"), 0);
    assert_eq!(total_for(&p, "alloc_objects", "three_sizes"), 4);
}

#[test]
fn realloc_growth_keeps_only_the_last_block_in_use() {
    let _l = lock();
    let _r = Rate::set(1);
    #[inline(never)]
    fn grow_by_push() -> Vec<u64> {
        let mut v = Vec::new();
        for i in 0..100_000u64 {
            v.push(i);
        }
        v
    }
    let v = grow_by_push();
    let p = heap::profile();
    assert_eq!(total_for(&p, "inuse_space", "grow_by_push"), (v.capacity() * 8) as i64);
    assert_eq!(total_for(&p, "inuse_objects", "grow_by_push"), 1);
    assert!(total_for(&p, "alloc_objects", "grow_by_push") > 10, "every growth step is an allocation");
    drop(v);
    assert_eq!(total_for(&heap::profile(), "inuse_space", "grow_by_push"), 0);
}

#[test]
fn over_aligned_and_zero_sized() {
    let _l = lock();
    let _r = Rate::set(1);
    #[inline(never)]
    fn aligned_block() -> *mut u8 {
        let layout = Layout::from_size_align(8192, 4096).unwrap();
        // SAFETY: a non-zero layout.
        let p = unsafe { std::alloc::alloc(layout) };
        assert_eq!(p as usize % 4096, 0);
        p
    }
    let p = aligned_block();
    assert_eq!(total_for(&heap::profile(), "inuse_space", "aligned_block"), 8192);
    // SAFETY: allocated above with this layout.
    unsafe { std::alloc::dealloc(p, Layout::from_size_align(8192, 4096).unwrap()) };
    assert_eq!(total_for(&heap::profile(), "inuse_space", "aligned_block"), 0);
    // Zero-sized values allocate nothing.
    let before = heap::thread_stats();
    let v: Vec<()> = (0..1000).map(|_| ()).collect();
    let b = Box::new(());
    black_box((&v, &b));
    assert_eq!(heap::thread_stats().allocs, before.allocs);
    // The wrapper forwards to the inner allocator directly too.
    // SAFETY: a non-zero layout, freed at once.
    unsafe {
        let l = Layout::from_size_align(64, 64).unwrap();
        let q = ALLOC.inner().alloc(l);
        ALLOC.inner().dealloc(q, l);
    }
}

#[test]
fn blocks_freed_on_another_thread_leave_the_profile() {
    let _l = lock();
    let _r = Rate::set(1);
    #[inline(never)]
    fn made_here() -> Vec<Vec<u8>> {
        (0..100).map(|i| vec![0u8; 1000 + i]).collect()
    }
    let blocks = made_here();
    assert!(total_for(&heap::profile(), "inuse_space", "made_here") > 100_000);
    std::thread::spawn(move || drop(blocks)).join().unwrap();
    assert_eq!(total_for(&heap::profile(), "inuse_space", "made_here"), 0);
}

#[test]
fn rate_zero_records_nothing() {
    let _l = lock();
    let _r = Rate::set(0);
    #[inline(never)]
    fn unseen() -> Vec<Vec<u8>> {
        (0..1000).map(|_| vec![0u8; 100_000]).collect()
    }
    let v = unseen();
    assert_eq!(total_for(&heap::profile(), "alloc_space", "unseen"), 0);
    drop(v);
    assert_eq!(heap::sample_rate(), 0);
}

#[test]
fn exact_counters() {
    let _l = lock();
    #[inline(never)]
    fn three_allocations() -> (Box<u64>, String, Vec<u8>) {
        (Box::new(1), String::from("hello"), vec![1, 2, 3])
    }
    let before = heap::thread_stats();
    let all_before = heap::stats();
    let kept = black_box(three_allocations());
    let d = heap::thread_stats().since(&before);
    assert_eq!(d.allocs, 3);
    assert_eq!(d.alloc_bytes, 8 + 5 + 3);
    assert_eq!(d.frees, 0);
    drop(kept);
    let d = heap::thread_stats().since(&before);
    assert_eq!((d.frees, d.free_bytes), (3, 16));
    // Process-wide counters include other threads, also after they end.
    std::thread::spawn(|| {
        for _ in 0..1000 {
            black_box(vec![0u8; 10]);
        }
    })
    .join()
    .unwrap();
    let all = heap::stats().since(&all_before);
    assert!(all.allocs >= 1003, "{all:?}");
    assert!(heap::is_installed());
}

/// Every allocation sampled on 4 threads while another writes profiles: no
/// deadlock, no recursion, consistent output. Bounded by a watchdog.
#[test]
fn sampling_everything_while_writing_profiles() {
    let _l = lock();
    let _r = Rate::set(1);
    let done = Arc::new(AtomicBool::new(false));
    let d2 = done.clone();
    std::thread::spawn(move || {
        let t = Instant::now();
        while !d2.load(Ordering::Relaxed) {
            if t.elapsed() > Duration::from_secs(60) {
                eprintln!("heap profiling deadlocked");
                std::process::abort();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut m: HashMap<u64, String> = HashMap::new();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    m.insert(i % 500, format!("{t}-{i}"));
                    let v: Vec<u64> = (0..i % 64).collect();
                    black_box(v);
                    i += 1;
                }
                i
            })
        })
        .collect();
    let start = Instant::now();
    let mut written = 0;
    while written < 2 || start.elapsed() < Duration::from_secs(3) {
        let p = heap::profile();
        rustprof_profile::validate(&p).unwrap();
        let mut buf = Vec::new();
        rustprof::write_gzip(&p, &mut buf).unwrap();
        written += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let iters: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    done.store(true, Ordering::Relaxed);
    assert!(written >= 2 && iters > 1000, "{written} profiles, {iters} iterations");
}
