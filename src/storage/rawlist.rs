//! LIST requests for record objects, sent raw on the kube client so that they can ask for protobuf
//! (kube's typed `Api` always asks for JSON). A protobuf answer is about a third smaller than the JSON
//! one (payloads are bytes, not base64 of base64) and decodes without a JSON parser; a server that
//! answers JSON instead (it may: `Accept` names JSON as the fallback) is read as JSON.
//!
//! A page's body is only looked at for its `continue` token before the next page is asked for; its
//! items are decoded afterwards ([`ListBody::objects`], [`ListBody::infos`]), off the async threads,
//! while the next page is on the wire.

use bytes::Bytes;
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::ListParams;

use super::protobuf;
use super::record_object::{ObjectInfo, ObjectKind, RawObject, configmap_raw, malformed_list as malformed, secret_raw};
use super::shape::Shape;

/// One page of a LIST, not decoded yet.
pub struct RawPage {
    pub body: ListBody,
    pub continue_token: Option<String>,
}

/// A LIST answer's items, still encoded (protobuf), or already read (JSON, whose `continue` token
/// cannot be found without parsing it all).
pub struct ListBody {
    kind: ObjectKind,
    fallback_namespace: Option<String>,
    items: Items,
}

enum Items {
    Protobuf(Bytes),
    Objects(Vec<RawObject>),
    Infos(Vec<ObjectInfo>),
}

impl ListBody {
    /// Whether the server answered in protobuf.
    pub fn is_protobuf(&self) -> bool {
        matches!(self.items, Items::Protobuf(_))
    }

    /// The full objects of a LIST asked for with [`Shape::Full`].
    pub fn objects(self) -> Result<Vec<RawObject>, String> {
        match self.items {
            Items::Protobuf(b) => protobuf::objects(self.kind, b, self.fallback_namespace.as_deref()),
            Items::Objects(o) => Ok(o),
            Items::Infos(_) => Err("a metadata-only list holds no payloads".into()),
        }
    }

    /// The metadata of a LIST asked for with [`Shape::Meta`].
    pub fn infos(self) -> Result<Vec<ObjectInfo>, String> {
        match self.items {
            Items::Protobuf(b) => protobuf::metadata(self.kind, b, self.fallback_namespace.as_deref()),
            Items::Objects(o) => Ok(o.into_iter().map(|r| r.info).collect()),
            Items::Infos(i) => Ok(i),
        }
    }
}

/// The error a failed request's body describes, as kube reports one (`Error::Api`).
fn api_error(code: u16, content_type: &str, body: Bytes) -> kube::Error {
    let parsed = if protobuf::is_protobuf(content_type) {
        protobuf::unwrap(body.clone()).ok().and_then(|(_, raw)| protobuf::status_json(raw).ok())
    } else {
        serde_json::from_slice::<serde_json::Value>(&body).ok()
    };
    let status = parsed.and_then(|v| serde_json::from_value::<kube::core::Status>(v).ok()).filter(|s| s.code != 0 || !s.message.is_empty());
    let status = match status {
        Some(mut s) => {
            if s.code == 0 {
                s.code = code;
            }
            s
        }
        None => kube::core::Status::failure(String::from_utf8_lossy(&body).trim(), "Failed to parse error data").with_code(code),
    };
    kube::Error::Api(status.boxed())
}

#[derive(serde::Deserialize)]
struct JsonList<T> {
    #[serde(default)]
    metadata: JsonListMeta,
    #[serde(default = "Vec::new")]
    items: Vec<T>,
}

#[derive(Default, serde::Deserialize)]
struct JsonListMeta {
    #[serde(default, rename = "continue")]
    continue_token: Option<String>,
}

#[derive(serde::Deserialize)]
struct JsonMetaItem {
    #[serde(default)]
    metadata: ObjectMeta,
}

/// Sends the raw LISTs of one kind of record object (the object store's LISTs go through it).
#[derive(Clone)]
pub struct RawLister {
    client: kube::Client,
    kind: ObjectKind,
}

impl RawLister {
    pub fn new(client: kube::Client, kind: ObjectKind) -> Self {
        RawLister { client, kind }
    }

    fn list_path(&self, ns: Option<&str>) -> String {
        match ns {
            Some(ns) => format!("/api/v1/namespaces/{ns}/{}", self.kind.resource()),
            None => format!("/api/v1/{}", self.kind.resource()),
        }
    }

    /// One LIST request (no retries): protobuf asked for, JSON accepted.
    pub async fn list_raw(
        &self,
        ns: Option<&str>,
        selector: &str,
        limit: u32,
        continue_token: Option<&str>,
        shape: Shape,
    ) -> Result<RawPage, kube::Error> {
        let mut lp = ListParams::default().labels(selector);
        if limit > 0 {
            lp = lp.limit(limit);
        }
        if let Some(t) = continue_token {
            lp = lp.continue_token(t);
        }
        self.list_with(ns, &lp, shape).await
    }

    /// Whether any object matches `selector` in the API server's watch cache (`resourceVersion=0`,
    /// metadata only, with read retries). A consistent LIST with a label selector costs a real server a
    /// read of every Secret (or ConfigMap) from etcd, filtered afterwards, even when nothing matches;
    /// this one is answered from memory. The cache trails etcd by the moments its watch takes, and only
    /// while etcd answers (the consistent LISTs sent beside it fail otherwise), so a storage is missed
    /// only when its first record ever was written in those moments.
    pub async fn any_in_cache(&self, ns: Option<&str>, selector: &str) -> Result<bool, kube::Error> {
        let lp = ListParams::default().labels(selector).match_any();
        let retry = crate::retry::ReadRetry::default();
        let page = crate::retry::read(retry, || self.list_with(ns, &lp, Shape::Meta)).await?;
        let infos = page.body.infos().map_err(malformed)?;
        Ok(!infos.is_empty())
    }

    async fn list_with(&self, ns: Option<&str>, lp: &ListParams, shape: Shape) -> Result<RawPage, kube::Error> {
        let mut req = kube::core::Request::new(self.list_path(ns)).list(lp).map_err(kube::Error::BuildRequest)?;
        let accept = match shape {
            Shape::Full => protobuf::ACCEPT_FULL,
            Shape::Meta => protobuf::ACCEPT_META,
        };
        req.headers_mut().insert(http::header::ACCEPT, http::HeaderValue::from_static(accept));
        let res = self.client.send(req.map(kube::client::Body::from)).await?;
        let code = res.status().as_u16();
        let content_type = res.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let body = res.into_body().collect().await?.to_bytes();
        if code >= 400 {
            return Err(api_error(code, &content_type, body));
        }
        let kind = self.kind;
        let fallback_namespace = ns.map(String::from);
        if protobuf::is_protobuf(&content_type) {
            let (_, list) = protobuf::unwrap(body).map_err(malformed)?;
            let token = protobuf::continue_token(&list).map_err(malformed)?;
            return Ok(RawPage { body: ListBody { kind, fallback_namespace, items: Items::Protobuf(list) }, continue_token: token });
        }
        // JSON: a server without protobuf (or one that chose JSON) answers a list kube can read.
        let (items, token) = match (shape, kind) {
            (Shape::Meta, _) => {
                let list: JsonList<JsonMetaItem> = serde_json::from_slice(&body).map_err(kube::Error::SerdeError)?;
                let infos = list.items.into_iter().map(|i| ObjectInfo::from_meta(kind, i.metadata, ns, None)).collect();
                (Items::Infos(infos), list.metadata.continue_token)
            }
            (Shape::Full, ObjectKind::Secret) => {
                let list: JsonList<Secret> = serde_json::from_slice(&body).map_err(kube::Error::SerdeError)?;
                (Items::Objects(list.items.into_iter().map(|s| secret_raw(s, ns)).collect()), list.metadata.continue_token)
            }
            (Shape::Full, ObjectKind::ConfigMap) => {
                let list: JsonList<ConfigMap> = serde_json::from_slice(&body).map_err(kube::Error::SerdeError)?;
                (Items::Objects(list.items.into_iter().map(|c| configmap_raw(c, ns)).collect()), list.metadata.continue_token)
            }
        };
        Ok(RawPage { body: ListBody { kind, fallback_namespace, items }, continue_token: token.filter(|t| !t.is_empty()) })
    }

    /// [`list_raw`](Self::list_raw) with the read retries every read has.
    pub async fn list_raw_retried(
        &self,
        ns: Option<&str>,
        selector: &str,
        limit: u32,
        continue_token: Option<&str>,
        shape: Shape,
    ) -> Result<RawPage, kube::Error> {
        let retry = crate::retry::ReadRetry::default();
        crate::retry::read(retry, || self.list_raw(ns, selector, limit, continue_token, shape)).await
    }
}
