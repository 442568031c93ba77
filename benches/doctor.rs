//! `releases doctor -A` (without `--drift`) against `releases list -A` on the same seeded server: the
//! budget of issue 20 is doctor within 3x list's wall time and under 100 MiB peak RSS. Runs on the
//! cluster `KUBECTL_WERF_TEST_KUBECONFIG` names (`scripts/bench-doctor` starts a real kube-apiserver for
//! it) or, without it, on the emulator. A `harness = false` bench (not run by `cargo test`); prints
//! Markdown tables.
//!
//! ```text
//! cargo bench --bench doctor
//! BENCH_RELEASES=1000 BENCH_REVISIONS=10 BENCH_PAYLOAD_KB=18 BENCH_RUNS=5
//! BENCH_SEED_ONLY=1          seed, keep it, measure nothing
//! ```
//! Records: the fixture release `shop` (written by real helm 3.17.2) varied per release and revision as
//! `benches/releases.rs` seeds them (every 17th release's latest revision failed, so doctor has
//! no-deployed warnings to report), its objects renamed per release (`<release>-shop...`, as charts name
//! them after the release) and its manifest extended by one ConfigMap `<release>-cm`; that
//! ConfigMap exists live in the release namespace, labelled `app.kubernetes.io/managed-by=Helm` with
//! helm's release annotations, so the ownership check has one Helm-managed object per release to judge.
//! The Widget CRD of the shop chart is installed (the removed-API check asks discovery about it).
//! Wall time and peak RSS from `/usr/bin/time`; the two commands are timed in turn, medians reported.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/synthetic_releases/mod.rs"]
mod synthetic_releases;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, PostParams};
use kubectl_werf::release::helm3::Release;
use serde_json::{Value, json};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Wall seconds and peak RSS (KiB) of one run under `/usr/bin/time`; stdout kept in `out`. Exit codes
/// in `ok` are accepted (doctor exits 3 when its worst finding is a warning).
fn timed(cmd: &mut Command, out: &Path, ok: &[i32]) -> (f64, u64) {
    let stats = out.with_extension("time");
    let mut t = Command::new("/usr/bin/time");
    t.arg("-f").arg("%e %M").arg("-o").arg(&stats).arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => t.env(k, v),
            None => t.env_remove(k),
        };
    }
    let start = Instant::now();
    let o = t.output().unwrap();
    let wall = start.elapsed().as_secs_f64();
    let code = o.status.code().unwrap_or(-1);
    assert!(ok.contains(&code), "{cmd:?} exited {code}: {}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(out, &o.stdout).unwrap();
    let text = std::fs::read_to_string(&stats).unwrap();
    let rss = text.lines().last().and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(0);
    (wall, rss)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Blob length giving payloads of about `kb` KB (gzip, before base64).
fn blob_for(base: &Release, kb: usize) -> usize {
    let size = |blob: usize| {
        let r = synthetic_releases::revision_sized(base, "probe", "probe", 1, 1, 1, blob);
        kubectl_werf::storage::codec::encode_helm3(&r).unwrap().len() * 3 / 4
    };
    let (a, b) = (size(0), size(40_000));
    let per_char = (b - a) as f64 / 40_000.0;
    (((kb * 1024) as f64 - a as f64) / per_char).max(0.0) as usize
}

/// The live ConfigMap of release `name` in `ns`, as helm would have created it.
fn live_configmap(name: &str, ns: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {
            "name": format!("{name}-cm"), "namespace": ns,
            "labels": {"app.kubernetes.io/managed-by": "Helm"},
            "annotations": {"meta.helm.sh/release-name": name, "meta.helm.sh/release-namespace": ns},
        },
        "data": {"value": "one"},
    })
}

/// Create `releases` x `revisions` records and one live ConfigMap per release, 64 creates in flight.
fn seed(c: &common::TestCluster, namespaces: &[String], base: &Release, releases: usize, revisions: usize, blob: usize) -> f64 {
    let started = Instant::now();
    let client = c.client.clone();
    // (release, revision); revision 0 is the live ConfigMap.
    let work: Vec<(usize, usize)> = (0..releases).flat_map(|i| (0..=revisions).map(move |rev| (i, rev))).collect();
    c.rt.block_on(async {
        let _: Vec<()> = futures::stream::iter(work)
            .map(|(i, rev)| {
                let client = client.clone();
                let ns = namespaces[i % namespaces.len()].clone();
                let base = base.clone();
                async move {
                    let name = format!("app-{i:05}");
                    let obj = tokio::task::spawn_blocking(move || {
                        if rev == 0 {
                            return live_configmap(&name, &ns);
                        }
                        let mut r = synthetic_releases::revision_sized(&base, &name, &ns, i, rev, revisions, blob);
                        // Each release its own objects (the shop chart's names are fixed; several releases
                        // share a namespace, and the ownership check rightly reports shared objects).
                        r.manifest = r.manifest.replace("name: shop", &format!("name: {name}-shop"));
                        r.manifest.push_str(&format!(
                            "---\n# Source: shop/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-cm\ndata:\n  value: one\n"
                        ));
                        synthetic_releases::secret(&r, synthetic_releases::created_at(i, rev))
                    })
                    .await
                    .unwrap();
                    let ns = obj["metadata"]["namespace"].as_str().unwrap().to_string();
                    for attempt in 1..=6u64 {
                        let created = if obj["kind"] == "Secret" {
                            let s: Secret = serde_json::from_value(obj.clone()).unwrap();
                            Api::<Secret>::namespaced(client.clone(), &ns).create(&PostParams::default(), &s).await.map(drop)
                        } else {
                            let m: ConfigMap = serde_json::from_value(obj.clone()).unwrap();
                            Api::<ConfigMap>::namespaced(client.clone(), &ns).create(&PostParams::default(), &m).await.map(drop)
                        };
                        match created {
                            Ok(()) => break,
                            Err(kube::Error::Api(s)) if s.code == 409 => break,
                            Err(e) if attempt < 6 => {
                                eprintln!("seed: retrying after {e}");
                                tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
                            }
                            Err(e) => panic!("seeding failed: {e}"),
                        }
                    }
                }
            })
            .buffer_unordered(64)
            .collect()
            .await;
    });
    started.elapsed().as_secs_f64()
}

fn main() {
    let releases = env_usize("BENCH_RELEASES", 1000);
    let revisions = env_usize("BENCH_REVISIONS", 10);
    let runs = env_usize("BENCH_RUNS", 5);
    let kb = env_usize("BENCH_PAYLOAD_KB", 18);
    let c = common::TestCluster::start();
    let mode = if c.is_real() { "real kube-apiserver" } else { "emulator" };
    let dir = c.dir.path().to_path_buf();
    c.install_widget_crd();
    let namespaces: Vec<String> = (0..40).map(|n| c.namespace(&format!("dbench{n:02}"))).collect();
    let base = synthetic_releases::shop();
    let blob = blob_for(&base, kb);
    let secs = seed(&c, &namespaces, &base, releases, revisions, blob);
    eprintln!(
        "seeded {releases} releases x {revisions} revisions (~{kb} KB payloads) and {releases} live ConfigMaps in {secs:.1} s on the {mode}"
    );
    if std::env::var_os("BENCH_SEED_ONLY").is_some() {
        // Keep the seeded namespaces for experiments by hand (they are not deleted).
        eprintln!("seeded; KUBECONFIG={}", c.kubeconfig.display());
        std::mem::forget(c);
        return;
    }

    let list = || {
        let mut cmd = c.werf();
        cmd.args(["releases", "list", "-A", "--max", "0", "-o", "json"]);
        cmd
    };
    let doctor = || {
        let mut cmd = c.werf();
        cmd.args(["releases", "doctor", "-A", "-o", "json"]);
        cmd
    };
    // The answer first: every release checked, only the failed latest revisions reported.
    let o = dir.join("doctor.json");
    timed(&mut doctor(), &o, &[0, 3]);
    let doc: Value = serde_json::from_slice(&std::fs::read(&o).unwrap()).unwrap();
    assert!(doc["summary"]["releases"].as_u64().unwrap() >= releases as u64, "{:#}", doc["summary"]);
    let ours: Vec<&Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["release"]["namespace"].as_str().is_some_and(|n| n.starts_with("kw-dbench")))
        .collect();
    let failed = (0..releases).filter(|i| i % 17 == 0).count();
    assert!(ours.iter().all(|f| f["check"] == "no-deployed"), "unexpected findings: {ours:#?}");
    assert_eq!(ours.len(), failed, "one no-deployed warning per release whose only latest revision failed");

    let (mut lw, mut lr, mut dw, mut dr) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let (w, r) = timed(&mut list(), &dir.join("list.out"), &[0]);
        lw.push(w);
        lr.push(r as f64 / 1024.0);
        let (w, r) = timed(&mut doctor(), &dir.join("doctor.out"), &[0, 3]);
        dw.push(w);
        dr.push(r as f64 / 1024.0);
    }
    let (lw, lr, dw, dr) = (median(lw), median(lr), median(dw), median(dr));
    eprintln!(
        "\n{releases} releases x {revisions} revisions (~{kb} KB), {releases} Helm-managed live objects, on the {mode}; medians of {runs} runs"
    );
    eprintln!("| command | wall s | peak RSS MiB |");
    eprintln!("|---|---|---|");
    eprintln!("| kubectl werf releases list -A --max 0 -o json | {lw:.3} | {lr:.1} |");
    eprintln!("| kubectl werf releases doctor -A -o json | {dw:.3} | {dr:.1} |");
    eprintln!(
        "\ndoctor / list = {:.2}x (budget 3x: {}); doctor peak RSS {dr:.1} MiB (budget 100 MiB: {})",
        dw / lw,
        if dw <= 3.0 * lw { "met" } else { "MISSED" },
        if dr < 100.0 { "met" } else { "MISSED" }
    );
}
