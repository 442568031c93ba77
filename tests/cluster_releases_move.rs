//! `releases move` against a cluster (the emulator, or a real kube-apiserver in the real pass), judged by
//! real helm3/helm4: after move `helm history|upgrade|rollback NEW` work and `helm list` no longer shows the
//! old name. `releases forget`: cluster_releases_forget.rs. Fault injection and interruption of both verbs
//! are in cluster_releases_faults.rs.

mod common;

use std::collections::BTreeMap;

use common::surgery::{helm_json, helm_keys, install, names_listed, records, settings, write_chart};
use common::{TestCluster, fixture, run, run_ok};
use serde_json::Value;

#[test]
fn move_renames_and_real_helm_upgrades_and_rolls_back_the_new_name() {
    let c = TestCluster::start();
    let ns = c.namespace("move");
    let chart = write_chart(&c, "move-chart", None);
    install(&c, 3, "shop", &chart, &ns, "one");
    install(&c, 3, "shop", &chart, &ns, "two");
    let theirs_before = helm_json(&c, 3, &["history", "shop", "-n", &ns]);

    let out = run(c
        .werf()
        .args(["releases", "move", "shop", "-n", &ns, "--to-name", "store", "--yes", "--backup-dir"])
        .arg(c.dir.path().join("mv")));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // The chart's label holds the old name: said, not changed.
    assert!(
        err.contains("warning: the old name stays in ConfigMap/settings: metadata.labels.app.kubernetes.io/instance = \"shop\""),
        "{err}"
    );
    for major in [3, 4] {
        assert_eq!(names_listed(&c, major, &ns), vec!["store".to_string()], "helm{major} list");
    }
    // The history is the same but for the name.
    let theirs_after = helm_json(&c, 3, &["history", "store", "-n", &ns]);
    assert_eq!(theirs_after, theirs_before);
    assert_eq!(settings(&c, &ns), (helm_keys("store", &ns), "two".to_string()));
    install(&c, 3, "store", &chart, &ns, "three");
    install(&c, 4, "store", &chart, &ns, "four");
    run_ok(c.helm(3).args(["rollback", "store", "2", "-n", &ns]));
    assert_eq!(settings(&c, &ns).1, "two");
    run_ok(c.helm(4).args(["rollback", "store", "4", "-n", &ns]));
    assert_eq!(settings(&c, &ns).1, "four");
    let hist = helm_json(&c, 4, &["history", "store", "-n", &ns]);
    assert_eq!(hist.as_array().unwrap().len(), 6, "{hist}");
    // Our reading of what helm wrote since equals helm's.
    let ours: Value = serde_json::from_str(&run_ok(c.werf().args(["releases", "history", "store", "-n", &ns, "-o", "json"]))).unwrap();
    assert_eq!(ours, helm_json(&c, 3, &["history", "store", "-n", &ns]));
}

#[test]
fn move_refuses_what_would_surprise_and_moves_namespaces_when_safe() {
    let c = TestCluster::start();
    let ns = c.namespace("move-refuse");
    let chart = write_chart(&c, "refuse-chart", None);
    install(&c, 3, "shop", &chart, &ns, "one");
    let other_chart = {
        let dir = c.dir.path().join("other-chart");
        std::fs::create_dir_all(dir.join("templates")).unwrap();
        std::fs::write(dir.join("Chart.yaml"), "apiVersion: v2\nname: other\nversion: 0.1.0\n").unwrap();
        std::fs::write(dir.join("templates/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\ndata: {}\n").unwrap();
        dir
    };
    run_ok(c.helm(3).args(["install", "taken"]).arg(&other_chart).args(["-n", &ns]));
    let before = records(&c, &ns);

    // The new name exists: refused; nothing changed.
    let out = run(c.werf().args(["releases", "move", "shop", "-n", &ns, "--to-name", "taken", "--yes"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("release taken already exists") && err.contains("--force"), "{err}");
    assert_eq!(records(&c, &ns), before);

    // The chart leaves its namespace to the release: --to-namespace is refused and says why.
    let target = c.namespace("move-target");
    let out = run(c.werf().args(["releases", "move", "shop", "-n", &ns, "--to-name", "shop", "--to-namespace", &target, "--yes"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("ConfigMap/settings (revision 1) has no metadata.namespace"), "{err}");
    assert_eq!(records(&c, &ns), before);

    // --force: the existing release is backed up and replaced; the new name holds exactly shop's history.
    let backup = c.dir.path().join("forced");
    run_ok(c.werf().args(["releases", "move", "shop", "-n", &ns, "--to-name", "taken", "--force", "--yes", "--backup-dir"]).arg(&backup));
    assert_eq!(names_listed(&c, 3, &ns), vec!["taken".to_string()]);
    let hist = helm_json(&c, 3, &["history", "taken", "-n", &ns]);
    assert_eq!(hist.as_array().unwrap().iter().map(|h| h["chart"].as_str().unwrap()).collect::<Vec<_>>(), ["refuse-chart-0.1.0"]);
    let backed: Vec<String> = std::fs::read_dir(&backup).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(backed.iter().any(|f| f.contains("sh.helm.release.v1.taken.v1")), "the replaced record is backed up: {backed:?}");

    // A chart that names its namespace explicitly moves to another namespace; helm works there.
    let pinned_ns = c.namespace("move-pinned");
    let pinned = write_chart(&c, "pinned-chart", Some(&pinned_ns));
    install(&c, 3, "pinned", &pinned, &pinned_ns, "one");
    let target = c.namespace("move-pinned-to");
    run_ok(
        c.werf()
            .args([
                "releases",
                "move",
                "pinned",
                "-n",
                &pinned_ns,
                "--to-name",
                "pinned",
                "--to-namespace",
                &target,
                "--yes",
                "--backup-dir",
            ])
            .arg(c.dir.path().join("pinned")),
    );
    assert!(names_listed(&c, 3, &pinned_ns).is_empty());
    assert_eq!(names_listed(&c, 4, &target), vec!["pinned".to_string()]);
    assert_eq!(settings(&c, &pinned_ns).0, helm_keys("pinned", &target));
    install(&c, 3, "pinned", &pinned, &target, "two");
    assert_eq!(settings(&c, &pinned_ns).1, "two", "the object stays where the chart puts it");

    // A release stuck in a pending state is refused.
    let stuck_ns = c.namespace("move-stuck");
    c.seed_file(&fixture("helm3/fx-helm3-stuck-secrets.yaml"), &BTreeMap::from([("fx-helm3", stuck_ns.as_str())]));
    let out = run(c.werf().args(["releases", "move", "stuck", "-n", &stuck_ns, "--to-name", "unstuck", "--yes"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("releases unlock stuck"));
}
