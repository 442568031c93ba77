//! `releases forget` against a cluster (the emulator, or a real kube-apiserver in the real pass), judged by
//! real helm3/helm4: after forget helm no longer knows the release and its objects keep running (and
//! `helm install` takes them over again, or not, as the ownership mode says). `releases move`:
//! cluster_releases_move.rs. Fault injection and interruption of both verbs are in cluster_releases_faults.rs.

mod common;

use std::collections::BTreeMap;

use common::surgery::{helm_json, helm_keys, install, labelled, names_listed, records, settings, write_chart};
use common::{TestCluster, fixture, run, run_ok};

#[test]
fn forget_keeps_the_objects_and_helm_takes_them_over_again() {
    let c = TestCluster::start();
    let ns = c.namespace("forget");
    let chart = write_chart(&c, "forget-chart", None);
    install(&c, 3, "app", &chart, &ns, "one");
    install(&c, 3, "app", &chart, &ns, "two");
    let before = records(&c, &ns);
    assert_eq!(before.len(), 2, "{before:?}");

    // The plan names every record and the object; --dry-run changes nothing.
    let plan = run_ok(c.werf().args(["releases", "forget", "app", "-n", &ns, "--dry-run"]));
    assert!(plan.contains("sh.helm.release.v1.app.v1") && plan.contains("sh.helm.release.v1.app.v2"), "{plan}");
    assert!(plan.contains("ConfigMap/settings") && plan.contains("keep"), "{plan}");
    assert_eq!(records(&c, &ns), before);
    // Without a terminal and without --yes: refused, exit 2.
    let out = run(c.werf().args(["releases", "forget", "app", "-n", &ns]));
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));

    // Default: records gone, the object stays with its keys, and helm installs the release again over it.
    let backup = c.dir.path().join("forget-keep");
    run_ok(c.werf().args(["releases", "forget", "app", "-n", &ns, "--yes", "--backup-dir"]).arg(&backup));
    assert!(records(&c, &ns).is_empty());
    for major in [3, 4] {
        assert!(names_listed(&c, major, &ns).is_empty(), "helm{major} still lists it");
    }
    assert_eq!(settings(&c, &ns), (helm_keys("app", &ns), "two".to_string()));
    install(&c, 3, "app", &chart, &ns, "three");
    assert_eq!(settings(&c, &ns), (helm_keys("app", &ns), "three".to_string()));

    // --strip-ownership: helm then refuses to install over the object, as for any object it does not own;
    // restore --dir puts the records and the keys back, and helm upgrades the release again.
    let backup = c.dir.path().join("forget-strip");
    run_ok(c.werf().args(["releases", "forget", "app", "-n", &ns, "--strip-ownership", "--yes", "--backup-dir"]).arg(&backup));
    assert_eq!(settings(&c, &ns), (BTreeMap::new(), "three".to_string()));
    let refused = run(c.helm(3).args(["install", "app"]).arg(&chart).args(["-n", &ns]));
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("invalid ownership metadata"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    run_ok(c.werf().args(["releases", "restore", "--yes", "--dir"]).arg(&backup));
    assert_eq!(settings(&c, &ns).0, helm_keys("app", &ns));
    let hist = helm_json(&c, 3, &["history", "app", "-n", &ns]);
    assert_eq!(hist.as_array().unwrap().len(), 1, "{hist}");
    install(&c, 4, "app", &chart, &ns, "four");
    assert_eq!(settings(&c, &ns).1, "four");

    // --to-release: the object is handed to another release, which helm then installs over it.
    run_ok(
        c.werf()
            .args(["releases", "forget", "app", "-n", &ns, "--to-release", "other", "--yes", "--backup-dir"])
            .arg(c.dir.path().join("forget-to")),
    );
    assert_eq!(settings(&c, &ns).0, helm_keys("other", &ns));
    install(&c, 3, "other", &chart, &ns, "five");
    assert_eq!(names_listed(&c, 3, &ns), vec!["other".to_string()]);
    assert_eq!(settings(&c, &ns), (helm_keys("other", &ns), "five".to_string()));
}

#[test]
fn forget_refuses_a_busy_release_and_names_what_is_missing() {
    let c = TestCluster::start();
    let ns = c.namespace("forget-busy");
    c.seed_file(&fixture("helm3/fx-helm3-stuck-secrets.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
    let before = records(&c, &ns);
    let out = run(c.werf().args(["releases", "forget", "stuck", "-n", &ns, "--yes"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("pending-upgrade") && err.contains("releases unlock stuck"), "{err}");
    assert_eq!(records(&c, &ns), before, "nothing deleted");
    let out = run(c.werf().args(["releases", "forget", "nope", "-n", &ns, "--yes"]));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("release \"nope\" not found") && err.contains(&ns), "{err}");
}

/// forget changes one release, found by the scope rule every verb shares: either Helm 3 driver, a Helm 2
/// release whose release namespace is -n; a name in two storages is refused until one is picked.
#[test]
fn forget_takes_the_one_storage_the_scope_rule_finds() {
    let c = TestCluster::start();
    let ns = c.namespace("forget-drivers");
    let chart = write_chart(&c, "drivers-chart", None);
    run_ok(c.helm(3).env("HELM_DRIVER", "configmap").args(["install", "app"]).arg(&chart).args(["-n", &ns]));
    let out = run_ok(c.werf().args(["releases", "forget", "app", "-n", &ns, "--yes", "--backup-dir"]).arg(c.dir.path().join("b1")));
    assert!(out.contains("1 record(s) deleted"), "{out}");
    assert!(records(&c, &ns).is_empty());

    // One name under both drivers is two releases: refused, both named, until --release-storage picks one.
    let twins = c.namespace("forget-twins");
    run_ok(c.helm(3).args(["install", "twin"]).arg(&chart).args(["-n", &twins]));
    run_ok(c.helm(3).env("HELM_DRIVER", "configmap").args(["install", "twin"]).arg(&chart).args(["-n", &twins]));
    let before = records(&c, &twins);
    assert_eq!(before.len(), 2, "{before:?}");
    let out = run(c.werf().args(["releases", "forget", "twin", "-n", &twins, "--yes"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("secret") && err.contains("configmap") && err.contains("--release-storage"), "{err}");
    assert_eq!(records(&c, &twins), before, "nothing deleted");
    run_ok(
        c.werf()
            .args(["releases", "forget", "twin", "-n", &twins, "--release-storage", "configmap", "--yes", "--backup-dir"])
            .arg(c.dir.path().join("b-twin")),
    );
    let left = records(&c, &twins);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].contains("secret"), "the Secret driver's twin stays: {left:?}");

    // Helm 2: Tiller's records whose release namespace is -n.
    let tiller = c.namespace("forget-tiller");
    c.seed_file(&fixture("helm2-synthetic/kube-system-shop-4revs-configmaps.yaml"), &BTreeMap::from([("kube-system", tiller.as_str())]));
    let tiller_records = || labelled(&c, &tiller, "OWNER=TILLER");
    assert_eq!(tiller_records().len(), 4);
    let helm3_only = run(c.werf().args([
        "releases",
        "forget",
        "shop",
        "-n",
        "legacy-shop",
        "--helm-version",
        "3",
        "--tiller-namespace",
        &tiller,
        "--yes",
    ]));
    assert_eq!(helm3_only.status.code(), Some(1), "--helm-version 3 leaves Helm 2 alone");
    let wrong_ns =
        run(c.werf().args(["releases", "forget", "shop", "-n", &ns, "--helm-version", "2", "--tiller-namespace", &tiller, "--yes"]));
    let err = String::from_utf8_lossy(&wrong_ns.stderr);
    assert_eq!(wrong_ns.status.code(), Some(1), "{err}");
    assert!(err.contains("legacy-shop"), "names where the release is: {err}");
    assert_eq!(tiller_records().len(), 4);
    let out = run_ok(
        c.werf()
            .args(["releases", "forget", "shop", "-n", "legacy-shop", "--tiller-namespace", &tiller, "--yes", "--backup-dir"])
            .arg(c.dir.path().join("b2")),
    );
    assert!(out.contains("helm2/configmap"), "{out}");
    assert!(tiller_records().is_empty());
    run_ok(c.werf().args(["releases", "restore", "--yes", "--dir"]).arg(c.dir.path().join("b2")));
    assert_eq!(tiller_records().len(), 4, "restore puts the Tiller records back");
}
