//! `releases unlock`: free a release stuck in `pending-install`/`pending-upgrade`/`pending-rollback`.
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

    // Plan.
    let plan = plan(&records, &opts)?;
    let mut report = new_report(&plan, &opts);
    if !plan.status.is_pending() {
        report.result = "not-stuck".into();
        report.to = report.from.clone();
        let msg = format!("release {} revision {} is {}, not pending: nothing to unlock", opts.name, plan.wanted, plan.status.as_str());
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
    match executed {
        Executed::Interrupted(what) => interrupted(scope, &what),
        Executed::Written { backup, result } => {
            report.backup = Some(backup.display().to_string());
            report_written(scope, &plan, &opts, &stop, report, &backup, result)
        }
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
    let info = record.object().clone();
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
    if stop.requested() {
        return Ok(Executed::Interrupted(format!("{}: interrupted before anything was written; nothing was changed", info.key())));
    }
    let obj = backup::record_from_raw(&raw).ok_or_else(|| AppError::Failed(format!("{}: no readable payload to back up", info.key())))?;
    let dir = BackupDir::create(opts.backup_dir.as_deref(), "unlock")?;
    let file = dir.write(&obj).map_err(|e| AppError::Io(format!("backup of {} failed, nothing was changed: {e}", info.key())))?;
    eprintln!("backed up {} to {}", info.key(), file.display());
    if stop.requested() {
        return Ok(Executed::Interrupted(format!("{}: interrupted before it was written (backed up); nothing was changed", info.key())));
    }
    let note = |to: &str| {
        let old = record.description();
        let was = plan.status.as_str();
        if old.is_empty() {
            format!("Marked {to} by kubectl-werf releases unlock (was {was})")
        } else {
            format!("Marked {to} by kubectl-werf releases unlock (was {was}: {old})")
        }
    };
    let limits = scope.limits();
    let rv = info.resource_version.clone().unwrap_or_default();
    let now = plan.now;
    let result: Result<Settled, String> = match (opts.to, record) {
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
    match format {
        OutputFormat::Table => println!("{message}"),
        f => {
            eprintln!("{message}");
            crate::output::print_structured(report, f)?;
        }
    }
    Ok(Outcome::Success)
}
