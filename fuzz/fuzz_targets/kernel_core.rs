//! The kernel core over the in-memory platform: `kern::fuzz::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(violation) = kern::fuzz::run(data) {
        panic!("kernel invariant broken: {violation:?}");
    }
});
