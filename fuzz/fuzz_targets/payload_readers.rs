#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard_fuzz::payload_readers(data));
