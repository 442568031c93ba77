//! `releases relabel` against an API server (the emulator, or the real cluster named by
//! KUBECTL_WERF_TEST_KUBECONFIG): labels broken by hand (kubectl label), repaired with the command as
//! `releases doctor` prints it, then checked with real helm3/helm4 (list, history, upgrade).

mod common;

use std::collections::BTreeMap;

use common::maintenance::{files_in, records, statuses};
use common::surgery::write_chart;
use common::{TestCluster, run, run_ok};
use kubectl_werf::release::helm2;
use kubectl_werf::release::helm3::Status;
use kubectl_werf::storage::codec::{self, DecodeLimits, LabelStamp};
use kubectl_werf::storage::{Helm2Storage, Helm2Store, Helm3Driver, Helm3Store, NewObject, ObjectKind};
use serde_json::Value;

fn helm_with(c: &TestCluster, major: u8, driver: &str) -> std::process::Command {
    let mut cmd = c.helm(major);
    cmd.env("HELM_DRIVER", driver);
    cmd
}

fn helm_json(c: &TestCluster, major: u8, driver: &str, args: &[&str]) -> Value {
    serde_json::from_str(&run_ok(helm_with(c, major, driver).args(args).args(["-o", "json"]))).unwrap()
}

fn label(c: &TestCluster, kind: &str, ns: &str, object: &str, kv: &str) {
    run_ok(c.kubectl().args(["label", kind, object, "-n", ns, "--overwrite", kv]));
}

/// The labels of one record object.
fn labels_of(c: &TestCluster, kind: &str, ns: &str, object: &str) -> BTreeMap<String, String> {
    let v: Value = serde_json::from_str(&run_ok(c.kubectl().args(["get", kind, object, "-n", ns, "-o", "json"]))).unwrap();
    serde_json::from_value(v["metadata"]["labels"].clone()).unwrap()
}

/// A release of three revisions written by real helm (`driver` storage), its labels broken by hand,
/// repaired by `releases relabel NAME -n NS --yes`, after which helm tells the truth and upgrades.
fn relabel_round(c: &TestCluster, hint: &str, driver: &str, kind: &str) {
    let ns = c.namespace(hint);
    let chart = write_chart(c, &format!("chart-{hint}"), None);
    for v in ["one", "two", "three"] {
        run_ok(helm_with(c, 3, driver).args(["upgrade", "--install", "web"]).arg(&chart).args(["-n", &ns, "--set", &format!("value={v}")]));
    }
    let obj = |rev: i64| format!("sh.helm.release.v1.web.v{rev}");
    // hand edits: a stale status and version, a record hidden from history (name) and the latest hidden
    // from helm list (owner); a user label that must survive
    label(c, kind, &ns, &obj(2), "status=deployed");
    label(c, kind, &ns, &obj(2), "version=9");
    label(c, kind, &ns, &obj(2), "team=payments");
    label(c, kind, &ns, &obj(1), "name=ghost");
    label(c, kind, &ns, &obj(3), "owner=nobody");
    let v2_broken = labels_of(c, kind, &ns, &obj(2));
    // helm list: the release vanished (its newest visible revision is superseded); -a shows revision 2
    let listed = helm_json(c, 3, driver, &["list", "-n", &ns]);
    assert_eq!(listed, Value::Array(vec![]), "helm list lies before the repair");
    let listed = helm_json(c, 3, driver, &["list", "-a", "-n", &ns]);
    assert_eq!(listed[0]["revision"], "2", "helm list -a lies before the repair: {listed}");
    let hist = statuses(&helm_json(c, 3, driver, &["history", "web", "-n", &ns]));
    assert_eq!(hist, vec![(2, "superseded".to_string())], "helm history lies before the repair");
    let before = records(c, &ns, "");

    // dry run: the plan names record, label, from and to; nothing changes
    let plan = run_ok(c.werf().args(["releases", "relabel", "web", "-n", &ns, "--dry-run"]));
    for (rev, l, from, to) in
        [(1, "name", "ghost", "web"), (2, "status", "deployed", "superseded"), (2, "version", "9", "2"), (3, "owner", "nobody", "helm")]
    {
        let found = plan.lines().any(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            cols.first() == Some(&format!("{ns}/{}", obj(rev)).as_str()) && cols[3..] == [l, from, to]
        });
        assert!(found, "{rev} {l} {from} → {to} not in plan:\n{plan}");
    }
    assert!(plan.contains("dry run"), "{plan}");
    assert_eq!(records(c, &ns, ""), before);

    // as doctor prints it (plus a backup directory the test can look into)
    let backup = c.dir.path().join(format!("backup-{hint}"));
    let out = run_ok(c.werf().args(["releases", "relabel", "web", "-n", &ns, "--yes", "--backup-dir"]).arg(&backup));
    assert!(out.contains("3 of 3 record(s) relabelled"), "{out}");
    assert_eq!(files_in(&backup).len(), 3, "{:?}", files_in(&backup));
    for rev in 1..=3 {
        let got = labels_of(c, kind, &ns, &obj(rev));
        let want_status = if rev == 3 { "deployed" } else { "superseded" };
        for (k, v) in [("name", "web"), ("owner", "helm"), ("status", want_status), ("version", &rev.to_string())] {
            assert_eq!(got.get(k).map(String::as_str), Some(v), "{} {k}: {got:?}", obj(rev));
        }
        assert!(got.contains_key("modifiedAt"), "{got:?}");
    }
    // every label but the drifted ones and the update stamp kept (the user's `team` among them)
    let v2 = labels_of(c, kind, &ns, &obj(2));
    let kept = |l: &BTreeMap<String, String>| {
        l.iter()
            .filter(|(k, _)| !["status", "version", "modifiedAt"].contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(kept(&v2), kept(&v2_broken));
    assert_eq!(v2["team"], "payments");
    // payloads byte for byte
    let after = records(c, &ns, "");
    for rev in 1..=3 {
        let key = (if kind == "secret" { "Secret" } else { "ConfigMap" }.to_string(), obj(rev));
        assert_eq!(after[&key].0, before[&key].0);
    }
    // helm tells the truth, helm3 and helm4 agree
    let want = vec![(1, "superseded".to_string()), (2, "superseded".to_string()), (3, "deployed".to_string())];
    for major in [3u8, 4] {
        let listed = helm_json(c, major, driver, &["list", "-n", &ns]);
        assert_eq!((listed[0]["revision"].as_str(), listed[0]["status"].as_str()), (Some("3"), Some("deployed")), "helm{major}: {listed}");
        assert_eq!(statuses(&helm_json(c, major, driver, &["history", "web", "-n", &ns])), want, "helm{major}");
    }
    // re-run converges
    let again = run_ok(c.werf().args(["releases", "relabel", "web", "-n", &ns, "--yes"]));
    assert!(again.contains("nothing to relabel"), "{again}");
    assert_eq!(records(c, &ns, ""), after);
    // both helms upgrade it
    for (major, v) in [(3u8, "four"), (4u8, "five")] {
        run_ok(helm_with(c, major, driver).args(["upgrade", "web"]).arg(&chart).args(["-n", &ns, "--set", &format!("value={v}")]));
    }
    let hist = statuses(&helm_json(c, 4, driver, &["history", "web", "-n", &ns]));
    assert_eq!(hist.iter().filter(|(_, s)| s == "deployed").map(|(r, _)| *r).collect::<Vec<_>>(), vec![5], "{hist:?}");
}

#[test]
fn relabel_repairs_helm3_secret_release() {
    let c = TestCluster::start();
    relabel_round(&c, "relabel-s", "secret", "secret");
}

#[test]
fn relabel_repairs_helm3_configmap_release() {
    let c = TestCluster::start();
    relabel_round(&c, "relabel-cm", "configmap", "configmap");
}

/// Records relabel refuses: one whose object name disagrees with its payload (a copy under another
/// revision's name) and one that cannot be decoded. Both named, skipped, exit 1; the rest done.
#[test]
fn relabel_refuses_misnamed_and_undecodable_records() {
    let c = TestCluster::start();
    let ns = c.namespace("relabel-bad");
    let store = Helm3Store::new(c.client.clone(), Helm3Driver::Secret, DecodeLimits::default());
    let mut release = kubectl_werf::release::helm3::Release { name: "app".into(), version: 1, namespace: ns.clone(), ..Default::default() };
    release.info.status = Status::Deployed;
    c.rt.block_on(store.create(&release)).unwrap();
    // a copy of revision 1 stored as revision 2: labels say 2, payload says 1
    let mut copy = store.object_for(&release, LabelStamp::Created(1)).unwrap();
    copy.name = codec::helm3_object_name("app", 2);
    copy.labels.insert("version".into(), "2".into());
    c.rt.block_on(store.create_object(&copy)).unwrap();
    // an undecodable record
    let broken = NewObject {
        kind: ObjectKind::Secret,
        namespace: ns.clone(),
        name: codec::helm3_object_name("app", 3),
        labels: BTreeMap::from([("name".into(), "app".into()), ("owner".into(), "helm".into()), ("version".into(), "3".into())]),
        secret_type: Some(codec::HELM3_SECRET_TYPE.into()),
        payload: "bm90IGEgcmVsZWFzZQ==".into(),
    };
    c.rt.block_on(store.create_object(&broken)).unwrap();
    label(&c, "secret", &ns, "sh.helm.release.v1.app.v1", "status=failed");

    let out = run(c.werf().args(["releases", "relabel", "app", "-n", &ns, "--yes", "--backup-dir"]).arg(c.dir.path().join("b")));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("sh.helm.release.v1.app.v2") && err.contains("cannot rename"), "{err}");
    assert!(err.contains("sh.helm.release.v1.app.v3") && err.contains("cannot be decoded"), "{err}");
    assert_eq!(labels_of(&c, "secret", &ns, "sh.helm.release.v1.app.v1")["status"], "deployed", "the rest is done");
    assert_eq!(labels_of(&c, "secret", &ns, "sh.helm.release.v1.app.v2")["version"], "2", "refused record untouched");
}

/// Helm 2 (Tiller) records: STATUS and VERSION labels repaired from the payload.
#[test]
fn relabel_repairs_helm2_records() {
    let c = TestCluster::start();
    let tiller = c.namespace("relabel-tiller");
    let store = Helm2Store::new(c.client.clone(), &tiller, Helm2Storage::ConfigMap, DecodeLimits::default());
    for (v, code) in [(1, helm2::StatusCode::Superseded), (2, helm2::StatusCode::Deployed)] {
        let release = helm2::Release {
            name: "legacy".into(),
            version: v,
            namespace: "apps".into(),
            info: Some(helm2::Info { status: Some(helm2::Status { code: code as i32, ..Default::default() }), ..Default::default() }),
            ..Default::default()
        };
        c.rt.block_on(store.create(ObjectKind::ConfigMap, &release)).unwrap();
    }
    label(&c, "configmap", &tiller, "legacy.v1", "STATUS=DEPLOYED");
    label(&c, "configmap", &tiller, "legacy.v2", "VERSION=7");
    let base = ["--helm-version", "2", "--tiller-namespace", tiller.as_str()];
    let before = records(&c, &tiller, "");
    let plan = run_ok(c.werf().args(["releases", "relabel", "legacy", "--dry-run"]).args(base));
    assert!(plan.contains("STATUS") && plan.contains("SUPERSEDED") && plan.contains("VERSION"), "{plan}");
    assert_eq!(records(&c, &tiller, ""), before);
    let out = run_ok(
        c.werf().args(["releases", "relabel", "legacy", "--yes", "-o", "json", "--backup-dir"]).arg(c.dir.path().join("b")).args(base),
    );
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["result"], "relabelled", "{report}");
    let v1 = labels_of(&c, "configmap", &tiller, "legacy.v1");
    let v2 = labels_of(&c, "configmap", &tiller, "legacy.v2");
    assert_eq!((v1["STATUS"].as_str(), v2["VERSION"].as_str(), v2["STATUS"].as_str()), ("SUPERSEDED", "2", "DEPLOYED"));
    assert!(v1.contains_key("MODIFIED_AT") && v1.contains_key("CREATED_AT"), "{v1:?}");
    let again = run_ok(c.werf().args(["releases", "relabel", "legacy", "--yes"]).args(base));
    assert!(again.contains("nothing to relabel"), "{again}");
}

/// A record whose write keeps failing is named and left; the other is still relabelled (exit 1); the
/// same command run again finishes the job.
#[test]
fn relabel_write_failure_rest_done_emulator_only() {
    let c = TestCluster::start();
    let emu = c.emulator_for("fault injection on one record's update");
    let ns = c.namespace("relabel-fault");
    let store = Helm3Store::new(c.client.clone(), Helm3Driver::ConfigMap, DecodeLimits::default());
    for (v, status) in [(1, Status::Superseded), (2, Status::Deployed)] {
        let mut release =
            kubectl_werf::release::helm3::Release { name: "flaky".into(), version: v, namespace: ns.clone(), ..Default::default() };
        release.info.status = status;
        c.rt.block_on(store.create(&release)).unwrap();
    }
    label(&c, "configmap", &ns, "sh.helm.release.v1.flaky.v1", "status=deployed");
    label(&c, "configmap", &ns, "sh.helm.release.v1.flaky.v2", "version=1");
    emu.inject(kube_emulator::Fault::on("update", "configmaps").namespace(&ns).name("sh.helm.release.v1.flaky.v1").always().respond(500));
    let out = run(c.werf().args(["releases", "relabel", "flaky", "-n", &ns, "--yes"]));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("sh.helm.release.v1.flaky.v1") && text.contains("1 of 2") && text.contains("run the same command again"),
        "{text}"
    );
    assert_eq!(labels_of(&c, "configmap", &ns, "sh.helm.release.v1.flaky.v2")["version"], "2");
    assert_eq!(labels_of(&c, "configmap", &ns, "sh.helm.release.v1.flaky.v1")["status"], "deployed");
    emu.clear_faults();
    let out = run_ok(c.werf().args(["releases", "relabel", "flaky", "-n", &ns, "--yes"]));
    assert!(out.contains("1 of 1"), "{out}");
    assert_eq!(labels_of(&c, "configmap", &ns, "sh.helm.release.v1.flaky.v1")["status"], "superseded");
}
