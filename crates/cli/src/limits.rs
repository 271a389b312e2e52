//! How large a profile may be: a bound relative to the machine, so that no input
//! — a gzip bomb, a small file of hundreds of millions of tiny fields, `/dev/zero`,
//! a FIFO, an endless HTTP body — can drive the analyzer into the kernel's
//! out-of-memory killer.
//!
//! The bound `L` (`-max_profile_size`, default 1/8 of the machine's memory, or
//! of the cgroup's limit when lower) is what a profile may expand to
//! uncompressed; its decoded tables and samples may take at most `2 L`, counted
//! from the file's element counts before they are allocated. Reading a file
//! whose size is not known (FIFO, device, stdin) stops past `L` bytes.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};

use rustprof_profile::{DecodeOptions, human_bytes};

/// `-max_profile_size` when given (0: the machine's default).
static MAX_PROFILE_SIZE: AtomicU64 = AtomicU64::new(0);

/// The smallest default bound, for machines whose memory cannot be read.
const FALLBACK: u64 = 2 << 30;

/// The hint appended to errors caused by the bound.
pub const HINT: &str = "-max_profile_size=SIZE raises the limit";

/// Sets `-max_profile_size` (bytes; 0 restores the default).
pub fn set_max_profile_size(bytes: u64) {
    MAX_PROFILE_SIZE.store(bytes, Ordering::Relaxed);
}

/// The bound `L` in bytes.
pub fn max_profile_size() -> u64 {
    match MAX_PROFILE_SIZE.load(Ordering::Relaxed) {
        0 => default_max_profile_size(),
        n => n,
    }
}

/// 1/8 of the memory this process may use (at least 64 MiB).
pub fn default_max_profile_size() -> u64 {
    machine_memory().map_or(FALLBACK, |m| (m / 8).max(64 << 20))
}

/// The limits for the profile decoder.
pub fn decode_options() -> DecodeOptions {
    let l = max_profile_size();
    DecodeOptions { max_uncompressed: l, max_memory: l.saturating_mul(2) }
}

/// The machine's memory (`MemTotal`), or the cgroup's memory limit when lower.
pub fn machine_memory() -> Option<u64> {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    });
    let cgroup = ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok()?.trim().parse::<u64>().ok())
        .min();
    match (total, cgroup) {
        (Some(t), Some(c)) => Some(t.min(c)),
        (t, c) => t.or(c),
    }
}

/// Parses a size: bytes, or a number with `k`/`m`/`g`/`t` (optionally followed
/// by `b` or `ib`, any case; powers of 1024): `512mb`, `4G`, `1.5gib`.
pub fn parse_size(s: &str) -> Option<u64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix("ib").or_else(|| t.strip_suffix('b')).unwrap_or(&t);
    let (num, shift) = match t.char_indices().last() {
        Some((i, 'k')) => (&t[..i], 10),
        Some((i, 'm')) => (&t[..i], 20),
        Some((i, 'g')) => (&t[..i], 30),
        Some((i, 't')) => (&t[..i], 40),
        _ => (t, 0),
    };
    let v: f64 = num.trim().parse().ok()?;
    let bytes = v * (1u64 << shift) as f64;
    (v.is_finite() && v > 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// Reads a profile file: a regular file larger than the bound is refused before
/// it is read; anything else (FIFO, device) is read up to the bound.
pub fn read_file(path: &str) -> Result<Vec<u8>, String> {
    let io = |e: std::io::Error| format!("open {path}: {}", crate::fetch::go_io_error(&e));
    let mut f = std::fs::File::open(path).map_err(io)?;
    let limit = max_profile_size();
    let meta = f.metadata().map_err(io)?;
    if meta.is_file() {
        // A gzip file is never much larger than its content.
        if meta.len() > limit.saturating_add(limit / 64).saturating_add(1 << 20) {
            return Err(too_large(meta.len(), limit));
        }
        let mut data = Vec::new();
        data.try_reserve_exact(meta.len() as usize).map_err(|_| {
            format!("read {path}: out of memory: could not allocate {} for the file", human_bytes(meta.len()))
        })?;
        f.read_to_end(&mut data).map_err(|e| format!("read {path}: {}", crate::fetch::go_io_error(&e)))?;
        return Ok(data);
    }
    // A FIFO or a device: read in chunks, growing with `try_reserve`, so that
    // running out of memory is an error rather than an abort.
    let mut data = Vec::new();
    let mut r = (&mut f).take(limit.saturating_add(1));
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match r.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("read {path}: {}", crate::fetch::go_io_error(&e))),
        };
        data.try_reserve(n).map_err(|_| {
            format!(
                "read {path}: out of memory: could not allocate {} for the file",
                human_bytes(data.len() as u64 + n as u64)
            )
        })?;
        data.extend_from_slice(&chunk[..n]);
    }
    if data.len() as u64 > limit {
        return Err(format!(
            "read {path}: more than {} without an end (it is not a regular file); {HINT}",
            human_bytes(limit)
        ));
    }
    Ok(data)
}

fn too_large(size: u64, limit: u64) -> String {
    format!(
        "the file has {}, more than the limit of {} for a profile; {HINT}",
        human_bytes(size),
        human_bytes(limit)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("4g"), Some(4 << 30));
        assert_eq!(parse_size("4GB"), Some(4 << 30));
        assert_eq!(parse_size("512MiB"), Some(512 << 20));
        assert_eq!(parse_size("1.5k"), Some(1536));
        assert_eq!(parse_size("0"), None);
        assert_eq!(parse_size("-1g"), None);
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("é"), None);
    }

    #[test]
    fn the_default_follows_the_machine() {
        let m = machine_memory().expect("/proc/meminfo is readable on Linux");
        assert_eq!(default_max_profile_size(), (m / 8).max(64 << 20));
    }
}
