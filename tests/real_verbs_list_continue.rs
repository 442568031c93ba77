//! A continue token that expires while a verb pages through a LIST, on a real kube-apiserver.
//!
//! The control plane compacts etcd every second (`--etcd-compaction-interval`); a continue token reads
//! the snapshot of the LIST's first page, so once that revision is compacted away the server answers
//! the next page `410 Expired` — with a token that goes on from the same key at the current state. To
//! make that happen at a known moment, the verb reaches the server through a proxy that holds its first
//! continued request while other writes move the revision on, until that very request (replayed by the
//! test) answers 410; then lets it through. The verb must go on and print exactly what an undisturbed
//! run prints (the writes meanwhile touch nothing it lists), and the proxy's log must show the 410 and
//! the pages after it.

mod common;
mod holding_proxy;
mod seeding;
mod synthetic_releases;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{RealControlPlane, TestCluster, run_ok};
use holding_proxy::HoldingProxy;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

/// Until `target` (a continued LIST, as the verb sent it) answers 410 on the server: keep writing
/// elsewhere so that compaction passes the token's revision. Panics after a minute.
fn expire(c_kubeconfig: std::path::PathBuf, side_ns: String, target: String) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let kc = kube::config::Kubeconfig::read_from(&c_kubeconfig).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.unwrap();
        let client = kube::Client::try_from(config).unwrap();
        let side: Api<ConfigMap> = Api::namespaced(client.clone(), &side_ns);
        let start = Instant::now();
        for i in 0u64.. {
            assert!(start.elapsed() < Duration::from_secs(60), "the continue token never expired");
            let patch = json!({"data": {"tick": i.to_string()}});
            side.patch("ticker", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
            let request = http::Request::get(target.as_str()).body(Vec::new()).unwrap();
            match client.request_text(request).await {
                Err(kube::Error::Api(s)) if s.code == 410 => return,
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    });
}

#[test]
#[ignore = "real kube-apiserver: scripts/test runs it"]
fn verbs_go_on_after_their_continue_token_expired() {
    let t0 = Instant::now();
    let cp = RealControlPlane::start("--etcd-compaction-interval=1s");
    let c: TestCluster = cp.cluster();
    let ns = c.namespace("expiry");
    let side = c.namespace("expiry-side");
    c.create_object(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ticker", "namespace": side}}));
    // 810 records: `long` with 150 revisions (two payload pages of 100 for its history and export), 45
    // more releases of 10, and 210 of one (256 latest records: two pages of 250 for list).
    let base = synthetic_releases::shop();
    let mut objects = seeding::release_secrets(&base, &ns, "long", 0, 150);
    for i in 1..=45 {
        objects.extend(seeding::release_secrets(&base, &ns, &format!("app{i:02}"), i, 10));
    }
    // list reads the latest records in pages of 250 (LATEST_PAGE): more releases than that page.
    for i in 0..210 {
        objects.extend(seeding::release_secrets(&base, &ns, &format!("one{i:03}"), 100 + i, 1));
    }
    seeding::create_all(&c, objects, 16);
    eprintln!("control plane and 810 records in {:.1}s", t0.elapsed().as_secs_f64());

    let proxy = HoldingProxy::start(&c.kubeconfig);
    let via_proxy = proxy.kubeconfig(c.dir.path());
    let export_dir = |tag: &str| c.dir.path().join(format!("export-{tag}"));
    let verbs: [(&str, Vec<String>); 3] = [
        ("list", ["releases", "list", "-n", &ns, "-o", "json"].map(String::from).to_vec()),
        ("history", ["releases", "history", "long", "-n", &ns, "-o", "json"].map(String::from).to_vec()),
        ("export", ["releases", "export", "-n", &ns, "--dir"].map(String::from).to_vec()),
    ];
    for (what, args) in &verbs {
        let with_dir = |tag: &str| {
            let mut a = args.clone();
            if *what == "export" {
                a.push(export_dir(tag).display().to_string());
            }
            a
        };
        let undisturbed = run_ok(c.werf().args(with_dir("direct")));
        proxy.log.lock().unwrap().clear();
        let (kc, side) = (c.kubeconfig.clone(), side.clone());
        let secrets = format!("/api/v1/namespaces/{ns}/secrets?");
        proxy.arm(&[&secrets, "continue="], Arc::new(move |target: &str| expire(kc.clone(), side.clone(), target.to_string())));
        let out = run_ok(c.werf().env("KUBECONFIG", &via_proxy).args(with_dir("proxy")));
        assert!(proxy.fired(), "{what}: no continued LIST went through the proxy");
        let out = out.replace(&export_dir("proxy").display().to_string(), "DIR");
        assert_eq!(
            out,
            undisturbed.replace(&export_dir("direct").display().to_string(), "DIR"),
            "{what}: the output after an expired token"
        );
        if *what == "export" {
            assert_eq!(files(&export_dir("proxy")), files(&export_dir("direct")), "export: the records written");
        }
        // The held page answered 410; a continued page after it answered 200.
        let log = proxy.log.lock().unwrap().clone();
        let pages: Vec<&(String, u16)> = log.iter().filter(|(line, _)| line.contains(&secrets)).collect();
        let expired = pages
            .iter()
            .position(|(line, status)| *status == 410 && line.contains("continue="))
            .unwrap_or_else(|| panic!("{what}: no 410: {pages:#?}"));
        assert!(
            pages[expired + 1..].iter().any(|(line, status)| *status == 200 && line.contains("continue=")),
            "{what}: not continued after the 410: {pages:#?}"
        );
        eprintln!(
            "{what}: {} LIST pages through the proxy, one answered 410 Expired, the verb went on ({:.1}s)",
            pages.len(),
            t0.elapsed().as_secs_f64()
        );
    }
}

/// Every file under `dir` (relative path) with its content.
fn files(dir: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().display().to_string(), std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    out
}
