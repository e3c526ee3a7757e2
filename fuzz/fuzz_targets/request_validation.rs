//! Arbitrary sequences of Produce, Poll, Subscribe and Describe requests,
//! through both gRPC services' validation: see `requests`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| minikafka_fuzz::requests::check_input(data));
