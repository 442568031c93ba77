//! The public API of `live`, `ownership` and `helm_errors` used together the way `adopt --from-error` does:
//! pasted Helm output → resource types from discovery → ownership check → patch.

use std::collections::BTreeMap;

use kubectl_werf::helm_errors;
use kubectl_werf::live::ResourceCatalog;
use kubectl_werf::ownership::{self, HelmAction, Ownership};

fn catalog() -> ResourceCatalog {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/apiserver-1.36/discovery/");
    let core = std::fs::read_to_string(format!("{dir}aggregated_api.json")).unwrap();
    let groups = std::fs::read_to_string(format!("{dir}aggregated_apis.json")).unwrap();
    ResourceCatalog::from_aggregated_json(&core, &groups).unwrap()
}

#[test]
fn from_error_to_patch() {
    let pasted = "$ helm upgrade --install app ./chart -n adopt-test\r\n\
        Error: UPGRADE FAILED: Unable to continue with install: ConfigMap \"settings\" in namespace \"adopt-test\" exists and cannot be imported into the current release: invalid ownership metadata; label validation error: missing key \"app.kubernetes.io/managed-by\": must be set to \"Helm\"; annotation validation error: missing key \"meta.helm.sh/release-name\": must be set to \"app\"; annotation validation error: missing key \"meta.helm.sh/release-namespace\": must be set to \"adopt-test\"\r\n";
    let errors = helm_errors::parse(pasted);
    assert_eq!(errors.len(), 1);
    let e = &errors[0];
    let catalog = catalog();
    // Helm names only the Kind; kubectl-style resolution accepts it.
    let res = catalog.resolve_type(&e.kind).unwrap();
    assert_eq!((res.api_version().as_str(), res.plural.as_str(), res.namespaced), ("v1", "configmaps", true));
    let release = e.release.as_deref().unwrap();
    let release_ns = e.release_namespace.as_deref().unwrap();

    // The live object as found (no ownership metadata): classify and explain like Helm.
    let labels = BTreeMap::from([("app".to_string(), "x".to_string())]);
    let annotations = BTreeMap::new();
    let state = ownership::classify(&labels, &annotations, release, release_ns);
    assert_eq!(state, Ownership::Unowned);
    let problems = ownership::check(&labels, &annotations, release, release_ns);
    assert_eq!(problems, e.problems);
    let text = ownership::helm_error_text(HelmAction::Install, &res.kind, &e.name, e.namespace.as_deref(), &problems);
    assert!(pasted.contains(&text));

    let patch = ownership::adoption_patch(release, release_ns, Some("10721"));
    assert_eq!(
        patch.to_string(),
        r#"{"metadata":{"labels":{"app.kubernetes.io/managed-by":"Helm"},"annotations":{"meta.helm.sh/release-name":"app","meta.helm.sh/release-namespace":"adopt-test"},"resourceVersion":"10721"}}"#
    );
}

#[test]
fn helm_kinds_of_every_served_type_resolve_to_themselves_or_core() {
    let catalog = catalog();
    for r in catalog.resources().iter().filter(|r| r.preferred) {
        let got = catalog.resolve_type(&r.kind).unwrap();
        assert_eq!(got.kind, r.kind);
        assert!(got.group == r.group || got.group.is_empty(), "{} -> {}", r.qualified_name(), got.qualified_name());
        // The fully qualified name always reaches exactly this resource type.
        assert_eq!(catalog.resolve_type(&r.qualified_name()).unwrap(), r);
        assert_eq!(catalog.resolve_gvk(&r.api_version(), &r.kind).unwrap().plural, r.plural);
    }
}
