//! [`Symbolizer`]: a bounded cache of opened binaries.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::base::MappingRange;
use crate::binary::{Binary, Frame};
use crate::demangle::DemangleStyle;
use crate::error::Error;

/// Number of binaries a [`Symbolizer`] keeps open by default.
pub const DEFAULT_CAPACITY: usize = 8;

/// What identifies one version of a file on disk: if any of these change, the
/// cached binary is stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
}

fn stamp(path: &Path) -> Result<FileStamp, Error> {
    let md = std::fs::metadata(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    Ok(FileStamp { len: md.len(), modified: md.modified().ok() })
}

struct Entry {
    path: PathBuf,
    stamp: FileStamp,
    binary: Binary,
}

/// Opens binaries and keeps the most recently used ones (at most
/// [`Symbolizer::capacity`], default [`DEFAULT_CAPACITY`]) for further lookups.
///
/// Entries are keyed by path and build ID: a file replaced on disk (new size or
/// modification time) is opened again, and asking for a build ID the file does
/// not have is refused with [`Error::BuildIdMismatch`]. [`Symbolizer::clear`]
/// (or dropping the symbolizer) releases every binary; the profilers call it
/// after writing a profile.
pub struct Symbolizer {
    capacity: usize,
    /// Least recently used first.
    entries: Vec<Entry>,
    debug_dirs: Vec<PathBuf>,
    style: DemangleStyle,
}

impl Default for Symbolizer {
    fn default() -> Self {
        Symbolizer::new()
    }
}

impl std::fmt::Debug for Symbolizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Symbolizer")
            .field("capacity", &self.capacity)
            .field("open", &self.entries.iter().map(|e| &e.path).collect::<Vec<_>>())
            .field("debug_dirs", &self.debug_dirs)
            .field("style", &self.style)
            .finish()
    }
}

impl Symbolizer {
    /// A symbolizer keeping up to [`DEFAULT_CAPACITY`] binaries open, looking for
    /// separate debug files under `/usr/lib/debug`, demangling in pprof's default
    /// style.
    pub fn new() -> Self {
        Symbolizer::with_capacity(DEFAULT_CAPACITY)
    }

    /// A symbolizer keeping up to `capacity` binaries open (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        Symbolizer {
            capacity: capacity.max(1),
            entries: Vec::new(),
            debug_dirs: vec![PathBuf::from("/usr/lib/debug")],
            style: DemangleStyle::default(),
        }
    }

    /// The maximum number of binaries kept open.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Changes the maximum number of binaries kept open (at least 1), closing the
    /// least recently used ones if needed.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
        self.evict();
    }

    /// The directories searched for separate debug files.
    pub fn debug_dirs(&self) -> &[PathBuf] {
        &self.debug_dirs
    }

    /// Sets the directories searched for separate debug files (default:
    /// `/usr/lib/debug`). Applies to binaries opened from now on.
    pub fn set_debug_dirs(&mut self, dirs: Vec<PathBuf>) {
        self.debug_dirs = dirs;
    }

    /// How function names are demangled.
    pub fn demangle_style(&self) -> DemangleStyle {
        self.style
    }

    /// Sets how function names are demangled.
    pub fn set_demangle_style(&mut self, style: DemangleStyle) {
        self.style = style;
    }

    /// Number of binaries currently open.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no binary is open.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The paths of the open binaries, least recently used first.
    pub fn open_paths(&self) -> impl Iterator<Item = &Path> + '_ {
        self.entries.iter().map(|e| e.path.as_path())
    }

    /// Closes every binary and frees their memory.
    pub fn clear(&mut self) {
        self.entries = Vec::new();
    }

    /// Closes the binary opened from `path`, if open; returns whether it was.
    pub fn remove(&mut self, path: &Path) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| e.path != path);
        self.entries.len() != before
    }

    fn evict(&mut self) {
        if self.entries.len() > self.capacity {
            let excess = self.entries.len() - self.capacity;
            self.entries.drain(..excess);
        }
    }

    /// The binary at `path`, opened now or taken from the cache.
    pub fn open(&mut self, path: &Path) -> Result<&Binary, Error> {
        self.open_expecting(path, "")
    }

    /// The binary at `path`, which must have build ID `build_id` when both it and
    /// the file have one (an empty `build_id` accepts any file).
    pub fn open_expecting(&mut self, path: &Path, build_id: &str) -> Result<&Binary, Error> {
        let st = stamp(path)?;
        let pos = self.entries.iter().position(|e| e.path == path);
        let idx = match pos {
            Some(i) if self.entries[i].stamp == st => {
                let e = self.entries.remove(i);
                self.entries.push(e);
                self.entries.len() - 1
            }
            _ => {
                if let Some(i) = pos {
                    self.entries.remove(i);
                }
                let binary = Binary::open_with_debug_dirs(path, &self.debug_dirs)?;
                self.entries.push(Entry { path: path.to_path_buf(), stamp: st, binary });
                self.evict();
                self.entries.len() - 1
            }
        };
        let binary = &self.entries[idx].binary;
        let found = binary.build_id();
        if !build_id.is_empty() && !found.is_empty() && !found.eq_ignore_ascii_case(build_id) {
            return Err(Error::BuildIdMismatch {
                path: path.to_path_buf(),
                expected: build_id.to_string(),
                found: found.to_string(),
            });
        }
        Ok(binary)
    }

    /// The frames at runtime address `addr` of `mapping`, a mapping of the file at
    /// `path`: innermost inlined function first.
    pub fn frames(&mut self, path: &Path, mapping: &MappingRange, addr: u64) -> Result<Vec<Frame>, Error> {
        let style = self.style;
        let binary = self.open(path)?;
        let file_addr = binary.file_address(mapping, addr)?;
        Ok(binary.frames(file_addr, style))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbolizer_is_send() {
        fn send<T: Send>() {}
        send::<Symbolizer>();
        send::<Binary>();
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let mut s = Symbolizer::with_capacity(0);
        assert_eq!(s.capacity(), 1);
        let err = s.open(Path::new("/nonexistent/rustprof/binary")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }));
        assert!(err.to_string().contains("/nonexistent/rustprof/binary"), "{err}");
        assert!(s.is_empty());
        assert!(!s.remove(Path::new("/nonexistent/rustprof/binary")));
    }
}
