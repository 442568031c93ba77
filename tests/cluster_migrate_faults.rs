//! `migrate2to3` under faults: every write or delete an undisturbed run makes (taken from the emulator's
//! request log) is failed in a fresh run — with an error status, a dropped connection, a refusal, and (for
//! creates) a write that lands while its answer is lost — and the process is killed mid-run and
//! interrupted with SIGTERM. After each, no Helm 2 record is gone without an equal, verified Helm 3 copy,
//! and running the same command again ends exactly where the undisturbed run ended.
//! These need the emulator (faults, request log): every test is *emulator_only*, filtered out of the
//! real-cluster pass by that name.

mod common;
mod release_fixtures;

use std::collections::BTreeMap;
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Emulator, TestCluster, run};
use kube_emulator::{Fault, LoggedRequest};
use kubectl_werf::release::helm2;
use kubectl_werf::storage::codec::{self, DecodeLimits};
use kubectl_werf::storage::{Helm2Storage, Helm3Driver};
use kubectl_werf::storage::{Helm2Store, Helm3Store, ObjectKind};
use serde_json::json;

const WRITE_VERBS: [&str; 4] = ["create", "update", "patch", "delete"];

fn synthetic(name: &str) -> helm2::Release {
    let r = release_fixtures::load("helm2-synthetic").into_iter().find(|r| r.name == name).unwrap();
    codec::decode_helm2(&r.payload, &DecodeLimits::default()).unwrap()
}

/// Two releases in one Tiller namespace (shop as ConfigMaps, cart as Secrets) and one live object to stamp.
struct Scenario {
    c: TestCluster,
    tiller: String,
    apps: String,
    backup: std::path::PathBuf,
}

impl Scenario {
    fn new() -> Scenario {
        let c = TestCluster::start();
        let tiller = c.namespace("tiller");
        let apps = c.namespace("apps");
        let store = Helm2Store::new(c.client.clone(), &tiller, Helm2Storage::Auto, DecodeLimits::default());
        for (name, revs, kind) in [("shop", 4, ObjectKind::ConfigMap), ("cart", 2, ObjectKind::Secret)] {
            for rev in 1..=revs {
                let mut rel = synthetic(&format!("{name}.v{rev}"));
                rel.namespace = apps.clone();
                c.rt.block_on(store.create(kind, &rel)).unwrap();
            }
        }
        c.create_object(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "shop", "namespace": apps}}));
        let backup = c.dir.path().join("backup");
        Scenario { c, tiller, apps, backup }
    }

    fn emu(&self) -> &Emulator {
        self.c.emulator_for("fault injection and the request log")
    }

    fn args(&self) -> Vec<String> {
        ["migrate2to3", "--all", "--tiller-namespace", &self.tiller, "--delete-v2-releases", "--yes", "--concurrency", "1", "--backup-dir"]
            .iter()
            .map(|s| s.to_string())
            .chain([self.backup.display().to_string()])
            .collect()
    }

    fn migrate(&self) -> Output {
        run(self.c.werf().args(self.args()))
    }

    /// Namespaces replaced by their role, so states of different clusters compare.
    fn neutral(&self, s: &str) -> String {
        s.replace(&self.apps, "<apps>").replace(&self.tiller, "<tiller>")
    }

    /// Everything the migration affects: Helm 3 records (decoded, with their Helm labels), the Helm 2
    /// records still present, and the live object's ownership metadata.
    fn state(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let h3 = Helm3Store::new(self.c.client.clone(), Helm3Driver::Secret, DecodeLimits::default());
        let listing = self.c.rt.block_on(h3.list(Some(&self.apps), None)).unwrap();
        assert!(listing.errors.is_empty(), "{:?}", listing.errors);
        for r in listing.records {
            let mut labels = r.object.labels.clone();
            labels.remove("createdAt");
            labels.remove("modifiedAt");
            let body = String::from_utf8(codec::helm3_json(&r.release).unwrap()).unwrap();
            out.insert(format!("v3/{}", r.object.name), self.neutral(&format!("{labels:?} {body}")));
        }
        let h2 = Helm2Store::new(self.c.client.clone(), &self.tiller, Helm2Storage::Auto, DecodeLimits::default());
        for r in self.c.rt.block_on(h2.list(None)).unwrap().records {
            out.insert(format!("v2/{}", r.object.name), r.storage_name().to_string());
        }
        let api: kube::Api<k8s_openapi::api::core::v1::ServiceAccount> = kube::Api::namespaced(self.c.client.clone(), &self.apps);
        let sa = self.c.rt.block_on(api.get("shop")).unwrap();
        out.insert("live/sa/shop".into(), self.neutral(&format!("{:?} {:?}", sa.metadata.labels, sa.metadata.annotations)));
        out
    }

    /// No Helm 2 record is gone unless its Helm 3 copy is there and equal to the undisturbed result.
    #[track_caller]
    fn assert_nothing_lost(&self, state: &BTreeMap<String, String>, expected: &BTreeMap<String, String>, what: &str) {
        for rec in ["shop.v1", "shop.v2", "shop.v3", "shop.v4", "cart.v1", "cart.v2"] {
            if !state.contains_key(&format!("v2/{rec}")) {
                let v3 = format!("v3/sh.helm.release.v1.{rec}");
                assert_eq!(state.get(&v3), expected.get(&v3), "{what}: Helm 2 record {rec} deleted without its verified Helm 3 copy");
            }
        }
    }
}

fn both(o: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A write the undisturbed run made: verb, resource, namespace role (`apps`/`tiller`), object name. A
/// create names no object in its URL: it is found as the n-th create there (`--concurrency 1` makes the
/// order fixed) and its name is the record read back right after it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Write {
    verb: String,
    resource: String,
    role: &'static str,
    name: String,
    nth: Option<u64>,
}

/// The undisturbed run: its end state and its writes, in order.
fn undisturbed() -> (BTreeMap<String, String>, Vec<Write>) {
    let s = Scenario::new();
    s.emu().clear_request_log();
    let out = s.migrate();
    assert!(out.status.success(), "{}", both(&out));
    let log = s.emu().request_log();
    let mut creates = 0;
    let mut writes: Vec<Write> = Vec::new();
    let mut log = log;
    for i in 0..log.len() {
        let r = &log[i];
        if !(WRITE_VERBS.contains(&r.verb.as_str()) && (r.namespace == s.apps || r.namespace == s.tiller)) {
            continue;
        }
        let mut w = Write {
            verb: r.verb.clone(),
            resource: r.resource.clone(),
            role: if r.namespace == s.apps { "apps" } else { "tiller" },
            name: r.name.clone(),
            nth: None,
        };
        if r.verb == "create" {
            creates += 1;
            w.nth = Some(creates);
            w.name = log[i + 1..]
                .iter()
                .find(|g| g.verb == "get" && g.resource == r.resource && g.namespace == r.namespace)
                .unwrap()
                .name
                .clone();
            log[i].name = w.name.clone();
        }
        writes.push(w);
    }
    // 6 records created, 1 object stamped, 6 Helm 2 records deleted; nothing else.
    assert_eq!(writes.iter().filter(|w| w.verb == "create").count(), 6, "{writes:#?}");
    assert_eq!(writes.iter().filter(|w| w.verb == "patch").count(), 1, "{writes:#?}");
    assert_eq!(writes.iter().filter(|w| w.verb == "delete").count(), 6, "{writes:#?}");
    assert_eq!(writes.len(), 13, "{writes:#?}");
    // Order: each Helm 2 record is deleted only after its Helm 3 copy was read back (verified) and after
    // every revision of its release was written.
    for (i, r) in log.iter().enumerate() {
        if r.verb == "delete" && r.namespace == s.tiller {
            let (release, rev) = r.name.rsplit_once(".v").unwrap();
            let copy = format!("sh.helm.release.v1.{release}.v{rev}");
            assert!(
                log[..i].iter().any(|e| e.verb == "get" && e.name == copy && e.status == 200),
                "{} deleted before {copy} was read back",
                r.name
            );
            let last_create =
                log.iter().rposition(|e| e.verb == "create" && e.name.starts_with(&format!("sh.helm.release.v1.{release}.v"))).unwrap();
            assert!(last_create < i, "{} deleted before all of {release} was written", r.name);
        }
    }
    let state = s.state();
    assert_eq!(state.keys().filter(|k| k.starts_with("v3/")).count(), 6);
    assert_eq!(state.keys().filter(|k| k.starts_with("v2/")).count(), 0);
    assert!(state["live/sa/shop"].contains("meta.helm.sh/release-name"), "{state:?}");
    assert_eq!(kubectl_werf::storage::backup::read_dir(&s.backup).unwrap().len(), 6);
    (state, writes)
}

enum Mode {
    Status(u16),
    Drop,
    /// The create lands (as if the first attempt reached the server) and its answer is lost: the
    /// connection drops unanswered.
    LandedButLost,
}

/// The outcome of the landed create a `LandedButLost` fault makes before it drops the connection.
type Landed = Arc<Mutex<Option<Result<(), String>>>>;

/// The fault for one write, and (for `LandedButLost`) where its landed create reports back.
fn fault_for(s: &Scenario, w: &Write, mode: &Mode) -> Option<(Vec<Fault>, Option<Landed>)> {
    let ns = if w.role == "apps" { &s.apps } else { &s.tiller };
    let base = match w.nth {
        Some(n) => Fault::on(&w.verb, &w.resource).namespace(ns).nth(n),
        None => Fault::on(&w.verb, &w.resource).namespace(ns).name(&w.name),
    };
    Some(match mode {
        Mode::Status(code) => (vec![base.respond(*code)], None),
        Mode::Drop => (vec![base.drop_connection()], None),
        Mode::LandedButLost => {
            if w.verb != "create" || w.resource != "secrets" {
                return None;
            }
            // Create exactly the record the migration will write, then drop the connection unanswered.
            let (release, rev) = w.name.strip_prefix("sh.helm.release.v1.").unwrap().rsplit_once(".v").unwrap();
            let mut h2 = synthetic(&format!("{release}.v{rev}"));
            h2.namespace = s.apps.clone();
            let conv = kubectl_werf::release::convert::convert(&h2, &Default::default()).unwrap();
            let store = Helm3Store::new(s.c.client.clone(), Helm3Driver::Secret, DecodeLimits::default());
            let obj = store.object_for(&conv.release, codec::LabelStamp::Created(1)).unwrap().to_json();
            let landed: Landed = Default::default();
            let report = landed.clone();
            let apply = base.clone().mutate(move |h| {
                *report.lock().unwrap() = Some(h.create(obj.clone()).map(|_| ()).map_err(|e| format!("{e:?}")));
            });
            (vec![apply, base.drop_connection()], Some(landed))
        }
    })
}

/// Whether the faulted run met its fault: the log holds the write it targets, answered with the fault.
fn fired(s: &Scenario, w: &Write, mode: &Mode, log: &[LoggedRequest]) -> bool {
    let ns = if w.role == "apps" { &s.apps } else { &s.tiller };
    let mut alike =
        log.iter().filter(|r| r.verb == w.verb && r.resource == w.resource && r.namespace == *ns && (w.nth.is_some() || r.name == w.name));
    let hit = match w.nth {
        Some(n) => alike.nth(n as usize - 1),
        None => alike.next(),
    };
    hit.is_some_and(|r| match mode {
        Mode::Status(code) => !r.dropped && r.status == *code,
        Mode::Drop | Mode::LandedButLost => r.dropped,
    })
}

/// The release a write belongs to: `sh.helm.release.v1.shop.v2` and `shop.v2` are shop's records; the one
/// live object (ServiceAccount `shop`) is stamped for shop.
fn release_of(w: &Write) -> &str {
    let record = w.name.strip_prefix("sh.helm.release.v1.").unwrap_or(&w.name);
    record.rsplit_once(".v").map_or(record, |(release, _)| release)
}

fn run_faults(mode: Mode) {
    let (expected, writes) = undisturbed();
    let mut injected = 0;
    for (i, w) in writes.iter().enumerate() {
        let s = Scenario::new();
        let Some((faults, landed)) = fault_for(&s, w, &mode) else { continue };
        for f in faults {
            s.emu().inject(f);
        }
        s.emu().clear_request_log();
        let first = s.migrate();
        let what = format!("{w:?}");
        assert!(fired(&s, w, &mode, &s.emu().request_log()), "{what}: the fault never met its write:\n{}", both(&first));
        injected += 1;
        if let Some(landed) = landed {
            let outcome = landed.lock().unwrap().clone();
            assert_eq!(outcome, Some(Ok(())), "{what}: the landed create was not made");
        }
        let state = s.state();
        s.assert_nothing_lost(&state, &expected, &what);
        match mode {
            Mode::Status(403) => {
                // Refused: the release fails by name, with a non-zero exit, and none of its Helm 2 records
                // that the undisturbed run deletes at or after the refused write is gone.
                let release = release_of(w);
                let text = both(&first);
                assert_eq!(first.status.code(), Some(1), "{what}: a refused write fails the run:\n{text}");
                assert!(
                    text.lines().any(|l| l.starts_with(&format!("{release}: FAILED"))) && text.contains("forbidden"),
                    "{what}: the failed release {release} is not named with the refusal:\n{text}"
                );
                for later in &writes[i..] {
                    if later.verb == "delete" && release_of(later) == release {
                        assert!(state.contains_key(&format!("v2/{}", later.name)), "{what}: Helm 2 record {} deleted:\n{text}", later.name);
                    }
                }
            }
            _ => assert!(first.status.success(), "{what}: a single failed request is retried safely:\n{}", both(&first)),
        }
        s.emu().clear_faults();
        let second = s.migrate();
        assert!(second.status.success(), "{what}: the re-run finishes:\n{}\nfirst run:\n{}", both(&second), both(&first));
        assert_eq!(s.state(), expected, "{what}: end state after re-run");
    }
    let expected_faults = match mode {
        Mode::LandedButLost => writes.iter().filter(|w| w.verb == "create" && w.resource == "secrets").count(),
        _ => writes.len(),
    };
    assert_eq!(injected, expected_faults, "every write of the undisturbed run was faulted once");
}

#[test]
fn each_write_failing_with_a_server_error_is_retried_and_ends_the_same_emulator_only() {
    run_faults(Mode::Status(500));
}

#[test]
fn each_write_losing_its_connection_is_retried_and_ends_the_same_emulator_only() {
    run_faults(Mode::Drop);
}

#[test]
fn each_write_refused_fails_its_release_and_a_rerun_finishes_emulator_only() {
    run_faults(Mode::Status(403));
}

#[test]
fn a_create_that_landed_but_whose_answer_was_lost_is_accepted_emulator_only() {
    run_faults(Mode::LandedButLost);
}

/// Wait until `pred` holds on the request log, or panic.
fn wait_for(s: &Scenario, what: &str, pred: impl Fn(&[LoggedRequest]) -> bool) {
    let start = Instant::now();
    while !pred(&s.emu().request_log()) {
        assert!(start.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count(log: &[LoggedRequest], verb: &str, ns: &str) -> usize {
    // Release records only (the scenario's own setup creates a ServiceAccount).
    log.iter().filter(|r| r.verb == verb && r.namespace == ns && r.resource != "serviceaccounts" && (200..300).contains(&r.status)).count()
}

#[test]
fn killed_mid_run_then_rerun_ends_the_same_emulator_only() {
    let (expected, _) = undisturbed();
    // Killed while writing Helm 3 records, and again while deleting Helm 2 records.
    for (verb, at) in [("create", 3usize), ("delete", 2)] {
        let s = Scenario::new();
        let ns = if verb == "create" { s.apps.clone() } else { s.tiller.clone() };
        s.emu().inject(Fault::on(verb, "*").namespace(&ns).always().delay(Duration::from_millis(300)));
        let mut child = s.c.werf().args(s.args()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        wait_for(&s, &format!("{at} {verb}s"), |log| count(log, verb, &ns) >= at);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(800)); // let a request the server already had settle
        let state = s.state();
        s.assert_nothing_lost(&state, &expected, &format!("killed during {verb}"));
        assert_ne!(state, expected, "killed during {verb}: the run was really cut short");
        s.emu().clear_faults();
        let again = s.migrate();
        assert!(again.status.success(), "re-run after kill: {}", both(&again));
        assert_eq!(s.state(), expected, "killed during {verb}: end state after re-run");
    }
}

#[test]
fn sigterm_stops_new_writes_and_says_how_to_resume_emulator_only() {
    let (expected, _) = undisturbed();
    let s = Scenario::new();
    s.emu().inject(Fault::on("create", "*").namespace(&s.apps).always().delay(Duration::from_millis(300)));
    let child = s.c.werf().args(s.args()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for(&s, "a first create", |log| count(log, "create", &s.apps) >= 1);
    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let text = both(&out);
    assert_eq!(out.status.code(), Some(1), "{text} {:?}", out.status);
    assert!(text.contains("interrupted") && text.contains("run the same command again"), "{text}");
    // Settled: every create that was sent finished; fewer than all were made; nothing was deleted.
    let state = s.state();
    s.assert_nothing_lost(&state, &expected, "SIGTERM");
    assert_eq!(state.keys().filter(|k| k.starts_with("v2/")).count(), 6, "no deletion after the stop: {state:?}");
    s.emu().clear_faults();
    let again = s.migrate();
    assert!(again.status.success(), "{}", both(&again));
    assert_eq!(s.state(), expected);
}
