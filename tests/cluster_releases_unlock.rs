//! `releases unlock` against an API server (the emulator, or the real cluster named by
//! KUBECTL_WERF_TEST_KUBECONFIG), checked with real helm3/helm4 where they can see it. Interrupted runs:
//! cluster_releases_prune.rs (`interrupted_prune_and_unlock_converge_on_rerun_emulator_only`).

mod common;

use std::collections::BTreeMap;

use common::maintenance::{files_in, helm_json, records, seed, statuses};
use common::{TestCluster, fixture, run, run_ok};
use serde_json::Value;

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
        let out = run_ok(
            c.werf()
                .args(["releases", "restore", "--force", "--yes", "--backup-dir"])
                .arg(c.dir.path().join(format!("undo-{major}")))
                .arg("--dir")
                .arg(&backup),
        );
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
    let out = run_ok(
        c.werf()
            .args(["releases", "unlock", "stuck", "-n", &ns, "--to", "delete", "--yes", "-o", "json", "--backup-dir"])
            .arg(c.dir.path().join("b1")),
    );
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["result"], "deleted");
    assert_eq!(statuses(&helm_json(&c, 3, &["history", "stuck", "-n", &ns])), vec![(1, "deployed".to_string())]);

    let ns = seed(&c, "unlock-sup", &["stuck-secrets", "shop-secrets"], "fx-helm3");
    run_ok(
        c.werf()
            .args(["releases", "unlock", "stuck", "-n", &ns, "--to", "superseded", "--yes", "--backup-dir"])
            .arg(c.dir.path().join("b2")),
    );
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
    c.seed_file(
        &fixture("helm2-synthetic/kube-system-stuck-and-gone-configmaps.yaml"),
        &BTreeMap::from([("kube-system", tiller.as_str())]),
    );
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
