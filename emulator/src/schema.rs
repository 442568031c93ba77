//! Read-only access to the served OpenAPI v3 schemas: used for unknown-field detection
//! (`fieldValidation`) and for strategic-merge-patch list semantics.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

use crate::discovery::{openapi_file, stem_of};

/// A position in a schema document (cheap to copy).
#[derive(Clone, Copy, Debug)]
pub struct SchemaCursor {
    doc: &'static Value,
    node: &'static Value,
}

fn doc_for(group: &str, version: &str) -> Option<&'static Value> {
    static DOCS: OnceLock<Mutex<HashMap<String, Option<&'static Value>>>> = OnceLock::new();
    let path = if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") };
    let stem = stem_of(&path);
    let docs = DOCS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut g = docs.lock().unwrap_or_else(|e| e.into_inner());
    *g.entry(stem.clone()).or_insert_with(|| {
        let bytes = openapi_file(&stem)?;
        let v: Value = serde_json::from_slice(bytes).ok()?;
        Some(Box::leak(Box::new(v)))
    })
}

/// The parsed OpenAPI v3 document of a group version (`""` for the core group).
pub(crate) fn openapi_doc(group: &str, version: &str) -> Option<&'static Value> {
    doc_for(group, version)
}

impl SchemaCursor {
    /// The schema of a kind, found by its `x-kubernetes-group-version-kind` (cached).
    pub fn for_kind(group: &str, version: &str, kind: &str) -> Option<SchemaCursor> {
        type Cache = Mutex<HashMap<(String, String, String), Option<SchemaCursor>>>;
        static CACHE: OnceLock<Cache> = OnceLock::new();
        let key = (group.to_string(), version.to_string(), kind.to_string());
        let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
        if let Some(hit) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return *hit;
        }
        let found = Self::find_kind(group, version, kind);
        cache.lock().unwrap_or_else(|e| e.into_inner()).insert(key, found);
        found
    }

    fn find_kind(group: &str, version: &str, kind: &str) -> Option<SchemaCursor> {
        let doc = doc_for(group, version)?;
        let schemas = doc.pointer("/components/schemas")?.as_object()?;
        for node in schemas.values() {
            let hit = node.get("x-kubernetes-group-version-kind").and_then(Value::as_array).is_some_and(|a| {
                a.iter().any(|g| {
                    g.get("group").and_then(Value::as_str) == Some(group)
                        && g.get("version").and_then(Value::as_str) == Some(version)
                        && g.get("kind").and_then(Value::as_str) == Some(kind)
                })
            });
            if hit {
                return Some(SchemaCursor { doc, node });
            }
        }
        None
    }

    fn resolved(self) -> SchemaCursor {
        let mut cur = self.node;
        for _ in 0..16 {
            if let Some(r) = cur.get("$ref").and_then(Value::as_str) {
                let Some(name) = r.strip_prefix("#/components/schemas/") else { break };
                match self.doc.pointer("/components/schemas").and_then(|s| s.get(name)) {
                    Some(n) => cur = n,
                    None => break,
                }
            } else if let Some(first) = cur.get("allOf").and_then(Value::as_array).and_then(|a| a.first()) {
                if cur.get("properties").is_some() {
                    break;
                }
                cur = first;
            } else {
                break;
            }
        }
        SchemaCursor { doc: self.doc, node: cur }
    }

    fn raw(self) -> &'static Value {
        self.node
    }

    pub fn property(self, key: &str) -> Option<SchemaCursor> {
        let r = self.resolved();
        let node = r.node.get("properties")?.get(key)?;
        Some(SchemaCursor { doc: self.doc, node })
    }

    pub fn additional(self) -> Option<SchemaCursor> {
        let r = self.resolved();
        let node = r.node.get("additionalProperties")?;
        if node.is_object() { Some(SchemaCursor { doc: self.doc, node }) } else { None }
    }

    pub fn items(self) -> Option<SchemaCursor> {
        let r = self.resolved();
        let node = r.node.get("items")?;
        Some(SchemaCursor { doc: self.doc, node })
    }

    fn ext(self, key: &str) -> Option<&'static Value> {
        self.raw().get(key).or_else(|| self.resolved().raw().get(key))
    }

    /// An extension (`x-kubernetes-list-type`, ...) or `default` of this node or of the schema it refers to.
    pub fn extension(self, key: &str) -> Option<&'static Value> {
        self.ext(key)
    }

    pub fn patch_strategy_merge(self) -> bool {
        self.ext("x-kubernetes-patch-strategy").and_then(Value::as_str).is_some_and(|s| s.split(',').any(|p| p == "merge"))
    }

    pub fn patch_merge_key(self) -> Option<String> {
        self.ext("x-kubernetes-patch-merge-key").and_then(Value::as_str).map(String::from)
    }

    fn preserves_unknown(self) -> bool {
        self.ext("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true)
    }

    fn has_properties(self) -> bool {
        self.resolved().raw().get("properties").is_some()
    }
}

/// Lists the unknown fields of `value` against `schema`, as dotted paths (`spec.foo`,
/// `spec.containers[0].bar`), in document order.
#[cfg(test)]
pub fn unknown_fields(value: &Value, schema: SchemaCursor) -> Vec<String> {
    prune_unknown(&mut value.clone(), schema)
}

/// Removes the unknown fields of `value` (as the server's decoder drops them) and returns
/// their paths.
pub fn prune_unknown(value: &mut Value, schema: SchemaCursor) -> Vec<String> {
    let mut out = Vec::new();
    prune(value, schema, "", &mut out, 0);
    out
}

fn prune(value: &mut Value, schema: SchemaCursor, path: &str, out: &mut Vec<String>, depth: usize) {
    if depth > 64 {
        return;
    }
    match value {
        Value::Object(m) => {
            let has_props = schema.has_properties();
            let additional = schema.additional();
            let preserve = schema.preserves_unknown();
            if !has_props && additional.is_none() {
                return;
            }
            let mut drop = Vec::new();
            for (k, v) in m.iter_mut() {
                let child = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                if let Some(p) = schema.property(k) {
                    prune(v, p, &child, out, depth + 1);
                } else if let Some(a) = additional {
                    prune(v, a, &child, out, depth + 1);
                } else if !preserve && !(path.is_empty() && (k == "apiVersion" || k == "kind")) {
                    out.push(child);
                    drop.push(k.clone());
                }
            }
            for k in drop {
                m.shift_remove(&k);
            }
        }
        Value::Array(a) => {
            if let Some(items) = schema.items() {
                for (i, v) in a.iter_mut().enumerate() {
                    prune(v, items, &format!("{path}[{i}]"), out, depth + 1);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_unknown_fields() {
        let s = SchemaCursor::for_kind("", "v1", "ConfigMap").unwrap();
        let v = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "bogusMeta": 1, "labels": {"x": "y"}}, "data": {"k": "v"}, "bogus": 1});
        assert_eq!(unknown_fields(&v, s), vec!["metadata.bogusMeta", "bogus"]);
        let d = SchemaCursor::for_kind("apps", "v1", "Deployment").unwrap();
        let v = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "a", "imagee": "x"}]}}}});
        assert_eq!(unknown_fields(&v, d), vec!["spec.template.spec.containers[0].imagee"]);
        let mut v = json!({"metadata": {"name": "a", "zz": 1}, "bogus": 2, "data": {"k": "v"}});
        assert_eq!(prune_unknown(&mut v, s), vec!["metadata.zz", "bogus"]);
        assert_eq!(v, json!({"metadata": {"name": "a"}, "data": {"k": "v"}}));
    }

    #[test]
    fn merge_keys() {
        let d = SchemaCursor::for_kind("apps", "v1", "Deployment").unwrap();
        let c = d.property("spec").unwrap().property("template").unwrap().property("spec").unwrap().property("containers").unwrap();
        assert!(c.patch_strategy_merge());
        assert_eq!(c.patch_merge_key().as_deref(), Some("name"));
    }
}
