//! Cost of one `ringbuf_entry!` next to a plain volatile store.
//!
//! Not a timed test: it prints numbers for a human. Each figure is the
//! median of several runs, and the baseline (a volatile store of the same
//! payload) runs in the same process, so the ratio is fairer than either
//! figure. Run with `cargo bench -p ringbuf`.

use std::hint::black_box;
use std::time::Instant;

use ringbuf::{ringbuf, ringbuf_entry};

ringbuf!(BENCH_RINGBUF, u32, 64, 0);
ringbuf!(NO_DEDUP_RINGBUF, u32, 64, 0, no_dedup);

const ITERATIONS: u32 = 2_000_000;
const RUNS: usize = 11;

/// Median nanoseconds per iteration of `body` over [`RUNS`] runs.
fn median_ns(mut body: impl FnMut(u32)) -> f64 {
    let mut samples = [0.0; RUNS];
    for sample in &mut samples {
        let start = Instant::now();
        for i in 0..ITERATIONS {
            body(black_box(i));
        }
        *sample = start.elapsed().as_nanos() as f64 / f64::from(ITERATIONS);
    }
    samples.sort_by(f64::total_cmp);
    samples[RUNS / 2]
}

fn report(what: &str, ns: f64, baseline: f64) {
    println!("{what} ns {ns:.3}");
    println!("baseline volatile store ns {baseline:.3}");
    println!("ratio {:.2}", ns / baseline);
}

fn main() {
    let mut sink = 0u32;
    // The baseline stores whatever the measured loop records: a constant
    // for the dedup hit, a changing value for the miss.
    let mut store = |payload: u32| {
        // Safety: `sink` is a live local, aligned and ours to write.
        unsafe { core::ptr::write_volatile(&mut sink, black_box(payload)) };
    };
    let hit = median_ns(|_| ringbuf_entry!(BENCH_RINGBUF, black_box(7)));
    let hit_baseline = median_ns(|_| store(7));
    let miss = median_ns(|i| ringbuf_entry!(BENCH_RINGBUF, i));
    let miss_baseline = median_ns(&mut store);
    let no_dedup = median_ns(|i| ringbuf_entry!(NO_DEDUP_RINGBUF, i));
    black_box(sink);

    println!("# dedup hit (same line, same payload: count += 1)");
    report("ringbuf_entry", hit, hit_baseline);
    println!("# dedup miss (new payload each time: next slot)");
    report("ringbuf_entry", miss, miss_baseline);
    println!("# no_dedup (next slot, no comparison)");
    report("ringbuf_entry", no_dedup, miss_baseline);
}
