//! A CPU-bound program that profiles itself with rustprof and writes the
//! profile to the path given: the `-disasm` and `-weblist` tests annotate the
//! assembly of its hot function with it, against this very binary.

use std::hint::black_box;
use std::process::ExitCode;

/// The hot loop: an FNV-1a style mix of a counter.
#[inline(never)]
fn mix(rounds: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for i in 0..rounds {
        h ^= i ^ (h >> 7);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn main() -> ExitCode {
    let path = std::env::args().nth(1).unwrap_or_else(|| "disasm_cpu.pb.gz".to_string());
    let guard = match rustprof::cpu::start(rustprof::cpu::CpuOptions::with_frequency(1000)) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("disasm_cpu: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut total = 0u64;
    // About 0.3 s of CPU on an idle machine: enough samples to annotate.
    for _ in 0..30 {
        total = total.wrapping_add(mix(black_box(2_000_000)));
    }
    let profile = match guard.stop() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("disasm_cpu: {e}");
            return ExitCode::FAILURE;
        }
    };
    let written = std::fs::File::create(&path).and_then(|f| rustprof::write_gzip(&profile, f));
    if let Err(e) = written {
        eprintln!("disasm_cpu: {path}: {e}");
        return ExitCode::FAILURE;
    }
    println!("{total:x}");
    ExitCode::SUCCESS
}
