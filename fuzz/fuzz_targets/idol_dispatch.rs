//! idol's dispatch checks on raw received messages:
//! `idol_runtime::fuzz::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(violation) = idol_runtime::fuzz::run(data) {
        panic!("dispatch check disagrees with the rules: {violation:?}");
    }
});
