//! Operation histories (issue 4).
