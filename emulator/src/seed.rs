//! Loading objects from YAML/JSON documents (`--seed DIR`, [`crate::Emulator::seed_dir`]).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::status::ApiError;
use crate::store::StoreHandle;

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("reading {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("parsing {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("loading {what} from {path}: {error}")]
    Object { path: PathBuf, what: String, error: ApiError },
}

const SERVER_SET: &[&str] = &["uid", "resourceVersion", "creationTimestamp", "managedFields", "selfLink", "generation"];

/// Parses YAML (multi-document) or JSON text into the objects it holds: `kind: List`
/// documents are expanded and documents without `apiVersion` and `kind` are skipped.
pub fn parse_documents(text: &str) -> Result<Vec<Value>, String> {
    let trimmed = text.trim_start();
    let docs: Vec<Value> = if trimmed.starts_with('{') || trimmed.starts_with('[') {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(a)) => a,
            Ok(v) => vec![v],
            Err(_) => serde_saphyr::from_multiple::<Value>(text).map_err(|e| e.to_string())?,
        }
    } else {
        serde_saphyr::from_multiple::<Value>(text).map_err(|e| e.to_string())?
    };
    let mut out = Vec::new();
    fn collect(v: Value, out: &mut Vec<Value>) {
        let has_type = v.get("apiVersion").and_then(Value::as_str).is_some_and(|s| !s.is_empty())
            && v.get("kind").and_then(Value::as_str).is_some_and(|s| !s.is_empty());
        if !has_type {
            return;
        }
        if v.get("kind").and_then(Value::as_str).is_some_and(|k| k == "List" || k.ends_with("List"))
            && let Some(Value::Array(items)) = v.get("items")
        {
            for i in items.clone() {
                collect(i, out);
            }
            return;
        }
        out.push(v);
    }
    for d in docs {
        collect(d, &mut out);
    }
    Ok(out)
}

/// Drops the metadata the server sets itself.
pub fn strip_server_fields(v: &mut Value) {
    if let Some(Value::Object(m)) = v.get_mut("metadata") {
        for k in SERVER_SET {
            m.shift_remove(*k);
        }
    }
}

/// Creates every object of `text` (missing namespaces are created). Returns how many.
pub fn seed_text(store: &StoreHandle, text: &str, origin: &Path) -> Result<usize, SeedError> {
    let objs = parse_documents(text).map_err(|message| SeedError::Parse { path: origin.to_path_buf(), message })?;
    let mut n = 0;
    for mut o in objs {
        strip_server_fields(&mut o);
        let what = format!(
            "{} {}",
            o.get("kind").and_then(Value::as_str).unwrap_or(""),
            o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("")
        );
        let err = |error: ApiError| SeedError::Object { path: origin.to_path_buf(), what: what.clone(), error };
        let res = store.store.resource_of(&o).map_err(err)?;
        if res.namespaced {
            let ns = o.pointer("/metadata/namespace").and_then(Value::as_str).filter(|s| !s.is_empty()).unwrap_or("default").to_string();
            if let Some(Value::Object(m)) = o.get_mut("metadata") {
                m.insert("namespace".into(), ns.clone().into());
            }
            store.ensure_namespace(&ns).map_err(err)?;
        }
        if res.group.is_empty() && res.plural == "namespaces" {
            let name = o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
            if store.get("namespaces", "", name).is_ok() {
                continue;
            }
        }
        store.create(o).map_err(err)?;
        n += 1;
    }
    Ok(n)
}

/// Loads every `*.yaml`, `*.yml` and `*.json` file of `dir` (sorted by name, not recursive).
pub fn seed_dir(store: &StoreHandle, dir: &Path) -> Result<usize, SeedError> {
    let io = |source| SeedError::Io { path: dir.to_path_buf(), source };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "yaml" | "yml" | "json"))
        })
        .collect();
    files.sort();
    let mut n = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|source| SeedError::Io { path: f.clone(), source })?;
        n += seed_text(store, &text, &f)?;
    }
    Ok(n)
}
