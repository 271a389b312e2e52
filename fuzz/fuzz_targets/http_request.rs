//! Fuzz the `/debug/pprof` server's request parser: any bytes give a request
//! or a 4xx, never a panic; what parses keeps the server's limits and its
//! query decodes.
//!
//! `cargo +nightly fuzz run http_request`
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match rustprof::http::parse_request(data) {
        Ok(r) => {
            assert!(r.path.starts_with('/'), "{:?}", r.path);
            assert!(!r.method.is_empty() && r.method.bytes().all(|b| b.is_ascii_uppercase()));
            assert!(r.body.len() <= 1 << 20);
            assert!(r.headers.len() <= 100);
            assert!(r.headers.iter().all(|(k, _)| k.bytes().all(|b| !b.is_ascii_uppercase())));
            assert!(r.headers.iter().filter(|(k, _)| k == "content-length").count() <= 1);
            for (k, v) in rustprof::http::parse_query(&r.raw_query) {
                assert!(!k.contains('&') || r.raw_query.contains('%'), "{k:?}={v:?}");
            }
        }
        Err((status, msg)) => {
            assert!((400..500).contains(&status), "{status} {msg}");
            assert!(!msg.is_empty() && !msg.contains('\n'), "{msg:?}");
        }
    }
});
