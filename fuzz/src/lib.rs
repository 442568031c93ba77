//! Fuzzing support for kubectl-werf: the checks every target runs (see `checks`).
pub mod checks;
