//! Dumps as ELF core files, so that any debugger opens them.
//!
//! The layout is a Linux process core's, with each task a thread:
//!
//! - one `PT_NOTE` segment holding, per task, an `NT_PRSTATUS` note
//!   ("CORE") with its registers in Linux's x86_64 `user_regs_struct`
//!   order and the task index plus one as its thread id (a register the
//!   kernel could not read is written as 0 there), then one
//!   [`NOTE_NAME`] note of type [`NT_LEASEHOLD_HEADER`] carrying the
//!   [`DumpHeader`] as JSON: the task table, the image id, the registers
//!   as read (unknown ones absent), which is what humility reads;
//! - each task's RAM as a `PT_LOAD` segment (read-write) at its real
//!   address, and its flash (read-execute) too, so that GDB needs only
//!   the task ELF for symbols: `gdb -batch -ex 'thread apply all bt'
//!   task.elf dump`.
//!
//! The reader ([`read`]) trusts nothing: the ELF is parsed by `object`
//! (bounds-checked), the header note is at most [`MAX_HEADER_BYTES`], and
//! each task's RAM must be a segment of exactly the size the archive
//! says, at the address the header says.

use crate::dump::{Dump, DumpError, DumpHeader, MAX_HEADER_BYTES};
use crate::registers::Registers;
use object::elf;
use object::read::elf::{FileHeader as _, ProgramHeader as _};
use std::io::Write;

/// The owner name of Leasehold's own note.
pub const NOTE_NAME: &[u8] = b"LEASEHOLD";

/// The type of the note carrying the [`DumpHeader`] ("LH", 1).
pub const NT_LEASEHOLD_HEADER: u32 = 0x4c48_0001;

/// `sizeof(struct elf_prstatus)` on x86_64 Linux, and where its
/// `pr_reg` is: what GDB and BFD expect.
const PRSTATUS_SIZE: usize = 336;
const PR_CURSIG: usize = 12;
const PR_PID: usize = 32;
const PR_REG: usize = 112;

/// Segments start on page boundaries, like a kernel's cores.
const PAGE: u64 = 4096;

/// Does `bytes` start like an ELF file (rather than a zip dump)?
pub fn is_core(bytes: &[u8]) -> bool {
    bytes.starts_with(&elf::ELFMAG)
}

/// `user_regs_struct` order: each entry the index in
/// [`Registers::values`] (DWARF numbering), or `None` for `orig_rax`
/// and the segment registers.
const USER_REGS: [Option<usize>; 27] = [
    Some(15), // r15
    Some(14), // r14
    Some(13), // r13
    Some(12), // r12
    Some(6),  // rbp
    Some(3),  // rbx
    Some(11), // r11
    Some(10), // r10
    Some(9),  // r9
    Some(8),  // r8
    Some(0),  // rax
    Some(2),  // rcx
    Some(1),  // rdx
    Some(4),  // rsi
    Some(5),  // rdi
    None,     // orig_rax
    Some(16), // rip
    None,     // cs
    Some(17), // eflags
    Some(7),  // rsp
    None,     // ss
    None,     // fs_base
    None,     // gs_base
    None,     // ds
    None,     // es
    None,     // fs
    None,     // gs
];

/// A task's `NT_PRSTATUS` descriptor.
fn prstatus(thread: u32, regs: Option<&Registers>) -> Vec<u8> {
    let mut d = vec![0u8; PRSTATUS_SIZE];
    let signal = regs.and_then(|r| r.signal).unwrap_or(0);
    d[..4].copy_from_slice(&signal.to_le_bytes());
    d[PR_CURSIG..PR_CURSIG + 2]
        .copy_from_slice(&u16::try_from(signal).unwrap_or(0).to_le_bytes());
    d[PR_PID..PR_PID + 4].copy_from_slice(&thread.to_le_bytes());
    for (n, which) in USER_REGS.iter().enumerate() {
        let value = match which {
            Some(i) => regs.and_then(|r| r.values[*i]).unwrap_or(0),
            // Linux's user segment selectors, so a debugger that looks
            // sees a 64-bit user frame.
            None if n == 17 => 0x33,
            None if n == 20 => 0x2b,
            None => 0,
        };
        let at = PR_REG + 8 * n;
        d[at..at + 8].copy_from_slice(&value.to_le_bytes());
    }
    d
}

/// Appends one ELF note (4-byte aligned name and descriptor).
fn note(out: &mut Vec<u8>, name: &[u8], kind: u32, desc: &[u8]) {
    let pad = |v: &mut Vec<u8>| v.resize(v.len().next_multiple_of(4), 0);
    let namesz = u32::try_from(name.len() + 1).unwrap_or(u32::MAX);
    let descsz = u32::try_from(desc.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&namesz.to_le_bytes());
    out.extend_from_slice(&descsz.to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(name);
    out.push(0);
    pad(out);
    out.extend_from_slice(desc);
    pad(out);
}

/// One loadable segment: an address, its bytes, and whether it is RAM.
struct Load<'a> {
    address: u64,
    data: &'a [u8],
    ram: bool,
}

/// Writes a core dump: `rams[i]` and `flashes[i]` are task `i`'s RAM
/// and flash, placed at the addresses its row in `header` gives.
///
/// # Errors
///
/// What writing `out` returns, or a header that cannot be encoded.
pub fn write<W: Write>(
    mut out: W,
    header: &DumpHeader,
    rams: &[&[u8]],
    flashes: &[&[u8]],
) -> std::io::Result<W> {
    let mut notes = Vec::new();
    for (i, _) in header.tasks.iter().enumerate() {
        let thread = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let regs = header.registers.get(i).and_then(Option::as_ref);
        note(&mut notes, elf::ELF_NOTE_CORE, 1, &prstatus(thread, regs));
    }
    let json = serde_json::to_vec(header).map_err(std::io::Error::other)?;
    note(&mut notes, NOTE_NAME, NT_LEASEHOLD_HEADER, &json);

    let mut loads = Vec::new();
    for (i, row) in header.tasks.iter().enumerate() {
        if let Some(f) = flashes.get(i).filter(|f| !f.is_empty()) {
            let address = u64::from(row.flash.base);
            loads.push(Load {
                address,
                data: f,
                ram: false,
            });
        }
        if let Some(r) = rams.get(i) {
            let address = u64::from(row.ram.base);
            loads.push(Load {
                address,
                data: r,
                ram: true,
            });
        }
    }

    let mut buf = Vec::new();
    let mut w = object::write::elf::Writer::new(
        object::Endianness::Little,
        true,
        &mut buf,
    );
    w.reserve_file_header();
    let count = u32::try_from(loads.len() + 1).unwrap_or(u32::MAX);
    w.reserve_program_headers(count);
    let notes_at = w.reserve(notes.len() as u64, 4);
    let offsets: Vec<u64> = loads
        .iter()
        .map(|l| w.reserve(l.data.len() as u64, PAGE))
        .collect();
    w.write_file_header(&object::write::elf::FileHeader {
        os_abi: elf::ELFOSABI_NONE,
        abi_version: 0,
        e_type: elf::ET_CORE,
        e_machine: elf::EM_X86_64,
        e_entry: 0,
        e_flags: elf::FileFlags(0),
    })
    .map_err(std::io::Error::other)?;
    w.write_align_program_headers();
    w.write_program_header(&object::write::elf::ProgramHeader {
        p_type: elf::PT_NOTE,
        p_flags: elf::ProgramFlags(0),
        p_offset: notes_at,
        p_vaddr: 0,
        p_paddr: 0,
        p_filesz: notes.len() as u64,
        p_memsz: 0,
        p_align: 4,
    });
    for (l, &offset) in loads.iter().zip(&offsets) {
        let flags = if l.ram {
            elf::PF_R | elf::PF_W
        } else {
            elf::PF_R | elf::PF_X
        };
        w.write_program_header(&object::write::elf::ProgramHeader {
            p_type: elf::PT_LOAD,
            p_flags: flags,
            p_offset: offset,
            p_vaddr: l.address,
            p_paddr: 0,
            p_filesz: l.data.len() as u64,
            p_memsz: l.data.len() as u64,
            p_align: PAGE,
        });
    }
    w.pad_until(notes_at);
    w.write(&notes);
    for (l, &offset) in loads.iter().zip(&offsets) {
        w.pad_until(offset);
        w.write(l.data);
    }
    out.write_all(&buf)?;
    Ok(out)
}

/// Reads a core dump of an image whose task `i` has `ram_sizes[i]` bytes
/// of RAM. Never panics, whatever the bytes.
///
/// # Errors
///
/// A [`DumpError`] saying what is wrong.
pub fn read(bytes: &[u8], ram_sizes: &[u64]) -> Result<Dump, DumpError> {
    let corrupt = |what: &str| DumpError::Corrupt(what.to_owned());
    let file = elf::FileHeader64::<object::Endianness>::parse(bytes)
        .map_err(|e| corrupt(&format!("not an ELF core: {e}")))?;
    let endian = file
        .endian()
        .map_err(|e| corrupt(&format!("not an ELF core: {e}")))?;
    if file.e_type(endian) != elf::ET_CORE {
        return Err(corrupt("an ELF file, but not a core dump"));
    }
    let phdrs = file
        .program_headers(endian, bytes)
        .map_err(|e| corrupt(&format!("program headers: {e}")))?;
    let mut header = None;
    for ph in phdrs {
        let Some(mut notes) = ph
            .notes(endian, bytes)
            .map_err(|e| corrupt(&format!("notes: {e}")))?
        else {
            continue;
        };
        while let Some(n) =
            notes.next().map_err(|e| corrupt(&format!("notes: {e}")))?
        {
            if n.name() == NOTE_NAME
                && n.n_type(endian).0 == NT_LEASEHOLD_HEADER
            {
                if n.desc().len() as u64 > MAX_HEADER_BYTES {
                    return Err(corrupt("the Leasehold note is too large"));
                }
                header = Some(
                    serde_json::from_slice::<DumpHeader>(n.desc())
                        .map_err(|e| DumpError::BadHeader(e.to_string()))?,
                );
            }
        }
    }
    let header =
        header.ok_or_else(|| corrupt("a core without Leasehold's note"))?;
    if header.format != crate::dump::FORMAT {
        return Err(DumpError::OtherFormat {
            found: header.format,
        });
    }
    let mut ram = Vec::with_capacity(ram_sizes.len());
    for (task, &expected) in ram_sizes.iter().enumerate() {
        let entry = format!("task {task}'s RAM");
        let Some(row) = header.tasks.get(task) else {
            return Err(corrupt(&format!("no row for task {task}")));
        };
        let base = u64::from(row.ram.base);
        let seg = phdrs.iter().find(|p| {
            p.p_type(endian) == elf::PT_LOAD && p.p_vaddr(endian) == base
        });
        let data = seg
            .and_then(|p| p.data(endian, bytes).ok())
            .ok_or_else(|| corrupt(&format!("{entry} is missing")))?;
        let found = data.len() as u64;
        if found != expected {
            return Err(DumpError::WrongSize {
                entry,
                task,
                found,
                expected,
            });
        }
        ram.push(data.to_vec());
    }
    Ok(Dump { header, ram })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registers::{Capture, RBP, RIP, RSP};
    use crate::{HexBytes, Range, TaskRow};

    fn header() -> DumpHeader {
        let row = |index: usize, ram: u32, flash: u32| TaskRow {
            index,
            name: format!("t{index}"),
            generation: 0,
            priority: 1,
            state: HexBytes(abi::TaskState::default().encode().to_vec()),
            syscalls: 0,
            notifications: 0,
            timer: None,
            ram: Range {
                base: ram,
                size: 0x2000,
            },
            flash: Range {
                base: flash,
                size: 0x1000,
            },
            recv_mask: None,
            panic: None,
        };
        let mut regs = Registers::new(Capture::Fault);
        regs.values[RIP] = Some(0x1000_0123);
        regs.values[RSP] = Some(0x4000_1ff0);
        regs.values[RBP] = Some(0x4000_1ff8);
        regs.fault_address = Some(0);
        regs.signal = Some(11);
        DumpHeader {
            format: crate::dump::FORMAT.into(),
            name: "img".into(),
            image_id: "0011223344556677".into(),
            git_revision: "r".into(),
            uptime_ms: 1,
            reason: "test".into(),
            tasks: vec![
                row(0, 0x4000_0000, 0x1000_0000),
                row(1, 0x4001_0000, 0x1001_0000),
            ],
            registers: vec![Some(regs), None],
        }
    }

    fn written() -> Vec<u8> {
        let rams = [vec![1u8; 0x2000], vec![2u8; 0x2000]];
        let flashes = [vec![0xc3u8; 0x1000], vec![0x90u8; 0x1000]];
        let r: Vec<&[u8]> = rams.iter().map(Vec::as_slice).collect();
        let f: Vec<&[u8]> = flashes.iter().map(Vec::as_slice).collect();
        write(Vec::new(), &header(), &r, &f).unwrap()
    }

    #[test]
    fn a_core_reads_back_through_the_dump_reader() {
        let bytes = written();
        assert!(is_core(&bytes));
        let dump =
            crate::dump::read(std::io::Cursor::new(bytes), &[0x2000, 0x2000])
                .unwrap();
        assert_eq!(dump.header, header());
        assert_eq!(dump.ram, vec![vec![1u8; 0x2000], vec![2u8; 0x2000]]);
    }

    #[test]
    fn the_core_is_an_elf_core_with_a_thread_per_task_and_memory_at_its_addresses()
     {
        use object::{Object, ObjectSegment};
        let bytes = written();
        let file = object::File::parse(&*bytes).unwrap();
        assert_eq!(file.kind(), object::ObjectKind::Core);
        let loads: Vec<(u64, u64)> =
            file.segments().map(|s| (s.address(), s.size())).collect();
        for want in [
            (0x1000_0000, 0x1000),
            (0x4000_0000, 0x2000),
            (0x1001_0000, 0x1000),
            (0x4001_0000, 0x2000),
        ] {
            assert!(loads.contains(&want), "{loads:?}");
        }
        // Thread ids, signal and rip in the NT_PRSTATUS notes.
        let data = &bytes[..];
        let hdr = elf::FileHeader64::<object::Endianness>::parse(data).unwrap();
        let e = hdr.endian().unwrap();
        let mut threads = Vec::new();
        for ph in hdr.program_headers(e, data).unwrap() {
            if let Some(mut notes) = ph.notes(e, data).unwrap() {
                while let Some(n) = notes.next().unwrap() {
                    if n.name() == elf::ELF_NOTE_CORE && n.n_type(e).0 == 1 {
                        let d = n.desc();
                        assert_eq!(d.len(), PRSTATUS_SIZE);
                        let pid =
                            u32::from_le_bytes(d[32..36].try_into().unwrap());
                        let rip = u64::from_le_bytes(
                            d[PR_REG + 16 * 8..PR_REG + 17 * 8]
                                .try_into()
                                .unwrap(),
                        );
                        threads.push((pid, d[PR_CURSIG], rip));
                    }
                }
            }
        }
        assert_eq!(threads, vec![(1, 11, 0x1000_0123), (2, 0, 0)]);
    }

    #[test]
    fn truncated_or_foreign_cores_are_one_line_errors() {
        let bytes = written();
        for cut in [10, 64, 200, bytes.len() / 2, bytes.len() - 1] {
            let e = read(&bytes[..cut], &[0x2000, 0x2000]).unwrap_err();
            assert!(!e.to_string().contains('\n'), "{e}");
        }
        // A core of a smaller RAM than the archive says.
        assert!(matches!(
            read(&bytes, &[0x2000, 0x4000]),
            Err(DumpError::WrongSize { task: 1, .. })
        ));
        // An ELF that is not a core, and a core without our note.
        let mut exec = bytes.clone();
        exec[16] = 2;
        assert!(read(&exec, &[0x2000, 0x2000]).is_err());
        let mut no_note = bytes.clone();
        if let Some(at) = no_note.windows(9).position(|w| w == NOTE_NAME) {
            no_note[at] = b'X';
        }
        assert!(matches!(
            read(&no_note, &[0x2000, 0x2000]),
            Err(DumpError::Corrupt(_))
        ));
    }
}
