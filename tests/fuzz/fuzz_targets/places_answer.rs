//! Fuzz target `places_answer`: runs libFuzzer's inputs through the shared harness
//! `harness/places_answer.rs` (what it checks is documented there); the same harness
//! replays the kept corpus in the normal test run.

#![no_main]

#[path = "../harness/places_answer.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
