//! Every live object labelled `app.kubernetes.io/managed-by=Helm`, read with metadata-only LISTs (one
//! paged LIST per listable resource type, label selector on the server, bounded concurrency): what
//! `releases doctor` judges ownership over. No per-object GETs; only the ownership annotations are kept.

use std::collections::BTreeMap;

use futures::{StreamExt, stream};
use kube::api::{Api, DynamicObject, ListParams};

use super::discovery::{ResolvedResource, ResourceCatalog};
use crate::ownership::{MANAGED_BY_HELM, MANAGED_BY_LABEL, RELEASE_NAME_ANNOTATION, RELEASE_NAMESPACE_ANNOTATION};

/// Helm's resource policy annotation (`keep`: uninstall and upgrades leave the object behind).
pub const RESOURCE_POLICY_ANNOTATION: &str = "helm.sh/resource-policy";

/// Objects per LIST page.
const PAGE: u32 = 500;
/// Resource types listed at once.
const CONCURRENCY: usize = 8;

/// The identity of an object across API versions: group, kind, namespace (`None` when cluster-scoped), name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub group: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectKey {
    /// `Kind/name (namespace)` or `Kind/name` for cluster-scoped objects.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{} ({ns})", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// One Helm-managed live object and the annotations ownership is judged on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedObject {
    pub key: ObjectKey,
    /// kubectl's qualified type name (`deployments.apps`, `configmaps`): what `TYPE/NAME` arguments take.
    pub type_name: String,
    /// `meta.helm.sh/release-name`, when set.
    pub release_name: Option<String>,
    /// `meta.helm.sh/release-namespace`, when set.
    pub release_namespace: Option<String>,
    /// `helm.sh/resource-policy`, when set.
    pub resource_policy: Option<String>,
}

/// What the listing found and what it could not read.
#[derive(Debug, Default)]
pub struct ManagedListing {
    pub objects: Vec<ManagedObject>,
    /// Resource types that could not be listed (qualified name, reason).
    pub skipped: Vec<(String, String)>,
}

/// The resource types to list: listable, the group's preferred version, namespaced only when `namespace` is
/// given, and not a second group's copy of a core type (`events.events.k8s.io` serves the core Events again).
pub fn listable_types<'a>(catalog: &'a ResourceCatalog, namespace: Option<&str>) -> Vec<&'a ResolvedResource> {
    let all = catalog.resources();
    all.iter()
        .filter(|r| r.preferred && r.supports("list"))
        .filter(|r| namespace.is_none() || r.namespaced)
        .filter(|r| r.group.is_empty() || !all.iter().any(|c| c.group.is_empty() && c.kind == r.kind && c.plural == r.plural))
        .collect()
}

/// Lists the Helm-managed objects of every listable type, in `namespace` or (`None`) everywhere including
/// cluster-scoped types. A type that cannot be listed (forbidden, gone, an aggregated API that is down) is
/// skipped and named in [`ManagedListing::skipped`]; the others are still read.
pub async fn list_helm_managed(client: &kube::Client, catalog: &ResourceCatalog, namespace: Option<&str>) -> ManagedListing {
    let types = listable_types(catalog, namespace);
    let results: Vec<(String, Result<Vec<ManagedObject>, kube::Error>)> = stream::iter(types)
        .map(|res| async move { (res.qualified_name(), list_type(client, res, namespace).await) })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut listing = ManagedListing::default();
    for (name, result) in results {
        match result {
            Ok(objects) => listing.objects.extend(objects),
            // Listed in discovery but not servable as a list (405) or gone since (404): nothing to judge.
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 405 => {}
            Err(e) => listing.skipped.push((name, short_reason(&e))),
        }
    }
    listing.objects.sort_by(|a, b| a.key.cmp(&b.key));
    listing.skipped.sort();
    listing
}

fn short_reason(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if s.code == 403 => "forbidden".into(),
        other => crate::error::describe_kube_error(other),
    }
}

async fn list_type(client: &kube::Client, res: &ResolvedResource, namespace: Option<&str>) -> Result<Vec<ManagedObject>, kube::Error> {
    let ar = res.api_resource();
    let api: Api<DynamicObject> = match (res.namespaced, namespace) {
        (true, Some(ns)) => Api::namespaced_with(client.clone(), ns, &ar),
        _ => Api::all_with(client.clone(), &ar),
    };
    let selector = format!("{MANAGED_BY_LABEL}={MANAGED_BY_HELM}");
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut lp = ListParams::default().labels(&selector).limit(PAGE);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = crate::retry::read(crate::retry::ReadRetry::default(), || api.list_metadata(&lp)).await?;
        for item in page.items {
            let meta = item.metadata;
            let Some(name) = meta.name else { continue };
            let annotations: BTreeMap<String, String> = meta.annotations.unwrap_or_default();
            out.push(ManagedObject {
                key: ObjectKey {
                    group: res.group.clone(),
                    kind: res.kind.clone(),
                    namespace: if res.namespaced { meta.namespace } else { None },
                    name,
                },
                type_name: res.qualified_name(),
                release_name: annotations.get(RELEASE_NAME_ANNOTATION).cloned(),
                release_namespace: annotations.get(RELEASE_NAMESPACE_ANNOTATION).cloned(),
                resource_policy: annotations.get(RESOURCE_POLICY_ANNOTATION).cloned(),
            });
        }
        match page.metadata.continue_.filter(|t| !t.is_empty()) {
            Some(t) => token = Some(t),
            None => return Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> ResourceCatalog {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/apiserver-1.36/discovery/");
        let core = std::fs::read_to_string(format!("{dir}aggregated_api.json")).unwrap();
        let groups = std::fs::read_to_string(format!("{dir}aggregated_apis.json")).unwrap();
        ResourceCatalog::from_aggregated_json(&core, &groups).unwrap()
    }

    #[test]
    fn one_listable_type_per_kind() {
        let c = catalog();
        let all = listable_types(&c, None);
        let names: Vec<String> = all.iter().map(|r| r.qualified_name()).collect();
        assert!(names.contains(&"configmaps".to_string()), "{names:?}");
        assert!(names.contains(&"deployments.apps".to_string()));
        assert!(names.contains(&"clusterroles.rbac.authorization.k8s.io".to_string()));
        assert!(names.contains(&"events".to_string()));
        // Core events again under events.k8s.io, non-preferred versions and unlistable types are left out.
        assert!(!names.contains(&"events.events.k8s.io".to_string()));
        assert_eq!(names.iter().filter(|n| *n == "horizontalpodautoscalers.autoscaling").count(), 1);
        assert!(!names.iter().any(|n| n.starts_with("tokenreviews") || n == "bindings"));
        let namespaced = listable_types(&c, Some("ns"));
        assert!(namespaced.iter().all(|r| r.namespaced));
        assert!(namespaced.len() < all.len());
    }
}
