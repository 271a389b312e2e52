//! Decode benchmark: wall time and peak memory of decoding a profile file
//! (gunzip included), against the target of ≤ 1.0 s and ≤ 3× the
//! uncompressed size for the 1M-sample synthetic profile.
//!
//! `cargo bench -p rustprof-profile --bench decode -- FILE [RUNS]`
//! (bench/profile_decode.sh generates the file and runs this).

#![allow(clippy::unwrap_used)]

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::time::Instant;

fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let Some(path) = args.first() else {
        eprintln!("usage: decode FILE [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(5);

    let mut f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let compressed = f.metadata().map(|m| m.len()).unwrap_or(0);
    // Uncompressed size from the gzip trailer, to size the buffer once.
    let mut tail = [0u8; 4];
    f.seek(SeekFrom::End(-4)).unwrap();
    f.read_exact(&mut tail).unwrap();
    let hint = u32::from_le_bytes(tail) as u64;

    let base_rss = peak_rss_bytes();
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        drop(last.take());
        let t = Instant::now();
        let f = std::fs::File::open(path).unwrap();
        let p = rustprof_profile::decode_reader_with(
            BufReader::with_capacity(1 << 16, f),
            hint,
            &Default::default(),
        )
        .unwrap_or_else(|e| panic!("{path}: {e}"));
        times.push(t.elapsed().as_secs_f64());
        last = Some(p);
    }
    let p = last.unwrap();
    let peak = peak_rss_bytes();
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = times[times.len() / 2];
    println!("file: {path} ({compressed} bytes gzip, {hint} bytes uncompressed)");
    println!(
        "profile: {} samples, {} frames, {} locations, {} functions, {} strings, {:.1} MB in memory",
        p.samples.len(),
        p.samples.total_frames(),
        p.locations.len(),
        p.functions.len(),
        p.strings.len(),
        p.heap_bytes() as f64 / 1e6
    );
    println!(
        "decode (gunzip included): median {:.3} s, min {:.3} s, max {:.3} s over {runs} runs",
        median,
        times[0],
        times[times.len() - 1]
    );
    println!(
        "peak RSS: {:.1} MB ({:.2}x the uncompressed size; process baseline {:.1} MB)",
        peak as f64 / 1e6,
        peak as f64 / hint.max(1) as f64,
        base_rss as f64 / 1e6
    );
    println!(
        "target: <= 1.0 s and <= 3.00x -> {}",
        if median <= 1.0 && peak <= 3 * hint { "met" } else { "NOT met" }
    );
}
