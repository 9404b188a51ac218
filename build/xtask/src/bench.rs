//! `cargo xtask bench <ipc|fpga|idol>`: benchmarks that print their figure
//! next to a baseline measured in the same run, ending in `ratio` lines
//! for scripts.
//!
//! A benchmark image's tasks print `bench <name> <median ns> <min ns>
//! <max ns>` lines on the console and shut down; this module boots the
//! image (under the placements a benchmark asks for), collects the lines,
//! and measures the host baselines itself.

use anyhow::{Context, Result, bail};

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A figure as the image reports it.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Figure {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// Parses `[task] bench <name> <median> <min> <max>`.
pub fn parse_bench_line(line: &str) -> Option<(String, Figure)> {
    let rest = line.split_once("bench ")?.1;
    let mut w = rest.split_whitespace();
    let name = w.next()?.to_owned();
    let mut n = || w.next()?.parse::<f64>().ok();
    Some((
        name,
        Figure {
            median: n()?,
            min: n()?,
            max: n()?,
        },
    ))
}

/// Boots `archive` once (on one CPU or free) and returns its figures.
fn run_image(
    kernel: &Path,
    archive: &Path,
    one_cpu: bool,
) -> Result<BTreeMap<String, Figure>> {
    let mut cmd = Command::new(kernel);
    cmd.arg(archive)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if one_cpu {
        cmd.arg("--one-cpu");
    }
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot run {}", kernel.display()))?;
    let pid = rustix::process::Pid::from_child(&child);
    // A benchmark image shuts itself down; one that does not is stopped.
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(180));
        let _ =
            rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    });
    let out = child.wait_with_output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let figures: BTreeMap<_, _> =
        text.lines().filter_map(parse_bench_line).collect();
    if !out.status.success() || figures.is_empty() {
        bail!("benchmark image failed ({}):\n{text}", out.status);
    }
    Ok(figures)
}

/// Pins this process (and what it starts afterwards) to CPU 0, or frees
/// it to run anywhere.
fn pin(one_cpu: bool) -> Result<()> {
    let mut set = rustix::thread::CpuSet::new();
    let cpus = if one_cpu {
        1
    } else {
        rustix::thread::CpuSet::MAX_CPU
    };
    for c in 0..cpus {
        set.set(c);
    }
    rustix::thread::sched_setaffinity(None, &set)
        .context("cannot set CPU affinity")
}

/// Median, min and max of `samples` runs of `f`, each timed over `iters`
/// iterations, in ns per iteration.
fn sample(samples: usize, iters: u32, mut f: impl FnMut(u32)) -> Figure {
    let mut v: Vec<f64> = (0..samples)
        .map(|_| {
            let t = Instant::now();
            f(iters);
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    v.sort_by(f64::total_cmp);
    Figure {
        median: v[v.len() / 2],
        min: v[0],
        max: v[v.len() - 1],
    }
}

/// One-CPU boots of the IPC image, each followed by its pipe baseline.
/// On a shared virtual machine the same binary's round trip differs from
/// boot to boot by up to a tenth (where the host put the processes'
/// memory, what the neighbours do), more than the differences this
/// benchmark is for; one boot is one draw of that.
const ONE_CPU_ROUNDS: usize = 3;

/// The median of each figure over the rounds (its min and max the
/// extremes of all rounds), and likewise for the pipe baseline.
type Round = (BTreeMap<String, Figure>, Figure);
fn median_of_rounds(
    rounds: &[Round],
) -> Result<(BTreeMap<String, Figure>, Figure)> {
    let Some((first, _)) = rounds.first() else {
        bail!("no benchmark rounds");
    };
    let mut figures = BTreeMap::new();
    for name in first.keys() {
        let each: Vec<Figure> = rounds
            .iter()
            .map(|(one, _)| get(one, name).copied())
            .collect::<Result<_>>()?;
        figures.insert(name.clone(), median_figure(&each));
    }
    let pipes: Vec<Figure> = rounds.iter().map(|(_, pipe)| *pipe).collect();
    Ok((figures, median_figure(&pipes)))
}

fn median_figure(each: &[Figure]) -> Figure {
    let mut medians: Vec<f64> = each.iter().map(|f| f.median).collect();
    medians.sort_by(f64::total_cmp);
    Figure {
        median: medians[medians.len() / 2],
        min: each.iter().map(|f| f.min).fold(f64::INFINITY, f64::min),
        max: each.iter().map(|f| f.max).fold(f64::NEG_INFINITY, f64::max),
    }
}

/// Round trip of one byte between two processes over a pair of pipes,
/// the cheapest blocking hand-off Linux offers two processes: we write a
/// byte to `cat`'s stdin and read it back from its stdout.
fn pipe_round_trip() -> Result<Figure> {
    use std::io::{Read, Write};
    let mut cat = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run cat for the pipe baseline")?;
    let (Some(mut to), Some(mut from)) = (cat.stdin.take(), cat.stdout.take())
    else {
        bail!("cat has no pipes");
    };
    let mut byte = [0u8; 1];
    let mut trip = |n: u32| -> std::io::Result<()> {
        for _ in 0..n {
            to.write_all(&byte)?;
            from.read_exact(&mut byte)?;
        }
        Ok(())
    };
    trip(2000)?;
    let mut failed = None;
    let fig = sample(7, 20_000, |n| {
        if let Err(e) = trip(n) {
            failed = Some(e);
        }
    });
    drop(to);
    let _ = cat.wait();
    match failed {
        Some(e) => Err(e).context("pipe baseline"),
        None => Ok(fig),
    }
}

/// A 1 MiB `memcpy` between two buffers that are already paged in.
fn memcpy_1mib() -> Figure {
    let src = vec![0x5Au8; 1 << 20];
    let mut dst = vec![0u8; 1 << 20];
    dst.copy_from_slice(&src);
    sample(7, 500, |n| {
        for _ in 0..n {
            dst.copy_from_slice(std::hint::black_box(&src));
            std::hint::black_box(&mut dst);
        }
    })
}

fn row(name: &str, f: &Figure) {
    println!(
        "{name:<40} {:>10.0} {:>10.0} {:>10.0}",
        f.median, f.min, f.max
    );
}

fn header() {
    println!(
        "{:<40} {:>10} {:>10} {:>10}",
        "figure (ns)", "median", "min", "max"
    );
}

fn get<'a>(m: &'a BTreeMap<String, Figure>, k: &str) -> Result<&'a Figure> {
    m.get(k)
        .with_context(|| format!("the image reported no `{k}`"))
}

/// The IPC benchmark: null round trip and a 1 MiB borrow, on one CPU and
/// under free placement, against a pipe round trip and memcpy.
pub fn ipc(root: &Path) -> Result<()> {
    let image = crate::dist::dist(&root.join("test/bench/ipc.toml"))?;
    pin(true)?;
    let mut rounds = Vec::with_capacity(ONE_CPU_ROUNDS);
    for _ in 0..ONE_CPU_ROUNDS {
        let one = run_image(&image.kernel, &image.archive, true)?;
        rounds.push((one, pipe_round_trip()?));
    }
    let (one, pipe_one) = median_of_rounds(&rounds)?;
    pin(false)?;
    let free = run_image(&image.kernel, &image.archive, false)?;
    let pipe_free = pipe_round_trip()?;
    let memcpy = memcpy_1mib();
    header();
    row(
        "ipc null round trip, one cpu",
        get(&one, "null_round_trip")?,
    );
    let combined_one = get(&one, "null_round_trip_reply_recv")?;
    row("ipc null round trip, reply-recv, one cpu", combined_one);
    row("pipe round trip, one cpu", &pipe_one);
    row("ipc null round trip, free", get(&free, "null_round_trip")?);
    let combined_free = get(&free, "null_round_trip_reply_recv")?;
    row("ipc null round trip, reply-recv, free", combined_free);
    row("pipe round trip, free", &pipe_free);
    let borrow = get(&free, "borrow_1mib_round_trip")?;
    row("1 MiB borrow round trip, free", borrow);
    row("memcpy 1 MiB", &memcpy);
    // The borrow itself: its round trip less the null round trip.
    let borrow_only =
        (borrow.median - get(&free, "null_round_trip")?.median).max(1.0);
    println!(
        "ratio ipc/pipe one-cpu {:.2}",
        get(&one, "null_round_trip")?.median / pipe_one.median
    );
    println!(
        "ratio ipc/pipe free {:.2}",
        get(&free, "null_round_trip")?.median / pipe_free.median
    );
    let each: Vec<String> = rounds
        .iter()
        .map(|(one, pipe)| {
            let combined = get(one, "null_round_trip_reply_recv")?;
            Ok(format!("{:.2}", combined.median / pipe.median))
        })
        .collect::<Result<_>>()?;
    println!(
        "one-cpu boots, each against its own pipe baseline: \
         ipc-reply-recv/pipe {}",
        each.join(" ")
    );
    println!(
        "ratio ipc-reply-recv/pipe one-cpu {:.2}",
        combined_one.median / pipe_one.median
    );
    println!(
        "ratio ipc-reply-recv/pipe free {:.2}",
        combined_free.median / pipe_free.median
    );
    println!(
        "ratio reply-recv/recv+reply one-cpu {:.2}",
        combined_one.median / get(&one, "null_round_trip")?.median
    );
    println!("ratio borrow/memcpy {:.2}", memcpy.median / borrow_only);
    Ok(())
}

/// The IPC benchmark on the Cortex-M4F board, under QEMU with `-icount
/// shift=0`: every guest instruction takes one virtual nanosecond, so the
/// figures are guest instructions, deterministic and independent of the
/// host. The baselines come from the same boot: the cheapest syscall
/// (GET_TIMER, one trap and back) and the client copying the 64 KiB it
/// lends with its own `copy_from_slice`.
pub fn ipc_mps2(root: &Path) -> Result<()> {
    let image = crate::dist::dist(&root.join("test/bench/ipc-mps2.toml"))?;
    let Some(elf) = &image.image_elf else {
        bail!("test/bench/ipc-mps2.toml is not an mps2-an386 image");
    };
    let mut cmd = crate::armv7m::qemu_command(elf)?;
    cmd.args(["-icount", "shift=0"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let child = cmd.spawn().context("cannot run qemu-system-arm")?;
    let pid = rustix::process::Pid::from_child(&child);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(300));
        let _ =
            rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    });
    let out = child.wait_with_output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let m: BTreeMap<_, _> = text.lines().filter_map(parse_bench_line).collect();
    if !out.status.success() || m.is_empty() {
        bail!("benchmark image failed ({}):\n{text}", out.status);
    }
    println!(
        "{:<40} {:>10} {:>10} {:>10}",
        "figure (guest instructions)", "median", "min", "max"
    );
    let null = get(&m, "null_round_trip")?;
    let combined = get(&m, "null_round_trip_reply_recv")?;
    let syscall = get(&m, "syscall_round_trip")?;
    let borrow = get(&m, "borrow_64kib_round_trip")?;
    let memcpy = get(&m, "memcpy_64kib")?;
    row("ipc null round trip (send/recv/reply)", null);
    row("ipc null round trip, reply-recv", combined);
    row("syscall round trip (get_timer)", syscall);
    row("64 KiB borrow round trip", borrow);
    row("memcpy 64 KiB (in the task)", memcpy);
    // A switch is what a round trip costs beyond its kernel entries: the
    // REPLY_RECV round trip is two entries that each switch task, the
    // GET_TIMER round trip one entry that does not.
    let switch = (combined.median - 2.0 * syscall.median) / 2.0;
    println!(
        "{:<40} {switch:>10.0}",
        "context switch (derived, see README)"
    );
    let boot = boot_ns(&text)?;
    println!("{:<40} {boot:>10}", "boot to all tasks running");
    let borrow_only = (borrow.median - null.median).max(1.0);
    println!("ratio ipc/syscall {:.2}", null.median / syscall.median);
    println!(
        "ratio ipc-reply-recv/syscall {:.2}",
        combined.median / syscall.median
    );
    println!(
        "ratio reply-recv/recv+reply {:.2}",
        combined.median / null.median
    );
    println!("ratio borrow/memcpy {:.2}", memcpy.median / borrow_only);
    Ok(())
}

/// The boot time the Cortex-M kernel logs when the last task app.toml
/// starts first gets the CPU (nanoseconds; instructions under `-icount`).
fn boot_ns(console: &str) -> Result<u64> {
    console
        .lines()
        .find_map(|l| {
            l.split_once("kernel: all tasks running ")?
                .1
                .strip_suffix(" ns after boot")?
                .parse()
                .ok()
        })
        .context("the kernel logged no `all tasks running` line")
}

/// The most the generated client and server dispatch may add to the
/// kernel's null round trip (issue 4's performance requirement).
const IDOL_MAX_RATIO: f64 = 1.10;

/// The idol benchmark: a generated zero-argument op through
/// `idol_runtime::serve` against the raw null round trip, timed by one
/// client in alternating batches of the same run, on one CPU.
///
/// # Errors
///
/// If the image fails, or the idol round trip costs more than
/// [`IDOL_MAX_RATIO`] times the raw one.
pub fn idol(root: &Path) -> Result<()> {
    let image = crate::dist::dist(&root.join("test/bench/idol.toml"))?;
    pin(true)?;
    let one = run_image(&image.kernel, &image.archive, true)?;
    pin(false)?;
    let raw = get(&one, "raw_null_round_trip")?;
    let idol = get(&one, "idol_null_round_trip")?;
    header();
    row("raw ipc null round trip, one cpu", raw);
    row("idol null op round trip, one cpu", idol);
    // The same server answering a raw SEND: what the server side costs.
    if let Ok(server) = get(&one, "idol_server_round_trip") {
        row("raw send to idol server, one cpu", server);
    }
    let lease = (
        get(&one, "raw_lease_round_trip"),
        get(&one, "idol_lease_round_trip"),
    );
    if let (Ok(raw_lease), Ok(idol_lease)) = lease {
        row("raw ipc 16-byte lease read, one cpu", raw_lease);
        row("idol 16-byte lease read, one cpu", idol_lease);
        println!(
            "ratio idol/raw lease {:.3}",
            idol_lease.median / raw_lease.median
        );
    }
    // The client's per-sample ratio of batches timed back to back is
    // steadier than the ratio of the medians on a busy host.
    let ratio = match get(&one, "idol_over_raw_per_mille") {
        Ok(paired) => paired.median / 1000.0,
        Err(_) => idol.median / raw.median,
    };
    println!("ratio idol/raw {ratio:.3}");
    if ratio > IDOL_MAX_RATIO {
        bail!(
            "the idol round trip costs {ratio:.3} times the raw one, over \
             the {IDOL_MAX_RATIO} allowed"
        );
    }
    Ok(())
}

/// A `memcpy` of `len` bytes between two buffers already paged in,
/// in ns per copy.
fn memcpy_of(len: usize) -> Figure {
    let src = vec![0x5Au8; len];
    let mut dst = vec![0u8; len];
    dst.copy_from_slice(&src);
    sample(7, 3, |n| {
        for _ in 0..n {
            dst.copy_from_slice(std::hint::black_box(&src));
            std::hint::black_box(&mut dst);
        }
    })
}

/// MB/s (10^6 bytes per second) for `bytes` in `ns`.
fn mb_per_s(bytes: f64, ns: f64) -> f64 {
    bytes / ns.max(1.0) * 1e3
}

/// The FPGA benchmark: a 30 MiB 7-series stream and the iCE40 blinky
/// image loaded through client, manager, driver and device model (figures
/// from the image's TSC-timed client), against memcpy of the same size
/// in this process and in the task; then what a driver's death costs.
pub fn fpga(root: &Path) -> Result<()> {
    let image = crate::dist::dist(&root.join("test/bench/fpga.toml"))?;
    pin(false)?;
    let m = run_image(&image.kernel, &image.archive, false)?;
    let size = |k: &str| get(&m, &format!("size_{k}")).map(|f| f.median);
    let stream = size("xc7_stream")?;
    let memcpy = memcpy_of(stream as usize);
    header();
    let whole = get(&m, "xc7_load_30mib")?;
    let data = get(&m, "xc7_data_30mib")?;
    let ice40 = get(&m, "ice40_load_blinky")?;
    let vivado = get(&m, "xc7_load_vivado")?;
    let ecp5 = get(&m, "ecp5_load_85f")?;
    let task_memcpy = get(&m, "memcpy_30mib_task")?;
    row("xc7 30 MiB load, end to end", whole);
    row("xc7 30 MiB data phase (one chunk)", data);
    row("xc7 real Vivado .bit load, end to end", vivado);
    row("ecp5 real LFE5U-85F .bit load, end to end", ecp5);
    row("ice40 blinky load, end to end", ice40);
    row("memcpy 30 MiB, host", &memcpy);
    row("memcpy 30 MiB, in the task", task_memcpy);
    for (name, k) in [
        ("driver death -> client error", "driver_death_to_error"),
        (
            "driver death -> driver bound again",
            "driver_death_to_rebound",
        ),
        (
            "driver death -> next load done",
            "driver_death_to_next_load",
        ),
    ] {
        row(name, get(&m, k)?);
    }
    let load = mb_per_s(stream, whole.median);
    let data_rate = mb_per_s(size("xc7_data")?, data.median);
    let host = mb_per_s(stream, memcpy.median);
    let task = mb_per_s(size("memcpy")?, task_memcpy.median);
    println!(
        "xc7 data phase MB/s {data_rate:.0}; ice40 MB/s {:.2}; memcpy MB/s host {host:.0}, task {task:.0}",
        mb_per_s(size("ice40_image")?, ice40.median)
    );
    println!("fpga load MB/s {load:.0}");
    println!("ratio fpga/memcpy {:.3}", load / host);
    let real = mb_per_s(size("xc7_vivado")?, vivado.median);
    println!(
        "xc7 real Vivado .bit MB/s {real:.0}; memcpy MB/s {host:.0}; \
         ratio {:.3}",
        real / host
    );
    let lattice = mb_per_s(size("ecp5_85f")?, ecp5.median);
    println!(
        "ecp5 real LFE5U-85F .bit MB/s {lattice:.0}; memcpy MB/s {host:.0}; \
         ratio {:.3}",
        lattice / host
    );

    // Hashing while streaming, as a share of the load it is part of: the
    // same load timed with and without the manager's hashing, in pairs.
    let hash = get(&m, "sha256_30mib_task")?;
    row("sha256 30 MiB, software hash alone, task", hash);
    println!(
        "sha256 software MB/s {:.0}",
        mb_per_s(size("xc7_stream")?, hash.median)
    );
    let size_of = |what: &str| match what {
        "xc7 30 MiB" => size("xc7_stream"),
        "xc7 real Vivado .bit" => size("xc7_vivado"),
        _ => size("ecp5_85f"),
    };
    let mut worst: f64 = 0.0;
    for (what, load, share) in [
        ("xc7 30 MiB", "xc7_load_30mib", "xc7_digest_share_30mib"),
        (
            "xc7 real Vivado .bit",
            "xc7_load_vivado",
            "xc7_digest_share_vivado",
        ),
        (
            "ecp5 real LFE5U-85F .bit",
            "ecp5_load_85f",
            "ecp5_digest_share_85f",
        ),
    ] {
        let with = get(&m, load)?;
        let without = get(&m, &format!("{load}_nodigest"))?;
        let soft = get(&m, &format!("{load}_software"))?;
        let soft_share = get(&m, &format!("{share}_software"))?.median;
        let share = get(&m, share)?.median / 1000.0;
        row(&format!("{what} load, hashed (engine)"), with);
        row(&format!("{what} load, not hashed"), without);
        row(&format!("{what} load, hashed in software"), soft);
        let mb = |f: &Figure| mb_per_s(size_of(what).unwrap_or(0.0), f.median);
        println!(
            "ratio hashed/not-hashed {what} {:.3}; hashing share of the \
             load {share:.3} (target under 0.10); software hash {:.3} \
             ({:.3} share); MB/s hashed {:.0}, not hashed {:.0}, software \
             {:.0}",
            with.median / without.median,
            soft.median / without.median,
            soft_share / 1000.0,
            mb(with),
            mb(without),
            mb(soft),
        );
        worst = worst.max(share);
    }
    println!(
        "hashing share of a load, worst of the three {worst:.3} (target under 0.10)"
    );
    // By name from the store next to the client's own lease.
    let lease = get(&m, "xc7_blinky_lease")?;
    let named = get(&m, "xc7_blinky_by_name")?;
    row("xc7 blinky load, client's lease", lease);
    row("xc7 blinky load, by name (store)", named);
    println!("ratio by-name/lease {:.3}", named.median / lease.median);

    // The operator's path from the host.
    let host_load = crate::bench_fpga_host::host_load(root)?;
    row("humility fpga load xc7, 2 MB, host", &host_load.load);
    let host_rate = mb_per_s(host_load.bytes as f64, host_load.load.median);
    // What the device path (manager, driver, model) needs for these
    // bytes at the in-system streamed rate; the rest is outside it.
    let inside_ns = host_load.bytes as f64 / data_rate * 1e3;
    println!(
        "host fpga load ({}, {} bytes) MB/s {host_rate:.2}; share outside \
         the device path {:.3}; ratio host/in-system rate {:.4}",
        host_load.what,
        host_load.bytes,
        1.0 - inside_ns / host_load.load.median,
        host_rate / data_rate
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boot_line_parses_and_a_missing_or_garbled_one_is_an_error() {
        let console = "kernel: Leasehold on mps2-an386: 4 tasks\n\
                       kernel: all tasks running 346720 ns after boot\n";
        assert_eq!(boot_ns(console).unwrap(), 346_720);
        assert!(boot_ns("kernel: Leasehold on mps2-an386\n").is_err());
        assert!(boot_ns("kernel: all tasks running -5 ns after boot").is_err());
        assert!(boot_ns("kernel: all tasks running 12 ms after boot").is_err());
    }

    #[test]
    fn bench_lines_parse_and_others_do_not() {
        let (name, f) = parse_bench_line(
            "[client] bench null_round_trip 16700 15800 18350",
        )
        .unwrap();
        assert_eq!(name, "null_round_trip");
        assert_eq!(
            f,
            Figure {
                median: 16700.0,
                min: 15800.0,
                max: 18350.0
            }
        );
        assert!(parse_bench_line("[client] hello").is_none());
        assert!(parse_bench_line("[client] bench x 1 2").is_none());
    }

    fn fig(median: f64, min: f64, max: f64) -> Figure {
        Figure { median, min, max }
    }

    #[test]
    fn rounds_combine_into_medians_with_the_extremes_of_all() {
        let round = |ipc: Figure, pipe: Figure| {
            (BTreeMap::from([("rt".to_owned(), ipc)]), pipe)
        };
        let rounds = [
            round(fig(9.0, 8.0, 12.0), fig(4.0, 3.9, 4.4)),
            round(fig(11.0, 10.0, 11.5), fig(4.4, 4.3, 5.0)),
            round(fig(9.5, 7.5, 9.9), fig(4.2, 4.1, 4.3)),
        ];
        let (figures, pipe) = median_of_rounds(&rounds).unwrap();
        assert_eq!(figures["rt"], fig(9.5, 7.5, 12.0));
        assert_eq!(pipe, fig(4.2, 3.9, 5.0));
    }

    #[test]
    fn a_round_missing_a_figure_or_no_rounds_is_an_error() {
        let first = (
            BTreeMap::from([("rt".to_owned(), fig(1.0, 1.0, 1.0))]),
            fig(1.0, 1.0, 1.0),
        );
        let second = (BTreeMap::new(), fig(1.0, 1.0, 1.0));
        assert!(median_of_rounds(&[first, second]).is_err());
        assert!(median_of_rounds(&[]).is_err());
    }
}
