//! What decoding costs in memory, measured by a counting allocator: the decoded
//! profile takes a small multiple of its tiniest elements' bytes (no record per
//! string reference), and an absurd element count is refused before the tables
//! are allocated.

#![allow(clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rustprof_profile::{DecodeError, DecodeOptions, decode_uncompressed, decode_uncompressed_with};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// The tests measure one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

// SAFETY: forwards to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: the caller's layout goes to the system allocator as it is.
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: `p` was allocated by `alloc` above with this layout.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Peak bytes allocated (beyond what was live before) while `f` runs.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let r = f();
    (r, PEAK.load(Ordering::Relaxed) - base)
}

/// `string_table = [""]` then `n` comments, each a 2-byte field naming string `idx`.
fn comment_bomb(n: usize, idx: u8) -> Vec<u8> {
    let mut d = vec![0x32, 0x00];
    for _ in 0..n {
        d.extend_from_slice(&[0x68, idx]);
    }
    d
}

#[test]
fn tiny_comments_cost_a_few_bytes_each() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let data = comment_bomb(4 << 20, 0);
    let (p, peak) = peak_of(|| decode_uncompressed(&data).unwrap());
    assert_eq!(p.comments.len(), 4 << 20);
    // 4 bytes per comment (its string index) and little else: at most 2.5× the
    // input's bytes (the case cost 34×: a 48-byte record per reference).
    assert!(peak <= data.len() * 5 / 2, "peak {peak} bytes for {} input bytes", data.len());
}

#[test]
fn a_bad_string_index_among_millions_is_named_without_a_record_per_reference() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut data = comment_bomb(2 << 20, 0);
    data.extend_from_slice(&[0x68, 5]);
    let (e, peak) = peak_of(|| decode_uncompressed(&data).unwrap_err());
    let msg = e.to_string();
    let want =
        format!("Profile.comment: string index 5 out of range (table has 1) (at byte {})", data.len() - 2);
    assert!(msg.ends_with(&want), "{msg}");
    assert!(peak <= data.len() * 5 / 2, "peak {peak} bytes for {} input bytes", data.len());
}

#[test]
fn absurd_counts_are_refused_before_allocating() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // 8M empty mappings (2 bytes each): 16 MB of file, ~600 MB of tables.
    let mut data = vec![0x32, 0x00];
    for _ in 0..8 << 20 {
        data.extend_from_slice(&[0x1a, 0x00]);
    }
    let opts = DecodeOptions { max_memory: 256 << 20, ..DecodeOptions::default() };
    let (e, peak) = peak_of(|| decode_uncompressed_with(&data, &opts).unwrap_err());
    assert!(matches!(e, DecodeError::TooMuchMemory { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "8388608 mappings would take 448.00 MiB of memory, more than the limit of 256.00 MiB"
    );
    assert!(peak < 1 << 20, "peak {peak} bytes before refusing");
    // Samples are counted too: 4M empty samples of 64 sample types.
    let mut data = vec![0x32, 0x00];
    for _ in 0..64 {
        data.extend_from_slice(&[0x0a, 0x00]);
    }
    for _ in 0..4 << 20 {
        data.extend_from_slice(&[0x12, 0x00]);
    }
    let (e, peak) = peak_of(|| decode_uncompressed_with(&data, &opts).unwrap_err());
    assert!(e.to_string().starts_with("4194304 samples would take 2."), "{e}");
    assert!(peak < 1 << 20, "peak {peak} bytes before refusing");
}
