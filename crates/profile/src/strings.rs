//! The string table: every string of a profile stored once, in one buffer.
//!
//! profile.proto refers to strings by their index in `string_table`; so does the
//! in-memory model ([`StrId`]). Index 0 is always the empty string. The table keeps
//! the order and the duplicates of a decoded file (so that decode → encode is
//! lossless) and can intern new strings, which returns the index of the first equal
//! string when there is one.
//!
//! **Bytes that are not UTF-8.** profile.proto's strings are bytes, and pprof
//! prints them as they are (function names from eBPF agents, labels). The table
//! holds `str`s, so a byte `b` that is not part of valid UTF-8 is kept as the
//! private-use character U+10FF00 + `b` ([`escape_bytes`]); a valid character of
//! that range (U+10FF80..=U+10FFFF, noncharacters and private use) is kept as its
//! four bytes escaped, so that the mapping is one to one. [`unescape`] gives the
//! original bytes back: the encoder writes them, and the analyzer prints them.
//! Valid UTF-8 without the byte 0xF4 (the lead byte of that range) is stored
//! unchanged, at the cost of one scan for 0xF4.

use std::borrow::Cow;

use hashbrown::DefaultHashBuilder;
use hashbrown::HashTable;
use std::fmt;
use std::hash::BuildHasher;

/// Index of a string in a [`StringTable`]. `StrId(0)` is the empty string.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StrId(pub u32);

impl StrId {
    /// The empty string, present in every table at index 0.
    pub const EMPTY: StrId = StrId(0);

    /// The index as a `usize`.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// True for the empty string's index.
    #[inline]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// All strings of a profile, in one contiguous buffer.
pub struct StringTable {
    buf: String,
    /// `ends[i]` is the end offset of string `i` in `buf`; string `i` starts at `ends[i-1]`.
    ends: Vec<usize>,
    /// Lazily built on the first [`StringTable::intern`]: index by content.
    index: Option<HashTable<u32>>,
    hasher: DefaultHashBuilder,
}

impl StringTable {
    /// A table holding only the empty string.
    pub fn new() -> Self {
        StringTable { buf: String::new(), ends: vec![0], index: None, hasher: DefaultHashBuilder::default() }
    }

    /// An empty table (without even the empty string), for decoders that push the
    /// file's own entry 0, with room for `strings` strings of `bytes` bytes in
    /// all; `None` when the memory is refused.
    pub(crate) fn try_with_capacity_raw(strings: usize, bytes: usize) -> Option<Self> {
        let mut buf = String::new();
        buf.try_reserve_exact(bytes).ok()?;
        let mut ends = Vec::new();
        ends.try_reserve_exact(strings).ok()?;
        Some(StringTable { buf, ends, index: None, hasher: DefaultHashBuilder::default() })
    }

    /// Number of strings, including the empty string at index 0.
    #[inline]
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when the table has no entries at all (not even index 0).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Total bytes of string data.
    pub fn byte_len(&self) -> usize {
        self.buf.len()
    }

    /// The string at `id`; the empty string when `id` is out of range (validated
    /// profiles never have such ids).
    #[inline]
    pub fn get(&self, id: StrId) -> &str {
        let i = id.index();
        match self.ends.get(i) {
            Some(&end) => {
                let start = if i == 0 { 0 } else { self.ends[i - 1] };
                &self.buf[start..end]
            }
            None => "",
        }
    }

    /// True when `id` names an entry of this table.
    #[inline]
    pub fn contains(&self, id: StrId) -> bool {
        id.index() < self.ends.len()
    }

    /// Appends `s` without looking for an equal string (decoders keep duplicates).
    pub fn push(&mut self, s: &str) -> StrId {
        let id = StrId(self.ends.len() as u32);
        self.buf.push_str(s);
        self.ends.push(self.buf.len());
        if let Some(index) = self.index.as_mut() {
            let hasher = &self.hasher;
            let h = hasher.hash_one(s);
            let buf = &self.buf;
            let ends = &self.ends;
            if index.find(h, |&j| str_at(buf, ends, j as usize) == s).is_none() {
                index.insert_unique(h, id.0, |&j| hasher.hash_one(str_at(buf, ends, j as usize)));
            }
        }
        id
    }

    /// The original bytes of the string at `id` (see [`unescape`]).
    pub fn get_bytes(&self, id: StrId) -> Cow<'_, [u8]> {
        unescape(self.get(id))
    }

    /// [`StringTable::intern`] for bytes that may not be UTF-8 (see [`escape_bytes`]).
    pub fn intern_bytes(&mut self, b: &[u8]) -> StrId {
        let s = escape_bytes(b).into_owned();
        self.intern(&s)
    }

    /// The index of `s`, adding it when it is not in the table yet.
    pub fn intern(&mut self, s: &str) -> StrId {
        if let Some(id) = self.lookup(s) {
            return id;
        }
        self.push(s)
    }

    /// The index of the first string equal to `s`, if any.
    pub fn lookup(&mut self, s: &str) -> Option<StrId> {
        self.build_index();
        let h = self.hasher.hash_one(s);
        let buf = &self.buf;
        let ends = &self.ends;
        self.index
            .as_ref()
            .and_then(|ix| ix.find(h, |&j| str_at(buf, ends, j as usize) == s))
            .map(|&j| StrId(j))
    }

    fn build_index(&mut self) {
        if self.index.is_some() {
            return;
        }
        let mut index = HashTable::with_capacity(self.ends.len());
        let hasher = &self.hasher;
        let buf = &self.buf;
        let ends = &self.ends;
        for i in 0..ends.len() {
            let s = str_at(buf, ends, i);
            let h = hasher.hash_one(s);
            if index.find(h, |&j: &u32| str_at(buf, ends, j as usize) == s).is_none() {
                index.insert_unique(h, i as u32, |&j| hasher.hash_one(str_at(buf, ends, j as usize)));
            }
        }
        self.index = Some(index);
    }

    /// Iterates over `(id, string)` in table order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (StrId, &str)> + '_ {
        (0..self.ends.len()).map(move |i| (StrId(i as u32), str_at(&self.buf, &self.ends, i)))
    }
}

/// First character of the escape range: byte `b` (≥ 0x80) is U+10FF00 + `b`.
const ESCAPE_BASE: u32 = 0x10FF00;
/// The lowest escaped byte value (ASCII is always valid UTF-8).
const ESCAPE_FIRST: u32 = ESCAPE_BASE + 0x80;

#[inline]
fn escape_char(b: u8) -> char {
    // 0x10FF80..=0x10FFFF are all scalar values.
    char::from_u32(ESCAPE_BASE + b as u32).unwrap_or(char::REPLACEMENT_CHARACTER)
}

#[inline]
fn is_escape(c: char) -> bool {
    c as u32 >= ESCAPE_FIRST
}

/// Bytes as the table stores them: unchanged when they are UTF-8 without a
/// character of the escape range, else with each byte that is not part of a
/// valid character (and each byte of a character of the escape range) escaped.
pub fn escape_bytes(b: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) if !b.contains(&0xF4) || !s.chars().any(is_escape) => Cow::Borrowed(s),
        _ => Cow::Owned(escape_slow(b)),
    }
}

fn escape_slow(mut b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() + 8);
    while !b.is_empty() {
        let (valid, rest) = match std::str::from_utf8(b) {
            Ok(s) => (s, &b[b.len()..]),
            Err(e) => {
                let (v, r) = b.split_at(e.valid_up_to());
                // The prefix is valid by construction.
                (std::str::from_utf8(v).unwrap_or(""), r)
            }
        };
        for c in valid.chars() {
            if is_escape(c) {
                let mut buf = [0u8; 4];
                for &x in c.encode_utf8(&mut buf).as_bytes() {
                    out.push(escape_char(x));
                }
            } else {
                out.push(c);
            }
        }
        if let Some((&bad, r)) = rest.split_first() {
            out.push(escape_char(bad));
            b = r;
        } else {
            b = rest;
        }
    }
    out
}

/// The original bytes of a stored string ([`escape_bytes`] undone); borrowed
/// when there is nothing to undo.
pub fn unescape(s: &str) -> Cow<'_, [u8]> {
    if !s.as_bytes().contains(&0xF4) || !s.chars().any(is_escape) {
        return Cow::Borrowed(s.as_bytes());
    }
    let mut out = Vec::with_capacity(s.len());
    let mut buf = [0u8; 4];
    for c in s.chars() {
        if is_escape(c) {
            out.push((c as u32 - ESCAPE_BASE) as u8);
        } else {
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    Cow::Owned(out)
}

/// [`unescape`] over a whole text (a report), in place when nothing changes.
pub fn unescape_vec(text: Vec<u8>) -> Vec<u8> {
    if !text.contains(&0xF4) {
        return text;
    }
    match String::from_utf8(text) {
        Ok(s) => match unescape(&s) {
            Cow::Borrowed(_) => s.into_bytes(),
            Cow::Owned(v) => v,
        },
        // Not text: left alone.
        Err(e) => e.into_bytes(),
    }
}

/// A stored string for a context that must stay UTF-8 (HTML, JSON): each
/// escaped byte becomes U+FFFD, as a browser would show it.
pub fn escapes_to_replacement(s: &str) -> Cow<'_, str> {
    if !s.as_bytes().contains(&0xF4) || !s.chars().any(is_escape) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.chars().map(|c| if is_escape(c) { char::REPLACEMENT_CHARACTER } else { c }).collect())
}

/// A writer that undoes [`escape_bytes`] on text written through it (an escape
/// split across two writes is held until its end arrives).
pub struct UnescapeWriter<W: std::io::Write> {
    inner: W,
    held: Vec<u8>,
}

impl<W: std::io::Write> UnescapeWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        UnescapeWriter { inner, held: Vec::new() }
    }
}

impl<W: std::io::Write> std::io::Write for UnescapeWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.held.is_empty() && !buf.contains(&0xF4) {
            self.inner.write_all(buf)?;
            return Ok(buf.len());
        }
        self.held.extend_from_slice(buf);
        // Keep back an unfinished 4-byte sequence at the end.
        let n = self.held.len();
        let cut = (n.saturating_sub(3)..n).find(|&i| self.held[i] == 0xF4).unwrap_or(n);
        let text = self.held[..cut].to_vec();
        self.held.drain(..cut);
        self.inner.write_all(&unescape_vec(text))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let rest = std::mem::take(&mut self.held);
        self.inner.write_all(&unescape_vec(rest))?;
        self.inner.flush()
    }
}

#[inline]
fn str_at<'a>(buf: &'a str, ends: &[usize], i: usize) -> &'a str {
    let start = if i == 0 { 0 } else { ends[i - 1] };
    &buf[start..ends[i]]
}

impl Default for StringTable {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for StringTable {
    fn clone(&self) -> Self {
        StringTable { buf: self.buf.clone(), ends: self.ends.clone(), index: None, hasher: self.hasher }
    }
}

impl PartialEq for StringTable {
    fn eq(&self, other: &Self) -> bool {
        self.ends == other.ends && self.buf == other.buf
    }
}

impl Eq for StringTable {}

impl fmt::Debug for StringTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().map(|(_, s)| s)).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_are_not_utf8_round_trip() {
        let cases: &[&[u8]] = &[
            b"plain",
            b"",
            b"caf\xe9",                         // Latin-1
            b"\xff\xfe\x80",                    // nothing valid
            "é·🦀".as_bytes(),                  // valid multi-byte
            b"\xe6\x97",                        // a cut character
            "\u{10ff80}x\u{10ffff}".as_bytes(), // valid, in the escape range
            b"\xf4\x8f\xbe",                    // the start of an escape, cut
            b"a\xf4\x8f\xbe\x80\xf4",           // an escape's bytes, then a lone lead
        ];
        for &c in cases {
            let e = escape_bytes(c);
            assert_eq!(&*unescape(&e), c, "{c:x?} -> {e:?}");
            let mut t = StringTable::new();
            let id = t.intern_bytes(c);
            assert_eq!(&*t.get_bytes(id), c);
        }
        assert!(matches!(escape_bytes(b"plain \xc3\xa9"), Cow::Borrowed(_)));
        // One to one: distinct inputs stay distinct.
        assert_ne!(escape_bytes(b"\xe9"), escape_bytes("\u{10ffe9}".as_bytes()));
        assert_eq!(escapes_to_replacement(&escape_bytes(b"a\xffb")), "a\u{fffd}b");
    }

    #[test]
    fn the_writer_undoes_escapes_split_across_writes() {
        use std::io::Write;
        let text = escape_bytes(b"x\xe9y\xff").into_owned().into_bytes();
        for split in 0..=text.len() {
            let mut w = UnescapeWriter::new(Vec::new());
            w.write_all(&text[..split]).unwrap();
            w.write_all(&text[split..]).unwrap();
            w.flush().unwrap();
            assert_eq!(w.inner, b"x\xe9y\xff", "split at {split}");
        }
    }

    #[test]
    fn intern_returns_first_equal_entry() {
        let mut t = StringTable::new();
        let a = t.push("a");
        let a2 = t.push("a");
        assert_ne!(a, a2);
        assert_eq!(t.intern("a"), a);
        let b = t.intern("b");
        assert_eq!(t.get(b), "b");
        assert_eq!(t.intern(""), StrId::EMPTY);
        assert_eq!(t.len(), 4);
        let c = t.push("c");
        assert_eq!(t.intern("c"), c);
        assert_eq!(t.get(StrId(99)), "");
    }
}
