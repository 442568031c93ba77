//! Fetching only the records an answer needs.
//!
//! `helm list -A` LISTs every payload of every revision and decodes them all. Here two LISTs go out at
//! once, both asking for protobuf: the payloads of the records whose status label is not superseded
//! (in a healthy store: each release's latest, plus a deployed one under a failed or pending latest),
//! decoded as summaries page by page while the next page is on the wire, and the metadata of every
//! record, whose labels say which revision is each release's latest. A release whose latest record the
//! first LIST did not bring (its label says superseded: after a failed rollback, `unlock --to
//! superseded`, a hand edit) has that one record fetched with a GET. Labels are checked against the
//! object name before they are trusted, and against the payload after: a record whose labels are
//! missing or disagree is decoded anyway, and a release whose latest turns out damaged or mislabelled
//! has all its records decoded, so the answer stays Helm's.
//!
//! Storages beside helm's default (the ConfigMap driver, Tiller's records) are usually empty, and a
//! consistent LIST with a label selector costs a real API server a read of every object of that kind
//! from etcd even when nothing matches. They are first asked of the server's watch cache
//! (`resourceVersion=0`, answered from memory) and LISTed only when it holds a record of theirs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::StreamExt;

use crate::release::Time;
use crate::release::helm3::Status;
use crate::storage::RecordError;
use crate::storage::codec::{self, DecodeLimits};
use crate::storage::listing::par_map;
use crate::storage::objects::{ObjectInfo, ObjectKind, ObjectStore, RawObject};
use crate::storage::shape::Shape;

use super::view;

/// How many GETs are in flight at once.
pub const FETCH_CONCURRENCY: usize = 16;

/// Objects per page of the payload LIST (`status!=superseded`): big enough that a page's round trip is
/// small next to its transfer, small enough that one page of bodies stays a few MiB.
pub const LATEST_PAGE: u32 = 250;

/// Objects per page of the metadata LIST that goes with it.
pub const LATEST_META_PAGE: u32 = 5000;

/// A decoded record and the object it came from.
type Fetched = (ObjectInfo, Result<Row, RecordError>);

/// Which storage generation a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Generation {
    Helm3,
    Helm2,
}

impl Generation {
    /// (release, revision) from a record's labels.
    pub fn label_key(self, info: &ObjectInfo) -> Option<(String, i64)> {
        match self {
            Generation::Helm3 => {
                let l = codec::parse_helm3_labels(&info.labels);
                Some((l.name?, l.version?))
            }
            Generation::Helm2 => {
                let l = codec::parse_helm2_labels(&info.labels);
                Some((l.name?, i64::from(l.version?)))
            }
        }
    }

    /// (release, revision) from a record's object name.
    pub fn name_key(self, object: &str) -> Option<(String, i64)> {
        match self {
            Generation::Helm3 => codec::parse_helm3_object_name(object).map(|(n, v)| (n.to_string(), v)),
            Generation::Helm2 => codec::parse_helm2_object_name(object).map(|(n, v)| (n.to_string(), i64::from(v))),
        }
    }
}

/// One listed release revision, whichever generation it came from.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    /// The release namespace from the payload (what helm prints).
    pub namespace: String,
    pub revision: i64,
    pub last_deployed: Time,
    pub status: Status,
    pub chart: String,
    pub app_version: String,
    /// `secret`, `configmap`, `helm2/configmap`, `helm2/secret`.
    pub storage: &'static str,
    pub project: Option<String>,
    pub env: Option<String>,
    /// Every label of the record object (helm matches `-l` against these).
    pub labels: BTreeMap<String, String>,
    pub generation: Generation,
    /// Namespace of the record object (Tiller's namespace for Helm 2).
    pub object_namespace: String,
}

impl Row {
    /// Releases are the same release when this key is equal (helm: payload namespace + name; Tiller:
    /// its namespace + name), in one storage: a release under both drivers is listed once per driver.
    pub fn release_key(&self) -> (Generation, &'static str, String, String) {
        match self.generation {
            Generation::Helm3 => (Generation::Helm3, self.storage, self.namespace.clone(), self.name.clone()),
            Generation::Helm2 => (Generation::Helm2, self.storage, self.object_namespace.clone(), self.name.clone()),
        }
    }
}

/// Where to look and what the records are.
#[derive(Clone)]
pub struct Source {
    pub store: ObjectStore,
    /// A namespace, or `None` for every namespace.
    pub scope: Option<String>,
    pub generation: Generation,
    pub limits: DecodeLimits,
    /// Ask the API server's cache first whether this storage holds any record, and skip it when not:
    /// for the storages beside helm's default (the ConfigMap driver, Tiller's), which are usually empty
    /// and whose consistent LISTs would each cost the server a scan of every object of their kind.
    pub probe: bool,
}

/// What to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// The latest revision of each release.
    Latest,
    /// Every revision whose status is superseded (helm's `--superseded` alone).
    Superseded,
}

#[derive(Debug, Default)]
pub struct Collected {
    pub rows: Vec<Row>,
    pub errors: Vec<RecordError>,
    pub warnings: Vec<String>,
}

impl Collected {
    pub fn extend(&mut self, other: Collected) {
        self.rows.extend(other.rows);
        self.errors.extend(other.errors);
        self.warnings.extend(other.warnings);
    }
}

fn storage_name(generation: Generation, kind: ObjectKind) -> &'static str {
    match (generation, kind) {
        (Generation::Helm3, ObjectKind::Secret) => "secret",
        (Generation::Helm3, ObjectKind::ConfigMap) => "configmap",
        (Generation::Helm2, ObjectKind::Secret) => "helm2/secret",
        (Generation::Helm2, ObjectKind::ConfigMap) => "helm2/configmap",
    }
}

impl Source {
    pub fn selector(&self) -> &'static str {
        match self.generation {
            Generation::Helm3 => codec::HELM3_LIST_SELECTOR,
            Generation::Helm2 => codec::HELM2_LIST_SELECTOR,
        }
    }

    /// `Some(true)` when the status label says superseded, `None` without a status label.
    fn labelled_superseded(&self, info: &ObjectInfo) -> Option<bool> {
        match self.generation {
            Generation::Helm3 => info.labels.get("status").map(|s| s == "superseded"),
            Generation::Helm2 => info.labels.get("STATUS").map(|s| s == "SUPERSEDED"),
        }
    }

    /// Decode one record into a row (Helm 3: summary only; Helm 2: the whole protobuf).
    pub fn decode(&self, raw: &RawObject) -> Result<Row, RecordError> {
        let payload = raw.payload.as_deref().ok_or_else(|| RecordError::new(&raw.info, codec::CodecError::MissingData))?;
        let storage = storage_name(self.generation, raw.info.kind);
        match self.generation {
            Generation::Helm3 => {
                let s = codec::decode_helm3_summary(payload, &self.limits).map_err(|e| RecordError::new(&raw.info, e))?;
                let missing = s.chart_name.is_empty() && s.chart_version.is_empty() && s.app_version.is_empty();
                let (project, env) = view::werf_project_env(s.annotations.as_ref(), None);
                Ok(Row {
                    chart: if missing { "MISSING".into() } else { s.chart() },
                    app_version: if missing { "MISSING".into() } else { s.app_version.clone() },
                    name: s.name,
                    namespace: s.namespace,
                    revision: s.version,
                    last_deployed: s.last_deployed,
                    status: s.status,
                    storage,
                    project,
                    env,
                    labels: raw.info.labels.clone(),
                    generation: Generation::Helm3,
                    object_namespace: raw.info.namespace.clone(),
                })
            }
            Generation::Helm2 => {
                let r = codec::decode_helm2(payload, &self.limits).map_err(|e| RecordError::new(&raw.info, e))?;
                let (project, env) = view::werf_project_env(None, Some(&r.manifest));
                let v = view::helm2_as_helm3(&r);
                Ok(Row {
                    chart: view::chart_name(&v),
                    app_version: view::app_version(&v),
                    name: v.name,
                    namespace: v.namespace,
                    revision: v.version,
                    last_deployed: v.info.last_deployed,
                    status: v.info.status,
                    storage,
                    project,
                    env,
                    labels: raw.info.labels.clone(),
                    generation: Generation::Helm2,
                    object_namespace: raw.info.namespace.clone(),
                })
            }
        }
    }

    /// GET and decode one record; `None` when it was deleted since it was listed.
    async fn fetch_one(&self, info: ObjectInfo) -> Result<Option<(ObjectInfo, Result<Row, RecordError>)>, kube::Error> {
        let raw = self.store.get(&info.namespace, &info.name).await?;
        Ok(raw.map(|raw| {
            let decoded = self.decode(&raw);
            (info, decoded)
        }))
    }

    /// Fetch and decode the records `infos` yields, `FETCH_CONCURRENCY` at a time. Each record is its
    /// own task, so decoding runs on every core while other GETs are on the wire.
    async fn fetch(
        self: &Arc<Self>,
        infos: impl futures::Stream<Item = ObjectInfo>,
    ) -> Result<Vec<(ObjectInfo, Result<Row, RecordError>)>, kube::Error> {
        let mut results: Vec<(usize, _)> = infos
            .enumerate()
            .map(|(at, info)| {
                let source = Arc::clone(self);
                let task = tokio::spawn(async move { source.fetch_one(info).await });
                async move { (at, task.await) }
            })
            .buffer_unordered(FETCH_CONCURRENCY)
            .collect()
            .await;
        // In the order asked for (the listing's), as helm shows revisions of one name.
        results.sort_unstable_by_key(|(at, _)| *at);
        let mut out = Vec::with_capacity(results.len());
        for (_, r) in results {
            let r = r.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
            // a record deleted between the LIST and the GET is simply gone
            if let Some(x) = r? {
                out.push(x);
            }
        }
        Ok(out)
    }

    /// The rows `want` needs from this source. `name_filter` (helm's `--filter`) prunes releases by
    /// their label name before anything is decoded.
    pub async fn collect(&self, want: Want, name_filter: Option<&regex::Regex>) -> Result<Collected, kube::Error> {
        if self.probe && !self.store.lister().any_in_cache(self.scope.as_deref(), self.selector()).await? {
            return Ok(Collected::default());
        }
        match want {
            Want::Latest => self.collect_latest(name_filter).await,
            Want::Superseded => self.collect_superseded(name_filter).await,
        }
    }

    /// The label selector of records not labelled superseded (records without a status label too).
    fn not_superseded(&self) -> String {
        match self.generation {
            Generation::Helm3 => format!("{},status!=superseded", codec::HELM3_LIST_SELECTOR),
            Generation::Helm2 => format!("{},STATUS!=SUPERSEDED", codec::HELM2_LIST_SELECTOR),
        }
    }

    /// The label key of a record whose labels agree with its object name.
    fn trusted_key(&self, info: &ObjectInfo) -> Option<(String, i64)> {
        self.generation.label_key(info).filter(|key| self.generation.name_key(&info.name).as_ref() == Some(key))
    }

    /// Every page of a LIST of `shape`, each page's items handed to `take` off the async threads
    /// while the next page is on the wire.
    async fn list_pages<T, F>(&self, selector: &str, limit: u32, shape: Shape, take: F) -> Result<Vec<T>, kube::Error>
    where
        T: Send + 'static,
        F: Fn(crate::storage::rawlist::ListBody) -> Result<Vec<T>, String> + Send + Sync + 'static,
    {
        let take = Arc::new(take);
        let mut out = Vec::new();
        let mut pending: Option<tokio::task::JoinHandle<Result<Vec<T>, String>>> = None;
        let mut token: Option<String> = None;
        let mut expired = 0;
        loop {
            let page = match self.store.lister().list_raw_retried(self.scope.as_deref(), selector, limit, token.as_deref(), shape).await {
                Ok(page) => page,
                // The token expired (etcd compacted its snapshot): go on with the token the server
                // offers (from the same key, at the current state), else list again from the start.
                Err(kube::Error::Api(status)) if status.code == 410 && token.is_some() && expired < 5 => {
                    expired += 1;
                    token = status.metadata.as_ref().and_then(|m| m.continue_.clone()).filter(|t| !t.is_empty());
                    if token.is_none() {
                        if let Some(done) = pending.take() {
                            done.abort();
                        }
                        out.clear();
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            if let Some(done) = pending.take() {
                out.extend(join_page(done).await?);
            }
            let t = Arc::clone(&take);
            let body = page.body;
            pending = Some(tokio::task::spawn_blocking(move || t(body)));
            match page.continue_token {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        if let Some(done) = pending.take() {
            out.extend(join_page(done).await?);
        }
        Ok(out)
    }

    /// The latest revision of every release: the payload LIST of records not labelled superseded and
    /// the metadata LIST of all records at once, then GETs only for latest records the first did not
    /// bring.
    async fn collect_latest(&self, name_filter: Option<&regex::Regex>) -> Result<Collected, kube::Error> {
        let source = Arc::new(self.clone());
        let keep_name = name_filter.cloned();
        let decoder = Arc::clone(&source);
        let selector = self.not_superseded();
        let payloads = self.list_pages(&selector, LATEST_PAGE, Shape::Full, move |body| {
            let objects = body.objects()?;
            let keep = |raw: &RawObject| match (decoder.trusted_key(&raw.info), &keep_name) {
                (Some((name, _)), Some(re)) => re.is_match(&name),
                _ => true,
            };
            let objects: Vec<RawObject> = objects.into_iter().filter(keep).collect();
            Ok(par_map(objects, &|raw: RawObject| {
                let row = decoder.decode(&raw);
                (raw.info, row)
            }))
        });
        let metas = self.list_pages(self.selector(), LATEST_META_PAGE, Shape::Meta, |body| body.infos());
        let (decoded, metas) = tokio::join!(payloads, metas);
        let (decoded, metas) = (decoded?, metas?);

        let keep = |name: &str| name_filter.is_none_or(|re| re.is_match(name));
        // Every release's records by their labels; records whose labels do not match their name go
        // to the payload (decoded ones already are; the others are fetched).
        let mut groups: BTreeMap<(String, String), Vec<(i64, ObjectInfo)>> = BTreeMap::new();
        let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
        let mut untrusted: Vec<ObjectInfo> = Vec::new();
        let decoded_infos = decoded.iter().map(|(i, _)| i.clone());
        // A record created between the two LISTs may be in either: both are looked at.
        for info in metas.into_iter().chain(decoded_infos) {
            if !seen.insert((info.namespace.clone(), info.name.clone())) {
                continue;
            }
            match self.trusted_key(&info) {
                Some((name, revision)) => {
                    if keep(&name) {
                        groups.entry((info.namespace.clone(), name)).or_default().push((revision, info));
                    }
                }
                None => untrusted.push(info),
            }
        }
        let mut decoded: BTreeMap<(String, String), Fetched> =
            decoded.into_iter().map(|(i, r)| ((i.namespace.clone(), i.name.clone()), (i, r))).collect();
        let mut take_or_fetch = |infos: Vec<ObjectInfo>| -> (Vec<Fetched>, Vec<ObjectInfo>) {
            let mut have = Vec::new();
            let mut fetch = Vec::new();
            for info in infos {
                match decoded.remove(&(info.namespace.clone(), info.name.clone())) {
                    Some(found) => have.push(found),
                    None => fetch.push(info),
                }
            }
            (have, fetch)
        };

        let mut wanted: Vec<ObjectInfo> =
            groups.values().filter_map(|records| records.iter().max_by_key(|(v, _)| *v)).map(|(_, i)| i.clone()).collect();
        wanted.extend(untrusted);
        let (mut first, fetch) = take_or_fetch(wanted);
        first.extend(source.fetch(futures::stream::iter(fetch)).await?);
        let read: BTreeSet<(String, String)> = first.iter().map(|(i, _)| (i.namespace.clone(), i.name.clone())).collect();
        let mut out = Collected::default();
        let mut bad_groups: BTreeSet<(String, String)> = BTreeSet::new();
        self.absorb(first, &mut out, &mut bad_groups);
        if !bad_groups.is_empty() {
            // The latest record of these releases was damaged or mislabelled: read all their records.
            let rest: Vec<ObjectInfo> = bad_groups.iter().filter_map(|k| groups.get(k)).flatten().map(|(_, i)| i.clone()).collect();
            let rest: Vec<ObjectInfo> = rest.into_iter().filter(|i| !read.contains(&(i.namespace.clone(), i.name.clone()))).collect();
            let (mut more, fetch) = take_or_fetch(rest);
            more.extend(source.fetch(futures::stream::iter(fetch)).await?);
            let mut ignored = BTreeSet::new();
            self.absorb(more, &mut out, &mut ignored);
        }
        Ok(out)
    }

    /// Every revision whose status is superseded (helm's `--superseded` alone): the metadata of every
    /// record, then the records labelled superseded (or unlabelled) fetched and decoded.
    async fn collect_superseded(&self, name_filter: Option<&regex::Regex>) -> Result<Collected, kube::Error> {
        let source = Arc::new(self.clone());
        let keep = |name: &str| name_filter.is_none_or(|re| re.is_match(name));
        let metas = self.store.list_meta_all(self.scope.as_deref(), self.selector()).await?;
        let wanted: Vec<ObjectInfo> = metas
            .into_iter()
            .filter(|info| match self.trusted_key(info) {
                Some((name, _)) => keep(&name) && self.labelled_superseded(info) != Some(false),
                // Labels and name disagree or are missing: only the payload can tell.
                None => true,
            })
            .collect();
        let fetched = source.fetch(futures::stream::iter(wanted)).await?;
        let mut out = Collected::default();
        self.absorb(fetched, &mut out, &mut BTreeSet::new());
        Ok(out)
    }

    fn absorb(
        &self,
        results: Vec<(ObjectInfo, Result<Row, RecordError>)>,
        out: &mut Collected,
        bad_groups: &mut BTreeSet<(String, String)>,
    ) {
        for (info, decoded) in results {
            let labels = self.generation.label_key(&info);
            match decoded {
                Ok(row) => {
                    match &labels {
                        Some((name, version)) if *name == row.name && *version == row.revision => {}
                        Some((name, version)) => {
                            out.warnings.push(format!(
                                "{}: labels say {name} revision {version} but the payload is {} revision {}; using the payload",
                                info.key(),
                                row.name,
                                row.revision
                            ));
                            bad_groups.insert((info.namespace.clone(), name.clone()));
                        }
                        None => out.warnings.push(format!(
                            "{}: no release name/revision labels; the payload says {} revision {}",
                            info.key(),
                            row.name,
                            row.revision
                        )),
                    }
                    out.rows.push(row);
                }
                Err(e) => {
                    if let Some((name, _)) = labels {
                        bad_groups.insert((info.namespace.clone(), name));
                    }
                    out.errors.push(e);
                }
            }
        }
    }
}

/// The items of one decoded page, or the error that stops the listing.
async fn join_page<T>(handle: tokio::task::JoinHandle<Result<Vec<T>, String>>) -> Result<Vec<T>, kube::Error> {
    match handle.await {
        Ok(items) => items.map_err(crate::storage::objects::malformed_list),
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Keep only the highest revision of each release (helm's `filterLatestReleases`).
pub fn latest_per_release(rows: Vec<Row>) -> Vec<Row> {
    let mut latest: BTreeMap<(Generation, &'static str, String, String), Row> = BTreeMap::new();
    for row in rows {
        let key = row.release_key();
        match latest.get(&key) {
            Some(cur) if cur.revision > row.revision => {}
            _ => {
                latest.insert(key, row);
            }
        }
    }
    latest.into_values().collect()
}
