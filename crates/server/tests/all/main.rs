//! Integration tests, one binary with a module per area (so they link once).

mod check_cli;
mod cli;
mod cluster;
mod dashboard;
mod election_herd;
mod fuzz;
mod hot_swap;
mod namespace_props;
mod polyglot;
mod readme;
mod runtime;
mod sandbox;
mod serve;
mod sim;
mod store;
mod support;
mod txn;
