//! Many large Secrets: creation and full LISTs stay correct (timings printed with
//! `--nocapture`; set `EMULATOR_SCALE_N` to change the count, default 2,000).

mod support;

use std::time::Instant;

use kube_emulator::Emulator;
use serde_json::json;
use support::{Req, send};

#[test]
fn large_secret_lists() {
    let n: usize = std::env::var("EMULATOR_SCALE_N").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000);
    let e = Emulator::start_blocking().unwrap();
    let store = e.store();
    store.ensure_namespace("bench").unwrap();
    let payload = "x".repeat(18_000); // ~24 KB once base64-encoded
    let t0 = Instant::now();
    for i in 0..n {
        store
            .create(json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
                "metadata": {"name": format!("sh.helm.release.v1.r{i:05}.v1"), "namespace": "bench",
                             "labels": {"owner": "helm", "name": format!("r{i:05}"), "version": "1"}},
                "stringData": {"release": payload}}))
            .unwrap();
    }
    let created = t0.elapsed();
    let t = e.admin_token();
    let t1 = Instant::now();
    let r = send(e.addr(), Req::new("GET", "/api/v1/namespaces/bench/secrets?labelSelector=owner%3Dhelm", Some(&t))).unwrap();
    let listed = t1.elapsed();
    assert_eq!(r.status, 200);
    let bytes = r.body.len();
    let v = r.json();
    assert_eq!(v["items"].as_array().unwrap().len(), n);
    let t2 = Instant::now();
    let all = send(e.addr(), Req::new("GET", "/api/v1/secrets?limit=500", Some(&t))).unwrap().json();
    assert_eq!(all["items"].as_array().unwrap().len(), 500);
    let paged = t2.elapsed();
    eprintln!("{n} secrets: create {created:?}, full LIST {listed:?} ({} MB), first page {paged:?}", bytes / 1_000_000);
}
