//! `releases forget`: delete every record of a release and leave its objects running.
//!
//! Decisions (the `--help` says the same):
//! - The release is found by the scope rule every verb shares (`storage::scope`): Helm 3/4 records of
//!   either driver in the namespace, or a Helm 2 release whose release namespace it is; found in more
//!   than one storage, the run is refused naming them (`--release-storage`, `--helm-version` pick one).
//!   A release whose latest revision is pending or uninstalling is
//!   refused (an operation may be running; `unlock` first).
//! - Objects are those of the latest revision's manifest. Default: untouched (their ownership keys stay,
//!   so `helm install NAME` adopts them again). `--strip-ownership` removes the three keys from the
//!   objects that name this release; `--to-release R` points them (and objects no release claims) at R.
//!   Objects another release claims are never touched.
//! - Order: back up every record and the ownership keys (the backup directory is what `releases
//!   restore --dir` reads), change the objects, then delete the records oldest first, so an interrupted
//!   run keeps the latest revision and a re-run plans the same objects again. Any object that could not
//!   be changed stops the run before a record is deleted.
//! - Every write is settled (records: `ObjectStore::delete_settled` under the resourceVersion read;
//!   objects: `live::objects::patch_settled`): a lost answer is read back, never blindly repeated.

use serde::Serialize;

use crate::cli::{OutputFormat, ReleasesForgetArgs};
use crate::commands::context::Outcome;
use crate::error::AppError;
use crate::helmfmt::Table;
use crate::ownership::OwnershipKeys;
use crate::stop::StopSignal;
use crate::storage::backup::{self, BackupDir};
use crate::storage::objects::{ObjectStore, Settled};

use super::surgery::{self, KeysOutcome, LiveObject, OwnershipChange};
use super::{Scope, print_interrupted};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RecordRow {
    object: String,
    revision: i64,
    status: String,
    storage: &'static str,
    result: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ObjectRow {
    object: String,
    ownership: String,
    action: String,
    result: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    release: String,
    namespace: String,
    records: Vec<RecordRow>,
    objects: Vec<ObjectRow>,
    dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    backup: Option<String>,
}

/// What the objects' keys become.
enum Keys {
    Keep,
    Strip,
    Point(OwnershipKeys),
}

/// The new keys of one object, or why it is left as it is.
fn plan_keys(object: &LiveObject, mode: &Keys, release: &str, namespace: &str) -> Result<OwnershipKeys, &'static str> {
    let Some(now) = &object.keys else { return Err("missing") };
    let ours = now.names(release, namespace);
    let claimed_elsewhere = !ours && now.release_name.as_deref().is_some_and(|n| !n.is_empty());
    match mode {
        Keys::Keep => Err("keep"),
        _ if claimed_elsewhere => Err("another release's: left alone"),
        Keys::Strip if !ours => Err("not this release's: left alone"),
        Keys::Strip => Ok(OwnershipKeys::default()),
        Keys::Point(to) if now == to => Err("already the target's"),
        Keys::Point(to) => Ok(to.clone()),
    }
}

pub async fn run(scope: &Scope, args: ReleasesForgetArgs) -> Result<Outcome, AppError> {
    // Inputs.
    let name = args.name.clone();
    let mode = match (&args.to_release, args.strip_ownership) {
        (Some(to), _) => {
            crate::names::validate_release_name(to).map_err(|e| AppError::Usage(format!("--to-release {to:?}: {e}")))?;
            Keys::Point(OwnershipKeys::helm(to, args.to_release_namespace.as_deref().unwrap_or(&scope.namespace)))
        }
        (None, true) => Keys::Strip,
        (None, false) => Keys::Keep,
    };

    // Plan: the records, then the objects of the latest manifest.
    let (revisions, not_found) = match surgery::located_revisions(scope, &name).await? {
        Ok((_, revisions)) => (revisions, None),
        Err(not_found) => (Vec::new(), Some(not_found)),
    };
    let Some(latest) = revisions.iter().max_by_key(|r| r.version()) else {
        // A re-run after a finished forget: the records are only in the backup now.
        let storage_ns = if scope.helm_version == Some(2) { &scope.storage.helm2_namespace } else { &scope.namespace };
        let backed = surgery::backed_up_records(args.backup_dir.as_deref(), storage_ns, &name);
        if backed > 0 {
            let dir = args.backup_dir.as_deref().map(|d| d.display().to_string()).unwrap_or_default();
            return finish(
                &report_done(&name, scope, args.dry_run),
                &format!("release {name}: already forgotten ({backed} record(s) in the backup {dir}); nothing to do"),
                args.output,
                Outcome::Success,
            );
        }
        return Err(not_found.unwrap_or_else(|| AppError::Failed(format!("release {name}: no readable record"))));
    };
    surgery::refuse_busy(&name, latest, "forgotten")?;
    let release_ns = latest.release_namespace().to_string();
    let (catalog, live, unresolved) = surgery::live_objects(scope, latest.manifest(), &release_ns).await?;
    for u in &unresolved {
        eprintln!("warning: {}: {} (left alone)", u.what, u.reason);
    }
    let mut changes: Vec<OwnershipChange> = Vec::new();
    let mut report = Report {
        release: name.clone(),
        namespace: scope.namespace.clone(),
        records: revisions
            .iter()
            .map(|r| RecordRow {
                object: r.object().key(),
                revision: r.version(),
                status: r.status().as_str().to_string(),
                storage: r.storage(),
                result: "delete".into(),
            })
            .collect(),
        objects: Vec::new(),
        dry_run: args.dry_run,
        backup: None,
    };
    for object in &live {
        let ownership = object.keys.as_ref().map(OwnershipKeys::describe).unwrap_or_else(|| "-".into());
        let action = match plan_keys(object, &mode, &name, &release_ns) {
            Ok(after) => {
                let change = OwnershipChange::of(object, object.keys.as_ref().unwrap_or(&OwnershipKeys::default()), &after);
                let shown = if after == OwnershipKeys::default() {
                    "strip ownership".to_string()
                } else {
                    format!("point to {}", after.describe())
                };
                changes.push(change);
                shown
            }
            Err(why) => why.to_string(),
        };
        report.objects.push(ObjectRow { object: object.display(), ownership, action: action.clone(), result: action });
    }
    if args.output == OutputFormat::Table {
        print_plan(&report)?;
    }
    if args.dry_run {
        return finish(&report, "dry run: nothing was changed", args.output, Outcome::Success);
    }
    let question = format!(
        "Delete {} record(s) of release {name} in namespace {}{}?",
        revisions.len(),
        scope.namespace,
        if changes.is_empty() { String::new() } else { format!(" and change the ownership keys of {} object(s)", changes.len()) }
    );
    if !crate::interact::confirm(&question, args.yes)? {
        return Err(AppError::Failed("cancelled; nothing was changed".into()));
    }

    // Execute: backups first, then objects, then records.
    let stop = StopSignal::install();
    let dir = BackupDir::create(args.backup_dir.as_deref(), "forget")?;
    report.backup = Some(dir.path().display().to_string());
    for r in &revisions {
        let info = r.object();
        let store = ObjectStore::new(scope.client.clone(), info.kind);
        let raw = store.get(&info.namespace, &info.name).await.map_err(|e| AppError::kube(&e))?;
        let Some(raw) = raw.filter(|raw| raw.info.resource_version == info.resource_version) else {
            return Err(AppError::Failed(format!(
                "{}: changed or deleted since it was read; nothing was changed, run again to see the new state",
                info.key()
            )));
        };
        let obj =
            backup::record_from_raw(&raw).ok_or_else(|| AppError::Failed(format!("{}: no readable payload to back up", info.key())))?;
        dir.write(&obj).map_err(|e| AppError::Io(format!("backup of {} failed, nothing was changed: {e}", info.key())))?;
    }
    if !changes.is_empty() {
        surgery::write_ownership_backup(dir.path(), &changes)
            .map_err(|e| AppError::Io(format!("backup of the ownership keys failed, nothing was changed: {e}")))?;
    }
    eprintln!(
        "backed up {} record(s){} to {}",
        revisions.len(),
        if changes.is_empty() { "" } else { " and the objects' ownership keys" },
        dir.path().display()
    );

    let mut object_failures = 0;
    for change in &changes {
        let (outcome, detail) = surgery::apply_ownership(&scope.client, &catalog, change, false, &stop).await;
        if outcome.is_failure() {
            object_failures += 1;
            eprintln!("error: {}: {detail}", change.display());
        }
        if let Some(row) = report.objects.iter_mut().find(|o| o.object == change.display()) {
            row.result = if outcome == KeysOutcome::Changed || outcome == KeysOutcome::Unchanged {
                format!("{} ({})", row.action, outcome.as_str())
            } else {
                format!("{}: {detail}", outcome.as_str())
            };
        }
    }
    if object_failures > 0 {
        for row in &mut report.records {
            row.result = "kept".into();
        }
        let outcome = finish(
            &report,
            &format!("{object_failures} object(s) could not be changed (named above); no record was deleted"),
            args.output,
            Outcome::PartialFailure,
        )?;
        if stop.requested() {
            print_interrupted(scope);
        } else {
            eprintln!("once the errors above are dealt with, run the same command again: {}", scope.resume);
        }
        return Ok(outcome);
    }

    let mut failed = 0;
    for (r, row) in revisions.iter().zip(report.records.iter_mut()) {
        // Oldest first, and none after a failure: the latest revision stays until the end, so a re-run
        // plans the same objects.
        if stop.requested() || failed > 0 {
            row.result = if failed > 0 { "kept (an earlier delete failed)".into() } else { "interrupted".into() };
            continue;
        }
        let info = r.object();
        let store = ObjectStore::new(scope.client.clone(), info.kind);
        row.result = match store.delete_settled(&info.namespace, &info.name, info.resource_version.as_deref(), &stop).await {
            Ok(Settled::Done) => "deleted".into(),
            Ok(Settled::Found) => "deleted (already gone)".into(),
            Err(e) => {
                failed += 1;
                eprintln!("error: {}: {e}", info.key());
                format!("failed: {e}")
            }
        };
    }
    if stop.requested() {
        finish(&report, "interrupted: the records not deleted are kept", args.output, Outcome::PartialFailure)?;
        print_interrupted(scope);
        return Ok(Outcome::PartialFailure);
    }
    if failed > 0 {
        let outcome = finish(
            &report,
            &format!("{failed} record(s) could not be deleted (named above); backup in {}", dir.path().display()),
            args.output,
            Outcome::PartialFailure,
        )?;
        eprintln!("once the errors above are dealt with, run the same command again: {}", scope.resume);
        return Ok(outcome);
    }
    let msg = format!(
        "release {name} forgotten: {} record(s) deleted, its objects left in place (backup: {}; undo: kubectl werf releases restore --dir {})",
        revisions.len(),
        dir.path().display(),
        crate::commands::context::shell_quote(&dir.path().display().to_string())
    );
    finish(&report, &msg, args.output, Outcome::Success)
}

/// The report of a run that found nothing left to do.
fn report_done(name: &str, scope: &Scope, dry_run: bool) -> Report {
    Report {
        release: name.to_string(),
        namespace: scope.namespace.clone(),
        records: Vec::new(),
        objects: Vec::new(),
        dry_run,
        backup: None,
    }
}

fn print_plan(report: &Report) -> Result<(), AppError> {
    use std::io::Write;
    let mut t = Table::new();
    t.add_row(["RECORD", "REVISION", "STATUS", "STORAGE", "ACTION"]);
    for r in &report.records {
        t.add_row([r.object.clone(), r.revision.to_string(), r.status.clone(), r.storage.to_string(), r.result.clone()]);
    }
    let mut out = t.render();
    if !report.objects.is_empty() {
        let mut t = Table::new();
        t.add_row(["OBJECT", "OWNERSHIP", "ACTION"]);
        for o in &report.objects {
            t.add_row([o.object.clone(), o.ownership.clone(), o.action.clone()]);
        }
        out.push(b'\n');
        out.extend(t.render());
    }
    std::io::stdout().write_all(&out)?;
    Ok(())
}

fn finish(report: &Report, message: &str, format: OutputFormat, outcome: Outcome) -> Result<Outcome, AppError> {
    match format {
        OutputFormat::Table => println!("{message}"),
        f => {
            eprintln!("{message}");
            crate::output::print_structured(report, f)?;
        }
    }
    Ok(outcome)
}
