//! Linearizability checker (issue 4).
