//! `releases restore` against an API server (the emulator, or the real cluster named by
//! KUBECTL_WERF_TEST_KUBECONFIG): every fixture round-trips through export and restore; differing records are refused.

mod common;

use std::collections::BTreeMap;

use common::maintenance::{files_in, records, seed};
use common::{TestCluster, fixture, run, run_ok};

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
