//! Fetching only the records an answer needs.
//!
//! `helm list -A` LISTs every payload of every revision and decodes them all. Here one metadata-only
//! LIST gives each record's labels; the latest revision of each release is picked from the labels and
//! only those records are fetched (GETs, bounded concurrency) and decoded as summaries. Labels are
//! checked against the object name before they are trusted, and against the payload after: a record
//! whose labels are missing or disagree is decoded anyway, and a release whose fetched latest turns
//! out damaged or mislabelled has all its records fetched and decoded, so the answer stays Helm's.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;

use crate::release::Time;
use crate::release::helm3::Status;
use crate::storage::codec::{self, DecodeLimits};
use crate::storage::objects::{ObjectInfo, ObjectKind, ObjectStore, RawObject};
use crate::storage::RecordError;

use super::view;

/// How many GETs are in flight at once.
pub const FETCH_CONCURRENCY: usize = 16;

/// Which storage generation a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Generation {
    Helm3,
    Helm2,
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
    /// its namespace + name).
    pub fn release_key(&self) -> (Generation, String, String) {
        match self.generation {
            Generation::Helm3 => (Generation::Helm3, self.namespace.clone(), self.name.clone()),
            Generation::Helm2 => (Generation::Helm2, self.object_namespace.clone(), self.name.clone()),
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

    /// (release, revision) from the labels.
    fn label_key(&self, info: &ObjectInfo) -> Option<(String, i64)> {
        match self.generation {
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

    /// (release, revision) from the object name.
    fn name_key(&self, object: &str) -> Option<(String, i64)> {
        match self.generation {
            Generation::Helm3 => codec::parse_helm3_object_name(object).map(|(n, v)| (n.to_string(), v)),
            Generation::Helm2 => codec::parse_helm2_object_name(object).map(|(n, v)| (n.to_string(), i64::from(v))),
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

    /// Fetch and decode records by object, `FETCH_CONCURRENCY` at a time.
    async fn fetch(&self, infos: Vec<ObjectInfo>) -> Result<Vec<(ObjectInfo, Result<Row, RecordError>)>, kube::Error> {
        let results: Vec<Result<Option<(ObjectInfo, Result<Row, RecordError>)>, kube::Error>> = futures::stream::iter(infos)
            .map(|info| async move {
                let raw = self.store.get(&info.namespace, &info.name).await?;
                Ok(raw.map(|raw| {
                    let decoded = self.decode(&raw);
                    (info, decoded)
                }))
            })
            .buffer_unordered(FETCH_CONCURRENCY)
            .collect()
            .await;
        let mut out = Vec::with_capacity(results.len());
        for r in results {
            // a record deleted between the LIST and the GET is simply gone
            if let Some(x) = r? {
                out.push(x);
            }
        }
        Ok(out)
    }

    /// The rows `want` needs from this source. `name_filter` (helm's `--filter`) prunes releases by
    /// their label name before anything is fetched.
    pub async fn collect(&self, want: Want, name_filter: Option<&regex::Regex>) -> Result<Collected, kube::Error> {
        let metas = self.store.list_meta_all(self.scope.as_deref(), self.selector()).await?;
        let mut groups: BTreeMap<(String, String), Vec<(i64, ObjectInfo)>> = BTreeMap::new();
        let mut suspects: Vec<ObjectInfo> = Vec::new();
        for info in metas {
            match self.label_key(&info) {
                Some(key) if self.name_key(&info.name).as_ref() == Some(&key) => {
                    groups.entry((info.namespace.clone(), key.0)).or_default().push((key.1, info));
                }
                _ => suspects.push(info),
            }
        }
        let keep = |name: &str| name_filter.is_none_or(|re| re.is_match(name));
        let mut wanted: Vec<ObjectInfo> = Vec::new();
        for ((_, name), records) in &groups {
            if !keep(name) {
                continue;
            }
            match want {
                Want::Latest => {
                    if let Some((_, info)) = records.iter().max_by_key(|(v, _)| *v) {
                        wanted.push(info.clone());
                    }
                }
                Want::Superseded => {
                    wanted.extend(records.iter().filter(|(_, i)| self.labelled_superseded(i) != Some(false)).map(|(_, i)| i.clone()));
                }
            }
        }
        let mut fetched: BTreeSet<(String, String)> = wanted.iter().chain(&suspects).map(|i| (i.namespace.clone(), i.name.clone())).collect();
        wanted.extend(suspects);
        let mut out = Collected::default();
        let mut bad_groups: BTreeSet<(String, String)> = BTreeSet::new();
        let first = self.fetch(wanted).await?;
        self.absorb(first, &mut out, &mut bad_groups);
        if !bad_groups.is_empty() && want == Want::Latest {
            // The latest record of these releases was damaged or mislabelled: read all their records.
            let rest: Vec<ObjectInfo> = bad_groups
                .iter()
                .filter_map(|k| groups.get(k))
                .flatten()
                .map(|(_, i)| i.clone())
                .filter(|i| fetched.insert((i.namespace.clone(), i.name.clone())))
                .collect();
            let mut ignored = BTreeSet::new();
            let more = self.fetch(rest).await?;
            self.absorb(more, &mut out, &mut ignored);
        }
        Ok(out)
    }

    fn absorb(
        &self,
        results: Vec<(ObjectInfo, Result<Row, RecordError>)>,
        out: &mut Collected,
        bad_groups: &mut BTreeSet<(String, String)>,
    ) {
        for (info, decoded) in results {
            let labels = self.label_key(&info);
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

/// Keep only the highest revision of each release (helm's `filterLatestReleases`).
pub fn latest_per_release(rows: Vec<Row>) -> Vec<Row> {
    let mut latest: BTreeMap<(Generation, String, String), Row> = BTreeMap::new();
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
