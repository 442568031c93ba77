//! Multi-document manifests: Helm's stored manifests, `-f` files, backups. Splitting is done per
//! document so one bad document is reported by position and the others still count.

use serde_json::Value;

/// One document of a multi-document YAML stream, before parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDocument<'a> {
    /// 1-based position among the non-empty documents.
    pub index: usize,
    pub text: &'a str,
    /// Helm's `# Source: chart/templates/x.yaml` comment, when present.
    pub source: Option<&'a str>,
}

/// A Kubernetes object found in a manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestObject {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// `metadata.namespace` as written; `None` when the manifest leaves it to the release namespace.
    pub namespace: Option<String>,
    pub source: Option<String>,
    pub object: Value,
}

impl ManifestObject {
    /// API group of `apiVersion` (empty for the core group).
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
    }

    pub fn version(&self) -> &str {
        self.api_version.rsplit_once('/').map(|(_, v)| v).unwrap_or(&self.api_version)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("document {index}{}: {reason}", template.as_deref().map(|s| format!(" ({s})")).unwrap_or_default())]
pub struct ManifestError {
    pub index: usize,
    /// Helm's `# Source:` of the document, when known.
    pub template: Option<String>,
    pub reason: String,
}

/// Split a YAML stream at document separators (`---` at the start of a line), dropping documents
/// that hold only comments and blank space. This is where Helm splits stored manifests too.
pub fn split_documents(text: &str) -> Vec<RawDocument<'_>> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    let mut pieces: Vec<&str> = Vec::new();
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end_matches(['\n', '\r']);
        if is_separator(trimmed) {
            pieces.push(&text[start..offset]);
            // Content after `--- ` on the same line belongs to the next document.
            let after = trimmed.strip_prefix("---").unwrap_or("");
            let skip = if after.trim().is_empty() || after.trim_start().starts_with('#') { line.len() } else { 3 };
            start = offset + skip;
        }
        offset += line.len();
    }
    pieces.push(&text[start.min(text.len())..]);
    for piece in pieces {
        if piece.lines().all(|l| {
            let t = l.trim();
            t.is_empty() || t.starts_with('#') || t == "..."
        }) {
            continue;
        }
        let source = piece.lines().find_map(|l| l.trim().strip_prefix("# Source:").map(str::trim));
        docs.push(RawDocument { index: docs.len() + 1, text: piece, source });
    }
    docs
}

fn is_separator(line: &str) -> bool {
    match line.strip_prefix("---") {
        Some(rest) => rest.is_empty() || rest.starts_with([' ', '\t']),
        None => false,
    }
}

/// Parse every document into objects, expanding `kind: List` (and `*List`) items. Documents that are
/// not Kubernetes objects (no `apiVersion`/`kind`) are skipped when `skip_non_objects`, else errors.
pub fn parse_objects(text: &str, skip_non_objects: bool) -> Vec<Result<ManifestObject, ManifestError>> {
    let mut out = Vec::new();
    for doc in split_documents(text) {
        let err = |reason: String| ManifestError { index: doc.index, template: doc.source.map(String::from), reason };
        let value: Value = match serde_saphyr::from_str(doc.text) {
            Ok(v) => v,
            Err(e) => {
                out.push(Err(err(first_line(&e.to_string()))));
                continue;
            }
        };
        collect_objects(value, doc.source, skip_non_objects, &err, &mut out);
    }
    out
}

/// Parse a JSON text (one object, possibly a `List`) the same way.
pub fn parse_json_objects(text: &str, skip_non_objects: bool) -> Vec<Result<ManifestObject, ManifestError>> {
    let err = |reason: String| ManifestError { index: 1, template: None, reason };
    let mut out = Vec::new();
    match serde_json::from_str::<Value>(text) {
        Ok(v) => collect_objects(v, None, skip_non_objects, &err, &mut out),
        Err(e) => out.push(Err(err(format!("json: {e}")))),
    }
    out
}

fn collect_objects(
    value: Value,
    source: Option<&str>,
    skip_non_objects: bool,
    err: &dyn Fn(String) -> ManifestError,
    out: &mut Vec<Result<ManifestObject, ManifestError>>,
) {
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind.ends_with("List")
        && value.get("apiVersion").is_some()
        && let Some(items) = value.get("items").and_then(Value::as_array)
    {
        for item in items.clone() {
            collect_objects(item, source, skip_non_objects, err, out);
        }
        return;
    }
    match object_identity(&value) {
        Ok((api_version, kind, name, namespace)) => {
            out.push(Ok(ManifestObject { api_version, kind, name, namespace, source: source.map(String::from), object: value }))
        }
        Err(reason) if !(skip_non_objects && (value.get("apiVersion").is_none() || value.get("kind").is_none())) => {
            out.push(Err(err(reason)))
        }
        Err(_) => {}
    }
}

fn object_identity(v: &Value) -> Result<(String, String, String, Option<String>), String> {
    if !v.is_object() {
        return Err("not a Kubernetes object (expected a mapping)".into());
    }
    let field = |name: &str| v.get(name).and_then(Value::as_str).filter(|s| !s.is_empty()).map(String::from);
    let api_version = field("apiVersion").ok_or("missing apiVersion")?;
    let kind = field("kind").ok_or("missing kind")?;
    let meta = v.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("{kind} without metadata.name"))?
        .to_string();
    let namespace = meta.and_then(|m| m.get("namespace")).and_then(Value::as_str).filter(|s| !s.is_empty()).map(String::from);
    Ok((api_version, kind, name, namespace))
}

/// Metadata the API server sets; a copy meant to be created again must not carry it.
pub const SERVER_SET_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// Remove server-set metadata so the object can be created again.
pub fn strip_server_metadata(object: &mut Value) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in SERVER_SET_METADATA {
            meta.remove(*key);
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_helm_manifests_and_keeps_sources() {
        let text = "---\n# Source: shop/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n# Source: shop/templates/empty.yaml\n---\n# Source: shop/templates/b.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: b\n  namespace: other\n";
        let docs = split_documents(text);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].source, Some("shop/templates/a.yaml"));
        assert_eq!(docs[1].index, 2);
        let objects: Vec<_> = parse_objects(text, false).into_iter().map(Result::unwrap).collect();
        assert_eq!(objects.len(), 2);
        assert_eq!((objects[0].kind.as_str(), objects[0].name.as_str(), objects[0].namespace.as_deref()), ("ConfigMap", "a", None));
        assert_eq!(objects[1].group(), "apps");
        assert_eq!(objects[1].version(), "v1");
        assert_eq!(objects[1].namespace.as_deref(), Some("other"));
        assert_eq!(objects[0].group(), "");
    }

    #[test]
    fn separators_only_at_line_start() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: |\n    x---y\n    ---not a separator because indented\n--- \napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n";
        let objects = parse_objects(text, false);
        assert_eq!(objects.len(), 2, "{objects:?}");
        let a = objects[0].as_ref().unwrap();
        assert!(a.object["data"]["k"].as_str().unwrap().contains("---not a separator"));
    }

    #[test]
    fn lists_expand_and_bad_documents_are_reported_by_position() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: s1}\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: s2}\n---\nkey: [unclosed\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {}\n---\njust: data\n";
        let results = parse_objects(text, false);
        assert_eq!(results.len(), 5, "{results:?}");
        assert_eq!(results[0].as_ref().unwrap().name, "s1");
        assert_eq!(results[1].as_ref().unwrap().name, "s2");
        let e = results[2].as_ref().unwrap_err();
        assert_eq!(e.index, 2);
        assert!(results[3].as_ref().unwrap_err().reason.contains("metadata.name"));
        assert!(results[4].as_ref().unwrap_err().reason.contains("apiVersion"));
        // With skipping, documents that are not objects vanish but broken objects still count.
        let skipped = parse_objects(text, true);
        assert_eq!(skipped.len(), 4);
    }

    #[test]
    fn strips_server_metadata() {
        let mut v: Value =
            serde_json::json!({"metadata": {"name": "a", "uid": "u", "resourceVersion": "1", "managedFields": [], "labels": {"x": "y"}}});
        strip_server_metadata(&mut v);
        assert_eq!(v, serde_json::json!({"metadata": {"name": "a", "labels": {"x": "y"}}}));
    }

    #[test]
    fn empty_and_comment_only_input() {
        assert!(split_documents("").is_empty());
        assert!(split_documents("---\n# nothing\n---\n\n...\n").is_empty());
        assert!(parse_objects("---\n---\n", false).is_empty());
    }
}
