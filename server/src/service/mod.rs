//! The gRPC services: the v1 API, the original Go project's API, and what
//! they share (read limits and conversions).

pub mod checked_store;
pub mod compat;
pub mod groups;
pub mod paging;
pub mod reading;
pub mod v1;
pub mod waiting;
