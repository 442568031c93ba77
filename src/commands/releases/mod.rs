//! `releases`: helm's read-only release verbs (list, history, status, get) answered straight from
//! release storage, Helm 3/4 and Helm 2 (Tiller) records alike.
//!
//! Where helm 3 and helm 4 print differently, the output follows helm 3 — except in Helm plugin mode
//! when `$HELM_BIN` is a helm 4, whose output is then followed (status/get: the `DESCRIPTION` line,
//! zero times omitted, `labels` and `apply_method`; see `inspect`). `list` uses Helm 4's default
//! scope (every status); `-a` is accepted for Helm 3 habits.
//!
//! Choices worth knowing:
//! - `list` shows Helm 2 releases next to Helm 3 ones (STORAGE `helm2/configmap`, `helm2/secret`):
//!   with `-A` from every namespace holding `OWNER=TILLER` records, otherwise from Tiller's namespace
//!   (storage options) and only those whose release namespace is the selected one. Tiller's status
//!   names are shown as Helm 3's (`DELETED` → `uninstalled`, `DELETING` → `uninstalling`, ...).
//! - JSON/YAML rows carry helm's fields, then `storage`, then `project`/`env` when werf set them:
//!   from `info.annotations` for Helm 3 records (the summary decode skips the manifest, so a Helm 3
//!   release without those annotations shows none), and for Helm 2 records (decoded whole anyway)
//!   also from the annotations of the first object in the manifest.
//! - Damaged records are named on stderr (`warning: ns/object: reason`) and the rest listed; like
//!   helm, a release whose newest record is unreadable shows its newest readable revision. `list`
//!   exits 0 unless damaged records were all there was to read (then 1).
//! - `-A` without cluster-wide rights is an error that says so and suggests `-n`; a Tiller namespace
//!   that cannot be read only skips the Helm 2 part, with a warning.
//! - Ties helm leaves in Go map order (same name in several namespaces, same second with `-d`) are
//!   broken by namespace here. `status` does not list live resources (helm 4's table form does).

pub mod apis;
mod collect;
mod doctor;
mod export;
mod forget;
mod inspect;
mod list;
mod move_release;
mod prune;
mod relabel;
mod resources;
mod restore;
mod selector;
mod size;
mod surgery;
mod unlock;
mod view;

pub use collect::{FETCH_CONCURRENCY, Generation, Row};
pub use selector::Selector;
pub use view::{Flavor, coalesce, helm2_as_helm3, helm2_status};

use crate::cli::{ReleasesArgs, ReleasesCommand};
use crate::commands::context::{Context, Outcome};
use crate::error::AppError;
use crate::golang::time::GoTime;
use crate::release::Time;
use crate::settings::InvocationMode;
use crate::storage::RecordError;
use crate::storage::StorageSettings;
use crate::storage::codec::DecodeLimits;
use crate::storage::scope::ReleaseScope;

/// Everything the verbs share once connected.
pub struct Scope {
    pub client: kube::Client,
    /// `-n`, Helm's `HELM_NAMESPACE`, or the context's namespace.
    pub namespace: String,
    /// `-n` (or `HELM_NAMESPACE`) was given: Helm 2 releases are then selected by release namespace.
    pub explicit_namespace: bool,
    pub storage: StorageSettings,
    pub helm_version: Option<u8>,
    pub flavor: Flavor,
    /// This command line, to print when it should be run again (`kubectl werf releases ...`).
    pub resume: String,
}

impl Scope {
    pub fn limits(&self) -> DecodeLimits {
        DecodeLimits { max_decompressed: self.storage.max_decompressed_bytes }
    }

    /// The selection rule every verb shares (`storage::scope`), for this command line.
    pub fn selection(&self, all_namespaces: bool) -> ReleaseScope {
        ReleaseScope::new(&self.storage, self.helm_version, &self.namespace, self.explicit_namespace, all_namespaces)
    }
}

pub async fn run(ctx: &Context<'_>, mut args: ReleasesArgs) -> Result<Outcome, AppError> {
    let storage = StorageSettings::resolve(&args.storage, ctx.env)?;
    if let ReleasesCommand::Prune(a) = &mut args.command {
        a.keep = Some(prune_keep(ctx, a.keep)?);
    }
    let access = ctx.connect().await?;
    let flavor = match &args.command {
        ReleasesCommand::List(_) => Flavor::Helm3,
        _ => detect_flavor(ctx),
    };
    let resume = crate::commands::context::resume_command(ctx);
    let scope = Scope {
        client: access.client,
        namespace: access.namespace,
        explicit_namespace: access.namespace_explicit,
        storage,
        helm_version: args.helm_version,
        flavor,
        resume,
    };
    match args.command {
        ReleasesCommand::List(a) => list::run(&scope, a).await,
        ReleasesCommand::History(a) => inspect::history(&scope, a).await,
        ReleasesCommand::Status(a) => inspect::status(&scope, a).await,
        ReleasesCommand::Get(a) => inspect::get(&scope, a.what).await,
        ReleasesCommand::Unlock(a) => unlock::run(&scope, a).await,
        ReleasesCommand::Prune(a) => prune::run(&scope, a).await,
        ReleasesCommand::Export(a) => export::run(&scope, a).await,
        ReleasesCommand::Restore(a) => restore::run(&scope, a).await,
        ReleasesCommand::Forget(a) => forget::run(&scope, a).await,
        ReleasesCommand::Move(a) => move_release::run(&scope, a).await,
        ReleasesCommand::Apis(a) => apis::run(&scope, a).await,
        ReleasesCommand::Doctor(a) => doctor::run(&scope, a).await,
        ReleasesCommand::Size(a) => size::run(&scope, a).await,
        ReleasesCommand::Relabel(a) => relabel::run(&scope, a).await,
    }
}

/// `prune --keep`: the flag, else (as a Helm plugin) Helm's `HELM_MAX_HISTORY`, the `--history-max`
/// default of helm install/upgrade, so `helm werf-releases prune` trims to what Helm itself keeps.
fn prune_keep(ctx: &Context<'_>, flag: Option<u32>) -> Result<u32, AppError> {
    if let Some(k) = flag {
        return Ok(k);
    }
    if ctx.mode == InvocationMode::Helm
        && let Some(v) = ctx.env.non_empty("HELM_MAX_HISTORY")
    {
        return match v.trim().parse::<i64>() {
            Ok(n) if n > 0 => Ok(n.min(u32::MAX as i64) as u32),
            Ok(_) => {
                Err(AppError::Usage(format!("HELM_MAX_HISTORY is {v} (no limit), so there is nothing to prune by default; pass --keep N")))
            }
            Err(_) => Err(AppError::Usage(format!("HELM_MAX_HISTORY {v:?} is not a number; pass --keep N"))),
        };
    }
    Err(AppError::Usage("--keep N is required (as a Helm plugin, $HELM_MAX_HISTORY is the default)".into()))
}

/// In Helm plugin mode, print like the helm that runs us (`$HELM_BIN version`); otherwise helm 3.
fn detect_flavor(ctx: &Context<'_>) -> Flavor {
    if ctx.mode != InvocationMode::Helm {
        return Flavor::Helm3;
    }
    let Some(bin) = ctx.env.non_empty("HELM_BIN") else { return Flavor::Helm3 };
    let out = std::process::Command::new(bin)
        .args(["version", "--template", "{{.Version}}"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    match out {
        Ok(o) if String::from_utf8_lossy(&o.stdout).trim().starts_with("v4") => Flavor::Helm4,
        _ => Flavor::Helm3,
    }
}

/// After SIGINT/SIGTERM: writes in flight have settled and none was started since; say how to finish.
/// The verb then exits 1, as `migrate2to3` does when interrupted.
pub(crate) fn print_interrupted(scope: &Scope) {
    eprintln!("interrupted: run the same command again to finish: {}", scope.resume);
}

pub(crate) fn is_forbidden(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 403)
}

/// Damaged records by name, and label/payload disagreements, on stderr.
pub(crate) fn print_problems(errors: &[RecordError], warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
    for e in errors {
        eprintln!("warning: {e}");
    }
}

/// A release time as Go's `time.Time` (keeping the writer's offset); `None` for the zero time.
pub fn time_of(t: &Time) -> Option<GoTime> {
    if t.is_zero() {
        return None;
    }
    match t {
        Time::At { instant, offset } => {
            let secs = offset.seconds();
            Some(GoTime {
                unix: instant.as_second(),
                nanos: instant.subsec_nanosecond() as u32,
                offset: if secs == 0 { None } else { Some(secs) },
            })
        }
        Time::Zero(_) => None,
    }
}
