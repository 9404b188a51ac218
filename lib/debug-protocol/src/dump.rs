//! Dump files: the task table and every task's RAM, plus the image's
//! identity. The kernel now writes them as ELF core files
//! ([`crate::coredump`]); [`read`] reads those and this older format, one
//! zip: [`HEADER_ENTRY`] (a [`DumpHeader`] as JSON) and
//! `ram/<index>.bin` ([`ram_entry`]).
//!
//! Flash is not dumped: it is in the image archive, which a dump is always
//! read together with (the reader checks the image id matches).
//!
//! A dump is a file from disk, so the reader trusts nothing in it: every
//! entry is read through a limit (the header's [`MAX_HEADER_BYTES`], each
//! RAM entry the size the archive says the task has), so a zip bomb or a
//! lying size field costs at most that much memory.

use crate::{Registers, TaskRow};
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, Write};

/// Format tag, so a reader can refuse something else.
pub const FORMAT: &str = "leasehold-dump-1";

/// The header's entry in the zip.
pub const HEADER_ENTRY: &str = "dump.json";

/// Largest core dump a reader accepts: every task's RAM and flash of
/// the largest image is far less.
pub const MAX_CORE_BYTES: u64 = 1 << 30;

/// Largest header a reader accepts (a task table of 1024 tasks is well
/// under 1 MiB).
pub const MAX_HEADER_BYTES: u64 = 4 << 20;

/// The entry holding task `index`'s RAM.
pub fn ram_entry(index: usize) -> String {
    format!("ram/{index}.bin")
}

/// `dump.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DumpHeader {
    /// Always [`FORMAT`].
    pub format: String,
    /// The image's name.
    pub name: String,
    /// 16 hex digits, as the archive's manifest has it.
    pub image_id: String,
    pub git_revision: String,
    /// When, in ms since boot.
    #[serde(default)]
    pub uptime_ms: u64,
    /// Why the kernel wrote it.
    #[serde(default)]
    pub reason: String,
    pub tasks: Vec<TaskRow>,
    /// Task `i`'s registers when the dump was written (at its fault for
    /// a faulted task), where the kernel could read them. Dumps written
    /// before registers were dumped have none.
    #[serde(default)]
    pub registers: Vec<Option<Registers>>,
}

/// Writes a dump: the header, then `rams[i]` as task `i`'s RAM.
///
/// # Errors
///
/// What writing `out` returns.
pub fn write<W: Write + Seek>(
    out: W,
    header: &DumpHeader,
    rams: &[&[u8]],
) -> zip::result::ZipResult<W> {
    let mut zip = zip::ZipWriter::new(out);
    let opts = zip::write::SimpleFileOptions::default();
    zip.start_file(HEADER_ENTRY, opts)?;
    let text = serde_json::to_vec_pretty(header)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    zip.write_all(&text)?;
    for (i, ram) in rams.iter().enumerate() {
        zip.start_file(ram_entry(i), opts)?;
        zip.write_all(ram)?;
    }
    zip.finish()
}

/// What a dump holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dump {
    pub header: DumpHeader,
    /// Task `i`'s RAM.
    pub ram: Vec<Vec<u8>>,
}

/// Why a dump cannot be read. Each is one line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DumpError {
    #[error("corrupt or truncated ({0})")]
    Corrupt(String),
    #[error("malformed {HEADER_ENTRY}: {0}")]
    BadHeader(String),
    #[error("a {found:?} dump; this reader reads {FORMAT:?}")]
    OtherFormat { found: String },
    #[error("truncated: {entry} has {found} bytes, task {task} has {expected}")]
    WrongSize {
        entry: String,
        task: usize,
        found: u64,
        expected: u64,
    },
}

/// Reads a dump of an image whose task `i` has `ram_sizes[i]` bytes of
/// RAM (from the archive, not from the dump). Never panics, and never
/// reads more than the sizes and [`MAX_HEADER_BYTES`] allow.
///
/// # Errors
///
/// A [`DumpError`] saying what is wrong.
pub fn read<R: Read + Seek>(
    mut input: R,
    ram_sizes: &[u64],
) -> Result<Dump, DumpError> {
    let io = |e: std::io::Error| DumpError::Corrupt(e.to_string());
    let mut magic = Vec::with_capacity(4);
    (&mut input).take(4).read_to_end(&mut magic).map_err(io)?;
    input.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
    if crate::coredump::is_core(&magic) {
        let mut bytes = Vec::new();
        input
            .take(MAX_CORE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_CORE_BYTES {
            return Err(DumpError::Corrupt(format!(
                "a core dump over {MAX_CORE_BYTES} bytes"
            )));
        }
        return crate::coredump::read(&bytes, ram_sizes);
    }
    let mut zip = zip::ZipArchive::new(input)
        .map_err(|e| DumpError::Corrupt(e.to_string()))?;
    let text = read_entry(&mut zip, HEADER_ENTRY, MAX_HEADER_BYTES)?.map_err(
        |found| {
            DumpError::Corrupt(format!(
                "{HEADER_ENTRY} is over {MAX_HEADER_BYTES} bytes ({found}+)"
            ))
        },
    )?;
    let header: DumpHeader = serde_json::from_slice(&text)
        .map_err(|e| DumpError::BadHeader(e.to_string()))?;
    if header.format != FORMAT {
        return Err(DumpError::OtherFormat {
            found: header.format,
        });
    }
    let mut ram = Vec::with_capacity(ram_sizes.len());
    for (task, &expected) in ram_sizes.iter().enumerate() {
        let entry = ram_entry(task);
        let bytes = match read_entry(&mut zip, &entry, expected)? {
            Ok(b) => b,
            Err(found) => {
                return Err(DumpError::WrongSize {
                    entry,
                    task,
                    found,
                    expected,
                });
            }
        };
        let found = bytes.len() as u64;
        if found != expected {
            return Err(DumpError::WrongSize {
                entry,
                task,
                found,
                expected,
            });
        }
        ram.push(bytes);
    }
    Ok(Dump { header, ram })
}

/// An entry's bytes if it has at most `limit`, else `Err(limit + 1)`:
/// we stop reading one byte past the limit, whatever its header claims.
fn read_entry<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    limit: u64,
) -> Result<Result<Vec<u8>, u64>, DumpError> {
    let corrupt =
        |e: &dyn std::fmt::Display| DumpError::Corrupt(format!("{name}: {e}"));
    let entry = zip.by_name(name).map_err(|e| corrupt(&e))?;
    let mut bytes = Vec::new();
    entry
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| corrupt(&e))?;
    let len = bytes.len() as u64;
    Ok(if len > limit { Err(len) } else { Ok(bytes) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HexBytes, Range};
    use std::io::Cursor;

    fn header() -> DumpHeader {
        DumpHeader {
            format: FORMAT.into(),
            name: "demo".into(),
            image_id: "00112233445566ff".into(),
            git_revision: "abc".into(),
            uptime_ms: 5,
            reason: "test".into(),
            tasks: vec![TaskRow {
                index: 0,
                name: "jefe".into(),
                generation: 1,
                priority: 0,
                state: HexBytes(abi::TaskState::default().encode().to_vec()),
                syscalls: 3,
                notifications: 0,
                timer: None,
                ram: Range {
                    base: 0x1000,
                    size: 4,
                },
                flash: Range { base: 0, size: 16 },
                recv_mask: Some(1),
                panic: None,
            }],
            registers: vec![None],
        }
    }

    fn written(rams: &[&[u8]]) -> Vec<u8> {
        write(Cursor::new(Vec::new()), &header(), rams)
            .unwrap()
            .into_inner()
    }

    #[test]
    fn a_written_dump_reads_back() {
        let bytes = written(&[&[1, 2, 3, 4], &[5; 8]]);
        let dump = read(Cursor::new(bytes), &[4, 8]).unwrap();
        assert_eq!(dump.header, header());
        assert_eq!(dump.ram, vec![vec![1, 2, 3, 4], vec![5; 8]]);
    }

    #[test]
    fn a_dump_without_registers_still_reads() {
        let mut text = serde_json::to_value(header()).unwrap();
        text.as_object_mut().unwrap().remove("registers");
        let old: DumpHeader = serde_json::from_value(text).unwrap();
        assert!(old.registers.is_empty());
    }

    #[test]
    fn ram_of_the_wrong_size_is_refused_without_reading_it_all() {
        let big = vec![7u8; 1 << 20];
        let bytes = written(&[&big]);
        assert_eq!(
            read(Cursor::new(bytes.clone()), &[16]),
            Err(DumpError::WrongSize {
                entry: "ram/0.bin".into(),
                task: 0,
                found: 17,
                expected: 16
            })
        );
        assert!(matches!(
            read(Cursor::new(bytes), &[1 << 20, 4]),
            Err(DumpError::Corrupt(_))
        ));
    }

    #[test]
    fn garbage_truncation_and_other_formats_are_one_line_errors() {
        let good = written(&[&[0; 4]]);
        assert!(matches!(
            read(Cursor::new(b"not a dump".to_vec()), &[4]),
            Err(DumpError::Corrupt(_))
        ));
        let half = good[..good.len() / 2].to_vec();
        assert!(read(Cursor::new(half), &[4]).is_err());
        let mut other = header();
        other.format = "leasehold-dump-0".into();
        let bytes = write(Cursor::new(Vec::new()), &other, &[&[0; 4]])
            .unwrap()
            .into_inner();
        assert!(matches!(
            read(Cursor::new(bytes), &[4]),
            Err(DumpError::OtherFormat { .. })
        ));
        for e in [
            DumpError::Corrupt("x".into()),
            DumpError::BadHeader("y".into()),
        ] {
            assert!(!e.to_string().contains('\n'));
        }
    }
}
