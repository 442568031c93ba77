//! `releases prune`: delete old revisions beyond `--keep N` per release.
//!
//! Decisions:
//! - Helm's `--history-max` rule (`Storage.removeLeastRecent`): oldest revisions first, skipping the last
//!   `deployed` one; on top of it the latest revision is never deleted (Helm deletes before writing a new
//!   one; we write nothing). So a release whose last deployed revision is not its latest keeps N+1 when
//!   N = 1.
//! - Scope: the named releases in the namespace (and Helm 2 releases of those names in Tiller's
//!   storage), or `-A` for every release; neither is a usage error (deleting needs an explicit scope).
//!   Helm 3/4 records of the configured driver (`--release-storage`), like helm.
//! - A release with a record that cannot be decoded is skipped (its statuses are not all known).
//! - Each record is read again right before its delete: it must be at the resourceVersion that was
//!   planned, is backed up, then deleted with that resourceVersion as precondition. A record already
//!   gone counts as done, so a re-run after an interruption converges.
//! - A delete whose answer says nothing sure (lost connection, 5xx, 429, 409) is made sure of by
//!   reading the record again (`ObjectStore::delete_settled`): gone is done, unchanged may be deleted
//!   again, changed by someone else is named and kept.
//! - SIGINT/SIGTERM: deletes in flight finish, no new one starts, the command to run again is printed
//!   and the exit code is 1 (as `migrate2to3`).

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;

use crate::cli::{OutputFormat, ReleasesPruneArgs};
use crate::commands::context::Outcome;
use crate::error::AppError;
use crate::helmfmt::Table;
use crate::release::helm3::Status;
use crate::stop::StopSignal;
use crate::storage::backup::{self, BackupDir};
use crate::storage::codec::{self, helm3_history_selector};
use crate::storage::listing::Listing;
use crate::storage::objects::{ObjectInfo, ObjectStore, SettleError, Settled};
use crate::storage::scope::{Place, ambiguities, helm2_records, helm3_driver, helm3_summaries, locate};
use crate::storage::{Helm2Record, Helm3Store, Helm3Summary, ObjectKind};

use super::restore::{ResultRow, WRITE_CONCURRENCY, print_rows};
use super::{Scope, print_problems, view};

#[derive(Debug, Clone)]
pub(super) struct Rev {
    pub version: i64,
    pub status: Status,
    pub object: ObjectInfo,
}

/// One release's revisions, oldest first.
#[derive(Debug, Clone)]
pub(super) struct Rel {
    pub name: String,
    /// Where its records are (Tiller's namespace for Helm 2).
    pub object_namespace: String,
    /// The release's own namespace (Helm 2: from its latest record).
    pub release_namespace: String,
    pub storage: &'static str,
    pub revs: Vec<Rev>,
}

/// Revisions to delete so that at most `keep` remain, never the latest nor the last deployed.
pub(super) fn plan_release(rel: &Rel, keep: usize) -> Vec<Rev> {
    let Some(latest) = rel.revs.iter().map(|r| r.version).max() else { return Vec::new() };
    let last_deployed = rel.revs.iter().filter(|r| r.status == Status::Deployed).map(|r| r.version).max();
    let mut revs = rel.revs.clone();
    revs.sort_by_key(|r| r.version);
    let mut remaining = revs.len();
    let mut out = Vec::new();
    for r in revs {
        if remaining <= keep {
            break;
        }
        if r.version == latest || Some(r.version) == last_deployed {
            continue;
        }
        remaining -= 1;
        out.push(r);
    }
    out
}

/// The releases to prune, under the shared scope rule (`storage::scope`): the named ones (each must be
/// in exactly one storage), or with `-A` every release of every storage (a release stored in several
/// is a usage error unless the flags pick one).
async fn collect(scope: &Scope, all_namespaces: bool, names: &[String]) -> Result<Vec<Rel>, AppError> {
    let sel = scope.selection(all_namespaces);
    let mut keyed: BTreeMap<(Place, String), Rel> = BTreeMap::new();
    let mut damaged: BTreeSet<(u8, String, String)> = BTreeSet::new();
    let mut helm3_listings: Vec<(ObjectKind, Listing<Helm3Summary>)> = Vec::new();
    let mut helm2_listings: Vec<Listing<Helm2Record>> = Vec::new();
    if all_namespaces {
        helm3_listings = helm3_summaries(&scope.client, &sel).await?;
        let (l, warnings) = helm2_records(&scope.client, &sel).await?;
        for w in warnings {
            eprintln!("warning: {w}");
        }
        helm2_listings.push(l);
    } else {
        for name in names {
            let (found, warnings) = locate(&scope.client, &sel, name).await?.for_write()?;
            for w in warnings {
                eprintln!("warning: {w}");
            }
            match (&found.place, found.helm2) {
                (Place::Helm3 { kind, namespace }, _) => {
                    let store = Helm3Store::new(scope.client.clone(), helm3_driver(*kind), scope.limits());
                    let mut l =
                        store.list_summaries(Some(namespace), Some(&helm3_history_selector(name))).await.map_err(|e| AppError::kube(&e))?;
                    l.records.retain(|r| &r.summary.name == name);
                    helm3_listings.push((*kind, l));
                }
                (Place::Helm2 { .. }, Some(l)) => helm2_listings.push(l),
                (Place::Helm2 { .. }, None) => {}
            }
        }
    }
    for (kind, l) in helm3_listings {
        print_problems(&l.errors, &l.warnings);
        for e in &l.errors {
            if let Some((n, _)) = codec::parse_helm3_object_name(&e.object) {
                damaged.insert((3, e.namespace.clone(), n.to_string()));
            }
        }
        for r in l.records {
            let place = Place::Helm3 { kind, namespace: r.object.namespace.clone() };
            keyed
                .entry((place.clone(), r.summary.name.clone()))
                .or_insert_with(|| Rel {
                    name: r.summary.name.clone(),
                    object_namespace: r.object.namespace.clone(),
                    release_namespace: r.object.namespace.clone(),
                    storage: place.storage(),
                    revs: Vec::new(),
                })
                .revs
                .push(Rev { version: r.summary.version, status: r.summary.status.clone(), object: r.object });
        }
    }
    for l in helm2_listings {
        print_problems(&l.errors, &l.warnings);
        for e in &l.errors {
            if let Some((n, _)) = codec::parse_helm2_object_name(&e.object) {
                damaged.insert((2, e.namespace.clone(), n.to_string()));
            }
        }
        // the release namespace of each Tiller release: its latest decodable record's
        let mut release_ns: BTreeMap<(String, String), (i32, String)> = BTreeMap::new();
        for r in &l.records {
            let e = release_ns.entry((r.object.namespace.clone(), r.release.name.clone())).or_insert((i32::MIN, String::new()));
            if r.release.version > e.0 {
                *e = (r.release.version, r.release.namespace.clone());
            }
        }
        for r in l.records {
            let ns = release_ns.get(&(r.object.namespace.clone(), r.release.name.clone())).map(|(_, n)| n.clone()).unwrap_or_default();
            let place = Place::Helm2 { kind: r.object.kind, tiller_namespace: r.object.namespace.clone(), release_namespace: ns.clone() };
            let rel = keyed.entry((place, r.release.name.clone())).or_insert_with(|| Rel {
                name: r.release.name.clone(),
                object_namespace: r.object.namespace.clone(),
                release_namespace: ns,
                storage: r.storage_name(),
                revs: Vec::new(),
            });
            if rel.revs.iter().any(|x| x.object == r.object) {
                continue;
            }
            rel.revs.push(Rev {
                version: i64::from(r.release.version),
                status: view::helm2_status(r.release.status_code()),
                object: r.object,
            });
        }
    }
    if all_namespaces {
        let found = ambiguities(keyed.keys().map(|(p, n)| (n.as_str(), p)));
        if !found.is_empty() {
            let list: Vec<String> = found
                .iter()
                .take(5)
                .map(|(name, places)| {
                    format!(
                        "{name} ({})",
                        places.iter().map(|p| format!("{} in {}", p.storage(), p.records_namespace())).collect::<Vec<_>>().join(", ")
                    )
                })
                .collect();
            let more = if found.len() > 5 { format!(" and {} more", found.len() - 5) } else { String::new() };
            return Err(AppError::Usage(format!(
                "{} release(s) are stored in several places: {}{more}; pick one storage with --helm-version and --release-storage (or --helm-release-storage-type)",
                found.len(),
                list.join("; ")
            )));
        }
    }
    let mut out = Vec::new();
    for ((place, _), rel) in keyed {
        let generation = if place.is_helm2() { 2 } else { 3 };
        if damaged.contains(&(generation, rel.object_namespace.clone(), rel.name.clone())) {
            eprintln!("warning: release {} in {}: a record cannot be decoded; skipped (not pruned)", rel.name, rel.object_namespace);
            continue;
        }
        out.push(rel);
    }
    Ok(out)
}

pub async fn run(scope: &Scope, args: ReleasesPruneArgs) -> Result<Outcome, AppError> {
    if args.names.is_empty() && !args.all_namespaces {
        return Err(AppError::Usage("name the releases to prune, or give -A for every release in every namespace".into()));
    }
    let rels = collect(scope, args.all_namespaces, &args.names).await?;
    if rels.is_empty() {
        return Err(AppError::Failed("no release found; nothing to prune".into()));
    }
    let keep = args.keep.ok_or_else(|| AppError::Usage("--keep N is required".into()))? as usize;
    let mut plan: Vec<(String, Rev)> = Vec::new();
    let mut table = Table::new();
    table.add_row(["RELEASE", "NAMESPACE", "STORAGE", "RECORDS IN", "REVISIONS", "KEEP", "DELETE"]);
    for rel in &rels {
        let del = plan_release(rel, keep);
        let kept = rel.revs.len() - del.len();
        let list: Vec<String> = del.iter().map(|r| format!("{} ({})", r.version, r.status.as_str())).collect();
        table.add_row([
            rel.name.clone(),
            rel.release_namespace.clone(),
            rel.storage.to_string(),
            rel.object_namespace.clone(),
            rel.revs.len().to_string(),
            kept.to_string(),
            if list.is_empty() { "-".to_string() } else { list.join(", ") },
        ]);
        plan.extend(del.into_iter().map(|r| (rel.name.clone(), r)));
    }
    if args.output == OutputFormat::Table || args.dry_run {
        use std::io::Write;
        if args.output == OutputFormat::Table {
            std::io::stdout().write_all(&table.render())?;
        } else {
            std::io::stderr().write_all(&table.render())?;
        }
    }
    if plan.is_empty() {
        eprintln!("nothing to prune: every release has at most {keep} revision(s) besides its latest and last deployed");
        return Ok(Outcome::Success);
    }
    if args.dry_run {
        if args.output != OutputFormat::Table {
            let rows: Vec<ResultRow> = plan
                .iter()
                .map(|(_, r)| row(&r.object, "would delete", format!("revision {} ({})", r.version, r.status.as_str()), false))
                .collect();
            print_rows(&rows, ["RECORD", "ACTION", "DETAIL"], args.output)?;
        }
        eprintln!("dry run: {} record(s) would be deleted; nothing was changed", plan.len());
        return Ok(Outcome::Success);
    }
    let releases = plan.iter().map(|(n, _)| n).collect::<BTreeSet<_>>().len();
    if !crate::interact::confirm(&format!("Delete {} revision record(s) of {releases} release(s)?", plan.len()), args.yes)? {
        return Err(AppError::Failed("cancelled; nothing was changed".into()));
    }
    let dir = BackupDir::create(args.backup_dir.as_deref(), "prune")?;
    eprintln!("backing records up to {}", dir.path().display());
    let stop = StopSignal::install();
    let bar = crate::interact::progress(plan.len() as u64, "prune");
    let client = scope.client.clone();
    let rows: Vec<ResultRow> = futures::stream::iter(plan)
        .map(|(_, rev)| {
            let (client, dir, stop, bar) = (client.clone(), dir.clone(), stop.clone(), bar.clone());
            async move {
                let r = delete_one(client, &rev, &dir, &stop).await;
                bar.inc(1);
                r
            }
        })
        .buffer_unordered(WRITE_CONCURRENCY)
        .collect()
        .await;
    bar.finish_and_clear();
    let mut rows = rows;
    rows.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    print_rows(&rows, ["RECORD", "RESULT", "DETAIL"], args.output)?;
    eprintln!("deleted records are backed up in {} (kubectl werf releases restore --dir {0} puts them back)", dir.path().display());
    let failed = rows.iter().filter(|r| r.failed).count();
    if stop.requested() {
        super::print_interrupted(scope);
        return Ok(Outcome::PartialFailure);
    }
    if failed > 0 {
        eprintln!("{failed} record(s) not deleted; once the errors above are fixed, run the same command again: {}", scope.resume);
        return Ok(Outcome::PartialFailure);
    }
    Ok(Outcome::Success)
}

fn row(info: &ObjectInfo, action: &str, detail: impl Into<String>, failed: bool) -> ResultRow {
    ResultRow {
        namespace: info.namespace.clone(),
        kind: info.kind.kind(),
        name: info.name.clone(),
        action: action.into(),
        detail: detail.into(),
        failed,
    }
}

async fn delete_one(client: kube::Client, rev: &Rev, dir: &BackupDir, stop: &StopSignal) -> ResultRow {
    let info = &rev.object;
    if stop.requested() {
        return row(info, "skipped", "interrupted before this delete", true);
    }
    let store = ObjectStore::new(client, info.kind);
    let raw = match store.get(&info.namespace, &info.name).await {
        Ok(Some(raw)) => raw,
        Ok(None) => return row(info, "gone", "already deleted", false),
        Err(e) => return row(info, "failed", crate::error::describe_kube_error(&e), true),
    };
    if raw.info.resource_version != info.resource_version {
        return row(info, "failed", "changed since the plan was made; not deleted (re-run to plan again)", true);
    }
    let Some(obj) = backup::record_from_raw(&raw) else {
        return row(info, "failed", "no readable payload to back up; not deleted", true);
    };
    let file = match dir.write(&obj) {
        Ok(f) => f,
        Err(e) => return row(info, "failed", format!("backup failed, not deleted: {e}"), true),
    };
    if stop.requested() {
        return row(info, "skipped", format!("interrupted before this delete (backed up to {}, not deleted)", file.display()), true);
    }
    match store.delete_settled(&info.namespace, &info.name, info.resource_version.as_deref(), stop).await {
        Ok(Settled::Done) => {
            row(info, "deleted", format!("revision {} ({}), backup {}", rev.version, rev.status.as_str(), file.display()), false)
        }
        Ok(Settled::Found) => row(info, "gone", "deleted meanwhile", false),
        Err(SettleError::Changed(why)) => row(info, "failed", format!("{why} (re-run to plan again)"), true),
        Err(e) => row(info, "failed", format!("{e} (backed up to {})", file.display()), true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::ObjectKind;

    fn rel(statuses: &[&str]) -> Rel {
        Rel {
            name: "r".into(),
            object_namespace: "ns".into(),
            release_namespace: "ns".into(),
            storage: "secret",
            revs: statuses
                .iter()
                .enumerate()
                .map(|(i, s)| Rev {
                    version: i as i64 + 1,
                    status: Status::from(*s),
                    object: ObjectInfo {
                        kind: ObjectKind::Secret,
                        namespace: "ns".into(),
                        name: format!("sh.helm.release.v1.r.v{}", i + 1),
                        labels: Default::default(),
                        resource_version: None,
                        uid: None,
                        creation_timestamp: None,
                        secret_type: None,
                    },
                })
                .collect(),
        }
    }

    fn versions(v: Vec<Rev>) -> Vec<i64> {
        v.into_iter().map(|r| r.version).collect()
    }

    #[test]
    fn keeps_latest_and_last_deployed() {
        let shop = rel(&["superseded", "superseded", "failed", "uninstalled"]);
        assert_eq!(versions(plan_release(&shop, 1)), vec![1, 2, 3]);
        assert_eq!(versions(plan_release(&shop, 2)), vec![1, 2]);
        assert_eq!(versions(plan_release(&shop, 4)), Vec::<i64>::new());
        let stuck = rel(&["deployed", "pending-upgrade"]);
        assert_eq!(versions(plan_release(&stuck, 1)), Vec::<i64>::new());
        let mid = rel(&["superseded", "deployed", "failed", "failed"]);
        assert_eq!(versions(plan_release(&mid, 1)), vec![1, 3]);
        assert_eq!(versions(plan_release(&mid, 2)), vec![1, 3]);
        assert_eq!(versions(plan_release(&mid, 3)), vec![1]);
    }
}
