//! `releases unlock` against an API server (the emulator, or the real cluster named by
//! KUBECTL_WERF_TEST_KUBECONFIG), checked with real helm3/helm4 where they can see it. Interrupted runs:
//! cluster_releases_prune.rs (`interrupted_prune_and_unlock_converge_on_rerun_emulator_only`).

mod common;

use std::collections::BTreeMap;

use common::maintenance::{files_in, helm_json, records, seed, statuses};
use common::surgery::write_chart;
use common::{TestCluster, fixture, run, run_ok};
use kubectl_werf::release::helm2;
use kubectl_werf::release::helm3::Status;
use kubectl_werf::storage::codec::{DecodeLimits, LabelStamp};
use kubectl_werf::storage::{Helm2Storage, Helm2Store, Helm3Driver, Helm3Store, ObjectKind};
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

// ---------------------------------------------------------------------------------------------
// Several deployed revisions (helm/helm#7274): `unlock --to superseded`, run as `releases doctor`
// prints it.

fn driver_env(driver: Helm3Driver) -> &'static str {
    match driver {
        Helm3Driver::Secret => "secret",
        Helm3Driver::ConfigMap => "configmap",
    }
}

fn helm_with(c: &TestCluster, major: u8, driver: Helm3Driver) -> std::process::Command {
    let mut cmd = c.helm(major);
    cmd.env("HELM_DRIVER", driver_env(driver));
    cmd
}

fn history_with(c: &TestCluster, major: u8, driver: Helm3Driver, name: &str, ns: &str) -> Value {
    let out = run_ok(helm_with(c, major, driver).args(["history", name, "-n", ns, "-o", "json"]));
    serde_json::from_str(&out).unwrap()
}

/// Rewrite revision `rev` with `status` through the project's encoder (labels as helm writes them), its
/// last-deployed time and modifiedAt an hour ago: the state a broken tool or a hand edit leaves.
fn set_status(c: &TestCluster, driver: Helm3Driver, ns: &str, name: &str, rev: i64, status: Status) {
    let store = Helm3Store::new(c.client.clone(), driver, DecodeLimits::default());
    let rec = c.rt.block_on(store.get(ns, name, rev)).unwrap().unwrap().unwrap();
    let mut release = rec.release.clone();
    release.info.status = status;
    let hour_ago = kubectl_werf::storage::helm3::now_unix() - 3600;
    release.info.last_deployed = kubectl_werf::release::Time::from_unix(hour_ago, 0).unwrap();
    let obj = store.object_for(&release, LabelStamp::Modified(hour_ago)).unwrap();
    c.rt.block_on(store.objects().replace(&obj, rec.object.resource_version.as_deref().unwrap())).unwrap();
}

/// A release written by real helm (install + 2 upgrades) in `driver`'s storage.
fn three_revisions(c: &TestCluster, hint: &str, major: u8, driver: Helm3Driver) -> (String, std::path::PathBuf) {
    let ns = c.namespace(hint);
    let chart = write_chart(c, &format!("chart-{hint}"), None);
    for v in ["one", "two", "three"] {
        run_ok(helm_with(c, major, driver).args(["upgrade", "--install", "multi"]).arg(&chart).args([
            "-n",
            &ns,
            "--set",
            &format!("value={v}"),
        ]));
    }
    (ns, chart)
}

fn upgrade_with_both_helms(c: &TestCluster, driver: Helm3Driver, chart: &std::path::Path, ns: &str) {
    for (major, v) in [(3u8, "after3"), (4u8, "after4")] {
        run_ok(helm_with(c, major, driver).args(["upgrade", "multi"]).arg(chart).args(["-n", ns, "--set", &format!("value={v}")]));
    }
    for major in [3u8, 4] {
        let got = statuses(&history_with(c, major, driver, "multi", ns));
        let deployed: Vec<i64> = got.iter().filter(|(_, s)| s == "deployed").map(|(r, _)| *r).collect();
        assert_eq!(deployed, vec![5], "helm{major}: {got:?}");
    }
}

#[test]
fn unlock_to_superseded_repairs_several_deployed_secrets() {
    let c = TestCluster::start();
    let driver = Helm3Driver::Secret;
    let (ns, chart) = three_revisions(&c, "multi-dep-s", 3, driver);
    set_status(&c, driver, &ns, "multi", 1, Status::Deployed);
    set_status(&c, driver, &ns, "multi", 2, Status::Deployed);
    let before = records(&c, &ns, "owner=helm");
    for major in [3u8, 4] {
        let deployed = statuses(&history_with(&c, major, driver, "multi", &ns)).into_iter().filter(|(_, s)| s == "deployed").count();
        assert_eq!(deployed, 3, "helm{major} sees the broken state");
    }

    // --to failed / --to delete: refused with the command that repairs it, nothing changed
    for to in ["failed", "delete"] {
        let out = run(c.werf().args(["releases", "unlock", "multi", "-n", &ns, "--to", to, "--yes"]));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(&format!("kubectl werf releases unlock multi -n {ns} --to superseded")), "{err}");
    }
    // dry run: every record it changes, where it lives; nothing changed
    let plan = run_ok(c.werf().args(["releases", "unlock", "multi", "-n", &ns, "--to", "superseded", "--dry-run"]));
    for (rev, action) in [(1, "mark superseded"), (2, "mark superseded"), (3, "keep deployed")] {
        let line = plan.lines().find(|l| l.contains(&format!("sh.helm.release.v1.multi.v{rev}"))).unwrap_or_else(|| panic!("{plan}"));
        assert!(line.contains(action) && line.contains("secret") && line.contains(&ns), "{line}");
    }
    assert!(plan.contains("dry run"), "{plan}");
    assert_eq!(records(&c, &ns, "owner=helm"), before);

    // as doctor prints it (plus a backup directory the test can look into)
    let backup = c.dir.path().join("multi-backup");
    let out = run_ok(c.werf().args(["releases", "unlock", "multi", "-n", &ns, "--to", "superseded", "--yes", "--backup-dir"]).arg(&backup));
    assert!(out.contains("2 of 2 revision(s) marked superseded") && out.contains("revision 3 stays deployed"), "{out}");
    assert_eq!(
        files_in(&backup),
        vec![format!("{ns}_secret_sh.helm.release.v1.multi.v1.yaml"), format!("{ns}_secret_sh.helm.release.v1.multi.v2.yaml")]
    );
    let want = vec![(1, "superseded".to_string()), (2, "superseded".to_string()), (3, "deployed".to_string())];
    let h3 = history_with(&c, 3, driver, "multi", &ns);
    assert_eq!(statuses(&h3), want);
    assert_eq!(h3, history_with(&c, 4, driver, "multi", &ns), "helm3 and helm4 agree");
    assert!(h3[0]["description"].as_str().unwrap().starts_with("Marked superseded by kubectl-werf releases unlock (was deployed"), "{h3}");
    let after = records(&c, &ns, "owner=helm");
    for rev in [1, 2] {
        let labels = &after[&("Secret".to_string(), format!("sh.helm.release.v1.multi.v{rev}"))].1;
        assert_eq!(labels.get("status").map(String::as_str), Some("superseded"));
    }
    // re-run converges: nothing to do, exit 0
    let again = run_ok(c.werf().args(["releases", "unlock", "multi", "-n", &ns, "--to", "superseded", "--yes"]));
    assert!(again.contains("nothing to unlock"), "{again}");
    assert_eq!(records(&c, &ns, "owner=helm"), after);

    // the backup puts the broken state back; the repair runs again; both helms upgrade
    run_ok(
        c.werf().args(["releases", "restore", "--force", "--yes", "--backup-dir"]).arg(c.dir.path().join("undo")).arg("--dir").arg(&backup),
    );
    let restored = records(&c, &ns, "owner=helm");
    let key = ("Secret".to_string(), "sh.helm.release.v1.multi.v1".to_string());
    assert_eq!(restored[&key].0, before[&key].0, "payload byte-equal after undo");
    assert_eq!(statuses(&history_with(&c, 3, driver, "multi", &ns)).iter().filter(|(_, s)| s == "deployed").count(), 3);
    run_ok(
        c.werf()
            .args(["releases", "unlock", "multi", "-n", &ns, "--to", "superseded", "--yes", "--backup-dir"])
            .arg(c.dir.path().join("b2")),
    );
    upgrade_with_both_helms(&c, driver, &chart, &ns);
}

/// ConfigMap driver, written by helm4, with the latest revision also stuck: one run leaves one deployed
/// revision and nothing pending.
#[test]
fn unlock_to_superseded_configmaps_with_pending_latest() {
    let c = TestCluster::start();
    let driver = Helm3Driver::ConfigMap;
    let (ns, chart) = three_revisions(&c, "multi-dep-cm", 4, driver);
    set_status(&c, driver, &ns, "multi", 1, Status::Deployed);
    set_status(&c, driver, &ns, "multi", 2, Status::Deployed);
    set_status(&c, driver, &ns, "multi", 3, Status::PendingUpgrade);
    let out = run_ok(
        c.werf()
            .args(["releases", "unlock", "multi", "-n", &ns, "--to", "superseded", "--yes", "-o", "json", "--backup-dir"])
            .arg(c.dir.path().join("b")),
    );
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["keptDeployed"], 2, "{report}");
    let changed: Vec<(i64, &str, &str)> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["revision"].as_i64().unwrap(), c["from"].as_str().unwrap(), c["result"].as_str().unwrap()))
        .collect();
    assert_eq!(changed, vec![(1, "deployed", "superseded"), (3, "pending-upgrade", "superseded")]);
    assert!(report["changes"][0]["object"].as_str().unwrap().ends_with("/sh.helm.release.v1.multi.v1"), "{report}");
    assert_eq!(report["changes"][0]["storage"], "configmap");
    let want = vec![(1, "superseded".to_string()), (2, "deployed".to_string()), (3, "superseded".to_string())];
    let h3 = history_with(&c, 3, driver, "multi", &ns);
    assert_eq!(statuses(&h3), want);
    assert_eq!(h3, history_with(&c, 4, driver, "multi", &ns), "helm3 and helm4 agree");
    upgrade_with_both_helms(&c, driver, &chart, &ns);
}

/// Helm 2 (Tiller) records with several DEPLOYED revisions, repaired on our side; labels follow.
#[test]
fn unlock_to_superseded_helm2_several_deployed() {
    let c = TestCluster::start();
    let tiller = c.namespace("multi-tiller");
    let store = Helm2Store::new(c.client.clone(), &tiller, Helm2Storage::ConfigMap, DecodeLimits::default());
    let hour_ago = kubectl_werf::storage::helm3::now_unix() - 3600;
    for v in 1..=3 {
        let release = helm2::Release {
            name: "legacy".into(),
            version: v,
            namespace: "apps".into(),
            info: Some(helm2::Info {
                status: Some(helm2::Status { code: helm2::StatusCode::Deployed as i32, ..Default::default() }),
                last_deployed: Some(helm2::Timestamp { seconds: hour_ago, nanos: 0 }),
                description: "Upgrade complete".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        c.rt.block_on(store.create(ObjectKind::ConfigMap, &release)).unwrap();
    }
    let base = ["--helm-version", "2", "--tiller-namespace", tiller.as_str()];
    let dry = run_ok(c.werf().args(["releases", "unlock", "legacy", "--to", "superseded", "--dry-run"]).args(base));
    assert!(dry.contains("legacy.v1") && dry.contains("legacy.v2") && dry.contains("helm2/configmap"), "{dry}");
    let out = run_ok(
        c.werf()
            .args(["releases", "unlock", "legacy", "--to", "superseded", "--yes", "--backup-dir"])
            .arg(c.dir.path().join("b"))
            .args(base),
    );
    assert!(out.contains("2 of 2"), "{out}");
    let recs = records(&c, &tiller, "OWNER=TILLER");
    let label = |v: i32| recs[&("ConfigMap".to_string(), format!("legacy.v{v}"))].1.get("STATUS").cloned().unwrap_or_default();
    assert_eq!((label(1), label(2), label(3)), ("SUPERSEDED".into(), "SUPERSEDED".into(), "DEPLOYED".into()));
    let hist: Value = serde_json::from_str(&run_ok(c.werf().args(["releases", "history", "legacy", "-o", "json"]).args(base))).unwrap();
    assert_eq!(statuses(&hist), vec![(1, "superseded".to_string()), (2, "superseded".to_string()), (3, "deployed".to_string())]);
    let again = run_ok(c.werf().args(["releases", "unlock", "legacy", "--to", "superseded", "--yes"]).args(base));
    assert!(again.contains("nothing to unlock"), "{again}");
}

/// Several deployed and the latest stuck, asked `--to failed`: the stuck revision is unlocked as before
/// and the note names the command that repairs the rest, which then leaves one deployed revision.
#[test]
fn unlock_to_failed_with_several_deployed_notes_the_repair() {
    let c = TestCluster::start();
    let ns = c.namespace("multi-note");
    let store = Helm3Store::new(c.client.clone(), Helm3Driver::Secret, DecodeLimits::default());
    for (v, status) in [(1, Status::Deployed), (2, Status::Deployed), (3, Status::PendingUpgrade)] {
        let mut release =
            kubectl_werf::release::helm3::Release { name: "note".into(), version: v, namespace: ns.clone(), ..Default::default() };
        release.info.status = status;
        c.rt.block_on(store.create(&release)).unwrap();
    }
    // written just now: --force with --yes, as for any recent pending revision
    let out =
        run(c.werf().args(["releases", "unlock", "note", "-n", &ns, "--yes", "--force", "--backup-dir"]).arg(c.dir.path().join("b1")));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let hint = format!("kubectl werf releases unlock note -n {ns} --to superseded");
    assert!(err.contains("2 deployed revisions (1, 2)") && err.contains(&hint), "{err}");
    let mut cmd = c.werf();
    cmd.args(hint.split(' ').skip(2)).arg("--yes").arg("--backup-dir").arg(c.dir.path().join("b2"));
    run_ok(&mut cmd);
    let hist: Value = serde_json::from_str(&run_ok(c.werf().args(["releases", "history", "note", "-n", &ns, "-o", "json"]))).unwrap();
    assert_eq!(statuses(&hist), vec![(1, "superseded".to_string()), (2, "deployed".to_string()), (3, "failed".to_string())]);
}

/// A record whose write keeps failing is named and left; the other is still superseded (exit 1); the
/// same command run again finishes the job.
#[test]
fn unlock_to_superseded_write_failure_rest_done_emulator_only() {
    let c = TestCluster::start();
    let emu = c.emulator_for("fault injection on one record's update");
    let ns = c.namespace("multi-fault");
    let store = Helm3Store::new(c.client.clone(), Helm3Driver::Secret, DecodeLimits::default());
    for v in 1..=3 {
        let mut release =
            kubectl_werf::release::helm3::Release { name: "flaky".into(), version: v, namespace: ns.clone(), ..Default::default() };
        release.info.status = Status::Deployed;
        c.rt.block_on(store.create(&release)).unwrap();
    }
    emu.inject(kube_emulator::Fault::on("update", "secrets").namespace(&ns).name("sh.helm.release.v1.flaky.v1").always().respond(500));
    let b = c.dir.path().join("b");
    let cmd = |c: &TestCluster| {
        let mut cmd = c.werf();
        cmd.args(["releases", "unlock", "flaky", "-n", &ns, "--to", "superseded", "--yes", "--backup-dir"]).arg(&b);
        cmd
    };
    let out = run(&mut cmd(&c));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("sh.helm.release.v1.flaky.v1") && text.contains("1 of 2") && text.contains("run the same command again"),
        "{text}"
    );
    let hist = |c: &TestCluster| -> Vec<(i64, String)> {
        statuses(&serde_json::from_str(&run_ok(c.werf().args(["releases", "history", "flaky", "-n", &ns, "-o", "json"]))).unwrap())
    };
    assert_eq!(hist(&c), vec![(1, "deployed".to_string()), (2, "superseded".to_string()), (3, "deployed".to_string())]);
    emu.clear_faults();
    let out = run_ok(&mut cmd(&c));
    assert!(out.contains("1 of 1"), "{out}");
    assert_eq!(hist(&c), vec![(1, "superseded".to_string()), (2, "superseded".to_string()), (3, "deployed".to_string())]);
    assert_eq!(files_in(&b).len(), 2, "one backup file per record, the same file on the re-run");
}
