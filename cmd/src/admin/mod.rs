//! `mkfk-admin`: administration commands, one module per kind of thing
//! administered ([`topics`], [`groups`]), and how their results are
//! printed ([`print`](mod@print)).

pub mod groups;
pub mod print;
pub mod topics;
