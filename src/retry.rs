//! Retrying reads, never writes blindly. A read that met 429, 500, 502, 503, 504 or a broken connection
//! is tried again with exponential backoff (honouring the server's `Retry-After` hint when it gave one)
//! until a deadline. A write is not simply sent again: one whose answer was lost may have happened, so
//! the caller reads the object again and decides (`storage::objects` does it for record writes); only
//! then, and only because every record write is conditional, may the same write go out again — at most
//! [`WRITE_ATTEMPTS`] times in all, after [`write_pause`].
//!
//! A 429 is different: the server throttled the request (API Priority and Fairness, or the in-flight
//! limits) and did not execute it, so it is sent again as it is — a write too, with nothing to read
//! back — after a jittered, growing pause, for as long as [`THROTTLED_DEADLINE`]: a busy server is
//! waited for, not given up on after a few seconds. 32 clients throttled at once do not retry in step.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::kube_failure::{is_connect_failure, is_exec_failure, is_tls_refusal};

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

/// How long a request the server keeps throttling (429) is sent again before its 429 is the answer.
pub const THROTTLED_DEADLINE: Duration = Duration::from_secs(180);

/// Whether the server throttled the request (429): it was not executed.
pub fn is_throttled(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 429)
}

/// The pause after the `attempt`-th 429 in a row: the server's hint when it gave one, else 250 ms
/// doubling to at most 5 s; either way spread by up to ±50% so that throttled clients fall out of step.
pub fn throttled_pause(err: &kube::Error, attempt: u32) -> Duration {
    let base =
        server_hint(err).unwrap_or_else(|| Duration::from_millis(250 << attempt.saturating_sub(1).min(5))).min(Duration::from_secs(5));
    base.mul_f64(0.5 + jitter())
}

/// A number in [0, 1) that differs between processes, threads and calls (no need for real randomness).
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Send a request — a write too — again while the server answers 429 (it did not execute it), until
/// [`THROTTLED_DEADLINE`] or until `stop` (when given) is requested; any other outcome is returned as
/// it came.
pub async fn throttled<T, F, Fut>(stop: Option<&crate::stop::StopSignal>, mut op: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let start = Instant::now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match op().await {
            Err(e) if is_throttled(&e) && !stop.is_some_and(|s| s.requested()) => {
                let wait = throttled_pause(&e, attempt);
                if start.elapsed() + wait > THROTTLED_DEADLINE {
                    return Err(e);
                }
                tracing::debug!(wait_ms = wait.as_millis() as u64, attempt, "throttled by the server (429), sending again");
                tokio::time::sleep(wait).await;
            }
            other => return other,
        }
    }
}

/// Whether an error is worth another try for an idempotent read.
pub fn is_transient(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(status) => matches!(status.code, 429 | 500 | 502 | 503 | 504),
        // A certificate the client refuses stays refused: fail at once with the TLS message.
        // A failed credential plugin is not a broken connection: trying again cannot help.
        kube::Error::Service(_) if is_exec_failure(err) => false,
        kube::Error::HyperError(_) | kube::Error::Service(_) => !is_tls_refusal(err),
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
    // --request-timeout bounds every read's retries, throttled ones too.
    let bound = REQUEST_TIMEOUT.get().copied();
    let mut throttled = 0;
    loop {
        let result = op().await;
        if matches!(&result, Ok(_) | Err(kube::Error::Api(_))) {
            note_response();
        }
        match result {
            Ok(v) => return Ok(v),
            Err(e) if !has_responded() && is_connect_failure(&e) => return Err(e),
            Err(e) if is_transient(&e) => {
                // Throttled: wait for the busy server longer, out of step with other clients.
                let (wait, deadline) = if is_throttled(&e) {
                    throttled += 1;
                    (throttled_pause(&e, throttled), policy.deadline.max(THROTTLED_DEADLINE))
                } else {
                    (server_hint(&e).unwrap_or(pause).min(policy.max_pause.max(Duration::from_secs(1)) * 10), policy.deadline)
                };
                let deadline = bound.map_or(deadline, |t| deadline.min(t));
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

// ---- backing off as a client -------------------------------------------------------------------------

/// At most this many requests of one process in flight while the server has not throttled it (more
/// than any verb's own concurrency: unthrottled, the gate changes nothing).
pub const MAX_IN_FLIGHT: f64 = 64.0;

/// The in-flight window of one client, adapted as TCP does (AIMD): every 429 halves it (at most once
/// per [`HALVE_EVERY`], as a burst of 429s is one signal), every other answer widens it by about one
/// request per window, between 1 and [`MAX_IN_FLIGHT`]. A server's `Retry-After` on a 429 also holds
/// every new request of the process for that long. So a throttled process queues its requests at
/// home instead of in the server's queues, where they would time out into more 429s.
#[derive(Debug)]
struct Window {
    limit: f64,
    in_flight: usize,
    last_halved: Option<std::time::Instant>,
    hold_until: Option<tokio::time::Instant>,
}

const HALVE_EVERY: Duration = Duration::from_millis(500);

impl Window {
    fn new() -> Self {
        Window { limit: MAX_IN_FLIGHT, in_flight: 0, last_halved: None, hold_until: None }
    }

    fn answered(&mut self, throttled: bool, retry_after: Option<Duration>, now: std::time::Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if throttled {
            if self.last_halved.is_none_or(|t| now.duration_since(t) >= HALVE_EVERY) {
                self.limit = (self.limit / 2.0).max(1.0);
                self.last_halved = Some(now);
            }
            if let Some(wait) = retry_after {
                let until = tokio::time::Instant::now() + wait.min(Duration::from_secs(5)).mul_f64(0.5 + jitter());
                self.hold_until = Some(self.hold_until.map_or(until, |h| h.max(until)));
            }
        } else {
            self.limit = (self.limit + 1.0 / self.limit).min(MAX_IN_FLIGHT);
        }
    }
}

/// The tower layer that puts every request of a client through its [`Window`].
#[derive(Clone)]
pub struct BackoffLayer {
    window: std::sync::Arc<(std::sync::Mutex<Window>, tokio::sync::Notify)>,
}

impl Default for BackoffLayer {
    fn default() -> Self {
        BackoffLayer { window: std::sync::Arc::new((std::sync::Mutex::new(Window::new()), tokio::sync::Notify::new())) }
    }
}

impl BackoffLayer {
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> tower::Layer<S> for BackoffLayer {
    type Service = Backoff<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Backoff { inner, window: self.window.clone() }
    }
}

pub struct Backoff<S> {
    inner: S,
    window: std::sync::Arc<(std::sync::Mutex<Window>, tokio::sync::Notify)>,
}

/// The `Retry-After` header of an answer, in whole seconds.
fn retry_after<B>(response: &http::Response<B>) -> Option<Duration> {
    let v = response.headers().get(http::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for Backoff<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let window = self.window.clone();
        // The inner future sends nothing until polled: the request leaves when the window lets it.
        let fut = self.inner.call(req);
        Box::pin(async move {
            let (lock, notify) = &*window;
            loop {
                let notified = notify.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let hold = {
                    let mut w = lock.lock().unwrap_or_else(|e| e.into_inner());
                    match w.hold_until {
                        Some(until) if until > tokio::time::Instant::now() => Some(until),
                        _ if (w.in_flight as f64) < w.limit.floor() => {
                            w.in_flight += 1;
                            break;
                        }
                        _ => None,
                    }
                };
                match hold {
                    Some(until) => tokio::time::sleep_until(until).await,
                    None => notified.await,
                }
            }
            // The slot is given back however this ends (a dropped request too).
            let mut slot = Slot { window: window.clone(), throttled: false, retry_after: None };
            let result = fut.await;
            if let Ok(response) = &result {
                slot.throttled = response.status() == http::StatusCode::TOO_MANY_REQUESTS;
                slot.retry_after = retry_after(response);
            }
            drop(slot);
            result
        })
    }
}

/// One request's place in the window, and what its answer said.
struct Slot {
    window: std::sync::Arc<(std::sync::Mutex<Window>, tokio::sync::Notify)>,
    throttled: bool,
    retry_after: Option<Duration>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let (lock, notify) = &*self.window;
        lock.lock().unwrap_or_else(|e| e.into_inner()).answered(self.throttled, self.retry_after, std::time::Instant::now());
        notify.notify_waiters();
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
        let policy =
            ReadRetry { deadline: Duration::from_secs(5), first_pause: Duration::from_millis(1), max_pause: Duration::from_millis(5) };
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
    async fn throttled_requests_are_sent_again_other_failures_are_returned() {
        let calls = AtomicU32::new(0);
        let got = throttled(None, || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(api_error(429)),
                _ => Ok("written"),
            }
        })
        .await
        .unwrap();
        assert_eq!(got, "written");
        assert_eq!(calls.load(Ordering::SeqCst), 3, "a throttled write was not executed: sent again as it is");
        for code in [409, 500, 503] {
            let calls = AtomicU32::new(0);
            let err = throttled(None, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(api_error(code))
            })
            .await
            .unwrap_err();
            assert!(matches!(err, kube::Error::Api(ref s) if s.code == code));
            assert_eq!(calls.load(Ordering::SeqCst), 1, "{code}: may have happened; the caller decides");
        }
        let stop = crate::stop::StopSignal::never();
        stop.request();
        let calls = AtomicU32::new(0);
        let err = throttled(Some(&stop), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(api_error(429))
        })
        .await
        .unwrap_err();
        assert!(is_throttled(&err));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "no new attempt after an interrupt");
    }

    #[test]
    fn throttled_pauses_grow_are_capped_and_spread() {
        let pauses: Vec<Duration> = (0..50).map(|_| throttled_pause(&api_error(429), 1)).collect();
        assert!(pauses.iter().all(|p| *p >= Duration::from_millis(125) && *p < Duration::from_millis(375)), "{pauses:?}");
        assert!(pauses.iter().any(|p| *p != pauses[0]), "spread, not in step: {pauses:?}");
        assert!(throttled_pause(&api_error(429), 30) < Duration::from_millis(7500));
        assert!(throttled_pause(&api_error(429), 30) >= Duration::from_millis(2500));
    }

    #[test]
    fn the_window_halves_on_throttling_once_per_burst_and_widens_slowly() {
        let mut w = Window::new();
        let t0 = std::time::Instant::now();
        w.in_flight = 40;
        for _ in 0..10 {
            w.answered(true, None, t0);
        }
        assert_eq!(w.limit, MAX_IN_FLIGHT / 2.0, "a burst of 429s is one signal");
        w.answered(true, None, t0 + HALVE_EVERY);
        assert_eq!(w.limit, MAX_IN_FLIGHT / 4.0);
        for i in 1..8 {
            w.answered(true, None, t0 + HALVE_EVERY * (i + 1));
        }
        assert_eq!(w.limit, 1.0, "never below one request");
        for _ in 0..9 {
            w.answered(false, None, t0);
        }
        assert!(w.limit > 3.0 && w.limit < 5.0, "about one more per window: {}", w.limit);
        for _ in 0..100_000 {
            w.answered(false, None, t0);
        }
        assert_eq!(w.limit, MAX_IN_FLIGHT);
        assert_eq!(w.in_flight, 0);
    }

    #[tokio::test]
    async fn permanent_errors_and_deadlines_end_retries() {
        let calls = AtomicU32::new(0);
        let policy =
            ReadRetry { deadline: Duration::from_millis(50), first_pause: Duration::from_millis(10), max_pause: Duration::from_millis(20) };
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
