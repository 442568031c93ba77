//! Load: the plugin's verbs running side by side on a big cluster while other clients keep writing the
//! very objects they touch.
//!
//! The emulator is seeded with 10,000 Helm 3 release records (1,000 releases x 10 revisions, ~20 KB
//! payloads, written to its store directly) and 2,000 live ConfigMaps listed in the manifests of 4 of
//! those releases (half already carrying Helm's ownership keys, half not, so `adopt` has work). Then,
//! all at once:
//! - `releases list -A` several times, `releases history` of several releases;
//! - `annotate` of the 4 owning releases (a new value each pass) and `adopt --from-release` of them;
//! - 8 writer threads, each bumping its own annotation `load.example.com/writer-I` on all 2,000 objects
//!   with optimistic concurrency (GET, merge patch carrying the resourceVersion read, read again on 409).
//!
//! Afterwards every writer's last value is on every object (no lost update: annotate and adopt never
//! overwrote a concurrent change), as are annotate's last pass and adopt's ownership keys; every verb
//! exited 0 (a run that gave up on an object after repeated conflicts, exit 1 with "still changing", is
//! run again and counted); the binary's peak RSS (`/usr/bin/time -f %M`) stays under 512 MiB; and a
//! watchdog fails the test (killing what still runs) instead of letting a deadlock hang it. Requests/s
//! served by the emulator, each verb's peak RSS and the writers' rates are printed.
//!
//! Sizes and iterations come from `LOAD_*` variables (see [`Plan::from_env`]); the defaults are the CI
//! size: the full 10,000 records and 2,000 objects with few iterations, so the debug build stays within
//! about two minutes on 2 cores (seeding encodes 10,000 gzip payloads: the dev profile builds zlib-rs
//! optimized for that, see the root Cargo.toml). `scripts/bench-load` runs a longer release-build version.
//!
//! Against a real cluster (`KUBECTL_WERF_TEST_KUBECONFIG`) the test **scales down** rather than skip:
//! records and objects are created through the API (20 releases x 3 revisions, 4 x 20 ConfigMaps, 4
//! writers), which keeps the no-lost-update and exit-code checks meaningful on a real API server; the
//! request statistics are emulator-only.

mod common;
mod synthetic_releases;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::TestCluster;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use kubectl_werf::ownership::{MANAGED_BY_LABEL, RELEASE_NAME_ANNOTATION, RELEASE_NAMESPACE_ANNOTATION};
use kubectl_werf::release::helm3::Release;
use serde_json::{Value, json};

const MIB: u64 = 1024;
const RSS_LIMIT_KIB: u64 = 512 * MIB;
const WRITER_KEY: &str = "load.example.com/writer-";
const PASS_KEY: &str = "load.example.com/pass";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// What to seed and how much to run.
#[derive(Debug, Clone)]
struct Plan {
    releases: usize,
    revisions: usize,
    /// Releases owning live objects (the first ones), and objects per owning release.
    owners: usize,
    objects_per_owner: usize,
    writers: usize,
    /// Full passes over all objects each writer makes at least (it keeps going while verbs run).
    writer_rounds: usize,
    lists: usize,
    histories: usize,
    annotate_passes: usize,
    watchdog: Duration,
}

impl Plan {
    /// `LOAD_RELEASES` (1000), `LOAD_REVISIONS` (10), `LOAD_OWNERS` (4), `LOAD_OBJECTS` (2000, split over the
    /// owners), `LOAD_WRITERS` (8), `LOAD_WRITER_ROUNDS` (1), `LOAD_LISTS` (3), `LOAD_HISTORIES` (4),
    /// `LOAD_ANNOTATE_PASSES` (2), `LOAD_WATCHDOG_SECS` (600). On a real cluster the defaults are 20, 3, 4,
    /// 80, 4, 1, 2, 2, 1.
    fn from_env(real: bool) -> Plan {
        let d = |emu: usize, real_default: usize| if real { real_default } else { emu };
        let owners = env_usize("LOAD_OWNERS", 4).max(1);
        let objects = env_usize("LOAD_OBJECTS", d(2000, 80));
        let releases = env_usize("LOAD_RELEASES", d(1000, 20)).max(owners);
        Plan {
            releases,
            revisions: env_usize("LOAD_REVISIONS", d(10, 3)).max(1),
            owners,
            objects_per_owner: objects.div_ceil(owners),
            writers: env_usize("LOAD_WRITERS", d(8, 4)),
            writer_rounds: env_usize("LOAD_WRITER_ROUNDS", 1).max(1),
            lists: env_usize("LOAD_LISTS", d(3, 2)),
            histories: env_usize("LOAD_HISTORIES", d(4, 2)),
            annotate_passes: env_usize("LOAD_ANNOTATE_PASSES", d(2, 1)).max(1),
            watchdog: Duration::from_secs(env_usize("LOAD_WATCHDOG_SECS", 600) as u64),
        }
    }

    fn objects(&self) -> usize {
        self.owners * self.objects_per_owner
    }
}

// ---- seeding ---------------------------------------------------------------------------------------------------

fn release_name(i: usize) -> String {
    format!("app-{i:05}")
}

fn object_name(owner: usize, j: usize) -> String {
    format!("live-{owner}-{j:04}")
}

/// Helm's rendering of the owning release's ConfigMaps.
fn owner_manifest(owner: usize, objects: usize) -> String {
    (0..objects)
        .map(|j| {
            format!(
                "---\n# Source: app/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\ndata:\n  index: \"{j}\"\n",
                object_name(owner, j)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The Secret of revision `rev` of release `i` (the fixture release `shop` with name, namespace, revision,
/// status, values and an incompressible 16 KB value varied; owning releases list their ConfigMaps).
fn record(base: &Release, plan: &Plan, namespaces: &[String], i: usize, rev: usize) -> Value {
    let mut r = synthetic_releases::revision(base, &release_name(i), &namespaces[i % namespaces.len()], i, rev, plan.revisions);
    if i < plan.owners {
        r.manifest = owner_manifest(i, plan.objects_per_owner);
        r.hooks.clear();
    }
    synthetic_releases::secret(&r, synthetic_releases::created_at(i, rev))
}

/// Live ConfigMap `j` of owning release `owner`: even ones already carry Helm's ownership keys, odd ones only
/// an app label (adopt takes those).
fn live_object(owner: usize, j: usize, ns: &str) -> Value {
    let (labels, annotations) = if j.is_multiple_of(2) {
        (
            json!({MANAGED_BY_LABEL: "Helm", "app": "load"}),
            json!({RELEASE_NAME_ANNOTATION: release_name(owner), RELEASE_NAMESPACE_ANNOTATION: ns, "note": "kept"}),
        )
    } else {
        (json!({"app": "load"}), json!({"note": "kept"}))
    };
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": object_name(owner, j), "namespace": ns, "labels": labels, "annotations": annotations},
        "data": {"index": j.to_string()},
    })
}

/// CPU seconds (user + system) this process used so far (emulator threads included), from /proc.
fn process_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // the fields after the command name (which is in parentheses and may hold spaces)
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// A line of /proc/self/status (`VmRSS`, `VmHWM`), as written there.
fn proc_status(key: &str) -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':'))).map(|v| v.trim().to_string()).unwrap_or_default()
}

/// CPU seconds used by waited-for child processes (the verbs, through /usr/bin/time).
fn children_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(13) + ticks(14)) / 100.0
}

/// Creates every record and live object: straight into the emulator's store (in parallel), or through the API.
fn seed(c: &TestCluster, plan: &Plan, namespaces: &[String]) {
    let base = synthetic_releases::shop();
    let started = Instant::now();
    let cpu = process_cpu_secs();
    let work: Vec<(usize, usize)> = (0..plan.releases).flat_map(|i| (1..=plan.revisions).map(move |rev| (i, rev))).collect();
    let objects: Vec<Value> = (0..plan.owners)
        .flat_map(|o| (0..plan.objects_per_owner).map(move |j| (o, j)))
        .map(|(o, j)| live_object(o, j, &namespaces[o % namespaces.len()]))
        .collect();
    match &c.emulator {
        Some(emu) => {
            let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
            std::thread::scope(|s| {
                for t in 0..threads {
                    let store = emu.store();
                    let (base, work, objects) = (&base, &work, &objects);
                    s.spawn(move || {
                        for &(i, rev) in work.iter().skip(t).step_by(threads) {
                            store.create(record(base, plan, namespaces, i, rev)).unwrap();
                        }
                        for o in objects.iter().skip(t).step_by(threads) {
                            store.create(o.clone()).unwrap();
                        }
                    });
                }
            });
        }
        None => {
            for &(i, rev) in &work {
                c.create_object(record(&base, plan, namespaces, i, rev));
            }
            for o in objects {
                c.create_object(o);
            }
        }
    }
    eprintln!(
        "seeded {} records ({} x {}) and {} ConfigMaps in {:.1}s ({:.1} CPU s)",
        work.len(),
        plan.releases,
        plan.revisions,
        plan.objects(),
        started.elapsed().as_secs_f64(),
        process_cpu_secs() - cpu
    );
    if c.emulator.is_some() {
        eprintln!("test process (emulator holding the seed) RSS after seeding: {}", proc_status("VmRSS"));
    }
}

// ---- running the binary under a watchdog ---------------------------------------------------------------------

/// One finished (or killed) run of the binary.
#[derive(Debug)]
struct Run {
    what: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
    rss_kib: u64,
    wall: Duration,
    timed_out: bool,
}

/// Runs `cmd` under `/usr/bin/time -f %M` (peak RSS in KiB), killing it at `deadline`.
fn timed(what: String, cmd: &Command, dir: &Path, deadline: Instant) -> Run {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let (out_path, err_path, rss_path) = (dir.join(format!("{n}.out")), dir.join(format!("{n}.err")), dir.join(format!("{n}.rss")));
    let mut t = Command::new("/usr/bin/time");
    t.arg("-f").arg("%M").arg("-o").arg(&rss_path).arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => t.env(k, v),
            None => t.env_remove(k),
        };
    }
    // A group of its own, so the watchdog can end /usr/bin/time together with the binary it runs.
    t.process_group(0)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let started = Instant::now();
    let mut child = t.spawn().unwrap_or_else(|e| panic!("cannot run /usr/bin/time: {e}"));
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() >= deadline {
            timed_out = true;
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let wall = started.elapsed();
    let rss_kib = std::fs::read_to_string(&rss_path).ok().and_then(|s| s.lines().rev().find_map(|l| l.trim().parse().ok())).unwrap_or(0);
    Run {
        what,
        code: status.and_then(|s| s.code()),
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        rss_kib,
        wall,
        timed_out,
    }
}

// ---- writers ---------------------------------------------------------------------------------------------------

#[derive(Default)]
struct WriterStats {
    updates: u64,
    conflicts: u64,
    /// (namespace, name) → the last value this writer wrote there.
    last: BTreeMap<(String, String), u64>,
    error: Option<String>,
}

/// Bumps `load.example.com/writer-ID` on every object, round after round, with GET + merge patch carrying the
/// resourceVersion read (re-reading on 409), until `stop` is set and `min_rounds` are done, or the deadline.
async fn writer(
    client: kube::Client,
    id: usize,
    writers: usize,
    targets: Arc<Vec<(String, String)>>,
    min_rounds: usize,
    stop: Arc<AtomicBool>,
    deadline: Instant,
) -> WriterStats {
    let key = format!("{WRITER_KEY}{id}");
    let mut stats = WriterStats::default();
    let mut counter = 0u64;
    // Writers start at different places so they do not move in lockstep.
    let offset = id * targets.len() / writers.max(1);
    let mut round = 0;
    'rounds: loop {
        for k in 0..targets.len() {
            let (ns, name) = &targets[(offset + k) % targets.len()];
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
            counter += 1;
            loop {
                if Instant::now() >= deadline {
                    stats.error = Some(format!("writer {id}: watchdog deadline reached"));
                    break 'rounds;
                }
                let current = match api.get(name).await {
                    Ok(cm) => cm,
                    Err(e) => {
                        stats.error = Some(format!("writer {id}: GET {ns}/{name}: {e}"));
                        break 'rounds;
                    }
                };
                let rv = current.metadata.resource_version.clone().unwrap_or_default();
                let patch = json!({"metadata": {"resourceVersion": rv, "annotations": {key.as_str(): counter.to_string()}}});
                match api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                    Ok(_) => {
                        stats.updates += 1;
                        stats.last.insert((ns.clone(), name.clone()), counter);
                        break;
                    }
                    Err(kube::Error::Api(s)) if s.code == 409 => stats.conflicts += 1,
                    Err(e) => {
                        stats.error = Some(format!("writer {id}: PATCH {ns}/{name}: {e}"));
                        break 'rounds;
                    }
                }
            }
        }
        round += 1;
        if round >= min_rounds && stop.load(Ordering::SeqCst) {
            break;
        }
    }
    stats
}

// ---- the test ----------------------------------------------------------------------------------------------------

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect()).unwrap_or_default()
}

/// The emulator user each verb runs as (its requests are counted under that name).
fn user_of(label: &str) -> &'static str {
    match label {
        "releases list -A" => "list",
        "releases history" => "history",
        "annotate" => "annotate",
        _ => "adopt",
    }
}

/// A verb's runs: (verb label, run). Each thread returns its own.
type Runs = Vec<(&'static str, Run)>;

/// A mutating verb that may give up on objects still changing after its retries (exit 1, every failure saying
/// "still changing"): that is run again, up to 3 times; anything else is returned as is.
fn run_retrying_contention(
    label: &'static str,
    what: String,
    cmd: &Command,
    dir: &Path,
    deadline: Instant,
    reruns: &AtomicU64,
) -> (&'static str, Run) {
    let mut attempt = 0;
    loop {
        let r = timed(what.clone(), cmd, dir, deadline);
        let contention = r.code == Some(1)
            && serde_json::from_str::<Value>(&r.stdout).ok().is_some_and(|report| {
                let entries = report["results"].as_array().or(report["objects"].as_array()).cloned().unwrap_or_default();
                let failed: Vec<&Value> = entries.iter().filter(|e| matches!(e["result"].as_str(), Some("failed" | "refused"))).collect();
                !failed.is_empty() && failed.iter().all(|e| e["detail"].as_str().is_some_and(|d| d.contains("still changing")))
            });
        if contention && attempt < 3 {
            attempt += 1;
            reruns.fetch_add(1, Ordering::Relaxed);
            eprintln!("{what}: gave up on objects still changing under the writers; running it again");
            continue;
        }
        return (label, r);
    }
}

#[test]
fn verbs_under_concurrent_writers_on_a_big_cluster() {
    let c = TestCluster::start();
    let plan = Plan::from_env(c.is_real());
    eprintln!("{plan:?}");
    let namespaces: Vec<String> = (0..40.min(plan.releases)).map(|n| c.namespace(&format!("load-{n:02}"))).collect();
    seed(&c, &plan, &namespaces);
    let owners: Vec<(String, String)> = (0..plan.owners).map(|o| (release_name(o), namespaces[o % namespaces.len()].clone())).collect();
    let targets: Arc<Vec<(String, String)>> = Arc::new(
        (0..plan.owners)
            .flat_map(|o| (0..plan.objects_per_owner).map(move |j| (o, j)))
            .map(|(o, j)| (namespaces[o % namespaces.len()].clone(), object_name(o, j)))
            .collect(),
    );
    let ns_set: BTreeSet<&str> = namespaces.iter().map(String::as_str).collect();
    let dir = c.dir.path().join("runs");
    std::fs::create_dir_all(&dir).unwrap();

    // In the emulator each kind of client gets its own user, so the request log says who asked what.
    let kubeconfig_for = |user: &str| -> PathBuf {
        match &c.emulator {
            Some(emu) => {
                let token = format!("load-{user}-token");
                emu.add_user(&token, &format!("load-{user}"), &["system:masters"]);
                let path = c.dir.path().join(format!("kubeconfig-{user}"));
                std::fs::write(&path, emu.kubeconfig_yaml_for(&token, None)).unwrap();
                path
            }
            None => c.kubeconfig.clone(),
        }
    };
    let werf = |user: &str, args: &[&str]| {
        let mut cmd = c.werf();
        cmd.env("KUBECONFIG", kubeconfig_for(user)).args(args);
        for (k, _) in std::env::vars() {
            if k.starts_with("CI_") || k.starts_with("GITHUB_") || k == "GITLAB_CI" {
                cmd.env_remove(&k);
            }
        }
        cmd
    };
    let writer_client = {
        let path = kubeconfig_for("writers");
        c.rt.block_on(async {
            let kc = kube::config::Kubeconfig::read_from(&path).unwrap();
            let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.unwrap();
            kube::Client::try_from(config).unwrap()
        })
    };

    let list_cmd = werf(user_of("releases list -A"), &["releases", "list", "-A", "-o", "json", "--max", "0", "--helm-version", "3"]);
    let history_cmds: Vec<(String, Command)> = (0..plan.histories)
        .map(|h| {
            let i = (h * 7919) % plan.releases;
            let (name, ns) = (release_name(i), namespaces[i % namespaces.len()].clone());
            let cmd = werf(user_of("releases history"), &["releases", "history", &name, "-n", &ns, "-o", "json"]);
            (format!("releases history {name}"), cmd)
        })
        .collect();
    let annotate_cmds: Vec<(String, Command)> = (1..=plan.annotate_passes)
        .flat_map(|pass| owners.iter().map(move |o| (pass, o)))
        .map(|(pass, (name, ns))| {
            let value = format!("{PASS_KEY}={pass}");
            (
                format!("annotate {name} (pass {pass})"),
                werf(user_of("annotate"), &["annotate", name, "-n", ns, "--add-annotation", &value, "--yes", "-o", "json"]),
            )
        })
        .collect();
    let adopt_cmds: Vec<(String, Command)> = owners
        .iter()
        .map(|(name, ns)| {
            (
                format!("adopt --from-release {name}"),
                werf(user_of("adopt"), &["adopt", "--from-release", name, "-n", ns, "--yes", "-o", "json"]),
            )
        })
        .collect();

    if let Some(emu) = &c.emulator {
        emu.clear_request_log();
    }
    let started = Instant::now();
    let cpu_before = (process_cpu_secs(), children_cpu_secs());
    let deadline = started + plan.watchdog;
    let stop = Arc::new(AtomicBool::new(false));
    let reruns = AtomicU64::new(0);
    let writer_handles: Vec<_> = (0..plan.writers)
        .map(|id| c.rt.spawn(writer(writer_client.clone(), id, plan.writers, targets.clone(), plan.writer_rounds, stop.clone(), deadline)))
        .collect();
    let runs: Runs = std::thread::scope(|s| {
        let dir = &dir;
        let reruns = &reruns;
        let threads = vec![
            s.spawn(|| {
                (0..plan.lists)
                    .map(|n| ("releases list -A", timed(format!("releases list -A #{n}"), &list_cmd, dir, deadline)))
                    .collect::<Runs>()
            }),
            s.spawn(|| {
                history_cmds.iter().map(|(what, cmd)| ("releases history", timed(what.clone(), cmd, dir, deadline))).collect::<Runs>()
            }),
            s.spawn(|| {
                annotate_cmds
                    .iter()
                    .map(|(what, cmd)| run_retrying_contention("annotate", what.clone(), cmd, dir, deadline, reruns))
                    .collect::<Runs>()
            }),
            s.spawn(|| {
                adopt_cmds
                    .iter()
                    .map(|(what, cmd)| run_retrying_contention("adopt", what.clone(), cmd, dir, deadline, reruns))
                    .collect::<Runs>()
            }),
        ];
        threads.into_iter().flat_map(|t| t.join().expect("verb thread")).collect()
    });
    let verbs_done = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    // Writers stop by themselves at the deadline between requests; one stuck inside a request is a hang too.
    let grace = deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(30);
    let writers: Vec<WriterStats> = c.rt.block_on(async {
        let all = futures::future::join_all(writer_handles);
        match tokio::time::timeout(grace, all).await {
            Ok(done) => done.into_iter().map(|r| r.expect("writer task")).collect(),
            Err(_) => panic!("watchdog ({:?}): writers still inside a request 30s after the deadline", plan.watchdog),
        }
    });
    let elapsed = started.elapsed();
    let (cpu_self, cpu_children) = (process_cpu_secs() - cpu_before.0, children_cpu_secs() - cpu_before.1);

    // ---- report ----
    let secs = elapsed.as_secs_f64();
    let updates: u64 = writers.iter().map(|w| w.updates).sum();
    let conflicts: u64 = writers.iter().map(|w| w.conflicts).sum();
    // requests and answered bytes per client (each has its own user in the emulator)
    let mut by_user: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut total_requests = None;
    if let Some(emu) = &c.emulator {
        total_requests = Some(emu.route_counters().values().sum::<u64>());
        for r in emu.request_log() {
            let e = by_user.entry(r.user.trim_start_matches("load-").to_string()).or_default();
            e.0 += 1;
            e.1 += r.response_bytes;
        }
    }
    eprintln!("\n| measure | value |\n|---|---|");
    eprintln!("| concurrent phase wall | {secs:.1} s (verbs done after {:.1} s) |", verbs_done.as_secs_f64());
    eprintln!("| CPU over the phase | {cpu_self:.1} s test process (emulator + writers), {cpu_children:.1} s verbs |");
    if let Some(total) = total_requests {
        eprintln!("| emulator requests | {total} = {:.0} requests/s |", total as f64 / secs);
        eprintln!("| test process peak RSS (emulator, 10k records) | {} |", proc_status("VmHWM"));
    }
    eprintln!("| writers | {} x {} objects, {updates} updates = {:.0} updates/s |", plan.writers, plan.objects(), updates as f64 / secs);
    eprintln!("| conflicts retried by writers | {conflicts} |");
    eprintln!("| verb re-runs after giving up under contention | {} |", reruns.load(Ordering::Relaxed));
    let mut per_verb: BTreeMap<&str, (Vec<f64>, u64)> = BTreeMap::new();
    for (label, r) in &runs {
        let e = per_verb.entry(label).or_default();
        e.0.push(r.wall.as_secs_f64());
        e.1 = e.1.max(r.rss_kib);
    }
    eprintln!("\n| verb | runs | requests | MiB answered | median wall s | slowest s | peak RSS MiB |\n|---|---|---|---|---|---|---|");
    for (label, (mut walls, rss)) in per_verb {
        walls.sort_by(|a, b| a.total_cmp(b));
        let (requests, answered) = match by_user.get(user_of(label)) {
            Some((n, bytes)) => (n.to_string(), format!("{:.1}", *bytes as f64 / 1048576.0)),
            None => ("n/a".to_string(), "n/a".to_string()),
        };
        eprintln!(
            "| {label} | {} | {requests} | {answered} | {:.2} | {:.2} | {:.1} |",
            walls.len(),
            walls[walls.len() / 2],
            walls[walls.len() - 1],
            rss as f64 / 1024.0
        );
    }
    if let Some((n, bytes)) = by_user.get("writers") {
        eprintln!("| (writers) | {} | {n} | {:.1} | | | |", plan.writers, *bytes as f64 / 1048576.0);
    }

    // ---- no deadlock, every verb fine ----
    let hung: Vec<&str> = runs.iter().filter(|(_, r)| r.timed_out).map(|(_, r)| r.what.as_str()).collect();
    let stuck: Vec<String> = writers.iter().filter_map(|w| w.error.clone()).collect();
    assert!(hung.is_empty(), "watchdog ({:?}) killed: {hung:?}; writers: {stuck:?}", plan.watchdog);
    assert!(stuck.is_empty(), "writers failed: {stuck:?}");
    for (label, r) in &runs {
        assert_eq!(r.code, Some(0), "{} exited {:?}\nstdout:\n{}\nstderr:\n{}", r.what, r.code, r.stdout, r.stderr);
        assert!(r.rss_kib > 0, "{}: no peak RSS from /usr/bin/time", r.what);
        assert!(r.rss_kib < RSS_LIMIT_KIB, "{}: peak RSS {} KiB over {} KiB", r.what, r.rss_kib, RSS_LIMIT_KIB);
        let out: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{}: {e}\n{}", r.what, r.stdout));
        match *label {
            "releases list -A" => {
                let ours = out.as_array().unwrap().iter().filter(|i| i["namespace"].as_str().is_some_and(|n| ns_set.contains(n))).count();
                assert_eq!(ours, plan.releases, "{}", r.what);
            }
            "releases history" => assert_eq!(out.as_array().unwrap().len(), plan.revisions, "{}", r.what),
            "annotate" => {
                let results = out["results"].as_array().unwrap();
                assert_eq!(results.len(), plan.objects_per_owner, "{}", r.what);
                assert!(results.iter().all(|e| matches!(e["result"].as_str(), Some("patched" | "unchanged"))), "{}: {out:#}", r.what);
            }
            "adopt" => {
                let objects = out["objects"].as_array().unwrap();
                assert_eq!(objects.len(), plan.objects_per_owner, "{}", r.what);
                // handed-over: already in the release, the manifest's fields moved to Helm 4's manager.
                assert!(
                    objects.iter().all(|e| matches!(e["result"].as_str(), Some("adopted" | "handed-over" | "unchanged"))),
                    "{}: {out:#}",
                    r.what
                );
            }
            other => unreachable!("{other}"),
        }
    }

    // ---- nothing lost ----
    let mut expected: BTreeMap<(String, String), BTreeMap<String, String>> = BTreeMap::new();
    for (id, w) in writers.iter().enumerate() {
        assert_eq!(w.last.len(), targets.len(), "writer {id} wrote every object");
        for (obj, value) in &w.last {
            expected.entry(obj.clone()).or_default().insert(format!("{WRITER_KEY}{id}"), value.to_string());
        }
    }
    let mut lost = Vec::new();
    for (o, (release, ns)) in owners.iter().enumerate() {
        let api: Api<ConfigMap> = Api::namespaced(c.client.clone(), ns);
        for j in 0..plan.objects_per_owner {
            let name = object_name(o, j);
            let cm = c.rt.block_on(api.get(&name)).unwrap();
            let value = serde_json::to_value(&cm).unwrap();
            let annotations = string_map(&value["metadata"]["annotations"]);
            let labels = string_map(&value["metadata"]["labels"]);
            for (k, v) in expected.get(&(ns.clone(), name.clone())).into_iter().flatten() {
                if annotations.get(k) != Some(v) {
                    lost.push(format!("{ns}/{name}: {k} is {:?}, last written {v}", annotations.get(k)));
                }
            }
            if annotations.get(PASS_KEY).map(String::as_str) != Some(plan.annotate_passes.to_string().as_str()) {
                lost.push(format!("{ns}/{name}: annotate's {PASS_KEY} is {:?}", annotations.get(PASS_KEY)));
            }
            // The three keys Helm's ownership check reads, spelled out (not through the product's check).
            let owner = (
                labels.get("app.kubernetes.io/managed-by").map(String::as_str),
                annotations.get("meta.helm.sh/release-name").map(String::as_str),
                annotations.get("meta.helm.sh/release-namespace").map(String::as_str),
            );
            if owner != (Some("Helm"), Some(release.as_str()), Some(ns.as_str())) {
                lost.push(format!("{ns}/{name}: not owned by {release}: {owner:?}"));
            }
            if annotations.get("note").map(String::as_str) != Some("kept") || value["data"]["index"] != j.to_string().as_str() {
                lost.push(format!("{ns}/{name}: other content changed: {value}"));
            }
        }
    }
    assert!(lost.is_empty(), "{} lost updates, first ones:\n{}", lost.len(), lost.iter().take(20).cloned().collect::<Vec<_>>().join("\n"));
}
