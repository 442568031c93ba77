//! Faults a real cluster has, in the middle of a run: the kube-apiserver killed (SIGKILL, then started
//! again with the same data: `real-apiserver restart DIR apiserver --kill`), and etcd restarted under a
//! running kube-apiserver. For `migrate2to3` (120 Helm 2 records of 30 releases, migrated one at a time
//! with `--delete-v2-releases`) and `annotate` (a release of 200 ConfigMaps):
//! - the run either finishes or fails cleanly: exit 1 with one `error:` line per thing not done (each
//!   naming its object or release) and how to go on — never a panic or a hang (a watchdog kills it);
//! - nothing is lost: no Helm 2 record is gone without its Helm 3 copy, as an undisturbed run writes it;
//! - running the same command again ends exactly where an undisturbed run (on a twin data set in the
//!   same cluster) ends.
//!
//! Each verb has a control plane of its own (the faults would hit other tests).

mod common;
mod release_fixtures;
mod seeding;
mod synthetic_releases;

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{RealControlPlane, TestCluster};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams};
use kubectl_werf::release::helm2;
use kubectl_werf::storage::codec::{self, DecodeLimits};
use kubectl_werf::storage::{Helm2Storage, Helm3Driver};
use kubectl_werf::storage::{Helm2Store, Helm3Store, ObjectKind};
use serde_json::{Value, json};

const WATCHDOG: Duration = Duration::from_secs(240);

fn both(o: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Run `cmd`; once `progress()` reaches `at`, inflict `fault` (which returns when the server is back);
/// then wait for the run to end. Panics if it ends before the fault (the fault would prove nothing) or
/// outlives the watchdog.
fn disturbed(mut cmd: Command, progress: &dyn Fn() -> usize, at: usize, fault: &dyn Fn()) -> Output {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (mut stdout, mut stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before the fault, at progress {}: make it longer", progress());
        }
        if progress() >= at {
            break;
        }
        assert!(start.elapsed() < WATCHDOG, "no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    let at_fault = progress();
    fault();
    eprintln!("fault at progress {at_fault}, server back after {:.1}s", start.elapsed().as_secs_f64());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > WATCHDOG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the run hung after the fault (killed after {WATCHDOG:?})");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output { status, stdout: out_reader.join().unwrap(), stderr: err_reader.join().unwrap() }
}

/// A run that met a fault finished (0), or failed cleanly (1): every line of stderr is a one-line
/// message (`error:`, `warning:` or the hint how to go on), no panic, no backtrace.
#[track_caller]
fn assert_clean(what: &str, out: &Output) {
    let text = both(out);
    let code = out.status.code();
    assert!(code == Some(0) || code == Some(1), "{what}: exit {code:?}:\n{text}");
    assert!(!text.contains("panicked") && !text.contains("RUST_BACKTRACE"), "{what}: a panic:\n{text}");
    if code == Some(1) {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.lines().any(|l| l.starts_with("error: ")), "{what}: failed without saying why:\n{text}");
        assert!(stderr.contains("again"), "{what}: failed without saying how to go on:\n{text}");
    }
    eprintln!("{what}: exit {code:?}\n{}", String::from_utf8_lossy(&out.stderr));
}

// ---- migrate2to3 --------------------------------------------------------------------------------------

const RELEASES: usize = 30;

fn synthetic(name: &str) -> helm2::Release {
    let r = release_fixtures::load("helm2-synthetic").into_iter().find(|r| r.name == name).unwrap();
    codec::decode_helm2(&r.payload, &DecodeLimits::default()).unwrap()
}

/// 30 Helm 2 releases of 4 revisions (the synthetic `shop`, renamed) in a Tiller namespace of their own,
/// for a namespace of their own.
struct Migration<'a> {
    c: &'a TestCluster,
    tiller: String,
    apps: String,
    backup: std::path::PathBuf,
}

impl<'a> Migration<'a> {
    fn new(c: &'a TestCluster, tag: &str) -> Migration<'a> {
        let tiller = c.namespace(&format!("tiller-{tag}"));
        let apps = c.namespace(&format!("apps-{tag}"));
        let store = Helm2Store::new(c.client.clone(), &tiller, Helm2Storage::Auto, DecodeLimits::default());
        let revisions: Vec<helm2::Release> = (1..=4).map(|rev| synthetic(&format!("shop.v{rev}"))).collect();
        c.rt.block_on(async {
            let mut writes = Vec::new();
            for i in 0..RELEASES {
                for r in &revisions {
                    let mut rel = r.clone();
                    rel.name = format!("m{i:02}");
                    rel.namespace = apps.clone();
                    writes.push(rel);
                }
            }
            use futures::StreamExt;
            futures::stream::iter(writes)
                .map(|rel| {
                    let store = &store;
                    async move { store.create(ObjectKind::ConfigMap, &rel).await.unwrap() }
                })
                .buffer_unordered(8)
                .collect::<Vec<_>>()
                .await;
        });
        let backup = c.dir.path().join(format!("backup-{tag}"));
        Migration { c, tiller, apps, backup }
    }

    fn command(&self) -> Command {
        let mut cmd = self.c.werf();
        cmd.args([
            "migrate2to3",
            "--all",
            "--tiller-namespace",
            &self.tiller,
            "--delete-v2-releases",
            "--yes",
            "--concurrency",
            "1",
            "--backup-dir",
        ])
        .arg(&self.backup);
        cmd
    }

    /// Helm 3 records (decoded, with their labels but the write stamps) and the Helm 2 records left,
    /// namespaces replaced by their roles.
    fn state(&self) -> BTreeMap<String, String> {
        let neutral = |s: &str| s.replace(&self.apps, "<apps>").replace(&self.tiller, "<tiller>");
        let mut out = BTreeMap::new();
        let h3 = Helm3Store::new(self.c.client.clone(), Helm3Driver::Secret, DecodeLimits::default());
        let listing = self.c.rt.block_on(h3.list(Some(&self.apps), None)).unwrap();
        assert!(listing.errors.is_empty(), "{:?}", listing.errors);
        for r in listing.records {
            let mut labels = r.object.labels.clone();
            labels.remove("createdAt");
            labels.remove("modifiedAt");
            let body = String::from_utf8(codec::helm3_json(&r.release).unwrap()).unwrap();
            out.insert(format!("v3/{}", r.object.name), neutral(&format!("{labels:?} {body}")));
        }
        let h2 = Helm2Store::new(self.c.client.clone(), &self.tiller, Helm2Storage::Auto, DecodeLimits::default());
        for r in self.c.rt.block_on(h2.list(None)).unwrap().records {
            out.insert(format!("v2/{}", r.object.name), r.storage_name().to_string());
        }
        out
    }

    /// Helm 3 records written so far.
    fn written(&self) -> usize {
        let api: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(self.c.client.clone(), &self.apps);
        self.c.rt.block_on(api.list_metadata(&ListParams::default().labels("owner=helm"))).map(|l| l.items.len()).unwrap_or(0)
    }

    /// No Helm 2 record is gone unless its Helm 3 copy is there, as the undisturbed run wrote it.
    #[track_caller]
    fn assert_nothing_lost(&self, state: &BTreeMap<String, String>, expected: &BTreeMap<String, String>, what: &str) {
        for i in 0..RELEASES {
            for rev in 1..=4 {
                let rec = format!("m{i:02}.v{rev}");
                if !state.contains_key(&format!("v2/{rec}")) {
                    let v3 = format!("v3/sh.helm.release.v1.{rec}");
                    assert_eq!(state.get(&v3), expected.get(&v3), "{what}: Helm 2 record {rec} deleted without its Helm 3 copy");
                }
            }
        }
    }
}

#[test]
#[ignore = "real kube-apiserver: scripts/test runs it"]
fn migrate2to3_survives_the_apiserver_killed_and_etcd_restarted() {
    let cp = RealControlPlane::start("");
    let c = cp.cluster();
    let undisturbed = Migration::new(&c, "calm");
    let out = common::run(&mut undisturbed.command());
    assert!(out.status.success(), "{}", both(&out));
    let expected = undisturbed.state();
    assert_eq!(expected.keys().filter(|k| k.starts_with("v3/")).count(), RELEASES * 4, "{expected:#?}");
    assert!(!expected.keys().any(|k| k.starts_with("v2/")));
    let faults: [(&str, &dyn Fn()); 2] =
        [("apiserver killed", &|| cp.restart("apiserver", true)), ("etcd restarted", &|| cp.restart("etcd", false))];
    for (what, fault) in faults {
        let m = Migration::new(&c, &what[..4]);
        let out = disturbed(m.command(), &|| m.written(), 40, fault);
        let what = format!("migrate2to3, {what}");
        assert_clean(&what, &out);
        let state = m.state();
        m.assert_nothing_lost(&state, &expected, &what);
        let again = common::run(&mut m.command());
        assert!(again.status.success(), "{what}: the re-run: {}", both(&again));
        assert_eq!(m.state(), expected, "{what}: the end state after the re-run");
    }
}

// ---- annotate -----------------------------------------------------------------------------------------

const OBJECTS: usize = 200;

/// A Helm 3 release `bulk` (one revision, deployed) whose manifest is 200 ConfigMaps, all live.
fn seed_annotation(c: &TestCluster, tag: &str) -> String {
    let ns = c.namespace(&format!("annotate-{tag}"));
    let mut release = synthetic_releases::shop();
    release.name = "bulk".into();
    release.namespace = ns.clone();
    release.version = 1;
    release.hooks.clear();
    let mut manifest = String::new();
    let mut objects = Vec::new();
    for i in 0..OBJECTS {
        let name = format!("cm-{i:03}");
        manifest.push_str(&format!(
            "---\n# Source: bulk/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  i: \"{i}\"\n"
        ));
        objects.push(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns, "labels": {"app": "bulk"}}, "data": {"i": i.to_string()}}));
    }
    release.manifest = manifest;
    objects.push(synthetic_releases::secret(&release, synthetic_releases::created_at(1, 1)));
    seeding::create_all(c, objects, 16);
    ns
}

fn annotate(c: &TestCluster, ns: &str) -> Command {
    let mut cmd = c.werf();
    cmd.args(["annotate", "bulk", "-n", ns, "--add-annotation", "example.com/pass=1", "--add-label", "example.com/team=bulk", "--yes"]);
    cmd
}

/// Every ConfigMap's labels, annotations and data.
fn annotation_state(c: &TestCluster, ns: &str) -> BTreeMap<String, Value> {
    let api: Api<ConfigMap> = Api::namespaced(c.client.clone(), ns);
    let list = c.rt.block_on(api.list(&ListParams::default().labels("app=bulk"))).unwrap();
    list.items
        .into_iter()
        .map(|cm| {
            (
                cm.metadata.name.clone().unwrap(),
                json!({"labels": cm.metadata.labels, "annotations": cm.metadata.annotations, "data": cm.data}),
            )
        })
        .collect()
}

fn annotated(c: &TestCluster, ns: &str) -> usize {
    let api: Api<ConfigMap> = Api::namespaced(c.client.clone(), ns);
    c.rt.block_on(api.list_metadata(&ListParams::default().labels("example.com/team=bulk"))).map(|l| l.items.len()).unwrap_or(0)
}

#[test]
#[ignore = "real kube-apiserver: scripts/test runs it"]
fn annotate_survives_the_apiserver_killed_and_etcd_restarted() {
    let cp = RealControlPlane::start("");
    let c = cp.cluster();
    let calm = seed_annotation(&c, "calm");
    let out = common::run(&mut annotate(&c, &calm));
    assert!(out.status.success(), "{}", both(&out));
    let expected = annotation_state(&c, &calm);
    assert_eq!(expected.len(), OBJECTS);
    assert!(expected.values().all(|v| v["annotations"]["example.com/pass"] == "1"), "{expected:#?}");
    let faults: [(&str, &dyn Fn()); 2] =
        [("apiserver killed", &|| cp.restart("apiserver", true)), ("etcd restarted", &|| cp.restart("etcd", false))];
    for (what, fault) in faults {
        let ns = seed_annotation(&c, &what[..4]);
        let out = disturbed(annotate(&c, &ns), &|| annotated(&c, &ns), 30, fault);
        let what = format!("annotate, {what}");
        assert_clean(&what, &out);
        let again = common::run(&mut annotate(&c, &ns));
        assert!(again.status.success(), "{what}: the re-run: {}", both(&again));
        assert_eq!(annotation_state(&c, &ns), expected, "{what}: the end state after the re-run");
    }
}
