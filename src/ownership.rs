//! Helm's ownership metadata: the check Helm runs before it takes over an existing object, the text it prints
//! when the check fails, and the merge patches that make an object pass it (or that add werf metadata).
//!
//! Pure: no I/O. The check mirrors Helm's `checkOwnership` (pkg/action/validate.go): three keys, each must be
//! present AND equal to the required value, checked in the order label, release-name, release-namespace.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::golang::strconv::go_quote;

/// Label Helm requires on every object it manages.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The only value of [`MANAGED_BY_LABEL`] Helm accepts.
pub const MANAGED_BY_HELM: &str = "Helm";
/// Annotation naming the owning release.
pub const RELEASE_NAME_ANNOTATION: &str = "meta.helm.sh/release-name";
/// Annotation naming the owning release's namespace.
pub const RELEASE_NAMESPACE_ANNOTATION: &str = "meta.helm.sh/release-namespace";

/// Where an ownership key lives in `metadata`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetaField {
    Label,
    Annotation,
}

impl MetaField {
    /// Helm's word for it in error texts (`label validation error`, `annotation validation error`).
    pub fn word(self) -> &'static str {
        match self {
            MetaField::Label => "label",
            MetaField::Annotation => "annotation",
        }
    }
}

/// One failed requirement, in Helm's terms: `key` must be `expected`; `current` is `None` when the key is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: MetaField,
    pub key: String,
    pub expected: String,
    pub current: Option<String>,
}

impl Problem {
    pub fn is_missing(&self) -> bool {
        self.current.is_none()
    }

    /// Exactly the fragment Helm prints for this problem, e.g.
    /// `label validation error: missing key "app.kubernetes.io/managed-by": must be set to "Helm"`.
    pub fn helm_text(&self) -> String {
        let detail = match &self.current {
            None => format!("missing key {}: must be set to {}", go_quote(&self.key), go_quote(&self.expected)),
            Some(cur) => format!("key {} must equal {}: current value is {}", go_quote(&self.key), go_quote(&self.expected), go_quote(cur)),
        };
        format!("{} validation error: {}", self.field.word(), detail)
    }
}

/// What an object's metadata says about who owns it, relative to the release we want it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// The object does not exist (never produced by [`classify`]; callers use it after a 404).
    Missing,
    /// None of the three keys is present: nobody claims it.
    Unowned,
    /// Helm would import it into this release as is.
    OwnedByThis,
    /// Some keys are missing or wrong, but no annotation names another release or namespace
    /// (e.g. only the label is set, or a release annotation is present but empty).
    Partial { problems: Vec<Problem> },
    /// The release-name or release-namespace annotation names a different, non-empty release or namespace.
    /// Each field is the annotation's current value (`None` when that annotation is absent).
    Foreign { release: Option<String>, namespace: Option<String> },
}

impl Ownership {
    /// True when Helm would accept the object into the release without changes.
    pub fn is_owned_by_this(&self) -> bool {
        matches!(self, Ownership::OwnedByThis)
    }
}

/// Helm's check: every requirement the object fails, in Helm's order (label, release-name, release-namespace).
/// Empty means Helm would adopt the object as is.
pub fn check(
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
    release: &str,
    release_namespace: &str,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let wanted = [
        (MetaField::Label, MANAGED_BY_LABEL, MANAGED_BY_HELM, labels),
        (MetaField::Annotation, RELEASE_NAME_ANNOTATION, release, annotations),
        (MetaField::Annotation, RELEASE_NAMESPACE_ANNOTATION, release_namespace, annotations),
    ];
    for (field, key, expected, map) in wanted {
        match map.get(key) {
            Some(v) if v == expected => {}
            current => problems.push(Problem { field, key: key.to_string(), expected: expected.to_string(), current: current.cloned() }),
        }
    }
    problems
}

/// Classifies an existing object's ownership relative to `release` in `release_namespace`.
pub fn classify(
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
    release: &str,
    release_namespace: &str,
) -> Ownership {
    let name = annotations.get(RELEASE_NAME_ANNOTATION);
    let namespace = annotations.get(RELEASE_NAMESPACE_ANNOTATION);
    if labels.get(MANAGED_BY_LABEL).is_none() && name.is_none() && namespace.is_none() {
        return Ownership::Unowned;
    }
    let names_other = |v: Option<&String>, ours: &str| v.is_some_and(|v| !v.is_empty() && v != ours);
    if names_other(name, release) || names_other(namespace, release_namespace) {
        return Ownership::Foreign { release: name.cloned(), namespace: namespace.cloned() };
    }
    let problems = check(labels, annotations, release, release_namespace);
    if problems.is_empty() { Ownership::OwnedByThis } else { Ownership::Partial { problems } }
}

/// The Helm command whose error text is wanted; Helm names it in `Unable to continue with <verb>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelmAction {
    /// `helm install`: `Unable to continue with install`.
    Install,
    /// `helm upgrade`: `Unable to continue with update`.
    Upgrade,
}

/// The message Helm 3 prints (after `Error: INSTALLATION FAILED: ` / `Error: UPGRADE FAILED: `) for an object
/// failing the ownership check. `namespace` is `None` for cluster-scoped objects: Helm's `resourceString`
/// always writes `in namespace %q`, so they read `in namespace ""` (seen from helm 3.17 and 4.1 in
/// tests/cluster_adopt.rs; [`crate::helm_errors`] also reads texts without the part).
/// Helm 4 prints the same text with a lower-case `unable`.
pub fn helm_error_text(action: HelmAction, kind: &str, name: &str, namespace: Option<&str>, problems: &[Problem]) -> String {
    let verb = match action {
        HelmAction::Install => "install",
        HelmAction::Upgrade => "update",
    };
    let mut out = format!("Unable to continue with {verb}: {kind} {}", go_quote(name));
    out.push_str(" in namespace ");
    out.push_str(&go_quote(namespace.unwrap_or("")));
    out.push_str(" exists and cannot be imported into the current release: invalid ownership metadata");
    for p in problems {
        out.push_str("; ");
        out.push_str(&p.helm_text());
    }
    out
}

/// JSON merge patch (`application/merge-patch+json`) that sets exactly the three ownership keys and nothing else.
/// With `resource_version`, the patch carries `metadata.resourceVersion`: the API server then applies it only
/// if the object is still at that version and answers 409 Conflict otherwise (optimistic concurrency).
pub fn adoption_patch(release: &str, release_namespace: &str, resource_version: Option<&str>) -> Value {
    let mut metadata = Map::new();
    metadata.insert("labels".into(), json!({ MANAGED_BY_LABEL: MANAGED_BY_HELM }));
    metadata.insert("annotations".into(), json!({ RELEASE_NAME_ANNOTATION: release, RELEASE_NAMESPACE_ANNOTATION: release_namespace }));
    if let Some(rv) = resource_version {
        metadata.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
    json!({ "metadata": metadata })
}

/// Generic JSON merge patch on labels and annotations: keys in `set_*` get the value, keys in `remove_*` are
/// removed (`null`). A key both set and removed is set. Empty label/annotation maps are left out of the patch.
/// `resource_version` works as in [`adoption_patch`].
pub fn metadata_patch(
    set_labels: &BTreeMap<String, String>,
    remove_labels: &[String],
    set_annotations: &BTreeMap<String, String>,
    remove_annotations: &[String],
    resource_version: Option<&str>,
) -> Value {
    fn section(set: &BTreeMap<String, String>, remove: &[String]) -> Map<String, Value> {
        let mut m = Map::new();
        for k in remove {
            m.insert(k.clone(), Value::Null);
        }
        for (k, v) in set {
            m.insert(k.clone(), Value::String(v.clone()));
        }
        m
    }
    let mut metadata = Map::new();
    let labels = section(set_labels, remove_labels);
    if !labels.is_empty() {
        metadata.insert("labels".into(), Value::Object(labels));
    }
    let annotations = section(set_annotations, remove_annotations);
    if !annotations.is_empty() {
        metadata.insert("annotations".into(), Value::Object(annotations));
    }
    if let Some(rv) = resource_version {
        metadata.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
    json!({ "metadata": metadata })
}

/// The three keys by which Helm recognises an object as a release's, as they stand on one object
/// (`None`: the key is absent). What `releases forget` and `releases move` change and back up.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnershipKeys {
    pub managed_by: Option<String>,
    pub release_name: Option<String>,
    pub release_namespace: Option<String>,
}

impl OwnershipKeys {
    pub fn of(labels: &BTreeMap<String, String>, annotations: &BTreeMap<String, String>) -> OwnershipKeys {
        OwnershipKeys {
            managed_by: labels.get(MANAGED_BY_LABEL).cloned(),
            release_name: annotations.get(RELEASE_NAME_ANNOTATION).cloned(),
            release_namespace: annotations.get(RELEASE_NAMESPACE_ANNOTATION).cloned(),
        }
    }

    /// The keys Helm writes for `release` in `namespace`.
    pub fn helm(release: &str, namespace: &str) -> OwnershipKeys {
        OwnershipKeys {
            managed_by: Some(MANAGED_BY_HELM.to_string()),
            release_name: Some(release.to_string()),
            release_namespace: Some(namespace.to_string()),
        }
    }

    /// Whether these keys name exactly this release (the label may be anything: Helm checks it, but a
    /// release's objects are recognised by the two annotations).
    pub fn names(&self, release: &str, namespace: &str) -> bool {
        self.release_name.as_deref() == Some(release) && self.release_namespace.as_deref() == Some(namespace)
    }

    /// The merge patch that turns an object carrying `self` into one carrying `wanted` (`null` removes a
    /// key); `None` when nothing differs. No other key is touched.
    pub fn patch_to(&self, wanted: &OwnershipKeys) -> Option<Value> {
        let value = |v: &Option<String>| v.clone().map(Value::String).unwrap_or(Value::Null);
        let mut labels = Map::new();
        let mut annotations = Map::new();
        if self.managed_by != wanted.managed_by {
            labels.insert(MANAGED_BY_LABEL.into(), value(&wanted.managed_by));
        }
        if self.release_name != wanted.release_name {
            annotations.insert(RELEASE_NAME_ANNOTATION.into(), value(&wanted.release_name));
        }
        if self.release_namespace != wanted.release_namespace {
            annotations.insert(RELEASE_NAMESPACE_ANNOTATION.into(), value(&wanted.release_namespace));
        }
        if labels.is_empty() && annotations.is_empty() {
            return None;
        }
        let mut metadata = Map::new();
        if !labels.is_empty() {
            metadata.insert("labels".into(), Value::Object(labels));
        }
        if !annotations.is_empty() {
            metadata.insert("annotations".into(), Value::Object(annotations));
        }
        Some(json!({ "metadata": metadata }))
    }

    /// `label=value, release-name=value, ...` for plans; `-` for an absent key.
    pub fn describe(&self) -> String {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        format!("{}/{} ({}={})", show(&self.release_namespace), show(&self.release_name), MANAGED_BY_LABEL, show(&self.managed_by))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const L: (&str, &str) = (MANAGED_BY_LABEL, MANAGED_BY_HELM);

    #[test]
    fn classification_table() {
        let full = map(&[(RELEASE_NAME_ANNOTATION, "app"), (RELEASE_NAMESPACE_ANNOTATION, "adopt-test")]);
        type Case = (BTreeMap<String, String>, BTreeMap<String, String>, &'static str);
        let cases: Vec<Case> = vec![
            (map(&[]), map(&[]), "unowned"),
            (map(&[("app", "x")]), map(&[("other", "y")]), "unowned"),
            (map(&[L]), full.clone(), "this"),
            (map(&[L, ("extra", "1")]), full.clone(), "this"),
            (map(&[L]), map(&[]), "partial"),
            (map(&[]), full.clone(), "partial"),
            (map(&[(MANAGED_BY_LABEL, "Tiller")]), full.clone(), "partial"),
            (map(&[(MANAGED_BY_LABEL, "helm")]), full.clone(), "partial"),
            (map(&[L]), map(&[(RELEASE_NAME_ANNOTATION, "app")]), "partial"),
            (map(&[L]), map(&[(RELEASE_NAME_ANNOTATION, ""), (RELEASE_NAMESPACE_ANNOTATION, "adopt-test")]), "partial"),
            (map(&[L]), map(&[(RELEASE_NAME_ANNOTATION, "other"), (RELEASE_NAMESPACE_ANNOTATION, "adopt-test")]), "foreign"),
            (map(&[L]), map(&[(RELEASE_NAME_ANNOTATION, "app"), (RELEASE_NAMESPACE_ANNOTATION, "elsewhere")]), "foreign"),
            (map(&[]), map(&[(RELEASE_NAME_ANNOTATION, "other")]), "foreign"),
            (map(&[]), map(&[(RELEASE_NAMESPACE_ANNOTATION, "elsewhere")]), "foreign"),
        ];
        for (i, (labels, annotations, want)) in cases.iter().enumerate() {
            let got = classify(labels, annotations, "app", "adopt-test");
            let name = match got {
                Ownership::Unowned => "unowned",
                Ownership::OwnedByThis => "this",
                Ownership::Partial { .. } => "partial",
                Ownership::Foreign { .. } => "foreign",
                Ownership::Missing => "missing",
            };
            assert_eq!(name, *want, "case {i}: {labels:?} {annotations:?}");
        }
    }

    #[test]
    fn foreign_carries_current_values() {
        let got = classify(&map(&[L]), &map(&[(RELEASE_NAME_ANNOTATION, "other")]), "app", "ns");
        assert_eq!(got, Ownership::Foreign { release: Some("other".into()), namespace: None });
    }

    #[test]
    fn partial_lists_problems_in_helm_order() {
        let got = classify(&map(&[(MANAGED_BY_LABEL, "werf")]), &map(&[(RELEASE_NAME_ANNOTATION, "app")]), "app", "ns");
        let Ownership::Partial { problems } = got else { panic!("{got:?}") };
        assert_eq!(
            problems,
            vec![
                Problem { field: MetaField::Label, key: MANAGED_BY_LABEL.into(), expected: "Helm".into(), current: Some("werf".into()) },
                Problem { field: MetaField::Annotation, key: RELEASE_NAMESPACE_ANNOTATION.into(), expected: "ns".into(), current: None },
            ]
        );
    }

    #[test]
    fn check_is_empty_exactly_when_owned() {
        let ann = map(&[(RELEASE_NAME_ANNOTATION, "app"), (RELEASE_NAMESPACE_ANNOTATION, "ns")]);
        assert!(check(&map(&[L]), &ann, "app", "ns").is_empty());
        assert_eq!(check(&map(&[]), &map(&[]), "app", "ns").len(), 3);
    }

    #[test]
    fn error_text_matches_captured_helm_output_all_missing() {
        let problems = check(&map(&[]), &map(&[]), "app", "adopt-test");
        let text = helm_error_text(HelmAction::Install, "ConfigMap", "settings", Some("adopt-test"), &problems);
        assert_eq!(
            format!("Error: INSTALLATION FAILED: {text}"),
            r#"Error: INSTALLATION FAILED: Unable to continue with install: ConfigMap "settings" in namespace "adopt-test" exists and cannot be imported into the current release: invalid ownership metadata; label validation error: missing key "app.kubernetes.io/managed-by": must be set to "Helm"; annotation validation error: missing key "meta.helm.sh/release-name": must be set to "app"; annotation validation error: missing key "meta.helm.sh/release-namespace": must be set to "adopt-test""#
        );
    }

    #[test]
    fn error_text_matches_captured_helm_output_wrong_release() {
        let ann = map(&[(RELEASE_NAME_ANNOTATION, "other"), (RELEASE_NAMESPACE_ANNOTATION, "adopt-test")]);
        let problems = check(&map(&[L]), &ann, "app", "adopt-test");
        let text = helm_error_text(HelmAction::Install, "ConfigMap", "settings", Some("adopt-test"), &problems);
        assert_eq!(
            format!("Error: INSTALLATION FAILED: {text}"),
            r#"Error: INSTALLATION FAILED: Unable to continue with install: ConfigMap "settings" in namespace "adopt-test" exists and cannot be imported into the current release: invalid ownership metadata; annotation validation error: key "meta.helm.sh/release-name" must equal "app": current value is "other""#
        );
    }

    #[test]
    fn error_text_cluster_scoped_and_upgrade() {
        let problems = check(&map(&[L]), &map(&[(RELEASE_NAME_ANNOTATION, "app")]), "app", "ns");
        assert_eq!(
            helm_error_text(HelmAction::Upgrade, "ClusterRole", "reader", None, &problems),
            r#"Unable to continue with update: ClusterRole "reader" in namespace "" exists and cannot be imported into the current release: invalid ownership metadata; annotation validation error: missing key "meta.helm.sh/release-namespace": must be set to "ns""#
        );
    }

    #[test]
    fn adoption_patch_exact() {
        let p = adoption_patch("app", "adopt-test", Some("10721"));
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"metadata":{"labels":{"app.kubernetes.io/managed-by":"Helm"},"annotations":{"meta.helm.sh/release-name":"app","meta.helm.sh/release-namespace":"adopt-test"},"resourceVersion":"10721"}}"#
        );
        let p = adoption_patch("app", "adopt-test", None);
        assert_eq!(
            p,
            json!({"metadata":{"labels":{"app.kubernetes.io/managed-by":"Helm"},"annotations":{"meta.helm.sh/release-name":"app","meta.helm.sh/release-namespace":"adopt-test"}}})
        );
    }

    #[test]
    fn metadata_patch_exact() {
        let p = metadata_patch(
            &map(&[("team", "web")]),
            &["old".to_string()],
            &map(&[("werf.io/version", "v1.2"), ("project.werf.io/name", "shop")]),
            &["gone".to_string(), "werf.io/version".to_string()],
            Some("5"),
        );
        assert_eq!(
            p,
            json!({"metadata":{
                "labels":{"old":null,"team":"web"},
                "annotations":{"gone":null,"werf.io/version":"v1.2","project.werf.io/name":"shop"},
                "resourceVersion":"5"}})
        );
        let empty = BTreeMap::new();
        assert_eq!(metadata_patch(&empty, &[], &empty, &[], None), json!({"metadata":{}}));
        assert_eq!(metadata_patch(&empty, &[], &empty, &["a".into()], None), json!({"metadata":{"annotations":{"a":null}}}));
    }

    #[test]
    fn ownership_keys_patch_only_what_differs() {
        let labels = BTreeMap::from([(MANAGED_BY_LABEL.to_string(), "Helm".to_string()), ("app".to_string(), "x".to_string())]);
        let annotations = BTreeMap::from([
            (RELEASE_NAME_ANNOTATION.to_string(), "shop".to_string()),
            (RELEASE_NAMESPACE_ANNOTATION.to_string(), "apps".to_string()),
        ]);
        let keys = OwnershipKeys::of(&labels, &annotations);
        assert_eq!(keys, OwnershipKeys::helm("shop", "apps"));
        assert!(keys.names("shop", "apps") && !keys.names("shop", "other"));
        assert_eq!(keys.patch_to(&keys), None);
        assert_eq!(
            keys.patch_to(&OwnershipKeys::helm("store", "apps")),
            Some(json!({"metadata": {"annotations": {RELEASE_NAME_ANNOTATION: "store"}}}))
        );
        assert_eq!(
            keys.patch_to(&OwnershipKeys::default()),
            Some(
                json!({"metadata": {"labels": {MANAGED_BY_LABEL: null}, "annotations": {RELEASE_NAME_ANNOTATION: null, RELEASE_NAMESPACE_ANNOTATION: null}}})
            )
        );
        assert_eq!(OwnershipKeys::default().patch_to(&keys).unwrap()["metadata"]["labels"][MANAGED_BY_LABEL], "Helm");
    }
}
