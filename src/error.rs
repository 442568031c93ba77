//! Errors as users see them: one line naming what failed and why, never a debug dump.

use crate::kube_failure::{exec_failure_message, is_connect_failure, is_exec_failure, server_url};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Bad arguments that clap could not catch; exit code 2 like clap's own usage errors.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("{0}")]
    Kube(String),
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    Failed(String),
}

/// Flags and variables that cannot be used (from `settings`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid { what: &'static str, value: String, reason: String },
    #[error(
        "release storage driver {0:?} is not supported: kubectl-werf reads and writes releases stored in Secrets or ConfigMaps (use secret or configmap)"
    )]
    UnsupportedDriver(String),
}

/// No usable cluster configuration or client (from `cluster` and `credentials`).
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("kubeconfig {path}: {reason}")]
    Kubeconfig { path: String, reason: String },
    #[error("{0}")]
    Config(String),
    #[error(
        "no cluster configured: no kubeconfig ($KUBECONFIG, ~/.kube/config) and not running inside a cluster; pass --kubeconfig or --server"
    )]
    NoConfiguration,
    #[error("cannot create a Kubernetes client: {0}")]
    Client(String),
}

impl AppError {
    pub fn exit_code(&self) -> u8 {
        match self {
            // Bad flag values and variables are usage errors too.
            AppError::Usage(_) | AppError::Settings(_) => 2,
            _ => 1,
        }
    }

    pub fn kube(err: &kube::Error) -> Self {
        AppError::Kube(describe_kube_error(err))
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        AppError::Io(e.to_string())
    }
}

/// An error message as one line: line breaks (from a server message or a nested cause) become "; ".
pub fn one_line(text: &str) -> String {
    let parts: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    parts.join("; ")
}

/// A kube error as one line: the API server's own message for API errors (as kubectl prints it),
/// otherwise the chain of causes.
pub fn describe_kube_error(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => {
            if status.message.is_empty() {
                format!("the server answered {} {}", status.code, status.reason)
            } else {
                status.message.clone()
            }
        }
        // A failed credential plugin: its own one-line message, nothing of what it printed.
        other if is_exec_failure(other) => exec_failure_message(other).unwrap_or_default(),
        other if is_connect_failure(other) => {
            // One line naming the server and the innermost reason, as kubectl does.
            let mut reason = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                reason = s.to_string();
                source = s.source();
            }
            let server = server_url().unwrap_or_else(|| "(unknown)".into());
            let mut text = format!("cannot connect to the API server {server}: {reason}");
            if text.to_ascii_lowercase().contains("certificate") {
                text.push_str(
                    " (the API server's certificate was refused: check the kubeconfig's certificate-authority(-data), --certificate-authority or HELM_KUBECAFILE; --insecure-skip-tls-verify skips the check)",
                );
            }
            text
        }
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                let part = s.to_string();
                if !text.contains(&part) {
                    text.push_str(": ");
                    text.push_str(&part);
                }
                source = s.source();
            }
            if text.to_ascii_lowercase().contains("certificate") {
                text.push_str(
                    " (the API server's certificate was refused: check the kubeconfig's certificate-authority(-data), --certificate-authority or HELM_KUBECAFILE; --insecure-skip-tls-verify skips the check)",
                );
            }
            text
        }
    }
}
