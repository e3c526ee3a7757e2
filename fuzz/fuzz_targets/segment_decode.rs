//! Arbitrary bytes as a topic's segment, index and start files, opened by
//! the file store in both recovery modes: see `segment_files`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| minikafka_fuzz::segment_files::check(data));
