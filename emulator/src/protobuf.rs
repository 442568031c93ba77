//! Request bodies in Kubernetes' protobuf encoding, which client-go's typed clients (and so helm,
//! when it writes release Secrets/ConfigMaps, and `kubectl create ...`) send. Decoded into the
//! same JSON the rest of the server handles: DeleteOptions here, objects by `pbobject` (every kind of its
//! table); anything else answers 415.
//!
//! Envelope: the 4 bytes `k8s\0`, then a `runtime.Unknown` message {typeMeta=1 {apiVersion=1, kind=2},
//! raw=2, contentEncoding=3, contentType=4}; `raw` holds the object's own message.

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
            (5, Field::Bytes(v)) => {
                let dry = obj.entry("dryRun").or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(a) = dry {
                    a.push(Value::String(string(v)?));
                }
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
        "DeleteOptions" => delete_options(raw)?,
        other => match crate::pbobject::decode_object(&api_version, other, raw) {
            Some(decoded) => decoded?,
            None => return Err(format!("protobuf bodies of kind {other:?} are not supported by this emulator")),
        },
    };
    obj.insert("apiVersion".into(), Value::String(if api_version.is_empty() { "v1".into() } else { api_version }));
    obj.insert("kind".into(), Value::String(kind));
    Ok(Value::Object(obj))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

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
        let meta = [ld(1, b"sh.helm.release.v1.app.v1"), ld(3, b"apps"), ld(11, &entry("owner", b"helm")), ld(11, &entry("name", b"app"))]
            .concat();
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
