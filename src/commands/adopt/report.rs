//! adopt's report: the plan table, the per-object report (table, JSON or YAML) and the exit outcome.

use serde::Serialize;
use serde_json::Value;

use std::path::Path;

use crate::cli::OutputFormat;
use crate::commands::context::{Context, Outcome};
use crate::error::AppError;
use crate::interact;
use crate::ownership::{self, HelmAction, Ownership, Problem};
use crate::storage::Helm3Store;

use super::detach::DetachReport;
use super::handover;
use super::inputs::TargetRelease;
use super::{AdoptOptions, Done, Fields, Item, Observed, state_detail, state_word};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Owner {
    pub(super) release: Option<String>,
    pub(super) namespace: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ObjectReport {
    pub(super) resource: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(super) api_version: String,
    pub(super) kind: String,
    pub(super) name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) namespace: Option<String>,
    pub(super) state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) owner: Option<Owner>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) problems: Vec<String>,
    pub(super) selected: bool,
    pub(super) result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) patch: Option<Value>,
    /// Field ownership for Helm 4, when a manifest names the object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) field_ownership: Option<FieldsReport>,
    /// `--dry-run`: Helm 3's ownership check now and after this adopt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) helm3: Option<Verdict>,
    /// `--dry-run` with a manifest: Helm 4's server-side apply now and after this adopt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) helm4: Option<Verdict>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FieldsReport {
    /// Fields that move (moved) to manager helm (Apply), per manager they leave.
    pub(super) moves: Vec<handover::FieldMove>,
    /// Fields the manifest sets that stay with their manager, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) kept: Vec<handover::FieldMove>,
    /// Why the fields could not be planned or handed over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<String>,
}

/// A prediction: `passes` or `fails`, now and after this adopt (as planned).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Verdict {
    pub(super) now: &'static str,
    pub(super) after_adopt: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) conflicts: Vec<crate::live::fields::Conflict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) detail: Option<String>,
}

pub(super) fn word(pass: bool) -> &'static str {
    if pass { "passes" } else { "fails" }
}

/// Whether this run takes the object into the release (or would, with --dry-run).
pub(super) fn will_be_in_release(item: &Item) -> bool {
    item.passes_helm() || matches!(item.done, Some(Done::WouldAdopt | Done::Adopted | Done::WouldHandOver | Done::HandedOver))
}

/// Helm 4's verdict from the dry-run apply, when there was one.
pub(super) struct Helm4Prediction {
    pub(super) now: bool,
    pub(super) after: bool,
    pub(super) conflicts: Vec<crate::live::fields::Conflict>,
    pub(super) detail: Option<String>,
}

pub(super) fn helm4_prediction(item: &Item, opts: &AdoptOptions, helm_migrates: bool) -> Option<Helm4Prediction> {
    let answer = item.helm4.as_ref()?;
    let ownership_now = item.passes_helm();
    let ownership_after = will_be_in_release(item);
    let hands_over = item.selected && !opts.keep_field_managers;
    Some(match answer {
        Err(e) => Helm4Prediction { now: false, after: false, conflicts: Vec::new(), detail: Some(format!("cannot tell: {e}")) },
        Ok(handover::Helm4Now::Refused(msg)) => Helm4Prediction {
            now: false,
            after: false,
            conflicts: Vec::new(),
            detail: Some(format!("the server refuses the manifest: {msg}")),
        },
        Ok(handover::Helm4Now::Passes) => {
            Helm4Prediction { now: ownership_now, after: ownership_after, conflicts: Vec::new(), detail: None }
        }
        Ok(handover::Helm4Now::Conflicts(all)) => {
            let conflicts: Vec<_> =
                all.iter().filter(|c| !(helm_migrates && handover::helm_migrates_its_update_fields(c))).cloned().collect();
            let cleared = |c: &crate::live::fields::Conflict| match &item.fields {
                Fields::Planned { plan, .. } => hands_over && plan.moves_field(&c.field),
                _ => false,
            };
            let left: Vec<&crate::live::fields::Conflict> = conflicts.iter().filter(|c| !cleared(c)).collect();
            let detail = if left.is_empty() || conflicts.is_empty() {
                None
            } else {
                let mut why = left.iter().map(|c| format!("{} ({})", c.field, c.manager)).collect::<Vec<_>>().join(", ");
                why.push_str(match &item.fields {
                    Fields::Planned { plan, .. } if left.iter().any(|c| plan.keeps_field(&c.field)) => {
                        " stay with their managers (--force moves them)"
                    }
                    _ if opts.keep_field_managers => " stay with their managers (--keep-field-managers)",
                    _ => " stay with their managers",
                });
                Some(why)
            };
            Helm4Prediction { now: ownership_now && conflicts.is_empty(), after: ownership_after && left.is_empty(), conflicts, detail }
        }
    })
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Report {
    pub(super) release: String,
    pub(super) release_namespace: String,
    pub(super) dry_run: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(super) interrupted: bool,
    pub(super) objects: Vec<ObjectReport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) detached: Vec<DetachReport>,
}

pub(super) fn plan_table(items: &[Item], target: &TargetRelease) -> String {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|it| {
            vec![
                it.candidate.display(),
                it.candidate.namespace.clone().unwrap_or_else(|| "-".into()),
                state_word(&it.observed).to_string(),
                state_detail(&it.observed, &target.release, &target.namespace),
            ]
        })
        .collect();
    crate::output::columns("", 3, &["RESOURCE", "NAMESPACE", "STATE", "OWNER/DETAIL"], &rows)
}

pub(super) fn done_detail(item: &Item) -> Option<String> {
    match item.done.as_ref()? {
        Done::Unchanged(d) | Done::Skipped(d) | Done::Refused(d) | Done::Failed(d) => Some(d.clone()),
        Done::Interrupted => Some(item.note.clone().unwrap_or_else(|| "interrupted before its patch was sent; not changed".into())),
        done @ (Done::WouldAdopt | Done::Adopted | Done::WouldHandOver | Done::HandedOver) => {
            let would = matches!(done, Done::WouldAdopt | Done::WouldHandOver);
            let mut parts: Vec<String> = item.note.iter().cloned().collect();
            if let Some(f) = fields_report(item) {
                let from: Vec<String> = f
                    .moves
                    .iter()
                    .map(|m| {
                        if m.subresource.is_empty() {
                            format!("{} ({})", m.manager, m.operation)
                        } else {
                            format!("{} ({}, {})", m.manager, m.operation, m.subresource)
                        }
                    })
                    .collect();
                let n: usize = f.moves.iter().map(|m| m.fields.len()).sum();
                if !from.is_empty() {
                    let verb = if would { "would move" } else { "moved" };
                    parts.push(format!("{n} field(s) {verb} to helm (Apply) from {}", from.join(", ")));
                } else if f.error.is_none() && !would {
                    parts.push("the fields it sets are with helm (Apply)".into());
                }
                if let Some(e) = &f.error {
                    parts.push(format!("its fields were not handed to helm: {e}"));
                }
                if !f.kept.is_empty() {
                    let kept: Vec<String> = f.kept.iter().map(|m| format!("{} ({})", m.manager, m.fields.join(", "))).collect();
                    parts.push(format!("kept with their managers: {} (--force moves them)", kept.join(", ")));
                }
            }
            (!parts.is_empty()).then(|| parts.join("; "))
        }
    }
}

/// The plan's field ownership section: per object, which managers' fields move to helm (Apply), which stay.
pub(super) fn fields_text(items: &[Item]) -> String {
    let mut lines = Vec::new();
    for it in items {
        let what = it.candidate.display();
        match &it.fields {
            Fields::Unknown(e) => lines.push(format!("  {what}: cannot tell which fields the manifest sets: {e}")),
            Fields::Planned { plan, .. } => {
                for m in &plan.moves {
                    lines.push(format!("  {what}: moves {}", m.describe()));
                }
                for m in &plan.kept {
                    lines.push(format!("  {what}: keeps {} ({})", m.describe(), m.reason.as_deref().unwrap_or("")));
                }
            }
            Fields::NoManifest | Fields::NotPlanned => {}
        }
    }
    if lines.is_empty() {
        return String::new();
    }
    format!("\nField ownership for Helm 4 (server-side apply as manager helm): the fields the manifest sets\n{}\n", lines.join("\n"))
}

pub(super) fn fields_report(item: &Item) -> Option<FieldsReport> {
    let (plan_moves, plan_kept) = match &item.fields {
        Fields::NoManifest | Fields::NotPlanned => return None,
        Fields::Unknown(e) => return Some(FieldsReport { moves: Vec::new(), kept: Vec::new(), error: Some(e.clone()) }),
        Fields::Planned { plan, .. } => (plan.moves.clone(), plan.kept.clone()),
    };
    Some(match &item.handed {
        Some(Ok(done)) => FieldsReport { moves: done.moves.clone(), kept: done.kept.clone(), error: None },
        Some(Err(e)) => FieldsReport { moves: Vec::new(), kept: plan_kept, error: Some(e.clone()) },
        None => FieldsReport { moves: plan_moves, kept: plan_kept, error: None },
    })
}

pub(super) fn object_report(item: &Item, target: &TargetRelease, dry_run: bool, opts: &AdoptOptions, helm_migrates: bool) -> ObjectReport {
    let c = &item.candidate;
    let owner = match item.ownership() {
        Some(Ownership::Foreign { release, namespace }) => Some(Owner { release: release.clone(), namespace: namespace.clone() }),
        _ => None,
    };
    let problems = item_problems(item);
    let done = item.done.clone().unwrap_or(Done::Unchanged(String::new()));
    let patch = match (&done, &item.observed) {
        (Done::WouldAdopt, Observed::Read { resource_version, .. }) if dry_run => {
            Some(ownership::adoption_patch(&target.release, &target.namespace, resource_version.as_deref()))
        }
        _ => None,
    };
    ObjectReport {
        resource: c.display(),
        api_version: c.resource.api_version().trim_matches('/').to_string(),
        kind: c.resource.kind.clone(),
        name: c.name.clone(),
        namespace: c.namespace.clone(),
        state: state_word(&item.observed),
        owner,
        problems,
        selected: item.selected,
        result: done.word(),
        detail: done_detail(item).filter(|d| !d.is_empty()),
        patch,
        field_ownership: fields_report(item),
        helm3: dry_run.then(|| Verdict {
            now: word(item.passes_helm()),
            after_adopt: word(will_be_in_release(item)),
            conflicts: Vec::new(),
            detail: None,
        }),
        helm4: helm4_prediction(item, opts, helm_migrates).map(|p| Verdict {
            now: word(p.now),
            after_adopt: word(p.after),
            conflicts: p.conflicts,
            detail: p.detail,
        }),
    }
}

/// Helm's check of the object as read: every requirement it fails (empty when Helm would accept it).
pub(super) fn helm_problems(item: &Item) -> Vec<Problem> {
    match &item.observed {
        Observed::Read { ownership: Ownership::Missing, .. } => Vec::new(),
        Observed::Read { problems, .. } => problems.clone(),
        _ => Vec::new(),
    }
}

pub(super) fn item_problems(item: &Item) -> Vec<String> {
    helm_problems(item).iter().map(Problem::helm_text).collect()
}

pub(super) fn print_stdout(text: &str) -> Result<(), AppError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// The apply method (`ssa`, `csa`, or empty for Helm 3) of the release's latest stored revision.
pub(super) async fn latest_apply_method(store: &Helm3Store, target: &TargetRelease) -> Option<String> {
    let listing = store.history(&target.namespace, &target.release).await.ok()?;
    listing.records.last().map(|r| r.release.apply_method.clone())
}

/// Without a manifest only the ownership metadata is stamped: say what Helm 4 will do and how to pass one.
pub(super) fn no_manifest_warning(items: &[Item], opts: &AdoptOptions, target: &TargetRelease) {
    if opts.keep_field_managers {
        return;
    }
    let bare: Vec<String> = items
        .iter()
        .filter(|it| matches!(it.fields, Fields::NoManifest))
        .filter(|it| it.selected || matches!(it.done, Some(Done::Adopted | Done::WouldAdopt)))
        .map(|it| it.candidate.display())
        .collect();
    if bare.is_empty() {
        return;
    }
    let shown = if bare.len() > 3 { format!("{} and {} more", bare[..3].join(", "), bare.len() - 3) } else { bare.join(", ") };
    eprintln!(
        "warning: no manifest names {shown}: only Helm's ownership metadata is stamped, field ownership stays as it is. Helm 3 takes such objects over; Helm 4 (server-side apply) fails with \"conflict occurred while applying object\" on every field the chart sets to another value than its current field manager did. Pass the chart's manifest so that those fields move to Helm's field manager: helm template {release} CHART -n {ns} | kubectl werf adopt -f - --release {release} -n {ns}{from_error}",
        release = target.release,
        ns = target.namespace,
        from_error = if opts.from_error.is_some() { " --from-error FILE" } else { "" },
    );
}

/// Whether the release has any stored revision: Helm then upgrades (`Unable to continue with update`).
pub(super) async fn release_exists(store: &Helm3Store, target: &TargetRelease) -> bool {
    let selector = crate::storage::codec::helm3_history_selector(&target.release);
    store.list_meta(Some(&target.namespace), Some(&selector)).await.map(|v| !v.is_empty()).unwrap_or(false)
}

pub(super) fn result_text(report: &Report, items: &[Item], dry_run: bool) -> String {
    let mut out = String::new();
    if dry_run {
        let patches: Vec<&ObjectReport> = report.objects.iter().filter(|o| o.patch.is_some()).collect();
        if !patches.is_empty() {
            out.push_str("\nPatches (JSON merge patch, not applied: --dry-run):\n");
            for o in patches {
                let ns = o.namespace.as_deref().map(|n| format!(" -n {n}")).unwrap_or_default();
                out.push_str(&format!(
                    "{}{ns}: {}\n",
                    o.resource,
                    serde_json::to_string(o.patch.as_ref().expect("filtered")).unwrap_or_default()
                ));
            }
        }
        let rows: Vec<Vec<String>> = report
            .objects
            .iter()
            .filter(|o| o.helm4.is_some() || o.helm3.as_ref().is_some_and(|v| v.now == "fails"))
            .map(|o| {
                let h3 = o.helm3.as_ref();
                let h4 = o.helm4.as_ref();
                let mut detail: Vec<String> = Vec::new();
                if let Some(v) = h4 {
                    if !v.conflicts.is_empty() {
                        detail.push(format!(
                            "conflicts: {}",
                            v.conflicts.iter().map(|c| format!("{} ({})", c.field, c.manager)).collect::<Vec<_>>().join(", ")
                        ));
                    }
                    if let Some(d) = &v.detail {
                        detail.push(d.clone());
                    }
                }
                vec![
                    o.resource.clone(),
                    h3.map(|v| format!("{}/{}", v.now, v.after_adopt)).unwrap_or_else(|| "-".into()),
                    h4.map(|v| format!("{}/{}", v.now, v.after_adopt)).unwrap_or_else(|| "-".into()),
                    detail.join("; "),
                ]
            })
            .collect();
        if !rows.is_empty() {
            out.push_str("\nPrediction (now/after this adopt): Helm 3 checks ownership metadata; Helm 4 also applies server-side (manager helm, no --force-conflicts):\n");
            out.push_str(&crate::output::columns("", 3, &["RESOURCE", "HELM 3", "HELM 4", "DETAIL"], &rows));
        }
    }
    let acted: Vec<Vec<String>> = report
        .objects
        .iter()
        .zip(items)
        .filter(|(_, it)| it.selected || it.done.as_ref().is_some_and(Done::is_failure))
        .map(|(o, _)| {
            vec![
                o.resource.clone(),
                o.namespace.clone().unwrap_or_else(|| "-".into()),
                interact::paint_status(o.result, interact::colors_enabled()),
                o.detail.clone().unwrap_or_default(),
            ]
        })
        .collect();
    out.push('\n');
    if acted.is_empty() {
        out.push_str("Nothing to adopt.\n");
    } else {
        out.push_str(&crate::output::columns("", 3, &["RESOURCE", "NAMESPACE", "RESULT", "DETAIL"], &acted));
    }
    for d in &report.detached {
        let mut line = format!("release {} ({}): {}", d.release, d.namespace, d.result);
        if let Some(r) = d.revision {
            line.push_str(&format!(", revision {r} without {}", d.moved.join(", ")));
        }
        if let Some(s) = d.superseded {
            line.push_str(&format!(", revision {s} superseded"));
        }
        if let Some(b) = &d.backup {
            line.push_str(&format!(", backup in {}", Path::new(b).parent().map(|p| p.display().to_string()).unwrap_or_default()));
        }
        if let Some(detail) = &d.detail {
            line.push_str(&format!(" ({detail})"));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Print the report, say what Helm would answer (`--dry-run`) and how to resume, and decide the exit.
pub(super) async fn finish(
    ctx: &Context<'_>,
    helm3: &Helm3Store,
    items: &[Item],
    target: &TargetRelease,
    opts: &AdoptOptions,
    detached: Vec<DetachReport>,
    interrupted: bool,
) -> Result<Outcome, AppError> {
    // Helm 4 moves helm's own Update fields to its Apply entry before applying, on install and when upgrading a
    // release Helm 3 wrote (client-side apply method).
    let helm_migrates = if opts.dry_run { latest_apply_method(helm3, target).await.is_none_or(|m| m != "ssa") } else { true };
    let report = Report {
        release: target.release.clone(),
        release_namespace: target.namespace.clone(),
        dry_run: opts.dry_run,
        interrupted,
        objects: items.iter().map(|it| object_report(it, target, opts.dry_run, opts, helm_migrates)).collect(),
        detached,
    };
    let would_fail: Vec<&Item> = items.iter().filter(|it| !it.passes_helm()).collect();
    let helm4_fails = items.iter().any(|it| helm4_prediction(it, opts, helm_migrates).is_some_and(|p| !p.now));
    if opts.dry_run {
        let action = if release_exists(helm3, target).await { HelmAction::Upgrade } else { HelmAction::Install };
        for it in &would_fail {
            let c = &it.candidate;
            let problems = helm_problems(it);
            if problems.is_empty() {
                eprintln!("would fail: {}: {}", c.display(), state_detail(&it.observed, &target.release, &target.namespace));
            } else {
                eprintln!("Error: {}", ownership::helm_error_text(action, &c.resource.kind, &c.name, c.namespace.as_deref(), &problems));
            }
        }
    }
    match opts.output {
        OutputFormat::Table => print_stdout(&result_text(&report, items, opts.dry_run))?,
        format => crate::output::print_structured(&report, format)?,
    }
    let failed =
        items.iter().any(|it| it.done.as_ref().is_some_and(Done::is_failure)) || report.detached.iter().any(|d| d.result == "failed");
    if interrupted {
        let left = items.iter().filter(|it| it.done == Some(Done::Interrupted)).count();
        eprintln!(
            "interrupted: {left} object(s) not adopted; the patches already sent finished. Run the same command again to finish: {}",
            crate::commands::context::resume_command(ctx)
        );
    }
    no_manifest_warning(items, opts, target);
    if failed || interrupted || (opts.dry_run && (!would_fail.is_empty() || helm4_fails)) {
        Ok(Outcome::PartialFailure)
    } else {
        Ok(Outcome::Success)
    }
}
