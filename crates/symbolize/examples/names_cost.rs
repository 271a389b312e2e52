//! What symbolizing costs on a binary: the frames of one address in the
//! middle of every function symbol, timed, with how many Rust frames are left
//! with a short name (no `::`; what `debug = "line-tables-only"` DWARF gives
//! before `names` qualifies it).
//!
//! `cargo run --release -p rustprof-symbolize --example names_cost -- BINARY [RUNS] [-v]`
//! (`-v` lists the short names left).
//! (figures in BENCHMARKS.md).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Instant;

use object::{Object, ObjectSymbol};

fn main() {
    let path = std::env::args().nth(1).expect("usage: names_cost BINARY [RUNS]");
    let runs: usize = std::env::args().nth(2).and_then(|r| r.parse().ok()).unwrap_or(5);
    let data = std::fs::read(&path).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let mut addrs: Vec<u64> = file
        .symbols()
        .filter(|s| s.kind() == object::SymbolKind::Text && s.size() > 8)
        .map(|s| s.address() + s.size() / 2)
        .collect();
    addrs.sort_unstable();
    addrs.dedup();
    let verbose = std::env::args().nth(3).is_some_and(|a| a == "-v");
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let b = rustprof_symbolize::Binary::open(Path::new(&path)).unwrap();
        let (mut frames, mut short) = (0, 0);
        for &a in &addrs {
            let f = b.frames(a, Default::default());
            frames += f.len();
            for x in f.iter().filter(|x| !x.function.contains("::") && x.file.ends_with(".rs")) {
                short += 1;
                if verbose && times.is_empty() {
                    println!("short: {} {}:{}", x.function, x.file, x.line);
                }
            }
        }
        times.push(t.elapsed().as_secs_f64());
        if times.len() == runs {
            times.sort_by(f64::total_cmp);
            println!(
                "{path}: {} addresses, {frames} frames, {short} short Rust names; open + symbolize: median {:.3} s (min {:.3} s, {runs} runs)",
                addrs.len(),
                times[runs / 2],
                times[0]
            );
        }
    }
}
