//! Drift of a live object from its manifest, on the fields the manifest sets. Pure: no I/O.
//!
//! The walk follows the manifest: only keys the manifest writes are looked at, so every field the server
//! or a controller defaulted or added (`status`, `metadata` other than labels and annotations, extra
//! containers, defaulted `protocol: TCP`, ...) is ignored. `apiVersion`, `kind`, `metadata.name` and
//! `metadata.namespace` are the object's identity and not compared. The expected value at each path is the
//! manifest's own ([`Mode::Normalised`], `--drift=client`) or the server's answer to a dry-run apply of the
//! manifest ([`Mode::Exact`], `--drift=server`).
//!
//! Normalisation ([`Mode::Normalised`] only):
//! - Kubernetes quantities under `limits`, `requests`, `hard`, `capacity`, `allocatable`, `overhead`, and
//!   the keys `storage` and `sizeLimit`, compare by value: `1000m` == `1` == `1.0`, `1Gi` == `1024Mi`,
//!   `0.5` == `500m`, `1e3` == `1k` (exact to the nano, like the API server's own canonical form).
//! - int-or-string fields (`port`, `targetPort`, `maxSurge`, `maxUnavailable`, `minAvailable`): `80` ==
//!   `"80"`.
//! - Numbers compare by value (`1` == `1.0`).
//! - A value the server omits when it is empty (`""`, `0`, `false`, `null`, `{}`, `[]`) equals an absent live
//!   field (in both modes: Kubernetes drops these from its answers).
//! - Lists Kubernetes merges by key are matched by that key, not position: `containers`, `initContainers`,
//!   `ephemeralContainers`, `env`, `volumes`, `imagePullSecrets` by `name`, `volumeMounts` by `mountPath`,
//!   `hostAliases` by `ip`, `ports` by `containerPort` (container ports) or `port` (Service ports). Live
//!   items the manifest does not list are ignored. Every other list is compared item by item and must have
//!   the manifest's length.
//! - A Secret's `stringData` keys are compared with the live `data` keys, base64-encoded.

use base64::Engine;
use serde_json::{Map, Value};

/// How values are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Client-side, with the normalisation rules above.
    Normalised,
    /// Against a server's dry-run result: equal JSON (numbers by value; empty equals absent).
    Exact,
}

/// One field the manifest sets whose live value differs. A `None` value is an absent field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDiff {
    /// `.spec.template.spec.containers[name="web"].image`, as the API server prints paths.
    pub path: String,
    pub expected: Option<Value>,
    pub live: Option<Value>,
}

/// The fields of `manifest` whose value in `live` differs from `expected` (the manifest itself, or the
/// server's dry-run result of applying it, in which case use [`Mode::Exact`]).
pub fn diff_object(manifest: &Value, expected: &Value, live: &Value, mode: Mode) -> Vec<FieldDiff> {
    let manifest = secret_string_data_as_data(manifest);
    let expected_owned;
    let expected = if mode == Mode::Normalised {
        expected_owned = secret_string_data_as_data(expected);
        &expected_owned
    } else {
        expected
    };
    let mut out = Vec::new();
    let Value::Object(top) = &manifest else { return out };
    for (key, m) in top {
        match key.as_str() {
            "apiVersion" | "kind" | "status" => {}
            "metadata" => {
                for sub in ["labels", "annotations"] {
                    if let Some(mv) = m.get(sub) {
                        let path = format!(".metadata.{sub}");
                        let e = expected.get("metadata").and_then(|x| x.get(sub));
                        let l = live.get("metadata").and_then(|x| x.get(sub));
                        walk(mv, e, l, &path, sub, mode, &mut out);
                    }
                }
            }
            _ => walk(m, expected.get(key), live.get(key), &format!(".{key}"), key, mode, &mut out),
        }
    }
    out
}

/// A Secret's `stringData` moved into `data`, base64-encoded, as the server stores it.
fn secret_string_data_as_data(obj: &Value) -> Value {
    let mut obj = obj.clone();
    let is_secret =
        obj.get("kind").and_then(Value::as_str) == Some("Secret") && obj.get("apiVersion").and_then(Value::as_str) == Some("v1");
    if !is_secret {
        return obj;
    }
    let Some(Value::Object(map)) = obj.as_object_mut().and_then(|o| o.remove("stringData")) else { return obj };
    let data = obj.as_object_mut().map(|o| o.entry("data").or_insert_with(|| Value::Object(Map::new())));
    if let Some(Value::Object(data)) = data {
        for (k, v) in map {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            data.insert(k, Value::String(base64::engine::general_purpose::STANDARD.encode(text)));
        }
    }
    obj
}

const QUANTITY_PARENTS: &[&str] = &["limits", "requests", "hard", "capacity", "allocatable", "overhead"];
const QUANTITY_KEYS: &[&str] = &["storage", "sizeLimit"];
const INT_OR_STRING_KEYS: &[&str] = &["port", "targetPort", "maxSurge", "maxUnavailable", "minAvailable"];

/// The key Kubernetes merges the list under `field` by, for these items.
fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    let key = match field {
        "containers" | "initContainers" | "ephemeralContainers" | "env" | "volumes" | "imagePullSecrets" => "name",
        "volumeMounts" => "mountPath",
        "hostAliases" => "ip",
        "ports" if items.iter().all(|i| i.get("containerPort").is_some()) => "containerPort",
        "ports" => "port",
        _ => return None,
    };
    items.iter().all(|i| i.get(key).is_some()).then_some(key)
}

fn key_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn find_by_key<'a>(list: Option<&'a Value>, key: &str, value: &Value) -> Option<&'a Value> {
    list?.as_array()?.iter().find(|i| i.get(key).is_some_and(|v| key_text(v) == key_text(value)))
}

fn walk(m: &Value, e: Option<&Value>, l: Option<&Value>, path: &str, field: &str, mode: Mode, out: &mut Vec<FieldDiff>) {
    match m {
        Value::Object(mm) if !mm.is_empty() => {
            if l.is_some_and(|l| !l.is_object()) {
                out.push(FieldDiff { path: path.to_string(), expected: e.cloned(), live: l.cloned() });
                return;
            }
            for (k, mv) in mm {
                let sub = format!("{path}.{k}");
                // Quantities are named by their parent (`limits.cpu`) or their own key.
                let ctx = if QUANTITY_PARENTS.contains(&field) { "quantity" } else { k.as_str() };
                walk(mv, e.and_then(|x| x.get(k)), l.and_then(|x| x.get(k)), &sub, ctx, mode, out);
            }
        }
        Value::Array(ma) if !ma.is_empty() => {
            if let Some(key) = merge_key(field, ma) {
                for item in ma {
                    let kv = &item[key];
                    let sub = format!("{path}[{key}={}]", serde_json::to_string(kv).unwrap_or_default());
                    let li = find_by_key(l, key, kv);
                    let ei = find_by_key(e, key, kv);
                    match li {
                        None => out.push(FieldDiff { path: sub, expected: ei.cloned(), live: None }),
                        Some(li) => walk(item, ei, Some(li), &sub, "", mode, out),
                    }
                }
                return;
            }
            let (ea, la) = (e.and_then(Value::as_array), l.and_then(Value::as_array));
            match (ea, la) {
                (Some(ea), Some(la)) if la.len() == ma.len() && ea.len() == ma.len() => {
                    for (i, mi) in ma.iter().enumerate() {
                        walk(mi, ea.get(i), la.get(i), &format!("{path}[{i}]"), field, mode, out);
                    }
                }
                _ => out.push(FieldDiff { path: path.to_string(), expected: e.cloned(), live: l.cloned() }),
            }
        }
        _ => {
            if !leaf_equal(e, l, field, mode) {
                out.push(FieldDiff { path: path.to_string(), expected: e.cloned(), live: l.cloned() });
            }
        }
    }
}

/// What Kubernetes leaves out of its answers when it is the value.
fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

fn leaf_equal(e: Option<&Value>, l: Option<&Value>, field: &str, mode: Mode) -> bool {
    let (e, l) = match (e, l) {
        (None, None) => return true,
        (Some(v), None) | (None, Some(v)) => return is_empty_value(v),
        (Some(e), Some(l)) => (e, l),
    };
    if e == l {
        return true;
    }
    if let (Some(a), Some(b)) = (e.as_f64(), l.as_f64()) {
        return a == b;
    }
    if mode == Mode::Exact {
        return is_empty_value(e) && is_empty_value(l) && std::mem::discriminant(e) == std::mem::discriminant(l);
    }
    if (field == "quantity" || QUANTITY_KEYS.contains(&field))
        && let (Some(a), Some(b)) = (quantity_nanos(e), quantity_nanos(l))
    {
        return a == b;
    }
    if INT_OR_STRING_KEYS.contains(&field) {
        return key_text(e) == key_text(l);
    }
    false
}

/// A Kubernetes quantity (`1000m`, `1Gi`, `0.5`, `1e3`, or a JSON number) in nano-units, rounded up to the
/// nano like the API server; `None` when it is not a quantity or too large.
pub fn quantity_nanos(v: &Value) -> Option<i128> {
    let text = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let (sign, rest) = match text.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, text.strip_prefix('+').unwrap_or(&text)),
    };
    let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(num_end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return None;
    }
    let (mut exp10, exp2): (i32, u32) = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        s if s.starts_with(['e', 'E']) => (s[1..].parse().ok()?, 0),
        _ => return None,
    };
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    let mut mantissa: i128 = 0;
    for c in int_part.chars().chain(frac_part.chars()) {
        mantissa = mantissa.checked_mul(10)?.checked_add(i128::from(c.to_digit(10)?))?;
    }
    exp10 += 9 - i32::try_from(frac_part.len()).ok()?;
    mantissa = mantissa.checked_mul(1i128.checked_shl(exp2)?)?;
    let value = if exp10 >= 0 {
        mantissa.checked_mul(10i128.checked_pow(u32::try_from(exp10).ok()?)?)?
    } else {
        let div = 10i128.checked_pow(u32::try_from(-exp10).ok()?)?;
        (mantissa + div - 1) / div
    };
    Some(sign * value)
}

/// A value as a report shows it: compact JSON, long ones cut.
pub fn show_value(v: Option<&Value>) -> String {
    let Some(v) = v else { return "<absent>".into() };
    let text = match v {
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        other => other.to_string(),
    };
    if text.chars().count() > 80 { format!("{}...", text.chars().take(77).collect::<String>()) } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn client(m: Value, l: Value) -> Vec<String> {
        diff_object(&m, &m, &l, Mode::Normalised).into_iter().map(|d| d.path).collect()
    }

    #[test]
    fn quantities() {
        let q = |s: &str| quantity_nanos(&json!(s));
        assert_eq!(q("1000m"), q("1"));
        assert_eq!(q("1"), quantity_nanos(&json!(1)));
        assert_eq!(q("1.0"), q("1"));
        assert_eq!(q("1Gi"), q("1024Mi"));
        assert_eq!(q("0.5"), q("500m"));
        assert_eq!(q("1e3"), q("1k"));
        assert_eq!(q("100m"), q("0.1"));
        assert_ne!(q("1Gi"), q("1G"));
        assert_ne!(q("100m"), q("1"));
        assert_eq!(q("-1"), Some(-1_000_000_000));
        assert_eq!(q("1n"), Some(1));
        assert_eq!(q("1Ei"), Some((1i128 << 60) * 1_000_000_000));
        for bad in ["", "abc", "1X", "1.2.3", ".", "Mi"] {
            assert_eq!(q(bad), None, "{bad}");
        }
        assert_eq!(quantity_nanos(&json!(true)), None);
    }

    #[test]
    fn only_fields_the_manifest_sets_count() {
        let m = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1",
            "resources": {"limits": {"cpu": "1000m", "memory": "1Gi"}}, "ports": [{"containerPort": 80}],
            "env": [{"name": "A", "value": "1"}, {"name": "EMPTY", "value": ""}]}]}}}});
        let l = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "x", "uid": "u", "labels": {"app": "web", "extra": "y"}, "annotations": {"a": "b"}},
            "spec": {"replicas": 2, "progressDeadlineSeconds": 600, "template": {"spec": {"containers": [
              {"name": "sidecar", "image": "envoy"},
              {"name": "web", "image": "nginx:1", "imagePullPolicy": "IfNotPresent",
               "resources": {"limits": {"cpu": "1", "memory": "1024Mi"}}, "ports": [{"containerPort": 80, "protocol": "TCP"}],
               "env": [{"name": "EMPTY"}, {"name": "A", "value": "1"}]}]}}},
            "status": {"replicas": 2}});
        assert!(client(m.clone(), l.clone()).is_empty(), "{:?}", client(m.clone(), l.clone()));
        let mut drifted = l.clone();
        drifted["spec"]["replicas"] = json!(5);
        drifted["spec"]["template"]["spec"]["containers"][1]["env"][1]["value"] = json!("2");
        drifted["spec"]["template"]["spec"]["containers"][1]["resources"]["limits"]["cpu"] = json!("2");
        drifted["metadata"]["labels"]["app"] = json!("other");
        let diffs = diff_object(&m, &m, &drifted, Mode::Normalised);
        let paths: Vec<&str> = diffs.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                ".metadata.labels.app",
                ".spec.replicas",
                ".spec.template.spec.containers[name=\"web\"].resources.limits.cpu",
                ".spec.template.spec.containers[name=\"web\"].env[name=\"A\"].value",
            ]
        );
        assert_eq!(diffs[1].expected, Some(json!(2)));
        assert_eq!(diffs[1].live, Some(json!(5)));
        // A container the manifest lists and the live object lacks.
        let mut gone = l.clone();
        gone["spec"]["template"]["spec"]["containers"].as_array_mut().unwrap().remove(1);
        assert_eq!(client(m, gone), [".spec.template.spec.containers[name=\"web\"]"]);
    }

    #[test]
    fn int_or_string_and_service_ports() {
        let m = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"ports": [{"port": 80, "targetPort": "8080"}, {"port": 443, "targetPort": "https"}]}});
        let l = json!({"spec": {"ports": [{"port": 443, "targetPort": "https", "protocol": "TCP"}, {"port": 80, "targetPort": 8080, "protocol": "TCP"}]}});
        assert!(client(m.clone(), l).is_empty());
        let l2 = json!({"spec": {"ports": [{"port": 443, "targetPort": "web"}, {"port": 80, "targetPort": 8081}]}});
        assert_eq!(client(m, l2), [".spec.ports[port=80].targetPort", ".spec.ports[port=443].targetPort"]);
        // Not an int-or-string field: "2" is not 2.
        let m = json!({"spec": {"replicas": "2"}});
        assert_eq!(client(m, json!({"spec": {"replicas": 2}})), [".spec.replicas"]);
    }

    #[test]
    fn atomic_lists_maps_and_absent_values() {
        let m =
            json!({"spec": {"args": ["a", "b"], "selector": {}, "tolerations": [{"key": "k", "operator": "Exists"}]}, "data": {"k": "v"}});
        let l =
            json!({"spec": {"args": ["a", "b"], "tolerations": [{"key": "k", "operator": "Exists", "effect": ""}]}, "data": {"k": "v"}});
        assert!(client(m.clone(), l).is_empty());
        let l = json!({"spec": {"args": ["a"], "tolerations": [{"key": "x", "operator": "Exists"}]}, "data": {}});
        assert_eq!(client(m, l), [".spec.args", ".spec.tolerations[0].key", ".data.k"]);
        // A map where a scalar is.
        assert_eq!(client(json!({"spec": {"a": {"b": 1}}}), json!({"spec": {"a": "x"}})), [".spec.a"]);
    }

    #[test]
    fn secrets_string_data() {
        let m = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"password": "hunter2"}, "data": {"a": "eA=="}});
        let l = json!({"apiVersion": "v1", "kind": "Secret", "data": {"a": "eA==", "password": "aHVudGVyMg=="}});
        assert!(client(m.clone(), l).is_empty());
        let l = json!({"apiVersion": "v1", "kind": "Secret", "data": {"a": "eA==", "password": "b3RoZXI="}});
        assert_eq!(client(m, l), [".data.password"]);
    }

    #[test]
    fn exact_mode_has_no_normalisation() {
        let m = json!({"spec": {"limits": {"cpu": "1000m"}}});
        let dry = json!({"spec": {"limits": {"cpu": "1"}}});
        assert!(diff_object(&m, &dry, &json!({"spec": {"limits": {"cpu": "1"}}}), Mode::Exact).is_empty());
        assert_eq!(diff_object(&m, &m, &json!({"spec": {"limits": {"cpu": "1"}}}), Mode::Exact).len(), 1);
        assert!(diff_object(&m, &m, &json!({"spec": {"limits": {"cpu": "1"}}}), Mode::Normalised).is_empty());
    }

    #[test]
    fn shows_values_short() {
        assert_eq!(show_value(None), "<absent>");
        assert_eq!(show_value(Some(&json!("a"))), "\"a\"");
        assert_eq!(show_value(Some(&json!(3))), "3");
        assert!(show_value(Some(&json!("x".repeat(200)))).ends_with("..."));
    }
}
