//! `releases export`: release records, every revision, as one plain Kubernetes YAML file per record
//! (the backup format: `kubectl create -f DIR` and `releases restore --dir DIR` accept it).
//!
//! Decisions:
//! - Helm 3/4 records of both kinds (Secrets and ConfigMaps, label `owner=helm`) are exported whatever
//!   `--release-storage` says: an export is a backup, and a namespace may hold both.
//! - Helm 2 records (Tiller's namespace and storage type) are exported for named releases and with
//!   `-A`; without either, only with `--helm-version 2`.
//! - Records are taken by their labels (`name=`/`NAME=`), payloads are written exactly as stored
//!   (never re-encoded), so a restore is byte-equal.
//! - A file of the same record already in the directory is replaced (atomically).

use std::io::Write;
use std::path::Path;

use crate::app::Outcome;
use crate::cli::ReleasesExportArgs;
use crate::error::AppError;
use crate::settings::{Helm2Storage, StorageSettings};
use crate::storage::backup;
use crate::storage::codec::{HELM2_LIST_SELECTOR, HELM3_LIST_SELECTOR, helm3_history_selector};
use crate::storage::objects::{ObjectKind, ObjectStore, PAYLOAD_PAGE, RawObject};

use super::Scope;

/// Every full object matching `selector`, following `continue` tokens.
pub(super) async fn list_raw(store: &ObjectStore, ns: Option<&str>, selector: &str) -> Result<Vec<RawObject>, kube::Error> {
    let mut out = Vec::new();
    let mut cursor: Option<crate::storage::objects::Cursor> = None;
    loop {
        let page = store.list_page(ns, selector, PAYLOAD_PAGE, cursor.as_ref()).await?;
        out.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

pub(super) fn helm2_kinds(storage: &StorageSettings) -> &'static [ObjectKind] {
    match storage.helm2_storage {
        Helm2Storage::ConfigMap => &[ObjectKind::ConfigMap],
        Helm2Storage::Secret => &[ObjectKind::Secret],
        Helm2Storage::Auto => &[ObjectKind::ConfigMap, ObjectKind::Secret],
    }
}

pub(super) fn helm2_selector(name: &str) -> String {
    format!("NAME={name},{HELM2_LIST_SELECTOR}")
}

/// The raw records the export (or any verb over `[NAME...|-A]`) covers.
async fn collect(scope: &Scope, names: &[String], all: bool) -> Result<Vec<RawObject>, AppError> {
    let mut out = Vec::new();
    let ns = if all { None } else { Some(scope.namespace.as_str()) };
    let selectors: Vec<String> =
        if names.is_empty() { vec![HELM3_LIST_SELECTOR.to_string()] } else { names.iter().map(|n| helm3_history_selector(n)).collect() };
    if scope.helm_version != Some(2) {
        for kind in [ObjectKind::Secret, ObjectKind::ConfigMap] {
            let store = ObjectStore::new(scope.client.clone(), kind);
            for sel in &selectors {
                out.extend(list_raw(&store, ns, sel).await.map_err(|e| AppError::kube(&e))?);
            }
        }
    }
    let helm2_wanted = scope.helm_version == Some(2) || (scope.helm_version.is_none() && (all || !names.is_empty()));
    if helm2_wanted {
        let tiller = scope.storage.helm2_namespace.as_str();
        let selectors: Vec<String> =
            if names.is_empty() { vec![HELM2_LIST_SELECTOR.to_string()] } else { names.iter().map(|n| helm2_selector(n)).collect() };
        for kind in helm2_kinds(&scope.storage) {
            let store = ObjectStore::new(scope.client.clone(), *kind);
            for sel in &selectors {
                match list_raw(&store, Some(tiller), sel).await {
                    Ok(v) => out.extend(v),
                    Err(e) if super::is_forbidden(&e) && scope.helm_version.is_none() => eprintln!(
                        "warning: cannot read Helm 2 records in namespace {tiller}: {}",
                        crate::error::describe_kube_error(&e)
                    ),
                    Err(e) => return Err(AppError::kube(&e)),
                }
            }
        }
    }
    out.sort_by(|a, b| (&a.info.namespace, a.info.kind, &a.info.name).cmp(&(&b.info.namespace, b.info.kind, &b.info.name)));
    out.dedup_by(|a, b| a.info.namespace == b.info.namespace && a.info.kind == b.info.kind && a.info.name == b.info.name);
    Ok(out)
}

/// Write `text` to `path` durably, replacing what is there.
pub(super) fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}.tmp-{}", path.file_name().and_then(|n| n.to_str()).unwrap_or("record"), std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

pub async fn run(scope: &Scope, args: ReleasesExportArgs) -> Result<Outcome, AppError> {
    let records = collect(scope, &args.names, args.all_namespaces).await?;
    if records.is_empty() {
        let what = if args.names.is_empty() { "no release records".to_string() } else { format!("no records of {}", args.names.join(", ")) };
        return Err(AppError::Failed(format!("{what} found; nothing exported")));
    }
    std::fs::create_dir_all(&args.dir).map_err(|e| AppError::Io(format!("{}: {e}", args.dir.display())))?;
    let mut failed = 0;
    let mut written = 0;
    for raw in &records {
        let Some(obj) = backup::record_from_raw(raw) else {
            eprintln!("error: {}: no release payload (data.release missing or not text); not exported", raw.info.key());
            failed += 1;
            continue;
        };
        let path = args.dir.join(backup::file_name(&obj));
        match backup::to_yaml(&obj).and_then(|text| write_atomic(&path, &text)) {
            Ok(()) => written += 1,
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                failed += 1;
            }
        }
    }
    println!("exported {written} record(s) to {}", args.dir.display());
    if failed > 0 {
        eprintln!("error: {failed} record(s) not exported");
        return Ok(Outcome::PartialFailure);
    }
    Ok(Outcome::Success)
}
