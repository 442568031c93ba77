//! `releases doctor` against an API server (the emulator, or the real kube-apiserver named by
//! KUBECTL_WERF_TEST_KUBECONFIG). For every storage finding: a fixture (made by real helm where helm can
//! make it, by the project's encoder where only corruption makes it), doctor reporting it (check,
//! severity, evidence), the printed fix run exactly as printed (split into words; `--yes` appended only
//! when the finding says the command asks for confirmation), doctor clean afterwards, and real helm3 and
//! helm4 upgrading the release. Where the fix is advice, the advice is checked and then followed.

mod apis_fixtures;
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{TestCluster, run, run_ok};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use kubectl_werf::release::helm3;
use kubectl_werf::storage::codec::{self, DecodeLimits};
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

/// The one finding of `check` in a doctor document.
fn finding<'a>(doc: &'a Value, check: &str) -> &'a Value {
    let all = doc["findings"].as_array().unwrap();
    let found: Vec<&Value> = all.iter().filter(|f| f["check"] == check).collect();
    assert_eq!(found.len(), 1, "one {check} finding expected in {doc:#}");
    found[0]
}

fn evidence(f: &Value) -> String {
    f["evidence"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect::<Vec<_>>().join("\n")
}

/// Run the fix command exactly as printed (in `cwd`), `--yes` added only when it asks for confirmation.
fn run_fix(c: &TestCluster, f: &Value, cwd: &Path) -> String {
    let command = f["fix"]["command"].as_str().unwrap_or_else(|| panic!("no fix command in {f:#}"));
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(words[..2], ["kubectl", "werf"], "{command}");
    let mut cmd = c.werf();
    cmd.args(&words[2..]).current_dir(cwd);
    if f["fix"]["asksConfirmation"] == true {
        cmd.arg("--yes");
    }
    run_ok(&mut cmd)
}

/// Doctor on one release finds nothing: exit 0 and the healthy line.
fn assert_clean(c: &TestCluster, name: &str, ns: &str, extra: &[&str]) {
    let (code, doc, out) = doctor(c, &[&[name, "-n", ns], extra].concat());
    assert_eq!((code, doc["findings"].as_array().map(Vec::len)), (0, Some(0)), "{}", text(&out));
    let table = run(c.werf().args(["releases", "doctor", name, "-n", ns]).args(extra));
    assert!(String::from_utf8_lossy(&table.stdout).starts_with("No problems found: 1 release(s)"), "{}", text(&table));
}

fn helm_ok(c: &TestCluster, major: u8, args: &[&str]) -> String {
    let o = run(c.helm(major).args(args));
    assert!(o.status.success(), "helm{major} {args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// helm3 then helm4 upgrade the release with `chart`.
fn helm_upgrades(c: &TestCluster, name: &str, ns: &str, chart: &Path) {
    let chart = chart.to_str().unwrap();
    helm_ok(c, 3, &["upgrade", name, chart, "-n", ns, "--set", "value=three"]);
    helm_ok(c, 4, &["upgrade", name, chart, "-n", ns, "--set", "value=four"]);
}

/// A chart of one ConfigMap; `blob` bytes of incompressible data under files/ (helm stores chart files
/// in every revision).
fn tiny_chart(c: &TestCluster, dir: &str, blob: usize) -> PathBuf {
    let d = c.dir.path().join(dir);
    std::fs::create_dir_all(d.join("templates")).unwrap();
    std::fs::write(d.join("Chart.yaml"), "apiVersion: v2\nname: tiny\nversion: 0.1.0\n").unwrap();
    std::fs::write(
        d.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n  value: {{ .Values.value | default \"one\" | quote }}\n",
    )
    .unwrap();
    if blob > 0 {
        std::fs::create_dir_all(d.join("files")).unwrap();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let bytes: Vec<u8> = (0..blob)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        std::fs::write(d.join("files/blob.bin"), bytes).unwrap();
    }
    d
}

fn install(c: &TestCluster, major: u8, name: &str, ns: &str, chart: &Path) {
    helm_ok(c, major, &["install", name, chart.to_str().unwrap(), "-n", ns]);
}

/// Rewrite a Helm 3 Secret record: its payload through `edit`, its labels through `label`.
fn rewrite_secret(
    c: &TestCluster,
    ns: &str,
    object: &str,
    edit: impl FnOnce(&mut helm3::Release),
    label: impl FnOnce(&mut BTreeMap<String, String>),
) {
    let api: Api<Secret> = Api::namespaced(c.client.clone(), ns);
    let mut s = c.rt.block_on(api.get(object)).unwrap();
    let data = s.data.get_or_insert_with(Default::default);
    let mut r = codec::decode_helm3(&data["release"].0, &DecodeLimits::default()).unwrap();
    edit(&mut r);
    data.insert("release".into(), ByteString(codec::encode_helm3(&r).unwrap().into_bytes()));
    label(s.metadata.labels.get_or_insert_with(Default::default));
    c.rt.block_on(api.replace(object, &PostParams::default(), &s)).unwrap();
}

#[test]
fn several_deployed_is_fixed_by_unlock_to_superseded() {
    let c = TestCluster::start();
    let ns = c.namespace("doc-several");
    let chart = tiny_chart(&c, "several", 0);
    install(&c, 3, "twice", &ns, &chart);
    helm_ok(&c, 4, &["upgrade", "twice", chart.to_str().unwrap(), "-n", &ns]);
    // Revision 1 deployed again beside revision 2 (what a crashed helm or a hand edit leaves).
    rewrite_secret(
        &c,
        &ns,
        "sh.helm.release.v1.twice.v1",
        |r| r.info.status = helm3::Status::Deployed,
        |l| {
            l.insert("status".into(), "deployed".into());
        },
    );
    let (code, doc, out) = doctor(&c, &["twice", "-n", &ns]);
    assert_eq!(code, 4, "{}", text(&out));
    let f = finding(&doc, "several-deployed");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["release"], serde_json::json!({"name": "twice", "namespace": ns, "storage": "secret"}));
    let ev = evidence(f);
    assert!(ev.contains("revision 1 is deployed") && ev.contains("revision 2 is deployed"), "{ev}");
    assert_eq!(
        f["fix"]["command"].as_str().unwrap(),
        format!("kubectl werf releases unlock twice -n {ns} --helm-version 3 --release-storage secret --to superseded")
    );
    assert_eq!(doc["summary"]["error"], 1);
    run_fix(&c, f, c.dir.path());
    assert_clean(&c, "twice", &ns, &[]);
    helm_upgrades(&c, "twice", &ns, &chart);
}

#[test]
fn pending_is_fixed_by_unlock() {
    let c = TestCluster::start();
    c.install_widget_crd();
    let ns = common::maintenance::seed(&c, "doc-pending", &["stuck-secrets"], "fx-helm3");
    let (code, doc, out) = doctor(&c, &["stuck", "-n", &ns]);
    assert_eq!(code, 4, "{}", text(&out));
    let f = finding(&doc, "pending");
    assert_eq!(f["severity"], "error");
    let ev = evidence(f);
    assert!(ev.contains("revision 2 is pending-upgrade") && ev.contains(" ago"), "{ev}");
    assert!(!ev.contains("younger than 5 minutes"), "the fixture was written long ago: {ev}");
    assert_eq!(
        f["fix"]["command"].as_str().unwrap(),
        format!("kubectl werf releases unlock stuck -n {ns} --helm-version 3 --release-storage secret")
    );
    assert_eq!(f["fix"]["asksConfirmation"], true);
    // The table says the same, fix and confirmation included.
    let table = run(c.werf().args(["releases", "doctor", "stuck", "-n", &ns]));
    let t = String::from_utf8_lossy(&table.stdout);
    assert_eq!(table.status.code(), Some(4));
    assert!(t.contains(&format!("RELEASE stuck (namespace {ns}, secret)")) && t.contains("error     pending"), "{t}");
    assert!(
        t.contains("fix: kubectl werf releases unlock stuck") && t.contains("(asks for confirmation; without a terminal add --yes)"),
        "{t}"
    );
    run_fix(&c, f, c.dir.path());
    assert_clean(&c, "stuck", &ns, &[]);
    helm_upgrades(&c, "stuck", &ns, &tiny_chart(&c, "pending", 0));
}

#[test]
fn no_deployed_after_a_failed_install_is_reported_with_advice() {
    let c = TestCluster::start();
    let ns = c.namespace("doc-nodeployed");
    // An object in a namespace that does not exist: the install fails, revision 1 is failed.
    let bad = tiny_chart(&c, "nodeployed-bad", 0);
    std::fs::write(
        bad.join("templates/elsewhere.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: elsewhere\n  namespace: kw-no-such-namespace-doctor\ndata: {}\n",
    )
    .unwrap();
    let o = run(c.helm(3).args(["install", "broken", bad.to_str().unwrap(), "-n", &ns]));
    assert!(!o.status.success(), "{}", text(&o));
    let (code, doc, out) = doctor(&c, &["broken", "-n", &ns]);
    assert_eq!(code, 3, "{}", text(&out));
    let f = finding(&doc, "no-deployed");
    assert_eq!(f["severity"], "warning");
    assert!(f["summary"].as_str().unwrap().contains("the latest, 1, is failed"), "{f:#}");
    assert!(evidence(f).contains("revision 1: failed"), "{f:#}");
    let advice = f["fix"]["advice"].as_str().unwrap();
    assert!(advice.contains(&format!("helm upgrade broken CHART -n {ns}")), "{advice}");
    assert!(f["fix"]["command"].is_null());
    // Following the advice: helm upgrades from the failed revision.
    let good = tiny_chart(&c, "nodeployed-good", 0);
    helm_ok(&c, 3, &["upgrade", "broken", good.to_str().unwrap(), "-n", &ns]);
    assert_clean(&c, "broken", &ns, &[]);
    helm_ok(&c, 4, &["upgrade", "broken", good.to_str().unwrap(), "-n", &ns]);
}

#[test]
fn label_drift_is_fixed_by_relabel() {
    let c = TestCluster::start();
    let ns = c.namespace("doc-labels");
    let chart = tiny_chart(&c, "labels", 0);
    install(&c, 3, "tagged", &ns, &chart);
    helm_ok(&c, 3, &["upgrade", "tagged", chart.to_str().unwrap(), "-n", &ns]);
    // The deployed latest labelled superseded: helm's label query for the deployed revision misses it.
    run_ok(c.kubectl().args(["label", "secret", "sh.helm.release.v1.tagged.v2", "-n", &ns, "status=superseded", "--overwrite"]));
    let (code, doc, out) = doctor(&c, &["tagged", "-n", &ns]);
    assert_eq!(code, 3, "{}", text(&out));
    let f = finding(&doc, "label-drift");
    assert_eq!(f["severity"], "warning");
    assert!(evidence(f).contains("revision 2 (Secret") && evidence(f).contains("label status=superseded, payload deployed"), "{f:#}");
    assert_eq!(
        f["fix"]["command"].as_str().unwrap(),
        format!("kubectl werf releases relabel tagged -n {ns} --helm-version 3 --release-storage secret")
    );
    run_fix(&c, f, c.dir.path());
    assert_clean(&c, "tagged", &ns, &[]);
    helm_upgrades(&c, "tagged", &ns, &chart);
}

#[test]
fn both_drivers_forget_the_configmap_copy() {
    let c = TestCluster::start();
    let ns = c.namespace("doc-drivers");
    let chart = tiny_chart(&c, "drivers", 0);
    install(&c, 3, "twin", &ns, &chart);
    let o = run(c.helm(3).env("HELM_DRIVER", "configmap").args(["install", "twin", chart.to_str().unwrap(), "-n", &ns]));
    assert!(o.status.success(), "{}", text(&o));
    let (code, doc, out) = doctor(&c, &["twin", "-n", &ns]);
    assert_eq!(code, 3, "{}", text(&out));
    let f = finding(&doc, "both-drivers");
    assert_eq!((f["severity"].as_str(), f["release"]["storage"].as_str()), (Some("warning"), Some("configmap")));
    let ev = evidence(f);
    assert!(ev.contains("secret records: revisions 1 deployed") && ev.contains("configmap records: revisions 1 deployed"), "{ev}");
    let advice = f["fix"]["advice"].as_str().unwrap();
    assert!(advice.contains("HELM_DRIVER=configmap") && advice.contains("--release-storage secret"), "{advice}");
    assert_eq!(
        f["fix"]["command"].as_str().unwrap(),
        format!("kubectl werf releases forget twin -n {ns} --helm-version 3 --release-storage configmap")
    );
    run_fix(&c, f, c.dir.path());
    assert_clean(&c, "twin", &ns, &[]);
    helm_upgrades(&c, "twin", &ns, &chart);
}

#[test]
fn undecodable_record_is_exported_then_removed_as_advised() {
    let c = TestCluster::start();
    let ns = c.namespace("doc-damaged");
    let chart = tiny_chart(&c, "damaged", 0);
    install(&c, 3, "damaged", &ns, &chart);
    helm_ok(&c, 3, &["upgrade", "damaged", chart.to_str().unwrap(), "-n", &ns]);
    let api: Api<Secret> = Api::namespaced(c.client.clone(), &ns);
    let mut s = c.rt.block_on(api.get("sh.helm.release.v1.damaged.v2")).unwrap();
    s.data.get_or_insert_with(Default::default).insert("release".into(), ByteString(b"bm90IGEgcmVsZWFzZQ==".to_vec()));
    c.rt.block_on(api.replace("sh.helm.release.v1.damaged.v2", &PostParams::default(), &s)).unwrap();

    let (code, doc, out) = doctor(&c, &["damaged", "-n", &ns]);
    assert_eq!(code, 4, "{}", text(&out));
    let f = finding(&doc, "undecodable");
    assert_eq!(f["severity"], "error");
    assert!(evidence(f).contains(&format!("revision 2 (Secret {ns}/sh.helm.release.v1.damaged.v2)")), "{f:#}");
    assert_eq!(
        f["fix"]["command"].as_str().unwrap(),
        format!("kubectl werf releases export damaged -n {ns} --helm-version 3 --release-storage secret --dir export-{ns}-damaged")
    );
    let work = c.dir.path().join("export-here");
    std::fs::create_dir_all(&work).unwrap();
    run_fix(&c, f, &work);
    let exported = common::maintenance::files_in(&work.join(format!("export-{ns}-damaged")));
    assert!(exported.iter().any(|n| n.contains("sh.helm.release.v1.damaged.v2")), "{exported:?}");
    // The advice names the kubectl command that removes the damaged record.
    let advice = f["fix"]["advice"].as_str().unwrap();
    let delete = format!("kubectl delete secrets sh.helm.release.v1.damaged.v2 -n {ns}");
    assert!(advice.contains(&delete) && advice.contains("the previous revision becomes the latest"), "{advice}");
    let words: Vec<&str> = delete.split_whitespace().collect();
    run_ok(c.kubectl().args(&words[1..]));
    // Revision 1 (superseded) is the latest now: reported as such, and helm upgrades from it.
    let (code, doc, out) = doctor(&c, &["damaged", "-n", &ns]);
    assert_eq!(code, 3, "{}", text(&out));
    assert_eq!(finding(&doc, "no-deployed")["severity"], "warning");
    helm_ok(&c, 3, &["upgrade", "damaged", chart.to_str().unwrap(), "-n", &ns]);
    assert_clean(&c, "damaged", &ns, &[]);
    helm_ok(&c, 4, &["upgrade", "damaged", chart.to_str().unwrap(), "-n", &ns]);
}

#[test]
fn size_with_growth_over_the_limit_is_reported_and_gone_after_the_stray_file_is() {
    let c = TestCluster::start();
    let ns = c.namespace("doc-size");
    let small = tiny_chart(&c, "size-small", 0);
    let big = tiny_chart(&c, "size-big", 450_000);
    install(&c, 3, "fat", &ns, &small);
    helm_ok(&c, 3, &["upgrade", "fat", big.to_str().unwrap(), "-n", &ns]);
    let (code, doc, out) = doctor(&c, &["fat", "-n", &ns]);
    assert_eq!(code, 4, "{}", text(&out));
    let f = finding(&doc, "size");
    assert_eq!(f["severity"], "error");
    let ev = evidence(f);
    assert!(ev.contains("latest revision 2: ") && ev.contains("largest growth: revision 1 → 2, +") && ev.contains("> 1,048,576"), "{ev}");
    assert_eq!(
        f["fix"]["command"].as_str().unwrap(),
        format!("kubectl werf releases size fat -n {ns} --helm-version 3 --release-storage secret")
    );
    assert!(f["fix"]["advice"].as_str().unwrap().contains(".helmignore"));
    run_fix(&c, f, c.dir.path());
    // The advice followed: the stray file gone, the next upgrade is small again.
    std::fs::remove_file(big.join("files/blob.bin")).unwrap();
    helm_ok(&c, 3, &["upgrade", "fat", big.to_str().unwrap(), "-n", &ns]);
    assert_clean(&c, "fat", &ns, &[]);
    helm_ok(&c, 4, &["upgrade", "fat", big.to_str().unwrap(), "-n", &ns]);
}

/// A revision written by the project's encoder with a policy/v1beta1 PodDisruptionBudget (removed in
/// 1.25; real helm cannot install it on this cluster).
#[test]
fn removed_api_is_fixed_by_apis_fix() {
    let c = TestCluster::start();
    let ns = c.namespace("doc-apis");
    let rendered = apis_fixtures::Rendered {
        manifest: format!(
            "---\n# Source: old/templates/pdb.yaml\napiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata:\n  name: old-pdb\n  namespace: {ns}\nspec:\n  minAvailable: 1\n  selector:\n    matchLabels:\n      app: old\n"
        ),
        hooks: Vec::new(),
        chart_name: "old".into(),
        chart_version: "0.1.0".into(),
        app_version: "1.0".into(),
    };
    let r = apis_fixtures::helm3_release("old", &ns, 1, helm3::Status::Deployed, "Install complete", &rendered);
    c.create_object(apis_fixtures::helm3_record(&r, false));
    let (code, doc, out) = doctor(&c, &["old", "-n", &ns]);
    assert_eq!(code, 4, "{}", text(&out));
    let f = finding(&doc, "removed-api");
    assert_eq!(f["severity"], "error");
    assert!(
        evidence(f).contains("revision 1 manifest: PodDisruptionBudget old-pdb policy/v1beta1: removed in 1.25, use policy/v1"),
        "{f:#}"
    );
    assert_eq!(
        f["fix"]["command"].as_str().unwrap(),
        format!("kubectl werf releases apis old -n {ns} --helm-version 3 --release-storage secret --fix")
    );
    run_fix(&c, f, c.dir.path());
    assert_clean(&c, "old", &ns, &[]);
    let chart = c.dir.path().join("pdb-chart");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: old\nversion: 0.2.0\n").unwrap();
    std::fs::write(
        chart.join("templates/pdb.yaml"),
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: old-pdb\nspec:\n  minAvailable: 1\n  selector:\n    matchLabels:\n      app: old\n",
    )
    .unwrap();
    helm_ok(&c, 3, &["upgrade", "old", chart.to_str().unwrap(), "-n", &ns]);
    helm_ok(&c, 4, &["upgrade", "old", chart.to_str().unwrap(), "-n", &ns]);
}

/// Helm 2 records (the project's Tiller encoding) migrated by `migrate2to3` and left behind: equal copies.
#[test]
fn helm2_and_helm3_equal_copies_are_cleaned_up_by_migrate2to3() {
    let c = TestCluster::start();
    let tiller = c.namespace("doc-tiller");
    let apps = c.namespace("doc-apps");
    let rendered = |value: &str| apis_fixtures::Rendered {
        manifest: format!(
            "---\n# Source: tiny/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: moved-cm\ndata:\n  value: {value}\n"
        ),
        hooks: Vec::new(),
        chart_name: "tiny".into(),
        chart_version: "0.1.0".into(),
        app_version: "".into(),
    };
    use kubectl_werf::release::helm2::StatusCode;
    for (rev, status) in [(1, StatusCode::Superseded), (2, StatusCode::Deployed)] {
        let r = apis_fixtures::helm2_release("moved", &apps, rev, status, "done", &rendered(&format!("v{rev}")));
        c.create_object(apis_fixtures::helm2_record(&r, &tiller, false));
    }
    run_ok(c.werf().args(["migrate2to3", "moved", "--tiller-namespace", &tiller, "--yes", "--skip-ownership"]));
    let flags = ["--tiller-namespace", tiller.as_str()];
    let (code, doc, out) = doctor(&c, &[&["moved", "-n", apps.as_str()], &flags[..]].concat());
    assert_eq!(code, 3, "{}", text(&out));
    let f = finding(&doc, "helm2-and-helm3");
    assert_eq!((f["severity"].as_str(), f["release"]["storage"].as_str()), (Some("warning"), Some("helm2/configmap")));
    assert!(evidence(f).contains("every Helm 2 revision (2) has an equal Helm 3 copy"), "{f:#}");
    assert_eq!(
        f["fix"]["command"].as_str().unwrap(),
        format!("kubectl werf migrate2to3 moved --cleanup --tiller-namespace {tiller} --helm-release-storage-type configmap")
    );
    run_fix(&c, f, c.dir.path());
    assert_clean(&c, "moved", &apps, &flags);
    // The live ConfigMap Tiller would have made, so the upgrades have something to take over.
    c.create_object(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "moved-cm", "namespace": apps, "labels": {"app.kubernetes.io/managed-by": "Helm"}, "annotations": {"meta.helm.sh/release-name": "moved", "meta.helm.sh/release-namespace": apps}}, "data": {"value": "v2"}}));
    helm_upgrades(&c, "moved", &apps, &tiny_chart(&c, "moved", 0));
}

#[test]
fn healthy_releases_exit_0_and_usage_errors_exit_2() {
    let c = TestCluster::start();
    let ns = c.namespace("doc-healthy");
    let chart = tiny_chart(&c, "healthy", 0);
    install(&c, 3, "fine", &ns, &chart);
    install(&c, 4, "fine4", &ns, &chart);
    let out = run(c.werf().args(["releases", "doctor", "-n", &ns]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "No problems found: 2 release(s), 2 record(s) checked.\n");
    let yaml = run_ok(c.werf().args(["releases", "doctor", "-n", &ns, "-o", "yaml"]));
    assert!(yaml.contains("findings: []") && yaml.contains("releases: 2") && yaml.contains("error: 0"), "{yaml}");
    let bad = run(c.werf().args(["releases", "doctor", "-n", &ns, "--target-version", "one"]));
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    let missing = run(c.werf().args(["releases", "doctor", "nosuch", "-n", &ns]));
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("release \"nosuch\" not found"), "{}", text(&missing));
}

/// A storage that cannot be read at all: one line naming it, exit 1, and what could be read still reported.
#[test]
fn emulator_only_an_unreadable_storage_exits_1_naming_it() {
    let c = TestCluster::start();
    let ns = c.namespace("doc-unreadable");
    install(&c, 3, "fine", &ns, &tiny_chart(&c, "unreadable", 0));
    c.emulator_for("fault injection").inject(kube_emulator::Fault::on("list", "configmaps").namespace(&ns).always().respond(403));
    let (code, doc, out) = doctor(&c, &["-n", &ns]);
    assert_eq!(code, 1, "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("error: cannot read Helm 3 release ConfigMaps in namespace {ns}: ")), "{stderr}");
    assert_eq!((doc["summary"]["releases"].as_u64(), doc["summary"]["records"].as_u64()), (Some(1), Some(1)), "{doc:#}");
}

/// Helm 2 and Helm 3 copies that differ (the Helm 3 one edited after the migration): advice naming
/// where they differ, no command that would delete anything.
#[test]
fn helm2_and_helm3_different_copies_get_advice() {
    let c = TestCluster::start();
    let tiller = c.namespace("doc-tiller2");
    let apps = c.namespace("doc-apps2");
    use kubectl_werf::release::helm2::StatusCode;
    let rendered = apis_fixtures::Rendered {
        manifest:
            "---\n# Source: tiny/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: forked-cm\ndata:\n  value: one\n"
                .into(),
        hooks: Vec::new(),
        chart_name: "tiny".into(),
        chart_version: "0.1.0".into(),
        app_version: "".into(),
    };
    let r = apis_fixtures::helm2_release("forked", &apps, 1, StatusCode::Deployed, "done", &rendered);
    c.create_object(apis_fixtures::helm2_record(&r, &tiller, false));
    run_ok(c.werf().args(["migrate2to3", "forked", "--tiller-namespace", &tiller, "--yes", "--skip-ownership"]));
    rewrite_secret(&c, &apps, "sh.helm.release.v1.forked.v1", |r| r.info.description = "edited by hand".into(), |_| {});
    let (code, doc, out) = doctor(&c, &["forked", "-n", &apps, "--tiller-namespace", &tiller]);
    assert_eq!(code, 3, "{}", text(&out));
    let f = finding(&doc, "helm2-and-helm3");
    assert_eq!(f["severity"], "warning");
    assert!(f["summary"].as_str().unwrap().contains("differ"), "{f:#}");
    assert!(evidence(f).contains("revision 1: differs at .info.description"), "{f:#}");
    assert!(f["fix"]["command"].is_null(), "{f:#}");
    let advice = f["fix"]["advice"].as_str().unwrap();
    assert!(advice.contains("helm 3/4 reads only the Helm 3 copy") && advice.contains(&format!("--tiller-namespace {tiller}")), "{advice}");
}
