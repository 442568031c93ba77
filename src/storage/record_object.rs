//! A stored record object as every layer sees it, whichever kind holds it: its identity and labels
//! (`ObjectInfo`), its payload (`RawObject`), and how one is read out of a Secret or a ConfigMap. A
//! leaf of the storage layer: the LIST decoders (`rawlist`, `protobuf`) and the object store build on it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::codec::DATA_KEY;

/// Which Kubernetes kind holds a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectKind {
    Secret,
    ConfigMap,
}

impl ObjectKind {
    pub fn resource(self) -> &'static str {
        match self {
            ObjectKind::Secret => "secrets",
            ObjectKind::ConfigMap => "configmaps",
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            ObjectKind::Secret => "Secret",
            ObjectKind::ConfigMap => "ConfigMap",
        }
    }
}

/// Identity and labels of a stored record object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub kind: ObjectKind,
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub resource_version: Option<String>,
    pub uid: Option<String>,
    pub creation_timestamp: Option<String>,
    /// A Secret's `type` (Helm 3 writes `helm.sh/release.v1`; Tiller writes none).
    pub secret_type: Option<String>,
}

impl ObjectInfo {
    pub(super) fn from_meta(kind: ObjectKind, meta: ObjectMeta, fallback_namespace: Option<&str>, secret_type: Option<String>) -> Self {
        ObjectInfo {
            kind,
            namespace: meta.namespace.or_else(|| fallback_namespace.map(String::from)).unwrap_or_default(),
            name: meta.name.unwrap_or_default(),
            labels: meta.labels.unwrap_or_default(),
            resource_version: meta.resource_version,
            uid: meta.uid,
            creation_timestamp: meta.creation_timestamp.map(|t| t.0.to_string()),
            secret_type,
        }
    }

    /// `namespace/name`, how errors name a record.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// A record object with its payload (the base64 text under `data.release`, if present).
#[derive(Debug, Clone)]
pub struct RawObject {
    pub info: ObjectInfo,
    pub payload: Option<Vec<u8>>,
}

/// What the API server holds against a Secret's or ConfigMap's data: at most 1,048,576 bytes.
pub const OBJECT_DATA_LIMIT: usize = 1_048_576;

impl RawObject {
    /// Bytes the API server counts against `OBJECT_DATA_LIMIT` for this record: key plus value of
    /// `data.release` (a Secret's value decoded from its JSON base64, i.e. helm's base64 text; a
    /// ConfigMap's value as is). Helm writes no other data key, so others are not counted.
    pub fn stored_bytes(&self) -> usize {
        self.payload.as_ref().map_or(0, |p| super::codec::DATA_KEY.len() + p.len())
    }
}

/// An answer whose items could not be decoded: not worth another try.
pub fn malformed_list(what: String) -> kube::Error {
    kube::Error::SerdeError(<serde_json::Error as serde::de::Error>::custom(format!("malformed LIST answer: {what}")))
}

pub(super) fn secret_raw(s: Secret, ns: Option<&str>) -> RawObject {
    let payload = s.data.and_then(|mut d| d.remove(DATA_KEY)).map(|b| b.0);
    RawObject { info: ObjectInfo::from_meta(ObjectKind::Secret, s.metadata, ns, s.type_), payload }
}

pub(super) fn configmap_raw(c: ConfigMap, ns: Option<&str>) -> RawObject {
    let payload = c.data.and_then(|mut d| d.remove(DATA_KEY)).map(String::into_bytes);
    RawObject { info: ObjectInfo::from_meta(ObjectKind::ConfigMap, c.metadata, ns, None), payload }
}
