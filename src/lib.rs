//! kubectl-werf: a kubectl and Helm plugin working directly on Helm's release storage.
//!
//! Layout, from the top down: a module imports only modules listed below it or beside it on its line
//! (unit tests aside).
//! - `app`: entry, usage lines per invocation mode, dispatch and exit codes.
//! - `commands`: one module per verb, plus `commands::context` (what every verb gets: [`commands::context::Context`],
//!   `Outcome`, resume hints).
//! - `cluster`: the kube client as kubectl builds it; `credentials`: exec plugins and base64 kubeconfigs.
//! - `settings`: flags + environment → connection and storage settings (pure).
//! - `storage`: the only code that reads or writes release records (codecs, drivers, `storage::drivers`'
//!   settings types). `live`: discovery and the only code touching non-release resources.
//! - `interact`: prompts, colours, progress; `output`: `-o json|yaml` of our own reports.
//! - `retry`: retrying reads, throttled writes; `ratelimit`: client-side QPS; `stop`: graceful
//!   interruption; `pipe`: stdout to a closed pipe.
//! - `error`: every error type, in one line of text; `kube_failure`: kinds of kube failure (a leaf).
//! - `helmfmt`: tables, JSON and YAML as helm prints them; `helm_errors`: parsing Helm's error output;
//!   `ownership`: Helm's ownership rules.
//! - `release`: release models (Helm 3 JSON, Helm 2 protobuf) as plain data, no I/O, and the 2 → 3
//!   conversion. `werf`: werf's release/namespace naming and werf.yaml, pure functions.
//! - `cli`: every clap definition (no logic); `manifest`: multi-document YAML; `names`: Kubernetes name,
//!   label and annotation validation.
//! - `golang`: Go compatibility (`encoding/json`, `sigs.k8s.io/yaml`, `strconv`, `time`), below everything.

pub mod app;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod credentials;
pub mod error;
pub mod golang;
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
