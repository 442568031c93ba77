//! Fetching only the records an answer needs.
//!
//! `helm list -A` LISTs every payload of every revision and decodes them all. Here one metadata-only
//! LIST gives each record's labels; the latest revision of each release is picked from the labels and
//! only those records are fetched (GETs, bounded concurrency) and decoded as summaries. Labels are
//! checked against the object name before they are trusted, and against the payload after: a record
//! whose labels are missing or disagree is decoded anyway, and a release whose fetched latest turns
//! out damaged or mislabelled has all its records fetched and decoded, so the answer stays Helm's.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::StreamExt;

use crate::release::Time;
use crate::release::helm3::Status;
use crate::storage::codec::{self, DecodeLimits};
use crate::storage::objects::{META_PAGE, ObjectInfo, ObjectKind, ObjectStore, RawObject};
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
    /// their label name before anything is fetched.
    ///
    /// Records are fetched while the metadata LIST is still paging: API servers return LIST items
    /// ordered by namespace and name, so once a page ends past every name a release's records can
    /// have, that release's latest revision is known and its GET starts. The order is only an
    /// optimisation: after the last page each release is checked again, and one whose latest turned
    /// out higher than the record already fetched gets that record fetched too.
    pub async fn collect(&self, want: Want, name_filter: Option<&regex::Regex>) -> Result<Collected, kube::Error> {
        let source = Arc::new(self.clone());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<ObjectInfo>();
        let incoming = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
        let (listed, first) = tokio::join!(self.list_and_dispatch(want, name_filter, tx), source.fetch(incoming));
        let groups = listed?;
        let first = first?;
        let mut fetched: BTreeSet<(String, String)> = first.iter().map(|(i, _)| (i.namespace.clone(), i.name.clone())).collect();
        let mut out = Collected::default();
        let mut bad_groups: BTreeSet<(String, String)> = BTreeSet::new();
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
            let more = source.fetch(futures::stream::iter(rest)).await?;
            self.absorb(more, &mut out, &mut ignored);
        }
        Ok(out)
    }

    /// Page through the metadata, sending each record `want` needs to `fetch` as soon as it is known
    /// to be needed. Returns every release's records (by label) for the second pass over damaged ones.
    async fn list_and_dispatch(
        &self,
        want: Want,
        name_filter: Option<&regex::Regex>,
        fetch: tokio::sync::mpsc::UnboundedSender<ObjectInfo>,
    ) -> Result<BTreeMap<(String, String), Vec<(i64, ObjectInfo)>>, kube::Error> {
        let keep = |name: &str| name_filter.is_none_or(|re| re.is_match(name));
        // The receiver only goes away when the fetch side failed; that error is reported there.
        let send = |infos: Vec<ObjectInfo>| infos.into_iter().for_each(|i| drop(fetch.send(i)));
        let mut latest = LatestTracker::default();
        let mut cursor: Option<crate::storage::objects::Cursor> = None;
        loop {
            let page = self.store.list_meta_page(self.scope.as_deref(), self.selector(), META_PAGE, cursor.as_ref()).await?;
            let last = page.items.last().map(storage_key);
            for info in page.items {
                let key = match self.label_key(&info) {
                    Some(key) if self.name_key(&info.name).as_ref() == Some(&key) => key,
                    // Labels and name disagree or are missing: only the payload can tell.
                    _ => {
                        send(vec![info]);
                        continue;
                    }
                };
                if !keep(&key.0) {
                    continue;
                }
                if want == Want::Superseded && self.labelled_superseded(&info) != Some(false) {
                    send(vec![info.clone()]);
                }
                latest.observe(key.0, key.1, info);
            }
            match page.next {
                Some(next) => {
                    if want == Want::Latest {
                        send(latest.listed_up_to(last.as_deref()));
                    }
                    cursor = Some(next);
                }
                None => break,
            }
        }
        if want == Want::Latest {
            send(latest.finish());
        }
        Ok(latest.groups)
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

/// `namespace/name`: the order etcd (and so a LIST) returns objects in.
fn storage_key(info: &ObjectInfo) -> String {
    format!("{}/{}", info.namespace, info.name)
}

/// The smallest storage key after every record of `info`'s release: record names are a prefix
/// ending in `v` followed by decimal digits, and `:` sorts right after `9`.
fn records_end(info: &ObjectInfo) -> String {
    format!("{}/{}:", info.namespace, info.name.trim_end_matches(|c: char| c.is_ascii_digit()))
}

/// Which record is each release's latest, decided while a LIST is still paging.
#[derive(Default)]
struct LatestTracker {
    /// Every release's records: (namespace, release) → (revision, object).
    groups: BTreeMap<(String, String), Vec<(i64, ObjectInfo)>>,
    /// Releases not decided yet, with the key past which none of their records can be listed.
    open: BTreeMap<(String, String), String>,
    /// The revision chosen for each decided release.
    chosen: BTreeMap<(String, String), i64>,
}

impl LatestTracker {
    fn observe(&mut self, release: String, revision: i64, info: ObjectInfo) {
        let group = (info.namespace.clone(), release);
        if !self.chosen.contains_key(&group) {
            self.open.entry(group.clone()).or_insert_with(|| records_end(&info));
        }
        self.groups.entry(group).or_default().push((revision, info));
    }

    fn latest(&self, group: &(String, String)) -> Option<(i64, &ObjectInfo)> {
        self.groups.get(group)?.iter().max_by_key(|(v, _)| *v).map(|(v, i)| (*v, i))
    }

    /// The listing has reached storage key `last`: releases whose records all sort before it are
    /// complete (if the server lists in key order); returns their latest records.
    fn listed_up_to(&mut self, last: Option<&str>) -> Vec<ObjectInfo> {
        let Some(last) = last else { return Vec::new() };
        let done: Vec<(String, String)> = self.open.iter().filter(|(_, end)| end.as_str() < last).map(|(g, _)| g.clone()).collect();
        done.into_iter().filter_map(|g| self.decide(g)).collect()
    }

    fn decide(&mut self, group: (String, String)) -> Option<ObjectInfo> {
        self.open.remove(&group);
        let (revision, info) = self.latest(&group)?;
        let info = info.clone();
        self.chosen.insert(group, revision);
        Some(info)
    }

    /// The listing ended: the latest of every release not decided yet, and, for a release decided
    /// early whose records a server out of key order showed later, its real latest.
    fn finish(&mut self) -> Vec<ObjectInfo> {
        let mut out: Vec<ObjectInfo> = Vec::new();
        for (group, revision) in &self.chosen {
            if let Some((latest, info)) = self.latest(group)
                && latest > *revision
            {
                out.push(info.clone());
            }
        }
        let open: Vec<(String, String)> = self.open.keys().cloned().collect();
        out.extend(open.into_iter().filter_map(|g| self.decide(g)));
        out
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

#[cfg(test)]
mod tests {
    use super::*;

    fn info(ns: &str, release: &str, revision: i64) -> ObjectInfo {
        ObjectInfo {
            kind: ObjectKind::Secret,
            namespace: ns.into(),
            name: codec::helm3_object_name(release, revision),
            labels: BTreeMap::new(),
            resource_version: None,
            uid: None,
            creation_timestamp: None,
            secret_type: None,
        }
    }

    fn names(infos: &[ObjectInfo]) -> Vec<String> {
        infos.iter().map(storage_key).collect()
    }

    /// Feeds pages like a LIST and returns what was decided after each page and at the end.
    fn run(pages: &[Vec<(&str, &str, i64)>]) -> Vec<Vec<String>> {
        let mut t = LatestTracker::default();
        let mut decided = Vec::new();
        for (n, page) in pages.iter().enumerate() {
            let mut last = None;
            for (ns, rel, rev) in page {
                let i = info(ns, rel, *rev);
                last = Some(storage_key(&i));
                t.observe(rel.to_string(), *rev, i);
            }
            if n + 1 < pages.len() {
                decided.push(names(&t.listed_up_to(last.as_deref())));
            }
        }
        decided.push(names(&t.finish()));
        decided
    }

    #[test]
    fn releases_are_decided_once_the_listing_is_past_them() {
        // etcd order: v1 < v10 < v2; "app" records end before "app-b" ones ('.' > '-' but "app." ends
        // at "app.v:" which sorts after "app-b...").
        let got = run(&[
            vec![("a", "app", 1), ("a", "app", 10), ("a", "app", 2), ("a", "db", 1)],
            vec![("a", "db", 2), ("b", "app", 1)],
            vec![("b", "app", 2)],
        ]);
        assert_eq!(
            got,
            vec![
                vec!["a/sh.helm.release.v1.app.v10".to_string()],
                vec!["a/sh.helm.release.v1.db.v2".to_string()],
                vec!["b/sh.helm.release.v1.app.v2".to_string()],
            ]
        );
    }

    #[test]
    fn a_release_continuing_on_the_next_page_waits() {
        let got = run(&[vec![("a", "app", 1), ("a", "app", 10)], vec![("a", "app", 11), ("a", "app", 2)]]);
        assert_eq!(got, vec![Vec::<String>::new(), vec!["a/sh.helm.release.v1.app.v11".to_string()]]);
    }

    #[test]
    fn names_that_extend_another_release_name_do_not_close_it_early() {
        // "app" and "app.v2x"-like neighbours: "app-x" sorts before "app.v", "app.x" after "app.v:".
        let got = run(&[vec![("a", "app", 3), ("a", "app-x", 1)], vec![("a", "app", 4)]]);
        assert_eq!(got[0], Vec::<String>::new(), "app-x sorts before app's records end");
        assert_eq!(got[1], vec!["a/sh.helm.release.v1.app.v4".to_string(), "a/sh.helm.release.v1.app-x.v1".to_string()]);
    }

    #[test]
    fn a_server_listing_out_of_key_order_still_gets_the_real_latest() {
        // Page 2 ends past app's records, so app is decided at v3; a later page shows v9.
        let got = run(&[vec![("a", "app", 3)], vec![("z", "web", 1)], vec![("a", "app", 9)]]);
        assert_eq!(got[0], Vec::<String>::new());
        assert_eq!(got[1], vec!["a/sh.helm.release.v1.app.v3".to_string()]);
        assert_eq!(got[2], vec!["a/sh.helm.release.v1.app.v9".to_string(), "z/sh.helm.release.v1.web.v1".to_string()]);
    }
}
