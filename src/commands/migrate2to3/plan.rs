//! The plan: what each release and revision becomes, and why anything would stop it. Reads only.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::api::Api;
use serde::Serialize;
use serde_json::Value;

use crate::error::{AppError, describe_kube_error};
use crate::live::ResourceCatalog;
use crate::live::objects;
use crate::live::targets::{Target, Unresolved, resolve_manifest};
use crate::ownership::{self, Ownership};
use crate::release::convert::{ConversionNote, ConvertOptions, convert};
use crate::storage::codec::{self, DecodeLimits, LabelStamp, parse_helm2_object_name, parse_helm3_labels};
use crate::storage::{Helm2Record, Helm2Store, Helm3Store, NewObject, ObjectInfo, RecordError};

use super::compare::{Sameness, compare};

/// The API server's limit on the data of one Secret or ConfigMap.
pub const MAX_DATA_BYTES: usize = 1_048_576;

/// Which releases the user named.
pub enum Selection {
    All,
    Names(Vec<String>),
}

/// Everything Helm 2 storage holds for one release name.
pub struct V2Release {
    pub name: String,
    /// Decoded records, oldest first (a revision stored both as ConfigMap and Secret appears twice).
    pub records: Vec<Helm2Record>,
    /// Records of this release that could not be decoded.
    pub errors: Vec<RecordError>,
}

/// Read the selected releases from Helm 2 storage. Warnings (labels disagreeing with payloads, releases
/// stored both ways) are returned for the report.
pub async fn gather(h2: &Helm2Store, selection: &Selection) -> Result<(Vec<V2Release>, Vec<String>), AppError> {
    let mut warnings = Vec::new();
    let mut by_name: BTreeMap<String, V2Release> = BTreeMap::new();
    match selection {
        Selection::All => {
            let listing = h2.list(None).await.map_err(|e| read_error(h2, &e))?;
            warnings.extend(listing.warnings);
            for r in listing.records {
                let name = r.release.name.clone();
                by_name.entry(name.clone()).or_insert_with(|| V2Release { name, records: Vec::new(), errors: Vec::new() }).records.push(r);
            }
            for e in listing.errors {
                let name = parse_helm2_object_name(&e.object).map(|(n, _)| n.to_string()).unwrap_or_else(|| e.object.clone());
                by_name.entry(name.clone()).or_insert_with(|| V2Release { name, records: Vec::new(), errors: Vec::new() }).errors.push(e);
            }
        }
        Selection::Names(names) => {
            for name in names {
                let listing = h2.history(name).await.map_err(|e| read_error(h2, &e))?;
                warnings.extend(listing.warnings);
                let rel = by_name.entry(name.clone()).or_insert_with(|| V2Release {
                    name: name.clone(),
                    records: Vec::new(),
                    errors: Vec::new(),
                });
                rel.records.extend(listing.records);
                rel.errors.extend(listing.errors);
            }
        }
    }
    let mut out: Vec<V2Release> = by_name.into_values().collect();
    for r in &mut out {
        r.records.sort_by_key(|r| (r.release.version, r.object.kind));
    }
    Ok((out, warnings))
}

fn read_error(h2: &Helm2Store, e: &kube::Error) -> AppError {
    AppError::Kube(format!("cannot read Helm 2 records in namespace {}: {}", h2.namespace(), describe_kube_error(e)))
}

/// What happens to one revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// No Helm 3 record yet: create it.
    Create,
    /// An equal Helm 3 record exists.
    Skip,
    /// The Helm 3 record is this revision, superseded by a later Helm 3 upgrade.
    SkipSuperseded,
    /// No Helm 3 record, but Helm 3 has moved the release on (newer revisions exist): not recreated.
    SkipHelm3Ahead,
    /// A different Helm 3 record exists and `--force` replaces it (after a backup).
    Replace,
    /// A different Helm 3 record exists: the release stops here (without `--force`).
    Conflict,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Skip => "skip (equal record exists)",
            Action::SkipSuperseded => "skip (superseded by a Helm 3 upgrade)",
            Action::SkipHelm3Ahead => "skip (Helm 3 has newer revisions)",
            Action::Replace => "replace (--force)",
            Action::Conflict => "conflict (different record exists)",
        }
    }

    pub fn writes(self) -> bool {
        matches!(self, Action::Create | Action::Replace)
    }

    /// The revision has a Helm 3 copy (now or once written).
    pub fn has_copy(self) -> bool {
        matches!(self, Action::Create | Action::Replace | Action::Skip | Action::SkipSuperseded)
    }
}

pub struct RevisionPlan {
    pub revision: i32,
    /// Helm 3 status of the conversion.
    pub status: String,
    /// The Helm 2 objects holding this revision (two when stored both as ConfigMap and Secret).
    pub v2_objects: Vec<ObjectInfo>,
    /// The Helm 3 record to write.
    pub object: NewObject,
    pub notes: Vec<ConversionNote>,
    pub action: Action,
    /// The Helm 3 record found at plan time, when one exists.
    pub existing: Option<ObjectInfo>,
    pub differs_at: Vec<String>,
}

/// A live object of the latest revision's manifest, as found at plan time.
#[derive(Debug, Clone)]
pub enum LiveState {
    Missing,
    OwnedByThis,
    Foreign { release: Option<String>, namespace: Option<String> },
    NeedsStamp,
    Error(String),
}

pub struct OwnershipPlan {
    pub revision: i32,
    /// Why nothing is stamped (the latest revision is uninstalled, ...).
    pub skipped: Option<String>,
    pub objects: Vec<(Target, LiveState)>,
    pub unresolved: Vec<Unresolved>,
}

pub struct ReleasePlan {
    pub name: String,
    pub target_name: String,
    pub target_namespace: String,
    pub revisions: Vec<RevisionPlan>,
    /// Older revisions left in Helm 2 by `--release-versions-max`.
    pub not_migrated: Vec<i32>,
    pub blockers: Vec<String>,
    pub warnings: Vec<String>,
    pub ownership: Option<OwnershipPlan>,
    /// The newest Helm 3 revision of the target release found at plan time.
    pub helm3_latest: Option<i64>,
    /// The revision mapping removed APIs, added after the verbatim ones (`--no-map-apis` skips it).
    pub apis: Option<crate::commands::releases::apis::migrate::ApiStep>,
}

impl ReleasePlan {
    pub fn blocked(&self) -> bool {
        !self.blockers.is_empty()
    }
}

pub struct PlanOptions {
    pub target_name: Option<String>,
    pub target_namespace: Option<String>,
    pub versions_max: Option<u32>,
    pub force: bool,
    pub ownership: bool,
    /// Removed Kubernetes APIs are mapped after the migration (not `--no-map-apis`).
    pub map_apis: bool,
    pub limits: DecodeLimits,
    pub concurrency: usize,
    /// Where Helm 2 records were looked for (for messages).
    pub h2_namespace: String,
    pub h2_kinds: &'static str,
}

/// What a target namespace holds at plan time.
pub struct NsState {
    /// `Some(false)`: the namespace does not exist; `None`: could not tell (e.g. not allowed to read namespaces).
    pub exists: Option<bool>,
    /// Helm 3 record objects (`owner=helm`) by object name.
    pub records: BTreeMap<String, ObjectInfo>,
    pub error: Option<String>,
}

impl NsState {
    /// The newest revision of `release` among the labelled records.
    pub fn latest(&self, release: &str) -> Option<i64> {
        self.records
            .values()
            .filter_map(|i| {
                let l = parse_helm3_labels(&i.labels);
                (l.name.as_deref() == Some(release)).then_some(l.version).flatten()
            })
            .max()
    }
}

pub async fn namespace_states(client: &kube::Client, h3: &Helm3Store, namespaces: BTreeSet<String>) -> HashMap<String, Arc<NsState>> {
    let api: Api<Namespace> = Api::all(client.clone());
    let states = stream::iter(namespaces)
        .map(|ns| {
            let api = api.clone();
            async move {
                let exists = match crate::retry::read(Default::default(), || api.get_opt(&ns)).await {
                    Ok(found) => Some(found.is_some()),
                    Err(_) => None,
                };
                let (records, error) = if exists == Some(false) {
                    (BTreeMap::new(), None)
                } else {
                    match h3.list_meta(Some(&ns), None).await {
                        Ok(infos) => (infos.into_iter().map(|i| (i.name.clone(), i)).collect(), None),
                        Err(e) => {
                            (BTreeMap::new(), Some(format!("cannot list Helm 3 records in namespace {ns}: {}", describe_kube_error(&e))))
                        }
                    }
                };
                (ns, Arc::new(NsState { exists, records, error }))
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    states.into_iter().collect()
}

/// The target of a release before any conversion: name and namespace, or why there is none.
pub fn target_of(v2: &V2Release, opts: &PlanOptions) -> (String, Option<String>) {
    let name = opts.target_name.clone().unwrap_or_else(|| v2.name.clone());
    let ns = opts.target_namespace.clone().or_else(|| v2.records.last().map(|r| r.release.namespace.clone()).filter(|n| !n.is_empty()));
    (name, ns)
}

/// A converted revision: the object to write, the conversion notes, the Helm 3 status.
pub type Converted = (NewObject, Vec<ConversionNote>, String);

/// Convert one revision into the object to write, with its notes.
pub fn convert_one(h3: &Helm3Store, rec: &Helm2Record, opts: &ConvertOptions, stamp: LabelStamp) -> Result<Converted, String> {
    let conv = convert(&rec.release, opts).map_err(|e| format!("{}: cannot convert: {e}", rec.object.key()))?;
    let status = conv.release.info.status.as_str().to_string();
    let object = h3.object_for(&conv.release, stamp).map_err(|e| format!("{}: cannot encode: {e}", rec.object.key()))?;
    Ok((object, conv.notes, status))
}

pub fn decode_value(payload: &[u8], limits: &DecodeLimits) -> Result<Value, String> {
    codec::decode_helm3_value(payload, limits).map_err(|e| e.to_string())
}

/// Revisions to migrate: every revision number (decodable or not), newest `max` of them.
fn kept_revisions(v2: &V2Release, max: Option<u32>) -> (BTreeSet<i32>, Vec<i32>) {
    let mut all: BTreeSet<i32> = v2.records.iter().map(|r| r.release.version).collect();
    for e in &v2.errors {
        if let Some((_, rev)) = parse_helm2_object_name(&e.object) {
            all.insert(rev);
        }
    }
    let all: Vec<i32> = all.into_iter().collect();
    let keep_from = match max {
        Some(m) if (m as usize) < all.len() => all.len() - m as usize,
        _ => 0,
    };
    (all[keep_from..].iter().copied().collect(), all[..keep_from].to_vec())
}

/// Plan one release: convert every kept revision, compare with what Helm 3 storage holds, check limits.
pub async fn plan_release(
    h3: &Helm3Store,
    client: &kube::Client,
    catalog: Option<&Result<ResourceCatalog, String>>,
    v2: V2Release,
    ns_state: Option<Arc<NsState>>,
    opts: &PlanOptions,
    stamp: LabelStamp,
) -> ReleasePlan {
    let (target_name, target_ns) = target_of(&v2, opts);
    let mut plan = ReleasePlan {
        name: v2.name.clone(),
        target_name: target_name.clone(),
        target_namespace: target_ns.clone().unwrap_or_default(),
        revisions: Vec::new(),
        not_migrated: Vec::new(),
        blockers: Vec::new(),
        warnings: Vec::new(),
        ownership: None,
        helm3_latest: None,
        apis: None,
    };
    if v2.records.is_empty() && v2.errors.is_empty() {
        // What a finished `--delete-v2-releases` run leaves: no Helm 2 records, a Helm 3 copy. A re-run
        // of the same command is then a success with nothing to do.
        if let Some((ns, latest)) = helm3_copy(h3, &target_name, opts.target_namespace.as_deref()).await {
            plan.warnings.push(format!(
                "no Helm 2 records of {:?} left; Helm 3 holds {target_name} up to revision {latest} in namespace {ns}: already migrated",
                v2.name
            ));
            plan.target_namespace = ns;
            plan.helm3_latest = Some(latest);
            return plan;
        }
        plan.blockers.push(format!(
            "release {:?} not found in Helm 2 storage (namespace {}; see --helm-release-storage-namespace and --helm-release-storage-type)",
            v2.name,
            h2_where(opts)
        ));
        return plan;
    }
    let (kept, omitted) = kept_revisions(&v2, opts.versions_max);
    plan.not_migrated = omitted;
    for e in &v2.errors {
        let rev = parse_helm2_object_name(&e.object).map(|(_, r)| r);
        if rev.is_none_or(|r| kept.contains(&r)) {
            plan.blockers.push(format!("undecodable Helm 2 record {e}"));
        } else {
            plan.warnings.push(format!("undecodable Helm 2 record {e} (older than the revisions migrated)"));
        }
    }
    if v2.records.is_empty() {
        return plan; // nothing decodable: the undecodable records are the blockers
    }
    let Some(target_ns) = target_ns else {
        plan.blockers.push("the Helm 2 record names no namespace: choose one with --target-namespace".into());
        return plan;
    };
    // Every kept revision must agree on the namespace unless one is chosen.
    if opts.target_namespace.is_none() {
        let others: BTreeSet<&str> = v2
            .records
            .iter()
            .filter(|r| kept.contains(&r.release.version))
            .map(|r| r.release.namespace.as_str())
            .filter(|n| *n != target_ns)
            .collect();
        if !others.is_empty() {
            plan.blockers.push(format!(
                "revisions name different namespaces ({target_ns}, {}): choose one with --target-namespace",
                others.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    let state = ns_state.unwrap_or_else(|| Arc::new(NsState { exists: None, records: BTreeMap::new(), error: None }));
    if state.exists == Some(false) {
        plan.blockers.push(format!(
            "target namespace {target_ns:?} does not exist: create it (kubectl create namespace {target_ns}) or choose --target-namespace"
        ));
    }
    if let Some(e) = &state.error {
        plan.blockers.push(e.clone());
    }
    plan.helm3_latest = state.latest(&target_name);

    // Convert (CPU: gzip at best compression) off the async threads.
    let convert_opts = ConvertOptions { target_name: opts.target_name.clone(), target_namespace: Some(target_ns.clone()) };
    let records: Vec<Helm2Record> = v2.records.into_iter().filter(|r| kept.contains(&r.release.version)).collect();
    let h3c = h3.clone();
    let converted = tokio::task::spawn_blocking(move || {
        records
            .into_iter()
            .map(|r| {
                let c = convert_one(&h3c, &r, &convert_opts, stamp);
                (r, c)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();

    let mut by_rev: BTreeMap<i32, Vec<(Helm2Record, Converted)>> = BTreeMap::new();
    for (rec, conv) in converted {
        match conv {
            Ok(c) => by_rev.entry(rec.release.version).or_default().push((rec, c)),
            Err(e) => plan.blockers.push(e),
        }
    }
    let v2_latest = by_rev.keys().next_back().copied().unwrap_or(0) as i64;
    let helm3_ahead = plan.helm3_latest.is_some_and(|l| l > v2_latest);
    let mut latest_manifest: Option<(i32, String, String, String)> = None;
    for (rev, mut copies) in by_rev {
        let (first_rec, (object, notes, status)) = copies.remove(0);
        let mut v2_objects = vec![first_rec.object.clone()];
        for (other, (other_obj, _, _)) in &copies {
            if other_obj.payload != object.payload {
                let a = decode_value(object.payload.as_bytes(), &opts.limits);
                let b = decode_value(other_obj.payload.as_bytes(), &opts.limits);
                if a.is_err() || a != b {
                    plan.blockers.push(format!(
                        "revision {rev} is stored both as {} and as {} with different contents: remove the wrong one first",
                        first_rec.object.key(),
                        other.object.key()
                    ));
                }
            }
            v2_objects.push(other.object.clone());
        }
        let size = object.data_size();
        if size > MAX_DATA_BYTES {
            plan.blockers.push(format!(
                "revision {rev} is {size} bytes after conversion, over the {MAX_DATA_BYTES}-byte limit of one {}; leave old revisions in Helm 2 with --release-versions-max, or use the other --release-storage only if it is smaller",
                object.kind.kind()
            ));
        }
        if latest_manifest.as_ref().is_none_or(|(r, ..)| *r < rev) {
            latest_manifest = Some((rev, first_rec.release.manifest.clone(), first_rec.release.namespace.clone(), status.clone()));
        }
        let existing = state.records.get(&object.name).cloned();
        let (action, differs_at) = match &existing {
            None if helm3_ahead => (Action::SkipHelm3Ahead, Vec::new()),
            None => (Action::Create, Vec::new()),
            Some(info) => match existing_vs_meant(h3, info, &object, &opts.limits).await {
                Ok(Sameness::Equal) => (Action::Skip, Vec::new()),
                Ok(Sameness::Superseded) if helm3_ahead => (Action::SkipSuperseded, Vec::new()),
                Ok(Sameness::Superseded) => (if opts.force { Action::Replace } else { Action::Conflict }, vec![".info.status".into()]),
                Ok(Sameness::Differs(paths)) => (if opts.force && !helm3_ahead { Action::Replace } else { Action::Conflict }, paths),
                Err(e) => (if opts.force && !helm3_ahead { Action::Replace } else { Action::Conflict }, vec![e]),
            },
        };
        if action == Action::Conflict {
            let hint = if helm3_ahead {
                format!(" (Helm 3 already has newer revision {}; not replaced even with --force)", plan.helm3_latest.unwrap_or_default())
            } else {
                "; --force replaces it after a backup".to_string()
            };
            plan.blockers.push(format!(
                "{}/{} exists and differs from revision {rev} of the Helm 2 release (at {}){hint}",
                target_ns,
                object.name,
                differs_at.join(", ")
            ));
        }
        plan.revisions.push(RevisionPlan { revision: rev, status, v2_objects, object, notes, action, existing, differs_at });
    }

    if opts.ownership
        && !plan.revisions.is_empty()
        && let Some((rev, manifest, default_ns, status)) = latest_manifest
    {
        {
            plan.ownership = Some(match catalog {
                Some(Ok(catalog)) => {
                    // Live objects are found at the API versions this cluster serves, as the mapped revision names them.
                    let manifest = if opts.map_apis {
                        crate::commands::releases::apis::migrate::map_for_catalog(&manifest, catalog)
                    } else {
                        manifest
                    };
                    plan_ownership(client, catalog, rev, &manifest, &default_ns, &status, &target_name, &target_ns).await
                }
                Some(Err(e)) => {
                    plan.blockers.push(format!("{e} (needed to stamp ownership; --skip-ownership skips that step)"));
                    OwnershipPlan { revision: rev, skipped: Some(e.clone()), objects: Vec::new(), unresolved: Vec::new() }
                }
                None => OwnershipPlan { revision: rev, skipped: Some("not checked".into()), objects: Vec::new(), unresolved: Vec::new() },
            });
        }
    }
    plan
}

/// The one namespace holding Helm 3 records of `name` (in `namespace` when given) and its latest
/// revision by the labels; `None` when there is none, or several namespaces do.
async fn helm3_copy(h3: &Helm3Store, name: &str, namespace: Option<&str>) -> Option<(String, i64)> {
    let selector = crate::storage::codec::helm3_history_selector(name);
    let metas = h3.list_meta(namespace, Some(&selector)).await.ok()?;
    let namespaces: BTreeSet<&str> = metas.iter().map(|m| m.namespace.as_str()).collect();
    if namespaces.len() != 1 {
        return None;
    }
    let latest = metas.iter().filter_map(|m| crate::storage::codec::parse_helm3_labels(&m.labels).version).max()?;
    Some((metas[0].namespace.clone(), latest))
}

fn h2_where(opts: &PlanOptions) -> String {
    format!("{}, {}", opts.h2_namespace, opts.h2_kinds)
}

/// Decode the stored record and compare it with the record the conversion produces.
async fn existing_vs_meant(h3: &Helm3Store, info: &ObjectInfo, object: &NewObject, limits: &DecodeLimits) -> Result<Sameness, String> {
    let raw = h3
        .get_raw(&info.namespace, &info.name)
        .await
        .map_err(|e| format!("cannot read {}: {}", info.key(), describe_kube_error(&e)))?
        .ok_or_else(|| format!("{} disappeared while planning", info.key()))?;
    let payload = raw.payload.ok_or_else(|| "the existing record has no data".to_string())?;
    let stored = decode_value(&payload, limits).map_err(|e| format!("the existing record cannot be decoded: {e}"))?;
    let meant = decode_value(object.payload.as_bytes(), limits)?;
    Ok(compare(&meant, &stored))
}

/// Classify each live object of the latest manifest.
#[allow(clippy::too_many_arguments)]
async fn plan_ownership(
    client: &kube::Client,
    catalog: &ResourceCatalog,
    revision: i32,
    manifest: &str,
    default_ns: &str,
    status: &str,
    release: &str,
    release_ns: &str,
) -> OwnershipPlan {
    if matches!(status, "uninstalled" | "uninstalling") {
        return OwnershipPlan {
            revision,
            skipped: Some(format!("the latest revision {revision} is {status}: its objects are not expected to exist")),
            objects: Vec::new(),
            unresolved: Vec::new(),
        };
    }
    let (targets, unresolved) = resolve_manifest(catalog, manifest, default_ns);
    let mut objects = Vec::new();
    for t in targets {
        let state = live_state(client, &t, release, release_ns).await;
        objects.push((t, state));
    }
    OwnershipPlan { revision, skipped: None, objects, unresolved }
}

pub async fn live_state(client: &kube::Client, t: &Target, release: &str, release_ns: &str) -> LiveState {
    match objects::get(client, &t.resource, t.namespace.as_deref(), &t.name).await {
        Ok(None) => LiveState::Missing,
        Ok(Some(obj)) => classify(&obj, release, release_ns),
        Err(e) => LiveState::Error(describe_kube_error(&e)),
    }
}

pub fn classify(obj: &kube::api::DynamicObject, release: &str, release_ns: &str) -> LiveState {
    match ownership::classify(obj.labels(), obj.annotations(), release, release_ns) {
        Ownership::OwnedByThis => LiveState::OwnedByThis,
        Ownership::Foreign { release, namespace } => LiveState::Foreign { release, namespace },
        Ownership::Missing => LiveState::Missing,
        Ownership::Unowned | Ownership::Partial { .. } => LiveState::NeedsStamp,
    }
}
