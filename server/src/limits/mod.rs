//! Load limits that keep a flood of clients from growing the server
//! without bound: the connection cap ([`connections`]).
//! (Streams per connection and keepalive are tonic settings, made in
//! `Server::run`.)

pub mod connections;
