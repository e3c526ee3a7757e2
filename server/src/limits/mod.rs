//! Load limits that keep a flood of clients from growing the server
//! without bound: the connection cap ([`connections`]) and the budget of
//! request bytes held at once ([`request_bytes`]).
//! (Streams per connection and keepalive are tonic settings, made in
//! `Server::run`.)

pub mod connections;
pub mod request_bytes;
