//! `kubectl werf annotate`: werf's auto, CI and custom annotations and labels on every resource of a Helm 3
//! release.
//!
//! Decisions (see `--help` too):
//! - Targets come from the latest stored revision's manifest (and its hooks with `--include-hooks`), whatever
//!   that revision's status; objects that no longer exist, or whose type the server does not serve, are
//!   reported as `missing` and are not an error.
//! - Precedence when a key comes from several places: flags > `WERF_ADD_*` variables > `--ci-env` > auto.
//! - `werf.io/version` comes from `--werf-version`, else from the value the release's manifest already
//!   carries (werf writes it there); with neither, `--werf-auto-annotations` is a usage error rather than a
//!   guess. Project and env likewise: `--project`/`--env`, else the release's own werf annotations.
//! - Everything is validated before the first write, including each object's resulting 256 KiB annotation
//!   total (which needs the live objects, so that failure exits 1, still with nothing changed).
//! - One merge patch per object with only the keys whose value differs, guarded by the resourceVersion read
//!   just before; on 409 the object is read again and re-planned, up to [`crate::retry::WRITE_ATTEMPTS`] times. Objects
//!   already carrying every value are `unchanged` and get no request.
//! - Reads retry transient failures. A patch that met one (429, 5xx, a lost connection) may have landed: it is
//!   never simply sent again; the object is read again and re-planned like after a 409 (nothing left to do
//!   means it landed: `patched`).
//! - The first SIGINT/SIGTERM stops new patches; those sent settle; the objects not reached are reported
//!   `interrupted`, the exit code is 1 and the message says which command finishes the job.

pub mod inputs;
pub mod plan;

use std::collections::BTreeMap;
use std::io::Write;

use futures::StreamExt;
use kube::ResourceExt;
use kube::api::DynamicObject;
use serde::Serialize;

use crate::cli::{AnnotateArgs, CiEnvChoice, OutputFormat};
use crate::commands::context::{Context, Outcome};
use crate::error::AppError;
use crate::live::objects::{PatchDecision, PatchFailure, PatchSettled, PatchTrail};
use crate::live::targets::{Target, resolve_objects};
use crate::live::{PatchError, ResourceCatalog, discovery, objects};
use crate::release::helm3::Release;
use crate::stop::StopSignal;
use crate::storage::Helm3Store;
use crate::storage::StorageSettings;

use inputs::{Changes, Requests};
use plan::{ObjectPlan, chart_conflicts, plan_object};

/// Requests in flight at once.
pub const CONCURRENCY: usize = 16;

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Patched,
    Unchanged,
    Missing,
    Failed,
    /// `--dry-run`: would be patched.
    #[serde(rename = "would-patch")]
    WouldPatch,
    /// The run was interrupted before this object's patch was sent; not changed.
    Interrupted,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Patched => "patched",
            State::Unchanged => "unchanged",
            State::Missing => "missing",
            State::Failed => "failed",
            State::WouldPatch => "would-patch",
            State::Interrupted => "interrupted",
        }
    }
}

/// One row of the report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectResult {
    /// kubectl's `kind.group/name`.
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hook: bool,
    pub result: State,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The patch sent (or, with `--dry-run`, that would be sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    release: &'a str,
    namespace: &'a str,
    revision: i64,
    dry_run: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    interrupted: bool,
    changes: &'a Changes,
    results: &'a [ObjectResult],
    warnings: &'a [String],
}

/// A manifest object to act on.
struct Item {
    target: Option<Target>,
    /// Shown when the target could not be resolved.
    what: String,
    namespace: Option<String>,
    hook: bool,
    unresolved_reason: Option<String>,
    /// The manifest document itself could not be read.
    broken: bool,
}

impl Item {
    fn resource(&self) -> String {
        match &self.target {
            Some(t) => resource_name(t),
            None => self.what.clone(),
        }
    }
}

/// kubectl's way of naming an object in output: `deployment.apps/shop`, `configmap/settings`.
pub fn resource_name(t: &Target) -> String {
    let kind = t.resource.kind.to_ascii_lowercase();
    if t.resource.group.is_empty() { format!("{kind}/{}", t.name) } else { format!("{kind}.{}/{}", t.resource.group, t.name) }
}

fn usage(e: inputs::InputError) -> AppError {
    AppError::Usage(e.0)
}

/// What `annotate` was asked to do, taken from its clap arguments once at the top of [`run`]; nothing below
/// `run` sees `AnnotateArgs`.
struct AnnotateOptions {
    add_annotation: Vec<String>,
    add_label: Vec<String>,
    remove_annotation: Vec<String>,
    remove_label: Vec<String>,
    werf_auto_annotations: bool,
    werf_version: Option<String>,
    ci_env: CiEnvChoice,
    include_hooks: bool,
    dry_run: bool,
    yes: bool,
    output: OutputFormat,
}

impl AnnotateOptions {
    fn from_args(args: &AnnotateArgs) -> Self {
        AnnotateOptions {
            add_annotation: args.add_annotation.clone(),
            add_label: args.add_label.clone(),
            remove_annotation: args.remove_annotation.clone(),
            remove_label: args.remove_label.clone(),
            werf_auto_annotations: args.werf_auto_annotations,
            werf_version: args.werf_version.clone(),
            ci_env: args.ci_env,
            include_hooks: args.include_hooks,
            dry_run: args.dry_run,
            yes: args.yes,
            output: args.output,
        }
    }
}

/// The release whose objects are annotated, located and read.
struct LocatedRelease {
    client: kube::Client,
    namespace: String,
    release: Release,
}

/// What was read and planned: the objects, the final changes, and each object's planned patch.
struct Planning {
    items: Vec<Item>,
    changes: Changes,
    planned: Vec<Planned>,
}

pub async fn run(ctx: &Context<'_>, args: AnnotateArgs) -> Result<Outcome, AppError> {
    let opts = AnnotateOptions::from_args(&args);

    // Inputs first: a bad key or value is reported before anything is read.
    let (mut requests, mut warnings) = read_requests(ctx, &opts)?;
    let names = super::resolve_release_names(&args.werf, args.release.clone(), ctx.connection.namespace.clone())?;
    let storage = StorageSettings::resolve(&args.storage, ctx.env)?;
    let located = locate_release(ctx, &names, &storage, &mut warnings).await?;

    // Plan: read every object and plan its patch; nothing is written until every object passed.
    let planning = plan_changes(&located, &names, &opts, &mut requests, &mut warnings).await?;

    // Confirm, then execute (or, with --dry-run, say what would be patched).
    let (results, stop) = if opts.dry_run {
        let results = planning.items.iter().zip(planning.planned).map(|(item, p)| dry_result(item, p)).collect();
        (results, StopSignal::never())
    } else {
        let to_patch = confirm(&planning, &located, &opts)?;
        // Installed only now: an interrupt while reading or at the prompt ends the run at once, nothing changed.
        let stop = if to_patch > 0 { StopSignal::install() } else { StopSignal::never() };
        let results = apply_all(&located.client, &planning.items, planning.planned, &planning.changes, &stop).await;
        (results, stop)
    };

    // Report.
    report(ctx, &located, &planning.changes, &results, &warnings, &opts, stop.requested())
}

/// The requested changes from flags, `WERF_ADD_*` variables and `--ci-env`, checked before anything is read;
/// with the warnings they raise.
fn read_requests(ctx: &Context<'_>, opts: &AnnotateOptions) -> Result<(Requests, Vec<String>), AppError> {
    let mut warnings: Vec<String> = Vec::new();
    let mut requests = Requests::default();
    inputs::from_flags(&opts.add_annotation, &opts.add_label, &opts.remove_annotation, &opts.remove_label, &mut requests).map_err(usage)?;
    inputs::from_env(ctx.env, &mut requests).map_err(usage)?;
    match inputs::ci_system(opts.ci_env, ctx.env) {
        Some(system) => {
            requests.ci = inputs::ci_annotations(system, ctx.env);
            if requests.ci.is_empty() {
                warnings.push(format!("--ci-env: none of {}'s variables are set; no CI annotations added", system.name()));
            }
        }
        None if opts.ci_env == CiEnvChoice::Auto => {
            warnings.push("--ci-env auto: neither GITLAB_CI nor GITHUB_ACTIONS is set; no CI annotations added".into())
        }
        None => {}
    }
    let early = inputs::finalize(&requests).map_err(usage)?;
    if early.is_empty() && !opts.werf_auto_annotations {
        return Err(AppError::Usage(
            "nothing to do: give --add-annotation, --add-label, --remove-annotation, --remove-label, \
             --werf-auto-annotations or --ci-env (or WERF_ADD_ANNOTATION_*/WERF_ADD_LABEL_* variables)"
                .into(),
        ));
    }
    Ok((requests, warnings))
}

/// Connect, find the release's storage and read its latest revision.
async fn locate_release(
    ctx: &Context<'_>,
    names: &crate::werf::naming::ResolvedNames,
    storage: &StorageSettings,
    warnings: &mut Vec<String>,
) -> Result<LocatedRelease, AppError> {
    let access = ctx.connect().await?;
    let client = access.client.clone();
    let namespace = names.namespace.clone().unwrap_or_else(|| access.namespace.clone());
    // The release's storage by the rule every verb shares: both drivers unless --release-storage picks
    // one; a release stored under both is a usage error (which one's objects?).
    let sel = crate::storage::scope::ReleaseScope::new(storage, Some(3), &namespace, true, false);
    let (found, found_warnings) = crate::storage::scope::locate(&client, &sel, &names.release).await?.for_write()?;
    warnings.extend(found_warnings);
    let helm3 = Helm3Store::new(client.clone(), crate::storage::scope::helm3_driver(found.place.kind()), sel.limits);

    let release = latest_release(&helm3, &namespace, &names.release).await?;
    let status = release.info.status.as_str().to_string();
    if matches!(status.as_str(), "uninstalled" | "uninstalling" | "failed") || status.starts_with("pending") {
        warnings.push(format!(
            "release {} revision {} is {status}; annotating the objects of its manifest anyway",
            release.name, release.version
        ));
    }
    Ok(LocatedRelease { client, namespace, release })
}

/// The release's objects, the final changes (with werf's auto annotations), and every object read and its
/// patch planned. The warnings are printed here; an object that would break Kubernetes' limits fails the run
/// before anything is written.
async fn plan_changes(
    located: &LocatedRelease,
    names: &crate::werf::naming::ResolvedNames,
    opts: &AnnotateOptions,
    requests: &mut Requests,
    warnings: &mut Vec<String>,
) -> Result<Planning, AppError> {
    let LocatedRelease { client, namespace, release } = located;
    let catalog = discovery::load(client).await.map_err(|e| AppError::Kube(e.to_string()))?;
    let items = collect_items(&catalog, release, namespace, opts.include_hooks);
    if opts.include_hooks && items.iter().any(|i| i.hook) {
        warnings.push("hook objects are recreated by Helm according to their delete policy; keys set on them now do not carry over".into());
    }

    if opts.werf_auto_annotations {
        requests.auto = werf_auto(opts, names, release)?;
    }
    let changes = inputs::finalize(requests).map_err(usage)?;

    // Keys the chart sets come back with the next upgrade: say so, per object and key.
    for item in &items {
        if let Some(t) = &item.target {
            for key in chart_conflicts(&t.manifest.object, &changes) {
                warnings.push(format!("{}: {}", t.display(), key.describe()));
            }
        }
    }

    // Read every object and plan its patch; nothing is written until every object passed.
    let planned = plan_all(client, &items, &changes).await;
    let mut too_long = Vec::new();
    for (item, p) in items.iter().zip(&planned) {
        if let Planned::Invalid(reason) = p {
            too_long.push(format!("{}: {reason}", item.target.as_ref().map(Target::display).unwrap_or(item.what.clone())));
        }
    }
    print_warnings(warnings);
    if !too_long.is_empty() {
        return Err(AppError::Failed(format!(
            "nothing was changed: {} object(s) would break Kubernetes' limits:\n  {}",
            too_long.len(),
            too_long.join("\n  ")
        )));
    }
    Ok(Planning { items, changes, planned })
}

/// Show the plan (interactive runs) and ask; returns how many objects are to be patched.
fn confirm(planning: &Planning, located: &LocatedRelease, opts: &AnnotateOptions) -> Result<usize, AppError> {
    let to_patch = planning.planned.iter().filter(|p| matches!(p, Planned::Patch { .. })).count();
    if to_patch > 0 {
        if !opts.yes && crate::interact::interactive() {
            show_plan(&planning.items, &planning.planned, &located.release, &located.namespace);
        }
        let question = format!("Patch {to_patch} object(s) of release {} in namespace {}?", located.release.name, located.namespace);
        if !crate::interact::confirm(&question, opts.yes)? {
            return Err(AppError::Failed("cancelled; nothing was changed".into()));
        }
    }
    Ok(to_patch)
}

/// Print the results (table or structured), say how to resume after an interrupt, and pick the outcome.
fn report(
    ctx: &Context<'_>,
    located: &LocatedRelease,
    changes: &Changes,
    results: &[ObjectResult],
    warnings: &[String],
    opts: &AnnotateOptions,
    interrupted: bool,
) -> Result<Outcome, AppError> {
    let release = &located.release;
    let failed = results.iter().any(|r| matches!(r.result, State::Failed | State::Interrupted));
    match opts.output {
        OutputFormat::Table => print_table(results, opts.dry_run)?,
        format => crate::output::print_structured(
            &Report {
                release: &release.name,
                namespace: &located.namespace,
                revision: release.version,
                dry_run: opts.dry_run,
                interrupted,
                changes,
                results,
                warnings,
            },
            format,
        )?,
    }
    if interrupted {
        let left = results.iter().filter(|r| r.result == State::Interrupted).count();
        eprintln!(
            "interrupted: {left} object(s) not patched; the patches already sent finished. Run the same command again to finish: {}",
            crate::commands::context::resume_command(ctx)
        );
    }
    Ok(if failed || interrupted { Outcome::PartialFailure } else { Outcome::Success })
}

/// The latest stored revision of `name` in `namespace`: found by the records' labels, decoded alone.
async fn latest_release(store: &Helm3Store, namespace: &str, name: &str) -> Result<Release, AppError> {
    let selector = crate::storage::codec::helm3_history_selector(name);
    let infos = store.list_meta(Some(namespace), Some(&selector)).await.map_err(|e| AppError::kube(&e))?;
    let (latest, unlabelled) = crate::storage::helm3::latest_by_labels(&infos);
    let not_found =
        || AppError::Failed(format!("release {name:?} not found in namespace {namespace:?} ({} storage)", store.storage_name()));
    if unlabelled.is_empty() {
        let info = latest.get(&(namespace.to_string(), name.to_string())).ok_or_else(not_found)?;
        return match store.get_object(namespace, &info.name).await.map_err(|e| AppError::kube(&e))? {
            Some(Ok(record)) if record.release.name == name => Ok(record.release),
            Some(Ok(record)) => {
                Err(AppError::Failed(format!("{}: labelled as release {name:?} but holds {:?}", record.object.key(), record.release.name)))
            }
            Some(Err(e)) => Err(AppError::Failed(format!("cannot read the latest revision: {e}"))),
            None => Err(AppError::Failed(format!("{}/{} disappeared while reading it", namespace, info.name))),
        };
    }
    // Some record lacks a usable version label: only the payloads can tell which revision is latest.
    let history = store.history(namespace, name).await.map_err(|e| AppError::kube(&e))?;
    history.records.into_iter().max_by_key(|r| r.release.version).map(|r| r.release).ok_or_else(not_found)
}

fn collect_items(catalog: &ResourceCatalog, release: &Release, namespace: &str, include_hooks: bool) -> Vec<Item> {
    let mut items: Vec<Item> = Vec::new();
    let mut manifests: Vec<(&str, bool)> = vec![(&release.manifest, false)];
    if include_hooks {
        manifests.extend(release.hooks.iter().map(|h| (h.manifest.as_str(), true)));
    }
    for (manifest, hook) in manifests {
        for obj in crate::manifest::parse_objects(manifest, true) {
            // One object at a time, so an unresolved one keeps its apiVersion for the report.
            let (api_version, kind, name, obj_ns) = match &obj {
                Ok(o) => (o.api_version.clone(), o.kind.clone(), o.name.clone(), o.namespace.clone()),
                Err(_) => Default::default(),
            };
            let (targets, unresolved) = resolve_objects(catalog, vec![obj], namespace);
            for t in targets {
                let duplicate = items.iter().any(|i| {
                    i.target.as_ref().is_some_and(|o| {
                        o.resource.group == t.resource.group
                            && o.resource.plural == t.resource.plural
                            && o.namespace == t.namespace
                            && o.name == t.name
                    })
                });
                if !duplicate {
                    items.push(Item {
                        what: t.display(),
                        namespace: t.namespace.clone(),
                        target: Some(t),
                        hook,
                        unresolved_reason: None,
                        broken: false,
                    });
                }
            }
            for u in unresolved {
                let what = if name.is_empty() {
                    u.what
                } else {
                    let group = api_version.rsplit_once('/').map(|(g, _)| format!(".{g}")).unwrap_or_default();
                    format!("{}{group}/{name}", kind.to_ascii_lowercase())
                };
                let ns = if name.is_empty() { None } else { Some(obj_ns.clone().unwrap_or_else(|| namespace.to_string())) };
                items.push(Item { target: None, what, namespace: ns, hook, unresolved_reason: Some(u.reason), broken: name.is_empty() });
            }
        }
    }
    items
}

/// werf's three auto annotations, from flags, else from what the release's manifest already carries.
fn werf_auto(
    opts: &AnnotateOptions,
    names: &crate::werf::naming::ResolvedNames,
    release: &Release,
) -> Result<Vec<inputs::Entry>, AppError> {
    let carried = |key: &str| -> Option<String> {
        // The most common value among the manifest's objects (werf writes the same on every object).
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for obj in crate::manifest::parse_objects(&release.manifest, true).into_iter().flatten() {
            if let Some(v) = obj.object.pointer("/metadata/annotations").and_then(|a| a.get(key)).and_then(|v| v.as_str()) {
                *counts.entry(v.to_string()).or_default() += 1;
            }
        }
        counts.into_iter().max_by_key(|(_, n)| *n).map(|(v, _)| v)
    };
    let (version, version_origin) = match (&opts.werf_version, carried(inputs::WERF_VERSION_ANNOTATION)) {
        (Some(v), _) => (v.clone(), "--werf-version".to_string()),
        (None, Some(v)) => (v, format!("the release's {}", inputs::WERF_VERSION_ANNOTATION)),
        (None, None) => {
            return Err(AppError::Usage(format!(
                "--werf-auto-annotations needs --werf-version: release {} carries no {} to keep",
                release.name,
                inputs::WERF_VERSION_ANNOTATION
            )));
        }
    };
    let (project, project_origin) = match (&names.project, carried(inputs::PROJECT_NAME_ANNOTATION)) {
        (Some(p), _) => (p.clone(), "--project".to_string()),
        (None, Some(p)) => (p, format!("the release's {}", inputs::PROJECT_NAME_ANNOTATION)),
        (None, None) => {
            return Err(AppError::Usage(format!(
                "--werf-auto-annotations needs --project: release {} carries no {}",
                release.name,
                inputs::PROJECT_NAME_ANNOTATION
            )));
        }
    };
    let env = match (&names.env, carried(inputs::PROJECT_ENV_ANNOTATION)) {
        (Some(e), _) => Some((e.clone(), "--env".to_string())),
        (None, Some(e)) => Some((e, format!("the release's {}", inputs::PROJECT_ENV_ANNOTATION))),
        (None, None) => None,
    };
    Ok(inputs::auto_annotations(
        &version,
        &version_origin,
        (&project, &project_origin),
        env.as_ref().map(|(v, o)| (v.as_str(), o.as_str())),
    ))
}

/// The state of one object after the read-and-plan pass.
enum Planned {
    /// The type is not served, or the object does not exist.
    Missing(String),
    Unchanged,
    /// The object, as read, and what it needs.
    Patch {
        object: Box<DynamicObject>,
        plan: ObjectPlan,
    },
    /// The resulting annotations would break the 256 KiB limit.
    Invalid(String),
    /// Could not be read, or the type cannot be patched.
    Failed(String),
}

fn live_maps(obj: &DynamicObject) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    (obj.labels().clone(), obj.annotations().clone())
}

fn plan_from(obj: Option<DynamicObject>, changes: &Changes) -> Planned {
    let Some(obj) = obj else { return Planned::Missing("not found".into()) };
    let (labels, annotations) = live_maps(&obj);
    match plan_object(&labels, &annotations, changes) {
        Ok(plan) if plan.is_empty() => Planned::Unchanged,
        Ok(plan) => Planned::Patch { object: Box::new(obj), plan },
        Err(e) => Planned::Invalid(e.to_string()),
    }
}

async fn plan_all(client: &kube::Client, items: &[Item], changes: &Changes) -> Vec<Planned> {
    let bar = crate::interact::progress(items.len() as u64, "reading");
    let mut out: Vec<(usize, Planned)> = futures::stream::iter(items.iter().enumerate())
        .map(|(i, item)| {
            let bar = bar.clone();
            async move {
                let planned = match &item.target {
                    None if item.broken => Planned::Failed(item.unresolved_reason.clone().unwrap_or_default()),
                    None => Planned::Missing(item.unresolved_reason.clone().unwrap_or_default()),
                    Some(t) if !t.resource.can_get_and_patch() => {
                        Planned::Failed(format!("{} does not support get and patch", t.resource.qualified_name()))
                    }
                    Some(t) => match objects::get(client, &t.resource, t.namespace.as_deref(), &t.name).await {
                        Ok(obj) => plan_from(obj, changes),
                        Err(e) => Planned::Failed(format!("cannot read: {}", crate::error::describe_kube_error(&e))),
                    },
                };
                bar.inc(1);
                (i, planned)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    bar.finish_and_clear();
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, p)| p).collect()
}

fn result_of(item: &Item, state: State, detail: String, patch: Option<serde_json::Value>) -> ObjectResult {
    ObjectResult { resource: item.resource(), namespace: item.namespace.clone(), hook: item.hook, result: state, detail, patch }
}

fn with_hook(item: &Item, detail: String) -> String {
    match (item.hook, detail.is_empty()) {
        (false, _) => detail,
        (true, true) => "hook".into(),
        (true, false) => format!("hook; {detail}"),
    }
}

fn dry_result(item: &Item, planned: Planned) -> ObjectResult {
    let (state, detail, patch) = match planned {
        Planned::Missing(why) => (State::Missing, why, None),
        Planned::Unchanged => (State::Unchanged, "already set".into(), None),
        Planned::Patch { object, plan } => (State::WouldPatch, plan.summary(), Some(plan.patch(object.resource_version().as_deref()))),
        Planned::Invalid(why) | Planned::Failed(why) => (State::Failed, why, None),
    };
    result_of(item, state, with_hook(item, detail), patch)
}

async fn apply_all(
    client: &kube::Client,
    items: &[Item],
    planned: Vec<Planned>,
    changes: &Changes,
    stop: &StopSignal,
) -> Vec<ObjectResult> {
    let count = planned.iter().filter(|p| matches!(p, Planned::Patch { .. })).count();
    let bar = crate::interact::progress(count as u64, "patching");
    let mut out: Vec<(usize, ObjectResult)> = futures::stream::iter(items.iter().zip(planned).enumerate())
        .map(|(i, (item, planned))| {
            let bar = bar.clone();
            async move {
                let result = match planned {
                    Planned::Patch { object, .. } => {
                        let r = apply_one(client, item, *object, changes, stop).await;
                        bar.inc(1);
                        r
                    }
                    other => dry_result(item, other),
                };
                (i, result)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    bar.finish_and_clear();
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// Patch one object through the settled patch (`live::objects::patch_settled`), deciding first on the object
/// as planned: on a stale resourceVersion it is read again and re-planned. After a transient failure the patch
/// may have landed with its answer lost: it is read again and re-planned the same way; an object that needs
/// nothing any more got the patch. No patch starts once `stop` is requested.
async fn apply_one(client: &kube::Client, item: &Item, object: DynamicObject, changes: &Changes, stop: &StopSignal) -> ObjectResult {
    let Some(t) = &item.target else { unreachable!("only resolved targets are planned") };
    if stop.requested() {
        let detail = "interrupted before its patch was sent; not changed".to_string();
        return result_of(item, State::Interrupted, with_hook(item, detail), None);
    }
    // The last patch decided on (for the report) and the last re-plan that left the object alone.
    let mut sent: Option<(serde_json::Value, String)> = None;
    let mut left: Option<(State, String)> = None;
    let settled = objects::patch_settled(client, &t.resource, t.namespace.as_deref(), &t.name, Some(object), stop, |obj| {
        match plan_from(Some(obj.clone()), changes) {
            Planned::Patch { plan, .. } => {
                let patch = plan.patch(obj.resource_version().as_deref());
                sent = Some((patch.clone(), plan.summary()));
                PatchDecision::Patch(patch)
            }
            Planned::Unchanged => PatchDecision::Nothing,
            Planned::Missing(_) => {
                left = Some((State::Missing, "deleted meanwhile".into()));
                PatchDecision::Refuse(String::new())
            }
            Planned::Invalid(why) | Planned::Failed(why) => {
                left = Some((State::Failed, why));
                PatchDecision::Refuse(String::new())
            }
        }
    })
    .await;
    let retried = |conflicts: u32| if conflicts > 0 { format!(" (after {conflicts} conflict(s))") } else { String::new() };
    let (patch, summary) = sent.unzip();
    let summary = summary.unwrap_or_default();
    match settled {
        Ok(PatchSettled::Patched(_, PatchTrail { lost: Some(lost), .. })) => {
            let detail = format!("{summary} (the answer was lost: {lost}; read back: applied)");
            result_of(item, State::Patched, with_hook(item, detail), patch)
        }
        Ok(PatchSettled::Patched(_, trail)) => {
            result_of(item, State::Patched, with_hook(item, format!("{summary}{}", retried(trail.conflicts))), patch)
        }
        Ok(PatchSettled::Unchanged(_, trail)) => {
            result_of(item, State::Unchanged, with_hook(item, format!("already set{}", retried(trail.conflicts))), None)
        }
        Ok(PatchSettled::Missing) => result_of(item, State::Missing, with_hook(item, "deleted meanwhile".into()), None),
        Err(PatchFailure::Refused(_)) => {
            let (state, why) = left.unwrap_or((State::Failed, String::new()));
            result_of(item, state, with_hook(item, why), None)
        }
        Err(PatchFailure::Unread { read, after }) => {
            let read = crate::error::describe_kube_error(&read);
            let detail = match after {
                Some(e) => format!("{}; then cannot read it again: {read}", failure_text(&e)),
                None => format!("cannot read it: {read}"),
            };
            result_of(item, State::Failed, with_hook(item, detail), None)
        }
        Err(e @ PatchFailure::Interrupted(_)) => result_of(item, State::Interrupted, with_hook(item, e.to_string()), None),
        Err(e) => result_of(item, State::Failed, with_hook(item, e.to_string()), None),
    }
}

/// A failed patch as the report names it.
fn failure_text(e: &PatchError) -> String {
    match e {
        PatchError::Conflict(status) => format!("conflict: {}", status.message),
        other => other.to_string(),
    }
}

fn print_warnings(warnings: &[String]) {
    let mut err = std::io::stderr().lock();
    for w in warnings {
        let _ = writeln!(err, "warning: {w}");
    }
}

fn show_plan(items: &[Item], planned: &[Planned], release: &Release, namespace: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "Release {} (revision {}) in namespace {namespace}:", release.name, release.version);
    for (item, p) in items.iter().zip(planned) {
        let line = match p {
            Planned::Patch { plan, .. } => format!("  patch      {}  {}", item.resource(), describe_plan(plan)),
            Planned::Unchanged => format!("  unchanged  {}", item.resource()),
            Planned::Missing(why) => format!("  missing    {}  ({why})", item.resource()),
            Planned::Invalid(why) | Planned::Failed(why) => format!("  failed     {}  ({why})", item.resource()),
        };
        let _ = writeln!(err, "{line}");
    }
}

fn describe_plan(plan: &ObjectPlan) -> String {
    let mut parts = Vec::new();
    for (k, v) in &plan.set_annotations {
        parts.push(format!("annotation {k}={}", shorten(v)));
    }
    for (k, v) in &plan.set_labels {
        parts.push(format!("label {k}={v}"));
    }
    for k in &plan.remove_annotations {
        parts.push(format!("annotation {k}-"));
    }
    for k in &plan.remove_labels {
        parts.push(format!("label {k}-"));
    }
    parts.join(", ")
}

fn shorten(v: &str) -> String {
    if v.chars().count() <= 60 { v.to_string() } else { format!("{}… ({} bytes)", v.chars().take(57).collect::<String>(), v.len()) }
}

fn print_table(results: &[ObjectResult], dry_run: bool) -> std::io::Result<()> {
    let colors = crate::interact::colors_enabled();
    let mut out = std::io::stdout().lock();
    if dry_run {
        for r in results.iter().filter(|r| r.patch.is_some()) {
            let patch = serde_json::to_string(r.patch.as_ref().unwrap_or(&serde_json::Value::Null)).map_err(std::io::Error::other)?;
            let ns = r.namespace.as_deref().map(|n| format!(" -n {n}")).unwrap_or_default();
            writeln!(out, "{}{ns}: {patch}", r.resource)?;
        }
        if results.iter().any(|r| r.patch.is_some()) {
            writeln!(out)?;
        }
    }
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            let painted = crate::interact::paint_status(r.result.as_str(), colors);
            vec![r.resource.clone(), r.namespace.clone().unwrap_or_else(|| "-".into()), painted, r.detail.clone()]
        })
        .collect();
    out.write_all(crate::output::columns("", 3, &["RESOURCE", "NAMESPACE", "RESULT", "DETAIL"], &rows).as_bytes())?;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in results {
        *counts.entry(r.result.as_str()).or_default() += 1;
    }
    let summary: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    writeln!(out, "\n{} object(s): {}", results.len(), summary.join(", "))?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::inputs::Field;
    use super::*;

    #[test]
    fn states_serialize_as_shown() {
        assert_eq!(serde_json::to_value(State::WouldPatch).unwrap(), "would-patch");
        assert_eq!(serde_json::to_value(State::Patched).unwrap(), State::Patched.as_str());
        assert_eq!(serde_json::to_value(Field::Annotation).unwrap(), "annotation");
    }
}
