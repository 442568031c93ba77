//! Retrying reads, never writes blindly. A read that met 429, 500, 502, 503, 504 or a broken connection
//! is tried again with exponential backoff (honouring the server's `Retry-After` hint when it gave one)
//! until a deadline. A write is not simply sent again: one whose answer was lost may have happened, so
//! the caller reads the object again and decides (`storage::objects` does it for record writes); only
//! then, and only because every record write is conditional, may the same write go out again — at most
//! [`WRITE_ATTEMPTS`] times in all, after [`write_pause`].

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Whether the API server has answered anything yet in this run. Until it has, a failure to connect
/// at all (refused, unknown host, TLS refused) is reported at once instead of being retried: there is
/// no sign the server exists, and kubectl answers such a run in milliseconds too.
static RESPONDED: AtomicBool = AtomicBool::new(false);

/// `--request-timeout`, which also bounds how long reads keep retrying.
static REQUEST_TIMEOUT: OnceLock<Duration> = OnceLock::new();

/// The server answered (any HTTP status).
pub fn note_response() {
    RESPONDED.store(true, Ordering::Relaxed);
}

pub fn has_responded() -> bool {
    RESPONDED.load(Ordering::Relaxed)
}

/// Bound every read's retries by `--request-timeout` (called once at start).
pub fn set_request_timeout(timeout: Option<Duration>) {
    if let Some(t) = timeout {
        let _ = REQUEST_TIMEOUT.set(t);
    }
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

/// How long reads keep trying in total, and the first and largest pause.
#[derive(Debug, Clone, Copy)]
pub struct ReadRetry {
    pub deadline: Duration,
    pub first_pause: Duration,
    pub max_pause: Duration,
}

impl Default for ReadRetry {
    fn default() -> Self {
        ReadRetry { deadline: Duration::from_secs(30), first_pause: Duration::from_millis(100), max_pause: Duration::from_secs(5) }
    }
}

/// Whether an error is worth another try for an idempotent read.
pub fn is_transient(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(status) => matches!(status.code, 429 | 500 | 502 | 503 | 504),
        // A certificate the client refuses stays refused: fail at once with the TLS message.
        kube::Error::HyperError(_) | kube::Error::Service(_) => !is_tls_refusal(err),
        kube::Error::ReadEvents(_) => true,
        _ => false,
    }
}

/// Whether a transport error is a TLS verification or handshake failure (anywhere in its causes).
fn is_tls_refusal(err: &kube::Error) -> bool {
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

/// The pause the server asked for, when its Status carried `details.retryAfterSeconds`.
fn server_hint(err: &kube::Error) -> Option<Duration> {
    match err {
        kube::Error::Api(status) => {
            let details = status.details.as_ref()?;
            (details.retry_after_seconds > 0).then(|| Duration::from_secs(details.retry_after_seconds as u64))
        }
        _ => None,
    }
}

/// How many times in all one conditional write is sent when each failure said nothing sure and the
/// object, read again, showed that the write had neither happened nor been overtaken by another writer.
pub const WRITE_ATTEMPTS: u32 = 4;

/// Whether a failed write is worth reading the object again for: the answer said nothing sure (a
/// transient failure: it may or may not have happened) or 409 (the read then tells a real conflict from
/// a spurious one).
pub fn write_is_unsure(err: &kube::Error) -> bool {
    is_transient(err) || matches!(err, kube::Error::Api(status) if status.code == 409)
}

/// The pause before write attempt `attempt + 1`: what the server asked for, else 200 ms doubling, at
/// most 5 s.
pub fn write_pause(err: &kube::Error, attempt: u32) -> Duration {
    server_hint(err).unwrap_or_else(|| write_backoff(attempt)).min(Duration::from_secs(5))
}

/// The pause before write attempt `attempt + 1` when the server gave no hint: 200 ms doubling, at most 5 s.
pub fn write_backoff(attempt: u32) -> Duration {
    Duration::from_millis(200 << attempt.saturating_sub(1).min(5)).min(Duration::from_secs(5))
}

/// Run a read, retrying transient failures until the deadline.
pub async fn read<T, F, Fut>(policy: ReadRetry, mut op: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let start = Instant::now();
    let mut pause = policy.first_pause;
    let deadline = REQUEST_TIMEOUT.get().map_or(policy.deadline, |t| policy.deadline.min(*t));
    loop {
        let result = op().await;
        if matches!(&result, Ok(_) | Err(kube::Error::Api(_))) {
            note_response();
        }
        match result {
            Ok(v) => return Ok(v),
            Err(e) if !has_responded() && is_connect_failure(&e) => return Err(e),
            Err(e) if is_transient(&e) => {
                let wait = server_hint(&e).unwrap_or(pause).min(policy.max_pause.max(Duration::from_secs(1)) * 10);
                if start.elapsed() + wait > deadline {
                    return Err(e);
                }
                tracing::debug!(error = %e, wait_ms = wait.as_millis() as u64, "transient read failure, retrying");
                tokio::time::sleep(wait).await;
                pause = (pause * 2).min(policy.max_pause);
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn api_error(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(Status::failure("boom", "InternalError").with_code(code)))
    }

    #[test]
    fn tls_refusals_are_not_transient_but_broken_connections_are() {
        let tls = kube::Error::Service(Box::new(std::io::Error::other("invalid peer certificate: UnknownIssuer")));
        assert!(!is_transient(&tls));
        let reset = kube::Error::Service(Box::new(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset by peer")));
        assert!(is_transient(&reset));
        let cut = kube::Error::Service(Box::new(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "tls handshake eof")));
        assert!(is_transient(&cut), "a connection cut during the handshake is worth another try");
        let alert = kube::Error::Service(Box::new(std::io::Error::other("received fatal alert: HandshakeFailure")));
        assert!(!is_transient(&alert));
    }

    #[tokio::test]
    async fn transient_errors_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let policy = ReadRetry { deadline: Duration::from_secs(5), first_pause: Duration::from_millis(1), max_pause: Duration::from_millis(5) };
        let got = read(policy, || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 => Err(api_error(503)),
                1 => Err(api_error(429)),
                _ => Ok(7),
            }
        })
        .await
        .unwrap();
        assert_eq!(got, 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn unsure_writes_are_transient_failures_and_conflicts() {
        for code in [409, 429, 500, 503] {
            assert!(write_is_unsure(&api_error(code)), "{code}");
        }
        for code in [400, 403, 404, 422] {
            assert!(!write_is_unsure(&api_error(code)), "{code}");
        }
        assert_eq!(write_pause(&api_error(500), 1), Duration::from_millis(200));
        assert_eq!(write_pause(&api_error(500), 3), Duration::from_millis(800));
        assert_eq!(write_pause(&api_error(500), 30), Duration::from_secs(5));
        let mut status = Status::failure("slow down", "TooManyRequests").with_code(429);
        status.details = Some(kube::core::response::StatusDetails {
            name: String::new(),
            group: String::new(),
            kind: String::new(),
            uid: String::new(),
            causes: Vec::new(),
            retry_after_seconds: 2,
        });
        assert_eq!(write_pause(&kube::Error::Api(Box::new(status)), 1), Duration::from_secs(2));
    }

    #[tokio::test]
    async fn permanent_errors_and_deadlines_end_retries() {
        let calls = AtomicU32::new(0);
        let policy = ReadRetry { deadline: Duration::from_millis(50), first_pause: Duration::from_millis(10), max_pause: Duration::from_millis(20) };
        let err = read(policy, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(api_error(403))
        })
        .await
        .unwrap_err();
        assert!(matches!(err, kube::Error::Api(ref s) if s.code == 403));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let calls = AtomicU32::new(0);
        let err = read(policy, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(api_error(500))
        })
        .await
        .unwrap_err();
        assert!(matches!(err, kube::Error::Api(ref s) if s.code == 500));
        assert!(calls.load(Ordering::SeqCst) >= 2);
    }
}
