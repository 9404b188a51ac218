//! The `humility` command line; every command is a function in the
//! library, this only parses arguments and prints.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use clap::{Parser, Subcommand};

use humility::output::Format;
use humility::{
    Options, Session, fpga, gdb, hiffy, info, jefe, memory, tasks, vars,
};

/// A Humility-style debugger for Leasehold images, live or from a dump.
#[derive(Parser, Debug)]
#[command(name = "humility", version)]
struct Args {
    /// The image archive (default: $HUMILITY_ARCHIVE).
    #[arg(short, long)]
    archive: Option<PathBuf>,
    /// Inspect this dump file instead of a running system.
    #[arg(short, long)]
    dump: Option<PathBuf>,
    /// The kernel's probe socket (default:
    /// $XDG_RUNTIME_DIR/leasehold-<image>.sock, else
    /// /tmp/leasehold-<uid>/<image>.sock).
    #[arg(short, long, conflicts_with = "dump")]
    probe: Option<PathBuf>,
    /// An emulated board (mps2-an386) under QEMU: its GDB stub's
    /// loopback address, e.g. 127.0.0.1:1234 (QEMU's `-gdb
    /// tcp:127.0.0.1:1234`).
    #[arg(long, value_name = "IP:PORT", conflicts_with_all = ["dump", "probe"])]
    qemu: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Lists tasks: generation, priority, state, fault.
    Tasks {
        /// Also show syscall counts, notifications, timers, memory and
        /// registers.
        #[arg(short, long)]
        verbose: bool,
        /// Also show each task's stack trace.
        #[arg(short, long)]
        stack: bool,
        /// Only this task.
        task: Option<String>,
        /// Output: text, or json/csv records for scripts (the table only).
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
    },
    /// Shows a task's registers (at its fault, for a faulted task).
    Registers {
        /// Also show its stack trace.
        #[arg(short, long)]
        stack: bool,
        /// The task.
        task: String,
    },
    /// Shows each task's stack size, the deepest it has been, and the
    /// margin left.
    Stackmargin,
    /// Reads task memory as hex and ASCII.
    Readmem {
        /// As 32-bit words.
        #[arg(short, long, group = "unit")]
        word: bool,
        /// As bytes (the default).
        #[arg(short, long, group = "unit")]
        byte: bool,
        /// As 64-bit longs.
        #[arg(short, long, group = "unit")]
        long: bool,
        /// The task whose symbol is meant, when several have it.
        #[arg(short, long)]
        task: Option<String>,
        /// An address (0x... or decimal) or a symbol.
        address: String,
        /// Bytes (default: the symbol's size, else 256).
        length: Option<String>,
    },
    /// Writes a 32-bit word into a task's RAM.
    Writeword {
        /// The task whose symbol is meant, when several have it.
        #[arg(short, long)]
        task: Option<String>,
        /// An address (0x... or decimal) or a symbol.
        address: String,
        /// The value (0x... or decimal).
        value: String,
    },
    /// Serves GDB's remote protocol on a loopback port, through the
    /// probe: every task a thread, breakpoints hold only their task.
    Gdb {
        /// Hold this task from attach until the first `continue` (and
        /// on Ctrl-C), and make its ELF GDB's main file.
        task: Option<String>,
        /// The TCP port on 127.0.0.1 (0: any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// Shows the image's configuration (works without a system).
    Manifest,
    /// Shows each task's memory ranges and peripheral grants.
    Map,
    /// Reads a static by name, or lists them.
    Readvar {
        /// List statics instead.
        #[arg(short, long)]
        list: bool,
        /// Only this task's statics.
        #[arg(short, long)]
        task: Option<String>,
        /// The static's name or path suffix (`__RINGBUF`,
        /// `task_jefe::STATE`).
        name: Option<String>,
    },
    /// Prints ring buffers, decoded, oldest entry first.
    Ringbuf {
        /// A substring of the task name or the buffer's path.
        filter: Option<String>,
        /// Per buffer and payload variant: entries and records held, and
        /// (counted buffers) records ever.
        #[arg(long)]
        totals: bool,
        /// Output: text, or json/csv records for scripts.
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
    },
    /// Prints counters; `counters ipc` prints idol's per-op counters,
    /// `counters list` every counter's name (no system needed).
    Counters {
        /// `ipc`, `list`, or a substring of the task name or the
        /// static's path.
        filter: Option<String>,
        /// With `ipc` or `list`: a substring of the task name or the
        /// static's path.
        more: Option<String>,
        /// Output: text, or json/csv records for scripts.
        #[arg(short, long, value_enum, default_value_t)]
        output: Format,
    },
    /// Lists IPC interfaces, or calls an op through the hiffy task.
    Hiffy {
        /// List interfaces (optionally those containing this text).
        #[arg(short, long, num_args = 0..=1, default_missing_value = "")]
        list: Option<String>,
        /// The op to call: Interface.op.
        #[arg(short, long)]
        call: Option<String>,
        /// Arguments: name=value[,name=value].
        #[arg(short = 'a', long = "arguments")]
        arguments: Vec<String>,
        /// A file to lend as the op's next read lease (repeat for an op
        /// with several, in the order it declares them).
        #[arg(short, long)]
        input: Vec<PathBuf>,
        /// Size of the op's next write lease, in bytes (repeatable).
        #[arg(short, long)]
        num: Vec<usize>,
        /// Save what the server wrote into the lease here.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// The serving task, when several serve the interface.
        #[arg(short, long)]
        task: Option<String>,
        /// Milliseconds to wait for hiffy.
        #[arg(short = 'T', long, default_value_t = 5000)]
        timeout: u64,
    },
    /// Asks jefe to fault, hold, release or start a task.
    Jefe {
        /// Fault the task (and hold it).
        #[arg(short, long, group = "action")]
        fault: bool,
        /// Hold the task at its next fault instead of restarting it.
        #[arg(short = 'H', long, group = "action")]
        hold: bool,
        /// Release a held task (restarting it if it is faulted).
        #[arg(short, long, group = "action")]
        release: bool,
        /// Start (restart) the task.
        #[arg(short, long, group = "action")]
        start: bool,
        /// The task.
        task: String,
    },
    /// The FPGA manager's devices, bridges and regions: status (default,
    /// live or on a dump), and loading, resetting and removing through
    /// hiffy.
    Fpga {
        #[command(subcommand)]
        command: Option<FpgaCommand>,
    },
    /// Asks the kernel to write a dump (with --qemu: writes the board's
    /// memory to a dump file); prints its path.
    Dump {
        /// Where (default: the kernel's dump directory; with --qemu,
        /// <image>-qemu-<uptime ms>.dump here).
        file: Option<PathBuf>,
    },
}

/// `humility fpga ...`.
#[derive(Subcommand, Debug)]
enum FpgaCommand {
    /// Every device (or one): driver, state, status bits, lock holder,
    /// what it runs; bridges and regions.
    Status {
        /// A device name from app.toml, or its index.
        device: Option<String>,
    },
    /// Loads an image from a file (any size, streamed through hiffy) or
    /// from the firmware store (--blob); takes and releases the lock.
    Load {
        /// A device name from app.toml, or its index.
        device: String,
        /// The image file.
        #[arg(required_unless_present = "blob", conflicts_with = "blob")]
        file: Option<PathBuf>,
        /// Load the firmware store's image of this name instead.
        #[arg(long)]
        blob: Option<String>,
        /// Image flags: partial, external, encrypted, lsb-first,
        /// compressed (comma-separated), or a number.
        #[arg(long, default_value = "")]
        flags: String,
        /// The manager's deadline for the load, ms (0: its default).
        #[arg(long, default_value_t = 0)]
        timeout: u32,
    },
    /// Resets a device (configuration mode); takes and releases the lock.
    Reset { device: String },
    /// Unbinds a device's driver; takes and releases the lock.
    Remove { device: String },
    /// A bridge's state, or enables or disables it.
    Bridge {
        /// A bridge name from app.toml, or its index.
        bridge: String,
        /// state, enable or disable.
        #[arg(default_value = "state")]
        action: String,
    },
    /// Regions.
    Region {
        #[command(subcommand)]
        command: RegionCommand,
    },
}

#[derive(Subcommand, Debug)]
enum RegionCommand {
    /// Programs a region: bridges off, load, bridges on, in one call.
    Program {
        /// A region name from app.toml, or its index.
        region: String,
        /// The image file (it must fit hiffy's buffer).
        #[arg(required_unless_present = "blob", conflicts_with = "blob")]
        file: Option<PathBuf>,
        /// The firmware store's image of this name.
        #[arg(long)]
        blob: Option<String>,
        /// Image flags, as for `fpga load`.
        #[arg(long, default_value = "")]
        flags: String,
        /// The manager's deadline, ms (0: its default).
        #[arg(long, default_value_t = 0)]
        timeout: u32,
    },
}

fn fpga_command(
    session: &mut Session,
    command: Option<FpgaCommand>,
) -> Result<String> {
    let command = command.unwrap_or(FpgaCommand::Status { device: None });
    let (archive, target) = session.parts()?;
    let source =
        |file: Option<PathBuf>, blob: Option<String>| match (file, blob) {
            (_, Some(b)) => Ok(fpga::Source::Blob(b)),
            (Some(f), None) => fpga::read_image(&f).map(fpga::Source::Bytes),
            (None, None) => Err(anyhow!("give a FILE or --blob NAME")),
        };
    match command {
        FpgaCommand::Status { device } => {
            fpga::status(archive, target, device.as_deref())
        }
        FpgaCommand::Load {
            device,
            file,
            blob,
            flags,
            timeout,
        } => {
            let opts = fpga::LoadOptions {
                flags: fpga::parse_flags(&flags)?,
                timeout_ms: timeout,
                progress: fpga::progress_wanted(),
            };
            let caller = fpga::Caller::new(archive)?;
            caller.mgr.device(&device)?;
            let source = source(file, blob)?;
            // Ctrl-C sets a flag the load looks at between chunks, so the
            // lock is always given back.
            signal_hook::flag::register(
                signal_hook::consts::SIGINT,
                caller.interrupted.clone(),
            )
            .map_err(|e| anyhow!("cannot catch SIGINT: {e}"))?;
            fpga::load(&caller, target, &device, &source, &opts)
        }
        FpgaCommand::Reset { device } => {
            let caller = fpga::Caller::new(archive)?;
            fpga::device_op(&caller, target, &device, "reset")
        }
        FpgaCommand::Remove { device } => {
            let caller = fpga::Caller::new(archive)?;
            fpga::device_op(&caller, target, &device, "remove")
        }
        FpgaCommand::Bridge { bridge, action } => {
            let caller = fpga::Caller::new(archive)?;
            fpga::bridge(&caller, target, &bridge, &action)
        }
        FpgaCommand::Region {
            command:
                RegionCommand::Program {
                    region,
                    file,
                    blob,
                    flags,
                    timeout,
                },
        } => {
            let opts = fpga::LoadOptions {
                flags: fpga::parse_flags(&flags)?,
                timeout_ms: timeout,
                progress: false,
            };
            let caller = fpga::Caller::new(archive)?;
            caller.mgr.region(&region)?;
            let source = source(file, blob)?;
            fpga::region_program(&caller, target, &region, &source, &opts)
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(text) => write_output(&text),
        Err(e) => {
            eprintln!("humility: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a command's output. A reader that went away first
/// (`humility tasks | head`) is not our error: we stop quietly, as other
/// Unix tools do, instead of panicking in `print!`.
fn write_output(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("humility: error: cannot write the output: {e}");
            ExitCode::FAILURE
        }
        _ => ExitCode::SUCCESS,
    }
}

fn run(args: Args) -> Result<String> {
    let opts = Options {
        archive: args.archive,
        dump: args.dump,
        probe: args.probe,
        qemu: args.qemu,
    };
    let mut session = Session::open(&opts)?;
    match args.command {
        Command::Manifest => Ok(info::manifest(&session.archive)),
        Command::Gdb { task, port } => {
            let focus = match &task {
                Some(t) => Some(usize::from(session.archive.task(t)?.index)),
                None => None,
            };
            let (archive, target) = session.parts()?;
            let probe = target.live("gdb")?;
            let dir = gdb::ScratchDir::new()?;
            let reason =
                gdb::run(archive, probe, focus, port, dir.path(), |line| {
                    // GDB's chatter; a reader that went away loses it.
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
                })?;
            Ok(format!("humility: GDB session ended ({reason:?})\n"))
        }
        Command::Map => Ok(info::map(&session.archive)),
        Command::Tasks {
            verbose,
            stack,
            task,
            output,
        } => {
            if output != Format::Text && (verbose || stack) {
                bail!(
                    "-o {output:?} gives the task table only; -v and -s are \
                     text"
                );
            }
            let (archive, target) = session.parts()?;
            if output != Format::Text {
                return tasks::task_records(
                    archive,
                    target,
                    task.as_deref(),
                    output,
                );
            }
            let show = tasks::Show { verbose, stack };
            tasks::tasks(archive, target, show, task.as_deref())
        }
        Command::Registers { stack, task } => {
            session.archive.task(&task)?;
            let (archive, target) = session.parts()?;
            memory::registers(archive, target, &task, stack)
        }
        Command::Stackmargin => {
            let (archive, target) = session.parts()?;
            memory::stackmargin(archive, target)
        }
        Command::Readmem {
            word,
            byte: _,
            long,
            task,
            address,
            length,
        } => {
            let unit = match (word, long) {
                (true, _) => memory::Unit::Word,
                (_, true) => memory::Unit::Long,
                _ => memory::Unit::Byte,
            };
            let length = match length {
                Some(l) => Some(memory::parse_number(&l).ok_or_else(|| {
                    anyhow!("{l:?} is not a length (0x... or decimal)")
                })?),
                None => None,
            };
            let (archive, target) = session.parts()?;
            memory::readmem(
                archive,
                target,
                &address,
                task.as_deref(),
                length,
                unit,
            )
        }
        Command::Writeword {
            task,
            address,
            value,
        } => {
            let (archive, target) = session.parts()?;
            memory::writeword(
                archive,
                target,
                &address,
                task.as_deref(),
                &value,
            )
        }
        Command::Readvar { list, task, name } => {
            let task = match &task {
                Some(t) => Some(usize::from(session.archive.task(t)?.index)),
                None => None,
            };
            if list {
                return vars::list(&session.archive, task);
            }
            let name =
                name.ok_or_else(|| anyhow!("readvar needs a NAME (or -l)"))?;
            let (archive, target) = session.parts()?;
            vars::readvar(archive, target, task, &name)
        }
        Command::Ringbuf {
            filter,
            totals,
            output,
        } => {
            let (archive, target) = session.parts()?;
            if totals {
                vars::ringbuf_totals(archive, target, filter.as_deref(), output)
            } else {
                vars::ringbuf(archive, target, filter.as_deref(), output)
            }
        }
        Command::Counters {
            filter,
            more,
            output,
        } => {
            if filter.as_deref() == Some("list") {
                return vars::counters_list(
                    &session.archive,
                    more.as_deref(),
                    output,
                );
            }
            let (archive, target) = session.parts()?;
            match filter.as_deref() {
                Some("ipc") => {
                    vars::counters_ipc(archive, target, more.as_deref(), output)
                }
                f => vars::counters(archive, target, f, output),
            }
        }
        Command::Hiffy {
            list,
            call,
            arguments,
            input,
            num,
            output,
            task,
            timeout,
        } => {
            if let Some(filter) = list {
                let filter = Some(filter.as_str()).filter(|f| !f.is_empty());
                return hiffy::list(&session.archive, filter);
            }
            let Some(call) = call else {
                bail!("hiffy needs -l or -c Interface.op");
            };
            let inputs = input
                .iter()
                .map(|p| {
                    std::fs::read(p).map_err(|e| {
                        anyhow!("cannot read {}: {e}", p.display())
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let request = hiffy::Call {
                call,
                args: arguments,
                inputs,
                write_lens: num,
                task,
                timeout: Some(Duration::from_millis(timeout)),
            };
            let (archive, target) = session.parts()?;
            let called = hiffy::call(archive, target, &request)?;
            let mut text = format!("{}\n", called.text);
            for bytes in called.written {
                match &output {
                    Some(p) => {
                        std::fs::write(p, &bytes).map_err(|e| {
                            anyhow!("cannot write {}: {e}", p.display())
                        })?;
                        text.push_str(&format!(
                            "humility: {} bytes written to {}\n",
                            bytes.len(),
                            p.display()
                        ));
                    }
                    None => text.push_str(&hiffy::hexdump(&bytes)),
                }
            }
            Ok(text)
        }
        Command::Jefe {
            fault,
            hold,
            release,
            start,
            task,
        } => {
            let action = match (fault, hold, release, start) {
                (true, ..) => jefe::Action::Fault,
                (_, true, ..) => jefe::Action::Hold,
                (_, _, true, _) => jefe::Action::Release,
                (.., true) => jefe::Action::Start,
                _ => bail!("jefe needs one of -f, -H, -r, -s"),
            };
            let (archive, target) = session.parts()?;
            jefe::jefe(archive, target, action, &task)
        }
        Command::Fpga { command } => fpga_command(&mut session, command),
        Command::Dump { file } => {
            let (archive, target) = session.parts()?;
            humility::dump(archive, target, file.as_deref())
        }
    }
}
