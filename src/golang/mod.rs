//! Go compatibility: the Go library behaviour whose exact bytes Helm's storage and output depend on.
//! Pure functions, no I/O, nothing else of ours below them.
//!
//! - `json`: `encoding/json`'s `Marshal` (HTML-safe escapes, float forms, sorted maps).
//! - `yaml`: `sigs.k8s.io/yaml` both ways — writing (go-yaml v2's emitter) and reading values
//!   documents as Helm does (YAML 1.1 scalars, keys made strings).
//! - `strconv`: `Quote`/`%q` and its inverse, `FormatFloat(f, 'g', -1, 64 and 32)`.
//! - `time`: `time.Time` as Go parses and prints it (RFC 3339, `String()`, layouts).

pub mod json;
pub mod strconv;
pub mod time;
pub mod yaml;
