//! Fault injection and authorization hooks, and the request-log types.

use std::sync::Arc;
use std::time::Duration;

use crate::store::StoreHandle;
use crate::util::glob_match;

/// What a matching request gets instead of (or before) its normal answer.
#[derive(Clone)]
pub enum FaultAction {
    /// Answer with this HTTP status and a proper `kind: Status` body (reason derived from
    /// the code unless `message` overrides the text). `retry_after` adds a `Retry-After`
    /// header and `details.retryAfterSeconds`.
    Status { code: u16, retry_after: Option<u64>, message: Option<String> },
    /// Close the connection without writing any response.
    DropConnection,
    /// Wait, then serve normally.
    Delay(Duration),
    /// Run a mutation against the store (like a concurrent writer), then serve normally.
    Mutate(Arc<dyn Fn(&StoreHandle) + Send + Sync>),
}

impl std::fmt::Debug for FaultAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FaultAction::Status { code, retry_after, message } => {
                write!(f, "Status({code}, retry_after={retry_after:?}, message={message:?})")
            }
            FaultAction::DropConnection => write!(f, "DropConnection"),
            FaultAction::Delay(d) => write!(f, "Delay({d:?})"),
            FaultAction::Mutate(_) => write!(f, "Mutate(..)"),
        }
    }
}

/// A fault rule: which requests it matches, which of them it hits, and what it does.
///
/// ```
/// use kube_emulator::Fault;
/// // the 2nd LIST of secrets in namespace `fx` answers 500, once
/// let f = Fault::on("list", "secrets").namespace("fx").nth(2).respond(500);
/// // every GET of a `sh.helm.*` secret answers 429 with Retry-After: 1
/// let g = Fault::on("get", "secrets").name("sh.helm.*").always().respond_retry_after(429, 1);
/// # let _ = (f, g);
/// ```
#[derive(Clone, Debug)]
pub struct Fault {
    /// Kubernetes verb (`get`, `list`, `create`, `update`, `patch`, `delete`,
    /// `deletecollection`, `watch`); `None` or `"*"` = any. For non-resource requests the verb
    /// is the lower-case HTTP method.
    pub verb: Option<String>,
    /// Resource plural (`secrets`) or `plural.group` (`deployments.apps`); `None`/`"*"` = any.
    pub resource: Option<String>,
    /// Namespace; `None` = any.
    pub namespace: Option<String>,
    /// Glob (`*`, `?`) on the object name; `None` = any (also collection requests).
    pub name: Option<String>,
    /// Glob on the URL path, for non-resource requests (e.g. `/version`); `None` = any.
    pub path: Option<String>,
    /// The first matching request that triggers (1-based).
    pub nth: u64,
    /// How many times it triggers from then on; `None` = every later match too.
    pub times: Option<u64>,
    pub action: FaultAction,
}

impl Fault {
    /// Matches `verb` on `resource` (`"*"` for any); one-shot on the first match by default.
    pub fn on(verb: &str, resource: &str) -> Fault {
        let opt = |s: &str| if s.is_empty() || s == "*" { None } else { Some(s.to_string()) };
        Fault {
            verb: opt(verb),
            resource: opt(resource),
            namespace: None,
            name: None,
            path: None,
            nth: 1,
            times: Some(1),
            action: FaultAction::Status { code: 500, retry_after: None, message: None },
        }
    }

    /// Matches non-resource requests by path glob (e.g. `/openapi/*`).
    pub fn on_path(path_glob: &str) -> Fault {
        let mut f = Fault::on("*", "*");
        f.path = Some(path_glob.to_string());
        f
    }

    pub fn namespace(mut self, ns: &str) -> Self {
        self.namespace = Some(ns.to_string());
        self
    }
    pub fn name(mut self, pattern: &str) -> Self {
        self.name = Some(pattern.to_string());
        self
    }
    pub fn nth(mut self, n: u64) -> Self {
        self.nth = n.max(1);
        self
    }
    pub fn times(mut self, n: u64) -> Self {
        self.times = Some(n);
        self
    }
    pub fn always(mut self) -> Self {
        self.times = None;
        self
    }
    pub fn respond(mut self, code: u16) -> Self {
        self.action = FaultAction::Status { code, retry_after: None, message: None };
        self
    }
    pub fn respond_retry_after(mut self, code: u16, seconds: u64) -> Self {
        self.action = FaultAction::Status { code, retry_after: Some(seconds), message: None };
        self
    }
    pub fn respond_with(mut self, code: u16, retry_after: Option<u64>, message: &str) -> Self {
        self.action = FaultAction::Status { code, retry_after, message: Some(message.to_string()) };
        self
    }
    pub fn drop_connection(mut self) -> Self {
        self.action = FaultAction::DropConnection;
        self
    }
    pub fn delay(mut self, d: Duration) -> Self {
        self.action = FaultAction::Delay(d);
        self
    }
    pub fn mutate(mut self, f: impl Fn(&StoreHandle) + Send + Sync + 'static) -> Self {
        self.action = FaultAction::Mutate(Arc::new(f));
        self
    }

    pub(crate) fn matches(&self, a: &RequestAttributes) -> bool {
        if let Some(v) = &self.verb
            && *v != a.verb
        {
            return false;
        }
        if let Some(r) = &self.resource {
            let qualified = if a.api_group.is_empty() { a.resource.clone() } else { format!("{}.{}", a.resource, a.api_group) };
            if !a.is_resource || (*r != a.resource && *r != qualified) {
                return false;
            }
        }
        if let Some(ns) = &self.namespace
            && *ns != a.namespace
        {
            return false;
        }
        if let Some(n) = &self.name
            && (a.name.is_empty() || !glob_match(n, &a.name))
        {
            return false;
        }
        if let Some(p) = &self.path
            && !glob_match(p, &a.path)
        {
            return false;
        }
        true
    }
}

pub(crate) struct FaultState {
    pub fault: Fault,
    pub seen: u64,
    pub fired: u64,
}

/// What the authorizer is asked (like the API server's authorizer attributes).
#[derive(Debug, Clone, Default)]
pub struct RequestAttributes {
    pub user: String,
    pub groups: Vec<String>,
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`;
    /// for non-resource requests the lower-case HTTP method.
    pub verb: String,
    pub is_resource: bool,
    pub api_group: String,
    pub api_version: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    pub path: String,
}

/// An authorization decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Denied; the optional reason is appended to the Forbidden message (`...: reason`).
    Deny(Option<String>),
}

/// The pluggable authorization step. Members of `system:masters` bypass it (as on the real
/// server). Any `Fn(&RequestAttributes) -> Decision` is an authorizer.
pub trait Authorizer: Send + Sync {
    fn authorize(&self, attrs: &RequestAttributes) -> Decision;
}

impl<F> Authorizer for F
where
    F: Fn(&RequestAttributes) -> Decision + Send + Sync,
{
    fn authorize(&self, attrs: &RequestAttributes) -> Decision {
        self(attrs)
    }
}

/// One served request, as recorded in the request log.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    /// Raw query string (without `?`), empty if none.
    pub query: String,
    pub status: u16,
    /// Response body size in bytes (0 for dropped connections).
    pub response_bytes: u64,
    pub request_bytes: u64,
    /// Authenticated user name (empty if unauthenticated).
    pub user: String,
    /// Kubernetes verb (or lower-case method for non-resource requests).
    pub verb: String,
    pub resource: String,
    pub namespace: String,
    pub name: String,
    pub content_type: String,
    pub accept: String,
    /// The route key counted in [`crate::Emulator::route_counters`].
    pub route: String,
    pub duration: Duration,
    /// The connection was dropped by a fault.
    pub dropped: bool,
}
