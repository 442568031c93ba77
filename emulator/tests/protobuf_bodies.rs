//! The emulator's protobuf decoder against kube-apiserver 1.36: every object of
//! `fixtures/apiserver-1.36/protobuf/objects.yaml` was read back from the real server both as protobuf and as
//! JSON (`emulator/tests/capture-protobuf`); decoding the protobuf must give exactly the server's JSON.

use std::path::PathBuf;

use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/apiserver-1.36/protobuf")
}

/// Differences between two JSON values, as `path: expected X, got Y` lines.
fn diff(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                match g.get(k) {
                    Some(gv) => diff(&format!("{path}.{k}"), wv, gv, out),
                    // a nil Go slice without omitempty: JSON null, which the emulator leaves out
                    None if wv.is_null() => {}
                    None => out.push(format!("{path}.{k}: missing (server has {wv})")),
                }
            }
            for (k, gv) in g {
                if !w.contains_key(k) {
                    out.push(format!("{path}.{k}: not on the server (decoded {gv})"));
                }
            }
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                diff(&format!("{path}[{i}]"), wv, gv, out);
            }
        }
        (Value::Number(w), Value::Number(g)) if w.as_f64() == g.as_f64() => {}
        _ if want == got => {}
        _ => out.push(format!("{path}: server has {want}, decoded {got}")),
    }
}

#[test]
fn protobuf_answers_of_the_real_server_decode_to_its_json_answers() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pb"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "captures missing: {files:?}");
    let mut failures = Vec::new();
    for pb in &files {
        let body = std::fs::read(pb).unwrap();
        let want: Value = serde_json::from_slice(&std::fs::read(pb.with_extension("json")).unwrap()).unwrap();
        let name = pb.file_stem().unwrap().to_string_lossy().to_string();
        match kube_emulator::decode_protobuf(&body) {
            Ok(got) => {
                let mut d = Vec::new();
                diff(&name, &want, &got, &mut d);
                failures.extend(d);
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn an_unknown_field_is_refused_not_dropped() {
    // a Deployment whose spec carries field 99: the decoder must say so rather than store the rest
    let body = std::fs::read(dir().join("deployment-dep.pb")).unwrap();
    // envelope: k8s\0, then runtime.Unknown {1: typeMeta, 2: raw}; append field 99 (varint 1) to raw's spec
    // by re-encoding raw = raw + {2: {99: 1}} (a second spec occurrence merges in protobuf)
    let mut rest = &body[4..];
    let mut out = b"k8s\0".to_vec();
    while !rest.is_empty() {
        let (tag, len_at) = (rest[0], 1);
        let (len, n) = varint(&rest[len_at..]);
        let start = len_at + n;
        let value = &rest[start..start + len];
        if tag == 0x12 {
            let mut raw = value.to_vec();
            raw.extend_from_slice(&[0x12, 0x03, 0x98, 0x06, 0x01]);
            out.push(0x12);
            out.extend(encode_varint(raw.len()));
            out.extend(raw);
        } else {
            out.extend_from_slice(&rest[..start + len]);
        }
        rest = &rest[start + len..];
    }
    let err = kube_emulator::decode_protobuf(&out).unwrap_err();
    assert!(err.contains("field 99 of io.k8s.api.apps.v1.DeploymentSpec"), "{err}");
}

fn varint(b: &[u8]) -> (usize, usize) {
    let (mut v, mut i) = (0usize, 0);
    loop {
        v |= usize::from(b[i] & 0x7f) << (7 * i);
        i += 1;
        if b[i - 1] & 0x80 == 0 {
            return (v, i);
        }
    }
}

fn encode_varint(mut v: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        if v < 0x80 {
            out.push(v as u8);
            return out;
        }
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
}
