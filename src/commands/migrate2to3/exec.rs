//! Carrying out a release plan. Every write is conditional (create never overwrites; update and delete carry
//! the resourceVersion that was read), so a write whose answer was lost can be checked by reading and safely
//! tried again. Nothing is deleted before it was written to the backup directory, and no Helm 2 record is
//! deleted before every revision of its release was written and verified.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::error::describe_kube_error;
use crate::live::objects::{self, PatchError};
use crate::live::targets::Target;
use crate::ownership::adoption_patch;
use crate::storage::backup::{BackupDir, record_from_raw};
use crate::storage::codec::{self, DecodeLimits, parse_helm3_labels};
use crate::storage::{Helm2Store, Helm3Store, NewObject, ObjectInfo, WriteError};
use crate::stop::StopSignal;

use super::compare::diff_paths;
use super::plan::{Action, LiveState, ReleasePlan, classify, decode_value};

/// How often a conditional write is tried when the server or the connection failed.
const WRITE_ATTEMPTS: u32 = 4;

pub struct Exec {
    pub client: kube::Client,
    pub h2: Helm2Store,
    pub h3: Helm3Store,
    pub limits: DecodeLimits,
    pub backup: Option<BackupDir>,
    pub stop: StopSignal,
    pub delete_v2: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Something was written (records, ownership or deletions) and everything planned is done.
    Migrated,
    /// Everything was already done.
    Skipped,
    /// Not started or stopped because of blockers or errors; see `errors`.
    Failed,
    /// Stopped by an interrupt; re-run to finish.
    Interrupted,
}

#[derive(Debug, Default, Serialize)]
pub struct OwnershipResult {
    pub stamped: Vec<String>,
    pub already_owned: Vec<String>,
    pub missing: Vec<String>,
    pub owned_by_other_release: Vec<String>,
    pub unresolved: Vec<String>,
    pub errors: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ReleaseResult {
    pub release: String,
    pub target_release: String,
    pub target_namespace: String,
    pub outcome: Outcome,
    pub written: Vec<i32>,
    pub replaced: Vec<i32>,
    pub skipped: Vec<i32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rolled_back: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ownership: Option<OwnershipResult>,
    pub v2_deleted: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub v2_kept: Vec<String>,
    pub errors: Vec<String>,
}

impl ReleaseResult {
    fn new(plan: &ReleasePlan) -> Self {
        ReleaseResult {
            release: plan.name.clone(),
            target_release: plan.target_name.clone(),
            target_namespace: plan.target_namespace.clone(),
            outcome: Outcome::Skipped,
            written: Vec::new(),
            replaced: Vec::new(),
            skipped: Vec::new(),
            rolled_back: Vec::new(),
            ownership: None,
            v2_deleted: Vec::new(),
            v2_kept: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn fail(mut self, error: String) -> Self {
        self.errors.push(error);
        self.outcome = Outcome::Failed;
        self
    }

    fn interrupted(mut self) -> Self {
        self.outcome = Outcome::Interrupted;
        self
    }
}

fn transient(e: &WriteError) -> bool {
    match e {
        WriteError::Api { source, .. } => crate::retry::is_transient(source),
        _ => false,
    }
}

fn pause(attempt: u32) -> Duration {
    Duration::from_millis(200 * (1 << attempt.min(5)) as u64)
}

pub fn write_error(e: &WriteError) -> String {
    match e {
        WriteError::Api { object, source } => format!("{object}: {}", describe_kube_error(source)),
        other => other.to_string(),
    }
}

/// Read a written record back and compare it with what was meant: payload (decoded JSON) and the labels
/// Helm selects by.
pub async fn verify(x: &Exec, object: &NewObject, meant: &Value) -> Result<ObjectInfo, String> {
    let key = format!("{}/{}", object.namespace, object.name);
    let raw = x
        .h3
        .get_raw(&object.namespace, &object.name)
        .await
        .map_err(|e| format!("{key}: cannot read back: {}", describe_kube_error(&e)))?
        .ok_or_else(|| format!("{key}: not found when read back"))?;
    let payload = raw.payload.as_deref().ok_or_else(|| format!("{key}: read back without data"))?;
    let stored = decode_value(payload, &x.limits).map_err(|e| format!("{key}: read back cannot be decoded: {e}"))?;
    if stored != *meant {
        return Err(format!("{key}: read back differs from what was written (at {})", diff_paths(meant, &stored, 5).join(", ")));
    }
    let want = parse_helm3_labels(&object.labels);
    let got = parse_helm3_labels(&raw.info.labels);
    if (want.name, want.owner, want.status, want.version) != (got.name, got.owner, got.status, got.version) {
        return Err(format!("{key}: read back with other Helm labels than written"));
    }
    Ok(raw.info)
}

/// Create a record, read it back and compare. Returns the stored object and whether this call created it.
async fn create_verified(x: &Exec, object: &NewObject) -> Result<(ObjectInfo, bool), String> {
    let meant = decode_value(object.payload.as_bytes(), &x.limits)?;
    let mut attempt = 0;
    let mut maybe_ours = false;
    loop {
        attempt += 1;
        match x.h3.create_object(object).await {
            Ok(_) => return verify(x, object, &meant).await.map(|i| (i, true)),
            Err(e) if e.is_conflict() => {
                // It exists: an earlier attempt whose answer was lost, or someone else. Equal is fine.
                return verify(x, object, &meant)
                    .await
                    .map(|i| (i, maybe_ours))
                    .map_err(|d| format!("{d} (it was created by someone else meanwhile; not overwritten)"));
            }
            Err(e) if transient(&e) && attempt < WRITE_ATTEMPTS => {
                tokio::time::sleep(pause(attempt)).await;
                maybe_ours = true;
                // Did it land? Create is safe to send again: it never overwrites.
                if let Ok(Some(_)) = x.h3.get_raw(&object.namespace, &object.name).await {
                    return verify(x, object, &meant).await.map(|i| (i, true));
                }
            }
            Err(e) => return Err(write_error(&e)),
        }
    }
}

/// Replace a differing record (`--force`): back it up, update it at the resourceVersion it was read at,
/// read back and compare.
async fn replace_verified(x: &Exec, existing: &ObjectInfo, object: &NewObject) -> Result<ObjectInfo, String> {
    let meant = decode_value(object.payload.as_bytes(), &x.limits)?;
    let key = existing.key();
    let raw = x
        .h3
        .get_raw(&existing.namespace, &existing.name)
        .await
        .map_err(|e| format!("{key}: cannot read: {}", describe_kube_error(&e)))?
        .ok_or_else(|| format!("{key}: disappeared since it was read; re-run"))?;
    if raw.info.resource_version != existing.resource_version {
        return Err(format!("{key}: changed since it was read; not replaced (re-run to plan again)"));
    }
    backup(x, &raw)?;
    let release = codec::decode_helm3(object.payload.as_bytes(), &x.limits).map_err(|e| e.to_string())?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match x.h3.update(existing, &release).await {
            Ok(_) => return verify(x, object, &meant).await,
            Err(e) if e.is_conflict() || (transient(&e) && attempt < WRITE_ATTEMPTS) => {
                if transient(&e) {
                    tokio::time::sleep(pause(attempt)).await;
                }
                // Our earlier attempt may have landed; otherwise only a retry at the same version is safe.
                if let Ok(info) = verify(x, object, &meant).await {
                    return Ok(info);
                }
                if e.is_conflict() {
                    return Err(format!("{key}: changed since it was read; not replaced (re-run to plan again)"));
                }
            }
            Err(e) => return Err(write_error(&e)),
        }
    }
}

fn backup(x: &Exec, raw: &crate::storage::objects::RawObject) -> Result<(), String> {
    let Some(dir) = &x.backup else { return Err("no backup directory".into()) };
    let record = record_from_raw(raw).ok_or_else(|| format!("{}: cannot be backed up (no text data)", raw.info.key()))?;
    dir.write(&record).map(|_| ()).map_err(|e| format!("{}: backup to {} failed: {e}; not changed", raw.info.key(), dir.path().display()))
}

/// Delete one Helm 2 record: only the version that was read, and only after it is in the backup.
/// `Ok(false)` when it was already gone.
pub async fn delete_v2(x: &Exec, info: &ObjectInfo) -> Result<bool, String> {
    let key = info.key();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let raw = match x.h2.get_raw(info.kind, &info.name).await {
            Ok(Some(raw)) => raw,
            Ok(None) => return Ok(attempt > 1),
            Err(e) => return Err(format!("{key}: cannot read: {}", describe_kube_error(&e))),
        };
        if raw.info.resource_version != info.resource_version {
            return Err(format!("{key}: changed since it was read; not deleted (re-run to plan again)"));
        }
        backup(x, &raw)?;
        match x.h2.delete(info).await {
            Ok(()) => return Ok(true),
            Err(e) if e.status_code() == Some(404) => return Ok(true),
            Err(e) if transient(&e) && attempt < WRITE_ATTEMPTS => tokio::time::sleep(pause(attempt)).await,
            Err(e) => return Err(write_error(&e)),
        }
    }
}

/// Stamp Helm's ownership on one live object; re-read and retry when it changed meanwhile.
async fn stamp_one(x: &Exec, t: &Target, release: &str, release_ns: &str, out: &mut OwnershipResult) {
    let shown = t.display();
    for attempt in 1..=6u32 {
        let obj = match objects::get(&x.client, &t.resource, t.namespace.as_deref(), &t.name).await {
            Ok(Some(o)) => o,
            Ok(None) => return out.missing.push(shown),
            Err(e) => return out.errors.push(format!("{shown}: cannot read: {}", describe_kube_error(&e))),
        };
        match classify(&obj, release, release_ns) {
            LiveState::OwnedByThis => {
                return if attempt > 1 { out.stamped.push(shown) } else { out.already_owned.push(shown) };
            }
            LiveState::Foreign { release: r, namespace: n } => {
                return out.owned_by_other_release.push(format!(
                    "{shown}: owned by release {} in namespace {}; left alone",
                    r.as_deref().unwrap_or("?"),
                    n.as_deref().unwrap_or("?")
                ));
            }
            LiveState::Missing => return out.missing.push(shown),
            LiveState::Error(e) => return out.errors.push(format!("{shown}: {e}")),
            LiveState::NeedsStamp => {}
        }
        if x.stop.requested() {
            return out.errors.push(format!("{shown}: not stamped (interrupted)"));
        }
        let patch = adoption_patch(release, release_ns, obj.metadata.resource_version.as_deref());
        match objects::merge_patch(&x.client, &t.resource, t.namespace.as_deref(), &t.name, &patch).await {
            Ok(_) => return out.stamped.push(shown),
            Err(PatchError::Conflict(_)) => continue,
            Err(PatchError::NotFound(_)) => return out.missing.push(shown),
            Err(PatchError::Other(e)) if crate::retry::is_transient(&e) => tokio::time::sleep(pause(attempt)).await,
            Err(e) => return out.errors.push(format!("{shown}: {e}")),
        }
    }
    out.errors.push(format!("{shown}: kept changing while being stamped; re-run"));
}

/// Carry out one release's plan.
pub async fn execute(x: &Exec, plan: &ReleasePlan, ownership: bool) -> ReleaseResult {
    let mut res = ReleaseResult::new(plan);
    if plan.blocked() {
        res.errors.extend(plan.blockers.iter().cloned());
        res.outcome = Outcome::Failed;
        return res;
    }
    let mut created: Vec<ObjectInfo> = Vec::new();
    let mut wrote_any = false;
    for rev in &plan.revisions {
        if !rev.action.writes() {
            res.skipped.push(rev.revision);
            continue;
        }
        if x.stop.requested() {
            return res.interrupted();
        }
        let outcome = match rev.action {
            Action::Create => create_verified(x, &rev.object).await.map(|(info, ours)| {
                if ours {
                    created.push(info);
                }
                res.written.push(rev.revision);
            }),
            Action::Replace => match &rev.existing {
                Some(existing) => replace_verified(x, existing, &rev.object).await.map(|_| res.replaced.push(rev.revision)),
                None => Err("internal: replace without an existing record".into()),
            },
            _ => Ok(()),
        };
        wrote_any = true;
        if let Err(e) = outcome {
            // Leave Helm 3 as it was: remove what this run created for this release, newest first.
            for info in created.iter().rev() {
                match x.h3.delete(info).await {
                    Ok(()) => res.rolled_back.push(info.key()),
                    Err(d) if d.status_code() == Some(404) => {}
                    Err(d) => res.errors.push(format!("rollback of {} failed: {}; a re-run completes it", info.key(), write_error(&d))),
                }
            }
            return res.fail(format!("revision {}: {e}", rev.revision));
        }
    }

    if ownership && let Some(op) = &plan.ownership {
        let mut out = OwnershipResult { skipped: op.skipped.clone(), ..Default::default() };
        out.unresolved = op.unresolved.iter().map(|u| if u.reason.starts_with(&u.what) { u.reason.clone() } else { format!("{}: {}", u.what, u.reason) }).collect();
        for (t, state) in &op.objects {
            match state {
                LiveState::Missing => out.missing.push(t.display()),
                _ => {
                    if x.stop.requested() {
                        res.ownership = Some(out);
                        return res.interrupted();
                    }
                    stamp_one(x, t, &plan.target_name, &plan.target_namespace, &mut out).await;
                }
            }
        }
        wrote_any |= !out.stamped.is_empty();
        let failed = !out.errors.is_empty();
        res.ownership = Some(out);
        if failed {
            // The records are complete; Helm 2 stays until a re-run finishes the ownership step.
            return res.fail("ownership metadata could not be stamped on every live object; Helm 2 records kept".into());
        }
    }

    if x.delete_v2 {
        for rev in &plan.revisions {
            for info in &rev.v2_objects {
                if !rev.action.has_copy() {
                    res.v2_kept.push(format!("{} (no Helm 3 copy)", info.key()));
                    continue;
                }
                if x.stop.requested() {
                    return res.interrupted();
                }
                match delete_v2(x, info).await {
                    Ok(_) => {
                        wrote_any = true;
                        res.v2_deleted.push(info.key());
                    }
                    Err(e) => return res.fail(e),
                }
            }
        }
    }
    res.outcome = if wrote_any { Outcome::Migrated } else { Outcome::Skipped };
    res
}
