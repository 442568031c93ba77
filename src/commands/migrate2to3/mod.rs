//! `kubectl werf migrate2to3`: lossless, resumable Helm 2 → Helm 3 migration (and `--cleanup`).
//!
//! 1. Plan (reads only): every selected release and revision, converted with [`crate::release::convert`],
//!    compared with what Helm 3 storage already holds, checked against the 1 MiB object limit, the target
//!    namespace, and the live objects' ownership. `--dry-run` stops here.
//! 2. Confirm (`--yes`, or a terminal).
//! 3. Per release, concurrently (each release has at most one request in flight): create the revisions
//!    oldest → newest, read each back and compare; a failure rolls back what this run created for that
//!    release. Then stamp ownership on the live objects, then (with `--delete-v2-releases`) back up and
//!    delete the Helm 2 records at the resourceVersion they were read at.
//!
//! Re-running the same command finishes whatever an interruption left: equal records are skipped.

mod cleanup;
pub mod compare;
mod exec;
mod plan;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use serde::Serialize;

use crate::cli::{Migrate2to3Args, OutputFormat};
use crate::commands::context::{Context, Outcome};
use crate::error::AppError;
use crate::stop::StopSignal;
use crate::storage::backup::BackupDir;
use crate::storage::codec::{DecodeLimits, LabelStamp};
use crate::storage::helm3::now_unix;
use crate::storage::open_stores;
use crate::storage::{Helm2Storage, StorageSettings};

use crate::commands::releases::apis::migrate::{self as apis_migrate, ApiTargets};
use cleanup::CleanupItem;
use exec::{ReleaseOutcome, ReleaseResult, Writer};
use plan::{Action, LiveState, PlanOptions, ReleasePlan, Selection};

/// What `migrate2to3` was asked to do, taken from its clap arguments once at the top of [`run`] (and checked
/// there); nothing below `run` sees `Migrate2to3Args`.
struct Migrate2to3Options {
    selection: Selection,
    target_release: Option<String>,
    target_namespace: Option<String>,
    release_versions_max: Option<u32>,
    delete_v2_releases: bool,
    cleanup: bool,
    backup_dir: Option<PathBuf>,
    force: bool,
    skip_ownership: bool,
    no_map_apis: bool,
    dry_run: bool,
    yes: bool,
    concurrency: usize,
    output: OutputFormat,
    /// `--release-storage` as given (the plan shows it per release when set).
    release_storage: Option<String>,
}

impl Migrate2to3Options {
    fn from_args(args: &Migrate2to3Args) -> Result<Self, AppError> {
        let selection = Self::selection(args)?;
        let single = matches!(&selection, Selection::Names(n) if n.len() == 1);
        if (args.target_release.is_some() || args.target_namespace.is_some()) && !single {
            return Err(AppError::Usage("--target-release and --target-namespace apply to exactly one named release".into()));
        }
        if let Some(name) = &args.target_release {
            crate::names::validate_release_name(name).map_err(|e| AppError::Usage(format!("--target-release: {e}")))?;
        }
        if let Some(ns) = &args.target_namespace {
            crate::names::validate_namespace_name(ns).map_err(|e| AppError::Usage(format!("--target-namespace: {e}")))?;
        }
        if args.cleanup && (args.force || args.release_versions_max.is_some()) {
            return Err(AppError::Usage("--cleanup deletes Helm 2 records only; --force and --release-versions-max do not apply".into()));
        }
        Ok(Migrate2to3Options {
            selection,
            target_release: args.target_release.clone(),
            target_namespace: args.target_namespace.clone(),
            release_versions_max: args.release_versions_max,
            delete_v2_releases: args.delete_v2_releases,
            cleanup: args.cleanup,
            backup_dir: args.backup_dir.clone(),
            force: args.force,
            skip_ownership: args.skip_ownership,
            no_map_apis: args.no_map_apis,
            dry_run: args.dry_run,
            yes: args.yes,
            concurrency: args.concurrency as usize,
            output: args.output,
            release_storage: args.storage.release_storage.clone(),
        })
    }

    fn selection(args: &Migrate2to3Args) -> Result<Selection, AppError> {
        if args.all {
            if args.werf.project.is_some() {
                return Err(AppError::Usage("--all and --project select releases differently; use one".into()));
            }
            return Ok(Selection::All);
        }
        if !args.releases.is_empty() {
            if args.werf.project.is_some() {
                return Err(AppError::Usage("give release names or --project/--env, not both".into()));
            }
            return Ok(Selection::Names(args.releases.clone()));
        }
        if args.werf.project.is_some() || args.werf.werf_config.is_some() {
            let names = super::resolve_release_names(&args.werf, None, None)?;
            return Ok(Selection::Names(vec![names.release]));
        }
        Err(AppError::Usage("name the releases to migrate, or use --all, or --project P --env E (see --help)".into()))
    }

    fn table(&self) -> bool {
        self.output == OutputFormat::Table
    }

    fn plan_options(&self, settings: &StorageSettings, limits: DecodeLimits) -> PlanOptions {
        PlanOptions {
            target_name: self.target_release.clone(),
            target_namespace: self.target_namespace.clone(),
            versions_max: self.release_versions_max,
            force: self.force,
            ownership: !self.skip_ownership && !self.cleanup,
            map_apis: !self.no_map_apis,
            limits,
            concurrency: self.concurrency,
            h2_namespace: settings.helm2_namespace.clone(),
            h2_kinds: match settings.helm2_storage {
                Helm2Storage::ConfigMap => "configmaps",
                Helm2Storage::Secret => "secrets",
                Helm2Storage::Auto => "configmaps and secrets",
            },
        }
    }
}

/// The releases' outcomes and their removed-API steps, by release name.
type Executed = (BTreeMap<String, ReleaseResult>, BTreeMap<String, apis_migrate::ApiStep>);

pub async fn run(ctx: &Context<'_>, args: Migrate2to3Args) -> Result<Outcome, AppError> {
    let opts = Migrate2to3Options::from_args(&args)?;
    let settings = StorageSettings::resolve(&args.storage, ctx.env)?;

    // Inputs: the Helm 2 releases selected.
    let access = ctx.connect().await?;
    let client = access.client.clone();
    let (h3, h2) = open_stores(&client, &settings);
    let limits = DecodeLimits { max_decompressed: settings.max_decompressed_bytes };
    // Reads and the question stop at once on Ctrl-C; armed once writing starts.
    let stop = StopSignal::install_unarmed();
    let plan_opts = opts.plan_options(&settings, limits);
    let Some((releases, warnings)) = gather_releases(&access, &h2, &h3, &opts, &plan_opts).await? else {
        return Ok(Outcome::Success);
    };
    let writer = Writer {
        client: client.clone(),
        h2: h2.clone(),
        h3: h3.clone(),
        limits,
        backup: None,
        stop: stop.clone(),
        delete_v2: opts.delete_v2_releases,
    };
    if opts.cleanup {
        return run_cleanup(&opts, writer, releases, warnings, plan_opts).await;
    }

    // Plan.
    let (plans, apis_ctx) = plan_releases(&client, &h3, releases, &plan_opts, &opts, limits).await;
    if opts.table() {
        print!("{}", render_plan(&plans, &opts));
    }
    let blocked = plans.iter().filter(|p| p.blocked()).count();
    if opts.dry_run {
        if !opts.table() {
            let view = RunView {
                dry_run: true,
                warnings,
                backup_dir: None,
                releases: plans.iter().map(|p| plan_view(p, None)).collect(),
                interrupted: false,
            };
            crate::output::print_structured(&view, opts.output)?;
        } else {
            println!(
                "\nDry run: nothing was changed.{}",
                if blocked > 0 { format!(" {blocked} release(s) blocked.") } else { String::new() }
            );
        }
        return Ok(if blocked > 0 { Outcome::PartialFailure } else { Outcome::Success });
    }

    // Confirm when anything would change.
    let mut writer = writer;
    confirm(&plans, &opts, &stop, &mut writer)?;

    // Execute: from here the first Ctrl-C lets writes in flight settle.
    stop.arm();
    let writer = Arc::new(writer);
    let executed = execute_all(&plans, &writer, apis_ctx.as_ref(), &opts, plan_opts.ownership).await;

    // Report.
    let interrupted = stop.requested() || executed.0.values().any(|r| r.outcome == ReleaseOutcome::Interrupted);
    report(ctx, &plans, executed, warnings, &writer, &opts, interrupted)
}

/// The Helm 2 releases selected (with `-n`: those of that release namespace), after the header and the
/// warnings are shown. `None` when there is none (said so already).
async fn gather_releases(
    access: &crate::cluster::ClusterAccess,
    h2: &crate::storage::Helm2Store,
    h3: &crate::storage::Helm3Store,
    opts: &Migrate2to3Options,
    plan_opts: &PlanOptions,
) -> Result<Option<(Vec<plan::V2Release>, Vec<String>)>, AppError> {
    let table = opts.table();
    let selection = &opts.selection;
    let (mut releases, warnings) = plan::gather(h2, selection).await?;
    if access.namespace_explicit {
        // -n selects Helm 2 releases by their release namespace, as in every verb (names stay global).
        let ns = access.namespace.as_str();
        let outside: Vec<String> = releases
            .iter()
            .filter_map(|r| {
                let own = r.records.iter().max_by_key(|x| x.release.version).map(|x| x.release.namespace.as_str())?;
                (own != ns).then(|| format!("{} (namespace {own})", r.name))
            })
            .collect();
        if !outside.is_empty() && matches!(selection, Selection::Names(_)) {
            return Err(AppError::Failed(format!(
                "Helm 2 release(s) {} are outside -n {ns}; nothing was changed (drop -n, or give the release's namespace)",
                outside.join(", ")
            )));
        }
        releases.retain(|r| r.records.iter().max_by_key(|x| x.release.version).is_none_or(|x| x.release.namespace == ns));
    }
    if table {
        println!(
            "Helm 2 records: namespace {} ({}) → Helm 3 records: {} in each release's namespace",
            plan_opts.h2_namespace,
            plan_opts.h2_kinds,
            h3.storage_name()
        );
        for w in &warnings {
            println!("warning: {w}");
        }
    }
    if releases.is_empty() {
        if table {
            println!("No Helm 2 releases found in namespace {} ({}).", plan_opts.h2_namespace, plan_opts.h2_kinds);
        } else {
            crate::output::print_structured(
                &serde_json::json!({"dryRun": opts.dry_run, "warnings": warnings, "releases": []}),
                opts.output,
            )?;
        }
        return Ok(None);
    }
    Ok(Some((releases, warnings)))
}

/// Plan every release (target namespaces' states, live ownership, then the removed-API step after the
/// verbatim revisions), sorted by name; with the removed-API context when it loaded.
async fn plan_releases(
    client: &kube::Client,
    h3: &crate::storage::Helm3Store,
    releases: Vec<plan::V2Release>,
    plan_opts: &PlanOptions,
    opts: &Migrate2to3Options,
    limits: DecodeLimits,
) -> (Vec<ReleasePlan>, Option<ApiTargets>) {
    let namespaces: BTreeSet<String> = releases.iter().filter_map(|r| plan::target_of(r, plan_opts).1).collect();
    let states = plan::namespace_states(client, h3, namespaces).await;
    let catalog = if plan_opts.ownership {
        Some(crate::live::discovery::load(client).await.map_err(|e| format!("cannot load the API's resource types: {e}")))
    } else {
        None
    };
    let stamp = LabelStamp::Created(now_unix());
    let mut plans: Vec<ReleasePlan> = stream::iter(releases)
        .map(|r| {
            let state = plan::target_of(&r, plan_opts).1.and_then(|ns| states.get(&ns).cloned());
            plan::plan_release(h3, client, catalog.as_ref(), r, state, plan_opts, stamp)
        })
        .buffer_unordered(plan_opts.concurrency)
        .collect()
        .await;
    plans.sort_by(|a, b| a.name.cmp(&b.name));
    // After the verbatim revisions: the revision mapping removed APIs (releases apis --fix).
    let apis_ctx = match ApiTargets::load(client, !opts.no_map_apis, limits).await {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("warning: removed Kubernetes APIs not checked: {e}");
            None
        }
    };
    if let Some(ctx) = &apis_ctx {
        for p in plans.iter_mut().filter(|p| !p.blocked() && !p.revisions.is_empty()) {
            let helm3_ahead = p.helm3_latest.is_some_and(|l| l > p.revisions.last().map_or(0, |r| r.revision as i64));
            let records: Vec<_> = p.revisions.iter().map(|r| r.object.clone()).collect();
            p.apis = Some(if helm3_ahead {
                apis_migrate::ApiStep::from_storage("Helm 3 has newer revisions: checked against what it stores")
            } else {
                apis_migrate::plan(ctx, h3.kind(), &p.target_namespace, &p.target_name, &records)
            });
        }
    }
    (plans, apis_ctx)
}

/// Ask when anything would change; then arm `stop` and create the backup directory if anything is deleted
/// or replaced.
fn confirm(plans: &[ReleasePlan], opts: &Migrate2to3Options, stop: &StopSignal, writer: &mut Writer) -> Result<(), AppError> {
    let work = plans.iter().filter(|p| !p.blocked()).map(|p| pending_writes(p, opts.delete_v2_releases)).sum::<usize>();
    if work > 0 {
        let runnable = plans.iter().filter(|p| !p.blocked()).count();
        let question = format!(
            "Migrate {runnable} release(s) to Helm 3 ({work} write(s){})?",
            if opts.delete_v2_releases { ", deleting their Helm 2 records after verification" } else { "" }
        );
        if !crate::interact::confirm(&question, opts.yes)? {
            return Err(AppError::Failed("aborted: nothing was changed".into()));
        }
        stop.arm();
        let needs_backup = opts.delete_v2_releases
            || plans.iter().any(|p| p.revisions.iter().any(|r| r.action == Action::Replace) || p.apis.as_ref().is_some_and(|a| a.writes()));
        if needs_backup {
            let dir = BackupDir::create(opts.backup_dir.as_deref(), "migrate2to3")
                .map_err(|e| AppError::Io(format!("cannot create the backup directory: {e}")))?;
            if opts.table() {
                println!("Backups of records deleted or replaced go to {}", dir.path().display());
            }
            writer.backup = Some(dir);
        }
    }
    Ok(())
}

/// Migrate every planned release (bounded concurrency), then its removed-API step; each result is shown as
/// it comes.
async fn execute_all(
    plans: &[ReleasePlan],
    writer: &Arc<Writer>,
    apis_ctx: Option<&ApiTargets>,
    opts: &Migrate2to3Options,
    ownership: bool,
) -> Executed {
    let table = opts.table();
    let bar = if selection_is_all(&opts.selection) && table {
        crate::interact::progress(plans.len() as u64, "migrating")
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut results: BTreeMap<String, ReleaseResult> = BTreeMap::new();
    let mut api_steps: BTreeMap<String, apis_migrate::ApiStep> = BTreeMap::new();
    {
        let mut running = stream::iter(plans.iter())
            .map(|p| {
                let writer = writer.clone();
                let ctx = apis_ctx.filter(|c| c.map);
                let backup_dir = opts.backup_dir.clone();
                async move {
                    let r = exec::execute(&writer, p, ownership).await;
                    let mut step = p.apis.clone();
                    if let (Some(ctx), Some(step), ReleaseOutcome::Migrated | ReleaseOutcome::Skipped) = (ctx, step.as_mut(), r.outcome) {
                        let mut backup = writer.backup.clone();
                        let (fix, _) = apis_migrate::execute(
                            &writer.client,
                            ctx,
                            writer.h3.kind(),
                            &p.target_namespace,
                            &p.target_name,
                            &mut backup,
                            backup_dir.as_deref(),
                            &writer.stop,
                        )
                        .await;
                        step.result = Some(fix.result.clone());
                        step.errors = apis_migrate::result_lines(&fix);
                        step.not_upgradable = fix.unfixable.clone();
                    }
                    (r, step)
                }
            })
            .buffer_unordered(opts.concurrency);
        if table {
            bar.suspend(|| println!());
        }
        while let Some((mut r, step)) = running.next().await {
            if let Some(step) = &step
                && step.result.as_deref().is_some_and(|res| res == "failed" || res == "interrupted")
            {
                r.outcome =
                    if step.result.as_deref() == Some("interrupted") { ReleaseOutcome::Interrupted } else { ReleaseOutcome::Failed };
            }
            if table {
                let mut line = render_result(&r);
                if let Some(step) = &step {
                    let lines = if step.result.is_some() {
                        step.errors.clone()
                    } else {
                        apis_migrate::plan_lines(step).into_iter().filter(|l| l.starts_with("NOT UPGRADABLE")).collect()
                    };
                    for l in lines {
                        line.push_str(&format!("  {l}\n"));
                    }
                }
                bar.suspend(|| print!("{line}"));
            }
            bar.inc(1);
            if let Some(step) = step {
                api_steps.insert(r.release.clone(), step);
            }
            results.insert(r.release.clone(), r);
        }
    }
    bar.finish_and_clear();
    (results, api_steps)
}

/// The summary (table) or the run's view (structured), how to resume, and the outcome.
fn report(
    ctx: &Context<'_>,
    plans: &[ReleasePlan],
    executed: Executed,
    warnings: Vec<String>,
    writer: &Writer,
    opts: &Migrate2to3Options,
    interrupted: bool,
) -> Result<Outcome, AppError> {
    let (mut results, mut api_steps) = executed;
    let failed = results.values().filter(|r| r.outcome == ReleaseOutcome::Failed).count();
    if opts.table() {
        let count = |o: ReleaseOutcome| results.values().filter(|r| r.outcome == o).count();
        let stuck = api_steps.values().filter(|s| s.not_upgradable()).count();
        println!(
            "\nSummary: {} migrated, {} already migrated (skipped), {} failed{}{}.",
            count(ReleaseOutcome::Migrated),
            count(ReleaseOutcome::Skipped),
            failed,
            if interrupted { format!(", {} interrupted", count(ReleaseOutcome::Interrupted)) } else { String::new() },
            if stuck > 0 { format!("; {stuck} NOT UPGRADABLE by helm (named above)") } else { String::new() }
        );
        if let Some(dir) = &writer.backup {
            println!("Backups: {} (restore with: kubectl create -f {})", dir.path().display(), dir.path().display());
        }
        let exec_failed = plans.iter().any(|p| !p.blocked() && results.get(&p.name).is_some_and(|r| r.outcome == ReleaseOutcome::Failed));
        if exec_failed && !interrupted {
            println!(
                "Once the errors above are fixed, run the same command again to finish: {}",
                crate::commands::context::resume_command(ctx)
            );
        }
    } else {
        let view = RunView {
            dry_run: false,
            warnings,
            backup_dir: writer.backup.as_ref().map(|d| d.path().display().to_string()),
            releases: plans
                .iter()
                .map(|p| {
                    let mut v = plan_view(p, results.remove(&p.name));
                    if let Some(step) = api_steps.remove(&p.name) {
                        v.apis = Some(step);
                    }
                    v
                })
                .collect(),
            interrupted,
        };
        crate::output::print_structured(&view, opts.output)?;
    }
    if interrupted {
        eprintln!("interrupted: run the same command again to finish: {}", crate::commands::context::resume_command(ctx));
    }
    Ok(if failed > 0 || interrupted { Outcome::PartialFailure } else { Outcome::Success })
}

fn selection_is_all(s: &Selection) -> bool {
    matches!(s, Selection::All) || matches!(s, Selection::Names(n) if n.len() > 1)
}

/// How many writes a plan makes at most (records, ownership patches, Helm 2 deletions).
fn pending_writes(p: &ReleasePlan, delete_v2_releases: bool) -> usize {
    let records = p.revisions.iter().filter(|r| r.action.writes()).count() + p.apis.as_ref().map_or(0, |a| if a.writes() { 2 } else { 0 });
    let stamps = p
        .ownership
        .as_ref()
        .map(|o| o.objects.iter().filter(|(_, s)| matches!(s, LiveState::NeedsStamp | LiveState::Error(_))).count())
        .unwrap_or(0);
    let deletes = if delete_v2_releases { p.revisions.iter().filter(|r| r.action.has_copy()).map(|r| r.v2_objects.len()).sum() } else { 0 };
    records + stamps + deletes
}

fn kib(bytes: usize) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// `1,2,3,5` → `1-3, 5`.
fn ranges(revs: &[i32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < revs.len() {
        let mut j = i;
        while j + 1 < revs.len() && revs[j + 1] == revs[j] + 1 {
            j += 1;
        }
        out.push(if j > i + 1 {
            format!("{}-{}", revs[i], revs[j])
        } else if j == i + 1 {
            format!("{}, {}", revs[i], revs[j])
        } else {
            revs[i].to_string()
        });
        i = j + 1;
    }
    out.join(", ")
}

fn render_plan(plans: &[ReleasePlan], opts: &Migrate2to3Options) -> String {
    let mut s = String::new();
    for p in plans {
        let _ = writeln!(
            s,
            "\nRELEASE {} → {} in namespace {} ({})",
            p.name,
            p.target_name,
            if p.target_namespace.is_empty() { "?" } else { &p.target_namespace },
            opts.release_storage.as_deref().map(str::to_string).unwrap_or_else(|| storage_word(p))
        );
        if !p.revisions.is_empty() {
            let rows: Vec<Vec<String>> = p
                .revisions
                .iter()
                .map(|r| {
                    vec![
                        r.revision.to_string(),
                        r.status.clone(),
                        kib(r.object.data_size()),
                        r.object.name.clone(),
                        r.action.as_str().to_string(),
                    ]
                })
                .collect();
            s.push_str(&crate::output::columns("  ", 2, &["REVISION", "STATUS", "SIZE", "HELM 3 RECORD", "ACTION"], &rows));
            // Every conversion note, each text once with the revisions it applies to.
            let mut notes: Vec<(String, Vec<i32>)> = Vec::new();
            for r in &p.revisions {
                for n in &r.notes {
                    match notes.iter_mut().find(|(t, _)| *t == n.text) {
                        Some((_, revs)) => revs.push(r.revision),
                        None => notes.push((n.text.clone(), vec![r.revision])),
                    }
                }
            }
            for (text, revs) in notes {
                let _ = writeln!(s, "  note (revision{} {}): {text}", if revs.len() > 1 { "s" } else { "" }, ranges(&revs));
            }
        }
        if !p.not_migrated.is_empty() {
            let _ = writeln!(s, "  not migrated (--release-versions-max): revision(s) {}, left in Helm 2 storage", ranges(&p.not_migrated));
        }
        if let Some(latest) = p.helm3_latest {
            let _ = writeln!(s, "  Helm 3 already has revisions of {} up to {latest}", p.target_name);
        }
        if let Some(o) = &p.ownership {
            match &o.skipped {
                Some(why) => {
                    let _ = writeln!(s, "  ownership: not stamped: {why}");
                }
                None => {
                    let mut stamp = Vec::new();
                    let mut owned = Vec::new();
                    let mut missing = Vec::new();
                    let mut other = Vec::new();
                    for (t, st) in &o.objects {
                        match st {
                            LiveState::NeedsStamp => stamp.push(t.display()),
                            LiveState::OwnedByThis => owned.push(t.display()),
                            LiveState::Missing => missing.push(t.display()),
                            LiveState::Foreign { release, namespace } => other.push(format!(
                                "{} (owned by release {} in {})",
                                t.display(),
                                release.as_deref().unwrap_or("?"),
                                namespace.as_deref().unwrap_or("?")
                            )),
                            LiveState::Error(e) => other.push(format!("{} (cannot read: {e})", t.display())),
                        }
                    }
                    let _ = writeln!(s, "  ownership (live objects of revision {}):", o.revision);
                    for (what, list) in
                        [("stamp", &stamp), ("already owned", &owned), ("missing (reported)", &missing), ("left alone", &other)]
                    {
                        if !list.is_empty() {
                            let _ = writeln!(s, "    {what}: {}", list.join(", "));
                        }
                    }
                    for u in &o.unresolved {
                        let _ = writeln!(s, "    unresolved: {}", unresolved_text(u));
                    }
                }
            }
        }
        if opts.delete_v2_releases {
            let n: usize = p.revisions.iter().filter(|r| r.action.has_copy()).map(|r| r.v2_objects.len()).sum();
            let _ = writeln!(s, "  Helm 2 records: {n} deleted after every revision is verified (backed up first)");
        } else if !p.revisions.is_empty() {
            let _ = writeln!(s, "  Helm 2 records: kept (--delete-v2-releases, or --cleanup later, deletes them)");
        }
        for l in p.apis.as_ref().map(apis_migrate::plan_lines).unwrap_or_default() {
            let _ = writeln!(s, "  {l}");
        }
        for w in &p.warnings {
            let _ = writeln!(s, "  warning: {w}");
        }
        for b in &p.blockers {
            let _ = writeln!(s, "  BLOCKED: {b}");
        }
    }
    s
}

fn unresolved_text(u: &crate::live::targets::Unresolved) -> String {
    if u.reason.starts_with(&u.what) { u.reason.clone() } else { format!("{}: {}", u.what, u.reason) }
}

fn storage_word(p: &ReleasePlan) -> String {
    p.revisions.first().map(|r| r.object.kind.kind().to_ascii_lowercase()).unwrap_or_default()
}

fn render_result(r: &ReleaseResult) -> String {
    let mut s = String::new();
    let target = format!("{}/{}", r.target_namespace, r.target_release);
    let word = match r.outcome {
        ReleaseOutcome::Migrated => "migrated",
        ReleaseOutcome::Skipped => "skipped (already migrated)",
        ReleaseOutcome::Failed => "FAILED",
        ReleaseOutcome::Interrupted => "interrupted",
    };
    let _ = write!(s, "{}: {word} → {target}", r.release);
    let mut parts = Vec::new();
    if !r.written.is_empty() {
        parts.push(format!("written revision(s) {}", ranges(&r.written)));
    }
    if !r.replaced.is_empty() {
        parts.push(format!("replaced {}", ranges(&r.replaced)));
    }
    if !r.skipped.is_empty() {
        parts.push(format!("skipped {}", ranges(&r.skipped)));
    }
    if !r.v2_deleted.is_empty() {
        parts.push(format!("{} Helm 2 record(s) deleted", r.v2_deleted.len()));
    }
    if !parts.is_empty() {
        let _ = write!(s, " ({})", parts.join("; "));
    }
    s.push('\n');
    if let Some(o) = &r.ownership {
        if let Some(why) = &o.skipped {
            let _ = writeln!(s, "  ownership: not stamped: {why}");
        }
        for (what, list) in [
            ("stamped", &o.stamped),
            ("already owned", &o.already_owned),
            ("missing", &o.missing),
            ("owned by another release", &o.owned_by_other_release),
            ("unresolved", &o.unresolved),
            ("ownership error", &o.errors),
        ] {
            if !list.is_empty() {
                let _ = writeln!(s, "  {what}: {}", list.join(", "));
            }
        }
    }
    for k in &r.v2_kept {
        let _ = writeln!(s, "  Helm 2 record kept: {k}");
    }
    for rb in &r.rolled_back {
        let _ = writeln!(s, "  rolled back: {rb}");
    }
    for e in &r.errors {
        let _ = writeln!(s, "  error: {e}");
    }
    s
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunView {
    dry_run: bool,
    warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    backup_dir: Option<String>,
    releases: Vec<PlanView>,
    interrupted: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PlanView {
    release: String,
    target_release: String,
    target_namespace: String,
    revisions: Vec<RevisionView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    not_migrated: Vec<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    helm3_latest: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ownership: Option<OwnershipView>,
    blockers: Vec<String>,
    warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<ReleaseResult>,
    /// The revision mapping removed Kubernetes APIs (planned, and after execution its result).
    #[serde(skip_serializing_if = "Option::is_none")]
    apis: Option<apis_migrate::ApiStep>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RevisionView {
    revision: i32,
    status: String,
    helm2_records: Vec<String>,
    helm3_record: String,
    driver: String,
    size_bytes: usize,
    action: Action,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    differs_at: Vec<String>,
    notes: Vec<NoteView>,
}

#[derive(Serialize)]
struct NoteView {
    kind: &'static str,
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OwnershipView {
    revision: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<String>,
    objects: Vec<LiveView>,
    unresolved: Vec<String>,
}

#[derive(Serialize)]
struct LiveView {
    object: String,
    state: String,
}

fn plan_view(p: &ReleasePlan, result: Option<ReleaseResult>) -> PlanView {
    PlanView {
        release: p.name.clone(),
        target_release: p.target_name.clone(),
        target_namespace: p.target_namespace.clone(),
        revisions: p
            .revisions
            .iter()
            .map(|r| RevisionView {
                revision: r.revision,
                status: r.status.clone(),
                helm2_records: r.v2_objects.iter().map(|o| o.key()).collect(),
                helm3_record: format!("{}/{}", r.object.namespace, r.object.name),
                driver: r.object.kind.kind().to_ascii_lowercase(),
                size_bytes: r.object.data_size(),
                action: r.action,
                differs_at: r.differs_at.clone(),
                notes: r.notes.iter().map(|n| NoteView { kind: n.kind.as_str(), text: n.text.clone() }).collect(),
            })
            .collect(),
        not_migrated: p.not_migrated.clone(),
        helm3_latest: p.helm3_latest,
        ownership: p.ownership.as_ref().map(|o| OwnershipView {
            revision: o.revision,
            skipped: o.skipped.clone(),
            objects: o
                .objects
                .iter()
                .map(|(t, st)| LiveView {
                    object: t.display(),
                    state: match st {
                        LiveState::Missing => "missing".into(),
                        LiveState::OwnedByThis => "owned".into(),
                        LiveState::NeedsStamp => "stamp".into(),
                        LiveState::Foreign { release, namespace } => {
                            format!("owned by release {} in {}", release.as_deref().unwrap_or("?"), namespace.as_deref().unwrap_or("?"))
                        }
                        LiveState::Error(e) => format!("error: {e}"),
                    },
                })
                .collect(),
            unresolved: o.unresolved.iter().map(unresolved_text).collect(),
        }),
        blockers: p.blockers.clone(),
        warnings: p.warnings.clone(),
        result,
        apis: p.apis.clone(),
    }
}

async fn run_cleanup(
    options: &Migrate2to3Options,
    mut writer: Writer,
    releases: Vec<plan::V2Release>,
    warnings: Vec<String>,
    opts: PlanOptions,
) -> Result<Outcome, AppError> {
    let table = options.output == OutputFormat::Table;
    let namespaces = cleanup::namespaces(&releases, &opts);
    let states = plan::namespace_states(&writer.client, &writer.h3, namespaces).await;
    let mut items: Vec<CleanupItem> = cleanup::plan(&writer.h3, releases, &states, &opts).await;
    let to_delete = items.iter().filter(|i| i.delete).count();
    if table {
        println!("\nCleanup plan: {to_delete} Helm 2 record(s) with an equal Helm 3 copy will be deleted (backed up first).");
        for i in &items {
            let verb = if i.delete {
                "DELETE"
            } else if i.failed {
                "ERROR "
            } else {
                "KEEP  "
            };
            let copy = i.helm3_record.as_deref().map(|c| format!(" [{c}]")).unwrap_or_default();
            println!("  {verb} {}{copy}: {}", i.record, i.reason);
        }
    }
    let judged_failed = items.iter().any(|i| i.failed);
    if options.dry_run || to_delete == 0 {
        if table {
            println!("\n{}", if options.dry_run { "Dry run: nothing was changed." } else { "Nothing to delete." });
        } else {
            crate::output::print_structured(
                &serde_json::json!({"dryRun": options.dry_run, "warnings": warnings, "records": items}),
                options.output,
            )?;
        }
        return Ok(if judged_failed { Outcome::PartialFailure } else { Outcome::Success });
    }
    if !crate::interact::confirm(&format!("Delete {to_delete} Helm 2 record(s) that have an equal Helm 3 copy?"), options.yes)? {
        return Err(AppError::Failed("aborted: nothing was changed".into()));
    }
    writer.stop.arm();
    let dir = BackupDir::create(options.backup_dir.as_deref(), "migrate2to3-cleanup")
        .map_err(|e| AppError::Io(format!("cannot create the backup directory: {e}")))?;
    if table {
        println!("Backups go to {}", dir.path().display());
    }
    writer.backup = Some(dir);
    cleanup::execute(&writer, &mut items, opts.concurrency).await;
    let failed = items.iter().any(|i| i.failed);
    let interrupted = writer.stop.requested();
    if table {
        let deleted = items.iter().filter(|i| i.result.as_deref() == Some("deleted")).count();
        for i in items.iter().filter(|i| i.delete && i.result.as_deref() != Some("deleted")) {
            println!("  error: {}: {}", i.record, i.result.as_deref().unwrap_or("not deleted"));
        }
        println!("\nSummary: {deleted} Helm 2 record(s) deleted, {} kept.", items.len() - deleted);
        if let Some(dir) = &writer.backup {
            println!("Backups: {} (restore with: kubectl create -f {})", dir.path().display(), dir.path().display());
        }
    } else {
        crate::output::print_structured(
            &serde_json::json!({"dryRun": false, "warnings": warnings, "backupDir": writer.backup.as_ref().map(|d| d.path().display().to_string()), "records": items, "interrupted": interrupted}),
            options.output,
        )?;
    }
    Ok(if failed || interrupted { Outcome::PartialFailure } else { Outcome::Success })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_ranges() {
        assert_eq!(ranges(&[1, 2, 3, 5, 7, 8]), "1-3, 5, 7, 8");
        assert_eq!(ranges(&[4]), "4");
    }
}
