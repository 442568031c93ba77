//! Kubernetes API versions that are no longer served, as data (`removed-apis.tsv`, compiled in), and what
//! a stored manifest holds of them. Pure: the scan and the fix (`commands::releases::apis`) do the I/O.
//!
//! - [`table`]: every (apiVersion, kind) Kubernetes removed, with the version that removed it and its
//!   replacement;
//! - [`find_objects`]: the objects of a manifest or hook text, parsed as YAML documents (never by string
//!   matching), with where they are;
//! - [`convert`]: a manifest with every removed apiVersion replaced and the fields the replacement needs.

pub mod convert;

use std::fmt;
use std::sync::OnceLock;

use serde::Serialize;

const TABLE_TSV: &str = include_str!("removed-apis.tsv");

/// A Kubernetes minor version (`1.25`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubeVersion {
    pub major: u32,
    pub minor: u32,
}

impl KubeVersion {
    pub const fn new(major: u32, minor: u32) -> Self {
        KubeVersion { major, minor }
    }

    /// `1.25`, `v1.25`, `1.25.3`, `v1.36.2-eks-1`; the minor as the API server reports it (`25+`) too.
    pub fn parse(text: &str) -> Option<KubeVersion> {
        let t = text.trim().trim_start_matches('v');
        let mut parts = t.splitn(3, '.');
        let major: u32 = parts.next()?.parse().ok()?;
        let minor_text = parts.next()?;
        let digits: String = minor_text.chars().take_while(|c| c.is_ascii_digit()).collect();
        if digits.is_empty() {
            return None;
        }
        let minor: u32 = digits.parse().ok()?;
        Some(KubeVersion { major, minor })
    }

    /// From the API server's `/version` fields (`major: "1"`, `minor: "36+"`).
    pub fn from_server(major: &str, minor: &str) -> Option<KubeVersion> {
        KubeVersion::parse(&format!("{}.{}", major.trim_end_matches('+'), minor))
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl Serialize for KubeVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// One row of the table: `api_version` `kind` stopped being served in `removed_in`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedApi {
    pub api_version: String,
    pub kind: String,
    pub removed_in: KubeVersion,
    /// The apiVersion to use instead; `None` when the kind itself was removed (PodSecurityPolicy).
    pub replacement: Option<String>,
}

impl RemovedApi {
    /// Removed by the time a cluster runs `version`.
    pub fn removed_by(&self, version: KubeVersion) -> bool {
        version >= self.removed_in
    }
}

/// Parse the TSV text of the table. Errors name the line.
pub fn parse_table(text: &str) -> Result<Vec<RemovedApi>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let [removed, api_version, kind, replacement] = cols.as_slice() else {
            return Err(format!("line {}: expected 4 tab-separated columns, got {}", n + 1, cols.len()));
        };
        let removed_in = KubeVersion::parse(removed).ok_or_else(|| format!("line {}: bad version {removed:?}", n + 1))?;
        if !api_version.contains('/') || kind.is_empty() {
            return Err(format!("line {}: bad apiVersion/kind {api_version:?} {kind:?}", n + 1));
        }
        let replacement = match *replacement {
            "-" => None,
            r if r.contains('/') => Some(r.to_string()),
            r => return Err(format!("line {}: bad replacement {r:?}", n + 1)),
        };
        if out.iter().any(|r: &RemovedApi| r.api_version == *api_version && r.kind == *kind) {
            return Err(format!("line {}: {api_version} {kind} listed twice", n + 1));
        }
        out.push(RemovedApi { api_version: api_version.to_string(), kind: kind.to_string(), removed_in, replacement });
    }
    Ok(out)
}

/// The compiled-in table.
pub fn table() -> &'static [RemovedApi] {
    static TABLE: OnceLock<Vec<RemovedApi>> = OnceLock::new();
    TABLE.get_or_init(|| parse_table(TABLE_TSV).unwrap_or_else(|e| panic!("removed-apis.tsv: {e}")))
}

/// The table's row for an object's apiVersion and kind.
pub fn lookup(api_version: &str, kind: &str) -> Option<&'static RemovedApi> {
    table().iter().find(|r| r.api_version == api_version && r.kind == kind)
}

/// Where in a release an object was found.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TextPlace {
    Manifest,
    /// A hook, by its path (`chart/templates/hook.yaml`) or name.
    Hook,
}

/// An object of a stored manifest or hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundObject {
    pub place: TextPlace,
    /// The hook's name, for hooks.
    pub hook: Option<String>,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
}

/// A document of a stored text that is not an object helm could build (it would fail the same way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadDocument {
    pub place: TextPlace,
    pub hook: Option<String>,
    pub reason: String,
}

/// Every object in a manifest or hook text (YAML documents, `List`s expanded), and documents that do not
/// parse. Documents that are not objects at all (no apiVersion/kind) are skipped as helm skips them.
pub fn find_objects(text: &str, place: TextPlace, hook: Option<&str>) -> (Vec<FoundObject>, Vec<BadDocument>) {
    let mut found = Vec::new();
    let mut bad = Vec::new();
    for r in crate::manifest::parse_objects(text, true) {
        match r {
            Ok(o) => found.push(FoundObject {
                place: place.clone(),
                hook: hook.map(String::from),
                api_version: o.api_version,
                kind: o.kind,
                name: o.name,
                namespace: o.namespace,
            }),
            Err(e) => bad.push(BadDocument { place: place.clone(), hook: hook.map(String::from), reason: e.to_string() }),
        }
    }
    (found, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_covers_the_migration_guide() {
        let t = table();
        assert!(t.len() >= 50, "{}", t.len());
        let hpa = lookup("autoscaling/v2beta1", "HorizontalPodAutoscaler").unwrap();
        assert_eq!((hpa.removed_in, hpa.replacement.as_deref()), (KubeVersion::new(1, 25), Some("autoscaling/v2")));
        assert_eq!(lookup("autoscaling/v2beta2", "HorizontalPodAutoscaler").unwrap().removed_in, KubeVersion::new(1, 26));
        assert_eq!(lookup("policy/v1beta1", "PodSecurityPolicy").unwrap().replacement, None);
        assert_eq!(lookup("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema").unwrap().removed_in, KubeVersion::new(1, 32));
        assert!(lookup("apps/v1", "Deployment").is_none());
        assert!(lookup("policy/v1beta1", "Deployment").is_none(), "rows are per kind, not per group version");
        // Every replacement serves the same kind on a 1.36 API server (its captured discovery), and no
        // removed apiVersion is served there.
        let catalog = crate::live::ResourceCatalog::from_aggregated_json(
            include_str!("../../../fixtures/apiserver-1.36/discovery/aggregated_api.json"),
            include_str!("../../../fixtures/apiserver-1.36/discovery/aggregated_apis.json"),
        )
        .unwrap();
        for r in t {
            if let Some(rep) = &r.replacement {
                assert!(catalog.resolve_gvk(rep, &r.kind).is_ok(), "{rep} {}", r.kind);
            }
            assert!(catalog.resolve_gvk(&r.api_version, &r.kind).is_err(), "{} {}", r.api_version, r.kind);
        }
    }

    #[test]
    fn bad_tables_are_refused_by_line() {
        assert!(parse_table("1.16\tapps/v1beta1\tDeployment\n").unwrap_err().contains("line 1"));
        assert!(parse_table("x\tapps/v1beta1\tDeployment\tapps/v1\n").unwrap_err().contains("bad version"));
        assert!(parse_table("1.16\tapps/v1beta1\tD\tapps/v1\n1.16\tapps/v1beta1\tD\tapps/v1\n").unwrap_err().contains("twice"));
    }

    #[test]
    fn versions() {
        assert_eq!(KubeVersion::parse("v1.36.2"), Some(KubeVersion::new(1, 36)));
        assert_eq!(KubeVersion::parse("1.25"), Some(KubeVersion::new(1, 25)));
        assert_eq!(KubeVersion::from_server("1", "27+"), Some(KubeVersion::new(1, 27)));
        assert_eq!(KubeVersion::parse("1"), None);
        assert_eq!(KubeVersion::parse("one.two"), None);
        assert!(KubeVersion::new(1, 9) < KubeVersion::new(1, 10));
    }

    #[test]
    fn objects_are_found_as_documents_not_strings() {
        let text = "---\n# Source: c/templates/a.yaml\napiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata:\n  name: a\n  annotations:\n    note: \"apiVersion: extensions/v1beta1\"\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: extensions/v1beta1\n  kind: Ingress\n  metadata: {name: b, namespace: x}\n---\nkey: [unclosed\n";
        let (found, bad) = find_objects(text, TextPlace::Manifest, None);
        assert_eq!(found.len(), 2);
        assert_eq!(
            (found[0].api_version.as_str(), found[0].kind.as_str(), found[0].name.as_str()),
            ("policy/v1beta1", "PodDisruptionBudget", "a")
        );
        assert_eq!((found[1].kind.as_str(), found[1].namespace.as_deref()), ("Ingress", Some("x")));
        assert_eq!(bad.len(), 1);
    }
}
