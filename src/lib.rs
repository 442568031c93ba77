//! kubectl-werf: a kubectl and Helm plugin working directly on Helm's release storage.
//!
//! Layout (each module owns one concern):
//! - `release`: release models (Helm 3 JSON, Helm 2 protobuf) as plain data, no I/O.
//! - `storage`: the only code that reads or writes release records (codecs and drivers).
//! - `werf`: werf's release/namespace naming and werf.yaml, pure functions.
//! - `names`: Kubernetes name, label and annotation validation.

pub mod names;
pub mod release;
pub mod storage;
pub mod werf;
