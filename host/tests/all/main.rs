//! Integration tests, one binary with a module per area (so they link once).

mod election_herd;
mod namespace_props;
