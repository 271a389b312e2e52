//! What decoding a profile will cost in memory, known before it allocates: a
//! scan of the top-level fields counts the tables' entries, and after the first
//! pass the samples' frames and labels are counted too. An absurd count (a
//! small file holding hundreds of millions of tiny fields) is rejected with one
//! line before the tables are allocated, and the tables are then reserved once,
//! at their exact sizes.

use std::mem::size_of;

use crate::error::DecodeError;
use crate::model::{Function, Label, Line, Location, Mapping};
use crate::wire::{Reader, WT_LEN, count_packed};

/// Entries of the top-level tables, from one scan of the top-level fields.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counts {
    pub sample_types: usize,
    pub samples: usize,
    pub mappings: usize,
    pub locations: usize,
    /// Bytes of all location messages: bounds their lines (each takes ≥ 2 bytes).
    pub location_bytes: usize,
    pub functions: usize,
    pub strings: usize,
    pub string_bytes: usize,
    pub comments: usize,
}

impl Counts {
    /// Counts the top-level fields of `data`; stops quietly at malformed data
    /// (the decoder reports it with its offset).
    pub(crate) fn scan(data: &[u8]) -> Counts {
        let mut c = Counts::default();
        let mut r = Reader::new(data, 0);
        while !r.is_empty() {
            let Ok((field, wt)) = r.key() else { break };
            if wt != WT_LEN {
                if field == 13 {
                    c.comments += 1;
                }
                if r.skip(wt).is_err() {
                    break;
                }
                continue;
            }
            let Ok((b, _)) = r.bytes() else { break };
            match field {
                1 => c.sample_types += 1,
                2 => c.samples += 1,
                3 => c.mappings += 1,
                4 => {
                    c.locations += 1;
                    c.location_bytes += b.len();
                }
                5 => c.functions += 1,
                6 => {
                    c.strings += 1;
                    c.string_bytes += b.len();
                }
                13 => c.comments += count_packed(b),
                _ => {}
            }
        }
        c
    }

    /// Bytes the decoded tables (not the samples) take at most, with the entry
    /// kind that takes the most.
    pub(crate) fn table_bytes(&self) -> (u64, String) {
        let parts = [
            (self.mappings as u64 * (size_of::<Mapping>() + 8) as u64, self.mappings, "mappings"),
            (
                self.locations as u64 * (size_of::<Location>() + 16) as u64
                    + (self.location_bytes / 2) as u64 * (size_of::<Line>() + 8) as u64,
                self.locations,
                "locations",
            ),
            (self.functions as u64 * (size_of::<Function>() + 8) as u64, self.functions, "functions"),
            (self.strings as u64 * 8 + self.string_bytes as u64, self.strings, "strings"),
            (self.comments as u64 * 4, self.comments, "comments"),
        ];
        largest(&parts)
    }
}

/// Bytes the samples' columns take: values, frames, offsets, label sets (at
/// most one distinct label per label read).
pub(crate) fn sample_bytes(samples: usize, types: usize, frames: usize, labels: usize) -> (u64, String) {
    let parts = [
        (samples as u64 * (types as u64 * 8 + 8), samples, "samples"),
        (frames as u64 * 4, frames, "sample frames"),
        (labels as u64 * (size_of::<Label>() + 8) as u64, labels, "labels"),
    ];
    largest(&parts)
}

fn largest(parts: &[(u64, usize, &str)]) -> (u64, String) {
    let total = parts.iter().map(|p| p.0).fold(0u64, u64::saturating_add);
    let big = parts.iter().max_by_key(|p| p.0).map(|p| format!("{} {}", p.1, p.2)).unwrap_or_default();
    (total, big)
}

/// Fails when `need` bytes are more than `limit`.
pub(crate) fn check(need: u64, what: String, limit: u64) -> Result<(), DecodeError> {
    if need > limit {
        return Err(DecodeError::TooMuchMemory { what, need, limit });
    }
    Ok(())
}

/// `Vec::try_reserve_exact` as a decode error.
pub(crate) fn reserve<T>(v: &mut Vec<T>, n: usize) -> Result<(), DecodeError> {
    v.try_reserve_exact(n)
        .map_err(|_| DecodeError::OutOfMemory { bytes: n.saturating_mul(size_of::<T>()) as u64 })
}
