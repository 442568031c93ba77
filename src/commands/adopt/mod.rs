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

mod confirm;
pub mod detach;
mod execute;
pub mod handover;
mod inputs;
mod plan;
mod report;

use std::path::PathBuf;

use kube::api::DynamicObject;
use serde_json::Value;

use crate::cli::{AdoptArgs, OutputFormat};
use crate::commands::context::{Context, Outcome};
use crate::error::AppError;
use crate::live::ResolvedResource;
use crate::live::fields::FieldSet;
use crate::manifest::ManifestObject;
use crate::ownership::{Ownership, Problem};
use crate::storage::StorageSettings;
use crate::storage::open_stores;

use plan::Helm4Answer;

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
        Some(c) => format!("{}={}", p.key, crate::golang::strconv::go_quote(c)),
    }
}

/// What adopt was asked to do, taken from the command line once: the helpers below `run` take this (or plain
/// values), never the clap arguments.
pub(super) struct AdoptOptions {
    pub(super) resources: Vec<String>,
    pub(super) filename: Vec<PathBuf>,
    pub(super) from_error: Option<PathBuf>,
    pub(super) from_release: Option<String>,
    pub(super) release: Option<String>,
    pub(super) release_namespace: Option<String>,
    pub(super) dry_run: bool,
    pub(super) yes: bool,
    pub(super) force: bool,
    pub(super) detach: bool,
    pub(super) keep_field_managers: bool,
    pub(super) backup_dir: Option<PathBuf>,
    pub(super) concurrency: usize,
    pub(super) output: OutputFormat,
}

impl AdoptOptions {
    fn from_args(args: &AdoptArgs) -> Result<Self, AppError> {
        if args.resources.is_empty() && args.filename.is_empty() && args.from_error.is_none() && args.from_release.is_none() {
            return Err(AppError::Usage(
                "nothing to adopt: name objects (TYPE/NAME), or give -f FILE, --from-error FILE or --from-release NAME".into(),
            ));
        }
        Ok(AdoptOptions {
            resources: args.resources.clone(),
            filename: args.filename.clone(),
            from_error: args.from_error.clone(),
            from_release: args.from_release.clone(),
            release: args.release.clone(),
            release_namespace: args.release_namespace.clone(),
            dry_run: args.dry_run,
            yes: args.yes,
            force: args.force,
            detach: args.detach,
            keep_field_managers: args.keep_field_managers,
            backup_dir: args.backup_dir.clone(),
            concurrency: usize::from(args.concurrency),
            output: args.output,
        })
    }
}

// ---------------------------------------------------------------------------------------------------------
// The verb

pub async fn run(ctx: &Context<'_>, args: AdoptArgs) -> Result<Outcome, AppError> {
    let opts = AdoptOptions::from_args(&args)?;

    // Inputs: files and pasted errors are read before anything touches the cluster.
    let inputs = inputs::read_inputs(&opts)?;
    let errors = match &inputs.errors {
        Some((source, text)) => inputs::parse_errors(source, text)?,
        None => Vec::new(),
    };
    let storage = StorageSettings::resolve(&args.storage, ctx.env)?;
    let access = ctx.connect().await?;
    let client = access.client.clone();
    let target = inputs::resolve_target(ctx, &opts, &args.werf, &errors, &access.namespace)?;
    let (helm3, _) = open_stores(&client, &storage);
    let candidates = inputs::gather_candidates(ctx, &client, &helm3, &opts, &inputs, &errors, &target).await?;

    // Plan: read and classify every object, plan the field handovers, show it.
    let mut items = plan::read_items(&client, candidates, &target, &opts).await;
    if opts.output == OutputFormat::Table {
        report::print_stdout(&report::plan_table(&items, &target))?;
        report::print_stdout(&report::fields_text(&items))?;
    }

    // Confirm; --detach preconditions are checked before anything is patched.
    let cancelled = confirm::choose(&mut items, &target, &opts)?;
    let (plans, notes) = if opts.detach && !cancelled { detach::plan_detach(&helm3, &items).await? } else { (Vec::new(), Vec::new()) };
    for n in &notes {
        eprintln!("note: {n}");
    }

    // Execute: patch the selected objects, then write the detached revisions.
    execute::settle_unselected(&mut items, &opts, cancelled);
    let stop = execute::adopt_selected(&client, &mut items, &target, &opts).await;
    let mut backup = None;
    let mut detached = Vec::new();
    for plan in &plans {
        detached.push(detach::run_detach(&helm3, plan, &items, &target, &mut backup, &opts, &stop).await);
    }

    // Report.
    report::finish(ctx, &helm3, &items, &target, &opts, detached, stop.requested()).await
}
