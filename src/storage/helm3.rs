//! Helm 3/4 release storage ("release v1"): Secrets of type `helm.sh/release.v1` or ConfigMaps named
//! `sh.helm.release.v1.<release>.v<revision>` in the release's own namespace. One driver over both
//! kinds, as Helm's `pkg/storage/driver` keeps one interface over several.

use std::collections::BTreeMap;

use super::drivers::Helm3Driver;
use crate::release::helm3::{Release, ReleaseSummary};

use super::codec::{
    self, DecodeLimits, HELM3_LIST_SELECTOR, HELM3_SECRET_TYPE, LabelStamp, helm3_custom_labels, helm3_history_selector, helm3_labels,
    helm3_object_name, parse_helm3_labels,
};
use super::listing::{Decoded, Listing, RecordError, list_decoded};
use super::objects::{NewObject, ObjectInfo, ObjectKind, ObjectStore, RawObject};

/// A decoded Helm 3 record and the object it came from.
#[derive(Debug, Clone)]
pub struct Helm3Record {
    pub object: ObjectInfo,
    pub release: Release,
}

/// A record decoded only as far as `helm list` needs.
#[derive(Debug, Clone)]
pub struct Helm3Summary {
    pub object: ObjectInfo,
    pub summary: ReleaseSummary,
}

#[derive(Clone)]
pub struct Helm3Store {
    objects: ObjectStore,
    limits: DecodeLimits,
}

impl Helm3Driver {
    pub fn object_kind(self) -> ObjectKind {
        match self {
            Helm3Driver::Secret => ObjectKind::Secret,
            Helm3Driver::ConfigMap => ObjectKind::ConfigMap,
        }
    }
}

/// Label/payload disagreements are reported but the payload wins.
fn label_warning(info: &ObjectInfo, name: &str, version: i64, status: &str) -> Option<String> {
    let labels = parse_helm3_labels(&info.labels);
    let mut problems = Vec::new();
    match labels.version {
        None => problems.push("no version label".to_string()),
        Some(v) if v != version => problems.push(format!("label version={v} but the payload is revision {version}")),
        _ => {}
    }
    if labels.name.as_deref() != Some(name) {
        problems.push(format!("label name={} but the payload is release {name:?}", labels.name.as_deref().unwrap_or("<none>")));
    }
    if let Some(s) = &labels.status
        && s.as_str() != status
    {
        problems.push(format!("label status={} but the payload says {status}", s.as_str()));
    }
    if problems.is_empty() { None } else { Some(format!("{}: {}; using the payload", info.key(), problems.join(", "))) }
}

fn decode_release(raw: RawObject, limits: &DecodeLimits) -> Decoded<Helm3Record> {
    let payload = raw.payload.as_deref().ok_or_else(|| RecordError::new(&raw.info, codec::CodecError::MissingData))?;
    let mut release = codec::decode_helm3(payload, limits).map_err(|e| RecordError::new(&raw.info, e))?;
    release.labels = helm3_custom_labels(&raw.info.labels);
    let warning = label_warning(&raw.info, &release.name, release.version, release.info.status.as_str());
    Ok((Helm3Record { object: raw.info, release }, warning))
}

fn decode_summary(raw: RawObject, limits: &DecodeLimits) -> Decoded<Helm3Summary> {
    let payload = raw.payload.as_deref().ok_or_else(|| RecordError::new(&raw.info, codec::CodecError::MissingData))?;
    let mut summary = codec::decode_helm3_summary(payload, limits).map_err(|e| RecordError::new(&raw.info, e))?;
    summary.labels = helm3_custom_labels(&raw.info.labels);
    let warning = label_warning(&raw.info, &summary.name, summary.version, summary.status.as_str());
    Ok((Helm3Summary { object: raw.info, summary }, warning))
}

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0}")]
    Encode(#[from] codec::CodecError),
    #[error("{object}: {}", crate::error::describe_kube_error(source))]
    Api { object: String, source: kube::Error },
}

impl WriteError {
    /// 409 AlreadyExists or Conflict: someone else wrote first.
    pub fn is_conflict(&self) -> bool {
        matches!(self, WriteError::Api { source: kube::Error::Api(s), .. } if s.code == 409)
    }

    pub fn status_code(&self) -> Option<u16> {
        match self {
            WriteError::Api { source: kube::Error::Api(s), .. } => Some(s.code),
            _ => None,
        }
    }
}

impl Helm3Store {
    pub fn new(client: kube::Client, driver: Helm3Driver, limits: DecodeLimits) -> Self {
        Helm3Store { objects: ObjectStore::new(client, driver.object_kind()), limits }
    }

    pub fn kind(&self) -> ObjectKind {
        self.objects.kind()
    }

    /// `secret` or `configmap`, as the STORAGE column shows it.
    pub fn storage_name(&self) -> &'static str {
        match self.objects.kind() {
            ObjectKind::Secret => "secret",
            ObjectKind::ConfigMap => "configmap",
        }
    }

    /// Metadata of every Helm 3 record matching `selector` (default `owner=helm`), no payloads.
    pub async fn list_meta(&self, ns: Option<&str>, selector: Option<&str>) -> Result<Vec<ObjectInfo>, kube::Error> {
        self.objects.list_meta_all(ns, selector.unwrap_or(HELM3_LIST_SELECTOR)).await
    }

    /// Every record matching `selector`, fully decoded.
    pub async fn list(&self, ns: Option<&str>, selector: Option<&str>) -> Result<Listing<Helm3Record>, kube::Error> {
        let limits = self.limits;
        list_decoded(&self.objects, ns, selector.unwrap_or(HELM3_LIST_SELECTOR), move |raw| decode_release(raw, &limits)).await
    }

    /// Every record matching `selector`, decoded only as far as a listing needs.
    pub async fn list_summaries(&self, ns: Option<&str>, selector: Option<&str>) -> Result<Listing<Helm3Summary>, kube::Error> {
        let limits = self.limits;
        list_decoded(&self.objects, ns, selector.unwrap_or(HELM3_LIST_SELECTOR), move |raw| decode_summary(raw, &limits)).await
    }

    /// Every revision of one release, oldest first. Labels select candidates; a payload naming
    /// another release is left out (and reported).
    pub async fn history(&self, ns: &str, name: &str) -> Result<Listing<Helm3Record>, kube::Error> {
        let mut listing = self.list(Some(ns), Some(&helm3_history_selector(name))).await?;
        let (mine, others): (Vec<_>, Vec<_>) = listing.records.drain(..).partition(|r| r.release.name == name);
        for r in others {
            listing.warnings.push(format!("{}: labelled as {name} but holds release {:?}; ignored", r.object.key(), r.release.name));
        }
        listing.records = mine;
        listing.records.sort_by_key(|r| r.release.version);
        Ok(listing)
    }

    /// One revision by its object name; `Ok(None)` when it does not exist.
    pub async fn get(&self, ns: &str, name: &str, revision: i64) -> Result<Option<Result<Helm3Record, RecordError>>, kube::Error> {
        self.get_object(ns, &helm3_object_name(name, revision)).await
    }

    pub async fn get_object(&self, ns: &str, object: &str) -> Result<Option<Result<Helm3Record, RecordError>>, kube::Error> {
        Ok(self.objects.get(ns, object).await?.map(|raw| decode_release(raw, &self.limits).map(|(r, _)| r)))
    }

    /// The record object exactly as stored (for backups before a change).
    pub async fn get_raw(&self, ns: &str, object: &str) -> Result<Option<RawObject>, kube::Error> {
        self.objects.get(ns, object).await
    }

    pub async fn get_summary(&self, ns: &str, object: &str) -> Result<Option<Result<Helm3Summary, RecordError>>, kube::Error> {
        Ok(self.objects.get(ns, object).await?.map(|raw| decode_summary(raw, &self.limits).map(|(r, _)| r)))
    }

    /// The object Helm would write for `release` (labels stamped `createdAt` or `modifiedAt` now).
    pub fn object_for(&self, release: &Release, stamp: LabelStamp) -> Result<NewObject, codec::CodecError> {
        Ok(NewObject {
            kind: self.objects.kind(),
            namespace: release.namespace.clone(),
            name: helm3_object_name(&release.name, release.version),
            labels: helm3_labels(release, stamp),
            secret_type: (self.objects.kind() == ObjectKind::Secret).then(|| HELM3_SECRET_TYPE.to_string()),
            payload: codec::encode_helm3(release)?,
        })
    }

    /// Create a new revision record in the release's namespace (tests and tooling; commands write through
    /// the settled writes, `ObjectStore::*_settled`). Never overwrites: an existing object of that name is a
    /// 409 for the caller to handle.
    pub async fn create(&self, release: &Release) -> Result<ObjectInfo, WriteError> {
        let object = self.object_for(release, LabelStamp::Created(now_unix()))?;
        self.create_object(&object).await
    }

    pub async fn create_object(&self, object: &NewObject) -> Result<ObjectInfo, WriteError> {
        self.objects
            .create(object)
            .await
            .map_err(|source| WriteError::Api { object: format!("{}/{}", object.namespace, object.name), source })
    }

    /// The object that rewrites `existing` with `release`: where it is, under its own name, even if it
    /// was copied or moved there.
    pub fn replacement_for(&self, existing: &ObjectInfo, release: &Release) -> Result<NewObject, codec::CodecError> {
        let mut object = self.object_for(release, LabelStamp::Modified(now_unix()))?;
        object.namespace = existing.namespace.clone();
        object.name = existing.name.clone();
        Ok(object)
    }

    /// The object store the records live in (for the settled writes, `ObjectStore::*_settled`).
    pub fn objects(&self) -> &ObjectStore {
        &self.objects
    }

    /// The limits payloads are decoded under (the settled writes compare records with them).
    pub fn limits(&self) -> DecodeLimits {
        self.limits
    }

    /// Rewrite an existing record, only if it is still at `existing.resource_version` (tests and tooling).
    pub async fn update(&self, existing: &ObjectInfo, release: &Release) -> Result<ObjectInfo, WriteError> {
        let object = self.replacement_for(existing, release)?;
        let rv = existing.resource_version.clone().unwrap_or_default();
        self.objects.replace(&object, &rv).await.map_err(|source| WriteError::Api { object: existing.key(), source })
    }

    /// Delete a record, only if it is still at the version that was read (tests and tooling).
    pub async fn delete(&self, existing: &ObjectInfo) -> Result<(), WriteError> {
        self.objects
            .delete(&existing.namespace, &existing.name, existing.resource_version.as_deref())
            .await
            .map_err(|source| WriteError::Api { object: existing.key(), source })
    }
}

pub fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Latest revision per release among metadata-only records, by their labels (for selective fetches).
/// Records without a parseable `version` label are returned separately: only their payload can say.
pub fn latest_by_labels(infos: &[ObjectInfo]) -> (BTreeMap<(String, String), ObjectInfo>, Vec<ObjectInfo>) {
    let mut latest: BTreeMap<(String, String), ObjectInfo> = BTreeMap::new();
    let mut unlabelled = Vec::new();
    for info in infos {
        let labels = parse_helm3_labels(&info.labels);
        match (labels.name, labels.version) {
            (Some(name), Some(version)) => {
                let key = (info.namespace.clone(), name);
                let newer =
                    latest.get(&key).map(|cur| parse_helm3_labels(&cur.labels).version.unwrap_or(i64::MIN) < version).unwrap_or(true);
                if newer {
                    latest.insert(key, info.clone());
                }
            }
            _ => unlabelled.push(info.clone()),
        }
    }
    (latest, unlabelled)
}
