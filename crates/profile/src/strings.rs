//! The string table: every string of a profile stored once, in one buffer.
//!
//! profile.proto refers to strings by their index in `string_table`; so does the
//! in-memory model ([`StrId`]). Index 0 is always the empty string. The table keeps
//! the order and the duplicates of a decoded file (so that decode → encode is
//! lossless) and can intern new strings, which returns the index of the first equal
//! string when there is one.

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
