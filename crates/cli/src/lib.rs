//! `rustprof-cli`: the `rustprof` analyzer, a drop-in for `go tool pprof`.
//!
//! The flow is one way: [`driver`] parses the command line (Go's flag rules, the
//! same flags as pprof) into a source and a report command; [`fetch`] reads and
//! merges the profiles (files or URLs), applies a base, symbolizes and prunes;
//! [`filter`] applies focus/ignore/hide/show/tag filters exactly as pprof does;
//! [`graph`] turns samples into nodes and edges and trims them; [`report`] has one
//! module per output format, with units formatted by [`measurement`]. [`shell`]
//! is the interactive mode over the same reports, and [`web`] the web UI
//! (`-http`) over them, with the flame graph of [`report::flame`]. [`trace`]
//! reads execution traces: their derived profiles enter the same flow, and the
//! web UI gets a timeline of them.

pub mod commands;
pub mod config;
pub mod disasm;
pub mod driver;
pub mod fetch;
pub mod filter;
pub mod flags;
pub mod gofmt;
pub mod graph;
pub mod labels;
pub mod legacy;
pub mod limits;
pub mod measurement;
pub mod post;
pub mod remote;
pub mod report;
pub mod shell;
pub mod sniff;
pub mod sources;
pub mod svg;
pub mod symbolize;
pub mod timing;
pub mod trace;
pub mod web;

pub use driver::run;
