//! `kubectl werf adopt`: bring existing cluster objects into a Helm release, safely.
//!
//! 1. Gather candidates (RESOURCE arguments, `-f` manifests, pasted Helm errors, a stored release's manifest),
//!    resolved once through discovery.
//! 2. Read and classify each (bounded concurrency): missing, unowned, owned by this release, partial, foreign.
//! 3. Select (terminal pick + confirm, or `--yes`); foreign objects only with `--force`.
//! 4. Patch the three ownership keys with the classified `resourceVersion` as precondition; on 409 read,
//!    classify and retry (bounded), refusing a steal that happened meanwhile. With the object's manifest, then
//!    hand the fields it sets to Helm 4's field manager (`handover`: `helm`, operation Apply). A patch that met a transient
//!    failure (429, 5xx, a lost connection) is never simply sent again: the object is read again (it may have
//!    landed) and classified like after a 409. SIGINT/SIGTERM stops new patches; those sent settle.
//! 5. `--detach`: write a new revision of each source release without the moved objects (also after an
//!    interruption, for the objects that did move: the source must stop listing them).
//! 6. Report per object; exit 1 when any chosen object failed or the run was interrupted, saying how to resume.

pub mod detach;
pub mod handover;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::DynamicObject;
use serde::Serialize;
use serde_json::Value;

use crate::app::{Context, Outcome};
use crate::cli::{AdoptArgs, OutputFormat};
use crate::error::AppError;
use crate::helm_errors::{self, OwnershipError};
use crate::interact;
use crate::live::targets::{Unresolved, resolve_objects};
use crate::live::fields::{FieldSet, entries_of};
use crate::live::objects::{PatchDecision, PatchFailure, PatchSettled, PatchTrail};
use crate::live::{ResolveError, ResolvedResource, ResourceCatalog, discovery, objects};
use crate::manifest::{ManifestObject, parse_json_objects, parse_objects};
use crate::ownership::{self, HelmAction, Ownership, Problem};
use crate::release::helm3::Status;
use crate::settings::StorageSettings;
use crate::storage::backup::{BackupDir, record_from_raw};
use crate::stop::StopSignal;
use crate::storage::{Helm3Record, Helm3Store, open_stores};

/// One object to look at, resolved to its API resource.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub resource: ResolvedResource,
    /// `None` for cluster-scoped resources.
    pub namespace: Option<String>,
    pub name: String,
}

impl Candidate {
    /// `Kind/name`, as Helm names objects.
    pub fn display(&self) -> String {
        format!("{}/{}", self.resource.kind, self.name)
    }

    fn key(&self) -> (String, String, Option<String>, String) {
        (self.resource.group.clone(), self.resource.plural.clone(), self.namespace.clone(), self.name.clone())
    }
}

/// What was found when reading a candidate.
#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    /// Read and classified (`Ownership::Missing` after a 404). `problems` is Helm's check of what was read.
    Read { ownership: Ownership, resource_version: Option<String>, problems: Vec<Problem> },
    /// Its type is not served (yet): from a manifest, e.g. a custom resource whose CRD the chart installs.
    UnknownType(String),
    /// Could not be read (forbidden, no get/patch verbs, transport...).
    Error(String),
}

/// What happened to one object.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Done {
    /// Not touched; why.
    Unchanged(String),
    /// Selectable but not selected.
    Skipped(String),
    WouldAdopt,
    Adopted,
    /// Already in the release; its fields would move / moved to Helm 4's manager.
    WouldHandOver,
    HandedOver,
    Refused(String),
    Failed(String),
    /// Selected, but the run was interrupted before its patch was sent.
    Interrupted,
}

impl Done {
    fn word(&self) -> &'static str {
        match self {
            Done::Unchanged(_) => "unchanged",
            Done::Skipped(_) => "skipped",
            Done::WouldAdopt => "would-adopt",
            Done::Adopted => "adopted",
            Done::WouldHandOver => "would-hand-over",
            Done::HandedOver => "handed-over",
            Done::Refused(_) => "refused",
            Done::Failed(_) => "failed",
            Done::Interrupted => "interrupted",
        }
    }

    fn is_failure(&self) -> bool {
        matches!(self, Done::Refused(_) | Done::Failed(_) | Done::Interrupted)
    }
}

struct Item {
    candidate: Candidate,
    observed: Observed,
    selected: bool,
    done: Option<Done>,
    /// The detail behind `done` when it carries none (e.g. re-read results).
    note: Option<String>,
    /// The object as a manifest (-f, --from-release) writes it, when one does.
    manifest: Option<ManifestObject>,
    /// The object as read, kept while its field ownership is planned.
    live: Option<Value>,
    /// The metadata as read (labels, annotations, resourceVersion): the first patch is decided on it.
    seen: Option<DynamicObject>,
    fields: Fields,
    /// `--dry-run` with a manifest: what Helm 4's apply would answer now.
    helm4: Option<Helm4Answer>,
    /// What the handover did (or why it failed).
    handed: Option<Result<handover::Done, String>>,
    /// Its ownership metadata was patched by this run (even if handing its fields over failed after).
    stamped: bool,
}

/// Field ownership work for one object.
#[derive(Debug, Clone, Default)]
enum Fields {
    /// No manifest names this object: ownership metadata only.
    #[default]
    NoManifest,
    /// Not planned (`--keep-field-managers`, missing, unreadable, not ours to take).
    NotPlanned,
    /// The server could not tell which fields the manifest sets.
    Unknown(String),
    /// The fields the manifest sets, and the handover planned from the object as read.
    Planned { set: FieldSet, plan: handover::Plan },
}

impl Item {
    fn ownership(&self) -> Option<&Ownership> {
        match &self.observed {
            Observed::Read { ownership, .. } => Some(ownership),
            _ => None,
        }
    }

    fn is_foreign(&self) -> bool {
        matches!(self.ownership(), Some(Ownership::Foreign { .. }))
    }

    /// Already in the release, but fields the manifest sets are still with other managers.
    fn needs_handover(&self) -> bool {
        matches!(&self.fields, Fields::Planned { plan, .. } if plan.moves_anything())
    }

    fn field_set(&self) -> Option<&FieldSet> {
        match &self.fields {
            Fields::Planned { set, .. } => Some(set),
            _ => None,
        }
    }

    /// Whether Helm would accept it into the release as it is now (missing objects Helm just creates).
    fn passes_helm(&self) -> bool {
        match &self.observed {
            Observed::Read { ownership, .. } => matches!(ownership, Ownership::Missing | Ownership::OwnedByThis),
            // Helm cannot install a kind the API server does not serve ("no matches for kind").
            Observed::UnknownType(_) => false,
            Observed::Error(_) => false,
        }
    }
}

/// State word for tables and JSON.
pub fn state_word(observed: &Observed) -> &'static str {
    match observed {
        Observed::Read { ownership, .. } => match ownership {
            Ownership::Missing => "missing",
            Ownership::Unowned => "unowned",
            Ownership::OwnedByThis => "owned",
            Ownership::Partial { .. } => "partial",
            Ownership::Foreign { .. } => "foreign",
        },
        Observed::UnknownType(_) => "unknown-type",
        Observed::Error(_) => "error",
    }
}

fn owner_text(release: Option<&str>, namespace: Option<&str>) -> String {
    format!("release {} in namespace {}", release.unwrap_or("<none>"), namespace.unwrap_or("<none>"))
}

/// The OWNER/DETAIL column of the plan.
fn state_detail(observed: &Observed, release: &str, release_ns: &str) -> String {
    match observed {
        Observed::Read { ownership, .. } => match ownership {
            Ownership::Missing => "does not exist; Helm will create it".into(),
            Ownership::Unowned => "no ownership metadata".into(),
            Ownership::OwnedByThis => format!("already in release {release} ({release_ns})"),
            Ownership::Partial { problems } => problems.iter().map(short_problem).collect::<Vec<_>>().join("; "),
            Ownership::Foreign { release, namespace } => owner_text(release.as_deref(), namespace.as_deref()),
        },
        Observed::UnknownType(reason) | Observed::Error(reason) => reason.clone(),
    }
}

fn short_problem(p: &Problem) -> String {
    match &p.current {
        None => format!("{} missing", p.key),
        Some(c) => format!("{}={}", p.key, ownership::go_quote(c)),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Inputs

/// Text of every input file, read before anything touches the cluster; `-` (stdin) at most once.
struct Inputs {
    files: Vec<(String, String)>,
    errors: Option<(String, String)>,
}

fn read_source(path: &Path, stdin_used: &mut bool) -> Result<(String, String), AppError> {
    if path.as_os_str() == "-" {
        if *stdin_used {
            return Err(AppError::Usage("only one of -f and --from-error can read stdin (-)".into()));
        }
        *stdin_used = true;
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| AppError::Io(format!("cannot read stdin: {e}")))?;
        return Ok(("stdin".into(), text));
    }
    let text = std::fs::read_to_string(path).map_err(|e| AppError::Io(format!("{}: {e}", path.display())))?;
    Ok((path.display().to_string(), text))
}

fn read_inputs(args: &AdoptArgs) -> Result<Inputs, AppError> {
    let mut stdin_used = false;
    let mut files = Vec::new();
    for path in &args.filename {
        files.push(read_source(path, &mut stdin_used)?);
    }
    let errors = match &args.from_error {
        Some(path) => Some(read_source(path, &mut stdin_used)?),
        None => None,
    };
    Ok(Inputs { files, errors })
}

/// Parse the pasted Helm output; every error must name a resource we can find.
fn parse_errors(source: &str, text: &str) -> Result<Vec<OwnershipError>, AppError> {
    let errors = helm_errors::parse(text);
    if errors.is_empty() {
        return Err(AppError::Failed(format!(
            "{source}: no Helm ownership error found (expected \"... exists and cannot be imported into the current release: invalid ownership metadata; ...\")"
        )));
    }
    Ok(errors)
}

/// The release (and its namespace, when the errors say) all pasted errors agree on.
fn release_from_errors(errors: &[OwnershipError]) -> Result<(Option<String>, Option<String>), AppError> {
    let mut release: Option<String> = None;
    let mut namespace: Option<String> = None;
    for e in errors {
        for (slot, value, what) in [(&mut release, &e.release, "releases"), (&mut namespace, &e.release_namespace, "release namespaces")] {
            if let Some(v) = value {
                match slot {
                    Some(cur) if cur != v => {
                        return Err(AppError::Usage(format!(
                            "the pasted errors name different {what} ({cur} and {v}); adopt into one release at a time"
                        )));
                    }
                    _ => *slot = Some(v.clone()),
                }
            }
        }
    }
    Ok((release, namespace))
}

/// The release and release namespace to adopt into.
struct Target {
    release: String,
    namespace: String,
}

fn resolve_target(
    ctx: &Context<'_>,
    args: &AdoptArgs,
    errors: &[OwnershipError],
    context_namespace: &str,
) -> Result<Target, AppError> {
    let (err_release, err_namespace) = release_from_errors(errors)?;
    let named = args.release.is_some() || args.werf.project.is_some();
    let release_hint = args.release.clone().or_else(|| if named { None } else { err_release.clone().or(args.from_release.clone()) });
    if release_hint.is_none() && args.werf.project.is_none() && args.werf.werf_config.is_none() {
        let has_werf_yaml =
            std::env::current_dir().ok().and_then(|d| crate::werf::config::discover_werf_config(&d)).is_some();
        if !has_werf_yaml {
            return Err(AppError::Usage(
                "which release? give --release NAME (or --project/--env); --from-error and --from-release name one too".into(),
            ));
        }
    }
    let explicit_ns = args.release_namespace.clone().or_else(|| ctx.connection.namespace.clone());
    let names = super::resolve_release_names(&args.werf, release_hint, args.release_namespace.clone())?;
    if let Some(er) = &err_release
        && *er != names.release
    {
        return Err(AppError::Usage(format!(
            "the pasted error is about release {er}, not {}; drop --release or adopt into {er}",
            names.release
        )));
    }
    // Explicit --release-namespace, then werf's namespace for a project, then the error's, then -n / context.
    let namespace = match (&args.release_namespace, &names.namespace) {
        (Some(ns), _) => ns.clone(),
        (None, Some(ns)) if args.werf.project.is_some() || names.werf_config.is_some() => ns.clone(),
        _ => err_namespace.clone().or(explicit_ns).unwrap_or_else(|| context_namespace.to_string()),
    };
    if let Some(en) = &err_namespace
        && *en != namespace
    {
        return Err(AppError::Usage(format!(
            "the pasted error is about release namespace {en}, not {namespace}; drop --release-namespace or use {en}"
        )));
    }
    crate::names::validate_namespace_name(&namespace)
        .map_err(|e| AppError::Usage(format!("release namespace {namespace:?}: {e}")))?;
    Ok(Target { release: names.release, namespace })
}

/// Collects candidates without duplicates, in the order given.
#[derive(Default)]
struct Candidates {
    items: Vec<(Candidate, Observed)>,
    seen: std::collections::HashSet<(String, String, Option<String>, String)>,
    /// The first manifest object naming each candidate.
    manifests: std::collections::HashMap<(String, String, Option<String>, String), ManifestObject>,
}

impl Candidates {
    fn push(&mut self, c: Candidate, preset: Option<Observed>) {
        if self.seen.insert(c.key()) {
            let observed = preset.unwrap_or(Observed::Error(String::new()));
            self.items.push((c, observed));
        }
    }

    fn push_resolved(&mut self, resource: &ResolvedResource, namespace: Option<String>, name: String) {
        let namespace = if resource.namespaced { namespace } else { None };
        self.push(Candidate { resource: resource.clone(), namespace, name }, None);
    }

    fn push_unresolved(&mut self, u: Unresolved, namespace: Option<String>) {
        // `Kind/name` from targets::resolve_objects; keep the kind as typed.
        let (kind, name) = u.what.split_once('/').unwrap_or(("", &u.what));
        let resource = ResolvedResource {
            group: String::new(),
            version: String::new(),
            kind: kind.to_string(),
            plural: format!("?{kind}"),
            singular: String::new(),
            namespaced: true,
            verbs: Vec::new(),
            short_names: Vec::new(),
            categories: Vec::new(),
            preferred: true,
        };
        self.push(Candidate { resource, namespace, name: name.to_string() }, Some(Observed::UnknownType(u.reason)));
    }
}

fn manifest_objects(source: &str, text: &str) -> Result<Vec<Result<ManifestObject, crate::manifest::ManifestError>>, AppError> {
    let objects = if text.trim_start().starts_with('{') { parse_json_objects(text, true) } else { parse_objects(text, true) };
    if let Some(Err(e)) = objects.iter().find(|o| o.is_err()) {
        return Err(AppError::Failed(format!("{source}: {e}")));
    }
    // A values file, a README or Helm's notes is not a manifest: say so rather than adopt nothing.
    if objects.is_empty() {
        return Err(AppError::Failed(format!(
            "{source}: not Kubernetes YAML: no document with apiVersion and kind (expected a manifest such as `helm template` prints)"
        )));
    }
    Ok(objects)
}

/// Kubernetes' rule for an object's name: a DNS-1123 subdomain, except RBAC objects (path segments,
/// e.g. `system:aggregate-to-edit`).
fn object_name_error(resource: &ResolvedResource, name: &str) -> Option<String> {
    let rbac = resource.group == "rbac.authorization.k8s.io";
    let valid = if rbac {
        !name.is_empty() && name != "." && name != ".." && !name.contains('/') && !name.contains('%')
    } else {
        crate::names::is_dns1123_subdomain(name)
    };
    (!valid).then(|| {
        if rbac {
            format!("invalid name {name:?}: must be non-empty and contain no '/' or '%'")
        } else {
            format!(
                "invalid name {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (at most 253)"
            )
        }
    })
}

// ---------------------------------------------------------------------------------------------------------
// Reading and patching

/// Read and classify a candidate; also the object as read (for planning its field ownership).
async fn observe_full(client: &kube::Client, c: &Candidate, release: &str, release_ns: &str) -> (Observed, Option<DynamicObject>) {
    if !c.resource.can_get_and_patch() {
        return (Observed::Error(format!("resource type {} does not support get and patch", c.resource.qualified_name())), None);
    }
    match objects::get(client, &c.resource, c.namespace.as_deref(), &c.name).await {
        Ok(None) => (Observed::Read { ownership: Ownership::Missing, resource_version: None, problems: Vec::new() }, None),
        Ok(Some(obj)) => (observed_of(&obj, release, release_ns), Some(obj)),
        Err(e) => (Observed::Error(crate::error::describe_kube_error(&e)), None),
    }
}

/// An object as read, classified for `release`.
fn observed_of(obj: &DynamicObject, release: &str, release_ns: &str) -> Observed {
    Observed::Read {
        ownership: ownership::classify(obj.labels(), obj.annotations(), release, release_ns),
        resource_version: obj.resource_version(),
        problems: ownership::check(obj.labels(), obj.annotations(), release, release_ns),
    }
}

/// Only what deciding on a patch reads (identity, labels, annotations, resourceVersion): kept per object
/// until it is patched, so the first patch needs no second read.
fn metadata_only(obj: &DynamicObject) -> DynamicObject {
    let m = &obj.metadata;
    let metadata = ObjectMeta {
        name: m.name.clone(),
        namespace: m.namespace.clone(),
        labels: m.labels.clone(),
        annotations: m.annotations.clone(),
        resource_version: m.resource_version.clone(),
        ..ObjectMeta::default()
    };
    DynamicObject { types: obj.types.clone(), metadata, data: Value::Null }
}

/// What a dry-run apply as Helm 4 answered (or why it could not be asked).
type Helm4Answer = Result<handover::Helm4Now, String>;
/// What happened to one selected object: result, object as last read, note, handover outcome.
type Adopted = (usize, Done, Observed, Option<String>, Option<Result<handover::Done, String>>);

/// For every object a manifest names and that adopt may take: which fields the manifest sets (the server's
/// answer to a forced dry-run apply) and the handover planned from the object as read. With `--dry-run`, also
/// what Helm 4's apply would answer now (a dry-run apply without force).
async fn plan_fields(client: &kube::Client, items: &mut [Item], target: &Target, args: &AdoptArgs, concurrency: usize) {
    let mut work = Vec::new();
    for (i, it) in items.iter_mut().enumerate().filter(|(_, it)| it.manifest.is_some()) {
        match it.ownership() {
            Some(Ownership::Missing) | None => it.fields = Fields::NotPlanned,
            Some(_) => work.push(i),
        }
    }
    if work.is_empty() {
        return;
    }
    let now = handover::now_rfc3339();
    let bar = interact::progress(work.len() as u64, "planning fields");
    let results: Vec<(usize, Fields, Option<Helm4Answer>)> = futures::stream::iter(work.into_iter().map(|i| {
        let (item, bar, now) = (&items[i], &bar, &now);
        async move {
            let c = &item.candidate;
            let manifest = item.manifest.as_ref().expect("filtered");
            let applied = handover::applied_object(manifest, c.namespace.as_deref(), &target.release, &target.namespace);
            let ns = c.namespace.as_deref();
            let takeable = match item.ownership() {
                Some(Ownership::Foreign { .. }) => args.force,
                _ => true,
            };
            let fields = if args.keep_field_managers || !takeable {
                Fields::NotPlanned
            } else {
                match handover::manifest_fields(client, &c.resource, ns, &c.name, &applied).await {
                    Err(e) => Fields::Unknown(e),
                    Ok(set) => {
                        let live = item.live.as_ref();
                        match live.map(entries_of).transpose() {
                            Err(e) => Fields::Unknown(e),
                            Ok(entries) => {
                                let api_version = live
                                    .and_then(|v| v.get("apiVersion"))
                                    .and_then(Value::as_str)
                                    .map(String::from)
                                    .unwrap_or_else(|| c.resource.api_version());
                                let plan = handover::plan(&entries.unwrap_or_default(), &set, &api_version, args.force, now);
                                Fields::Planned { set, plan }
                            }
                        }
                    }
                }
            };
            let helm4 = if args.dry_run { Some(handover::predict(client, &c.resource, ns, &c.name, &applied).await) } else { None };
            bar.inc(1);
            (i, fields, helm4)
        }
    }))
    .buffer_unordered(concurrency)
    .collect()
    .await;
    bar.finish_and_clear();
    for (i, fields, helm4) in results {
        items[i].fields = fields;
        items[i].helm4 = helm4;
        items[i].live = None;
    }
}

/// Patch one object through the settled patch (`live::objects::patch_settled`): on a conflict it is read and
/// classified again and patched again while it is still ours to take. An object that another release took
/// meanwhile is taken only when `take_foreign` (`--force --yes`: foreign objects are selected anyway);
/// otherwise only the owner the user saw and picked may be replaced.
///
/// A patch that met a transient failure may have landed with its answer lost: the object is read and
/// classified again, exactly as after a conflict. Found in the release, it was ours: adopted. Otherwise the
/// next patch carries the fresh `resourceVersion`, so it can never apply on top of a first one that landed
/// unseen. No patch starts once `stop` is requested.
///
/// Returns what happened, the object as last read, a note for the report and the object as patched.
async fn adopt_one(
    client: &kube::Client,
    item: &Item,
    release: &str,
    release_ns: &str,
    take_foreign: bool,
    stop: &StopSignal,
) -> (Done, Observed, Option<String>, Option<Value>) {
    let c = &item.candidate;
    let original = item.ownership().cloned();
    let mut observed = item.observed.clone();
    if !matches!(observed, Observed::Read { .. }) {
        return (Done::Failed(state_detail(&observed, release, release_ns)), observed, None, None);
    }
    if stop.requested() {
        return (Done::Interrupted, observed, None, None);
    }
    // Why the last decision left the object alone.
    let mut refusal: Option<Done> = None;
    let settled = objects::patch_settled(client, &c.resource, c.namespace.as_deref(), &c.name, item.seen.clone(), stop, |obj| {
        observed = observed_of(obj, release, release_ns);
        let Observed::Read { ownership: current, .. } = &observed else { unreachable!("observed_of reads") };
        match current {
            Ownership::OwnedByThis => PatchDecision::Nothing,
            Ownership::Missing => {
                refusal = Some(Done::Failed("deleted meanwhile".into()));
                PatchDecision::Refuse(String::new())
            }
            Ownership::Foreign { release: r, namespace: n } if !take_foreign && original.as_ref() != Some(current) => {
                let why = format!("changed meanwhile: now owned by {}; re-run with --force to take it", owner_text(r.as_deref(), n.as_deref()));
                refusal = Some(Done::Refused(why));
                PatchDecision::Refuse(String::new())
            }
            Ownership::Foreign { .. } | Ownership::Unowned | Ownership::Partial { .. } => {
                PatchDecision::Patch(ownership::adoption_patch(release, release_ns, None))
            }
        }
    })
    .await;
    match settled {
        Ok(PatchSettled::Patched(_, PatchTrail { lost: Some(lost), .. })) => {
            let note = format!("the patch's answer was lost ({lost}); read back: in release {release}");
            (Done::Adopted, observed, Some(note), None)
        }
        Ok(PatchSettled::Patched(obj, _)) => {
            let problems = ownership::check(obj.labels(), obj.annotations(), release, release_ns);
            if !problems.is_empty() {
                let text: Vec<String> = problems.iter().map(Problem::helm_text).collect();
                return (Done::Failed(format!("patched, but the server kept: {}", text.join("; "))), observed, None, None);
            }
            (Done::Adopted, observed, None, serde_json::to_value(&obj).ok())
        }
        Ok(PatchSettled::Unchanged(..)) => (Done::Unchanged("already in the release (changed meanwhile)".into()), observed, None, None),
        Ok(PatchSettled::Missing) => (Done::Failed("deleted meanwhile".into()), observed, None, None),
        Err(PatchFailure::Refused(_)) => (refusal.unwrap_or_else(|| Done::Failed("left alone".into())), observed, None, None),
        Err(PatchFailure::Interrupted(_)) => (Done::Interrupted, observed, None, None),
        Err(PatchFailure::Unread { read, after }) => {
            observed = Observed::Error(crate::error::describe_kube_error(&read));
            let why = match after {
                Some(e) => format!("{e}; then cannot read it again: {}", state_detail(&observed, release, release_ns)),
                None => state_detail(&observed, release, release_ns),
            };
            (Done::Failed(why), observed, None, None)
        }
        Err(e @ PatchFailure::GaveUp { .. }) => (Done::Failed(format!("{e}; try again")), observed, None, None),
        Err(PatchFailure::Failed(e)) => (Done::Failed(e.to_string()), observed, None, None),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Detach planning

/// One source release losing objects.
struct DetachPlan {
    release: String,
    namespace: String,
    history: Vec<Helm3Record>,
    /// Indices into the items moving out of it.
    items: Vec<usize>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DetachReport {
    release: String,
    namespace: String,
    /// `detached`, `would-detach`, `unchanged` or `failed`.
    result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    revision: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    base_revision: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    superseded: Option<i64>,
    moved: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    backup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

fn owner_of(item: &Item, fallback_ns: Option<&str>) -> Option<(String, String)> {
    match item.ownership() {
        Some(Ownership::Foreign { release: Some(r), namespace }) if !r.is_empty() => {
            let ns = namespace.clone().filter(|n| !n.is_empty()).or_else(|| fallback_ns.map(String::from))?;
            Some((r.clone(), ns))
        }
        _ => None,
    }
}

async fn plan_detach(store: &Helm3Store, items: &[Item]) -> Result<(Vec<DetachPlan>, Vec<String>), AppError> {
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
        if detach::in_flight(&latest.release.info.status) {
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

fn matches_item(obj: &ManifestObject, c: &Candidate, release_ns: &str) -> bool {
    obj.group() == c.resource.group
        && obj.kind == c.resource.kind
        && obj.name == c.name
        && (!c.resource.namespaced || obj.namespace.as_deref().unwrap_or(release_ns) == c.namespace.as_deref().unwrap_or(""))
}

async fn run_detach(
    store: &Helm3Store,
    plan: &DetachPlan,
    items: &[Item],
    target: &Target,
    backup: &mut Option<BackupDir>,
    args: &AdoptArgs,
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
    let (Some(base), Some(latest)) = (detach::base_revision(&plan.history), plan.history.last()) else {
        report.detail = Some("no stored revision".into());
        return report;
    };
    report.base_revision = Some(base.release.version);
    if moved.is_empty() {
        report.detail = Some("no object was moved".into());
        return report;
    }
    let mut listed = Vec::new();
    let (manifest, removed) = detach::remove_documents(&base.release.manifest, |obj| {
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
    let next = detach::detached_revision(&base.release, latest.release.version, manifest, description);
    report.revision = Some(next.version);
    let deployed = base.release.info.status == Status::Deployed;
    if args.dry_run {
        report.result = "would-detach".into();
        report.superseded = deployed.then_some(base.release.version);
        return report;
    }
    // Back up what changes (the base, superseded below) and the latest, durably, before writing.
    if backup.is_none() {
        match BackupDir::create(args.backup_dir.as_deref(), "adopt") {
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
    // describes what is deployed), and nothing is lost.
    if let Err(e) = store.create_in(&latest.object.namespace, &next).await {
        return failed(report, format!("writing revision {}: {e}", next.version));
    }
    report.result = "detached".into();
    if deployed {
        let mut old = base.release.clone();
        old.info.status = Status::Superseded;
        match store.update(&base.object, &old).await {
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

fn failed(mut report: DetachReport, why: String) -> DetachReport {
    report.result = "failed".into();
    report.detail = Some(why);
    report
}

// ---------------------------------------------------------------------------------------------------------
// Output

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Owner {
    release: Option<String>,
    namespace: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ObjectReport {
    resource: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    api_version: String,
    kind: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<Owner>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    problems: Vec<String>,
    selected: bool,
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<Value>,
    /// Field ownership for Helm 4, when a manifest names the object.
    #[serde(skip_serializing_if = "Option::is_none")]
    field_ownership: Option<FieldsReport>,
    /// `--dry-run`: Helm 3's ownership check now and after this adopt.
    #[serde(skip_serializing_if = "Option::is_none")]
    helm3: Option<Verdict>,
    /// `--dry-run` with a manifest: Helm 4's server-side apply now and after this adopt.
    #[serde(skip_serializing_if = "Option::is_none")]
    helm4: Option<Verdict>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FieldsReport {
    /// Fields that move (moved) to manager helm (Apply), per manager they leave.
    moves: Vec<handover::FieldMove>,
    /// Fields the manifest sets that stay with their manager, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    kept: Vec<handover::FieldMove>,
    /// Why the fields could not be planned or handed over.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// A prediction: `passes` or `fails`, now and after this adopt (as planned).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Verdict {
    now: &'static str,
    after_adopt: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    conflicts: Vec<crate::live::fields::Conflict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

fn word(pass: bool) -> &'static str {
    if pass { "passes" } else { "fails" }
}

/// Whether this run takes the object into the release (or would, with --dry-run).
fn will_be_in_release(item: &Item) -> bool {
    item.passes_helm() || matches!(item.done, Some(Done::WouldAdopt | Done::Adopted | Done::WouldHandOver | Done::HandedOver))
}

/// Helm 4's verdict from the dry-run apply, when there was one.
struct Helm4Prediction {
    now: bool,
    after: bool,
    conflicts: Vec<crate::live::fields::Conflict>,
    detail: Option<String>,
}

fn helm4_prediction(item: &Item, args: &AdoptArgs, helm_migrates: bool) -> Option<Helm4Prediction> {
    let answer = item.helm4.as_ref()?;
    let ownership_now = item.passes_helm();
    let ownership_after = will_be_in_release(item);
    let hands_over = item.selected && !args.keep_field_managers;
    Some(match answer {
        Err(e) => Helm4Prediction { now: false, after: false, conflicts: Vec::new(), detail: Some(format!("cannot tell: {e}")) },
        Ok(handover::Helm4Now::Refused(msg)) => {
            Helm4Prediction { now: false, after: false, conflicts: Vec::new(), detail: Some(format!("the server refuses the manifest: {msg}")) }
        }
        Ok(handover::Helm4Now::Passes) => Helm4Prediction { now: ownership_now, after: ownership_after, conflicts: Vec::new(), detail: None },
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
                    _ if args.keep_field_managers => " stay with their managers (--keep-field-managers)",
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
struct Report {
    release: String,
    release_namespace: String,
    dry_run: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    interrupted: bool,
    objects: Vec<ObjectReport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    detached: Vec<DetachReport>,
}

/// kubectl-style columns: upper-case headers, left-aligned, three spaces apart.
fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let last = cells.len() - 1;
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i < last {
                out.push_str(&" ".repeat(widths[i] - cell.chars().count() + 3));
            }
        }
        out.truncate(out.trim_end_matches(' ').len());
        out.push('\n');
    };
    line(headers.to_vec(), &mut out);
    for row in rows {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

fn plan_table(items: &[Item], target: &Target) -> String {
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
    render_table(&["RESOURCE", "NAMESPACE", "STATE", "OWNER/DETAIL"], &rows)
}

fn done_detail(item: &Item) -> Option<String> {
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
                    .map(|m| if m.subresource.is_empty() { format!("{} ({})", m.manager, m.operation) } else { format!("{} ({}, {})", m.manager, m.operation, m.subresource) })
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
fn fields_text(items: &[Item]) -> String {
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

fn fields_report(item: &Item) -> Option<FieldsReport> {
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

fn object_report(item: &Item, target: &Target, dry_run: bool, args: &AdoptArgs, helm_migrates: bool) -> ObjectReport {
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
        helm3: dry_run.then(|| Verdict { now: word(item.passes_helm()), after_adopt: word(will_be_in_release(item)), conflicts: Vec::new(), detail: None }),
        helm4: helm4_prediction(item, args, helm_migrates).map(|p| Verdict {
            now: word(p.now),
            after_adopt: word(p.after),
            conflicts: p.conflicts,
            detail: p.detail,
        }),
    }
}

/// Helm's check of the object as read: every requirement it fails (empty when Helm would accept it).
fn helm_problems(item: &Item) -> Vec<Problem> {
    match &item.observed {
        Observed::Read { ownership: Ownership::Missing, .. } => Vec::new(),
        Observed::Read { problems, .. } => problems.clone(),
        _ => Vec::new(),
    }
}

fn item_problems(item: &Item) -> Vec<String> {
    helm_problems(item).iter().map(Problem::helm_text).collect()
}

fn print_stdout(text: &str) -> Result<(), AppError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Selection

/// Let the person at the terminal pick; `None` when they cancelled.
fn pick(items: &[Item], selectable: &[usize], defaults: &[bool]) -> Result<Option<Vec<usize>>, AppError> {
    let labels: Vec<String> = selectable
        .iter()
        .map(|&i| {
            let it = &items[i];
            let ns = it.candidate.namespace.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
            let state = match it.ownership() {
                Some(Ownership::Foreign { release, namespace }) => {
                    format!("foreign: take from {}", owner_text(release.as_deref(), namespace.as_deref()))
                }
                Some(Ownership::OwnedByThis) => "owned: hand the fields it sets to helm (Apply)".to_string(),
                _ => state_word(&it.observed).to_string(),
            };
            format!("{}{ns} — {state}", it.candidate.display())
        })
        .collect();
    let _guard = crate::interact::PromptGuard::new();
    let chosen = dialoguer::MultiSelect::new()
        .with_prompt("Objects to adopt (space toggles, enter accepts, q cancels)")
        .items(&labels)
        .defaults(defaults)
        .interact_opt()
        .map_err(|e| AppError::Failed(format!("cannot read the answer: {e}")))?;
    Ok(chosen.map(|picked| picked.into_iter().map(|p| selectable[p]).collect()))
}

// ---------------------------------------------------------------------------------------------------------
// The verb

pub async fn run(ctx: &Context<'_>, args: AdoptArgs) -> Result<Outcome, AppError> {
    if args.resources.is_empty() && args.filename.is_empty() && args.from_error.is_none() && args.from_release.is_none() {
        return Err(AppError::Usage(
            "nothing to adopt: name objects (TYPE/NAME), or give -f FILE, --from-error FILE or --from-release NAME".into(),
        ));
    }
    let inputs = read_inputs(&args)?;
    let errors = match &inputs.errors {
        Some((source, text)) => parse_errors(source, text)?,
        None => Vec::new(),
    };
    let storage = StorageSettings::resolve(&args.storage, ctx.env)?;
    let access = ctx.connect().await?;
    let client = access.client.clone();
    let target = resolve_target(ctx, &args, &errors, &access.namespace)?;
    let (helm3, _) = open_stores(&client, &storage);

    let catalog = discovery::load(&client).await.map_err(|e| AppError::Kube(e.to_string()))?;
    let mut cands = Candidates::default();
    let arg_ns = ctx.connection.namespace.clone().unwrap_or_else(|| target.namespace.clone());
    for arg in &args.resources {
        let (res, name) = catalog.resolve_ref(arg).map_err(|e| AppError::Failed(format!("{arg}: {e}")))?;
        if let Some(why) = object_name_error(res, &name) {
            return Err(AppError::Usage(format!("{arg}: {why}")));
        }
        cands.push_resolved(res, Some(arg_ns.clone()), name);
    }
    for (source, text) in &inputs.files {
        let (targets, unresolved) = resolve_objects(&catalog, manifest_objects(source, text)?, &target.namespace);
        add_targets(&mut cands, targets, unresolved, &target.namespace);
    }
    for e in &errors {
        let res = resolve_kind(&catalog, &e.kind).map_err(|err| AppError::Failed(format!("{} {:?}: {err}", e.kind, e.name)))?;
        cands.push_resolved(res, e.namespace.clone().or_else(|| Some(target.namespace.clone())), e.name.clone());
    }
    if let Some(from) = &args.from_release {
        let listing = helm3.history(&target.namespace, from).await.map_err(|e| {
            AppError::Kube(format!("reading release {from} ({}): {}", target.namespace, crate::error::describe_kube_error(&e)))
        })?;
        let Some(latest) = listing.records.last() else {
            return Err(AppError::Failed(format!(
                "release {from} has no stored revision in namespace {} (storage: {})",
                target.namespace,
                helm3.storage_name()
            )));
        };
        eprintln!("Objects of release {from} revision {} ({}):", latest.release.version, latest.release.info.status.as_str());
        // Helm keeps a release's records in the release's namespace, where its objects default to.
        let ns = latest.object.namespace.clone();
        let (targets, unresolved) = crate::live::targets::resolve_manifest(&catalog, &latest.release.manifest, &ns);
        add_targets(&mut cands, targets, unresolved, &ns);
    }

    // Read and classify everything, a bounded number at a time; discovery was done once above.
    let concurrency = usize::from(args.concurrency);
    let mut manifests = std::mem::take(&mut cands.manifests);
    let mut items: Vec<Item> = cands
        .items
        .into_iter()
        .map(|(candidate, observed)| {
            let manifest = manifests.remove(&candidate.key());
            Item {
                candidate,
                observed,
                selected: false,
                done: None,
                note: None,
                manifest,
                live: None,
                seen: None,
                fields: Fields::NoManifest,
                helm4: None,
                handed: None,
                stamped: false,
            }
        })
        .collect();
    // Unknown kinds and invalid names were judged already (an Error preset with a reason).
    let to_read: Vec<usize> = (0..items.len())
        .filter(|&i| !matches!(&items[i].observed, Observed::UnknownType(_)) && !matches!(&items[i].observed, Observed::Error(e) if !e.is_empty()))
        .collect();
    let bar = interact::progress(to_read.len() as u64, "reading");
    let observed: Vec<(usize, Observed, Option<DynamicObject>)> = futures::stream::iter(to_read.into_iter().map(|i| {
        let (client, c, bar) = (&client, &items[i].candidate, &bar);
        let (release, ns) = (&target.release, &target.namespace);
        async move {
            let (o, live) = observe_full(client, c, release, ns).await;
            bar.inc(1);
            (i, o, live)
        }
    }))
    .buffer_unordered(concurrency)
    .collect()
    .await;
    bar.finish_and_clear();
    for (i, o, live) in observed {
        items[i].observed = o;
        items[i].seen = live.as_ref().map(metadata_only);
        if items[i].manifest.is_some() {
            items[i].live = live.and_then(|obj| serde_json::to_value(&obj).ok());
        }
    }
    plan_fields(&client, &mut items, &target, &args, concurrency).await;
    for it in &items {
        match &it.observed {
            Observed::UnknownType(reason) => eprintln!("warning: {}: {reason}; not adopted", it.candidate.display()),
            Observed::Error(reason) if reason.starts_with("invalid name") => {
                eprintln!("warning: {}: {reason}; not adopted", it.candidate.display())
            }
            _ => {}
        }
    }

    let table_mode = args.output == OutputFormat::Table;
    if table_mode {
        print_stdout(&plan_table(&items, &target))?;
        print_stdout(&fields_text(&items))?;
    }

    // Selection.
    let selectable: Vec<usize> = (0..items.len())
        .filter(|&i| match items[i].ownership() {
            Some(Ownership::Unowned | Ownership::Partial { .. }) => true,
            Some(Ownership::Foreign { .. }) => args.force,
            Some(Ownership::OwnedByThis) => items[i].needs_handover(),
            _ => false,
        })
        .collect();
    let defaults: Vec<bool> = selectable.iter().map(|&i| !items[i].is_foreign() || (args.force && (args.yes || args.dry_run))).collect();
    let foreign_without_force = items.iter().filter(|it| it.is_foreign()).count() > 0 && !args.force;
    let mut chosen: Vec<usize> = selectable.iter().zip(&defaults).filter(|(_, d)| **d).map(|(i, _)| *i).collect();
    let mut cancelled = false;
    if !args.dry_run && !selectable.is_empty() {
        if args.yes {
            for &i in &chosen {
                if let Some(Ownership::Foreign { release, namespace }) = items[i].ownership() {
                    eprintln!(
                        "--force: taking {} from {}",
                        items[i].candidate.display(),
                        owner_text(release.as_deref(), namespace.as_deref())
                    );
                }
            }
        } else if interact::interactive() {
            if !table_mode {
                eprint!("{}", plan_table(&items, &target));
            }
            match pick(&items, &selectable, &defaults)? {
                None => cancelled = true,
                Some(picked) => {
                    chosen = picked;
                    let foreign = chosen.iter().filter(|&&i| items[i].is_foreign()).count();
                    let question = if foreign > 0 {
                        format!(
                            "Adopt {} object(s) into release {} ({}), taking {foreign} from another release?",
                            chosen.len(),
                            target.release,
                            target.namespace
                        )
                    } else {
                        format!("Adopt {} object(s) into release {} ({})?", chosen.len(), target.release, target.namespace)
                    };
                    if chosen.is_empty() || !interact::confirm(&question, false)? {
                        cancelled = true;
                    }
                }
            }
        } else {
            interact::confirm(
                &format!("would adopt {} object(s) into release {} ({})", chosen.len(), target.release, target.namespace),
                false,
            )?;
        }
    }
    if cancelled {
        eprintln!("Cancelled; nothing was changed.");
        chosen.clear();
    }
    for &i in &chosen {
        items[i].selected = true;
    }
    if foreign_without_force {
        eprintln!("note: objects owned by another release are left alone; --force allows taking them (you still pick them, or --yes selects them)");
    }

    // --detach preconditions are checked before anything is patched.
    let (plans, notes) = if args.detach && !cancelled { plan_detach(&helm3, &items).await? } else { (Vec::new(), Vec::new()) };
    for n in &notes {
        eprintln!("note: {n}");
    }

    // Patch (or, with --dry-run, say what would be patched).
    for (i, it) in items.iter_mut().enumerate() {
        if it.selected {
            continue;
        }
        it.done = Some(match it.ownership() {
            Some(Ownership::Missing) => Done::Unchanged("Helm will create it".into()),
            Some(Ownership::OwnedByThis) if !it.needs_handover() => Done::Unchanged(match &it.fields {
                Fields::Planned { .. } => "already in the release; the fields it sets are with helm (Apply)".into(),
                _ => "already in the release".into(),
            }),
            Some(Ownership::Foreign { .. }) if !args.force => Done::Skipped("owned by another release (needs --force)".into()),
            Some(_) if cancelled => Done::Skipped("cancelled".into()),
            Some(_) => Done::Skipped("not selected".into()),
            None => match &it.observed {
                Observed::Error(e) => Done::Failed(e.clone()),
                Observed::UnknownType(e) => Done::Unchanged(e.clone()),
                Observed::Read { .. } => unreachable!("index {i} has an ownership"),
            },
        });
    }
    let selected: Vec<usize> = (0..items.len()).filter(|&i| items[i].selected).collect();
    // From here on the first SIGINT/SIGTERM stops new patches and lets those sent settle (installed only now, so
    // an interrupt while reading or at the prompt still ends the run at once, with nothing changed).
    let stop = if args.dry_run || selected.is_empty() { StopSignal::never() } else { StopSignal::install() };
    if args.dry_run {
        for &i in &selected {
            items[i].done = Some(if items[i].ownership() == Some(&Ownership::OwnedByThis) { Done::WouldHandOver } else { Done::WouldAdopt });
        }
    } else if !selected.is_empty() {
        let take_foreign = args.force && args.yes;
        let bar = interact::progress(selected.len() as u64, "adopting");
        let stop = &stop;
        let results: Vec<Adopted> =
            futures::stream::iter(selected.iter().map(|&i| {
                let (client, item, bar) = (&client, &items[i], &bar);
                let (release, ns) = (&target.release, &target.namespace);
                let force = args.force;
                async move {
                    let (done, observed, note, patched) = if item.ownership() == Some(&Ownership::OwnedByThis) {
                        (Done::HandedOver, item.observed.clone(), None, None)
                    } else {
                        adopt_one(client, item, release, ns, take_foreign, stop).await
                    };
                    let in_release = matches!(&observed, Observed::Read { ownership: Ownership::OwnedByThis, .. });
                    let handed = match item.field_set() {
                        Some(set) if matches!(done, Done::Adopted | Done::HandedOver) || (in_release && matches!(done, Done::Unchanged(_))) => {
                            let c = &item.candidate;
                            Some(handover::hand_over(client, &c.resource, c.namespace.as_deref(), &c.name, set, force, stop, patched).await)
                        }
                        _ => None,
                    };
                    bar.inc(1);
                    (i, done, observed, note, handed)
                }
            }))
            .buffer_unordered(concurrency)
            .collect()
            .await;
        bar.finish_and_clear();
        for (i, mut done, observed, note, handed) in results {
            if note.is_some() {
                items[i].note = note;
            } else if observed != items[i].observed {
                items[i].note = Some(format!("re-read: {}", state_detail(&observed, &target.release, &target.namespace)));
            }
            items[i].stamped = done == Done::Adopted;
            if let Some(Err(e)) = &handed {
                done = match done {
                    Done::HandedOver | Done::Unchanged(_) if stop.requested() => Done::Interrupted,
                    Done::HandedOver | Done::Unchanged(_) => Done::Failed(format!("its fields were not handed to helm: {e}")),
                    _ if stop.requested() => {
                        items[i].note = Some(format!("ownership stamped; {e}; run the same command again"));
                        Done::Interrupted
                    }
                    _ => Done::Failed(format!("ownership stamped, but its fields were not handed to helm: {e}; run the same command again")),
                };
            } else if let (Some(Ok(h)), Done::Unchanged(_)) = (&handed, &done)
                && !h.moves.is_empty()
            {
                done = Done::HandedOver;
            }
            items[i].handed = handed;
            items[i].done = Some(done);
        }
    }

    let mut backup = None;
    let mut detached = Vec::new();
    for plan in &plans {
        detached.push(run_detach(&helm3, plan, &items, &target, &mut backup, &args).await);
    }

    // Report.
    let interrupted = stop.requested();
    // Helm 4 moves helm's own Update fields to its Apply entry before applying, on install and when upgrading a
    // release Helm 3 wrote (client-side apply method).
    let helm_migrates = if args.dry_run { latest_apply_method(&helm3, &target).await.is_none_or(|m| m != "ssa") } else { true };
    let report = Report {
        release: target.release.clone(),
        release_namespace: target.namespace.clone(),
        dry_run: args.dry_run,
        interrupted,
        objects: items.iter().map(|it| object_report(it, &target, args.dry_run, &args, helm_migrates)).collect(),
        detached,
    };
    let would_fail: Vec<&Item> = items.iter().filter(|it| !it.passes_helm()).collect();
    let helm4_fails = items.iter().any(|it| helm4_prediction(it, &args, helm_migrates).is_some_and(|p| !p.now));
    if args.dry_run {
        let action = if release_exists(&helm3, &target).await { HelmAction::Upgrade } else { HelmAction::Install };
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
    match args.output {
        OutputFormat::Table => print_stdout(&result_text(&report, &items, args.dry_run))?,
        format => crate::output::print_structured(&report, format)?,
    }
    let failed = items.iter().any(|it| it.done.as_ref().is_some_and(Done::is_failure))
        || report.detached.iter().any(|d| d.result == "failed");
    if interrupted {
        let left = items.iter().filter(|it| it.done == Some(Done::Interrupted)).count();
        eprintln!(
            "interrupted: {left} object(s) not adopted; the patches already sent finished. Run the same command again to finish: {}",
            crate::stop::resume_command(ctx)
        );
    }
    no_manifest_warning(&items, &args, &target);
    if failed || interrupted || (args.dry_run && (!would_fail.is_empty() || helm4_fails)) {
        Ok(Outcome::PartialFailure)
    } else {
        Ok(Outcome::Success)
    }
}

fn add_targets(cands: &mut Candidates, targets: Vec<crate::live::targets::Target>, unresolved: Vec<Unresolved>, ns: &str) {
    for t in targets {
        if let Some(why) = object_name_error(&t.resource, &t.name) {
            let namespace = if t.resource.namespaced { t.namespace } else { None };
            cands.push(Candidate { resource: t.resource.clone(), namespace, name: t.name }, Some(Observed::Error(why)));
            continue;
        }
        let namespace = if t.resource.namespaced { t.namespace.clone() } else { None };
        let key = (t.resource.group.clone(), t.resource.plural.clone(), namespace, t.name.clone());
        cands.manifests.entry(key).or_insert(t.manifest);
        cands.push_resolved(&t.resource, t.namespace, t.name);
    }
    for u in unresolved {
        cands.push_unresolved(u, Some(ns.to_string()));
    }
}

/// Helm errors name a Kind only (`ConfigMap`, `Widget`): resolve it like kubectl resolves a type.
fn resolve_kind<'a>(catalog: &'a ResourceCatalog, kind: &str) -> Result<&'a ResolvedResource, ResolveError> {
    catalog.resolve_type(kind)
}

/// The apply method (`ssa`, `csa`, or empty for Helm 3) of the release's latest stored revision.
async fn latest_apply_method(store: &Helm3Store, target: &Target) -> Option<String> {
    let listing = store.history(&target.namespace, &target.release).await.ok()?;
    listing.records.last().map(|r| r.release.apply_method.clone())
}

/// Without a manifest only the ownership metadata is stamped: say what Helm 4 will do and how to pass one.
fn no_manifest_warning(items: &[Item], args: &AdoptArgs, target: &Target) {
    if args.keep_field_managers {
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
        from_error = if args.from_error.is_some() { " --from-error FILE" } else { "" },
    );
}

/// Whether the release has any stored revision: Helm then upgrades (`Unable to continue with update`).
async fn release_exists(store: &Helm3Store, target: &Target) -> bool {
    let selector = crate::storage::codec::helm3_history_selector(&target.release);
    store.list_meta(Some(&target.namespace), Some(&selector)).await.map(|v| !v.is_empty()).unwrap_or(false)
}

fn result_text(report: &Report, items: &[Item], dry_run: bool) -> String {
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
            out.push_str(&render_table(&["RESOURCE", "HELM 3", "HELM 4", "DETAIL"], &rows));
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
        out.push_str(&render_table(&["RESOURCE", "NAMESPACE", "RESULT", "DETAIL"], &acted));
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
