//! The iCE40 and 7-series device models driven pin by pin, checked
//! against the parser: `sim_devices::fuzz_models::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(violation) = sim_devices::fuzz_models::run(data) {
        panic!("device model invariant broken: {violation:?}");
    }
});
