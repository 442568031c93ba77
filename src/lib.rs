//! kubectl-werf: a kubectl and Helm plugin working directly on Helm's release storage.
//!
//! Layout (each module owns one concern):
//! - `cli`: every clap definition; `app`: entry, dispatch and exit codes; `commands`: one module per verb.
//! - `settings`: flags + environment → connection and storage settings (pure); `cluster`: kube client.
//! - `release`: release models (Helm 3 JSON, Helm 2 protobuf) as plain data, no I/O.
//! - `storage`: the only code that reads or writes release records (codecs and drivers).
//! - `werf`: werf's release/namespace naming and werf.yaml, pure functions.
//! - `names`: Kubernetes name, label and annotation validation.
//! - `live`: discovery and the only code touching non-release resources; `ownership`: Helm's
//!   ownership rules; `helm_errors`: parsing Helm's error output; `manifest`: multi-document YAML.
//! - `gotime`: times formatted as Helm (Go) prints them; `helmfmt`: tables, JSON and YAML as helm prints them.

pub mod app;
pub mod cli;
pub mod cluster;
pub mod credentials;
pub mod commands;
pub mod error;
pub mod gotime;
pub mod helm_errors;
pub mod helmfmt;
pub mod interact;
pub mod kube_failure;
pub mod live;
pub mod manifest;
pub mod names;
pub mod output;
pub mod ownership;
pub mod pipe;
pub mod ratelimit;
pub mod release;
pub mod retry;
pub mod settings;
pub mod stop;
pub mod storage;
pub mod werf;
