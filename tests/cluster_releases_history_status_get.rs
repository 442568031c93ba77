//! `releases history|status|get` against an API server: our output equals helm's own fixture outputs and
//! what real helm3 and helm4 print for the same seeded namespaces; Helm 2 releases listed and inspected.
//! `releases list`: cluster_releases_list.rs.

mod common;
mod helm2_wire;
mod release_fixtures;

use std::collections::BTreeMap;
use std::process::Command;

use common::helm3_fixtures::seed_helm3;
use common::{TestCluster, fixture, run, run_ok};
use serde_json::Value;

#[test]
fn history_status_get_equal_helm_and_its_fixtures() {
    let c = TestCluster::start();
    c.install_widget_crd();
    let seeded = seed_helm3(&c);
    for (ns, fx) in &seeded {
        for (args, file) in [
            (vec!["history", "shop", "-o", "json"], "shop-history.json"),
            (vec!["get", "values", "shop", "-o", "json"], "shop-values.json"),
            (vec!["get", "manifest", "shop"], "shop-manifest.txt"),
            (vec!["get", "hooks", "shop"], "shop-hooks.txt"),
        ] {
            let ours = run_ok(c.werf().args(["releases"]).args(&args).args(["-n", ns]));
            let expected = std::fs::read_to_string(fixture(&format!("helm3/{fx}-{file}"))).unwrap();
            assert_eq!(ours, expected, "{args:?} vs {fx}-{file}");
        }
        // helm's status fixture was printed by the helm that wrote the release
        let helm4_mode = |cmd: &mut Command| {
            cmd.env("HELM_PLUGIN_NAME", "werf-releases").env("HELM_BIN", common::helm_bin(4));
        };
        let mut status = c.werf();
        if *fx == "fx-helm4" {
            helm4_mode(&mut status);
        }
        let ours = run_ok(status.args(["releases", "status", "shop", "-n", ns, "-o", "json"]));
        let expected = std::fs::read_to_string(fixture(&format!("helm3/{fx}-shop-status.json"))).unwrap();
        assert_eq!(ours, expected, "status json vs {fx}");

        let cases: &[&[&str]] = &[
            &["status", "shop"],
            &["status", "shop", "-o", "yaml"],
            &["status", "shop", "-o", "json"],
            &["status", "shop", "--revision", "2"],
            &["status", "stuck"],
            &["status", "big", "-o", "json"],
            &["history", "shop"],
            &["history", "shop", "--max", "2"],
            &["history", "shop", "-o", "yaml"],
            &["history", "stuck", "-o", "json"],
            &["get", "all", "shop"],
            &["get", "all", "shop", "--revision", "1"],
            &["get", "values", "shop"],
            &["get", "values", "shop", "-a"],
            &["get", "values", "shop", "-a", "-o", "json"],
            &["get", "values", "shop", "-o", "yaml"],
            &["get", "values", "big"],
            &["get", "values", "stuck", "--revision", "1", "-a", "-o", "yaml"],
            &["get", "metadata", "shop"],
            &["get", "metadata", "shop", "-o", "json"],
            &["get", "metadata", "shop", "-o", "yaml"],
            &["get", "notes", "shop"],
            &["get", "hooks", "shop", "--revision", "3"],
            &["get", "manifest", "shop", "--revision", "2"],
        ];
        for case in cases {
            for major in [3u8, 4] {
                let theirs = run_ok(c.helm(major).args(*case).args(["-n", ns]));
                let mut cmd = c.werf();
                if major == 4 {
                    helm4_mode(&mut cmd);
                }
                let ours = run_ok(cmd.arg("releases").args(*case).args(["-n", ns]));
                assert_eq!(ours, theirs, "helm{major} {case:?} in {fx}");
            }
        }
        let missing = run(c.werf().args(["releases", "status", "nope", "-n", ns]));
        assert_eq!(missing.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&missing.stderr).contains("not found"));
    }
}

/// Tiller namespaces for the Helm 2 fixtures; returns (tiller ns for kube-system, helm-system, tiller-apps, tools).
fn seed_helm2(c: &TestCluster) -> (String, String, String, String) {
    let ks = c.namespace("tiller-ks");
    let hs = c.namespace("tiller-hs");
    let ta = c.namespace("tiller-apps");
    let tools = c.namespace("tiller-tools");
    let map = BTreeMap::from([
        ("kube-system", ks.as_str()),
        ("helm-system", hs.as_str()),
        ("tiller-apps", ta.as_str()),
        ("tools", tools.as_str()),
    ]);
    for dir in ["helm2", "helm2-synthetic"] {
        for entry in std::fs::read_dir(fixture(dir)).unwrap() {
            c.seed_file(&entry.unwrap().path(), &map);
        }
    }
    (ks, hs, ta, tools)
}

#[test]
fn helm2_releases_are_listed_and_inspected() {
    let c = TestCluster::start();
    let (ks, hs, ta, tools) = seed_helm2(&c);
    // One Tiller namespace, rows of one release namespace.
    let out = run(c.werf().args(["releases", "list", "--tiller-namespace", &ks, "-n", "legacy-shop"]));
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(table.contains("shop") && table.contains("helm2/configmap") && table.contains("deployed"), "{table}");
    assert!(stderr.contains(&format!("warning: {ks}/broken.v1: gzip: ")), "{stderr}");
    assert!(!table.contains("broken"), "{table}");
    // -A: every Tiller namespace, both kinds.
    let out = run(c.werf().args(["releases", "list", "-A", "-o", "json", "--helm-version", "2"]));
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(&format!("Helm 2 release \"invincible-zebu\" is stored both as ConfigMaps and as Secrets in namespace {hs}")),
        "{stderr}"
    );
    let json = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Value> = serde_json::from_str(&json).unwrap();
    // The server may hold other tests' Helm 2 releases of the same names: require a row with exactly
    // these fields rather than taking the first row of a name.
    let expect_row =
        |fields: &[(&str, &str)]| assert!(rows.iter().any(|r| fields.iter().all(|(k, v)| r[*k] == *v)), "no row with {fields:?}: {json}");
    expect_row(&[("name", "cart"), ("storage", "helm2/secret"), ("namespace", "legacy-cart")]);
    expect_row(&[("name", "gone"), ("status", "uninstalled")]);
    expect_row(&[("name", "stuck"), ("status", "pending-upgrade")]);
    expect_row(&[("name", "blog"), ("status", "superseded"), ("storage", "helm2/configmap")]);
    expect_row(&[("name", "nolabel"), ("revision", "1")]);
    expect_row(&[("name", "rawproto"), ("status", "deployed")]);
    expect_row(&[("name", "myproject-production"), ("revision", "7"), ("project", "myproject"), ("env", "production")]);
    expect_row(&[("name", "invincible-zebu")]);
    assert!(rows.iter().all(|r| r["storage"].as_str().unwrap().starts_with("helm2/")));
    let _ = (&hs, &tools);
    // --helm-version 3 shows none of them; status flags map Tiller's names.
    let h3 = run_ok(c.werf().args(["releases", "list", "--tiller-namespace", &ks, "-n", "legacy-stuck", "--helm-version", "3", "-q"]));
    assert_eq!(h3, "");
    let gone = run_ok(c.werf().args(["releases", "list", "--tiller-namespace", &ks, "-n", "legacy-stuck", "--uninstalled", "-q"]));
    assert_eq!(gone, "gone\n");
    // history/status/get of a Helm 2 release
    let hist = run_ok(c.werf().args(["releases", "history", "shop", "--tiller-namespace", &ks, "-o", "json"]));
    let hist: Vec<Value> = serde_json::from_str(&hist).unwrap();
    let statuses: Vec<&str> = hist.iter().map(|h| h["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["superseded", "superseded", "failed", "deployed"]);
    let status = run_ok(c.werf().args(["releases", "status", "shop", "--tiller-namespace", &ks, "--helm-version", "2"]));
    assert!(status.starts_with("NAME: shop\nLAST DEPLOYED: "), "{status}");
    assert!(status.contains("NAMESPACE: legacy-shop\nSTATUS: deployed\nREVISION: 4\nTEST SUITE:     shop-test-connection\n"), "{status}");
    // The Helm 2 shop carries helm's own shop content; revision 4 rolled back to 2, so helm's own `get values -o
    // json` and `get manifest` of the latest revision (fixtures/helm3) are the answers for both, byte for byte.
    for rev in ["2", "4"] {
        let values =
            run_ok(c.werf().args(["releases", "get", "values", "shop", "--tiller-namespace", &ks, "--revision", rev, "-o", "json"]));
        assert_eq!(values, std::fs::read_to_string(fixture("helm3/fx-helm3-shop-values.json")).unwrap(), "shop revision {rev}");
        let manifest = run_ok(c.werf().args(["releases", "get", "manifest", "shop", "--tiller-namespace", &ks, "--revision", rev]));
        assert_eq!(manifest, std::fs::read_to_string(fixture("helm3/fx-helm3-shop-manifest.txt")).unwrap(), "shop revision {rev}");
    }
    // cart (Secret storage): its values as the record holds them, read by an independent decoder.
    let values: Value =
        serde_json::from_str(&run_ok(c.werf().args(["releases", "get", "values", "cart", "--tiller-namespace", &ta, "-o", "json"])))
            .unwrap();
    let record = release_fixtures::load("helm2-synthetic").into_iter().find(|r| r.name == "cart.v2").unwrap();
    let raw = helm2_wire::decode(&record.payload).config_raw;
    assert!(!raw.trim().is_empty() && raw.trim() != "{}", "cart.v2 has user values: {raw:?}");
    assert_eq!(values, serde_saphyr::from_str::<Value>(&raw).unwrap(), "cart values");
}

/// `status` asks once where the release is (both Helm 3 drivers in the namespace; Tiller's storages
/// cluster-wide, from the server's watch cache, all sent at once) and then GETs the one record the
/// labels name: no second LIST of the release, no consistent cluster-wide LIST when no Tiller record
/// exists.
#[test]
fn status_locates_the_release_once_and_reads_one_record_emulator_only() {
    let c = TestCluster::start();
    let emu = c.emulator_for("counts requests in the emulator's log");
    let seeded = seed_helm3(&c);
    let ns = &seeded[0].0;
    emu.clear_request_log();
    let out = run_ok(c.werf().args(["releases", "status", "shop", "-n", ns, "-o", "json"]));
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["name"], "shop", "{out}");
    let log = emu.request_log();
    let line = |r: &kube_emulator::LoggedRequest| format!("{} {} {}", r.verb, r.resource, r.query);
    let lists: Vec<String> = log.iter().filter(|r| r.verb == "list").map(line).collect();
    let gets: Vec<String> = log.iter().filter(|r| r.verb == "get").map(line).collect();
    let tiller_probes = lists.iter().filter(|l| l.contains("OWNER%3DTILLER") && l.contains("resourceVersion=0")).count();
    assert_eq!(tiller_probes, 2, "Tiller's ConfigMaps and Secrets asked of the cache: {lists:?}");
    assert!(lists.iter().all(|l| !l.contains("OWNER%3DTILLER") || l.contains("resourceVersion=0")), "no consistent Tiller LIST: {lists:?}");
    let helm3_lookups = lists.iter().filter(|l| l.contains("owner%3Dhelm")).count();
    assert_eq!(helm3_lookups, 2, "one lookup per Helm 3 driver, none again to pick the record: {lists:?}");
    assert_eq!(lists.len(), 4, "{lists:?}");
    assert_eq!(gets.len(), 1, "the latest record alone: {gets:?}");
    assert!(gets[0].starts_with("get secrets"), "{gets:?}");
}
