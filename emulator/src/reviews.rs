//! Create-only "review" resources (TokenReview, SubjectAccessReview and friends): the real server takes
//! no name for them (metadata must be empty, but for a LocalSubjectAccessReview's namespace), stores
//! nothing and answers the object with a `status`. The emulator does not evaluate them: TokenReviews are
//! unauthenticated and access reviews not allowed, with a reason that says so.

use serde_json::{Map, Value, json};

use crate::discovery::Resource;
use crate::status::ApiError;

const REVIEWS: &[(&str, &str)] = &[
    ("authentication.k8s.io", "tokenreviews"),
    ("authentication.k8s.io", "selfsubjectreviews"),
    ("authorization.k8s.io", "subjectaccessreviews"),
    ("authorization.k8s.io", "localsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
];

pub fn is_review(res: &Resource) -> bool {
    REVIEWS.iter().any(|(g, p)| *g == res.group && *p == res.plural)
}

/// The answer to creating a review object (already decoded).
pub fn create(res: &Resource, ns: &str, mut obj: Map<String, Value>) -> Result<Value, ApiError> {
    let meta = obj.get("metadata").and_then(Value::as_object).cloned().unwrap_or_default();
    let local = res.plural == "localsubjectaccessreviews";
    let extra: Vec<&String> = meta.keys().filter(|k| !(local && k.as_str() == "namespace")).collect();
    if !extra.is_empty() {
        let what = if local { "must be empty except for namespace" } else { "must be empty" };
        return Err(ApiError::invalid(
            &res.group,
            &res.kind,
            "",
            vec![crate::status::Cause {
                reason: "FieldValueInvalid".into(),
                message: format!("Invalid value: {}: {what}", Value::Object(meta.clone())),
                field: "metadata".into(),
            }],
        ));
    }
    if local {
        let attr_ns = obj.get("spec").and_then(|s| s.pointer("/resourceAttributes/namespace")).and_then(Value::as_str).unwrap_or("");
        if attr_ns != ns {
            return Err(ApiError::invalid(
                &res.group,
                &res.kind,
                "",
                vec![crate::status::Cause {
                    reason: "FieldValueInvalid".into(),
                    message: format!("Invalid value: {attr_ns:?}: must match metadata.namespace"),
                    field: "spec.resourceAttributes.namespace".into(),
                }],
            ));
        }
    }
    let status = match res.plural.as_str() {
        "tokenreviews" => json!({"user": {}, "error": "the emulator does not authenticate review tokens"}),
        "selfsubjectreviews" => json!({"userInfo": {}}),
        "selfsubjectrulesreviews" => {
            json!({"resourceRules": [], "nonResourceRules": [], "incomplete": true, "evaluationError": "the emulator does not evaluate access reviews"})
        }
        _ => json!({"allowed": false, "reason": "the emulator does not evaluate access reviews"}),
    };
    obj.insert("status".into(), status);
    obj.insert("apiVersion".into(), Value::String(res.api_version()));
    obj.insert("kind".into(), Value::String(res.kind.clone()));
    Ok(Value::Object(obj))
}
