//! Client-side rate limiting in Helm's style (`HELM_QPS`, `HELM_BURST_LIMIT`, or `--qps` and
//! `--burst-limit`): a token bucket in front of every API request, so a large migration cannot
//! overwhelm an API server. Requests wait their turn; none is dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

/// Requests per second and how many may go at once after a quiet period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub qps: f64,
    pub burst: u32,
}

/// Generic cell rate algorithm: the theoretical arrival time of the next request.
#[derive(Debug)]
struct Bucket {
    interval: Duration,
    tolerance: Duration,
    tat: Option<Instant>,
}

impl Bucket {
    fn new(limit: RateLimit) -> Self {
        let interval = Duration::from_secs_f64(1.0 / limit.qps.max(0.001));
        let tolerance = interval * limit.burst.saturating_sub(1);
        Bucket { interval, tolerance, tat: None }
    }

    /// When the next request may be sent, reserving that slot.
    fn reserve(&mut self, now: Instant) -> Instant {
        let tat = self.tat.map_or(now, |t| t.max(now));
        let allowed = tat.checked_sub(self.tolerance).unwrap_or(now).max(now);
        self.tat = Some(tat + self.interval);
        allowed
    }
}

#[derive(Clone)]
pub struct RateLimitLayer {
    bucket: Arc<Mutex<Bucket>>,
}

impl RateLimitLayer {
    pub fn new(limit: RateLimit) -> Self {
        RateLimitLayer { bucket: Arc::new(Mutex::new(Bucket::new(limit))) }
    }
}

impl<S> tower::Layer<S> for RateLimitLayer {
    type Service = RateLimited<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RateLimited { inner, bucket: self.bucket.clone() }
    }
}

pub struct RateLimited<S> {
    inner: S,
    bucket: Arc<Mutex<Bucket>>,
}

impl<S, Req> tower::Service<Req> for RateLimited<S>
where
    S: tower::Service<Req>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let at = self.bucket.lock().map(|mut b| b.reserve(Instant::now())).unwrap_or_else(|_| Instant::now());
        // The inner future does nothing until polled: the request leaves when its slot comes.
        let fut = self.inner.call(req);
        Box::pin(async move {
            tokio::time::sleep_until(at).await;
            fut.await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_steady_rate() {
        let mut b = Bucket::new(RateLimit { qps: 10.0, burst: 3 });
        let t0 = Instant::now();
        let slots: Vec<Duration> = (0..6).map(|_| b.reserve(t0) - t0).collect();
        assert_eq!(&slots[..3], &[Duration::ZERO; 3]);
        assert_eq!(slots[3], Duration::from_millis(100));
        assert_eq!(slots[4], Duration::from_millis(200));
        assert_eq!(slots[5], Duration::from_millis(300));
        // After a quiet second the burst is available again.
        let later = t0 + Duration::from_secs(2);
        assert_eq!(b.reserve(later), later);
    }
}
