//! Retrying reads, never writes. A read that met 429, 500, 502, 503, 504 or a broken connection is
//! tried again with exponential backoff (honouring the server's `Retry-After` hint when it gave one)
//! until a deadline. Writes are not retried here: a write whose answer was lost may have happened, so
//! the caller re-reads and decides.

use std::future::Future;
use std::time::{Duration, Instant};

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
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        kube::Error::ReadEvents(_) => true,
        _ => false,
    }
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

/// Run a read, retrying transient failures until the deadline.
pub async fn read<T, F, Fut>(policy: ReadRetry, mut op: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let start = Instant::now();
    let mut pause = policy.first_pause;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if is_transient(&e) => {
                let wait = server_hint(&e).unwrap_or(pause).min(policy.max_pause.max(Duration::from_secs(1)) * 10);
                if start.elapsed() + wait > policy.deadline {
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
