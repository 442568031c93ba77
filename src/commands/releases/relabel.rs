//! `releases relabel`: labels of a release's records rewritten from their payloads.
//!
//! Helm's list, history and upgrade select records by their labels (`name`, `owner`, `status`,
//! `version`; Tiller: `NAME`, `OWNER`, `STATUS`, `VERSION`) without decoding them: a hand edit or a
//! broken tool that leaves labels disagreeing with the payload makes `helm list` lie. Decisions (the
//! `--help` says the same):
//! - The release is found by the shared scope rule (`storage::scope::locate`, one storage for a write).
//!   Its records are those its `name`/`NAME` label selects (whatever their owner label says) and those
//!   whose object name is the release's (whatever their name label says).
//! - What a label should say comes from `storage::codec::{helm3,helm2}_label_drift` — the same function
//!   `releases doctor` reports label drift with, so a finding and its fix agree by construction.
//! - Only the drifted labels change; every other label (werf's, the user's, `createdAt`) is kept and the
//!   update stamp (`modifiedAt`, Tiller `MODIFIED_AT`) is set as on any helm update. The payload is
//!   written back byte for byte.
//! - A record whose object name disagrees with its payload (`sh.helm.release.v1.NAME.vN`, Tiller
//!   `NAME.vN`) is refused: relabelling cannot rename an object (export it and see `releases move`, or
//!   delete the stray copy). An undecodable record is named and skipped. Either makes the exit code 1;
//!   the other records are still done.
//! - A Helm 3 payload naming another namespace than the one its record is in is a warning only: no label
//!   carries the namespace.
//! - Plan (record, label, from → to), backup of every record before its write, confirmation on a
//!   terminal (or `--yes`), `--dry-run`; each record is read again right before its write and written
//!   with `ObjectStore::replace_settled` under its resourceVersion. Nothing to do: a message, exit 0.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::cli::{OutputFormat, ReleasesRelabelArgs};
use crate::commands::context::Outcome;
use crate::error::AppError;
use crate::stop::StopSignal;
use crate::storage::backup::{self, BackupDir};
use crate::storage::codec::{self, LabelDrift};
use crate::storage::helm3::now_unix;
use crate::storage::objects::{NewObject, ObjectStore, RawObject};
use crate::storage::scope::{self, Place, locate};

use super::Scope;

/// One record of the release and what relabel makes of it.
struct Planned {
    raw: RawObject,
    revision: i64,
    drift: Vec<LabelDrift>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecordReport {
    object: String,
    revision: i64,
    labels: Vec<LabelDrift>,
    result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Skipped {
    object: String,
    reason: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    release: String,
    namespace: String,
    storage: &'static str,
    dry_run: bool,
    result: String,
    records: Vec<RecordReport>,
    skipped: Vec<Skipped>,
    #[serde(skip_serializing_if = "Option::is_none")]
    backup: Option<String>,
}

pub async fn run(scope: &Scope, args: ReleasesRelabelArgs) -> Result<Outcome, AppError> {
    let name = args.name.clone();
    let located = locate(&scope.client, &scope.selection(false), &name).await?;
    let (found, warnings) = located.for_write()?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let raws = release_objects(scope, &name, &found).await.map_err(|e| AppError::kube(&e))?;

    // Plan: decode each record, compare its labels with what helm writes for its payload.
    let mut planned = Vec::new();
    let mut skipped = Vec::new();
    for raw in raws {
        match examine(&raw, &found.place, scope) {
            Ok(Some((revision, drift))) => planned.push(Planned { raw, revision, drift }),
            Ok(None) => {}
            Err(reason) => {
                eprintln!("error: {}: {reason}", raw.info.key());
                skipped.push(Skipped { object: raw.info.key(), reason });
            }
        }
    }
    planned.sort_by_key(|p| (p.revision, p.raw.info.name.clone()));
    let total = planned.len();
    planned.retain(|p| !p.drift.is_empty());

    let mut report = Report {
        release: name.clone(),
        namespace: found.place.records_namespace().to_string(),
        storage: found.place.storage(),
        dry_run: args.dry_run,
        result: String::new(),
        records: planned
            .iter()
            .map(|p| RecordReport {
                object: p.raw.info.key(),
                revision: p.revision,
                labels: p.drift.clone(),
                result: "planned".into(),
                error: None,
            })
            .collect(),
        skipped: Vec::new(),
        backup: None,
    };
    report.skipped = skipped;
    let refused = if report.skipped.is_empty() { Outcome::Success } else { Outcome::PartialFailure };

    if planned.is_empty() {
        report.result = "nothing-to-do".into();
        let msg = format!(
            "release {name}: the labels of its {total} readable record(s) agree with their payloads: nothing to relabel{}",
            if report.skipped.is_empty() { String::new() } else { format!(" ({} record(s) skipped, named above)", report.skipped.len()) }
        );
        finish(&report, &msg, args.output)?;
        return Ok(refused);
    }
    if args.output == OutputFormat::Table {
        let rows: Vec<Vec<String>> = planned
            .iter()
            .flat_map(|p| {
                p.drift.iter().map(|d| {
                    vec![
                        p.raw.info.key(),
                        p.revision.to_string(),
                        found.place.storage().to_string(),
                        d.label.to_string(),
                        d.stored.clone().unwrap_or_else(|| "<none>".into()),
                        d.expected.clone(),
                    ]
                })
            })
            .collect();
        print!("{}", crate::output::columns("", 3, &["RECORD", "REVISION", "STORAGE", "LABEL", "FROM", "TO"], &rows));
    }
    if args.dry_run {
        report.result = "dry-run".into();
        finish(&report, "dry run: nothing was changed", args.output)?;
        return Ok(refused);
    }
    let question = format!("Rewrite the labels of {} record(s) of release {name} as shown?", planned.len());
    if !crate::interact::confirm(&question, args.yes)? {
        return Err(AppError::Failed("cancelled; nothing was changed".into()));
    }

    // Execute, oldest first: an interrupt lets the write in flight finish and starts none.
    let stop = StopSignal::install();
    let dir = BackupDir::create(args.backup_dir.as_deref(), "relabel")?;
    report.backup = Some(dir.path().display().to_string());
    let store = ObjectStore::new(scope.client.clone(), found.place.kind());
    let limits = scope.limits();
    let helm2 = found.place.is_helm2();
    let mut failed = 0;
    let mut stopped = false;
    for (p, r) in planned.iter().zip(report.records.iter_mut()) {
        if stop.requested() {
            stopped = true;
            r.result = "not-started".into();
            continue;
        }
        match relabel_one(&store, p, helm2, &dir, &limits, &stop).await {
            Ok(true) => r.result = "relabelled".into(),
            Ok(false) => {
                stopped = true;
                r.result = "not-started".into();
            }
            Err(e) => {
                eprintln!("error: {}: {e}", p.raw.info.key());
                r.result = "failed".into();
                r.error = Some(e);
                failed += 1;
            }
        }
    }
    let done = report.records.iter().filter(|r| r.result == "relabelled").count();
    report.result = if failed > 0 || stopped || !report.skipped.is_empty() { "incomplete".into() } else { "relabelled".into() };
    let msg = format!("release {name}: {done} of {} record(s) relabelled (backup: {})", planned.len(), dir.path().display());
    finish(&report, &msg, args.output)?;
    if stopped {
        eprintln!("interrupted; the write in flight, if any, has finished");
        super::print_interrupted(scope);
        return Ok(Outcome::PartialFailure);
    }
    if failed > 0 {
        eprintln!("once the errors above are fixed, run the same command again: {}", scope.resume);
        return Ok(Outcome::PartialFailure);
    }
    Ok(refused)
}

/// The record objects of release `name` where it was found: selected by the name label (whatever the
/// owner label says) or by object name (whatever the name label says).
async fn release_objects(scope: &Scope, name: &str, found: &scope::Found) -> Result<Vec<RawObject>, kube::Error> {
    let store = ObjectStore::new(scope.client.clone(), found.place.kind());
    let ns = found.place.records_namespace();
    let (by_name, all, is_ours): (String, &str, fn(&str, &str) -> bool) = match &found.place {
        Place::Helm3 { .. } => (format!("name={name}"), codec::HELM3_LIST_SELECTOR, |object, name| {
            codec::parse_helm3_object_name(object).is_some_and(|(n, _)| n == name)
        }),
        Place::Helm2 { .. } => (format!("NAME={name}"), codec::HELM2_LIST_SELECTOR, |object, name| {
            codec::parse_helm2_object_name(object).is_some_and(|(n, _)| n == name)
        }),
    };
    let mut out = scope::list_raw(&store, Some(ns), &by_name).await?;
    // Tiller records of this release are also Helm 2's own listing (NAME label missing or different).
    if found.place.is_helm2() {
        for raw in scope::raw_records(&scope.client, name, found).await? {
            if !out.iter().any(|o| o.info.name == raw.info.name) {
                out.push(raw);
            }
        }
    }
    let seen: BTreeSet<String> = out.iter().map(|o| o.info.name.clone()).collect();
    for info in store.list_meta_all(Some(ns), all).await? {
        if !seen.contains(&info.name)
            && is_ours(&info.name, name)
            && let Some(raw) = store.get(ns, &info.name).await?
        {
            out.push(raw);
        }
    }
    Ok(out)
}

/// A record's revision and label drift; `Ok(None)` for an object that is not a release record at all
/// (a `name=` label alone selected it); `Err` (why) for a record relabel refuses.
fn examine(raw: &RawObject, place: &Place, scope: &Scope) -> Result<Option<(i64, Vec<LabelDrift>)>, String> {
    let limits = scope.limits();
    let labels = &raw.info.labels;
    let Some(payload) = raw.payload.as_deref() else {
        let owned = labels.contains_key("owner") || labels.contains_key("OWNER") || labels.contains_key("status");
        return if owned { Err("no release payload (data.release); skipped".into()) } else { Ok(None) };
    };
    match place {
        Place::Helm3 { .. } => {
            let release = codec::decode_helm3(payload, &limits).map_err(|e| format!("cannot be decoded ({e}); skipped"))?;
            if let Some(why) = codec::helm3_object_name_drift(&raw.info.name, &release) {
                return Err(format!(
                    "{why}; relabel cannot rename objects: not changed (export it with `releases export`, then re-create it under its own name or delete the stray copy; `releases move` renames whole releases)"
                ));
            }
            if release.namespace != raw.info.namespace {
                eprintln!(
                    "warning: {}: the payload says namespace {:?}; no label carries the namespace, so relabel leaves that as it is",
                    raw.info.key(),
                    release.namespace
                );
            }
            Ok(Some((release.version, codec::helm3_label_drift(labels, &release))))
        }
        Place::Helm2 { .. } => {
            let release = codec::decode_helm2(payload, &limits).map_err(|e| format!("cannot be decoded ({e}); skipped"))?;
            if let Some(why) = codec::helm2_object_name_drift(&raw.info.name, &release) {
                return Err(format!(
                    "{why}; relabel cannot rename objects: not changed (export it with `releases export` and re-create it under its own name)"
                ));
            }
            Ok(Some((i64::from(release.version), codec::helm2_label_drift(labels, &release))))
        }
    }
}

/// Read the record again (unchanged since planned), back it up, write the repaired labels with the
/// payload as it is. `Ok(false)`: interrupted before the write.
async fn relabel_one(
    store: &ObjectStore,
    p: &Planned,
    helm2: bool,
    dir: &BackupDir,
    limits: &codec::DecodeLimits,
    stop: &StopSignal,
) -> Result<bool, String> {
    let info = &p.raw.info;
    let current = store.get(&info.namespace, &info.name).await.map_err(|e| crate::error::describe_kube_error(&e))?;
    let Some(current) = current else { return Err("deleted meanwhile; not written".into()) };
    if current.info.resource_version != info.resource_version {
        return Err("changed since it was read; not written, re-run to see the new state".into());
    }
    let saved = backup::record_from_raw(&current).ok_or("no readable payload to back up; not written")?;
    let file = dir.write(&saved).map_err(|e| format!("backup failed, not written: {e}"))?;
    eprintln!("backed up {} to {}", info.key(), file.display());
    if stop.requested() {
        return Ok(false);
    }
    let payload =
        String::from_utf8(current.payload.clone().unwrap_or_default()).map_err(|_| "payload is not text; not written".to_string())?;
    let object = NewObject {
        kind: info.kind,
        namespace: info.namespace.clone(),
        name: info.name.clone(),
        labels: codec::relabelled(&current.info.labels, &p.drift, helm2, now_unix()),
        secret_type: current.info.secret_type.clone(),
        payload,
    };
    let rv = info.resource_version.clone().unwrap_or_default();
    store.replace_settled(&object, &rv, limits, stop).await.map(|_| true).map_err(|e| e.to_string())
}

fn finish(report: &Report, message: &str, format: OutputFormat) -> Result<(), AppError> {
    match format {
        OutputFormat::Table => println!("{message}"),
        f => {
            eprintln!("{message}");
            crate::output::print_structured(report, f)?;
        }
    }
    Ok(())
}
