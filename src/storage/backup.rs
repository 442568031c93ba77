//! Backups and exports of release records: one plain Kubernetes YAML file per record, which
//! `kubectl create -f DIR` accepts and `releases restore --dir DIR` reads. Every verb that deletes or
//! replaces a record writes it here first, durably, so any change can be undone.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::Value;

use super::codec::DATA_KEY;
use super::objects::{NewObject, ObjectKind, RawObject};

/// The record as it would be written again: payload text, labels and type exactly as stored.
pub fn record_from_raw(raw: &RawObject) -> Option<NewObject> {
    let payload = String::from_utf8(raw.payload.clone()?).ok()?;
    Some(NewObject {
        kind: raw.info.kind,
        namespace: raw.info.namespace.clone(),
        name: raw.info.name.clone(),
        labels: raw.info.labels.clone(),
        secret_type: raw.info.secret_type.clone(),
        payload,
    })
}

/// File name of a record inside a backup directory (names are DNS subdomains: no `_`).
pub fn file_name(obj: &NewObject) -> String {
    let kind = match obj.kind {
        ObjectKind::Secret => "secret",
        ObjectKind::ConfigMap => "configmap",
    };
    format!("{}_{}_{}.yaml", obj.namespace, kind, obj.name)
}

/// Serialize a record as YAML `kubectl create -f` accepts.
pub fn to_yaml(obj: &NewObject) -> Result<String, std::io::Error> {
    serde_saphyr::to_string(&obj.to_json()).map_err(std::io::Error::other)
}

/// A directory of backed-up records.
#[derive(Debug, Clone)]
pub struct BackupDir {
    path: PathBuf,
}

/// Where backups go unless `--backup-dir` says otherwise: the user's cache directory.
pub fn default_backup_root() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("kubectl-werf").join("backups")
}

impl BackupDir {
    /// Use `explicit` as given, or a new timestamped directory `<cache>/kubectl-werf/backups/<time>-<verb>`.
    pub fn create(explicit: Option<&Path>, verb: &str) -> std::io::Result<BackupDir> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => {
                let stamp = crate::release::Time::now().to_rfc3339().unwrap_or_default().replace([':', '.'], "");
                default_backup_root().join(format!("{stamp}-{verb}-{}", std::process::id()))
            }
        };
        std::fs::create_dir_all(&path)?;
        Ok(BackupDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write one record and make it durable before returning: the caller deletes or replaces the
    /// original only after this succeeded. An existing equal file is kept; a different one is not
    /// overwritten (an earlier backup of another version stays), the new one gets a numbered name.
    pub fn write(&self, obj: &NewObject) -> std::io::Result<PathBuf> {
        let text = to_yaml(obj)?;
        let base = file_name(obj);
        let mut target = self.path.join(&base);
        let mut n = 1;
        while target.exists() {
            if std::fs::read_to_string(&target).is_ok_and(|existing| existing == text) {
                return Ok(target);
            }
            n += 1;
            target = self.path.join(base.replace(".yaml", &format!(".{n}.yaml")));
        }
        let tmp = self.path.join(format!(".{base}.tmp-{}", std::process::id()));
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &target)?;
        if let Ok(dir) = std::fs::File::open(&self.path) {
            let _ = dir.sync_all();
        }
        Ok(target)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct BackupReadError {
    pub file: String,
    pub reason: String,
}

/// Read every record file (`*.yaml`, `*.yml`, `*.json`) of a backup or export directory.
pub fn read_dir(dir: &Path) -> std::io::Result<Vec<Result<NewObject, BackupReadError>>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let shown = file.display().to_string();
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                out.push(Err(BackupReadError { file: shown, reason: e.to_string() }));
                continue;
            }
        };
        let objects = if file.extension().is_some_and(|e| e == "json") {
            crate::manifest::parse_json_objects(&text, true)
        } else {
            crate::manifest::parse_objects(&text, true)
        };
        for obj in objects {
            out.push(match obj {
                Ok(o) => record_from_value(&o.object).map_err(|reason| BackupReadError { file: shown.clone(), reason }),
                Err(e) => Err(BackupReadError { file: shown.clone(), reason: e.to_string() }),
            });
        }
    }
    Ok(out)
}

/// A record from its Kubernetes JSON form (Secret `data` is base64; ConfigMap `data` is text).
pub fn record_from_value(v: &Value) -> Result<NewObject, String> {
    let kind = match v.get("kind").and_then(Value::as_str) {
        Some("Secret") => ObjectKind::Secret,
        Some("ConfigMap") => ObjectKind::ConfigMap,
        other => return Err(format!("not a release record: kind {}", other.unwrap_or("<none>"))),
    };
    let meta = v.get("metadata").ok_or("missing metadata")?;
    let name = meta.get("name").and_then(Value::as_str).ok_or("missing metadata.name")?.to_string();
    let namespace = meta.get("namespace").and_then(Value::as_str).ok_or_else(|| format!("{name}: missing metadata.namespace"))?.to_string();
    let labels = meta
        .get("labels")
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
        .unwrap_or_default();
    let data = v.get("data").and_then(|d| d.get(DATA_KEY)).and_then(Value::as_str).ok_or_else(|| format!("{name}: no data.{DATA_KEY}"))?;
    let payload = match kind {
        ObjectKind::Secret => {
            let bytes = base64::engine::general_purpose::STANDARD.decode(data).map_err(|e| format!("{name}: data.{DATA_KEY}: {e}"))?;
            String::from_utf8(bytes).map_err(|_| format!("{name}: data.{DATA_KEY} is not release text"))?
        }
        ObjectKind::ConfigMap => data.to_string(),
    };
    let secret_type = v.get("type").and_then(Value::as_str).map(String::from);
    Ok(NewObject { kind, namespace, name, labels, secret_type, payload })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn sample(kind: ObjectKind) -> NewObject {
        NewObject {
            kind,
            namespace: "apps".into(),
            name: "sh.helm.release.v1.web.v3".into(),
            labels: BTreeMap::from([("owner".to_string(), "helm".to_string()), ("team".to_string(), "x".to_string())]),
            secret_type: (kind == ObjectKind::Secret).then(|| "helm.sh/release.v1".to_string()),
            payload: "H4sIAAAAAAAC/6tWSs7PS8tMBwAAAP//".into(),
        }
    }

    #[test]
    fn records_round_trip_through_a_backup_dir() {
        let dir = tempfile::tempdir().unwrap();
        let backup = BackupDir::create(Some(dir.path()), "test").unwrap();
        for kind in [ObjectKind::Secret, ObjectKind::ConfigMap] {
            let obj = sample(kind);
            let path = backup.write(&obj).unwrap();
            // Writing the same record again keeps one file.
            assert_eq!(backup.write(&obj).unwrap(), path);
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.contains("kind: ") && text.contains("namespace: apps"), "{text}");
        }
        let mut changed = sample(ObjectKind::Secret);
        changed.payload.push('A');
        let other = backup.write(&changed).unwrap();
        assert!(other.to_string_lossy().ends_with(".2.yaml"), "{other:?}");
        let read: Vec<NewObject> = read_dir(dir.path()).unwrap().into_iter().map(Result::unwrap).collect();
        assert_eq!(read.len(), 3);
        assert!(read.contains(&sample(ObjectKind::Secret)));
        assert!(read.contains(&sample(ObjectKind::ConfigMap)));
        assert!(read.contains(&changed));
    }

    #[test]
    fn unreadable_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.yaml"), "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\n").unwrap();
        let read = read_dir(dir.path()).unwrap();
        assert_eq!(read.len(), 1);
        let err = read[0].as_ref().unwrap_err();
        assert!(err.file.ends_with("bad.yaml") && err.reason.contains("Pod"), "{err}");
    }
}
