//! `kind: Status` error bodies, shaped like the real API server's.

use serde_json::{Map, Value, json};

/// One entry of `details.causes`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

/// An API error (or success Status) the way kube-apiserver renders it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: String,
    pub message: String,
    /// `details` object; `None` omits the field entirely.
    pub details: Option<Value>,
    /// Value of a `Retry-After` header (seconds), also put into `details.retryAfterSeconds`.
    pub retry_after: Option<u64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

/// Identifies the resource an error is about, as in `qualifiedResource` on the server.
#[derive(Debug, Clone, Copy)]
pub struct Gr<'a> {
    pub group: &'a str,
    pub resource: &'a str,
}

impl Gr<'_> {
    /// `configmaps` or `deployments.apps`.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() { self.resource.to_string() } else { format!("{}.{}", self.resource, self.group) }
    }
}

fn details(name: Option<&str>, group: &str, kind: &str) -> Value {
    let mut m = Map::new();
    if let Some(n) = name
        && !n.is_empty()
    {
        m.insert("name".into(), Value::String(n.into()));
    }
    if !group.is_empty() {
        m.insert("group".into(), Value::String(group.into()));
    }
    if !kind.is_empty() {
        m.insert("kind".into(), Value::String(kind.into()));
    }
    Value::Object(m)
}

impl ApiError {
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> ApiError {
        ApiError { code, reason: reason.into(), message: message.into(), details: None, retry_after: None }
    }

    pub fn with_details(mut self, d: Value) -> Self {
        self.details = Some(d);
        self
    }

    pub fn not_found(gr: Gr<'_>, name: &str) -> ApiError {
        ApiError::new(404, "NotFound", format!("{} \"{}\" not found", gr.qualified(), name)).with_details(details(
            Some(name),
            gr.group,
            gr.resource,
        ))
    }

    pub fn already_exists(gr: Gr<'_>, name: &str) -> ApiError {
        ApiError::new(409, "AlreadyExists", format!("{} \"{}\" already exists", gr.qualified(), name)).with_details(details(
            Some(name),
            gr.group,
            gr.resource,
        ))
    }

    /// The optimistic-concurrency conflict of PUT/PATCH.
    pub fn conflict_modified(gr: Gr<'_>, name: &str) -> ApiError {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                gr.qualified(),
                name
            ),
        )
        .with_details(details(Some(name), gr.group, gr.resource))
    }

    /// A conflict whose message is given, with `details.kind` = the Kind (as for DELETE preconditions).
    pub fn conflict_kind(group: &str, kind: &str, name: &str, msg: &str) -> ApiError {
        ApiError::new(409, "Conflict", format!("Operation cannot be fulfilled on {kind} \"{name}\": {msg}")).with_details(details(
            Some(name),
            group,
            kind,
        ))
    }

    pub fn bad_request(msg: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", msg)
    }

    /// 422 Invalid with field causes.
    pub fn invalid(group: &str, kind: &str, name: &str, causes: Vec<Cause>) -> ApiError {
        let parts: Vec<String> =
            causes.iter().map(|c| if c.field.is_empty() { c.message.clone() } else { format!("{}: {}", c.field, c.message) }).collect();
        let joined = if parts.len() == 1 { parts[0].clone() } else { format!("[{}]", parts.join(", ")) };
        let mut d = details(Some(name), group, kind);
        if let Value::Object(m) = &mut d {
            m.insert(
                "causes".into(),
                Value::Array(causes.iter().map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field})).collect()),
            );
        }
        ApiError::new(422, "Invalid", format!("{kind} \"{name}\" is invalid: {joined}")).with_details(d)
    }

    /// The generic 422 the server answers for JSON-patch application errors.
    pub fn unprocessable_generic() -> ApiError {
        ApiError::new(422, "Invalid", "the server rejected our request due to an error in our request").with_details(json!({}))
    }

    pub fn forbidden(gr: Gr<'_>, name: &str, msg: &str) -> ApiError {
        let subject = if name.is_empty() { gr.qualified() } else { format!("{} \"{}\"", gr.qualified(), name) };
        ApiError::new(403, "Forbidden", format!("{subject} is forbidden: {msg}")).with_details(details(Some(name), gr.group, gr.resource))
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn resource_not_found() -> ApiError {
        ApiError::new(404, "NotFound", "the server could not find the requested resource").with_details(json!({}))
    }

    pub fn method_not_allowed(msg: &str) -> ApiError {
        ApiError::new(405, "MethodNotAllowed", msg).with_details(json!({}))
    }

    pub fn too_large() -> ApiError {
        ApiError::new(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")
    }

    pub fn unsupported_media_type(ct: &str) -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json; got {ct}"
            ),
        )
    }

    pub fn internal(msg: impl Into<String>) -> ApiError {
        ApiError::new(500, "InternalError", msg)
    }

    /// Builds the error for an arbitrary status code (fault injection).
    pub fn for_code(code: u16, message: Option<&str>) -> ApiError {
        let (reason, default_msg) = match code {
            400 => ("BadRequest", "the server rejected our request for an unknown reason"),
            401 => ("Unauthorized", "Unauthorized"),
            403 => ("Forbidden", "forbidden"),
            404 => ("NotFound", "the server could not find the requested resource"),
            405 => ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
            409 => ("Conflict", "the server reported a conflict"),
            410 => ("Expired", "the resourceVersion for the provided list is too old"),
            413 => ("RequestEntityTooLarge", "Request entity too large: limit is 3145728"),
            422 => ("Invalid", "the server rejected our request due to an error in our request"),
            429 => ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
            500 => ("InternalError", "an error on the server (\"\") has prevented the request from succeeding"),
            503 => ("ServiceUnavailable", "the server is currently unable to handle the request"),
            504 => ("Timeout", "the server was unable to return a response in the time allotted, but may still be processing the request"),
            _ => ("", "unknown"),
        };
        ApiError::new(code, reason, message.unwrap_or(default_msg))
    }

    /// Serializes as a `kind: Status` object (key order as the real server).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), "Status".into());
        m.insert("apiVersion".into(), "v1".into());
        m.insert("metadata".into(), json!({}));
        m.insert("status".into(), "Failure".into());
        if !self.message.is_empty() {
            m.insert("message".into(), self.message.clone().into());
        }
        if !self.reason.is_empty() {
            m.insert("reason".into(), self.reason.clone().into());
        }
        let mut details = self.details.clone();
        if let Some(ra) = self.retry_after {
            let d = details.get_or_insert_with(|| json!({}));
            if let Value::Object(dm) = d {
                dm.insert("retryAfterSeconds".into(), ra.into());
            }
        }
        if let Some(d) = details {
            m.insert("details".into(), d);
        }
        m.insert("code".into(), self.code.into());
        Value::Object(m)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_json()).unwrap_or_default()
    }
}

/// A `status: Success` Status as returned by DELETE for most resources.
pub fn success_status(name: &str, group: &str, resource: &str, uid: &str) -> Value {
    let mut d = details(Some(name), group, resource);
    if let Value::Object(m) = &mut d
        && !uid.is_empty()
    {
        m.insert("uid".into(), uid.into());
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": d})
}
