//! Kubernetes' protobuf encoding of the LIST answers release storage reads: SecretList, ConfigMapList,
//! PartialObjectMetadataList, and the Status of a failed request. Declared with `prost` derive from the
//! field numbers of the API's `generated.proto` files, keeping only the fields records need (metadata,
//! labels, a Secret's type, the data map); every other field is skipped by its length on the wire.
//!
//! A protobuf answer is the 4 bytes `k8s\0` and a `runtime.Unknown` {typeMeta=1, raw=2,
//! contentEncoding=3, contentType=4} whose `raw` holds the list's own message. Decoding from a
//! [`Bytes`] buffer keeps payloads as slices of the answer (no copy until a record is taken out).

use std::collections::BTreeMap;

use bytes::Bytes;
use prost::Message;

use super::codec::DATA_KEY;
use super::record_object::{ObjectInfo, ObjectKind, RawObject};

pub const MAGIC: &[u8] = b"k8s\0";

/// The media type of protobuf answers.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// `Accept` for a LIST of full objects: protobuf, or JSON from a server that does not speak it.
pub const ACCEPT_FULL: &str = "application/vnd.kubernetes.protobuf, application/json";

/// `Accept` for a metadata-only LIST: protobuf or JSON `PartialObjectMetadataList`, or plain JSON.
pub const ACCEPT_META: &str = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, \
     application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, application/json";

#[derive(Clone, PartialEq, Message)]
pub struct TypeMeta {
    #[prost(string, tag = "1")]
    pub api_version: String,
    #[prost(string, tag = "2")]
    pub kind: String,
}

/// `runtime.Unknown`: the envelope of every protobuf answer.
#[derive(Clone, PartialEq, Message)]
pub struct Unknown {
    #[prost(message, optional, tag = "1")]
    pub type_meta: Option<TypeMeta>,
    #[prost(bytes = "bytes", tag = "2")]
    pub raw: Bytes,
    #[prost(string, tag = "3")]
    pub content_encoding: String,
    #[prost(string, tag = "4")]
    pub content_type: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct ListMeta {
    #[prost(string, tag = "2")]
    pub resource_version: String,
    #[prost(string, tag = "3")]
    pub continue_token: String,
    #[prost(int64, optional, tag = "4")]
    pub remaining_item_count: Option<i64>,
}

/// Any list read only for its `metadata` (field 1); its items are skipped without being decoded.
#[derive(Clone, PartialEq, Message)]
pub struct ListHead {
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ListMeta>,
}

#[derive(Clone, Copy, PartialEq, Message)]
pub struct Time {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

#[derive(Clone, PartialEq, Message)]
pub struct ObjectMeta {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "3")]
    pub namespace: String,
    #[prost(string, tag = "5")]
    pub uid: String,
    #[prost(string, tag = "6")]
    pub resource_version: String,
    #[prost(message, optional, tag = "8")]
    pub creation_timestamp: Option<Time>,
    #[prost(btree_map = "string, string", tag = "11")]
    pub labels: BTreeMap<String, String>,
}

/// One entry of a `map<string, bytes>` (a Secret's data, a ConfigMap's binaryData) or of a
/// `map<string, string>` (a ConfigMap's data): a map is a repeated {key=1, value=2} on the wire, and
/// the value is kept as bytes so it stays a slice of the answer.
#[derive(Clone, PartialEq, Message)]
pub struct DataEntry {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(bytes = "bytes", tag = "2")]
    pub value: Bytes,
}

#[derive(Clone, PartialEq, Message)]
pub struct Secret {
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    #[prost(message, repeated, tag = "2")]
    pub data: Vec<DataEntry>,
    #[prost(string, optional, tag = "3")]
    pub type_: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct SecretList {
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ListMeta>,
    #[prost(message, repeated, tag = "2")]
    pub items: Vec<Secret>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ConfigMap {
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    #[prost(message, repeated, tag = "2")]
    pub data: Vec<DataEntry>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ConfigMapList {
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ListMeta>,
    #[prost(message, repeated, tag = "2")]
    pub items: Vec<ConfigMap>,
}

#[derive(Clone, PartialEq, Message)]
pub struct PartialObjectMetadata {
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
}

#[derive(Clone, PartialEq, Message)]
pub struct PartialObjectMetadataList {
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ListMeta>,
    #[prost(message, repeated, tag = "2")]
    pub items: Vec<PartialObjectMetadata>,
}

#[derive(Clone, PartialEq, Message)]
pub struct StatusCause {
    #[prost(string, tag = "1")]
    pub reason: String,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(string, tag = "3")]
    pub field: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct StatusDetails {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub group: String,
    #[prost(string, tag = "3")]
    pub kind: String,
    #[prost(message, repeated, tag = "4")]
    pub causes: Vec<StatusCause>,
    #[prost(int32, tag = "5")]
    pub retry_after_seconds: i32,
    #[prost(string, tag = "6")]
    pub uid: String,
}

/// `meta.v1.Status`, how a server that was asked for protobuf explains a failure.
#[derive(Clone, PartialEq, Message)]
pub struct Status {
    #[prost(string, tag = "2")]
    pub status: String,
    #[prost(string, tag = "3")]
    pub message: String,
    #[prost(string, tag = "4")]
    pub reason: String,
    #[prost(message, optional, tag = "5")]
    pub details: Option<StatusDetails>,
    #[prost(int32, tag = "6")]
    pub code: i32,
}

/// Whether a `Content-Type` names the protobuf encoding.
pub fn is_protobuf(content_type: &str) -> bool {
    content_type.split(';').next().is_some_and(|base| base.trim().eq_ignore_ascii_case(MEDIA_TYPE))
}

/// The envelope's kind and the message it carries.
pub fn unwrap(body: Bytes) -> Result<(String, Bytes), String> {
    if !body.starts_with(MAGIC) {
        return Err("not a Kubernetes protobuf message (no k8s\\0 prefix)".into());
    }
    let unknown = Unknown::decode(body.slice(MAGIC.len()..)).map_err(|e| format!("protobuf envelope: {e}"))?;
    if !unknown.content_encoding.is_empty() {
        return Err(format!("protobuf content encoding {:?} is not supported", unknown.content_encoding));
    }
    Ok((unknown.type_meta.map(|t| t.kind).unwrap_or_default(), unknown.raw))
}

/// The `continue` token of a list message, without decoding its items.
pub fn continue_token(list: &Bytes) -> Result<Option<String>, String> {
    let head = ListHead::decode(list.clone()).map_err(|e| format!("list metadata: {e}"))?;
    Ok(head.metadata.map(|m| m.continue_token).filter(|t| !t.is_empty()))
}

/// RFC 3339 in UTC, as the JSON form of `metav1.Time` reads.
fn time_text(t: Time) -> Option<String> {
    jiff::Timestamp::new(t.seconds, t.nanos).ok().map(|ts| ts.to_string())
}

fn info(kind: ObjectKind, meta: Option<ObjectMeta>, fallback_namespace: Option<&str>, secret_type: Option<String>) -> ObjectInfo {
    let meta = meta.unwrap_or_default();
    let non_empty = |s: String| (!s.is_empty()).then_some(s);
    ObjectInfo {
        kind,
        namespace: non_empty(meta.namespace).or_else(|| fallback_namespace.map(String::from)).unwrap_or_default(),
        name: meta.name,
        labels: meta.labels,
        resource_version: non_empty(meta.resource_version),
        uid: non_empty(meta.uid),
        creation_timestamp: meta.creation_timestamp.and_then(time_text),
        secret_type,
    }
}

fn release_payload(data: Vec<DataEntry>) -> Option<Vec<u8>> {
    data.into_iter().find(|e| e.key == DATA_KEY).map(|e| e.value.to_vec())
}

/// The records of a `SecretList` or `ConfigMapList` message.
pub fn objects(kind: ObjectKind, list: Bytes, fallback_namespace: Option<&str>) -> Result<Vec<RawObject>, String> {
    match kind {
        ObjectKind::Secret => {
            let list = SecretList::decode(list).map_err(|e| format!("SecretList: {e}"))?;
            Ok(list
                .items
                .into_iter()
                .map(|s| RawObject { info: info(kind, s.metadata, fallback_namespace, s.type_), payload: release_payload(s.data) })
                .collect())
        }
        ObjectKind::ConfigMap => {
            let list = ConfigMapList::decode(list).map_err(|e| format!("ConfigMapList: {e}"))?;
            Ok(list
                .items
                .into_iter()
                .map(|c| RawObject { info: info(kind, c.metadata, fallback_namespace, None), payload: release_payload(c.data) })
                .collect())
        }
    }
}

/// The objects of a `PartialObjectMetadataList` message.
pub fn metadata(kind: ObjectKind, list: Bytes, fallback_namespace: Option<&str>) -> Result<Vec<ObjectInfo>, String> {
    let list = PartialObjectMetadataList::decode(list).map_err(|e| format!("PartialObjectMetadataList: {e}"))?;
    Ok(list.items.into_iter().map(|m| info(kind, m.metadata, fallback_namespace, None)).collect())
}

/// A protobuf `Status` as the JSON one kube reads (so errors look the same whatever the encoding).
pub fn status_json(message: Bytes) -> Result<serde_json::Value, String> {
    let s = Status::decode(message).map_err(|e| format!("Status: {e}"))?;
    let mut v = serde_json::json!({
        "status": s.status, "message": s.message, "reason": s.reason, "code": s.code.clamp(0, i32::from(u16::MAX)),
    });
    if let Some(d) = s.details {
        let causes: Vec<_> =
            d.causes.iter().map(|c| serde_json::json!({"reason": c.reason, "message": c.message, "field": c.field})).collect();
        v["details"] = serde_json::json!({
            "name": d.name, "group": d.group, "kind": d.kind, "uid": d.uid, "causes": causes,
            "retryAfterSeconds": d.retry_after_seconds,
        });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(kind: &str, raw: Vec<u8>) -> Bytes {
        let u = Unknown {
            type_meta: Some(TypeMeta { api_version: "v1".into(), kind: kind.into() }),
            raw: raw.into(),
            content_encoding: String::new(),
            content_type: String::new(),
        };
        [MAGIC.to_vec(), u.encode_to_vec()].concat().into()
    }

    fn meta(name: &str) -> ObjectMeta {
        ObjectMeta {
            name: name.into(),
            namespace: "apps".into(),
            uid: "u-1".into(),
            resource_version: "42".into(),
            creation_timestamp: Some(Time { seconds: 1_790_000_000, nanos: 0 }),
            labels: BTreeMap::from([("owner".into(), "helm".into()), ("name".into(), "app".into())]),
        }
    }

    #[test]
    fn secret_list_round_trip_keeps_only_the_release_key() {
        let list = SecretList {
            metadata: Some(ListMeta { resource_version: "7".into(), continue_token: "next".into(), remaining_item_count: Some(3) }),
            items: vec![Secret {
                metadata: Some(meta("sh.helm.release.v1.app.v1")),
                data: vec![
                    DataEntry { key: "other".into(), value: Bytes::from_static(b"x") },
                    DataEntry { key: "release".into(), value: Bytes::from_static(b"H4sIAAAA") },
                ],
                type_: Some("helm.sh/release.v1".into()),
            }],
        };
        let (kind, raw) = unwrap(envelope("SecretList", list.encode_to_vec())).unwrap();
        assert_eq!(kind, "SecretList");
        assert_eq!(continue_token(&raw).unwrap().as_deref(), Some("next"));
        let objs = objects(ObjectKind::Secret, raw, None).unwrap();
        assert_eq!(objs.len(), 1);
        assert_eq!(objs[0].payload.as_deref(), Some(&b"H4sIAAAA"[..]));
        assert_eq!(objs[0].info.name, "sh.helm.release.v1.app.v1");
        assert_eq!(objs[0].info.namespace, "apps");
        assert_eq!(objs[0].info.labels["owner"], "helm");
        assert_eq!(objs[0].info.secret_type.as_deref(), Some("helm.sh/release.v1"));
        assert_eq!(objs[0].info.resource_version.as_deref(), Some("42"));
        assert_eq!(objs[0].info.creation_timestamp.as_deref(), Some("2026-09-21T14:13:20Z"));
    }

    #[test]
    fn status_becomes_kubes_status() {
        let s = Status {
            status: "Failure".into(),
            message: "secrets is forbidden".into(),
            reason: "Forbidden".into(),
            details: Some(StatusDetails { kind: "secrets".into(), retry_after_seconds: 2, ..Default::default() }),
            code: 403,
        };
        let (_, raw) = unwrap(envelope("Status", s.encode_to_vec())).unwrap();
        let st: kube::core::Status = serde_json::from_value(status_json(raw).unwrap()).unwrap();
        assert_eq!(st.code, 403);
        assert_eq!(st.reason, "Forbidden");
        assert_eq!(st.details.unwrap().retry_after_seconds, 2);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for body in [&b""[..], b"k8s\0", b"k8s\0\x0a\xff\xff\xff", b"k8s\0\x12\x05ab", b"nope", b"k8s\0\x0b", b"{\"kind\":\"SecretList\"}"]
        {
            let body = Bytes::copy_from_slice(body);
            if let Ok((_, raw)) = unwrap(body) {
                let _ = continue_token(&raw);
                let _ = objects(ObjectKind::Secret, raw.clone(), None);
                let _ = objects(ObjectKind::ConfigMap, raw.clone(), None);
                let _ = metadata(ObjectKind::Secret, raw, None);
            }
        }
        assert!(unwrap(Bytes::from_static(b"{}")).is_err());
    }
}
