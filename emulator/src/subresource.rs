//! The `status` and `scale` subresources of the kinds whose fields are tracked (`managed::tracked`):
//! the `Scale` view of a Deployment, and writes that go through the store as an Update of the
//! subresource (so `managed` records them as the subresource's writer).

use serde_json::{Map, Value, json};

use crate::discovery::Resource;
use crate::status::ApiError;
use crate::store::{Store, WriteOptions};

/// A write to `status` or `scale`, or a read of `scale`: the object to store (for writes) or the answer.
pub enum SubresourceOp {
    /// Store this object (the stored one with the subresource's part changed), then answer
    /// [`scale_of`] (scale) or the object (status).
    Write(Value),
    Answer(Value),
}

/// The `Scale` view of a Deployment.
pub fn scale_of(obj: &Value) -> Value {
    let meta = obj.get("metadata").cloned().unwrap_or(json!({}));
    let mut m = Map::new();
    for k in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
        if let Some(v) = meta.get(k) {
            m.insert(k.into(), v.clone());
        }
    }
    let replicas = obj.pointer("/spec/replicas").cloned().unwrap_or(json!(1));
    let selector = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|l| l.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    let status_replicas = obj.pointer("/status/replicas").cloned().unwrap_or(json!(0));
    json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": m, "spec": {"replicas": replicas}, "status": {"replicas": status_replicas, "selector": selector}})
}

/// Applies a subresource request to `stored` (the full object with kind/apiVersion). `body` is the patch
/// (merge, strategic or JSON) or the PUT body.
pub fn subresource(stored: &Value, subresource: &str, verb: &str, patch: Option<(&str, &Value)>) -> Result<SubresourceOp, ApiError> {
    match (subresource, verb) {
        ("scale", "get") => Ok(SubresourceOp::Answer(scale_of(stored))),
        ("scale", "update" | "patch") => {
            let mut scale = scale_of(stored);
            match patch {
                Some(("put", body)) => scale = body.clone(),
                Some((kind, body)) => patch_value(&mut scale, kind, body)?,
                None => {}
            }
            let Some(replicas) = scale.pointer("/spec/replicas").cloned() else {
                return Err(ApiError::bad_request("spec.replicas is required"));
            };
            let mut next = stored.clone();
            if let Some(Value::Object(spec)) = next.get_mut("spec") {
                spec.insert("replicas".into(), replicas);
            }
            if let Some(rv) = scale.pointer("/metadata/resourceVersion").cloned()
                && let Some(Value::Object(m)) = next.get_mut("metadata")
            {
                m.insert("resourceVersion".into(), rv);
            }
            Ok(SubresourceOp::Write(next))
        }
        ("status", "update" | "patch") => {
            let mut doc = stored.clone();
            match patch {
                Some(("put", body)) => doc = body.clone(),
                Some((kind, body)) => patch_value(&mut doc, kind, body)?,
                None => {}
            }
            let mut next = stored.clone();
            if let Value::Object(m) = &mut next {
                match doc.get("status") {
                    Some(s) => {
                        m.insert("status".into(), s.clone());
                    }
                    None => {
                        m.shift_remove("status");
                    }
                }
                if let Some(rv) = doc.pointer("/metadata/resourceVersion").cloned()
                    && let Some(Value::Object(meta)) = m.get_mut("metadata")
                {
                    meta.insert("resourceVersion".into(), rv);
                }
            }
            Ok(SubresourceOp::Write(next))
        }
        _ => Err(ApiError::resource_not_found()),
    }
}

/// Serves `GET|PUT|PATCH .../scale` and `PUT|PATCH .../status` of a tracked kind: the write goes through the
/// store (resourceVersion precondition of the object read, so nothing slips in between) as an Update of that
/// subresource.
#[allow(clippy::too_many_arguments)]
pub fn serve_subresource(
    store: &Store,
    res: &Resource,
    ns: &str,
    name: &str,
    verb: &str,
    content_type: &str,
    body: &[u8],
    opts: &WriteOptions,
) -> Result<Value, ApiError> {
    let sub = opts.subresource.as_str();
    if !res.subresources.iter().any(|s| s == sub) || !matches!(sub, "scale" | "status") {
        return Err(ApiError::resource_not_found());
    }
    let stored = store.get(res, ns, name)?.typed_value(res);
    let parsed: Option<(&str, Value)> = match verb {
        "get" => None,
        "update" | "patch" => {
            let v: Value = serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            let base = content_type.split(';').next().unwrap_or("").trim();
            let kind = match (verb, base) {
                ("update", _) => "put",
                (_, "application/json-patch+json") => "json",
                (_, "application/merge-patch+json" | "application/strategic-merge-patch+json") => "merge",
                _ => return Err(ApiError::unsupported_media_type(content_type)),
            };
            Some((kind, v))
        }
        _ => return Err(ApiError::method_not_allowed("the server does not allow this method on the requested resource")),
    };
    match subresource(&stored, sub, verb, parsed.as_ref().map(|(k, v)| (*k, v)))? {
        SubresourceOp::Answer(v) => Ok(v),
        SubresourceOp::Write(mut next) => {
            if next.pointer("/metadata/resourceVersion").is_none()
                && let Some(Value::Object(m)) = next.get_mut("metadata")
            {
                m.insert("resourceVersion".into(), stored.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null));
            }
            let out = store.update(res, ns, name, next, opts)?;
            Ok(if sub == "scale" { scale_of(&out.object) } else { out.object })
        }
    }
}

fn patch_value(doc: &mut Value, kind: &str, body: &Value) -> Result<(), ApiError> {
    match kind {
        "json" => crate::patch::json_patch(doc, body).map_err(|_| ApiError::unprocessable_generic()),
        _ => {
            crate::patch::merge_patch(doc, body);
            Ok(())
        }
    }
}
