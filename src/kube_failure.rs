//! Kinds of kube failure, told apart by what the error carries: a failed credential plugin, a server
//! that cannot be reached at all, a TLS refusal. The retry policy (`retry`) and the wording of errors
//! (`error`) both ask; this module asks nobody.

static SERVER_URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Remember the API server this run talks to (without credentials), for messages. Set once, when
/// `cluster::connect` runs.
pub fn note_server_url(url: String) {
    let _ = SERVER_URL.set(url);
}

/// The API server this run talks to (for messages), once `connect` ran.
pub fn server_url() -> Option<String> {
    SERVER_URL.get().cloned()
}

/// A failed credential plugin, worded for the user; never carries what the plugin printed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ExecCredentialError(pub String);

/// Whether a kube error is (or was caused by) a failed credential plugin: not worth a retry.
pub fn is_exec_failure(err: &kube::Error) -> bool {
    exec_failure_message(err).is_some()
}

/// The credential plugin's failure inside a kube error, if that is what it is.
pub fn exec_failure_message(err: &kube::Error) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if let Some(x) = e.downcast_ref::<ExecCredentialError>() {
            return Some(x.0.clone());
        }
        cause = e.source();
    }
    None
}

/// A failure to reach the server at all: connection refused, name resolution, TLS refused.
pub fn is_connect_failure(err: &kube::Error) -> bool {
    if !matches!(err, kube::Error::HyperError(_) | kube::Error::Service(_)) {
        return false;
    }
    if is_tls_refusal(err) {
        return true;
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        let text = e.to_string().to_ascii_lowercase();
        if text.contains("tcp connect error")
            || text.contains("connection refused")
            || text.contains("dns error")
            || text.contains("failed to lookup address")
            || text.contains("name or service not known")
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Whether a transport error is a TLS verification or handshake failure (anywhere in its causes).
pub fn is_tls_refusal(err: &kube::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        let text = e.to_string().to_ascii_lowercase();
        // A certificate refused by us, or a handshake refused by the server (a fatal alert); a
        // connection merely cut during the handshake stays transient.
        if text.contains("certificate") || text.contains("received fatal alert") {
            return true;
        }
        cause = e.source();
    }
    false
}
