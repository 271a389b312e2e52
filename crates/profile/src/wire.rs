//! Protobuf wire format: a bounds-checked reader and a writer.
//!
//! Only what profile.proto needs: varints, length-delimited fields, fixed32/64
//! (skipped), packed repeated varints.

use crate::error::Problem;

pub(crate) const WT_VARINT: u8 = 0;
pub(crate) const WT_FIXED64: u8 = 1;
pub(crate) const WT_LEN: u8 = 2;
pub(crate) const WT_FIXED32: u8 = 5;

/// A cursor over protobuf bytes. `base` is the offset of `data[0]` in the whole
/// uncompressed input, for error messages.
#[derive(Clone)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], base: u64) -> Self {
        Reader { data, pos: 0, base }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// Offset of the next byte in the whole input.
    #[inline]
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    #[inline]
    pub(crate) fn varint(&mut self) -> Result<u64, Problem> {
        let data = self.data;
        let mut pos = self.pos;
        match data.get(pos) {
            Some(&b) if b < 0x80 => {
                self.pos = pos + 1;
                return Ok(b as u64);
            }
            None => return Err(Problem::Truncated),
            _ => {}
        }
        let mut v: u64 = 0;
        let mut shift = 0u32;
        loop {
            let Some(&b) = data.get(pos) else {
                return Err(Problem::Truncated);
            };
            pos += 1;
            if shift == 63 && b > 1 {
                return Err(Problem::BadVarint);
            }
            v |= ((b & 0x7f) as u64) << shift;
            if b < 0x80 {
                self.pos = pos;
                return Ok(v);
            }
            shift += 7;
            if shift > 63 {
                return Err(Problem::BadVarint);
            }
        }
    }

    /// Reads a field key: (field number, wire type).
    #[inline]
    pub(crate) fn key(&mut self) -> Result<(u64, u8), Problem> {
        let k = self.varint()?;
        Ok((k >> 3, (k & 7) as u8))
    }

    /// Reads a length-delimited payload; returns it with its offset in the input.
    #[inline]
    pub(crate) fn bytes(&mut self) -> Result<(&'a [u8], u64), Problem> {
        let len = self.varint()?;
        let available = (self.data.len() - self.pos) as u64;
        if len > available {
            return Err(Problem::Length { len, available });
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok((&self.data[start..self.pos], self.base + start as u64))
    }

    /// Skips a field's payload of wire type `wt`.
    pub(crate) fn skip(&mut self, wt: u8) -> Result<(), Problem> {
        match wt {
            WT_VARINT => self.varint().map(|_| ()),
            WT_FIXED64 => self.advance(8),
            WT_LEN => self.bytes().map(|_| ()),
            WT_FIXED32 => self.advance(4),
            other => Err(Problem::UnknownWireType(other)),
        }
    }

    fn advance(&mut self, n: usize) -> Result<(), Problem> {
        if self.data.len() - self.pos < n {
            return Err(Problem::Truncated);
        }
        self.pos += n;
        Ok(())
    }
}

/// Number of varints in packed data: count of bytes without the continuation bit.
#[inline]
pub(crate) fn count_packed(data: &[u8]) -> usize {
    data.iter().filter(|&&b| b < 0x80).count()
}

/// Bytes a varint takes.
#[inline]
pub(crate) fn varint_len(v: u64) -> usize {
    // 1 + floor(log2(v) / 7), with 1 for 0.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Appends protobuf fields to a byte vector.
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Writer { buf: Vec::with_capacity(n) }
    }

    #[inline]
    pub(crate) fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    #[inline]
    pub(crate) fn key(&mut self, field: u32, wt: u8) {
        self.varint(((field as u64) << 3) | wt as u64);
    }

    /// A varint field, always written.
    #[inline]
    pub(crate) fn uint(&mut self, field: u32, v: u64) {
        self.key(field, WT_VARINT);
        self.varint(v);
    }

    /// A varint field, omitted when zero.
    #[inline]
    pub(crate) fn uint_opt(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.uint(field, v);
        }
    }

    /// A bool field, omitted when false.
    #[inline]
    pub(crate) fn bool_opt(&mut self, field: u32, v: bool) {
        if v {
            self.uint(field, 1);
        }
    }

    /// A length-delimited field.
    pub(crate) fn bytes(&mut self, field: u32, data: &[u8]) {
        self.key(field, WT_LEN);
        self.varint(data.len() as u64);
        self.buf.extend_from_slice(data);
    }

    /// A repeated varint field: packed when it has more than two elements, as
    /// pprof's and Go's runtime encoders write it (two unpacked fields are no
    /// longer than one packed field).
    pub(crate) fn packed<I>(&mut self, field: u32, values: I)
    where
        I: Iterator<Item = u64> + Clone,
    {
        let (n, len) = values.clone().fold((0usize, 0usize), |(n, l), v| (n + 1, l + varint_len(v)));
        match n {
            0 => {}
            1 | 2 => {
                for v in values {
                    self.uint(field, v);
                }
            }
            _ => {
                self.key(field, WT_LEN);
                self.varint(len as u64);
                for v in values {
                    self.varint(v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_roundtrip_and_len() {
        for v in [0u64, 1, 127, 128, 300, 16383, 16384, u32::MAX as u64, u64::MAX - 1, u64::MAX] {
            let mut w = Writer::with_capacity(16);
            w.varint(v);
            assert_eq!(w.buf.len(), varint_len(v), "len of {v}");
            let mut r = Reader::new(&w.buf, 0);
            assert_eq!(r.varint().unwrap(), v);
            assert!(r.is_empty());
        }
    }

    #[test]
    fn bad_varints() {
        assert_eq!(Reader::new(&[0x80], 0).varint(), Err(Problem::Truncated));
        assert_eq!(Reader::new(&[0xff; 11], 0).varint(), Err(Problem::BadVarint));
        assert_eq!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02], 0).varint(),
            Err(Problem::BadVarint)
        );
    }

    #[test]
    fn length_beyond_data() {
        let mut r = Reader::new(&[0x05, 1, 2], 10);
        assert_eq!(r.bytes(), Err(Problem::Length { len: 5, available: 2 }));
    }
}
