//! The parts of a release payload that checks over many releases read — identity, status, manifest,
//! hooks — decoded without the chart, which is most of a record's bytes. `releases apis` and `releases
//! doctor` read them; verbs that show or rewrite a release decode it whole (`codec`).

use serde::Deserialize;

use super::codec::{self, CodecError, DecodeLimits};
use crate::release::Time;

/// What a payload says of itself, apart from its chart and values.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseTexts {
    pub name: String,
    /// The release namespace the payload names.
    pub namespace: String,
    pub revision: i64,
    /// In Helm 3's words (Tiller's `DEPLOYED` is `deployed`, `DELETED` is `uninstalled`).
    pub status: String,
    pub manifest: String,
    /// (name, manifest) of each hook.
    pub hooks: Vec<(String, String)>,
    /// `info.last_deployed`, Unix seconds (Helm 3/4 records; Tiller's labels date its records).
    pub last_deployed: Option<i64>,
    /// Tiller's status code (Helm 2 records).
    pub helm2_code: Option<i32>,
}

#[derive(Deserialize, Default)]
struct SlimInfo {
    #[serde(default)]
    status: String,
    #[serde(default)]
    last_deployed: Option<String>,
}

#[derive(Deserialize)]
struct SlimHook {
    #[serde(default)]
    name: String,
    #[serde(default)]
    manifest: String,
}

/// The fields read of a Helm 3/4 release JSON; serde skips the rest (the chart) without building it.
#[derive(Deserialize)]
struct SlimRelease {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    version: i64,
    #[serde(default)]
    info: Option<SlimInfo>,
    #[serde(default)]
    manifest: String,
    #[serde(default)]
    hooks: Option<Vec<SlimHook>>,
}

/// A Helm 3/4 record's payload (helm's base64 of gzip of JSON).
pub fn helm3_texts(payload: &[u8], limits: &DecodeLimits) -> Result<ReleaseTexts, CodecError> {
    let body = codec::decode_payload(payload, limits)?;
    let r: SlimRelease = serde_json::from_slice(&body).map_err(CodecError::Json)?;
    let info = r.info.unwrap_or_default();
    let last_deployed = info.last_deployed.as_deref().and_then(|t| Time::parse(t).ok()).and_then(|t| t.unix_seconds());
    Ok(ReleaseTexts {
        name: r.name,
        namespace: r.namespace,
        revision: r.version,
        status: info.status,
        manifest: r.manifest,
        hooks: r.hooks.unwrap_or_default().into_iter().map(|h| (h.name, h.manifest)).collect(),
        last_deployed,
        helm2_code: None,
    })
}

/// A Tiller record's payload (protobuf; decoded whole, Tiller's records are small beside Helm 3's).
pub fn helm2_texts(payload: &[u8], limits: &DecodeLimits) -> Result<ReleaseTexts, CodecError> {
    let r = codec::decode_helm2(payload, limits)?;
    let code = r.status_code();
    Ok(ReleaseTexts {
        status: crate::release::convert::status_from_helm2(code).unwrap_or(crate::release::helm3::Status::Unknown).as_str().to_string(),
        helm2_code: Some(code),
        last_deployed: None,
        name: r.name,
        namespace: r.namespace,
        revision: i64::from(r.version),
        manifest: r.manifest,
        hooks: r.hooks.into_iter().map(|h| (h.name, h.manifest)).collect(),
    })
}
