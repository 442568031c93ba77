//! `adopt` and `annotate` under faults and interruption.
//!
//! Fault sweep: an undisturbed run of each verb is recorded (the emulator's request log); then, for EVERY
//! request of that log, a fresh scenario fails exactly that request with 429 + Retry-After, 500, 503, a
//! dropped connection and a slow answer, and writes (patches) also with 409 Conflict and with a write that
//! lands while its answer is lost. Reads must be retried and the run must end exactly like the undisturbed one;
//! a write must never be sent again blindly (the next request about that object is a read; a throttled one,
//! 429, was not executed and goes again as it is), the run either
//! decides from that read or names the object and exits non-zero, and running the same command again ends in
//! exactly the undisturbed end state.
//!
//! Interruption: SIGTERM and SIGINT while patches are slow: the writes already sent settle, no new one
//! starts, every object is either fully patched or untouched, the exit code is 1 and the message gives the
//! command that resumes; running it ends in the undisturbed end state.
//!
//! These need the emulator (faults, request log); against a real cluster they are skipped.

mod common;

use std::collections::BTreeMap;
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Emulator, TestCluster, fixture, run};
use kube_emulator::{Fault, LoggedRequest, PatchType};
use kubectl_werf::ownership::{adoption_patch, metadata_patch};
use kubectl_werf::storage::Helm3Driver;
use kubectl_werf::storage::Helm3Store;
use kubectl_werf::storage::codec::DecodeLimits;
use serde_json::{Value, json};

/// The `Retry-After` a 429 carries.
const RETRY_AFTER_SECONDS: u64 = 1;
/// A slow answer: well below any request timeout.
const SLOW: Duration = Duration::from_millis(1500);
/// Scenarios run at once per sweep (each has its own emulator; most of their time is spent waiting).
const WORKERS: usize = 4;

// ---- the two verbs ------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    /// Four objects to adopt (a ConfigMap, a partially owned ConfigMap, a Deployment, a cluster-scoped
    /// ClusterRole), one already owned and one missing; `--concurrency 1`.
    Adopt,
    /// The shop release (two ServiceAccounts, Services and Deployments, a Widget): add and remove an annotation
    /// and a label on every object.
    Annotate,
    /// The shop release grown by 24 ConfigMaps, more than annotate patches at once.
    AnnotateWide,
}

const ADD_ANNOTATION: (&str, &str) = ("team.example.com/owner", "payments");
const ADD_LABEL: (&str, &str) = ("tier", "web");
const REMOVE_ANNOTATION: &str = "example.com/obsolete";
const REMOVE_LABEL: &str = "helm.sh/chart";
const WIDE_CONFIGMAPS: usize = 24;

/// One object whose metadata the scenario compares: emulator resource name, namespace ("" when cluster-scoped).
#[derive(Debug, Clone)]
struct Obj {
    resource: String,
    namespace: String,
    name: String,
}

impl Obj {
    fn key(&self) -> String {
        format!("{}/{}", self.resource, self.name)
    }
}

/// A verb, and whether the server offers aggregated discovery (when not, the verb discovers the plain way:
/// `/api`, `/apis`, then one request per group version).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Setup {
    verb: Verb,
    plain_discovery: bool,
}

impl Setup {
    fn of(verb: Verb) -> Setup {
        Setup { verb, plain_discovery: false }
    }

    fn name(&self) -> String {
        if self.plain_discovery { format!("{:?} (plain discovery)", self.verb) } else { format!("{:?}", self.verb) }
    }
}

struct Scenario {
    c: TestCluster,
    verb: Verb,
    ns: String,
    objects: Vec<Obj>,
}

fn store(c: &TestCluster) -> Helm3Store {
    Helm3Store::new(c.client.clone(), Helm3Driver::Secret, DecodeLimits::default())
}

fn configmap(ns: &str, name: &str, labels: Value, annotations: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": labels, "annotations": annotations},
        "data": {"key": format!("value of {name}")}
    })
}

impl Scenario {
    /// A fresh emulator seeded for `setup` (the tests using it are *emulator_only*).
    fn new(setup: Setup) -> Scenario {
        let verb = setup.verb;
        let c = TestCluster::start();
        c.emulator_for("fault injection, the request log and signals need the emulator");
        let ns = c.namespace(match verb {
            Verb::Adopt => "adopt-faults",
            Verb::Annotate | Verb::AnnotateWide => "annotate-faults",
        });
        let mut s = Scenario { c, verb, ns, objects: Vec::new() };
        match verb {
            Verb::Adopt => s.seed_adopt(),
            Verb::Annotate | Verb::AnnotateWide => s.seed_annotate(),
        }
        if setup.plain_discovery {
            // Like a server before aggregated discovery: the aggregated document for `/api` is not acceptable.
            s.emu().inject(Fault::on_path("/api").nth(1).respond(406));
        }
        s
    }

    fn emu(&self) -> &Emulator {
        self.c.emulator_for("fault injection, the request log and signals need the emulator")
    }

    fn seed_adopt(&mut self) {
        let ns = self.ns.clone();
        let store = self.emu().store();
        let mine = (
            json!({"app.kubernetes.io/managed-by": "Helm"}),
            json!({"meta.helm.sh/release-name": "app", "meta.helm.sh/release-namespace": ns}),
        );
        for cm in [
            configmap(&ns, "settings", json!({"app": "shop"}), json!({"keep": "me"})),
            configmap(&ns, "half", json!({"app.kubernetes.io/managed-by": "Helm"}), json!({"meta.helm.sh/release-name": ""})),
            configmap(&ns, "mine", mine.0, mine.1),
        ] {
            store.create(cm).unwrap();
        }
        store
            .create(json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": ns, "labels": {"app": "web"}},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}
                    }
                }
            }))
            .unwrap();
        store
            .create(json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": format!("{ns}-reader")},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]
            }))
            .unwrap();
        let obj =
            |resource: &str, namespace: &str, name: &str| Obj { resource: resource.into(), namespace: namespace.into(), name: name.into() };
        self.objects = vec![
            obj("configmaps", &ns, "settings"),
            obj("configmaps", &ns, "half"),
            obj("configmaps", &ns, "mine"),
            obj("deployments", &ns, "web"),
            obj("clusterroles", "", &format!("{ns}-reader")),
        ];
    }

    fn seed_annotate(&mut self) {
        let ns = self.ns.clone();
        self.c.seed_file(&fixture("helm3/fx-helm3-shop-secrets.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
        let history = self.c.rt.block_on(store(&self.c).history(&ns, "shop")).unwrap();
        let mut release = history.records.last().unwrap().release.clone();
        if self.verb == Verb::AnnotateWide {
            release.version += 1;
            release.namespace = ns.clone();
            for i in 0..WIDE_CONFIGMAPS {
                release.manifest.push_str(&format!(
                    "---\n# Source: shop/templates/extra.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra-{i:02}\n  labels:\n    {REMOVE_LABEL}: shop-1.4.2\ndata:\n  n: \"{i}\"\n"
                ));
            }
            self.c.rt.block_on(store(&self.c).create(&release)).unwrap();
        }
        // The manifest holds a Widget: its CRD comes first, as on any cluster.
        self.c.install_widget_crd();
        let store = self.emu().store();
        for obj in kubectl_werf::manifest::parse_objects(&release.manifest, true) {
            let obj = obj.unwrap();
            let mut value = obj.object.clone();
            value["metadata"]["namespace"] = Value::String(ns.clone());
            // Something to remove: an annotation on every object (the label comes with the chart).
            value["metadata"]["annotations"][REMOVE_ANNOTATION] = Value::String("yes".into());
            let created = store.create(value).unwrap_or_else(|e| panic!("{}/{}: {e:?}", obj.kind, obj.name));
            let plural = kube_emulator_plural(&created);
            self.objects.push(Obj { resource: plural, namespace: ns.clone(), name: obj.name.clone() });
        }
        assert!(self.objects.len() >= 7, "{:?}", self.objects);
    }

    fn args(&self) -> Vec<String> {
        let ns = self.ns.as_str();
        match self.verb {
            Verb::Adopt => {
                let role = format!("clusterrole/{ns}-reader");
                [
                    "adopt",
                    "cm/settings",
                    "deploy/web",
                    "cm/half",
                    "cm/mine",
                    "cm/ghost",
                    &role,
                    "--release",
                    "app",
                    "-n",
                    ns,
                    "--yes",
                    "--concurrency",
                    "1",
                    "-o",
                    "json",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect()
            }
            Verb::Annotate | Verb::AnnotateWide => [
                "annotate".to_string(),
                "shop".into(),
                "-n".into(),
                ns.into(),
                "--add-annotation".into(),
                format!("{}={}", ADD_ANNOTATION.0, ADD_ANNOTATION.1),
                "--add-label".into(),
                format!("{}={}", ADD_LABEL.0, ADD_LABEL.1),
                "--remove-annotation".into(),
                REMOVE_ANNOTATION.into(),
                "--remove-label".into(),
                REMOVE_LABEL.into(),
                "--yes".into(),
                "-o".into(),
                "json".into(),
            ]
            .into(),
        }
    }

    fn command(&self) -> std::process::Command {
        let mut cmd = self.c.werf();
        cmd.args(self.args());
        cmd
    }

    fn run(&self) -> Ran {
        self.ran(run(&mut self.command()))
    }

    fn ran(&self, out: Output) -> Ran {
        let mut ran = Ran::from(out);
        ran.ns = self.ns.clone();
        ran
    }

    /// What the verb writes to an object, for the emulator to apply itself (a write that landed).
    fn landed_patch(&self) -> Value {
        match self.verb {
            Verb::Adopt => adoption_patch("app", &self.ns, None),
            Verb::Annotate | Verb::AnnotateWide => metadata_patch(
                &BTreeMap::from([(ADD_LABEL.0.to_string(), ADD_LABEL.1.to_string())]),
                &[REMOVE_LABEL.to_string()],
                &BTreeMap::from([(ADD_ANNOTATION.0.to_string(), ADD_ANNOTATION.1.to_string())]),
                &[REMOVE_ANNOTATION.to_string()],
                None,
            ),
        }
    }

    /// Each compared object's labels and annotations (namespace-neutral), or `absent`.
    fn state(&self) -> BTreeMap<String, String> {
        let store = self.emu().store();
        self.objects
            .iter()
            .map(|o| {
                let text = match store.get(&o.resource, &o.namespace, &o.name) {
                    Ok(v) => {
                        format!("labels={:?} annotations={:?}", sorted(&v["metadata"]["labels"]), sorted(&v["metadata"]["annotations"]))
                    }
                    Err(_) => "absent".into(),
                };
                (o.key().replace(&self.ns, "<ns>"), text.replace(&self.ns, "<ns>"))
            })
            .collect()
    }
}

/// The emulator's plural for a stored object (`Deployment` → `deployments`).
fn kube_emulator_plural(obj: &Value) -> String {
    let kind = obj["kind"].as_str().unwrap().to_ascii_lowercase();
    if kind.ends_with('s') { format!("{kind}es") } else { format!("{kind}s") }
}

/// A label or annotation map in a fixed order.
fn sorted(v: &Value) -> BTreeMap<String, String> {
    v.as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect()).unwrap_or_default()
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
    /// The scenario's namespace, neutralised in results.
    ns: String,
}

impl From<Output> for Ran {
    fn from(out: Output) -> Ran {
        Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            ns: String::new(),
        }
    }
}

impl Ran {
    fn text(&self) -> String {
        format!("exit {}\nstdout:\n{}\nstderr:\n{}", self.code, self.stdout, self.stderr)
    }

    fn report(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }

    /// RESOURCE → RESULT of the JSON report (namespace-neutral).
    fn results(&self) -> BTreeMap<String, String> {
        self.results_if_any().unwrap_or_else(|| panic!("no JSON report: {}", self.text()))
    }

    fn results_if_any(&self) -> Option<BTreeMap<String, String>> {
        let report: Value = serde_json::from_str(&self.stdout).ok()?;
        let rows = report.get("objects").or_else(|| report.get("results")).and_then(Value::as_array)?;
        let neutral = |s: &str| if self.ns.is_empty() { s.to_string() } else { s.replace(&self.ns, "<ns>") };
        rows.iter().map(|r| Some((neutral(r["resource"].as_str()?), r["result"].as_str()?.to_string()))).collect()
    }
}

// ---- the undisturbed run and its requests -------------------------------------------------------------------

/// A request of the undisturbed run, as a fault matches it: the `nth` request with the same verb, resource,
/// namespace and name (or, for discovery, the same path). Kept namespace-neutral (`<ns>`); [`Req::concrete`]
/// puts a scenario's namespace in.
#[derive(Debug, Clone)]
struct Req {
    verb: String,
    resource: String,
    namespace: String,
    name: String,
    path: String,
    nth: u64,
}

impl Req {
    fn concrete(&self, ns: &str) -> Req {
        let put = |s: &str| s.replace("<ns>", ns);
        Req { namespace: put(&self.namespace), name: put(&self.name), path: put(&self.path), ..self.clone() }
    }

    fn is_write(&self) -> bool {
        matches!(self.verb.as_str(), "create" | "update" | "patch" | "delete")
    }

    fn same_key(&self, r: &LoggedRequest) -> bool {
        if self.resource.is_empty() {
            r.resource.is_empty() && r.path == self.path && r.verb == self.verb
        } else {
            r.verb == self.verb && r.resource == self.resource && r.namespace == self.namespace && r.name == self.name
        }
    }

    /// Same object, any verb.
    fn same_object(&self, r: &LoggedRequest) -> bool {
        !self.resource.is_empty() && r.resource == self.resource && r.namespace == self.namespace && r.name == self.name
    }

    fn fault(&self) -> Fault {
        let f = if self.resource.is_empty() {
            Fault::on_path(&self.path)
        } else {
            let f = Fault::on(&self.verb, &self.resource).namespace(&self.namespace);
            if self.name.is_empty() { f } else { f.name(&self.name) }
        };
        f.nth(self.nth)
    }

    fn describe(&self) -> String {
        if self.resource.is_empty() {
            format!("{} {} #{}", self.verb, self.path, self.nth)
        } else {
            let ns = if self.namespace.is_empty() { String::new() } else { " in <ns>".into() };
            format!("{} {}/{}{ns} #{}", self.verb, self.resource, self.name, self.nth)
        }
    }

    /// Where the nth matching request sits in `log`.
    fn position(&self, log: &[LoggedRequest]) -> Option<usize> {
        log.iter().enumerate().filter(|(_, r)| self.same_key(r)).nth(self.nth as usize - 1).map(|(i, _)| i)
    }
}

fn requests_of(log: &[LoggedRequest], ns: &str) -> Vec<Req> {
    let mut seen: BTreeMap<(String, String, String, String, String), u64> = BTreeMap::new();
    let neutral = |s: &str| s.replace(ns, "<ns>");
    log.iter()
        .map(|r| {
            let path = if r.resource.is_empty() { neutral(&r.path) } else { String::new() };
            let (namespace, name) = (neutral(&r.namespace), neutral(&r.name));
            let n = seen.entry((r.verb.clone(), r.resource.clone(), namespace.clone(), name.clone(), path.clone())).or_default();
            *n += 1;
            Req { verb: r.verb.clone(), resource: r.resource.clone(), namespace, name, path, nth: *n }
        })
        .collect()
}

struct Baseline {
    ns: String,
    initial: BTreeMap<String, String>,
    code: i32,
    results: BTreeMap<String, String>,
    state: BTreeMap<String, String>,
    log: Vec<LoggedRequest>,
    requests: Vec<Req>,
}

fn undisturbed(setup: Setup) -> Baseline {
    let verb = setup.verb;
    let s = Scenario::new(setup);
    let initial = s.state();
    s.emu().clear_request_log();
    let ran = s.run();
    assert_eq!(ran.code, 0, "undisturbed {verb:?}: {}", ran.text());
    let log = s.emu().request_log();
    let requests = requests_of(&log, &s.ns);
    let state = s.state();
    let results = ran.results();
    let changed = initial.iter().filter(|(k, v)| state[*k] != **v).count();
    let patches = requests.iter().filter(|r| r.verb == "patch").count();
    match verb {
        Verb::Adopt => {
            assert_eq!(changed, 4, "{initial:#?}\n{state:#?}");
            assert_eq!(patches, 4, "{requests:#?}");
            assert_eq!(results.values().filter(|r| *r == "adopted").count(), 4, "{results:?}");
            assert_eq!(results["ConfigMap/mine"], "unchanged");
            assert_eq!(results["ConfigMap/ghost"], "unchanged");
        }
        Verb::Annotate | Verb::AnnotateWide => {
            assert_eq!(changed, s.objects.len(), "{initial:#?}\n{state:#?}");
            assert_eq!(patches, s.objects.len(), "{requests:#?}");
            assert!(results.values().all(|r| r == "patched"), "{results:?}");
        }
    }
    assert!(requests.iter().all(|r| r.verb == "patch" || !r.is_write()), "only patches write: {requests:#?}");
    let discovery = requests.iter().filter(|r| r.resource.is_empty()).count();
    if setup.plain_discovery {
        assert!(discovery > 4, "plain discovery: /api twice, /apis twice and the group versions: {requests:#?}");
    } else {
        assert_eq!(discovery, 2, "aggregated discovery: /api and /apis: {requests:#?}");
    }
    for (k, v) in &state {
        assert!(!v.contains(&s.ns), "{k} not namespace-neutral: {v}");
    }
    Baseline { ns: s.ns.clone(), initial, code: ran.code, results, state, log, requests }
}

// ---- one faulted run ----------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    TooManyRequests,
    Internal,
    Unavailable,
    Dropped,
    Slow,
    Conflict,
    LandedButLost,
}

const READ_KINDS: [Kind; 5] = [Kind::TooManyRequests, Kind::Internal, Kind::Unavailable, Kind::Dropped, Kind::Slow];
const WRITE_KINDS: [Kind; 7] =
    [Kind::TooManyRequests, Kind::Internal, Kind::Unavailable, Kind::Dropped, Kind::Slow, Kind::Conflict, Kind::LandedButLost];

/// How one write-fault scenario ended.
#[derive(Debug, Default)]
struct Tally {
    scenarios: usize,
    faults: usize,
    read_scenarios: usize,
    write_scenarios: usize,
    /// Write faults the first run itself resolved (re-read and decided), ending like the undisturbed run.
    writes_settled_in_run: usize,
    /// Write faults the first run reported by name with a non-zero exit; the re-run finished.
    writes_reported: usize,
    by_kind: BTreeMap<String, usize>,
}

fn inject(s: &Scenario, req: &Req, kind: Kind, fired: Arc<AtomicUsize>) {
    let base = req.fault();
    let counted = {
        let fired = fired.clone();
        move || {
            fired.fetch_add(1, Ordering::SeqCst);
        }
    };
    match kind {
        Kind::LandedButLost => {
            // The patch lands (as if applied by this very request), then the connection drops unanswered.
            let patch = s.landed_patch();
            let (resource, namespace, name) = (req.resource.clone(), req.namespace.clone(), req.name.clone());
            s.emu().inject(base.clone().mutate(move |h| {
                counted();
                if let Err(e) = h.patch(&resource, &namespace, &name, PatchType::Merge, &patch) {
                    eprintln!("the landed write could not be applied to {resource}/{name}: {e:?}");
                }
            }));
            s.emu().inject(base.drop_connection());
        }
        other => {
            s.emu().inject(base.clone().mutate(move |_| counted()));
            s.emu().inject(match other {
                Kind::TooManyRequests => base.respond_retry_after(429, RETRY_AFTER_SECONDS),
                Kind::Internal => base.respond(500),
                Kind::Unavailable => base.respond(503),
                Kind::Dropped => base.drop_connection(),
                Kind::Slow => base.delay(SLOW),
                Kind::Conflict => base.respond(409),
                Kind::LandedButLost => unreachable!(),
            });
        }
    }
}

/// Fail `req` with `kind` in a fresh scenario and check everything the sweep promises. Returns whether a
/// write fault was settled within the run (`Some(true)`), reported for a re-run (`Some(false)`), or a read.
fn faulted(setup: Setup, base: &Baseline, neutral_req: &Req, kind: Kind) -> Option<bool> {
    let what = format!("{}: {kind:?} on {}", setup.name(), neutral_req.describe());
    let s = Scenario::new(setup);
    let req = &neutral_req.concrete(&s.ns);
    let base_req = neutral_req.concrete(&base.ns);
    let fired = Arc::new(AtomicUsize::new(0));
    inject(&s, req, kind, fired.clone());
    s.emu().clear_request_log();
    let first = s.run();
    s.emu().clear_faults();
    let log = s.emu().request_log();
    assert_eq!(fired.load(Ordering::SeqCst), 1, "{what}: the fault fired once\n{}", first.text());
    let state = s.state();
    let count = |log: &[LoggedRequest], req: &Req| log.iter().filter(|r| req.same_key(r)).count();
    let same_as_undisturbed = first.code == base.code && first.results_if_any().as_ref() == Some(&base.results) && state == base.state;

    if !req.is_write() {
        assert!(same_as_undisturbed, "{what}: a read fault is retried and changes nothing\n{}\nstate: {state:#?}", first.text());
        let extra = if kind == Kind::Slow { 0 } else { 1 };
        assert_eq!(count(&log, req), count(&base.log, &base_req) + extra, "{what}: the failed read is tried again, once");
        return None;
    }

    // A write: never sent again blindly. The next request about the object is a read — except after a
    // 429: the server throttled the patch and did not execute it, so the same patch goes again.
    let at = req.position(&log).unwrap_or_else(|| panic!("{what}: the faulted request is not in the log"));
    if kind == Kind::Slow {
        assert!(same_as_undisturbed, "{what}: a slow write changes nothing\n{}", first.text());
        assert_eq!(count(&log, req), count(&base.log, &base_req), "{what}: a slow write is sent once");
    } else if kind == Kind::TooManyRequests {
        let next =
            log[at + 1..].iter().find(|r| req.same_object(r)).unwrap_or_else(|| panic!("{what}: the throttled patch was not sent again"));
        assert_eq!((next.verb.as_str(), next.status), ("patch", 200), "{what}: a throttled patch is sent again as it is: {next:?}");
        assert!(same_as_undisturbed, "{what}: a throttled patch changes nothing\n{}", first.text());
    } else if let Some(next) = log[at + 1..].iter().find(|r| req.same_object(r)) {
        assert_eq!(next.verb, "get", "{what}: after a failed patch the object is read before anything else: {next:?}");
    }
    let settled = if same_as_undisturbed {
        true
    } else {
        // Reported by name, non-zero exit, and the rest of the work done.
        assert_ne!(first.code, 0, "{what}: a write that was not settled makes the run fail\n{}", first.text());
        assert!(first.stdout.contains(&req.name) || first.stderr.contains(&req.name), "{what}: the object is named\n{}", first.text());
        for (k, v) in &state {
            if !k.ends_with(&format!("/{}", neutral_req.name)) {
                assert_eq!(v, &base.state[k], "{what}: {k}: the other objects are done\n{}", first.text());
            }
        }
        false
    };
    let again = s.run();
    assert_eq!(again.code, 0, "{what}: the re-run succeeds\n{}\nfirst run:\n{}", again.text(), first.text());
    assert_eq!(s.state(), base.state, "{what}: end state after the re-run\nfirst run:\n{}", first.text());
    Some(settled)
}

/// Every request of the undisturbed run × every fault kind for it, `WORKERS` at a time. With plain discovery
/// only the discovery requests are failed (503 and a dropped connection; the rest is the same as with
/// aggregated discovery).
fn sweep(setup: Setup) {
    let started = Instant::now();
    let base = undisturbed(setup);
    let mut work: Vec<(Req, Kind)> = Vec::new();
    for req in &base.requests {
        let kinds: &[Kind] = if setup.plain_discovery {
            let refused_aggregated = req.resource.is_empty() && req.path == "/api" && req.nth == 1;
            if !req.resource.is_empty() || refused_aggregated {
                continue;
            }
            &[Kind::Unavailable, Kind::Dropped]
        } else if req.is_write() {
            &WRITE_KINDS
        } else {
            &READ_KINDS
        };
        work.extend(kinds.iter().map(|k| (req.clone(), *k)));
    }
    let mut t = Tally::default();
    let mut failures: Vec<String> = Vec::new();
    let outcomes = common::run_parallel(&work, WORKERS, |(req, kind)| faulted(setup, &base, req, *kind));
    for ((req, kind), outcome) in work.iter().zip(outcomes) {
        match outcome {
            Ok(outcome) => {
                t.scenarios += 1;
                t.faults += 1;
                *t.by_kind.entry(format!("{kind:?}")).or_default() += 1;
                match outcome {
                    None => t.read_scenarios += 1,
                    Some(settled) => {
                        t.write_scenarios += 1;
                        if *kind != Kind::Slow {
                            if settled { t.writes_settled_in_run += 1 } else { t.writes_reported += 1 }
                        }
                    }
                }
            }
            Err(msg) => failures.push(format!("{kind:?} on {}: {msg}", req.describe())),
        }
    }
    eprintln!(
        "{} fault sweep: {} requests in the undisturbed run, {} scenarios, faults injected: {} ({} on reads, {} on writes; \
         write faults settled within the run: {}, reported and finished by the re-run: {}); by kind: {:?}; wall time {:.1?}",
        setup.name(),
        base.requests.len(),
        work.len(),
        t.faults,
        t.read_scenarios,
        t.write_scenarios,
        t.writes_settled_in_run,
        t.writes_reported,
        t.by_kind,
        started.elapsed()
    );
    assert!(failures.is_empty(), "{} of {} scenarios failed:\n{}", failures.len(), work.len(), failures.join("\n\n"));
    assert_eq!(t.scenarios, work.len());
}

#[test]
fn adopt_survives_a_fault_on_every_request_emulator_only() {
    sweep(Setup::of(Verb::Adopt));
}

#[test]
fn annotate_survives_a_fault_on_every_request_emulator_only() {
    sweep(Setup::of(Verb::Annotate));
}

#[test]
fn plain_discovery_survives_a_fault_on_every_request_emulator_only() {
    sweep(Setup { verb: Verb::Adopt, plain_discovery: true });
}

/// A patch that fails every time: re-read before each new attempt, given up after a bounded number, the object
/// named with a non-zero exit, every other object done; the re-run (once the server is well) finishes.
fn write_keeps_failing(verb: Verb, resource: &str, name: &str, code: u16) {
    let base = undisturbed(Setup::of(verb));
    let s = Scenario::new(Setup::of(verb));
    let what = format!("{verb:?}: every patch of {resource}/{name} answers {code}");
    s.emu().inject(Fault::on("patch", resource).namespace(&s.ns).name(name).always().respond(code));
    s.emu().clear_request_log();
    let first = s.run();
    s.emu().clear_faults();
    assert_eq!(first.code, 1, "{what}: {}", first.text());
    let failed: Vec<String> = first.results().into_iter().filter(|(_, r)| r == "failed").map(|(k, _)| k).collect();
    assert_eq!(failed.len(), 1, "{what}: only that object fails: {failed:?}");
    assert!(failed[0].ends_with(&format!("/{name}")), "{what}: named: {failed:?}");
    let state = s.state();
    for (k, v) in &state {
        let expected = if k == &format!("{resource}/{name}") { &base.initial[k] } else { &base.state[k] };
        assert_eq!(v, expected, "{what}: {k}");
    }
    // Bounded, and never blind: every further patch of the object follows a read of it.
    let log = s.emu().request_log();
    let about: Vec<&LoggedRequest> = log.iter().filter(|r| r.resource == resource && r.name == name).collect();
    let patches = about.iter().filter(|r| r.verb == "patch").count();
    assert!((2..=5).contains(&patches), "{what}: tried again a bounded number of times: {about:#?}");
    for pair in about.windows(2) {
        if pair[1].verb == "patch" {
            assert_eq!(pair[0].verb, "get", "{what}: a patch is sent again only after a read: {about:#?}");
        }
    }
    let report = first.report();
    let rows = report.get("objects").or_else(|| report.get("results")).and_then(Value::as_array).unwrap();
    let detail = rows.iter().find(|r| r["result"] == "failed").map(|r| r["detail"].clone()).unwrap_or_default();
    eprintln!("{what}: {patches} attempts, each after a read; reported as failed: {detail}");
    let again = s.run();
    assert_eq!(again.code, 0, "{what}: {}", again.text());
    assert_eq!(s.state(), base.state, "{what}: end state after the re-run");
}

#[test]
fn adopt_reports_a_write_that_keeps_failing_and_does_the_rest_emulator_only() {
    write_keeps_failing(Verb::Adopt, "deployments", "web", 503);
}

#[test]
fn annotate_reports_a_write_that_keeps_failing_and_does_the_rest_emulator_only() {
    write_keeps_failing(Verb::Annotate, "deployments", "shop", 500);
}

// ---- interruption -------------------------------------------------------------------------------------------

fn interrupted(verb: Verb, signal: &str) {
    let base = undisturbed(Setup::of(verb));
    let s = Scenario::new(Setup::of(verb));
    // Every patch is slow; `arrived` counts the patches the server has started on.
    let arrived = Arc::new(AtomicUsize::new(0));
    let counter = arrived.clone();
    s.emu().inject(Fault::on("patch", "*").always().mutate(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    }));
    s.emu().inject(Fault::on("patch", "*").always().delay(Duration::from_millis(1000)));
    let child = s.command().stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let start = Instant::now();
    while arrived.load(Ordering::SeqCst) == 0 {
        assert!(start.elapsed() < Duration::from_secs(60), "no patch arrived");
        std::thread::sleep(Duration::from_millis(5));
    }
    // The verb listens for signals before its first patch; a moment more makes sure the listener runs.
    std::thread::sleep(Duration::from_millis(100));
    let status = std::process::Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let ran = s.ran(child.wait_with_output().unwrap());
    s.emu().clear_faults();
    let what = format!("{verb:?} interrupted by SIG{signal}");
    assert_eq!(ran.code, 1, "{what}: {}", ran.text());
    let resume = format!("Run the same command again to finish: kubectl werf {}", s.args().join(" "));
    assert!(ran.stderr.contains("interrupted") && ran.stderr.contains(&resume), "{what}: says how to resume\n{}", ran.text());
    let report = ran.report();
    assert_eq!(report["interrupted"], true, "{what}: {}", ran.text());

    // No half state: every object is untouched or fully done, and the report says which.
    let state = s.state();
    let (mut done, mut untouched) = (0, 0);
    for (k, v) in &state {
        if base.initial[k] == base.state[k] {
            assert_eq!(v, &base.initial[k], "{what}: {k} needs nothing and got nothing");
        } else if *v == base.state[k] {
            done += 1;
        } else {
            assert_eq!(v, &base.initial[k], "{what}: {k} is half done");
            untouched += 1;
        }
    }
    let results = ran.results();
    let words = |w: &str| results.values().filter(|r| *r == w).count();
    let patched_word = if verb == Verb::Adopt { "adopted" } else { "patched" };
    assert!(done >= 1, "{what}: the write in flight settled\n{}", ran.text());
    assert!(untouched >= 1, "{what}: no new write started after the signal\n{}", ran.text());
    assert_eq!(words(patched_word), done, "{what}: {results:?}");
    assert_eq!(words("interrupted"), untouched, "{what}: {results:?}");
    // Patches that reached the server all finished: each arrival is a done object.
    assert_eq!(arrived.load(Ordering::SeqCst), done, "{what}");
    eprintln!("{what}: {done} object(s) done, {untouched} untouched, exit {}", ran.code);

    let again = s.run();
    assert_eq!(again.code, 0, "{what}: the resumed run succeeds\n{}", again.text());
    assert_eq!(s.state(), base.state, "{what}: end state after the resumed run");
}

#[test]
fn adopt_stops_cleanly_on_sigterm_and_sigint_emulator_only() {
    interrupted(Verb::Adopt, "TERM");
    interrupted(Verb::Adopt, "INT");
}

#[test]
fn annotate_stops_cleanly_on_sigterm_and_sigint_emulator_only() {
    interrupted(Verb::AnnotateWide, "TERM");
    interrupted(Verb::AnnotateWide, "INT");
}

/// The one settled patch (`live::objects::patch_settled`) on its own. A 409 (someone changed the object
/// between the read and the patch) reads the object again and decides afresh on the other writer's change,
/// which survives. A patch that landed with its answer lost is recognised on the read after it: reported as
/// patched, with the lost answer named, and not sent again.
#[test]
fn settled_patch_decides_again_after_a_conflict_and_a_lost_answer_emulator_only() {
    use kube::ResourceExt;
    use kubectl_werf::live::discovery;
    use kubectl_werf::live::objects::{self, PatchDecision, PatchSettled, PatchTrail};
    use kubectl_werf::stop::StopSignal;

    let c = TestCluster::start();
    let emu = c.emulator_for("injects a concurrent write and a lost answer into one patch each");
    let ns = c.namespace("patch-settled");
    c.create_object(configmap(&ns, "race", json!({}), json!({})));
    c.create_object(configmap(&ns, "lost", json!({}), json!({})));
    let catalog = c.rt.block_on(discovery::load(&c.client)).unwrap();
    let (res, _) = catalog.resolve_ref("cm/race").unwrap();
    let mine = json!({"metadata": {"labels": {"mine": "yes"}}});
    let settle = |name: &str, seen: &mut Vec<Option<String>>| {
        c.rt.block_on(objects::patch_settled(&c.client, res, Some(&ns), name, None, &StopSignal::never(), |obj| {
            seen.push(obj.labels().get("other").cloned());
            if obj.labels().contains_key("mine") { PatchDecision::Nothing } else { PatchDecision::Patch(mine.clone()) }
        }))
        .unwrap()
    };
    let patches = |name: &str| -> Vec<u16> {
        emu.request_log().into_iter().filter(|q| q.verb == "patch" && q.name == name).map(|q| q.status).collect()
    };

    let store = emu.store();
    let (s, n) = (store.clone(), ns.clone());
    emu.inject(Fault::on("patch", "configmaps").name("race").nth(1).mutate(move |_| {
        s.patch("configmaps", &n, "race", PatchType::Merge, &json!({"metadata": {"labels": {"other": "writer"}}})).unwrap();
    }));
    let mut seen = Vec::new();
    let settled = settle("race", &mut seen);
    let PatchSettled::Patched(obj, trail) = settled else { panic!("{settled:?}") };
    assert_eq!(trail, PatchTrail { conflicts: 1, lost: None });
    assert_eq!(seen, [None, Some("writer".to_string())], "decided again on the object as the other writer left it");
    assert_eq!((obj.labels()["other"].as_str(), obj.labels()["mine"].as_str()), ("writer", "yes"), "nothing overwritten");
    assert_eq!(patches("race"), [409, 200]);

    let (s, n, landed) = (store.clone(), ns.clone(), mine.clone());
    let lost = Fault::on("patch", "configmaps").name("lost").nth(1);
    emu.inject(lost.clone().mutate(move |_| {
        s.patch("configmaps", &n, "lost", PatchType::Merge, &landed).unwrap();
    }));
    emu.inject(lost.drop_connection());
    let mut seen = Vec::new();
    let settled = settle("lost", &mut seen);
    let PatchSettled::Patched(obj, trail) = settled else { panic!("{settled:?}") };
    assert_eq!(trail.conflicts, 0);
    assert!(trail.lost.is_some(), "the lost answer is named: {trail:?}");
    assert_eq!(seen.len(), 2, "decided on the first read and on the read after the lost answer");
    assert_eq!(obj.labels()["mine"], "yes");
    assert_eq!(patches("lost").len(), 1, "a patch that landed unseen is not sent again");
}
