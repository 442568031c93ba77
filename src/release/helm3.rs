//! The Helm 3 / Helm 4 release model ("release v1" JSON).
//!
//! Field order, `omitempty` and null handling follow Helm's Go structs so that re-encoding a decoded
//! record gives back what Helm wrote:
//! - fields Go writes only when non-empty (`omitempty`) are plain values skipped when empty;
//! - fields Go always writes and that may be nil (`chart.metadata`, `lock`, `templates`, `values`,
//!   `schema`, `files`, a file's `data`, `lock.dependencies`) are `Option`s: `None` is JSON `null`;
//! - times are [`Time`], which remembers whether a zero time was `""`, `null` or absent;
//! - every struct has `extra`, holding keys this version does not know (written after the known keys,
//!   in the order they were read), so fields added by newer Helm versions survive a rewrite;
//! - maps Go declares as `map[string]any` (values, config) are written with sorted keys, like Go.
//!
//! Helm 4's additions that we know of (`apply_method`, chart `schemamodtime`/`modtime`, file
//! `modtime`) are declared in the position Helm 4 writes them.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::string_enum;
pub use super::time::{Time, ZeroForm};
use crate::golang::json as gojson;

string_enum! {
    /// Release status (`info.status`, also the `status` label).
    pub enum Status {
        Unknown => "unknown",
        Deployed => "deployed",
        Uninstalled => "uninstalled",
        Superseded => "superseded",
        Failed => "failed",
        Uninstalling => "uninstalling",
        PendingInstall => "pending-install",
        PendingUpgrade => "pending-upgrade",
        PendingRollback => "pending-rollback",
    }
}

#[allow(clippy::derivable_impls)] // the enum comes from a macro shared with types that have no default
impl Default for Status {
    fn default() -> Self {
        Status::Unknown
    }
}

impl Status {
    /// The empty status Go writes nothing for (`omitempty`); serde default for a missing key.
    pub fn unset() -> Status {
        Status::Other(String::new())
    }

    /// True for the empty status (left out of the JSON).
    pub fn is_unset(&self) -> bool {
        self.as_str().is_empty()
    }

    /// True for `pending-install`, `pending-upgrade` and `pending-rollback`.
    pub fn is_pending(&self) -> bool {
        matches!(self, Status::PendingInstall | Status::PendingUpgrade | Status::PendingRollback)
    }
}

string_enum! {
    /// When a hook runs.
    pub enum HookEvent {
        PreInstall => "pre-install",
        PostInstall => "post-install",
        PreDelete => "pre-delete",
        PostDelete => "post-delete",
        PreUpgrade => "pre-upgrade",
        PostUpgrade => "post-upgrade",
        PreRollback => "pre-rollback",
        PostRollback => "post-rollback",
        Test => "test",
    }
}

string_enum! {
    /// When a hook's resource is deleted.
    pub enum HookDeletePolicy {
        HookSucceeded => "hook-succeeded",
        HookFailed => "hook-failed",
        BeforeHookCreation => "before-hook-creation",
    }
}

string_enum! {
    /// When a hook's logs are printed (Helm 3.15+).
    pub enum HookOutputLogPolicy {
        HookSucceeded => "hook-succeeded",
        HookFailed => "hook-failed",
    }
}

string_enum! {
    /// A hook's last execution phase. A hook that never ran has the empty phase (`Other("")`, the default).
    pub enum HookPhase {
        Unknown => "Unknown",
        Running => "Running",
        Succeeded => "Succeeded",
        Failed => "Failed",
    }
}

impl Default for HookPhase {
    fn default() -> Self {
        HookPhase::Other(String::new())
    }
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// A Helm release, as stored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Release {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default)]
    pub info: Info,
    /// `None` when the record has no chart: Go's `Chart *chart.Chart` is `omitempty`, so a nil chart
    /// (a missing key, or `null`) is left out of the JSON entirely.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<Chart>,
    /// User-supplied values (`helm get values`).
    #[serde(default, skip_serializing_if = "Map::is_empty", serialize_with = "gojson::serialize_sorted_map")]
    pub config: Map<String, Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<Hook>,
    /// Revision number.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub version: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Helm 4: `"ssa"` or `"csa"`; empty for Helm 3.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub apply_method: String,
    /// Keys this version does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Custom release labels (`helm install --labels`). Never in the JSON: the storage object carries
    /// them next to the system labels (see `storage::codec::helm3_labels`).
    #[serde(skip)]
    pub labels: BTreeMap<String, String>,
}

/// `release.info`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Info {
    #[serde(default = "Time::absent", skip_serializing_if = "Time::is_absent")]
    pub first_deployed: Time,
    #[serde(default = "Time::absent", skip_serializing_if = "Time::is_absent")]
    pub last_deployed: Time,
    #[serde(default = "Time::absent", skip_serializing_if = "Time::is_absent")]
    pub deleted: Time,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default = "Status::unset", skip_serializing_if = "Status::is_unset")]
    pub status: Status,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
    /// Only filled in by `helm status --show-resources`; not normally stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Value>,
    /// Keys this version does not know (e.g. newer Helm's `annotations`), kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Release {
    /// `chart.metadata`, if there is a chart and it has metadata.
    pub fn chart_metadata(&self) -> Option<&Metadata> {
        self.chart.as_ref()?.metadata.as_ref()
    }
}

impl Info {
    /// `info.annotations` if a newer Helm wrote it (a string map), else `None`.
    pub fn annotations(&self) -> Option<BTreeMap<String, String>> {
        serde_json::from_value(self.extra.get("annotations")?.clone()).ok()
    }
}

/// `release.chart`. Subcharts are not stored by Helm 3.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Chart {
    #[serde(default)]
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub lock: Option<Lock>,
    #[serde(default)]
    pub templates: Option<Vec<File>>,
    /// The chart's default values.
    #[serde(default, serialize_with = "gojson::serialize_sorted_opt_map")]
    pub values: Option<Map<String, Value>>,
    /// `values.schema.json` bytes (base64 in the JSON).
    #[serde(default, with = "base64_opt")]
    pub schema: Option<Vec<u8>>,
    /// Helm 4.
    #[serde(default = "Time::absent", skip_serializing_if = "Time::is_absent")]
    pub schemamodtime: Time,
    #[serde(default)]
    pub files: Option<Vec<File>>,
    /// Helm 4.
    #[serde(default = "Time::absent", skip_serializing_if = "Time::is_absent")]
    pub modtime: Time,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for Chart {
    /// An empty chart as Helm 3 writes it: all nil fields `null`, no Helm 4 mod times.
    fn default() -> Self {
        Chart {
            metadata: None,
            lock: None,
            templates: None,
            values: None,
            schema: None,
            schemamodtime: Time::absent(),
            files: None,
            modtime: Time::absent(),
            extra: Map::new(),
        }
    }
}

impl Chart {
    /// The templates, or an empty slice when `null`.
    pub fn templates(&self) -> &[File] {
        self.templates.as_deref().unwrap_or(&[])
    }

    /// The files, or an empty slice when `null`.
    pub fn files(&self) -> &[File] {
        self.files.as_deref().unwrap_or(&[])
    }
}

/// `Chart.yaml` contents.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub home: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintainers: Vec<Maintainer>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub icon: String,
    #[serde(rename = "apiVersion", default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub condition: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tags: String,
    #[serde(rename = "appVersion", default, skip_serializing_if = "String::is_empty")]
    pub app_version: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub deprecated: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(rename = "kubeVersion", default, skip_serializing_if = "String::is_empty")]
    pub kube_version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Dependency>,
    /// `application` or `library`.
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub chart_type: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A chart maintainer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Maintainer {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A chart dependency (in `metadata.dependencies` and `lock.dependencies`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Dependency {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default)]
    pub repository: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub condition: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub enabled: bool,
    #[serde(rename = "import-values", default, skip_serializing_if = "Vec::is_empty")]
    pub import_values: Vec<Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub alias: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `Chart.lock` contents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lock {
    /// A plain Go `time.Time`: its zero value is written `0001-01-01T00:00:00Z`.
    #[serde(default = "Time::absent", skip_serializing_if = "Time::is_absent")]
    pub generated: Time,
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub dependencies: Option<Vec<Dependency>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A chart template or file (`data` is base64 in the JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct File {
    #[serde(default)]
    pub name: String,
    #[serde(default, with = "base64_opt")]
    pub data: Option<Vec<u8>>,
    /// Helm 4.
    #[serde(default = "Time::absent", skip_serializing_if = "Time::is_absent")]
    pub modtime: Time,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for File {
    /// Go's zero `File`: empty name, nil data (`null`), no modification time.
    fn default() -> Self {
        File { name: String::new(), data: None, modtime: Time::absent(), extra: Map::new() }
    }
}

impl Default for Lock {
    /// `generated` is Go's zero `time.Time` as Go writes it (`0001-01-01T00:00:00Z`).
    fn default() -> Self {
        Lock {
            generated: Time::parse("0001-01-01T00:00:00Z").expect("valid"),
            digest: String::new(),
            dependencies: None,
            extra: Map::new(),
        }
    }
}

impl File {
    /// A file with data and no modification time.
    pub fn new(name: impl Into<String>, data: impl Into<Vec<u8>>) -> File {
        File { name: name.into(), data: Some(data.into()), modtime: Time::absent(), extra: Map::new() }
    }

    /// The bytes, empty when `null`.
    pub fn bytes(&self) -> &[u8] {
        self.data.as_deref().unwrap_or(&[])
    }
}

/// A release hook.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Hook {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<HookEvent>,
    #[serde(default)]
    pub last_run: HookExecution,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub weight: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delete_policies: Vec<HookDeletePolicy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output_log_policies: Vec<HookOutputLogPolicy>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A hook's last execution.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HookExecution {
    #[serde(default = "Time::absent", skip_serializing_if = "Time::is_absent")]
    pub started_at: Time,
    #[serde(default = "Time::absent", skip_serializing_if = "Time::is_absent")]
    pub completed_at: Time,
    #[serde(default)]
    pub phase: HookPhase,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `Option<Vec<u8>>` as Go's `[]byte`: base64 (standard, padded) string, `null` for nil.
mod base64_opt {
    use base64::Engine;

    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Option<Vec<u8>>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("base64 string or null")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                base64::engine::general_purpose::STANDARD
                    .decode(v.as_bytes())
                    .map(Some)
                    .map_err(|e| E::custom(format_args!("illegal base64 data: {e}")))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
                d.deserialize_str(V)
            }
        }
        d.deserialize_option(V)
    }
}

/// What `list` needs of a release, decoded without templates, files, values, manifest or hooks.
///
/// Deserializing this from a payload skips the large parts of the JSON (serde's `IgnoredAny`),
/// so it allocates little and is faster than a full [`Release`] decode.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReleaseSummary {
    pub name: String,
    pub namespace: String,
    /// Revision.
    pub version: i64,
    pub status: Status,
    pub first_deployed: Time,
    pub last_deployed: Time,
    pub deleted: Time,
    pub description: String,
    /// `chart.metadata.name`.
    pub chart_name: String,
    /// `chart.metadata.version`.
    pub chart_version: String,
    /// `chart.metadata.appVersion`.
    pub app_version: String,
    /// `info.annotations`, when a Helm version that writes it did.
    pub annotations: Option<BTreeMap<String, String>>,
    /// Custom labels from the storage object (filled by the driver, not from the JSON).
    pub labels: BTreeMap<String, String>,
}

impl ReleaseSummary {
    /// `name-version` as `helm list` shows in its CHART column.
    pub fn chart(&self) -> String {
        format!("{}-{}", self.chart_name, self.chart_version)
    }
}

#[derive(Deserialize)]
struct RawSummary {
    #[serde(default)]
    name: String,
    #[serde(default)]
    info: Option<RawInfoSummary>,
    #[serde(default)]
    chart: Option<RawChartSummary>,
    #[serde(default)]
    version: i64,
    #[serde(default)]
    namespace: String,
}

#[derive(Deserialize)]
struct RawInfoSummary {
    #[serde(default = "Time::absent")]
    first_deployed: Time,
    #[serde(default = "Time::absent")]
    last_deployed: Time,
    #[serde(default = "Time::absent")]
    deleted: Time,
    #[serde(default)]
    description: String,
    #[serde(default = "Status::unset")]
    status: Status,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct RawChartSummary {
    #[serde(default)]
    metadata: Option<RawMetadataSummary>,
}

#[derive(Deserialize)]
struct RawMetadataSummary {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: String,
    #[serde(rename = "appVersion", default)]
    app_version: String,
}

impl<'de> Deserialize<'de> for ReleaseSummary {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawSummary::deserialize(d)?;
        let mut s = ReleaseSummary { name: raw.name, namespace: raw.namespace, version: raw.version, ..Default::default() };
        if let Some(info) = raw.info {
            s.status = info.status;
            s.first_deployed = info.first_deployed;
            s.last_deployed = info.last_deployed;
            s.deleted = info.deleted;
            s.description = info.description;
            s.annotations = info.annotations;
        } else {
            // Same as the full decode, which fills a missing `info` with its defaults.
            s.status = Info::default().status;
        }
        if let Some(m) = raw.chart.and_then(|c| c.metadata) {
            s.chart_name = m.name;
            s.chart_version = m.version;
            s.app_version = m.app_version;
        }
        Ok(s)
    }
}

impl From<&Release> for ReleaseSummary {
    fn from(r: &Release) -> Self {
        let meta = r.chart_metadata();
        ReleaseSummary {
            name: r.name.clone(),
            namespace: r.namespace.clone(),
            version: r.version,
            status: r.info.status.clone(),
            first_deployed: r.info.first_deployed,
            last_deployed: r.info.last_deployed,
            deleted: r.info.deleted,
            description: r.info.description.clone(),
            chart_name: meta.map(|m| m.name.clone()).unwrap_or_default(),
            chart_version: meta.map(|m| m.version.clone()).unwrap_or_default(),
            app_version: meta.map(|m| m.app_version.clone()).unwrap_or_default(),
            annotations: r.info.annotations(),
            labels: r.labels.clone(),
        }
    }
}

impl Release {
    /// The summary `list` shows, from a fully decoded release.
    pub fn summary(&self) -> ReleaseSummary {
        ReleaseSummary::from(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_strings() {
        for s in Status::KNOWN {
            assert_eq!(Status::from(s.as_str()), *s);
        }
        assert_eq!(Status::from("pending-upgrade"), Status::PendingUpgrade);
        assert_eq!(Status::from("archived"), Status::Other("archived".into()));
        let v: Status = serde_json::from_str("\"weird\"").unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"weird\"");
    }

    #[test]
    fn unknown_fields_kept_at_every_level() {
        let j = serde_json::json!({
            "name": "x",
            "info": {"first_deployed": "", "last_deployed": "", "deleted": "", "status": "deployed", "future": 1},
            "chart": {"metadata": {"name": "c", "newmeta": [1]}, "lock": null, "templates": [{"name": "t", "data": "YQ==", "tmeta": true}],
                      "values": {"b": 1, "a": {"d": 2, "c": 3}}, "schema": null, "files": null, "chartnew": "x"},
            "hooks": [{"name": "h", "last_run": {"phase": "", "x": 1}, "weight": -5, "hooknew": {}}],
            "version": 3,
            "namespace": "ns",
            "toplevel_new": {"k": "v"}
        });
        let r: Release = serde_json::from_value(j.clone()).unwrap();
        assert_eq!(r.extra["toplevel_new"], serde_json::json!({"k": "v"}));
        assert_eq!(r.chart.as_ref().unwrap().templates()[0].bytes(), b"a");
        assert_eq!(r.hooks[0].weight, -5);
        let back = serde_json::to_value(&r).unwrap();
        assert_eq!(back, j);
    }

    #[test]
    fn new_release_uses_helm3_zero_times() {
        let r =
            Release { name: "a".into(), version: 1, info: Info { status: Status::Deployed, ..Default::default() }, ..Default::default() };
        let s = String::from_utf8(gojson::to_vec(&r).unwrap()).unwrap();
        assert!(s.contains(r#""info":{"first_deployed":"","last_deployed":"","deleted":"","status":"deployed"}"#), "{s}");
        // no chart: Go's `Chart *chart.Chart` is `omitempty`, a nil chart is not written at all
        assert!(!s.contains(r#""chart""#), "{s}");
        let empty = Release { chart: Some(Chart::default()), ..r };
        let s = String::from_utf8(gojson::to_vec(&empty).unwrap()).unwrap();
        assert!(s.contains(r#""chart":{"metadata":null,"lock":null,"templates":null,"values":null,"schema":null,"files":null}"#), "{s}");
    }

    #[test]
    fn summary_skips_the_rest() {
        let j = r#"{"name":"shop","info":{"first_deployed":"2020-05-14T10:13:58.930268-06:00","last_deployed":"","deleted":"","description":"Install complete","status":"deployed","annotations":{"a":"b"}},
            "chart":{"metadata":{"name":"shop","version":"1.4.2","appVersion":"2.7.0"},"templates":[{"name":"x","data":"!!notbase64"}]},
            "manifest":"---","hooks":[{"weird":[1,2,{"x":null}]}],"version":4,"namespace":"ns"}"#;
        let s: ReleaseSummary = serde_json::from_str(j).unwrap();
        assert_eq!(s.name, "shop");
        assert_eq!(s.version, 4);
        assert_eq!(s.status, Status::Deployed);
        assert_eq!(s.chart(), "shop-1.4.2");
        assert_eq!(s.app_version, "2.7.0");
        assert_eq!(s.annotations.unwrap()["a"], "b");
        assert_eq!(s.first_deployed.unix_seconds(), Some(1_589_472_838));
    }
}
