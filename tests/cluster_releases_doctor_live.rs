//! `releases doctor`'s live-object checks against an API server (the emulator, or the real kube-apiserver
//! named by KUBECTL_WERF_TEST_KUBECONFIG): ownership (foreign-owner, shared-object) over releases real helm3
//! installed, each fix run exactly as printed (`--yes` added only when the finding says the command asks for
//! confirmation; a fix of two commands joined by `&&` runs both), doctor clean afterwards and real helm3 and
//! helm4 upgrading the releases; drift (`--drift`, `--drift=server`) after kubectl edits and a deletion, with
//! no false drift from the server's canonical quantities, fixed by the `helm rollback` the advice names.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{TestCluster, run, run_ok};
use serde_json::Value;

fn text(o: &Output) -> String {
    format!("status {}\nstdout:\n{}\nstderr:\n{}", o.status, String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// `releases doctor ARGS -o json`: exit code and the document.
fn doctor(c: &TestCluster, args: &[&str]) -> (i32, Value, Output) {
    let out = run(c.werf().args(["releases", "doctor"]).args(args).args(["-o", "json"]));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out)));
    (out.status.code().unwrap_or(-1), doc, out)
}

fn findings<'a>(doc: &'a Value, check: &str) -> Vec<&'a Value> {
    doc["findings"].as_array().unwrap().iter().filter(|f| f["check"] == check).collect()
}

fn evidence(f: &Value) -> String {
    f["evidence"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect::<Vec<_>>().join("\n")
}

/// Run the fix exactly as printed: each `&&`-joined command split into words, `--yes` appended only when
/// the finding says the command asks for confirmation.
fn run_fix(c: &TestCluster, f: &Value) {
    let command = f["fix"]["command"].as_str().unwrap_or_else(|| panic!("no fix command in {f:#}"));
    for part in command.split(" && ") {
        let words: Vec<&str> = part.split_whitespace().collect();
        assert_eq!(words[..2], ["kubectl", "werf"], "{command}");
        let mut cmd = c.werf();
        cmd.args(&words[2..]);
        if f["fix"]["asksConfirmation"] == true {
            cmd.arg("--yes");
        }
        run_ok(&mut cmd);
    }
}

fn assert_clean(c: &TestCluster, ns: &str, extra: &[&str]) {
    let (code, doc, out) = doctor(c, &[&["-n", ns], extra].concat());
    assert_eq!((code, doc["findings"].as_array().map(Vec::len)), (0, Some(0)), "{}", text(&out));
}

fn helm_ok(c: &TestCluster, major: u8, args: &[&str]) -> String {
    let o = run(c.helm(major).args(args));
    assert!(o.status.success(), "helm{major} {args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn kubectl_ok(c: &TestCluster, args: &[&str]) -> String {
    let o = run(c.kubectl().args(args));
    assert!(o.status.success(), "kubectl {args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A chart named `name` with these templates.
fn chart(c: &TestCluster, name: &str, templates: &[(&str, &str)]) -> PathBuf {
    let d = c.dir.path().join(name);
    std::fs::create_dir_all(d.join("templates")).unwrap();
    std::fs::write(d.join("Chart.yaml"), format!("apiVersion: v2\nname: {name}\nversion: 0.1.0\n")).unwrap();
    for (file, body) in templates {
        std::fs::write(d.join("templates").join(file), body).unwrap();
    }
    d
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

const OWN_CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-own\ndata:\n  value: {{ .Values.value | default \"one\" | quote }}\n";
const SHARED_CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared-settings\ndata:\n  color: red\n";

/// Annotations edited by hand to name another release: foreign-owner (warning, exit 3) with the evidence,
/// the printed adopt hands it back to the release whose manifest lists it, doctor is clean, helm3 and
/// helm4 upgrade that release.
#[test]
fn foreign_owner_is_adopted_back_into_the_release_that_lists_it() {
    let c = TestCluster::start();
    let ns = c.namespace("dr-foreign");
    let ch = chart(&c, "own", &[("cm.yaml", OWN_CM)]);
    helm_ok(&c, 3, &["install", "alpha", p(&ch), "-n", &ns]);
    helm_ok(&c, 3, &["install", "beta", p(&ch), "-n", &ns]);
    assert_clean(&c, &ns, &[]);
    kubectl_ok(&c, &["annotate", "-n", &ns, "configmap", "alpha-own", "meta.helm.sh/release-name=beta", "--overwrite"]);

    let (code, doc, out) = doctor(&c, &["-n", &ns]);
    assert_eq!(code, 3, "{}", text(&out));
    let found = findings(&doc, "foreign-owner");
    assert_eq!(found.len(), 1, "{doc:#}");
    let f = found[0];
    assert_eq!((f["severity"].as_str(), f["release"]["name"].as_str()), (Some("warning"), Some("alpha")));
    let ev = evidence(f);
    assert!(ev.contains(&format!("release beta ({ns}) exists; revision 1's manifest does not contain it")), "{ev}");
    assert!(ev.contains(&format!("in the manifest of release alpha ({ns}) revision 1")), "{ev}");
    assert_eq!(
        f["fix"]["command"].as_str().unwrap(),
        format!("kubectl werf adopt -n {ns} configmaps/alpha-own --release alpha --release-namespace {ns} --force")
    );
    // The table names it too.
    let table = run(c.werf().args(["releases", "doctor", "-n", &ns]));
    assert!(String::from_utf8_lossy(&table.stdout).contains("foreign-owner"), "{}", text(&table));

    run_fix(&c, f);
    assert_clean(&c, &ns, &[]);
    helm_ok(&c, 3, &["upgrade", "alpha", p(&ch), "-n", &ns, "--set", "value=three"]);
    helm_ok(&c, 4, &["upgrade", "alpha", p(&ch), "-n", &ns, "--set", "value=four"]);
    assert_clean(&c, &ns, &[]);
}

/// A Helm-managed object naming a release that does not exist: warning with advice (no command of this
/// tool fits a leftover); following the advice (delete the leftover) makes doctor clean. Release names
/// given: the leftover names none of them, so it is not judged.
#[test]
fn foreign_owner_of_no_release_gets_advice() {
    let c = TestCluster::start();
    let ns = c.namespace("dr-stale");
    let ch = chart(&c, "own", &[("cm.yaml", OWN_CM)]);
    helm_ok(&c, 3, &["install", "gamma", p(&ch), "-n", &ns]);
    c.create_object(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "leftover", "namespace": ns,
        "labels": {"app.kubernetes.io/managed-by": "Helm"},
        "annotations": {"meta.helm.sh/release-name": "gone", "meta.helm.sh/release-namespace": ns}}}));
    let (code, doc, out) = doctor(&c, &["-n", &ns]);
    assert_eq!(code, 3, "{}", text(&out));
    let f = findings(&doc, "foreign-owner");
    assert_eq!(f.len(), 1, "{doc:#}");
    assert_eq!(f[0]["release"]["name"], "gone");
    assert!(evidence(f[0]).contains(&format!("release gone ({ns}) does not exist")), "{:#}", f[0]);
    assert!(f[0]["fix"]["command"].is_null());
    let advice = f[0]["fix"]["advice"].as_str().unwrap();
    let delete = format!("kubectl delete -n {ns} configmaps/leftover");
    assert!(advice.contains(&delete), "{advice}");
    assert_clean(&c, &ns, &["gamma"]);
    kubectl_ok(&c, &delete.split_whitespace().skip(1).collect::<Vec<_>>());
    assert_clean(&c, &ns, &[]);
}

/// One ConfigMap in two releases' manifests (real helm3: the second install takes it with
/// --take-ownership): shared-object (error, exit 4) on the release that does not hold it; the printed fix
/// keeps it with the release its annotations name and writes the other's revision without it; doctor is
/// clean, and upgrading the other release with a chart that no longer renders it leaves it in place
/// (before the fix that upgrade deletes it: helm/helm#12683).
#[test]
fn shared_object_stays_with_its_owner_and_leaves_the_other_manifest() {
    let c = TestCluster::start();
    let ns = c.namespace("dr-shared");
    let first = chart(&c, "first", &[("own.yaml", OWN_CM), ("shared.yaml", SHARED_CM)]);
    let second = chart(&c, "second", &[("own.yaml", OWN_CM), ("shared.yaml", SHARED_CM)]);
    let first_without = chart(&c, "first-without", &[("own.yaml", OWN_CM)]);
    helm_ok(&c, 3, &["install", "old", p(&first), "-n", &ns]);
    helm_ok(&c, 3, &["install", "new", p(&second), "-n", &ns, "--take-ownership"]);

    let (code, doc, out) = doctor(&c, &["-n", &ns]);
    assert_eq!(code, 4, "{}", text(&out));
    let found = findings(&doc, "shared-object");
    assert_eq!(found.len(), 1, "{doc:#}");
    let f = found[0];
    assert_eq!((f["severity"].as_str(), f["release"]["name"].as_str()), (Some("error"), Some("old")));
    let ev = evidence(f);
    assert!(ev.contains(&format!("in the manifest of release old ({ns}) revision 1")), "{ev}");
    assert!(ev.contains(&format!("in the manifest of release new ({ns}) revision 1")), "{ev}");
    assert!(ev.contains("live annotations: meta.helm.sh/release-name=new"), "{ev}");
    assert_eq!(
        f["fix"]["command"].as_str().unwrap(),
        format!(
            "kubectl werf adopt -n {ns} configmaps/shared-settings --release old --release-namespace {ns} --force && \
             kubectl werf adopt -n {ns} configmaps/shared-settings --release new --release-namespace {ns} --force --detach"
        )
    );
    assert!(findings(&doc, "foreign-owner").is_empty(), "{doc:#}");

    run_fix(&c, f);
    assert_clean(&c, &ns, &[]);
    let owner = kubectl_ok(&c, &["get", "-n", &ns, "configmap", "shared-settings", "-o", "jsonpath={.metadata.annotations}"]);
    assert!(owner.contains("\"meta.helm.sh/release-name\":\"new\""), "{owner}");
    // The old release drops it from its chart: helm no longer deletes it. The new one upgrades as it is.
    helm_ok(&c, 3, &["upgrade", "old", p(&first_without), "-n", &ns]);
    helm_ok(&c, 4, &["upgrade", "old", p(&first_without), "-n", &ns, "--set", "value=four"]);
    helm_ok(&c, 3, &["upgrade", "new", p(&second), "-n", &ns, "--set", "value=three"]);
    helm_ok(&c, 4, &["upgrade", "new", p(&second), "-n", &ns, "--set", "value=four"]);
    kubectl_ok(&c, &["get", "-n", &ns, "configmap", "shared-settings"]);
    assert_clean(&c, &ns, &[]);

    // Why it is an error: without the fix, the old release's upgrade deletes the new release's object.
    let before = c.namespace("dr-shared-before");
    helm_ok(&c, 3, &["install", "old", p(&first), "-n", &before]);
    helm_ok(&c, 3, &["install", "new", p(&second), "-n", &before, "--take-ownership"]);
    helm_ok(&c, 3, &["upgrade", "old", p(&first_without), "-n", &before]);
    let gone = run(c.kubectl().args(["get", "-n", &before, "configmap", "shared-settings"]));
    assert!(!gone.status.success() && String::from_utf8_lossy(&gone.stderr).contains("NotFound"), "{}", text(&gone));
}

const DEPLOY: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
        env:
        - name: MODE
          value: blue
        - name: EMPTY
          value: ""
        resources:
          limits:
            cpu: 1000m
            memory: 1024Mi
          requests:
            cpu: "0.5"
            memory: 512Mi
"#;
const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}-svc\nspec:\n  selector:\n    app: web\n  ports:\n  - port: 80\n    targetPort: 8080\n";
const SETTINGS: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\ndata:\n  color: red\n  size: \"3\"\n";
const EXTRA: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-extra\ndata:\n  k: v\n";
const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-creds\nstringData:\n  password: s3cr3t-value\n";

/// Drift: clean right after install (the server writes `cpu: 1000m` back as `1` and `1024Mi` as `1Gi`:
/// not drift), in both modes; then kubectl edits replicas, an env value, a ConfigMap key and a Secret key
/// and deletes a ConfigMap: both modes report each field with both values (the Secret's only as "differs")
/// and the missing object; the advised `helm rollback` makes doctor clean again, and helm3/helm4 upgrade.
#[test]
fn drift_client_and_server_report_edits_and_deletions() {
    let c = TestCluster::start();
    let ns = c.namespace("dr-drift");
    let ch = chart(
        &c,
        "app",
        &[("deploy.yaml", DEPLOY), ("svc.yaml", SERVICE), ("settings.yaml", SETTINGS), ("extra.yaml", EXTRA), ("secret.yaml", SECRET)],
    );
    helm_ok(&c, 3, &["install", "shop", p(&ch), "-n", &ns]);
    if c.is_real() {
        // The real server's canonical forms differ from the manifest's text: compared by value.
        let cpu = kubectl_ok(
            &c,
            &["get", "-n", &ns, "deploy", "shop-web", "-o", "jsonpath={.spec.template.spec.containers[0].resources.limits}"],
        );
        assert!(cpu.contains("\"cpu\":\"1\"") && cpu.contains("\"memory\":\"1Gi\""), "{cpu}");
    }
    assert_clean(&c, &ns, &["--drift"]);
    assert_clean(&c, &ns, &["--drift=server"]);

    kubectl_ok(&c, &["patch", "-n", &ns, "deploy", "shop-web", "--type", "merge", "-p", r#"{"spec":{"replicas":5}}"#]);
    kubectl_ok(
        &c,
        &[
            "patch",
            "-n",
            &ns,
            "deploy",
            "shop-web",
            "--type",
            "json",
            "-p",
            r#"[{"op":"replace","path":"/spec/template/spec/containers/0/env/0/value","value":"green"}]"#,
        ],
    );
    kubectl_ok(&c, &["patch", "-n", &ns, "configmap", "shop-settings", "--type", "merge", "-p", r#"{"data":{"color":"blue"}}"#]);
    kubectl_ok(
        &c,
        &["patch", "-n", &ns, "secret", "shop-creds", "--type", "merge", "-p", r#"{"stringData":{"password":"changed-value"}}"#],
    );
    kubectl_ok(&c, &["delete", "-n", &ns, "configmap", "shop-extra"]);

    // Without --drift the ownership check alone finds nothing.
    assert_clean(&c, &ns, &[]);
    for mode in ["--drift", "--drift=server"] {
        let (code, doc, out) = doctor(&c, &["-n", &ns, mode]);
        assert_eq!(code, 3, "{mode}: {}", text(&out));
        let missing = findings(&doc, "drift-missing");
        assert_eq!(missing.len(), 1, "{mode}: {doc:#}");
        assert!(evidence(missing[0]).contains(&format!("object: ConfigMap/shop-extra ({ns})")), "{mode}: {:#}", missing[0]);
        let fields = findings(&doc, "drift-field");
        assert_eq!(fields.len(), 3, "{mode}: {doc:#}");
        let all: String = fields.iter().map(|f| evidence(f)).collect::<Vec<_>>().join("\n");
        let word = if mode == "--drift" { "manifest" } else { "applied" };
        for line in [
            format!(".spec.replicas: {word} 2, live 5"),
            format!(".spec.template.spec.containers[name=\"web\"].env[name=\"MODE\"].value: {word} \"blue\", live \"green\""),
            format!(".data.color: {word} \"red\", live \"blue\""),
            ".data.password: differs".to_string(),
        ] {
            assert!(all.contains(&line), "{mode}: {line} not in\n{all}");
        }
        assert!(!all.contains("resources") && !all.contains("ports") && !all.contains("EMPTY"), "{mode}: false drift\n{all}");
        let printed = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert!(!printed.contains("s3cr3t") && !printed.contains("changed-value"), "{mode}: a Secret value was printed");
        assert!(!printed.contains("czNjcjN0") && !printed.contains("Y2hhbmdlZC12YWx1ZQ"), "{mode}: a Secret value was printed");
        assert!(missing[0]["fix"]["advice"].as_str().unwrap().contains(&format!("helm rollback shop 1 -n {ns}")), "{mode}");
    }

    // The advice, followed: roll back to the compared revision.
    helm_ok(&c, 3, &["rollback", "shop", "1", "-n", &ns]);
    assert_clean(&c, &ns, &["--drift"]);
    assert_clean(&c, &ns, &["--drift=server"]);
    helm_ok(&c, 3, &["upgrade", "shop", p(&ch), "-n", &ns]);
    helm_ok(&c, 4, &["upgrade", "shop", p(&ch), "-n", &ns]);
    assert_clean(&c, &ns, &["--drift"]);
}

/// A user who may read release storage in the namespace and nothing else: every other type's LIST is
/// forbidden; doctor still reads what it may, says so in one warning line naming the skipped types, and
/// its answer is otherwise unchanged.
#[test]
fn ownership_skips_types_it_may_not_list_with_one_warning() {
    let c = TestCluster::start();
    let ns = c.namespace("dr-rbac");
    let ch = chart(&c, "own", &[("cm.yaml", OWN_CM)]);
    helm_ok(&c, 3, &["install", "delta", p(&ch), "-n", &ns]);
    let user = format!("doctor-reader-{}", common::unique_suffix());
    c.create_object(serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "storage-reader", "namespace": ns},
        "rules": [{"apiGroups": [""], "resources": ["secrets", "configmaps"], "verbs": ["get", "list"]}]}));
    c.create_object(serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "storage-reader", "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "storage-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]}));
    let kubeconfig = c.dir.path().join("reader.kubeconfig");
    match &c.emulator {
        Some(emu) => {
            emu.enable_rbac();
            emu.add_user("reader-token", &user, &[]);
            std::fs::write(&kubeconfig, emu.kubeconfig_yaml_for("reader-token", Some(&ns))).unwrap();
        }
        None => {
            let text = std::fs::read_to_string(&c.kubeconfig).unwrap();
            let mut kc: Value = serde_saphyr::from_str(&text).unwrap();
            let current = kc["current-context"].as_str().unwrap().to_string();
            let ctx = kc["contexts"].as_array().unwrap().iter().find(|x| x["name"] == current.as_str()).unwrap();
            let auth = ctx["context"]["user"].as_str().unwrap().to_string();
            let entry = kc["users"].as_array_mut().unwrap().iter_mut().find(|u| u["name"] == auth.as_str()).unwrap();
            entry["user"]["as"] = Value::String(user.clone());
            std::fs::write(&kubeconfig, serde_json::to_string_pretty(&kc).unwrap()).unwrap();
        }
    }
    let as_reader = |args: &[&str]| {
        run(c.werf().env("KUBECONFIG", &kubeconfig).args(["releases", "doctor", "-n", &ns, "--helm-version", "3"]).args(args))
    };
    // A real server's authorizer sees the binding a moment later.
    let start = std::time::Instant::now();
    let mut out = as_reader(&[]);
    while !out.status.success() && start.elapsed() < std::time::Duration::from_secs(15) {
        std::thread::sleep(std::time::Duration::from_millis(100));
        out = as_reader(&[]);
    }
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("No problems found: 1 release(s)"), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("could not be listed")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("warning: ownership: ") && lines[0].contains("deployments.apps (forbidden)"), "{stderr}");
    assert!(!lines[0].contains("configmaps (") && !lines[0].contains("secrets ("), "{stderr}");
    // What it may list is still judged: a foreign annotation on its ConfigMap is found.
    kubectl_ok(&c, &["annotate", "-n", &ns, "configmap", "delta-own", "meta.helm.sh/release-name=nobody", "--overwrite"]);
    let out = as_reader(&["-o", "json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(findings(&doc, "foreign-owner").len(), 1, "{doc:#}");
}
