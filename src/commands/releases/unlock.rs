//! `releases unlock`: free a release stuck in `pending-install`/`pending-upgrade`/`pending-rollback`, or
//! with several revisions `deployed` at once.
//!
//! Decisions (the `--help` says the same):
//! - The latest revision is the target (Helm only looks at the latest); `--revision N` picks another.
//!   Helm 3/4 records in the namespace come first; without any (or with `--helm-version 2`), the Helm 2
//!   release of that name in Tiller's storage.
//! - Not pending: a message, nothing done, exit 0 (a re-run after success converges quietly).
//! - Age = now minus the newest of `info.last_deployed` and the record's `modifiedAt`/`createdAt`
//!   (`MODIFIED_AT`/`CREATED_AT`) labels. Younger than 5 minutes: a warning, and an explicit answer on
//!   the terminal; with `--yes` the command refuses unless `--force` is given too (exit 2).
//! - The record is read again right before writing, backed up (it must be unchanged since it was
//!   shown), then rewritten or deleted with its resourceVersion as precondition.
//! - `--to failed` (default) / `--to superseded` rewrite `info.status` and prefix `info.description`
//!   with who changed it and from what; labels are rebuilt as Helm does (`status`, `modifiedAt`).
//!   `--to superseded` needs another revision that is `deployed`.
//! - `--to delete` removes the record; the previous revision becomes the latest.
//! - A write whose answer says nothing sure (lost connection, 5xx, 429, 409) is made sure of by reading
//!   the record again (`ObjectStore::replace_settled`/`delete_settled`): found as meant is done;
//!   unchanged may be written again; changed by someone else is reported, never overwritten. Whatever
//!   happens, the backup holds the record as it was.
//! - Several revisions `deployed` (helm/helm#7274): `--to superseded` marks every deployed revision but
//!   the latest deployed one superseded — and a pending revision after it too, so one run leaves exactly
//!   one deployed revision and nothing stuck. The 5-minute rule applies to a pending revision only (helm
//!   never leaves two revisions deployed while an upgrade runs). Every record is listed with where it lives, backed up,
//!   read again right before its own write; one that fails is named, the others are still done (exit 1).
//!   `--to failed`/`--to delete` concern a stuck revision: with several deployed and nothing pending they
//!   are refused with the `--to superseded` command (exit 2); with a pending latest they unlock it and
//!   print that command as a note.
//! - SIGINT/SIGTERM after the answer to the question: a write in flight finishes, none is started
//!   after it, the command to run again is printed and the exit code is 1 (as `migrate2to3`).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::{OutputFormat, ReleasesUnlockArgs, UnlockTarget};
use crate::commands::context::Outcome;
use crate::error::AppError;
use crate::helmfmt::Table;
use crate::release::helm2;
use crate::release::helm3::Status;
use crate::stop::StopSignal;
use crate::storage::backup::{self, BackupDir};
use crate::storage::codec::{LabelStamp, parse_helm2_labels, parse_helm3_labels};
use crate::storage::helm3::now_unix;
use crate::storage::objects::{ObjectInfo, ObjectStore, Settled};
use crate::storage::scope::{Place, helm3_driver, locate};
use crate::storage::{Helm2Record, Helm3Record, Helm3Store, open_stores};

use super::{Scope, print_problems, view};

/// A record written this recently may belong to an operation that is still running.
pub const RECENT_SECONDS: i64 = 300;

enum Record {
    Helm3(Box<Helm3Record>),
    Helm2(Box<Helm2Record>),
}

impl Record {
    fn object(&self) -> &ObjectInfo {
        match self {
            Record::Helm3(r) => &r.object,
            Record::Helm2(r) => &r.object,
        }
    }
    fn version(&self) -> i64 {
        match self {
            Record::Helm3(r) => r.release.version,
            Record::Helm2(r) => i64::from(r.release.version),
        }
    }
    fn status(&self) -> Status {
        match self {
            Record::Helm3(r) => r.release.info.status.clone(),
            Record::Helm2(r) => view::helm2_status(r.release.status_code()),
        }
    }
    fn namespace(&self) -> String {
        match self {
            Record::Helm3(r) => r.release.namespace.clone(),
            Record::Helm2(r) => r.release.namespace.clone(),
        }
    }
    fn description(&self) -> String {
        match self {
            Record::Helm3(r) => r.release.info.description.clone(),
            Record::Helm2(r) => r.release.info.as_ref().map(|i| i.description.clone()).unwrap_or_default(),
        }
    }
    fn storage(&self) -> &'static str {
        match self {
            Record::Helm3(r) => match r.object.kind {
                crate::storage::ObjectKind::Secret => "secret",
                crate::storage::ObjectKind::ConfigMap => "configmap",
            },
            Record::Helm2(r) => r.storage_name(),
        }
    }
    /// Unix seconds of the newest write we know of, and of `last_deployed`.
    fn times(&self) -> (Option<i64>, Option<i64>) {
        let labels = &self.object().labels;
        let (stamp, deployed) = match self {
            Record::Helm3(r) => {
                let l = parse_helm3_labels(labels);
                (l.modified_at.max(l.created_at), r.release.info.last_deployed.unix_seconds())
            }
            Record::Helm2(r) => {
                let l = parse_helm2_labels(labels);
                let d = r.release.info.as_ref().and_then(|i| i.last_deployed.as_ref()).map(|t| t.seconds).filter(|s| *s > 0);
                (l.modified_at.max(l.created_at), d)
            }
        };
        (stamp.max(deployed), deployed)
    }
}

/// The release's records, from the one storage the shared scope rule finds it in (a release found in
/// several is a usage error: a change applies to one).
async fn find(scope: &Scope, name: &str) -> Result<Vec<Record>, AppError> {
    let located = locate(&scope.client, &scope.selection(false), name).await?;
    let (found, warnings) = located.for_write()?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let records: Vec<Record> = match (&found.place, found.helm2) {
        (Place::Helm3 { kind, namespace }, _) => {
            let helm3 = Helm3Store::new(scope.client.clone(), helm3_driver(*kind), scope.limits());
            let listing = helm3.history(namespace, name).await.map_err(|e| AppError::kube(&e))?;
            print_problems(&listing.errors, &listing.warnings);
            listing.records.into_iter().map(|r| Record::Helm3(Box::new(r))).collect()
        }
        (Place::Helm2 { .. }, Some(listing)) => {
            print_problems(&listing.errors, &listing.warnings);
            listing.records.into_iter().map(|r| Record::Helm2(Box::new(r))).collect()
        }
        (Place::Helm2 { .. }, None) => Vec::new(),
    };
    if records.is_empty() {
        return Err(located_not_found(name));
    }
    Ok(records)
}

fn located_not_found(name: &str) -> AppError {
    AppError::Failed(format!("release {name:?}: no readable record"))
}

pub(super) fn human_age(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        3600..86400 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    release: String,
    namespace: String,
    revision: i64,
    storage: &'static str,
    object: String,
    from: String,
    to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    age_seconds: Option<i64>,
    dry_run: bool,
    result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    backup: Option<String>,
}

fn target_name(to: UnlockTarget) -> &'static str {
    match to {
        UnlockTarget::Failed => "failed",
        UnlockTarget::Superseded => "superseded",
        UnlockTarget::Delete => "deleted",
    }
}

/// What unlock was asked to do, taken from the command line once: the phases below `run` take this.
struct UnlockOptions {
    name: String,
    to: UnlockTarget,
    revision: Option<i64>,
    dry_run: bool,
    yes: bool,
    force: bool,
    backup_dir: Option<PathBuf>,
    output: OutputFormat,
}

impl UnlockOptions {
    fn from_args(args: ReleasesUnlockArgs) -> Self {
        UnlockOptions {
            name: args.name,
            to: args.to,
            revision: args.revision,
            dry_run: args.dry_run,
            yes: args.yes,
            force: args.force,
            backup_dir: args.backup_dir,
            output: args.output,
        }
    }
}

/// The revision to unlock and what is known about it.
struct UnlockPlan<'a> {
    record: &'a Record,
    wanted: i64,
    latest: i64,
    status: Status,
    now: i64,
    /// Unix seconds of the newest write we know of.
    newest: Option<i64>,
    age: Option<i64>,
    /// Written so recently that the operation may still be running.
    recent: bool,
}

/// How the write phase ended.
enum Executed {
    /// Stopped before anything was written; what to say.
    Interrupted(String),
    /// Written (or failed) after the record was backed up to `backup`.
    Written { backup: PathBuf, result: Result<Settled, String> },
}

pub async fn run(scope: &Scope, args: ReleasesUnlockArgs) -> Result<Outcome, AppError> {
    let opts = UnlockOptions::from_args(args);

    // Inputs.
    let mut records = find(scope, &opts.name).await?;
    records.sort_by_key(|r| r.version());

    // Several deployed revisions (helm/helm#7274): a mode of its own with `--to superseded`; the other
    // targets are about a stuck revision and say how to repair this instead.
    let deployed = records.iter().filter(|r| r.status() == Status::Deployed).count();
    if deployed > 1 {
        let wanted = opts.revision.or(records.last().map(Record::version));
        let wanted_pending = records.iter().any(|r| Some(r.version()) == wanted && r.status().is_pending());
        match opts.to {
            UnlockTarget::Superseded => return supersede(scope, &records, &opts).await,
            to if !wanted_pending => {
                return Err(AppError::Usage(format!(
                    "release {}: {deployed} revisions are deployed ({}) and --to {} applies to a stuck (pending) revision; \
                     to keep only the latest deployed one {}",
                    opts.name,
                    deployed_list(&records),
                    target_flag(to),
                    supersede_hint(&records, &opts.name)
                )));
            }
            _ => {}
        }
    }

    // Plan.
    let plan = plan(&records, &opts)?;
    let mut report = new_report(&plan, &opts);
    if !plan.status.is_pending() {
        report.result = "not-stuck".into();
        report.to = report.from.clone();
        let msg = if opts.to == UnlockTarget::Superseded && plan.status == Status::Deployed {
            format!(
                "release {} revision {} is deployed, not pending, and no other revision is deployed: nothing to unlock",
                opts.name, plan.wanted
            )
        } else {
            format!("release {} revision {} is {}, not pending: nothing to unlock", opts.name, plan.wanted, plan.status.as_str())
        };
        return finish(&report, &msg, opts.output);
    }
    check_plan(&records, &plan, &opts)?;
    show_plan(&plan, &opts)?;

    // Confirm.
    if opts.dry_run {
        report.result = "dry-run".into();
        return finish(&report, "dry run: nothing was changed", opts.output);
    }
    confirm(&plan, &opts)?;

    // Execute: from here on an interrupt lets a write in flight finish and starts none.
    let stop = StopSignal::install();
    let executed = execute(scope, &plan, &opts, &stop).await?;

    // Report.
    let outcome = match executed {
        Executed::Interrupted(what) => interrupted(scope, &what),
        Executed::Written { backup, result } => {
            report.backup = Some(backup.display().to_string());
            report_written(scope, &plan, &opts, &stop, report, &backup, result)
        }
    }?;
    if outcome == Outcome::Success && deployed > 1 && opts.to != UnlockTarget::Superseded {
        eprintln!(
            "note: release {} still has {deployed} deployed revisions ({}); to keep only the latest deployed one {}",
            opts.name,
            deployed_list(&records),
            supersede_hint(&records, &opts.name)
        );
    }
    Ok(outcome)
}

/// `2, 5, 7`: the deployed revisions.
fn deployed_list(records: &[Record]) -> String {
    let v: Vec<String> = records.iter().filter(|r| r.status() == Status::Deployed).map(|r| r.version().to_string()).collect();
    v.join(", ")
}

/// The command that repairs several deployed revisions: exact for Helm 3/4 records (what doctor prints);
/// for Helm 2 the Tiller flags of this command line are needed too, so it says which flag to change.
fn supersede_hint(records: &[Record], name: &str) -> String {
    match records.first() {
        Some(Record::Helm3(r)) => format!("run `kubectl werf releases unlock {name} -n {} --to superseded`", r.object.namespace),
        _ => "run the same command with --to superseded".to_string(),
    }
}

fn target_flag(to: UnlockTarget) -> &'static str {
    match to {
        UnlockTarget::Failed => "failed",
        UnlockTarget::Superseded => "superseded",
        UnlockTarget::Delete => "delete",
    }
}

/// The revision to unlock (`--revision`, else the latest) and its age.
fn plan<'a>(records: &'a [Record], opts: &UnlockOptions) -> Result<UnlockPlan<'a>, AppError> {
    let latest = records.last().map(Record::version).unwrap_or_default();
    let wanted = opts.revision.unwrap_or(latest);
    let Some(record) = records.iter().find(|r| r.version() == wanted) else {
        return Err(AppError::Failed(format!("release {}: revision {wanted} not found", opts.name)));
    };
    let now = now_unix();
    let (newest, _) = record.times();
    let age = newest.map(|t| now - t);
    let recent = age.is_some_and(|a| a < RECENT_SECONDS);
    Ok(UnlockPlan { record, wanted, latest, status: record.status(), now, newest, age, recent })
}

fn new_report(plan: &UnlockPlan<'_>, opts: &UnlockOptions) -> Report {
    Report {
        release: opts.name.clone(),
        namespace: plan.record.namespace(),
        revision: plan.wanted,
        storage: plan.record.storage(),
        object: plan.record.object().key(),
        from: plan.status.as_str().to_string(),
        to: target_name(opts.to).to_string(),
        age_seconds: plan.age,
        dry_run: opts.dry_run,
        result: String::new(),
        backup: None,
    }
}

/// Warnings about the chosen revision, and the one target that cannot be reached.
fn check_plan(records: &[Record], plan: &UnlockPlan<'_>, opts: &UnlockOptions) -> Result<(), AppError> {
    let wanted = plan.wanted;
    if wanted != plan.latest {
        eprintln!("warning: revision {wanted} is not the latest ({}); Helm only looks at the latest revision", plan.latest);
    }
    if opts.to == UnlockTarget::Superseded && !records.iter().any(|r| r.version() != wanted && r.status() == Status::Deployed) {
        return Err(AppError::Usage(format!(
            "--to superseded: release {} has no other deployed revision; use --to failed (or --to delete)",
            opts.name
        )));
    }
    if opts.to == UnlockTarget::Delete && records.len() == 1 {
        eprintln!("warning: revision {wanted} is the only revision: deleting it removes release {} from Helm's storage", opts.name);
    }
    Ok(())
}

/// The plan table (table output) and the warning about a recent write.
fn show_plan(plan: &UnlockPlan<'_>, opts: &UnlockOptions) -> Result<(), AppError> {
    let record = plan.record;
    let updated = match plan.newest {
        Some(t) => crate::release::Time::from_unix(t, 0).and_then(|t| t.to_rfc3339()).unwrap_or_default(),
        None => "unknown".into(),
    };
    if opts.output == OutputFormat::Table {
        let mut t = Table::new();
        t.add_row(["RELEASE", "NAMESPACE", "REVISION", "STATUS", "UPDATED", "AGE", "STORAGE", "RECORDS IN", "ACTION"]);
        t.add_row([
            opts.name.clone(),
            record.namespace(),
            plan.wanted.to_string(),
            plan.status.as_str().to_string(),
            updated,
            plan.age.map(human_age).unwrap_or_else(|| "unknown".into()),
            record.storage().to_string(),
            record.object().namespace.clone(),
            match opts.to {
                UnlockTarget::Delete => "delete".to_string(),
                to => format!("mark {}", target_name(to)),
            },
        ]);
        use std::io::Write;
        std::io::stdout().write_all(&t.render())?;
    }
    if plan.recent {
        eprintln!(
            "WARNING: revision {} was written {} ago: an {} may really be running right now; unlocking it \
             lets another operation run concurrently",
            plan.wanted,
            human_age(plan.age.unwrap_or_default()),
            plan.status.as_str().trim_start_matches("pending-")
        );
    }
    Ok(())
}

/// Ask (or take `--yes`); a recent write needs `--force` too with `--yes`.
fn confirm(plan: &UnlockPlan<'_>, opts: &UnlockOptions) -> Result<(), AppError> {
    let (wanted, status) = (plan.wanted, plan.status.as_str());
    if plan.recent && opts.yes && !opts.force {
        return Err(AppError::Usage(format!(
            "revision {wanted} was written less than {} minutes ago; add --force to unlock it anyway with --yes",
            RECENT_SECONDS / 60
        )));
    }
    let question = match opts.to {
        UnlockTarget::Delete => format!("Delete revision {wanted} ({status}) of release {}?", opts.name),
        to => format!("Mark revision {wanted} of release {} {} (was {status})?", opts.name, target_name(to)),
    };
    let question = if plan.recent { format!("{question} It was written less than 5 minutes ago — really?") } else { question };
    if !crate::interact::confirm(&question, opts.yes)? {
        return Err(AppError::Failed("cancelled; nothing was changed".into()));
    }
    Ok(())
}

/// Read the record again (it must be unchanged since it was shown), back it up, and write it through the
/// settled write with its resourceVersion as precondition.
async fn execute(scope: &Scope, plan: &UnlockPlan<'_>, opts: &UnlockOptions, stop: &StopSignal) -> Result<Executed, AppError> {
    let record = plan.record;
    let raw = reread(scope, record).await?;
    if stop.requested() {
        return Ok(Executed::Interrupted(format!(
            "{}: interrupted before anything was written; nothing was changed",
            record.object().key()
        )));
    }
    let dir = BackupDir::create(opts.backup_dir.as_deref(), "unlock")?;
    backup_and_write(scope, record, &plan.status, opts.to, plan.now, &raw, &dir, stop).await
}

/// The record as stored now; an error when it was deleted or changed since it was shown.
async fn reread(scope: &Scope, record: &Record) -> Result<crate::storage::objects::RawObject, AppError> {
    let info = record.object();
    let store = ObjectStore::new(scope.client.clone(), info.kind);
    let raw = store.get(&info.namespace, &info.name).await.map_err(|e| AppError::kube(&e))?;
    let Some(raw) = raw else {
        return Err(AppError::Failed(format!("{}: deleted meanwhile; nothing was changed", info.key())));
    };
    if raw.info.resource_version != info.resource_version {
        return Err(AppError::Failed(format!(
            "{}: changed since it was read; nothing was changed, re-run to see the new state",
            info.key()
        )));
    }
    Ok(raw)
}

/// Back `raw` (the record as just read, unchanged since it was shown) up into `dir`, then mark it `to`
/// (or delete it) through the settled write under its resourceVersion. Shared by the stuck-revision
/// case and the several-deployed case (`supersede`).
#[allow(clippy::too_many_arguments)]
async fn backup_and_write(
    scope: &Scope,
    record: &Record,
    was: &Status,
    to: UnlockTarget,
    now: i64,
    raw: &crate::storage::objects::RawObject,
    dir: &BackupDir,
    stop: &StopSignal,
) -> Result<Executed, AppError> {
    let info = record.object().clone();
    let store = ObjectStore::new(scope.client.clone(), info.kind);
    let obj = backup::record_from_raw(raw).ok_or_else(|| AppError::Failed(format!("{}: no readable payload to back up", info.key())))?;
    let file = dir.write(&obj).map_err(|e| AppError::Io(format!("backup of {} failed, nothing was changed: {e}", info.key())))?;
    eprintln!("backed up {} to {}", info.key(), file.display());
    if stop.requested() {
        return Ok(Executed::Interrupted(format!("{}: interrupted before it was written (backed up); nothing was changed", info.key())));
    }
    let note = |to: &str| {
        let old = record.description();
        let was = was.as_str();
        if old.is_empty() {
            format!("Marked {to} by kubectl-werf releases unlock (was {was})")
        } else {
            format!("Marked {to} by kubectl-werf releases unlock (was {was}: {old})")
        }
    };
    let limits = scope.limits();
    let rv = info.resource_version.clone().unwrap_or_default();
    let result: Result<Settled, String> = match (to, record) {
        (UnlockTarget::Delete, _) => {
            store.delete_settled(&info.namespace, &info.name, info.resource_version.as_deref(), stop).await.map_err(|e| e.to_string())
        }
        (to, Record::Helm3(r)) => {
            let (helm3, _) = open_stores(&scope.client, &scope.storage);
            let mut release = r.release.clone();
            release.info.status = if to == UnlockTarget::Superseded { Status::Superseded } else { Status::Failed };
            release.info.description = note(target_name(to));
            // Written where the record is (a record's namespace is the release's, except for copies).
            match helm3.object_for(&release, LabelStamp::Modified(now)) {
                Ok(mut o) => {
                    o.kind = info.kind;
                    o.namespace = info.namespace.clone();
                    o.name = info.name.clone();
                    o.secret_type = info.secret_type.clone().or(o.secret_type);
                    store.replace_settled(&o, &rv, &limits, stop).await.map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            }
        }
        (to, Record::Helm2(r)) => {
            let (_, helm2s) = open_stores(&scope.client, &scope.storage);
            let mut release = r.release.clone();
            let code = if to == UnlockTarget::Superseded { helm2::StatusCode::Superseded } else { helm2::StatusCode::Failed };
            let mut i = release.info.clone().unwrap_or_default();
            let mut s = i.status.clone().unwrap_or_default();
            s.code = code as i32;
            i.status = Some(s);
            i.description = note(target_name(to));
            release.info = Some(i);
            let mut o = helm2s.object_for(info.kind, &release, LabelStamp::Modified(now));
            o.namespace = info.namespace.clone();
            o.name = info.name.clone();
            store.replace_settled(&o, &rv, &limits, stop).await.map_err(|e| e.to_string())
        }
    };
    Ok(Executed::Written { backup: file, result })
}

/// Say how the write ended (and, after an interrupt, that it was the one in flight).
fn report_written(
    scope: &Scope,
    plan: &UnlockPlan<'_>,
    opts: &UnlockOptions,
    stop: &StopSignal,
    mut report: Report,
    backup: &Path,
    result: Result<Settled, String>,
) -> Result<Outcome, AppError> {
    let (wanted, status) = (plan.wanted, plan.status.as_str());
    let outcome = match result {
        Ok(settled) => {
            report.result = target_name(opts.to).into();
            let meanwhile = if settled == Settled::Found { " (someone else had already deleted it)" } else { "" };
            let msg = format!(
                "release {} revision {wanted}: {status} → {}{meanwhile} (backup: {})",
                opts.name,
                target_name(opts.to),
                backup.display()
            );
            finish(&report, &msg, opts.output)?
        }
        Err(e) => {
            report.result = "failed".into();
            let msg = format!("error: release {} revision {wanted}: {}: {e}", opts.name, plan.record.object().key());
            finish(&report, &msg, opts.output)?;
            eprintln!("the record was backed up to {}", backup.display());
            if !stop.requested() {
                eprintln!("once the error above is fixed, run the same command again: {}", scope.resume);
            }
            Outcome::PartialFailure
        }
    };
    if stop.requested() {
        let done = if outcome == Outcome::Success { "has finished" } else { "did not succeed (see above)" };
        return interrupted(scope, &format!("the write in flight when the interrupt came {done}"));
    }
    Ok(outcome)
}

/// After an interrupt: what happened, and the command that resumes.
fn interrupted(scope: &Scope, what: &str) -> Result<Outcome, AppError> {
    eprintln!("{what}");
    super::print_interrupted(scope);
    Ok(Outcome::PartialFailure)
}

fn finish(report: &Report, message: &str, format: OutputFormat) -> Result<Outcome, AppError> {
    finish_structured(report, message, format)
}

/// One record the several-deployed repair marks superseded.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SupersedeChange {
    revision: i64,
    storage: &'static str,
    object: String,
    from: String,
    to: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    age_seconds: Option<i64>,
    result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// `-o json|yaml` of the several-deployed repair: the revision kept deployed and every record changed.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SupersedeReport {
    release: String,
    namespace: String,
    kept_deployed: i64,
    dry_run: bool,
    result: String,
    changes: Vec<SupersedeChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    backup: Option<String>,
}

/// Several revisions `deployed` (helm/helm#7274): every one but the latest deployed is marked superseded,
/// and so is a pending latest revision (one run leaves exactly one deployed revision and nothing stuck).
/// With `--revision N` only that revision is marked. Same plan, age warning, backup, confirmation and
/// settled writes as the stuck case; each record is read again right before its write; a record that
/// cannot be written is named and the others are still done (exit 1).
async fn supersede(scope: &Scope, records: &[Record], opts: &UnlockOptions) -> Result<Outcome, AppError> {
    let name = &opts.name;
    let Some(keep) = records.iter().filter(|r| r.status() == Status::Deployed).max_by_key(|r| r.version()) else {
        return Err(located_not_found(name));
    };
    let mut targets: Vec<&Record> = records
        .iter()
        .filter(|r| r.version() != keep.version())
        .filter(|r| r.status() == Status::Deployed || (r.status().is_pending() && r.version() > keep.version()))
        .collect();
    if let Some(n) = opts.revision {
        if n == keep.version() {
            return Err(AppError::Usage(format!(
                "release {name}: revision {n} is the latest deployed revision, the one kept deployed; run without --revision to supersede the others"
            )));
        }
        targets.retain(|r| r.version() == n);
        if targets.is_empty() {
            return Err(AppError::Usage(format!(
                "release {name}: revision {n} is neither deployed nor a pending revision after {}",
                keep.version()
            )));
        }
    }
    let now = now_unix();
    let ages: Vec<Option<i64>> = targets.iter().map(|r| r.times().0.map(|t| now - t)).collect();
    // Only a pending revision can belong to an operation still running: helm marks the previous revision
    // superseded before the new one deployed, so two deployed revisions are never an upgrade in flight.
    let recent: Vec<i64> = targets
        .iter()
        .zip(&ages)
        .filter(|(r, a)| r.status().is_pending() && a.is_some_and(|a| a < RECENT_SECONDS))
        .map(|(r, _)| r.version())
        .collect();

    let mut report = SupersedeReport {
        release: name.clone(),
        namespace: keep.namespace(),
        kept_deployed: keep.version(),
        dry_run: opts.dry_run,
        result: String::new(),
        changes: targets
            .iter()
            .zip(&ages)
            .map(|(r, age)| SupersedeChange {
                revision: r.version(),
                storage: r.storage(),
                object: r.object().key(),
                from: r.status().as_str().to_string(),
                to: "superseded",
                age_seconds: *age,
                result: "planned".into(),
                error: None,
            })
            .collect(),
        backup: None,
    };

    // Plan: every record that changes, where it lives, and the one kept.
    if opts.output == OutputFormat::Table {
        let mut rows: Vec<(&Record, &str)> = targets.iter().map(|r| (*r, "mark superseded")).collect();
        rows.push((keep, "keep deployed"));
        rows.sort_by_key(|(r, _)| r.version());
        let rows: Vec<Vec<String>> = rows
            .into_iter()
            .map(|(r, action)| {
                let newest = r.times().0;
                vec![
                    r.version().to_string(),
                    r.status().as_str().to_string(),
                    newest
                        .and_then(|t| crate::release::Time::from_unix(t, 0))
                        .and_then(|t| t.to_rfc3339())
                        .unwrap_or_else(|| "unknown".into()),
                    newest.map(|t| human_age(now - t)).unwrap_or_else(|| "unknown".into()),
                    r.storage().to_string(),
                    r.object().namespace.clone(),
                    r.object().name.clone(),
                    action.to_string(),
                ]
            })
            .collect();
        let deployed = records.iter().filter(|r| r.status() == Status::Deployed).count();
        println!("release {name}: {deployed} deployed revisions; {} record(s) to change:", targets.len());
        let headers = ["REVISION", "STATUS", "UPDATED", "AGE", "STORAGE", "RECORDS IN", "OBJECT", "ACTION"];
        print!("{}", crate::output::columns("", 3, &headers, &rows));
    }
    let recent_list = recent.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    if !recent.is_empty() {
        eprintln!(
            "WARNING: revision(s) {recent_list} were written less than {} minutes ago: an operation on release {name} may be \
             running right now",
            RECENT_SECONDS / 60
        );
    }

    // Confirm.
    if opts.dry_run {
        report.result = "dry-run".into();
        return finish_structured(&report, "dry run: nothing was changed", opts.output);
    }
    if !recent.is_empty() && opts.yes && !opts.force {
        return Err(AppError::Usage(format!(
            "revision(s) {recent_list} were written less than {} minutes ago; add --force to supersede them anyway with --yes",
            RECENT_SECONDS / 60
        )));
    }
    let list = targets.iter().map(|r| r.version().to_string()).collect::<Vec<_>>().join(", ");
    let mut question = format!("Mark revision(s) {list} of release {name} superseded and keep revision {} deployed?", keep.version());
    if !recent.is_empty() {
        question.push_str(" Some were written less than 5 minutes ago — really?");
    }
    if !crate::interact::confirm(&question, opts.yes)? {
        return Err(AppError::Failed("cancelled; nothing was changed".into()));
    }

    // Execute, oldest first: an interrupt lets the write in flight finish and starts none.
    let stop = StopSignal::install();
    let dir = BackupDir::create(opts.backup_dir.as_deref(), "unlock")?;
    report.backup = Some(dir.path().display().to_string());
    let mut failed = 0;
    let mut stopped = false;
    for (record, change) in targets.iter().zip(report.changes.iter_mut()) {
        if stop.requested() {
            stopped = true;
            change.result = "not-started".into();
            continue;
        }
        let step = match reread(scope, record).await {
            Ok(raw) => backup_and_write(scope, record, &record.status(), UnlockTarget::Superseded, now, &raw, &dir, &stop).await,
            Err(e) => Err(e),
        };
        match step {
            Ok(Executed::Written { result: Ok(_), .. }) => change.result = "superseded".into(),
            Ok(Executed::Written { result: Err(e), .. }) => {
                eprintln!("error: release {name} revision {}: {}: {e}", record.version(), record.object().key());
                change.result = "failed".into();
                change.error = Some(e);
                failed += 1;
            }
            Ok(Executed::Interrupted(what)) => {
                eprintln!("{what}");
                stopped = true;
                change.result = "not-started".into();
            }
            Err(e) => {
                eprintln!("error: release {name} revision {}: {e}", record.version());
                change.result = "failed".into();
                change.error = Some(e.to_string());
                failed += 1;
            }
        }
    }

    // Report.
    let done = report.changes.iter().filter(|c| c.result == "superseded").count();
    report.result = if failed > 0 || stopped { "incomplete".into() } else { "superseded".into() };
    let msg = format!(
        "release {name}: {done} of {} revision(s) marked superseded; revision {} stays deployed (backup: {})",
        targets.len(),
        keep.version(),
        dir.path().display()
    );
    finish_structured(&report, &msg, opts.output)?;
    if stopped {
        return interrupted(scope, "interrupted; the write in flight, if any, has finished");
    }
    if failed > 0 {
        eprintln!(
            "the records were backed up to {}; once the errors above are fixed, run the same command again: {}",
            dir.path().display(),
            scope.resume
        );
        return Ok(Outcome::PartialFailure);
    }
    Ok(Outcome::Success)
}

fn finish_structured<T: Serialize>(report: &T, message: &str, format: OutputFormat) -> Result<Outcome, AppError> {
    match format {
        OutputFormat::Table => println!("{message}"),
        f => {
            eprintln!("{message}");
            crate::output::print_structured(report, f)?;
        }
    }
    Ok(Outcome::Success)
}
