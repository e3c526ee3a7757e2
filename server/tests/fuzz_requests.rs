//! The `request_validation` fuzz target's check (fuzz/src/requests.rs), run
//! over hand-made requests and over the inputs saved in fuzz/seeds and
//! fuzz/regressions: a change to validation or the services that breaks
//! the check fails here, without nightly or cargo-fuzz.

#[path = "../../fuzz/src/requests.rs"]
mod requests;

#[path = "../../fuzz/saved_inputs.rs"]
mod saved_inputs;

const TARGET: &str = "request_validation";

#[test]
fn hand_made_requests_pass_the_fuzz_check_and_round_trip() {
    for run in requests::examples() {
        assert_eq!(requests::decode(&requests::encode(&run)), run);
        requests::check(&run);
    }
}

#[test]
fn saved_fuzz_inputs_pass_the_fuzz_check() {
    for (path, bytes) in saved_inputs::saved(TARGET) {
        eprintln!("{path}");
        requests::check_input(&bytes);
    }
}

/// The seeds the fuzzer starts from are the current hand-made requests.
#[test]
fn checked_in_seeds_are_current() {
    let seeds: Vec<Vec<u8>> = requests::examples().iter().map(requests::encode).collect();
    saved_inputs::check_seeds(TARGET, &seeds);
}
