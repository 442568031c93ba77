//! Benchmark: `releases list -A` against helm3 and helm4 on a big emulated cluster, plus the floor (the
//! exact requests our tool made, replayed with curl). Prints a table; ignored by default.
//!
//! ```text
//! cargo test --release --test cluster_releases_bench -- --ignored --nocapture
//! BENCH_RELEASES=1000 BENCH_REVISIONS=10 BENCH_RUNS=3 (defaults)
//! ```
//! Seeds N releases x M revisions (~20 KB compressed payloads: the fixture release `shop` re-encoded
//! with its name, namespace, revision, status and values varied, plus an incompressible value), first
//! checks that our JSON equals helm3's and helm4's, then times each tool `RUNS` times (wall time and
//! peak RSS from `/usr/bin/time`) and reports medians and ratios.

mod common;
mod synthetic_releases;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use kubectl_werf::release::helm3::Release;
use serde_json::Value;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn record(base: &Release, i: usize, rev: usize, revisions: usize) -> Value {
    let r = synthetic_releases::revision(base, &format!("app-{i:05}"), &format!("bench-{:02}", i % 40), i, rev, revisions);
    synthetic_releases::secret(&r, synthetic_releases::created_at(i, rev))
}

struct Measure {
    wall: f64,
    rss_kb: u64,
}

fn timed(cmd: &mut Command, out: &Path) -> Measure {
    let stats = out.with_extension("time");
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let mut t = Command::new("/usr/bin/time");
    t.arg("-f").arg("%e %M").arg("-o").arg(&stats).arg(program).args(args);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => t.env(k, v),
            None => t.env_remove(k),
        };
    }
    let start = Instant::now();
    let o = t.output().unwrap();
    let wall = start.elapsed().as_secs_f64();
    assert!(o.status.success(), "{:?}: {}", cmd, String::from_utf8_lossy(&o.stderr));
    std::fs::write(out, &o.stdout).unwrap();
    let text = std::fs::read_to_string(&stats).unwrap();
    let last = text.lines().last().unwrap_or("0 0");
    let rss_kb = last.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    Measure { wall, rss_kb }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn normalized(json: &[u8], drop_ours: bool) -> Vec<Value> {
    let mut v: Vec<Value> = serde_json::from_slice(json).unwrap();
    if drop_ours {
        for i in &mut v {
            let m = i.as_object_mut().unwrap();
            m.shift_remove("storage");
            m.shift_remove("project");
            m.shift_remove("env");
        }
    }
    v.retain(|i| i["namespace"].as_str().is_some_and(|n| n.starts_with("bench-")));
    v.sort_by_key(|i| (i["namespace"].to_string(), i["name"].to_string()));
    v
}

#[test]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
fn bench_list_all_namespaces() {
    let releases = env_usize("BENCH_RELEASES", 1000);
    let revisions = env_usize("BENCH_REVISIONS", 10);
    let runs = env_usize("BENCH_RUNS", 3);
    let c = common::TestCluster::start();
    let emu = c.emulator.as_ref().expect("the benchmark seeds the emulator directly");
    let store = emu.store();
    for n in 0..40 {
        store.ensure_namespace(&format!("bench-{n:02}")).unwrap();
    }
    let base = synthetic_releases::shop();
    let started = Instant::now();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let mut sizes = 0usize;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let store = emu.store();
                let base = &base;
                s.spawn(move || {
                    let mut bytes = 0;
                    for i in (t..releases).step_by(threads) {
                        for rev in 1..=revisions {
                            let obj = record(base, i, rev, revisions);
                            bytes += obj["data"]["release"].as_str().unwrap().len() * 3 / 4;
                            store.create(obj).unwrap();
                        }
                    }
                    bytes
                })
            })
            .collect();
        sizes = handles.into_iter().map(|h| h.join().unwrap()).sum();
    });
    let records = releases * revisions;
    eprintln!(
        "seeded {records} records ({releases} x {revisions}), {:.1} KB average payload (base64 of gzip), in {:.1}s",
        sizes as f64 / records as f64 / 1024.0,
        started.elapsed().as_secs_f64()
    );
    let dir = c.dir.path().to_path_buf();
    if let Some(secs) = std::env::var("BENCH_HOLD_SECS").ok().and_then(|v| v.parse::<u64>().ok()) {
        // Keep the seeded emulator up for manual experiments.
        eprintln!("holding: KUBECONFIG={}", c.kubeconfig.display());
        std::thread::sleep(std::time::Duration::from_secs(secs));
        return;
    }
    let ours = |c: &common::TestCluster| {
        let mut cmd = c.werf();
        cmd.args(["releases", "list", "-A", "-o", "json", "--max", "0", "--helm-version", "3"]);
        cmd
    };
    let h3 = |c: &common::TestCluster| {
        let mut cmd = c.helm(3);
        cmd.args(["list", "-A", "-a", "-o", "json", "--max", "0"]);
        cmd
    };
    let h4 = |c: &common::TestCluster| {
        let mut cmd = c.helm(4);
        cmd.args(["list", "-A", "-o", "json", "--max", "0"]);
        cmd
    };
    // Same answer first.
    emu.clear_request_log();
    let o = dir.join("ours.json");
    timed(&mut ours(&c), &o);
    let log = emu.request_log();
    let ours_json = normalized(&std::fs::read(&o).unwrap(), true);
    assert_eq!(ours_json.len(), releases);
    let p3 = dir.join("h3.json");
    timed(&mut h3(&c), &p3);
    assert_eq!(ours_json, normalized(&std::fs::read(&p3).unwrap(), false), "helm3 disagrees");
    let p4 = dir.join("h4.json");
    timed(&mut h4(&c), &p4);
    assert_eq!(ours_json, normalized(&std::fs::read(&p4).unwrap(), false), "helm4 disagrees");
    eprintln!("outputs equal (ours minus storage/project/env == helm3 -a == helm4)");

    // The floor: our requests replayed with curl (list pages in order, then the GETs 16 at a time).
    let (lists, gets): (Vec<_>, Vec<_>) = log.iter().filter(|r| r.path.starts_with("/api")).partition(|r| r.verb == "list");
    let url = emu.url();
    let token = emu.admin_token();
    let write_config = |reqs: &[&kube_emulator::LoggedRequest], path: &Path| {
        let mut text = String::new();
        for r in reqs {
            let q = if r.query.is_empty() { String::new() } else { format!("?{}", r.query) };
            text.push_str(&format!("url = \"{url}{}{q}\"\noutput = \"/dev/null\"\n", r.path));
        }
        std::fs::write(path, text).unwrap();
    };
    let list_cfg = dir.join("lists.curl");
    let get_cfg = dir.join("gets.curl");
    write_config(&lists, &list_cfg);
    write_config(&gets, &get_cfg);
    let floor = || {
        let start = Instant::now();
        let mut peak = 0;
        for (cfg, parallel, accept) in [
            (&list_cfg, false, "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"),
            (&get_cfg, true, "application/json"),
        ] {
            let mut cmd = Command::new("curl");
            cmd.args(["-s", "-k", "-f", "-H"]).arg(format!("Authorization: Bearer {token}")).args(["-H", &format!("Accept: {accept}")]);
            if parallel {
                cmd.args(["--parallel", "--parallel-max", "16"]);
            }
            cmd.arg("-K").arg(cfg);
            let m = timed(&mut cmd, &dir.join("curl.out"));
            peak = peak.max(m.rss_kb);
        }
        Measure { wall: start.elapsed().as_secs_f64(), rss_kb: peak }
    };

    let mut results: BTreeMap<&str, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for _ in 0..runs {
        for (name, m) in [
            ("kubectl-werf", timed(&mut ours(&c), &o)),
            ("helm3", timed(&mut h3(&c), &p3)),
            ("helm4", timed(&mut h4(&c), &p4)),
            ("floor (curl)", floor()),
        ] {
            let e = results.entry(name).or_default();
            e.0.push(m.wall);
            e.1.push(m.rss_kb as f64 / 1024.0);
        }
    }
    let med: BTreeMap<&str, (f64, f64)> = results.iter().map(|(k, (w, r))| (*k, (median(w.clone()), median(r.clone())))).collect();
    let (ow, or) = med["kubectl-werf"];
    eprintln!(
        "\n{releases} releases x {revisions} revisions = {records} Secrets; {} requests by kubectl-werf ({} LIST pages of metadata, {} GETs); median of {runs} runs",
        lists.len() + gets.len(),
        lists.len(),
        gets.len()
    );
    eprintln!("| tool | wall s | peak RSS MiB | wall vs kubectl-werf | RSS vs kubectl-werf |");
    eprintln!("|---|---|---|---|---|");
    for name in ["kubectl-werf", "helm3", "helm4", "floor (curl)"] {
        let (w, r) = med[name];
        eprintln!("| {name} | {w:.3} | {r:.1} | {:.2}x | {:.2}x |", w / ow, r / or);
    }
}
