//! x86-64 instructions in Go's assembler (Plan 9) syntax, as Go's disassembler
//! prints them (`go tool objdump`, and so `go tool pprof -disasm`): operands
//! reversed, size suffixes on the integer operations, `0x8(SP)` memory
//! operands, `sym(SB)` for addresses in the binary's symbols.

use std::fmt::Write as _;

use iced_x86::{Instruction, Mnemonic, OpKind, Register};

/// Finds the symbol holding an address: its name and start.
pub type Lookup<'a> = &'a dyn Fn(u64) -> Option<(String, u64)>;

/// Operations that take a B/W/L/Q suffix.
fn has_suffix(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(
        m,
        Adc | Add
            | And
            | Bsf
            | Bsr
            | Bt
            | Btc
            | Btr
            | Bts
            | Cmp
            | Cmpxchg
            | Cvtsi2sd
            | Cvtsi2ss
            | Cvtsd2si
            | Cvtss2si
            | Cvttsd2si
            | Cvttss2si
            | Dec
            | Div
            | Fldenv
            | Frstor
            | Idiv
            | Imul
            | In
            | Inc
            | Lea
            | Mov
            | Movnti
            | Mul
            | Neg
            | Nop
            | Not
            | Or
            | Out
            | Pop
            | Popa
            | Popcnt
            | Push
            | Pusha
            | Rcl
            | Rcr
            | Rol
            | Ror
            | Sar
            | Sbb
            | Shl
            | Shld
            | Shr
            | Shrd
            | Sub
            | Test
            | Xadd
            | Xchg
            | Xor
    )
}

/// A register's Plan 9 name.
fn reg_name(r: Register) -> String {
    if r == Register::RIP || r == Register::EIP {
        return "IP".into();
    }
    if matches!(
        r,
        Register::AH
            | Register::BH
            | Register::CH
            | Register::DH
            | Register::AL
            | Register::BL
            | Register::CL
            | Register::DL
    ) {
        return format!("{r:?}");
    }
    if r.is_gpr() {
        let full = format!("{:?}", r.full_register());
        // RAX → AX, R8 stays R8.
        return match full.strip_prefix('R') {
            Some(rest) if !rest.starts_with(|c: char| c.is_ascii_digit()) => rest.to_string(),
            _ => full,
        };
    }
    let name = format!("{r:?}");
    for (iced, go) in [("XMM", "X"), ("YMM", "Y"), ("ZMM", "Z"), ("ST", "F"), ("MM", "M")] {
        if let Some(n) = name.strip_prefix(iced)
            && n.chars().all(|c| c.is_ascii_digit())
            && !n.is_empty()
        {
            return format!("{go}{n}");
        }
    }
    name
}

fn hex(v: i64) -> String {
    if v < 0 { format!("-{:#x}", v.unsigned_abs()) } else { format!("{v:#x}") }
}

/// The operand size of the instruction's encoding (Go's `DataSize`): 16 with an
/// operand-size prefix, 64 with REX.W, else 32.
fn data_size(bytes: &[u8]) -> u32 {
    let mut size = 32;
    for &b in bytes {
        match b {
            0x66 => size = 16,
            0x67 | 0xf0 | 0xf2 | 0xf3 | 0x2e | 0x36 | 0x3e | 0x26 | 0x64 | 0x65 => {}
            0x40..=0x4f => {
                if b & 8 != 0 {
                    size = 64;
                }
                break;
            }
            _ => break,
        }
    }
    size
}

/// The raw displacement as Go's decoder keeps it: 32-bit ones zero-extended,
/// 8-bit ones sign-extended; RIP-relative ones relative to the next instruction.
fn raw_disp(inst: &Instruction) -> i64 {
    let d = inst.memory_displacement64();
    if inst.is_ip_rel_memory_operand() {
        let rel = d.wrapping_sub(inst.next_ip()) as u32;
        return rel as i64;
    }
    match inst.memory_displ_size() {
        4 => d as u32 as i64,
        2 => d as u16 as i64,
        // An absolute disp32 (no base), sign-extended by the CPU, is kept as
        // its 32 bits; a 64-bit moffs is kept whole.
        8 if d as i32 as i64 as u64 == d => d as u32 as i64,
        _ => d as i64,
    }
}

fn mem_arg(inst: &Instruction, lookup: Lookup<'_>) -> String {
    let mut disp = raw_disp(inst);
    let mut base = inst.memory_base();
    if base == Register::RIP
        && matches!(inst.encoding(), iced_x86::EncodingKind::VEX | iced_x86::EncodingKind::EVEX)
    {
        // Go's decoder keeps no base for VEX and EVEX PC-relative operands:
        // the displacement alone, sign-extended.
        base = Register::None;
        disp = disp as u32 as i32 as i64;
    }
    let index = inst.memory_index();
    let seg = operand_segment(inst);
    // Direct and PC-relative addresses in a symbol print as sym+off(SB).
    if seg == Register::None && disp != 0 && index == Register::None {
        let target = match base {
            Register::RIP | Register::EIP => Some((disp as u64).wrapping_add(inst.next_ip())),
            Register::None => Some(disp as u64),
            _ => None,
        };
        if let Some(t) = target
            && let Some((s, start)) = lookup(t)
        {
            let off = t.wrapping_sub(start) as i64;
            let suffix = if off != 0 { format!("{off:+}") } else { String::new() };
            return format!("{s}{suffix}(SB)");
        }
    }
    let mut s = String::new();
    if seg != Register::None {
        s.push_str(&reg_name(seg));
        s.push(':');
    }
    if disp != 0 {
        s.push_str(&hex(disp));
    } else {
        s.push('0');
    }
    if base != Register::None {
        s.push_str(&format!("({})", reg_name(base)));
    }
    if index != Register::None {
        s.push_str(&format!("({}*{})", reg_name(index), inst.memory_index_scale()));
    }
    s
}

/// The segment override a memory operand shows: FS and GS; in 64-bit mode Go's
/// decoder prints the others as a prefix of the instruction.
fn operand_segment(inst: &Instruction) -> Register {
    match inst.segment_prefix() {
        Register::FS | Register::GS => inst.segment_prefix(),
        _ => Register::None,
    }
}

/// An immediate as Go's decoder extends it (8-bit ones are signed in
/// arithmetic, unsigned in moves of bytes, shifts and the like).
fn imm_value(inst: &Instruction, i: u32, kind: OpKind) -> i64 {
    let v = inst.immediate(i);
    match kind {
        OpKind::Immediate8 | OpKind::Immediate8_2nd => v as u8 as i64,
        OpKind::Immediate16
            if matches!(inst.mnemonic(), Mnemonic::Ret | Mnemonic::Retf | Mnemonic::Enter) =>
        {
            v as u16 as i64
        }
        OpKind::Immediate16 => v as u16 as i16 as i64,
        OpKind::Immediate32 => v as u32 as i32 as i64,
        OpKind::Immediate8to16 => v as u16 as i16 as i64,
        OpKind::Immediate8to32 | OpKind::Immediate32to64 | OpKind::Immediate8to64 | OpKind::Immediate64 => {
            match kind {
                OpKind::Immediate8to32 => v as u32 as i32 as i64,
                _ => v as i64,
            }
        }
        _ => v as i64,
    }
}

fn arg(inst: &Instruction, i: u32, ds: u32, lookup: Lookup<'_>) -> String {
    let kind = inst.op_kind(i);
    match kind {
        OpKind::Register => reg_name(inst.op_register(i)),
        OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64 => {
            let t = inst.near_branch_target();
            match lookup(t) {
                Some((s, start)) if start == t => format!("{s}(SB)"),
                _ => format!("{t:#x}"),
            }
        }
        OpKind::Memory => mem_arg(inst, lookup),
        OpKind::Immediate8
        | OpKind::Immediate8_2nd
        | OpKind::Immediate16
        | OpKind::Immediate32
        | OpKind::Immediate64
        | OpKind::Immediate8to16
        | OpKind::Immediate8to32
        | OpKind::Immediate8to64
        | OpKind::Immediate32to64 => {
            let v = imm_value(inst, i, kind);
            if matches!(inst.mnemonic(), Mnemonic::Mov | Mnemonic::Push)
                && ds == 32
                && let Some((s, start)) = lookup(v as u64)
            {
                let off = (v as u64).wrapping_sub(start);
                let suffix = if off != 0 { format!("{:+}", off as i64) } else { String::new() };
                return format!("${s}{suffix}(SB)");
            }
            if v as i32 as i64 == v { format!("${}", hex(v)) } else { format!("${:#x}", v as u64) }
        }
        OpKind::MemorySegSI
        | OpKind::MemorySegESI
        | OpKind::MemorySegRSI
        | OpKind::MemorySegDI
        | OpKind::MemorySegEDI
        | OpKind::MemorySegRDI
        | OpKind::MemoryESDI
        | OpKind::MemoryESEDI
        | OpKind::MemoryESRDI => {
            let (seg, reg) = match kind {
                OpKind::MemoryESDI | OpKind::MemoryESEDI | OpKind::MemoryESRDI => ("ES", "DI"),
                OpKind::MemorySegDI | OpKind::MemorySegEDI | OpKind::MemorySegRDI => ("DS", "DI"),
                _ => ("DS", "SI"),
            };
            let seg = if inst.segment_prefix() != Register::None && seg == "DS" {
                reg_name(inst.segment_prefix())
            } else {
                seg.to_string()
            };
            format!("{seg}:0({reg})")
        }
        _ => "?".into(),
    }
}

/// The mnemonic Go's decoder names the instruction with.
fn op_name(inst: &Instruction) -> String {
    let m = inst.mnemonic();
    let xmm =
        (0..inst.op_count()).any(|i| inst.op_kind(i) == OpKind::Register && inst.op_register(i).is_xmm());
    match m {
        Mnemonic::Movsd if xmm => "MOVSD_XMM".into(),
        Mnemonic::Cmpsd if xmm => "CMPSD_XMM".into(),
        _ => format!("{m:?}").to_uppercase(),
    }
}

/// Whether Go's decoder knows the instruction (encoded as `bytes`): it has no
/// BMI1/BMI2 (VEX-coded integer operations), nor the `/1` alias of `TEST`
/// (F6/F7), and prints `?` for their first byte.
pub fn known_to_go(inst: &Instruction, bytes: &[u8]) -> bool {
    use Mnemonic::*;
    match inst.mnemonic() {
        Andn | Bextr | Blsi | Blsmsk | Blsr | Bzhi | Mulx | Pdep | Pext | Rorx | Sarx | Shlx | Shrx => false,
        Test => {
            let mut i = 0;
            while i < bytes.len()
                && matches!(
                    bytes[i],
                    0x66 | 0x67 | 0xf0 | 0xf2 | 0xf3 | 0x2e | 0x36 | 0x3e | 0x26 | 0x64 | 0x65
                )
            {
                i += 1;
            }
            if i < bytes.len() && (0x40..=0x4f).contains(&bytes[i]) {
                i += 1;
            }
            !(matches!(bytes.get(i), Some(0xf6 | 0xf7))
                && bytes.get(i + 1).is_some_and(|m| (m >> 3) & 7 == 1))
        }
        _ => true,
    }
}

/// Formats `inst` (whose encoding is `bytes`) in Go syntax.
pub fn format(inst: &Instruction, bytes: &[u8], lookup: Lookup<'_>) -> String {
    let ds = data_size(bytes);
    match inst.mnemonic() {
        Mnemonic::Int3 => return "INT $0x3".into(),
        // 0xF1: Go's decoder calls it by its old name.
        Mnemonic::Int1 => return "ICEBP".into(),
        Mnemonic::Xlatb => return "XLATB DS:0(BX)".into(),
        _ => {}
    }
    let mut intel: Vec<String> = (0..inst.op_count()).map(|i| arg(inst, i, ds, lookup)).collect();
    if inst.op_mask() != Register::None && !intel.is_empty() {
        intel.insert(1, reg_name(inst.op_mask()));
    }
    let mut args: Vec<String> = intel.into_iter().rev().collect();
    let mut op = op_name(inst);
    if has_suffix(inst.mnemonic()) {
        let mem_bytes = (0..inst.op_count())
            .find(|&i| inst.op_kind(i) == OpKind::Memory)
            .map(|_| inst.memory_size().size() as u32)
            .unwrap_or(0);
        let mut s = ds;
        if mem_bytes != 0 {
            s = mem_bytes * 8;
        } else if inst.op_count() == 1
            && inst.op_kind(0) == OpKind::Register
            && inst.op_register(0).is_gpr64()
        {
            s = 64;
        }
        match s {
            8 => op.push('B'),
            16 => op.push('W'),
            32 => op.push('L'),
            64 => op.push('Q'),
            _ => {}
        }
    }
    if inst.is_broadcast() {
        op.push_str(".BCST");
    }
    if inst.zeroing_masking() {
        op.push_str(".Z");
    }
    if inst.mnemonic() == Mnemonic::Cmp && args.len() >= 2 {
        args.swap(0, 1);
    }
    let mut prefix = String::new();
    if inst.has_rep_prefix() || inst.has_repe_prefix() {
        prefix.push_str("REP; ");
    } else if inst.has_repne_prefix() {
        prefix.push_str("REPNE; ");
    }
    if inst.has_lock_prefix() {
        prefix.push_str("LOCK ");
    } else if matches!(inst.segment_prefix(), Register::CS | Register::DS | Register::ES | Register::SS) {
        let _ = write!(prefix, "{} ", reg_name(inst.segment_prefix()));
    }
    if args.is_empty() { format!("{prefix}{op}") } else { format!("{prefix}{op} {}", args.join(", ")) }
}
