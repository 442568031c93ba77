//! Benchmark: `releases apis -A` (the removed-API scan) against `releases list -A` on the same real
//! kube-apiserver, 1,000 releases x 10 revisions. The goal: the scan costs at most 1.5x the listing.
//!
//! ```text
//! scripts/bench-apis [RELEASES] [REVISIONS] [RUNS]        (defaults 1000 10 5)
//! cargo bench --bench apis                                (BENCH_RELEASES, BENCH_REVISIONS, BENCH_RUNS)
//! ```
//! A real control plane of its own is started (or the one named by KUBECTL_WERF_TEST_KUBECONFIG). The
//! records are the fixture release `shop` re-encoded per release and revision (~20 KB payloads, see
//! tests/synthetic_releases); every 10th release's revisions hold the `legacy-app` manifest and hooks
//! (removed APIs), and every 17th release's latest revision failed, so the scan reads two revisions there.
//! Both commands run RUNS times, interleaved; medians of wall time and peak RSS are printed, with the
//! verdict against the goal. A measurement, not a test: timings are never asserted, and the suite
//! (scripts/test) does not build or run it (a `harness = false` bench).

#[path = "../tests/apis_fixtures/mod.rs"]
mod apis_fixtures;
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/synthetic_releases/mod.rs"]
mod synthetic_releases;

use std::process::Command;
use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, PostParams};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Wall seconds and peak RSS (KiB) of one run; the exit code must be one of `ok`.
fn timed(cmd: &mut Command, ok: &[i32]) -> (f64, u64, Vec<u8>) {
    let stats = tempfile::NamedTempFile::new().unwrap();
    let mut t = Command::new("/usr/bin/time");
    t.arg("-f").arg("%M").arg("-o").arg(stats.path()).arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => t.env(k, v),
            None => t.env_remove(k),
        };
    }
    let start = Instant::now();
    let o = t.output().unwrap();
    let wall = start.elapsed().as_secs_f64();
    assert!(o.status.code().is_some_and(|c| ok.contains(&c)), "{cmd:?}: {}\n{}", o.status, String::from_utf8_lossy(&o.stderr));
    let rss = std::fs::read_to_string(stats.path()).unwrap().lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or(0);
    (wall, rss, o.stdout)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    bench_apis_scan_against_list();
}

fn bench_apis_scan_against_list() {
    let releases = env_usize("BENCH_RELEASES", 1000);
    let revisions = env_usize("BENCH_REVISIONS", 10);
    let runs = env_usize("BENCH_RUNS", 5);
    let own = std::env::var_os(common::REAL_CLUSTER_ENV).is_none().then(|| common::RealControlPlane::start(""));
    let c = match &own {
        Some(plane) => plane.cluster(),
        None => common::TestCluster::start(),
    };
    assert!(c.is_real(), "the benchmark runs on a real kube-apiserver");
    // The shop manifest holds a Widget: its CRD is installed, as on a cluster running these releases,
    // so only the legacy releases hold APIs this server does not serve.
    c.install_widget_crd();
    let namespaces: Vec<String> = (0..40).map(|n| format!("bench-apis-{n:02}")).collect();
    let base = synthetic_releases::shop();
    let legacy = apis_fixtures::render("legacy-app", "legacy", "bench-apis-00", &[]);
    let started = Instant::now();
    let client = c.client.clone();
    let seeded: usize = c.rt.block_on(async {
        let ns_api: Api<Namespace> = Api::all(client.clone());
        for ns in &namespaces {
            let n: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).unwrap();
            let _ = ns_api.create(&PostParams::default(), &n).await;
        }
        let jobs = (0..releases).flat_map(|i| (1..=revisions).map(move |rev| (i, rev)));
        futures::stream::iter(jobs)
            .map(|(i, rev)| {
                let client = client.clone();
                let base = &base;
                let legacy = &legacy;
                let namespaces = &namespaces;
                async move {
                    let ns = &namespaces[i % namespaces.len()];
                    let mut r = synthetic_releases::revision(base, &format!("app-{i:05}"), ns, i, rev, revisions);
                    if i % 10 == 0 {
                        r.manifest = legacy.manifest.clone();
                        r.hooks = apis_fixtures::helm3_release("x", ns, 1, r.info.status.clone(), "", legacy).hooks;
                    }
                    let secret: Secret =
                        serde_json::from_value(synthetic_releases::secret(&r, synthetic_releases::created_at(i, rev))).unwrap();
                    let api: Api<Secret> = Api::namespaced(client, ns);
                    match api.create(&PostParams::default(), &secret).await {
                        Ok(_) => 1,
                        Err(kube::Error::Api(s)) if s.code == 409 => 1,
                        Err(e) => panic!("seeding {ns}/app-{i:05} v{rev}: {e}"),
                    }
                }
            })
            .buffer_unordered(32)
            .fold(0usize, |a, b| async move { a + b })
            .await
    });
    eprintln!("seeded {seeded} records ({releases} x {revisions}) in {:.1}s", started.elapsed().as_secs_f64());

    let list = |c: &common::TestCluster| {
        let mut cmd = c.werf();
        cmd.args(["releases", "list", "-A", "-o", "json", "--max", "0"]);
        cmd
    };
    let scan = |c: &common::TestCluster| {
        let mut cmd = c.werf();
        cmd.args(["releases", "apis", "-A", "-o", "json"]);
        cmd
    };
    // The answers first: the listing sees every release; the scan finds the releases holding removed APIs.
    let (_, _, out) = timed(&mut list(&c), &[0]);
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
    assert_eq!(listed.iter().filter(|r| r["namespace"].as_str().is_some_and(|n| n.starts_with("bench-apis-"))).count(), releases);
    let (_, _, out) = timed(&mut scan(&c), &[3]);
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let found = report["releases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["namespace"].as_str().is_some_and(|n| n.starts_with("bench-apis-")))
        .count();
    assert_eq!(found, releases.div_ceil(10));
    eprintln!(
        "scan: {} releases, {} revisions, {} objects read; {found} hold removed APIs",
        report["scanned"]["releases"], report["scanned"]["revisions"], report["scanned"]["objects"]
    );

    let (mut lw, mut lr, mut sw, mut sr) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let (w, r, _) = timed(&mut list(&c), &[0]);
        lw.push(w);
        lr.push(r as f64);
        let (w, r, _) = timed(&mut scan(&c), &[3]);
        sw.push(w);
        sr.push(r as f64);
    }
    let (l, s) = (median(lw.clone()), median(sw.clone()));
    println!(
        "\n| command (real kube-apiserver 1.36, {releases} releases x {revisions} revisions, median of {runs}) | wall time | peak RSS |"
    );
    println!("|---|---|---|");
    println!("| `kubectl werf releases list -A -o json --max 0` | {l:.3} s | {:.0} MiB |", median(lr) / 1024.0);
    println!("| `kubectl werf releases apis -A -o json` | {s:.3} s ({:.2}x) | {:.0} MiB |", s / l, median(sr) / 1024.0);
    eprintln!("list runs: {lw:?}\nscan runs: {sw:?}");
    let verdict = if s <= 1.5 * l { "within" } else { "MORE than" };
    println!("\nthe scan took {:.2}x the listing: {verdict} the 1.5x goal", s / l);
}
