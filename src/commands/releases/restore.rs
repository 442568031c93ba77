//! `releases restore`: put records from an export or backup directory back.
//!
//! Decisions:
//! - A record missing from the cluster is created exactly as in the file (payload text byte-equal).
//! - A record present and equal is skipped. Equal = the same decoded release (Helm 3: the JSON value;
//!   Helm 2: the protobuf message) and the same labels apart from the write stamps `createdAt`,
//!   `modifiedAt`, `CREATED_AT`, `MODIFIED_AT` (Helm rewrites those on every write).
//! - A present record that differs is refused and named (exit 1), unless `--force`: the current record
//!   is backed up first, then replaced, guarded by the resourceVersion that was compared.
//! - Several different files for one record (e.g. a backup directory holding two versions) make that
//!   record ambiguous: it is refused and its files must be sorted out by hand.
//! - Every write is made sure of (`ObjectStore::create_settled`/`replace_settled`): after a failure
//!   that says nothing sure the record is read again, and the write goes again only if it neither
//!   happened nor was overtaken; a record someone else wrote meanwhile is named, never overwritten.
//! - Re-running converges: what was created is then equal and skipped. An interrupt (SIGINT/SIGTERM)
//!   lets writes in flight finish, starts no new ones, and prints the command to run again (exit 1).

use std::collections::BTreeMap;

use futures::StreamExt;
use serde::Serialize;

use crate::cli::{OutputFormat, ReleasesRestoreArgs};
use crate::commands::context::Outcome;
use crate::error::AppError;
use crate::helmfmt::Table;
use crate::stop::StopSignal;
use crate::storage::backup::{self, BackupDir};
use crate::storage::codec::DecodeLimits;
use crate::storage::objects::{NewObject, ObjectKind, ObjectStore, RawObject, SettleError, Settled, same_record};

use super::Scope;
use super::surgery::{self, OwnershipChange};

/// Writes in flight at once.
pub(super) const WRITE_CONCURRENCY: usize = 8;

/// One line of a report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ResultRow {
    pub namespace: String,
    pub kind: &'static str,
    pub name: String,
    pub action: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
    #[serde(skip)]
    pub failed: bool,
}

pub(super) fn print_rows(rows: &[ResultRow], header: [&str; 3], format: OutputFormat) -> Result<(), AppError> {
    match format {
        OutputFormat::Table => {
            let mut t = Table::new();
            t.add_row(header);
            for r in rows {
                t.add_row([format!("{}/{}/{}", r.namespace, r.kind.to_ascii_lowercase(), r.name), r.action.clone(), r.detail.clone()]);
            }
            use std::io::Write;
            std::io::stdout().write_all(&t.render())?;
            Ok(())
        }
        f => Ok(crate::output::print_structured(&rows, f)?),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Create,
    Equal,
    Differs,
    Replace,
    Ambiguous,
}

struct Item {
    obj: NewObject,
    action: Action,
    current: Option<RawObject>,
    detail: String,
}

fn row(obj: &NewObject, action: &str, detail: impl Into<String>, failed: bool) -> ResultRow {
    ResultRow {
        namespace: obj.namespace.clone(),
        kind: obj.kind.kind(),
        name: obj.name.clone(),
        action: action.into(),
        detail: detail.into(),
        failed,
    }
}

fn plan_word(a: Action, dry: bool) -> &'static str {
    match (a, dry) {
        (Action::Create, true) => "would create",
        (Action::Create, false) => "create",
        (Action::Replace, true) => "would replace",
        (Action::Replace, false) => "replace",
        (Action::Equal, _) => "equal",
        (Action::Differs, _) => "refused",
        (Action::Ambiguous, _) => "ambiguous",
    }
}

pub async fn run(scope: &Scope, args: ReleasesRestoreArgs) -> Result<Outcome, AppError> {
    let entries = backup::read_dir(&args.dir).map_err(|e| AppError::Io(format!("{}: {e}", args.dir.display())))?;
    // Ownership keys `releases forget`/`move` changed, to be turned back after the records.
    let keys = surgery::read_ownership_backup(&args.dir).map_err(|e| AppError::Io(e.to_string()))?;
    let mut unreadable = 0;
    let mut groups: BTreeMap<(String, ObjectKind, String), Vec<NewObject>> = BTreeMap::new();
    for e in entries {
        match e {
            Ok(o) => {
                let list = groups.entry((o.namespace.clone(), o.kind, o.name.clone())).or_default();
                if !list.contains(&o) {
                    list.push(o);
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                unreadable += 1;
            }
        }
    }
    if groups.is_empty() {
        return Err(AppError::Failed(format!("{}: no release records found", args.dir.display())));
    }
    let limits = scope.limits();
    let client = scope.client.clone();
    // Read what is there now, a few at a time.
    let planned: Vec<Result<Item, AppError>> = futures::stream::iter(groups.into_values())
        .map(|mut versions| {
            let client = client.clone();
            async move {
                let obj = versions.remove(0);
                if !versions.is_empty() {
                    let detail = format!("{} different versions in the directory; remove all but one", versions.len() + 1);
                    return Ok(Item { obj, action: Action::Ambiguous, current: None, detail });
                }
                let store = ObjectStore::new(client, obj.kind);
                let current = store.get(&obj.namespace, &obj.name).await.map_err(|e| AppError::kube(&e))?;
                let (action, detail) = match &current {
                    None => (Action::Create, String::new()),
                    Some(cur) if same_record(&obj, cur, &limits) => (Action::Equal, String::new()),
                    Some(_) if args.force => (Action::Replace, "differs; backed up, then replaced".to_string()),
                    Some(_) => (Action::Differs, "exists and differs (--force replaces it after a backup)".to_string()),
                };
                Ok(Item { obj, action, current, detail })
            }
        })
        .buffered(WRITE_CONCURRENCY)
        .collect()
        .await;
    let mut items = Vec::new();
    for p in planned {
        items.push(p?);
    }
    let writes = items.iter().filter(|i| matches!(i.action, Action::Create | Action::Replace)).count();
    if args.dry_run || writes == 0 {
        let rows: Vec<ResultRow> = items
            .iter()
            .map(|i| {
                row(&i.obj, plan_word(i.action, args.dry_run), i.detail.clone(), matches!(i.action, Action::Differs | Action::Ambiguous))
            })
            .collect();
        print_rows(&rows, ["RECORD", "ACTION", "DETAIL"], args.output)?;
        let mut failed = rows.iter().any(|r| r.failed);
        if args.dry_run {
            if !keys.is_empty() {
                eprintln!(
                    "would restore the ownership keys of {} object(s) where they are still as the backup's change left them",
                    keys.len()
                );
            }
        } else if keys.is_empty() {
            eprintln!("nothing to restore");
        } else if crate::interact::confirm(&format!("Restore the ownership keys of {} object(s)?", keys.len()), args.yes)? {
            failed |= restore_ownership(scope, &keys, args.force, &StopSignal::install()).await? > 0;
        }
        return Ok(if unreadable > 0 || failed { Outcome::PartialFailure } else { Outcome::Success });
    }
    let creates = items.iter().filter(|i| i.action == Action::Create).count();
    let replaces = writes - creates;
    if !args.yes && crate::interact::interactive() {
        for i in items.iter().filter(|i| i.action != Action::Equal) {
            eprintln!(
                "  {:<14} {}/{}/{} {}",
                plan_word(i.action, true),
                i.obj.namespace,
                i.obj.kind.kind().to_ascii_lowercase(),
                i.obj.name,
                i.detail
            );
        }
    }
    let and_keys = if keys.is_empty() { String::new() } else { format!(", and restore the ownership keys of {} object(s)", keys.len()) };
    if !crate::interact::confirm(&format!("Create {creates} and replace {replaces} release record(s){and_keys}?"), args.yes)? {
        return Err(AppError::Failed("cancelled; nothing was changed".into()));
    }
    let backup_dir = if replaces > 0 { Some(BackupDir::create(args.backup_dir.as_deref(), "restore")?) } else { None };
    let stop = StopSignal::install();
    let bar = crate::interact::progress(writes as u64, "restore");
    let rows: Vec<ResultRow> = futures::stream::iter(items)
        .map(|item| {
            let client = client.clone();
            let stop = stop.clone();
            let backup_dir = backup_dir.clone();
            let bar = bar.clone();
            async move {
                let r = apply(client, item, backup_dir.as_ref(), &stop, &limits).await;
                bar.inc(1);
                r
            }
        })
        .buffered(WRITE_CONCURRENCY)
        .collect()
        .await;
    bar.finish_and_clear();
    print_rows(&rows, ["RECORD", "RESULT", "DETAIL"], args.output)?;
    if let Some(b) = &backup_dir {
        eprintln!("replaced records were backed up to {}", b.path().display());
    }
    let mut failed = rows.iter().filter(|r| r.failed).count();
    if !keys.is_empty() && failed == 0 && !stop.requested() {
        failed += restore_ownership(scope, &keys, args.force, &stop).await?;
    }
    if stop.requested() {
        super::print_interrupted(scope);
    } else if failed > 0 {
        eprintln!("{failed} record(s) not restored; once the errors above are fixed, run the same command again: {}", scope.resume);
    }
    Ok(if unreadable > 0 || failed > 0 || stop.requested() { Outcome::PartialFailure } else { Outcome::Success })
}

/// Turn every object's ownership keys back from what the backed-up change made them to what they were.
/// Keys someone changed since are left alone (named) unless `force`. Returns how many failed.
async fn restore_ownership(scope: &Scope, changes: &[OwnershipChange], force: bool, stop: &StopSignal) -> Result<usize, AppError> {
    let catalog = crate::live::discovery::load(&scope.client).await.map_err(|e| AppError::Failed(format!("discovery: {e}")))?;
    let mut failed = 0;
    for change in changes {
        let undo = OwnershipChange { before: change.after.clone(), after: change.before.clone(), ..change.clone() };
        let (outcome, detail) = surgery::apply_ownership(&scope.client, &catalog, &undo, force, stop).await;
        if outcome.is_failure() {
            failed += 1;
            eprintln!("error: ownership keys of {}: {detail}", change.display());
        } else {
            eprintln!("ownership keys of {}: {} ({detail})", change.display(), outcome.as_str());
        }
    }
    Ok(failed)
}

async fn apply(client: kube::Client, item: Item, backup_dir: Option<&BackupDir>, stop: &StopSignal, limits: &DecodeLimits) -> ResultRow {
    let obj = &item.obj;
    let store = ObjectStore::new(client, obj.kind);
    match item.action {
        Action::Equal => row(obj, "equal", "", false),
        Action::Differs | Action::Ambiguous => row(obj, plan_word(item.action, false), item.detail, true),
        _ if stop.requested() => row(obj, "skipped", "interrupted before this write", true),
        Action::Create => match store.create_settled(obj, limits, stop).await {
            Ok(Settled::Done) => row(obj, "created", "", false),
            Ok(Settled::Found) => row(obj, "equal", "created meanwhile by someone else", false),
            Err(SettleError::Changed(why)) => row(obj, "refused", why, true),
            Err(e) => row(obj, "failed", e.to_string(), true),
        },
        Action::Replace => {
            let Some(cur) = item.current.as_ref() else { return row(obj, "failed", "internal: no current record", true) };
            let Some(old) = backup::record_from_raw(cur) else {
                return row(obj, "failed", "the current record has no readable payload to back up; not replaced", true);
            };
            let written = match backup_dir.map(|b| b.write(&old)) {
                Some(Ok(p)) => p,
                Some(Err(e)) => return row(obj, "failed", format!("backup failed, not replaced: {e}"), true),
                None => return row(obj, "failed", "internal: no backup directory", true),
            };
            if stop.requested() {
                return row(obj, "skipped", "interrupted before this write (backed up, not replaced)", true);
            }
            let rv = cur.info.resource_version.clone().unwrap_or_default();
            match store.replace_settled(obj, &rv, limits, stop).await {
                Ok(_) => row(obj, "replaced", format!("previous record in {}", written.display()), false),
                Err(SettleError::Changed(why)) => row(obj, "failed", format!("{why}; re-run to compare again"), true),
                Err(e) => row(obj, "failed", format!("{e} (previous record in {})", written.display()), true),
            }
        }
    }
}
