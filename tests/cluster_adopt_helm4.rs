//! `adopt` for Helm 4 (issue 16): objects made in every usual way are adopted with the chart's manifest,
//! then real `helm4 install` and `helm4 upgrade --server-side=true` succeed (and, in a twin namespace,
//! `helm3 upgrade --install`): every field the chart sets has the chart's value, every field it does not set
//! is untouched. `--dry-run` predicts Helm 4 from the server's own dry-run apply. Helm 3 -> Helm 4: a helm3
//! release, a release written by migrate2to3 and an object moved with --detach are handed over with
//! `--from-release`, then `helm4 upgrade --server-side=true` succeeds.

mod common;
mod release_fixtures;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{TestCluster, run, run_ok, run_parallel};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

// ---- chart and objects ------------------------------------------------------------------------------------

const VALUES_V2: &str = "a=2,pass=chart2,targetPort=9090,replicas=4,image=nginx:1.27,tier=api";

/// A chart with the four kinds; values.yaml is version 1, `--set VALUES_V2` version 2.
fn write_chart(dir: &Path) -> PathBuf {
    let chart = dir.join("app");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: app\nversion: 0.1.0\n").unwrap();
    std::fs::write(chart.join("values.yaml"), "a: \"1\"\npass: chart\ntargetPort: 8080\nreplicas: 2\nimage: nginx:1.26\ntier: web\n")
        .unwrap();
    std::fs::write(
        chart.join("templates/configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels:\n    tier: {{ .Values.tier }}\ndata:\n  a: {{ .Values.a | quote }}\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("templates/secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\ntype: Opaque\ndata:\n  pass: {{ .Values.pass | b64enc }}\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("templates/service.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n  ports:\n  - name: http\n    port: 80\n    targetPort: {{ .Values.targetPort }}\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("templates/deployment.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: {{ .Values.replicas }}\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: web\n        image: {{ .Values.image }}\n        ports:\n        - containerPort: 80\n",
    )
    .unwrap();
    chart
}

/// The hand-made objects: the chart's objects with other values, and fields the chart does not set
/// (data.b, data.user, label hand=yes, env HAND=1).
fn hand_objects(ns: &str) -> Vec<Value> {
    vec![
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": ns}, "data": {"a": "0", "b": "keep"}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": ns}, "type": "Opaque",
               "data": {"pass": b64("old"), "user": b64("u")}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": ns, "labels": {"hand": "yes"}},
               "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 7070}]}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}],
                                                              "env": [{"name": "HAND", "value": "1"}]}]}}}}),
    ]
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn unb64(v: &Value) -> String {
    use base64::Engine;
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or("")).unwrap()).unwrap()
}

/// A stream of JSON documents (kubectl reads them one after the other).
fn write_objects(dir: &Path, name: &str, objects: &[Value]) -> PathBuf {
    let path = dir.join(name);
    let docs: Vec<String> = objects.iter().map(|o| serde_json::to_string_pretty(o).unwrap()).collect();
    std::fs::write(&path, docs.join("\n")).unwrap();
    path
}

fn ar(kind: &str) -> (ApiResource, &'static str) {
    let (group, version, plural, short) = match kind {
        "ConfigMap" => ("", "v1", "configmaps", "configmap"),
        "Secret" => ("", "v1", "secrets", "secret"),
        "Service" => ("", "v1", "services", "service"),
        "Deployment" => ("apps", "v1", "deployments", "deployment"),
        other => panic!("{other}"),
    };
    (ApiResource::from_gvk_with_plural(&kube::api::GroupVersionKind::gvk(group, version, kind), plural), short)
}

fn get(c: &TestCluster, ns: &str, kind: &str, name: &str) -> Value {
    let (ar, _) = ar(kind);
    let api: Api<DynamicObject> = Api::namespaced_with(c.client.clone(), ns, &ar);
    serde_json::to_value(c.rt.block_on(api.get(name)).unwrap_or_else(|e| panic!("{kind}/{name} in {ns}: {e}"))).unwrap()
}

/// `manager (operation[, subresource])` of every managedFields entry owning anything.
fn managers(obj: &Value) -> Vec<String> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| match e.get("subresource").and_then(Value::as_str) {
                    Some(s) => format!("{} ({}, {s})", e["manager"].as_str().unwrap(), e["operation"].as_str().unwrap()),
                    None => format!("{} ({})", e["manager"].as_str().unwrap(), e["operation"].as_str().unwrap()),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn entry<'a>(obj: &'a Value, manager: &str, operation: &str) -> Option<&'a Value> {
    obj["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == operation && e.get("subresource").is_none())
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn werf(c: &TestCluster, args: &[&str]) -> Output {
    run(c.werf().arg("adopt").args(args))
}

fn werf_ok(c: &TestCluster, args: &[&str]) -> String {
    let out = werf(c, args);
    assert!(out.status.success(), "adopt {args:?} failed ({:?}):\n{}", out.status.code(), text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn helm_ok(c: &TestCluster, major: u8, args: &[&str]) -> String {
    run_ok(c.helm(major).args(args))
}

/// `helm template` of the chart: the manifest to adopt with.
fn manifest(c: &TestCluster, chart: &Path, release: &str, ns: &str, dir: &Path, extra: &[&str]) -> PathBuf {
    let text = run_ok(c.helm(4).args(["template", release]).arg(chart).args(["-n", ns]).args(extra));
    let path = dir.join(format!("{ns}-{release}-manifest.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// An editor for `kubectl edit` that changes the ConfigMap's `a` to "5".
fn editor(dir: &Path) -> PathBuf {
    let path = dir.join("edit-a.sh");
    if !path.exists() {
        let tmp = dir.join(format!("edit-a.{}.sh", std::process::id()));
        std::fs::write(&tmp, "#!/bin/sh\nsed -i 's/^  a: \"0\"$/  a: \"5\"/' \"$1\"\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
        let _ = std::fs::rename(&tmp, &path);
    }
    path
}

// ---- the ways objects are made --------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Made {
    /// `kubectl create configmap|secret generic`, `kubectl create -f` for the service and deployment.
    KubectlCreate,
    /// `kubectl apply -f` (client-side: last-applied annotation, manager kubectl-client-side-apply).
    ClientSideApply,
    /// `kubectl apply --server-side -f` (manager kubectl, Apply).
    ServerSideApply,
    /// KubectlCreate, then `kubectl edit` (data.a), `label`, `annotate` and `scale` (the scale subresource:
    /// its spec.replicas moves only with --force).
    Touched,
    /// `helm3 install other`: objects of another release, taken with --force.
    OtherRelease,
    /// KubectlCreate, and the Deployment's status written through the status subresource by its own manager.
    StatusWriter,
    /// `kubectl apply --server-side --field-manager argocd-controller`: another Apply manager, moved only with --force.
    ForeignApplier,
}

fn make(c: &TestCluster, made: Made, ns: &str, dir: &Path, chart: &Path) {
    let objs = hand_objects(ns);
    let all = write_objects(dir, &format!("{ns}-hand.json"), &objs);
    let rest = write_objects(dir, &format!("{ns}-hand-svc-deploy.json"), &objs[2..]);
    let kubectl = |args: &[&str]| run_ok(c.kubectl().args(args));
    match made {
        Made::KubectlCreate | Made::Touched | Made::StatusWriter => {
            kubectl(&["create", "configmap", "settings", "-n", ns, "--from-literal=a=0", "--from-literal=b=keep"]);
            kubectl(&["create", "secret", "generic", "creds", "-n", ns, "--from-literal=pass=old", "--from-literal=user=u"]);
            kubectl(&["create", "-f", rest.to_str().unwrap()]);
        }
        Made::ClientSideApply => {
            kubectl(&["apply", "-f", all.to_str().unwrap()]);
        }
        Made::ServerSideApply => {
            kubectl(&["apply", "--server-side", "-f", all.to_str().unwrap()]);
        }
        Made::ForeignApplier => {
            kubectl(&["apply", "--server-side", "--field-manager", "argocd-controller", "-f", all.to_str().unwrap()]);
        }
        Made::OtherRelease => {
            helm_ok(
                c,
                3,
                &[
                    "install",
                    "other",
                    chart.to_str().unwrap(),
                    "-n",
                    ns,
                    "--set",
                    "a=0,pass=old,targetPort=7070,replicas=1,image=nginx:1.25",
                ],
            );
        }
    }
    if made == Made::Touched {
        kubectl(&["label", "configmap", "settings", "-n", ns, "team=ops"]);
        kubectl(&["annotate", "secret", "creds", "-n", ns, "note=by-hand"]);
        let out =
            run(c.kubectl().args(["edit", "configmap", "settings", "-n", ns]).env("EDITOR", editor(dir)).env("KUBE_EDITOR", editor(dir)));
        assert!(out.status.success(), "kubectl edit: {}", text(&out));
        kubectl(&["scale", "deployment", "web", "-n", ns, "--replicas=3"]);
        assert_eq!(get(c, ns, "ConfigMap", "settings")["data"]["a"], "5", "kubectl edit changed a");
    }
    if made == Made::StatusWriter {
        write_status(c, ns);
    }
}

fn write_status(c: &TestCluster, ns: &str) {
    let (ar, _) = ar("Deployment");
    let api: Api<DynamicObject> = Api::namespaced_with(c.client.clone(), ns, &ar);
    let params = PatchParams { field_manager: Some("status-writer".into()), ..Default::default() };
    let patch = json!({"status": {"replicas": 1, "updatedReplicas": 1, "observedGeneration": 1}});
    c.rt.block_on(api.patch_status("web", &params, &Patch::Merge(&patch))).unwrap();
}

/// Extra adopt flags a case needs: --force where fields (or objects) belong to someone who is only
/// overruled with it.
fn force_needed(made: Made) -> bool {
    matches!(made, Made::Touched | Made::OtherRelease | Made::ForeignApplier)
}

/// The chart's values (version 1 or 2) are on the objects; what the chart does not set is as it was made.
fn check_objects(c: &TestCluster, ns: &str, made: Made, v2: bool, helm: &str) {
    let ctx = format!("{made:?} after {helm}");
    let cm = get(c, ns, "ConfigMap", "settings");
    assert_eq!(cm["data"]["a"], if v2 { "2" } else { "1" }, "{ctx}: {cm:#}");
    if made != Made::OtherRelease {
        assert_eq!(cm["data"]["b"], "keep", "{ctx}: a field the chart does not set is untouched");
    }
    assert_eq!(cm["metadata"]["labels"]["tier"], if v2 { "api" } else { "web" }, "{ctx}");
    if made == Made::Touched {
        assert_eq!(cm["metadata"]["labels"]["team"], "ops", "{ctx}: kubectl label's label stays");
    }
    let secret = get(c, ns, "Secret", "creds");
    assert_eq!(unb64(&secret["data"]["pass"]), if v2 { "chart2" } else { "chart" }, "{ctx}");
    if made != Made::OtherRelease {
        assert_eq!(unb64(&secret["data"]["user"]), "u", "{ctx}: a key the chart does not set is untouched");
    }
    if made == Made::Touched {
        assert_eq!(secret["metadata"]["annotations"]["note"], "by-hand", "{ctx}");
    }
    let svc = get(c, ns, "Service", "web");
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], if v2 { 9090 } else { 8080 }, "{ctx}: {svc:#}");
    if made != Made::OtherRelease {
        assert_eq!(svc["metadata"]["labels"]["hand"], "yes", "{ctx}");
    }
    let deploy = get(c, ns, "Deployment", "web");
    assert_eq!(deploy["spec"]["replicas"], if v2 { 4 } else { 2 }, "{ctx}");
    let container = &deploy["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], if v2 { "nginx:1.27" } else { "nginx:1.26" }, "{ctx}");
    if made != Made::OtherRelease {
        assert_eq!(container["env"][0], json!({"name": "HAND", "value": "1"}), "{ctx}: the env the chart does not set stays");
    }
    if made == Made::StatusWriter {
        assert_eq!(deploy["status"]["updatedReplicas"], 1, "{ctx}: status untouched: {deploy:#}");
        let status = deploy["metadata"]["managedFields"].as_array().unwrap().iter().find(|e| e["subresource"] == "status").unwrap();
        assert_eq!(status["manager"], "status-writer", "{ctx}: the status entry stays with its manager");
        assert!(status["fieldsV1"]["f:status"].get("f:updatedReplicas").is_some(), "{ctx}: {status}");
    }
}

/// One case: adopt with the manifest, then helm4 install + upgrade --server-side=true in one namespace,
/// helm3 upgrade --install in a twin.
fn run_case(c: &TestCluster, made: Made, dir: &Path, chart: &Path) -> String {
    let mut note = String::new();
    for major in [4u8, 3] {
        let ns = c.namespace(&format!("h{major}-{made:?}"));
        make(c, made, &ns, dir, chart);
        let manifest = manifest(c, chart, "app", &ns, dir, &[]);
        let m = manifest.to_str().unwrap();
        let mut args = vec!["-f", m, "--release", "app", "-n", &ns, "--yes", "-o", "json"];
        if force_needed(made) {
            args.push("--force");
        }
        let before = get(c, &ns, "ConfigMap", "settings");
        let report: Value = serde_json::from_str(&werf_ok(c, &args)).unwrap();
        for o in report["objects"].as_array().unwrap() {
            assert!(matches!(o["result"].as_str(), Some("adopted")), "{made:?}: {o:#}");
            assert!(o["fieldOwnership"]["moves"].as_array().is_some_and(|m| !m.is_empty()), "{made:?}: fields move: {o:#}");
        }
        let after = get(c, &ns, "ConfigMap", "settings");
        if major == 4 && made == Made::Touched {
            note = format!(
                "ConfigMap/settings ({made:?}) managedFields before adopt: {}\nafter adopt: {}",
                json!(before["metadata"]["managedFields"]),
                json!(after["metadata"]["managedFields"])
            );
        }
        // adopt changed no value, and helm (Apply) now owns what the chart sets.
        assert_eq!(after["data"], before["data"], "{made:?}: adopt changes no value");
        let helm = entry(&after, "helm", "Apply").unwrap_or_else(|| panic!("{made:?}: no helm Apply entry: {:?}", managers(&after)));
        assert!(helm["fieldsV1"]["f:data"].get("f:a").is_some(), "{made:?}: {helm}");
        // A second run has nothing left to move.
        let again: Value = serde_json::from_str(&werf_ok(c, &args)).unwrap();
        assert!(again["objects"].as_array().unwrap().iter().all(|o| o["result"] == "unchanged"), "{made:?}: re-run: {again:#}");
        let chart_s = chart.to_str().unwrap();
        if major == 4 {
            helm_ok(c, 4, &["install", "app", chart_s, "-n", &ns]);
            check_objects(c, &ns, made, false, "helm4 install");
            helm_ok(c, 4, &["upgrade", "app", chart_s, "-n", &ns, "--server-side=true", "--set", VALUES_V2]);
            check_objects(c, &ns, made, true, "helm4 upgrade --server-side=true");
        } else {
            helm_ok(c, 3, &["upgrade", "--install", "app", chart_s, "-n", &ns]);
            check_objects(c, &ns, made, false, "helm3 upgrade --install");
            helm_ok(c, 3, &["upgrade", "app", chart_s, "-n", &ns, "--set", VALUES_V2]);
            check_objects(c, &ns, made, true, "helm3 upgrade");
        }
    }
    note
}

#[test]
fn every_way_of_making_objects_then_helm4_and_helm3_take_them_over() {
    let c = TestCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let chart = write_chart(dir.path());
    let cases = [
        Made::KubectlCreate,
        Made::ClientSideApply,
        Made::ServerSideApply,
        Made::Touched,
        Made::OtherRelease,
        Made::StatusWriter,
        Made::ForeignApplier,
    ];
    let results = run_parallel(&cases, 4, |made| run_case(&c, *made, dir.path(), &chart));
    let failures: Vec<String> = cases.iter().zip(&results).filter_map(|(m, r)| r.as_ref().err().map(|e| format!("{m:?}: {e}"))).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    for r in results.into_iter().flatten().filter(|n| !n.is_empty()) {
        eprintln!("{r}");
    }
}

// ---- predictions, the no-manifest path, --keep-field-managers -------------------------------------------

#[test]
fn dry_run_predicts_helm4_from_the_servers_dry_run_apply() {
    let c = TestCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let chart = write_chart(dir.path());
    let ns = c.namespace("predict");
    make(&c, Made::Touched, &ns, dir.path(), &chart);
    let manifest = manifest(&c, &chart, "app", &ns, dir.path(), &[]);
    let m = manifest.to_str().unwrap();

    // Now: Helm 3 and Helm 4 both fail (ownership); Helm 4 also conflicts with each hand edit.
    let out = werf(&c, &["-f", m, "--release", "app", "-n", &ns, "--dry-run", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let obj = |r: &Value, name: &str| r["objects"].as_array().unwrap().iter().find(|o| o["resource"] == name).unwrap().clone();
    let cm = obj(&report, "ConfigMap/settings");
    assert_eq!(cm["helm3"], json!({"now": "fails", "afterAdopt": "passes"}), "{cm:#}");
    assert_eq!(cm["helm4"]["now"], "fails");
    assert_eq!(cm["helm4"]["afterAdopt"], "passes", "{cm:#}");
    let conflicts: Vec<(String, String)> = cm["helm4"]["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["field"].as_str().unwrap().to_string(), c["manager"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(conflicts, vec![(".data.a".to_string(), "kubectl-edit".to_string())], "{cm:#}");
    // The scaled Deployment: spec.replicas is owned through the scale subresource; without --force it stays,
    // and Helm 4 would still fail after this adopt.
    let deploy = obj(&report, "Deployment/web");
    assert_eq!(deploy["helm4"]["now"], "fails");
    assert_eq!(deploy["helm4"]["afterAdopt"], "fails", "{deploy:#}");
    assert!(deploy["helm4"]["detail"].as_str().unwrap().contains(".spec.replicas"), "{deploy:#}");
    assert!(deploy["fieldOwnership"]["kept"][0]["subresource"] == "scale", "{deploy:#}");
    let managers: Vec<&str> = deploy["helm4"]["conflicts"].as_array().unwrap().iter().map(|c| c["manager"].as_str().unwrap()).collect();
    assert!(managers.contains(&"kubectl") && managers.contains(&"kubectl-create"), "{deploy:#}");
    // The table says the same.
    let out = werf(&c, &["-f", m, "--release", "app", "-n", &ns, "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    for needle in [
        "Prediction",
        "fails/passes",
        ".data.a (kubectl-edit)",
        "keeps kubectl (Update, subresource scale): .spec.replicas",
        "moves kubectl-create (Update)",
    ] {
        assert!(t.contains(needle), "{needle:?} in:\n{t}");
    }
    // With --force everything passes after adopt; nothing was changed by the dry runs.
    let out = werf(&c, &["-f", m, "--release", "app", "-n", &ns, "--dry-run", "--force", "-o", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["objects"].as_array().unwrap().iter().all(|o| o["helm4"]["afterAdopt"] == "passes"), "{report:#}");
    assert!(entry(&get(&c, &ns, "ConfigMap", "settings"), "helm", "Apply").is_none());
    // After adopt --force, the prediction is clean and the exit code 0; real Helm 4 agrees.
    werf_ok(&c, &["-f", m, "--release", "app", "-n", &ns, "--yes", "--force"]);
    let out = werf(&c, &["-f", m, "--release", "app", "-n", &ns, "--dry-run", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["objects"].as_array().unwrap().iter().all(|o| o["helm4"]["now"] == "passes" && o["helm3"]["now"] == "passes"),
        "{report:#}"
    );
    helm_ok(&c, 4, &["install", "app", chart.to_str().unwrap(), "-n", &ns]);
}

#[test]
fn without_a_manifest_only_ownership_is_stamped_and_adopt_says_how_to_pass_one() {
    let c = TestCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let chart = write_chart(dir.path());
    let chart_s = chart.to_str().unwrap();
    // RESOURCE arguments: stamped, a warning naming `helm template ... | kubectl werf adopt -f -`.
    let ns = c.namespace("nomanifest");
    make(&c, Made::KubectlCreate, &ns, dir.path(), &chart);
    let out = werf(&c, &["configmap/settings", "secret/creds", "service/web", "deployment/web", "--release", "app", "-n", &ns, "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("warning: no manifest") && t.contains(&format!("helm template app CHART -n {ns} | kubectl werf adopt -f -")), "{t}");
    let cm = get(&c, &ns, "ConfigMap", "settings");
    assert!(entry(&cm, "helm", "Apply").is_none(), "no field moved: {:?}", managers(&cm));
    // ... and Helm 4 then fails exactly as the warning says, on a field kubectl create owns.
    let out = run(c.helm(4).args(["install", "app", chart_s, "-n", &ns]));
    assert!(!out.status.success());
    let err = text(&out);
    assert!(err.contains("conflict occurred while applying object") && err.contains("kubectl-create"), "{err}");

    // --keep-field-managers with a manifest: same (stamped, no field moved), no warning.
    let ns = c.namespace("keepfm");
    make(&c, Made::KubectlCreate, &ns, dir.path(), &chart);
    let manifest = manifest(&c, &chart, "app", &ns, dir.path(), &[]);
    let out = werf(&c, &["-f", manifest.to_str().unwrap(), "--release", "app", "-n", &ns, "--yes", "--keep-field-managers"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("warning"), "{}", text(&out));
    let cm = get(&c, &ns, "ConfigMap", "settings");
    assert!(entry(&cm, "helm", "Apply").is_none(), "{:?}", managers(&cm));
    assert_eq!(cm["metadata"]["annotations"]["meta.helm.sh/release-name"], "app");
    assert!(!run(c.helm(4).args(["install", "app", chart_s, "-n", &ns])).status.success());
}

#[test]
fn foreign_apply_managers_keep_their_fields_without_force() {
    let c = TestCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let chart = write_chart(dir.path());
    let ns = c.namespace("argo");
    make(&c, Made::ForeignApplier, &ns, dir.path(), &chart);
    let manifest = manifest(&c, &chart, "app", &ns, dir.path(), &[]);
    let m = manifest.to_str().unwrap();
    let report: Value = serde_json::from_str(&werf_ok(&c, &["-f", m, "--release", "app", "-n", &ns, "--yes", "-o", "json"])).unwrap();
    let cm = report["objects"].as_array().unwrap().iter().find(|o| o["resource"] == "ConfigMap/settings").unwrap();
    assert_eq!(cm["result"], "adopted", "ownership is stamped: {cm:#}");
    assert_eq!(cm["fieldOwnership"]["kept"][0]["manager"], "argocd-controller", "{cm:#}");
    assert!(cm["fieldOwnership"]["kept"][0]["reason"].as_str().unwrap().contains("--force"), "{cm:#}");
    let live = get(&c, &ns, "ConfigMap", "settings");
    assert!(entry(&live, "argocd-controller", "Apply").unwrap()["fieldsV1"]["f:data"].get("f:a").is_some(), "{:?}", managers(&live));
    let out = run(c.helm(4).args(["install", "app", chart.to_str().unwrap(), "-n", &ns]));
    assert!(!out.status.success(), "Helm 4 still conflicts with argocd-controller");
    assert!(text(&out).contains("argocd-controller"), "{}", text(&out));
    // With --force the fields move (the object is already in the release: handed over).
    let report: Value =
        serde_json::from_str(&werf_ok(&c, &["-f", m, "--release", "app", "-n", &ns, "--yes", "--force", "-o", "json"])).unwrap();
    let cm = report["objects"].as_array().unwrap().iter().find(|o| o["resource"] == "ConfigMap/settings").unwrap();
    assert_eq!(cm["result"], "handed-over", "{cm:#}");
    helm_ok(&c, 4, &["upgrade", "--install", "app", chart.to_str().unwrap(), "-n", &ns, "--server-side=true"]);
    check_objects(&c, &ns, Made::ForeignApplier, false, "helm4 upgrade --install");
}

// ---- Helm 3 -> Helm 4 --------------------------------------------------------------------------------------

/// Hand edits Helm 4 conflicts with: data.a (kubectl edit) and spec.replicas (kubectl scale).
fn hand_edit(c: &TestCluster, ns: &str, dir: &Path) {
    let cm = get(c, ns, "ConfigMap", "settings");
    let a = cm["data"]["a"].as_str().unwrap().to_string();
    let script = dir.join(format!("{ns}-edit.sh"));
    std::fs::write(&script, format!("#!/bin/sh\nsed -i 's/^  a: \"{a}\"$/  a: \"5\"/' \"$1\"\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = run(c.kubectl().args(["edit", "configmap", "settings", "-n", ns]).env("EDITOR", &script).env("KUBE_EDITOR", &script));
    assert!(out.status.success(), "kubectl edit: {}", text(&out));
    assert_eq!(get(c, ns, "ConfigMap", "settings")["data"]["a"], "5");
    run_ok(c.kubectl().args(["scale", "deployment", "web", "-n", ns, "--replicas=3"]));
}

fn helm4_upgrade_fails_then_adopt_from_release_then_succeeds(c: &TestCluster, ns: &str, release: &str, chart: &Path, extra_adopt: &[&str]) {
    let chart_s = chart.to_str().unwrap();
    let out = run(c.helm(4).args(["upgrade", release, chart_s, "-n", ns, "--server-side=true", "--set", VALUES_V2]));
    assert!(!out.status.success(), "helm4 upgrade should conflict with the hand edits");
    let err = text(&out);
    assert!(err.contains("conflict") && (err.contains("kubectl-edit") || err.contains("\"kubectl\"")), "{err}");
    let mut args = vec!["--from-release", release, "-n", ns, "--yes", "--force", "-o", "json"];
    args.extend_from_slice(extra_adopt);
    let report: Value = serde_json::from_str(&werf_ok(c, &args)).unwrap();
    let cm = report["objects"].as_array().unwrap().iter().find(|o| o["resource"] == "ConfigMap/settings").unwrap();
    assert!(matches!(cm["result"].as_str(), Some("handed-over" | "adopted")), "{cm:#}");
    let moved: Vec<&str> = cm["fieldOwnership"]["moves"].as_array().unwrap().iter().map(|m| m["manager"].as_str().unwrap()).collect();
    assert!(moved.contains(&"kubectl-edit"), "{cm:#}");
    helm_ok(c, 4, &["upgrade", release, chart_s, "-n", ns, "--server-side=true", "--set", VALUES_V2]);
    let cm = get(c, ns, "ConfigMap", "settings");
    assert_eq!(cm["data"]["a"], "2", "{cm:#}");
    assert_eq!(get(c, ns, "Deployment", "web")["spec"]["replicas"], 4);
    let status: Value = serde_json::from_str(&helm_ok(c, 4, &["status", release, "-n", ns, "-o", "json"])).unwrap();
    assert_eq!(status["info"]["status"], "deployed", "{status:#}");
}

#[test]
fn helm3_release_then_helm4_server_side_upgrade() {
    let c = TestCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let chart = write_chart(dir.path());
    let ns = c.namespace("h3h4");
    helm_ok(&c, 3, &["install", "app", chart.to_str().unwrap(), "-n", &ns]);
    hand_edit(&c, &ns, dir.path());
    helm4_upgrade_fails_then_adopt_from_release_then_succeeds(&c, &ns, "app", &chart, &[]);
}

#[test]
fn object_moved_with_detach_then_helm4_install() {
    let c = TestCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let chart = write_chart(dir.path());
    let chart_s = chart.to_str().unwrap();
    let ns = c.namespace("detach4");
    helm_ok(&c, 3, &["install", "old", chart_s, "-n", &ns]);
    hand_edit(&c, &ns, dir.path());
    // Move old's objects into app, with their fields; old's manifest stops listing them.
    let report: Value = serde_json::from_str(&werf_ok(
        &c,
        &["--from-release", "old", "--release", "app", "-n", &ns, "--force", "--detach", "--yes", "-o", "json"],
    ))
    .unwrap();
    assert_eq!(report["detached"][0]["result"], "detached", "{report:#}");
    let cm = report["objects"].as_array().unwrap().iter().find(|o| o["resource"] == "ConfigMap/settings").unwrap();
    assert_eq!(cm["result"], "adopted", "{cm:#}");
    let live = get(&c, &ns, "ConfigMap", "settings");
    assert_eq!(live["metadata"]["annotations"]["meta.helm.sh/release-name"], "app");
    assert!(entry(&live, "helm", "Apply").unwrap()["fieldsV1"]["f:data"].get("f:a").is_some(), "{:?}", managers(&live));
    helm_ok(&c, 4, &["install", "app", chart_s, "-n", &ns, "--set", VALUES_V2]);
    assert_eq!(get(&c, &ns, "ConfigMap", "settings")["data"]["a"], "2");
    assert_eq!(get(&c, &ns, "Deployment", "web")["spec"]["replicas"], 4);
    let old_manifest = helm_ok(&c, 3, &["get", "manifest", "old", "-n", &ns]);
    assert!(!old_manifest.contains("name: settings"), "{old_manifest}");
}

#[test]
fn migrate2to3_release_then_helm4_server_side_upgrade() {
    use kubectl_werf::storage::Helm2Storage;
    use kubectl_werf::storage::codec::{self, DecodeLimits};
    use kubectl_werf::storage::{Helm2Store, ObjectKind};
    let c = TestCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let chart = write_chart(dir.path());
    let tiller = c.namespace("tiller4");
    let ns = c.namespace("legacy4");
    // A Helm 2 release of this chart (the genuine Helm 2 wrapping of a synthetic record, this chart's
    // rendered manifest), and its objects as Tiller created them (field manager tiller).
    let rendered = run_ok(c.helm(3).args(["template", "legacy"]).arg(&chart).args(["-n", &ns]));
    let record = release_fixtures::load("helm2-synthetic").into_iter().find(|r| r.name == "shop.v4").unwrap();
    let mut rel = codec::decode_helm2(&record.payload, &DecodeLimits::default()).unwrap();
    rel.name = "legacy".into();
    rel.namespace = ns.clone();
    rel.version = 1;
    rel.manifest = rendered.clone();
    let store = Helm2Store::new(c.client.clone(), &tiller, Helm2Storage::Auto, DecodeLimits::default());
    c.rt.block_on(store.create(ObjectKind::ConfigMap, &rel)).unwrap();
    let objects = dir.path().join("legacy.yaml");
    std::fs::write(&objects, &rendered).unwrap();
    run_ok(c.kubectl().args(["create", "-n", &ns, "--field-manager", "tiller", "-f"]).arg(&objects));
    hand_edit(&c, &ns, dir.path());
    let out = run(c.werf().args(["migrate2to3", "legacy", "--tiller-namespace", &tiller, "--yes"]));
    assert!(out.status.success(), "{}", text(&out));
    helm4_upgrade_fails_then_adopt_from_release_then_succeeds(&c, &ns, "legacy", &chart, &[]);
    // Tiller's entry kept only what the chart does not set.
    let cm = get(&c, &ns, "ConfigMap", "settings");
    let tiller_fields = entry(&cm, "tiller", "Update").map(|e| e["fieldsV1"].clone()).unwrap_or_default();
    assert!(tiller_fields.pointer("/f:metadata/f:labels/f:tier").is_none(), "{tiller_fields}");
}

#[allow(dead_code)]
fn pipe(mut cmd: Command, input: &str) -> Output {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}
