//! `releases prune` against an API server (the emulator, or the real cluster named by
//! KUBECTL_WERF_TEST_KUBECONFIG), checked with real helm3/helm4; interrupted prune and unlock converge on a rerun.

mod common;

use std::collections::BTreeMap;

use common::maintenance::{files_in, helm_json, records, seed, statuses};
use common::{TestCluster, fixture, run, run_ok};

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
    assert_eq!(
        records(&c, &ns, "owner=helm").into_iter().map(|(k, (p, _))| (k, p)).collect::<Vec<_>>(),
        before.into_iter().map(|(k, (p, _))| (k, p)).collect::<Vec<_>>()
    );
    // no scope: usage error
    assert_eq!(run(c.werf().args(["releases", "prune", "-n", &ns, "--keep", "1", "--yes"])).status.code(), Some(2));

    // Helm 2: SUPERSEDED, SUPERSEDED, FAILED, DEPLOYED
    let tiller = c.namespace("prune-tiller");
    c.seed_file(&fixture("helm2-synthetic/kube-system-shop-4revs-configmaps.yaml"), &BTreeMap::from([("kube-system", tiller.as_str())]));
    run_ok(
        c.werf()
            .args([
                "releases",
                "prune",
                "shop",
                "--keep",
                "1",
                "--yes",
                "--helm-version",
                "2",
                "--tiller-namespace",
                &tiller,
                "--backup-dir",
            ])
            .arg(c.dir.path().join("p2")),
    );
    let left: Vec<String> = records(&c, &tiller, "OWNER=TILLER").into_keys().map(|(_, n)| n).collect();
    assert_eq!(left, vec!["shop.v4".to_string()]);
}

#[test]
fn interrupted_prune_and_unlock_converge_on_rerun_emulator_only() {
    let c = TestCluster::start();
    let emu = c.emulator_for("fault injection between backup and write");
    let ns = seed(&c, "interrupt", &["shop-secrets", "stuck-secrets"], "fx-helm3");
    let backup = c.dir.path().join("b");
    // One failed delete is read again and sent again (tests/cluster_releases_faults.rs sweeps that);
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
    assert!(
        text.contains("release stuck revision 2") && text.contains("sh.helm.release.v1.stuck.v2") && text.contains("unchanged"),
        "{text}"
    );
    assert_eq!(files_in(&ub).len(), 1);
    assert_eq!(statuses(&helm_json(&c, 3, &["history", "stuck", "-n", &ns]))[1].1, "pending-upgrade");
    emu.clear_faults();
    run_ok(c.werf().args(["releases", "unlock", "stuck", "-n", &ns, "--yes", "--backup-dir"]).arg(&ub));
    assert_eq!(statuses(&helm_json(&c, 3, &["history", "stuck", "-n", &ns]))[1].1, "failed");
    assert_eq!(files_in(&ub).len(), 1);
}
