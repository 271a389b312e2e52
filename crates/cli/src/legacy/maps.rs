//! The memory map at the end of a legacy profile (`/proc/self/maps` lines, or
//! pprof's brief `start-end file (@offset) buildid` form), read as pprof reads
//! it: glog prefixes removed, `name=value` lines define `$name` for the lines
//! after, non-executable entries and unrecognized lines skipped.

use std::sync::OnceLock;

use hashbrown::HashMap;
use regex::bytes::Regex;

use super::raw::Map;
use super::scan::Scanner;

/// The line markers after which the memory map starts.
const SENTINELS: &[&[u8]] = &[b"--- Memory map: ---", b"MAPPED_LIBRARIES:"];

/// pprof's `isMemoryMapSentinel`: the line contains a memory map marker.
pub(crate) fn is_sentinel(line: &[u8]) -> bool {
    SENTINELS.iter().any(|s| line.windows(s.len()).any(|w| w == *s))
}

/// Go's `\s` (RE2: no vertical tab) and its complement.
const S: &str = r"[\t\n\f\r ]";
const NS: &str = r"[^\t\n\f\r ]";

struct Res {
    proc_maps: Regex,
    brief: Regex,
    log_info: Regex,
}

fn res() -> &'static Res {
    static R: OnceLock<Res> = OnceLock::new();
    R.get_or_init(|| {
        let hex = "(?:0x)?([[:xdigit:]]+)";
        let range = format!("{S}*{hex}(?:{S}|-)?{S}*{hex}:?");
        let perm = format!("(?:{S}+([-rwxp]+))?");
        let space_hex = format!("(?:{S}+([[:xdigit:]]+))?");
        let space_string = format!("(?:{S}+({NS}+))?");
        let at_offset = format!(r"(?:{S}+\(@([[:xdigit:]]+)\))?");
        let dev = format!("{S}+[[:xdigit:]]+:[[:xdigit:]]+");
        let inode = format!("{S}+[0-9]+");
        let re = |s: &str| Regex::new(&format!("(?-u){s}")).expect("valid regexp");
        Res {
            proc_maps: re(&format!("^{range}{perm}{space_hex}{dev}{inode}{space_string}")),
            brief: re(&format!("^{range}{perm}{space_string}{at_offset}{space_hex}")),
            log_info: re(&format!(r"^[^\[\]]+:[0-9]+\]{S}")),
        }
    })
}

/// Reads the mappings from the scanner's remaining lines (pprof's
/// `parseProcMapsFromScanner`).
pub(crate) fn parse(s: &mut Scanner<'_>) -> Result<Vec<Map>, String> {
    let mut maps = Vec::new();
    let mut attrs = Attrs::default();
    while s.scan() {
        let line = attrs.replace(remove_logging_info(s.text()));
        match parse_entry(&line) {
            Entry::Map(m) => maps.push(m),
            Entry::Skip => {}
            Entry::Unrecognized => {
                if let Some(eq) = line.iter().position(|&b| b == b'=') {
                    let mut key = b"$".to_vec();
                    key.extend_from_slice(super::scan::trim(&line[..eq]));
                    attrs.define(key, super::scan::trim(&line[eq + 1..]).to_vec());
                }
            }
        }
    }
    s.err()?;
    Ok(maps)
}

fn remove_logging_info(line: &[u8]) -> &[u8] {
    match res().log_info.find(line) {
        Some(m) => &line[m.end()..],
        None => line,
    }
}

/// The `$name` definitions of a memory map, for Go's `strings.Replacer`: at
/// each position the first definition (in order) that matches is replaced.
/// Definitions are indexed by length, so a line costs its `$`s times the
/// number of distinct name lengths, not times the number of definitions.
/// Names of one length -> (definition order, value).
type Definitions = HashMap<Vec<u8>, (usize, Vec<u8>)>;

#[derive(Default)]
struct Attrs {
    /// (name length, its names), lengths in first-seen order.
    by_len: Vec<(usize, Definitions)>,
    n: usize,
}

impl Attrs {
    fn define(&mut self, name: Vec<u8>, value: Vec<u8>) {
        let order = self.n;
        self.n += 1;
        let len = name.len();
        let i = match self.by_len.iter().position(|(l, _)| *l == len) {
            Some(i) => i,
            None => {
                self.by_len.push((len, HashMap::new()));
                self.by_len.len() - 1
            }
        };
        self.by_len[i].1.entry(name).or_insert((order, value));
    }

    fn replace(&self, line: &[u8]) -> Vec<u8> {
        if self.n == 0 || !line.contains(&b'$') {
            return line.to_vec();
        }
        let mut out = Vec::with_capacity(line.len());
        let mut i = 0;
        while i < line.len() {
            let best = if line[i] == b'$' {
                self.by_len
                    .iter()
                    .filter_map(|(len, m)| {
                        line.get(i..i + len).and_then(|k| m.get(k)).map(|(o, v)| (*o, *len, v))
                    })
                    .min_by_key(|(o, _, _)| *o)
            } else {
                None
            };
            match best {
                Some((_, len, v)) => {
                    out.extend_from_slice(v);
                    i += len;
                }
                None => {
                    out.push(line[i]);
                    i += 1;
                }
            }
        }
        out
    }
}

enum Entry {
    Map(Map),
    Skip,
    Unrecognized,
}

fn parse_entry(l: &[u8]) -> Entry {
    let r = res();
    let g = |c: &regex::bytes::Captures<'_>, i: usize| c.get(i).map_or(&b""[..], |m| m.as_bytes()).to_vec();
    let (start, end, perm, file, offset, build_id) = if let Some(c) = r.proc_maps.captures(l) {
        (g(&c, 1), g(&c, 2), g(&c, 3), g(&c, 5), g(&c, 4), Vec::new())
    } else if let Some(c) = r.brief.captures(l) {
        (g(&c, 1), g(&c, 2), g(&c, 3), g(&c, 4), g(&c, 5), g(&c, 6))
    } else {
        return Entry::Unrecognized;
    };
    if !perm.is_empty() && !perm.contains(&b'x') {
        return Entry::Skip;
    }
    let hex = |v: &[u8]| std::str::from_utf8(v).ok().and_then(|s| u64::from_str_radix(s, 16).ok());
    let (Some(start), Some(limit)) = (hex(&start), hex(&end)) else { return Entry::Unrecognized };
    let offset = if offset.is_empty() {
        0
    } else {
        match hex(&offset) {
            Some(o) => o,
            None => return Entry::Unrecognized,
        }
    };
    Entry::Map(Map { start, limit, offset, file, build_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps(text: &str) -> Vec<(u64, u64, u64, String, String)> {
        let mut s = Scanner::new(text.as_bytes());
        parse(&mut s)
            .unwrap()
            .into_iter()
            .map(|m| {
                let st = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
                (m.start, m.limit, m.offset, st(&m.file), st(&m.build_id))
            })
            .collect()
    }

    #[test]
    fn forms() {
        let got = maps(concat!(
            "561f092be000-561f092bf000 r--p 00000000 00:00 10012225    /tmp/burn\n",
            "561f092bf000-561f092c0000 r-xp 00001000 00:00 10012225    /tmp/burn\n",
            "7f00-8f00 r-xp 00000000 08:01 77  [vdso]\n",
            "I1203 10:00:00.000 x.cc:12] 0x1000-0x2000 /bin/app (@f00) abc123\n",
            "dir=/opt\n",
            "0x3000-0x4000 $dir/lib.so\n",
            "d=/first\n",
            "dir=/second\n",
            "0x5000-0x6000 $dir/$d/x\n",
        ));
        assert_eq!(
            got,
            [
                (0x561f092bf000, 0x561f092c0000, 0x1000, "/tmp/burn".into(), "".into()),
                (0x7f00, 0x8f00, 0, "[vdso]".into(), "".into()),
                (0x1000, 0x2000, 0xf00, "/bin/app".into(), "abc123".into()),
                (0x3000, 0x4000, 0, "/opt/lib.so".into(), "".into()),
                (0x5000, 0x6000, 0, "/opt//first/x".into(), "".into()),
            ]
        );
        assert!(is_sentinel(b"xx MAPPED_LIBRARIES: yy") && !is_sentinel(b"MAPPED"));
    }
}
