//! What resource types the server has, and how the names users type map to them.
//!
//! A [`ResourceCatalog`] is built from the aggregated discovery documents (`apidiscovery.k8s.io/v2`
//! `APIGroupDiscoveryList` for `/api` and `/apis`, parsed here from raw JSON because kube's `ApiResource`
//! drops `shortNames`), or, for servers without aggregated discovery, from the plain `APIGroupList` and
//! `APIResourceList` documents. Resolution follows kubectl:
//! - `TYPE/NAME` or `TYPE`, where TYPE is a plural, singular, kind (any case) or short name, optionally qualified
//!   by group (`deployments.apps`) or version and group (`deployment.v1.apps`);
//! - exact plural/singular names win over kinds, kinds over short names (kubectl does not expand a short name
//!   that is also a full resource name);
//! - within a group the preferred version wins; across groups the core group wins (so `events` is core/v1 like
//!   in kubectl). Unlike kubectl, which silently takes the first group in discovery order, a name left matching
//!   several other groups is an error ([`ResolveError::Ambiguous`]): this tool writes to what it resolves.

use futures::future::join_all;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{APIGroupList, APIResourceList};
use kube::Client;
use kube::core::Status;
use kube::discovery::ApiResource;
use serde::Deserialize;

use crate::golang::strconv::go_quote;
use crate::retry::ReadRetry;

/// The `Accept` header for aggregated discovery v2, with plain JSON as the fallback the server may choose.
pub const ACCEPT_AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";

/// One API resource type at one group version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedResource {
    /// API group, empty for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    /// Plural resource name as used in URLs (`deployments`).
    pub plural: String,
    /// Singular name (`deployment`); may be empty in old plain discovery documents.
    pub singular: String,
    pub namespaced: bool,
    pub verbs: Vec<String>,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Whether `version` is the group's preferred version.
    pub preferred: bool,
}

impl ResolvedResource {
    /// `v1` for the core group, `GROUP/VERSION` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    /// The verbs adopt/annotate need: `get` and `patch`.
    pub fn can_get_and_patch(&self) -> bool {
        self.supports("get") && self.supports("patch")
    }

    /// kubectl's fully qualified type name: `deployments.apps`, or `configmaps` for the core group.
    pub fn qualified_name(&self) -> String {
        if self.group.is_empty() { self.plural.clone() } else { format!("{}.{}", self.plural, self.group) }
    }

    /// For `kube::Api<DynamicObject>`.
    pub fn api_resource(&self) -> ApiResource {
        ApiResource {
            group: self.group.clone(),
            version: self.version.clone(),
            api_version: self.api_version(),
            kind: self.kind.clone(),
            plural: self.plural.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// kubectl's text for a type nobody serves.
    #[error("the server doesn't have a resource type {}", go_quote(.0))]
    UnknownType(String),
    #[error("resource type {} is ambiguous, it matches {}; qualify it with the API group", go_quote(.input), .candidates.join(", "))]
    Ambiguous { input: String, candidates: Vec<String> },
    /// The RESTMapper's text for an apiVersion+kind the server does not serve.
    #[error("no matches for kind {} in version {}", go_quote(.kind), go_quote(.api_version))]
    NoKindMatch { api_version: String, kind: String },
    /// kubectl's text for a malformed `TYPE/NAME`.
    #[error("arguments in resource/name form must have a single resource and name")]
    BadReference(String),
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("cannot read the discovery document {what}: {source}")]
    Parse { what: String, source: serde_json::Error },
    #[error("discovery failed at {path}: {}", crate::error::describe_kube_error(.source))]
    Kube { path: String, source: kube::Error },
}

// ---- aggregated discovery v2 documents (only the fields used) ----

#[derive(Debug, Deserialize)]
struct AggList {
    #[serde(default)]
    items: Vec<AggGroup>,
}

#[derive(Debug, Deserialize)]
struct AggGroup {
    #[serde(default)]
    metadata: AggMeta,
    #[serde(default)]
    versions: Vec<AggVersion>,
}

#[derive(Debug, Default, Deserialize)]
struct AggMeta {
    #[serde(default)]
    name: String,
}

#[derive(Debug, Deserialize)]
struct AggVersion {
    version: String,
    #[serde(default)]
    resources: Vec<AggResource>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AggResource {
    resource: String,
    response_kind: Option<AggKind>,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    singular_resource: String,
    #[serde(default)]
    verbs: Vec<String>,
    #[serde(default)]
    short_names: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct AggKind {
    #[serde(default)]
    kind: String,
}

/// Every resource type the server serves, in discovery order: core group first, then `/apis` groups as listed,
/// each group's versions in preference order.
#[derive(Debug, Clone, Default)]
pub struct ResourceCatalog {
    resources: Vec<ResolvedResource>,
}

/// How a candidate matched the typed name; lower is stronger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum MatchTier {
    Name,
    Kind,
    ShortName,
}

impl ResourceCatalog {
    /// From the raw JSON of the aggregated documents for `/api` (core) and `/apis` (groups).
    pub fn from_aggregated_json(core: &str, groups: &str) -> Result<Self, DiscoveryError> {
        let parse = |what: &str, text: &str| {
            serde_json::from_str::<AggList>(text).map_err(|source| DiscoveryError::Parse { what: what.into(), source })
        };
        let mut catalog = ResourceCatalog::default();
        catalog.add_aggregated(parse("/api", core)?, true);
        catalog.add_aggregated(parse("/apis", groups)?, false);
        Ok(catalog)
    }

    fn add_aggregated(&mut self, list: AggList, core: bool) {
        for group in list.items {
            let group_name = if core { String::new() } else { group.metadata.name };
            for (i, version) in group.versions.into_iter().enumerate() {
                for r in version.resources {
                    let Some(kind) = r.response_kind.map(|k| k.kind).filter(|k| !k.is_empty()) else { continue };
                    if r.resource.contains('/') {
                        continue;
                    }
                    self.resources.push(ResolvedResource {
                        group: group_name.clone(),
                        version: version.version.clone(),
                        kind,
                        plural: r.resource,
                        singular: r.singular_resource,
                        namespaced: r.scope == "Namespaced",
                        verbs: r.verbs,
                        short_names: r.short_names,
                        categories: r.categories,
                        preferred: i == 0,
                    });
                }
            }
        }
    }

    /// From plain discovery: the core `/api/VERSION` lists, and for each `/apis` group its name, preferred version
    /// and the `/apis/GROUP/VERSION` lists (any order; the preferred one is put first).
    pub fn from_plain(core: Vec<APIResourceList>, groups: Vec<(String, String, Vec<APIResourceList>)>) -> Self {
        let mut catalog = ResourceCatalog::default();
        for (i, list) in core.into_iter().enumerate() {
            catalog.add_plain(list, "", i == 0);
        }
        for (group, preferred, mut lists) in groups {
            lists.sort_by_key(|l| version_of(&l.group_version) != preferred);
            for list in lists {
                let is_preferred = version_of(&list.group_version) == preferred;
                catalog.add_plain(list, &group, is_preferred);
            }
        }
        catalog
    }

    fn add_plain(&mut self, list: APIResourceList, group: &str, preferred: bool) {
        let version = version_of(&list.group_version).to_string();
        for r in list.resources {
            if r.name.contains('/') || r.kind.is_empty() {
                continue;
            }
            self.resources.push(ResolvedResource {
                group: group.to_string(),
                version: version.clone(),
                kind: r.kind,
                plural: r.name,
                singular: r.singular_name,
                namespaced: r.namespaced,
                verbs: r.verbs,
                short_names: r.short_names.unwrap_or_default(),
                categories: r.categories.unwrap_or_default(),
                preferred,
            });
        }
    }

    /// Every resource type at every version, in discovery order.
    pub fn resources(&self) -> &[ResolvedResource] {
        &self.resources
    }

    /// Resolves `TYPE/NAME` (kubectl's form) into the resource type and the name.
    pub fn resolve_ref(&self, arg: &str) -> Result<(&ResolvedResource, String), ResolveError> {
        let mut parts = arg.split('/');
        let (Some(ty), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(ResolveError::BadReference(arg.to_string()));
        };
        if ty.is_empty() || name.is_empty() {
            return Err(ResolveError::BadReference(arg.to_string()));
        }
        Ok((self.resolve_type(ty)?, name.to_string()))
    }

    /// Resolves a resource type as kubectl accepts it: `deploy`, `deployments`, `Deployment`, `deployments.apps`,
    /// `deployment.v1.apps`, `widgets.shop.example.com`, ...
    pub fn resolve_type(&self, ty: &str) -> Result<&ResolvedResource, ResolveError> {
        let lower = ty.trim().to_lowercase();
        let parts: Vec<&str> = lower.split('.').collect();
        let resource = parts[0];
        if resource.is_empty() {
            return Err(ResolveError::UnknownType(ty.to_string()));
        }
        // `resource.version.group` first, then `resource.group`, like kubectl's ParseResourceArg.
        if parts.len() >= 3 {
            let group = parts[2..].join(".");
            if let Some(found) = self.pick(ty, resource, Some(&group), Some(parts[1]))? {
                return Ok(found);
            }
        }
        let group = (parts.len() >= 2).then(|| parts[1..].join("."));
        match self.pick(ty, resource, group.as_deref(), None)? {
            Some(found) => Ok(found),
            None => Err(ResolveError::UnknownType(resource.to_string())),
        }
    }

    fn pick(
        &self,
        input: &str,
        resource: &str,
        group: Option<&str>,
        version: Option<&str>,
    ) -> Result<Option<&ResolvedResource>, ResolveError> {
        let mut best: Option<MatchTier> = None;
        let mut hits: Vec<&ResolvedResource> = Vec::new();
        for r in &self.resources {
            if group.is_some_and(|g| g != r.group) || version.is_some_and(|v| v != r.version) {
                continue;
            }
            let tier = if r.plural.eq_ignore_ascii_case(resource) || r.singular.eq_ignore_ascii_case(resource) {
                MatchTier::Name
            } else if r.kind.eq_ignore_ascii_case(resource) {
                MatchTier::Kind
            } else if r.short_names.iter().any(|s| s.eq_ignore_ascii_case(resource)) {
                MatchTier::ShortName
            } else {
                continue;
            };
            match best {
                Some(b) if tier > b => continue,
                Some(b) if tier == b => hits.push(r),
                _ => {
                    best = Some(tier);
                    hits = vec![r];
                }
            }
        }
        // One per group: the first is the most preferred version (the catalog keeps preference order).
        let mut per_group: Vec<&ResolvedResource> = Vec::new();
        for r in hits {
            if !per_group.iter().any(|p| p.group == r.group) {
                per_group.push(r);
            }
        }
        // A group's preferred version beats the order a server listed a non-preferred one in.
        let per_group: Vec<&ResolvedResource> = per_group
            .into_iter()
            .map(|first| {
                self.resources
                    .iter()
                    .find(|r| r.preferred && r.group == first.group && r.plural == first.plural && version.is_none_or(|v| v == r.version))
                    .unwrap_or(first)
            })
            .collect();
        match per_group.len() {
            0 => Ok(None),
            1 => Ok(Some(per_group[0])),
            _ => {
                if let Some(core) = per_group.iter().find(|r| r.group.is_empty()) {
                    return Ok(Some(core));
                }
                Err(ResolveError::Ambiguous {
                    input: input.to_string(),
                    candidates: per_group.iter().map(|r| r.qualified_name()).collect(),
                })
            }
        }
    }

    /// Resolves a manifest's `apiVersion` + `kind` exactly (kinds are case-sensitive in manifests).
    pub fn resolve_gvk(&self, api_version: &str, kind: &str) -> Result<&ResolvedResource, ResolveError> {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        self.resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.kind == kind)
            .ok_or_else(|| ResolveError::NoKindMatch { api_version: api_version.to_string(), kind: kind.to_string() })
    }

    /// Resolves a group + kind at the group's preferred version serving it, whatever version a manifest was
    /// written for (an object is the same object at every version of its group). `group` is `""` for core.
    pub fn resolve_group_kind(&self, group: &str, kind: &str) -> Result<&ResolvedResource, ResolveError> {
        let mut matching = self.resources.iter().filter(|r| r.group == group && r.kind == kind);
        let first = matching.next();
        let preferred = self.resources.iter().find(|r| r.group == group && r.kind == kind && r.preferred);
        preferred.or(first).ok_or_else(|| ResolveError::NoKindMatch {
            api_version: if group.is_empty() { "v1".to_string() } else { group.to_string() },
            kind: kind.to_string(),
        })
    }
}

fn version_of(group_version: &str) -> &str {
    group_version.rsplit_once('/').map_or(group_version, |(_, v)| v)
}

/// Whether a response `Content-Type` announces an aggregated discovery v2 document.
pub fn is_aggregated_content_type(content_type: &str) -> bool {
    let params: Vec<String> = content_type.split(';').map(|p| p.trim().replace(' ', "").to_ascii_lowercase()).collect();
    params.iter().any(|p| p == "as=apigroupdiscoverylist")
        && params.iter().any(|p| p == "g=apidiscovery.k8s.io")
        && params.iter().any(|p| p == "v=v2")
}

/// Loads the catalog from the cluster: aggregated discovery (two requests) when the server offers it, otherwise
/// plain discovery (`/api`, `/apis` and one request per group version; group versions that fail, like an
/// unavailable aggregated API server, are skipped with a warning, as kubectl does). Every request is a read and
/// is retried on transient failures (429, 5xx, a broken connection) by [`crate::retry::read`].
pub async fn load(client: &Client) -> Result<ResourceCatalog, DiscoveryError> {
    if let (Some(core), Some(groups)) = (fetch_aggregated(client, "/api").await?, fetch_aggregated(client, "/apis").await?) {
        return ResourceCatalog::from_aggregated_json(&core, &groups);
    }
    load_plain(client).await
}

/// The body of an aggregated document, or `None` when the server answered with something else.
async fn fetch_aggregated(client: &Client, path: &str) -> Result<Option<String>, DiscoveryError> {
    crate::retry::read(ReadRetry::default(), || fetch_aggregated_once(client, path))
        .await
        .map_err(|source| DiscoveryError::Kube { path: path.to_string(), source })
}

// Not kube's `Client::list_api_groups_aggregated`/`list_core_api_versions_aggregated`: they deserialize
// whatever comes back into `APIGroupDiscoveryList`, whose fields all default, so a server without
// aggregated discovery answering its plain `APIGroupList` (the `application/json` fallback) reads as an
// empty catalog instead of sending us to plain discovery; only the response's Content-Type tells the
// two apart, and 404/406 must mean "fall back" rather than fail. Their Accept also takes v2beta1.
async fn fetch_aggregated_once(client: &Client, path: &str) -> Result<Option<String>, kube::Error> {
    let request = http::Request::get(path)
        .header(http::header::ACCEPT, ACCEPT_AGGREGATED)
        .body(kube::client::Body::from(Vec::new()))
        .map_err(kube::Error::HttpError)?;
    let response = client.send(request).await?;
    let status = response.status();
    let aggregated =
        response.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(is_aggregated_content_type);
    let body = response.into_body().collect_bytes().await?;
    if !status.is_success() {
        if status == http::StatusCode::NOT_FOUND || status == http::StatusCode::NOT_ACCEPTABLE {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&body);
        let api_status =
            serde_json::from_str::<Status>(&text).unwrap_or_else(|_| Status::failure(text.trim(), "").with_code(status.as_u16()));
        return Err(kube::Error::Api(api_status.boxed()));
    }
    if !aggregated {
        return Ok(None);
    }
    String::from_utf8(body.to_vec()).map(Some).map_err(kube::Error::FromUtf8)
}

/// How long plain discovery keeps retrying one `/apis/GROUP/VERSION` before skipping it with a warning.
const GROUP_VERSION_RETRY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(3);

async fn load_plain(client: &Client) -> Result<ResourceCatalog, DiscoveryError> {
    let policy = ReadRetry::default();
    let core_versions = crate::retry::read(policy, || client.list_core_api_versions())
        .await
        .map_err(|source| DiscoveryError::Kube { path: "/api".into(), source })?;
    let groups: APIGroupList = crate::retry::read(policy, || client.list_api_groups())
        .await
        .map_err(|source| DiscoveryError::Kube { path: "/apis".into(), source })?;

    let core_lists =
        join_all(core_versions.versions.iter().map(|v| crate::retry::read(policy, move || client.list_core_api_resources(v)))).await;
    let mut core = Vec::new();
    for (v, result) in core_versions.versions.iter().zip(core_lists) {
        match result {
            Ok(list) => core.push(list),
            Err(e) => {
                return Err(DiscoveryError::Kube { path: format!("/api/{v}"), source: e });
            }
        }
    }

    let mut wanted = Vec::new();
    for g in &groups.groups {
        let preferred = g.preferred_version.as_ref().map(|p| p.version.clone()).unwrap_or_default();
        for v in &g.versions {
            wanted.push((g.name.clone(), preferred.clone(), v.group_version.clone()));
        }
    }
    // A group version served by an aggregated API server that is down answers 503 for as long as it is down:
    // a short retry rides out a blip without stalling every run on a broken APIService.
    let group_policy = ReadRetry { deadline: GROUP_VERSION_RETRY_DEADLINE, ..policy };
    let fetched =
        join_all(wanted.iter().map(|(_, _, gv)| crate::retry::read(group_policy, move || client.list_api_group_resources(gv)))).await;
    let mut per_group: Vec<(String, String, Vec<APIResourceList>)> = Vec::new();
    for ((group, preferred, gv), result) in wanted.into_iter().zip(fetched) {
        let list = match result {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!("couldn't get resource list for {gv}: {}", crate::error::describe_kube_error(&e));
                continue;
            }
        };
        match per_group.iter_mut().find(|(g, _, _)| *g == group) {
            Some((_, _, lists)) => lists.push(list),
            None => per_group.push((group, preferred, vec![list])),
        }
    }
    Ok(ResourceCatalog::from_plain(core, per_group))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/apiserver-1.36/discovery/");
    /// The documents that differ once the Widget CRD is installed (custom resources are resolved too).
    const WITH_CRD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/apiserver-1.36/discovery-with-widget-crd/");

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{WITH_CRD}{name}")).or_else(|_| std::fs::read_to_string(format!("{DIR}{name}"))).unwrap()
    }

    fn aggregated() -> ResourceCatalog {
        ResourceCatalog::from_aggregated_json(&fixture("aggregated_api.json"), &fixture("aggregated_apis.json")).unwrap()
    }

    fn plain() -> ResourceCatalog {
        let core: APIResourceList = serde_json::from_str(&fixture("api_v1.json")).unwrap();
        let groups: APIGroupList = serde_json::from_str(&fixture("apis.json")).unwrap();
        let mut per_group = Vec::new();
        for g in groups.groups {
            let preferred = g.preferred_version.as_ref().unwrap().version.clone();
            let lists = g
                .versions
                .iter()
                .map(|v| {
                    let file = format!("apis_{}_{}.json", g.name.replace('.', "_"), v.version);
                    serde_json::from_str::<APIResourceList>(&fixture(&file)).unwrap()
                })
                .collect();
            per_group.push((g.name.clone(), preferred, lists));
        }
        ResourceCatalog::from_plain(vec![core], per_group)
    }

    fn gvk(c: &ResourceCatalog, ty: &str) -> (String, String, String, bool) {
        let r = c.resolve_type(ty).unwrap_or_else(|e| panic!("{ty}: {e}"));
        (r.group.clone(), r.version.clone(), r.kind.clone(), r.namespaced)
    }

    fn check_forms(c: &ResourceCatalog) {
        let deployment = ("apps".to_string(), "v1".to_string(), "Deployment".to_string(), true);
        for ty in [
            "deployment",
            "deploy",
            "deployments",
            "Deployment",
            "DEPLOYMENTS",
            "deployments.apps",
            "deployment.v1.apps",
            "deploy.apps",
            "Deployment.v1.apps",
        ] {
            assert_eq!(gvk(c, ty), deployment, "{ty}");
        }
        let cm = (String::new(), "v1".to_string(), "ConfigMap".to_string(), true);
        for ty in ["configmaps", "configmap", "cm", "ConfigMap", "CM"] {
            assert_eq!(gvk(c, ty), cm, "{ty}");
        }
        let widget = ("shop.example.com".to_string(), "v1".to_string(), "Widget".to_string(), true);
        for ty in ["widgets.shop.example.com", "widget", "widgets", "Widget", "widget.v1.shop.example.com", "widgets.v1.shop.example.com"] {
            assert_eq!(gvk(c, ty), widget, "{ty}");
        }
        assert_eq!(gvk(c, "namespace"), (String::new(), "v1".into(), "Namespace".into(), false));
        assert_eq!(gvk(c, "ns"), (String::new(), "v1".into(), "Namespace".into(), false));
        assert_eq!(gvk(c, "clusterrole"), ("rbac.authorization.k8s.io".into(), "v1".into(), "ClusterRole".into(), false));
        assert_eq!(gvk(c, "sa"), (String::new(), "v1".into(), "ServiceAccount".into(), true));
        assert_eq!(gvk(c, "crd"), ("apiextensions.k8s.io".into(), "v1".into(), "CustomResourceDefinition".into(), false));
        assert_eq!(gvk(c, "crds"), ("apiextensions.k8s.io".into(), "v1".into(), "CustomResourceDefinition".into(), false));
        // Preferred version: autoscaling serves v2 (preferred) and v1.
        assert_eq!(gvk(c, "hpa"), ("autoscaling".into(), "v2".into(), "HorizontalPodAutoscaler".into(), true));
        assert_eq!(gvk(c, "hpa.v1.autoscaling"), ("autoscaling".into(), "v1".into(), "HorizontalPodAutoscaler".into(), true));
        // Core group wins like in kubectl; the other group stays reachable when qualified.
        assert_eq!(gvk(c, "events").0, "");
        assert_eq!(gvk(c, "ev").0, "");
        assert_eq!(gvk(c, "events.events.k8s.io").0, "events.k8s.io");
    }

    #[test]
    fn aggregated_resolves_every_kubectl_form() {
        check_forms(&aggregated());
    }

    #[test]
    fn plain_resolves_every_kubectl_form() {
        check_forms(&plain());
    }

    #[test]
    fn aggregated_and_plain_agree() {
        let key = |r: &ResolvedResource| {
            let mut s = r.short_names.clone();
            s.sort();
            let mut v = r.verbs.clone();
            v.sort();
            (r.group.clone(), r.version.clone(), r.kind.clone(), r.plural.clone(), r.singular.clone(), r.namespaced, v, s, r.preferred)
        };
        let mut a: Vec<_> = aggregated().resources().iter().map(key).collect();
        let mut p: Vec<_> = plain().resources().iter().map(key).collect();
        a.sort();
        p.sort();
        assert_eq!(a, p);
    }

    #[test]
    fn resolved_resource_details() {
        let c = aggregated();
        let (r, name) = c.resolve_ref("deploy/web").unwrap();
        assert_eq!(name, "web");
        assert_eq!(r.plural, "deployments");
        assert_eq!(r.singular, "deployment");
        assert_eq!(r.api_version(), "apps/v1");
        assert_eq!(r.qualified_name(), "deployments.apps");
        assert!(r.can_get_and_patch());
        assert!(r.preferred);
        let ar = r.api_resource();
        assert_eq!(
            (ar.group.as_str(), ar.version.as_str(), ar.api_version.as_str(), ar.kind.as_str(), ar.plural.as_str()),
            ("apps", "v1", "apps/v1", "Deployment", "deployments")
        );
        let (cm, _) = c.resolve_ref("cm/settings").unwrap();
        assert_eq!(cm.api_version(), "v1");
        assert_eq!(cm.qualified_name(), "configmaps");
        let (b, _) = c.resolve_ref("bindings/x").unwrap();
        assert!(!b.can_get_and_patch());
        let (ns, name) = c.resolve_ref("namespace/x").unwrap();
        assert!(!ns.namespaced);
        assert_eq!(name, "x");
    }

    #[test]
    fn every_kubectl_reference_form() {
        let c = aggregated();
        for (arg, kind, name) in [
            ("deployment/web", "Deployment", "web"),
            ("deploy/web", "Deployment", "web"),
            ("deployments/web", "Deployment", "web"),
            ("Deployment/web", "Deployment", "web"),
            ("deployments.apps/web", "Deployment", "web"),
            ("deployment.v1.apps/web", "Deployment", "web"),
            ("configmaps/settings", "ConfigMap", "settings"),
            ("cm/settings", "ConfigMap", "settings"),
            ("widgets.shop.example.com/x", "Widget", "x"),
            ("widget/x", "Widget", "x"),
            ("namespace/x", "Namespace", "x"),
            ("clusterrole/x", "ClusterRole", "x"),
            ("ClusterRole/system:aggregate-to-view", "ClusterRole", "system:aggregate-to-view"),
        ] {
            let (r, n) = c.resolve_ref(arg).unwrap_or_else(|e| panic!("{arg}: {e}"));
            assert_eq!((r.kind.as_str(), n.as_str()), (kind, name), "{arg}");
        }
    }

    #[test]
    fn unknown_and_malformed() {
        let c = aggregated();
        assert_eq!(c.resolve_type("foo").unwrap_err().to_string(), r#"the server doesn't have a resource type "foo""#);
        assert_eq!(c.resolve_ref("foo/x").unwrap_err(), ResolveError::UnknownType("foo".into()));
        // Known resource in a group that does not serve it: kubectl names the resource part.
        assert_eq!(c.resolve_type("deployments.batch").unwrap_err(), ResolveError::UnknownType("deployments".into()));
        assert_eq!(c.resolve_type("hpa.v2beta1.autoscaling").unwrap_err(), ResolveError::UnknownType("hpa".into()));
        assert!(matches!(c.resolve_type(""), Err(ResolveError::UnknownType(_))));
        for bad in ["deploy", "deploy/", "/web", "deploy/web/x", ""] {
            assert!(matches!(c.resolve_ref(bad), Err(ResolveError::BadReference(_))), "{bad}");
        }
        assert_eq!(
            c.resolve_ref("deploy/").unwrap_err().to_string(),
            "arguments in resource/name form must have a single resource and name"
        );
        // Subresources are not resource types.
        assert!(c.resolve_type("deployments/status").is_err());
        assert!(c.resources().iter().all(|r| !r.plural.contains('/')));
    }

    #[test]
    fn ambiguity_across_non_core_groups() {
        let mut c = aggregated();
        let mut other = c.resolve_type("widget").unwrap().clone();
        other.group = "toys.example.org".into();
        c.resources.push(other);
        let err = c.resolve_type("widget").unwrap_err();
        assert_eq!(
            err,
            ResolveError::Ambiguous {
                input: "widget".into(),
                candidates: vec!["widgets.shop.example.com".into(), "widgets.toys.example.org".into()]
            }
        );
        assert!(err.to_string().contains("widgets.shop.example.com, widgets.toys.example.org"));
        assert_eq!(c.resolve_type("widgets.toys.example.org").unwrap().group, "toys.example.org");
    }

    #[test]
    fn full_name_beats_short_name() {
        let mut c = aggregated();
        // A CRD claiming the short name "deployments" must not hijack the real plural.
        let mut odd = c.resolve_type("widget").unwrap().clone();
        odd.short_names = vec!["deployments".into(), "cm".into()];
        c.resources.push(odd);
        assert_eq!(c.resolve_type("deployments").unwrap().group, "apps");
        assert_eq!(c.resolve_type("cm").unwrap().kind, "ConfigMap");
    }

    #[test]
    fn manifest_gvk() {
        let c = aggregated();
        assert_eq!(c.resolve_gvk("apps/v1", "Deployment").unwrap().plural, "deployments");
        assert_eq!(c.resolve_gvk("v1", "ConfigMap").unwrap().plural, "configmaps");
        assert_eq!(c.resolve_gvk("shop.example.com/v1", "Widget").unwrap().plural, "widgets");
        assert_eq!(c.resolve_gvk("autoscaling/v1", "HorizontalPodAutoscaler").unwrap().version, "v1");
        assert!(!c.resolve_gvk("v1", "Namespace").unwrap().namespaced);
        let err = c.resolve_gvk("extensions/v1beta1", "Deployment").unwrap_err();
        assert_eq!(err.to_string(), r#"no matches for kind "Deployment" in version "extensions/v1beta1""#);
        assert!(c.resolve_gvk("apps/v1", "deployment").is_err());
        assert_eq!(c.resolve_group_kind("autoscaling", "HorizontalPodAutoscaler").unwrap().version, "v2");
        assert_eq!(c.resolve_group_kind("", "Service").unwrap().plural, "services");
        assert!(c.resolve_group_kind("extensions", "Deployment").is_err());
    }

    #[test]
    fn content_type_detection() {
        assert!(is_aggregated_content_type("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"));
        assert!(is_aggregated_content_type("application/json; g=apidiscovery.k8s.io; v=v2; as=APIGroupDiscoveryList"));
        assert!(!is_aggregated_content_type("application/json"));
        assert!(!is_aggregated_content_type("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"));
    }

    #[test]
    fn bad_documents_are_errors_not_panics() {
        assert!(ResourceCatalog::from_aggregated_json("{", "{}").is_err());
        let c =
            ResourceCatalog::from_aggregated_json("{}", r#"{"items":[{"versions":[{"version":"v1","resources":[{"resource":"x"}]}]}]}"#)
                .unwrap();
        assert!(c.resources().is_empty());
    }
}
