//! The simulated board, as a driver task reaches it through the kernel: `sim_devices::fuzz::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(violation) = sim_devices::fuzz::run(data) {
        panic!("board: {violation:?}");
    }
});
