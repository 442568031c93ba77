//! When is a stored Helm 3 record "the same" as the conversion of a Helm 2 record?
//!
//! Both sides are compared as decoded JSON values (key order ignored). Read-back verification right after a
//! write is strict. An existing record found before writing (a re-run, or `--cleanup`) is compared as Helm
//! reads it: a zero time written as `""` (Helm 3) and an omitted zero time (Helm 4) are the same. One more
//! case counts as a copy: Helm 3/4 has upgraded the release since, which only turned this revision's status
//! from `deployed` into `superseded` — the caller accepts that only when a newer Helm 3 revision exists.

use serde_json::Value;

const TIME_KEYS: [&str; 5] = ["first_deployed", "last_deployed", "deleted", "started_at", "completed_at"];

/// How a stored record relates to the record the conversion produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sameness {
    Equal,
    /// Only `info.status` differs: `deployed` in the conversion, `superseded` in storage.
    Superseded,
    /// Differs at these paths (at most a few are listed).
    Differs(Vec<String>),
}

/// Remove zero times (`""`) so Helm 3's and Helm 4's spellings compare equal.
fn normalize(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|k, val| !(TIME_KEYS.contains(&k.as_str()) && (val.is_null() || val == "")));
            map.values_mut().for_each(normalize);
        }
        Value::Array(items) => items.iter_mut().for_each(normalize),
        _ => {}
    }
}

/// Paths where `a` and `b` differ (`.info.status`, `.hooks[0].weight`), at most `limit`.
pub fn diff_paths(a: &Value, b: &Value, limit: usize) -> Vec<String> {
    fn walk(a: &Value, b: &Value, path: &str, out: &mut Vec<String>, limit: usize) {
        if out.len() >= limit {
            return;
        }
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                for (k, v) in x {
                    match y.get(k) {
                        Some(w) => walk(v, w, &format!("{path}.{k}"), out, limit),
                        None if out.len() < limit => out.push(format!("{path}.{k}")),
                        None => return,
                    }
                }
                for k in y.keys() {
                    if !x.contains_key(k) && out.len() < limit {
                        out.push(format!("{path}.{k}"));
                    }
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (v, w)) in x.iter().zip(y).enumerate() {
                    walk(v, w, &format!("{path}[{i}]"), out, limit);
                }
            }
            _ if a == b => {}
            _ => out.push(if path.is_empty() { ".".to_string() } else { path.to_string() }),
        }
    }
    let mut out = Vec::new();
    walk(a, b, "", &mut out, limit);
    out
}

/// Compare what the conversion means with what is stored, as Helm reads both.
pub fn compare(meant: &Value, stored: &Value) -> Sameness {
    if meant == stored {
        return Sameness::Equal;
    }
    let (mut m, mut s) = (meant.clone(), stored.clone());
    normalize(&mut m);
    normalize(&mut s);
    if m == s {
        return Sameness::Equal;
    }
    let paths = diff_paths(&m, &s, 5);
    if paths == [".info.status"]
        && m.pointer("/info/status").and_then(Value::as_str) == Some("deployed")
        && s.pointer("/info/status").and_then(Value::as_str) == Some("superseded")
    {
        return Sameness::Superseded;
    }
    Sameness::Differs(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn zero_times_and_key_order_do_not_matter() {
        let a = json!({"name": "x", "info": {"first_deployed": "2020-01-01T00:00:00Z", "deleted": "", "status": "deployed"}});
        let b = json!({"info": {"status": "deployed", "first_deployed": "2020-01-01T00:00:00Z"}, "name": "x"});
        assert_eq!(compare(&a, &b), Sameness::Equal);
        let c = json!({"name": "x", "info": {"first_deployed": "2020-01-01T00:00:00Z", "deleted": "", "status": "superseded"}});
        assert_eq!(compare(&a, &c), Sameness::Superseded);
        assert_eq!(compare(&c, &a), Sameness::Differs(vec![".info.status".into()]));
        let d = json!({"name": "y", "info": {"status": "deployed"}, "extra": 1});
        assert_eq!(compare(&a, &d), Sameness::Differs(vec![".name".into(), ".info.first_deployed".into(), ".extra".into()]));
    }
}
