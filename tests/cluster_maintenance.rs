//! `releases unlock|prune|export|restore` against an API server (the emulator, or the real cluster named
//! by KUBECTL_WERF_TEST_KUBECONFIG), checked with real helm3/helm4 and kubectl where they can see it.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{TestCluster, fixture, run, run_ok};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ListParams};
use serde_json::Value;

type Records = BTreeMap<(String, String), (String, BTreeMap<String, String>)>;

/// Every record object in `ns` matching `selector`: (kind, name) → (payload text, labels).
fn records(c: &TestCluster, ns: &str, selector: &str) -> Records {
    let lp = ListParams::default().labels(selector);
    let mut out = BTreeMap::new();
    let secrets: Api<Secret> = Api::namespaced(c.client.clone(), ns);
    for s in c.rt.block_on(secrets.list(&lp)).unwrap() {
        let payload = s.data.as_ref().and_then(|d| d.get("release")).map(|b| String::from_utf8(b.0.clone()).unwrap()).unwrap_or_default();
        out.insert(("Secret".into(), s.metadata.name.clone().unwrap()), (payload, s.metadata.labels.clone().unwrap_or_default()));
    }
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), ns);
    for m in c.rt.block_on(cms.list(&lp)).unwrap() {
        let payload = m.data.as_ref().and_then(|d| d.get("release")).cloned().unwrap_or_default();
        out.insert(("ConfigMap".into(), m.metadata.name.clone().unwrap()), (payload, m.metadata.labels.clone().unwrap_or_default()));
    }
    out
}

fn helm_json(c: &TestCluster, major: u8, args: &[&str]) -> Value {
    let mut cmd = c.helm(major);
    // `cart` was written with HELM_DRIVER=configmap
    if args.get(1) == Some(&"cart") {
        cmd.env("HELM_DRIVER", "configmap");
    }
    let out = run_ok(cmd.args(args).args(["-o", "json"]));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn statuses(history: &Value) -> Vec<(i64, String)> {
    history.as_array().unwrap().iter().map(|r| (r["revision"].as_i64().unwrap(), r["status"].as_str().unwrap().to_string())).collect()
}

fn seed(c: &TestCluster, hint: &str, files: &[&str], fx: &str) -> String {
    let ns = c.namespace(hint);
    let map = BTreeMap::from([(fx, ns.as_str())]);
    for f in files {
        c.seed_file(&fixture(&format!("helm3/{fx}-{f}.yaml")), &map);
    }
    ns
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default();
    v.sort();
    v
}

#[test]
fn unlock_helm3_and_helm4_stuck_releases_as_real_helm_sees_them() {
    let c = TestCluster::start();
    c.install_widget_crd();
    for (major, fx) in [(3u8, "fx-helm3"), (4u8, "fx-helm4")] {
        let ns = seed(&c, &format!("unlock-h{major}"), &["stuck-secrets"], fx);
        let before = records(&c, &ns, "owner=helm");
        // dry run: plan shown, nothing changed
        let plan = run_ok(c.werf().args(["releases", "unlock", "stuck", "-n", &ns, "--dry-run"]));
        assert!(plan.contains("pending-upgrade") && plan.contains("mark failed") && plan.contains("dry run"), "{plan}");
        assert_eq!(records(&c, &ns, "owner=helm"), before);
        // without a terminal and without --yes: refused, nothing changed
        let out = run(c.werf().args(["releases", "unlock", "stuck", "-n", &ns]));
        assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(records(&c, &ns, "owner=helm"), before);

        let backup = c.dir.path().join(format!("unlock-backup-{major}"));
        let out = run_ok(c.werf().args(["releases", "unlock", "stuck", "-n", &ns, "--yes", "--backup-dir"]).arg(&backup));
        assert!(out.contains("pending-upgrade → failed"), "{out}");
        assert_eq!(files_in(&backup), vec![format!("{ns}_secret_sh.helm.release.v1.stuck.v2.yaml")]);
        for helm in [3u8, 4] {
            let hist = helm_json(&c, helm, &["history", "stuck", "-n", &ns]);
            assert_eq!(statuses(&hist), vec![(1, "deployed".to_string()), (2, "failed".to_string())], "helm{helm}");
            let desc = hist[1]["description"].as_str().unwrap();
            assert!(desc.starts_with("Marked failed by kubectl-werf releases unlock (was pending-upgrade"), "{desc}");
            let status = helm_json(&c, helm, &["status", "stuck", "-n", &ns]);
            assert_eq!(status["info"]["status"], "failed", "helm{helm}");
        }
        // labels rebuilt as Helm does
        let after = records(&c, &ns, "owner=helm");
        let labels = &after[&("Secret".to_string(), "sh.helm.release.v1.stuck.v2".to_string())].1;
        assert_eq!(labels.get("status").map(String::as_str), Some("failed"));
        assert!(labels.contains_key("modifiedAt"));
        // re-run: not stuck, nothing done, exit 0
        let again = run_ok(c.werf().args(["releases", "unlock", "stuck", "-n", &ns, "--yes"]));
        assert!(again.contains("nothing to unlock"), "{again}");
        assert_eq!(records(&c, &ns, "owner=helm"), after);
        // the backup directory undoes it
        let out = run_ok(c.werf().args(["releases", "restore", "--force", "--yes", "--backup-dir"]).arg(c.dir.path().join(format!("undo-{major}"))).arg("--dir").arg(&backup));
        assert!(out.contains("replaced"), "{out}");
        let hist = helm_json(&c, major, &["history", "stuck", "-n", &ns]);
        assert_eq!(statuses(&hist)[1].1, "pending-upgrade");
        let restored = records(&c, &ns, "owner=helm");
        let key = ("Secret".to_string(), "sh.helm.release.v1.stuck.v2".to_string());
        assert_eq!(restored[&key].0, before[&key].0, "payload byte-equal after undo");
    }
}

/// The point of unlocking: real helm refuses to upgrade a release stuck in pending-upgrade; after
/// `releases unlock` the same `helm upgrade` succeeds, `helm rollback` works on the history, and our
/// reading of what helm then wrote equals helm's.
#[test]
fn real_helm_upgrade_and_rollback_work_after_unlock() {
    let c = TestCluster::start();
    c.install_widget_crd();
    let chart = c.dir.path().join("tiny");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: tiny\nversion: 0.2.0\n").unwrap();
    std::fs::write(chart.join("templates/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tiny\ndata:\n  a: b\n").unwrap();
    for (major, fx) in [(3u8, "fx-helm3"), (4u8, "fx-helm4")] {
        let ns = seed(&c, &format!("rollback-h{major}"), &["stuck-secrets"], fx);
        let upgrade = || {
            let mut cmd = c.helm(major);
            cmd.args(["upgrade", "stuck"]).arg(&chart).args(["-n", &ns]);
            cmd
        };
        let refused = run(&mut upgrade());
        assert!(!refused.status.success(), "helm{major} upgrade of a pending release should be refused");
        let why = String::from_utf8_lossy(&refused.stderr);
        assert!(why.contains("another operation") && why.contains("in progress"), "helm{major}: {why}");

        run_ok(c.werf().args(["releases", "unlock", "stuck", "-n", &ns, "--yes"]));
        run_ok(&mut upgrade());
        run_ok(c.helm(major).args(["rollback", "stuck", "1", "-n", &ns]));
        let hist = helm_json(&c, major, &["history", "stuck", "-n", &ns]);
        let got: Vec<(i64, String)> = statuses(&hist);
        assert_eq!(
            got,
            vec![(1, "superseded".into()), (2, "failed".into()), (3, "superseded".into()), (4, "deployed".into())],
            "helm{major}: {hist}"
        );
        assert_eq!(hist[3]["description"], "Rollback to 1", "helm{major}");
        let ours: Value = serde_json::from_str(&run_ok(c.werf().args(["releases", "history", "stuck", "-n", &ns, "-o", "json"]))).unwrap();
        assert_eq!(ours, hist, "helm{major}");
    }
}

#[test]
fn unlock_to_delete_and_superseded_and_recent_records() {
    let c = TestCluster::start();
    let ns = seed(&c, "unlock-del", &["stuck-secrets"], "fx-helm3");
    let out = run_ok(c.werf().args(["releases", "unlock", "stuck", "-n", &ns, "--to", "delete", "--yes", "-o", "json", "--backup-dir"]).arg(c.dir.path().join("b1")));
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["result"], "deleted");
    assert_eq!(statuses(&helm_json(&c, 3, &["history", "stuck", "-n", &ns])), vec![(1, "deployed".to_string())]);

    let ns = seed(&c, "unlock-sup", &["stuck-secrets", "shop-secrets"], "fx-helm3");
    run_ok(c.werf().args(["releases", "unlock", "stuck", "-n", &ns, "--to", "superseded", "--yes", "--backup-dir"]).arg(c.dir.path().join("b2")));
    assert_eq!(statuses(&helm_json(&c, 3, &["history", "stuck", "-n", &ns]))[1].1, "superseded");
    // shop is not stuck: a message and exit 0; --to superseded without a deployed revision is refused
    let out = run_ok(c.werf().args(["releases", "unlock", "shop", "-n", &ns, "--yes"]));
    assert!(out.contains("uninstalled, not pending"), "{out}");

    // a record written just now: warned, and --yes alone is not enough
    let ns = seed(&c, "unlock-recent", &["stuck-secrets"], "fx-helm3");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
    run_ok(c.kubectl().args(["label", "secret", "sh.helm.release.v1.stuck.v2", "-n", &ns, "--overwrite", &format!("modifiedAt={now}")]));
    let out = run(c.werf().args(["releases", "unlock", "stuck", "-n", &ns, "--yes"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("WARNING") && err.contains("--force"), "{err}");
    assert_eq!(statuses(&helm_json(&c, 3, &["history", "stuck", "-n", &ns]))[1].1, "pending-upgrade");
    run_ok(c.werf().args(["releases", "unlock", "stuck", "-n", &ns, "--yes", "--force", "--backup-dir"]).arg(c.dir.path().join("b3")));
    assert_eq!(statuses(&helm_json(&c, 3, &["history", "stuck", "-n", &ns]))[1].1, "failed");
}

#[test]
fn unlock_helm2_stuck_release() {
    let c = TestCluster::start();
    let tiller = c.namespace("unlock-tiller");
    c.seed_file(&fixture("helm2-synthetic/kube-system-stuck-and-gone-configmaps.yaml"), &BTreeMap::from([("kube-system", tiller.as_str())]));
    let base = ["--helm-version", "2", "--tiller-namespace", tiller.as_str()];
    let out = run_ok(c.werf().args(["releases", "unlock", "stuck", "--yes", "--backup-dir"]).arg(c.dir.path().join("b")).args(base));
    assert!(out.contains("pending-upgrade → failed"), "{out}");
    // decoded again by our reader: status FAILED, description says what happened
    let status: Value = serde_json::from_str(&run_ok(c.werf().args(["releases", "status", "stuck", "-o", "json"]).args(base))).unwrap();
    assert_eq!(status["info"]["status"], "failed");
    assert!(status["info"]["description"].as_str().unwrap().starts_with("Marked failed by kubectl-werf"), "{status}");
    let recs = records(&c, &tiller, "OWNER=TILLER");
    assert_eq!(recs[&("ConfigMap".to_string(), "stuck.v2".to_string())].1.get("STATUS").map(String::as_str), Some("FAILED"));
    let out = run_ok(c.werf().args(["releases", "unlock", "stuck", "--yes"]).args(base));
    assert!(out.contains("nothing to unlock"), "{out}");
}

#[test]
fn prune_keeps_latest_and_last_deployed() {
    let c = TestCluster::start();
    let ns = seed(&c, "prune", &["shop-secrets", "stuck-secrets"], "fx-helm3");
    let before = records(&c, &ns, "owner=helm");
    let plan = run_ok(c.werf().args(["releases", "prune", "shop", "stuck", "-n", &ns, "--keep", "2", "--dry-run"]));
    assert!(plan.contains("1 (superseded), 2 (superseded)"), "{plan}");
    assert_eq!(records(&c, &ns, "owner=helm"), before);
    let backup = c.dir.path().join("prune-backup");
    run_ok(c.werf().args(["releases", "prune", "shop", "stuck", "-n", &ns, "--keep", "2", "--yes", "--backup-dir"]).arg(&backup));
    assert_eq!(statuses(&helm_json(&c, 3, &["history", "shop", "-n", &ns])), vec![(3, "failed".into()), (4, "uninstalled".into())]);
    assert_eq!(files_in(&backup).len(), 2);
    run_ok(c.werf().args(["releases", "prune", "shop", "stuck", "-n", &ns, "--keep", "1", "--yes", "--backup-dir"]).arg(&backup));
    assert_eq!(statuses(&helm_json(&c, 4, &["history", "shop", "-n", &ns])), vec![(4, "uninstalled".into())]);
    // stuck: revision 1 is the last deployed, 2 the latest: both kept
    assert_eq!(statuses(&helm_json(&c, 3, &["history", "stuck", "-n", &ns])).len(), 2);
    // everything pruned can be put back
    run_ok(c.werf().args(["releases", "restore", "--yes", "--dir"]).arg(&backup));
    assert_eq!(records(&c, &ns, "owner=helm").into_iter().map(|(k, (p, _))| (k, p)).collect::<Vec<_>>(), before.into_iter().map(|(k, (p, _))| (k, p)).collect::<Vec<_>>());
    // no scope: usage error
    assert_eq!(run(c.werf().args(["releases", "prune", "-n", &ns, "--keep", "1", "--yes"])).status.code(), Some(2));

    // Helm 2: SUPERSEDED, SUPERSEDED, FAILED, DEPLOYED
    let tiller = c.namespace("prune-tiller");
    c.seed_file(&fixture("helm2-synthetic/kube-system-shop-4revs-configmaps.yaml"), &BTreeMap::from([("kube-system", tiller.as_str())]));
    run_ok(c.werf().args(["releases", "prune", "shop", "--keep", "1", "--yes", "--helm-version", "2", "--tiller-namespace", &tiller, "--backup-dir"]).arg(c.dir.path().join("p2")));
    let left: Vec<String> = records(&c, &tiller, "OWNER=TILLER").into_keys().map(|(_, n)| n).collect();
    assert_eq!(left, vec!["shop.v4".to_string()]);
}

#[test]
fn export_is_accepted_by_kubectl_create() {
    let c = TestCluster::start();
    let ns = seed(&c, "export", &["shop-secrets", "cart-configmaps", "stuck-secrets", "big-secrets"], "fx-helm3");
    let before = records(&c, &ns, "owner=helm");
    let hist: Vec<Value> = ["shop", "cart", "stuck", "big"].iter().map(|r| helm_json(&c, 3, &["history", r, "-n", &ns])).collect();
    let dir = c.dir.path().join("export");
    let out = run_ok(c.werf().args(["releases", "export", "-n", &ns, "--dir"]).arg(&dir));
    assert!(out.contains(&format!("exported {} record(s)", before.len())), "{out}");
    run_ok(c.kubectl().args(["delete", "secrets,configmaps", "-l", "owner=helm", "-n", &ns]));
    assert!(records(&c, &ns, "owner=helm").is_empty());
    run_ok(c.kubectl().args(["create", "-f"]).arg(&dir));
    assert_eq!(records(&c, &ns, "owner=helm"), before);
    let again: Vec<Value> = ["shop", "cart", "stuck", "big"].iter().map(|r| helm_json(&c, 3, &["history", r, "-n", &ns])).collect();
    assert_eq!(again, hist);
}

#[test]
fn restore_round_trips_every_fixture() {
    let c = TestCluster::start();
    let mut namespaces: Vec<(String, &str)> = Vec::new();
    for fx in ["fx-helm3", "fx-helm4"] {
        let ns = seed(&c, "rt", &["shop-secrets", "cart-configmaps", "stuck-secrets", "big-secrets"], fx);
        namespaces.push((ns, "owner=helm"));
    }
    let map_names = ["kube-system", "helm-system", "tiller-apps", "tools"];
    let tillers: Vec<String> = map_names.iter().map(|n| c.namespace(&format!("rt-{n}"))).collect();
    let map: BTreeMap<&str, &str> = map_names.iter().copied().zip(tillers.iter().map(String::as_str)).collect();
    for d in ["helm2", "helm2-synthetic"] {
        for entry in std::fs::read_dir(fixture(d)).unwrap() {
            c.seed_file(&entry.unwrap().path(), &map);
        }
    }
    for t in &tillers {
        namespaces.push((t.clone(), "OWNER=TILLER"));
    }
    let dir = c.dir.path().join("all");
    let mut before = Vec::new();
    for (ns, sel) in &namespaces {
        before.push(records(&c, ns, sel));
        if *sel == "owner=helm" {
            run_ok(c.werf().args(["releases", "export", "-n", ns, "--dir"]).arg(&dir));
        } else {
            run_ok(c.werf().args(["releases", "export", "--helm-version", "2", "--tiller-namespace", ns, "--dir"]).arg(&dir));
        }
    }
    let total: usize = before.iter().map(BTreeMap::len).sum();
    assert_eq!(files_in(&dir).len(), total);
    for (ns, sel) in &namespaces {
        run_ok(c.kubectl().args(["delete", "secrets,configmaps", "-l", sel, "-n", ns]));
    }
    let out = run_ok(c.werf().args(["releases", "restore", "--yes", "--dir"]).arg(&dir));
    assert_eq!(out.matches("created").count(), total, "{out}");
    for ((ns, sel), b) in namespaces.iter().zip(&before) {
        assert_eq!(&records(&c, ns, sel), b, "{ns}");
    }
    // converged: a second restore only finds equal records
    let out = run_ok(c.werf().args(["releases", "restore", "--yes", "--dir"]).arg(&dir));
    assert_eq!(out.matches("equal").count(), total, "{out}");
}

#[test]
fn restore_refuses_differing_records_unless_forced() {
    let c = TestCluster::start();
    let ns = seed(&c, "refuse", &["stuck-secrets"], "fx-helm3");
    let dir = c.dir.path().join("exp");
    run_ok(c.werf().args(["releases", "export", "stuck", "-n", &ns, "--dir"]).arg(&dir));
    let original = records(&c, &ns, "owner=helm");
    run_ok(c.werf().args(["releases", "unlock", "stuck", "-n", &ns, "--yes", "--backup-dir"]).arg(c.dir.path().join("u")));
    let unlocked = records(&c, &ns, "owner=helm");
    let out = run(c.werf().args(["releases", "restore", "--yes", "--dir"]).arg(&dir));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("sh.helm.release.v1.stuck.v2") && stdout.contains("refused"), "{stdout}");
    assert!(stdout.contains("equal"), "{stdout}");
    assert_eq!(records(&c, &ns, "owner=helm"), unlocked);
    let replaced = c.dir.path().join("replaced");
    run_ok(c.werf().args(["releases", "restore", "--yes", "--force", "--dir"]).arg(&dir).arg("--backup-dir").arg(&replaced));
    let key = ("Secret".to_string(), "sh.helm.release.v1.stuck.v2".to_string());
    assert_eq!(records(&c, &ns, "owner=helm")[&key].0, original[&key].0);
    // the replaced (unlocked) record was backed up first and is itself restorable
    let saved = kubectl_werf::storage::backup::read_dir(&replaced).unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].as_ref().unwrap().payload, unlocked[&key].0);
}

#[test]
fn interrupted_prune_and_unlock_converge_on_rerun_emulator_only() {
    let c = TestCluster::start();
    let emu = c.emulator_for("fault injection between backup and write");
    let ns = seed(&c, "interrupt", &["shop-secrets", "stuck-secrets"], "fx-helm3");
    let backup = c.dir.path().join("b");
    // One failed delete is read again and sent again (tests/cluster_faults_releases.rs sweeps that);
    // a delete that keeps failing is given up, named, and left for a re-run.
    emu.inject(kube_emulator::Fault::on("delete", "secrets").namespace(&ns).name("sh.helm.release.v1.shop.v2").always().respond(500));
    let out = run(c.werf().args(["releases", "prune", "shop", "-n", &ns, "--keep", "1", "--yes", "--backup-dir"]).arg(&backup));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.lines().any(|l| l.contains("sh.helm.release.v1.shop.v2") && l.contains("failed")), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("run the same command again: kubectl werf releases prune shop"));
    // all three were backed up before their delete; one delete failed
    assert_eq!(files_in(&backup).len(), 3);
    assert_eq!(statuses(&helm_json(&c, 3, &["history", "shop", "-n", &ns])).len(), 2);
    emu.clear_faults();
    run_ok(c.werf().args(["releases", "prune", "shop", "-n", &ns, "--keep", "1", "--yes", "--backup-dir"]).arg(&backup));
    assert_eq!(statuses(&helm_json(&c, 3, &["history", "shop", "-n", &ns])), vec![(4, "uninstalled".into())]);
    assert_eq!(files_in(&backup).len(), 3, "the re-run's backup of the same record is the same file");

    emu.inject(kube_emulator::Fault::on("update", "secrets").namespace(&ns).always().respond(500));
    let ub = c.dir.path().join("ub");
    let out = run(c.werf().args(["releases", "unlock", "stuck", "-n", &ns, "--yes", "--backup-dir"]).arg(&ub));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("release stuck revision 2") && text.contains("sh.helm.release.v1.stuck.v2") && text.contains("unchanged"), "{text}");
    assert_eq!(files_in(&ub).len(), 1);
    assert_eq!(statuses(&helm_json(&c, 3, &["history", "stuck", "-n", &ns]))[1].1, "pending-upgrade");
    emu.clear_faults();
    run_ok(c.werf().args(["releases", "unlock", "stuck", "-n", &ns, "--yes", "--backup-dir"]).arg(&ub));
    assert_eq!(statuses(&helm_json(&c, 3, &["history", "stuck", "-n", &ns]))[1].1, "failed");
    assert_eq!(files_in(&ub).len(), 1);
}
