//! Carrying out a release plan. Every write is conditional (create never overwrites; update and delete carry
//! the resourceVersion that was read), so a write whose answer was lost can be checked by reading and safely
//! tried again. Nothing is deleted before it was written to the backup directory, and no Helm 2 record is
//! deleted before every revision of its release was written and verified.

use serde::Serialize;
use serde_json::Value;

use crate::error::describe_kube_error;
use crate::live::objects::{self, PatchDecision, PatchFailure, PatchSettled};
use crate::live::targets::Target;
use crate::ownership::adoption_patch;
use crate::stop::StopSignal;
use crate::storage::backup::{BackupDir, record_from_raw};
use crate::storage::codec::{self, DecodeLimits, parse_helm3_labels};
use crate::storage::objects::{ObjectStore, SettleError, Settled};
use crate::storage::{Helm2Store, Helm3Store, NewObject, ObjectInfo};

use super::compare::diff_paths;
use super::plan::{Action, LiveState, ReleasePlan, classify, decode_value};

/// What carrying out a plan writes with: the client and stores, the backup directory and the stop flag.
pub struct Writer {
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
pub enum ReleaseOutcome {
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
    pub outcome: ReleaseOutcome,
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
            outcome: ReleaseOutcome::Skipped,
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
        self.outcome = ReleaseOutcome::Failed;
        self
    }

    fn interrupted(mut self) -> Self {
        self.outcome = ReleaseOutcome::Interrupted;
        self
    }
}

/// Read a written record back and compare it with what was meant: payload (decoded JSON) and the labels
/// Helm selects by.
pub async fn verify(writer: &Writer, object: &NewObject, meant: &Value) -> Result<ObjectInfo, String> {
    let key = format!("{}/{}", object.namespace, object.name);
    let raw = writer
        .h3
        .get_raw(&object.namespace, &object.name)
        .await
        .map_err(|e| format!("{key}: cannot read back: {}", describe_kube_error(&e)))?
        .ok_or_else(|| format!("{key}: not found when read back"))?;
    let payload = raw.payload.as_deref().ok_or_else(|| format!("{key}: read back without data"))?;
    let stored = decode_value(payload, &writer.limits).map_err(|e| format!("{key}: read back cannot be decoded: {e}"))?;
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

/// Create a record through the storage layer's settled create, then read it back and compare. Returns
/// the stored object and whether this call created it.
async fn create_verified(writer: &Writer, object: &NewObject) -> Result<(ObjectInfo, bool), String> {
    let meant = decode_value(object.payload.as_bytes(), &writer.limits)?;
    let key = format!("{}/{}", object.namespace, object.name);
    match writer.h3.objects().create_settled(object, &writer.limits, &writer.stop).await {
        Ok(Settled::Done) => verify(writer, object, &meant).await.map(|i| (i, true)),
        Ok(Settled::Found) => verify(writer, object, &meant).await.map(|i| (i, false)),
        // Someone else created it: what migrate compares (payload, Helm's labels) may still be equal.
        Err(SettleError::Changed(_)) => verify(writer, object, &meant)
            .await
            .map(|i| (i, false))
            .map_err(|d| format!("{d} (it was created by someone else meanwhile; not overwritten)")),
        Err(e) => Err(format!("{key}: {e}")),
    }
}

/// Replace a differing record (`--force`): back it up, replace it at the resourceVersion it was read at
/// through the storage layer's settled replace, read back and compare.
async fn replace_verified(writer: &Writer, existing: &ObjectInfo, object: &NewObject) -> Result<ObjectInfo, String> {
    let meant = decode_value(object.payload.as_bytes(), &writer.limits)?;
    let key = existing.key();
    let raw = writer
        .h3
        .get_raw(&existing.namespace, &existing.name)
        .await
        .map_err(|e| format!("{key}: cannot read: {}", describe_kube_error(&e)))?
        .ok_or_else(|| format!("{key}: disappeared since it was read; re-run"))?;
    let changed = || format!("{key}: changed since it was read; not replaced (re-run to plan again)");
    let Some(rv) = raw.info.resource_version.as_deref().filter(|_| raw.info.resource_version == existing.resource_version) else {
        return Err(changed());
    };
    backup(writer, &raw)?;
    let release = codec::decode_helm3(object.payload.as_bytes(), &writer.limits).map_err(|e| e.to_string())?;
    let replacement = writer.h3.replacement_for(existing, &release).map_err(|e| e.to_string())?;
    match writer.h3.objects().replace_settled(&replacement, rv, &writer.limits, &writer.stop).await {
        Ok(_) => verify(writer, object, &meant).await,
        // Someone else wrote it meanwhile: fine only if it now holds what was meant.
        Err(SettleError::Changed(_)) => verify(writer, object, &meant).await.map_err(|_| changed()),
        Err(e) => Err(format!("{key}: {e}")),
    }
}

fn backup(writer: &Writer, raw: &crate::storage::objects::RawObject) -> Result<(), String> {
    let Some(dir) = &writer.backup else { return Err("no backup directory".into()) };
    let record = record_from_raw(raw).ok_or_else(|| format!("{}: cannot be backed up (no text data)", raw.info.key()))?;
    dir.write(&record).map(|_| ()).map_err(|e| format!("{}: backup to {} failed: {e}; not changed", raw.info.key(), dir.path().display()))
}

/// Delete one Helm 2 record: only the version that was read, only after it is in the backup, through the
/// storage layer's settled delete. `Ok(false)` when it was already gone.
pub async fn delete_v2(writer: &Writer, info: &ObjectInfo) -> Result<bool, String> {
    let key = info.key();
    let raw = match writer.h2.get_raw(info.kind, &info.name).await {
        Ok(Some(raw)) => raw,
        Ok(None) => return Ok(false),
        Err(e) => return Err(format!("{key}: cannot read: {}", describe_kube_error(&e))),
    };
    if raw.info.resource_version != info.resource_version {
        return Err(format!("{key}: changed since it was read; not deleted (re-run to plan again)"));
    }
    backup(writer, &raw)?;
    let store = ObjectStore::new(writer.client.clone(), info.kind);
    match store.delete_settled(&info.namespace, &info.name, info.resource_version.as_deref(), &writer.stop).await {
        Ok(Settled::Done) => Ok(true),
        Ok(Settled::Found) => Ok(false),
        Err(SettleError::Changed(_)) => Err(format!("{key}: changed since it was read; not deleted (re-run to plan again)")),
        Err(e) => Err(format!("{key}: {e}")),
    }
}

/// Stamp Helm's ownership on one live object through the settled patch: read, decide, patch at the
/// resourceVersion read; a conflict or a lost answer reads and decides again.
async fn stamp_one(writer: &Writer, target: &Target, release: &str, release_ns: &str, out: &mut OwnershipResult) {
    let shown = target.display();
    // What the last read found, for sorting a refusal into the report.
    let mut last = LiveState::NeedsStamp;
    let settled =
        objects::patch_settled(&writer.client, &target.resource, target.namespace.as_deref(), &target.name, None, &writer.stop, |obj| {
            last = classify(obj, release, release_ns);
            match &last {
                LiveState::OwnedByThis => PatchDecision::Nothing,
                LiveState::NeedsStamp => PatchDecision::Patch(adoption_patch(release, release_ns, None)),
                LiveState::Foreign { .. } | LiveState::Missing | LiveState::Error(_) => PatchDecision::Refuse(String::new()),
            }
        })
        .await;
    match settled {
        Ok(PatchSettled::Patched(..)) => out.stamped.push(shown),
        // Someone (a concurrent run of this migration) stamped it between our read and our patch: counted
        // as stamped, as a re-read after a conflict always was.
        Ok(PatchSettled::Unchanged(_, trail)) if trail.conflicts > 0 => out.stamped.push(shown),
        Ok(PatchSettled::Unchanged(..)) => out.already_owned.push(shown),
        Ok(PatchSettled::Missing) => out.missing.push(shown),
        Err(PatchFailure::Refused(_)) => match last {
            LiveState::Foreign { release: r, namespace: n } => out.owned_by_other_release.push(format!(
                "{shown}: owned by release {} in namespace {}; left alone",
                r.as_deref().unwrap_or("?"),
                n.as_deref().unwrap_or("?")
            )),
            LiveState::Error(e) => out.errors.push(format!("{shown}: {e}")),
            _ => out.missing.push(shown),
        },
        Err(PatchFailure::Interrupted(_)) => out.errors.push(format!("{shown}: not stamped (interrupted)")),
        Err(PatchFailure::GaveUp { .. }) => out.errors.push(format!("{shown}: kept changing while being stamped; re-run")),
        Err(PatchFailure::Unread { read, .. }) => out.errors.push(format!("{shown}: cannot read: {}", describe_kube_error(&read))),
        Err(e) => out.errors.push(format!("{shown}: {e}")),
    }
}

/// Carry out one release's plan.
pub async fn execute(writer: &Writer, plan: &ReleasePlan, ownership: bool) -> ReleaseResult {
    let mut res = ReleaseResult::new(plan);
    if plan.blocked() {
        res.errors.extend(plan.blockers.iter().cloned());
        res.outcome = ReleaseOutcome::Failed;
        return res;
    }
    let mut created: Vec<ObjectInfo> = Vec::new();
    let mut wrote_any = false;
    for rev in &plan.revisions {
        if !rev.action.writes() {
            res.skipped.push(rev.revision);
            continue;
        }
        if writer.stop.requested() {
            return res.interrupted();
        }
        let outcome = match rev.action {
            Action::Create => create_verified(writer, &rev.object).await.map(|(info, ours)| {
                if ours {
                    created.push(info);
                }
                res.written.push(rev.revision);
            }),
            Action::Replace => match &rev.existing {
                Some(existing) => replace_verified(writer, existing, &rev.object).await.map(|_| res.replaced.push(rev.revision)),
                None => Err("internal: replace without an existing record".into()),
            },
            _ => Ok(()),
        };
        wrote_any = true;
        if let Err(e) = outcome {
            // Leave Helm 3 as it was: remove what this run created for this release, newest first.
            for info in created.iter().rev() {
                match writer.h3.objects().delete_settled(&info.namespace, &info.name, info.resource_version.as_deref(), &writer.stop).await
                {
                    Ok(Settled::Done) => res.rolled_back.push(info.key()),
                    Ok(Settled::Found) => {}
                    Err(d) => res.errors.push(format!("rollback of {} failed: {}: {d}; a re-run completes it", info.key(), info.key())),
                }
            }
            return res.fail(format!("revision {}: {e}", rev.revision));
        }
    }

    if ownership && let Some(op) = &plan.ownership {
        let mut out = OwnershipResult { skipped: op.skipped.clone(), ..Default::default() };
        out.unresolved = op
            .unresolved
            .iter()
            .map(|u| if u.reason.starts_with(&u.what) { u.reason.clone() } else { format!("{}: {}", u.what, u.reason) })
            .collect();
        for (t, state) in &op.objects {
            match state {
                LiveState::Missing => out.missing.push(t.display()),
                _ => {
                    if writer.stop.requested() {
                        res.ownership = Some(out);
                        return res.interrupted();
                    }
                    stamp_one(writer, t, &plan.target_name, &plan.target_namespace, &mut out).await;
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

    if writer.delete_v2 {
        for rev in &plan.revisions {
            for info in &rev.v2_objects {
                if !rev.action.has_copy() {
                    res.v2_kept.push(format!("{} (no Helm 3 copy)", info.key()));
                    continue;
                }
                if writer.stop.requested() {
                    return res.interrupted();
                }
                match delete_v2(writer, info).await {
                    Ok(_) => {
                        wrote_any = true;
                        res.v2_deleted.push(info.key());
                    }
                    Err(e) => return res.fail(e),
                }
            }
        }
    }
    res.outcome = if wrote_any { ReleaseOutcome::Migrated } else { ReleaseOutcome::Skipped };
    res
}
