//! .idol parsing, checking and code generation: `idol::fuzz::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(violation) = idol::fuzz::run(data) {
        panic!("idol_file: {violation:?}");
    }
});
