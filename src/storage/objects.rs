//! The Kubernetes objects that hold release records (Secrets and ConfigMaps), seen uniformly: one
//! code path lists, gets, creates, replaces and deletes either kind, so drivers differ only in names
//! and labels. Payloads are handed out as the base64 text every driver stores under `data.release`
//! (a Secret's Kubernetes base64 layer is removed by the client).
//!
//! Reads are retried (`crate::retry`). Writes are conditional (create never overwrites; replace and
//! delete carry the resourceVersion that was read), and the `*_settled` writes make sure of their
//! outcome: after a failure whose answer says nothing sure (a transient error, a lost answer, a 409)
//! the object is read again — found as meant: done; unchanged: the same conditional write may go
//! again (a bounded number of times, not after an interrupt); changed by someone else: reported, never
//! overwritten. A write the server throttled (429) was not executed: it is sent again as it is
//! ([`crate::retry::throttled`]) before any of that.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};

use super::codec::{self, DATA_KEY, DecodeLimits};
use super::rawlist;
pub use super::record_object::{ObjectInfo, ObjectKind, RawObject, malformed_list};
use super::record_object::{configmap_raw, secret_raw};
use super::shape::Shape;
use crate::error::describe_kube_error;
use crate::retry::{WRITE_ATTEMPTS, write_is_unsure, write_pause};
use crate::stop::StopSignal;

/// One page of a LIST.
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
}

/// Where a paged LIST stands: the server's `continue` token and the key (`namespace/name`) of the last
/// object handed out. Objects come in key order (the order of etcd's keys, which the watch cache keeps),
/// which callers rely on, and the key lets a LIST whose token expired go on from the same place.
///
/// A token expires (`410 Expired`) when etcd compacted away the snapshot it reads from — a LIST that
/// took minutes, or a busy cluster. The server then offers a token that goes on from the same key at
/// the current state, which is taken; a server that offers none gets the LIST again from the start,
/// its objects up to that key skipped. Either way no object is handed out twice or out of order, and
/// objects after the key are as they are now (as in a LIST started now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    token: String,
    after: Option<String>,
}

/// How often one page is tried again after its token expired before the LIST gives up.
const EXPIRED_ATTEMPTS: u32 = 5;

/// The answer to one LIST request: items, and the `continue` token when there is more.
type RawPage<T> = (Vec<T>, Option<String>);

/// Fetch the page at `cursor` (`None`: the first) with `fetch(token)`, recovering from an expired token
/// (see [`Cursor`]); `key` gives an item's `namespace/name`.
async fn paged<T, F, Fut>(cursor: Option<&Cursor>, fetch: F, key: impl Fn(&T) -> String) -> Result<Page<T>, kube::Error>
where
    F: Fn(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<RawPage<T>, kube::Error>>,
{
    let after = cursor.and_then(|c| c.after.clone());
    let mut token = cursor.map(|c| c.token.clone());
    let mut expired = 0;
    // Listing again from the start: what is not after the key was handed out already.
    let mut restarted = false;
    loop {
        match fetch(token.clone()).await {
            Ok((mut items, next)) => {
                if restarted && let Some(after) = &after {
                    items.retain(|i| key(i).as_str() > after.as_str());
                }
                let next = non_empty(next);
                // Pages up to the key bring nothing new.
                if restarted && items.is_empty() && next.is_some() {
                    token = next;
                    continue;
                }
                let last = items.last().map(&key).or(after);
                return Ok(Page { items, next: next.map(|token| Cursor { token, after: last }) });
            }
            Err(kube::Error::Api(status)) if status.code == 410 && token.is_some() && expired < EXPIRED_ATTEMPTS => {
                expired += 1;
                let offered = non_empty(status.metadata.as_ref().and_then(|m| m.continue_.clone()));
                tracing::debug!(
                    after = after.as_deref().unwrap_or(""),
                    offered = offered.is_some(),
                    "the LIST's continue token expired; going on from the last object listed"
                );
                restarted = offered.is_none();
                token = offered;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Access to record objects of one kind.
#[derive(Clone)]
pub struct ObjectStore {
    client: Client,
    kind: ObjectKind,
}

impl ObjectStore {
    pub fn new(client: Client, kind: ObjectKind) -> Self {
        ObjectStore { client, kind }
    }

    pub fn kind(&self) -> ObjectKind {
        self.kind
    }

    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The raw (protobuf-asking) LISTs of this kind, for readers that decode pages themselves.
    pub fn lister(&self) -> rawlist::RawLister {
        rawlist::RawLister::new(self.client.clone(), self.kind)
    }

    fn secrets(&self, ns: Option<&str>) -> Api<Secret> {
        match ns {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        }
    }

    fn configmaps(&self, ns: Option<&str>) -> Api<ConfigMap> {
        match ns {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        }
    }

    /// One page of full objects matching `selector`, in `ns` or in all namespaces (protobuf when the
    /// server speaks it: `storage::rawlist`); `cursor` is the previous page's [`Page::next`] (`None` for
    /// the first page).
    pub async fn list_page(
        &self,
        ns: Option<&str>,
        selector: &str,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<RawObject>, kube::Error> {
        let fetch = |token: Option<String>| async move {
            let page = self.lister().list_raw_retried(ns, selector, limit, token.as_deref(), Shape::Full).await?;
            Ok((page.body.objects().map_err(malformed_list)?, page.continue_token))
        };
        paged(cursor, fetch, |o: &RawObject| o.info.key()).await
    }

    /// One page of metadata only (`PartialObjectMetadataList`): labels choose what to fetch later.
    pub async fn list_meta_page(
        &self,
        ns: Option<&str>,
        selector: &str,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<ObjectInfo>, kube::Error> {
        let fetch = |token: Option<String>| async move {
            let page = self.lister().list_raw_retried(ns, selector, limit, token.as_deref(), Shape::Meta).await?;
            Ok((page.body.infos().map_err(malformed_list)?, page.continue_token))
        };
        paged(cursor, fetch, ObjectInfo::key).await
    }

    /// All metadata matching `selector`, following `continue` tokens.
    pub async fn list_meta_all(&self, ns: Option<&str>, selector: &str) -> Result<Vec<ObjectInfo>, kube::Error> {
        let mut out = Vec::new();
        let mut cursor: Option<Cursor> = None;
        loop {
            let page = self.list_meta_page(ns, selector, META_PAGE, cursor.as_ref()).await?;
            out.extend(page.items);
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(out),
            }
        }
    }

    pub async fn get(&self, ns: &str, name: &str) -> Result<Option<RawObject>, kube::Error> {
        let retry = crate::retry::ReadRetry::default();
        Ok(match self.kind {
            ObjectKind::Secret => {
                let api = self.secrets(Some(ns));
                crate::retry::read(retry, || api.get_opt(name)).await?.map(|s| secret_raw(s, Some(ns)))
            }
            ObjectKind::ConfigMap => {
                let api = self.configmaps(Some(ns));
                crate::retry::read(retry, || api.get_opt(name)).await?.map(|c| configmap_raw(c, Some(ns)))
            }
        })
    }

    /// Create a record object; fails with 409 AlreadyExists rather than overwrite anything. Sent again
    /// while the server throttles it (429).
    pub async fn create(&self, object: &NewObject) -> Result<ObjectInfo, kube::Error> {
        crate::retry::throttled(None, || self.create_once(object)).await
    }

    /// Replace a record object only if it still has `resource_version` (409 Conflict otherwise). Sent
    /// again while the server throttles it (429).
    pub async fn replace(&self, object: &NewObject, resource_version: &str) -> Result<ObjectInfo, kube::Error> {
        crate::retry::throttled(None, || self.replace_once(object, resource_version)).await
    }

    /// Delete only the version that was read: a record changed since then is not deleted (409). Sent
    /// again while the server throttles it (429).
    pub async fn delete(&self, ns: &str, name: &str, resource_version: Option<&str>) -> Result<(), kube::Error> {
        crate::retry::throttled(None, || self.delete_once(ns, name, resource_version)).await
    }

    async fn create_once(&self, object: &NewObject) -> Result<ObjectInfo, kube::Error> {
        let pp = PostParams::default();
        match self.kind {
            ObjectKind::Secret => {
                let created = self.secrets(Some(&object.namespace)).create(&pp, &object.to_secret()).await?;
                Ok(secret_raw(created, Some(&object.namespace)).info)
            }
            ObjectKind::ConfigMap => {
                let created = self.configmaps(Some(&object.namespace)).create(&pp, &object.to_configmap()).await?;
                Ok(configmap_raw(created, Some(&object.namespace)).info)
            }
        }
    }

    async fn replace_once(&self, object: &NewObject, resource_version: &str) -> Result<ObjectInfo, kube::Error> {
        let pp = PostParams::default();
        let ns = object.namespace.as_str();
        match self.kind {
            ObjectKind::Secret => {
                let mut s = object.to_secret();
                s.metadata.resource_version = Some(resource_version.to_string());
                Ok(secret_raw(self.secrets(Some(ns)).replace(&object.name, &pp, &s).await?, Some(ns)).info)
            }
            ObjectKind::ConfigMap => {
                let mut c = object.to_configmap();
                c.metadata.resource_version = Some(resource_version.to_string());
                Ok(configmap_raw(self.configmaps(Some(ns)).replace(&object.name, &pp, &c).await?, Some(ns)).info)
            }
        }
    }

    async fn delete_once(&self, ns: &str, name: &str, resource_version: Option<&str>) -> Result<(), kube::Error> {
        let dp = DeleteParams {
            preconditions: resource_version.map(|rv| Preconditions { resource_version: Some(rv.to_string()), uid: None }),
            ..Default::default()
        };
        match self.kind {
            ObjectKind::Secret => self.secrets(Some(ns)).delete(name, &dp).await.map(|_| ()),
            ObjectKind::ConfigMap => self.configmaps(Some(ns)).delete(name, &dp).await.map(|_| ()),
        }
    }
}

/// How a write that was made sure of ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Written by this call (its answer said so, or a read after a lost answer found it done).
    Done,
    /// Nothing was written: before any attempt of ours could have, the object already was as meant
    /// (a delete found it gone; a create found an equal record).
    Found,
}

/// Why a write that was made sure of did not happen. Callers name the object.
#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    /// The server refused for sure (forbidden, invalid, ...): nothing was written.
    #[error("{}", describe_kube_error(.0))]
    Refused(Box<kube::Error>),
    /// Someone else changed, deleted or created the object meanwhile: not overwritten.
    #[error("{0}")]
    Changed(&'static str),
    /// No attempt got a sure answer and the object, read after each, was unchanged: nothing was written.
    #[error("not written after {attempts} attempts (the record is unchanged): {}", describe_kube_error(.last))]
    GaveUp { attempts: u32, last: Box<kube::Error> },
    /// A write failed and was not sent again because of an interrupt; the record is unchanged.
    #[error("interrupted before the write could be sent again (the record is unchanged): {}", describe_kube_error(.0))]
    Interrupted(Box<kube::Error>),
    /// The answer was lost and the object could not be read to see whether the write happened.
    #[error("unknown whether the write happened ({}); reading the record again failed: {}", describe_kube_error(.write), describe_kube_error(.read))]
    Unsure { write: Box<kube::Error>, read: Box<kube::Error> },
}

/// Labels Helm and Tiller rewrite on every write: records differing only there hold the same.
pub const STAMP_LABELS: [&str; 4] = ["createdAt", "modifiedAt", "CREATED_AT", "MODIFIED_AT"];

fn without_stamps(labels: &BTreeMap<String, String>) -> BTreeMap<&str, &str> {
    labels.iter().filter(|(k, _)| !STAMP_LABELS.contains(&k.as_str())).map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Whether `current` holds what `wanted` would write: the same labels apart from the write stamps, and
/// the same payload text or the same decoded release (Helm 3: the JSON value; Helm 2: the message).
pub fn same_record(wanted: &NewObject, current: &RawObject, limits: &DecodeLimits) -> bool {
    if without_stamps(&wanted.labels) != without_stamps(&current.info.labels) {
        return false;
    }
    let Some(cur) = current.payload.as_deref() else { return false };
    if wanted.payload.as_bytes() == cur {
        return true;
    }
    if wanted.labels.get("OWNER").is_some_and(|o| o == codec::HELM2_OWNER) {
        match (codec::decode_helm2(wanted.payload.as_bytes(), limits), codec::decode_helm2(cur, limits)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    } else {
        match (codec::decode_helm3_value(wanted.payload.as_bytes(), limits), codec::decode_helm3_value(cur, limits)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}

fn is_status(err: &kube::Error, code: u16) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == code)
}

impl ObjectStore {
    /// After attempt `attempt` failed unsurely and the record was found unchanged: may it go again?
    fn may_try_again(attempt: u32, err: kube::Error, stop: &StopSignal) -> Result<(), SettleError> {
        if stop.requested() {
            return Err(SettleError::Interrupted(Box::new(err)));
        }
        if attempt >= WRITE_ATTEMPTS {
            return Err(SettleError::GaveUp { attempts: attempt, last: Box::new(err) });
        }
        Ok(())
    }

    /// Create a record and make sure of it. A create never overwrites, so after a failure it is sent
    /// again only when the record is still missing; an equal record found then is this call's (or, when
    /// the first answer was 409, someone else's: [`Settled::Found`]); a different one is left alone.
    pub async fn create_settled(&self, object: &NewObject, limits: &DecodeLimits, stop: &StopSignal) -> Result<Settled, SettleError> {
        let mut maybe_ours = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let err = match crate::retry::throttled(Some(stop), || self.create_once(object)).await {
                Ok(_) => return Ok(Settled::Done),
                Err(e) if write_is_unsure(&e) => e,
                Err(e) => return Err(SettleError::Refused(Box::new(e))),
            };
            maybe_ours |= !is_status(&err, 409);
            tokio::time::sleep(write_pause(&err, attempt)).await;
            match self.get(&object.namespace, &object.name).await {
                Ok(Some(cur)) if same_record(object, &cur, limits) => return Ok(if maybe_ours { Settled::Done } else { Settled::Found }),
                Ok(Some(_)) => return Err(SettleError::Changed("created meanwhile by someone else, and different; not overwritten")),
                Ok(None) => {}
                Err(read) => return Err(SettleError::Unsure { write: Box::new(err), read: Box::new(read) }),
            }
            Self::may_try_again(attempt, err, stop)?;
        }
    }

    /// Replace a record at `resource_version` and make sure of it: after an unsure failure it is read
    /// again — as meant: done; still at that version: the same conditional replace may go again;
    /// otherwise someone else changed it and it is not overwritten.
    pub async fn replace_settled(
        &self,
        object: &NewObject,
        resource_version: &str,
        limits: &DecodeLimits,
        stop: &StopSignal,
    ) -> Result<Settled, SettleError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let err = match crate::retry::throttled(Some(stop), || self.replace_once(object, resource_version)).await {
                Ok(_) => return Ok(Settled::Done),
                Err(e) if write_is_unsure(&e) => e,
                Err(e) if is_status(&e, 404) => return Err(SettleError::Changed("deleted meanwhile; not written")),
                Err(e) => return Err(SettleError::Refused(Box::new(e))),
            };
            tokio::time::sleep(write_pause(&err, attempt)).await;
            match self.get(&object.namespace, &object.name).await {
                Ok(Some(cur)) if cur.info.resource_version.as_deref() == Some(resource_version) => {}
                Ok(Some(cur)) if same_record(object, &cur, limits) => return Ok(Settled::Done),
                Ok(Some(_)) => return Err(SettleError::Changed("changed by someone else since it was read; not overwritten")),
                Ok(None) => return Err(SettleError::Changed("deleted meanwhile; not written")),
                Err(read) => return Err(SettleError::Unsure { write: Box::new(err), read: Box::new(read) }),
            }
            Self::may_try_again(attempt, err, stop)?;
        }
    }

    /// Delete a record (only at `resource_version` when given) and make sure of it: after an unsure
    /// failure it is read again — gone: done; still at that version: the same conditional delete may go
    /// again; another version: someone else changed it and it is not deleted.
    pub async fn delete_settled(
        &self,
        ns: &str,
        name: &str,
        resource_version: Option<&str>,
        stop: &StopSignal,
    ) -> Result<Settled, SettleError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let err = match crate::retry::throttled(Some(stop), || self.delete_once(ns, name, resource_version)).await {
                Ok(()) => return Ok(Settled::Done),
                Err(e) if is_status(&e, 404) => return Ok(if attempt == 1 { Settled::Found } else { Settled::Done }),
                Err(e) if write_is_unsure(&e) => e,
                Err(e) => return Err(SettleError::Refused(Box::new(e))),
            };
            tokio::time::sleep(write_pause(&err, attempt)).await;
            match self.get(ns, name).await {
                Ok(None) => return Ok(Settled::Done),
                Ok(Some(cur)) if resource_version.is_none() || cur.info.resource_version.as_deref() == resource_version => {}
                Ok(Some(_)) => return Err(SettleError::Changed("changed by someone else since it was read; not deleted")),
                Err(read) => return Err(SettleError::Unsure { write: Box::new(err), read: Box::new(read) }),
            }
            Self::may_try_again(attempt, err, stop)?;
        }
    }
}

/// Page sizes: payload pages stay small so memory is bounded; metadata pages are cheap.
pub const PAYLOAD_PAGE: u32 = 100;
pub const META_PAGE: u32 = 500;

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// A record object to write: name, labels, and the payload text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewObject {
    pub kind: ObjectKind,
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub secret_type: Option<String>,
    /// The base64 text stored under `data.release`.
    pub payload: String,
}

impl NewObject {
    pub fn to_secret(&self) -> Secret {
        Secret {
            metadata: self.meta(),
            type_: self.secret_type.clone(),
            data: Some(BTreeMap::from([(DATA_KEY.to_string(), ByteString(self.payload.as_bytes().to_vec()))])),
            ..Default::default()
        }
    }

    pub fn to_configmap(&self) -> ConfigMap {
        ConfigMap {
            metadata: self.meta(),
            data: Some(BTreeMap::from([(DATA_KEY.to_string(), self.payload.clone())])),
            ..Default::default()
        }
    }

    fn meta(&self) -> ObjectMeta {
        ObjectMeta {
            name: Some(self.name.clone()),
            namespace: Some(self.namespace.clone()),
            labels: Some(self.labels.clone()),
            ..Default::default()
        }
    }

    /// The object as plain JSON (`kubectl create -f` accepts it), for backups and dry runs.
    pub fn to_json(&self) -> serde_json::Value {
        match self.kind {
            ObjectKind::Secret => {
                let mut v = serde_json::to_value(self.to_secret()).unwrap_or_default();
                v["apiVersion"] = "v1".into();
                v["kind"] = "Secret".into();
                v
            }
            ObjectKind::ConfigMap => {
                let mut v = serde_json::to_value(self.to_configmap()).unwrap_or_default();
                v["apiVersion"] = "v1".into();
                v["kind"] = "ConfigMap".into();
                v
            }
        }
    }

    /// Size the API server counts against its 1 MiB limit for the data of this object.
    pub fn data_size(&self) -> usize {
        self.payload.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A server holding `keys` (in order) that answers pages of `limit`; tokens are the index to start
    /// at, and `expire(token)` makes a token answer 410, offering a fresh one or not.
    struct Server {
        keys: Vec<&'static str>,
        limit: usize,
        requests: Mutex<Vec<Option<String>>>,
    }

    impl Server {
        fn page(&self, token: Option<String>, expire: impl Fn(&str) -> Option<Option<String>>) -> Result<RawPage<String>, kube::Error> {
            self.requests.lock().unwrap().push(token.clone());
            if let Some(t) = &token
                && let Some(offered) = expire(t)
            {
                let mut status = kube::core::Status::failure("The provided continue parameter is too old", "Expired").with_code(410);
                status.metadata =
                    Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta { continue_: offered, ..Default::default() });
                return Err(kube::Error::Api(Box::new(status)));
            }
            // A token is `SNAPSHOT:INDEX`; every LIST from the start reads a snapshot of its own.
            let (snapshot, start) = match token {
                Some(t) => {
                    let (snapshot, index) = t.split_once(':').unwrap();
                    (snapshot.to_string(), index.parse().unwrap())
                }
                None => {
                    let starts = self.requests.lock().unwrap().iter().filter(|r| r.is_none()).count();
                    (format!("s{starts}"), 0)
                }
            };
            let end = (start + self.limit).min(self.keys.len());
            let items = self.keys[start..end].iter().map(|k| k.to_string()).collect();
            Ok((items, (end < self.keys.len()).then(|| format!("{snapshot}:{end}"))))
        }
    }

    async fn all(server: &Server, expire: &(dyn Fn(&str) -> Option<Option<String>> + Sync)) -> Result<Vec<String>, kube::Error> {
        let mut out = Vec::new();
        let mut cursor: Option<Cursor> = None;
        loop {
            let page = paged(cursor.as_ref(), |t| async move { server.page(t, expire) }, |k: &String| k.clone()).await?;
            out.extend(page.items);
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(out),
            }
        }
    }

    fn server() -> Server {
        let keys = vec!["a/x", "a/y", "a-b/x", "b/v1", "b/v10", "b/v2", "c/z"];
        let mut sorted = keys.clone();
        sorted.sort();
        Server { keys: sorted, limit: 2, requests: Mutex::new(Vec::new()) }
    }

    #[tokio::test]
    async fn an_expired_token_goes_on_with_the_one_the_server_offers() {
        let s = server();
        // The first LIST's token for index 2 expired; the server offers one at its current snapshot.
        let got = all(&s, &|t| (t == "s1:2").then(|| Some("now:2".to_string()))).await.unwrap();
        assert_eq!(got, s.keys.iter().map(|k| k.to_string()).collect::<Vec<_>>());
        let requests = s.requests.lock().unwrap().clone();
        let want = [None, Some("s1:2"), Some("now:2"), Some("now:4"), Some("now:6")];
        assert_eq!(requests, want.map(|t| t.map(String::from)));
    }

    #[tokio::test]
    async fn without_an_offered_token_the_list_starts_again_and_skips_what_it_had() {
        let s = server();
        let got = all(&s, &|t| (t == "s1:4").then_some(None)).await.unwrap();
        assert_eq!(got, s.keys.iter().map(|k| k.to_string()).collect::<Vec<_>>(), "each object once, in key order");
        let requests = s.requests.lock().unwrap().clone();
        // 0, 2, 4 (expired), then from the start: 0 and 2 bring nothing new, 4 and 6 the rest.
        let want = [None, Some("s1:2"), Some("s1:4"), None, Some("s2:2"), Some("s2:4"), Some("s2:6")];
        assert_eq!(requests, want.map(|t| t.map(String::from)));
    }

    #[tokio::test]
    async fn a_token_that_keeps_expiring_ends_the_list_with_the_servers_error() {
        let s = server();
        let err = all(&s, &|_| Some(Some("now:2".to_string()))).await.unwrap_err();
        assert!(matches!(err, kube::Error::Api(ref st) if st.code == 410), "{err}");
        assert_eq!(s.requests.lock().unwrap().len(), 2 + EXPIRED_ATTEMPTS as usize);
    }
}
