//! `releases move`: rename a Helm 3/4 release (and optionally move its records to another namespace).
//!
//! Decisions (the `--help` says the same):
//! - The release is found by the scope rule every verb shares (`storage::scope`): the one Helm 3/4
//!   driver holding it (found under both, the run is refused: `--release-storage` picks one), every
//!   revision; the new records go to the same driver.
//!   Each is written again under the new name: the payload's `name` (and `namespace` with
//!   `--to-namespace`) change, nothing else; the labels stay as they were but for `name`. Every new
//!   record is read back and compared before anything is deleted.
//! - Order: back up (old records, replaced records, ownership keys) → write the new records → re-stamp
//!   the live objects of the latest manifest that name the release → delete the old records, oldest
//!   first. Every write is settled (records: `ObjectStore::*_settled`; objects: `patch_settled`).
//! - Re-running after an interruption converges: new records already written equal are skipped; when
//!   the delete phase was cut short, the new name's lower revisions are recognised as this move's own
//!   because the revisions both names still share are equal.
//! - Refused: the new name has other records (unless `--force`: backed up, then replaced or deleted so
//!   the new name holds exactly the moved history); the latest revision is pending or uninstalling;
//!   `--to-namespace` when a namespaced object of any revision (manifest or hook) leaves its namespace
//!   to the release's, since the next upgrade would create it in the new namespace.
//! - Renaming a release does not rename its objects: object names, labels and selectors holding the
//!   old name are listed as warnings.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::cli::{OutputFormat, ReleasesMoveArgs};
use crate::commands::context::Outcome;
use crate::error::AppError;
use crate::helmfmt::Table;
use crate::live::discovery::ResourceCatalog;
use crate::manifest::parse_objects;
use crate::ownership::OwnershipKeys;
use crate::stop::StopSignal;
use crate::storage::Helm3Driver;
use crate::storage::backup::{self, BackupDir};
use crate::storage::codec::{self, helm3_object_name};
use crate::storage::objects::{NewObject, ObjectStore, Settled, same_record};
use crate::storage::scope::{Place, helm3_driver};

use super::surgery::{self, KeysOutcome, OwnershipChange, Revision};
use super::{Scope, print_interrupted};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    from: String,
    to: String,
    revision: i64,
    status: String,
    action: String,
    result: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    release: String,
    namespace: String,
    to_name: String,
    to_namespace: String,
    records: Vec<Row>,
    objects: Vec<Row>,
    warnings: Vec<String>,
    dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    backup: Option<String>,
}

/// What happens to a record the new name already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Existing {
    /// Equal to what the move writes: a re-run finds its own work.
    Ours,
    /// A lower revision left by an earlier run of this move whose old record is already deleted.
    Earlier,
    /// Anything else: refused unless --force.
    Foreign,
}

/// The record revision `rev` becomes under the new name (and namespace).
fn renamed(rev: &Revision, to_name: &str, to_namespace: &str) -> Result<NewObject, AppError> {
    let Revision::Helm3(r) = rev else { unreachable!("move takes Helm 3/4 records only") };
    let mut release = r.release.clone();
    release.name = to_name.to_string();
    release.namespace = to_namespace.to_string();
    let payload = codec::encode_helm3(&release)
        .map_err(|e| AppError::Failed(format!("{}: cannot encode the renamed release: {e}", r.object.key())))?;
    let mut labels = r.object.labels.clone();
    labels.insert("name".into(), to_name.to_string());
    Ok(NewObject {
        kind: r.object.kind,
        namespace: to_namespace.to_string(),
        name: helm3_object_name(to_name, release.version),
        labels,
        secret_type: r.object.secret_type.clone(),
        payload,
    })
}

/// Namespaced objects of every revision (manifest and hooks) that leave their namespace to the release's.
fn implicit_namespaces(revisions: &[Revision], catalog: &ResourceCatalog) -> Vec<String> {
    let mut found = Vec::new();
    for rev in revisions {
        let Revision::Helm3(r) = rev else { continue };
        let texts = std::iter::once(r.release.manifest.as_str()).chain(r.release.hooks.iter().map(|h| h.manifest.as_str()));
        for text in texts {
            for obj in parse_objects(text, true).into_iter().flatten() {
                if obj.namespace.as_deref().is_some_and(|n| !n.is_empty()) {
                    continue;
                }
                let what = match catalog.resolve_gvk(&obj.api_version, &obj.kind) {
                    Ok(res) if !res.namespaced => continue,
                    Ok(_) => format!("{}/{} (revision {}) has no metadata.namespace", obj.kind, obj.name, r.release.version),
                    Err(_) => format!(
                        "{}/{} (revision {}): {} is not served here, so whether it is namespaced is unknown",
                        obj.kind, obj.name, r.release.version, obj.api_version
                    ),
                };
                if !found.contains(&what) {
                    found.push(what);
                }
            }
        }
    }
    found
}

/// Places in the latest manifest where the old name stays after the rename: object names, labels and
/// selectors.
fn name_occurrences(manifest: &str, old: &str) -> Vec<String> {
    fn walk(v: &Value, path: &str, old: &str, relevant: bool, out: &mut Vec<String>) {
        match v {
            Value::String(s) if relevant && s.contains(old) => out.push(format!("{path} = {s:?}")),
            Value::Object(m) => {
                for (k, child) in m {
                    let path = format!("{path}.{k}");
                    let relevant = relevant || k == "labels" || k.to_ascii_lowercase().contains("selector") || k == "serviceName";
                    walk(child, &path, old, relevant, out);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(child, &format!("{path}[{i}]"), old, relevant, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for obj in parse_objects(manifest, true).into_iter().flatten() {
        let mut places = Vec::new();
        if obj.name.contains(old) {
            places.push(format!("metadata.name = {:?}", obj.name));
        }
        if let Some(meta) = obj.object.get("metadata").and_then(|m| m.get("labels")) {
            walk(meta, "metadata.labels", old, true, &mut places);
        }
        if let Some(spec) = obj.object.get("spec") {
            walk(spec, "spec", old, false, &mut places);
        }
        for place in places {
            out.push(format!("{}/{}: {place}", obj.kind, obj.name));
        }
    }
    out
}

pub async fn run(scope: &Scope, args: ReleasesMoveArgs) -> Result<Outcome, AppError> {
    // Inputs.
    let name = args.name.clone();
    let to_name = args.to_name.clone();
    crate::names::validate_release_name(&to_name).map_err(|e| AppError::Usage(format!("--to-name {to_name:?}: {e}")))?;
    let to_namespace = args.to_namespace.clone().unwrap_or_else(|| scope.namespace.clone());
    crate::names::validate_namespace_name(&to_namespace).map_err(|e| AppError::Usage(format!("--to-namespace {to_namespace:?}: {e}")))?;
    if to_name == name && to_namespace == scope.namespace {
        return Err(AppError::Usage(format!("release {name} is already named {to_name} in namespace {to_namespace}: nothing to move")));
    }
    if scope.helm_version == Some(2) {
        return Err(AppError::Usage(
            "move renames Helm 3/4 releases; migrate a Helm 2 release first (migrate2to3 --target-release NAME renames while migrating)"
                .into(),
        ));
    }

    // Plan: the one Helm 3/4 storage the shared scope rule finds the release in.
    let (driver, revisions, not_found) = match surgery::located_revisions(scope, &name).await? {
        Ok((Place::Helm3 { kind, .. }, revisions)) => (Some(helm3_driver(kind)), revisions, None),
        Ok((place @ Place::Helm2 { .. }, _)) => {
            return Err(AppError::Usage(format!(
                "{}: move renames Helm 3/4 releases; migrate it first (migrate2to3 --target-release NAME renames while migrating)",
                place.describe(&name)
            )));
        }
        Err(not_found) => (None, Vec::new(), Some(not_found)),
    };
    let (Some(driver), Some(latest)) = (driver, revisions.last()) else {
        let drivers = match scope.storage.helm3_driver_chosen {
            true => vec![scope.storage.helm3_driver],
            false => vec![Helm3Driver::Secret, Helm3Driver::ConfigMap],
        };
        let existing = surgery::helm3_revisions(scope, &to_namespace, &to_name, &drivers).await.unwrap_or_default();
        let backed = surgery::backed_up_records(args.backup_dir.as_deref(), &scope.namespace, &name);
        if backed > 0 && existing.len() >= backed {
            // A re-run after a finished move: the old records are only in the backup, the new ones are there.
            let report = Report {
                release: name.clone(),
                namespace: scope.namespace.clone(),
                to_name: to_name.clone(),
                to_namespace: to_namespace.clone(),
                records: Vec::new(),
                objects: Vec::new(),
                warnings: Vec::new(),
                dry_run: args.dry_run,
                backup: None,
            };
            let msg = format!(
                "release {name} was already moved to {to_name} in {to_namespace} ({} revision(s) there, the old ones in the backup); nothing to do",
                existing.len()
            );
            return finish(&report, &msg, args.output, Outcome::Success);
        }
        let mut err = not_found.unwrap_or_else(|| AppError::Failed(format!("release {name}: no readable record")));
        if !existing.is_empty()
            && let AppError::Failed(text) = &mut err
        {
            text.push_str(&format!(
                " ({to_name} has {} revision(s) in {to_namespace}: if a move finished, there is nothing left to do)",
                existing.len()
            ));
        }
        return Err(err);
    };
    surgery::refuse_busy(&name, latest, "moved")?;
    let release_ns = latest.release_namespace().to_string();
    let (catalog, live, unresolved) = surgery::live_objects(scope, latest.manifest(), &release_ns).await?;
    if to_namespace != scope.namespace {
        let implicit = implicit_namespaces(&revisions, &catalog);
        if !implicit.is_empty() {
            let shown: Vec<&str> = implicit.iter().take(5).map(String::as_str).collect();
            return Err(AppError::Failed(format!(
                "--to-namespace {to_namespace}: {} object(s) rely on the release namespace ({}{}); the next upgrade would create \
                 them in {to_namespace}. Nothing was changed",
                implicit.len(),
                shown.join("; "),
                if implicit.len() > shown.len() { "; ..." } else { "" }
            )));
        }
    }
    let planned: Vec<NewObject> = revisions.iter().map(|r| renamed(r, &to_name, &to_namespace)).collect::<Result<_, _>>()?;
    let existing = surgery::helm3_revisions(scope, &to_namespace, &to_name, &[driver]).await?;
    let limits = scope.limits();
    let min_old = revisions.first().map(Revision::version).unwrap_or_default();
    let mut existing_state: BTreeMap<String, (Existing, &Revision)> = BTreeMap::new();
    let mut raw_existing = BTreeMap::new();
    for rev in &existing {
        let info = rev.object();
        let store = ObjectStore::new(scope.client.clone(), info.kind);
        if let Some(raw) = store.get(&info.namespace, &info.name).await.map_err(|e| AppError::kube(&e))? {
            raw_existing.insert(info.name.clone(), raw);
        }
    }
    let overlap_equal = planned.iter().any(|p| raw_existing.get(&p.name).is_some_and(|raw| same_record(p, raw, &limits)));
    for rev in &existing {
        let info = rev.object();
        let state = match (planned.iter().find(|p| p.name == info.name), raw_existing.get(&info.name)) {
            (Some(p), Some(raw)) if same_record(p, raw, &limits) => Existing::Ours,
            (None, Some(_)) if rev.version() < min_old && overlap_equal => Existing::Earlier,
            _ => Existing::Foreign,
        };
        existing_state.insert(info.name.clone(), (state, rev));
    }
    let foreign: Vec<String> =
        existing_state.iter().filter(|(_, (s, _))| *s == Existing::Foreign).map(|(n, _)| format!("{to_namespace}/{n}")).collect();
    if !foreign.is_empty() && !args.force {
        return Err(AppError::Failed(format!(
            "release {to_name} already exists in namespace {to_namespace} ({} record(s): {}); nothing was changed. --force backs them up and replaces them",
            foreign.len(),
            foreign.join(", ")
        )));
    }

    let mut report = Report {
        release: name.clone(),
        namespace: scope.namespace.clone(),
        to_name: to_name.clone(),
        to_namespace: to_namespace.clone(),
        records: Vec::new(),
        objects: Vec::new(),
        warnings: name_occurrences(latest.manifest(), &name),
        dry_run: args.dry_run,
        backup: None,
    };
    for (rev, new) in revisions.iter().zip(&planned) {
        let action = match existing_state.get(&new.name) {
            Some((Existing::Ours, _)) => "already written",
            Some(_) => "replace (--force)",
            None => "write",
        };
        report.records.push(Row {
            from: rev.object().key(),
            to: format!("{}/{}", new.namespace, new.name),
            revision: rev.version(),
            status: rev.status().as_str().to_string(),
            action: action.into(),
            result: action.into(),
        });
    }
    for (obj_name, (state, rev)) in &existing_state {
        if planned.iter().any(|p| &p.name == obj_name) {
            continue;
        }
        let action = if *state == Existing::Earlier { "kept (an earlier run of this move wrote it)" } else { "delete (--force)" };
        report.records.push(Row {
            from: String::new(),
            to: rev.object().key(),
            revision: rev.version(),
            status: rev.status().as_str().to_string(),
            action: action.into(),
            result: action.into(),
        });
    }
    let after = OwnershipKeys::helm(&to_name, &to_namespace);
    let mut changes: Vec<OwnershipChange> = Vec::new();
    for object in &live {
        let (ownership, action) = match &object.keys {
            None => ("-".to_string(), "missing".to_string()),
            Some(keys) if keys.names(&name, &release_ns) => {
                changes.push(OwnershipChange::of(object, keys, &after));
                (keys.describe(), format!("re-stamp {}", after.describe()))
            }
            Some(keys) if keys == &after => (keys.describe(), "already re-stamped".to_string()),
            Some(keys) => (keys.describe(), "not this release's: left alone".to_string()),
        };
        report.objects.push(Row {
            from: object.display(),
            to: ownership,
            revision: latest.version(),
            status: String::new(),
            action: action.clone(),
            result: action,
        });
    }
    for u in &unresolved {
        eprintln!("warning: {}: {} (left alone)", u.what, u.reason);
    }
    if args.output == OutputFormat::Table {
        print_plan(&report)?;
    }
    for w in &report.warnings {
        eprintln!("warning: the old name stays in {w} (renaming a release does not rename its objects)");
    }
    if args.dry_run {
        return finish(&report, "dry run: nothing was changed", args.output, Outcome::Success);
    }
    let question = format!("Move release {name} ({} revision(s)) in {} to {to_name} in {to_namespace}?", revisions.len(), scope.namespace);
    if !crate::interact::confirm(&question, args.yes)? {
        return Err(AppError::Failed("cancelled; nothing was changed".into()));
    }

    // Execute. Backups first: the old records, the new name's records that will be replaced or deleted,
    // the ownership keys.
    let stop = StopSignal::install();
    let dir = BackupDir::create(args.backup_dir.as_deref(), "move")?;
    report.backup = Some(dir.path().display().to_string());
    for rev in revisions.iter().chain(existing_state.values().filter(|(s, _)| *s == Existing::Foreign).map(|(_, r)| *r)) {
        let info = rev.object();
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
    eprintln!("backed up to {}", dir.path().display());

    // New records, each read back.
    let mut failures = 0;
    for (new, row) in planned.iter().zip(report.records.iter_mut()) {
        if stop.requested() {
            row.result = "interrupted".into();
            continue;
        }
        if failures > 0 {
            row.result = "not written (an earlier write failed)".into();
            continue;
        }
        let store = ObjectStore::new(scope.client.clone(), new.kind);
        let written = match existing_state.get(&new.name) {
            Some((Existing::Ours, _)) => Ok(Settled::Found),
            Some((_, rev)) => {
                let rv = rev.object().resource_version.clone().unwrap_or_default();
                store.replace_settled(new, &rv, &limits, &stop).await
            }
            None => store.create_settled(new, &limits, &stop).await,
        };
        row.result = match written {
            Ok(settled) => match store.get(&new.namespace, &new.name).await {
                Ok(Some(raw)) if same_record(new, &raw, &limits) => {
                    if settled == Settled::Found {
                        "already written".into()
                    } else {
                        "written, verified".into()
                    }
                }
                Ok(_) => {
                    failures += 1;
                    format!("failed: {}/{} reads back different", new.namespace, new.name)
                }
                Err(e) => {
                    failures += 1;
                    format!("failed: reading it back: {}", crate::error::describe_kube_error(&e))
                }
            },
            Err(e) => {
                failures += 1;
                format!("failed: {e}")
            }
        };
        if row.result.starts_with("failed") {
            eprintln!("error: {}/{}: {}", new.namespace, new.name, row.result.trim_start_matches("failed: "));
        }
    }
    // The new name's extra records (--force): deleted so it holds exactly the moved history.
    for (obj_name, (state, rev)) in &existing_state {
        if *state != Existing::Foreign || planned.iter().any(|p| &p.name == obj_name) || stop.requested() || failures > 0 {
            continue;
        }
        let info = rev.object();
        let store = ObjectStore::new(scope.client.clone(), info.kind);
        let result = store.delete_settled(&info.namespace, &info.name, info.resource_version.as_deref(), &stop).await;
        let row = report.records.iter_mut().find(|r| r.to == info.key());
        match result {
            Ok(_) => row.into_iter().for_each(|r| r.result = "deleted".into()),
            Err(e) => {
                failures += 1;
                eprintln!("error: {}: {e}", info.key());
                row.into_iter().for_each(|r| r.result = format!("failed: {e}"));
            }
        }
    }
    if failures > 0 || stop.requested() {
        return stopped(scope, &report, args.output, &stop, "the old records are all kept");
    }

    // The live objects' ownership keys.
    for change in &changes {
        let (outcome, detail) = surgery::apply_ownership(&scope.client, &catalog, change, false, &stop).await;
        if outcome.is_failure() {
            failures += 1;
            eprintln!("error: {}: {detail}", change.display());
        }
        if let Some(row) = report.objects.iter_mut().find(|o| o.from == change.display()) {
            row.result = if outcome == KeysOutcome::Changed || outcome == KeysOutcome::Unchanged {
                format!("re-stamped ({})", outcome.as_str())
            } else {
                format!("{}: {detail}", outcome.as_str())
            };
        }
    }
    if failures > 0 || stop.requested() {
        return stopped(scope, &report, args.output, &stop, "the old records are all kept");
    }

    // Only now the old records, oldest first.
    for (rev, row) in revisions.iter().zip(report.records.iter_mut()) {
        // Oldest first, and none after a failure: what is left of the old name stays its newest
        // revisions, which a re-run recognises in the new name.
        if stop.requested() || failures > 0 {
            row.result =
                format!("{}; old record kept ({})", row.result, if failures > 0 { "an earlier delete failed" } else { "interrupted" });
            continue;
        }
        let info = rev.object();
        let store = ObjectStore::new(scope.client.clone(), info.kind);
        match store.delete_settled(&info.namespace, &info.name, info.resource_version.as_deref(), &stop).await {
            Ok(_) => row.result = format!("{}; old record deleted", row.result),
            Err(e) => {
                failures += 1;
                eprintln!("error: {}: {e}", info.key());
                row.result = format!("{}; old record not deleted: {e}", row.result);
            }
        }
    }
    if failures > 0 || stop.requested() {
        return stopped(scope, &report, args.output, &stop, "some old records are kept");
    }
    let msg = format!(
        "release {name} in {} is now {to_name} in {to_namespace}: {} revision(s) moved (backup: {})",
        scope.namespace,
        revisions.len(),
        dir.path().display()
    );
    finish(&report, &msg, args.output, Outcome::Success)
}

fn stopped(scope: &Scope, report: &Report, format: OutputFormat, stop: &StopSignal, kept: &str) -> Result<Outcome, AppError> {
    finish(report, &format!("the move did not finish ({kept}); see above"), format, Outcome::PartialFailure)?;
    if stop.requested() {
        print_interrupted(scope);
    } else {
        eprintln!("once the errors above are dealt with, run the same command again: {}", scope.resume);
    }
    Ok(Outcome::PartialFailure)
}

fn print_plan(report: &Report) -> Result<(), AppError> {
    use std::io::Write;
    let mut t = Table::new();
    t.add_row(["RECORD", "NEW RECORD", "REVISION", "STATUS", "ACTION"]);
    for r in &report.records {
        t.add_row([
            if r.from.is_empty() { "-".to_string() } else { r.from.clone() },
            r.to.clone(),
            r.revision.to_string(),
            r.status.clone(),
            r.action.clone(),
        ]);
    }
    let mut out = t.render();
    if !report.objects.is_empty() {
        let mut t = Table::new();
        t.add_row(["OBJECT", "OWNERSHIP", "ACTION"]);
        for o in &report.objects {
            t.add_row([o.from.clone(), o.to.clone(), o.action.clone()]);
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
