//! Ownership over live objects: objects labelled `app.kubernetes.io/managed-by=Helm` whose annotations
//! name a release that does not contain them (or no existing release), and objects in two releases'
//! manifests (helm/helm#12683, #32218).
//!
//! One pass: every checked manifest is parsed once into an index by object (group, kind, namespace, name;
//! manifest objects without a namespace take the release namespace, cluster-scoped ones have none, as
//! discovery says), and the Helm-managed objects are read with one metadata-only LIST per resource type
//! (`live::managed`). Only objects in two manifests that lie outside what was listed (another namespace,
//! cluster-scoped under `-n`) are read one by one.
//!
//! Severities:
//! - shared-object: error. Both releases act on it: an upgrade of either takes it back from the other, and
//!   the one whose chart drops it (or that is uninstalled) deletes the object the other still ships.
//! - foreign-owner: warning. The release its annotations name does not list it, so nothing of that release
//!   deletes it; the release that lists it re-stamps it on its next upgrade, but until then Helm refuses any
//!   other install that renders it, and `adopt`/`helm --take-ownership` are needed to move it. A leftover of
//!   an uninstalled release kept on purpose (`helm.sh/resource-policy: keep`) that no release lists is info.

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, stream};

use crate::error::AppError;
use crate::live::discovery::{self, ResourceCatalog};
use crate::live::managed::{self, ManagedObject, ObjectKey};
use crate::live::targets::resolve_manifest;
use crate::ownership::{RELEASE_NAME_ANNOTATION, RELEASE_NAMESPACE_ANNOTATION};

use super::model::{Check, Finding, Fix, ReleaseManifest, ReleaseRef, Severity};

/// What the live-object checks read and judge.
pub struct LiveInput<'a> {
    pub client: &'a kube::Client,
    /// The API's resource types when the caller has them already (doctor loads them for the removed-API
    /// check); `None`: loaded here.
    pub catalog: Option<&'a ResourceCatalog>,
    /// `None`: every namespace and cluster-scoped objects (`-A`); `Some(ns)`: objects of that namespace.
    pub namespace: Option<&'a str>,
    /// The releases checked, with the manifest helm compares against on the next upgrade.
    pub releases: &'a [ReleaseManifest],
    /// Every release that exists in what was read, as (release namespace, name), checked or not: an
    /// annotation naming one of these does not name "no existing release".
    pub existing: &'a BTreeSet<(String, String)>,
    /// Release names were given: only objects that name one of `releases` or sit in their manifests
    /// are judged.
    pub named_only: bool,
}

impl LiveInput<'_> {
    /// The resource types: the caller's, or loaded now.
    pub(super) async fn catalog(&self) -> Result<std::borrow::Cow<'_, ResourceCatalog>, AppError> {
        match self.catalog {
            Some(c) => Ok(std::borrow::Cow::Borrowed(c)),
            None => discovery::load(self.client).await.map(std::borrow::Cow::Owned).map_err(|e| AppError::Kube(e.to_string())),
        }
    }
}

/// Findings of a live-object check, and what it could not read (one line each, for stderr).
#[derive(Debug, Default)]
pub struct LiveReport {
    pub findings: Vec<Finding>,
    pub warnings: Vec<String>,
}

/// Objects read one by one at once (only shared objects outside the listed scope).
const GET_CONCURRENCY: usize = 8;

pub async fn check_ownership(input: &LiveInput<'_>) -> Result<LiveReport, AppError> {
    let catalog = input.catalog().await?;
    let index = ManifestIndex::build(&catalog, input.releases);
    let listing = managed::list_helm_managed(input.client, &catalog, input.namespace).await;
    let mut report = LiveReport::default();
    if !listing.skipped.is_empty() {
        let names: Vec<String> = listing.skipped.iter().map(|(t, why)| format!("{t} ({why})")).collect();
        report.warnings.push(format!(
            "ownership: {} resource type(s) could not be listed, their Helm-managed objects were not checked: {}",
            names.len(),
            names.join(", ")
        ));
    }
    let mut live: BTreeMap<ObjectKey, ManagedObject> = listing.objects.into_iter().map(|o| (o.key.clone(), o)).collect();
    // Shared objects the listing could not see: read them, so the keeper is known.
    let outside: Vec<(&ObjectKey, &Entry)> = index
        .entries
        .iter()
        .filter(|(k, e)| e.releases.len() > 1 && !live.contains_key(*k) && !in_listed_scope(k, input.namespace))
        .collect();
    let fetched: Vec<Result<Option<ManagedObject>, String>> = stream::iter(outside)
        .map(|(key, entry)| read_one(input.client, &catalog, key, entry))
        .buffer_unordered(GET_CONCURRENCY)
        .collect()
        .await;
    for f in fetched {
        match f {
            Ok(Some(obj)) => {
                live.insert(obj.key.clone(), obj);
            }
            Ok(None) => {}
            Err(w) => report.warnings.push(w),
        }
    }
    let scope = Judged { releases: input.releases, existing: input.existing, namespace: input.namespace, named_only: input.named_only };
    report.findings = judge(&index, &scope, &live, |k| in_listed_scope(k, input.namespace));
    Ok(report)
}

/// Whether the listing covered `key`'s place.
fn in_listed_scope(key: &ObjectKey, namespace: Option<&str>) -> bool {
    match namespace {
        None => true,
        Some(ns) => key.namespace.as_deref() == Some(ns),
    }
}

async fn read_one(
    client: &kube::Client,
    catalog: &ResourceCatalog,
    key: &ObjectKey,
    entry: &Entry,
) -> Result<Option<ManagedObject>, String> {
    let res = catalog.resolve_group_kind(&key.group, &key.kind).map_err(|e| format!("ownership: {}: {e}", key.display()))?;
    let obj = crate::live::objects::get(client, res, key.namespace.as_deref(), &key.name)
        .await
        .map_err(|e| format!("ownership: cannot read {}: {}", key.display(), crate::error::describe_kube_error(&e)))?;
    Ok(obj.map(|o| {
        let ann = o.metadata.annotations.unwrap_or_default();
        ManagedObject {
            key: key.clone(),
            type_name: entry.type_name.clone(),
            release_name: ann.get(RELEASE_NAME_ANNOTATION).cloned(),
            release_namespace: ann.get(RELEASE_NAMESPACE_ANNOTATION).cloned(),
            resource_policy: ann.get(managed::RESOURCE_POLICY_ANNOTATION).cloned(),
        }
    }))
}

/// Which checked releases' manifests hold each object.
#[derive(Debug, Default)]
pub(super) struct ManifestIndex {
    pub(super) entries: BTreeMap<ObjectKey, Entry>,
}

#[derive(Debug)]
pub(super) struct Entry {
    /// kubectl's type name for `TYPE/NAME` arguments (`deployments.apps`).
    pub(super) type_name: String,
    /// Indices into the releases, each release once.
    pub(super) releases: Vec<usize>,
}

impl ManifestIndex {
    /// Each manifest parsed once. Helm 2 releases are left out (their objects carry no Helm 3 ownership
    /// keys; their Helm 3 copies are the helm2-and-helm3 check's business), and a release stored under both
    /// drivers counts once.
    pub(super) fn build(catalog: &ResourceCatalog, releases: &[ReleaseManifest]) -> ManifestIndex {
        let mut index = ManifestIndex::default();
        let mut seen: BTreeSet<(&str, &str)> = BTreeSet::new();
        for (i, r) in releases.iter().enumerate() {
            if r.release.storage.starts_with("helm2") || !seen.insert((&r.release.namespace, &r.release.name)) {
                continue;
            }
            let (targets, _unresolved) = resolve_manifest(catalog, &r.manifest, &r.release.namespace);
            for t in targets {
                let key =
                    ObjectKey { group: t.resource.group.clone(), kind: t.resource.kind.clone(), namespace: t.namespace, name: t.name };
                let entry =
                    index.entries.entry(key).or_insert_with(|| Entry { type_name: t.resource.qualified_name(), releases: Vec::new() });
                if !entry.releases.contains(&i) {
                    entry.releases.push(i);
                }
            }
        }
        index
    }
}

fn release_text(r: &ReleaseRef) -> String {
    format!("{} ({})", r.name, r.namespace)
}

/// `kubectl werf adopt` handing `key` to `to`; with `detach`, the release its annotations name stops
/// listing it (a new revision of that release, in `detach_storage`).
fn adopt_command(key: &ObjectKey, type_name: &str, to: &ReleaseRef, detach_storage: Option<&str>) -> String {
    let mut s = String::from("kubectl werf adopt");
    if let Some(ns) = &key.namespace {
        s.push_str(&format!(" -n {ns}"));
    }
    s.push_str(&format!(" {type_name}/{} --release {} --release-namespace {} --force", key.name, to.name, to.namespace));
    if let Some(storage) = detach_storage {
        s.push_str(" --detach");
        if storage == "configmap" {
            s.push_str(" --release-storage configmap");
        }
    }
    s
}

fn object_text(key: &ObjectKey) -> String {
    match &key.namespace {
        Some(ns) => format!("{}/{} in namespace {ns}", key.kind, key.name),
        None => format!("{}/{} (cluster-scoped)", key.kind, key.name),
    }
}

/// What [`judge`] needs of the [`LiveInput`] (all of it but the client).
pub(super) struct Judged<'a> {
    pub(super) releases: &'a [ReleaseManifest],
    pub(super) existing: &'a BTreeSet<(String, String)>,
    pub(super) namespace: Option<&'a str>,
    pub(super) named_only: bool,
}

/// The findings, from the index and the live objects (`listed` says which keys the live map can speak for).
pub(super) fn judge(
    index: &ManifestIndex,
    input: &Judged<'_>,
    live: &BTreeMap<ObjectKey, ManagedObject>,
    listed: impl Fn(&ObjectKey) -> bool,
) -> Vec<Finding> {
    let releases = input.releases;
    let mut findings = Vec::new();
    let find_release = |name: &str, ns: &str| releases.iter().position(|r| r.release.name == name && r.release.namespace == ns);

    // foreign-owner: annotations naming a release that does not list the object.
    for obj in live.values() {
        let Some(rn) = obj.release_name.as_deref().filter(|n| !n.is_empty()) else { continue };
        let rns = obj.release_namespace.as_deref().unwrap_or("");
        let entry = index.entries.get(&obj.key);
        let containing: &[usize] = entry.map(|e| e.releases.as_slice()).unwrap_or(&[]);
        let named = find_release(rn, rns);
        if named.is_some_and(|n| containing.iter().any(|c| releases[*c].release == releases[n].release)) {
            continue;
        }
        if input.named_only && named.is_none() && containing.is_empty() {
            continue;
        }
        let exists = named.is_some() || input.existing.contains(&(rns.to_string(), rn.to_string()));
        // A release we did not read (another namespace under -n), or one that exists but was not checked:
        // its manifest is unknown, so nothing can be said.
        if (!exists && input.namespace.is_some_and(|ns| ns != rns)) || (exists && named.is_none()) {
            continue;
        }
        let named_ref = match named {
            Some(n) => releases[n].release.clone(),
            None => ReleaseRef { name: rn.to_string(), namespace: rns.to_string(), storage: "none".into() },
        };
        let what = object_text(&obj.key);
        let mut evidence =
            vec![format!("object: {what}"), format!("annotations: {RELEASE_NAME_ANNOTATION}={rn}, {RELEASE_NAMESPACE_ANNOTATION}={rns}")];
        match named {
            Some(n) => evidence.push(format!(
                "release {} exists; revision {}'s manifest does not contain it",
                release_text(&named_ref),
                releases[n].revision
            )),
            None => evidence.push(format!("release {} does not exist", release_text(&named_ref))),
        }
        for c in containing {
            evidence.push(format!("in the manifest of release {} revision {}", release_text(&releases[*c].release), releases[*c].revision));
        }
        let keep = obj.resource_policy.as_deref() == Some("keep");
        if keep {
            evidence.push("helm.sh/resource-policy: keep".into());
        }
        let severity = if !exists && containing.is_empty() && keep { Severity::Info } else { Severity::Warning };
        let whose = if exists { "which does not contain it" } else { "which does not exist" };
        let summary = format!("{what} is annotated as release {}'s, {whose}", release_text(&named_ref));
        let (release, fix) = match containing {
            [only] => {
                let owner = releases[*only].release.clone();
                let fix = Fix::command(adopt_command(&obj.key, &obj.type_name, &owner, None)).confirming();
                (owner, fix)
            }
            [] => {
                let ns_flag = obj.key.namespace.as_ref().map(|ns| format!(" -n {ns}")).unwrap_or_default();
                let target = format!("{}/{}", obj.type_name, obj.key.name);
                (
                    named_ref,
                    Fix::advice(format!(
                        "no release lists it: delete it if it is a leftover (kubectl delete{ns_flag} {target}); keep it outside Helm by \
                         removing its ownership keys (kubectl annotate{ns_flag} {target} {RELEASE_NAME_ANNOTATION}- {RELEASE_NAMESPACE_ANNOTATION}-, \
                         kubectl label{ns_flag} {target} app.kubernetes.io/managed-by-); or put it in a release: kubectl werf adopt{ns_flag} {target} \
                         --release NAME --release-namespace NAMESPACE --force"
                    )),
                )
            }
            several => {
                let names: Vec<String> = several.iter().map(|c| release_text(&releases[*c].release)).collect();
                (
                    releases[several[0]].release.clone(),
                    Fix::advice(format!(
                        "it is in the manifests of {} (see the shared-object finding): adopt it into the one that should own it with \
                         `kubectl werf adopt{} {}/{} --release NAME --release-namespace NAMESPACE --force --detach`",
                        names.join(" and "),
                        obj.key.namespace.as_ref().map(|ns| format!(" -n {ns}")).unwrap_or_default(),
                        obj.type_name,
                        obj.key.name
                    )),
                )
            }
        };
        findings.push(Finding { release, check: Check::ForeignOwner, severity, summary, evidence, fix });
    }

    // shared-object: one object in two releases' manifests.
    for (key, entry) in &index.entries {
        if entry.releases.len() < 2 {
            continue;
        }
        let what = object_text(key);
        let mut evidence = vec![format!("object: {what}")];
        for c in &entry.releases {
            evidence.push(format!("in the manifest of release {} revision {}", release_text(&releases[*c].release), releases[*c].revision));
        }
        let obj = live.get(key);
        let keeper = obj.and_then(|o| {
            let (rn, rns) = (o.release_name.as_deref()?, o.release_namespace.as_deref().unwrap_or(""));
            entry.releases.iter().copied().find(|c| releases[*c].release.name == rn && releases[*c].release.namespace == rns)
        });
        match obj {
            Some(o) => evidence.push(format!(
                "live annotations: {RELEASE_NAME_ANNOTATION}={}, {RELEASE_NAMESPACE_ANNOTATION}={}",
                o.release_name.as_deref().unwrap_or("<none>"),
                o.release_namespace.as_deref().unwrap_or("<none>")
            )),
            None if listed(key) => evidence.push("not live, or not labelled app.kubernetes.io/managed-by=Helm".into()),
            None => evidence.push("not live".into()),
        }
        match keeper {
            Some(k) => {
                let keeper_ref = &releases[k].release;
                for other in entry.releases.iter().copied().filter(|c| *c != k) {
                    let other_ref = &releases[other].release;
                    let summary = format!(
                        "{what} belongs to release {} (its annotations) but release {}'s manifest lists it too: {}'s next upgrade takes it \
                         back, or deletes it when its chart drops it, and uninstalling {} deletes it",
                        release_text(keeper_ref),
                        release_text(other_ref),
                        other_ref.name,
                        other_ref.name
                    );
                    // adopt --detach removes an object only from the release its annotations name: hand it to the
                    // other release first, then back to the keeper, detaching it from the other.
                    let command = format!(
                        "{} && {}",
                        adopt_command(key, &entry.type_name, other_ref, None),
                        adopt_command(key, &entry.type_name, keeper_ref, Some(&other_ref.storage))
                    );
                    let advice = format!(
                        "this keeps it in {} and writes a new revision of {} without it (backed up first); then remove it from {}'s \
                         chart, or Helm refuses {}'s next upgrade. To give it to {} instead: {}",
                        keeper_ref.name,
                        other_ref.name,
                        other_ref.name,
                        other_ref.name,
                        other_ref.name,
                        adopt_command(key, &entry.type_name, other_ref, Some(&keeper_ref.storage))
                    );
                    findings.push(Finding {
                        release: other_ref.clone(),
                        check: Check::SharedObject,
                        severity: Severity::Error,
                        summary,
                        evidence: evidence.clone(),
                        fix: Fix::both(command, advice).confirming(),
                    });
                }
            }
            None => {
                let first = &releases[entry.releases[0]].release;
                let names: Vec<String> = entry.releases.iter().map(|c| releases[*c].release.name.clone()).collect();
                let summary = format!(
                    "{what} is in the manifests of releases {}: whichever drops it or is uninstalled deletes it",
                    names.join(" and ")
                );
                let fix = Fix::advice(format!(
                    "decide which release owns it and remove it from the other charts; `kubectl werf adopt{} {}/{} --release NAME \
                     --release-namespace NAMESPACE --force` stamps it for the owner, and run again with --detach once it names a release, \
                     to remove it from that release's stored manifest",
                    key.namespace.as_ref().map(|ns| format!(" -n {ns}")).unwrap_or_default(),
                    entry.type_name,
                    key.name
                ));
                findings.push(Finding {
                    release: first.clone(),
                    check: Check::SharedObject,
                    severity: Severity::Error,
                    summary,
                    evidence,
                    fix,
                });
            }
        }
    }
    findings
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

    fn rel(name: &str, ns: &str, manifest: &str) -> ReleaseManifest {
        ReleaseManifest {
            release: ReleaseRef { name: name.into(), namespace: ns.into(), storage: "secret".into() },
            revision: 1,
            manifest: manifest.into(),
        }
    }

    fn cm(name: &str) -> String {
        format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n")
    }

    fn live_cm(ns: &str, name: &str, owner: Option<(&str, &str)>) -> ManagedObject {
        ManagedObject {
            key: ObjectKey { group: String::new(), kind: "ConfigMap".into(), namespace: Some(ns.into()), name: name.into() },
            type_name: "configmaps".into(),
            release_name: owner.map(|o| o.0.to_string()),
            release_namespace: owner.map(|o| o.1.to_string()),
            resource_policy: None,
        }
    }

    fn run(
        releases: &[ReleaseManifest],
        existing: &[(&str, &str)],
        live: Vec<ManagedObject>,
        namespace: Option<&str>,
        named_only: bool,
    ) -> Vec<Finding> {
        let existing: BTreeSet<(String, String)> = existing.iter().map(|(ns, n)| (ns.to_string(), n.to_string())).collect();
        let index = ManifestIndex::build(&catalog(), releases);
        let live: BTreeMap<ObjectKey, ManagedObject> = live.into_iter().map(|o| (o.key.clone(), o)).collect();
        let input = Judged { releases, existing: &existing, namespace, named_only };
        judge(&index, &input, &live, |k| in_listed_scope(k, namespace))
    }

    #[test]
    fn index_keys_take_the_release_namespace_and_discovery_scope() {
        let m = format!(
            "{}---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  namespace: other\n",
            cm("a")
        );
        let both = [rel("x", "ns", &m), rel("x", "ns", &m)];
        let index = ManifestIndex::build(&catalog(), &both);
        let keys: Vec<String> = index.entries.keys().map(ObjectKey::display).collect();
        assert_eq!(keys, ["ConfigMap/a (ns)", "ConfigMap/b (other)", "ClusterRole/reader"]);
        // The same release under both drivers is one release, not a shared object.
        assert!(index.entries.values().all(|e| e.releases.len() == 1));
    }

    #[test]
    fn clean_when_annotations_name_the_release_that_lists_it() {
        let releases = [rel("a", "ns", &cm("x")), rel("b", "ns", &cm("cy"))];
        let live = vec![live_cm("ns", "x", Some(("a", "ns"))), live_cm("ns", "cy", Some(("b", "ns")))];
        assert!(run(&releases, &[("ns", "a"), ("ns", "b")], live, Some("ns"), false).is_empty());
    }

    #[test]
    fn foreign_owner_gets_an_adopt_into_the_release_that_lists_it() {
        let releases = [rel("a", "ns", &cm("x")), rel("b", "ns", &cm("cy"))];
        let live = vec![live_cm("ns", "x", Some(("b", "ns"))), live_cm("ns", "cy", Some(("b", "ns")))];
        let f = run(&releases, &[("ns", "a"), ("ns", "b")], live, Some("ns"), false);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].check, Check::ForeignOwner);
        assert_eq!(f[0].severity, Severity::Warning);
        assert_eq!(f[0].release.name, "a");
        assert_eq!(f[0].fix.command.as_deref(), Some("kubectl werf adopt -n ns configmaps/x --release a --release-namespace ns --force"));
        assert!(
            f[0].evidence.iter().any(|e| e.contains("release b (ns) exists; revision 1's manifest does not contain it")),
            "{:?}",
            f[0].evidence
        );
    }

    #[test]
    fn annotations_naming_no_release() {
        let releases = [rel("a", "ns", &cm("x"))];
        let mut kept = live_cm("ns", "old", Some(("gone", "ns")));
        kept.resource_policy = Some("keep".into());
        let live = vec![live_cm("ns", "x", Some(("a", "ns"))), live_cm("ns", "stale", Some(("gone", "ns"))), kept];
        let f = run(&releases, &[("ns", "a")], live.clone(), Some("ns"), false);
        assert_eq!(f.len(), 2, "{f:?}");
        let by_name = |n: &str| f.iter().find(|x| x.summary.contains(&format!("ConfigMap/{n} "))).unwrap();
        assert_eq!(by_name("stale").severity, Severity::Warning);
        assert_eq!(by_name("old").severity, Severity::Info);
        assert!(by_name("stale").fix.command.is_none());
        assert!(by_name("stale").fix.advice.as_deref().unwrap().contains("kubectl delete -n ns configmaps/stale"));
        assert_eq!(by_name("stale").release.storage, "none");
        // Named releases only: objects that neither name nor sit in them are not judged.
        assert!(run(&releases, &[("ns", "a")], live.clone(), Some("ns"), true).is_empty());
        // A release in a namespace that was not read is not "missing".
        let other = vec![live_cm("ns", "z", Some(("elsewhere", "other-ns")))];
        assert!(run(&releases, &[("ns", "a")], other.clone(), Some("ns"), false).is_empty());
        assert_eq!(run(&releases, &[("ns", "a")], other, None, false).len(), 1);
    }

    #[test]
    fn existing_but_unchecked_releases_are_not_judged() {
        let releases = [rel("a", "ns", &cm("x"))];
        let live = vec![live_cm("ns", "cy", Some(("b", "ns")))];
        assert!(run(&releases, &[("ns", "a"), ("ns", "b")], live, Some("ns"), false).is_empty());
    }

    #[test]
    fn shared_object_keeps_it_with_the_release_its_annotations_name() {
        let releases = [rel("a", "ns", &cm("x")), rel("b", "ns", &format!("{}{}", cm("x"), cm("cy")))];
        let live = vec![live_cm("ns", "x", Some(("a", "ns"))), live_cm("ns", "cy", Some(("b", "ns")))];
        let f = run(&releases, &[("ns", "a"), ("ns", "b")], live, Some("ns"), false);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].check, f[0].severity, f[0].release.name.as_str()), (Check::SharedObject, Severity::Error, "b"));
        assert_eq!(
            f[0].fix.command.as_deref(),
            Some(
                "kubectl werf adopt -n ns configmaps/x --release b --release-namespace ns --force && \
                 kubectl werf adopt -n ns configmaps/x --release a --release-namespace ns --force --detach"
            )
        );
        // Not live: still shared, advice only.
        let f = run(&releases, &[("ns", "a"), ("ns", "b")], Vec::new(), Some("ns"), false);
        assert_eq!(f.len(), 1);
        assert!(f[0].fix.command.is_none());
        assert!(f[0].evidence.iter().any(|e| e.starts_with("not live")));
    }
}
