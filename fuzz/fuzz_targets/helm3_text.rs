#![no_main]
//! See `kubectl_werf_fuzz::checks::helm3_text` for the input format and the invariants checked.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kubectl_werf_fuzz::checks::helm3_text(data));
