//! doctor's read of release storage: one pass that lists the metadata (labels) of every record and
//! decodes payloads only where a check needs them.
//!
//! Per storage (Helm 3 Secrets and ConfigMaps, Tiller's ConfigMaps and Secrets) two LISTs go out at
//! once, as `releases list` sends them: the metadata of every record (pages of 5,000), and the payloads
//! of the records not labelled superseded (pages of 250, each decoded off the async threads while the
//! next is on the wire). In a healthy store the second brings exactly what the checks read: each
//! release's latest revision, a deployed one under a failed or pending latest, pending ones. Records
//! it did not bring but a check needs (a latest labelled superseded, records whose labels are missing
//! or disagree with their object name) are fetched with GETs, 16 at a time. Storages beside helm's
//! default are first asked of the watch cache (`RawLister::any_in_cache`) and skipped when empty.
//!
//! Sizes: a record's stored bytes are known for every payload read. The growth between revisions needs
//! the sizes of the others, so the whole history of a release is read only when its latest record
//! holds at least half of the object limit: below that, latest + growth can exceed the limit only
//! after a revision that later shrank by more than half the limit, which this pass does not look for
//! (`releases size` reads every revision).

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;

use super::super::collect::Generation;
use super::super::view;
use crate::storage::codec::{DecodeLimits, HELM2_LIST_SELECTOR, HELM3_LIST_SELECTOR};
use crate::storage::objects::{Cursor, ObjectInfo, ObjectKind, ObjectStore, RawObject};
use crate::storage::record_object::OBJECT_DATA_LIMIT;
use crate::storage::texts::{self, ReleaseTexts};

/// Objects per page of the payload LIST.
pub const PAYLOAD_PAGE: u32 = 250;
/// Objects per page of the metadata LIST.
pub const META_PAGE: u32 = 5000;
/// GETs in flight at once.
pub const FETCH_CONCURRENCY: usize = 16;
/// A latest record at least this big has its whole history's sizes read (see the module notes).
pub const SIZE_HISTORY_FROM: usize = OBJECT_DATA_LIMIT / 2;

/// One storage to read.
#[derive(Clone)]
pub struct Source {
    pub store: ObjectStore,
    /// A namespace, or `None` for every namespace.
    pub scope: Option<String>,
    pub generation: Generation,
    /// Ask the watch cache first whether this storage holds any record.
    pub probe: bool,
    pub limits: DecodeLimits,
    /// Only releases of these names (empty: every release).
    pub names: Vec<String>,
}

/// One stored record.
#[derive(Debug, Clone)]
pub struct Rec {
    pub info: ObjectInfo,
    /// From the object name (else the labels).
    pub revision: i64,
    /// Bytes the server counts against the object limit, when the payload was read.
    pub bytes: Option<usize>,
    /// The payload, when it was read: decoded, or why it could not be.
    pub decoded: Option<Result<ReleaseTexts, String>>,
}

impl Rec {
    /// The status label in Helm 3's words.
    pub fn label_status(&self, generation: Generation) -> Option<String> {
        status_label(generation, &self.info)
    }

    /// The payload's status when decoded, else the label's.
    pub fn status(&self, generation: Generation) -> Option<String> {
        match &self.decoded {
            Some(Ok(t)) => Some(t.status.clone()),
            _ => self.label_status(generation),
        }
    }

    pub fn texts(&self) -> Option<&ReleaseTexts> {
        self.decoded.as_ref().and_then(|d| d.as_ref().ok())
    }
}

/// Every record of one release in one storage.
#[derive(Debug, Clone)]
pub struct StoredRelease {
    pub generation: Generation,
    pub kind: ObjectKind,
    /// Namespace of the record objects (Tiller's namespace for Helm 2).
    pub object_namespace: String,
    pub name: String,
    pub records: BTreeMap<i64, Rec>,
}

impl StoredRelease {
    /// `secret`, `configmap`, `helm2/configmap`, `helm2/secret`.
    pub fn storage(&self) -> &'static str {
        match (self.generation, self.kind) {
            (Generation::Helm3, ObjectKind::Secret) => "secret",
            (Generation::Helm3, ObjectKind::ConfigMap) => "configmap",
            (Generation::Helm2, k) => crate::storage::helm2::storage_name(k),
        }
    }

    /// The release namespace: the records' for Helm 3 (helm reads storage by namespace), the newest
    /// decoded payload's for Helm 2 (`?` when none decodes).
    pub fn release_namespace(&self) -> String {
        match self.generation {
            Generation::Helm3 => self.object_namespace.clone(),
            Generation::Helm2 => {
                self.records.values().rev().find_map(|r| r.texts().map(|t| t.namespace.clone())).unwrap_or_else(|| "?".into())
            }
        }
    }

    pub fn latest(&self) -> Option<&Rec> {
        self.records.values().next_back()
    }

    /// The newest revision whose status (payload, else label) is deployed.
    pub fn last_deployed(&self) -> Option<&Rec> {
        self.records.values().rev().find(|r| r.status(self.generation).as_deref() == Some("deployed"))
    }
}

/// What one storage held.
#[derive(Debug, Default)]
pub struct SourceRead {
    pub releases: Vec<StoredRelease>,
    /// Records listed.
    pub records: usize,
}

fn status_label(generation: Generation, info: &ObjectInfo) -> Option<String> {
    match generation {
        Generation::Helm3 => info.labels.get("status").cloned(),
        Generation::Helm2 => info.labels.get("STATUS").map(|s| match crate::release::helm2::status_code_from_name(s) {
            Some(c) => view::helm2_status(c as i32).as_str().to_string(),
            None => s.to_ascii_lowercase(),
        }),
    }
}

// ---- decoding only what the checks need ----

/// Decode the parts of a payload the checks read (never the chart).
pub fn decode_texts(generation: Generation, payload: &[u8], limits: &DecodeLimits) -> Result<ReleaseTexts, String> {
    match generation {
        Generation::Helm3 => texts::helm3_texts(payload, limits),
        Generation::Helm2 => texts::helm2_texts(payload, limits),
    }
    .map_err(|e| e.to_string())
}

type Read = (ObjectInfo, usize, Result<ReleaseTexts, String>);

fn read_raw(generation: Generation, raw: RawObject, limits: &DecodeLimits) -> Read {
    let bytes = raw.stored_bytes();
    let decoded = match raw.payload.as_deref() {
        Some(p) => decode_texts(generation, p, limits),
        None => Err("no data.release".to_string()),
    };
    (raw.info, bytes, decoded)
}

impl Source {
    fn base_selector(&self) -> String {
        let (base, name_key) = match self.generation {
            Generation::Helm3 => (HELM3_LIST_SELECTOR, "name"),
            Generation::Helm2 => (HELM2_LIST_SELECTOR, "NAME"),
        };
        match self.names.as_slice() {
            [] => base.to_string(),
            [one] => format!("{name_key}={one},{base}"),
            many => format!("{name_key} in ({}),{base}", many.join(",")),
        }
    }

    fn not_superseded(&self) -> String {
        match self.generation {
            Generation::Helm3 => format!("{},status!=superseded", self.base_selector()),
            Generation::Helm2 => format!("{},STATUS!=SUPERSEDED", self.base_selector()),
        }
    }

    /// Every record's metadata.
    async fn list_meta(&self) -> Result<Vec<ObjectInfo>, kube::Error> {
        let selector = self.base_selector();
        let mut out = Vec::new();
        let mut cursor: Option<Cursor> = None;
        loop {
            let page = self.store.list_meta_page(self.scope.as_deref(), &selector, META_PAGE, cursor.as_ref()).await?;
            out.extend(page.items);
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// The records not labelled superseded, decoded page by page while the next page is on the wire.
    async fn list_payloads(&self) -> Result<Vec<Read>, kube::Error> {
        let selector = self.not_superseded();
        let mut out = Vec::new();
        let mut cursor: Option<Cursor> = None;
        let mut pending: Option<tokio::task::JoinHandle<Vec<Read>>> = None;
        loop {
            let page = self.store.list_page(self.scope.as_deref(), &selector, PAYLOAD_PAGE, cursor.as_ref()).await?;
            if let Some(done) = pending.take() {
                out.extend(join(done).await);
            }
            let (generation, limits) = (self.generation, self.limits);
            let items = page.items;
            pending = Some(tokio::task::spawn_blocking(move || items.into_iter().map(|raw| read_raw(generation, raw, &limits)).collect()));
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        if let Some(done) = pending.take() {
            out.extend(join(done).await);
        }
        Ok(out)
    }

    /// GET and read these records, `FETCH_CONCURRENCY` at a time; a record deleted meanwhile is left out.
    async fn fetch(&self, infos: Vec<ObjectInfo>) -> Result<Vec<Read>, kube::Error> {
        let results: Vec<Result<Option<Read>, kube::Error>> = futures::stream::iter(infos)
            .map(|info| {
                let store = self.store.clone();
                let (generation, limits) = (self.generation, self.limits);
                async move {
                    let raw = store.get(&info.namespace, &info.name).await?;
                    Ok(match raw {
                        Some(raw) => {
                            let task = tokio::task::spawn_blocking(move || read_raw(generation, raw, &limits));
                            Some(task.await.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())))
                        }
                        None => None,
                    })
                }
            })
            .buffer_unordered(FETCH_CONCURRENCY)
            .collect()
            .await;
        let mut out = Vec::new();
        for r in results {
            out.extend(r?);
        }
        Ok(out)
    }

    /// Read this storage: the metadata of every record, the payloads the checks need.
    pub async fn read(&self) -> Result<SourceRead, kube::Error> {
        if self.probe && !self.store.lister().any_in_cache(self.scope.as_deref(), &self.base_selector()).await? {
            return Ok(SourceRead::default());
        }
        let (metas, payloads) = futures::future::join(self.list_meta(), self.list_payloads()).await;
        let (metas, payloads) = (metas?, payloads?);
        let listed = metas.len();

        // Group by (object namespace, release) from the object name, else the labels.
        let mut groups: BTreeMap<(String, String), BTreeMap<i64, Rec>> = BTreeMap::new();
        let mut strays: Vec<ObjectInfo> = Vec::new();
        let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
        let payload_infos = payloads.iter().map(|(i, _, _)| i.clone());
        // A record created between the two LISTs may be in either.
        for info in metas.into_iter().chain(payload_infos) {
            if !seen.insert((info.namespace.clone(), info.name.clone())) {
                continue;
            }
            match self.generation.name_key(&info.name).or_else(|| self.generation.label_key(&info)) {
                Some((name, revision)) => {
                    groups
                        .entry((info.namespace.clone(), name))
                        .or_default()
                        .insert(revision, Rec { info, revision, bytes: None, decoded: None });
                }
                None => strays.push(info),
            }
        }
        let mut by_object: BTreeMap<(String, String), Read> =
            payloads.into_iter().map(|r| ((r.0.namespace.clone(), r.0.name.clone()), r)).collect();
        let absorb = |rec: &mut Rec, by_object: &mut BTreeMap<(String, String), Read>| {
            if let Some((_, b, d)) = by_object.remove(&(rec.info.namespace.clone(), rec.info.name.clone())) {
                rec.bytes = Some(b);
                rec.decoded = Some(d);
            }
        };
        for records in groups.values_mut() {
            for rec in records.values_mut() {
                absorb(rec, &mut by_object);
            }
        }

        // Records a check needs that the payload LIST did not bring.
        let mut wanted: Vec<ObjectInfo> = strays;
        for ((_, name), records) in &groups {
            let latest = records.keys().next_back().copied();
            let deployed =
                records.values().rev().find(|r| r.label_status(self.generation).as_deref() == Some("deployed")).map(|r| r.revision);
            for rec in records.values() {
                if rec.decoded.is_some() {
                    continue;
                }
                let status = rec.label_status(self.generation);
                let labels_agree = self.generation.label_key(&rec.info).is_some_and(|(n, v)| n == *name && v == rec.revision);
                let needed = Some(rec.revision) == latest
                    || Some(rec.revision) == deployed
                    || status.as_deref().is_none_or(|s| s.starts_with("pending"))
                    || !labels_agree;
                if needed {
                    wanted.push(rec.info.clone());
                }
            }
        }
        let mut fetched = self.fetch(wanted).await?;
        // Sizes of the whole history where the latest record is big (see the module notes).
        let mut sized: Vec<ObjectInfo> = Vec::new();
        {
            let fresh: BTreeMap<(String, String), usize> =
                fetched.iter().map(|(i, b, _)| ((i.namespace.clone(), i.name.clone()), *b)).collect();
            for records in groups.values() {
                let Some(latest) = records.values().next_back() else { continue };
                let bytes = latest.bytes.or_else(|| fresh.get(&(latest.info.namespace.clone(), latest.info.name.clone())).copied());
                if bytes.is_some_and(|b| b >= SIZE_HISTORY_FROM) {
                    sized.extend(
                        records
                            .values()
                            .filter(|r| r.bytes.is_none() && !fresh.contains_key(&(r.info.namespace.clone(), r.info.name.clone())))
                            .map(|r| r.info.clone()),
                    );
                }
            }
        }
        fetched.extend(self.fetch(sized).await?);
        for read in fetched {
            by_object.insert((read.0.namespace.clone(), read.0.name.clone()), read);
        }
        for records in groups.values_mut() {
            for rec in records.values_mut() {
                absorb(rec, &mut by_object);
            }
        }
        // Strays: filed under their payload's name and revision, else under their object name.
        let kind = self.store.kind();
        let mut out: BTreeMap<(String, String), StoredRelease> = groups
            .into_iter()
            .map(|((ns, name), records)| {
                let r = StoredRelease { generation: self.generation, kind, object_namespace: ns.clone(), name: name.clone(), records };
                ((ns, name), r)
            })
            .collect();
        for (info, bytes, decoded) in by_object.into_values() {
            let (name, revision) = match &decoded {
                Ok(t) => (t.name.clone(), t.revision),
                Err(_) => (info.labels.get("name").or_else(|| info.labels.get("NAME")).cloned().unwrap_or_else(|| info.name.clone()), 0),
            };
            let ns = info.namespace.clone();
            let entry = out.entry((ns.clone(), name.clone())).or_insert_with(|| StoredRelease {
                generation: self.generation,
                kind,
                object_namespace: ns,
                name,
                records: BTreeMap::new(),
            });
            entry.records.entry(revision).or_insert(Rec { info, revision, bytes: Some(bytes), decoded: Some(decoded) });
        }
        Ok(SourceRead { releases: out.into_values().collect(), records: listed })
    }
}

async fn join(handle: tokio::task::JoinHandle<Vec<Read>>) -> Vec<Read> {
    handle.await.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}
