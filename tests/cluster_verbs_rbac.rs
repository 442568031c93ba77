//! The least-privilege RBAC manifests of `deploy/rbac/`, on the emulator's RBAC authorizer and on a
//! real kube-apiserver's.
//!
//! For one verb's manifest the generic check [`least_privilege`]:
//! 1. applies the manifest (its namespaces mapped to the test's; its role, binding and group names
//!    given the test's own suffix, so tests sharing a server never meet) with `kubectl apply`, as an
//!    admin would, and runs every scenario as a user who has nothing but the manifest's group:
//!    each must succeed without any Forbidden;
//! 2. for every single permission of the manifest, a verb on a resource in one rule of one
//!    Role/ClusterRole, replaces the manifest by a copy without just that permission and runs
//!    the scenarios again: at least one must print the API server's Forbidden message naming
//!    exactly that verb and resource (`cannot list resource "secrets" in API group ""`).
//!    A permission no scenario misses is reported: either the manifest grants too much or the
//!    scenarios do not cover it.
//!
//! The user: on the emulator a token user of its own; on a real server the admin impersonating
//! (`as`/`as-groups` in a kubeconfig of the test's own), so the real RBAC authorizer decides. A real
//! server's authorizer learns of RBAC changes through its informers a moment later: after each
//! change the check waits until a SubjectAccessReview shows it. Every verb's manifest is checked this
//! way: releases (read and maintenance), migrate2to3, adopt and annotate. The roles and bindings are
//! deleted when the test ends.

mod common;
mod release_fixtures;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{TestCluster, fixture, repo_root, run, run_ok};
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kubectl_werf::release::helm2;
use kubectl_werf::storage::Helm2Storage;
use kubectl_werf::storage::codec::{self, DecodeLimits};
use kubectl_werf::storage::{Helm2Store, ObjectKind};
use serde_json::{Value, json};

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// The program a scenario runs, as the test user.
#[derive(Clone, Copy, Debug)]
enum Tool {
    Werf,
    Kubectl,
}

/// One command the manifest must allow.
#[derive(Clone, Debug)]
struct Scenario {
    tool: Tool,
    args: Vec<String>,
    /// Exit code when everything is allowed (e.g. 1 for a dry run reporting problems).
    code: i32,
}

fn werf<S: AsRef<str>>(args: &[S]) -> Scenario {
    Scenario { tool: Tool::Werf, args: args.iter().map(|s| s.as_ref().to_string()).collect(), code: 0 }
}

fn kubectl<S: AsRef<str>>(args: &[S]) -> Scenario {
    Scenario { tool: Tool::Kubectl, args: args.iter().map(|s| s.as_ref().to_string()).collect(), code: 0 }
}

impl Scenario {
    #[allow(dead_code)] // for the verbs to come (a dry run reporting problems exits 1)
    fn exits(mut self, code: i32) -> Self {
        self.code = code;
        self
    }

    fn display(&self) -> String {
        let tool = match self.tool {
            Tool::Werf => "kubectl-werf",
            Tool::Kubectl => "kubectl",
        };
        format!("{tool} {}", self.args.join(" "))
    }
}

/// One permission: `verb` on `resource` (or a non-resource URL) granted by rule `rule` of the
/// role document `doc`.
#[derive(Clone, Debug)]
struct Unit {
    doc: usize,
    rule: usize,
    verb: String,
    /// A resource (`secrets`, `deployments/scale`, `*`) or, for non-resource rules, a URL.
    target: String,
    non_resource: bool,
    /// The rule's API groups.
    groups: Vec<String>,
}

impl Unit {
    fn describe(&self, docs: &[Value]) -> String {
        let d = &docs[self.doc];
        let role = format!(
            "{} {}{}",
            d["kind"].as_str().unwrap_or(""),
            d["metadata"]["namespace"].as_str().map(|n| format!("{n}/")).unwrap_or_default(),
            d["metadata"]["name"].as_str().unwrap_or("")
        );
        if self.non_resource {
            format!("{role} rule {}: {} {}", self.rule, self.verb, self.target)
        } else {
            format!("{role} rule {}: {} {} in API groups {:?}", self.rule, self.verb, self.target, self.groups)
        }
    }

    /// Whether `output` holds the API server's Forbidden message for this permission.
    fn named_in(&self, output: &str) -> bool {
        if !output.to_ascii_lowercase().contains("forbidden") {
            return false;
        }
        if self.non_resource {
            let url = self.target.trim_end_matches('*');
            return if self.verb == "*" {
                output.contains(&format!("path \"{url}"))
            } else {
                output.contains(&format!("cannot {} path \"{url}", self.verb))
            };
        }
        let verb = if self.verb == "*" { String::new() } else { format!("cannot {} ", self.verb) };
        if self.target == "*" {
            return output.contains(&format!("{verb}resource \""));
        }
        let mut needle = format!("{verb}resource \"{}\"", self.target);
        if let [g] = self.groups.as_slice()
            && g != "*"
        {
            needle.push_str(&format!(" in API group \"{g}\""));
        }
        output.contains(&needle)
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect()).unwrap_or_default()
}

/// A manifest of `deploy/rbac/`, its namespaces mapped to the test's.
#[derive(Clone, Debug)]
struct Manifest {
    path: PathBuf,
    docs: Vec<Value>,
}

impl Manifest {
    fn load(rel: &str, ns_map: &BTreeMap<&str, String>) -> Manifest {
        let path = repo_root().join(rel);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut docs = kube_emulator::parse_documents(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for d in &mut docs {
            if let Some(ns) = d["metadata"]["namespace"].as_str() {
                let to = ns_map.get(ns).unwrap_or_else(|| panic!("{}: no test namespace for {ns}", path.display()));
                d["metadata"]["namespace"] = json!(to);
            }
            if let Some(subjects) = d.get_mut("subjects").and_then(Value::as_array_mut) {
                for s in subjects {
                    if let Some(to) = s["namespace"].as_str().and_then(|ns| ns_map.get(ns)) {
                        s["namespace"] = json!(to);
                    }
                }
            }
        }
        Manifest { path, docs }
    }

    fn is_role(d: &Value) -> bool {
        d["apiVersion"] == format!("{RBAC_GROUP}/v1") && matches!(d["kind"].as_str(), Some("Role" | "ClusterRole"))
    }

    /// The groups the bindings of the manifest bind.
    fn groups(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .docs
            .iter()
            .filter_map(|d| d["subjects"].as_array())
            .flatten()
            .filter(|s| s["kind"] == "Group")
            .filter_map(|s| s["name"].as_str().map(String::from))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Every single permission of every Role/ClusterRole, in order.
    fn units(&self) -> Vec<Unit> {
        let mut out = Vec::new();
        for (di, d) in self.docs.iter().enumerate().filter(|(_, d)| Self::is_role(d)) {
            for (ri, rule) in d["rules"].as_array().into_iter().flatten().enumerate() {
                let urls = strings(&rule["nonResourceURLs"]);
                let non_resource = !urls.is_empty();
                let targets = if non_resource { urls } else { strings(&rule["resources"]) };
                for verb in strings(&rule["verbs"]) {
                    for target in &targets {
                        out.push(Unit {
                            doc: di,
                            rule: ri,
                            verb: verb.clone(),
                            target: target.clone(),
                            non_resource,
                            groups: strings(&rule["apiGroups"]),
                        });
                    }
                }
            }
        }
        out
    }

    /// The documents with exactly one permission taken away: its rule is split into the rule
    /// without that target and the rule for that target without that verb.
    fn without(&self, u: &Unit) -> Vec<Value> {
        let mut docs = self.docs.clone();
        let key = if u.non_resource { "nonResourceURLs" } else { "resources" };
        let rules = docs[u.doc]["rules"].as_array().cloned().unwrap_or_default();
        let mut out = Vec::new();
        for (i, rule) in rules.into_iter().enumerate() {
            if i != u.rule {
                out.push(rule);
                continue;
            }
            let others: Vec<String> = strings(&rule[key]).into_iter().filter(|t| *t != u.target).collect();
            if !others.is_empty() {
                let mut r = rule.clone();
                r[key] = json!(others);
                out.push(r);
            }
            let verbs: Vec<String> = strings(&rule["verbs"]).into_iter().filter(|v| *v != u.verb).collect();
            if !verbs.is_empty() {
                let mut r = rule.clone();
                r[key] = json!([u.target]);
                r["verbs"] = json!(verbs);
                out.push(r);
            }
        }
        docs[u.doc]["rules"] = Value::Array(out);
        docs
    }

    /// The manifest with every role, binding and group name given `suffix`, so that tests sharing
    /// one server (and the manifests' fixed names) never see each other's grants.
    fn isolated(mut self, suffix: &str) -> Manifest {
        let renamed = |name: &str| format!("{name}-{suffix}");
        for d in &mut self.docs {
            let Some(name) = d["metadata"]["name"].as_str().map(renamed) else { continue };
            d["metadata"]["name"] = json!(name);
            if let Some(role) = d["roleRef"]["name"].as_str().map(renamed) {
                d["roleRef"]["name"] = json!(role);
            }
            for s in d.get_mut("subjects").and_then(Value::as_array_mut).into_iter().flatten() {
                if s["kind"] == "Group"
                    && let Some(group) = s["name"].as_str().map(renamed)
                {
                    s["name"] = json!(group);
                }
            }
        }
        self
    }
}

/// A user who has nothing but some groups (the manifest's): on the emulator (RBAC switched on) a token
/// user; on a real server the admin impersonating that user and those groups.
struct Rig<'a> {
    c: &'a TestCluster,
    user: String,
    groups: Vec<String>,
    kubeconfig: PathBuf,
    /// The file last applied, whose roles and bindings are deleted when the rig drops.
    file: PathBuf,
    applied: bool,
}

impl<'a> Rig<'a> {
    fn new(c: &'a TestCluster, user: &str, groups: &[String], default_ns: &str) -> Rig<'a> {
        let suffix = common::unique_suffix();
        let kubeconfig = c.dir.path().join(format!("{user}-{suffix}.kubeconfig"));
        match &c.emulator {
            Some(emu) => {
                emu.enable_rbac();
                let token = format!("{user}-token");
                let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
                emu.add_user(&token, user, &groups);
                std::fs::write(&kubeconfig, emu.kubeconfig_yaml_for(&token, Some(default_ns))).unwrap();
            }
            None => std::fs::write(&kubeconfig, impersonating_kubeconfig(&c.kubeconfig, user, groups, default_ns)).unwrap(),
        }
        let file = c.dir.path().join(format!("rbac-under-test-{suffix}.json"));
        Rig { c, user: user.to_string(), groups: groups.to_vec(), kubeconfig, file, applied: false }
    }

    /// `kubectl apply -f` the first time (as an admin would), `kubectl replace -f` afterwards
    /// (a replace takes rules away; a client-side apply would too, but needs its annotation).
    fn apply(&mut self, docs: &[Value]) {
        // a stream of JSON documents, as kubectl reads them
        let text: Vec<String> = docs.iter().map(|d| serde_json::to_string_pretty(d).unwrap()).collect();
        std::fs::write(&self.file, text.join("\n")).unwrap();
        let verb = if self.applied { "replace" } else { "apply" };
        run_ok(self.c.kubectl().args([verb, "-f"]).arg(&self.file));
        self.applied = true;
    }

    /// Whether the server's authorizer allows `u` to this rig's user now (a SubjectAccessReview).
    fn allows(&self, docs: &[Value], u: &Unit) -> bool {
        let d = &docs[u.doc];
        let namespace = (d["kind"] == "Role").then(|| d["metadata"]["namespace"].as_str().unwrap_or_default().to_string());
        let (resource, subresource) = match u.target.split_once('/') {
            Some((r, s)) => (r.to_string(), Some(s.to_string())),
            None => (u.target.clone(), None),
        };
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(self.user.clone()),
                groups: Some(self.groups.iter().cloned().chain(["system:authenticated".to_string()]).collect()),
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(u.verb.clone()),
                    group: u.groups.first().cloned(),
                    resource: Some(resource),
                    subresource,
                    namespace,
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let api: Api<SubjectAccessReview> = Api::all(self.c.client.clone());
        let answer = self.c.rt.block_on(api.create(&PostParams::default(), &review)).expect("SubjectAccessReview");
        answer.status.is_some_and(|s| s.allowed)
    }

    /// On a real server, wait until its authorizer sees what was just applied: every unit of `allowed`
    /// allowed and `denied` (if any) denied. A permission another rule also grants never turns denied:
    /// after a while the check goes on (and the scenarios then show it as needed by none).
    fn settle(&self, docs: &[Value], allowed: &[Unit], denied: Option<&Unit>) {
        if !self.c.is_real() {
            return;
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if allowed.iter().all(|u| self.allows(docs, u)) && denied.is_none_or(|u| !self.allows(docs, u)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn command(&self, s: &Scenario) -> Command {
        let mut cmd = match s.tool {
            Tool::Werf => self.c.werf(),
            Tool::Kubectl => self.c.kubectl(),
        };
        cmd.env("KUBECONFIG", &self.kubeconfig).args(&s.args);
        cmd
    }

    fn run(&self, s: &Scenario) -> (Output, String) {
        let out = run(&mut self.command(s));
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out, text)
    }

    /// The scenario must be refused with the Forbidden message containing `needle`.
    fn assert_forbidden(&self, s: &Scenario, needle: &str) {
        let (_, text) = self.run(s);
        assert!(
            text.contains("forbidden") && text.contains(needle),
            "{} as {}: expected Forbidden naming {needle:?}, got:\n{text}",
            s.display(),
            self.user
        );
    }
}

impl Drop for Rig<'_> {
    /// The test's roles and bindings go (the namespaced ones would go with their namespaces anyway).
    fn drop(&mut self) {
        if self.applied {
            let _ = run(self.c.kubectl().args(["delete", "--ignore-not-found", "--wait=false", "-f"]).arg(&self.file));
        }
    }
}

/// The admin's kubeconfig with its user impersonating `user` in `groups` (`as`, `as-groups`), and
/// `namespace` as the context's namespace. Written as JSON, which kubectl and kube read as YAML.
fn impersonating_kubeconfig(admin: &std::path::Path, user: &str, groups: &[String], namespace: &str) -> String {
    let text = std::fs::read_to_string(admin).unwrap();
    let mut kc: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", admin.display()));
    let current = kc["current-context"].as_str().expect("a current context").to_string();
    let context = kc["contexts"].as_array_mut().unwrap().iter_mut().find(|c| c["name"] == current.as_str()).expect("the current context");
    context["context"]["namespace"] = json!(namespace);
    let auth = context["context"]["user"].as_str().unwrap().to_string();
    let entry = kc["users"].as_array_mut().unwrap().iter_mut().find(|u| u["name"] == auth.as_str()).expect("the context's user");
    entry["user"]["as"] = json!(user);
    if !groups.is_empty() {
        entry["user"]["as-groups"] = json!(groups);
    }
    serde_json::to_string_pretty(&kc).unwrap()
}

/// The generic check (see the module notes). `reset` runs before every scenario run (for
/// scenarios that change what the next one sees). Returns the rig, the whole manifest applied.
fn least_privilege<'a>(c: &'a TestCluster, manifest: &Manifest, default_ns: &str, scenarios: &[Scenario], reset: &dyn Fn()) -> Rig<'a> {
    let manifest = manifest.clone().isolated(&common::unique_suffix());
    let groups = manifest.groups();
    assert!(!groups.is_empty(), "{}: binds no group", manifest.path.display());
    let mut rig = Rig::new(c, "rbac-tester", &groups, default_ns);
    let units = manifest.units();
    assert!(!units.is_empty(), "{}: grants nothing", manifest.path.display());
    // 1. exactly the manifest: everything works
    rig.apply(&manifest.docs);
    rig.settle(&manifest.docs, &units, None);
    for s in scenarios {
        reset();
        let (out, text) = rig.run(s);
        assert_eq!(
            out.status.code(),
            Some(s.code),
            "{}: `{}` with exactly the manifest's rights:\n{text}",
            manifest.path.display(),
            s.display()
        );
        assert!(
            !text.to_ascii_lowercase().contains("forbidden"),
            "{}: `{}` hit a Forbidden:\n{text}",
            manifest.path.display(),
            s.display()
        );
    }
    // 2. one permission less: some scenario names it in a Forbidden message
    let mut unneeded = Vec::new();
    for u in &units {
        let docs = manifest.without(u);
        rig.apply(&docs);
        let others: Vec<Unit> =
            units.iter().filter(|o| o.doc != u.doc || o.rule != u.rule || o.verb != u.verb || o.target != u.target).cloned().collect();
        rig.settle(&docs, &others, Some(u));
        let mut seen = Vec::new();
        let named = scenarios.iter().any(|s| {
            reset();
            let (_, text) = rig.run(s);
            let hit = u.named_in(&text);
            if !hit && text.to_ascii_lowercase().contains("forbidden") {
                seen.push(format!("`{}`:\n{text}", s.display()));
            }
            hit
        });
        if !named {
            let mut msg = format!("{} is needed by no scenario", u.describe(&manifest.docs));
            if !seen.is_empty() {
                msg.push_str(&format!(" (Forbidden messages seen, none naming it:\n{})", seen.join("\n")));
            }
            unneeded.push(msg);
        }
    }
    rig.apply(&manifest.docs);
    rig.settle(&manifest.docs, &units, None);
    assert!(
        unneeded.is_empty(),
        "{}: permissions no scenario misses (grant less, or add a scenario that needs them):\n{}",
        manifest.path.display(),
        unneeded.join("\n")
    );
    rig
}

/// Delete every Secret and ConfigMap of `ns` (as the admin).
fn clear_records(c: &TestCluster, ns: &str) {
    let dp = DeleteParams::default();
    let lp = ListParams::default();
    c.rt.block_on(async {
        Api::<Secret>::namespaced(c.client.clone(), ns).delete_collection(&dp, &lp).await.unwrap();
        Api::<ConfigMap>::namespaced(c.client.clone(), ns).delete_collection(&dp, &lp).await.unwrap();
    });
}

fn delete_object<K>(c: &TestCluster, ns: &str, name: &str)
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(c.client.clone(), ns);
    match c.rt.block_on(api.delete(name, &DeleteParams::default())) {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => panic!("delete {ns}/{name}: {e}"),
    }
}

fn ns_map<'a>(pairs: &[(&'a str, &str)]) -> BTreeMap<&'a str, String> {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

/// Every file of deploy/rbac/ parses, holds roles and bindings of group `kubectl-werf:*`,
/// and every binding references a role of the same file.
#[test]
fn manifests_are_well_formed() {
    let dir = repo_root().join("deploy/rbac");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        seen += 1;
        let map = ns_map(&[("my-app", "my-app"), ("kube-system", "kube-system")]);
        let rel = path.strip_prefix(repo_root()).unwrap().to_str().unwrap().to_string();
        let m = Manifest::load(&rel, &map);
        let roles: Vec<(String, String, String)> = m
            .docs
            .iter()
            .filter(|d| Manifest::is_role(d))
            .map(|d| {
                (
                    d["kind"].as_str().unwrap().into(),
                    d["metadata"]["namespace"].as_str().unwrap_or("").into(),
                    d["metadata"]["name"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert!(!roles.is_empty(), "{rel}: no roles");
        for d in m.docs.iter().filter(|d| d["roleRef"].is_object()) {
            let kind = d["roleRef"]["kind"].as_str().unwrap();
            let name = d["roleRef"]["name"].as_str().unwrap();
            let ns = if kind == "Role" { d["metadata"]["namespace"].as_str().unwrap_or("") } else { "" };
            assert!(
                roles.iter().any(|(k, n, r)| k == kind && n == ns && r == name),
                "{rel}: binding {} references a role not in the file",
                d["metadata"]["name"]
            );
        }
        let groups = m.groups();
        let verb = path.file_stem().unwrap().to_str().unwrap().trim_end_matches("-namespaced");
        assert_eq!(groups, vec![format!("kubectl-werf:{verb}")], "{rel}");
        for d in m.docs.iter().filter(|d| Manifest::is_role(d)) {
            for rule in d["rules"].as_array().unwrap() {
                let verbs = strings(&rule["verbs"]);
                assert!(!verbs.is_empty() && !verbs.contains(&"*".to_string()), "{rel}: verbs must be explicit: {rule}");
                assert!(
                    !verbs.iter().any(|v| v == "watch" || v == "deletecollection" || v == "escalate" || v == "bind" || v == "impersonate"),
                    "{rel}: {rule}"
                );
            }
        }
    }
    assert!(seen >= 9, "{seen} manifests");
}

/// `version` needs no rule of ours: `/version` is public information for every authenticated
/// user (the default system:public-info-viewer).
#[test]
fn version_needs_nothing_beyond_the_defaults() {
    let c = TestCluster::start();
    let rig = Rig::new(&c, "nobody", &[], "default");
    let out = run_ok(&mut rig.command(&werf(&["version"])));
    assert!(out.contains("Server Version: v1.36"), "{out}");
}

/// Without those defaults `version` says why it failed. The defaults of a real server are not a test's
/// to delete (its other tests share them, and the server restores them only when it restarts).
#[test]
fn version_says_why_without_the_defaults_emulator_only() {
    let c = TestCluster::start();
    let emu = c.emulator_for("deletes the default ClusterRoleBindings");
    let rig = Rig::new(&c, "nobody", &[], "default");
    for b in ["system:public-info-viewer", "system:discovery"] {
        emu.store().delete("clusterrolebindings.rbac.authorization.k8s.io", "", b).unwrap();
    }
    let (out, text) = rig.run(&werf(&["version"]));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("Client Version") && !text.contains("Server Version"), "{text}");
    assert!(text.contains("forbidden: User \"nobody\" cannot get path \"/version\""), "{text}");
}

/// The generic check itself, with kubectl as the client: releases-read.yaml allows exactly
/// reading Secrets and ConfigMaps anywhere.
#[test]
fn releases_read_rules_as_kubectl_sees_them() {
    let c = TestCluster::start();
    let ns = c.namespace("rbac-read");
    c.create_object(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1", "namespace": ns}}));
    c.create_object(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1", "namespace": ns}}));
    let m = Manifest::load("deploy/rbac/releases-read.yaml", &BTreeMap::new());
    let scenarios = [
        kubectl(&["get", "secret", "s1", "-n", &ns]),
        kubectl(&["get", "configmap", "c1", "-n", &ns]),
        kubectl(&["get", "secrets", "-A"]),
        kubectl(&["get", "configmaps", "-A"]),
    ];
    least_privilege(&c, &m, &ns, &scenarios, &|| {});
}

/// The namespaced variant: its namespace and Tiller's only; -A and other namespaces refused.
#[test]
fn releases_read_namespaced_as_kubectl_sees_it() {
    let c = TestCluster::start();
    let ns = c.namespace("rbac-app");
    let tiller = c.namespace("rbac-tiller");
    let other = c.namespace("rbac-other");
    for n in [&ns, &tiller] {
        c.create_object(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1", "namespace": n}}));
    }
    c.create_object(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1", "namespace": ns}}));
    let m = Manifest::load("deploy/rbac/releases-read-namespaced.yaml", &ns_map(&[("my-app", &ns), ("kube-system", &tiller)]));
    let scenarios = [
        kubectl(&["get", "secret", "s1", "-n", &ns]),
        kubectl(&["get", "secrets", "-n", &ns]),
        kubectl(&["get", "configmap", "c1", "-n", &ns]),
        kubectl(&["get", "configmaps", "-n", &ns]),
        kubectl(&["get", "configmap", "c1", "-n", &tiller]),
        kubectl(&["get", "configmaps", "-n", &tiller]),
    ];
    let rig = least_privilege(&c, &m, &ns, &scenarios, &|| {});
    rig.assert_forbidden(&kubectl(&["get", "secrets", "-A"]), "cannot list resource \"secrets\" in API group \"\" at the cluster scope");
    rig.assert_forbidden(&kubectl(&["get", "secrets", "-n", &other]), &format!("in the namespace \"{other}\""));
    rig.assert_forbidden(
        &kubectl(&["get", "secrets", "-n", &tiller]),
        &format!("cannot list resource \"secrets\" in API group \"\" in the namespace \"{tiller}\""),
    );
    rig.assert_forbidden(&kubectl(&["delete", "configmap", "c1", "-n", &ns]), "cannot delete resource \"configmaps\"");
}
/// The helper's bookkeeping: one permission less is exactly one (verb, resource) less.
#[test]
fn removing_one_permission_splits_its_rule() {
    let m = Manifest::load("deploy/rbac/migrate2to3.yaml", &ns_map(&[("kube-system", "tiller")]));
    let units = m.units();
    let first = units.iter().find(|u| u.verb == "create" && u.target == "secrets").unwrap();
    let docs = m.without(first);
    let role = docs.iter().find(|d| d["kind"] == "ClusterRole").unwrap();
    assert_eq!(
        role["rules"],
        json!([
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list", "create", "update"]},
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list", "update"]},
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "patch"]}
        ])
    );
    assert!(first.named_in("Error from server (Forbidden): secrets is forbidden: User \"u\" cannot create resource \"secrets\" in API group \"\" in the namespace \"x\""));
    assert!(!first.named_in("secrets is forbidden: User \"u\" cannot update resource \"secrets\" in API group \"\""));
    let star = units.iter().find(|u| u.verb == "patch" && u.target == "*").unwrap();
    assert!(star.named_in("deployments.apps \"web\" is forbidden: User \"u\" cannot patch resource \"deployments\" in API group \"apps\""));
    let tiller_delete = units.iter().find(|u| u.verb == "delete" && u.target == "configmaps").unwrap();
    assert_eq!(m.docs[tiller_delete.doc]["metadata"]["namespace"], "tiller");
    assert_eq!(
        m.without(tiller_delete)[tiller_delete.doc]["rules"],
        json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["delete"]}])
    );
}

// ---- per-verb checks ----

/// The `shop` release's manifest without its Widget (a custom resource whose CRD a real cluster
/// does not have): the objects these checks create and annotate.
fn shop_objects_file(c: &TestCluster) -> PathBuf {
    let text = std::fs::read_to_string(fixture("helm3/fx-helm3-shop-manifest.txt")).unwrap();
    let path = c.dir.path().join("shop-objects.yaml");
    std::fs::write(&path, without_widgets(&text)).unwrap();
    path
}

/// A release manifest without its Widgets (custom resources no real cluster serves).
fn without_widgets(manifest: &str) -> String {
    let docs: Vec<&str> = manifest.split("\n---").filter(|d| !d.contains("\nkind: Widget")).collect();
    docs.join("\n---")
}

/// The objects of the `shop` release's manifest, created in `ns` as an admin.
fn create_shop_objects(c: &TestCluster, ns: &str) {
    run_ok(c.kubectl().args(["apply", "-n", ns, "-f"]).arg(shop_objects_file(c)));
}

/// Helm 3 fixtures (Secret and ConfigMap drivers) in `ns`, Helm 2 fixtures in `tiller`.
fn seed_releases(c: &TestCluster, ns: &str, tiller: &str) {
    let map = BTreeMap::from([("fx-helm3", ns)]);
    for f in ["shop-secrets", "cart-configmaps"] {
        c.seed_file(&fixture(&format!("helm3/fx-helm3-{f}.yaml")), &map);
    }
    c.seed_file(&fixture("helm2-synthetic/kube-system-shop-4revs-configmaps.yaml"), &BTreeMap::from([("kube-system", tiller)]));
}

/// Labels edited by hand, as found on real clusters (labels are advisory, the payload decides): the
/// latest Helm 3 record of shop and of cart labelled superseded, so a list reads them with a GET
/// instead of from the first LIST; the latest Helm 2 record of shop without its NAME label, so its
/// history finds it among the metadata and reads it with a GET. The reads `get` is granted for.
fn edit_labels_by_hand(c: &TestCluster, ns: &str, tiller: &str) {
    run_ok(c.kubectl().args(["label", "--overwrite", "-n", ns, "secret/sh.helm.release.v1.shop.v4", "status=superseded"]));
    run_ok(c.kubectl().args(["label", "--overwrite", "-n", ns, "configmap/sh.helm.release.v1.cart.v2", "status=superseded"]));
    run_ok(c.kubectl().args(["label", "-n", tiller, "configmap/shop.v4", "NAME-"]));
}

#[test]
fn releases_read_least_privilege() {
    let c = TestCluster::start();
    let ns = c.namespace("rbac-rel");
    let tiller = c.namespace("rbac-rel-tiller");
    seed_releases(&c, &ns, &tiller);
    edit_labels_by_hand(&c, &ns, &tiller);
    let m = Manifest::load("deploy/rbac/releases-read.yaml", &BTreeMap::new());
    let t = ["--tiller-namespace", tiller.as_str()];
    let scenarios = [
        werf(&["releases", "list", "-n", &ns, "--helm-version", "3"]),
        werf(&["releases", "list", "-n", &ns, "--helm-version", "3", "--release-storage", "configmap"]),
        werf(&["releases", "history", "shop", "-n", &ns]),
        werf(&["releases", "status", "shop", "-n", &ns]),
        werf(&["releases", "list", "-A", t[0], t[1]]),
        werf(&["releases", "list", "-A", "--helm-version", "2", t[0], t[1], "--tiller-storage", "configmap"]),
        werf(&["releases", "history", "shop", "-n", "legacy-shop", "--helm-version", "2", t[0], t[1]]),
    ];
    least_privilege(&c, &m, &ns, &scenarios, &|| {});
}

#[test]
fn releases_read_namespaced_least_privilege() {
    let c = TestCluster::start();
    let ns = c.namespace("rbac-reln");
    let tiller = c.namespace("rbac-reln-tiller");
    seed_releases(&c, &ns, &tiller);
    edit_labels_by_hand(&c, &ns, &tiller);
    let m = Manifest::load("deploy/rbac/releases-read-namespaced.yaml", &ns_map(&[("my-app", &ns), ("kube-system", &tiller)]));
    let t = ["--tiller-namespace", tiller.as_str(), "--tiller-storage", "configmap"];
    let scenarios = [
        werf(&["releases", "list", "-n", &ns, t[0], t[1], t[2], t[3]]),
        werf(&["releases", "list", "-n", &ns, "--release-storage", "configmap", t[0], t[1], t[2], t[3]]),
        werf(&["releases", "history", "shop", "-n", &ns, "--helm-version", "3"]),
        // Helm 2 records of namespace legacy-shop, kept in Tiller's namespace
        werf(&["releases", "status", "shop", "-n", "legacy-shop", "--helm-version", "2", t[0], t[1], t[2], t[3]]),
    ];
    let rig = least_privilege(&c, &m, &ns, &scenarios, &|| {});
    let (out, text) = rig.run(&werf(&["releases", "list", "-A", "--helm-version", "3"]));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("cluster-wide"), "{text}");
}

#[test]
fn releases_maintain_least_privilege() {
    let c = TestCluster::start();
    let ns = c.namespace("rbac-maint");
    let tiller = c.namespace("rbac-maint-tiller");
    let backup = c.dir.path().join("backup");
    let seed_all = || {
        for n in [&ns, &tiller] {
            clear_records(&c, n);
        }
        seed_releases(&c, &ns, &tiller);
        c.seed_file(&fixture("helm3/fx-helm3-stuck-secrets.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
        c.seed_file(
            &fixture("helm2-synthetic/kube-system-stuck-and-gone-configmaps.yaml"),
            &BTreeMap::from([("kube-system", tiller.as_str())]),
        );
    };
    seed_all();
    run_ok(c.werf().args(["releases", "export", "shop", "cart", "-n", &ns, "--dir"]).arg(&backup));
    // Before each run: everything seeded, minus one record of each kind for restore to create.
    let reseed = || {
        seed_all();
        delete_object::<Secret>(&c, &ns, "sh.helm.release.v1.shop.v1");
        delete_object::<ConfigMap>(&c, &ns, "sh.helm.release.v1.cart.v1");
    };
    reseed();
    let m = Manifest::load("deploy/rbac/releases-maintain.yaml", &BTreeMap::new());
    let b = backup.to_str().unwrap();
    let t = ["--tiller-namespace", tiller.as_str()];
    let scenarios = [
        werf(&["releases", "unlock", "stuck", "-n", &ns, "--yes"]),
        werf(&["releases", "unlock", "stuck", "-n", "legacy-stuck", "--helm-version", "2", t[0], t[1], "--yes"]),
        werf(&["releases", "prune", "shop", "-n", &ns, "--keep", "1", "--yes"]),
        werf(&["releases", "prune", "cart", "-n", &ns, "--release-storage", "configmap", "--keep", "1", "--yes"]),
        werf(&["releases", "restore", "--dir", b, "--yes"]),
        werf(&["releases", "prune", "shop", "-n", "legacy-shop", "--helm-version", "2", t[0], t[1], "--keep", "1", "--yes"]),
    ];
    least_privilege(&c, &m, &ns, &scenarios, &reseed);
}

/// A Helm 2 synthetic fixture revision (`shop.v3`), decoded.
fn helm2_synthetic(name: &str) -> helm2::Release {
    let r = release_fixtures::load("helm2-synthetic").into_iter().find(|r| r.name == name).unwrap();
    codec::decode_helm2(&r.payload, &DecodeLimits::default()).unwrap()
}

#[test]
fn migrate2to3_least_privilege() {
    let c = TestCluster::start();
    let tiller = c.namespace("rbac-mig-tiller");
    // The releases' own namespaces: the test's (a migration writes there), named in the Helm 2 records.
    let shop_ns = c.namespace("rbac-mig-shop");
    let cart_ns = c.namespace("rbac-mig-cart");
    let helm2 = Helm2Store::new(c.client.clone(), &tiller, Helm2Storage::Auto, DecodeLimits::default());
    let reseed = || {
        for n in [&tiller, &shop_ns, &cart_ns] {
            clear_records(&c, n);
        }
        // Helm 2: shop in ConfigMaps, cart in Secrets, both in Tiller's namespace.
        for (name, revs, kind, ns) in [("shop", 4, ObjectKind::ConfigMap, &shop_ns), ("cart", 2, ObjectKind::Secret, &cart_ns)] {
            for rev in 1..=revs {
                let mut rel = helm2_synthetic(&format!("{name}.v{rev}"));
                rel.namespace = ns.to_string();
                c.rt.block_on(helm2.create(kind, &rel)).unwrap();
            }
        }
        // Helm 3 records that differ from what the migration writes: only --force replaces them.
        c.seed_file(&fixture("helm3/fx-helm3-shop-secrets.yaml"), &BTreeMap::from([("fx-helm3", shop_ns.as_str())]));
        c.seed_file(&fixture("helm3/fx-helm3-cart-configmaps.yaml"), &BTreeMap::from([("fx-helm3", cart_ns.as_str())]));
        // An object of the shop manifest, to be stamped with Helm's ownership.
        delete_object::<ServiceAccount>(&c, &shop_ns, "shop");
        c.create_object(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "shop", "namespace": shop_ns}}));
    };
    reseed();
    let m = Manifest::load("deploy/rbac/migrate2to3.yaml", &ns_map(&[("kube-system", &tiller)]));
    let t = ["--tiller-namespace", tiller.as_str()];
    let scenarios = [
        // replaces differing Secrets (update), stamps ownership (get/patch), deletes Helm 2 ConfigMaps
        werf(&["migrate2to3", "shop", t[0], t[1], "--force", "--delete-v2-releases", "--yes"]),
        // creates ConfigMaps
        werf(&["migrate2to3", "shop", t[0], t[1], "--release-storage", "configmap", "--yes"]),
        // creates Secrets, deletes Helm 2 Secrets
        werf(&["migrate2to3", "cart", t[0], t[1], "--delete-v2-releases", "--yes"]),
        // replaces differing ConfigMaps
        werf(&["migrate2to3", "cart", t[0], t[1], "--release-storage", "configmap", "--force", "--yes"]),
    ];
    least_privilege(&c, &m, &shop_ns, &scenarios, &reseed);
}

#[test]
fn adopt_least_privilege() {
    let c = TestCluster::start();
    let ns = c.namespace("rbac-adopt");
    let reseed = || {
        clear_records(&c, &ns);
        c.seed_file(&fixture("helm3/fx-helm3-shop-secrets.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
        c.seed_file(&fixture("helm3/fx-helm3-cart-configmaps.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
        c.seed_file(&fixture("helm3/fx-helm3-big-secrets.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
        c.create_object(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": ns}, "data": {"a": "0"}}),
        );
        // The objects of big (deployed, Secret driver) and cart (ConfigMap driver), owned by their
        // releases, so --detach has something to move.
        for (release, driver) in [("big", "secret"), ("cart", "configmap")] {
            let manifest = run_ok(c.werf().args(["releases", "get", "manifest", release, "-n", &ns, "--release-storage", driver]));
            let path = c.dir.path().join(format!("{release}-manifest.yaml"));
            std::fs::write(&path, without_widgets(&manifest)).unwrap();
            run_ok(c.kubectl().args(["apply", "-n", &ns, "-f"]).arg(&path));
            run_ok(c.werf().args(["adopt", "-f"]).arg(&path).args(["--release", release, "-n", &ns, "--force", "--yes"]));
        }
    };
    reseed();
    let m = Manifest::load("deploy/rbac/adopt.yaml", &BTreeMap::new());
    // The chart's manifest of settings: server-side dry-run applies (which fields it sets; the Helm 4
    // prediction) and the managedFields handover need patch too.
    let chart = c.dir.path().join("settings-chart.yaml");
    std::fs::write(&chart, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: \"1\"\n").unwrap();
    let chart = chart.to_str().unwrap();
    let scenarios = [
        werf(&["adopt", "configmap/settings", "--release", "app", "-n", &ns, "--yes"]),
        werf(&["adopt", "-f", chart, "--release", "app", "-n", &ns, "--dry-run"]).exits(1),
        werf(&["adopt", "-f", chart, "--release", "app", "-n", &ns, "--yes"]),
        werf(&["adopt", "--from-release", "big", "--release", "app", "-n", &ns, "--force", "--detach", "--yes"]),
        werf(&[
            "adopt",
            "--from-release",
            "cart",
            "--release",
            "app",
            "-n",
            &ns,
            "--release-storage",
            "configmap",
            "--force",
            "--detach",
            "--yes",
        ]),
    ];
    least_privilege(&c, &m, &ns, &scenarios, &reseed);
}

#[test]
fn annotate_least_privilege() {
    let c = TestCluster::start();
    let ns = c.namespace("rbac-annotate");
    c.seed_file(&fixture("helm3/fx-helm3-shop-secrets.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
    c.seed_file(&fixture("helm3/fx-helm3-cart-configmaps.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
    create_shop_objects(&c, &ns);
    let m = Manifest::load("deploy/rbac/annotate.yaml", &BTreeMap::new());
    let scenarios = [
        werf(&["annotate", "shop", "-n", &ns, "--add-annotation", "example.com/team=shop", "--yes"]),
        werf(&["annotate", "cart", "-n", &ns, "--release-storage", "configmap", "--add-annotation", "example.com/team=cart", "--yes"]),
    ];
    // Each run must really patch: put the live objects back as they were before.
    let objects = shop_objects_file(&c);
    let reset = || {
        run_ok(c.kubectl().args(["delete", "-n", &ns, "--wait=false", "-f"]).arg(&objects));
        create_shop_objects(&c, &ns);
    };
    least_privilege(&c, &m, &ns, &scenarios, &reset);
}

/// `big` (Secret driver, one revision) and `cart` (ConfigMap driver, two), installed by real helm 3,
/// each owning a ServiceAccount, plus `big2`/`cart2`: renamed copies with one record changed by hand,
/// which only `move --force` replaces. The records are made once and exported (`seed`), then put back
/// before every run, and the ServiceAccounts' ownership keys pointed at big and cart again.
struct SurgerySeed {
    ns: String,
    records: PathBuf,
}

impl SurgerySeed {
    fn new(c: &TestCluster, ns: &str) -> SurgerySeed {
        let chart = c.dir.path().join("surgery-chart");
        std::fs::create_dir_all(chart.join("templates")).unwrap();
        std::fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: surgery\nversion: 0.1.0\n").unwrap();
        std::fs::write(
            chart.join("templates/sa.yaml"),
            "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {{ .Release.Name }}-sa\n",
        )
        .unwrap();
        run_ok(c.helm(3).args(["install", "big"]).arg(&chart).args(["-n", ns]));
        for verb in ["install", "upgrade"] {
            run_ok(c.helm(3).env("HELM_DRIVER", "configmap").args([verb, "cart"]).arg(&chart).args(["-n", ns]));
        }
        let records = c.dir.path().join("surgery-records");
        run_ok(c.werf().args(["releases", "export", "big", "cart", "-n", ns, "--dir"]).arg(&records));
        for release in ["big", "cart"] {
            run_ok(
                c.werf()
                    .args(["releases", "move", release, "-n", ns, "--to-name", &format!("{release}2"), "--yes", "--backup-dir"])
                    .arg(c.dir.path().join(format!("{release}-moved"))),
            );
        }
        for (kind, name) in [("secret", "sh.helm.release.v1.big2.v1"), ("configmap", "sh.helm.release.v1.cart2.v1")] {
            run_ok(c.kubectl().args(["label", kind, name, "-n", ns, "edited=by-hand"]));
        }
        run_ok(c.werf().args(["releases", "export", "big2", "cart2", "-n", ns, "--dir"]).arg(&records));
        SurgerySeed { ns: ns.to_string(), records }
    }

    fn reseed(&self, c: &TestCluster) {
        clear_records(c, &self.ns);
        run_ok(c.kubectl().args(["create", "-f"]).arg(&self.records));
        for release in ["big", "cart"] {
            let sa = format!("serviceaccount/{release}-sa");
            run_ok(c.kubectl().args(["label", "--overwrite", "-n", &self.ns, &sa, "app.kubernetes.io/managed-by=Helm"]));
            let keys = [format!("meta.helm.sh/release-name={release}"), format!("meta.helm.sh/release-namespace={}", self.ns)];
            run_ok(c.kubectl().args(["annotate", "--overwrite", "-n", &self.ns, &sa]).args(&keys));
        }
    }
}

fn surgery_scenarios(ns: &str, extra: &[&str]) -> Vec<Scenario> {
    let with = |args: &[&str]| werf(&[args, extra].concat());
    vec![
        // secrets get/list/delete, objects get and patch
        with(&["releases", "forget", "big", "-n", ns, "--strip-ownership", "--yes"]),
        // configmaps get/list/delete
        with(&["releases", "forget", "cart", "-n", ns, "--yes"]),
        // update: the new name's edited record is replaced
        with(&["releases", "move", "big", "-n", ns, "--to-name", "big2", "--force", "--yes"]),
        with(&["releases", "move", "cart", "-n", ns, "--to-name", "cart2", "--force", "--yes"]),
        // create
        with(&["releases", "move", "big", "-n", ns, "--to-name", "big3", "--yes"]),
        with(&["releases", "move", "cart", "-n", ns, "--to-name", "cart3", "--yes"]),
    ]
}

#[test]
fn releases_surgery_least_privilege() {
    let c = TestCluster::start();
    let ns = c.namespace("rbac-surgery");
    let seed = SurgerySeed::new(&c, &ns);
    let reseed = || seed.reseed(&c);
    reseed();
    let m = Manifest::load("deploy/rbac/releases-surgery.yaml", &BTreeMap::new());
    least_privilege(&c, &m, &ns, &surgery_scenarios(&ns, &[]), &reseed);
}

#[test]
fn releases_surgery_namespaced_least_privilege() {
    let c = TestCluster::start();
    let ns = c.namespace("rbac-surgeryn");
    let seed = SurgerySeed::new(&c, &ns);
    let reseed = || seed.reseed(&c);
    reseed();
    let m = Manifest::load("deploy/rbac/releases-surgery-namespaced.yaml", &ns_map(&[("my-app", &ns)]));
    // Helm 2 releases are looked for in every namespace unless the Helm version is given: a
    // namespaced role names it.
    least_privilege(&c, &m, &ns, &surgery_scenarios(&ns, &["--helm-version", "3"]), &reseed);
}
