//! The checks behind minikafka's fuzz targets, one module per target.
//!
//! Each module is also compiled, through `#[path]`, into a stable test of
//! the main workspace that runs it over seed inputs, so a change to the
//! store or the server that breaks a check fails `cargo test` at once, not
//! at the next fuzzing session. docs/testing.md says how to fuzz.

pub mod requests;
pub mod segment_files;
