//! Profiles a small program with the CPU profiler and writes `cpu.pb.gz`:
//!
//! ```sh
//! cargo run --release -p rustprof --example cpu -- cpu.pb.gz
//! cargo run -q -p rustprof-cli -- -top cpu.pb.gz
//! ```
//!
//! The work: two threads building password hashes (a slow hex formatting and a
//! fast one) under `endpoint` labels, so `-top`, `-peek`, `-list` and `-tags`
//! all have something to show.

use std::fmt::Write as _;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// A toy hash (FNV-1a, iterated) of a password.
#[inline(never)]
fn digest(password: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for round in 0..64u64 {
        for b in password.bytes() {
            h ^= b as u64 ^ round;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        out[(round % 32) as usize] ^= h as u8;
    }
    out
}

/// Hex via `format!` per byte: slow.
#[inline(never)]
fn hash_password_slow(password: &str) -> String {
    let d = digest(password);
    let mut s = String::new();
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Hex via a lookup table: fast.
#[inline(never)]
fn hash_password_fast(password: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = digest(password);
    let mut s = String::with_capacity(64);
    for b in d {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

fn work(fast: bool, d: Duration) -> usize {
    let start = Instant::now();
    let mut n = 0;
    let mut pw = String::new();
    while start.elapsed() < d {
        pw.clear();
        let _ = write!(pw, "password-{n}");
        let h = if fast { hash_password_fast(&pw) } else { hash_password_slow(&pw) };
        n += black_box(h).len();
    }
    n
}

fn main() -> ExitCode {
    let path = std::env::args().nth(1).unwrap_or_else(|| "cpu.pb.gz".to_string());
    let opts = rustprof::cpu::CpuOptions::with_frequency(1000);
    let guard = match rustprof::cpu::start(opts) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("cpu: {e}");
            return ExitCode::FAILURE;
        }
    };
    let t = std::thread::spawn(|| {
        rustprof::labels::with_labels(&[("endpoint", "login")], || work(false, Duration::from_secs(1)))
    });
    let n = rustprof::labels::with_labels(&[("endpoint", "signup")], || work(true, Duration::from_secs(1)));
    let m = t.join().unwrap_or(0);
    let profile = match guard.stop() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cpu: {e}");
            return ExitCode::FAILURE;
        }
    };
    let written = std::fs::File::create(&path).and_then(|f| rustprof::write_gzip(&profile, f));
    if let Err(e) = written {
        eprintln!("cpu: {path}: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!("hashed {} bytes; wrote {path} ({} samples)", n + m, profile.samples.len());
    ExitCode::SUCCESS
}
