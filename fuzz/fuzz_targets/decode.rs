//! Fuzz the profile decoder: any input must give Ok or Err, never a panic, and
//! whatever decodes must re-encode and decode equal.
//!
//! `cargo +nightly fuzz run decode fuzz/corpus/decode` (seed the corpus with
//! tests/data/conformance/profiles/*).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = rustprof_profile::decode(data) {
        let raw = rustprof_profile::encode_uncompressed(&p);
        let back = rustprof_profile::decode(&raw).expect("re-encoded profile must decode");
        assert_eq!(back, p);
        rustprof_profile::validate(&p).expect("decoded profile must validate");
    }
});
