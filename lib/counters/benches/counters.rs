//! Cost of one counter increment next to a plain volatile store.
//!
//! Not a timed test: it prints numbers for a human. Both loops run in the
//! same process, back to back, so the ratio is fairer than either figure.
//! Run with `cargo bench -p counters`.

use std::hint::black_box;
use std::time::Instant;

use counters::{Count, count, counters};

#[derive(Copy, Clone, Count)]
enum Event {
    Tick,
    Tock,
}

counters!(BENCH_COUNTERS, Event);

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

fn main() {
    let mut sink = 0u32;
    let counted = median_ns(|i| {
        let event = if i & 1 == 0 { Event::Tick } else { Event::Tock };
        count!(BENCH_COUNTERS, black_box(event));
    });
    let baseline = median_ns(|i| {
        // Safety: `sink` is a live local, aligned and ours to write.
        unsafe { core::ptr::write_volatile(&mut sink, black_box(i & 1)) };
    });
    black_box(sink);
    println!("count ns {counted:.3}");
    println!("baseline volatile store ns {baseline:.3}");
    println!("ratio {:.2}", counted / baseline);
}
