//! Release payload codecs and record-level rules (object names, labels), independent of any client.
//!
//! # Payloads
//! Both Helm generations store `base64(gzip(body))` under the data key `release`:
//! - Helm 3/4: body = the release JSON as Go's `json.Marshal` writes it ([`gojson`]);
//! - Helm 2 (Tiller): body = the `hapi.release.Release` protobuf.
//!
//! A ConfigMap holds that base64 text as its `data.release` string. A Secret holds the *bytes of the
//! base64 text* in `data.release` (Kubernetes then base64-encodes those bytes again on the wire, so a
//! Helm 3 Secret's YAML value starts `SDRzSUFBQUFBQUFDL` — then `y` or `z` depending on the first
//! deflate byte — and a ConfigMap's `H4sIAAAAAAAC/`). Both
//! drivers therefore hand this module the same input: the base64 text, as bytes. This is true for Helm
//! 2's Secret driver too.
//!
//! Decoding: base64 → gunzip when the bytes start `1f 8b 08` (all gzip members, like Go's reader),
//! else the bytes as they are → JSON / protobuf. Inflating is bounded by [`DecodeLimits`] and streams
//! through a fixed buffer, so a compression bomb costs at most the limit in memory. JSON nesting is
//! capped by serde_json's recursion limit (128).
//!
//! Encoding: body → gzip at best compression with Go's header (`1f 8b 08 00 00000000 02 ff`) →
//! standard padded base64.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read, Write};

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use prost::Message;

use crate::golang::json as gojson;
use crate::release::helm2;
use crate::release::helm3::{self, ReleaseSummary, Status};

/// Data key of the release payload in both ConfigMaps and Secrets.
pub const DATA_KEY: &str = "release";
/// `type` of a Helm 3/4 release Secret. (Helm 2 Secrets have no type; ConfigMaps have none.)
pub const HELM3_SECRET_TYPE: &str = "helm.sh/release.v1";
/// Prefix of Helm 3/4 storage object names.
pub const HELM3_NAME_PREFIX: &str = "sh.helm.release.v1.";
/// `owner` label value of Helm 3/4 records.
pub const HELM3_OWNER: &str = "helm";
/// `OWNER` label value of Helm 2 records.
pub const HELM2_OWNER: &str = "TILLER";
/// Label selector listing every Helm 3/4 record.
pub const HELM3_LIST_SELECTOR: &str = "owner=helm";
/// Label selector listing every Helm 2 record.
pub const HELM2_LIST_SELECTOR: &str = "OWNER=TILLER";
/// Labels Helm 3/4 sets itself; every other label on a record is a custom release label.
pub const HELM3_SYSTEM_LABELS: [&str; 6] = ["name", "owner", "status", "version", "createdAt", "modifiedAt"];
/// Default cap on a decompressed payload.
pub const DEFAULT_MAX_DECOMPRESSED: u64 = 64 * 1024 * 1024;

const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];

/// Resource limits applied while decoding untrusted records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Maximum size of the decompressed body, in bytes.
    pub max_decompressed: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits { max_decompressed: DEFAULT_MAX_DECOMPRESSED }
    }
}

/// What went wrong inside the gzip layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GzipFault {
    /// Bad magic, method or header fields (Go: `gzip: invalid header`).
    InvalidHeader,
    /// The CRC or size in the trailer does not match (Go: `gzip: invalid checksum`).
    InvalidChecksum,
    /// The deflate data is malformed.
    CorruptData,
    /// The stream ends early.
    UnexpectedEof,
    /// Anything else the inflater reports.
    Other(String),
}

impl fmt::Display for GzipFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GzipFault::InvalidHeader => f.write_str("invalid header"),
            GzipFault::InvalidChecksum => f.write_str("invalid checksum"),
            GzipFault::CorruptData => f.write_str("corrupt deflate data"),
            GzipFault::UnexpectedEof => f.write_str("unexpected EOF"),
            GzipFault::Other(s) => f.write_str(s),
        }
    }
}

/// A record payload that cannot be decoded (or encoded). Display is short and lower-case like Go's
/// errors; callers prefix the object identity (`kube-system/broken.v1: gzip: invalid header`).
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The `release` data key is missing or empty.
    #[error("missing release data")]
    MissingData,
    /// The payload is not base64.
    #[error("base64: illegal base64 data at input byte {offset}")]
    Base64 { offset: usize },
    /// The gzip layer is broken.
    #[error("gzip: {0}")]
    Gzip(GzipFault),
    /// The decompressed body would exceed the configured limit.
    #[error("decompressed payload exceeds {} limit", human_size(*.limit))]
    TooLarge { limit: u64 },
    /// The Helm 3 JSON does not decode (or, when encoding, cannot be written).
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// The Helm 2 protobuf does not decode.
    #[error("protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
}

fn human_size(n: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    const GIB: u64 = 1024 * 1024 * 1024;
    if n >= GIB && n.is_multiple_of(GIB) {
        format!("{} GiB", n / GIB)
    } else if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

/// Base64 as Go's `StdEncoding` reads it, slightly more lenient (padding optional, trailing bits ignored).
const LENIENT_STD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent).with_decode_allow_trailing_bits(true),
);

/// Decodes standard base64; line breaks are ignored like Go does.
pub fn decode_base64(text: &[u8]) -> Result<Vec<u8>, CodecError> {
    let trimmed = text.trim_ascii();
    if trimmed.is_empty() {
        return Err(CodecError::MissingData);
    }
    // Stored payloads have no line breaks: decode in one pass and strip them only when met.
    match LENIENT_STD.decode(trimmed) {
        Ok(bytes) => Ok(bytes),
        Err(_) if trimmed.contains(&b'\n') || trimmed.contains(&b'\r') => {
            let joined: Vec<u8> = trimmed.iter().copied().filter(|b| !matches!(b, b'\r' | b'\n')).collect();
            LENIENT_STD.decode(&joined).map_err(|e| base64_error(e, joined.len()))
        }
        Err(e) => Err(base64_error(e, trimmed.len())),
    }
}

fn base64_error(e: base64::DecodeError, input_len: usize) -> CodecError {
    let offset = match e {
        base64::DecodeError::InvalidByte(o, _) | base64::DecodeError::InvalidLastSymbol(o, _) => o,
        base64::DecodeError::InvalidLength(o) => o,
        base64::DecodeError::InvalidPadding => input_len,
    };
    CodecError::Base64 { offset }
}

/// Standard padded base64.
pub fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// True when `bytes` start with the gzip magic and deflate method (`1f 8b 08`).
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

fn gzip_fault(e: &io::Error) -> GzipFault {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        return GzipFault::UnexpectedEof;
    }
    let msg = e.to_string();
    if msg.contains("header") {
        GzipFault::InvalidHeader
    } else if msg.contains("checksum") {
        GzipFault::InvalidChecksum
    } else if msg.contains("deflate") {
        GzipFault::CorruptData
    } else {
        GzipFault::Other(msg)
    }
}

/// Inflates every gzip member of `bytes`, refusing to produce more than `limit` bytes. Memory use is
/// bounded by the output (at most `limit`).
pub fn gunzip_limited(bytes: &[u8], limit: u64) -> Result<Vec<u8>, CodecError> {
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    // The trailer's ISIZE is the (last member's) size mod 2^32: right for every real payload, so the
    // output is allocated once. It is untrusted, so it is capped by what deflate can expand to.
    let trailer_size = bytes.len().checked_sub(4).map(|at| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]));
    let hint = trailer_size.map_or(0, |n| n as usize).min(bytes.len().saturating_mul(1032)).min(limit_usize);
    let mut out: Vec<u8> = Vec::with_capacity(hint.max(bytes.len().saturating_mul(4)).min(limit_usize).saturating_add(1));
    // Reading one byte past the limit tells "exactly at the limit" from "over it".
    let mut dec = MultiGzDecoder::new(bytes).take(limit.saturating_add(1));
    dec.read_to_end(&mut out).map_err(|e| CodecError::Gzip(gzip_fault(&e)))?;
    if out.len() > limit_usize {
        return Err(CodecError::TooLarge { limit });
    }
    Ok(out)
}

/// Gzip at best compression with Go's header (`1f 8b 08 00 00 00 00 00 02 ff`).
pub fn gzip_best(body: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::with_capacity(body.len() / 4 + 64), Compression::best());
    enc.write_all(body).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

/// base64 → gunzip if gzip, else as is. The body of either generation's payload.
pub fn decode_payload(text: &[u8], limits: &DecodeLimits) -> Result<Vec<u8>, CodecError> {
    let raw = decode_base64(text)?;
    if is_gzip(&raw) {
        gunzip_limited(&raw, limits.max_decompressed)
    } else {
        if raw.len() as u64 > limits.max_decompressed {
            return Err(CodecError::TooLarge { limit: limits.max_decompressed });
        }
        Ok(raw)
    }
}

/// body → gzip best → base64: the text stored under `data.release`.
pub fn encode_payload(body: &[u8]) -> String {
    encode_base64(&gzip_best(body))
}

/// Decodes a Helm 3/4 payload into the full release model (labels left empty: see [`helm3_custom_labels`]).
pub fn decode_helm3(text: &[u8], limits: &DecodeLimits) -> Result<helm3::Release, CodecError> {
    let body = decode_payload(text, limits)?;
    Ok(serde_json::from_slice(&body)?)
}

/// Decodes only what listing needs; much cheaper than [`decode_helm3`] on big releases.
pub fn decode_helm3_summary(text: &[u8], limits: &DecodeLimits) -> Result<ReleaseSummary, CodecError> {
    let body = decode_payload(text, limits)?;
    Ok(serde_json::from_slice(&body)?)
}

/// Decodes a Helm 3/4 payload as a plain JSON value (key order kept).
pub fn decode_helm3_value(text: &[u8], limits: &DecodeLimits) -> Result<serde_json::Value, CodecError> {
    let body = decode_payload(text, limits)?;
    Ok(serde_json::from_slice(&body)?)
}

/// The release JSON exactly as Helm (Go's `json.Marshal`) writes it.
pub fn helm3_json(release: &helm3::Release) -> Result<Vec<u8>, CodecError> {
    Ok(gojson::to_vec(release)?)
}

/// Encodes a Helm 3/4 release into the base64 text to store under `data.release`.
pub fn encode_helm3(release: &helm3::Release) -> Result<String, CodecError> {
    Ok(encode_payload(&helm3_json(release)?))
}

/// Decodes a Helm 2 payload (gzip optional, as Tiller reads it).
pub fn decode_helm2(text: &[u8], limits: &DecodeLimits) -> Result<helm2::Release, CodecError> {
    let body = decode_payload(text, limits)?;
    Ok(helm2::Release::decode(&body[..])?)
}

/// Encodes a Helm 2 release as Tiller does (protobuf → gzip best → base64).
pub fn encode_helm2(release: &helm2::Release) -> String {
    encode_payload(&release.encode_to_vec())
}

// ---------------------------------------------------------------------------------------------
// Object names

/// `sh.helm.release.v1.<release>.v<revision>`.
pub fn helm3_object_name(release: &str, revision: i64) -> String {
    format!("{HELM3_NAME_PREFIX}{release}.v{revision}")
}

/// Splits a Helm 3 object name into release name and revision.
pub fn parse_helm3_object_name(object: &str) -> Option<(&str, i64)> {
    let rest = object.strip_prefix(HELM3_NAME_PREFIX)?;
    split_revision(rest)
}

/// `<release>.v<revision>` (Tiller's key).
pub fn helm2_object_name(release: &str, revision: i32) -> String {
    format!("{release}.v{revision}")
}

/// Splits a Helm 2 object name into release name and revision.
pub fn parse_helm2_object_name(object: &str) -> Option<(&str, i32)> {
    let (name, rev) = split_revision(object)?;
    Some((name, i32::try_from(rev).ok()?))
}

fn split_revision(s: &str) -> Option<(&str, i64)> {
    let (name, rev) = s.rsplit_once(".v")?;
    if name.is_empty() || rev.is_empty() || !rev.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((name, rev.parse().ok()?))
}

// ---------------------------------------------------------------------------------------------
// Labels

/// Which timestamp label a write stamps: `createdAt` on create, `modifiedAt` on update (Unix seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelStamp {
    Created(i64),
    Modified(i64),
}

/// True for the labels Helm 3/4 manages itself.
pub fn is_helm3_system_label(key: &str) -> bool {
    HELM3_SYSTEM_LABELS.contains(&key)
}

/// The labels Helm 3/4 puts on a record: the release's custom labels, then (overriding them)
/// `name`, `owner=helm`, `status`, `version` and `createdAt` or `modifiedAt`. Labels are rebuilt on
/// every write, so an update carries `modifiedAt` and no `createdAt`, as with Helm.
pub fn helm3_labels(release: &helm3::Release, stamp: LabelStamp) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> =
        release.labels.iter().filter(|(k, _)| !is_helm3_system_label(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    labels.insert("name".into(), release.name.clone());
    labels.insert("owner".into(), HELM3_OWNER.into());
    labels.insert("status".into(), release.info.status.as_str().to_owned());
    labels.insert("version".into(), release.version.to_string());
    match stamp {
        LabelStamp::Created(t) => labels.insert("createdAt".into(), t.to_string()),
        LabelStamp::Modified(t) => labels.insert("modifiedAt".into(), t.to_string()),
    };
    labels
}

/// The custom release labels of a record (everything but [`HELM3_SYSTEM_LABELS`]); what Helm puts in
/// `Release.Labels` when it reads a record.
pub fn helm3_custom_labels(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    labels.iter().filter(|(k, _)| !is_helm3_system_label(k)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// `name=<release>,owner=helm`: one release's history.
pub fn helm3_history_selector(release: &str) -> String {
    format!("name={release},owner={HELM3_OWNER}")
}

/// Helm 3/4 record labels, parsed. Missing or malformed values are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Helm3Labels {
    pub name: Option<String>,
    pub owner: Option<String>,
    pub status: Option<Status>,
    pub version: Option<i64>,
    pub created_at: Option<i64>,
    pub modified_at: Option<i64>,
    /// Everything else: the custom release labels.
    pub custom: BTreeMap<String, String>,
}

impl Helm3Labels {
    /// True when `owner=helm`.
    pub fn is_helm(&self) -> bool {
        self.owner.as_deref() == Some(HELM3_OWNER)
    }
}

/// Parses the labels of a Helm 3/4 record.
pub fn parse_helm3_labels(labels: &BTreeMap<String, String>) -> Helm3Labels {
    Helm3Labels {
        name: labels.get("name").cloned(),
        owner: labels.get("owner").cloned(),
        status: labels.get("status").map(|s| Status::from(s.as_str())),
        version: labels.get("version").and_then(|v| v.parse().ok()),
        created_at: labels.get("createdAt").and_then(|v| v.parse().ok()),
        modified_at: labels.get("modifiedAt").and_then(|v| v.parse().ok()),
        custom: helm3_custom_labels(labels),
    }
}

/// The labels Tiller puts on a record: `NAME`, `OWNER=TILLER`, `STATUS` (code name), `VERSION`, and
/// `CREATED_AT` or `MODIFIED_AT`.
pub fn helm2_labels(release: &helm2::Release, stamp: LabelStamp) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    labels.insert("NAME".to_owned(), release.name.clone());
    labels.insert("OWNER".to_owned(), HELM2_OWNER.to_owned());
    labels.insert("STATUS".to_owned(), release.status_name().to_owned());
    labels.insert("VERSION".to_owned(), release.version.to_string());
    match stamp {
        LabelStamp::Created(t) => labels.insert("CREATED_AT".to_owned(), t.to_string()),
        LabelStamp::Modified(t) => labels.insert("MODIFIED_AT".to_owned(), t.to_string()),
    };
    labels
}

/// Helm 2 record labels, parsed. They are advisory: name, version and status come from the payload,
/// and some records lack `VERSION`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Helm2Labels {
    pub name: Option<String>,
    pub owner: Option<String>,
    /// Upper-case code name as written (`DEPLOYED`, …).
    pub status: Option<String>,
    pub version: Option<i32>,
    pub created_at: Option<i64>,
    pub modified_at: Option<i64>,
}

impl Helm2Labels {
    /// True when `OWNER=TILLER`.
    pub fn is_tiller(&self) -> bool {
        self.owner.as_deref() == Some(HELM2_OWNER)
    }
}

/// Parses the labels of a Helm 2 record.
pub fn parse_helm2_labels(labels: &BTreeMap<String, String>) -> Helm2Labels {
    Helm2Labels {
        name: labels.get("NAME").cloned(),
        owner: labels.get("OWNER").cloned(),
        status: labels.get("STATUS").cloned(),
        version: labels.get("VERSION").and_then(|v| v.parse().ok()),
        created_at: labels.get("CREATED_AT").and_then(|v| v.parse().ok()),
        modified_at: labels.get("MODIFIED_AT").and_then(|v| v.parse().ok()),
    }
}

// ---------------------------------------------------------------------------------------------
// Label drift: labels Helm reads without decoding (`helm list`, history selectors) that disagree
// with the payload. `releases doctor` reports it and `releases relabel` repairs it from these same
// functions, so the finding and its fix agree by construction.

/// One label whose stored value is not what Helm would write for the payload.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LabelDrift {
    pub label: &'static str,
    /// As stored; `None` when the label is missing.
    pub stored: Option<String>,
    /// What Helm (or Tiller) writes for this payload.
    pub expected: String,
}

fn drift_of(labels: &BTreeMap<String, String>, wanted: [(&'static str, String); 4]) -> Vec<LabelDrift> {
    wanted
        .into_iter()
        .filter(|(k, v)| labels.get(*k) != Some(v))
        .map(|(label, expected)| LabelDrift { label, stored: labels.get(label).cloned(), expected })
        .collect()
}

/// The payload-derived labels Helm 3/4 writes on every record: `name`, `owner`, `status`, `version`.
pub fn helm3_payload_labels(release: &helm3::Release) -> [(&'static str, String); 4] {
    [
        ("name", release.name.clone()),
        ("owner", HELM3_OWNER.to_owned()),
        ("status", release.info.status.as_str().to_owned()),
        ("version", release.version.to_string()),
    ]
}

/// The payload-derived labels Tiller writes: `NAME`, `OWNER`, `STATUS`, `VERSION`.
pub fn helm2_payload_labels(release: &helm2::Release) -> [(&'static str, String); 4] {
    [
        ("NAME", release.name.clone()),
        ("OWNER", HELM2_OWNER.to_owned()),
        ("STATUS", release.status_name().to_owned()),
        ("VERSION", release.version.to_string()),
    ]
}

/// Labels of a Helm 3/4 record (`labels`, as stored) that disagree with its decoded payload, in the
/// order name, owner, status, version. Empty when Helm's list and history tell the truth.
pub fn helm3_label_drift(labels: &BTreeMap<String, String>, release: &helm3::Release) -> Vec<LabelDrift> {
    drift_of(labels, helm3_payload_labels(release))
}

/// Labels of a Helm 2 record that disagree with its decoded payload (NAME, OWNER, STATUS, VERSION).
pub fn helm2_label_drift(labels: &BTreeMap<String, String>, release: &helm2::Release) -> Vec<LabelDrift> {
    drift_of(labels, helm2_payload_labels(release))
}

/// Why a record's object name is not the one Helm would give its payload (`sh.helm.release.v1.NAME.vN`,
/// Tiller `NAME.vN`): labels cannot fix that, the object would have to be renamed. `None` when it agrees.
pub fn helm3_object_name_drift(object: &str, release: &helm3::Release) -> Option<String> {
    let want = helm3_object_name(&release.name, release.version);
    (object != want)
        .then(|| format!("object name {object} but the payload is release {:?} revision {} ({want})", release.name, release.version))
}

/// Tiller's counterpart of [`helm3_object_name_drift`].
pub fn helm2_object_name_drift(object: &str, release: &helm2::Release) -> Option<String> {
    let want = helm2_object_name(&release.name, release.version);
    (object != want)
        .then(|| format!("object name {object} but the payload is release {:?} revision {} ({want})", release.name, release.version))
}

/// The labels to write to repair `drift`: every stored label kept (custom, werf's, `createdAt`), the
/// drifted ones set to what Helm writes, and the update stamp (`modifiedAt`, Tiller `MODIFIED_AT`) set
/// to `now` as on any update.
pub fn relabelled(labels: &BTreeMap<String, String>, drift: &[LabelDrift], helm2: bool, now: i64) -> BTreeMap<String, String> {
    let mut out = labels.clone();
    for d in drift {
        out.insert(d.label.to_owned(), d.expected.clone());
    }
    out.insert(if helm2 { "MODIFIED_AT" } else { "modifiedAt" }.to_owned(), now.to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_gzip_header_and_double_base64_prefixes() {
        let text = encode_payload(b"{}");
        assert!(text.starts_with("H4sIAAAAAAAC/"), "{text}");
        let gz = decode_base64(text.as_bytes()).unwrap();
        assert_eq!(gz[..10], [0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0x02, 0xff]);
        let secret_wire = encode_base64(text.as_bytes());
        assert!(secret_wire.starts_with("SDRzSUFBQUFBQUFDL"), "{secret_wire}");
    }

    #[test]
    fn plain_json_payload_is_accepted() {
        let text = encode_base64(br#"{"name":"a","version":2}"#);
        let r = decode_helm3(text.as_bytes(), &DecodeLimits::default()).unwrap();
        assert_eq!((r.name.as_str(), r.version), ("a", 2));
    }

    #[test]
    fn error_messages_are_go_like() {
        let l = DecodeLimits::default();
        let e = decode_helm3(b"", &l).unwrap_err();
        assert!(matches!(e, CodecError::MissingData));
        let e = decode_helm3(b"ab$d", &l).unwrap_err();
        assert_eq!(e.to_string(), "base64: illegal base64 data at input byte 2");
        // gzip magic, then a bad flag byte
        let e = decode_helm3(encode_base64(&[0x1f, 0x8b, 0x08, 0xff, 0, 0, 0, 0, 0, 0]).as_bytes(), &l).unwrap_err();
        assert_eq!(e.to_string(), "gzip: invalid header");
        let e = decode_helm3(encode_base64(b"{\"name\":").as_bytes(), &l).unwrap_err();
        assert!(e.to_string().starts_with("json: "), "{e}");
        let e = decode_helm2(encode_base64(b"\x0a\x05ab").as_bytes(), &l).unwrap_err();
        assert!(e.to_string().starts_with("protobuf: "), "{e}");
        assert_eq!(CodecError::TooLarge { limit: DEFAULT_MAX_DECOMPRESSED }.to_string(), "decompressed payload exceeds 64 MiB limit");
        assert_eq!(CodecError::TooLarge { limit: 1000 }.to_string(), "decompressed payload exceeds 1000 bytes limit");
    }

    #[test]
    fn truncated_and_bad_checksum() {
        let l = DecodeLimits::default();
        let gz = gzip_best(&[b'x'; 10_000]);
        let e = decode_payload(encode_base64(&gz[..gz.len() - 6]).as_bytes(), &l).unwrap_err();
        assert!(matches!(e, CodecError::Gzip(GzipFault::UnexpectedEof)), "{e}");
        let mut bad = gz.clone();
        let n = bad.len();
        bad[n - 8] ^= 1;
        let e = decode_payload(encode_base64(&bad).as_bytes(), &l).unwrap_err();
        assert_eq!(e.to_string(), "gzip: invalid checksum");
    }

    #[test]
    fn limit_applies_to_plain_and_gzip() {
        let l = DecodeLimits { max_decompressed: 100 };
        let e = decode_payload(encode_payload(&[0u8; 101]).as_bytes(), &l).unwrap_err();
        assert!(matches!(e, CodecError::TooLarge { limit: 100 }));
        assert_eq!(decode_payload(encode_payload(&[0u8; 100]).as_bytes(), &l).unwrap().len(), 100);
        let e = decode_payload(encode_base64(&[1u8; 101]).as_bytes(), &l).unwrap_err();
        assert!(matches!(e, CodecError::TooLarge { .. }));
    }

    #[test]
    fn multi_member_gzip_like_go() {
        let mut two = gzip_best(b"{\"name\":");
        two.extend(gzip_best(b"\"x\"}"));
        let body = decode_payload(encode_base64(&two).as_bytes(), &DecodeLimits::default()).unwrap();
        assert_eq!(body, b"{\"name\":\"x\"}");
    }

    #[test]
    fn base64_tolerates_line_breaks() {
        let text = encode_payload(b"{}");
        let broken = format!("{}\n{}\r\n", &text[..8], &text[8..]);
        assert_eq!(decode_payload(broken.as_bytes(), &DecodeLimits::default()).unwrap(), b"{}");
    }

    #[test]
    fn object_names() {
        assert_eq!(helm3_object_name("shop", 4), "sh.helm.release.v1.shop.v4");
        assert_eq!(parse_helm3_object_name("sh.helm.release.v1.my.app.v12"), Some(("my.app", 12)));
        assert_eq!(parse_helm3_object_name("shop.v1"), None);
        assert_eq!(parse_helm3_object_name("sh.helm.release.v1.shop.vx"), None);
        assert_eq!(helm2_object_name("shop", 3), "shop.v3");
        assert_eq!(parse_helm2_object_name("myproject-production.v7"), Some(("myproject-production", 7)));
        assert_eq!(parse_helm2_object_name("v1"), None);
        assert_eq!(parse_helm2_object_name("x.v99999999999"), None);
    }

    #[test]
    fn helm3_labels_like_helm() {
        let mut r = helm3::Release { name: "shop".into(), version: 3, ..Default::default() };
        r.info.status = Status::Failed;
        r.labels.insert("team".into(), "payments".into());
        r.labels.insert("owner".into(), "someone".into()); // system labels win
        let l = helm3_labels(&r, LabelStamp::Created(1_700_000_000));
        let want: BTreeMap<String, String> = [
            ("createdAt", "1700000000"),
            ("name", "shop"),
            ("owner", "helm"),
            ("status", "failed"),
            ("team", "payments"),
            ("version", "3"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(l, want);
        let u = helm3_labels(&r, LabelStamp::Modified(1_700_000_100));
        assert!(!u.contains_key("createdAt"));
        assert_eq!(u["modifiedAt"], "1700000100");
        let p = parse_helm3_labels(&u);
        assert!(p.is_helm());
        assert_eq!(p.status, Some(Status::Failed));
        assert_eq!(p.version, Some(3));
        assert_eq!(p.modified_at, Some(1_700_000_100));
        assert_eq!(p.custom.len(), 1);
        assert_eq!(helm3_history_selector("shop"), "name=shop,owner=helm");
    }

    #[test]
    fn helm2_labels_like_tiller() {
        let r = helm2::Release {
            name: "shop".into(),
            version: 2,
            info: Some(helm2::Info {
                status: Some(helm2::Status { code: helm2::StatusCode::PendingUpgrade as i32, ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let l = helm2_labels(&r, LabelStamp::Modified(5));
        assert_eq!(l["STATUS"], "PENDING_UPGRADE");
        assert_eq!(l["OWNER"], "TILLER");
        assert_eq!(l["MODIFIED_AT"], "5");
        let p = parse_helm2_labels(&l);
        assert!(p.is_tiller());
        assert_eq!(p.version, Some(2));
        assert_eq!(p.created_at, None);
    }

    #[test]
    fn helm2_round_trip() {
        let r = helm2::Release { name: "a".into(), version: 1, namespace: "ns".into(), ..Default::default() };
        let text = encode_helm2(&r);
        assert!(text.starts_with("H4sIAAAAAAAC/"));
        assert_eq!(decode_helm2(text.as_bytes(), &DecodeLimits::default()).unwrap(), r);
        // Tiller also reads ungzipped protobuf.
        let raw = encode_base64(&r.encode_to_vec());
        assert_eq!(decode_helm2(raw.as_bytes(), &DecodeLimits::default()).unwrap(), r);
    }
    #[test]
    fn label_drift_names_what_helm_would_write() {
        let mut r = helm3::Release { name: "shop".into(), version: 3, ..Default::default() };
        r.info.status = Status::Superseded;
        let mut stored = helm3_labels(&r, LabelStamp::Created(7));
        stored.insert("team".into(), "a".into());
        assert!(helm3_label_drift(&stored, &r).is_empty());
        stored.insert("status".into(), "deployed".into());
        stored.remove("version");
        let d = helm3_label_drift(&stored, &r);
        assert_eq!(
            d,
            vec![
                LabelDrift { label: "status", stored: Some("deployed".into()), expected: "superseded".into() },
                LabelDrift { label: "version", stored: None, expected: "3".into() },
            ]
        );
        let fixed = relabelled(&stored, &d, false, 9);
        assert!(helm3_label_drift(&fixed, &r).is_empty());
        assert_eq!((fixed["team"].as_str(), fixed["createdAt"].as_str(), fixed["modifiedAt"].as_str()), ("a", "7", "9"));
        assert_eq!(helm3_object_name_drift("sh.helm.release.v1.shop.v3", &r), None);
        assert!(helm3_object_name_drift("sh.helm.release.v1.shop.v4", &r).is_some());

        let h2 = helm2::Release { name: "old".into(), version: 2, ..Default::default() };
        let mut l = helm2_labels(&h2, LabelStamp::Created(1));
        assert!(helm2_label_drift(&l, &h2).is_empty());
        l.insert("STATUS".into(), "DEPLOYED".into());
        let d = helm2_label_drift(&l, &h2);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].expected, "UNKNOWN");
        assert_eq!(relabelled(&l, &d, true, 5)["MODIFIED_AT"], "5");
        assert!(helm2_object_name_drift("old.v2", &h2).is_none());
    }
}
