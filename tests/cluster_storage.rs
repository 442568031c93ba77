//! The storage layer against an API server: every fixture record read through the drivers, writes read
//! back by real helm3/helm4, optimistic concurrency on update and delete.

mod common;

use std::collections::BTreeMap;

use common::{TestCluster, fixture, run_ok};
use kubectl_werf::release::helm3::Status;
use kubectl_werf::storage::codec::{self, DecodeLimits};
use kubectl_werf::storage::{Helm2Storage, Helm3Driver};
use kubectl_werf::storage::{Helm2Store, Helm3Store, ObjectKind};

fn helm3_store(c: &TestCluster, driver: Helm3Driver) -> Helm3Store {
    Helm3Store::new(c.client.clone(), driver, DecodeLimits::default())
}

#[test]
fn helm3_fixtures_list_and_history_through_both_drivers() {
    let c = TestCluster::start();
    for (tag, fx_ns) in [("h3", "fx-helm3"), ("h4", "fx-helm4")] {
        let ns = c.namespace(tag);
        let map = BTreeMap::from([(fx_ns, ns.as_str())]);
        for f in ["shop-secrets", "cart-configmaps", "stuck-secrets", "big-secrets"] {
            c.seed_file(&fixture(&format!("helm3/{fx_ns}-{f}.yaml")), &map);
        }
        let secrets = helm3_store(&c, Helm3Driver::Secret);
        let listing = c.rt.block_on(secrets.list(Some(&ns), None)).unwrap();
        assert!(listing.errors.is_empty(), "{:?}", listing.errors);
        assert!(listing.warnings.is_empty(), "{:?}", listing.warnings);
        let mut names: Vec<(String, i64)> = listing.records.iter().map(|r| (r.release.name.clone(), r.release.version)).collect();
        names.sort();
        let expected: Vec<(String, i64)> = [("big", 1), ("shop", 1), ("shop", 2), ("shop", 3), ("shop", 4), ("stuck", 1), ("stuck", 2)]
            .iter()
            .map(|(n, v)| (n.to_string(), *v))
            .collect();
        assert_eq!(names, expected);
        // Custom release labels come from the object, not the payload.
        let shop1 = listing.records.iter().find(|r| r.release.name == "shop" && r.release.version == 1).unwrap();
        assert_eq!(shop1.release.labels.get("team").map(String::as_str), Some("payments"), "{:?}", shop1.release.labels);
        assert_eq!(shop1.object.kind, ObjectKind::Secret);

        let summaries = c.rt.block_on(secrets.list_summaries(Some(&ns), None)).unwrap();
        assert_eq!(summaries.records.len(), 7);
        let stuck2 = summaries.records.iter().find(|s| s.summary.name == "stuck" && s.summary.version == 2).unwrap();
        assert_eq!(stuck2.summary.status, Status::from("pending-upgrade"));
        assert_eq!(stuck2.summary.chart(), "shop-1.4.2");

        let history = c.rt.block_on(secrets.history(&ns, "shop")).unwrap();
        let statuses: Vec<&str> = history.records.iter().map(|r| r.release.info.status.as_str()).collect();
        assert_eq!(statuses, ["superseded", "superseded", "failed", "uninstalled"]);

        let configmaps = helm3_store(&c, Helm3Driver::ConfigMap);
        let cart = c.rt.block_on(configmaps.history(&ns, "cart")).unwrap();
        assert_eq!(cart.records.iter().map(|r| r.release.version).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(cart.records[0].object.kind, ObjectKind::ConfigMap);

        let meta = c.rt.block_on(secrets.list_meta(Some(&ns), None)).unwrap();
        assert_eq!(meta.len(), 7);
        let (latest, unlabelled) = kubectl_werf::storage::helm3::latest_by_labels(&meta);
        assert!(unlabelled.is_empty());
        assert_eq!(latest.len(), 3);
        assert_eq!(latest[&(ns.clone(), "shop".to_string())].name, "sh.helm.release.v1.shop.v4");

        let got = c.rt.block_on(secrets.get(&ns, "shop", 3)).unwrap().unwrap().unwrap();
        assert_eq!(got.release.info.status.as_str(), "failed");
        assert!(c.rt.block_on(secrets.get(&ns, "shop", 9)).unwrap().is_none());
    }
}

#[test]
fn helm2_damaged_records_are_named_and_the_rest_decode() {
    let c = TestCluster::start();
    let tiller = c.namespace("tiller");
    let map = BTreeMap::from([("kube-system", tiller.as_str())]);
    c.seed_file(&fixture("helm2-synthetic/kube-system-damaged-configmaps.yaml"), &map);
    c.seed_file(&fixture("helm2-synthetic/kube-system-shop-4revs-configmaps.yaml"), &map);
    let store = Helm2Store::new(c.client.clone(), &tiller, Helm2Storage::Auto, DecodeLimits::default());
    let listing = c.rt.block_on(store.list(None)).unwrap();
    assert_eq!(listing.errors.len(), 1, "{:?}", listing.errors);
    let err = listing.errors[0].to_string();
    assert!(err.starts_with(&format!("{tiller}/broken.v1: gzip: ")), "{err}");
    assert!(listing.warnings.iter().any(|w| w.contains("nolabel.v1") && w.contains("no VERSION label")), "{:?}", listing.warnings);
    let mut found: Vec<(String, i32, &str)> =
        listing.records.iter().map(|r| (r.release.name.clone(), r.release.version, r.release.status_name())).collect();
    found.sort();
    // Every record but the broken one, exactly: rawproto (protobuf not gzipped) decodes like any other.
    let want: Vec<(String, i32, &str)> = [
        ("nolabel", 1, "DEPLOYED"),
        ("rawproto", 1, "DEPLOYED"),
        ("shop", 1, "SUPERSEDED"),
        ("shop", 2, "SUPERSEDED"),
        ("shop", 3, "FAILED"),
        ("shop", 4, "DEPLOYED"),
    ]
    .into_iter()
    .map(|(n, v, s)| (n.to_string(), v, s))
    .collect();
    assert_eq!(found, want);
    let history = c.rt.block_on(store.history("nolabel")).unwrap();
    assert_eq!(history.records.len(), 1);
    assert!(!history.records[0].release.namespace.is_empty());
}

#[test]
fn helm2_auto_reports_a_release_stored_both_ways() {
    let c = TestCluster::start();
    let tiller = c.namespace("helm-system");
    let tools = c.namespace("tools");
    let map = BTreeMap::from([("helm-system", tiller.as_str()), ("tools", tools.as_str())]);
    for f in [
        "helm-system-invincible-zebu.v1-configmap.yaml",
        "helm-system-invincible-zebu.v1-secret.yaml",
        "helm-system-lunging-bat.v1-configmap.yaml",
        "tools-blog.v1-configmap.yaml",
    ] {
        c.seed_file(&fixture(&format!("helm2/{f}")), &map);
    }
    let auto = Helm2Store::new(c.client.clone(), &tiller, Helm2Storage::Auto, DecodeLimits::default());
    let listing = c.rt.block_on(auto.list(None)).unwrap();
    assert!(listing.errors.is_empty(), "{:?}", listing.errors);
    assert_eq!(listing.records.len(), 3);
    assert!(listing.warnings.iter().any(|w| w.contains("invincible-zebu") && w.contains("both")), "{:?}", listing.warnings);
    let secrets_only = Helm2Store::new(c.client.clone(), &tiller, Helm2Storage::Secret, DecodeLimits::default());
    let listing = c.rt.block_on(secrets_only.list(None)).unwrap();
    assert_eq!(listing.records.len(), 1);
    assert_eq!(listing.records[0].storage_name(), "helm2/secret");
    let blog = Helm2Store::new(c.client.clone(), &tools, Helm2Storage::ConfigMap, DecodeLimits::default());
    let listing = c.rt.block_on(blog.list(None)).unwrap();
    assert_eq!(listing.records[0].release.status_name(), "SUPERSEDED");
}

/// What we write, real helm reads: `helm status -o json` gives back the release we meant.
#[test]
fn written_records_are_read_by_real_helm() {
    let c = TestCluster::start();
    c.install_widget_crd();
    let src = c.namespace("src");
    let ns = c.namespace("written");
    c.seed_file(&fixture("helm3/fx-helm3-shop-secrets.yaml"), &BTreeMap::from([("fx-helm3", src.as_str())]));
    for driver in [Helm3Driver::Secret, Helm3Driver::ConfigMap] {
        let source = helm3_store(&c, Helm3Driver::Secret);
        let mut release = c.rt.block_on(source.get(&src, "shop", 2)).unwrap().unwrap().unwrap().release;
        release.name = format!("copy-{}", driver.as_str());
        release.namespace = ns.clone();
        release.version = 1;
        release.labels = BTreeMap::from([("team".to_string(), "payments".to_string())]);
        let store = helm3_store(&c, driver);
        let info = c.rt.block_on(store.create(&release)).unwrap();
        assert_eq!(info.labels.get("owner").map(String::as_str), Some("helm"));
        assert_eq!(info.labels.get("team").map(String::as_str), Some("payments"));
        assert!(info.labels.contains_key("createdAt"));
        if driver == Helm3Driver::Secret {
            assert_eq!(info.secret_type.as_deref(), Some("helm.sh/release.v1"));
        }
        // Creating again never overwrites.
        let again = c.rt.block_on(store.create(&release)).unwrap_err();
        assert!(again.is_conflict(), "{again}");

        let mut meant = serde_json::from_slice::<serde_json::Value>(&codec::helm3_json(&release).unwrap()).unwrap();
        meant.as_object_mut().unwrap().remove("chart");
        for major in [3u8, 4] {
            let out = run_ok(c.helm(major).env("HELM_DRIVER", driver.as_str()).args(["status", &release.name, "-n", &ns, "-o", "json"]));
            let got: serde_json::Value = serde_json::from_str(&out).unwrap();
            if major == 3 {
                assert_eq!(got, meant, "helm3 status of what we wrote ({})", driver.as_str());
            } else {
                // Helm 4 prints zero times by omitting them where Helm 3 writes "": the only difference.
                assert_eq!(
                    without_zero_times(got),
                    without_zero_times(meant.clone()),
                    "helm4 status of what we wrote ({})",
                    driver.as_str()
                );
            }
            // Helm 3 hides superseded releases unless asked (-a); Helm 4 shows every status.
            let all: &[&str] = if major == 3 { &["-a"] } else { &[] };
            let out = run_ok(
                c.helm(major)
                    .env("HELM_DRIVER", driver.as_str())
                    .args(["list", "-n", &ns, "-o", "json", "--filter", &format!("^{}$", release.name)])
                    .args(all),
            );
            let list: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(list[0]["name"], release.name.as_str(), "helm{major} list: {out}");
            assert_eq!(list[0]["status"], "superseded");
        }

        // Update with the version we read succeeds and stamps modifiedAt; a stale one is refused.
        let mut updated = release.clone();
        updated.info.status = Status::from("deployed");
        let info2 = c.rt.block_on(store.update(&info, &updated)).unwrap();
        assert!(info2.labels.contains_key("modifiedAt") && !info2.labels.contains_key("createdAt"), "{:?}", info2.labels);
        assert_eq!(info2.labels.get("status").map(String::as_str), Some("deployed"));
        assert_eq!(info2.labels.get("team").map(String::as_str), Some("payments"));
        let stale = c.rt.block_on(store.update(&info, &updated)).unwrap_err();
        assert!(stale.is_conflict(), "{stale}");
        let stale_delete = c.rt.block_on(store.delete(&info)).unwrap_err();
        assert!(stale_delete.is_conflict(), "{stale_delete}");
        c.rt.block_on(store.delete(&info2)).unwrap();
        assert!(c.rt.block_on(store.get(&ns, &release.name, 1)).unwrap().is_none());
    }
}

#[test]
fn helm2_records_written_decode_back() {
    let c = TestCluster::start();
    let tiller = c.namespace("tiller-w");
    c.seed_file(&fixture("helm2-synthetic/kube-system-shop-4revs-configmaps.yaml"), &BTreeMap::from([("kube-system", tiller.as_str())]));
    let cms = Helm2Store::new(c.client.clone(), &tiller, Helm2Storage::Auto, DecodeLimits::default());
    let history = c.rt.block_on(cms.history("shop")).unwrap();
    let mut release = history.records.last().unwrap().release.clone();
    release.name = "copied".into();
    let info = c.rt.block_on(cms.create(ObjectKind::Secret, &release)).unwrap();
    assert_eq!(info.labels.get("OWNER").map(String::as_str), Some("TILLER"));
    assert_eq!(info.labels.get("STATUS").map(String::as_str), Some("DEPLOYED"));
    let back = c.rt.block_on(cms.get(ObjectKind::Secret, "copied", release.version)).unwrap().unwrap().unwrap();
    assert_eq!(back.release, release);
    assert_eq!(back.storage_name(), "helm2/secret");
}

/// Drop time fields holding Helm 3's zero form `""`, which Helm 4 omits instead.
fn without_zero_times(mut v: serde_json::Value) -> serde_json::Value {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                map.retain(|k, val| {
                    !(["first_deployed", "last_deployed", "deleted", "started_at", "completed_at"].contains(&k.as_str()) && val == "")
                });
                map.values_mut().for_each(walk);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}
