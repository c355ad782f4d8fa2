//! Fuzz target `config`: runs libFuzzer's inputs through the shared harness
//! `harness/config.rs` (what it checks is documented there); the same harness
//! replays the kept corpus in the normal test run.

#![no_main]

#[path = "../harness/config.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
