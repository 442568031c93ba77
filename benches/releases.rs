//! Benchmarks of the read verbs against helm3 and helm4 and against the API server's floor, on the
//! cluster `KUBECTL_WERF_TEST_KUBECONFIG` names (`scripts/bench-releases` starts a real kube-apiserver
//! for it) or, without it, on the emulator. A `harness = false` bench (not run by `cargo test`); prints
//! Markdown tables. Parts: `list` and `status` (both when none is named).
//!
//! ```text
//! cargo bench --bench releases -- list
//! BENCH_PLAN=100,1000,5000   release counts, seeded cumulatively (defaults to 1000)
//! BENCH_REVISIONS=10 BENCH_PAYLOAD_KB=18 BENCH_RUNS=5 BENCH_HELM_RUNS=<runs>
//! cargo bench --bench releases -- status     (`status` and `history` of one release)
//! BENCH_STATUS_REVISIONS=200
//! BENCH_SEED_ONLY=1          seed the first step of the plan, keep it, measure nothing
//! BENCH_HELM_MAX_RELEASES=2000  helm is not run above this many releases: its one unpaged LIST makes
//!                            the API server hold every record at once (5,000 x 10 x 18 KB got a
//!                            kube-apiserver OOM-killed at 13 GB on a 24 GB machine)
//! ```
//! Records are the fixture release `shop` (written by real helm 3.17.2) re-encoded with name,
//! namespace, revision, status and values varied plus an incompressible value sized to the payload
//! wanted; the last revision of each release is deployed (failed for every 17th), earlier ones
//! superseded. They are created through the API, 64 at a time. Before timing, our JSON is checked equal
//! to helm3's and helm4's. Wall time and peak RSS come from `/usr/bin/time`; each run times every
//! command once, in turn, and medians are reported. The floor is what a correct `list -A` cannot do
//! without: the protobuf LIST `owner=helm,status!=superseded` and the protobuf metadata-only LIST
//! `owner=helm`, issued at once by two curl processes.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/synthetic_releases/mod.rs"]
mod synthetic_releases;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use kubectl_werf::release::helm3::Release;
use serde_json::Value;

/// `cargo bench --bench releases [-- PART ...]`: `list`, `status`; none = both. Flags (cargo passes
/// `--bench`) are ignored.
fn main() {
    let parts: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    if let Some(p) = parts.iter().find(|p| !["list", "status"].contains(&p.as_str())) {
        eprintln!("benches/releases: unknown part {p} (list, status)");
        std::process::exit(2);
    }
    let want = |p: &str| parts.is_empty() || parts.iter().any(|a| a == p);
    if want("list") {
        bench_list();
    }
    if want("status") {
        bench_status_history();
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Measure {
    wall: f64,
    rss_kb: u64,
}

/// Run `cmd` under `/usr/bin/time`, keep its stdout in `out`; it must succeed.
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

/// Rows of a `list -o json` in the bench namespaces, without our own fields, sorted.
fn normalized(json: &[u8], prefix: &str) -> Vec<Value> {
    let mut v: Vec<Value> = serde_json::from_slice(json).unwrap();
    for i in &mut v {
        let m = i.as_object_mut().unwrap();
        m.shift_remove("storage");
        m.shift_remove("project");
        m.shift_remove("env");
    }
    v.retain(|i| i["namespace"].as_str().is_some_and(|n| n.starts_with(prefix)));
    v.sort_by_key(|i| (i["namespace"].to_string(), i["name"].to_string()));
    v
}

/// Server URL, CA file and bearer token of the kubeconfig's current context (for curl).
struct Endpoint {
    server: String,
    ca: Option<PathBuf>,
    token: String,
}

fn endpoint(kubeconfig: &Path, dir: &Path) -> Endpoint {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let ctx_name = kc.current_context.clone().unwrap();
    let ctx = kc.contexts.iter().find(|c| c.name == ctx_name).and_then(|c| c.context.clone()).unwrap();
    let cluster = kc.clusters.iter().find(|c| c.name == ctx.cluster).and_then(|c| c.cluster.clone()).unwrap();
    let user = kc.auth_infos.iter().find(|u| Some(&u.name) == ctx.user.as_ref()).and_then(|u| u.auth_info.clone()).unwrap();
    use base64::Engine;
    let ca = cluster.certificate_authority_data.map(|data| {
        let path = dir.join("bench-ca.crt");
        std::fs::write(&path, base64::engine::general_purpose::STANDARD.decode(data.trim()).unwrap()).unwrap();
        path
    });
    let ca = ca.or(cluster.certificate_authority.map(PathBuf::from));
    let token = user.token.map(|t| secrecy::ExposeSecret::expose_secret(&t).to_string()).unwrap_or_default();
    Endpoint { server: cluster.server.unwrap(), ca, token }
}

/// The two LISTs issued at once by two curl processes (protobuf, as we ask for them).
fn floor_command(ep: &Endpoint, dir: &Path) -> Command {
    let header = dir.join("bench-curl-headers");
    std::fs::write(&header, format!("Authorization: Bearer {}\n", ep.token)).unwrap();
    let ca = match &ep.ca {
        Some(p) => format!("--cacert {}", p.display()),
        None => "-k".to_string(),
    };
    let curl = |accept: &str, selector: &str| {
        format!(
            "curl -sS -f {ca} -H @{} -H '{accept}' -o /dev/null '{}/api/v1/secrets?labelSelector={selector}'",
            header.display(),
            ep.server
        )
    };
    let script = format!(
        "{} & a=$!; {} & b=$!; wait $a && wait $b",
        curl("Accept: application/vnd.kubernetes.protobuf", "owner%3Dhelm%2Cstatus%21%3Dsuperseded"),
        curl("Accept: application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1", "owner%3Dhelm"),
    );
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script);
    cmd
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

/// Create releases `from..to` (x `revisions`) through the API, 64 creates in flight.
#[allow(clippy::too_many_arguments)]
fn seed(
    c: &common::TestCluster,
    namespaces: &[String],
    base: &Release,
    from: usize,
    to: usize,
    revisions: usize,
    blob: usize,
) -> (usize, f64) {
    let started = Instant::now();
    let bytes = std::sync::atomic::AtomicUsize::new(0);
    let client = c.client.clone();
    let work: Vec<(usize, usize)> = (from..to).flat_map(|i| (1..=revisions).map(move |rev| (i, rev))).collect();
    c.rt.block_on(async {
        let results: Vec<()> = futures::stream::iter(work)
            .map(|(i, rev)| {
                let client = client.clone();
                let ns = namespaces[i % namespaces.len()].clone();
                let base = base.clone();
                let bytes = &bytes;
                async move {
                    let obj = tokio::task::spawn_blocking(move || {
                        let r = synthetic_releases::revision_sized(&base, &format!("app-{i:05}"), &ns, i, rev, revisions, blob);
                        synthetic_releases::secret(&r, synthetic_releases::created_at(i, rev))
                    })
                    .await
                    .unwrap();
                    bytes.fetch_add(obj["data"]["release"].as_str().unwrap().len() * 3 / 4 * 3 / 4, std::sync::atomic::Ordering::Relaxed);
                    let ns = obj["metadata"]["namespace"].as_str().unwrap().to_string();
                    let secret: Secret = serde_json::from_value(obj).unwrap();
                    let api: Api<Secret> = Api::namespaced(client, &ns);
                    let mut tries = 0;
                    loop {
                        match api.create(&PostParams::default(), &secret).await {
                            Ok(_) => break,
                            Err(kube::Error::Api(s)) if s.code == 409 => break,
                            Err(e) if tries < 5 => {
                                tries += 1;
                                eprintln!("seed: retrying after {e}");
                                tokio::time::sleep(std::time::Duration::from_millis(200 * tries)).await;
                            }
                            Err(e) => panic!("seeding failed: {e}"),
                        }
                    }
                }
            })
            .buffer_unordered(64)
            .collect()
            .await;
        drop(results);
    });
    let records = (to - from) * revisions;
    (bytes.into_inner() / records.max(1), started.elapsed().as_secs_f64())
}

struct Tool<'a> {
    name: &'static str,
    cmd: Box<dyn Fn() -> Command + 'a>,
    runs: usize,
}

/// Time every tool `runs` times, in turn; medians (wall s, RSS MiB) in the tools' order.
fn measure(tools: &[Tool], dir: &Path) -> Vec<(f64, f64)> {
    let max_runs = tools.iter().map(|t| t.runs).max().unwrap_or(1);
    let mut walls: Vec<Vec<f64>> = vec![Vec::new(); tools.len()];
    let mut rss: Vec<Vec<f64>> = vec![Vec::new(); tools.len()];
    for run in 0..max_runs {
        for (n, t) in tools.iter().enumerate() {
            if run < t.runs {
                let m = timed(&mut (t.cmd)(), &dir.join(format!("bench-{n}.out")));
                walls[n].push(m.wall);
                rss[n].push(m.rss_kb as f64 / 1024.0);
            }
        }
    }
    walls.into_iter().zip(rss).map(|(w, r)| (median(w), median(r))).collect()
}

fn mode(c: &common::TestCluster) -> &'static str {
    if c.is_real() { "real kube-apiserver" } else { "emulator" }
}

/// Requests one run of our command makes, from its `-v 4` log.
fn requests(mut cmd: Command) -> (usize, usize) {
    let out = cmd.arg("-v").arg("4").env("NO_COLOR", "1").output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("requesting")).collect();
    let lists = lines.iter().filter(|l| l.contains("labelSelector=")).count();
    (lines.len(), lists)
}

fn bench_list() {
    let plan: Vec<usize> = std::env::var("BENCH_PLAN")
        .ok()
        .map(|p| p.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![env_usize("BENCH_RELEASES", 1000)]);
    let revisions = env_usize("BENCH_REVISIONS", 10);
    let runs = env_usize("BENCH_RUNS", 5);
    let helm_runs = env_usize("BENCH_HELM_RUNS", runs);
    let kb = env_usize("BENCH_PAYLOAD_KB", 18);
    let helm_max = env_usize("BENCH_HELM_MAX_RELEASES", 2000);
    let c = common::TestCluster::start();
    let dir = c.dir.path().to_path_buf();
    let namespaces: Vec<String> = (0..40).map(|n| c.namespace(&format!("bench{n:02}"))).collect();
    let prefix = "kw-bench";
    let base = synthetic_releases::shop();
    let blob = blob_for(&base, kb);
    let ep = endpoint(&c.kubeconfig, &dir);
    let ours = || {
        let mut cmd = c.werf();
        cmd.args(["releases", "list", "-A", "--max", "0", "-o", "json"]);
        cmd
    };
    let h3 = || {
        let mut cmd = c.helm(3);
        cmd.args(["list", "-A", "-a", "--max", "0", "-o", "json"]);
        cmd
    };
    let h4 = || {
        let mut cmd = c.helm(4);
        cmd.args(["list", "-A", "--max", "0", "-o", "json"]);
        cmd
    };
    let mut rows = Vec::new();
    let mut seeded = 0;
    for &releases in &plan {
        let (avg, secs) = seed(&c, &namespaces, &base, seeded, releases, revisions, blob);
        eprintln!(
            "seeded releases {seeded}..{releases} x {revisions} revisions ({:.1} KB gzip payloads) in {secs:.1} s on the {}",
            avg as f64 / 1024.0,
            mode(&c)
        );
        seeded = releases;
        if std::env::var_os("BENCH_SEED_ONLY").is_some() {
            // Keep the seeded namespaces for experiments by hand (they are not deleted).
            eprintln!("seeded; KUBECONFIG={}", c.kubeconfig.display());
            std::mem::forget(c);
            return;
        }
        // Same answer first.
        let with_helm = releases <= helm_max;
        let o = dir.join("check.json");
        timed(&mut ours(), &o);
        let want = normalized(&std::fs::read(&o).unwrap(), prefix);
        assert_eq!(want.len(), releases, "every release listed");
        if with_helm {
            for (name, mut cmd) in [("helm3", h3()), ("helm4", h4())] {
                timed(&mut cmd, &o);
                assert_eq!(want, normalized(&std::fs::read(&o).unwrap(), prefix), "{name} disagrees");
            }
        }
        let (reqs, lists) = requests(ours());
        let mut tools = vec![Tool { name: "kubectl werf releases list -A --max 0 -o json", cmd: Box::new(ours), runs }];
        if with_helm {
            tools.push(Tool { name: "helm3 list -A -a --max 0 -o json", cmd: Box::new(h3), runs: helm_runs });
            tools.push(Tool { name: "helm4 list -A --max 0 -o json", cmd: Box::new(h4), runs: helm_runs });
        }
        tools.push(Tool { name: "floor: both protobuf LISTs at once (curl)", cmd: Box::new(|| floor_command(&ep, &dir)), runs });
        let med = measure(&tools, &dir);
        let (ow, or) = med[0];
        let skipped = if with_helm { String::new() } else { format!("; helm not run above {helm_max} releases (BENCH_HELM_MAX_RELEASES)") };
        eprintln!(
            "\n{releases} releases x {revisions} revisions ({} KB) on the {}: outputs equal; {reqs} requests by us ({lists} LIST pages); medians of {runs} runs ({helm_runs} for helm){skipped}",
            kb,
            mode(&c)
        );
        eprintln!("| command | wall s | peak RSS MiB | wall vs ours | RSS vs ours |");
        eprintln!("|---|---|---|---|---|");
        for (t, (w, r)) in tools.iter().zip(&med) {
            eprintln!("| {} | {w:.3} | {r:.1} | {:.2}x | {:.2}x |", t.name, w / ow, r / or);
        }
        let helm = with_helm.then(|| (med[1], med[2]));
        rows.push((releases, med[0], helm, med[med.len() - 1]));
    }
    eprintln!("\nHow cost grows ({revisions} revisions, {kb} KB payloads, {}): wall s (peak RSS MiB)", mode(&c));
    eprintln!("| releases | ours | helm3 | helm4 | floor | ours / floor | helm3 / ours | helm4 / ours |");
    eprintln!("|---|---|---|---|---|---|---|---|");
    for (n, ours, helm, floor) in &rows {
        let (h3, h4, r3, r4) = match helm {
            Some((h3, h4)) => (
                format!("{:.3} ({:.0})", h3.0, h3.1),
                format!("{:.3} ({:.0})", h4.0, h4.1),
                format!("{:.1}x", h3.0 / ours.0),
                format!("{:.1}x", h4.0 / ours.0),
            ),
            None => ("not run".into(), "not run".into(), "-".into(), "-".into()),
        };
        eprintln!("| {n} | {:.3} ({:.0}) | {h3} | {h4} | {:.3} | {:.2}x | {r3} | {r4} |", ours.0, ours.1, floor.0, ours.0 / floor.0);
    }
}

fn bench_status_history() {
    let revisions = env_usize("BENCH_STATUS_REVISIONS", 200);
    let runs = env_usize("BENCH_RUNS", 5);
    let kb = env_usize("BENCH_PAYLOAD_KB", 18);
    let c = common::TestCluster::start();
    let dir = c.dir.path().to_path_buf();
    // helm status maps the manifest's kinds through discovery: the shop chart has a Widget (the
    // emulator, like a real server, serves a CRD's kind only once it is installed).
    c.install_widget_crd();
    let ns = c.namespace("bench-status");
    let base = synthetic_releases::shop();
    let blob = blob_for(&base, kb);
    let (avg, secs) = seed(&c, std::slice::from_ref(&ns), &base, 0, 1, revisions, blob);
    eprintln!("seeded 1 release x {revisions} revisions ({:.1} KB) in {secs:.1} s on the {}", avg as f64 / 1024.0, mode(&c));
    let name = "app-00000";
    let werf = |verb: &str| {
        let mut cmd = c.werf();
        cmd.args(["releases", verb, name, "-n", &ns, "-o", "json"]);
        cmd
    };
    let helm = |major: u8, verb: &str| {
        let mut cmd = c.helm(major);
        cmd.args([verb, name, "-n", &ns, "-o", "json"]);
        if verb == "history" {
            cmd.args(["--max", "1000"]);
        }
        cmd
    };
    for verb in ["status", "history"] {
        let o = dir.join("check.json");
        timed(&mut werf(verb), &o);
        let ours: Value = serde_json::from_slice(&std::fs::read(&o).unwrap()).unwrap();
        timed(&mut helm(3, verb), &o);
        let theirs: Value = serde_json::from_slice(&std::fs::read(&o).unwrap()).unwrap();
        assert_eq!(ours, theirs, "{verb}: ours and helm3's differ");
        let (reqs, _) = requests(werf(verb));
        let tools = [
            Tool {
                name: if verb == "status" { "kubectl werf releases status" } else { "kubectl werf releases history" },
                cmd: Box::new(move || werf(verb)),
                runs,
            },
            Tool {
                name: if verb == "status" { "helm3 status" } else { "helm3 history --max 1000" },
                cmd: Box::new(move || helm(3, verb)),
                runs,
            },
            Tool {
                name: if verb == "status" { "helm4 status" } else { "helm4 history --max 1000" },
                cmd: Box::new(move || helm(4, verb)),
                runs,
            },
        ];
        let med = measure(&tools, &dir);
        let (ow, or) = med[0];
        eprintln!(
            "\n`{verb}` of a release with {revisions} revisions ({kb} KB) on the {}: output equal to helm3's; {reqs} requests by us; medians of {runs} runs",
            mode(&c)
        );
        eprintln!("| command | wall s | peak RSS MiB | wall vs ours | RSS vs ours |");
        eprintln!("|---|---|---|---|---|");
        for (t, (w, r)) in tools.iter().zip(&med) {
            eprintln!("| {} -o json | {w:.3} | {r:.1} | {:.2}x | {:.2}x |", t.name, w / ow, r / or);
        }
    }
}
