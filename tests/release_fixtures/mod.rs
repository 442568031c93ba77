//! Loads the release records in `fixtures/` (Kubernetes objects, `kind: List` or single) for tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::Value;

/// One stored release record as the drivers would see it.
#[derive(Clone, Debug)]
pub struct Record {
    pub file: String,
    /// `ConfigMap` or `Secret`.
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub secret_type: Option<String>,
    /// The codec input: the base64 text (a Secret's Kubernetes base64 layer removed).
    pub payload: Vec<u8>,
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn object_to_record(file: &str, obj: &Value) -> Option<Record> {
    let kind = obj.get("kind")?.as_str()?.to_owned();
    if kind != "ConfigMap" && kind != "Secret" {
        return None;
    }
    let meta = obj.get("metadata")?;
    let data = obj.get("data")?.get("release")?.as_str()?;
    let payload = if kind == "Secret" {
        base64::engine::general_purpose::STANDARD.decode(data).expect("secret data is base64")
    } else {
        data.as_bytes().to_vec()
    };
    let labels = meta
        .get("labels")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().expect("label value").to_owned())).collect())
        .unwrap_or_default();
    Some(Record {
        file: file.to_owned(),
        kind,
        namespace: meta.get("namespace").and_then(Value::as_str).unwrap_or_default().to_owned(),
        name: meta.get("name")?.as_str()?.to_owned(),
        labels,
        secret_type: obj.get("type").and_then(Value::as_str).map(str::to_owned),
        payload,
    })
}

/// Every ConfigMap/Secret record in `fixtures/<sub>/` (YAML and JSON objects; helm's outputs skipped).
pub fn load(sub: &str) -> Vec<Record> {
    let dir = fixtures_dir().join(sub);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p).unwrap();
        let file = p.file_name().unwrap().to_string_lossy().into_owned();
        let doc: Value = if file.ends_with(".json") {
            serde_json::from_str(&text).unwrap()
        } else {
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
        };
        if doc.get("apiVersion").is_none() || doc.get("kind").is_none() {
            continue;
        }
        if doc["kind"] == "List" {
            for item in doc["items"].as_array().unwrap() {
                out.extend(object_to_record(&file, item));
            }
        } else {
            out.extend(object_to_record(&file, &doc));
        }
    }
    out
}

/// Every Helm 2 record: the ones real Tiller wrote and the synthetic multi-revision histories.
pub fn helm2_records() -> Vec<Record> {
    let mut recs = load("helm2");
    recs.extend(load("helm2-synthetic"));
    recs
}

/// Decodes a Helm 2 record; `None` for the one fixture damaged on purpose (`broken.v1`), after checking
/// it fails as Go's gzip reader does. Any other failure panics with the record's name.
pub fn decode_helm2_unless_broken(r: &Record) -> Option<kubectl_werf::release::helm2::Release> {
    use kubectl_werf::storage::codec::{self, CodecError, DecodeLimits};
    let res = codec::decode_helm2(&r.payload, &DecodeLimits::default());
    if r.name == "broken.v1" {
        let e = res.unwrap_err();
        assert!(matches!(e, CodecError::Gzip(_)), "{e:?}");
        assert!(e.to_string().starts_with("gzip: "), "{e}");
        return None;
    }
    Some(res.unwrap_or_else(|e| panic!("{}/{}: {e}", r.file, r.name)))
}
