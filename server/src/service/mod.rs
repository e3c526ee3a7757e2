//! The gRPC services: the v1 API, the original Go project's API, and what
//! they share (read limits and conversions).

pub mod compat;
pub mod core;
pub mod v1;
pub mod waiting;

mod reading;
