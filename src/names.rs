//! Kubernetes name, label-key/value and annotation validation.
