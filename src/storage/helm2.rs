//! Helm 2 (Tiller) release storage: ConfigMaps or Secrets named `<release>.v<revision>` in Tiller's
//! namespace, labelled `OWNER=TILLER`. Labels are advisory; the protobuf payload is the truth.

use std::collections::BTreeMap;

use super::drivers::Helm2Storage;
use crate::release::helm2::Release;

use super::codec::{self, DecodeLimits, HELM2_LIST_SELECTOR, LabelStamp, helm2_labels, helm2_object_name, parse_helm2_labels};
use super::helm3::{WriteError, now_unix};
use super::listing::{Decoded, Listing, RecordError, list_decoded};
use super::objects::{NewObject, ObjectInfo, ObjectKind, ObjectStore, RawObject};

#[derive(Debug, Clone)]
pub struct Helm2Record {
    pub object: ObjectInfo,
    pub release: Release,
}

impl Helm2Record {
    /// `helm2/configmap` or `helm2/secret`, as the STORAGE column shows it.
    pub fn storage_name(&self) -> &'static str {
        storage_name(self.object.kind)
    }
}

pub fn storage_name(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::ConfigMap => "helm2/configmap",
        ObjectKind::Secret => "helm2/secret",
    }
}

#[derive(Clone)]
pub struct Helm2Store {
    namespace: String,
    stores: Vec<ObjectStore>,
    limits: DecodeLimits,
}

fn label_warning(info: &ObjectInfo, release: &Release) -> Option<String> {
    let labels = parse_helm2_labels(&info.labels);
    let mut problems = Vec::new();
    match labels.version {
        None => problems.push("no VERSION label".to_string()),
        Some(v) if v != release.version => problems.push(format!("label VERSION={v} but the payload is revision {}", release.version)),
        _ => {}
    }
    if labels.name.as_deref() != Some(release.name.as_str()) {
        problems.push(format!("label NAME={} but the payload is release {:?}", labels.name.as_deref().unwrap_or("<none>"), release.name));
    }
    if let Some(s) = &labels.status
        && s != release.status_name()
    {
        problems.push(format!("label STATUS={s} but the payload says {}", release.status_name()));
    }
    if problems.is_empty() { None } else { Some(format!("{}: {}; using the payload", info.key(), problems.join(", "))) }
}

pub(crate) fn decode_record(raw: RawObject, limits: &DecodeLimits) -> Decoded<Helm2Record> {
    let payload = raw.payload.as_deref().ok_or_else(|| RecordError::new(&raw.info, codec::CodecError::MissingData))?;
    let release = codec::decode_helm2(payload, limits).map_err(|e| RecordError::new(&raw.info, e))?;
    let warning = label_warning(&raw.info, &release);
    Ok((Helm2Record { object: raw.info, release }, warning))
}

impl Helm2Store {
    pub fn new(client: kube::Client, namespace: &str, storage: Helm2Storage, limits: DecodeLimits) -> Self {
        let kinds: &[ObjectKind] = match storage {
            Helm2Storage::ConfigMap => &[ObjectKind::ConfigMap],
            Helm2Storage::Secret => &[ObjectKind::Secret],
            Helm2Storage::Auto => &[ObjectKind::ConfigMap, ObjectKind::Secret],
        };
        Helm2Store {
            namespace: namespace.to_string(),
            stores: kinds.iter().map(|k| ObjectStore::new(client.clone(), *k)).collect(),
            limits,
        }
    }

    /// Tiller's namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn store(&self, kind: ObjectKind) -> Option<&ObjectStore> {
        self.stores.iter().find(|s| s.kind() == kind)
    }

    /// Every Tiller record matching `selector` in every configured kind, decoded. A release whose
    /// records exist both as ConfigMaps and as Secrets is reported: two Tillers wrote it.
    pub async fn list(&self, selector: Option<&str>) -> Result<Listing<Helm2Record>, kube::Error> {
        let mut listing = Listing::default();
        for store in &self.stores {
            let limits = self.limits;
            let part =
                list_decoded(store, Some(&self.namespace), selector.unwrap_or(HELM2_LIST_SELECTOR), move |raw| decode_record(raw, &limits))
                    .await?;
            listing.extend(part);
        }
        let mut kinds_by_release: BTreeMap<&str, Vec<ObjectKind>> = BTreeMap::new();
        for r in &listing.records {
            let kinds = kinds_by_release.entry(r.release.name.as_str()).or_default();
            if !kinds.contains(&r.object.kind) {
                kinds.push(r.object.kind);
            }
        }
        let duplicated: Vec<String> = kinds_by_release
            .into_iter()
            .filter(|(_, kinds)| kinds.len() > 1)
            .map(|(name, _)| format!("Helm 2 release {name:?} is stored both as ConfigMaps and as Secrets in namespace {}", self.namespace))
            .collect();
        listing.warnings.extend(duplicated);
        Ok(listing)
    }

    /// Every revision of one release (all kinds), oldest first; the payload decides the name.
    pub async fn history(&self, name: &str) -> Result<Listing<Helm2Record>, kube::Error> {
        let selector = format!("NAME={name},{HELM2_LIST_SELECTOR}");
        let mut listing = self.list(Some(&selector)).await?;
        // Labels are advisory: records of this release whose NAME label is missing or different are
        // found by object name among the metadata, then fetched one by one.
        for store in &self.stores {
            for info in store.list_meta_all(Some(&self.namespace), HELM2_LIST_SELECTOR).await? {
                let named_here = codec::parse_helm2_object_name(&info.name).is_some_and(|(n, _)| n == name);
                let labelled_here = parse_helm2_labels(&info.labels).name.as_deref() == Some(name);
                if named_here
                    && !labelled_here
                    && let Some(raw) = store.get(&self.namespace, &info.name).await?
                {
                    match decode_record(raw, &self.limits) {
                        Ok((record, warning)) => {
                            listing.records.push(record);
                            listing.warnings.extend(warning);
                        }
                        Err(e) => listing.errors.push(e),
                    }
                }
            }
        }
        let (mine, others): (Vec<_>, Vec<_>) = listing.records.drain(..).partition(|r| r.release.name == name);
        for r in others {
            listing.warnings.push(format!("{}: labelled as {name} but holds release {:?}; ignored", r.object.key(), r.release.name));
        }
        listing.records = mine;
        listing.records.sort_by_key(|r| (r.release.version, r.object.kind));
        Ok(listing)
    }

    pub async fn get(&self, kind: ObjectKind, name: &str, revision: i32) -> Result<Option<Result<Helm2Record, RecordError>>, kube::Error> {
        let Some(store) = self.store(kind) else { return Ok(None) };
        Ok(store
            .get(&self.namespace, &helm2_object_name(name, revision))
            .await?
            .map(|raw| decode_record(raw, &self.limits).map(|(r, _)| r)))
    }

    /// A record object exactly as stored (for backups before a change).
    pub async fn get_raw(&self, kind: ObjectKind, object: &str) -> Result<Option<RawObject>, kube::Error> {
        ObjectStore::new(self.stores[0].client(), kind).get(&self.namespace, object).await
    }

    /// The object Tiller would write for `release`.
    pub fn object_for(&self, kind: ObjectKind, release: &Release, stamp: LabelStamp) -> NewObject {
        NewObject {
            kind,
            namespace: self.namespace.clone(),
            name: helm2_object_name(&release.name, release.version),
            labels: helm2_labels(release, stamp),
            secret_type: None,
            payload: codec::encode_helm2(release),
        }
    }

    /// Create a record (tests and tooling); never overwrites.
    pub async fn create(&self, kind: ObjectKind, release: &Release) -> Result<ObjectInfo, WriteError> {
        let object = self.object_for(kind, release, LabelStamp::Created(now_unix()));
        let store = self.store(kind).cloned().unwrap_or_else(|| ObjectStore::new(self.stores[0].client(), kind));
        store.create(&object).await.map_err(|source| WriteError::Api { object: format!("{}/{}", object.namespace, object.name), source })
    }
}
