//! Request bodies in Kubernetes' protobuf encoding, which client-go's typed clients (and so helm,
//! when it writes release Secrets/ConfigMaps, and `kubectl create namespace`) send. Decoded into the
//! same JSON the rest of the server handles. Covers the kinds those clients write: Secret, ConfigMap,
//! Namespace, and DeleteOptions; anything else answers 415 as before.
//!
//! Envelope: the 4 bytes `k8s\0`, then a `runtime.Unknown` message {typeMeta=1 {apiVersion=1, kind=2},
//! raw=2, contentEncoding=3, contentType=4}; `raw` holds the object's own message.

use base64::Engine;
use serde_json::{Map, Value, json};

const MAGIC: &[u8] = b"k8s\0";

/// One field of a protobuf message: its number and raw value.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut out = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos).ok_or("truncated varint")?;
        *pos += 1;
        out |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(out);
        }
    }
    Err("varint too long".into())
}

fn fields(buf: &[u8]) -> Result<Vec<(u32, Field<'_>)>, String> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < buf.len() {
        let key = read_varint(buf, &mut pos)?;
        let number = (key >> 3) as u32;
        let field = match key & 7 {
            0 => Field::Varint(read_varint(buf, &mut pos)?),
            1 => {
                pos = pos.checked_add(8).filter(|p| *p <= buf.len()).ok_or("truncated fixed64")?;
                Field::Fixed
            }
            2 => {
                let len = read_varint(buf, &mut pos)? as usize;
                let end = pos.checked_add(len).filter(|e| *e <= buf.len()).ok_or("truncated length-delimited field")?;
                let bytes = &buf[pos..end];
                pos = end;
                Field::Bytes(bytes)
            }
            5 => {
                pos = pos.checked_add(4).filter(|p| *p <= buf.len()).ok_or("truncated fixed32")?;
                Field::Fixed
            }
            w => return Err(format!("unsupported wire type {w}")),
        };
        out.push((number, field));
    }
    Ok(out)
}

fn string(b: &[u8]) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|_| "invalid UTF-8 in a string field".to_string())
}

/// A `map<string, string|bytes>` entry {key=1, value=2}.
fn map_entry(b: &[u8], value_is_bytes: bool) -> Result<(String, Value), String> {
    let mut key = String::new();
    let mut value = Value::String(String::new());
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(k)) => key = string(k)?,
            (2, Field::Bytes(v)) => {
                value = if value_is_bytes {
                    Value::String(base64::engine::general_purpose::STANDARD.encode(v))
                } else {
                    Value::String(string(v)?)
                }
            }
            _ => {}
        }
    }
    Ok((key, value))
}

fn time(b: &[u8]) -> Result<Value, String> {
    let mut seconds = 0i64;
    for (n, f) in fields(b)? {
        if let (1, Field::Varint(v)) = (n, f) {
            seconds = v as i64;
        }
    }
    // RFC 3339 in UTC, second precision, as metav1.Time marshals.
    let days = seconds.div_euclid(86400);
    let secs = seconds.rem_euclid(86400);
    let (y, m, d) = civil(days);
    Ok(Value::String(format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)))
}

fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn object_meta(b: &[u8]) -> Result<Value, String> {
    let mut meta = Map::new();
    let mut labels = Map::new();
    let mut annotations = Map::new();
    let mut finalizers = Vec::new();
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(v)) => {
                meta.insert("name".into(), Value::String(string(v)?));
            }
            (2, Field::Bytes(v)) => {
                meta.insert("generateName".into(), Value::String(string(v)?));
            }
            (3, Field::Bytes(v)) => {
                meta.insert("namespace".into(), Value::String(string(v)?));
            }
            (5, Field::Bytes(v)) => {
                meta.insert("uid".into(), Value::String(string(v)?));
            }
            (6, Field::Bytes(v)) => {
                meta.insert("resourceVersion".into(), Value::String(string(v)?));
            }
            (7, Field::Varint(v)) => {
                meta.insert("generation".into(), json!(v as i64));
            }
            (8, Field::Bytes(v)) => {
                meta.insert("creationTimestamp".into(), time(v)?);
            }
            (11, Field::Bytes(v)) => {
                let (k, val) = map_entry(v, false)?;
                labels.insert(k, val);
            }
            (12, Field::Bytes(v)) => {
                let (k, val) = map_entry(v, false)?;
                annotations.insert(k, val);
            }
            (14, Field::Bytes(v)) => finalizers.push(Value::String(string(v)?)),
            _ => {}
        }
    }
    if !labels.is_empty() {
        meta.insert("labels".into(), Value::Object(labels));
    }
    if !annotations.is_empty() {
        meta.insert("annotations".into(), Value::Object(annotations));
    }
    if !finalizers.is_empty() {
        meta.insert("finalizers".into(), Value::Array(finalizers));
    }
    Ok(Value::Object(meta))
}

fn secret(b: &[u8]) -> Result<Map<String, Value>, String> {
    let mut obj = Map::new();
    let (mut data, mut string_data) = (Map::new(), Map::new());
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(v)) => {
                obj.insert("metadata".into(), object_meta(v)?);
            }
            (2, Field::Bytes(v)) => {
                let (k, val) = map_entry(v, true)?;
                data.insert(k, val);
            }
            (3, Field::Bytes(v)) => {
                obj.insert("type".into(), Value::String(string(v)?));
            }
            (4, Field::Bytes(v)) => {
                let (k, val) = map_entry(v, false)?;
                string_data.insert(k, val);
            }
            (5, Field::Varint(v)) => {
                obj.insert("immutable".into(), Value::Bool(v != 0));
            }
            _ => {}
        }
    }
    if !data.is_empty() {
        obj.insert("data".into(), Value::Object(data));
    }
    if !string_data.is_empty() {
        obj.insert("stringData".into(), Value::Object(string_data));
    }
    Ok(obj)
}

fn config_map(b: &[u8]) -> Result<Map<String, Value>, String> {
    let mut obj = Map::new();
    let (mut data, mut binary) = (Map::new(), Map::new());
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(v)) => {
                obj.insert("metadata".into(), object_meta(v)?);
            }
            (2, Field::Bytes(v)) => {
                let (k, val) = map_entry(v, false)?;
                data.insert(k, val);
            }
            (3, Field::Bytes(v)) => {
                let (k, val) = map_entry(v, true)?;
                binary.insert(k, val);
            }
            (4, Field::Varint(v)) => {
                obj.insert("immutable".into(), Value::Bool(v != 0));
            }
            _ => {}
        }
    }
    if !data.is_empty() {
        obj.insert("data".into(), Value::Object(data));
    }
    if !binary.is_empty() {
        obj.insert("binaryData".into(), Value::Object(binary));
    }
    Ok(obj)
}

fn namespace(b: &[u8]) -> Result<Map<String, Value>, String> {
    let mut obj = Map::new();
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(v)) => {
                obj.insert("metadata".into(), object_meta(v)?);
            }
            (2, Field::Bytes(v)) => {
                let mut finalizers = Vec::new();
                for (n2, f2) in fields(v)? {
                    if let (1, Field::Bytes(s)) = (n2, f2) {
                        finalizers.push(Value::String(string(s)?));
                    }
                }
                if !finalizers.is_empty() {
                    obj.insert("spec".into(), json!({ "finalizers": finalizers }));
                }
            }
            _ => {}
        }
    }
    Ok(obj)
}

fn delete_options(b: &[u8]) -> Result<Map<String, Value>, String> {
    let mut obj = Map::new();
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Varint(v)) => {
                obj.insert("gracePeriodSeconds".into(), json!(v as i64));
            }
            (2, Field::Bytes(v)) => {
                let mut pre = Map::new();
                for (n2, f2) in fields(v)? {
                    match (n2, f2) {
                        (1, Field::Bytes(s)) => {
                pre.insert("uid".into(), Value::String(string(s)?));
            }
                        (2, Field::Bytes(s)) => {
                pre.insert("resourceVersion".into(), Value::String(string(s)?));
            }
                        _ => {}
                    }
                }
                obj.insert("preconditions".into(), Value::Object(pre));
            }
            (3, Field::Varint(v)) => {
                obj.insert("orphanDependents".into(), Value::Bool(v != 0));
            }
            (4, Field::Bytes(v)) => {
                obj.insert("propagationPolicy".into(), Value::String(string(v)?));
            }
            _ => {}
        }
    }
    Ok(obj)
}

/// Decode a protobuf request body into the JSON object it stands for.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let rest = body.strip_prefix(MAGIC).ok_or("missing the k8s protobuf envelope")?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), None);
    for (n, f) in fields(rest)? {
        match (n, f) {
            (1, Field::Bytes(tm)) => {
                for (n2, f2) in fields(tm)? {
                    match (n2, f2) {
                        (1, Field::Bytes(s)) => api_version = string(s)?,
                        (2, Field::Bytes(s)) => kind = string(s)?,
                        _ => {}
                    }
                }
            }
            (2, Field::Bytes(r)) => raw = Some(r),
            (3, Field::Bytes(enc)) if !enc.is_empty() => return Err("content encodings are not supported".into()),
            _ => {}
        }
    }
    let raw = raw.unwrap_or(&[]);
    let mut obj = match kind.as_str() {
        "Secret" => secret(raw)?,
        "ConfigMap" => config_map(raw)?,
        "Namespace" => namespace(raw)?,
        "DeleteOptions" => delete_options(raw)?,
        other => return Err(format!("protobuf bodies of kind {other:?} are not supported by this emulator")),
    };
    obj.insert("apiVersion".into(), Value::String(if api_version.is_empty() { "v1".into() } else { api_version }));
    obj.insert("kind".into(), Value::String(kind));
    Ok(Value::Object(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ld(field: u32, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut key = u64::from(field << 3 | 2);
        loop {
            let b = (key & 0x7f) as u8;
            key >>= 7;
            if key == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        }
        let mut len = bytes.len() as u64;
        loop {
            let b = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        }
        out.extend_from_slice(bytes);
        out
    }

    fn entry(k: &str, v: &[u8]) -> Vec<u8> {
        [ld(1, k.as_bytes()), ld(2, v)].concat()
    }

    #[test]
    fn decodes_a_helm_release_secret() {
        let meta = [ld(1, b"sh.helm.release.v1.app.v1"), ld(3, b"apps"), ld(11, &entry("owner", b"helm")), ld(11, &entry("name", b"app"))].concat();
        let secret = [ld(1, &meta), ld(2, &entry("release", b"H4sI")), ld(3, b"helm.sh/release.v1")].concat();
        let type_meta = [ld(1, b"v1"), ld(2, b"Secret")].concat();
        let body = [MAGIC.to_vec(), ld(1, &type_meta), ld(2, &secret)].concat();
        let v = decode(&body).unwrap();
        assert_eq!(v["kind"], "Secret");
        assert_eq!(v["metadata"]["name"], "sh.helm.release.v1.app.v1");
        assert_eq!(v["metadata"]["labels"]["owner"], "helm");
        assert_eq!(v["type"], "helm.sh/release.v1");
        assert_eq!(v["data"]["release"], base64::engine::general_purpose::STANDARD.encode(b"H4sI"));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for body in [&b""[..], b"k8s\0", b"k8s\0\x0a\xff\xff\xff", b"k8s\0\x12\x05ab", b"nope", b"k8s\0\x0b"] {
            let _ = decode(body);
        }
        assert!(decode(b"k8s\0").is_err());
    }
}
