//! `adopt --detach`: after objects moved from release A to the adopting release, A's stored manifest must
//! stop listing them, or A's next upgrade (which no longer renders them) deletes them. This writes a new
//! revision of A without those documents; every other byte of the manifest stays as it was.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Serialize;

use crate::error::AppError;
use crate::manifest::{ManifestObject, parse_objects};
use crate::ownership::Ownership;
use crate::release::helm3::{Release, Status};
use crate::stop::StopSignal;
use crate::storage::backup::{BackupDir, record_from_raw};
use crate::storage::codec::LabelStamp;
use crate::storage::helm3::now_unix;
use crate::storage::{Helm3Record, Helm3Store};

use super::inputs::TargetRelease;
use super::{AdoptOptions, Candidate, Done, Item};

/// Byte ranges of the documents of a YAML stream. Each range starts at its `---` separator line (or at 0 for
/// text before the first separator) and ends where the next separator line starts, so the ranges cover the
/// text exactly and removing some leaves the others byte-identical. Separators follow
/// [`crate::manifest::split_documents`]: `---` at the start of a line, alone or followed by blank/comment.
pub fn document_spans(text: &str) -> Vec<Range<usize>> {
    let mut starts = vec![0];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end_matches(['\n', '\r']);
        let is_separator = trimmed.strip_prefix("---").is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']));
        if is_separator && offset > 0 {
            starts.push(offset);
        }
        offset += line.len();
    }
    let mut spans = Vec::with_capacity(starts.len());
    for (i, start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(text.len());
        spans.push(*start..end);
    }
    spans
}

/// `manifest` without the documents holding exactly one object for which `drop` is true, and how many were
/// removed. Documents that do not parse, hold several objects (a `List` of more than one) or none are kept.
pub fn remove_documents(manifest: &str, mut drop: impl FnMut(&ManifestObject) -> bool) -> (String, usize) {
    let mut out = String::with_capacity(manifest.len());
    let mut removed = 0;
    for span in document_spans(manifest) {
        let piece = &manifest[span];
        let objects = parse_objects(piece, true);
        let single = match objects.as_slice() {
            [Ok(obj)] => Some(obj),
            _ => None,
        };
        if single.is_some_and(&mut drop) {
            removed += 1;
        } else {
            out.push_str(piece);
        }
    }
    (out, removed)
}

/// Statuses of a release with an operation in flight: writing a revision then would race with it.
pub fn in_flight(status: &Status) -> bool {
    status.is_pending() || *status == Status::Uninstalling
}

/// Which stored revision a detach rewrites: the last `deployed` one (what Helm's upgrade diffs against and
/// deletes from), else the latest. `history` is oldest first.
pub fn base_revision(history: &[Helm3Record]) -> Option<&Helm3Record> {
    history.iter().rev().find(|r| r.release.info.status == Status::Deployed).or_else(|| history.last())
}

/// The new revision: `base` without the moved documents, numbered after `latest_version`, deployed when the base
/// was (else the base's status is kept), with a description saying what moved where.
pub fn detached_revision(base: &Release, latest_version: i64, manifest: String, description: String) -> Release {
    let mut next = base.clone();
    next.version = latest_version + 1;
    next.manifest = manifest;
    next.info.description = description;
    next.info.last_deployed = crate::release::Time::now();
    next
}

// ---------------------------------------------------------------------------------------------------------
// Planning and writing the detached revisions

/// One source release losing objects.
pub(super) struct DetachPlan {
    pub(super) release: String,
    pub(super) namespace: String,
    pub(super) history: Vec<Helm3Record>,
    /// Indices into the items moving out of it.
    pub(super) items: Vec<usize>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DetachReport {
    pub(super) release: String,
    pub(super) namespace: String,
    /// `detached`, `would-detach`, `unchanged` or `failed`.
    pub(super) result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) revision: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) base_revision: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) superseded: Option<i64>,
    pub(super) moved: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) backup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) detail: Option<String>,
}

pub(super) fn owner_of(item: &Item, fallback_ns: Option<&str>) -> Option<(String, String)> {
    match item.ownership() {
        Some(Ownership::Foreign { release: Some(r), namespace }) if !r.is_empty() => {
            let ns = namespace.clone().filter(|n| !n.is_empty()).or_else(|| fallback_ns.map(String::from))?;
            Some((r.clone(), ns))
        }
        _ => None,
    }
}

pub(super) async fn plan_detach(store: &Helm3Store, items: &[Item]) -> Result<(Vec<DetachPlan>, Vec<String>), AppError> {
    let mut groups: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    let mut notes = Vec::new();
    for (i, item) in items.iter().enumerate().filter(|(_, it)| it.selected && it.is_foreign()) {
        match owner_of(item, item.candidate.namespace.as_deref()) {
            Some(key) => groups.entry(key).or_default().push(i),
            None => notes.push(format!("{}: its owner annotation names no release; nothing to detach", item.candidate.display())),
        }
    }
    let mut plans = Vec::new();
    for ((release, namespace), idx) in groups {
        let listing = store.history(&namespace, &release).await.map_err(|e| {
            AppError::Kube(format!("reading the history of release {release} ({namespace}): {}", crate::error::describe_kube_error(&e)))
        })?;
        for e in &listing.errors {
            notes.push(format!("release {release} ({namespace}): {e}"));
        }
        let Some(latest) = listing.records.last() else {
            notes.push(format!("release {release} has no stored revision in namespace {namespace}; nothing to detach"));
            continue;
        };
        if in_flight(&latest.release.info.status) {
            return Err(AppError::Failed(format!(
                "cannot detach from release {release} ({namespace}): revision {} is {} (an operation is in progress); nothing was changed",
                latest.release.version,
                latest.release.info.status.as_str()
            )));
        }
        if latest.release.info.status == Status::Uninstalled {
            notes.push(format!("release {release} ({namespace}) is uninstalled; its manifest is not used by upgrades, nothing to detach"));
            continue;
        }
        plans.push(DetachPlan { release, namespace, history: listing.records, items: idx });
    }
    Ok((plans, notes))
}

pub(super) fn matches_item(obj: &ManifestObject, c: &Candidate, release_ns: &str) -> bool {
    obj.group() == c.resource.group
        && obj.kind == c.resource.kind
        && obj.name == c.name
        && (!c.resource.namespaced || obj.namespace.as_deref().unwrap_or(release_ns) == c.namespace.as_deref().unwrap_or(""))
}

pub(super) async fn run_detach(
    store: &Helm3Store,
    plan: &DetachPlan,
    items: &[Item],
    target: &TargetRelease,
    backup: &mut Option<BackupDir>,
    opts: &AdoptOptions,
    stop: &StopSignal,
) -> DetachReport {
    // Only objects that now belong to the adopting release leave the source's manifest.
    let moved: Vec<&Candidate> = plan
        .items
        .iter()
        .map(|&i| &items[i])
        .filter(|it| it.stamped || matches!(it.done, Some(Done::Adopted) | Some(Done::WouldAdopt)))
        .map(|it| &it.candidate)
        .collect();
    let mut report = DetachReport {
        release: plan.release.clone(),
        namespace: plan.namespace.clone(),
        result: "unchanged".into(),
        revision: None,
        base_revision: None,
        superseded: None,
        moved: Vec::new(),
        backup: None,
        detail: None,
    };
    let (Some(base), Some(latest)) = (base_revision(&plan.history), plan.history.last()) else {
        report.detail = Some("no stored revision".into());
        return report;
    };
    report.base_revision = Some(base.release.version);
    if moved.is_empty() {
        report.detail = Some("no object was moved".into());
        return report;
    }
    let mut listed = Vec::new();
    let (manifest, removed) = remove_documents(&base.release.manifest, |obj| {
        let hit = moved.iter().find(|c| matches_item(obj, c, &plan.namespace));
        if let Some(c) = hit {
            listed.push(c.display());
        }
        hit.is_some()
    });
    report.moved = listed;
    if removed == 0 {
        report.detail = Some(format!("revision {} does not list the moved objects", base.release.version));
        return report;
    }
    let destination = if target.namespace == plan.namespace {
        format!("release {}", target.release)
    } else {
        format!("release {} in namespace {}", target.release, target.namespace)
    };
    let description = format!("Detached {} to {destination} (kubectl-werf adopt)", report.moved.join(", "));
    let next = detached_revision(&base.release, latest.release.version, manifest, description);
    report.revision = Some(next.version);
    let deployed = base.release.info.status == Status::Deployed;
    if opts.dry_run {
        report.result = "would-detach".into();
        report.superseded = deployed.then_some(base.release.version);
        return report;
    }
    // Back up what changes (the base, superseded below) and the latest, durably, before writing.
    if backup.is_none() {
        match BackupDir::create(opts.backup_dir.as_deref(), "adopt") {
            Ok(b) => *backup = Some(b),
            Err(e) => return failed(report, format!("cannot create the backup directory: {e}")),
        }
    }
    let dir = backup.as_ref().expect("created above");
    let mut to_back_up = vec![&base.object];
    if latest.object.name != base.object.name {
        to_back_up.push(&latest.object);
    }
    for info in to_back_up {
        let raw = match store.get_raw(&info.namespace, &info.name).await {
            Ok(Some(raw)) => raw,
            Ok(None) => return failed(report, format!("{} disappeared before the backup", info.key())),
            Err(e) => return failed(report, format!("backing up {}: {}", info.key(), crate::error::describe_kube_error(&e))),
        };
        let Some(record) = record_from_raw(&raw) else {
            return failed(report, format!("{}: no release payload to back up", info.key()));
        };
        match dir.write(&record) {
            Ok(path) => report.backup = Some(path.display().to_string()),
            Err(e) => return failed(report, format!("backing up {}: {e}", info.key())),
        }
    }
    // New revision first: if anything fails after it, the release is still consistent (the newest revision
    // describes what is deployed), and nothing is lost. Written where the release's records live (which may
    // differ from the payload's namespace for records that were copied or moved), through the settled create:
    // it never overwrites, and a lost answer is read back rather than guessed.
    let limits = store.limits();
    let mut object = match store.object_for(&next, LabelStamp::Created(now_unix())) {
        Ok(o) => o,
        Err(e) => return failed(report, format!("writing revision {}: {e}", next.version)),
    };
    object.namespace = latest.object.namespace.clone();
    if let Err(e) = store.objects().create_settled(&object, &limits, stop).await {
        return failed(report, format!("writing revision {}: {}/{}: {e}", next.version, object.namespace, object.name));
    }
    report.result = "detached".into();
    if deployed {
        let mut old = base.release.clone();
        old.info.status = Status::Superseded;
        // Only at the resourceVersion it was read (and backed up) at: a base changed meanwhile is not overwritten.
        let rv = base.object.resource_version.clone().unwrap_or_default();
        let superseded = match store.replacement_for(&base.object, &old) {
            Ok(o) => store.objects().replace_settled(&o, &rv, &limits, stop).await.map_err(|e| format!("{}: {e}", base.object.key())),
            Err(e) => Err(e.to_string()),
        };
        match superseded {
            Ok(_) => report.superseded = Some(base.release.version),
            Err(e) => {
                report.result = "failed".into();
                report.detail = Some(format!(
                    "revision {} written, but marking revision {} superseded failed: {e}",
                    next.version, base.release.version
                ));
            }
        }
    }
    report
}

pub(super) fn failed(mut report: DetachReport, why: String) -> DetachReport {
    report.result = "failed".into();
    report.detail = Some(why);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOP: &str = include_str!("../../../fixtures/helm3/fx-helm3-shop-manifest.txt");

    #[test]
    fn spans_cover_the_text() {
        for text in [SHOP, "", "a: 1\n", "---\na: 1\n---\nb: 2", "x: 1\n---\n---\ny: 2\n", "---\r\na: 1\r\n--- # c\r\nb: 2\r\n"] {
            let spans = document_spans(text);
            let joined: String = spans.iter().map(|s| &text[s.clone()]).collect();
            assert_eq!(joined, text);
        }
    }

    #[test]
    fn removes_exactly_the_named_documents() {
        let (out, n) = remove_documents(SHOP, |o| o.kind == "Service" && o.name == "shop-cache");
        assert_eq!(n, 1);
        assert!(!out.contains("# Source: shop/charts/cache/templates/service.yaml"));
        // Everything else is byte-identical: putting the removed document back gives the original.
        let start = SHOP.find("---\n# Source: shop/charts/cache/templates/service.yaml").unwrap();
        let removed_len = SHOP.len() - out.len();
        assert_eq!(format!("{}{}{}", &out[..start], &SHOP[start..start + removed_len], &out[start..]), SHOP);
        let (out2, n2) = remove_documents(SHOP, |o| o.kind == "Widget" || (o.kind == "Deployment" && o.name == "shop"));
        assert_eq!(n2, 2);
        assert!(out2.starts_with(&SHOP[..SHOP.find("---\n# Source: shop/templates/deployment.yaml").unwrap()]));
        let (same, none) = remove_documents(SHOP, |_| false);
        assert_eq!((same.as_str(), none), (SHOP, 0));
    }

    #[test]
    fn first_document_without_separator_and_lists() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b2}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n";
        let (out, n) = remove_documents(text, |o| o.name == "a" || o.name == "b");
        assert_eq!(n, 1);
        assert!(out.starts_with("---\napiVersion: v1\nkind: List"), "{out}");
        assert!(out.ends_with("name: c\n"));
    }
}
