//! The scan engine: which objects of stored releases use API versions this cluster does not serve (or
//! that Kubernetes removed by a target version). A library function: `releases apis` prints it and fixes
//! what it finds, `migrate2to3` asks it about migrated releases, and other verbs may call [`scan`] too.
//!
//! What is read, and why it is cheap:
//! - Every storage at once: Helm 3/4 records of both drivers (Secrets and ConfigMaps, `owner=helm`),
//!   and Helm 2 records (Tiller's namespace, or every namespace with `-A`).
//! - One metadata-only LIST per storage gives every record's labels (release, revision, status); the
//!   revisions helm reads are chosen from them: the latest (upgrade and rollback build it), the last
//!   deployed (upgrade diffs against it) and any pending one; with `all_revisions`, every revision.
//!   A release's records are fetched as soon as the listing has passed them (LISTs come in key order;
//!   a final check covers servers that do not), 16 GETs in flight, each decoded and scanned on
//!   whichever core is free. Only the manifest and hooks are decoded, never chart templates.
//! - Manifests and hooks are parsed as YAML documents; each object is checked against discovery (CRDs
//!   included) and the table of removed APIs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::StreamExt;
use serde::Serialize;

use super::super::collect::Generation;
use super::super::view;
use crate::live::ResourceCatalog;
use crate::release::apis::{self, BadDocument, FoundObject, KubeVersion, RemovedApi, TextPlace};
use crate::storage::RecordError;
use crate::storage::codec::{self, DecodeLimits, HELM2_LIST_SELECTOR, HELM3_LIST_SELECTOR};
use crate::storage::objects::{META_PAGE, ObjectInfo, ObjectKind, ObjectStore};
use crate::storage::texts::{self, ReleaseTexts};

/// GETs in flight at once.
pub const FETCH_CONCURRENCY: usize = 16;

/// What to scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// The namespace of Helm 3 releases (and of Helm 2 releases' payloads); `None`: every namespace.
    pub namespace: Option<String>,
    /// Only releases of these names (empty: every release).
    pub names: Vec<String>,
    pub helm3: bool,
    pub helm2: bool,
    /// Tiller's namespace (read when `namespace` is set; with `None` every namespace is read).
    pub helm2_namespace: String,
    pub helm2_kinds: Vec<ObjectKind>,
    /// Every revision, not only the ones helm reads.
    pub all_revisions: bool,
    /// Rows of the table removed by this version count as removed.
    pub target: KubeVersion,
    pub limits: DecodeLimits,
}

/// The API versions and kinds this cluster serves (discovery, CRDs included).
pub struct ServedApis {
    catalog: ResourceCatalog,
}

impl ServedApis {
    pub fn new(catalog: ResourceCatalog) -> Self {
        ServedApis { catalog }
    }

    pub fn serves(&self, api_version: &str, kind: &str) -> bool {
        self.catalog.resolve_gvk(api_version, kind).is_ok()
    }

    pub fn catalog(&self) -> &ResourceCatalog {
        &self.catalog
    }
}

/// Why helm reads a revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The newest revision: upgrade and rollback build its manifest.
    Latest,
    /// The newest deployed revision: upgrade diffs against it.
    LastDeployed,
    /// An operation in flight.
    Pending,
    /// Read only with `--all-revisions` (a rollback target).
    Older,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Latest => "latest",
            Role::LastDeployed => "deployed",
            Role::Pending => "pending",
            Role::Older => "older",
        }
    }
}

/// What is wrong with an object's apiVersion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApiProblem {
    /// Removed by the target version (the table says so).
    Removed,
    /// Not in the table, and this cluster does not serve it (a CRD that is not installed, a typo).
    NotServed,
    /// In the table, but removed only after the target version (and served here): upgrade soon.
    RemovedLater,
}

impl ApiProblem {
    /// Helm cannot build an object with this problem (upgrade and rollback fail).
    pub fn blocks(self) -> bool {
        matches!(self, ApiProblem::Removed | ApiProblem::NotServed)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ApiProblem::Removed => "removed",
            ApiProblem::NotServed => "not-served",
            ApiProblem::RemovedLater => "removed-later",
        }
    }
}

/// One object of a stored revision worth reporting.
#[derive(Debug, Clone)]
pub struct Finding {
    pub object: FoundObject,
    pub served: bool,
    pub row: Option<&'static RemovedApi>,
    pub problem: ApiProblem,
}

/// One stored revision that was read.
#[derive(Debug, Clone)]
pub struct RevisionScan {
    pub revision: i64,
    /// The payload's status, in Helm 3's words (Tiller's `DEPLOYED` is `deployed`).
    pub status: String,
    pub roles: Vec<Role>,
    pub object: ObjectInfo,
    pub findings: Vec<Finding>,
    /// Documents that are not objects helm can build.
    pub bad_documents: Vec<BadDocument>,
    /// Objects in manifest and hooks together.
    pub objects: usize,
}

impl RevisionScan {
    pub fn blocking(&self) -> bool {
        self.findings.iter().any(|f| f.problem.blocks())
    }

    pub fn read_by_helm(&self) -> bool {
        self.roles.iter().any(|r| *r != Role::Older)
    }
}

/// A stored revision known from the listing (labels only).
#[derive(Debug, Clone)]
pub struct Listed {
    pub revision: i64,
    /// The status label, in Helm 3's words; `None` without one.
    pub status: Option<String>,
    pub object: ObjectInfo,
}

/// One release and the revisions of it that were read.
#[derive(Debug, Clone)]
pub struct ReleaseScan {
    pub generation: Generation,
    pub name: String,
    /// The release namespace (the payload's).
    pub namespace: String,
    /// Where the records are (Tiller's namespace for Helm 2).
    pub object_namespace: String,
    pub kind: ObjectKind,
    /// Every revision in storage, oldest first, from the labels.
    pub listed: Vec<Listed>,
    /// The revisions read, oldest first.
    pub revisions: Vec<RevisionScan>,
}

impl ReleaseScan {
    /// `secret`, `configmap`, `helm2/configmap`, `helm2/secret`.
    pub fn storage(&self) -> &'static str {
        match (self.generation, self.kind) {
            (Generation::Helm3, ObjectKind::Secret) => "secret",
            (Generation::Helm3, ObjectKind::ConfigMap) => "configmap",
            (Generation::Helm2, k) => crate::storage::helm2::storage_name(k),
        }
    }

    pub fn latest(&self) -> Option<i64> {
        self.listed.iter().map(|l| l.revision).max()
    }

    pub fn last_deployed(&self) -> Option<i64> {
        self.listed.iter().filter(|l| l.status.as_deref() == Some("deployed")).map(|l| l.revision).max()
    }

    /// A revision helm reads holds an object helm cannot build: upgrade (and rollback) fail.
    pub fn blocked(&self) -> bool {
        self.revisions.iter().any(|r| r.read_by_helm() && r.blocking())
    }

    /// Any read revision holds a blocking object (with `all_revisions`: rollback targets too).
    pub fn blocked_anywhere(&self) -> bool {
        self.revisions.iter().any(RevisionScan::blocking)
    }

    pub fn has_findings(&self) -> bool {
        self.revisions.iter().any(|r| !r.findings.is_empty())
    }
}

/// Everything a scan found.
#[derive(Debug, Default)]
pub struct ScanReport {
    /// Every release read, with or without findings, ordered by generation, namespace and name.
    pub releases: Vec<ReleaseScan>,
    /// Records that could not be read.
    pub errors: Vec<RecordError>,
    pub warnings: Vec<String>,
}

/// Why a scan could not be done at all.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot list {what}: {}", crate::error::describe_kube_error(.source))]
    List { what: String, source: kube::Error },
}

impl ScanError {
    pub fn is_forbidden(&self) -> bool {
        matches!(self, ScanError::List { source: kube::Error::Api(s), .. } if s.code == 403)
    }
}

/// The objects of one stored revision, as found.
fn judge(found: Vec<FoundObject>, served: &ServedApis, target: KubeVersion) -> Vec<Finding> {
    found
        .into_iter()
        .filter_map(|object| {
            let row = apis::lookup(&object.api_version, &object.kind);
            let is_served = served.serves(&object.api_version, &object.kind);
            let problem = match row {
                Some(r) if r.removed_by(target) => ApiProblem::Removed,
                _ if !is_served => ApiProblem::NotServed,
                Some(_) => ApiProblem::RemovedLater,
                None => return None,
            };
            Some(Finding { object, served: is_served, row, problem })
        })
        .collect()
}

// ---- decoding only what the scan needs ----

fn decode_texts(generation: Generation, payload: &[u8], limits: &DecodeLimits) -> Result<ReleaseTexts, codec::CodecError> {
    match generation {
        Generation::Helm3 => texts::helm3_texts(payload, limits),
        Generation::Helm2 => texts::helm2_texts(payload, limits),
    }
}

/// Scan the texts of one revision.
pub fn scan_texts(
    manifest: &str,
    hooks: &[(String, String)],
    served: &ServedApis,
    target: KubeVersion,
) -> (Vec<Finding>, Vec<BadDocument>, usize) {
    let (mut found, mut bad) = apis::find_objects(manifest, TextPlace::Manifest, None);
    for (name, text) in hooks {
        let (f, b) = apis::find_objects(text, TextPlace::Hook, Some(name));
        found.extend(f);
        bad.extend(b);
    }
    let total = found.len();
    (judge(found, served, target), bad, total)
}

// ---- listing and fetching ----

#[derive(Clone)]
struct ScanSource {
    store: ObjectStore,
    scope: Option<String>,
    generation: Generation,
}

type Key = (String, String);

struct Fetched {
    key: Key,
    /// The revision the name or labels gave.
    listed_revision: i64,
    /// Payload identity, when it disagrees with the key.
    payload_name: String,
    payload_namespace: String,
    scan: RevisionScan,
}

impl ScanSource {
    fn what(&self) -> String {
        let kind = self.store.kind().resource();
        let generation = match self.generation {
            Generation::Helm3 => "Helm 3",
            Generation::Helm2 => "Helm 2",
        };
        match &self.scope {
            Some(ns) => format!("{generation} release {kind} in namespace {ns}"),
            None => format!("{generation} release {kind} in all namespaces"),
        }
    }

    fn selector(&self) -> &'static str {
        match self.generation {
            Generation::Helm3 => HELM3_LIST_SELECTOR,
            Generation::Helm2 => HELM2_LIST_SELECTOR,
        }
    }

    /// (release, revision) from the object name, else from the labels.
    fn identify(&self, info: &ObjectInfo) -> Option<(String, i64)> {
        match self.generation {
            Generation::Helm3 => codec::parse_helm3_object_name(&info.name).map(|(n, v)| (n.to_string(), v)).or_else(|| {
                let l = codec::parse_helm3_labels(&info.labels);
                Some((l.name?, l.version?))
            }),
            Generation::Helm2 => codec::parse_helm2_object_name(&info.name).map(|(n, v)| (n.to_string(), i64::from(v))).or_else(|| {
                let l = codec::parse_helm2_labels(&info.labels);
                Some((l.name?, i64::from(l.version?)))
            }),
        }
    }

    /// The status label in Helm 3's words.
    fn status_label(&self, info: &ObjectInfo) -> Option<String> {
        match self.generation {
            Generation::Helm3 => info.labels.get("status").cloned(),
            Generation::Helm2 => info
                .labels
                .get("STATUS")
                .and_then(|s| crate::release::helm2::status_code_from_name(s))
                .map(|c| view::helm2_status(c as i32).as_str().to_string()),
        }
    }
}

/// Which revisions of one release to read, with why. Records without a status label are read too.
pub fn choose(listed: &[Listed], all_revisions: bool) -> BTreeMap<i64, Vec<Role>> {
    let mut out: BTreeMap<i64, Vec<Role>> = BTreeMap::new();
    let latest = listed.iter().map(|l| l.revision).max();
    let deployed = listed.iter().filter(|l| l.status.as_deref() == Some("deployed")).map(|l| l.revision).max();
    for l in listed {
        let mut roles = Vec::new();
        if Some(l.revision) == latest {
            roles.push(Role::Latest);
        }
        if Some(l.revision) == deployed {
            roles.push(Role::LastDeployed);
        }
        if l.status.as_deref().is_some_and(|s| s.starts_with("pending")) {
            roles.push(Role::Pending);
        }
        if roles.is_empty() && (all_revisions || l.status.is_none()) {
            roles.push(Role::Older);
        }
        if !roles.is_empty() {
            out.entry(l.revision).or_default().extend(roles);
        }
    }
    out
}

/// `namespace/name`: the order a LIST returns objects in.
fn storage_key(info: &ObjectInfo) -> String {
    format!("{}/{}", info.namespace, info.name)
}

/// The smallest storage key after every record of `info`'s release (`:` sorts right after `9`).
fn records_end(info: &ObjectInfo) -> String {
    format!("{}/{}:", info.namespace, info.name.trim_end_matches(|c: char| c.is_ascii_digit()))
}

#[derive(Default)]
struct Groups {
    listed: BTreeMap<Key, Vec<Listed>>,
    /// Releases not dispatched yet, with the key past which none of their records can be listed.
    open: BTreeMap<Key, String>,
    /// Revisions already sent to be read, per release.
    sent: BTreeMap<Key, BTreeSet<i64>>,
}

impl Groups {
    fn take(&mut self, key: &Key, all_revisions: bool) -> Vec<(Key, i64, Vec<Role>, ObjectInfo)> {
        self.open.remove(key);
        let Some(listed) = self.listed.get(key) else { return Vec::new() };
        let sent = self.sent.entry(key.clone()).or_default();
        let mut out = Vec::new();
        for (rev, roles) in choose(listed, all_revisions) {
            if sent.insert(rev)
                && let Some(l) = listed.iter().find(|l| l.revision == rev)
            {
                out.push((key.clone(), rev, roles, l.object.clone()));
            }
        }
        out
    }
}

async fn scan_source(
    source: ScanSource,
    opts: Arc<ScanOptions>,
    served: Arc<ServedApis>,
) -> Result<(BTreeMap<Key, Vec<Listed>>, Vec<Fetched>, Vec<RecordError>, Vec<String>), ScanError> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Key, i64, Vec<Role>, ObjectInfo)>();
    let incoming = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let fetch = {
        let source = source.clone();
        let opts = opts.clone();
        let served = served.clone();
        incoming
            .map(move |(key, revision, roles, info)| {
                let source = source.clone();
                let opts = opts.clone();
                let served = served.clone();
                let task = tokio::spawn(async move { fetch_one(&source, &opts, &served, key, revision, roles, info).await });
                async move { task.await.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())) }
            })
            .buffer_unordered(FETCH_CONCURRENCY)
            .collect::<Vec<_>>()
    };
    let list = async {
        let send = |items: Vec<(Key, i64, Vec<Role>, ObjectInfo)>| items.into_iter().for_each(|i| drop(tx.send(i)));
        let mut groups = Groups::default();
        let mut warnings = Vec::new();
        let mut cursor: Option<crate::storage::objects::Cursor> = None;
        loop {
            let page = source
                .store
                .list_meta_page(source.scope.as_deref(), source.selector(), META_PAGE, cursor.as_ref())
                .await
                .map_err(|e| ScanError::List { what: source.what(), source: e })?;
            let last = page.items.last().map(storage_key);
            for info in page.items {
                let Some((name, revision)) = source.identify(&info) else {
                    warnings
                        .push(format!("{}: neither its name nor its labels say which release and revision it is; not read", info.key()));
                    continue;
                };
                if !opts.names.is_empty() && !opts.names.contains(&name) {
                    continue;
                }
                let key = (info.namespace.clone(), name);
                if !groups.sent.contains_key(&key) {
                    groups.open.entry(key.clone()).or_insert_with(|| records_end(&info));
                }
                let status = source.status_label(&info);
                groups.listed.entry(key).or_default().push(Listed { revision, status, object: info });
            }
            match page.next {
                Some(t) => {
                    if let Some(last) = last {
                        let done: Vec<Key> =
                            groups.open.iter().filter(|(_, end)| end.as_str() < last.as_str()).map(|(k, _)| k.clone()).collect();
                        for k in done {
                            send(groups.take(&k, opts.all_revisions));
                        }
                    }
                    cursor = Some(t);
                }
                None => break,
            }
        }
        // Everything not dispatched yet, and whatever a server listing out of key order changed.
        let keys: Vec<Key> = groups.listed.keys().cloned().collect();
        for k in keys {
            send(groups.take(&k, opts.all_revisions));
        }
        drop(tx);
        Ok::<_, ScanError>((groups.listed, warnings))
    };
    let (listed, fetched) = tokio::join!(list, fetch);
    let (mut listed, mut warnings) = listed?;
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for f in fetched {
        match f {
            Ok(Some(f)) => out.push(f),
            Ok(None) => {}
            Err(FetchError::Record(e)) => errors.push(e),
            Err(FetchError::Kube(what, e)) => errors.push(RecordError {
                kind: source.store.kind(),
                namespace: what.0,
                object: what.1,
                reason: crate::error::describe_kube_error(&e),
            }),
        }
    }
    for l in listed.values_mut() {
        l.sort_by_key(|l| l.revision);
    }
    for f in &out {
        if f.payload_name != f.key.1 || f.scan.revision != f.listed_revision {
            warnings.push(format!(
                "{}: named as {} revision {} but the payload is release {:?} revision {}",
                f.scan.object.key(),
                f.key.1,
                f.listed_revision,
                f.payload_name,
                f.scan.revision
            ));
        }
    }
    Ok((listed, out, errors, warnings))
}

enum FetchError {
    Record(RecordError),
    Kube((String, String), kube::Error),
}

async fn fetch_one(
    source: &ScanSource,
    opts: &ScanOptions,
    served: &ServedApis,
    key: Key,
    revision: i64,
    roles: Vec<Role>,
    info: ObjectInfo,
) -> Result<Option<Fetched>, FetchError> {
    let raw = match source.store.get(&info.namespace, &info.name).await {
        Ok(Some(raw)) => raw,
        // Deleted since it was listed: simply gone.
        Ok(None) => return Ok(None),
        Err(e) => return Err(FetchError::Kube((info.namespace.clone(), info.name.clone()), e)),
    };
    let payload = raw.payload.as_deref().ok_or_else(|| FetchError::Record(RecordError::new(&raw.info, codec::CodecError::MissingData)))?;
    let texts = decode_texts(source.generation, payload, &opts.limits).map_err(|e| FetchError::Record(RecordError::new(&raw.info, e)))?;
    let (findings, bad_documents, objects) = scan_texts(&texts.manifest, &texts.hooks, served, opts.target);
    Ok(Some(Fetched {
        key,
        listed_revision: revision,
        payload_name: texts.name,
        payload_namespace: texts.namespace,
        scan: RevisionScan { revision: texts.revision, status: texts.status, roles, object: raw.info, findings, bad_documents, objects },
    }))
}

/// Scan release storage as `opts` says.
pub async fn scan(client: &kube::Client, opts: &ScanOptions, served: Arc<ServedApis>) -> Result<ScanReport, ScanError> {
    let opts = Arc::new(opts.clone());
    let mut sources = Vec::new();
    if opts.helm3 {
        for kind in [ObjectKind::Secret, ObjectKind::ConfigMap] {
            sources.push(ScanSource {
                store: ObjectStore::new(client.clone(), kind),
                scope: opts.namespace.clone(),
                generation: Generation::Helm3,
            });
        }
    }
    if opts.helm2 {
        for kind in &opts.helm2_kinds {
            let scope = opts.namespace.as_ref().map(|_| opts.helm2_namespace.clone());
            sources.push(ScanSource { store: ObjectStore::new(client.clone(), *kind), scope, generation: Generation::Helm2 });
        }
    }
    let results = futures::future::join_all(sources.iter().map(|s| scan_source(s.clone(), opts.clone(), served.clone()))).await;
    let mut report = ScanReport::default();
    for (source, result) in sources.iter().zip(results) {
        let (listed, fetched, errors, warnings) = match result {
            Ok(r) => r,
            Err(e) if source.generation == Generation::Helm2 && opts.helm3 && e.is_forbidden() => {
                report.warnings.push(format!("{e}; Helm 2 releases there were not scanned"));
                continue;
            }
            Err(e) => return Err(e),
        };
        report.errors.extend(errors);
        report.warnings.extend(warnings);
        let mut by_key: BTreeMap<Key, Vec<Fetched>> = BTreeMap::new();
        for f in fetched {
            by_key.entry(f.key.clone()).or_default().push(f);
        }
        for (key, listed) in listed {
            let mut fetched = by_key.remove(&key).unwrap_or_default();
            fetched.sort_by_key(|f| f.scan.revision);
            let namespace = match source.generation {
                Generation::Helm3 => key.0.clone(),
                Generation::Helm2 => fetched.last().map(|f| f.payload_namespace.clone()).unwrap_or_default(),
            };
            if source.generation == Generation::Helm2
                && let Some(ns) = &opts.namespace
                && namespace != *ns
            {
                // Tiller keeps every release in its own namespace: only this namespace's are asked for.
                continue;
            }
            report.releases.push(ReleaseScan {
                generation: source.generation,
                name: key.1.clone(),
                namespace,
                object_namespace: key.0.clone(),
                kind: source.store.kind(),
                listed,
                revisions: fetched.into_iter().map(|f| f.scan).collect(),
            });
        }
    }
    report.releases.sort_by(|a, b| (a.generation, &a.namespace, &a.name, a.kind).cmp(&(b.generation, &b.namespace, &b.name, b.kind)));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(revs: &[(i64, Option<&str>)]) -> Vec<Listed> {
        revs.iter()
            .map(|(r, s)| Listed {
                revision: *r,
                status: s.map(String::from),
                object: ObjectInfo {
                    kind: ObjectKind::Secret,
                    namespace: "n".into(),
                    name: codec::helm3_object_name("a", *r),
                    labels: Default::default(),
                    resource_version: None,
                    uid: None,
                    creation_timestamp: None,
                    secret_type: None,
                },
            })
            .collect()
    }

    #[test]
    fn helm_reads_the_latest_the_last_deployed_and_pending_ones() {
        let l = listed(&[(1, Some("superseded")), (2, Some("deployed")), (3, Some("failed"))]);
        let c = choose(&l, false);
        assert_eq!(c, BTreeMap::from([(2, vec![Role::LastDeployed]), (3, vec![Role::Latest])]));
        let l = listed(&[(1, Some("deployed")), (2, Some("pending-upgrade"))]);
        assert_eq!(choose(&l, false), BTreeMap::from([(1, vec![Role::LastDeployed]), (2, vec![Role::Latest, Role::Pending])]));
        let l = listed(&[(1, Some("superseded")), (2, None), (3, Some("deployed"))]);
        assert_eq!(choose(&l, false), BTreeMap::from([(2, vec![Role::Older]), (3, vec![Role::Latest, Role::LastDeployed])]));
        let l = listed(&[(1, Some("superseded")), (2, Some("deployed"))]);
        assert_eq!(choose(&l, true).len(), 2);
    }

    #[test]
    fn problems() {
        // The Widget CRD installed: its kind is served, ServiceMonitor (no CRD) is not.
        let catalog = ResourceCatalog::from_aggregated_json(
            include_str!("../../../../fixtures/apiserver-1.36/discovery/aggregated_api.json"),
            include_str!("../../../../fixtures/apiserver-1.36/discovery-with-widget-crd/aggregated_apis.json"),
        )
        .unwrap();
        let served = ServedApis::new(catalog);
        let manifest = "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n---\napiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: c}\n---\napiVersion: shop.example.com/v1\nkind: Widget\nmetadata: {name: d}\n";
        let hooks = vec![(
            "h".to_string(),
            "apiVersion: flowcontrol.apiserver.k8s.io/v1beta3\nkind: FlowSchema\nmetadata: {name: e}\n".to_string(),
        )];
        let (f, bad, total) = scan_texts(manifest, &hooks, &served, KubeVersion::new(1, 36));
        assert_eq!((total, bad.len()), (5, 0));
        let got: Vec<(&str, ApiProblem, bool)> = f.iter().map(|f| (f.object.name.as_str(), f.problem, f.served)).collect();
        assert_eq!(got, vec![("a", ApiProblem::Removed, false), ("c", ApiProblem::NotServed, false), ("e", ApiProblem::Removed, false)]);
        assert_eq!(f[2].object.place, TextPlace::Hook);
        // For a cluster not yet at 1.32, v1beta3 is still to come; it is not served here though.
        let (f, _, _) = scan_texts(manifest, &hooks, &served, KubeVersion::new(1, 24));
        let got: Vec<(&str, ApiProblem)> = f.iter().map(|f| (f.object.name.as_str(), f.problem)).collect();
        assert_eq!(got, vec![("a", ApiProblem::NotServed), ("c", ApiProblem::NotServed), ("e", ApiProblem::NotServed)]);
    }
}
