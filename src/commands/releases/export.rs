//! `releases export`: release records, every revision, as one plain Kubernetes YAML file per record
//! (the backup format: `kubectl create -f DIR` and `releases restore --dir DIR` accept it).
//!
//! Decisions:
//! - Which records: the shared scope rule (`storage::scope`): Helm 3/4 records of both kinds unless
//!   `--release-storage` picks one, Helm 2 releases by release namespace (`-n`), by name, or all (`-A`,
//!   every namespace holding Tiller records). A release found in several storages is exported from
//!   each (an export is a backup).
//! - Records are taken by their labels (`name=`/`NAME=`), payloads are written exactly as stored
//!   (never re-encoded), so a restore is byte-equal.
//! - A file of the same record already in the directory is replaced (atomically).

use std::io::Write;
use std::path::Path;

use crate::cli::ReleasesExportArgs;
use crate::commands::context::Outcome;
use crate::error::AppError;
use crate::storage::backup;
use crate::storage::objects::RawObject;
use crate::storage::scope::{locate, raw_records, raw_records_in_scope};

use super::Scope;

/// The raw records the export covers, under the shared scope rule (`storage::scope`): the named
/// releases in every storage they are found in, or every release of the scope (both generations).
pub(super) async fn collect(scope: &Scope, names: &[String], all: bool) -> Result<Vec<RawObject>, AppError> {
    let sel = scope.selection(all);
    let mut out = Vec::new();
    if names.is_empty() {
        let (raws, warnings) = raw_records_in_scope(&scope.client, &sel).await?;
        for w in warnings {
            eprintln!("warning: {w}");
        }
        out = raws;
    } else {
        for name in names {
            let located = locate(&scope.client, &sel, name).await?;
            for w in &located.warnings {
                eprintln!("warning: {w}");
            }
            if located.found.is_empty() {
                return Err(located.not_found());
            }
            for found in &located.found {
                out.extend(raw_records(&scope.client, name, found).await.map_err(|e| AppError::kube(&e))?);
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
        let what =
            if args.names.is_empty() { "no release records".to_string() } else { format!("no records of {}", args.names.join(", ")) };
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
