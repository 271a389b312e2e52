//! The legacy profile formats `go tool pprof` still reads, read as it reads
//! them (google/pprof's `parseLegacy`, tried in its order when a file is not
//! profile.proto):
//!
//! - `cpu`: gperftools' binary CPU profile (and Java's), any word size and
//!   byte order;
//! - `heap`: text heap profiles: Go's `debug=1` heap and allocs, gperftools'
//!   heap profile, growth and fragmentation profiles;
//! - `count`: Go's `debug=1` goroutine and threadcreate profiles;
//! - `thread`: `threadz` thread dumps;
//! - `contention`: Go's `debug=1` block and mutex profiles, C++ contentionz;
//! - `java`: Java's heapz and contentionz text profiles.
//!
//! Each makes locations from addresses (less one for return addresses) and
//! mappings from the memory map at the end (`maps`); `raw` holds the
//! profile meanwhile and applies pprof's passes before it becomes a [`Profile`].

mod contention;
mod count;
mod cpu;
mod frames;
mod heap;
mod java;
mod maps;
mod num;
mod raw;
mod scan;
mod thread;

use rustprof_profile::Profile;

/// A parser's answer: a profile, `None` when the data is not its format, or an
/// error (Go's text) when it is but is malformed.
type Parsed = Result<Option<raw::Raw>, String>;

/// The formats in pprof's order.
const PARSERS: &[fn(&[u8]) -> Parsed] =
    &[cpu::parse, heap::parse, count::parse, thread::parse, contention::parse, java::parse];

/// Parses `data` (uncompressed) as a legacy profile: `Ok(None)` when it is
/// none of them (pprof's `unrecognized profile format`), `Err` with pprof's
/// message (`parsing profile: ...` or `malformed profile: ...`) otherwise.
pub fn parse(data: &[u8]) -> Result<Option<Profile>, String> {
    for parser in PARSERS {
        match parser(data) {
            Ok(Some(raw)) => return raw.into_profile().map(Some),
            Ok(None) => {}
            Err(e) => return Err(format!("parsing profile: {e}")),
        }
    }
    Ok(None)
}

/// pprof's `parseAdditionalSections`: skip to the memory map marker, read the
/// map, and number everything.
fn additional_sections(s: &mut scan::Scanner<'_>, p: &mut raw::Raw) -> Result<(), String> {
    while !maps::is_sentinel(s.text()) && s.scan() {}
    s.err()?;
    let m = maps::parse(s)?;
    p.add_mappings(m);
    Ok(())
}
