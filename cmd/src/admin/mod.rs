//! `mkfk-admin`: administration commands, one module per kind of thing
//! administered ([`topics`]; consumer groups will sit beside it), and how
//! their results are printed ([`print`](mod@print)).

pub mod print;
pub mod topics;
