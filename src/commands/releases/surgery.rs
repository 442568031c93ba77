//! What `releases forget` and `releases move` share: the records of one release, the live objects of its
//! latest manifest with their ownership keys, the ownership backup that `releases restore` reads back, and
//! re-stamping those keys through the live layer's settled patch.

use std::io::Write;
use std::path::{Path, PathBuf};

use kube::ResourceExt;
use kube::api::DynamicObject;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::live::discovery::{self, ResourceCatalog};
use crate::live::objects::{self, PatchDecision, PatchFailure, PatchSettled};
use crate::live::targets::{Target, Unresolved, resolve_manifest};
use crate::ownership::OwnershipKeys;
use crate::release::helm3::Status;
use crate::stop::StopSignal;
use crate::storage::Helm3Driver;
use crate::storage::objects::ObjectInfo;
use crate::storage::scope::{Place, helm3_driver, locate};
use crate::storage::{Helm2Record, Helm3Record, Helm3Store};

use super::{Scope, print_problems, view};

/// One stored revision of the release, Helm 3/4 or Helm 2.
pub(super) enum Revision {
    Helm3(Box<Helm3Record>),
    Helm2(Box<Helm2Record>),
}

impl Revision {
    pub fn object(&self) -> &ObjectInfo {
        match self {
            Revision::Helm3(r) => &r.object,
            Revision::Helm2(r) => &r.object,
        }
    }
    pub fn version(&self) -> i64 {
        match self {
            Revision::Helm3(r) => r.release.version,
            Revision::Helm2(r) => i64::from(r.release.version),
        }
    }
    pub fn status(&self) -> Status {
        match self {
            Revision::Helm3(r) => r.release.info.status.clone(),
            Revision::Helm2(r) => view::helm2_status(r.release.status_code()),
        }
    }
    /// The release namespace the payload names.
    pub fn release_namespace(&self) -> &str {
        match self {
            Revision::Helm3(r) => &r.release.namespace,
            Revision::Helm2(r) => &r.release.namespace,
        }
    }
    pub fn manifest(&self) -> &str {
        match self {
            Revision::Helm3(r) => &r.release.manifest,
            Revision::Helm2(r) => &r.release.manifest,
        }
    }
    /// `secret`, `configmap`, `helm2/configmap` or `helm2/secret`, as list's STORAGE column says.
    pub fn storage(&self) -> &'static str {
        match self {
            Revision::Helm3(r) => match r.object.kind {
                crate::storage::ObjectKind::Secret => "secret",
                crate::storage::ObjectKind::ConfigMap => "configmap",
            },
            Revision::Helm2(r) => r.storage_name(),
        }
    }
}

/// Every Helm 3/4 record of `name` in `namespace`, from the given drivers, oldest first.
pub(super) async fn helm3_revisions(
    scope: &Scope,
    namespace: &str,
    name: &str,
    drivers: &[Helm3Driver],
) -> Result<Vec<Revision>, AppError> {
    let mut out = Vec::new();
    for driver in drivers {
        let store = Helm3Store::new(scope.client.clone(), *driver, scope.limits());
        let listing = store.history(namespace, name).await.map_err(|e| AppError::kube(&e))?;
        print_problems(&listing.errors, &listing.warnings);
        if !listing.errors.is_empty() {
            return Err(AppError::Failed(format!(
                "release {name}: {} record(s) cannot be read (named above); nothing was changed",
                listing.errors.len()
            )));
        }
        out.extend(listing.records.into_iter().map(|r| Revision::Helm3(Box::new(r))));
    }
    out.sort_by_key(|r| (r.version(), r.storage()));
    Ok(out)
}

/// Where release `name` is under the shared scope rule (`storage::scope`, as `unlock` finds it) and its
/// records there, oldest first. A write changes one release: a name found in several storages is a usage
/// error naming them. `Ok(Err(not_found))` when no storage in scope holds it, so that a re-run can look
/// in its backup before saying so.
pub(super) async fn located_revisions(scope: &Scope, name: &str) -> Result<Result<(Place, Vec<Revision>), AppError>, AppError> {
    let located = locate(&scope.client, &scope.selection(false), name).await?;
    if located.found.is_empty() {
        return Ok(Err(located.not_found()));
    }
    let (found, warnings) = located.for_write()?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let revisions = match (&found.place, found.helm2) {
        (Place::Helm3 { kind, namespace }, _) => helm3_revisions(scope, namespace, name, &[helm3_driver(*kind)]).await?,
        (Place::Helm2 { .. }, Some(listing)) => {
            print_problems(&listing.errors, &listing.warnings);
            if !listing.errors.is_empty() {
                return Err(AppError::Failed(format!(
                    "Helm 2 release {name}: {} record(s) cannot be read (named above); nothing was changed",
                    listing.errors.len()
                )));
            }
            let mut out: Vec<Revision> = listing.records.into_iter().map(|r| Revision::Helm2(Box::new(r))).collect();
            out.sort_by_key(Revision::version);
            out
        }
        (Place::Helm2 { .. }, None) => Vec::new(),
    };
    Ok(Ok((found.place, revisions)))
}

/// How many records of release `name` in `namespace` a backup directory holds (Helm 3 `name` or
/// Helm 2 `NAME` label): after a finished run the records are gone from the cluster and only there, so
/// a re-run with the same `--backup-dir` can tell "already done" from "never existed".
pub(super) fn backed_up_records(dir: Option<&Path>, namespace: &str, name: &str) -> usize {
    let Some(entries) = dir.and_then(|d| crate::storage::backup::read_dir(d).ok()) else { return 0 };
    entries
        .into_iter()
        .flatten()
        .filter(|o| o.namespace == namespace && (o.labels.get("name").or_else(|| o.labels.get("NAME")).map(String::as_str) == Some(name)))
        .count()
}

/// Refuse a release Helm itself considers busy: its latest revision is pending or uninstalling.
pub(super) fn refuse_busy(name: &str, latest: &Revision, verb: &str) -> Result<(), AppError> {
    let status = latest.status();
    if status.is_pending() || status == Status::Uninstalling {
        return Err(AppError::Failed(format!(
            "release {name}: its latest revision {} is {}; an operation may be running. Not {verb}; if it is \
             stuck, `kubectl werf releases unlock {name} -n {}` first",
            latest.version(),
            status.as_str(),
            latest.release_namespace()
        )));
    }
    Ok(())
}

/// One object of the release's latest manifest, as it is live.
pub(super) struct LiveObject {
    pub target: Target,
    /// `None`: the object does not exist.
    pub keys: Option<OwnershipKeys>,
}

impl LiveObject {
    pub fn display(&self) -> String {
        self.target.display()
    }
}

fn keys_of(obj: &DynamicObject) -> OwnershipKeys {
    OwnershipKeys::of(obj.labels(), obj.annotations())
}

/// Discovery, then every object of `manifest` read live (namespaced ones default to `namespace`).
pub(super) async fn live_objects(
    scope: &Scope,
    manifest: &str,
    namespace: &str,
) -> Result<(ResourceCatalog, Vec<LiveObject>, Vec<Unresolved>), AppError> {
    let catalog = discovery::load(&scope.client).await.map_err(|e| AppError::Failed(format!("discovery: {e}")))?;
    let (targets, unresolved) = resolve_manifest(&catalog, manifest, namespace);
    let mut out = Vec::with_capacity(targets.len());
    for target in targets {
        let live = objects::get(&scope.client, &target.resource, target.namespace.as_deref(), &target.name)
            .await
            .map_err(|e| AppError::Failed(format!("{}: {}", target.display(), crate::error::describe_kube_error(&e))))?;
        out.push(LiveObject { keys: live.as_ref().map(keys_of), target });
    }
    Ok((catalog, out, unresolved))
}

/// One line of the ownership backup: an object's keys before the change and what the change makes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OwnershipChange {
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub before: OwnershipKeys,
    pub after: OwnershipKeys,
}

impl OwnershipChange {
    pub fn of(object: &LiveObject, before: &OwnershipKeys, after: &OwnershipKeys) -> OwnershipChange {
        OwnershipChange {
            api_version: object.target.resource.api_version(),
            kind: object.target.resource.kind.clone(),
            namespace: object.target.namespace.clone(),
            name: object.target.name.clone(),
            before: before.clone(),
            after: after.clone(),
        }
    }

    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{} ({ns})", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// The file in a backup directory holding the objects' ownership keys (one JSON object a line). Its
/// extension keeps it out of what `kubectl create -f DIR` and the record readers take.
pub(crate) const OWNERSHIP_FILE: &str = "live-objects.ownership";

/// Append the changes to the backup directory's ownership file and make it durable, before any object
/// is touched. An entry already there (a re-run) is not written twice.
pub(super) fn write_ownership_backup(dir: &Path, changes: &[OwnershipChange]) -> std::io::Result<PathBuf> {
    let path = dir.join(OWNERSHIP_FILE);
    let existing = read_ownership_backup(dir)?;
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
    for change in changes.iter().filter(|c| !existing.contains(c)) {
        let line = serde_json::to_string(change).map_err(std::io::Error::other)?;
        writeln!(file, "{line}")?;
    }
    file.sync_all()?;
    Ok(path)
}

/// The ownership changes recorded in a backup directory (none when it has no ownership file).
pub(crate) fn read_ownership_backup(dir: &Path) -> std::io::Result<Vec<OwnershipChange>> {
    let path = dir.join(OWNERSHIP_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| std::io::Error::other(format!("{}: line {}: {e}", path.display(), i + 1))))
        .collect()
}

/// What happened to one object's ownership keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum KeysOutcome {
    Changed,
    Unchanged,
    Missing,
    Refused,
    Failed,
    Interrupted,
}

impl KeysOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            KeysOutcome::Changed => "changed",
            KeysOutcome::Unchanged => "unchanged",
            KeysOutcome::Missing => "missing",
            KeysOutcome::Refused => "refused",
            KeysOutcome::Failed => "failed",
            KeysOutcome::Interrupted => "interrupted",
        }
    }
    pub fn is_failure(self) -> bool {
        matches!(self, KeysOutcome::Refused | KeysOutcome::Failed | KeysOutcome::Interrupted)
    }
}

/// Turn one object's keys from `change.before` into `change.after` through the settled patch. Keys that
/// are neither (someone changed them since the plan) are left alone unless `force`.
pub(crate) async fn apply_ownership(
    client: &kube::Client,
    catalog: &ResourceCatalog,
    change: &OwnershipChange,
    force: bool,
    stop: &StopSignal,
) -> (KeysOutcome, String) {
    if stop.requested() {
        return (KeysOutcome::Interrupted, "not started: interrupted".into());
    }
    let res = match catalog.resolve_gvk(&change.api_version, &change.kind) {
        Ok(r) => r,
        Err(e) => return (KeysOutcome::Missing, e.to_string()),
    };
    let decided = objects::patch_settled(client, res, change.namespace.as_deref(), &change.name, None, stop, |live| {
        let now = keys_of(live);
        if now == change.after {
            PatchDecision::Nothing
        } else if now == change.before || force {
            PatchDecision::Patch(now.patch_to(&change.after).unwrap_or_default())
        } else {
            PatchDecision::Refuse(format!("its keys changed since the plan (now {}); left alone", now.describe()))
        }
    })
    .await;
    match decided {
        Ok(PatchSettled::Patched(..)) => (KeysOutcome::Changed, change.after.describe()),
        Ok(PatchSettled::Unchanged(..)) => (KeysOutcome::Unchanged, change.after.describe()),
        Ok(PatchSettled::Missing) => (KeysOutcome::Missing, "does not exist".into()),
        Err(PatchFailure::Refused(why)) => (KeysOutcome::Refused, why),
        Err(e @ PatchFailure::Interrupted(_)) => (KeysOutcome::Interrupted, e.to_string()),
        Err(e) => (KeysOutcome::Failed, e.to_string()),
    }
}
