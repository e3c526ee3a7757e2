//! The `segment_decode` fuzz target's check (fuzz/src/segment_files.rs),
//! run over inputs made from real stores and over the inputs saved in
//! fuzz/seeds and fuzz/regressions: a change to the file store that breaks
//! the check fails here, without nightly or cargo-fuzz.

#[path = "../../fuzz/src/segment_files.rs"]
mod segment_files;

#[path = "../../fuzz/saved_inputs.rs"]
mod saved_inputs;

const TARGET: &str = "segment_decode";

#[test]
fn real_stores_pass_the_fuzz_check() {
    for seed in segment_files::seeds() {
        segment_files::check(&seed);
    }
}

#[test]
fn saved_fuzz_inputs_pass_the_fuzz_check() {
    for (path, bytes) in saved_inputs::saved(TARGET) {
        eprintln!("{path}");
        segment_files::check(&bytes);
    }
}

/// Writes the seeds for the fuzzer to start from: `cargo test -p
/// minikafka-backends --test fuzz_segment_files -- --ignored`.
#[test]
#[ignore = "writes fuzz/seeds/segment_decode"]
fn write_seeds() {
    saved_inputs::write_seeds(TARGET, &segment_files::seeds());
}
