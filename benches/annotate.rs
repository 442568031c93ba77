//! Benchmark (`cargo bench --bench annotate`, a `harness = false` bench; run it through
//! `scripts/bench-annotate`, which starts a release-built sandbox): a release of 300 ConfigMaps, annotated and labelled by
//! `kubectl werf annotate` versus `kubectl annotate -f` + `kubectl label -f` over the same objects.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{TestCluster, fixture, run_ok};
use kubectl_werf::storage::Helm3Driver;
use kubectl_werf::storage::Helm3Store;
use kubectl_werf::storage::codec::DecodeLimits;
use serde_json::json;

const OBJECTS: usize = 300;
const RUNS: usize = 5;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    bench_annotate_300_configmaps();
}

fn bench_annotate_300_configmaps() {
    let c = TestCluster::start();
    let ns = c.namespace("annotate-bench");
    // A release record to start from: the shop fixture's, renamed, with a generated manifest.
    c.seed_file(&fixture("helm3/fx-helm3-shop-secrets.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
    let store = Helm3Store::new(c.client.clone(), Helm3Driver::Secret, DecodeLimits::default());
    let mut release = c.rt.block_on(store.history(&ns, "shop")).unwrap().records.pop().unwrap().release;
    let mut manifest = String::new();
    for i in 0..OBJECTS {
        let name = format!("bench-{i:03}");
        manifest.push_str(&format!(
            "---\n# Source: bench/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  labels:\n    app.kubernetes.io/managed-by: Helm\n    app.kubernetes.io/instance: bench\ndata:\n  index: \"{i}\"\n  payload: \"{}\"\n",
            "p".repeat(200)
        ));
        c.create_object(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, "labels": {"app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/instance": "bench"},
                         "annotations": {"meta.helm.sh/release-name": "bench", "meta.helm.sh/release-namespace": ns}},
            "data": {"index": i.to_string(), "payload": "p".repeat(200)}
        }));
    }
    release.name = "bench".into();
    release.namespace = ns.clone();
    release.version = 1;
    release.manifest = manifest.clone();
    release.hooks.clear();
    release.info.status = "deployed".into();
    c.rt.block_on(store.create(&release)).unwrap();
    let file = c.dir.path().join("manifest.yaml");
    std::fs::write(&file, &manifest).unwrap();
    let file = file.to_str().unwrap().to_string();

    // Warm-up: kubectl's discovery cache, page cache for both binaries.
    run_ok(c.kubectl().args(["annotate", "-f", &file, "-n", &ns, "bench.example.com/run=warm", "--overwrite"]));
    run_ok(c.werf().args(["annotate", "bench", "-n", &ns, "--add-annotation", "bench.example.com/run=warm2", "--yes"]));

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        // Fresh values each run, so every object is really patched by both.
        let start = Instant::now();
        let out = run_ok(c.werf().args([
            "annotate",
            "bench",
            "-n",
            &ns,
            "--add-annotation",
            &format!("bench.example.com/run=w{run}"),
            "--add-label",
            &format!("bench-run=w{run}"),
            "--yes",
        ]));
        ours.push(start.elapsed());
        assert!(out.contains(&format!("{OBJECTS} patched")), "{out}");

        let start = Instant::now();
        run_ok(c.kubectl().args(["annotate", "-f", &file, "-n", &ns, &format!("bench.example.com/run=k{run}"), "--overwrite"]));
        run_ok(c.kubectl().args(["label", "-f", &file, "-n", &ns, &format!("bench-run=k{run}"), "--overwrite"]));
        theirs.push(start.elapsed());
    }
    let (ours_m, theirs_m) = (median(ours.clone()), median(theirs.clone()));
    println!("objects: {OBJECTS}, runs: {RUNS}");
    println!("kubectl werf annotate (annotation + label, one patch per object): {ours:?}");
    println!("kubectl annotate -f + kubectl label -f:                          {theirs:?}");
    println!(
        "median: kubectl-werf {:.0} ms, kubectl {:.0} ms, ratio {:.1}x",
        ours_m.as_secs_f64() * 1000.0,
        theirs_m.as_secs_f64() * 1000.0,
        theirs_m.as_secs_f64() / ours_m.as_secs_f64()
    );
}
