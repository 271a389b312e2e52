//! Fuzz the legacy-format parsers (`rustprof_cli::legacy`: gperftools' binary
//! CPU profile, text heap, Go's debug=1 count and contention texts, threadz,
//! Java): any bytes give a profile, "not this format" or a one-line error, never
//! a panic or a hang; a profile parsed validates and survives encode/decode.
//!
//! `cargo +nightly fuzz run legacy fuzz/corpus/legacy` (seed the corpus with
//! tests/data/legacy/{go,gperftools,crafted,rejected}/*). Its deterministic
//! sibling is `legacy_mutations_never_panic` in crates/cli/tests/legacy.rs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match rustprof_cli::legacy::parse(data) {
        Ok(Some(p)) => {
            rustprof_profile::validate(&p).expect("a parsed legacy profile must validate");
            let raw = rustprof_profile::encode_uncompressed(&p);
            rustprof_profile::decode(&raw).expect("an encoded legacy profile must decode");
        }
        Ok(None) => {}
        Err(e) => assert!(!e.contains('\n'), "one-line error: {e:?}"),
    }
});
