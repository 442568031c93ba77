//! `releases list` in the corners of its fetch plan (one payload LIST of records not labelled
//! superseded, one metadata LIST, GETs for latest records the first did not bring) equals real helm3
//! and helm4 on the same records: a superseded latest revision, a failed or pending latest on top of a
//! deployed one, several deployed revisions, uninstalled with kept history, a status label that
//! disagrees with the payload, revisions past 9, and all of it again under the ConfigMap driver.
//! Uninstall with kept history and a failed upgrade are made by real helm; the states helm only leaves
//! behind when interrupted or hand-edited are written as helm's drivers write records.

mod common;
mod synthetic_releases;

use common::{TestCluster, run_ok};
use kubectl_werf::release::Time;
use kubectl_werf::release::helm3::{Release, Status};
use kubectl_werf::storage::codec::{self, LabelStamp};
use serde_json::{Value, json};

/// Revision `rev` of `name` with `status` (labelled `label_status`, normally the same).
fn record(base: &Release, name: &str, ns: &str, rev: i64, status: Status, label_status: Option<&str>, configmap: bool) -> Value {
    let mut r = base.clone();
    r.name = name.into();
    r.namespace = ns.into();
    r.version = rev;
    r.info.status = status;
    r.info.description = format!("revision {rev}");
    r.info.first_deployed = Time::from_unix(1_790_000_000, 0).unwrap();
    r.info.last_deployed = Time::from_unix(1_790_000_000 + rev * 60, 123_000_000).unwrap();
    let payload = codec::encode_helm3(&r).unwrap();
    let mut labels = codec::helm3_labels(&r, LabelStamp::Created(1_790_000_000 + rev * 60));
    if let Some(s) = label_status {
        labels.insert("status".into(), s.into());
    }
    let meta = json!({"name": codec::helm3_object_name(name, rev), "namespace": ns, "labels": labels});
    if configmap {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"release": payload}})
    } else {
        json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1", "metadata": meta,
               "data": {"release": codec::encode_base64(payload.as_bytes())}})
    }
}

/// The hand-written corners, as Secrets or as ConfigMaps.
fn seed_corners(c: &TestCluster, ns: &str, configmap: bool) {
    use Status::*;
    let base = synthetic_releases::shop();
    let put = |name: &str, revs: &[(Status, Option<&str>)]| {
        for (i, (status, label)) in revs.iter().enumerate() {
            c.create_object(record(&base, name, ns, i as i64 + 1, status.clone(), *label, configmap));
        }
    };
    // After a failed rollback, or `unlock --to superseded`: no revision is current.
    put("sup-latest", &[(Superseded, None), (Superseded, None)]);
    put("failed-on-deployed", &[(Superseded, None), (Deployed, None), (Failed, None)]);
    put("pending-on-deployed", &[(Deployed, None), (PendingUpgrade, None)]);
    put("pending-install", &[(PendingInstall, None)]);
    put("two-deployed", &[(Deployed, None), (Deployed, None)]);
    put("kept-history", &[(Superseded, None), (Superseded, None), (Uninstalled, None)]);
    put("uninstalling", &[(Superseded, None), (Uninstalling, None)]);
    // Labels that disagree with payloads: the payload is what helm shows.
    put("label-says-superseded", &[(Superseded, Some("deployed")), (Deployed, Some("superseded"))]);
    // Revision 12 sorts between v1 and v2 in a LIST; its predecessor failed.
    let mut twelve = vec![(Superseded, None); 10];
    twelve.push((Failed, None));
    twelve.push((Deployed, None));
    put("twelve", &twelve);
}

/// A chart of one ConfigMap; `broken` makes its value a number, which the API server refuses.
fn chart(dir: &std::path::Path, broken: bool) -> std::path::PathBuf {
    let root = dir.join(if broken { "corner-broken" } else { "corner" });
    std::fs::create_dir_all(root.join("templates")).unwrap();
    std::fs::write(root.join("Chart.yaml"), "apiVersion: v2\nname: corner\nversion: 0.1.0\nappVersion: \"1.0\"\n").unwrap();
    let value = if broken { "1" } else { "\"one\"" };
    std::fs::write(
        root.join("templates/cm.yaml"),
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{{{ .Release.Name }}}}-cm\ndata:\n  key: {value}\n"),
    )
    .unwrap();
    root
}

/// Real helm leaves these: uninstalled with kept history, and a failed upgrade over a deployed revision.
fn seed_with_helm(c: &TestCluster, ns: &str, major: u8, driver: &str) {
    let good = chart(c.dir.path(), false);
    let broken = chart(c.dir.path(), true);
    let helm = |args: &[&str]| {
        let mut cmd = c.helm(major);
        cmd.env("HELM_DRIVER", driver).args(args).args(["-n", ns]);
        cmd
    };
    run_ok(&mut helm(&["install", "helm-kept", good.to_str().unwrap()]));
    run_ok(&mut helm(&["upgrade", "helm-kept", good.to_str().unwrap()]));
    run_ok(&mut helm(&["uninstall", "helm-kept", "--keep-history"]));
    run_ok(&mut helm(&["install", "helm-failed", good.to_str().unwrap()]));
    let out = common::run(&mut helm(&["upgrade", "helm-failed", broken.to_str().unwrap()]));
    assert!(!out.status.success(), "the broken chart must fail to upgrade");
}

fn without_storage_column(table: &str) -> String {
    table.lines().map(|l| l.rsplit_once('\t').map_or(l, |(a, _)| a).to_string() + "\n").collect()
}

fn without_our_fields(json: &str, ns: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let mut items: Vec<Value> = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["namespace"] == ns)
        .map(|i| {
            let mut i = i.clone();
            let m = i.as_object_mut().unwrap();
            m.shift_remove("storage");
            m.shift_remove("project");
            m.shift_remove("env");
            i
        })
        .collect();
    items.sort_by_key(|i| i["name"].to_string());
    items
}

fn compare(c: &TestCluster, ns: &str, driver: &str, expected_releases: usize) {
    let werf = |args: &[&str]| {
        let mut cmd = c.werf();
        cmd.args(["releases", "list", "--helm-version", "3", "--release-storage", driver]).args(args);
        run_ok(&mut cmd)
    };
    let helm = |major: u8, args: &[&str]| {
        let mut cmd = c.helm(major);
        cmd.env("HELM_DRIVER", driver).arg("list").args(args);
        if major == 3 {
            cmd.arg("-a");
        }
        run_ok(&mut cmd)
    };
    let ours_table = werf(&["-n", ns]);
    let ours_json = werf(&["-n", ns, "-o", "json"]);
    let ours_all = werf(&["-A", "-o", "json", "--max", "0"]);
    assert_eq!(without_our_fields(&ours_json, ns).len(), expected_releases, "{ours_json}");
    assert_eq!(without_our_fields(&ours_all, ns), without_our_fields(&ours_json, ns), "-A and -n agree");
    for major in [3u8, 4] {
        assert_eq!(without_storage_column(&ours_table), helm(major, &["-n", ns]), "helm{major} list -n ({driver})");
        assert_eq!(
            without_our_fields(&ours_json, ns),
            without_our_fields(&helm(major, &["-n", ns, "-o", "json"]), ns),
            "helm{major} -o json ({driver})"
        );
        assert_eq!(
            without_our_fields(&ours_all, ns),
            without_our_fields(&helm(major, &["-A", "-o", "json", "--max", "0"]), ns),
            "helm{major} -A ({driver})"
        );
    }
}

#[test]
fn list_corners_equal_helm3_and_helm4_secret_driver() {
    let c = TestCluster::start();
    let ns = c.namespace("corners-secret");
    seed_corners(&c, &ns, false);
    seed_with_helm(&c, &ns, 3, "secret");
    compare(&c, &ns, "secret", 11);
    let json = run_ok(c.werf().args(["releases", "list", "-n", &ns, "-o", "json"]));
    let rows: Vec<Value> = serde_json::from_str(&json).unwrap();
    let row = |name: &str| rows.iter().find(|r| r["name"] == name).unwrap_or_else(|| panic!("{name} missing: {json}")).clone();
    assert_eq!((row("sup-latest")["revision"].as_str(), row("sup-latest")["status"].as_str()), (Some("2"), Some("superseded")));
    assert_eq!(row("label-says-superseded")["status"], "deployed");
    assert_eq!((row("twelve")["revision"].as_str(), row("twelve")["status"].as_str()), (Some("12"), Some("deployed")));
    assert_eq!(row("helm-kept")["status"], "uninstalled");
    assert_eq!(row("helm-failed")["status"], "failed");
}

#[test]
fn list_corners_equal_helm3_and_helm4_configmap_driver() {
    let c = TestCluster::start();
    let ns = c.namespace("corners-cm");
    seed_corners(&c, &ns, true);
    seed_with_helm(&c, &ns, 4, "configmap");
    compare(&c, &ns, "configmap", 11);
}
