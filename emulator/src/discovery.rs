//! The resource table, built from the captured aggregated discovery documents.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::embedded::{DISCOVERY_FILES, OPENAPI_FILES};

/// One API resource the emulator serves (one group/version/plural).
#[derive(Debug, Clone)]
pub struct Resource {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    pub verbs: Vec<String>,
    pub short_names: Vec<String>,
    pub subresources: Vec<String>,
    /// Served through a CustomResourceDefinition (found in a non-built-in group).
    pub custom: bool,
    /// This version is the group's preferred one.
    pub preferred: bool,
}

impl Resource {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }
    pub fn has_verb(&self, v: &str) -> bool {
        self.verbs.iter().any(|x| x == v)
    }
    pub fn gr(&self) -> crate::status::Gr<'_> {
        crate::status::Gr { group: &self.group, resource: &self.plural }
    }
    /// The storage key: objects are shared between versions of one group.
    pub fn storage_key(&self) -> (String, String) {
        (self.group.clone(), self.plural.clone())
    }
}

pub fn discovery_file(stem: &str) -> Option<&'static [u8]> {
    DISCOVERY_FILES.iter().find(|(n, _)| *n == stem).map(|(_, b)| *b)
}

pub fn openapi_file(stem: &str) -> Option<&'static [u8]> {
    OPENAPI_FILES.iter().find(|(n, _)| *n == stem).map(|(_, b)| *b)
}

/// Turns an API path (`apis/apps/v1`) into a fixture stem (`apis_apps_v1`).
pub fn stem_of(path: &str) -> String {
    path.trim_matches('/').replace(['/', '.'], "_")
}

fn parse(stem: &str) -> Value {
    discovery_file(stem).and_then(|b| serde_json::from_slice(b).ok()).unwrap_or(Value::Null)
}

const BUILTIN_GROUP_SUFFIXES: &[&str] = &[".k8s.io"];
const BUILTIN_GROUPS: &[&str] = &["", "apps", "batch", "autoscaling", "policy"];

fn is_builtin_group(g: &str) -> bool {
    BUILTIN_GROUPS.contains(&g) || BUILTIN_GROUP_SUFFIXES.iter().any(|s| g.ends_with(s))
}

/// The full resource table (built once).
pub fn resources() -> &'static [Resource] {
    static TABLE: OnceLock<Vec<Resource>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut out = Vec::new();
        for stem in ["aggregated_api", "aggregated_apis"] {
            let doc = parse(stem);
            for item in doc.get("items").and_then(Value::as_array).into_iter().flatten() {
                let group = item.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
                for (vi, ver) in item.get("versions").and_then(Value::as_array).into_iter().flatten().enumerate() {
                    let version = ver.get("version").and_then(Value::as_str).unwrap_or("").to_string();
                    for r in ver.get("resources").and_then(Value::as_array).into_iter().flatten() {
                        let strs = |k: &str| -> Vec<String> {
                            r.get(k)
                                .and_then(Value::as_array)
                                .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
                                .unwrap_or_default()
                        };
                        out.push(Resource {
                            group: group.clone(),
                            version: version.clone(),
                            plural: r.get("resource").and_then(Value::as_str).unwrap_or("").to_string(),
                            singular: r.get("singularResource").and_then(Value::as_str).unwrap_or("").to_string(),
                            kind: r.pointer("/responseKind/kind").and_then(Value::as_str).unwrap_or("").to_string(),
                            namespaced: r.get("scope").and_then(Value::as_str) == Some("Namespaced"),
                            verbs: strs("verbs"),
                            short_names: strs("shortNames"),
                            subresources: r
                                .get("subresources")
                                .and_then(Value::as_array)
                                .map(|a| a.iter().filter_map(|s| s.get("subresource")?.as_str().map(String::from)).collect())
                                .unwrap_or_default(),
                            custom: !is_builtin_group(&group),
                            preferred: vi == 0,
                        });
                    }
                }
            }
        }
        out
    })
}

fn index() -> &'static HashMap<(String, String, String), usize> {
    static IDX: OnceLock<HashMap<(String, String, String), usize>> = OnceLock::new();
    IDX.get_or_init(|| resources().iter().enumerate().map(|(i, r)| ((r.group.clone(), r.version.clone(), r.plural.clone()), i)).collect())
}

/// Finds the resource served at `/apis/{group}/{version}/{plural}`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    index().get(&(group.to_string(), version.to_string(), plural.to_string())).map(|&i| &resources()[i])
}

/// Finds a resource by `apiVersion` and `kind` (falls back to another version of the group).
pub fn find_by_kind(api_version: &str, kind: &str) -> Option<&'static Resource> {
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    let all = resources();
    all.iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind && !r.plural.contains('/'))
        .or_else(|| all.iter().find(|r| r.group == group && r.kind == kind && r.preferred))
}

/// Resolves a kubectl-style name: `secrets`, `secret`, `cm`, `deployments.apps`,
/// `Deployment` (preferred versions only; custom resources: `crd.rs`).
pub fn resolve(name: &str) -> Option<&'static Resource> {
    let lname = name.to_ascii_lowercase();
    let (base, group) = match lname.split_once('.') {
        Some((b, g)) => (b.to_string(), Some(g.to_string())),
        None => (lname.clone(), None),
    };
    let all = resources();
    let matches = |r: &Resource| {
        r.preferred
            && group.as_deref().is_none_or(|g| g == r.group)
            && (r.plural == base || r.singular == base || r.kind.to_ascii_lowercase() == base || r.short_names.contains(&base))
    };
    // core group first, like kubectl's priority for ambiguous names
    all.iter().find(|r| r.group.is_empty() && matches(r)).or_else(|| all.iter().find(|r| matches(r)))
}

/// All group versions served: `("", "v1")`, `("apps", "v1")`, ...
pub fn group_versions() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Vec::new();
    for r in resources() {
        let gv = (r.group.clone(), r.version.clone());
        if !v.contains(&gv) {
            v.push(gv);
        }
    }
    v
}

/// The `APIGroup` document for `/apis/{group}` (taken from the `/apis` list).
pub fn api_group_doc(group: &str) -> Option<Value> {
    let apis = parse("apis");
    let g = apis.get("groups")?.as_array()?.iter().find(|g| g.get("name").and_then(Value::as_str) == Some(group))?;
    let mut m = serde_json::Map::new();
    m.insert("kind".into(), "APIGroup".into());
    m.insert("apiVersion".into(), "v1".into());
    if let Value::Object(gm) = g {
        for (k, v) in gm {
            m.insert(k.clone(), v.clone());
        }
    }
    Some(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_the_built_in_resources_only() {
        let cm = find("", "v1", "configmaps").unwrap();
        assert_eq!(cm.kind, "ConfigMap");
        assert!(cm.namespaced);
        assert!(!find("", "v1", "namespaces").unwrap().namespaced);
        // a fresh cluster serves no custom resources: CRDs enter discovery when created (crd.rs)
        assert!(resources().iter().all(|r| !r.custom), "a captured custom resource");
        assert_eq!(resolve("deploy").unwrap().kind, "Deployment");
        assert_eq!(resolve("cm").unwrap().plural, "configmaps");
        assert_eq!(resolve("Secret").unwrap().plural, "secrets");
        assert_eq!(find_by_kind("apps/v1", "Deployment").unwrap().plural, "deployments");
        assert!(find("", "v1", "pods").unwrap().subresources.contains(&"status".to_string()));
    }

    #[test]
    fn every_group_version_has_a_plain_document() {
        for (g, v) in group_versions() {
            let stem = if g.is_empty() { format!("api_{v}") } else { stem_of(&format!("apis/{g}/{v}")) };
            assert!(discovery_file(&stem).is_some(), "{stem}");
        }
    }
}
