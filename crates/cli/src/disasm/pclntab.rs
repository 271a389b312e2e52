//! Go's PC-to-line table (`.gopclntab`, Go 1.18 and later): the file and
//! line of each instruction of a Go binary, as Go's own disassembler reports them.

/// A parsed `.gopclntab`.
pub struct LineTable {
    data: Vec<u8>,
    quantum: u64,
    ptr_size: usize,
    nfunc: usize,
    text_start: u64,
    funcname_offset: usize,
    cu_offset: usize,
    filetab_offset: usize,
    pctab_offset: usize,
    functab_offset: usize,
}

impl LineTable {
    /// Parses `data`, with `text_start` the address of `runtime.text`; `None`
    /// for a table of another format (older Go, or not Go at all).
    pub fn parse(data: Vec<u8>, text_start: u64) -> Option<LineTable> {
        if data.len() < 16 {
            return None;
        }
        let magic = u32::from_le_bytes(data[0..4].try_into().ok()?);
        if magic != 0xffff_fff0 && magic != 0xffff_fff1 {
            return None;
        }
        let quantum = data[6] as u64;
        let ptr_size = data[7] as usize;
        if ptr_size != 4 && ptr_size != 8 {
            return None;
        }
        let mut t = LineTable {
            data,
            quantum,
            ptr_size,
            nfunc: 0,
            text_start,
            funcname_offset: 0,
            cu_offset: 0,
            filetab_offset: 0,
            pctab_offset: 0,
            functab_offset: 0,
        };
        let word = |i: usize| t.uintptr(8 + i * ptr_size);
        let nfunc = word(0)? as usize;
        // Field 2 is the unrelocated text start.
        let (names, cu, filetab, pctab, functab) = (word(3)?, word(4)?, word(5)?, word(6)?, word(7)?);
        t.nfunc = nfunc;
        t.funcname_offset = names as usize;
        t.cu_offset = cu as usize;
        t.filetab_offset = filetab as usize;
        t.pctab_offset = pctab as usize;
        t.functab_offset = functab as usize;
        Some(t)
    }

    fn uintptr(&self, off: usize) -> Option<u64> {
        let b = self.data.get(off..off + self.ptr_size)?;
        Some(if self.ptr_size == 8 {
            u64::from_le_bytes(b.try_into().ok()?)
        } else {
            u32::from_le_bytes(b.try_into().ok()?) as u64
        })
    }

    fn u32_at(&self, off: usize) -> Option<u32> {
        Some(u32::from_le_bytes(self.data.get(off..off + 4)?.try_into().ok()?))
    }

    /// The function table's entry `i`: (entry PC, offset of its `_func`).
    fn functab(&self, i: usize) -> Option<(u64, usize)> {
        let off = self.functab_offset + i * 8;
        Some((self.text_start + self.u32_at(off)? as u64, self.u32_at(off + 4)? as usize))
    }

    /// The file and line of `pc` (`("", 0)` outside every function).
    pub fn pc_to_line(&self, pc: u64) -> (String, i64) {
        self.lookup(pc).map(|(_, file, line)| (file, line)).unwrap_or_default()
    }

    /// The function (the outermost, not an inlined one), file and line of
    /// `pc`; `None` outside every function.
    pub fn pc_to_func(&self, pc: u64) -> Option<(String, String, i64)> {
        self.lookup(pc)
    }

    fn cstring(&self, start: usize) -> String {
        let rest = self.data.get(start..).unwrap_or_default();
        let len = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        String::from_utf8_lossy(&rest[..len]).into_owned()
    }

    fn lookup(&self, pc: u64) -> Option<(String, String, i64)> {
        // Binary search for the function whose [entry, next entry) holds pc.
        let (mut lo, mut hi) = (0usize, self.nfunc);
        while lo < hi {
            let m = (lo + hi) / 2;
            let (entry, _) = self.functab(m)?;
            let (end, _) = self.functab(m + 1)?;
            if pc < entry {
                hi = m;
            } else if pc < end {
                lo = m;
                break;
            } else {
                lo = m + 1;
            }
        }
        if lo >= self.nfunc {
            return None;
        }
        let (entry, funcoff) = self.functab(lo)?;
        let (end, _) = self.functab(lo + 1)?;
        if pc < entry || pc >= end {
            return None;
        }
        let f = self.functab_offset + funcoff;
        let name_off = self.u32_at(f + 4)? as usize;
        let name = self.cstring(self.funcname_offset + name_off);
        let pcfile = self.u32_at(f + 20)?;
        let pcln = self.u32_at(f + 24)?;
        let cu = self.u32_at(f + 32)? as usize;
        let fileno = self.pc_value(pcfile, entry, pc)?;
        let line = self.pc_value(pcln, entry, pc)?;
        if fileno < 0 {
            return Some((name, String::new(), line));
        }
        let fnoff =
            self.u32_at(self.cu_offset.checked_add(cu.checked_add(fileno as usize)?.checked_mul(4)?)?)?;
        if fnoff == u32::MAX {
            return Some((name, String::new(), line));
        }
        Some((name, self.cstring(self.filetab_offset + fnoff as usize), line))
    }

    /// Runs the value table at `off` from `entry` up to `target`.
    fn pc_value(&self, off: u32, entry: u64, target: u64) -> Option<i64> {
        if off == 0 {
            return Some(-1);
        }
        let mut p = self.pctab_offset + off as usize;
        let mut val: i64 = -1;
        let mut pc = entry;
        let mut first = true;
        loop {
            let uvdelta = self.uvarint(&mut p)?;
            if uvdelta == 0 && !first {
                return Some(-1);
            }
            first = false;
            let delta = if uvdelta & 1 != 0 { !(uvdelta >> 1) as i64 } else { (uvdelta >> 1) as i64 };
            val = val.wrapping_add(delta);
            let pcdelta = self.uvarint(&mut p)?;
            pc = pc.wrapping_add(pcdelta.wrapping_mul(self.quantum));
            if target < pc {
                return Some(val);
            }
        }
    }

    fn uvarint(&self, p: &mut usize) -> Option<u64> {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let b = *self.data.get(*p)?;
            *p += 1;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
            shift += 7;
            if shift > 63 {
                return None;
            }
        }
    }
}
