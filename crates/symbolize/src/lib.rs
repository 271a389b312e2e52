//! `rustprof-symbolize`: addresses → frames (function, file, line, inlined
//! callers) from ELF binaries and their DWARF debug info.
//!
//! Profiles record program counters. This crate turns them into what a person
//! reads, for two users: the analyzer (`rustprof`, a drop-in for `go tool
//! pprof`), which symbolizes profiles that carry only addresses, and the
//! in-process CPU, heap and lock profilers, which symbolize their samples when
//! they write a profile. The modules follow the path of an address:
//!
//! - [`maps`]: where the process had each binary mapped ([`read_proc_maps`]),
//!   and [`symbolize_addresses`] for a batch of addresses of a live process;
//! - [`base`]: runtime address → ELF virtual address, with the exact rules of
//!   pprof's `GetBase` (executables, PIEs, shared libraries, kernels);
//! - [`Binary`] (module `binary`, with `elf`): one ELF file read into memory —
//!   GNU build ID, segments, symbol table, DWARF through `addr2line`/`gimli`,
//!   separate debug files — and the [`Frame`]s at an address, innermost inlined
//!   function first, like the lines of a profile.proto `Location`;
//! - `names`: qualified names where the DWARF has only short ones (`debug =
//!   "line-tables-only"`): the symbol table's for the function an address is
//!   in, reconstructed ones for its inlined callees (see [`Binary::frames`]);
//! - [`mod@demangle`]: Rust (legacy and v0, without hashes) and C++ names;
//! - [`Symbolizer`]: a bounded LRU cache of open binaries, released with
//!   [`Symbolizer::clear`];
//! - [`profile`]: [`symbolize_profile`] fills in a [`rustprof_profile::Profile`],
//!   finding binaries along `$PPROF_BINARY_PATH` and refusing build-ID
//!   mismatches, and reports what it did for the CLI to print.
//!
//! Bad input never panics: a missing, truncated or non-ELF file, or corrupt
//! DWARF, is an [`Error`] naming the file. The crate has no `unsafe` code and
//! does not `mmap`: binaries are read into memory.
//!
//! ```no_run
//! use rustprof_symbolize::{Symbolizer, read_proc_maps, symbolize_addresses};
//!
//! #[inline(never)]
//! fn hot() -> u64 { 42 }
//!
//! let maps = read_proc_maps(None)?;
//! let mut symbolizer = Symbolizer::new();
//! let found = symbolize_addresses(&mut symbolizer, &maps, &[hot as fn() -> u64 as usize as u64]);
//! for frame in &found[0].frames {
//!     println!("{} {}:{}", frame.function, frame.file, frame.line);
//! }
//! symbolizer.clear();
//! # Ok::<(), rustprof_symbolize::Error>(())
//! ```

#![forbid(unsafe_code)]

pub mod base;
mod binary;
pub mod demangle;
mod elf;
mod error;
pub mod maps;
mod names;
pub mod profile;
mod symbolizer;

pub use base::{ElfType, MappingRange, Segment};
pub use binary::{Binary, Frame};
pub use demangle::{DemangleStyle, demangle};
pub use elf::read_build_id;
pub use error::Error;
pub use maps::{
    AddressFrames, MapEntry, is_unsymbolizable, parse_proc_maps, read_proc_maps, symbolize_addresses,
};
pub use profile::{
    MappingOutcome, MappingReport, SymbolizeOptions, SymbolizeReport, candidate_paths, symbolize_profile,
};
pub use symbolizer::{DEFAULT_CAPACITY, Symbolizer};
