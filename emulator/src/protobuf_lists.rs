//! LIST answers in Kubernetes' protobuf encoding, as a real API server gives them to a client whose
//! `Accept` asks for `application/vnd.kubernetes.protobuf` first: a SecretList or ConfigMapList of full
//! objects, or a PartialObjectMetadataList of any resource (`;as=PartialObjectMetadataList;
//! g=meta.k8s.io;v=v1`). The first media type of the `Accept` list that this emulator can answer
//! decides, so `application/json, application/vnd.kubernetes.protobuf` still gets JSON. Other kinds
//! asked for in protobuf fall through to JSON (a server may pick any type the client accepts).
//!
//! Envelope: `k8s\0`, then `runtime.Unknown` {typeMeta=1 {apiVersion=1, kind=2}, raw=2,
//! contentEncoding=3, contentType=4}; `raw` holds the list: {metadata=1 ListMeta {resourceVersion=2,
//! continue=3, remainingItemCount=4}, items=2}. Field numbers are those of the API's generated.proto.

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::discovery::Resource;
use crate::store::Obj;
use crate::util;

pub(crate) const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";
const META_LIST_CT: &str = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";

/// What a protobuf LIST answer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProtoList {
    Full,
    Meta,
}

/// Whether `accept` asks for a protobuf list of `res` before anything this emulator answers in JSON.
pub(crate) fn wanted(res: &Resource, accept: &str) -> Option<ProtoList> {
    let full_ok = res.group.is_empty() && matches!(res.plural.as_str(), "secrets" | "configmaps");
    for part in accept.split(',') {
        let mut it = part.split(';');
        let base = it.next().unwrap_or("").trim().to_ascii_lowercase();
        let params: Vec<(String, String)> =
            it.filter_map(|p| p.split_once('=')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
        let param = |k: &str| params.iter().find(|(pk, _)| pk == k).map(|(_, v)| v.as_str());
        let json_like = matches!(base.as_str(), "application/json" | "*/*" | "application/*" | "");
        if base == MEDIA_TYPE {
            match param("as") {
                None if full_ok => return Some(ProtoList::Full),
                Some("PartialObjectMetadataList") if param("g") == Some("meta.k8s.io") && param("v") == Some("v1") => {
                    return Some(ProtoList::Meta);
                }
                _ => continue,
            }
        }
        if json_like {
            // JSON (plain, metadata or table) is answerable: it comes first.
            match param("as") {
                None | Some("Table") | Some("PartialObjectMetadata") | Some("PartialObjectMetadataList") => return None,
                _ => continue,
            }
        }
    }
    None
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn bytes_field(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    varint(out, u64::from(field << 3 | 2));
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// A proto2 optional string: written whenever the JSON has it, as Go's generated marshaller does.
fn string_field(out: &mut Vec<u8>, field: u32, s: &str) {
    bytes_field(out, field, s.as_bytes());
}

fn varint_field(out: &mut Vec<u8>, field: u32, v: u64) {
    varint(out, u64::from(field << 3));
    varint(out, v);
}

fn map_entry(out: &mut Vec<u8>, field: u32, key: &str, value: &[u8]) {
    let mut e = Vec::with_capacity(key.len() + value.len() + 8);
    bytes_field(&mut e, 1, key.as_bytes());
    bytes_field(&mut e, 2, value);
    bytes_field(out, field, &e);
}

fn str_of<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str)
}

/// `metav1.Time` {seconds=1, nanos=2}: second precision, as the API stores it.
fn time(rfc3339: &str) -> Vec<u8> {
    let mut t = Vec::new();
    varint_field(&mut t, 1, util::parse_rfc3339(rfc3339).unwrap_or(0) as u64);
    varint_field(&mut t, 2, 0);
    t
}

fn string_map(out: &mut Vec<u8>, field: u32, m: Option<&Value>) {
    if let Some(Value::Object(m)) = m {
        // Go marshals map entries sorted by key.
        let mut keys: Vec<&String> = m.keys().collect();
        keys.sort();
        for k in keys {
            map_entry(out, field, k, m[k].as_str().unwrap_or("").as_bytes());
        }
    }
}

/// `metav1.ObjectMeta` (the fields this emulator stores; managedFields entries included).
fn object_meta(meta: &Map<String, Value>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    for (field, key) in [(1, "name"), (2, "generateName"), (3, "namespace"), (5, "uid"), (6, "resourceVersion")] {
        if let Some(s) = str_of(meta, key) {
            string_field(&mut out, field, s);
        }
    }
    if let Some(g) = meta.get("generation").and_then(Value::as_i64) {
        varint_field(&mut out, 7, g as u64);
    }
    if let Some(t) = str_of(meta, "creationTimestamp") {
        bytes_field(&mut out, 8, &time(t));
    }
    if let Some(t) = str_of(meta, "deletionTimestamp") {
        bytes_field(&mut out, 9, &time(t));
    }
    if let Some(g) = meta.get("deletionGracePeriodSeconds").and_then(Value::as_i64) {
        varint_field(&mut out, 10, g as u64);
    }
    string_map(&mut out, 11, meta.get("labels"));
    string_map(&mut out, 12, meta.get("annotations"));
    for r in meta.get("ownerReferences").and_then(Value::as_array).into_iter().flatten() {
        let Some(r) = r.as_object() else { continue };
        let mut o = Vec::new();
        for (field, key) in [(1, "kind"), (3, "name"), (4, "uid"), (5, "apiVersion")] {
            string_field(&mut o, field, str_of(r, key).unwrap_or(""));
        }
        if let Some(b) = r.get("controller").and_then(Value::as_bool) {
            varint_field(&mut o, 6, u64::from(b));
        }
        if let Some(b) = r.get("blockOwnerDeletion").and_then(Value::as_bool) {
            varint_field(&mut o, 7, u64::from(b));
        }
        bytes_field(&mut out, 13, &o);
    }
    for f in meta.get("finalizers").and_then(Value::as_array).into_iter().flatten() {
        string_field(&mut out, 14, f.as_str().unwrap_or(""));
    }
    for e in meta.get("managedFields").and_then(Value::as_array).into_iter().flatten() {
        let Some(e) = e.as_object() else { continue };
        let mut m = Vec::new();
        for (field, key) in [(1, "manager"), (2, "operation"), (3, "apiVersion")] {
            if let Some(s) = str_of(e, key) {
                string_field(&mut m, field, s);
            }
        }
        if let Some(t) = str_of(e, "time") {
            bytes_field(&mut m, 4, &time(t));
        }
        if let Some(s) = str_of(e, "fieldsType") {
            string_field(&mut m, 6, s);
        }
        if let Some(f) = e.get("fieldsV1") {
            let mut raw = Vec::new();
            bytes_field(&mut raw, 1, &serde_json::to_vec(f).unwrap_or_default());
            bytes_field(&mut m, 7, &raw);
        }
        if let Some(s) = str_of(e, "subresource") {
            string_field(&mut m, 8, s);
        }
        bytes_field(&mut out, 17, &m);
    }
    out
}

fn metadata_of(o: &Value) -> Map<String, Value> {
    o.get("metadata").and_then(Value::as_object).cloned().unwrap_or_default()
}

/// A Secret {metadata=1, data=2 map<string,bytes>, type=3, immutable=5} or a ConfigMap {metadata=1,
/// data=2 map<string,string>, binaryData=3 map<string,bytes>, immutable=4}.
fn full_object(res: &Resource, o: &Obj) -> Result<Vec<u8>, String> {
    let v = o.value();
    let mut out = Vec::with_capacity(o.body.len());
    bytes_field(&mut out, 1, &object_meta(&metadata_of(&v)));
    let bytes_map = |out: &mut Vec<u8>, field: u32, m: Option<&Value>| -> Result<(), String> {
        if let Some(Value::Object(m)) = m {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for k in keys {
                let decoded = util::b64_decode(m[k].as_str().unwrap_or(""))?;
                map_entry(out, field, k, &decoded);
            }
        }
        Ok(())
    };
    match res.plural.as_str() {
        "secrets" => {
            bytes_map(&mut out, 2, v.get("data"))?;
            if let Some(t) = v.get("type").and_then(Value::as_str) {
                string_field(&mut out, 3, t);
            }
            if let Some(b) = v.get("immutable").and_then(Value::as_bool) {
                varint_field(&mut out, 5, u64::from(b));
            }
        }
        _ => {
            string_map(&mut out, 2, v.get("data"));
            bytes_map(&mut out, 3, v.get("binaryData"))?;
            if let Some(b) = v.get("immutable").and_then(Value::as_bool) {
                varint_field(&mut out, 4, u64::from(b));
            }
        }
    }
    Ok(out)
}

/// The whole protobuf answer to a LIST, and its content type.
pub(crate) fn list_body(
    res: &Resource,
    want: ProtoList,
    items: &[Obj],
    rv: u64,
    cont: Option<&str>,
    remaining: Option<u64>,
) -> Result<(Bytes, &'static str), String> {
    let mut list = Vec::with_capacity(items.iter().map(|o| o.body.len()).sum::<usize>() + 64);
    let mut meta = Vec::new();
    string_field(&mut meta, 2, &rv.to_string());
    string_field(&mut meta, 3, cont.unwrap_or(""));
    if let Some(r) = remaining {
        varint_field(&mut meta, 4, r);
    }
    bytes_field(&mut list, 1, &meta);
    for o in items {
        let item = match want {
            ProtoList::Full => full_object(res, o)?,
            ProtoList::Meta => {
                let mut p = Vec::new();
                let m = o.head.get("metadata").and_then(Value::as_object).cloned().unwrap_or_default();
                bytes_field(&mut p, 1, &object_meta(&m));
                p
            }
        };
        bytes_field(&mut list, 2, &item);
    }
    let (api_version, kind, ct) = match want {
        ProtoList::Full => (res.api_version(), format!("{}List", res.kind), MEDIA_TYPE),
        ProtoList::Meta => ("meta.k8s.io/v1".to_string(), "PartialObjectMetadataList".to_string(), META_LIST_CT),
    };
    let mut type_meta = Vec::new();
    string_field(&mut type_meta, 1, &api_version);
    string_field(&mut type_meta, 2, &kind);
    let mut body = Vec::with_capacity(list.len() + 64);
    body.extend_from_slice(b"k8s\0");
    bytes_field(&mut body, 1, &type_meta);
    bytes_field(&mut body, 2, &list);
    string_field(&mut body, 3, "");
    string_field(&mut body, 4, "");
    Ok((Bytes::from(body), ct))
}
