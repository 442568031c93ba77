//! `releases export` against an API server (the emulator, or the real cluster named by
//! KUBECTL_WERF_TEST_KUBECONFIG): what it writes is accepted by `kubectl create`.

mod common;

use common::maintenance::{helm_json, records, seed};
use common::{TestCluster, run_ok};
use serde_json::Value;

#[test]
fn export_is_accepted_by_kubectl_create() {
    let c = TestCluster::start();
    let ns = seed(&c, "export", &["shop-secrets", "cart-configmaps", "stuck-secrets", "big-secrets"], "fx-helm3");
    let before = records(&c, &ns, "owner=helm");
    let hist: Vec<Value> = ["shop", "cart", "stuck", "big"].iter().map(|r| helm_json(&c, 3, &["history", r, "-n", &ns])).collect();
    let dir = c.dir.path().join("export");
    let out = run_ok(c.werf().args(["releases", "export", "-n", &ns, "--dir"]).arg(&dir));
    assert!(out.contains(&format!("exported {} record(s)", before.len())), "{out}");
    run_ok(c.kubectl().args(["delete", "secrets,configmaps", "-l", "owner=helm", "-n", &ns]));
    assert!(records(&c, &ns, "owner=helm").is_empty());
    run_ok(c.kubectl().args(["create", "-f"]).arg(&dir));
    assert_eq!(records(&c, &ns, "owner=helm"), before);
    let again: Vec<Value> = ["shop", "cart", "stuck", "big"].iter().map(|r| helm_json(&c, 3, &["history", r, "-n", &ns])).collect();
    assert_eq!(again, hist);
}
