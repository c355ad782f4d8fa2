//! Fuzz target `line_reader`: runs libFuzzer's inputs through the shared harness
//! `harness/line_reader.rs` (what it checks is documented there); the same harness
//! replays the kept corpus in the normal test run.

#![no_main]

#[path = "../harness/line_reader.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
