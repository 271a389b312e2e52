//! The Perfetto trace decoder on arbitrary bytes: an error or a trace, never a
//! panic; what decodes re-encodes and decodes to the same events.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = rustprof_trace::decode(data) {
        let again = rustprof_trace::decode(&rustprof_trace::encode(&t)).expect("re-encoded trace decodes");
        assert_eq!(again.events.len(), t.events.len());
    }
});
