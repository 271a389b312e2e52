//! `rustprof-profile`: the profile.proto data model that every part of rustprof
//! reads or writes.
//!
//! profile.proto is the format of `go tool pprof`, Pyroscope, Parca and Speedscope.
//! This crate holds it in memory in columns ([`Profile`], [`Samples`]): tables as
//! vectors, references as dense indexes, strings interned once in a
//! [`StringTable`]. Around that model:
//!
//! - [`decode`] / [`decode_reader`]: gzip-compressed or raw bytes (detected), a
//!   hand-written, bounds-checked protobuf reader; errors name the message, field
//!   and byte offset ([`DecodeError`], [`FormatError`]).
//! - [`encode`] / [`write_gzip`] / [`encode_uncompressed`]: deterministic output;
//!   `decode(encode(p)) == p`.
//! - [`validate`]: consistency checks for profiles built or changed in memory.
//! - [`ProfileBuilder`]: what profilers use to intern strings, functions, mappings
//!   and locations and to add samples with labels.
//! - [`merge`], [`compact`], [`scale`], [`scale_n`], [`subtract`], [`normalize`],
//!   [`compatible`]: pprof's operations on whole profiles, with its exact rules.
//!
//! [`tabwriter`] lays text out in Go's `text/tabwriter` columns, for the texts
//! pprof and Go's `debug=1` profiles print. The crate does no I/O beyond `Read`
//! and `Write` and has no OS-specific code.
//!
//! ```
//! use rustprof_profile::{ProfileBuilder, MappingInfo, Line};
//!
//! let mut b = ProfileBuilder::new(&[("samples", "count"), ("cpu", "nanoseconds")]);
//! b.period("cpu", "nanoseconds", 10_000_000);
//! let m = b.add_mapping(&MappingInfo { memory_start: 0x1000, memory_limit: 0x9000,
//!                                      filename: "/bin/app", ..Default::default() });
//! let f = b.add_function("app::hot", "_ZN3app3hot17h0123456789abcdefE", "src/main.rs", 10);
//! let loc = b.add_location(Some(m), 0x1234, &[Line { function: f, line: 12, column: 0 }], false);
//! b.add_sample(&[loc], &[3, 30_000_000], &[]);
//! let profile = b.build();
//!
//! let bytes = rustprof_profile::encode(&profile);
//! let back = rustprof_profile::decode(&bytes).unwrap();
//! assert_eq!(back, profile);
//! assert_eq!(back.totals(), vec![3, 30_000_000]);
//! ```

#![deny(unsafe_code)]

mod budget;
mod builder;
mod decode;
mod encode;
mod error;
mod model;
mod ops;
mod strings;
pub mod tabwriter;
mod validate;
mod wire;

pub use builder::{MappingInfo, ProfileBuilder};
pub use decode::{
    DecodeOptions, decode, decode_reader, decode_reader_with, decode_uncompressed, decode_uncompressed_with,
    decode_with, gunzip, gzip_size_hint, is_gzip,
};
pub use encode::{
    DEFAULT_LEVEL, encode, encode_as_pprof, encode_uncompressed, encode_uncompressed_as_pprof, write_gzip,
    write_gzip_level,
};
pub use error::{CompatError, DecodeError, FormatError, Problem, ValidationError, human_bytes};
pub use model::{
    Function, FunctionIdx, Label, Line, Location, LocationIdx, Mapping, MappingIdx, Profile, SampleRef,
    Samples, ValueType,
};
pub use ops::{compact, compatible, merge, normalize, scale, scale_n, subtract};
pub use strings::{
    StrId, StringTable, UnescapeWriter, escape_bytes, escapes_to_replacement, unescape, unescape_vec,
};
pub use validate::validate;
