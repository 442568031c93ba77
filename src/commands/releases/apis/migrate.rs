//! The `migrate2to3` step after the verbatim revisions: Helm 2 releases date from before 2021, so their
//! latest revisions nearly always hold API versions today's clusters no longer serve, and a release helm
//! cannot upgrade is not migrated in any useful sense. By default the migration adds the fixed revision of
//! `releases apis --fix` (latest+1 from the last deployed revision, with the replacements); with
//! `--no-map-apis` it does not, and says plainly that helm will not be able to upgrade the result.

use serde::Serialize;

use super::super::collect::Generation;
use super::fix::{self, Action, Executor, FixCandidate, FixOptions, ReleaseFix};
use super::scan::ServedApis;
use crate::release::apis::KubeVersion;
use crate::stop::StopSignal;
use crate::storage::backup::BackupDir;
use crate::storage::codec::DecodeLimits;
use crate::storage::objects::{NewObject, ObjectKind};

/// What the cluster serves and the version to answer for, loaded once per run.
pub struct ApiTargets {
    pub served: ServedApis,
    pub target: KubeVersion,
    /// Add the fixed revision (`false` with `--no-map-apis`).
    pub map: bool,
    pub limits: DecodeLimits,
}

impl ApiTargets {
    pub async fn load(client: &kube::Client, map: bool, limits: DecodeLimits) -> Result<ApiTargets, String> {
        let target = super::server_version(client).await.map_err(|e| e.to_string())?;
        let served = super::served_apis(client).await.map_err(|e| e.to_string())?;
        Ok(ApiTargets { served, target, map, limits })
    }

    fn options(&self) -> FixOptions {
        FixOptions { target: self.target, all_revisions: false, limits: self.limits }
    }
}

/// The API step of one release: planned from the records to be written, carried out after them.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiStep {
    /// `map` (a revision will be written), `none` (nothing to map), `skipped` (--no-map-apis) or `unknown`.
    pub step: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<i64>,
    pub mapped: Vec<String>,
    pub notes: Vec<String>,
    /// Objects helm will still not be able to build after the migration (and this step).
    pub not_upgradable: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// After execution: `fixed`, `unchanged`, `failed`, `interrupted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl ApiStep {
    /// A step decided only when it runs, from what storage holds then.
    pub fn from_storage(detail: &str) -> ApiStep {
        ApiStep {
            step: "none",
            revision: None,
            base: None,
            mapped: Vec::new(),
            notes: Vec::new(),
            not_upgradable: Vec::new(),
            detail: Some(detail.to_string()),
            result: None,
            errors: Vec::new(),
        }
    }

    /// helm will not be able to upgrade the migrated release.
    pub fn not_upgradable(&self) -> bool {
        !self.not_upgradable.is_empty()
    }

    pub fn writes(&self) -> bool {
        self.step == "map"
    }
}

fn candidate(kind: ObjectKind, namespace: &str, name: &str) -> FixCandidate {
    FixCandidate { generation: Generation::Helm3, kind, object_namespace: namespace.to_string(), name: name.to_string() }
}

/// Plan the step from the Helm 3 records the migration is about to write (every revision kept).
pub fn plan(ctx: &ApiTargets, kind: ObjectKind, namespace: &str, name: &str, records: &[NewObject]) -> ApiStep {
    let mut step = ApiStep::from_storage("");
    step.detail = None;
    let fix = match fix::plan_records(&candidate(kind, namespace, name), records, &ctx.served, &ctx.options()) {
        Ok(f) => f,
        Err(e) => {
            step.step = "unknown";
            step.detail = Some(format!("cannot check the API versions: {e}"));
            return step;
        }
    };
    match &fix.action {
        Action::Write { revision, base, .. } => {
            step.revision = Some(*revision);
            step.base = Some(*base);
            step.mapped = fix.mapped.clone();
            step.notes = fix.notes.clone();
            if ctx.map {
                step.step = "map";
                step.not_upgradable = fix.unfixable.clone();
            } else {
                step.step = "skipped";
                step.not_upgradable = blocking(ctx, records);
            }
        }
        Action::Nothing { why } => {
            step.not_upgradable = fix.unfixable.clone();
            step.detail = Some(why.clone());
        }
        Action::Refused { why } => {
            step.step = "unknown";
            step.not_upgradable = blocking(ctx, records);
            step.detail = Some(why.clone());
        }
        Action::Supersede { .. } | Action::RewriteOnly => {}
    }
    step
}

/// Objects helm cannot build in the revisions it will read, as `Kind/name apiVersion`.
fn blocking(ctx: &ApiTargets, records: &[NewObject]) -> Vec<String> {
    let mut out = Vec::new();
    let mut releases: Vec<crate::release::helm3::Release> =
        records.iter().filter_map(|o| crate::storage::codec::decode_helm3(o.payload.as_bytes(), &ctx.limits).ok()).collect();
    releases.sort_by_key(|r| r.version);
    let latest = releases.last().map(|r| r.version);
    let deployed = releases.iter().filter(|r| r.info.status == crate::release::helm3::Status::Deployed).map(|r| r.version).max();
    for r in releases.iter().filter(|r| Some(r.version) == latest || Some(r.version) == deployed) {
        let hooks: Vec<(String, String)> = r.hooks.iter().map(|h| (h.name.clone(), h.manifest.clone())).collect();
        let (findings, _, _) = super::scan::scan_texts(&r.manifest, &hooks, &ctx.served, ctx.target);
        for f in findings.iter().filter(|f| f.problem.blocks()) {
            out.push(format!("{}/{} {}", f.object.kind, f.object.name, f.object.api_version));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Lines for the migration plan.
pub fn plan_lines(step: &ApiStep) -> Vec<String> {
    let mut out = Vec::new();
    match step.step {
        "map" => {
            out.push(format!(
                "removed APIs: revision {} will be written from revision {} with the replacements (--no-map-apis skips this)",
                step.revision.unwrap_or_default(),
                step.base.unwrap_or_default()
            ));
            for m in &step.mapped {
                out.push(format!("  map   {m}"));
            }
            for n in &step.notes {
                out.push(format!("  note  {n}"));
            }
        }
        "skipped" => out.push(format!("removed APIs: not mapped (--no-map-apis): {}", step.mapped.join(", "))),
        "unknown" => out.push(format!("removed APIs: {}", step.detail.as_deref().unwrap_or("not checked"))),
        _ => {}
    }
    if step.not_upgradable() {
        out.push(format!(
            "NOT UPGRADABLE after migration: helm cannot build {}{}",
            step.not_upgradable.join(", "),
            if step.step == "skipped" { " (run without --no-map-apis, or kubectl werf releases apis --fix afterwards)" } else { "" }
        ));
    }
    out
}

/// Carry out the step for a migrated release, from what storage now holds (so that a re-run finishes an
/// interrupted step and never writes it twice).
#[allow(clippy::too_many_arguments)]
pub async fn execute(
    client: &kube::Client,
    ctx: &ApiTargets,
    kind: ObjectKind,
    namespace: &str,
    name: &str,
    backup: &mut Option<BackupDir>,
    backup_dir: Option<&std::path::Path>,
    stop: &StopSignal,
) -> (ReleaseFix, Option<String>) {
    let mut fix = fix::plan(client, &candidate(kind, namespace, name), &ctx.served, &ctx.options()).await;
    if !fix.will_write() {
        return (fix, None);
    }
    if backup.is_none() {
        match BackupDir::create(backup_dir, "migrate2to3") {
            Ok(b) => *backup = Some(b),
            Err(e) => {
                fix.result = "failed".into();
                fix.errors.push(format!("cannot create the backup directory: {e}"));
                return (fix, None);
            }
        }
    }
    let dir = backup.clone().expect("created above");
    let shown = dir.path().display().to_string();
    let exec = Executor { backup: dir, stop: stop.clone(), limits: ctx.limits };
    exec.execute(&mut fix).await;
    (fix, Some(shown))
}

/// Lines for the migration's result.
pub fn result_lines(fix: &ReleaseFix) -> Vec<String> {
    let mut out = Vec::new();
    match (&fix.action, fix.result.as_str()) {
        (Action::Write { revision, supersede, .. }, "fixed") => out.push(format!(
            "removed APIs mapped: revision {revision} written{}",
            supersede.map(|r| format!(", revision {r} superseded")).unwrap_or_default()
        )),
        (Action::Supersede { revisions }, "fixed") => {
            out.push(format!("removed APIs: revision(s) {revisions:?} left deployed by an interrupted run are now superseded"))
        }
        (_, "failed" | "interrupted") => out.push(format!("removed APIs: not mapped ({})", fix.result)),
        _ => {}
    }
    for e in &fix.errors {
        out.push(format!("error: {e}"));
    }
    if !fix.unfixable.is_empty() {
        out.push(format!("NOT UPGRADABLE: helm cannot build {}", fix.unfixable.join(", ")));
    }
    out
}

/// `manifest` with every removed apiVersion this catalog does not serve replaced by one it serves: where
/// the live objects of a release are found once its revision is mapped.
pub fn map_for_catalog(manifest: &str, catalog: &crate::live::ResourceCatalog) -> String {
    let serves = |api_version: &str, kind: &str| catalog.resolve_gvk(api_version, kind).is_ok();
    let want = |row: &crate::release::apis::RemovedApi| {
        !serves(&row.api_version, &row.kind) && row.replacement.as_deref().is_none_or(|rep| serves(rep, &row.kind))
    };
    crate::release::apis::convert::convert_text(manifest, crate::release::apis::TextPlace::Manifest, None, &want).text
}
