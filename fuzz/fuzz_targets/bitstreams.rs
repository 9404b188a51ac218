//! The iCE40 and 7-series stream parsers, in any chunking: `fpga_bitstream::fuzz::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(violation) = fpga_bitstream::fuzz::run(data) {
        panic!("bitstreams: {violation:?}");
    }
});
