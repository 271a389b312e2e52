//! The errors of this crate: each names the file and what was wrong with it.

use std::io;
use std::path::PathBuf;

/// What went wrong while opening or reading a binary, or while reading a
/// process's memory map.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read (missing, unreadable, a directory…).
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The file does not start with the ELF magic number.
    #[error("{}: not an ELF file", path.display())]
    NotElf {
        /// The file.
        path: PathBuf,
    },
    /// The file claims to be ELF but its headers, sections or symbols are
    /// malformed or truncated.
    #[error("{}: malformed ELF file: {reason}", path.display())]
    Elf {
        /// The file.
        path: PathBuf,
        /// What the ELF parser found wrong.
        reason: String,
    },
    /// The DWARF debugging information could not be parsed.
    #[error("{}: corrupt DWARF debug info: {reason}", path.display())]
    Dwarf {
        /// The file holding the DWARF sections (the binary or its debug file).
        path: PathBuf,
        /// What the DWARF parser found wrong.
        reason: String,
    },
    /// No base address could be computed for a mapping of this file
    /// (pprof: "could not identify base").
    #[error("{}: could not identify base: {reason}", path.display())]
    Base {
        /// The file.
        path: PathBuf,
        /// Why no base could be computed.
        reason: String,
    },
    /// The file's GNU build ID is not the one the profile's mapping expects.
    #[error("{}: build ID mismatch (expected {expected}, file has {found})", path.display())]
    BuildIdMismatch {
        /// The file.
        path: PathBuf,
        /// The build ID recorded in the mapping.
        expected: String,
        /// The build ID of the file (empty when it has none).
        found: String,
    },
}

impl Error {
    /// The file the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            Error::Io { path, .. }
            | Error::NotElf { path }
            | Error::Elf { path, .. }
            | Error::Dwarf { path, .. }
            | Error::Base { path, .. }
            | Error::BuildIdMismatch { path, .. } => path,
        }
    }
}
