//! Protobuf wire format: the few primitives the encoder and decoder need.

use crate::DecodeError;

pub(crate) const VARINT: u8 = 0;
pub(crate) const FIXED64: u8 = 1;
pub(crate) const LEN: u8 = 2;
pub(crate) const FIXED32: u8 = 5;

pub(crate) fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

pub(crate) fn put_key(buf: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(buf, (u64::from(field) << 3) | u64::from(wire_type));
}

pub(crate) fn put_uint(buf: &mut Vec<u8>, field: u32, v: u64) {
    put_key(buf, field, VARINT);
    put_varint(buf, v);
}

/// `int64`/`int32` fields: two's complement, ten bytes when negative.
pub(crate) fn put_int(buf: &mut Vec<u8>, field: u32, v: i64) {
    put_uint(buf, field, v as u64);
}

pub(crate) fn put_bytes(buf: &mut Vec<u8>, field: u32, b: &[u8]) {
    put_key(buf, field, LEN);
    put_varint(buf, b.len() as u64);
    buf.extend_from_slice(b);
}

pub(crate) fn put_fixed64(buf: &mut Vec<u8>, field: u32, v: u64) {
    put_key(buf, field, FIXED64);
    buf.extend_from_slice(&v.to_le_bytes());
}

/// A nested message: `f` writes its body into `scratch` (reused, so a hot
/// encoder does not allocate), then it is copied after its length.
pub(crate) fn put_message(buf: &mut Vec<u8>, field: u32, f: impl FnOnce(&mut Vec<u8>)) {
    let mut body = Vec::new();
    f(&mut body);
    put_bytes(buf, field, &body);
}

/// One field's value as read from the wire.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Bytes(&'a [u8]),
}

impl<'a> Value<'a> {
    pub(crate) fn uint(self, base: usize, what: &'static str) -> Result<u64, DecodeError> {
        match self {
            Value::Varint(v) | Value::Fixed64(v) => Ok(v),
            Value::Fixed32(v) => Ok(u64::from(v)),
            Value::Bytes(_) => Err(DecodeError::new(base, format!("{what}: expected a number, found bytes"))),
        }
    }

    pub(crate) fn bytes(self, base: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        match self {
            Value::Bytes(b) => Ok(b),
            _ => Err(DecodeError::new(base, format!("{what}: expected bytes, found a number"))),
        }
    }

    pub(crate) fn string(self, base: usize, what: &'static str) -> Result<String, DecodeError> {
        Ok(String::from_utf8_lossy(self.bytes(base, what)?).into_owned())
    }
}

/// A bounds-checked reader over one message's bytes. `base` is the message's
/// offset in the whole file, so errors name absolute byte offsets.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], base: usize) -> Self {
        Reader { data, pos: 0, base }
    }

    /// Absolute offset of the next unread byte.
    pub(crate) fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.data.get(self.pos) else {
                return Err(DecodeError::truncated(self.offset(), "varint"));
            };
            self.pos += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(DecodeError::new(self.offset(), "varint longer than 10 bytes".into()))
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return Err(DecodeError::truncated(self.offset(), what));
        };
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The next field: its number, its value, and the absolute offset where
    /// the value starts (for nested readers). `None` at the end.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u32, Value<'a>, usize)>, DecodeError> {
        if self.pos >= self.data.len() {
            return Ok(None);
        }
        let at = self.offset();
        let key = self.varint()?;
        let field = key >> 3;
        if field == 0 || field > u64::from(u32::MAX >> 3) {
            return Err(DecodeError::new(at, format!("invalid field number {field}")));
        }
        let start = self.offset();
        let value = match (key & 7) as u8 {
            VARINT => Value::Varint(self.varint()?),
            FIXED64 => {
                let b = self.take(8, "fixed64")?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Value::Fixed64(u64::from_le_bytes(a))
            }
            FIXED32 => {
                let b = self.take(4, "fixed32")?;
                let mut a = [0u8; 4];
                a.copy_from_slice(b);
                Value::Fixed32(u32::from_le_bytes(a))
            }
            LEN => {
                let n = self.varint()?;
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                let start = self.offset();
                let b = self.take(n, "length-delimited field")?;
                return Ok(Some((field as u32, Value::Bytes(b), start)));
            }
            wt => return Err(DecodeError::new(at, format!("field {field}: unsupported wire type {wt}"))),
        };
        Ok(Some((field as u32, value, start)))
    }
}
