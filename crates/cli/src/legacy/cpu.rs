//! Binary CPU profiles: gperftools' `CPUPROFILE` output (and Java's): a header
//! of five words (0, 3, 0 for C++ or 1 for Java, the period in µs, 0), in 32-
//! or 64-bit words of either byte order (the first reading whose header fits
//! wins), then `count, depth, addresses...` records up to the `0, 1, 0`
//! trailer, then the memory map as text.

use super::Parsed;
use super::raw::{Raw, Sample};
use super::scan::Scanner;

/// One way to read a word: its size and byte order.
#[derive(Clone, Copy)]
struct Word {
    size: usize,
    big: bool,
}

/// pprof's order: 32-bit little, 32-bit big, 64-bit little, 64-bit big.
const WORDS: [Word; 4] = [
    Word { size: 4, big: false },
    Word { size: 4, big: true },
    Word { size: 8, big: false },
    Word { size: 8, big: true },
];

impl Word {
    /// The next word and the rest, `None` past the end (Go's nil slice).
    fn get(self, b: Option<&[u8]>) -> (u64, Option<&[u8]>) {
        let Some(b) = b.filter(|b| b.len() >= self.size) else { return (0, None) };
        let mut v = 0u64;
        for i in 0..self.size {
            let byte = if self.big { b[i] } else { b[self.size - 1 - i] };
            v = (v << 8) | u64::from(byte);
        }
        (v, Some(&b[self.size..]))
    }
}

/// pprof's `parseCPU`.
pub(crate) fn parse(b: &[u8]) -> Parsed {
    for w in WORDS {
        let mut rest = Some(b);
        let mut n = [0u64; 5];
        for v in &mut n {
            (*v, rest) = w.get(rest);
        }
        let Some(rest) = rest else { continue };
        if n[0] == 0 && n[1] == 3 && n[3] > 0 && n[4] == 0 {
            match n[2] {
                0 => return cpp(rest, n[3] as i64, w),
                1 => return java(rest, n[3] as i64, w),
                _ => {}
            }
        }
    }
    Ok(None)
}

/// A C++ CPU profile: samples, the signal handler's frames stripped, the
/// memory map, and a leaf repeated as its own caller dropped.
fn cpp(b: &[u8], period_us: i64, w: Word) -> Parsed {
    let mut p = Raw::new(
        &[("samples", "count"), ("cpu", "nanoseconds")],
        ("cpu", "nanoseconds"),
        period_us.wrapping_mul(1000),
    );
    let Some(rest) = samples(b, w, true, &mut p) else { return Ok(None) };
    strip_handler_frames(&mut p);
    let mut s = Scanner::new(rest);
    let maps = super::maps::parse(&mut s)?;
    p.add_mappings(maps);
    p.cleanup_duplicate_locations();
    Ok(Some(p))
}

/// A Java CPU profile: samples, then the symbol section.
fn java(b: &[u8], period_us: i64, w: Word) -> Parsed {
    let mut p = Raw::new(
        &[("samples", "count"), ("cpu", "nanoseconds")],
        ("cpu", "nanoseconds"),
        period_us.wrapping_mul(1000),
    );
    let Some(rest) = samples(b, w, false, &mut p) else { return Ok(None) };
    super::java::locations(rest, &mut p)?;
    super::java::aggregate(p).map(Some)
}

/// pprof's `parseCPUSamples`: the records up to the trailer; the bytes after
/// it, or `None` when a record's depth cannot fit (not a CPU profile).
fn samples<'a>(b: &'a [u8], w: Word, adjust: bool, p: &mut Raw) -> Option<&'a [u8]> {
    let mut b = Some(b);
    let mut addrs = Vec::new();
    while b.is_some_and(|b| !b.is_empty()) {
        let (count, nstk);
        (count, b) = w.get(b);
        (nstk, b) = w.get(b);
        let len = b?.len();
        if nstk > (len / 4) as u64 {
            return None;
        }
        addrs.clear();
        for _ in 0..nstk {
            let a;
            (a, b) = w.get(b);
            addrs.push(a);
        }
        if count == 0 && nstk == 1 && addrs[0] == 0 {
            break;
        }
        let locs = p.stack(&addrs, |i| adjust && i > 0);
        let count = count as i64;
        p.samples.push(Sample { locs, values: vec![count, count.wrapping_mul(p.period)], bytes: None });
    }
    Some(b.unwrap_or(b""))
}

/// The frame under the leaf that (nearly) every sample shares is the signal
/// handler's: removed, twice at most. One sample in 32 may differ.
fn strip_handler_frames(p: &mut Raw) {
    let margin = p.samples.len() / 32;
    for _ in 0..2 {
        let mut counts: hashbrown::HashMap<u64, usize> = hashbrown::HashMap::new();
        for s in &p.samples {
            if s.locs.len() > 1 {
                *counts.entry(p.locations[s.locs[1]].address).or_default() += 1;
            }
        }
        // At most one address can reach the bound (margin < half the samples).
        let Some((&addr, _)) = counts.iter().find(|&(_, &c)| c >= p.samples.len() - margin) else { continue };
        for s in &mut p.samples {
            if s.locs.len() > 1 && p.locations[s.locs[1]].address == addr {
                s.locs.remove(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words64(ws: &[u64]) -> Vec<u8> {
        ws.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[test]
    fn header_and_records() {
        let mut b = words64(&[0, 3, 0, 10000, 0, 5, 2, 0x1000, 0x2001, 1, 1, 0x3000, 0, 1, 0]);
        b.extend_from_slice(b"00001000-00004000 r-xp 00000000 08:01 1 /bin/app\n");
        let p = parse(&b).unwrap().unwrap();
        assert_eq!(p.period, 10_000_000);
        let s: Vec<(Vec<u64>, Vec<i64>)> = p
            .samples
            .iter()
            .map(|s| (s.locs.iter().map(|&l| p.locations[l].address).collect(), s.values.clone()))
            .collect();
        assert_eq!(s, [(vec![0x1000, 0x2000], vec![5, 50_000_000]), (vec![0x3000], vec![1, 10_000_000])]);
        assert_eq!(p.mappings.len(), 1);
        assert!(p.locations.iter().all(|l| l.mapping == Some(0)));
        // A depth past the data: not a CPU profile.
        assert!(parse(&words64(&[0, 3, 0, 100, 0, 1, 99])).unwrap().is_none());
        // 32-bit big-endian words.
        let b: Vec<u8> =
            [0u32, 3, 0, 100, 0, 1, 1, 0x10, 0, 1, 0].iter().flat_map(|w| w.to_be_bytes()).collect();
        assert_eq!(parse(&b).unwrap().unwrap().samples.len(), 1);
    }
}
