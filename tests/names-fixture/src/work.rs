//! A module of its own, for module paths: `fixture::work::checksum`.

/// A checksum of `0..8n`, inlined into its caller.
#[inline(always)]
pub(crate) fn checksum(n: u64) -> u64 {
    (0..n * 8).fold(0u64, |h, i| h.rotate_left(5) ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}
