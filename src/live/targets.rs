//! The live objects a release's manifest describes, resolved to API resources: what `adopt
//! --from-release`, `annotate` and `migrate2to3` (ownership stamping) act on.

use crate::manifest::{ManifestError, ManifestObject, parse_objects};

use super::discovery::{ResolvedResource, ResourceCatalog};

/// One object of a manifest, resolved against discovery.
#[derive(Debug, Clone)]
pub struct Target {
    pub resource: ResolvedResource,
    /// `None` for cluster-scoped resources.
    pub namespace: Option<String>,
    pub name: String,
    /// The object as the manifest wrote it (for reading the keys the chart sets).
    pub manifest: ManifestObject,
}

impl Target {
    /// `Kind/name` or `Kind/name in namespace`, as reports show it.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{} ({ns})", self.resource.kind, self.name),
            None => format!("{}/{}", self.resource.kind, self.name),
        }
    }
}

/// A manifest object that could not become a target, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    pub what: String,
    pub reason: String,
}

/// Resolve every object of `manifest` (Helm's stored manifest or any multi-document YAML). Objects
/// without a namespace land in `default_namespace` when their kind is namespaced, as Helm does.
/// Duplicates (same resource, namespace and name) are kept once.
pub fn resolve_manifest(catalog: &ResourceCatalog, manifest: &str, default_namespace: &str) -> (Vec<Target>, Vec<Unresolved>) {
    resolve_objects(catalog, parse_objects(manifest, true), default_namespace)
}

pub fn resolve_objects(
    catalog: &ResourceCatalog,
    objects: Vec<Result<ManifestObject, ManifestError>>,
    default_namespace: &str,
) -> (Vec<Target>, Vec<Unresolved>) {
    let mut targets: Vec<Target> = Vec::new();
    let mut unresolved = Vec::new();
    for obj in objects {
        let obj = match obj {
            Ok(o) => o,
            Err(e) => {
                unresolved.push(Unresolved { what: format!("document {}", e.index), reason: e.to_string() });
                continue;
            }
        };
        match catalog.resolve_gvk(&obj.api_version, &obj.kind) {
            Ok(res) => {
                let namespace = res.namespaced.then(|| obj.namespace.clone().unwrap_or_else(|| default_namespace.to_string()));
                let duplicate = targets.iter().any(|t| {
                    t.resource.group == res.group && t.resource.plural == res.plural && t.namespace == namespace && t.name == obj.name
                });
                if !duplicate {
                    targets.push(Target { resource: res.clone(), namespace, name: obj.name.clone(), manifest: obj });
                }
            }
            Err(e) => unresolved.push(Unresolved { what: format!("{}/{}", obj.kind, obj.name), reason: e.to_string() }),
        }
    }
    (targets, unresolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> ResourceCatalog {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/apiserver-1.36/discovery/");
        let core = std::fs::read_to_string(format!("{dir}aggregated_api.json")).unwrap();
        // the server's groups with the Widget CRD installed (the shop manifest holds a Widget)
        let groups = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/apiserver-1.36/discovery-with-widget-crd/aggregated_apis.json"
        ))
        .unwrap();
        ResourceCatalog::from_aggregated_json(&core, &groups).unwrap()
    }

    #[test]
    fn resolves_the_shop_manifest() {
        let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/helm3/fx-helm3-shop-manifest.txt")).unwrap();
        let (targets, unresolved) = resolve_manifest(&catalog(), &manifest, "shop-ns");
        assert!(unresolved.is_empty(), "{unresolved:?}");
        let shown: Vec<String> = targets.iter().map(Target::display).collect();
        assert!(shown.contains(&"Deployment/shop (shop-ns)".to_string()), "{shown:?}");
        assert!(shown.contains(&"Widget/shop (shop-ns)".to_string()), "{shown:?}");
        assert!(targets.iter().all(|t| t.namespace.as_deref() == Some("shop-ns")));
    }

    #[test]
    fn cluster_scoped_unknown_and_duplicates() {
        let manifest = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: other\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: other\n---\napiVersion: example.com/v9\nkind: Gadget\nmetadata:\n  name: g\n";
        let (targets, unresolved) = resolve_manifest(&catalog(), manifest, "default");
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].namespace, None);
        assert_eq!(targets[1].namespace.as_deref(), Some("other"));
        assert_eq!(unresolved.len(), 1);
        assert_eq!(unresolved[0].what, "Gadget/g");
    }
}
