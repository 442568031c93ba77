//! `kubectl werf adopt` end to end: every input form and classification, proof by real helm3/helm4 that the
//! stamped objects pass Helm's ownership check, `--detach` read back by real helm, concurrent writers, and the
//! interactive flow through a pseudo-terminal.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{TestCluster, fixture, run, run_ok};
use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use kubectl_werf::ownership::{MANAGED_BY_LABEL, RELEASE_NAME_ANNOTATION, RELEASE_NAMESPACE_ANNOTATION};
use serde_json::{Value, json};

// ---- helpers ------------------------------------------------------------------------------------------------

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

fn werf(c: &TestCluster, args: &[&str], stdin: Option<&str>) -> Ran {
    let mut cmd = c.werf();
    cmd.arg("adopt").args(args);
    let out = match stdin {
        None => run(&mut cmd),
        Some(text) => {
            let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
            child.wait_with_output().unwrap()
        }
    };
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn werf_ok(c: &TestCluster, args: &[&str], stdin: Option<&str>) -> Ran {
    let r = werf(c, args, stdin);
    assert_eq!(r.code, 0, "adopt {args:?} exited {}\nstdout:\n{}\nstderr:\n{}", r.code, r.stdout, r.stderr);
    r
}

fn json_of(r: &Ran) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}\nstderr: {}", r.stdout, r.stderr))
}

/// The report entry for `Kind/name`.
fn entry<'a>(report: &'a Value, resource: &str) -> &'a Value {
    report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["resource"] == resource)
        .unwrap_or_else(|| panic!("{resource} not in {report:#}"))
}

fn states(report: &Value) -> BTreeMap<String, (String, String)> {
    report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["resource"].as_str().unwrap().to_string(),
                (o["state"].as_str().unwrap().to_string(), o["result"].as_str().unwrap().to_string()),
            )
        })
        .collect()
}

fn ar(api_version: &str, kind: &str, plural: &str) -> ApiResource {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    ApiResource::from_gvk_with_plural(&kube::api::GroupVersionKind::gvk(group, version, kind), plural)
}

/// An object as the server has it now (`None` when it does not exist).
fn get(c: &TestCluster, api_version: &str, kind: &str, plural: &str, ns: Option<&str>, name: &str) -> Option<Value> {
    let ar = ar(api_version, kind, plural);
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(c.client.clone(), ns, &ar),
        None => Api::all_with(c.client.clone(), &ar),
    };
    c.rt.block_on(api.get_opt(name)).unwrap().map(|o| serde_json::to_value(o).unwrap())
}

fn get_cm(c: &TestCluster, ns: &str, name: &str) -> Option<Value> {
    get(c, "v1", "ConfigMap", "configmaps", Some(ns), name)
}

fn cm(ns: &str, name: &str, labels: Value, annotations: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": labels, "annotations": annotations},
        "data": {"key": format!("value of {name}"), "multi": "line 1\nline 2\n"}
    })
}

fn owned_by(release: &str, ns: &str) -> (Value, Value) {
    (
        json!({MANAGED_BY_LABEL: "Helm", "app": "x"}),
        json!({RELEASE_NAME_ANNOTATION: release, RELEASE_NAMESPACE_ANNOTATION: ns, "note": "kept"}),
    )
}

/// The object carries the three keys Helm's ownership check reads, spelled out here rather than taken from the
/// product: label `app.kubernetes.io/managed-by: Helm`, annotations `meta.helm.sh/release-name: <release>` and
/// `meta.helm.sh/release-namespace: <ns>`.
fn assert_owned(obj: &Value, release: &str, ns: &str) {
    let meta = &obj["metadata"];
    let found = (
        &meta["labels"]["app.kubernetes.io/managed-by"],
        &meta["annotations"]["meta.helm.sh/release-name"],
        &meta["annotations"]["meta.helm.sh/release-namespace"],
    );
    assert_eq!(found, (&json!("Helm"), &json!(release), &json!(ns)), "ownership keys of {obj:#}");
}

/// Everything but the three ownership keys (and server bookkeeping) is unchanged.
fn assert_only_ownership_changed(before: &Value, after: &Value) {
    fn strip(v: &Value) -> Value {
        let mut v = v.clone();
        let meta = v["metadata"].as_object_mut().unwrap();
        for k in ["resourceVersion", "managedFields", "generation"] {
            meta.remove(k);
        }
        for (section, key) in
            [("labels", MANAGED_BY_LABEL), ("annotations", RELEASE_NAME_ANNOTATION), ("annotations", RELEASE_NAMESPACE_ANNOTATION)]
        {
            if let Some(m) = meta.get_mut(section).and_then(Value::as_object_mut) {
                m.remove(key);
                if m.is_empty() {
                    meta.remove(section);
                }
            }
        }
        v
    }
    assert_eq!(strip(before), strip(after));
}

/// A minimal chart: Chart.yaml plus one ConfigMap template per name.
fn chart(dir: &Path, chart_name: &str, configmaps: &[&str]) -> PathBuf {
    let root = dir.join(chart_name);
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("templates")).unwrap();
    std::fs::write(root.join("Chart.yaml"), format!("apiVersion: v2\nname: {chart_name}\nversion: 0.1.0\n")).unwrap();
    for name in configmaps {
        std::fs::write(
            root.join("templates").join(format!("{name}.yaml")),
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  key: value of {name}\n  multi: |\n    line 1\n    line 2\n"),
        )
        .unwrap();
    }
    root
}

fn helm_history(c: &TestCluster, major: u8, release: &str, ns: &str) -> Vec<Value> {
    let out = run_ok(c.helm(major).args(["history", release, "-n", ns, "-o", "json"]));
    serde_json::from_str(&out).unwrap()
}

// ---- tests --------------------------------------------------------------------------------------------------

/// RESOURCE arguments (kubectl's spellings), every classification, cluster-scoped and custom resources; only the
/// default selection is touched and only the three keys change.
#[test]
fn resource_arguments_every_state_cluster_scoped_and_custom() {
    let c = TestCluster::start();
    let ns = c.namespace("adopt-args");
    let other_ns = c.namespace("adopt-clus");
    let (ol, oa) = owned_by("app", &ns);
    let (fl, fa) = owned_by("other", &ns);
    c.create_object(cm(&ns, "plain", json!({"app": "x"}), json!({"keep": "me"})));
    c.create_object(cm(&ns, "half", json!({MANAGED_BY_LABEL: "Helm"}), json!({RELEASE_NAME_ANNOTATION: ""})));
    c.create_object(cm(&ns, "mine", ol, oa));
    c.create_object(cm(&ns, "theirs", fl, fa));
    let role = format!("{ns}-reader");
    c.create_object(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": role}, "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]
    }));
    c.install_widget_crd();
    c.create_object(json!({"apiVersion": "shop.example.com/v1", "kind": "Widget", "metadata": {"name": "w1", "namespace": ns}, "spec": {"color": "blue"}}));
    let before: BTreeMap<&str, Value> = [
        ("plain", get_cm(&c, &ns, "plain").unwrap()),
        ("half", get_cm(&c, &ns, "half").unwrap()),
        ("mine", get_cm(&c, &ns, "mine").unwrap()),
        ("theirs", get_cm(&c, &ns, "theirs").unwrap()),
        ("role", get(&c, "rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", None, &role).unwrap()),
        ("namespace", get(&c, "v1", "Namespace", "namespaces", None, &other_ns).unwrap()),
    ]
    .into_iter()
    .collect();

    let role_arg = format!("clusterrole/{role}");
    let ns_arg = format!("namespaces/{other_ns}");
    let args = vec![
        "cm/plain",
        "configmaps/half",
        "configmap/mine",
        "ConfigMap/theirs",
        "cm/ghost",
        &role_arg,
        &ns_arg,
        "widgets.shop.example.com/w1",
    ];

    // Without a terminal and without --yes: the plan is shown, nothing changes, and the error says what to do.
    let mut plan_args = args.clone();
    plan_args.extend(["--release", "app", "-n", &ns]);
    let refused = werf(&c, &plan_args, None);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("re-run with --yes"), "{}", refused.stderr);
    for header in ["RESOURCE", "NAMESPACE", "STATE", "OWNER/DETAIL"] {
        assert!(refused.stdout.contains(header), "{}", refused.stdout);
    }
    assert!(refused.stdout.contains("release other in namespace"), "{}", refused.stdout);
    assert_eq!(get_cm(&c, &ns, "plain").unwrap(), before["plain"]);

    let mut yes_args = plan_args.clone();
    yes_args.extend(["--yes", "-o", "json"]);
    let report = json_of(&werf_ok(&c, &yes_args, None));
    assert_eq!(report["release"], "app");
    assert_eq!(report["releaseNamespace"], ns.as_str());
    let got = states(&report);
    let want = |s: &str, r: &str| (s.to_string(), r.to_string());
    assert_eq!(got["ConfigMap/plain"], want("unowned", "adopted"));
    assert_eq!(got["ConfigMap/half"], want("partial", "adopted"));
    assert_eq!(got["ConfigMap/mine"], want("owned", "unchanged"));
    assert_eq!(got["ConfigMap/theirs"], want("foreign", "skipped"));
    assert_eq!(got["ConfigMap/ghost"], want("missing", "unchanged"));
    assert_eq!(got[&format!("ClusterRole/{role}")], want("unowned", "adopted"));
    assert_eq!(got[&format!("Namespace/{other_ns}")], want("unowned", "adopted"));
    assert_eq!(entry(&report, "ConfigMap/theirs")["owner"], json!({"release": "other", "namespace": ns}));
    assert!(entry(&report, &format!("ClusterRole/{role}")).get("namespace").is_none());
    assert_eq!(entry(&report, "ConfigMap/half")["problems"].as_array().unwrap().len(), 2);

    for name in ["plain", "half"] {
        let after = get_cm(&c, &ns, name).unwrap();
        assert_owned(&after, "app", &ns);
        assert_only_ownership_changed(&before[name], &after);
    }
    assert_eq!(get_cm(&c, &ns, "mine").unwrap(), before["mine"], "owned objects are not patched");
    assert_eq!(get_cm(&c, &ns, "theirs").unwrap(), before["theirs"], "foreign objects need --force");
    let role_after = get(&c, "rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", None, &role).unwrap();
    assert_owned(&role_after, "app", &ns);
    assert_only_ownership_changed(&before["role"], &role_after);
    let ns_after = get(&c, "v1", "Namespace", "namespaces", None, &other_ns).unwrap();
    assert_owned(&ns_after, "app", &ns);
    assert_only_ownership_changed(&before["namespace"], &ns_after);
    assert_eq!(got["Widget/w1"], want("unowned", "adopted"));
    let w = get(&c, "shop.example.com/v1", "Widget", "widgets", Some(&ns), "w1").unwrap();
    assert_owned(&w, "app", &ns);
    assert_eq!(w["spec"], json!({"color": "blue"}));

    // Running again: everything is in place, nothing to do.
    let again = werf_ok(&c, &["cm/plain", "cm/half", "--release", "app", "-n", &ns], None);
    assert!(again.stdout.contains("Nothing to adopt."), "{}", again.stdout);

    // An unknown type is an error before anything is read.
    let bad = werf(&c, &["gadgets/x", "--release", "app", "-n", &ns, "--yes"], None);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains(r#"the server doesn't have a resource type "gadgets""#), "{}", bad.stderr);
    let _ = run(c.kubectl().args(["delete", "clusterrole", &role, "--ignore-not-found"]));
}

/// The proof: real helm refuses the pre-existing object before adopt and takes it after. The error Helm prints
/// is what `--from-error` reads (captured live from helm 3.17 and 4.1), with the release taken from it.
/// `helm install --dry-run=server` runs Helm's real ownership check against the server and stops before writing
/// its release record; a real install follows.
#[test]
fn real_helm_fails_before_and_installs_after_from_error() {
    let c = TestCluster::start();
    for major in [3u8, 4] {
        let ns = c.namespace(&format!("adopt-helm{major}"));
        let chart = chart(c.dir.path(), &format!("app{major}"), &["settings"]);
        c.create_object(cm(&ns, "settings", json!({"team": "a"}), json!({"owner": "ops"})));
        let before = get_cm(&c, &ns, "settings").unwrap();
        let helm_install = || {
            let mut cmd = c.helm(major);
            cmd.args(["install", "app", chart.to_str().unwrap(), "-n", &ns, "--dry-run=server"]);
            cmd
        };

        let failed = run(&mut helm_install());
        assert!(!failed.status.success(), "helm{major} took an object without metadata");
        let helm_error = String::from_utf8_lossy(&failed.stderr).into_owned();
        assert!(helm_error.contains("invalid ownership metadata"), "helm{major}: {helm_error}");

        // Dry run first: the exact patch, Helm's error again, exit 1, nothing changed.
        let dry = werf(&c, &["--from-error", "-", "--dry-run"], Some(&helm_error));
        assert_eq!(dry.code, 1, "{}{}", dry.stdout, dry.stderr);
        let rv = before["metadata"]["resourceVersion"].as_str().unwrap();
        let patch = format!(
            r#"{{"metadata":{{"labels":{{"{MANAGED_BY_LABEL}":"Helm"}},"annotations":{{"{RELEASE_NAME_ANNOTATION}":"app","{RELEASE_NAMESPACE_ANNOTATION}":"{ns}"}},"resourceVersion":"{rv}"}}}}"#
        );
        assert!(dry.stdout.contains(&patch), "{}", dry.stdout);
        // The error it predicts for the object as it is now is the one real helm just printed, word for word
        // after `Unable to continue with install: ` (Helm 4 writes a lower-case `unable`).
        let tail = |text: &str| text.lines().find_map(|l| l.split_once("nable to continue with install: ").map(|(_, t)| t.to_string()));
        let helm_tail = tail(&helm_error).unwrap_or_else(|| panic!("helm{major}: {helm_error}"));
        assert!(helm_tail.starts_with(&format!(r#"ConfigMap "settings" in namespace "{ns}" exists"#)), "helm{major}: {helm_error}");
        assert_eq!(tail(&dry.stderr).as_deref(), Some(helm_tail.as_str()), "helm{major}'s error, then ours:\n{helm_error}\n{}", dry.stderr);
        assert_eq!(get_cm(&c, &ns, "settings").unwrap(), before);

        // A different --release than the error names is refused.
        let mismatch = werf(&c, &["--from-error", "-", "--release", "other", "--yes"], Some(&helm_error));
        assert_eq!(mismatch.code, 2, "{}", mismatch.stderr);
        assert!(mismatch.stderr.contains("release app, not other"), "{}", mismatch.stderr);

        let report = json_of(&werf_ok(&c, &["--from-error", "-", "--yes", "-o", "json"], Some(&helm_error)));
        assert_eq!((report["release"].as_str(), report["releaseNamespace"].as_str()), (Some("app"), Some(ns.as_str())));
        assert_eq!(entry(&report, "ConfigMap/settings")["result"], "adopted");
        let after = get_cm(&c, &ns, "settings").unwrap();
        assert_owned(&after, "app", &ns);
        assert_only_ownership_changed(&before, &after);

        let checked = run_ok(&mut helm_install());
        assert!(checked.contains("STATUS: pending-install"), "helm{major}: {checked}");
        run_ok(c.helm(major).args(["upgrade", "--install", "app", chart.to_str().unwrap(), "-n", &ns]));
        assert_eq!(helm_history(&c, major, "app", &ns).last().unwrap()["status"], "deployed");
        // Helm kept the keys it checks and left other metadata alone.
        let managed = get_cm(&c, &ns, "settings").unwrap();
        assert_owned(&managed, "app", &ns);
        assert_eq!(managed["metadata"]["annotations"]["owner"], "ops");
    }
}

/// Older Helm 3 printed kind, name and values unquoted; cluster-scoped objects have no namespace part.
#[test]
fn from_error_old_unquoted_form_and_file() {
    let c = TestCluster::start();
    let ns = c.namespace("adopt-old");
    c.create_object(cm(&ns, "settings", json!({}), json!({})));
    let text = format!(
        "Error: UPGRADE FAILED: rendered manifests contain a resource that already exists. Unable to continue with update: ConfigMap settings in namespace {ns} exists and cannot be imported into the current release: invalid ownership metadata; annotation validation error: missing key \"meta.helm.sh/release-name\": must be set to legacy\n"
    );
    let file = c.dir.path().join("helm-output.txt");
    std::fs::write(&file, &text).unwrap();
    // The old form names no release namespace: it defaults to -n.
    let report =
        json_of(&werf_ok(&c, &["--from-error", file.to_str().unwrap(), "-n", &ns, "--yes", "-o", "yaml"], None).into_json_from_yaml());
    assert_eq!(report["release"], "legacy");
    assert_eq!(entry(&report, "ConfigMap/settings")["result"], "adopted");
    assert_owned(&get_cm(&c, &ns, "settings").unwrap(), "legacy", &ns);

    let nothing = werf(&c, &["--from-error", "-", "--yes"], Some("Error: something else entirely\n"));
    assert_eq!(nothing.code, 1);
    assert!(nothing.stderr.contains("no Helm ownership error found"), "{}", nothing.stderr);
}

trait YamlReport {
    fn into_json_from_yaml(self) -> Ran;
}

impl YamlReport for Ran {
    /// `-o yaml` parsed and re-serialized as JSON, so the same helpers read it.
    fn into_json_from_yaml(self) -> Ran {
        let v: Value = serde_saphyr::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout));
        Ran { stdout: v.to_string(), ..self }
    }
}

/// `-f FILE` and `-f -`: objects that exist are candidates, the rest are `missing`. `--dry-run` is a CI
/// preflight: exit 1 with Helm's would-be error for each object Helm would refuse, nothing changed.
#[test]
fn manifest_file_stdin_and_dry_run_preflight() {
    let c = TestCluster::start();
    let ns = c.namespace("adopt-file");
    let role = format!("{ns}-viewer");
    let (ol, oa) = owned_by("app", &ns);
    c.create_object(cm(&ns, "existing", json!({}), json!({})));
    c.create_object(cm(&ns, "mine", ol, oa));
    c.create_object(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": role}, "rules": []
    }));
    // As `helm template` prints it: no namespaces, `# Source:` comments.
    let manifest = format!(
        "---\n# Source: app/templates/existing.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: existing\ndata:\n  key: new\n---\n# Source: app/templates/mine.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mine\n---\n# Source: app/templates/new.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: brand-new\n---\n# Source: app/templates/role.yaml\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {role}\nrules: []\n"
    );
    let file = c.dir.path().join("rendered.yaml");
    std::fs::write(&file, &manifest).unwrap();
    let before = get_cm(&c, &ns, "existing").unwrap();

    let dry = werf(&c, &["-f", file.to_str().unwrap(), "--release", "app", "-n", &ns, "--dry-run"], None);
    assert_eq!(dry.code, 1, "{}{}", dry.stdout, dry.stderr);
    // Each refusal it predicts is the one real helm prints for the same objects, word for word after
    // `Unable to continue with install: ` (Helm 4: `unable`). Helm stops at its first refusal, so it is asked
    // once per refused object: a chart rendering the manifest's ConfigMaps (`existing` refused; `mine` is the
    // release's, `brand-new` absent), then one rendering only the ClusterRole.
    let tail = |text: &str| -> Vec<String> {
        let mut t: Vec<String> =
            text.lines().filter_map(|l| l.split_once("nable to continue with install: ").map(|(_, t)| t.to_string())).collect();
        t.sort();
        t
    };
    let cms = chart(c.dir.path(), "preflight-cms", &["existing", "mine", "brand-new"]);
    let roles = chart(c.dir.path(), "preflight-role", &[]);
    std::fs::write(
        roles.join("templates/role.yaml"),
        format!("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {role}\nrules: []\n"),
    )
    .unwrap();
    for major in [3u8, 4] {
        let mut helm_tails = Vec::new();
        for chart_dir in [&cms, &roles] {
            let out = run(c.helm(major).args(["install", "app", chart_dir.to_str().unwrap(), "-n", &ns, "--dry-run=server"]));
            assert!(!out.status.success(), "helm{major} installed {} over unowned objects", chart_dir.display());
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            let t = tail(&err);
            assert_eq!(t.len(), 1, "helm{major}: one refusal: {err}");
            helm_tails.extend(t);
        }
        helm_tails.sort();
        assert!(
            helm_tails[0].starts_with(&format!(r#"ClusterRole "{role}""#)) && helm_tails[1].starts_with(r#"ConfigMap "existing""#),
            "helm{major}: {helm_tails:#?}"
        );
        assert_eq!(tail(&dry.stderr), helm_tails, "helm{major}'s refusals, then ours:\n{}", dry.stderr);
    }
    assert_eq!(dry.stderr.matches("Error: Unable to continue with install: ").count(), 2, "{}", dry.stderr);
    assert!(dry.stdout.contains("Patches (JSON merge patch, not applied: --dry-run)"), "{}", dry.stdout);
    assert!(dry.stdout.contains("brand-new") && dry.stdout.contains("missing"), "{}", dry.stdout);
    assert_eq!(get_cm(&c, &ns, "existing").unwrap(), before, "--dry-run changes nothing");
    assert!(get_cm(&c, &ns, "brand-new").is_none());

    // The same manifest from stdin, adopted.
    let report = json_of(&werf_ok(&c, &["-f", "-", "--release", "app", "-n", &ns, "--yes", "-o", "json"], Some(&manifest)));
    let got = states(&report);
    assert_eq!(got["ConfigMap/existing"], ("unowned".to_string(), "adopted".to_string()));
    // Already in the release; the ownership keys the manifest (as Helm applies it) sets move to helm (Apply).
    assert_eq!(got["ConfigMap/mine"], ("owned".to_string(), "handed-over".to_string()));
    assert_eq!(got["ConfigMap/brand-new"], ("missing".to_string(), "unchanged".to_string()));
    assert_eq!(got[&format!("ClusterRole/{role}")], ("unowned".to_string(), "adopted".to_string()));
    let after = get_cm(&c, &ns, "existing").unwrap();
    assert_only_ownership_changed(&before, &after);
    assert_eq!(after["data"]["key"], "value of existing", "adopt never applies the manifest's content");

    // Preflight passes now.
    let ok = werf_ok(&c, &["-f", file.to_str().unwrap(), "--release", "app", "-n", &ns, "--dry-run"], None);
    assert!(!ok.stderr.contains("Unable to continue"), "{}", ok.stderr);
    // stdin can be read only once.
    let twice = werf(&c, &["-f", "-", "--from-error", "-", "--release", "app", "-n", &ns], Some(""));
    assert_eq!(twice.code, 2);
    let _ = run(c.kubectl().args(["delete", "clusterrole", &role, "--ignore-not-found"]));
}

/// `--from-release`: the objects of a stored release's latest manifest (the `shop` fixture, seeded into a test
/// namespace), adopted into that release by default.
#[test]
fn from_release_fixture() {
    let c = TestCluster::start();
    let ns = c.namespace("adopt-shop");
    c.seed_file(&fixture("helm3/fx-helm3-shop-secrets.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
    for name in ["shop", "shop-cache"] {
        c.create_object(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}}));
    }
    c.install_widget_crd();
    c.create_object(json!({"apiVersion": "shop.example.com/v1", "kind": "Widget", "metadata": {"name": "shop", "namespace": ns}, "spec": {"color": "blue"}}));
    let r = werf_ok(&c, &["--from-release", "shop", "-n", &ns, "--yes", "-o", "json"], None);
    assert!(r.stderr.contains("Objects of release shop revision 4"), "{}", r.stderr);
    let report = json_of(&r);
    assert_eq!(report["release"], "shop");
    let got = states(&report);
    assert_eq!(got["ServiceAccount/shop"].1, "adopted");
    assert_eq!(got["ServiceAccount/shop-cache"].1, "adopted");
    assert_eq!(got["Deployment/shop"], ("missing".to_string(), "unchanged".to_string()));
    assert_eq!(got["Service/shop-cache"].0, "missing");
    assert_eq!(got["Widget/shop"].1, "adopted");
    let sa = get(&c, "v1", "ServiceAccount", "serviceaccounts", Some(&ns), "shop").unwrap();
    assert_owned(&sa, "shop", &ns);
    let missing = werf(&c, &["--from-release", "nope", "-n", &ns, "--yes"], None);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("release nope has no stored revision"), "{}", missing.stderr);
}

/// Helm's rendering of a chart of ConfigMaps into a stored manifest (`---\n# Source: ...\n<doc>\n` each).
fn rendered(chart_name: &str, configmaps: &[&str]) -> String {
    configmaps
        .iter()
        .map(|name| {
            format!("---\n# Source: {chart_name}/templates/{name}.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  key: value of {name}\n")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Taking an object from release A with `--force --detach`: A gets a new revision without it, which real helm3
/// and helm4 read; A's next upgrade then leaves the moved object alone.
#[test]
fn detach_writes_a_revision_helm_reads() {
    use kubectl_werf::release::helm3::Status;
    use kubectl_werf::storage::Helm3Driver;
    use kubectl_werf::storage::Helm3Store;
    use kubectl_werf::storage::codec::DecodeLimits;

    let c = TestCluster::start();
    let ns = c.namespace("adopt-detach");
    let src = c.namespace("adopt-src");
    c.seed_file(&fixture("helm3/fx-helm3-shop-secrets.yaml"), &BTreeMap::from([("fx-helm3", src.as_str())]));
    // Release `old`, revision 1 deployed, owning two ConfigMaps (as helm would have installed them).
    let store = Helm3Store::new(c.client.clone(), Helm3Driver::Secret, DecodeLimits::default());
    let mut release = c.rt.block_on(store.get(&src, "shop", 1)).unwrap().unwrap().unwrap().release;
    release.name = "old".into();
    release.namespace = ns.clone();
    release.version = 1;
    release.info.status = Status::Deployed;
    release.info.description = "Install complete".into();
    release.manifest = rendered("old", &["moving", "staying"]);
    c.rt.block_on(store.create(&release)).unwrap();
    for name in ["moving", "staying"] {
        let (mut l, a) = owned_by("old", &ns);
        l.as_object_mut().unwrap().remove("app");
        c.create_object(cm(&ns, name, l, a));
    }
    let original_manifest = run_ok(c.helm(3).args(["get", "manifest", "old", "-n", &ns]));

    // Without --force the foreign object is left alone and nothing failed.
    let skipped = json_of(&werf_ok(&c, &["cm/moving", "--release", "new", "-n", &ns, "--yes", "-o", "json"], None));
    assert_eq!(entry(&skipped, "ConfigMap/moving")["result"], "skipped");
    // --detach needs --force.
    assert_eq!(werf(&c, &["cm/moving", "--release", "new", "-n", &ns, "--detach"], None).code, 2);

    let dry = werf(&c, &["cm/moving", "--release", "new", "-n", &ns, "--force", "--detach", "--dry-run", "-o", "json"], None);
    assert_eq!(dry.code, 1);
    let dry = json_of(&dry);
    assert_eq!(dry["detached"][0]["result"], "would-detach");
    assert_eq!(dry["detached"][0]["revision"], 2);
    assert_eq!(helm_history(&c, 3, "old", &ns).len(), 1, "--dry-run writes nothing");

    let backup = c.dir.path().join("backup");
    let r = werf_ok(
        &c,
        &["cm/moving", "--release", "new", "-n", &ns, "--force", "--detach", "--yes", "--backup-dir", backup.to_str().unwrap()],
        None,
    );
    assert!(r.stderr.contains(&format!("--force: taking ConfigMap/moving from release old in namespace {ns}")), "{}", r.stderr);
    assert!(r.stdout.contains("revision 2 without ConfigMap/moving, revision 1 superseded"), "{}", r.stdout);
    assert_owned(&get_cm(&c, &ns, "moving").unwrap(), "new", &ns);
    let backups: Vec<_> = std::fs::read_dir(&backup).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(backups, [format!("{ns}_secret_sh.helm.release.v1.old.v1.yaml")]);

    let expected_manifest = original_manifest.replace(&format!("{}\n", rendered("old", &["moving"])), "");
    assert!(!expected_manifest.contains("moving") && expected_manifest.contains("staying"), "{expected_manifest}");
    for major in [3u8, 4] {
        let history = helm_history(&c, major, "old", &ns);
        assert_eq!(history.len(), 2, "helm{major}: {history:#?}");
        assert_eq!(history[0]["status"], "superseded");
        assert_eq!(history[1]["status"], "deployed");
        assert_eq!(history[1]["revision"], 2);
        assert_eq!(history[1]["description"], "Detached ConfigMap/moving to release new (kubectl-werf adopt)");
        let manifest = run_ok(c.helm(major).args(["get", "manifest", "old", "-n", &ns]));
        assert_eq!(manifest, expected_manifest, "helm{major} get manifest");
    }
    // Everything but the manifest, description, time and status of revision 1 carried over.
    let rev2 = c.rt.block_on(store.get(&ns, "old", 2)).unwrap().unwrap().unwrap().release;
    assert_eq!((rev2.chart, rev2.config, rev2.hooks), (release.chart.clone(), release.config.clone(), release.hooks.clone()));

    // The point of --detach: A's next upgrade, which no longer renders the object, keeps it.
    let old_chart = chart(c.dir.path(), "old", &["staying"]);
    run_ok(c.helm(3).args(["upgrade", "old", old_chart.to_str().unwrap(), "-n", &ns]));
    assert!(get_cm(&c, &ns, "moving").is_some(), "the moved object survived the old release's upgrade");
}

/// A concurrent writer between classification and patch loses nothing: the resourceVersion precondition makes
/// the patch fail, the object is read again (seeing the other writer's change) and patched on top of it. A
/// steal by another release in that window is refused without --force.
#[test]
fn concurrent_write_between_read_and_patch_emulator_only() {
    let c = TestCluster::start();
    let emu = c.emulator_for("injects a concurrent write between adopt's read and patch");
    let ns = c.namespace("adopt-race");
    c.create_object(cm(&ns, "race", json!({}), json!({})));
    c.create_object(cm(&ns, "stolen", json!({}), json!({})));
    let store = emu.store();
    let (s, n) = (store.clone(), ns.clone());
    emu.inject(kube_emulator::Fault::on("patch", "configmaps").name("race").nth(1).mutate(move |_| {
        s.patch(
            "configmaps",
            &n,
            "race",
            kube_emulator::PatchType::Merge,
            &json!({"data": {"other": "writer"}, "metadata": {"labels": {"x": "y"}}}),
        )
        .unwrap();
    }));
    let r = json_of(&werf_ok(&c, &["cm/race", "--release", "app", "-n", &ns, "--yes", "-o", "json"], None));
    assert_eq!(entry(&r, "ConfigMap/race")["result"], "adopted");
    let race = get_cm(&c, &ns, "race").unwrap();
    assert_owned(&race, "app", &ns);
    assert_eq!(race["data"]["other"], "writer", "the other writer's change survived");
    assert_eq!(race["metadata"]["labels"]["x"], "y");
    let patches: Vec<_> = emu.request_log().into_iter().filter(|q| q.verb == "patch" && q.name == "race").map(|q| q.status).collect();
    assert_eq!(patches, [409, 200]);

    let (s, n) = (store.clone(), ns.clone());
    emu.inject(kube_emulator::Fault::on("patch", "configmaps").name("stolen").nth(1).mutate(move |_| {
        let steal = json!({"metadata": {"labels": {MANAGED_BY_LABEL: "Helm"}, "annotations": {RELEASE_NAME_ANNOTATION: "thief", RELEASE_NAMESPACE_ANNOTATION: n}}});
        s.patch("configmaps", &n, "stolen", kube_emulator::PatchType::Merge, &steal).unwrap();
    }));
    let refused = werf(&c, &["cm/stolen", "--release", "app", "-n", &ns, "--yes", "-o", "json"], None);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    let report = json_of(&refused);
    let e = entry(&report, "ConfigMap/stolen");
    assert_eq!(e["result"], "refused");
    assert!(e["detail"].as_str().unwrap().contains("now owned by release thief"), "{e:#}");
    assert_owned(&get_cm(&c, &ns, "stolen").unwrap(), "thief", &ns);
}

/// The terminal flow: pick with space/j/k, accept with enter, confirm; cancel with q or by answering no.
#[test]
fn interactive_pick_confirm_and_cancel() {
    use expectrl::Expect;
    let c = TestCluster::start();
    let ns = c.namespace("adopt-tty");
    let (fl, fa) = owned_by("other", &ns);
    c.create_object(cm(&ns, "a-unowned", json!({}), json!({})));
    c.create_object(cm(&ns, "b-partial", json!({MANAGED_BY_LABEL: "Helm"}), json!({})));
    c.create_object(cm(&ns, "c-foreign", fl, fa));
    let snapshot = |c: &TestCluster| ["a-unowned", "b-partial", "c-foreign"].map(|n| get_cm(c, &ns, n).unwrap());
    let before = snapshot(&c);

    let spawn = |extra: &[&str]| {
        let mut cmd: Command = c.werf();
        cmd.args(["adopt", "cm/a-unowned", "cm/b-partial", "cm/c-foreign", "--release", "app", "-n", &ns]).args(extra);
        cmd.env("TERM", "xterm");
        let mut s = expectrl::Session::spawn(cmd).expect("spawn in a pty");
        s.set_expect_timeout(Some(std::time::Duration::from_secs(30)));
        s
    };
    let exit_code = |s: &mut expectrl::session::OsSession| {
        s.expect(expectrl::Eof).ok();
        match s.get_process().wait().unwrap() {
            expectrl::process::unix::WaitStatus::Exited(_, code) => code,
            other => panic!("{other:?}"),
        }
    };

    // Cancel in the picker: nothing changes.
    let mut s = spawn(&["--force"]);
    s.expect("Objects to adopt").unwrap();
    s.send("q").unwrap();
    s.expect("Cancelled; nothing was changed.").unwrap();
    assert_eq!(exit_code(&mut s), 0);
    assert_eq!(snapshot(&c), before);

    // Accept the default selection, then answer no.
    let mut s = spawn(&[]);
    s.expect("Objects to adopt").unwrap();
    s.send("\r").unwrap();
    s.expect("Adopt 2 object(s) into release app").unwrap();
    s.send("n").unwrap();
    s.expect("Cancelled; nothing was changed.").unwrap();
    assert_eq!(exit_code(&mut s), 0);
    assert_eq!(snapshot(&c), before);

    // Deselect the first, pick the foreign one (offered with --force, never preselected), confirm.
    let mut s = spawn(&["--force"]);
    s.expect("Objects to adopt").unwrap();
    s.send(" ").unwrap(); // deselect a-unowned
    s.send("j").unwrap();
    s.send("j").unwrap();
    s.send(" ").unwrap(); // select c-foreign
    s.send("\r").unwrap();
    s.expect("Adopt 2 object(s) into release app").unwrap();
    s.expect("taking 1 from another release?").unwrap();
    s.send("y").unwrap();
    s.expect("adopted").unwrap();
    assert_eq!(exit_code(&mut s), 0);
    let after = snapshot(&c);
    assert_eq!(after[0], before[0], "deselected: untouched");
    assert_owned(&after[1], "app", &ns);
    assert_owned(&after[2], "app", &ns);
    assert_only_ownership_changed(&before[1], &after[1]);
}

/// werf naming: `--project P --env E` names the release and its namespace as werf would.
#[test]
fn werf_project_and_env_name_the_release() {
    let c = TestCluster::start();
    let ns = c.namespace("wn");
    let env = ns.strip_prefix("kw-").unwrap();
    c.create_object(cm(&ns, "settings", json!({}), json!({})));
    let report = json_of(&werf_ok(&c, &["cm/settings", "--project", "kw", "--env", env, "--yes", "-o", "json"], None));
    assert_eq!((report["release"].as_str(), report["releaseNamespace"].as_str()), (Some(ns.as_str()), Some(ns.as_str())));
    assert_owned(&get_cm(&c, &ns, "settings").unwrap(), &ns, &ns);
    // Nothing names a release: a clear usage error.
    let none = werf(&c, &["cm/settings", "-n", &ns, "--yes"], None);
    assert_eq!(none.code, 2);
    assert!(none.stderr.contains("which release?"), "{}", none.stderr);
    let nothing = werf(&c, &["--release", "app"], None);
    assert_eq!(nothing.code, 2);
    assert!(nothing.stderr.contains("nothing to adopt"), "{}", nothing.stderr);
}
