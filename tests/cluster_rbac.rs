//! The least-privilege RBAC manifests of `deploy/rbac/` against the emulator's RBAC authorizer.
//!
//! For one verb's manifest the generic check [`least_privilege`]:
//! 1. applies the manifest (its namespaces mapped to the test's) with `kubectl apply`, as an
//!    admin would, and runs every scenario as a user who has nothing but the manifest's group:
//!    each must succeed without any Forbidden;
//! 2. for every single permission of the manifest, a verb on a resource in one rule of one
//!    Role/ClusterRole, replaces the manifest by a copy without just that permission and runs
//!    the scenarios again: at least one must print the API server's Forbidden message naming
//!    exactly that verb and resource (`cannot list resource "secrets" in API group ""`).
//!    A permission no scenario misses is reported: either the manifest grants too much or the
//!    scenarios do not cover it.
//!
//! Emulator only (tokens of test users and the RBAC authorizer); skipped, and said so, against
//! a real cluster. Every verb's manifest is checked this way: releases (read and maintenance),
//! migrate2to3, adopt and annotate.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};

use common::{Emulator, TestCluster, fixture, repo_root, run, run_ok};
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
            return if self.verb == "*" { output.contains(&format!("path \"{url}")) } else { output.contains(&format!("cannot {} path \"{url}", self.verb)) };
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
}

/// The emulator with RBAC on and a user who is in the manifest's groups only.
struct Rig<'a> {
    c: &'a TestCluster,
    emu: &'a Emulator,
    user: String,
    kubeconfig: PathBuf,
    applied: bool,
}

impl<'a> Rig<'a> {
    fn new(c: &'a TestCluster, user: &str, groups: &[String], default_ns: &str) -> Option<Rig<'a>> {
        let emu = c.emulator_for("needs the emulator's token users and its RBAC authorizer");
        emu.enable_rbac();
        let token = format!("{user}-token");
        let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
        emu.add_user(&token, user, &groups);
        let kubeconfig = c.dir.path().join(format!("{user}.kubeconfig"));
        std::fs::write(&kubeconfig, emu.kubeconfig_yaml_for(&token, Some(default_ns))).unwrap();
        Some(Rig { c, emu, user: user.to_string(), kubeconfig, applied: false })
    }

    /// `kubectl apply -f` the first time (as an admin would), `kubectl replace -f` afterwards
    /// (a replace takes rules away; a client-side apply would too, but needs its annotation).
    fn apply(&mut self, docs: &[Value]) {
        // a stream of JSON documents, as kubectl reads them
        let file = self.c.dir.path().join("rbac-under-test.json");
        let text: Vec<String> = docs.iter().map(|d| serde_json::to_string_pretty(d).unwrap()).collect();
        std::fs::write(&file, text.join("\n")).unwrap();
        let verb = if self.applied { "replace" } else { "apply" };
        run_ok(self.c.kubectl().args([verb, "-f"]).arg(&file));
        self.applied = true;
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

/// The generic check (see the module notes). `reset` runs before every scenario run (for
/// scenarios that change what the next one sees).
fn least_privilege(c: &TestCluster, manifest: &Manifest, default_ns: &str, scenarios: &[Scenario], reset: &dyn Fn()) {
    let groups = manifest.groups();
    assert!(!groups.is_empty(), "{}: binds no group", manifest.path.display());
    let Some(mut rig) = Rig::new(c, "rbac-tester", &groups, default_ns) else { return };
    // 1. exactly the manifest: everything works
    rig.apply(&manifest.docs);
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
        assert!(!text.to_ascii_lowercase().contains("forbidden"), "{}: `{}` hit a Forbidden:\n{text}", manifest.path.display(), s.display());
    }
    // 2. one permission less: some scenario names it in a Forbidden message
    let mut unneeded = Vec::new();
    let units = manifest.units();
    assert!(!units.is_empty(), "{}: grants nothing", manifest.path.display());
    for u in &units {
        rig.apply(&manifest.without(u));
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
    assert!(
        unneeded.is_empty(),
        "{}: permissions no scenario misses (grant less, or add a scenario that needs them):\n{}",
        manifest.path.display(),
        unneeded.join("\n")
    );
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
            .map(|d| (d["kind"].as_str().unwrap().into(), d["metadata"]["namespace"].as_str().unwrap_or("").into(), d["metadata"]["name"].as_str().unwrap().into()))
            .collect();
        assert!(!roles.is_empty(), "{rel}: no roles");
        for d in m.docs.iter().filter(|d| d["roleRef"].is_object()) {
            let kind = d["roleRef"]["kind"].as_str().unwrap();
            let name = d["roleRef"]["name"].as_str().unwrap();
            let ns = if kind == "Role" { d["metadata"]["namespace"].as_str().unwrap_or("") } else { "" };
            assert!(roles.iter().any(|(k, n, r)| k == kind && n == ns && r == name), "{rel}: binding {} references a role not in the file", d["metadata"]["name"]);
        }
        let groups = m.groups();
        let verb = path.file_stem().unwrap().to_str().unwrap().trim_end_matches("-namespaced");
        assert_eq!(groups, vec![format!("kubectl-werf:{verb}")], "{rel}");
        for d in m.docs.iter().filter(|d| Manifest::is_role(d)) {
            for rule in d["rules"].as_array().unwrap() {
                let verbs = strings(&rule["verbs"]);
                assert!(!verbs.is_empty() && !verbs.contains(&"*".to_string()), "{rel}: verbs must be explicit: {rule}");
                assert!(!verbs.iter().any(|v| v == "watch" || v == "deletecollection" || v == "escalate" || v == "bind" || v == "impersonate"), "{rel}: {rule}");
            }
        }
    }
    assert!(seen >= 9, "{seen} manifests");
}

/// `version` needs no rule of ours: `/version` is public information for every authenticated
/// user (the default system:public-info-viewer). Without those defaults it says why it failed.
#[test]
fn version_needs_nothing_beyond_the_defaults_emulator_only() {
    let c = TestCluster::start();
    let Some(rig) = Rig::new(&c, "nobody", &[], "default") else { return };
    let out = run_ok(&mut rig.command(&werf(&["version"])));
    assert!(out.contains("Server Version: v1.36"), "{out}");
    for b in ["system:public-info-viewer", "system:discovery"] {
        rig.emu.store().delete("clusterrolebindings.rbac.authorization.k8s.io", "", b).unwrap();
    }
    let (out, text) = rig.run(&werf(&["version"]));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("Client Version") && !text.contains("Server Version"), "{text}");
    assert!(text.contains("forbidden: User \"nobody\" cannot get path \"/version\""), "{text}");
}

/// The generic check itself, with kubectl as the client: releases-read.yaml allows exactly
/// reading Secrets and ConfigMaps anywhere.
#[test]
fn releases_read_rules_as_kubectl_sees_them_emulator_only() {
    let c = TestCluster::start();
    c.emulator_for("least-privilege check");
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
fn releases_read_namespaced_as_kubectl_sees_it_emulator_only() {
    let c = TestCluster::start();
    c.emulator_for("least-privilege check");
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
    least_privilege(&c, &m, &ns, &scenarios, &|| {});
    let rig = Rig::new(&c, "rbac-tester", &m.groups(), &ns).unwrap();
    rig.assert_forbidden(&kubectl(&["get", "secrets", "-A"]), "cannot list resource \"secrets\" in API group \"\" at the cluster scope");
    rig.assert_forbidden(&kubectl(&["get", "secrets", "-n", &other]), &format!("in the namespace \"{other}\""));
    rig.assert_forbidden(&kubectl(&["get", "secrets", "-n", &tiller]), &format!("cannot list resource \"secrets\" in API group \"\" in the namespace \"{tiller}\""));
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
    assert_eq!(m.without(tiller_delete)[tiller_delete.doc]["rules"], json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["delete"]}]));
}

// ---- per-verb checks of verbs that are not in this branch yet ----

/// The objects of the `shop` release's manifest, created in `ns` as an admin.
fn create_shop_objects(c: &TestCluster, ns: &str) {
    run_ok(c.kubectl().args(["apply", "-n", ns, "-f"]).arg(fixture("helm3/fx-helm3-shop-manifest.txt")));
}

/// Helm 3 fixtures (Secret and ConfigMap drivers) in `ns`, Helm 2 fixtures in `tiller`.
fn seed_releases(c: &TestCluster, ns: &str, tiller: &str) {
    let map = BTreeMap::from([("fx-helm3", ns)]);
    for f in ["shop-secrets", "cart-configmaps"] {
        c.seed_file(&fixture(&format!("helm3/fx-helm3-{f}.yaml")), &map);
    }
    c.seed_file(&fixture("helm2-synthetic/kube-system-shop-4revs-configmaps.yaml"), &BTreeMap::from([("kube-system", tiller)]));
}

#[test]
fn releases_read_least_privilege_emulator_only() {
    let c = TestCluster::start();
    c.emulator_for("least-privilege check");
    let ns = c.namespace("rbac-rel");
    let tiller = c.namespace("rbac-rel-tiller");
    seed_releases(&c, &ns, &tiller);
    let m = Manifest::load("deploy/rbac/releases-read.yaml", &BTreeMap::new());
    let t = ["--tiller-namespace", tiller.as_str()];
    let scenarios = [
        werf(&["releases", "list", "-n", &ns, "--helm-version", "3"]),
        werf(&["releases", "list", "-n", &ns, "--helm-version", "3", "--release-storage", "configmap"]),
        werf(&["releases", "history", "shop", "-n", &ns]),
        werf(&["releases", "status", "shop", "-n", &ns]),
        werf(&["releases", "list", "-A", t[0], t[1]]),
        werf(&["releases", "list", "-A", "--helm-version", "2", t[0], t[1], "--tiller-storage", "configmap"]),
    ];
    least_privilege(&c, &m, &ns, &scenarios, &|| {});
}

#[test]
fn releases_read_namespaced_least_privilege_emulator_only() {
    let c = TestCluster::start();
    c.emulator_for("least-privilege check");
    let ns = c.namespace("rbac-reln");
    let tiller = c.namespace("rbac-reln-tiller");
    seed_releases(&c, &ns, &tiller);
    let m = Manifest::load("deploy/rbac/releases-read-namespaced.yaml", &ns_map(&[("my-app", &ns), ("kube-system", &tiller)]));
    let t = ["--tiller-namespace", tiller.as_str(), "--tiller-storage", "configmap"];
    let scenarios = [
        werf(&["releases", "list", "-n", &ns, t[0], t[1], t[2], t[3]]),
        werf(&["releases", "list", "-n", &ns, "--release-storage", "configmap", t[0], t[1], t[2], t[3]]),
        werf(&["releases", "history", "shop", "-n", &ns, "--helm-version", "3"]),
        // Helm 2 records of namespace legacy-shop, kept in Tiller's namespace
        werf(&["releases", "status", "shop", "-n", "legacy-shop", "--helm-version", "2", t[0], t[1], t[2], t[3]]),
    ];
    least_privilege(&c, &m, &ns, &scenarios, &|| {});
    let rig = Rig::new(&c, "rbac-tester", &m.groups(), &ns).unwrap();
    let (out, text) = rig.run(&werf(&["releases", "list", "-A", "--helm-version", "3"]));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("cluster-wide"), "{text}");
}

#[test]
fn releases_maintain_least_privilege_emulator_only() {
    let c = TestCluster::start();
    c.emulator_for("least-privilege check");
    let ns = c.namespace("rbac-maint");
    let tiller = c.namespace("rbac-maint-tiller");
    let backup = c.dir.path().join("backup");
    let seed_all = || {
        let h = c.emulator.as_ref().unwrap().store();
        for kind in ["secrets", "configmaps"] {
            for n in [&ns, &tiller] {
                for o in h.list(kind, Some(n), None).unwrap() {
                    let _ = h.delete(kind, n, o["metadata"]["name"].as_str().unwrap());
                }
            }
        }
        seed_releases(&c, &ns, &tiller);
        c.seed_file(&fixture("helm3/fx-helm3-stuck-secrets.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
        c.seed_file(&fixture("helm2-synthetic/kube-system-stuck-and-gone-configmaps.yaml"), &BTreeMap::from([("kube-system", tiller.as_str())]));
    };
    seed_all();
    run_ok(c.werf().args(["releases", "export", "shop", "cart", "-n", &ns, "--dir"]).arg(&backup));
    // Before each run: everything seeded, minus one record of each kind for restore to create.
    let reseed = || {
        seed_all();
        let h = c.emulator.as_ref().unwrap().store();
        h.delete("secrets", &ns, "sh.helm.release.v1.shop.v1").unwrap();
        h.delete("configmaps", &ns, "sh.helm.release.v1.cart.v1").unwrap();
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

#[test]
fn migrate2to3_least_privilege_emulator_only() {
    let c = TestCluster::start();
    c.emulator_for("least-privilege check");
    let tiller = c.namespace("rbac-mig-tiller");
    let reseed = || {
        let h = c.emulator.as_ref().unwrap().store();
        for kind in ["secrets", "configmaps"] {
            for o in h.list(kind, None, Some("owner=helm")).unwrap() {
                let _ = h.delete(kind, o["metadata"]["namespace"].as_str().unwrap(), o["metadata"]["name"].as_str().unwrap());
            }
            for o in h.list(kind, Some(&tiller), None).unwrap() {
                let _ = h.delete(kind, &tiller, o["metadata"]["name"].as_str().unwrap());
            }
        }
        // Helm 2: shop in ConfigMaps, cart in Secrets, both in Tiller's namespace.
        c.seed_file(&fixture("helm2-synthetic/kube-system-shop-4revs-configmaps.yaml"), &BTreeMap::from([("kube-system", tiller.as_str())]));
        c.seed_file(&fixture("helm2-synthetic/tiller-apps-cart-2revs-secrets.yaml"), &BTreeMap::from([("tiller-apps", tiller.as_str())]));
        let _ = h.ensure_namespace("legacy-shop");
        let _ = h.ensure_namespace("legacy-cart");
        // Helm 3 records that differ from what the migration writes: only --force replaces them.
        c.seed_file(&fixture("helm3/fx-helm3-shop-secrets.yaml"), &BTreeMap::from([("fx-helm3", "legacy-shop")]));
        c.seed_file(&fixture("helm3/fx-helm3-cart-configmaps.yaml"), &BTreeMap::from([("fx-helm3", "legacy-cart")]));
        // An object of the shop manifest, to be stamped with Helm's ownership.
        let _ = h.delete("serviceaccounts", "legacy-shop", "shop");
        let _ = h.create(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "shop", "namespace": "legacy-shop"}}));
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
    least_privilege(&c, &m, "legacy-shop", &scenarios, &reseed);
}

#[test]
fn adopt_least_privilege_emulator_only() {
    let c = TestCluster::start();
    c.emulator_for("least-privilege check");
    let ns = c.namespace("rbac-adopt");
    let reseed = || {
        let h = c.emulator.as_ref().unwrap().store();
        for kind in ["secrets", "configmaps"] {
            for o in h.list(kind, Some(&ns), None).unwrap() {
                let _ = h.delete(kind, &ns, o["metadata"]["name"].as_str().unwrap());
            }
        }
        c.seed_file(&fixture("helm3/fx-helm3-shop-secrets.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
        c.seed_file(&fixture("helm3/fx-helm3-cart-configmaps.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
        c.seed_file(&fixture("helm3/fx-helm3-big-secrets.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
        h.create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": ns}, "data": {"a": "0"}})).unwrap();
        // The objects of big (deployed, Secret driver) and cart (ConfigMap driver), owned by their
        // releases, so --detach has something to move.
        for (release, driver) in [("big", "secret"), ("cart", "configmap")] {
            let manifest = run_ok(c.werf().args(["releases", "get", "manifest", release, "-n", &ns, "--release-storage", driver]));
            let path = c.dir.path().join(format!("{release}-manifest.yaml"));
            std::fs::write(&path, manifest).unwrap();
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
        werf(&["adopt", "--from-release", "cart", "--release", "app", "-n", &ns, "--release-storage", "configmap", "--force", "--detach", "--yes"]),
    ];
    least_privilege(&c, &m, &ns, &scenarios, &reseed);
}

#[test]
fn annotate_least_privilege_emulator_only() {
    let c = TestCluster::start();
    c.emulator_for("least-privilege check");
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
    let reset = || {
        run_ok(c.kubectl().args(["delete", "-n", &ns, "--wait=false", "-f"]).arg(fixture("helm3/fx-helm3-shop-manifest.txt")));
        create_shop_objects(&c, &ns);
    };
    least_privilege(&c, &m, &ns, &scenarios, &reset);
}
