//! A release's resources as they are in the cluster, fetched the way helm 3's `status --show-resources`
//! fetches them (pkg/kube `Client.Get(resources, related=true)`):
//!
//! - every object of the stored manifest, in manifest order, is read with one GET: as a server-side
//!   `Table` (`as=Table;g=meta.k8s.io;v=v1`, `includeObject=Object`) for the table, as the object itself
//!   for `-o json|yaml`. Objects that cannot be read are left out, as helm leaves them out (404 silently;
//!   anything else is named on stderr here);
//! - objects are grouped under `VERSION/KIND` (the group is dropped, as helm does: `apps/v1`
//!   Deployments are `v1/Deployment`);
//! - workloads with a label selector in the manifest (ReplicaSet, Deployment, StatefulSet, DaemonSet and
//!   Job: `spec.selector.matchLabels`; ReplicationController: `spec.selector`) add their pods, one LIST
//!   per distinct selector, under `v1/Pod(related)` (the list as one Table, or as one PodList).

use std::collections::BTreeMap;

use kube::Client;
use serde_json::Value;

use crate::live::discovery::{ResolvedResource, ResourceCatalog};

/// How objects are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Server-side tables, for printing.
    Table,
    /// The objects as stored.
    Object,
}

const ACCEPT_TABLE: &str =
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

/// The groups, keyed `VERSION/KIND`, each with its objects (or tables) in manifest order.
#[derive(Debug, Default)]
pub struct ReleaseResources {
    pub groups: BTreeMap<String, Vec<Value>>,
    /// Objects that could not be read for another reason than "not found", one line each.
    pub warnings: Vec<String>,
}

fn path_for(res: &ResolvedResource, namespace: Option<&str>) -> String {
    let base = if res.group.is_empty() { format!("/api/{}", res.version) } else { format!("/apis/{}/{}", res.group, res.version) };
    match namespace.filter(|_| res.namespaced) {
        Some(ns) => format!("{base}/namespaces/{ns}/{}", res.plural),
        None => format!("{base}/{}", res.plural),
    }
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// GET `uri` (with the Table `Accept` header for tables); `Ok(None)` on 404.
async fn fetch(client: &Client, uri: &str, form: Form) -> Result<Option<Value>, kube::Error> {
    let attempt = || async {
        let mut req = http::Request::get(uri);
        if form == Form::Table {
            req = req.header(http::header::ACCEPT, ACCEPT_TABLE);
        }
        let req = req.body(Vec::new()).map_err(kube::Error::HttpError)?;
        match client.request::<Value>(req).await {
            Ok(v) => Ok(Some(v)),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(e),
        }
    };
    crate::retry::read(crate::retry::ReadRetry::default(), attempt).await
}

/// client-go's decoding of a list into unstructured objects: items without `apiVersion`/`kind` (the
/// server leaves them out) get the list's apiVersion and its kind without `List`, as helm then prints them.
fn fill_item_types(list: &mut Value) {
    let api_version = list.get("apiVersion").cloned();
    let kind = list.get("kind").and_then(Value::as_str).and_then(|k| k.strip_suffix("List")).map(|k| Value::String(k.into()));
    if let Some(items) = list.get_mut("items").and_then(Value::as_array_mut) {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(v) = &api_version {
                item.entry("apiVersion").or_insert_with(|| v.clone());
            }
            if let Some(k) = &kind {
                item.entry("kind").or_insert_with(|| k.clone());
            }
        }
    }
}

/// The pod selector helm derives from a manifest object, as `k=v` pairs.
fn pod_selector(object: &Value) -> Option<BTreeMap<String, String>> {
    let kind = object.get("kind")?.as_str()?;
    let selector = match kind {
        "ReplicaSet" | "Deployment" | "StatefulSet" | "DaemonSet" | "Job" => object.pointer("/spec/selector/matchLabels")?,
        "ReplicationController" => object.pointer("/spec/selector")?,
        _ => return None,
    };
    let map = selector.as_object()?;
    map.iter().map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string()))).collect()
}

/// Read every object of `manifest` (a release's stored manifest; objects without a namespace are in
/// `release_namespace`) and the pods of its workloads.
pub async fn release_resources(
    client: &Client,
    catalog: &ResourceCatalog,
    manifest: &str,
    release_namespace: &str,
    form: Form,
) -> Result<ReleaseResources, kube::Error> {
    let mut out = ReleaseResources::default();
    let mut seen_selectors: Vec<BTreeMap<String, String>> = Vec::new();
    for parsed in crate::manifest::parse_objects(manifest, true) {
        let obj = match parsed {
            Ok(o) => o,
            Err(e) => {
                out.warnings.push(format!("manifest {e}"));
                continue;
            }
        };
        let res = match catalog.resolve_gvk(&obj.api_version, &obj.kind) {
            Ok(r) => r,
            Err(e) => {
                out.warnings.push(format!("{}/{} {}: {e}", obj.api_version, obj.kind, obj.name));
                continue;
            }
        };
        let namespace = obj.namespace.clone().unwrap_or_else(|| release_namespace.to_string());
        let ns = res.namespaced.then_some(namespace.as_str());
        let mut uri = format!("{}/{}", path_for(res, ns), encode(&obj.name));
        if form == Form::Table {
            uri.push_str("?includeObject=Object");
        }
        let key = format!("{}/{}", res.version, res.kind);
        match fetch(client, &uri, form).await {
            Ok(Some(v)) => out.groups.entry(key).or_default().push(v),
            Ok(None) => continue,
            Err(e) if crate::retry::is_transient(&e) || matches!(e, kube::Error::Api(_)) => {
                out.warnings.push(format!("cannot read {} {}: {}", res.kind, obj.name, crate::error::describe_kube_error(&e)));
                continue;
            }
            Err(e) => return Err(e),
        }
        let Some(selector) = pod_selector(&obj.object) else { continue };
        if seen_selectors.contains(&selector) {
            continue;
        }
        seen_selectors.push(selector.clone());
        let label_selector: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut pods = format!("/api/v1/namespaces/{}/pods", encode(&namespace));
        if !label_selector.is_empty() {
            pods.push_str(&format!("?labelSelector={}", encode(&label_selector.join(","))));
        }
        match fetch(client, &pods, form).await {
            Ok(Some(mut v)) => {
                if form == Form::Object {
                    fill_item_types(&mut v);
                }
                out.groups.entry("v1/Pod(related)".into()).or_default().push(v)
            }
            Ok(None) => {}
            Err(e) => {
                out.warnings.push(format!("cannot list the pods of {} {}: {}", res.kind, obj.name, crate::error::describe_kube_error(&e)))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_as_helm_reads_them() {
        let d = json!({"kind": "Deployment", "spec": {"selector": {"matchLabels": {"b": "2", "a": "1"}}}});
        assert_eq!(pod_selector(&d).unwrap().into_iter().collect::<Vec<_>>(), [("a".into(), "1".into()), ("b".into(), "2".into())]);
        let rc = json!({"kind": "ReplicationController", "spec": {"selector": {"app": "x"}}});
        assert_eq!(pod_selector(&rc).unwrap().len(), 1);
        assert!(pod_selector(&json!({"kind": "Service", "spec": {"selector": {"app": "x"}}})).is_none());
        assert!(pod_selector(&json!({"kind": "Deployment", "spec": {"selector": {"matchExpressions": []}}})).is_none());
    }
}
