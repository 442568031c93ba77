//! API versions Kubernetes removed (policy/v1beta1, autoscaling/v2beta1, extensions/v1beta1, ...), served on
//! request ([`crate::Emulator::serve_removed_api_versions`]): a cluster from before its upgrade. Each
//! emulator has its own set; none is served by default, as on kube-apiserver 1.36.
//!
//! What is faithful: discovery (aggregated and plain documents list the version, not preferred) and CRUD
//! at that version. What is not: objects are not converted between versions (an object written at
//! autoscaling/v2beta1 reads back with its v2beta1 fields at autoscaling/v2), and `extensions` keeps its
//! own objects (the real server keeps extensions Deployments with apps ones). No OpenAPI document is served
//! for these versions, so strict field validation does not check their fields.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::discovery::{Resource, discovery_file};

const VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

/// (group, version, plural, kind, namespaced) of every removed version the emulator can serve.
const REMOVED: &[(&str, &str, &str, &str, bool)] = &[
    ("extensions", "v1beta1", "deployments", "Deployment", true),
    ("extensions", "v1beta1", "daemonsets", "DaemonSet", true),
    ("extensions", "v1beta1", "replicasets", "ReplicaSet", true),
    ("extensions", "v1beta1", "networkpolicies", "NetworkPolicy", true),
    ("extensions", "v1beta1", "podsecuritypolicies", "PodSecurityPolicy", false),
    ("extensions", "v1beta1", "ingresses", "Ingress", true),
    ("apps", "v1beta1", "deployments", "Deployment", true),
    ("apps", "v1beta1", "statefulsets", "StatefulSet", true),
    ("apps", "v1beta2", "deployments", "Deployment", true),
    ("apps", "v1beta2", "statefulsets", "StatefulSet", true),
    ("apps", "v1beta2", "daemonsets", "DaemonSet", true),
    ("apps", "v1beta2", "replicasets", "ReplicaSet", true),
    ("policy", "v1beta1", "poddisruptionbudgets", "PodDisruptionBudget", true),
    ("policy", "v1beta1", "podsecuritypolicies", "PodSecurityPolicy", false),
    ("networking.k8s.io", "v1beta1", "ingresses", "Ingress", true),
    ("networking.k8s.io", "v1beta1", "ingressclasses", "IngressClass", false),
    ("apiextensions.k8s.io", "v1beta1", "customresourcedefinitions", "CustomResourceDefinition", false),
    ("admissionregistration.k8s.io", "v1beta1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", false),
    ("admissionregistration.k8s.io", "v1beta1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", false),
    ("apiregistration.k8s.io", "v1beta1", "apiservices", "APIService", false),
    ("certificates.k8s.io", "v1beta1", "certificatesigningrequests", "CertificateSigningRequest", false),
    ("coordination.k8s.io", "v1beta1", "leases", "Lease", true),
    ("scheduling.k8s.io", "v1beta1", "priorityclasses", "PriorityClass", false),
    ("rbac.authorization.k8s.io", "v1beta1", "roles", "Role", true),
    ("rbac.authorization.k8s.io", "v1beta1", "rolebindings", "RoleBinding", true),
    ("rbac.authorization.k8s.io", "v1beta1", "clusterroles", "ClusterRole", false),
    ("rbac.authorization.k8s.io", "v1beta1", "clusterrolebindings", "ClusterRoleBinding", false),
    ("rbac.authorization.k8s.io", "v1alpha1", "roles", "Role", true),
    ("rbac.authorization.k8s.io", "v1alpha1", "rolebindings", "RoleBinding", true),
    ("rbac.authorization.k8s.io", "v1alpha1", "clusterroles", "ClusterRole", false),
    ("rbac.authorization.k8s.io", "v1alpha1", "clusterrolebindings", "ClusterRoleBinding", false),
    ("storage.k8s.io", "v1beta1", "csidrivers", "CSIDriver", false),
    ("storage.k8s.io", "v1beta1", "csinodes", "CSINode", false),
    ("storage.k8s.io", "v1beta1", "storageclasses", "StorageClass", false),
    ("storage.k8s.io", "v1beta1", "volumeattachments", "VolumeAttachment", false),
    ("storage.k8s.io", "v1beta1", "csistoragecapacities", "CSIStorageCapacity", true),
    ("batch", "v1beta1", "cronjobs", "CronJob", true),
    ("discovery.k8s.io", "v1beta1", "endpointslices", "EndpointSlice", true),
    ("events.k8s.io", "v1beta1", "events", "Event", true),
    ("node.k8s.io", "v1beta1", "runtimeclasses", "RuntimeClass", false),
    ("autoscaling", "v2beta1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true),
    ("autoscaling", "v2beta2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true),
    ("flowcontrol.apiserver.k8s.io", "v1beta1", "flowschemas", "FlowSchema", false),
    ("flowcontrol.apiserver.k8s.io", "v1beta1", "prioritylevelconfigurations", "PriorityLevelConfiguration", false),
    ("flowcontrol.apiserver.k8s.io", "v1beta2", "flowschemas", "FlowSchema", false),
    ("flowcontrol.apiserver.k8s.io", "v1beta2", "prioritylevelconfigurations", "PriorityLevelConfiguration", false),
    ("flowcontrol.apiserver.k8s.io", "v1beta3", "flowschemas", "FlowSchema", false),
    ("flowcontrol.apiserver.k8s.io", "v1beta3", "prioritylevelconfigurations", "PriorityLevelConfiguration", false),
];

/// Group versions (`policy/v1beta1`) the emulator can serve on request.
pub fn known_group_versions() -> BTreeSet<String> {
    REMOVED.iter().map(|(g, v, ..)| format!("{g}/{v}")).collect()
}

fn table() -> &'static [Resource] {
    static TABLE: OnceLock<Vec<Resource>> = OnceLock::new();
    TABLE.get_or_init(|| {
        REMOVED
            .iter()
            .map(|(g, v, plural, kind, namespaced)| Resource {
                group: g.to_string(),
                version: v.to_string(),
                plural: plural.to_string(),
                singular: kind.to_ascii_lowercase(),
                kind: kind.to_string(),
                namespaced: *namespaced,
                verbs: VERBS.iter().map(|s| s.to_string()).collect(),
                short_names: Vec::new(),
                subresources: Vec::new(),
                custom: false,
                preferred: false,
            })
            .collect()
    })
}

/// The served set: `(group, version)`.
pub type Served = BTreeSet<(String, String)>;

fn served_resources(served: &Served) -> impl Iterator<Item = &'static Resource> + '_ {
    table().iter().filter(|r| served.contains(&(r.group.clone(), r.version.clone())))
}

/// The resource at `/apis/{group}/{version}/{plural}`, when that removed version is served.
pub fn find(served: &Served, group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    if served.is_empty() {
        return None;
    }
    served_resources(served).find(|r| r.group == group && r.version == version && r.plural == plural)
}

fn parse(stem: &str) -> Value {
    discovery_file(stem).and_then(|b| serde_json::from_slice(b).ok()).unwrap_or(Value::Null)
}

fn agg_resource(r: &Resource) -> Value {
    json!({
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": r.verbs,
    })
}

/// A discovery document that lists the served removed versions, for the paths that change; `None`
/// elsewhere (or when nothing removed is served).
pub fn discovery(served: &Served, path: &str, aggregated: bool) -> Option<Value> {
    if served.is_empty() {
        return None;
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["apis"] if aggregated => {
            let mut doc = parse("aggregated_apis");
            let items = doc.get_mut("items")?.as_array_mut()?;
            for (group, version) in served {
                let resources: Vec<Value> =
                    served_resources(served).filter(|r| r.group == *group && r.version == *version).map(agg_resource).collect();
                let entry = json!({"version": version, "resources": resources, "freshness": "Current"});
                match items.iter_mut().find(|i| i.pointer("/metadata/name").and_then(Value::as_str) == Some(group)) {
                    Some(item) => {
                        if let Some(versions) = item.get_mut("versions").and_then(Value::as_array_mut) {
                            versions.push(entry);
                        }
                    }
                    None => items.push(json!({"metadata": {"name": group}, "versions": [entry]})),
                }
            }
            Some(doc)
        }
        ["apis"] => Some(plain_groups(served)),
        ["apis", g] if served.iter().any(|(sg, _)| sg == g) => {
            let groups = plain_groups(served);
            let group = groups.get("groups")?.as_array()?.iter().find(|x| x.get("name").and_then(Value::as_str) == Some(g))?.clone();
            let mut m = group.as_object()?.clone();
            m.insert("kind".into(), "APIGroup".into());
            m.insert("apiVersion".into(), "v1".into());
            Some(Value::Object(m))
        }
        ["apis", g, v] if served.contains(&(g.to_string(), v.to_string())) => {
            let resources: Vec<Value> = served_resources(served)
                .filter(|r| r.group == *g && r.version == *v)
                .map(
                    |r| json!({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind, "verbs": r.verbs}),
                )
                .collect();
            Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": format!("{g}/{v}"), "resources": resources}))
        }
        _ => None,
    }
}

/// OpenAPI v3 for the served removed versions: the index lists them and each has a document whose
/// operations accept `fieldValidation` and `dryRun` (what client-go checks before it writes) and whose
/// schemas accept any field. `None` for every other path.
pub fn openapi(served: &Served, path: &str) -> Option<Value> {
    if served.is_empty() {
        return None;
    }
    let rest = path.trim_end_matches('/').strip_prefix("/openapi/v3")?;
    if rest.is_empty() {
        let mut index = parse_openapi("index");
        let paths = index.get_mut("paths")?.as_object_mut()?;
        for (g, v) in served {
            paths.insert(format!("apis/{g}/{v}"), json!({"serverRelativeURL": format!("/openapi/v3/apis/{g}/{v}?hash=removed")}));
        }
        return Some(index);
    }
    let gv = rest.strip_prefix("/apis/")?;
    let (g, v) = gv.split_once('/')?;
    if !served.contains(&(g.to_string(), v.to_string())) {
        return None;
    }
    let params = json!([
        {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}}
    ]);
    let mut paths = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    for r in served_resources(served).filter(|r| r.group == g && r.version == v) {
        let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
        let base = if r.namespaced {
            format!("/apis/{g}/{v}/namespaces/{{namespace}}/{}", r.plural)
        } else {
            format!("/apis/{g}/{v}/{}", r.plural)
        };
        let op = |action: &str| json!({"parameters": params, "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk});
        paths.insert(base.clone(), json!({"post": op("post"), "get": op("list")}));
        paths.insert(format!("{base}/{{name}}"), json!({"put": op("put"), "patch": op("patch"), "get": op("get"), "delete": op("delete")}));
        schemas.insert(
            format!("io.k8s.removed.{g}.{v}.{}", r.kind),
            json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true, "x-kubernetes-group-version-kind": [gvk]}),
        );
    }
    Some(
        json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.36.2"}, "paths": paths, "components": {"schemas": schemas}}),
    )
}

fn parse_openapi(stem: &str) -> Value {
    crate::discovery::openapi_file(stem).and_then(|b| serde_json::from_slice(b).ok()).unwrap_or(Value::Null)
}

/// The plain `/apis` group list with the served removed versions added (never preferred).
fn plain_groups(served: &Served) -> Value {
    let mut doc = parse("apis");
    let Some(groups) = doc.get_mut("groups").and_then(Value::as_array_mut) else { return doc };
    for (group, version) in served {
        let entry = json!({"groupVersion": format!("{group}/{version}"), "version": version});
        match groups.iter_mut().find(|g| g.get("name").and_then(Value::as_str) == Some(group)) {
            Some(g) => {
                if let Some(v) = g.get_mut("versions").and_then(Value::as_array_mut) {
                    v.push(entry);
                }
            }
            None => groups.push(json!({"name": group, "versions": [entry.clone()], "preferredVersion": entry})),
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_versions_enter_discovery() {
        let served: Served = [("policy".to_string(), "v1beta1".to_string()), ("extensions".to_string(), "v1beta1".to_string())].into();
        assert!(find(&served, "policy", "v1beta1", "poddisruptionbudgets").is_some());
        assert!(find(&served, "autoscaling", "v2beta1", "horizontalpodautoscalers").is_none());
        assert!(find(&Served::new(), "policy", "v1beta1", "poddisruptionbudgets").is_none());
        let agg = discovery(&served, "/apis", true).unwrap();
        let policy = agg["items"].as_array().unwrap().iter().find(|i| i["metadata"]["name"] == "policy").unwrap();
        assert_eq!(policy["versions"][0]["version"], "v1", "the removed version is never preferred");
        assert_eq!(policy["versions"][1]["version"], "v1beta1");
        assert!(agg["items"].as_array().unwrap().iter().any(|i| i["metadata"]["name"] == "extensions"));
        let list = discovery(&served, "/apis/policy/v1beta1", false).unwrap();
        assert!(list["resources"].as_array().unwrap().iter().any(|r| r["kind"] == "PodSecurityPolicy" && r["namespaced"] == false));
        assert_eq!(discovery(&served, "/apis/extensions", false).unwrap()["preferredVersion"]["version"], "v1beta1");
        assert!(discovery(&served, "/apis/apps/v1", false).is_none());
    }
}
