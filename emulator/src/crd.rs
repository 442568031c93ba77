//! CustomResourceDefinitions: a CRD created through the API enters discovery and is served at once; deleted,
//! it leaves discovery and its custom resources are gone (as on kube-apiserver, where the CRD's deletion
//! removes every instance). Each emulator has its own registry: the captured discovery documents hold only
//! the built-in groups of a fresh 1.36 cluster.

use std::collections::HashMap;
use std::sync::RwLock;

use serde_json::{Map, Value, json};

use crate::discovery::Resource;
use crate::status::ApiError;

const VERBS: &[&str] = &["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"];

/// The custom resources served now, by CRD name.
#[derive(Default)]
pub(crate) struct Registry {
    by_crd: RwLock<HashMap<String, Vec<&'static Resource>>>,
}

/// Kubernetes version priority: GA before beta before alpha, higher numbers first, others last by name.
fn version_rank(v: &str) -> (u8, i64, i64, String) {
    let Some(rest) = v.strip_prefix('v') else { return (3, 0, 0, v.to_string()) };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let Ok(major) = digits.parse::<i64>() else { return (3, 0, 0, v.to_string()) };
    let tail = &rest[digits.len()..];
    let (class, minor) = if tail.is_empty() {
        (0, 0)
    } else if let Some(n) = tail.strip_prefix("beta") {
        (1, n.parse().unwrap_or(-1))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (2, n.parse().unwrap_or(-1))
    } else {
        return (3, 0, 0, v.to_string());
    };
    (class, -major, -minor, String::new())
}

pub(crate) fn is_crd(res: &Resource) -> bool {
    res.group == "apiextensions.k8s.io" && res.plural == "customresourcedefinitions"
}

fn str_at<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

/// The resources a CRD object serves (one per served version, preferred first).
fn resources_of(crd: &Value) -> Vec<Resource> {
    let group = str_at(crd, "/spec/group").to_string();
    let names = crd.pointer("/spec/names").cloned().unwrap_or(Value::Null);
    let plural = str_at(&names, "/plural").to_string();
    let kind = str_at(&names, "/kind").to_string();
    let singular = match str_at(&names, "/singular") {
        "" => kind.to_ascii_lowercase(),
        s => s.to_string(),
    };
    let short_names: Vec<String> = names
        .get("shortNames")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
        .unwrap_or_default();
    let namespaced = str_at(crd, "/spec/scope") != "Cluster";
    let mut versions: Vec<&Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter(|v| v.get("served").and_then(Value::as_bool) == Some(true)).collect())
        .unwrap_or_default();
    versions.sort_by_key(|v| version_rank(str_at(v, "/name")));
    versions
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut subresources = Vec::new();
            if v.pointer("/subresources/status").is_some() {
                subresources.push("status".to_string());
            }
            if v.pointer("/subresources/scale").is_some() {
                subresources.push("scale".to_string());
            }
            Resource {
                group: group.clone(),
                version: str_at(v, "/name").to_string(),
                plural: plural.clone(),
                singular: singular.clone(),
                kind: kind.clone(),
                namespaced,
                verbs: VERBS.iter().map(|s| s.to_string()).collect(),
                short_names: short_names.clone(),
                subresources,
                custom: true,
                preferred: i == 0,
            }
        })
        .collect()
}

impl Registry {
    fn all(&self) -> Vec<&'static Resource> {
        let g = self.by_crd.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<&'static Resource> = g.values().flatten().copied().collect();
        out.sort_by(|a, b| (&a.group, &a.plural, !a.preferred).cmp(&(&b.group, &b.plural, !b.preferred)));
        out
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_crd.read().unwrap_or_else(|e| e.into_inner()).is_empty()
    }

    pub(crate) fn find(&self, group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
        self.all().into_iter().find(|r| r.group == group && r.version == version && r.plural == plural)
    }

    pub(crate) fn find_by_kind(&self, api_version: &str, kind: &str) -> Option<&'static Resource> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let all = self.all();
        all.iter()
            .find(|r| r.group == group && r.version == version && r.kind == kind)
            .or_else(|| all.iter().find(|r| r.group == group && r.kind == kind && r.preferred))
            .copied()
    }

    /// kubectl-style names: `widgets`, `widget`, `Widget`, a short name, `widgets.shop.example.com`.
    pub(crate) fn resolve(&self, name: &str) -> Option<&'static Resource> {
        let lname = name.to_ascii_lowercase();
        let (base, group) = match lname.split_once('.') {
            Some((b, g)) => (b.to_string(), Some(g.to_string())),
            None => (lname.clone(), None),
        };
        self.all().into_iter().find(|r| {
            r.preferred
                && group.as_deref().is_none_or(|g| g == r.group)
                && (r.plural == base || r.singular == base || r.kind.to_ascii_lowercase() == base || r.short_names.contains(&base))
        })
    }

    /// Storage keys of the namespaced custom resources (a namespace's deletion empties them too).
    pub(crate) fn namespaced_keys(&self) -> Vec<(String, String)> {
        self.all().iter().filter(|r| r.namespaced).map(|r| r.storage_key()).collect()
    }

    pub(crate) fn group_versions(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = Vec::new();
        for r in self.all() {
            let gv = (r.group.clone(), r.version.clone());
            if !v.contains(&gv) {
                v.push(gv);
            }
        }
        v
    }

    /// Refuses a CRD whose group/plural another CRD already serves (the real server accepts the object but
    /// never establishes it; refusing is the emulator's simplification).
    pub(crate) fn check(&self, crd: &Value) -> Result<(), ApiError> {
        let name = str_at(crd, "/metadata/name");
        let (group, plural) = (str_at(crd, "/spec/group"), str_at(crd, "/spec/names/plural"));
        let expected = format!("{plural}.{group}");
        if name != expected {
            return Err(ApiError::invalid(
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                name,
                vec![crate::status::Cause {
                    reason: "FieldValueInvalid".into(),
                    message: format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
                    field: "metadata.name".into(),
                }],
            ));
        }
        if crate::discovery::resources().iter().any(|r| r.group == group && r.plural == plural) {
            return Err(ApiError::bad_request(format!("{expected} is a built-in resource")));
        }
        Ok(())
    }

    /// A CRD was written: serve its versions from now on, and give it the status the real server's
    /// controllers write once it is established. Returns the storage key of resources it no longer serves.
    pub(crate) fn written(&self, crd: &mut Value) {
        let name = str_at(crd, "/metadata/name").to_string();
        let resources: Vec<&'static Resource> = resources_of(crd).into_iter().map(|r| &*Box::leak(Box::new(r))).collect();
        let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
        let mut accepted = names.as_object().cloned().unwrap_or_default();
        if !accepted.contains_key("singular") {
            accepted.insert("singular".into(), str_at(&names, "/kind").to_ascii_lowercase().into());
        }
        if !accepted.contains_key("listKind") {
            accepted.insert("listKind".into(), format!("{}List", str_at(&names, "/kind")).into());
        }
        let now = crate::util::rfc3339(crate::util::now_unix());
        let stored: Vec<Value> = crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
            .filter_map(|v| v.get("name").cloned())
            .collect();
        let status = json!({
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now, "reason": "NoConflicts", "message": "no conflicts found"},
                {"type": "Established", "status": "True", "lastTransitionTime": now, "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}
            ],
            "acceptedNames": Value::Object(accepted),
            "storedVersions": stored,
        });
        if let Value::Object(m) = crd {
            m.insert("status".into(), status);
        }
        self.by_crd.write().unwrap_or_else(|e| e.into_inner()).insert(name, resources);
    }

    /// A CRD was deleted: its resources leave discovery. Returns their storage key (to drop the objects).
    pub(crate) fn deleted(&self, crd_name: &str) -> Option<(String, String)> {
        let gone = self.by_crd.write().unwrap_or_else(|e| e.into_inner()).remove(crd_name)?;
        gone.first().map(|r| r.storage_key())
    }

    /// Discovery documents with the custom groups merged in; `None` where the captured document stands.
    pub(crate) fn discovery(&self, path: &str, aggregated: bool) -> Option<Value> {
        if self.is_empty() {
            return None;
        }
        let all = self.all();
        let mut groups: Vec<String> = Vec::new();
        for r in &all {
            if !groups.contains(&r.group) {
                groups.push(r.group.clone());
            }
        }
        let versions_of = |g: &str| -> Vec<&'static Resource> {
            let mut vs: Vec<&'static Resource> = Vec::new();
            for r in all.iter().filter(|r| r.group == g) {
                if !vs.iter().any(|x| x.version == r.version) {
                    vs.push(r);
                }
            }
            vs.sort_by_key(|r| version_rank(&r.version));
            vs
        };
        let group_doc = |g: &str| -> Value {
            let vs = versions_of(g);
            let gv = |r: &Resource| json!({"groupVersion": format!("{}/{}", r.group, r.version), "version": r.version});
            json!({"name": g, "versions": vs.iter().map(|r| gv(r)).collect::<Vec<_>>(), "preferredVersion": vs.first().map(|r| gv(r))})
        };
        let parse = |stem: &str| -> Value {
            crate::discovery::discovery_file(stem).and_then(|b| serde_json::from_slice(b).ok()).unwrap_or(Value::Null)
        };
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        match parts.as_slice() {
            ["apis"] if aggregated => {
                let mut doc = parse("aggregated_apis");
                if let Some(Value::Array(items)) = doc.get_mut("items") {
                    for g in &groups {
                        let versions: Vec<Value> = versions_of(g)
                            .iter()
                            .map(|v| {
                                let resources: Vec<Value> = all
                                    .iter()
                                    .filter(|r| r.group == *g && r.version == v.version)
                                    .map(|r| {
                                        let mut m = Map::new();
                                        m.insert("resource".into(), r.plural.clone().into());
                                        m.insert("responseKind".into(), json!({"group": r.group, "version": r.version, "kind": r.kind}));
                                        m.insert("scope".into(), if r.namespaced { "Namespaced" } else { "Cluster" }.into());
                                        m.insert("singularResource".into(), r.singular.clone().into());
                                        m.insert("verbs".into(), json!(r.verbs));
                                        if !r.short_names.is_empty() {
                                            m.insert("shortNames".into(), json!(r.short_names));
                                        }
                                        if !r.subresources.is_empty() {
                                            let subs: Vec<Value> = r
                                                .subresources
                                                .iter()
                                                .map(|s| {
                                                    let kind = if s == "scale" {
                                                        json!({"group": "autoscaling", "version": "v1", "kind": "Scale"})
                                                    } else {
                                                        json!({"group": r.group, "version": r.version, "kind": r.kind})
                                                    };
                                                    json!({"subresource": s, "responseKind": kind, "verbs": ["get", "patch", "update"]})
                                                })
                                                .collect();
                                            m.insert("subresources".into(), Value::Array(subs));
                                        }
                                        Value::Object(m)
                                    })
                                    .collect();
                                json!({"version": v.version, "resources": resources, "freshness": "Current"})
                            })
                            .collect();
                        items.push(json!({"metadata": {"name": g}, "versions": versions}));
                    }
                }
                Some(doc)
            }
            ["apis"] => {
                let mut doc = parse("apis");
                if let Some(Value::Array(list)) = doc.get_mut("groups") {
                    list.extend(groups.iter().map(|g| group_doc(g)));
                }
                Some(doc)
            }
            ["apis", g] if groups.iter().any(|x| x == g) => {
                let mut d = group_doc(g);
                if let Value::Object(m) = &mut d {
                    let mut out = Map::new();
                    out.insert("kind".into(), "APIGroup".into());
                    out.insert("apiVersion".into(), "v1".into());
                    out.extend(std::mem::take(m));
                    return Some(Value::Object(out));
                }
                Some(d)
            }
            ["apis", g, v] if all.iter().any(|r| r.group == *g && r.version == *v) => {
                let mut resources = Vec::new();
                for r in all.iter().filter(|r| r.group == *g && r.version == *v) {
                    let mut m = Map::new();
                    m.insert("name".into(), r.plural.clone().into());
                    m.insert("singularName".into(), r.singular.clone().into());
                    m.insert("namespaced".into(), r.namespaced.into());
                    m.insert("kind".into(), r.kind.clone().into());
                    m.insert("verbs".into(), json!(r.verbs));
                    if !r.short_names.is_empty() {
                        m.insert("shortNames".into(), json!(r.short_names));
                    }
                    resources.push(Value::Object(m));
                    for s in &r.subresources {
                        resources.push(json!({"name": format!("{}/{s}", r.plural), "singularName": "", "namespaced": r.namespaced, "kind": if s == "scale" { "Scale" } else { r.kind.as_str() }, "verbs": ["get", "patch", "update"]}));
                    }
                }
                Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": format!("{g}/{v}"), "resources": resources}))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_like_kubernetes() {
        let mut v = vec!["v1alpha1", "v2beta1", "v1", "v1beta2", "v2", "foo"];
        v.sort_by_key(|s| version_rank(s));
        assert_eq!(v, vec!["v2", "v1", "v2beta1", "v1beta2", "v1alpha1", "foo"]);
    }
}
