//! An RBAC authorizer (`rbac.authorization.k8s.io/v1`) evaluating the Roles, ClusterRoles,
//! RoleBindings and ClusterRoleBindings currently in the emulator's store, the way
//! kube-apiserver's RBAC authorizer does (`plugin/pkg/auth/authorizer/rbac`):
//!
//! - A request is allowed when one rule of one role bound to the user allows it; there are
//!   no deny rules. ClusterRoleBindings count everywhere; RoleBindings only for requests in
//!   their namespace (a RoleBinding to a ClusterRole grants that ClusterRole's rules in the
//!   binding's namespace only). Cluster-scoped and all-namespaces requests see only
//!   ClusterRoleBindings. `GET /api/v1/namespaces/NS` is a request "in" namespace `NS`, as on
//!   the real server.
//! - Rules: `verbs`, `apiGroups`, `resources` (`resource/subresource`, `*`, `*/subresource`),
//!   `resourceNames` (which match only requests that name an object: never create, nor a
//!   list unless its fieldSelector is `metadata.name=NAME`), `nonResourceURLs` (exact, `*`, or a
//!   `prefix*`), only from ClusterRoles bound by ClusterRoleBindings.
//! - Subjects: `User`, `Group`, `ServiceAccount` (user `system:serviceaccount:NS:NAME`; a
//!   subject without a namespace in a RoleBinding means the binding's namespace).
//! - ClusterRoles with an `aggregationRule` get the rules of the ClusterRoles their label
//!   selectors match (computed at evaluation time; the stored object is not rewritten as the
//!   real controller would).
//! - A binding of the user to a missing role adds `RBAC: role.rbac.authorization.k8s.io "x"
//!   not found` to the Forbidden message, as on the real server.
//!
//! [`bootstrap_documents`] holds the defaults every real cluster has and
//! [`crate::Emulator::enable_rbac`] creates: `cluster-admin` (bound to `system:masters`),
//! `system:discovery` and `system:public-info-viewer` (discovery, `/version`, `/openapi/*`,
//! health for every authenticated user) and `system:basic-user` (self-reviews).
//!
//! Not emulated: escalation prevention on creating roles and bindings (`escalate`, `bind`),
//! impersonation, and SelfSubjectAccessReview answers.
//!
//! Cost: the compiled policy is cached and rebuilt only when an RBAC object changed (checked
//! cheaply from the global resourceVersion, then from the RBAC tables' object counts and
//! newest resourceVersions); a request is then one walk over the bindings that apply to it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::discovery::{self, Resource};
use crate::faults::{Authorizer, Decision, RequestAttributes};
use crate::store::{ListQuery, Obj, Store, StoreHandle};

pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// One `rules[]` entry of a Role or ClusterRole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyRule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect()).unwrap_or_default()
}

impl PolicyRule {
    /// Reads a rule from its JSON form (`apiGroups`, `resources`, `resourceNames`, `verbs`,
    /// `nonResourceURLs`); missing fields are empty.
    pub fn from_json(v: &Value) -> PolicyRule {
        PolicyRule {
            verbs: strings(v.get("verbs")),
            api_groups: strings(v.get("apiGroups")),
            resources: strings(v.get("resources")),
            resource_names: strings(v.get("resourceNames")),
            non_resource_urls: strings(v.get("nonResourceURLs")),
        }
    }

    fn verb_matches(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == "*" || v == verb)
    }

    fn group_matches(&self, group: &str) -> bool {
        self.api_groups.iter().any(|g| g == "*" || g == group)
    }

    fn resource_matches(&self, resource: &str, subresource: &str) -> bool {
        self.resources.iter().any(|r| {
            if r == "*" {
                return true;
            }
            if subresource.is_empty() {
                return r == resource;
            }
            // `resource/subresource` exactly, or `*/subresource`
            match r.split_once('/') {
                Some((res, sub)) => sub == subresource && (res == resource || res == "*"),
                None => false,
            }
        })
    }

    fn name_matches(&self, name: &str) -> bool {
        self.resource_names.is_empty() || self.resource_names.iter().any(|n| n == name)
    }

    fn url_matches(&self, path: &str) -> bool {
        self.non_resource_urls.iter().any(|u| u == "*" || u == path || (u.ends_with('*') && path.starts_with(u.trim_end_matches('*'))))
    }

    /// Whether this rule alone allows the request (`RuleAllows` of the real authorizer).
    pub fn allows(&self, a: &RequestAttributes) -> bool {
        if !self.verb_matches(&a.verb) {
            return false;
        }
        if a.is_resource {
            self.group_matches(&a.api_group) && self.resource_matches(&a.resource, &a.subresource) && self.name_matches(&a.name)
        } else {
            self.url_matches(&a.path)
        }
    }
}

/// A binding subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User(String),
    Group(String),
    /// `namespace` empty = the binding's namespace (RoleBindings only).
    ServiceAccount {
        namespace: String,
        name: String,
    },
}

impl Subject {
    fn from_json(v: &Value) -> Option<Subject> {
        let name = v.get("name").and_then(Value::as_str)?.to_string();
        match v.get("kind").and_then(Value::as_str)? {
            "User" => Some(Subject::User(name)),
            "Group" => Some(Subject::Group(name)),
            "ServiceAccount" => {
                Some(Subject::ServiceAccount { namespace: v.get("namespace").and_then(Value::as_str).unwrap_or("").to_string(), name })
            }
            _ => None,
        }
    }

    /// `appliesToUser` of the real authorizer; `binding_ns` is empty for ClusterRoleBindings.
    fn applies(&self, user: &str, groups: &[String], binding_ns: &str) -> bool {
        match self {
            Subject::User(n) => n == user,
            Subject::Group(g) => groups.iter().any(|x| x == g),
            Subject::ServiceAccount { namespace, name } => {
                let ns = if namespace.is_empty() { binding_ns } else { namespace.as_str() };
                if ns.is_empty() {
                    return false;
                }
                user.strip_prefix("system:serviceaccount:")
                    .and_then(|rest| rest.split_once(':'))
                    .is_some_and(|(uns, uname)| uns == ns && uname == name)
            }
        }
    }
}

/// The rules a binding grants, or why it grants nothing.
#[derive(Debug, Clone)]
enum Grant {
    Rules(Arc<Vec<PolicyRule>>),
    /// The referenced role does not exist (the real server's error text).
    Missing(String),
}

#[derive(Debug, Clone)]
struct Binding {
    subjects: Vec<Subject>,
    namespace: String,
    grant: Grant,
}

impl Binding {
    fn applies(&self, a: &RequestAttributes) -> bool {
        self.subjects.iter().any(|s| s.applies(&a.user, &a.groups, &self.namespace))
    }
}

/// A compiled RBAC policy: every binding with the rules it grants.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    cluster: Vec<Binding>,
    namespaced: HashMap<String, Vec<Binding>>,
}

fn name_of(v: &Value) -> &str {
    v.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("")
}

fn namespace_of(v: &Value) -> &str {
    v.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("")
}

fn rules_of(v: &Value) -> Vec<PolicyRule> {
    v.get("rules").and_then(Value::as_array).map(|a| a.iter().map(PolicyRule::from_json).collect()).unwrap_or_default()
}

/// `metav1.LabelSelector` semantics on a JSON selector: `{}` matches everything.
fn selector_matches(sel: &Value, labels: Option<&serde_json::Map<String, Value>>) -> bool {
    let get = |k: &str| labels.and_then(|m| m.get(k)).and_then(Value::as_str);
    if let Some(ml) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in ml {
            if get(k) != v.as_str() {
                return false;
            }
        }
    }
    if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = e.get("key").and_then(Value::as_str).unwrap_or("");
            let values = strings(e.get("values"));
            let current = get(key);
            let ok = match e.get("operator").and_then(Value::as_str).unwrap_or("") {
                "In" => current.is_some_and(|c| values.iter().any(|v| v == c)),
                "NotIn" => current.is_none_or(|c| !values.iter().any(|v| v == c)),
                "Exists" => current.is_some(),
                "DoesNotExist" => current.is_none(),
                _ => false,
            };
            if !ok {
                return false;
            }
        }
    }
    true
}

/// Effective rules of every ClusterRole, aggregation applied (to a fixed point, as the
/// aggregation controller converges to).
fn cluster_role_rules(cluster_roles: &[Value]) -> HashMap<String, Arc<Vec<PolicyRule>>> {
    let mut rules: BTreeMap<String, Vec<PolicyRule>> = cluster_roles.iter().map(|r| (name_of(r).to_string(), rules_of(r))).collect();
    let aggregated: Vec<(&str, Vec<Value>)> = cluster_roles
        .iter()
        .filter_map(|r| {
            let sels = r.pointer("/aggregationRule/clusterRoleSelectors")?.as_array()?.clone();
            Some((name_of(r), sels))
        })
        .collect();
    for _round in 0..8 {
        let mut changed = false;
        for (name, sels) in &aggregated {
            let mut union: Vec<PolicyRule> = Vec::new();
            for sel in sels {
                for other in cluster_roles {
                    let oname = name_of(other);
                    if oname == *name {
                        continue;
                    }
                    let labels = other.pointer("/metadata/labels").and_then(Value::as_object);
                    if selector_matches(sel, labels) {
                        for rule in rules.get(oname).into_iter().flatten() {
                            if !union.contains(rule) {
                                union.push(rule.clone());
                            }
                        }
                    }
                }
            }
            if rules.get(*name) != Some(&union) {
                rules.insert(name.to_string(), union);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    rules.into_iter().map(|(k, v)| (k, Arc::new(v))).collect()
}

impl Policy {
    /// Compiles the policy from the JSON objects of the four RBAC kinds.
    pub fn from_objects(cluster_roles: &[Value], roles: &[Value], cluster_role_bindings: &[Value], role_bindings: &[Value]) -> Policy {
        let cr = cluster_role_rules(cluster_roles);
        let r: HashMap<(String, String), Arc<Vec<PolicyRule>>> =
            roles.iter().map(|v| ((namespace_of(v).to_string(), name_of(v).to_string()), Arc::new(rules_of(v)))).collect();
        let subjects = |v: &Value| -> Vec<Subject> {
            v.get("subjects").and_then(Value::as_array).map(|a| a.iter().filter_map(Subject::from_json).collect()).unwrap_or_default()
        };
        let role_ref = |v: &Value| -> (String, String) {
            let kind = v.pointer("/roleRef/kind").and_then(Value::as_str).unwrap_or("").to_string();
            let name = v.pointer("/roleRef/name").and_then(Value::as_str).unwrap_or("").to_string();
            (kind, name)
        };
        let cluster_grant = |name: &str| match cr.get(name) {
            Some(rules) => Grant::Rules(rules.clone()),
            None => Grant::Missing(format!("clusterrole.{RBAC_GROUP} \"{name}\" not found")),
        };
        let mut policy = Policy::default();
        for b in cluster_role_bindings {
            let (kind, name) = role_ref(b);
            // a ClusterRoleBinding may only reference a ClusterRole
            let grant = if kind == "ClusterRole" {
                cluster_grant(&name)
            } else {
                Grant::Missing(format!("clusterrole.{RBAC_GROUP} \"{name}\" not found"))
            };
            policy.cluster.push(Binding { subjects: subjects(b), namespace: String::new(), grant });
        }
        for b in role_bindings {
            let ns = namespace_of(b).to_string();
            let (kind, name) = role_ref(b);
            let grant = match kind.as_str() {
                "ClusterRole" => cluster_grant(&name),
                _ => match r.get(&(ns.clone(), name.clone())) {
                    Some(rules) => Grant::Rules(rules.clone()),
                    None => Grant::Missing(format!("role.{RBAC_GROUP} \"{name}\" not found")),
                },
            };
            policy.namespaced.entry(ns.clone()).or_default().push(Binding { subjects: subjects(b), namespace: ns, grant });
        }
        policy
    }

    /// The decision of the real RBAC authorizer: allow on the first matching rule; otherwise a
    /// denial whose reason lists the missing roles the user's bindings reference.
    pub fn authorize(&self, a: &RequestAttributes) -> Decision {
        let mut errors: Vec<String> = Vec::new();
        let namespaced: &[Binding] =
            if a.namespace.is_empty() { &[] } else { self.namespaced.get(&a.namespace).map(Vec::as_slice).unwrap_or(&[]) };
        for b in self.cluster.iter().chain(namespaced) {
            if !b.applies(a) {
                continue;
            }
            match &b.grant {
                Grant::Rules(rules) => {
                    if rules.iter().any(|r| r.allows(a)) {
                        return Decision::Allow;
                    }
                }
                Grant::Missing(e) => {
                    if !errors.contains(e) {
                        errors.push(e.clone());
                    }
                }
            }
        }
        match errors.len() {
            0 => Decision::Deny(None),
            1 => Decision::Deny(Some(format!("RBAC: {}", errors[0]))),
            _ => Decision::Deny(Some(format!("RBAC: [{}]", errors.join(", ")))),
        }
    }

    /// Every rule that applies to the user in `namespace` (`""` = cluster-wide bindings only),
    /// like `kubectl auth can-i --list` shows.
    pub fn rules_for(&self, user: &str, groups: &[String], namespace: &str) -> Vec<PolicyRule> {
        let a = RequestAttributes { user: user.into(), groups: groups.to_vec(), namespace: namespace.into(), ..Default::default() };
        let namespaced: &[Binding] =
            if namespace.is_empty() { &[] } else { self.namespaced.get(namespace).map(Vec::as_slice).unwrap_or(&[]) };
        let mut out = Vec::new();
        for b in self.cluster.iter().chain(namespaced) {
            if let (true, Grant::Rules(rules)) = (b.applies(&a), &b.grant) {
                out.extend(rules.iter().cloned());
            }
        }
        out
    }
}

const KINDS: [&str; 4] = ["clusterroles", "roles", "clusterrolebindings", "rolebindings"];

fn rbac_resource(plural: &str) -> Option<&'static Resource> {
    discovery::find(RBAC_GROUP, "v1", plural)
}

/// (object count, newest resourceVersion) per RBAC table: changes whenever an RBAC object is
/// created, updated or deleted (resourceVersions are unique and increasing).
type Fingerprint = [(usize, u64); 4];

struct Cache {
    global_rv: u64,
    fingerprint: Fingerprint,
    policy: Arc<Policy>,
}

/// The RBAC [`Authorizer`] over an emulator's store. Install it with
/// [`crate::Emulator::enable_rbac`] (or `EmulatorConfig { rbac: true, .. }`), or by hand:
/// `emu.set_authorizer(Some(Arc::new(RbacAuthorizer::new(emu.store()))))`.
pub struct RbacAuthorizer {
    store: Arc<Store>,
    cache: Mutex<Option<Cache>>,
}

impl std::fmt::Debug for RbacAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RbacAuthorizer").finish_non_exhaustive()
    }
}

impl RbacAuthorizer {
    pub fn new(store: StoreHandle) -> RbacAuthorizer {
        RbacAuthorizer { store: store.store, cache: Mutex::new(None) }
    }

    fn tables(&self) -> [Vec<Obj>; 4] {
        KINDS.map(|k| match rbac_resource(k) {
            Some(res) => self.store.list(res, None, &ListQuery::default()).map(|p| p.items).unwrap_or_default(),
            None => Vec::new(),
        })
    }

    fn fingerprint(tables: &[Vec<Obj>; 4]) -> Fingerprint {
        let f = |objs: &Vec<Obj>| {
            (objs.len(), objs.iter().filter_map(|o| o.meta_str("resourceVersion").parse::<u64>().ok()).max().unwrap_or(0))
        };
        [f(&tables[0]), f(&tables[1]), f(&tables[2]), f(&tables[3])]
    }

    /// The compiled policy for the store's current state.
    pub fn policy(&self) -> Arc<Policy> {
        let rv = self.store.resource_version();
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cache.as_ref()
            && c.global_rv == rv
        {
            return c.policy.clone();
        }
        let tables = self.tables();
        let fp = Self::fingerprint(&tables);
        if let Some(c) = cache.as_mut()
            && c.fingerprint == fp
        {
            c.global_rv = rv;
            return c.policy.clone();
        }
        let values: Vec<Vec<Value>> = tables.iter().map(|t| t.iter().map(Obj::value).collect()).collect();
        let policy = Arc::new(Policy::from_objects(&values[0], &values[1], &values[2], &values[3]));
        *cache = Some(Cache { global_rv: rv, fingerprint: fp, policy: policy.clone() });
        policy
    }
}

impl Authorizer for RbacAuthorizer {
    fn authorize(&self, attrs: &RequestAttributes) -> Decision {
        self.policy().authorize(attrs)
    }
}

/// The default ClusterRoles and ClusterRoleBindings of every cluster that matter to clients
/// (labelled `kubernetes.io/bootstrapping: rbac-defaults` as on a real cluster).
pub fn bootstrap_documents() -> &'static str {
    BOOTSTRAP
}

const BOOTSTRAP: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: cluster-admin
  labels: {kubernetes.io/bootstrapping: rbac-defaults}
  annotations: {rbac.authorization.kubernetes.io/autoupdate: "true"}
rules:
- apiGroups: ["*"]
  resources: ["*"]
  verbs: ["*"]
- nonResourceURLs: ["*"]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: cluster-admin
  labels: {kubernetes.io/bootstrapping: rbac-defaults}
  annotations: {rbac.authorization.kubernetes.io/autoupdate: "true"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:masters"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: system:discovery
  labels: {kubernetes.io/bootstrapping: rbac-defaults}
  annotations: {rbac.authorization.kubernetes.io/autoupdate: "true"}
rules:
- nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: system:discovery
  labels: {kubernetes.io/bootstrapping: rbac-defaults}
  annotations: {rbac.authorization.kubernetes.io/autoupdate: "true"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:discovery"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:authenticated"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: system:public-info-viewer
  labels: {kubernetes.io/bootstrapping: rbac-defaults}
  annotations: {rbac.authorization.kubernetes.io/autoupdate: "true"}
rules:
- nonResourceURLs: ["/healthz", "/livez", "/readyz", "/version", "/version/"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: system:public-info-viewer
  labels: {kubernetes.io/bootstrapping: rbac-defaults}
  annotations: {rbac.authorization.kubernetes.io/autoupdate: "true"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:public-info-viewer"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:authenticated"}
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:unauthenticated"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: system:basic-user
  labels: {kubernetes.io/bootstrapping: rbac-defaults}
  annotations: {rbac.authorization.kubernetes.io/autoupdate: "true"}
rules:
- apiGroups: ["authorization.k8s.io"]
  resources: ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]
  verbs: ["create"]
- apiGroups: ["authentication.k8s.io"]
  resources: ["selfsubjectreviews"]
  verbs: ["create"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: system:basic-user
  labels: {kubernetes.io/bootstrapping: rbac-defaults}
  annotations: {rbac.authorization.kubernetes.io/autoupdate: "true"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:basic-user"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:authenticated"}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(user: &str, groups: &[&str], verb: &str, group: &str, resource: &str, ns: &str, name: &str) -> RequestAttributes {
        let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
        RequestAttributes {
            user: user.into(),
            groups: groups.iter().map(|s| s.to_string()).chain(["system:authenticated".to_string()]).collect(),
            verb: verb.into(),
            is_resource: true,
            api_group: group.into(),
            api_version: "v1".into(),
            resource: resource.into(),
            subresource: subresource.into(),
            namespace: ns.into(),
            name: name.into(),
            path: String::new(),
        }
    }

    fn path(user: &str, verb: &str, p: &str) -> RequestAttributes {
        RequestAttributes {
            user: user.into(),
            groups: vec!["system:authenticated".into()],
            verb: verb.into(),
            path: p.into(),
            ..Default::default()
        }
    }

    fn rule(v: Value) -> PolicyRule {
        PolicyRule::from_json(&v)
    }

    fn allowed(p: &Policy, a: &RequestAttributes) -> bool {
        p.authorize(a) == Decision::Allow
    }

    fn cluster_role(name: &str, rules: Value) -> Value {
        json!({"metadata": {"name": name}, "rules": rules})
    }

    fn role(ns: &str, name: &str, rules: Value) -> Value {
        json!({"metadata": {"name": name, "namespace": ns}, "rules": rules})
    }

    fn binding(ns: Option<&str>, name: &str, kind: &str, role: &str, subjects: Value) -> Value {
        let mut meta = json!({"name": name});
        if let Some(ns) = ns {
            meta["namespace"] = json!(ns);
        }
        json!({"metadata": meta, "roleRef": {"apiGroup": RBAC_GROUP, "kind": kind, "name": role}, "subjects": subjects})
    }

    #[test]
    fn verbs_groups_resources_and_wildcards() {
        let r = rule(json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}));
        assert!(r.allows(&attrs("u", &[], "list", "", "secrets", "a", "")));
        assert!(r.allows(&attrs("u", &[], "get", "", "secrets", "a", "x")));
        assert!(!r.allows(&attrs("u", &[], "delete", "", "secrets", "a", "x")));
        assert!(!r.allows(&attrs("u", &[], "get", "", "configmaps", "a", "x")));
        assert!(!r.allows(&attrs("u", &[], "get", "apps", "secrets", "a", "x")), "API group must match");
        assert!(!r.allows(&attrs("u", &[], "get", "", "secrets/status", "a", "x")), "a resource rule does not cover subresources");
        let any = rule(json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "patch"]}));
        assert!(any.allows(&attrs("u", &[], "patch", "apps", "deployments", "a", "web")));
        assert!(any.allows(&attrs("u", &[], "get", "shop.example.com", "widgets", "a", "w")));
        assert!(any.allows(&attrs("u", &[], "patch", "apps", "deployments/scale", "a", "web")), "* covers subresources");
        assert!(!any.allows(&attrs("u", &[], "delete", "apps", "deployments", "a", "web")));
        let all_verbs = rule(json!({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"]}));
        assert!(all_verbs.allows(&attrs("u", &[], "deletecollection", "apps", "deployments", "a", "")));
        assert!(!all_verbs.allows(&attrs("u", &[], "get", "", "deployments", "a", "x")));
        // a rule without apiGroups matches no resource request
        assert!(!rule(json!({"resources": ["secrets"], "verbs": ["get"]})).allows(&attrs("u", &[], "get", "", "secrets", "a", "x")));
    }

    #[test]
    fn subresources() {
        let exact = rule(json!({"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get"]}));
        assert!(exact.allows(&attrs("u", &[], "get", "apps", "deployments/scale", "a", "web")));
        assert!(!exact.allows(&attrs("u", &[], "get", "apps", "deployments", "a", "web")));
        assert!(!exact.allows(&attrs("u", &[], "get", "apps", "replicasets/scale", "a", "web")));
        let star = rule(json!({"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["get"]}));
        assert!(star.allows(&attrs("u", &[], "get", "", "pods/status", "a", "p")));
        assert!(star.allows(&attrs("u", &[], "get", "apps", "deployments/status", "a", "p")));
        assert!(!star.allows(&attrs("u", &[], "get", "", "pods", "a", "p")));
        assert!(!star.allows(&attrs("u", &[], "get", "", "pods/log", "a", "p")));
    }

    #[test]
    fn resource_names_match_only_named_requests() {
        let r = rule(
            json!({"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["settings"], "verbs": ["get", "list", "create", "update"]}),
        );
        assert!(r.allows(&attrs("u", &[], "get", "", "configmaps", "a", "settings")));
        assert!(r.allows(&attrs("u", &[], "update", "", "configmaps", "a", "settings")));
        assert!(!r.allows(&attrs("u", &[], "get", "", "configmaps", "a", "other")));
        assert!(!r.allows(&attrs("u", &[], "list", "", "configmaps", "a", "")), "list has no name");
        assert!(!r.allows(&attrs("u", &[], "create", "", "configmaps", "a", "")), "create has no name");
        // a list with fieldSelector=metadata.name=settings carries the name (see server.rs)
        assert!(r.allows(&attrs("u", &[], "list", "", "configmaps", "a", "settings")));
    }

    #[test]
    fn non_resource_urls() {
        let r = rule(json!({"nonResourceURLs": ["/version", "/apis/*", "/healthz"], "verbs": ["get"]}));
        assert!(r.allows(&path("u", "get", "/version")));
        assert!(r.allows(&path("u", "get", "/apis/apps/v1")));
        assert!(r.allows(&path("u", "get", "/apis/")));
        assert!(!r.allows(&path("u", "get", "/apis")), "`/apis/*` does not cover `/apis`");
        assert!(!r.allows(&path("u", "post", "/version")));
        assert!(!r.allows(&path("u", "get", "/metrics")));
        assert!(rule(json!({"nonResourceURLs": ["*"], "verbs": ["*"]})).allows(&path("u", "get", "/metrics")));
        // non-resource rules never match resource requests and vice versa
        assert!(!r.allows(&attrs("u", &[], "get", "", "version", "", "")));
        let res = rule(json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}));
        assert!(!res.allows(&path("u", "get", "/version")));
    }

    #[test]
    fn namespace_scope_of_roles_and_bindings() {
        let p = Policy::from_objects(
            &[cluster_role("reader", json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]))],
            &[role("team-a", "cm-writer", json!([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}]))],
            &[],
            &[
                binding(Some("team-a"), "r1", "Role", "cm-writer", json!([{"kind": "User", "name": "alice"}])),
                binding(Some("team-a"), "r2", "ClusterRole", "reader", json!([{"kind": "User", "name": "alice"}])),
            ],
        );
        assert!(allowed(&p, &attrs("alice", &[], "create", "", "configmaps", "team-a", "")));
        assert!(!allowed(&p, &attrs("alice", &[], "create", "", "configmaps", "team-b", "")));
        // RoleBinding → ClusterRole: that namespace only, never cluster-wide
        assert!(allowed(&p, &attrs("alice", &[], "list", "", "secrets", "team-a", "")));
        assert!(!allowed(&p, &attrs("alice", &[], "list", "", "secrets", "team-b", "")));
        assert!(!allowed(&p, &attrs("alice", &[], "list", "", "secrets", "", "")));
        assert!(!allowed(&p, &attrs("bob", &[], "list", "", "secrets", "team-a", "")));
    }

    #[test]
    fn cluster_role_binding_grants_everywhere() {
        let p = Policy::from_objects(
            &[cluster_role("reader", json!([{"apiGroups": [""], "resources": ["secrets", "namespaces"], "verbs": ["get", "list"]}]))],
            &[],
            &[binding(None, "b", "ClusterRole", "reader", json!([{"kind": "Group", "name": "readers"}]))],
            &[],
        );
        for ns in ["", "a", "kube-system"] {
            assert!(allowed(&p, &attrs("x", &["readers"], "list", "", "secrets", ns, "")), "{ns}");
        }
        assert!(allowed(&p, &attrs("x", &["readers"], "get", "", "namespaces", "a", "a")));
        assert!(!allowed(&p, &attrs("x", &["writers"], "list", "", "secrets", "a", "")));
    }

    #[test]
    fn rolebinding_grants_get_of_its_own_namespace_object() {
        let p = Policy::from_objects(
            &[cluster_role("ns-getter", json!([{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]}]))],
            &[],
            &[],
            &[binding(Some("team-a"), "b", "ClusterRole", "ns-getter", json!([{"kind": "User", "name": "alice"}]))],
        );
        // GET /api/v1/namespaces/team-a is a request in namespace team-a
        assert!(allowed(&p, &attrs("alice", &[], "get", "", "namespaces", "team-a", "team-a")));
        assert!(!allowed(&p, &attrs("alice", &[], "get", "", "namespaces", "team-b", "team-b")));
        assert!(!allowed(&p, &attrs("alice", &[], "list", "", "namespaces", "", "")));
    }

    #[test]
    fn service_accounts_and_their_groups() {
        let sa = "system:serviceaccount:ci:deployer";
        let sa_groups = ["system:serviceaccounts", "system:serviceaccounts:ci"];
        let p = Policy::from_objects(
            &[
                cluster_role("cm", json!([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}])),
                cluster_role("sec", json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}])),
                cluster_role("pods", json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}])),
            ],
            &[],
            &[binding(None, "all-sas", "ClusterRole", "pods", json!([{"kind": "Group", "name": "system:serviceaccounts:ci"}]))],
            &[
                // a ServiceAccount subject without namespace = the binding's namespace
                binding(Some("ci"), "local", "ClusterRole", "cm", json!([{"kind": "ServiceAccount", "name": "deployer"}])),
                binding(
                    Some("prod"),
                    "remote",
                    "ClusterRole",
                    "sec",
                    json!([{"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}]),
                ),
                binding(Some("prod"), "wrong-ns", "ClusterRole", "cm", json!([{"kind": "ServiceAccount", "name": "deployer"}])),
            ],
        );
        assert!(allowed(&p, &attrs(sa, &sa_groups, "get", "", "configmaps", "ci", "x")));
        assert!(!allowed(&p, &attrs(sa, &sa_groups, "get", "", "configmaps", "prod", "x")), "prod's subject means prod:deployer");
        assert!(allowed(&p, &attrs(sa, &sa_groups, "get", "", "secrets", "prod", "x")));
        assert!(allowed(&p, &attrs(sa, &sa_groups, "get", "", "pods", "anywhere", "x")));
        assert!(!allowed(
            &p,
            &attrs("system:serviceaccount:other:deployer", &["system:serviceaccounts:other"], "get", "", "pods", "a", "x")
        ));
        // a ServiceAccount subject of a ClusterRoleBinding needs a namespace
        let q = Policy::from_objects(
            &[cluster_role("pods", json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]))],
            &[],
            &[binding(None, "b", "ClusterRole", "pods", json!([{"kind": "ServiceAccount", "name": "deployer"}]))],
            &[],
        );
        assert!(!allowed(&q, &attrs(sa, &sa_groups, "get", "", "pods", "ci", "x")));
    }

    #[test]
    fn missing_roles_are_named_in_the_reason() {
        let p = Policy::from_objects(
            &[],
            &[],
            &[binding(None, "b", "ClusterRole", "gone", json!([{"kind": "User", "name": "alice"}]))],
            &[binding(Some("a"), "r", "Role", "nope", json!([{"kind": "User", "name": "alice"}]))],
        );
        assert_eq!(
            p.authorize(&attrs("alice", &[], "get", "", "pods", "", "x")),
            Decision::Deny(Some("RBAC: clusterrole.rbac.authorization.k8s.io \"gone\" not found".into()))
        );
        assert_eq!(
            p.authorize(&attrs("alice", &[], "get", "", "pods", "a", "x")),
            Decision::Deny(Some(
                "RBAC: [clusterrole.rbac.authorization.k8s.io \"gone\" not found, role.rbac.authorization.k8s.io \"nope\" not found]"
                    .into()
            ))
        );
        assert_eq!(p.authorize(&attrs("bob", &[], "get", "", "pods", "a", "x")), Decision::Deny(None));
    }

    #[test]
    fn aggregated_cluster_roles() {
        let p = Policy::from_objects(
            &[
                json!({"metadata": {"name": "werf-all"}, "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"kubectl-werf/aggregate": "true"}}]}, "rules": []}),
                json!({"metadata": {"name": "part-a", "labels": {"kubectl-werf/aggregate": "true"}}, "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]}),
                json!({"metadata": {"name": "part-b", "labels": {"kubectl-werf/aggregate": "true"}}, "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]}),
                json!({"metadata": {"name": "other", "labels": {"kubectl-werf/aggregate": "false"}}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]}),
                json!({"metadata": {"name": "expr"}, "aggregationRule": {"clusterRoleSelectors": [{"matchExpressions": [{"key": "kubectl-werf/aggregate", "operator": "In", "values": ["false"]}]}]}}),
            ],
            &[],
            &[
                binding(None, "b", "ClusterRole", "werf-all", json!([{"kind": "User", "name": "alice"}])),
                binding(None, "c", "ClusterRole", "expr", json!([{"kind": "User", "name": "bob"}])),
            ],
            &[],
        );
        assert!(allowed(&p, &attrs("alice", &[], "list", "", "secrets", "a", "")));
        assert!(allowed(&p, &attrs("alice", &[], "list", "", "configmaps", "a", "")));
        assert!(!allowed(&p, &attrs("alice", &[], "list", "", "pods", "a", "")));
        assert!(allowed(&p, &attrs("bob", &[], "list", "", "pods", "a", "")));
        assert!(!allowed(&p, &attrs("bob", &[], "list", "", "secrets", "a", "")));
    }

    #[test]
    fn bootstrap_policy_allows_discovery_to_everyone_authenticated() {
        let docs = crate::seed::parse_documents(bootstrap_documents()).unwrap();
        let pick = |kind: &str| docs.iter().filter(|d| d["kind"] == kind).cloned().collect::<Vec<_>>();
        let p = Policy::from_objects(&pick("ClusterRole"), &pick("Role"), &pick("ClusterRoleBinding"), &pick("RoleBinding"));
        for url in
            ["/api", "/api/v1", "/apis", "/apis/apps/v1", "/version", "/openapi/v3", "/openapi/v3/apis/apps/v1", "/healthz", "/readyz"]
        {
            assert!(allowed(&p, &path("nobody", "get", url)), "{url}");
        }
        assert!(!allowed(&p, &path("nobody", "get", "/metrics")));
        assert!(!allowed(&p, &attrs("nobody", &[], "list", "", "secrets", "", "")));
        assert!(allowed(&p, &attrs("nobody", &[], "create", "authorization.k8s.io", "selfsubjectaccessreviews", "", "")));
        assert!(allowed(&p, &attrs("root", &["system:masters"], "delete", "", "nodes", "", "n1")));
    }

    #[test]
    fn cache_follows_rbac_changes_only() {
        let h = StoreHandle { store: Arc::new(Store::default()) };
        h.ensure_namespace("a").unwrap();
        let authz = RbacAuthorizer::new(h.clone());
        let a = attrs("alice", &[], "list", "", "secrets", "a", "");
        assert_eq!(authz.authorize(&a), Decision::Deny(None));
        let p1 = authz.policy();
        // an unrelated write keeps the compiled policy
        h.create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "a"}})).unwrap();
        assert!(Arc::ptr_eq(&p1, &authz.policy()));
        h.create(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r", "namespace": "a"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]}))
            .unwrap();
        h.create(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "r", "namespace": "a"},
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": "r"}, "subjects": [{"kind": "User", "name": "alice"}]}))
            .unwrap();
        assert_eq!(authz.authorize(&a), Decision::Allow);
        h.delete("roles.rbac.authorization.k8s.io", "a", "r").unwrap();
        assert_eq!(authz.authorize(&a), Decision::Deny(Some("RBAC: role.rbac.authorization.k8s.io \"r\" not found".into())));
    }
}
