//! `releases apis`: which stored releases hold Kubernetes API versions this cluster no longer serves (so
//! that `helm upgrade` and `helm rollback` fail with "no matches for kind ... ensure CRDs are installed
//! first"), and, with `--fix`, a new revision helm can upgrade from.
//!
//! - The scan ([`scan`]) reads the revisions helm reads of every release (or every revision), Helm 3/4
//!   records of both drivers and Helm 2 records, and checks each object of manifest and hooks against
//!   discovery and the table of removed APIs (`src/release/apis/removed-apis.tsv`).
//! - The fix ([`fix`]) writes revision latest+1 from the last deployed revision with the replacements
//!   (see its module notes for the order of writes that keeps everything recoverable).
//! - Exit codes: 0 nothing found; 3 a revision helm reads (with `--all-revisions`: any revision) holds an
//!   API version that is removed by the target version or not served (after `--fix`: still holds one);
//!   1 something could not be read or written; 2 usage.

pub mod fix;
pub mod migrate;
pub mod scan;

use std::io::Write;
use std::sync::Arc;

use futures::StreamExt;
use serde::Serialize;

use crate::cli::{OutputFormat, ReleasesApisArgs};
use crate::commands::context::Outcome;
use crate::error::AppError;
use crate::helmfmt::Table;
use crate::release::apis::{KubeVersion, TextPlace};
use crate::storage::Helm2Storage;
use crate::storage::backup::BackupDir;
use crate::storage::objects::ObjectKind;

use super::Scope;
use fix::{Action, Executor, FixCandidate, FixOptions, ReleaseFix};
use scan::{ReleaseScan, ScanOptions, ScanReport, ServedApis};

/// The exit code for "removed (or unserved) APIs found".
pub const EXIT_FOUND: u8 = 3;

/// How many releases are planned or fixed at once.
const CONCURRENCY: usize = 8;

/// The cluster's Kubernetes version, from `/version`.
pub async fn server_version(client: &kube::Client) -> Result<KubeVersion, AppError> {
    let info = client
        .apiserver_version()
        .await
        .map_err(|e| AppError::Kube(format!("cannot read the API server's version: {}", crate::error::describe_kube_error(&e))))?;
    KubeVersion::from_server(&info.major, &info.minor)
        .or_else(|| KubeVersion::parse(&info.git_version))
        .ok_or_else(|| AppError::Failed(format!("cannot tell the API server's Kubernetes version from {:?}", info.git_version)))
}

/// What this cluster serves (discovery, CRDs included).
pub async fn served_apis(client: &kube::Client) -> Result<ServedApis, AppError> {
    crate::live::discovery::load(client)
        .await
        .map(ServedApis::new)
        .map_err(|e| AppError::Kube(format!("cannot read the API's resource types: {e}")))
}

fn helm2_kinds(storage: Helm2Storage) -> Vec<ObjectKind> {
    match storage {
        Helm2Storage::ConfigMap => vec![ObjectKind::ConfigMap],
        Helm2Storage::Secret => vec![ObjectKind::Secret],
        Helm2Storage::Auto => vec![ObjectKind::ConfigMap, ObjectKind::Secret],
    }
}

pub async fn run(scope: &Scope, args: ReleasesApisArgs) -> Result<Outcome, AppError> {
    let server = server_version(&scope.client).await?;
    let target = match &args.target_version {
        Some(t) => KubeVersion::parse(t)
            .ok_or_else(|| AppError::Usage(format!("--target-version {t:?}: expected a Kubernetes version such as 1.25")))?,
        None => server,
    };
    let served = Arc::new(served_apis(&scope.client).await?);
    let opts = ScanOptions {
        namespace: (!args.all_namespaces).then(|| scope.namespace.clone()),
        names: args.names.clone(),
        helm3: scope.helm_version != Some(2),
        helm2: scope.helm_version != Some(3),
        helm2_namespace: scope.storage.helm2_namespace.clone(),
        helm2_kinds: helm2_kinds(scope.storage.helm2_storage),
        all_revisions: args.all_revisions,
        target,
        limits: scope.limits(),
    };
    let report = do_scan(scope, &opts, served.clone(), args.all_namespaces).await?;
    super::print_problems(&report.errors, &report.warnings);
    let found = count_blocked(&report, args.all_revisions);
    let read_failed = !report.errors.is_empty();
    if !args.fix {
        let view = ReportView::new(&report, server, target, args.all_revisions);
        print_report(&view, args.output)?;
        if read_failed {
            eprintln!("error: {} record(s) could not be read (named above): the answer is incomplete", report.errors.len());
            return Ok(Outcome::PartialFailure);
        }
        return Ok(if found > 0 { Outcome::Code(EXIT_FOUND) } else { Outcome::Success });
    }

    // --fix: plan from fresh reads of every release that needs it (or was left half done).
    let candidates: Vec<FixCandidate> = report
        .releases
        .iter()
        .filter(|r| if args.all_revisions { r.blocked_anywhere() } else { r.blocked() } || deployed_count(r) > 1)
        .map(FixCandidate::of)
        .collect();
    let fix_opts = FixOptions { target, all_revisions: args.all_revisions, limits: scope.limits() };
    let mut fixes = fix::plan_all(&scope.client, &candidates, served.clone(), &fix_opts, CONCURRENCY).await;
    let table = args.output == OutputFormat::Table;
    if table {
        let view = ReportView::new(&report, server, target, args.all_revisions);
        print_report(&view, args.output)?;
        print!("{}", render_plan(&fixes, target));
    }
    let writes: usize = fixes.iter().map(ReleaseFix::writes).sum();
    let fixable = fixes.iter().filter(|f| f.will_write()).count();
    if args.dry_run || writes == 0 {
        for f in fixes.iter_mut().filter(|f| f.will_write()) {
            f.result = "would-fix".into();
        }
        if table {
            println!("\n{}", if args.dry_run { "Dry run: nothing was changed." } else { "Nothing to write." });
        } else {
            print_fix_json(&report, &fixes, server, target, &args, None, args.dry_run)?;
        }
        if read_failed {
            return Ok(Outcome::PartialFailure);
        }
        return Ok(if found > 0 { Outcome::Code(EXIT_FOUND) } else { Outcome::Success });
    }
    let question = format!("Write {writes} release record(s) for {fixable} release(s) (every record changed is backed up first)?");
    if !crate::interact::confirm(&question, args.yes)? {
        return Err(AppError::Failed("cancelled; nothing was changed".into()));
    }
    let backup = BackupDir::create(args.backup_dir.as_deref(), "apis-fix")
        .map_err(|e| AppError::Io(format!("cannot create the backup directory: {e}")))?;
    if table {
        println!("Backups of every record changed go to {}", backup.path().display());
    }
    let exec = Arc::new(Executor { backup, stop: crate::stop::StopSignal::install(), limits: scope.limits() });
    let bar = if table { crate::interact::progress(fixable as u64, "fixing") } else { indicatif::ProgressBar::hidden() };
    let done: Vec<ReleaseFix> = futures::stream::iter(fixes)
        .map(|mut f| {
            let exec = exec.clone();
            let bar = bar.clone();
            async move {
                exec.execute(&mut f).await;
                if f.will_write() {
                    bar.inc(1);
                }
                f
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    bar.finish_and_clear();
    let fixes = done;
    // What helm sees now.
    let after = do_scan(scope, &opts, served.clone(), args.all_namespaces).await?;
    let remaining = count_blocked(&after, args.all_revisions);
    let failed = fixes.iter().filter(|f| f.result == "failed").count();
    let interrupted = exec.stop.requested() || fixes.iter().any(|f| f.result == "interrupted");
    if table {
        println!();
        for f in &fixes {
            if f.will_write() {
                println!("{}", render_result(f));
            }
        }
        println!(
            "\nSummary: {} release(s) fixed, {failed} failed{}; {remaining} release(s) still hold APIs helm cannot build for Kubernetes {target}.",
            fixes.iter().filter(|f| f.result == "fixed").count(),
            if interrupted { ", interrupted" } else { "" }
        );
        println!("Backups: {} (kubectl werf releases restore --dir {0} --force puts the records back)", exec.backup.path().display());
    } else {
        print_fix_json(&report, &fixes, server, target, &args, Some((exec.backup.path().display().to_string(), remaining)), false)?;
    }
    if interrupted {
        super::print_interrupted(scope);
        return Ok(Outcome::PartialFailure);
    }
    if failed > 0 || read_failed {
        eprintln!("once the errors above are fixed, run the same command again: {}", scope.resume);
        return Ok(Outcome::PartialFailure);
    }
    Ok(if remaining > 0 { Outcome::Code(EXIT_FOUND) } else { Outcome::Success })
}

async fn do_scan(scope: &Scope, opts: &ScanOptions, served: Arc<ServedApis>, all: bool) -> Result<ScanReport, AppError> {
    scan::scan(&scope.client, opts, served).await.map_err(|e| {
        if e.is_forbidden() && all {
            AppError::Failed(format!(
                "{e}; -A needs the right to list them in all namespaces: scan one namespace with -n NAMESPACE instead"
            ))
        } else {
            AppError::Kube(e.to_string())
        }
    })
}

fn deployed_count(r: &ReleaseScan) -> usize {
    r.listed.iter().filter(|l| l.status.as_deref() == Some("deployed")).count()
}

/// Releases helm cannot upgrade (or, with `all_revisions`, roll back everywhere).
fn count_blocked(report: &ScanReport, all_revisions: bool) -> usize {
    report.releases.iter().filter(|r| if all_revisions { r.blocked_anywhere() } else { r.blocked() }).count()
}

// ---- output ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ObjectView {
    #[serde(rename = "in")]
    place: TextPlace,
    #[serde(skip_serializing_if = "Option::is_none")]
    hook: Option<String>,
    kind: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    api_version: String,
    served: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    removed_in: Option<KubeVersion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replacement: Option<String>,
    problem: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RevisionView {
    revision: i64,
    status: String,
    helm_reads: Vec<&'static str>,
    record: String,
    objects: Vec<ObjectView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    bad_documents: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReleaseView {
    name: String,
    namespace: String,
    storage: &'static str,
    record_namespace: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    latest: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_deployed: Option<i64>,
    /// helm can build every object of the revisions it reads.
    upgradable: bool,
    revisions: Vec<RevisionView>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Counts {
    releases: usize,
    revisions: usize,
    objects: usize,
    /// Releases helm cannot upgrade (with --all-revisions: or roll back to some revision).
    blocked: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportView {
    kubernetes_version: KubeVersion,
    target_version: KubeVersion,
    scanned: Counts,
    releases: Vec<ReleaseView>,
    errors: Vec<String>,
    warnings: Vec<String>,
}

impl ReportView {
    fn new(report: &ScanReport, server: KubeVersion, target: KubeVersion, all_revisions: bool) -> ReportView {
        let releases = report
            .releases
            .iter()
            .filter(|r| r.has_findings() || r.revisions.iter().any(|v| !v.bad_documents.is_empty()))
            .map(release_view)
            .collect();
        ReportView {
            kubernetes_version: server,
            target_version: target,
            scanned: Counts {
                releases: report.releases.len(),
                revisions: report.releases.iter().map(|r| r.revisions.len()).sum(),
                objects: report.releases.iter().flat_map(|r| &r.revisions).map(|v| v.objects).sum(),
                blocked: count_blocked(report, all_revisions),
            },
            releases,
            errors: report.errors.iter().map(ToString::to_string).collect(),
            warnings: report.warnings.clone(),
        }
    }
}

fn release_view(r: &ReleaseScan) -> ReleaseView {
    ReleaseView {
        name: r.name.clone(),
        namespace: r.namespace.clone(),
        storage: r.storage(),
        record_namespace: r.object_namespace.clone(),
        latest: r.latest(),
        last_deployed: r.last_deployed(),
        upgradable: !r.blocked(),
        revisions: r
            .revisions
            .iter()
            .filter(|v| !v.findings.is_empty() || !v.bad_documents.is_empty())
            .map(|v| RevisionView {
                revision: v.revision,
                status: v.status.clone(),
                helm_reads: v.roles.iter().map(|r| r.as_str()).collect(),
                record: v.object.key(),
                objects: v
                    .findings
                    .iter()
                    .map(|f| ObjectView {
                        place: f.object.place.clone(),
                        hook: f.object.hook.clone(),
                        kind: f.object.kind.clone(),
                        name: f.object.name.clone(),
                        namespace: f.object.namespace.clone(),
                        api_version: f.object.api_version.clone(),
                        served: f.served,
                        removed_in: f.row.map(|r| r.removed_in),
                        replacement: f.row.and_then(|r| r.replacement.clone()),
                        problem: f.problem.as_str(),
                    })
                    .collect(),
                bad_documents: v.bad_documents.iter().map(|b| b.reason.clone()).collect(),
            })
            .collect(),
    }
}

fn print_report(view: &ReportView, format: OutputFormat) -> Result<(), AppError> {
    if format != OutputFormat::Table {
        crate::output::print_structured(view, format)?;
        return Ok(());
    }
    let mut table = Table::new();
    table.add_row([
        "NAMESPACE",
        "RELEASE",
        "STORAGE",
        "REVISION",
        "STATUS",
        "HELM READS",
        "IN",
        "KIND",
        "NAME",
        "API VERSION",
        "SERVED",
        "REMOVED IN",
        "REPLACEMENT",
    ]);
    let mut rows = 0;
    for r in &view.releases {
        for v in &r.revisions {
            let reads = if v.helm_reads.is_empty() { "-".to_string() } else { v.helm_reads.join(",") };
            for o in &v.objects {
                table.add_row([
                    r.namespace.clone(),
                    r.name.clone(),
                    r.storage.to_string(),
                    v.revision.to_string(),
                    v.status.clone(),
                    reads.clone(),
                    match o.place {
                        TextPlace::Hook => "hook".into(),
                        TextPlace::Manifest => "manifest".into(),
                    },
                    o.kind.clone(),
                    o.name.clone(),
                    o.api_version.clone(),
                    if o.served { "yes".into() } else { "no".into() },
                    o.removed_in.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
                    o.replacement.clone().unwrap_or_else(|| if o.removed_in.is_some() { "none".into() } else { "-".into() }),
                ]);
                rows += 1;
            }
            for b in &v.bad_documents {
                eprintln!("warning: {}/{} revision {}: {b}", r.namespace, r.name, v.revision);
            }
        }
    }
    let mut out = std::io::stdout().lock();
    if rows > 0 {
        out.write_all(&table.render())?;
        writeln!(out)?;
    }
    let c = &view.scanned;
    let scope =
        format!("{} release(s), {} revision(s), {} object(s), for Kubernetes {}", c.releases, c.revisions, c.objects, view.target_version);
    if c.blocked > 0 {
        writeln!(
            out,
            "{} of {scope}: helm cannot build some objects of the revisions it reads, so upgrade and rollback fail (--fix writes revisions that use the replacements).",
            c.blocked
        )?;
    } else if rows > 0 {
        writeln!(out, "Scanned {scope}: nothing blocks helm now; the rows above are removed in a later Kubernetes version.")?;
    } else {
        writeln!(out, "Scanned {scope}: no removed or unserved API versions.")?;
    }
    Ok(())
}

fn render_plan(fixes: &[ReleaseFix], target: KubeVersion) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    if fixes.is_empty() {
        return s;
    }
    let _ = writeln!(s, "\nPlan (removed APIs for Kubernetes {target}, replaced where this cluster serves the replacement):");
    for f in fixes {
        let head = format!("RELEASE {}/{} ({})", f.namespace, f.release, f.storage);
        match &f.action {
            Action::Write { revision, base, base_status, supersede } => {
                let _ = writeln!(
                    s,
                    "{head}: write revision {revision} from revision {base} ({base_status}){}",
                    supersede.map(|r| format!(", then mark revision {r} superseded")).unwrap_or_default()
                );
            }
            Action::Supersede { revisions } => {
                let list: Vec<String> = revisions.iter().map(ToString::to_string).collect();
                let _ = writeln!(s, "{head}: mark revision(s) {} superseded (left deployed by an interrupted --fix)", list.join(", "));
            }
            Action::RewriteOnly => {
                let _ = writeln!(s, "{head}: rewrite older revisions in place");
            }
            Action::Nothing { why } => {
                let _ = writeln!(s, "{head}: nothing to write: {why}");
            }
            Action::Refused { why } => {
                let _ = writeln!(s, "{head}: NOT FIXED: {why}");
            }
        }
        for m in &f.mapped {
            let _ = writeln!(s, "  map   {m}");
        }
        for n in &f.notes {
            let _ = writeln!(s, "  note  {n}");
        }
        for r in &f.rewrites {
            let _ = writeln!(s, "  rewrite revision {} ({}) in place: {}", r.revision, r.status, r.mapped.join(", "));
        }
        for u in &f.unfixable {
            let _ = writeln!(s, "  STILL NOT UPGRADABLE: {u}");
        }
    }
    s
}

fn render_result(f: &ReleaseFix) -> String {
    let mut s = format!("{}/{}: {}", f.namespace, f.release, f.result);
    if let Action::Write { revision, supersede, .. } = &f.action
        && f.result == "fixed"
    {
        s.push_str(&format!(
            " (revision {revision} written{})",
            supersede.map(|r| format!(", revision {r} superseded")).unwrap_or_default()
        ));
    }
    for e in &f.errors {
        s.push_str(&format!("\n  error: {e}"));
    }
    s
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FixView<'a> {
    #[serde(flatten)]
    report: ReportView,
    dry_run: bool,
    fix: &'a [ReleaseFix],
    #[serde(skip_serializing_if = "Option::is_none")]
    backup_dir: Option<String>,
    /// Releases still blocked after the fix (not on a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    remaining: Option<usize>,
}

fn print_fix_json(
    report: &ScanReport,
    fixes: &[ReleaseFix],
    server: KubeVersion,
    target: KubeVersion,
    args: &ReleasesApisArgs,
    done: Option<(String, usize)>,
    dry_run: bool,
) -> Result<(), AppError> {
    let (backup_dir, remaining) = match done {
        Some((d, r)) => (Some(d), Some(r)),
        None => (None, None),
    };
    let view = FixView { report: ReportView::new(report, server, target, args.all_revisions), dry_run, fix: fixes, backup_dir, remaining };
    crate::output::print_structured(&view, args.output)?;
    Ok(())
}
