//! What every fuzz target checks, as plain functions of the input bytes.
//!
//! Shared by the libFuzzer targets (`fuzz/fuzz_targets/*.rs`) and by the CI regression test
//! (`tests/fuzz_regressions.rs` includes this file with `#[path]`), so a crash found by the fuzzer
//! replays through exactly the same code in `cargo test`. Depends only on `kubectl_werf` and std.
//!
//! Each function must not panic for any input; a panic is a finding. Besides "no panic", the
//! functions assert invariants that the rest of the program relies on (round trips, agreement
//! between the cheap and the full decoder, slugs always being valid names).

use kubectl_werf::golang::time::GoTime;
use kubectl_werf::release::convert::{self, ConvertOptions};
use kubectl_werf::storage::codec::{self, CodecError, DecodeLimits};
use kubectl_werf::{helm_errors, manifest, names, werf::slug};
use prost::Message as _;

/// Small limit so decompression bombs are cheap to reject under the fuzzer (4 MiB).
pub const LIMITS: DecodeLimits = DecodeLimits { max_decompressed: 4 * 1024 * 1024 };

/// Target names, in the order `scripts/fuzz` runs them.
pub const TARGETS: &[&str] =
    &["helm3_text", "helm3_json", "helm2_text", "helm2_proto", "convert", "manifest", "helm_errors", "names", "gotime"];

/// Runs the check of the target called `name` (used by the regression test to replay inputs).
pub fn run(name: &str, data: &[u8]) {
    match name {
        "helm3_text" => helm3_text(data),
        "helm3_json" => helm3_json(data),
        "helm2_text" => helm2_text(data),
        "helm2_proto" => helm2_proto(data),
        "convert" => convert(data),
        "manifest" => manifest(data),
        "helm_errors" => helm_errors(data),
        "names" => names(data),
        "gotime" => gotime(data),
        other => panic!("unknown fuzz target {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Helm 3

/// Input: the text stored under `data.release` (what both drivers hand the codec). Also feeds the
/// input base64-encoded, so arbitrary bytes reach the gzip reader and the JSON parser directly.
pub fn helm3_text(data: &[u8]) {
    let _ = helm3_all_decoders(data);
    let _ = helm3_all_decoders(codec::encode_base64(data).as_bytes());
}

/// Structure-aware: input = the decompressed release JSON. It is stored as Helm does (gzip +
/// base64) for one input in sixteen, else base64 only (also legal, and much cheaper per run).
pub fn helm3_json(data: &[u8]) {
    let text = if data.len().is_multiple_of(16) { codec::encode_payload(data) } else { codec::encode_base64(data) };
    let full = helm3_all_decoders(text.as_bytes());
    if data.len() % 16 == 1 && !codec::is_gzip(data) {
        // Same body with and without the gzip layer must decode the same way.
        let gz = codec::decode_helm3(codec::encode_payload(data).as_bytes(), &LIMITS);
        assert_eq!(full.as_ref().ok(), gz.as_ref().ok(), "gzip layer changed the decode result");
    }
}

/// Runs the three Helm 3 decoders on `text` and checks that they agree with each other and that a
/// decoded release re-encodes to a payload that decodes to the same release.
fn helm3_all_decoders(text: &[u8]) -> Result<kubectl_werf::release::helm3::Release, ()> {
    let full = codec::decode_helm3(text, &LIMITS);
    let summary = codec::decode_helm3_summary(text, &LIMITS);
    let value = codec::decode_helm3_value(text, &LIMITS);
    check_limit_error(&full);
    check_limit_error(&summary);
    check_limit_error(&value);
    let Ok(release) = full else { return Err(()) };
    // `list` (summary) must be able to show every record that `get` (full decode) can read.
    let summary = summary.unwrap_or_else(|e| panic!("full decode ok but summary fails: {e}"));
    // Finding F1 (fixed): without an `info` object both decoders now say `unknown`.
    assert_eq!(summary, release.summary(), "summary decoder disagrees with the full decoder");
    assert!(value.is_ok(), "full decode ok but JSON value decode fails");
    // Rewriting a record (annotate, migrate, relabel) must not change what it says.
    // (Stored without gzip: the gzip layer is checked on its own and costs most of the time.)
    let json1 = codec::helm3_json(&release).unwrap_or_else(|e| panic!("decoded release does not encode: {e}"));
    let again = codec::decode_helm3(codec::encode_base64(&json1).as_bytes(), &LIMITS)
        .unwrap_or_else(|e| panic!("re-encoded release does not decode: {e}"));
    // Not `again == release`: Go (and we) write an integral float as plain digits (`1.0` -> `1`),
    // which reads back as an integer. What is stored must be stable after one rewrite, and what
    // `list` shows must not change.
    let json2 = codec::helm3_json(&again).expect("encodes");
    assert_eq!(json1, json2, "encoding is not stable after one round trip");
    assert_eq!(again.summary(), release.summary(), "a rewrite changed what list shows");
    assert_eq!((&again.manifest, &again.hooks.len()), (&release.manifest, &release.hooks.len()));
    Ok(release)
}

fn check_limit_error<T>(r: &Result<T, CodecError>) {
    if let Err(CodecError::TooLarge { limit }) = r {
        assert_eq!(*limit, LIMITS.max_decompressed);
    }
}

// ---------------------------------------------------------------------------------------------
// Helm 2

/// Input: the text stored under `data.release` of a Tiller record; also base64-encoded as in
/// [`helm3_text`].
pub fn helm2_text(data: &[u8]) {
    helm2_decode_and_convert(data);
    helm2_decode_and_convert(codec::encode_base64(data).as_bytes());
}

/// Structure-aware: input = the `hapi.release.Release` protobuf, stored as Tiller does (gzip +
/// base64) for one input in sixteen, else base64 only (Tiller reads both).
pub fn helm2_proto(data: &[u8]) {
    let text = if data.len().is_multiple_of(16) { codec::encode_payload(data) } else { codec::encode_base64(data) };
    if let Some(release) = helm2_decode_and_convert(text.as_bytes()) {
        // Tiller's encoding of what we decoded must decode to the same message.
        // (An empty message is only storable gzipped: empty base64 is "missing release data".)
        let body = release.encode_to_vec();
        let text =
            if data.len().is_multiple_of(16) || body.is_empty() { codec::encode_helm2(&release) } else { codec::encode_base64(&body) };
        let again =
            codec::decode_helm2(text.as_bytes(), &LIMITS).unwrap_or_else(|e| panic!("re-encoded Helm 2 release does not decode: {e}"));
        assert_eq!(again, release, "Helm 2 decode -> encode -> decode changed the release");
    }
}

fn helm2_decode_and_convert(text: &[u8]) -> Option<kubectl_werf::release::helm2::Release> {
    let decoded = codec::decode_helm2(text, &LIMITS);
    check_limit_error(&decoded);
    let release = decoded.ok()?;
    convert_checked(&release, &ConvertOptions::default());
    Some(release)
}

/// Structure-aware migration: input = a Helm 2 protobuf (base64 only, no gzip), converted with and
/// without a target name/namespace taken from the input's tail. A converted release must be valid
/// and must survive being stored as a Helm 3 record.
pub fn convert(data: &[u8]) {
    let Ok(release) = codec::decode_helm2(codec::encode_base64(data).as_bytes(), &LIMITS) else { return };
    convert_checked(&release, &ConvertOptions::default());
    // Rename/move: the last bytes of the input choose the target names.
    let tail = String::from_utf8_lossy(&data[data.len().saturating_sub(24)..]).into_owned();
    let mut mid = tail.len() / 2;
    while !tail.is_char_boundary(mid) {
        mid -= 1;
    }
    let (name, ns) = tail.split_at(mid);
    let opts = ConvertOptions { target_name: Some(name.to_string()), target_namespace: Some(ns.to_string()) };
    convert_checked(&release, &opts);
}

fn convert_checked(v2: &kubectl_werf::release::helm2::Release, opts: &ConvertOptions) {
    let Ok(conv) = convert::convert(v2, opts) else { return };
    let r = &conv.release;
    assert!(names::validate_release_name(&r.name).is_ok(), "converted release has an invalid name {:?}", r.name);
    assert!(names::validate_namespace_name(&r.namespace).is_ok(), "converted release has an invalid namespace {:?}", r.namespace);
    assert!(r.version >= 1, "converted release has revision {}", r.version);
    if let Some(n) = &opts.target_name {
        assert_eq!(&r.name, n);
    }
    let json = codec::helm3_json(r).unwrap_or_else(|e| panic!("converted release does not encode: {e}"));
    let text = codec::encode_base64(&json);
    let back = codec::decode_helm3(text.as_bytes(), &LIMITS)
        .unwrap_or_else(|e| panic!("converted release does not decode from its Helm 3 record: {e}"));
    // Finding F2 (fixed): integral floats are held as integers, so the record reads back equal.
    assert_eq!(&back, r, "converted release reads back different from its Helm 3 record");
    let summary = codec::decode_helm3_summary(text.as_bytes(), &LIMITS)
        .unwrap_or_else(|e| panic!("converted release does not decode as a summary: {e}"));
    assert_eq!(summary, r.summary());
}

// ---------------------------------------------------------------------------------------------
// Manifests

/// Input: a manifest (invalid UTF-8 replaced). Checks the splitter's invariants and parses objects.
pub fn manifest(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    let docs = manifest::split_documents(text);
    let base = text.as_ptr() as usize;
    let mut last_end = 0usize;
    for (i, d) in docs.iter().enumerate() {
        assert_eq!(d.index, i + 1, "documents are numbered 1.. in order");
        let start = d.text.as_ptr() as usize - base;
        assert!(start + d.text.len() <= text.len(), "document is a slice of the input");
        assert!(start >= last_end, "documents do not overlap and keep their order");
        last_end = start + d.text.len();
        assert!(
            d.text.lines().any(|l| {
                let t = l.trim();
                !(t.is_empty() || t.starts_with('#') || t == "...")
            }),
            "comment-only document kept: {:?}",
            d.text
        );
        if let Some(src) = d.source {
            assert!(d.text.contains(src));
        }
    }
    for skip in [false, true] {
        for r in manifest::parse_objects(text, skip) {
            match r {
                Ok(o) => {
                    assert!(!o.api_version.is_empty() && !o.kind.is_empty() && !o.name.is_empty());
                    let _ = (o.group(), o.version());
                }
                Err(e) => {
                    assert!(e.index >= 1 && e.index <= docs.len().max(1));
                    let _ = e.to_string();
                }
            }
        }
    }
    let _ = manifest::parse_json_objects(text, false);
}

// ---------------------------------------------------------------------------------------------
// Helm error text

/// Input: pasted Helm output. `parse` is documented as total; bytes and text forms agree.
pub fn helm_errors(data: &[u8]) {
    let from_bytes = helm_errors::parse_bytes(data);
    if let Ok(text) = std::str::from_utf8(data) {
        assert_eq!(helm_errors::parse(text), from_bytes);
        // Unquoting what Go's %q would write gives back the text.
        let quoted = kubectl_werf::golang::strconv::go_quote(text);
        assert_eq!(kubectl_werf::golang::strconv::go_unquote(&quoted), text, "go_unquote(go_quote(s)) != s");
        let _ = kubectl_werf::golang::strconv::go_unquote(text);
    }
    for e in &from_bytes {
        assert!(!e.kind.is_empty(), "error without a kind: {e:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Names

/// Input: any text. Validators never panic; slugs always pass the validators and are fixed points.
pub fn names(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let s = s.as_ref();
    match names::parse_key_value(s) {
        Ok((k, v)) => {
            assert!(!k.is_empty() && !k.contains('='), "bad key {k:?}");
            assert_eq!(format!("{k}={v}"), s);
            let _ = (names::validate_label_key(&k), names::validate_label_value(&v), names::validate_annotation_key(&k));
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    let label_key = names::validate_label_key(s);
    let annotation_key = names::validate_annotation_key(s);
    if label_key.is_ok() {
        assert!(annotation_key.is_ok(), "valid label key {s:?} refused as an annotation key");
    }
    if names::validate_label_value(s).is_ok() {
        assert!(s.len() <= names::LABEL_VALUE_MAX_LEN && s.is_ascii());
    }
    if names::validate_release_name(s).is_ok() {
        assert!(s.len() <= names::RELEASE_NAME_MAX_LEN && names::is_dns1123_subdomain(s));
    }
    let ns_ok = names::validate_namespace_name(s).is_ok();
    assert_eq!(ns_ok, names::is_dns1123_label(s), "namespace validator and is_dns1123_label disagree on {s:?}");

    let rel = slug::slug_release(s);
    assert!(names::validate_release_name(&rel).is_ok(), "slug_release({s:?}) = {rel:?} is not a valid release name");
    assert_eq!(slug::slug_release(&rel), rel, "slug_release is not idempotent on {s:?}");
    if names::validate_release_name(s).is_ok() {
        assert_eq!(rel, s, "a valid release name must be kept");
    }
    let ns = slug::slug_namespace(s);
    assert!(names::validate_namespace_name(&ns).is_ok(), "slug_namespace({s:?}) = {ns:?} is not a valid namespace");
    assert_eq!(slug::slug_namespace(&ns), ns, "slug_namespace is not idempotent on {s:?}");
    if ns_ok {
        assert_eq!(ns, s, "a valid namespace must be kept");
    }
}

// ---------------------------------------------------------------------------------------------
// Go times

/// Input: `TIME\nLAYOUT` (first line a time for `parse_rfc3339`, the rest an arbitrary Go layout).
/// When the first line does not parse, a time is built from its bytes instead, within what
/// `parse_rfc3339` can produce (years 0000–9999, offsets below 24 h), so `format` always runs.
pub fn gotime(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (first, layout) = text.split_once('\n').unwrap_or((text.as_ref(), "2006-01-02T15:04:05.999999999Z07:00"));
    let t = match GoTime::parse_rfc3339(first) {
        Some(t) => {
            // What Helm writes back must parse to the same instant.
            let written = t.to_rfc3339_nano();
            let back = GoTime::parse_rfc3339(&written).unwrap_or_else(|| panic!("{written:?} (from {first:?}) does not parse"));
            assert_eq!((back.unix, back.nanos), (t.unix, t.nanos), "{first:?} -> {written:?}");
            t
        }
        None => {
            let mut b = [0u8; 16];
            for (i, x) in first.bytes().take(16).enumerate() {
                b[i] = x;
            }
            const MIN: i64 = -62_167_219_200 - 86_400; // 0000-01-01 minus a day
            const MAX: i64 = 253_402_300_800 + 86_400; // 10000-01-01 plus a day
            let unix = MIN + (i64::from_le_bytes(b[..8].try_into().unwrap()).rem_euclid(MAX - MIN));
            let nanos = u32::from_le_bytes(b[8..12].try_into().unwrap()) % 1_000_000_000;
            let off = i32::from_le_bytes(b[12..16].try_into().unwrap()) % 86_400;
            GoTime { unix, nanos, offset: if b[15] & 1 == 0 { None } else { Some(off) } }
        }
    };
    let _ = t.format(layout);
    let _ = (t.to_go_string(), t.to_ansic(), t.is_go_zero());
}
