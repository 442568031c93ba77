//! Patch application: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and a
//! schema-aware strategic merge patch.
//!
//! Strategic merge patch limits: lists are merged by the `x-kubernetes-patch-merge-key` /
//! `x-kubernetes-patch-strategy: merge` extensions found in the served OpenAPI v3 schema;
//! the directives `$patch: replace|delete|merge` (maps and list items),
//! `$deleteFromPrimitiveList/<field>`, `$setElementOrder/<field>` (ignored: order kept) and
//! `$retainKeys` (ignored) are understood. Anything else behaves like a merge patch.

use serde_json::{Map, Value};

use crate::schema::SchemaCursor;

/// Applies an RFC 7386 JSON merge patch to `target` in place.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(pm) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(tm) = target {
                for (k, pv) in pm {
                    if pv.is_null() {
                        tm.remove(k);
                    } else {
                        let entry = tm.entry(k.clone()).or_insert(Value::Null);
                        merge_patch(entry, pv);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// Why a JSON patch could not be applied (the server answers all of these with 422).
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPatchError(pub String);

fn parse_pointer(p: &str) -> Result<Vec<String>, JsonPatchError> {
    if p.is_empty() {
        return Ok(vec![]);
    }
    if !p.starts_with('/') {
        return Err(JsonPatchError(format!("invalid path {p:?}")));
    }
    Ok(p[1..].split('/').map(|s| s.replace("~1", "/").replace("~0", "~")).collect())
}

fn get_mut<'a>(v: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    let mut cur = v;
    for seg in path {
        cur = match cur {
            Value::Object(m) => m.get_mut(seg)?,
            Value::Array(a) => {
                let i: usize = seg.parse().ok()?;
                a.get_mut(i)?
            }
            _ => return None,
        };
    }
    Some(cur)
}

fn get<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = v;
    for seg in path {
        cur = match cur {
            Value::Object(m) => m.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn add(doc: &mut Value, path: &[String], value: Value) -> Result<(), JsonPatchError> {
    let Some((last, parent)) = path.split_last() else {
        *doc = value;
        return Ok(());
    };
    let parent = get_mut(doc, parent).ok_or_else(|| JsonPatchError("add operation does not apply: doc is missing path".into()))?;
    match parent {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
                return Ok(());
            }
            let i: usize = last.parse().map_err(|_| JsonPatchError(format!("invalid array index {last:?}")))?;
            if i > a.len() {
                return Err(JsonPatchError(format!("array index {i} out of bounds")));
            }
            a.insert(i, value);
            Ok(())
        }
        _ => Err(JsonPatchError("add operation does not apply: parent is not a container".into())),
    }
}

fn remove(doc: &mut Value, path: &[String]) -> Result<Value, JsonPatchError> {
    let Some((last, parent)) = path.split_last() else {
        return Err(JsonPatchError("cannot remove the document root".into()));
    };
    let missing = || JsonPatchError("remove operation does not apply: doc is missing path".into());
    match get_mut(doc, parent).ok_or_else(missing)? {
        Value::Object(m) => m.remove(last).ok_or_else(missing),
        Value::Array(a) => {
            let i: usize = last.parse().map_err(|_| missing())?;
            if i >= a.len() {
                return Err(missing());
            }
            Ok(a.remove(i))
        }
        _ => Err(missing()),
    }
}

/// Applies an RFC 6902 JSON patch (`ops` must be an array) to `doc`.
pub fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), JsonPatchError> {
    let ops = ops.as_array().ok_or_else(|| JsonPatchError("a JSON patch must be an array".into()))?;
    for op in ops {
        let name = op.get("op").and_then(Value::as_str).ok_or_else(|| JsonPatchError("missing op".into()))?;
        let path = parse_pointer(op.get("path").and_then(Value::as_str).ok_or_else(|| JsonPatchError("missing path".into()))?)?;
        let value = || op.get("value").cloned().ok_or_else(|| JsonPatchError(format!("missing value for {name}")));
        let from = || -> Result<Vec<String>, JsonPatchError> {
            parse_pointer(op.get("from").and_then(Value::as_str).ok_or_else(|| JsonPatchError("missing from".into()))?)
        };
        match name {
            "add" => add(doc, &path, value()?)?,
            "remove" => {
                remove(doc, &path)?;
            }
            "replace" => {
                let v = value()?;
                let slot =
                    get_mut(doc, &path).ok_or_else(|| JsonPatchError("replace operation does not apply: doc is missing key".into()))?;
                *slot = v;
            }
            "move" => {
                let f = from()?;
                if path.len() > f.len() && path[..f.len()] == f[..] {
                    return Err(JsonPatchError("cannot move a value into one of its children".into()));
                }
                let v = remove(doc, &f)?;
                add(doc, &path, v)?;
            }
            "copy" => {
                let f = from()?;
                let v = get(doc, &f).cloned().ok_or_else(|| JsonPatchError("copy from a missing path".into()))?;
                add(doc, &path, v)?;
            }
            "test" => {
                let want = op.get("value").cloned().unwrap_or(Value::Null);
                let got = get(doc, &path).cloned().unwrap_or(Value::Null);
                if want != got {
                    return Err(JsonPatchError("testing value failed".into()));
                }
            }
            other => return Err(JsonPatchError(format!("unexpected kind of operation: {other}"))),
        }
    }
    Ok(())
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.iter().filter(|(k, _)| !k.starts_with('$')).map(|(k, v)| (k.clone(), strip_directives(v))).collect())
        }
        Value::Array(a) => {
            Value::Array(a.iter().filter(|x| x.get("$patch").and_then(Value::as_str) != Some("delete")).map(strip_directives).collect())
        }
        other => other.clone(),
    }
}

/// Applies a strategic merge patch. `schema` is the cursor for `target`'s type (if known).
pub fn strategic_merge(target: &mut Value, patch: &Value, schema: Option<SchemaCursor>) {
    let Value::Object(pm) = patch else {
        *target = patch.clone();
        return;
    };
    match pm.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            *target = strip_directives(patch);
            return;
        }
        Some("delete") => {
            *target = Value::Object(Map::new());
            return;
        }
        _ => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(tm) = target else { return };
    for (k, pv) in pm {
        if k.starts_with("$setElementOrder/") || k == "$retainKeys" || k == "$patch" {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(cur)), Some(del)) = (tm.get_mut(field), pv.as_array()) {
                cur.retain(|x| !del.contains(x));
            }
            continue;
        }
        if pv.is_null() {
            tm.remove(k);
            continue;
        }
        let field_schema = schema.and_then(|s| s.property(k));
        match pv {
            Value::Object(_) => {
                if pv.get("$patch").and_then(Value::as_str) == Some("delete") {
                    tm.remove(k);
                    continue;
                }
                let entry = tm.entry(k.clone()).or_insert(Value::Null);
                strategic_merge(entry, pv, field_schema);
            }
            Value::Array(items) => {
                let (strategy_merge, merge_key) =
                    field_schema.map(|s| (s.patch_strategy_merge(), s.patch_merge_key())).unwrap_or((false, None));
                let item_schema = field_schema.and_then(|s| s.items());
                let cur = tm.get_mut(k);
                match (strategy_merge, merge_key, cur) {
                    (true, Some(key), Some(Value::Array(cur))) => {
                        for item in items {
                            let kv = item.get(&key).cloned();
                            let pos = kv.as_ref().and_then(|kv| cur.iter().position(|c| c.get(&key) == Some(kv)));
                            let is_delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
                            match (pos, is_delete) {
                                (Some(i), true) => {
                                    cur.remove(i);
                                }
                                (None, true) => {}
                                (Some(i), false) => strategic_merge(&mut cur[i], item, item_schema),
                                (None, false) => cur.push(strip_directives(item)),
                            }
                        }
                    }
                    (true, None, Some(Value::Array(cur))) => {
                        for item in items {
                            if !cur.contains(item) {
                                cur.push(item.clone());
                            }
                        }
                    }
                    _ => {
                        tm.insert(k.clone(), strip_directives(pv));
                    }
                }
            }
            _ => {
                tm.insert(k.clone(), pv.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_rfc7386_examples() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut t, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
        let mut t = json!({"a": [1, 2]});
        merge_patch(&mut t, &json!({"a": [3]}));
        assert_eq!(t, json!({"a": [3]}));
        let mut t = json!({"a": "foo"});
        merge_patch(&mut t, &json!({"a": {"b": "c"}}));
        assert_eq!(t, json!({"a": {"b": "c"}}));
        let mut t = json!({});
        merge_patch(&mut t, &json!({"a": {"bb": {"ccc": null}}}));
        assert_eq!(t, json!({"a": {"bb": {}}}));
    }

    #[test]
    fn json_patch_ops_and_escapes() {
        let mut d = json!({"metadata": {"annotations": {}}, "list": [1, 2, 3], "x": {"y": 1}});
        json_patch(
            &mut d,
            &json!([
                {"op": "add", "path": "/metadata/annotations/meta.helm.sh~1release-namespace", "value": "ns"},
                {"op": "add", "path": "/metadata/annotations/til~0de", "value": "t"},
                {"op": "add", "path": "/list/-", "value": 4},
                {"op": "add", "path": "/list/0", "value": 0},
                {"op": "remove", "path": "/list/1"},
                {"op": "replace", "path": "/x/y", "value": 2},
                {"op": "copy", "from": "/x", "path": "/z"},
                {"op": "move", "from": "/z/y", "path": "/w"},
                {"op": "test", "path": "/w", "value": 2}
            ]),
        )
        .unwrap();
        assert_eq!(
            d,
            json!({"metadata": {"annotations": {"meta.helm.sh/release-namespace": "ns", "til~de": "t"}},
                   "list": [0, 2, 3, 4], "x": {"y": 2}, "z": {}, "w": 2})
        );
    }

    #[test]
    fn json_patch_failures() {
        let base = json!({"metadata": {"resourceVersion": "5"}});
        for ops in [
            json!([{"op": "test", "path": "/metadata/resourceVersion", "value": "1"}]),
            json!([{"op": "remove", "path": "/nope"}]),
            json!([{"op": "replace", "path": "/nope", "value": 1}]),
            json!([{"op": "add", "path": "/a/b", "value": 1}]),
            json!([{"op": "bogus", "path": "/a"}]),
            json!([{"op": "move", "from": "/metadata", "path": "/metadata/x"}]),
            json!({"op": "add"}),
            json!([{"path": "/a"}]),
        ] {
            let mut d = base.clone();
            assert!(json_patch(&mut d, &ops).is_err(), "{ops}");
        }
    }

    #[test]
    fn strategic_without_schema_is_merge_like() {
        let mut t = json!({"metadata": {"labels": {"a": "1"}}, "list": [1]});
        strategic_merge(&mut t, &json!({"metadata": {"labels": {"b": "2", "a": null}}, "list": [2], "$retainKeys": ["x"]}), None);
        assert_eq!(t, json!({"metadata": {"labels": {"b": "2"}}, "list": [2]}));
        let mut t = json!({"spec": {"a": 1, "b": 2}});
        strategic_merge(&mut t, &json!({"spec": {"$patch": "replace", "c": 3}}), None);
        assert_eq!(t, json!({"spec": {"c": 3}}));
    }
}
