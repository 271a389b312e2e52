//! Lines as Go's `bufio.Scanner` gives them to pprof's legacy parsers: split at
//! `\n`, a trailing `\r` dropped, a last line without `\n` kept, and an error for
//! a line of 64 KiB or more (the scanner's buffer limit).

/// The longest line Go's scanner accepts (its `MaxScanTokenSize` minus one).
const MAX_LINE: usize = 64 * 1024 - 1;

/// A line scanner: [`Scanner::scan`] advances, [`Scanner::text`] is the current
/// line (empty once the input is exhausted, as in Go).
pub(crate) struct Scanner<'a> {
    data: &'a [u8],
    pos: usize,
    cur: &'a [u8],
    err: bool,
}

/// Go's message for a line too long for its scanner.
pub(crate) const TOO_LONG: &str = "bufio.Scanner: token too long";

impl<'a> Scanner<'a> {
    /// A scanner over `data`, before its first line.
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Scanner { data, pos: 0, cur: b"", err: false }
    }

    /// Moves to the next line; false at the end or on a line too long.
    pub(crate) fn scan(&mut self) -> bool {
        self.cur = b"";
        if self.err || self.pos >= self.data.len() {
            return false;
        }
        let rest = &self.data[self.pos..];
        let (line, used) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        if line.len() > MAX_LINE {
            self.err = true;
            return false;
        }
        self.pos += used;
        self.cur = line.strip_suffix(b"\r").unwrap_or(line);
        true
    }

    /// The current line.
    pub(crate) fn text(&self) -> &'a [u8] {
        self.cur
    }

    /// The scanner's error, as Go words it.
    pub(crate) fn err(&self) -> Result<(), String> {
        if self.err { Err(TOO_LONG.into()) } else { Ok(()) }
    }
}

/// Go's `strings.TrimSpace` for ASCII whitespace (and the bytes Go trims).
pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let sp = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let start = s.iter().position(|b| !sp(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !sp(b)).map_or(start, |i| i + 1);
    &s[start..end.max(start)]
}

/// pprof's `isSpaceOrComment`: blank, or `#` first after the spaces.
pub(crate) fn is_space_or_comment(line: &[u8]) -> bool {
    let t = trim(line);
    t.is_empty() || t[0] == b'#'
}

/// Whether `needle` occurs in `hay`.
pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let mut s = Scanner::new(b"a\r\nb\n\nc");
        let mut got = Vec::new();
        while s.scan() {
            got.push(s.text().to_vec());
        }
        assert_eq!(got, [b"a".to_vec(), b"b".to_vec(), b"".to_vec(), b"c".to_vec()]);
        assert_eq!(s.text(), b"");
        assert!(s.err().is_ok());
        let long = vec![b'x'; MAX_LINE + 1];
        let mut s = Scanner::new(&long);
        assert!(!s.scan());
        assert_eq!(s.err().unwrap_err(), TOO_LONG);
        assert_eq!(trim(b" \t a b \n"), b"a b");
        assert_eq!(trim(b"   "), b"");
        assert!(is_space_or_comment(b"  # x") && is_space_or_comment(b"") && !is_space_or_comment(b"1 @"));
    }
}
