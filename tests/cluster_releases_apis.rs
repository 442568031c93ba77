//! `releases apis` and `migrate2to3`'s API mapping against a cluster (the emulator, or the real
//! kube-apiserver 1.36 named by KUBECTL_WERF_TEST_KUBECONFIG), with real helm 3 and 4 before and after.
//!
//! The records are rendered from `fixtures/apis/charts/legacy-app` (extensions/v1beta1 Deployment and
//! Ingress, autoscaling/v2beta1 HPA, policy/v1beta1 PDB and PodSecurityPolicy, rbac v1beta1, a v1beta1 CRD,
//! and a v1beta1 ValidatingWebhookConfiguration hook with failurePolicy Ignore) and encoded with the
//! project's encoders (tests/apis_fixtures). `legacy-app-v2` is the same chart on current APIs: what the
//! user upgrades to.

mod apis_fixtures;
mod common;

use std::collections::BTreeMap;
use std::process::Output;

use common::{TestCluster, run};
use serde_json::Value;

fn text(o: &Output) -> String {
    format!("status {}\nstdout:\n{}\nstderr:\n{}", o.status, String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn werf(c: &TestCluster, args: &[&str]) -> Output {
    run(c.werf().args(args))
}

fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

/// Statuses of every stored revision of `name` (Helm 3 records in `ns`), from the payloads.
fn statuses(c: &TestCluster, ns: &str, name: &str) -> BTreeMap<i64, (String, String)> {
    let out = werf(c, &["releases", "history", name, "-n", ns, "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    json_of(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (r["revision"].as_i64().unwrap(), (r["status"].as_str().unwrap().to_string(), r["description"].as_str().unwrap().to_string()))
        })
        .collect()
}

fn helm_ok(c: &TestCluster, major: u8, args: &[&str]) -> String {
    let o = run(c.helm(major).args(args));
    assert!(o.status.success(), "helm{major} {args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Uninstall at the end: the chart has cluster-scoped objects (CRD, webhook configuration) that the
/// namespace deletion would not remove.
struct Uninstall<'a> {
    c: &'a TestCluster,
    releases: Vec<(String, String, bool)>,
}

impl Drop for Uninstall<'_> {
    fn drop(&mut self) {
        for (name, ns, configmap) in &self.releases {
            let mut cmd = self.c.helm(3);
            cmd.args(["uninstall", name, "-n", ns, "--no-hooks"]);
            if *configmap {
                cmd.env("HELM_DRIVER", "configmap");
            }
            let _ = cmd.output();
        }
    }
}

fn seed(c: &TestCluster, objects: Vec<Value>) {
    for o in objects {
        c.create_object(o);
    }
}

fn chart(name: &str) -> String {
    apis_fixtures::chart_dir(name).display().to_string()
}

#[test]
fn scan_then_fix_then_helm_upgrades_and_rolls_back() {
    let c = TestCluster::start();
    let ns = c.namespace("apis");
    seed(&c, apis_fixtures::legacy_history("legacy", &ns, false));
    seed(&c, apis_fixtures::legacy_history("legacy-cm", &ns, true).into_iter().take(2).collect());
    let _cleanup = Uninstall { c: &c, releases: vec![("legacy".into(), ns.clone(), false), ("legacy-cm".into(), ns.clone(), true)] };
    let v2 = chart("legacy-app-v2");

    // The problem, as helm reports it.
    let before = run(c.helm(3).args(["upgrade", "legacy", &v2, "-n", &ns]));
    assert!(!before.status.success(), "{}", text(&before));
    assert!(String::from_utf8_lossy(&before.stderr).contains("no matches for kind"), "{}", text(&before));

    // The scan: exit 3, every removed object of the revisions helm reads, manifest and hooks.
    let scan = werf(&c, &["releases", "apis", "-n", &ns, "-o", "json"]);
    assert_eq!(scan.status.code(), Some(3), "{}", text(&scan));
    let report = json_of(&scan);
    assert_eq!(report["kubernetesVersion"], report["targetVersion"]);
    let releases = report["releases"].as_array().unwrap();
    let legacy = releases.iter().find(|r| r["name"] == "legacy").unwrap();
    assert_eq!(
        (legacy["storage"].as_str(), legacy["latest"].as_i64(), legacy["lastDeployed"].as_i64()),
        (Some("secret"), Some(3), Some(2))
    );
    assert_eq!(legacy["upgradable"], false);
    let revs: Vec<i64> = legacy["revisions"].as_array().unwrap().iter().map(|r| r["revision"].as_i64().unwrap()).collect();
    assert_eq!(revs, vec![2, 3], "revision 1 is not read by helm");
    let rev2 = &legacy["revisions"][0];
    assert_eq!(rev2["helmReads"], serde_json::json!(["deployed"]));
    let objects: Vec<(String, String, String, String)> = rev2["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().unwrap().to_string(),
                o["apiVersion"].as_str().unwrap().to_string(),
                o["in"].as_str().unwrap().to_string(),
                o["replacement"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    for want in [
        ("Deployment", "extensions/v1beta1", "manifest", "apps/v1"),
        ("Ingress", "extensions/v1beta1", "manifest", "networking.k8s.io/v1"),
        ("HorizontalPodAutoscaler", "autoscaling/v2beta1", "manifest", "autoscaling/v2"),
        ("PodDisruptionBudget", "policy/v1beta1", "manifest", "policy/v1"),
        ("PodSecurityPolicy", "policy/v1beta1", "manifest", "-"),
        ("Role", "rbac.authorization.k8s.io/v1beta1", "manifest", "rbac.authorization.k8s.io/v1"),
        ("CustomResourceDefinition", "apiextensions.k8s.io/v1beta1", "manifest", "apiextensions.k8s.io/v1"),
        ("ValidatingWebhookConfiguration", "admissionregistration.k8s.io/v1beta1", "hook", "admissionregistration.k8s.io/v1"),
    ] {
        assert!(objects.contains(&(want.0.into(), want.1.into(), want.2.into(), want.3.into())), "{want:?} not in {objects:?}");
    }
    assert!(rev2["objects"].as_array().unwrap().iter().all(|o| o["served"] == false && o["problem"] == "removed"));
    assert!(releases.iter().any(|r| r["name"] == "legacy-cm" && r["storage"] == "configmap"));
    // The table says the same.
    let table = werf(&c, &["releases", "apis", "-n", &ns]);
    assert_eq!(table.status.code(), Some(3));
    let t = String::from_utf8_lossy(&table.stdout);
    assert!(t.contains("HorizontalPodAutoscaler") && t.contains("autoscaling/v2beta1") && t.contains("1.25") && t.contains("hook"), "{t}");

    // The plan changes nothing; no terminal and no --yes is refused.
    let before_fix = statuses(&c, &ns, "legacy");
    let dry = werf(&c, &["releases", "apis", "-n", &ns, "--fix", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(3), "{}", text(&dry));
    let plan = String::from_utf8_lossy(&dry.stdout);
    assert!(plan.contains("write revision 4 from revision 2 (deployed), then mark revision 2 superseded"), "{plan}");
    assert!(plan.contains("PodSecurityPolicy/") && plan.contains("removed (policy/v1beta1, no replacement)"), "{plan}");
    let refused = werf(&c, &["releases", "apis", "-n", &ns, "--fix"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert_eq!(statuses(&c, &ns, "legacy"), before_fix);

    // The fix.
    let backup = c.dir.path().join("backup");
    let fixed = werf(&c, &["releases", "apis", "-n", &ns, "--fix", "--yes", "--backup-dir", backup.to_str().unwrap()]);
    assert_eq!(fixed.status.code(), Some(0), "{}", text(&fixed));
    let after = statuses(&c, &ns, "legacy");
    assert_eq!(after[&1].0, "superseded");
    assert_eq!(after[&2].0, "superseded");
    assert_eq!(after[&3].0, "failed");
    assert_eq!(after[&4].0, "deployed");
    assert!(after[&4].1.starts_with("Removed APIs mapped by kubectl-werf (copy of revision 2): "), "{}", after[&4].1);
    let backed_up: Vec<String> =
        std::fs::read_dir(&backup).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(backed_up.iter().any(|f| f.ends_with("sh.helm.release.v1.legacy.v2.yaml")), "{backed_up:?}");
    let manifest = helm_ok(&c, 3, &["get", "manifest", "legacy", "-n", &ns, "--revision", "4"]);
    assert!(!manifest.contains("v1beta1") && !manifest.contains("PodSecurityPolicy"), "{manifest}");
    assert!(manifest.contains("apiVersion: autoscaling/v2") && manifest.contains("averageUtilization: 60"), "{manifest}");
    let hooks = helm_ok(&c, 3, &["get", "hooks", "legacy", "-n", &ns, "--revision", "4"]);
    assert!(hooks.contains("admissionregistration.k8s.io/v1\n") && hooks.contains("sideEffects: None"), "{hooks}");

    // Nothing left; running it again changes nothing.
    let clean = werf(&c, &["releases", "apis", "-n", &ns]);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean));
    let again = werf(&c, &["releases", "apis", "-n", &ns, "--fix", "--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(statuses(&c, &ns, "legacy"), after);

    // helm upgrades, upgrades again with helm 4, and rolls back to the fixed revision.
    helm_ok(&c, 3, &["upgrade", "legacy", &v2, "-n", &ns]);
    helm_ok(&c, 4, &["upgrade", "legacy", &v2, "-n", &ns, "--set", "replicas=2"]);
    helm_ok(&c, 3, &["rollback", "legacy", "4", "-n", &ns]);
    let history = statuses(&c, &ns, "legacy");
    assert_eq!(history.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(history[&7].0, "deployed");
    let mut up = c.helm(3);
    up.env("HELM_DRIVER", "configmap").args(["upgrade", "legacy-cm", &v2, "-n", &ns]);
    let o = run(&mut up);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn all_revisions_make_every_rollback_target_work() {
    let c = TestCluster::start();
    let ns = c.namespace("apis-all");
    seed(&c, apis_fixtures::legacy_history("legacy", &ns, false));
    let _cleanup = Uninstall { c: &c, releases: vec![("legacy".into(), ns.clone(), false)] };
    // Without --all-revisions only the revisions helm reads count; revision 1 is a rollback target.
    let scan = werf(&c, &["releases", "apis", "-n", &ns, "--all-revisions", "-o", "json"]);
    assert_eq!(scan.status.code(), Some(3));
    let revs: Vec<i64> =
        json_of(&scan)["releases"][0]["revisions"].as_array().unwrap().iter().map(|r| r["revision"].as_i64().unwrap()).collect();
    assert_eq!(revs, vec![1, 2, 3]);
    let fixed = werf(&c, &["releases", "apis", "-n", &ns, "--fix", "--all-revisions", "--yes", "-o", "json"]);
    assert_eq!(fixed.status.code(), Some(0), "{}", text(&fixed));
    let report = json_of(&fixed);
    let fix = &report["fix"][0];
    assert_eq!((fix["action"].as_str(), fix["revision"].as_i64(), fix["result"].as_str()), (Some("write"), Some(4), Some("fixed")));
    let rewritten: Vec<i64> = fix["rewrites"].as_array().unwrap().iter().map(|r| r["revision"].as_i64().unwrap()).collect();
    assert_eq!(rewritten, vec![1, 2, 3]);
    assert_eq!(report["remaining"], 0);
    let all = werf(&c, &["releases", "apis", "-n", &ns, "--all-revisions"]);
    assert_eq!(all.status.code(), Some(0), "{}", text(&all));
    let h = statuses(&c, &ns, "legacy");
    assert_eq!(
        (h[&1].0.as_str(), h[&2].0.as_str(), h[&3].0.as_str(), h[&4].0.as_str()),
        ("superseded", "superseded", "failed", "deployed")
    );
    assert_eq!(h[&3].1, "Upgrade \"legacy\" failed: timed out waiting for the condition", "rewritten in place, description kept");
    helm_ok(&c, 3, &["rollback", "legacy", "1", "-n", &ns]);
    assert_eq!(statuses(&c, &ns, "legacy")[&5].0, "deployed");
}

#[test]
fn helm2_records_are_scanned_and_migrate2to3_adds_the_fixed_revision() {
    let c = TestCluster::start();
    let tiller = c.namespace("apis-tiller");
    let apps = c.namespace("apis-apps");
    for name in ["legacy2", "plain2", "fixed2"] {
        for (rev, status) in
            [(1, kubectl_werf::release::helm2::StatusCode::Superseded), (2, kubectl_werf::release::helm2::StatusCode::Deployed)]
        {
            let rendered = apis_fixtures::render("legacy-app", name, &apps, &[&format!("replicas={rev}")]);
            let r = apis_fixtures::helm2_release(name, &apps, rev, status, "Upgrade complete", &rendered);
            c.create_object(apis_fixtures::helm2_record(&r, &tiller, false));
        }
    }
    let _cleanup = Uninstall {
        c: &c,
        releases: vec![
            ("legacy2".into(), apps.clone(), false),
            ("plain2".into(), apps.clone(), false),
            ("fixed2".into(), apps.clone(), false),
        ],
    };
    let scan = werf(&c, &["releases", "apis", "-n", &apps, "--tiller-namespace", &tiller, "-o", "json"]);
    assert_eq!(scan.status.code(), Some(3), "{}", text(&scan));
    let report = json_of(&scan);
    let names: Vec<(&str, &str)> =
        report["releases"].as_array().unwrap().iter().map(|r| (r["name"].as_str().unwrap(), r["storage"].as_str().unwrap())).collect();
    assert_eq!(names, vec![("fixed2", "helm2/configmap"), ("legacy2", "helm2/configmap"), ("plain2", "helm2/configmap")]);
    // Tiller records are fixed in place too: a Helm 2 revision 3 (what migrate2to3 then copies verbatim).
    let fixed = werf(&c, &["releases", "apis", "fixed2", "-n", &apps, "--tiller-namespace", &tiller, "--fix", "--yes"]);
    assert_eq!(fixed.status.code(), Some(0), "{}", text(&fixed));
    let v3 = run(c.kubectl().args([
        "get",
        "configmap",
        "fixed2.v3",
        "-n",
        &tiller,
        "-o",
        "jsonpath={.metadata.labels.STATUS}/{.metadata.labels.OWNER}",
    ]));
    assert_eq!(String::from_utf8_lossy(&v3.stdout), "DEPLOYED/TILLER", "{}", text(&v3));
    let v2 = run(c.kubectl().args(["get", "configmap", "fixed2.v2", "-n", &tiller, "-o", "jsonpath={.metadata.labels.STATUS}"]));
    assert_eq!(String::from_utf8_lossy(&v2.stdout), "SUPERSEDED");
    let migrated = werf(&c, &["migrate2to3", "fixed2", "--tiller-namespace", &tiller, "--yes", "--skip-ownership"]);
    assert!(migrated.status.success() && !String::from_utf8_lossy(&migrated.stdout).contains("removed APIs mapped"), "{}", text(&migrated));
    assert_eq!(statuses(&c, &apps, "fixed2")[&3].0, "deployed");
    assert_eq!(report["releases"][0]["revisions"][0]["helmReads"], serde_json::json!(["latest", "deployed"]));

    // The plan says what the migration adds.
    let plan = werf(&c, &["migrate2to3", "legacy2", "--tiller-namespace", &tiller, "--dry-run"]);
    assert!(plan.status.success(), "{}", text(&plan));
    let p = String::from_utf8_lossy(&plan.stdout);
    assert!(p.contains("removed APIs: revision 3 will be written from revision 2 with the replacements"), "{p}");
    // Without the mapping, it says plainly that helm could not upgrade the result.
    let plan = werf(&c, &["migrate2to3", "plain2", "--tiller-namespace", &tiller, "--dry-run", "--no-map-apis"]);
    let p = String::from_utf8_lossy(&plan.stdout);
    assert!(p.contains("NOT UPGRADABLE after migration"), "{p}");

    // Live objects Tiller created, as the cluster serves them today (no Helm 3 ownership yet): the
    // migration finds them at the mapped API versions and stamps them, or helm's upgrade would refuse them.
    c.create_object(serde_json::json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "legacy2-web", "namespace": apps}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "legacy2-web"}}}}));
    c.create_object(serde_json::json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "legacy2-web", "namespace": apps}, "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "legacy2-web"}, "minReplicas": 1, "maxReplicas": 5}}));
    let migrated = werf(&c, &["migrate2to3", "legacy2", "--tiller-namespace", &tiller, "--yes"]);
    assert!(migrated.status.success(), "{}", text(&migrated));
    let m = String::from_utf8_lossy(&migrated.stdout);
    assert!(m.contains("removed APIs mapped: revision 3 written"), "{m}");
    let stamped = m.lines().find(|l| l.trim_start().starts_with("stamped:")).unwrap_or_else(|| panic!("{m}"));
    assert!(stamped.contains("PodDisruptionBudget/legacy2-web") && stamped.contains("HorizontalPodAutoscaler/legacy2-web"), "{m}");
    assert!(!m.contains("unresolved: PodDisruptionBudget"), "{m}");
    let h = statuses(&c, &apps, "legacy2");
    assert_eq!((h[&1].0.as_str(), h[&2].0.as_str(), h[&3].0.as_str()), ("superseded", "superseded", "deployed"));
    let plain = werf(&c, &["migrate2to3", "plain2", "--tiller-namespace", &tiller, "--yes", "--skip-ownership", "--no-map-apis"]);
    assert!(plain.status.success(), "{}", text(&plain));
    assert!(String::from_utf8_lossy(&plain.stdout).contains("NOT UPGRADABLE"), "{}", text(&plain));
    // Re-running converges: nothing new is written.
    let again = werf(&c, &["migrate2to3", "legacy2", "--tiller-namespace", &tiller, "--yes"]);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(statuses(&c, &apps, "legacy2").len(), 3);

    let v2 = chart("legacy-app-v2");
    helm_ok(&c, 3, &["upgrade", "legacy2", &v2, "-n", &apps]);
    let o = run(c.helm(3).args(["upgrade", "plain2", &v2, "-n", &apps]));
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("no matches for kind"), "{}", text(&o));
    // The Helm 3 scan agrees: only plain2 is left.
    let scan = werf(&c, &["releases", "apis", "-n", &apps, "--helm-version", "3", "-o", "json"]);
    assert_eq!(scan.status.code(), Some(3));
    let report = json_of(&scan);
    let left: Vec<&str> =
        report["releases"].as_array().unwrap().iter().filter(|r| r["upgradable"] == false).map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(left, vec!["plain2"]);
}

#[test]
fn target_version_and_usage() {
    let c = TestCluster::start();
    let ns = c.namespace("apis-target");
    seed(&c, apis_fixtures::legacy_history("legacy", &ns, false).into_iter().take(2).collect());
    let o = werf(&c, &["releases", "apis", "-n", &ns, "--target-version", "1.20", "-o", "json"]);
    let r = json_of(&o);
    assert_eq!(r["targetVersion"], "1.20");
    // The HPA's autoscaling/v2beta1 was removed only in 1.25, after 1.20, but this cluster does not serve it:
    // helm fails all the same. extensions/v1beta1 Deployments were gone by 1.16.
    let problems: BTreeMap<String, String> = r["releases"][0]["revisions"][0]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (format!("{} {}", o["kind"].as_str().unwrap(), o["apiVersion"].as_str().unwrap()), o["problem"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(problems["HorizontalPodAutoscaler autoscaling/v2beta1"], "not-served", "{problems:?}");
    assert_eq!(problems["Deployment extensions/v1beta1"], "removed", "{problems:?}");
    assert_eq!(o.status.code(), Some(3));
    let bad = werf(&c, &["releases", "apis", "-n", &ns, "--target-version", "soon"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--target-version"), "{}", text(&bad));
    let bad = werf(&c, &["releases", "apis", "-n", &ns, "--dry-run"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    let empty = c.namespace("apis-empty");
    let none = werf(&c, &["releases", "apis", "-n", &empty]);
    assert_eq!(none.status.code(), Some(0), "{}", text(&none));
    assert!(String::from_utf8_lossy(&none.stdout).contains("no removed or unserved API versions"), "{}", text(&none));
}

/// The same scenario on a cluster from before its upgrade: the emulator serves the removed versions, so
/// real helm 3 itself installs the old chart (the records are helm's own); the scan answers for the next
/// version with --target-version; then the "upgrade" stops serving them, helm fails, --fix mends it.
#[test]
fn emulator_only_old_cluster_then_upgrade() {
    let c = TestCluster::start();
    let emu = c.emulator_for("serves removed API versions, which no kube-apiserver 1.36 can");
    let old = [
        "extensions/v1beta1",
        "autoscaling/v2beta1",
        "policy/v1beta1",
        "rbac.authorization.k8s.io/v1beta1",
        "apiextensions.k8s.io/v1beta1",
        "admissionregistration.k8s.io/v1beta1",
    ];
    emu.serve_removed_api_versions(&old).unwrap();
    assert!(emu.serve_removed_api_versions(&["apps/v1"]).is_err());
    let ns = c.namespace("apis-old");
    helm_ok(&c, 3, &["install", "legacy", &chart("legacy-app"), "-n", &ns]);
    helm_ok(&c, 3, &["upgrade", "legacy", &chart("legacy-app"), "-n", &ns, "--set", "replicas=2"]);

    // Served, so helm works today; which objects stop working at which version:
    let at = |v: &str| {
        let o = werf(&c, &["releases", "apis", "-n", &ns, "--target-version", v, "-o", "json"]);
        let r = json_of(&o);
        let rows: Vec<(String, bool, String)> = r["releases"][0]["revisions"][0]["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (o["kind"].as_str().unwrap().to_string(), o["served"].as_bool().unwrap(), o["problem"].as_str().unwrap().to_string()))
            .collect();
        (o.status.code(), rows)
    };
    let (code, rows) = at("1.15");
    assert_eq!(code, Some(0), "{rows:?}");
    assert!(rows.iter().all(|(_, served, p)| *served && p == "removed-later"), "{rows:?}");
    let (code, rows) = at("1.22");
    assert_eq!(code, Some(3));
    let removed: Vec<&str> = rows.iter().filter(|(_, _, p)| p == "removed").map(|(k, ..)| k.as_str()).collect();
    assert!(
        removed.contains(&"Deployment") && removed.contains(&"CustomResourceDefinition") && !removed.contains(&"HorizontalPodAutoscaler"),
        "{rows:?}"
    );

    // The cluster is upgraded: the removed versions are gone, helm fails, the fix mends it.
    emu.serve_removed_api_versions(&[]).unwrap();
    let v2 = chart("legacy-app-v2");
    let o = run(c.helm(3).args(["upgrade", "legacy", &v2, "-n", &ns]));
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("no matches for kind"), "{}", text(&o));
    let fixed = werf(&c, &["releases", "apis", "-n", &ns, "--fix", "--yes"]);
    assert_eq!(fixed.status.code(), Some(0), "{}", text(&fixed));
    helm_ok(&c, 3, &["upgrade", "legacy", &v2, "-n", &ns]);
    helm_ok(&c, 4, &["upgrade", "legacy", &v2, "-n", &ns, "--set", "replicas=3"]);
    helm_ok(&c, 3, &["rollback", "legacy", "3", "-n", &ns]);
    assert_eq!(statuses(&c, &ns, "legacy")[&6].0, "deployed");
}

/// The new revision is written and read back before the old deployed one changes; when superseding it
/// fails, nothing is lost and the same command finishes the job.
#[test]
fn emulator_only_an_interrupted_fix_is_finished_by_running_it_again() {
    let c = TestCluster::start();
    let emu = c.emulator_for("fault injection on the supersede write");
    let ns = c.namespace("apis-resume");
    seed(&c, apis_fixtures::legacy_history("legacy", &ns, false));
    emu.inject(kube_emulator::Fault::on("update", "secrets").namespace(&ns).name("sh.helm.release.v1.legacy.v2").always().respond(503));
    let first = werf(&c, &["releases", "apis", "-n", &ns, "--fix", "--yes"]);
    assert_eq!(first.status.code(), Some(1), "{}", text(&first));
    let out = String::from_utf8_lossy(&first.stdout);
    assert!(out.contains("legacy: failed") && out.contains("sh.helm.release.v1.legacy.v2"), "{}", text(&first));
    let h = statuses(&c, &ns, "legacy");
    assert_eq!((h[&2].0.as_str(), h[&4].0.as_str()), ("deployed", "deployed"), "the new revision stays, the old one is untouched");
    emu.clear_faults();
    let plan = werf(&c, &["releases", "apis", "-n", &ns, "--fix", "--dry-run"]);
    assert!(
        String::from_utf8_lossy(&plan.stdout).contains("mark revision(s) 2 superseded (left deployed by an interrupted --fix)"),
        "{}",
        text(&plan)
    );
    let second = werf(&c, &["releases", "apis", "-n", &ns, "--fix", "--yes"]);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    let h = statuses(&c, &ns, "legacy");
    assert_eq!((h[&2].0.as_str(), h[&3].0.as_str(), h[&4].0.as_str()), ("superseded", "failed", "deployed"));
    assert_eq!(h.len(), 4, "no second fixed revision");
}

/// A record changed by someone else after it was read is never overwritten.
#[test]
fn emulator_only_a_record_changed_meanwhile_is_not_overwritten() {
    let c = TestCluster::start();
    let emu = c.emulator_for("changes a record between the read and the write");
    let ns = c.namespace("apis-race");
    seed(&c, apis_fixtures::legacy_history("legacy", &ns, false));
    let ns2 = ns.clone();
    // While the new revision is being created, someone relabels revision 2.
    emu.inject(kube_emulator::Fault::on("create", "secrets").namespace(&ns).mutate(move |store| {
        let mut obj = store.get("secrets", &ns2, "sh.helm.release.v1.legacy.v2").unwrap();
        obj["metadata"]["labels"]["touched"] = "yes".into();
        store.update(obj).unwrap();
    }));
    let run1 = werf(&c, &["releases", "apis", "-n", &ns, "--fix", "--yes"]);
    assert_eq!(run1.status.code(), Some(1), "{}", text(&run1));
    assert!(String::from_utf8_lossy(&run1.stdout).contains("changed by someone else"), "{}", text(&run1));
    let v2 = emu.store().get("secrets", &ns, "sh.helm.release.v1.legacy.v2").unwrap();
    assert_eq!(v2["metadata"]["labels"]["touched"], "yes");
    assert_eq!(v2["metadata"]["labels"]["status"], "deployed");
    let run2 = werf(&c, &["releases", "apis", "-n", &ns, "--fix", "--yes"]);
    assert_eq!(run2.status.code(), Some(0), "{}", text(&run2));
    assert_eq!(statuses(&c, &ns, "legacy")[&2].0, "superseded");
}
