//! Stack traces: unwinding a task's stack with its call-frame information
//! and naming each frame from its DWARF.
//!
//! The unwinder is gimli's CFI interpreter over the task ELF's
//! `.eh_frame` (xtask keeps it; `.debug_frame` if a task has only that).
//! It starts from the registers the kernel read ([`crate::target::
//! Target::registers`]); for a faulted task those are the faulting
//! instruction's, so the trace starts there. Each step asks the CFI row
//! for the frame's address (CFA), reads the saved return address and
//! callee-saved registers from the stack, and moves to the caller. It
//! stops at a frame without CFI (`_start`), a zero or repeated return
//! address, a CFA that does not move up the stack, or [`MAX_FRAMES`].
//!
//! Names come from `addr2line` over the same DWARF: one code address may
//! be several functions, innermost first, when calls were inlined; those
//! are marked `[inlined]`. A caller's return address points after its
//! call instruction, so it is looked up one byte earlier.

use std::fmt::Write as _;
use std::rc::Rc;

use anyhow::{Result, anyhow};
use debug_protocol::Registers;
use gimli::{
    BaseAddresses, CfaRule, EndianRcSlice, RegisterRule, RunTimeEndian,
    UnwindContext, UnwindSection,
};
use object::{Object, ObjectSection, ObjectSymbol};

use crate::archive::Archive;
use crate::elf::Elf;
use crate::target::Target;

type R = EndianRcSlice<RunTimeEndian>;

/// Frames beyond this are not followed (a guard against a corrupt stack
/// that loops; task stacks are a few KiB).
pub const MAX_FRAMES: usize = 256;

/// The return-address column of x86_64 CFI (`rip`).
const RA: u16 = 16;
/// `rsp`.
const SP: u16 = 7;

/// One frame: where it is, and what code it is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The instruction: the faulting or waiting one for the first frame,
    /// a return address for the others.
    pub pc: u64,
    /// The frame's stack pointer.
    pub sp: u64,
    /// Functions at `pc`, innermost first; all but the last were inlined
    /// into the last.
    pub functions: Vec<Function>,
}

/// A function a frame is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    /// Demangled, without the hash.
    pub name: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub inlined: bool,
}

/// A task's call-frame information and symbols.
pub struct Unwinder {
    eh_frame: Option<(gimli::EhFrame<R>, BaseAddresses)>,
    debug_frame: Option<gimli::DebugFrame<R>>,
    symbols: addr2line::Context<R>,
    /// Function symbols by address, for code without DWARF.
    elf_symbols: Vec<(u64, u64, String)>,
}

impl Unwinder {
    /// Reads `elf`'s CFI and DWARF.
    ///
    /// # Errors
    ///
    /// If the DWARF is malformed.
    pub fn new(elf: &Elf) -> Result<Self> {
        let file = elf.file()?;
        let endian = if file.is_little_endian() {
            RunTimeEndian::Little
        } else {
            RunTimeEndian::Big
        };
        let section = |name: &str| -> Option<(u64, R)> {
            let s = file.section_by_name(name)?;
            let data = s.uncompressed_data().ok()?.into_owned();
            Some((s.address(), EndianRcSlice::new(Rc::from(data), endian)))
        };
        let eh_frame = section(".eh_frame").map(|(addr, data)| {
            let mut bases = BaseAddresses::default().set_eh_frame(addr);
            if let Some(text) = file.section_by_name(".text") {
                bases = bases.set_text(text.address());
            }
            let mut eh = gimli::EhFrame::from(data);
            eh.set_address_size(8);
            (eh, bases)
        });
        let debug_frame = section(".debug_frame").map(|(_, data)| {
            let mut df = gimli::DebugFrame::from(data);
            df.set_address_size(8);
            df
        });
        let dwarf = gimli::Dwarf::load(|id| -> Result<R, gimli::Error> {
            Ok(section(id.name()).map(|(_, d)| d).unwrap_or_else(|| {
                EndianRcSlice::new(Rc::from(Vec::new()), endian)
            }))
        })
        .map_err(|e| anyhow!("bad DWARF: {e}"))?;
        let symbols = addr2line::Context::from_dwarf(dwarf)
            .map_err(|e| anyhow!("bad DWARF: {e}"))?;
        let mut elf_symbols: Vec<(u64, u64, String)> = file
            .symbols()
            .filter(|s| s.kind() == object::SymbolKind::Text)
            .filter_map(|s| {
                let name = s.name().ok()?;
                Some((s.address(), s.size(), demangle(name)))
            })
            .collect();
        elf_symbols.sort();
        Ok(Self {
            eh_frame,
            debug_frame,
            symbols,
            elf_symbols,
        })
    }

    /// The functions at `pc`, innermost first.
    pub fn functions(&self, pc: u64) -> Vec<Function> {
        let mut out = Vec::new();
        if let Ok(mut frames) = self.symbols.find_frames(pc).skip_all_loads() {
            while let Ok(Some(f)) = frames.next() {
                let name = f
                    .function
                    .as_ref()
                    .and_then(|n| n.raw_name().ok())
                    .map(|n| demangle(&n))
                    .unwrap_or_else(|| "?".into());
                out.push(Function {
                    name,
                    file: f
                        .location
                        .as_ref()
                        .and_then(|l| l.file)
                        .map(Into::into),
                    line: f.location.as_ref().and_then(|l| l.line),
                    inlined: true,
                });
            }
        }
        if let Some(last) = out.last_mut() {
            last.inlined = false;
        }
        if out.iter().all(|f| f.name == "?") {
            out.clear();
            if let Some(name) = self.symbol_at(pc) {
                out.push(Function {
                    name,
                    file: None,
                    line: None,
                    inlined: false,
                });
            }
        }
        out
    }

    /// The ELF function symbol containing `pc`.
    fn symbol_at(&self, pc: u64) -> Option<String> {
        let i = self.elf_symbols.partition_point(|(a, _, _)| *a <= pc);
        let (addr, size, name) = self.elf_symbols.get(i.checked_sub(1)?)?;
        (pc < addr + (*size).max(1)).then(|| name.clone())
    }

    /// The CFI row for `pc`: how to find the CFA and the saved registers.
    fn row(
        &self,
        ctx: &mut UnwindContext<usize>,
        pc: u64,
    ) -> Option<gimli::UnwindTableRow<usize>> {
        if let Some((eh, bases)) = &self.eh_frame
            && let Ok(row) = eh.unwind_info_for_address(
                bases,
                ctx,
                pc,
                gimli::EhFrame::cie_from_offset,
            )
        {
            return Some(row.clone());
        }
        let df = self.debug_frame.as_ref()?;
        let bases = BaseAddresses::default();
        df.unwind_info_for_address(
            &bases,
            ctx,
            pc,
            gimli::DebugFrame::cie_from_offset,
        )
        .ok()
        .cloned()
    }

    /// Unwinds from `regs`, reading the stack with `read` (8 bytes at an
    /// address, `None` if unreadable).
    pub fn unwind(
        &self,
        regs: &Registers,
        mut read: impl FnMut(u64) -> Option<u64>,
    ) -> Vec<Frame> {
        let mut frames = Vec::new();
        let mut values = regs.values;
        let mut ctx = UnwindContext::new();
        let Some(mut pc) = regs.pc() else {
            return frames;
        };
        // The first frame's pc is the instruction itself; the others are
        // return addresses, inside the call they return from one byte
        // earlier.
        let mut lookup = pc;
        for _ in 0..MAX_FRAMES {
            let sp = values[usize::from(SP)].unwrap_or(0);
            frames.push(Frame {
                pc,
                sp,
                functions: self.functions(lookup),
            });
            let Some(row) = self.row(&mut ctx, lookup) else {
                break;
            };
            let cfa = match row.cfa() {
                CfaRule::RegisterAndOffset { register, offset } => {
                    match values.get(usize::from(register.0)).copied().flatten()
                    {
                        Some(v) => v.wrapping_add_signed(*offset),
                        None => break,
                    }
                }
                CfaRule::Expression(_) => break,
            };
            let mut next = values;
            for (i, slot) in next.iter_mut().enumerate().take(17) {
                let reg = gimli::Register(i as u16);
                *slot = match row.register(reg) {
                    None | Some(RegisterRule::SameValue) => values[i],
                    Some(RegisterRule::Offset(o)) => {
                        read(cfa.wrapping_add_signed(o))
                    }
                    Some(RegisterRule::ValOffset(o)) => {
                        Some(cfa.wrapping_add_signed(o))
                    }
                    Some(RegisterRule::Register(r)) => {
                        values.get(usize::from(r.0)).copied().flatten()
                    }
                    Some(_) => None,
                };
            }
            next[usize::from(SP)] = Some(cfa);
            let Some(ra) = next[usize::from(RA)] else {
                break;
            };
            // The stack grows down: a caller's frame is above its callee's.
            if ra == 0 || cfa <= sp {
                break;
            }
            values = next;
            pc = ra;
            lookup = ra - 1;
        }
        frames
    }
}

/// `core::panicking::panic_fmt`, without the `::h0123...` hash.
fn demangle(name: &str) -> String {
    format!("{:#}", rustc_demangle::demangle(name))
}

/// Task `index`'s stack trace from the target's registers, with the
/// stack read once.
///
/// # Errors
///
/// If the registers or the ELF cannot be had.
pub fn trace(
    archive: &Archive,
    target: &mut Target,
    index: usize,
) -> Result<Vec<Frame>> {
    let regs = target.registers(index)?;
    trace_from(archive, target, index, &regs)
}

/// As [`trace`], from registers already read.
///
/// # Errors
///
/// If the ELF or its DWARF cannot be read.
pub fn trace_from(
    archive: &Archive,
    target: &mut Target,
    index: usize,
    regs: &Registers,
) -> Result<Vec<Frame>> {
    let entry = archive
        .manifest
        .tasks
        .get(index)
        .ok_or_else(|| anyhow!("no task {index} in the image"))?;
    let unwinder = Unwinder::new(&*archive.elf(index)?)?;
    // The whole stack in one read: every frame's words are in it.
    let base = u64::from(entry.stack.base);
    let stack = target
        .read(archive, index, base, u64::from(entry.stack.size))
        .unwrap_or_default();
    let read = |addr: u64| -> Option<u64> {
        let off = usize::try_from(addr.checked_sub(base)?).ok()?;
        let b = stack.get(off..off.checked_add(8)?)?;
        let mut w = [0u8; 8];
        w.copy_from_slice(b);
        Some(u64::from_le_bytes(w))
    };
    Ok(unwinder.unwind(regs, read))
}

/// The trace as text, one line per function, indented by `indent`.
pub fn format_frames(frames: &[Frame], indent: &str) -> String {
    let mut out = String::new();
    for (n, f) in frames.iter().enumerate() {
        if f.functions.is_empty() {
            let _ = writeln!(out, "{indent}#{n:<2} {:#010x} ?", f.pc);
        }
        for func in &f.functions {
            let mark = if func.inlined { " [inlined]" } else { "" };
            let at = match (&func.file, func.line) {
                (Some(file), Some(line)) => format!(" at {file}:{line}"),
                (Some(file), None) => format!(" at {file}"),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "{indent}#{n:<2} {:#010x} {}{mark}{at}",
                f.pc, func.name
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demangled_names_lose_their_hash() {
        assert_eq!(
            demangle("_ZN4core9panicking9panic_fmt17h0123456789abcdefE"),
            "core::panicking::panic_fmt"
        );
        assert_eq!(demangle("main"), "main");
    }

    #[test]
    fn frames_print_inlined_functions_marked() {
        let frames = vec![Frame {
            pc: 0x1234,
            sp: 0x2000,
            functions: vec![
                Function {
                    name: "userlib::arch::syscall".into(),
                    file: Some("sys/userlib/src/arch.rs".into()),
                    line: Some(30),
                    inlined: true,
                },
                Function {
                    name: "userlib::recv".into(),
                    file: None,
                    line: None,
                    inlined: false,
                },
            ],
        }];
        let text = format_frames(&frames, "  ");
        assert_eq!(
            text,
            "  #0  0x00001234 userlib::arch::syscall [inlined] at \
             sys/userlib/src/arch.rs:30\n  #0  0x00001234 userlib::recv\n"
        );
    }
}
