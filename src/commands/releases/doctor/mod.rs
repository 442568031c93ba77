//! `releases doctor`: one read-only pass over release storage (and the Helm-managed live objects) that
//! reports what will make the next helm upgrade fail, each finding with its evidence and its fix.
//!
//! Decisions (the `--help` and README say the same):
//! - Storage is read as `releases list -A` reads it (`storage` module notes): labels of every record,
//!   payloads of the records not labelled superseded, GETs only for what a check needs beyond that.
//! - Checks per release: several-deployed, no-deployed, pending (with age), label-drift (on the
//!   records read), undecodable, size (latest + largest growth against 1,048,576 bytes), removed-api
//!   (the revisions helm reads); across storages: both-drivers, helm2-and-helm3; then the live checks
//!   (`ownership`, and `drift` with `--drift`) on the manifest helm compares with on the next upgrade
//!   (last deployed, else latest; hooks excluded). Severities: `checks` module notes.
//! - A fix is an exact command of this tool (with the flags that pick the release's storage) when one
//!   exists, else advice; a command that asks for confirmation says so (`--yes` without a terminal).
//! - Exit: 0 healthy (or info only), 3 worst finding a warning, 4 worst an error; 1 when a storage (or
//!   what the removed-API check needs) could not be read at all (one line naming it); 2 usage.

mod checks;
mod drift;
mod model;
mod ownership;
mod report;
mod storage;

use model::{Check, Finding, Fix, ReleaseManifest, Severity};

use std::collections::{BTreeMap, BTreeSet};

use crate::cli::ReleasesDoctorArgs;
use crate::commands::context::Outcome;
use crate::error::AppError;
use crate::release::apis::KubeVersion;
use crate::storage::objects::{ObjectKind, ObjectStore};

use super::collect::Generation;
use super::{Scope, is_forbidden};
use storage::{Source, StoredRelease};

pub async fn run(scope: &Scope, args: ReleasesDoctorArgs) -> Result<Outcome, AppError> {
    for name in &args.names {
        crate::storage::scope::validate_name(name)?;
    }
    let target_flag = args.target_version.clone();
    let target = match &args.target_version {
        Some(t) => Some(
            KubeVersion::parse(t)
                .ok_or_else(|| AppError::Usage(format!("--target-version {t:?}: expected a Kubernetes version such as 1.25")))?,
        ),
        None => None,
    };
    let all_ns = args.all_namespaces;
    let sel = scope.selection(all_ns);
    let named = !args.names.is_empty();

    // Every storage at once; the first Helm 3 driver is read directly, the others probed first.
    let mut sources: Vec<Source> = Vec::new();
    for (n, kind) in sel.helm3_kinds.iter().enumerate() {
        sources.push(Source {
            store: ObjectStore::new(scope.client.clone(), *kind),
            scope: sel.helm3_namespace().map(str::to_string),
            generation: Generation::Helm3,
            probe: n > 0,
            limits: scope.limits(),
            names: args.names.clone(),
        });
    }
    for kind in &sel.helm2_kinds {
        sources.push(Source {
            store: ObjectStore::new(scope.client.clone(), *kind),
            scope: sel.helm2_records_namespace().map(str::to_string),
            generation: Generation::Helm2,
            probe: true,
            limits: scope.limits(),
            names: args.names.clone(),
        });
    }
    // Discovery and the server's version (for the removed-API check) while the storage LISTs are on the wire.
    let reads = futures::future::join_all(sources.iter().map(Source::read));
    let (results, apis) = futures::future::join(reads, apis_context(scope, target)).await;
    let mut releases: Vec<StoredRelease> = Vec::new();
    let mut records = 0usize;
    let mut warnings: Vec<String> = Vec::new();
    let mut unreadable: Vec<String> = Vec::new();
    for (source, result) in sources.iter().zip(results) {
        let result = match result {
            // Without the right to list Tiller records cluster-wide, read the default Tiller namespace.
            Err(e) if source.generation == Generation::Helm2 && is_forbidden(&e) && source.scope.is_none() && !all_ns => {
                let fallback = Source { scope: Some(sel.default_tiller_namespace.clone()), ..source.clone() };
                fallback.read().await
            }
            r => r,
        };
        match result {
            Ok(read) => {
                records += read.records;
                releases.extend(read.releases);
            }
            // Helm 2 storage the user may not read, when Helm 2 was not asked for: skipped with a warning.
            Err(e) if source.generation == Generation::Helm2 && is_forbidden(&e) && scope.helm_version != Some(2) => {
                warnings.push(format!(
                    "skipping Helm 2 releases: cannot list {}: {}",
                    where_(source),
                    crate::error::describe_kube_error(&e)
                ));
            }
            Err(e) => unreadable.push(format!("cannot read {}: {}", where_(source), crate::error::describe_kube_error(&e))),
        }
    }
    // No storage could be read (an unreachable server, no rights at all): say it once, and do not go on
    // to live checks or a "no problems" table that would rest on nothing.
    if !sources.is_empty() && unreadable.len() == sources.len() {
        let more = if unreadable.len() > 1 { format!(" (and {} more storage(s) alike)", unreadable.len() - 1) } else { String::new() };
        return Err(AppError::Failed(format!("{}{more}", unreadable[0])));
    }
    // Tiller keeps every release in its own namespace: with -n, only that namespace's (as `list`).
    if let Some(ns) = sel.helm2_release_namespace(named) {
        releases.retain(|r| r.generation == Generation::Helm3 || r.release_namespace() == ns || r.release_namespace() == "?");
    }
    releases.sort_by(|a, b| {
        (a.release_namespace(), &a.name, a.generation, a.kind).cmp(&(b.release_namespace(), &b.name, b.generation, b.kind))
    });
    for name in &args.names {
        if !releases.iter().any(|r| &r.name == name) {
            unreadable.push(format!("release {name:?} not found in the storages read"));
        }
    }

    let now = crate::storage::helm3::now_unix();
    let mut findings: Vec<Finding> = Vec::new();
    for r in &releases {
        findings.extend(checks::check_release(r, now));
    }
    findings.extend(cross_storage(scope, &releases).await);

    // removed-api, when there is something to scan.
    let (apis_ok, apis_error) = match apis {
        Ok(a) => (Some(a), None),
        Err(e) => (None, Some(e)),
    };
    if releases.iter().any(|r| r.latest().is_some_and(|l| l.texts().is_some())) {
        if let Some((served, target)) = &apis_ok {
            // Every manifest and hook parsed as YAML: on every core.
            let scan = |r: &StoredRelease| checks::check_apis(r, served, *target, target_flag.as_deref());
            findings.extend(crate::storage::listing::par_map(releases.iter().collect(), &scan).into_iter().flatten());
        }
        if let Some(e) = apis_error {
            unreadable.push(format!("removed-API check not done: {e}"));
        }
    }

    // The live checks, on the manifest helm compares with on the next upgrade. An uninstalled release
    // (history kept) has no objects left to judge.
    let manifests: Vec<ReleaseManifest> = releases
        .iter()
        .filter(|r| !r.latest().is_some_and(|l| l.status(r.generation).is_some_and(|s| s.starts_with("uninstall"))))
        .filter_map(|r| {
            let rec = r.last_deployed().filter(|d| d.texts().is_some()).or_else(|| r.latest())?;
            Some(ReleaseManifest { release: checks::release_ref(r), revision: rec.revision, manifest: rec.texts()?.manifest.clone() })
        })
        .collect();
    let existing: BTreeSet<(String, String)> = releases.iter().map(|r| (r.release_namespace(), r.name.clone())).collect();
    let live_ns = (!all_ns).then_some(scope.namespace.as_str());
    // Discovery, already loaded for the removed-API check, serves the live checks too.
    let catalog = apis_ok.as_ref().map(|(served, _)| served.catalog());
    let input = ownership::LiveInput {
        client: &scope.client,
        catalog,
        namespace: live_ns,
        releases: &manifests,
        existing: &existing,
        named_only: named,
    };
    match ownership::check_ownership(&input).await {
        Ok(rep) => {
            findings.extend(rep.findings);
            warnings.extend(rep.warnings);
        }
        Err(e) => unreadable.push(format!("ownership check not done: {e}")),
    }
    if let Some(mode) = args.drift {
        match drift::check_drift(&input, mode).await {
            Ok(rep) => {
                findings.extend(rep.findings);
                warnings.extend(rep.warnings);
            }
            Err(e) => unreadable.push(format!("drift check not done: {e}")),
        }
    }

    findings
        .sort_by(|a, b| (&a.release, std::cmp::Reverse(a.severity), a.check).cmp(&(&b.release, std::cmp::Reverse(b.severity), b.check)));
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let checked = report::Checked { releases: releases.len(), records, incomplete: !unreadable.is_empty() };
    report::print(&findings, &checked, args.output)?;
    for u in &unreadable {
        eprintln!("error: {u}");
    }
    if !unreadable.is_empty() {
        return Ok(Outcome::PartialFailure);
    }
    let worst = findings.iter().map(|f| f.severity).max();
    Ok(match worst.map(Severity::exit_code) {
        Some(code) if code > 0 => Outcome::Code(code as u8),
        _ => Outcome::Success,
    })
}

fn where_(source: &Source) -> String {
    let kind = match source.store.kind() {
        ObjectKind::Secret => "Secrets",
        ObjectKind::ConfigMap => "ConfigMaps",
    };
    let generation = match source.generation {
        Generation::Helm3 => "Helm 3",
        Generation::Helm2 => "Helm 2",
    };
    match &source.scope {
        Some(ns) => format!("{generation} release {kind} in namespace {ns}"),
        None => format!("{generation} release {kind} in all namespaces"),
    }
}

async fn apis_context(scope: &Scope, target: Option<KubeVersion>) -> Result<(super::apis::scan::ServedApis, KubeVersion), AppError> {
    let served = super::apis::served_apis(&scope.client).await?;
    let target = match target {
        Some(t) => t,
        None => super::apis::server_version(&scope.client).await?,
    };
    Ok((served, target))
}

/// both-drivers and helm2-and-helm3: the same release (name, release namespace) in several storages.
async fn cross_storage(scope: &Scope, releases: &[StoredRelease]) -> Vec<Finding> {
    let mut by_release: BTreeMap<(String, String), Vec<&StoredRelease>> = BTreeMap::new();
    for r in releases {
        by_release.entry((r.release_namespace(), r.name.clone())).or_default().push(r);
    }
    let mut out = Vec::new();
    for copies in by_release.values().filter(|c| c.len() > 1) {
        let find =
            |g: Generation, k: Option<ObjectKind>| copies.iter().copied().find(|r| r.generation == g && k.is_none_or(|k| r.kind == k));
        if let (Some(s), Some(c)) =
            (find(Generation::Helm3, Some(ObjectKind::Secret)), find(Generation::Helm3, Some(ObjectKind::ConfigMap)))
        {
            out.push(checks::check_both_drivers(s, c));
        }
        let helm3 = find(Generation::Helm3, Some(ObjectKind::Secret)).or_else(|| find(Generation::Helm3, None));
        for h2 in copies.iter().filter(|r| r.generation == Generation::Helm2) {
            if let Some(h3) = helm3 {
                out.push(helm2_and_helm3(scope, h2, h3).await);
            }
        }
    }
    out
}

/// Compare each Helm 2 revision, converted as `migrate2to3` converts it, with the Helm 3 record of the
/// same revision, as `migrate2to3 --cleanup` does: all equal (or only superseded by a later Helm 3
/// upgrade) → the cleanup command; otherwise advice naming where they differ.
async fn helm2_and_helm3(scope: &Scope, h2: &StoredRelease, h3: &StoredRelease) -> Finding {
    let limits = scope.limits();
    let h2_store = ObjectStore::new(scope.client.clone(), h2.kind);
    let h3_store = ObjectStore::new(scope.client.clone(), h3.kind);
    let h3_latest = h3.latest().map(|l| l.revision).unwrap_or(0);
    let mut differ: Vec<String> = Vec::new();
    let mut equal = 0;
    for rec in h2.records.values() {
        let verdict: Result<bool, String> = async {
            let raw = h2_store.get(&rec.info.namespace, &rec.info.name).await.map_err(|e| crate::error::describe_kube_error(&e))?;
            let payload = raw.and_then(|r| r.payload).ok_or("the Helm 2 record is gone or empty")?;
            let v2 = crate::storage::codec::decode_helm2(&payload, &limits).map_err(|e| format!("Helm 2 record: {e}"))?;
            let opts = crate::release::convert::ConvertOptions { target_name: None, target_namespace: Some(h3.release_namespace()) };
            let conv = crate::release::convert::convert(&v2, &opts).map_err(|e| format!("cannot convert: {e}"))?;
            let meant: serde_json::Value =
                serde_json::from_slice(&crate::storage::codec::helm3_json(&conv.release).map_err(|e| e.to_string())?)
                    .map_err(|e| e.to_string())?;
            let Some(copy) = h3.records.get(&rec.revision) else { return Err("no Helm 3 copy".to_string()) };
            let raw = h3_store.get(&copy.info.namespace, &copy.info.name).await.map_err(|e| crate::error::describe_kube_error(&e))?;
            let payload = raw.and_then(|r| r.payload).ok_or("the Helm 3 copy is gone or empty")?;
            let stored = crate::storage::codec::decode_helm3_value(&payload, &limits).map_err(|e| format!("Helm 3 copy: {e}"))?;
            use crate::commands::migrate2to3::compare::{Sameness, compare};
            match compare(&meant, &stored) {
                Sameness::Equal => Ok(true),
                Sameness::Superseded if h3_latest > rec.revision => Ok(true),
                Sameness::Superseded => Err("differs at .info.status".to_string()),
                Sameness::Differs(paths) => Err(format!("differs at {}", paths.join(", "))),
            }
        }
        .await;
        match verdict {
            Ok(_) => equal += 1,
            Err(why) => differ.push(format!("revision {}: {why}", rec.revision)),
        }
    }
    let h2_place = checks::place(h2);
    let tiller_flags = match &h2_place {
        crate::storage::scope::Place::Helm2 { kind, tiller_namespace, .. } => format!(
            "--tiller-namespace {tiller_namespace} --helm-release-storage-type {}",
            match kind {
                ObjectKind::Secret => "secret",
                ObjectKind::ConfigMap => "configmap",
            }
        ),
        _ => String::new(),
    };
    let mut evidence = vec![
        format!("Helm 2 ({} in namespace {}): revisions {}", h2.storage(), h2.object_namespace, revisions(h2)),
        format!("Helm 3 ({} in namespace {}): revisions {}", h3.storage(), h3.object_namespace, revisions(h3)),
    ];
    let release = checks::release_ref(h2);
    if differ.is_empty() {
        evidence.push(format!("every Helm 2 revision ({equal}) has an equal Helm 3 copy"));
        Finding {
            release,
            check: Check::Helm2AndHelm3,
            severity: Severity::Warning,
            summary: "Helm 2 (Tiller) records left beside their equal Helm 3 copy".into(),
            evidence,
            fix: Fix::command(format!("kubectl werf migrate2to3 {} --cleanup {tiller_flags}", h2.name)).confirming(),
        }
    } else {
        evidence.extend(differ);
        Finding {
            release,
            check: Check::Helm2AndHelm3,
            severity: Severity::Warning,
            summary: "Helm 2 (Tiller) and Helm 3 copies of the release differ".into(),
            evidence,
            fix: Fix::advice(format!(
                "helm 3/4 reads only the Helm 3 copy. If it is the one in use, keep a copy of the Helm 2 records (`kubectl werf releases export {} {} --dir DIR`) and delete them; if the Helm 2 one is, migrate it over the Helm 3 copy with `kubectl werf migrate2to3 {} {tiller_flags} --force`",
                h2.name,
                h2_place.picking_flags(),
                h2.name
            )),
        }
    }
}

fn revisions(r: &StoredRelease) -> String {
    let revs: Vec<String> =
        r.records.values().map(|rec| format!("{} {}", rec.revision, rec.status(r.generation).unwrap_or_else(|| "?".into()))).collect();
    revs.join(", ")
}
