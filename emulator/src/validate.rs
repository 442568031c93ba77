//! Object validation the emulator performs: names, Secret/ConfigMap data, sizes.

use serde_json::Value;

use crate::discovery::Resource;
use crate::status::{ApiError, Cause};
use crate::util;

/// Max total data size of a Secret or ConfigMap (`MaxSecretSize`).
pub const MAX_DATA_SIZE: usize = 1024 * 1024;

fn is_lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

pub fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && is_lower_alnum(b[0])
        && is_lower_alnum(b[b.len() - 1])
        && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
}

pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253
        && !s.is_empty()
        && s.split('.').all(|p| {
            let b = p.as_bytes();
            !b.is_empty() && is_lower_alnum(b[0]) && is_lower_alnum(b[b.len() - 1]) && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
        })
}

fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.as_bytes()[0].is_ascii_lowercase()
}

fn is_alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// Validates a qualified label key (`prefix/name`), returning the upstream-style message.
pub fn validate_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(is_alnum)
        && name.ends_with(is_alnum)
        && name.chars().all(|c| is_alnum(c) || matches!(c, '-' | '_' | '.'));
    let prefix_ok = prefix.is_none_or(is_dns1123_subdomain);
    if name_ok && prefix_ok {
        Ok(())
    } else {
        Err(format!(
            "key: Invalid value: \"{key}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        ))
    }
}

/// Validates a label value (empty or ≤ 63 chars of alnum/-_. starting and ending alnum).
pub fn validate_label_value(v: &str) -> Result<(), String> {
    if v.is_empty()
        || (v.len() <= 63
            && v.starts_with(is_alnum)
            && v.ends_with(is_alnum)
            && v.chars().all(|c| is_alnum(c) || matches!(c, '-' | '_' | '.')))
    {
        Ok(())
    } else {
        Err(format!(
            "values[0][{v}]: Invalid value: \"{v}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        ))
    }
}

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/// Validates `metadata.name` for the resource; returns the field causes (empty when valid).
pub fn name_causes(res: &Resource, name: &str) -> Vec<Cause> {
    let invalid = |detail: &str| Cause {
        reason: "FieldValueInvalid".into(),
        message: format!("Invalid value: \"{name}\": {detail}"),
        field: "metadata.name".into(),
    };
    let mut out = Vec::new();
    match (res.group.as_str(), res.plural.as_str()) {
        ("", "namespaces") => {
            if name.len() > 63 {
                out.push(invalid("must be no more than 63 characters"));
            }
            if !is_dns1123_label(name) {
                out.push(invalid(LABEL_MSG));
            }
        }
        ("", "services") => {
            if name.len() > 63 {
                out.push(invalid("must be no more than 63 characters"));
            }
            if !is_dns1035_label(name) {
                out.push(invalid(DNS1035_MSG));
            }
        }
        ("rbac.authorization.k8s.io", _) => {
            if name == "." || name == ".." {
                out.push(invalid(&format!("may not be '{name}'")));
            } else if name.contains('/') || name.contains('%') {
                out.push(invalid("may not contain '/'"));
            }
        }
        _ => {
            if name.len() > 253 {
                out.push(invalid("must be no more than 253 characters"));
            }
            if !is_dns1123_subdomain(name) {
                out.push(invalid(SUBDOMAIN_MSG));
            }
        }
    }
    out
}

/// The message the server uses when a Secret/ConfigMap payload cannot be decoded.
pub fn decode_error(kind: &str, version: &str, detail: &str) -> ApiError {
    ApiError::bad_request(format!("{kind} in version \"{version}\" cannot be handled as a {kind}: {detail}"))
}

/// Normalizes and validates Secret contents in place: checks base64, merges `stringData`
/// into `data`, defaults `type` to `Opaque` and enforces the 1 MiB limit.
pub fn secret(obj: &mut serde_json::Map<String, Value>, name: &str) -> Result<(), ApiError> {
    let mut total = 0usize;
    if let Some(d) = obj.get("data") {
        match d {
            Value::Null => {}
            Value::Object(m) => {
                for v in m.values() {
                    match v {
                        Value::String(s) => {
                            util::b64_check(s).map_err(|e| decode_error("Secret", "v1", &e))?;
                        }
                        Value::Null => {}
                        _ => {
                            return Err(decode_error(
                                "Secret",
                                "v1",
                                "json: cannot unmarshal data into Go struct field Secret.data of type []uint8",
                            ));
                        }
                    }
                }
            }
            _ => {
                return Err(decode_error(
                    "Secret",
                    "v1",
                    "json: cannot unmarshal data into Go struct field Secret.data of type map[string][]uint8",
                ));
            }
        }
    }
    if let Some(sd) = obj.remove("stringData") {
        match sd {
            Value::Object(m) => {
                let data = obj.entry("data").or_insert_with(|| Value::Object(Default::default()));
                if !data.is_object() {
                    *data = Value::Object(Default::default());
                }
                if let Value::Object(dm) = data {
                    for (k, v) in m {
                        let s = match v {
                            Value::String(s) => s,
                            Value::Null => String::new(),
                            _ => {
                                return Err(decode_error(
                                    "Secret",
                                    "v1",
                                    "json: cannot unmarshal stringData into Go struct field Secret.stringData of type string",
                                ));
                            }
                        };
                        dm.insert(k, Value::String(util::b64_encode(s.as_bytes())));
                    }
                }
            }
            Value::Null => {}
            _ => {
                return Err(decode_error(
                    "Secret",
                    "v1",
                    "json: cannot unmarshal stringData into Go struct field Secret.stringData of type map[string]string",
                ));
            }
        }
    }
    if let Some(Value::Object(m)) = obj.get("data") {
        for v in m.values() {
            if let Value::String(s) = v {
                total += util::b64_decoded_len(s);
            }
        }
    }
    if matches!(obj.get("data"), Some(Value::Null)) {
        obj.remove("data");
    }
    match obj.get("type") {
        None | Some(Value::Null) => {
            obj.insert("type".into(), "Opaque".into());
        }
        Some(Value::String(s)) if s.is_empty() => {
            obj.insert("type".into(), "Opaque".into());
        }
        _ => {}
    }
    if total > MAX_DATA_SIZE {
        return Err(ApiError::invalid(
            "",
            "Secret",
            name,
            vec![Cause {
                reason: "FieldValueTooLong".into(),
                message: format!("Too long: may not be more than {MAX_DATA_SIZE} bytes"),
                field: "data".into(),
            }],
        ));
    }
    Ok(())
}

/// Validates ConfigMap contents: `binaryData` must be base64; data + binaryData ≤ 1 MiB.
pub fn configmap(obj: &serde_json::Map<String, Value>, name: &str) -> Result<(), ApiError> {
    let mut total = 0usize;
    match obj.get("data") {
        Some(Value::Object(m)) => {
            for v in m.values() {
                match v {
                    Value::String(s) => total += s.len(),
                    Value::Null => {}
                    _ => {
                        return Err(decode_error(
                            "ConfigMap",
                            "v1",
                            "json: cannot unmarshal data into Go struct field ConfigMap.data of type string",
                        ));
                    }
                }
            }
        }
        None | Some(Value::Null) => {}
        _ => {
            return Err(decode_error(
                "ConfigMap",
                "v1",
                "json: cannot unmarshal data into Go struct field ConfigMap.data of type map[string]string",
            ));
        }
    }
    match obj.get("binaryData") {
        Some(Value::Object(m)) => {
            for v in m.values() {
                if let Value::String(s) = v {
                    total += util::b64_decode(s).map_err(|e| decode_error("ConfigMap", "v1", &e))?.len();
                }
            }
        }
        None | Some(Value::Null) => {}
        _ => {
            return Err(decode_error(
                "ConfigMap",
                "v1",
                "json: cannot unmarshal binaryData into Go struct field ConfigMap.binaryData of type map[string][]uint8",
            ));
        }
    }
    if total > MAX_DATA_SIZE {
        return Err(ApiError::invalid(
            "",
            "ConfigMap",
            name,
            vec![Cause {
                reason: "FieldValueTooLong".into(),
                message: format!("Too long: may not be more than {MAX_DATA_SIZE} bytes"),
                field: "[]".into(),
            }],
        ));
    }
    Ok(())
}

/// Validates label keys/values and annotation keys of `metadata`.
pub fn metadata_causes(meta: &serde_json::Map<String, Value>) -> Vec<Cause> {
    let mut out = Vec::new();
    if let Some(Value::Object(labels)) = meta.get("labels") {
        for (k, v) in labels {
            if validate_label_key(k).is_err() {
                out.push(Cause {
                    reason: "FieldValueInvalid".into(),
                    message: format!("Invalid value: \"{k}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"),
                    field: "metadata.labels".into(),
                });
            }
            match v {
                Value::String(s) if validate_label_value(s).is_ok() => {}
                Value::String(s) => out.push(Cause {
                    reason: "FieldValueInvalid".into(),
                    message: format!("Invalid value: \"{s}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"),
                    field: format!("metadata.labels.{k}"),
                }),
                _ => {}
            }
        }
    }
    if let Some(Value::Object(ann)) = meta.get("annotations") {
        let total: usize = ann.iter().map(|(k, v)| k.len() + v.as_str().map_or(0, str::len)).sum();
        if total > 256 * 1024 {
            out.push(Cause {
                reason: "FieldValueTooLong".into(),
                message: "Too long: may not be more than 262144 bytes".into(),
                field: "metadata.annotations".into(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_dns1123_subdomain("sh.helm.release.v1.shop.v1"));
        assert!(!is_dns1123_subdomain("Bad_Name"));
        assert!(!is_dns1123_subdomain("a..b"));
        assert!(!is_dns1123_subdomain("-a"));
        assert!(is_dns1123_label("resp-demo"));
        assert!(!is_dns1123_label("a.b"));
        assert!(!is_dns1123_label(&"a".repeat(64)));
    }

    #[test]
    fn secret_limits() {
        let fits = util::b64_encode(&vec![b'x'; MAX_DATA_SIZE]);
        let mut o = serde_json::json!({"data": {"release": fits}}).as_object().unwrap().clone();
        assert!(secret(&mut o, "fits").is_ok());
        assert_eq!(o["type"], "Opaque");
        let big = util::b64_encode(&vec![b'x'; MAX_DATA_SIZE + 1]);
        let mut o = serde_json::json!({"data": {"release": big}}).as_object().unwrap().clone();
        let e = secret(&mut o, "toobig").unwrap_err();
        assert_eq!(e.message, "Secret \"toobig\" is invalid: data: Too long: may not be more than 1048576 bytes");
        let mut o = serde_json::json!({"data": {"a": "!!"}}).as_object().unwrap().clone();
        assert_eq!(secret(&mut o, "x").unwrap_err().code, 400);
        let mut o = serde_json::json!({"data": {"a": "YQ=="}, "stringData": {"b": "bb"}}).as_object().unwrap().clone();
        secret(&mut o, "x").unwrap();
        assert_eq!(o["data"]["b"], "YmI=");
        assert!(o.get("stringData").is_none());
    }

    #[test]
    fn configmap_limits() {
        let o = serde_json::json!({"data": {"release": "x".repeat(MAX_DATA_SIZE)}}).as_object().unwrap().clone();
        assert!(configmap(&o, "a").is_ok());
        let o = serde_json::json!({"data": {"release": "x".repeat(MAX_DATA_SIZE + 1)}}).as_object().unwrap().clone();
        assert_eq!(
            configmap(&o, "toobigcm").unwrap_err().message,
            "ConfigMap \"toobigcm\" is invalid: []: Too long: may not be more than 1048576 bytes"
        );
    }
}
