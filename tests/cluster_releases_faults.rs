//! The `releases` verbs under faults. Each scripted run is made once undisturbed; then, for every request
//! that run made (taken from the emulator's request log), a fresh cluster fails exactly that request —
//! 429 with Retry-After, 500, 503, a dropped connection, a slow answer, and for writes also 409 Conflict
//! and a write that landed while its answer was lost. Read verbs must print exactly what the undisturbed
//! run printed; write verbs must never lose a record (whatever was deleted or replaced is in the backup
//! directory, as `releases restore` reads it), never leave a record half-changed, name what they could
//! not do, and a re-run must end exactly where the undisturbed run ended. A failed write is read again
//! before it is sent again, unless it was throttled (429: not executed, sent again as it is).
//! SIGTERM/SIGINT during `unlock` and `prune`: writes in flight settle, no new ones start, the command to
//! re-run is printed, exit 1 (as migrate2to3), and the re-run converges.
//! These need the emulator (faults, request log); against a real cluster they are skipped.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{TestCluster, fixture, run};
use kube_emulator::{Emulator, Fault, LoggedRequest};
use kubectl_werf::storage::backup;
use kubectl_werf::storage::codec::{self, DecodeLimits};
use kubectl_werf::storage::objects::{NewObject, ObjectKind};
use serde_json::{Value, json};

/// Fixed names: every scenario has its own emulator, so outputs of different runs compare byte for byte.
const APPS: &str = "kw-apps";
const OTHER: &str = "kw-other";
const TILLER: &str = "kw-tiller";
const NAMESPACES: [&str; 3] = [APPS, OTHER, TILLER];

/// A slow answer: well below any request timeout, long enough to reorder concurrent requests.
const SLOW: Duration = Duration::from_millis(1500);
/// Scenarios run at once (each has its own emulator and child process).
const PARALLEL: usize = 6;

// ---------------------------------------------------------------------------------------------------
// The cluster

/// The objects every scenario starts with, built once: Helm 3 `shop` (4 revisions), `stuck` (latest
/// pending-upgrade) as Secrets and `cart` as ConfigMaps in APPS; `long` (8 revisions) in OTHER; Helm 2
/// `shop` (4 revisions), `stuck` (pending) and `gone` in Tiller's namespace TILLER.
fn seed_objects() -> &'static Vec<Value> {
    static SEED: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    SEED.get_or_init(|| {
        let mut out: Vec<Value> =
            NAMESPACES.iter().map(|ns| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})).collect();
        let files = [
            ("helm3/fx-helm3-shop-secrets.yaml", APPS),
            ("helm3/fx-helm3-stuck-secrets.yaml", APPS),
            ("helm3/fx-helm3-cart-configmaps.yaml", APPS),
            ("helm2-synthetic/kube-system-shop-4revs-configmaps.yaml", TILLER),
            ("helm2-synthetic/kube-system-stuck-and-gone-configmaps.yaml", TILLER),
        ];
        for (file, ns) in files {
            let text = std::fs::read_to_string(fixture(file)).unwrap();
            for obj in kubectl_werf::manifest::parse_objects(&text, true) {
                let mut v = obj.unwrap().object;
                kubectl_werf::manifest::strip_server_metadata(&mut v);
                v["metadata"]["namespace"] = ns.into();
                out.push(v);
            }
        }
        // `long`: revision 2 of shop, eight times; the last one deployed.
        let shop2 = out.iter().find(|v| v["metadata"]["name"] == "sh.helm.release.v1.shop.v2").unwrap();
        let shop2 = backup::record_from_value(shop2).unwrap();
        let base = codec::decode_helm3(shop2.payload.as_bytes(), &DecodeLimits::default()).unwrap();
        for version in 1..=8 {
            let mut r = base.clone();
            r.name = "long".into();
            r.namespace = OTHER.into();
            r.version = version;
            r.info.status = if version == 8 { "deployed" } else { "superseded" }.into();
            let labels = codec::helm3_labels(&r, codec::LabelStamp::Created(1_790_000_000 + version));
            let obj = NewObject {
                kind: ObjectKind::Secret,
                namespace: OTHER.into(),
                name: codec::helm3_object_name("long", version),
                labels,
                secret_type: Some(codec::HELM3_SECRET_TYPE.into()),
                payload: codec::encode_helm3(&r).unwrap(),
            };
            out.push(obj.to_json());
        }
        out
    })
}

struct Scenario {
    c: TestCluster,
    work: tempfile::TempDir,
}

impl Scenario {
    /// A fresh emulator holding the seed (the tests using it are *emulator_only*).
    fn new() -> Scenario {
        let c = TestCluster::start();
        let store = c.emulator_for("fault injection and the request log").store();
        for v in seed_objects() {
            store.create(v.clone()).unwrap();
        }
        Scenario { c, work: tempfile::tempdir().unwrap() }
    }

    fn emu(&self) -> &Emulator {
        self.c.emulator_for("fault injection and the request log")
    }

    fn backup_dir(&self) -> PathBuf {
        self.work.path().join("backup")
    }

    fn data_dir(&self) -> PathBuf {
        self.work.path().join("dir")
    }

    fn run(&self, script: &Script) -> Output {
        run(&mut self.command(script))
    }

    fn command(&self, script: &Script) -> std::process::Command {
        let mut cmd = self.c.werf();
        for a in &script.args {
            match *a {
                "@B" => cmd.arg(self.backup_dir()),
                "@D" => cmd.arg(self.data_dir()),
                a => cmd.arg(a),
            };
        }
        for (k, v) in &script.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Every release record in the scenario's namespaces, decoded (see [`Rec`]).
    fn state(&self) -> State {
        let store = self.emu().store();
        let mut out = BTreeMap::new();
        for ns in NAMESPACES {
            for resource in ["secrets", "configmaps"] {
                for v in store.list(resource, Some(ns), None).unwrap() {
                    let Ok(obj) = backup::record_from_value(&v) else { continue };
                    out.insert(key_of(&obj), Rec::new(obj, v));
                }
            }
        }
        out
    }

    /// Text written to the tree of `dir` (file name → content), for comparing exports.
    fn files(&self, dir: &Path) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd {
                let p = e.unwrap().path();
                out.insert(p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
        out
    }

    /// Replace the scenario's own paths, so outputs of different scenarios compare.
    fn neutral(&self, s: &[u8]) -> String {
        String::from_utf8_lossy(s).replace(&self.work.path().display().to_string(), "<work>")
    }
}

fn key_of(o: &NewObject) -> String {
    format!("{}/{}/{}", o.namespace, o.kind.resource(), o.name)
}

/// A record as stored (for backup comparisons) and its meaning: labels without the write stamps, and
/// the decoded release (Helm 3: JSON value; Helm 2: the protobuf message).
#[derive(Clone, Debug)]
struct Rec {
    obj: NewObject,
    raw: Value,
    meaning: Arc<str>,
}

impl Rec {
    fn new(obj: NewObject, raw: Value) -> Rec {
        let limits = DecodeLimits::default();
        let mut labels = obj.labels.clone();
        for stamp in ["createdAt", "modifiedAt", "CREATED_AT", "MODIFIED_AT"] {
            labels.remove(stamp);
        }
        let helm2 = obj.labels.get("OWNER").is_some_and(|o| o == "TILLER");
        // Decoding is the slow part of a scenario (debug build): each distinct payload is decoded once.
        type Memo = Mutex<std::collections::HashMap<(bool, String), Arc<str>>>;
        static DECODED: std::sync::OnceLock<Memo> = std::sync::OnceLock::new();
        let memo = DECODED.get_or_init(Default::default);
        let key = (helm2, obj.payload.clone());
        let cached = memo.lock().unwrap().get(&key).cloned();
        let body = cached.unwrap_or_else(|| {
            let body: Arc<str> = if helm2 {
                format!("{:?}", codec::decode_helm2(obj.payload.as_bytes(), &limits).unwrap()).into()
            } else {
                codec::decode_helm3_value(obj.payload.as_bytes(), &limits).unwrap().to_string().into()
            };
            memo.lock().unwrap().insert(key, body.clone());
            body
        });
        Rec { meaning: format!("{:?} {:?} {labels:?} {body}", obj.kind, obj.secret_type).into(), obj, raw }
    }
}

type State = BTreeMap<String, Rec>;

fn meanings(s: &State) -> BTreeMap<String, Arc<str>> {
    s.iter().map(|(k, r)| (k.clone(), r.meaning.clone())).collect()
}

// ---------------------------------------------------------------------------------------------------
// Scripted runs

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
}

#[derive(Clone)]
struct Script {
    name: &'static str,
    kind: Kind,
    args: Vec<&'static str>,
    env: Vec<(&'static str, &'static str)>,
    /// Extra setup before the run (restore needs a directory and a changed cluster).
    prepare: fn(&Scenario),
}

fn no_prepare(_: &Scenario) {}

/// The restore run: a directory with every record of the seed; in the cluster one record per (namespace,
/// kind) is missing (so each create is identified by where it goes), and `stuck` revision 2 differs.
fn prepare_restore(s: &Scenario) {
    let store = s.emu().store();
    let dir = backup::BackupDir::create(Some(&s.data_dir()), "test").unwrap();
    for rec in s.state().values() {
        dir.write(&rec.obj).unwrap();
    }
    for (resource, ns, name) in [
        ("secrets", APPS, "sh.helm.release.v1.shop.v1"),
        ("configmaps", APPS, "sh.helm.release.v1.cart.v1"),
        ("secrets", OTHER, "sh.helm.release.v1.long.v1"),
        ("configmaps", TILLER, "shop.v1"),
    ] {
        store.delete(resource, ns, name).unwrap();
    }
    let mut v = store.get("secrets", APPS, "sh.helm.release.v1.stuck.v2").unwrap();
    let obj = backup::record_from_value(&v).unwrap();
    let mut r = codec::decode_helm3(obj.payload.as_bytes(), &DecodeLimits::default()).unwrap();
    r.info.status = "failed".into();
    r.info.description = "changed by hand".into();
    v["data"]["release"] = codec::encode_base64(codec::encode_helm3(&r).unwrap().as_bytes()).into();
    v["metadata"]["labels"]["status"] = "failed".into();
    store.update(v).unwrap();
}

fn scripts() -> Vec<Script> {
    let s = |name, kind, args: &[&'static str]| Script { name, kind, args: args.to_vec(), env: Vec::new(), prepare: no_prepare };
    let mut cart = s("history-configmap-driver", Kind::Read, &["releases", "history", "cart", "-n", APPS]);
    cart.env.push(("HELM_DRIVER", "configmap"));
    let mut restore = s("restore", Kind::Write, &["releases", "restore", "--force", "--yes", "--dir", "@D", "--backup-dir", "@B"]);
    restore.prepare = prepare_restore;
    vec![
        s("list-A", Kind::Read, &["releases", "list", "-A"]),
        s("history", Kind::Read, &["releases", "history", "shop", "-n", APPS]),
        s("status", Kind::Read, &["releases", "status", "shop", "-n", APPS]),
        s("get-all", Kind::Read, &["releases", "get", "all", "shop", "-n", APPS]),
        s("status-helm2", Kind::Read, &["releases", "status", "shop", "-n", "legacy-shop", "--tiller-namespace", TILLER]),
        cart,
        s("export-A", Kind::Read, &["releases", "export", "-A", "--tiller-namespace", TILLER, "--dir", "@D"]),
        s("unlock", Kind::Write, &["releases", "unlock", "stuck", "-n", APPS, "--yes", "--backup-dir", "@B"]),
        s(
            "unlock-helm2",
            Kind::Write,
            &["releases", "unlock", "stuck", "--helm-version", "2", "--tiller-namespace", TILLER, "--yes", "--backup-dir", "@B"],
        ),
        s("unlock-delete", Kind::Write, &["releases", "unlock", "stuck", "-n", APPS, "--to", "delete", "--yes", "--backup-dir", "@B"]),
        s("prune-A", Kind::Write, &["releases", "prune", "-A", "--keep", "2", "--tiller-namespace", TILLER, "--yes", "--backup-dir", "@B"]),
        restore,
        s("forget", Kind::Write, &["releases", "forget", "cart", "-n", APPS, "--yes", "--backup-dir", "@B"]),
        s("move", Kind::Write, &["releases", "move", "shop", "-n", APPS, "--to-name", "store", "--yes", "--backup-dir", "@B"]),
    ]
}

fn both(o: &Output) -> String {
    format!("exit {:?}\nstdout:\n{}\nstderr:\n{}", o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

// ---------------------------------------------------------------------------------------------------
// Request positions and faults

const WRITE_VERBS: [&str; 5] = ["create", "update", "patch", "delete", "deletecollection"];

fn is_write(verb: &str) -> bool {
    WRITE_VERBS.contains(&verb)
}

/// One request of an undisturbed run: what it was and which of the requests alike it was (1-based), so
/// that a fault hits exactly it. Requests alike = same verb, resource, namespace, name (and path for
/// non-resource requests). Creates name no object in their URL: the n-th create in its namespace.
#[derive(Clone, Debug)]
struct Pos {
    verb: String,
    resource: String,
    namespace: String,
    name: String,
    path: String,
    nth: u64,
}

impl Pos {
    fn alike(&self, r: &LoggedRequest) -> bool {
        r.verb == self.verb
            && r.resource == self.resource
            && r.namespace == self.namespace
            && r.name == self.name
            && (!self.resource.is_empty() || r.path == self.path)
    }

    fn is_write(&self) -> bool {
        is_write(&self.verb)
    }

    fn describe(&self) -> String {
        if self.resource.is_empty() {
            format!("{} {} #{}", self.verb, self.path, self.nth)
        } else {
            format!("{} {}/{}/{} #{}", self.verb, self.namespace, self.resource, self.name, self.nth)
        }
    }

    /// The matcher; the action is set by the caller.
    fn fault(&self) -> Fault {
        let mut f = if self.resource.is_empty() { Fault::on_path(&self.path) } else { Fault::on(&self.verb, &self.resource) };
        f.verb = Some(self.verb.clone());
        if !self.resource.is_empty() {
            f = f.namespace(&self.namespace);
        }
        if !self.name.is_empty() {
            f = f.name(&self.name);
        }
        f.nth(self.nth)
    }
}

fn positions(log: &[LoggedRequest]) -> Vec<Pos> {
    let mut out: Vec<Pos> = Vec::new();
    for r in log {
        let mut p = Pos {
            verb: r.verb.clone(),
            resource: r.resource.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            path: r.path.clone(),
            nth: 1,
        };
        p.nth = out.iter().filter(|q| q.alike(r)).count() as u64 + 1;
        out.push(p);
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fk {
    TooMany,
    Internal,
    Unavailable,
    Dropped,
    Slow,
    Conflict,
    LandedLost,
    /// Not one fault but a write that always fails (503): the verb must give up, name the record, and
    /// leave it for a re-run.
    AlwaysFails,
}

const READ_FAULTS: [Fk; 5] = [Fk::TooMany, Fk::Internal, Fk::Unavailable, Fk::Dropped, Fk::Slow];
const WRITE_FAULTS: [Fk; 8] =
    [Fk::TooMany, Fk::Internal, Fk::Unavailable, Fk::Dropped, Fk::Slow, Fk::Conflict, Fk::LandedLost, Fk::AlwaysFails];

/// The fault rules for one position. "Landed but lost": the write the undisturbed run made is done to
/// the store (its end state for that object), then the connection drops before any answer.
fn fault_rules(p: &Pos, fk: Fk, b: &Baseline) -> Vec<Fault> {
    let f = p.fault();
    match fk {
        Fk::TooMany => vec![f.respond_retry_after(429, 1)],
        Fk::Internal => vec![f.respond(500)],
        Fk::Unavailable => vec![f.respond(503)],
        Fk::Dropped => vec![f.drop_connection()],
        Fk::Slow => vec![f.delay(SLOW)],
        Fk::Conflict => vec![f.respond(409)],
        Fk::AlwaysFails => vec![f.always().respond(503)],
        Fk::LandedLost => {
            let key = b.target_key(p);
            let (resource, ns, name) = (p.resource.clone(), p.namespace.clone(), key.rsplit('/').next().unwrap().to_string());
            let end = b.end.get(&key).map(|r| {
                let mut v = r.raw.clone();
                kubectl_werf::manifest::strip_server_metadata(&mut v);
                v
            });
            let verb = p.verb.clone();
            let apply = f.clone().mutate(move |h| {
                let done = match verb.as_str() {
                    "delete" => h.delete(&resource, &ns, &name).map(|_| ()),
                    "create" => h.create(end.clone().unwrap()).map(|_| ()),
                    _ => h.update(end.clone().unwrap()).map(|_| ()),
                };
                done.unwrap_or_else(|e| panic!("landed-but-lost {verb} {ns}/{resource}/{name}: {e:?}"));
            });
            vec![apply, f.drop_connection()]
        }
    }
}

/// Whether the faulted run met the fault (the log shows it).
fn fired(p: &Pos, fk: Fk, log: &[LoggedRequest]) -> bool {
    log.iter().filter(|r| p.alike(r)).any(|r| match fk {
        Fk::TooMany => r.status == 429,
        Fk::Internal => r.status == 500,
        Fk::Unavailable | Fk::AlwaysFails => r.status == 503,
        Fk::Conflict => r.status == 409,
        Fk::Dropped | Fk::LandedLost => r.dropped,
        Fk::Slow => r.duration >= SLOW - Duration::from_millis(50),
    })
}

/// A write that failed is not sent again before the object was read again.
fn check_no_blind_resend(log: &[LoggedRequest]) -> Result<(), String> {
    for (j, f) in log.iter().enumerate() {
        // Answered, or throttled (429: the server did not execute it, so it may go again as it is).
        if !is_write(&f.verb) || (!f.dropped && ((200..300).contains(&f.status) || f.status == 429)) {
            continue;
        }
        let same = |r: &LoggedRequest| r.resource == f.resource && r.namespace == f.namespace && (f.name.is_empty() || r.name == f.name);
        let Some(i) = log[j + 1..].iter().position(|r| is_write(&r.verb) && same(r) && (r.name == f.name)).map(|i| i + j + 1) else {
            continue;
        };
        if !log[j + 1..i].iter().any(|r| r.verb == "get" && same(r)) {
            return Err(format!(
                "{} {}/{}/{} (status {}, dropped {}) sent again without reading it first",
                f.verb, f.namespace, f.resource, f.name, f.status, f.dropped
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// Baselines and scenarios

struct Baseline {
    script: Script,
    stdout: String,
    files: BTreeMap<String, String>,
    start: State,
    end: State,
    positions: Vec<Pos>,
}

impl Baseline {
    fn take(script: &Script) -> Baseline {
        let s = Scenario::new();
        (script.prepare)(&s);
        let start = s.state();
        s.emu().clear_request_log();
        let out = s.run(script);
        assert!(out.status.success(), "{}: undisturbed run: {}", script.name, both(&out));
        let log = s.emu().request_log();
        assert!(
            log.iter().all(|r| !r.dropped && (200..300).contains(&r.status) || (r.verb == "get" && r.status == 404)),
            "{}: {log:#?}",
            script.name
        );
        let end = s.state();
        match script.kind {
            Kind::Read => assert_eq!(meanings(&start), meanings(&end), "{}: a read changed something", script.name),
            Kind::Write => {
                assert_ne!(meanings(&start), meanings(&end), "{}: the undisturbed run changed nothing", script.name);
                let lost = unbacked(&start, &end, &s.backup_dir());
                assert!(lost.is_empty(), "{}: undisturbed, changed or deleted without a backup: {lost:?}", script.name);
            }
        }
        let b = Baseline {
            script: script.clone(),
            stdout: s.neutral(&out.stdout),
            files: s.files(&s.data_dir()),
            start,
            end,
            positions: positions(&log),
        };
        // Every create is identifiable: one new record per namespace and kind.
        for p in b.positions.iter().filter(|p| p.verb == "create") {
            b.target_key(p);
        }
        b
    }

    /// `ns/resource/name` of the object a write position writes.
    fn target_key(&self, p: &Pos) -> String {
        if !p.name.is_empty() {
            return format!("{}/{}/{}", p.namespace, p.resource, p.name);
        }
        // A create request names no object: the n-th create of the undisturbed run made the n-th new
        // record of that namespace and kind, in the order the server stored them (resourceVersion).
        let prefix = format!("{}/{}/", p.namespace, p.resource);
        let mut created: Vec<(u64, &String)> = self
            .end
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix) && !self.start.contains_key(*k))
            .map(|(k, r)| (r.raw["metadata"]["resourceVersion"].as_str().and_then(|v| v.parse().ok()).unwrap_or_default(), k))
            .collect();
        created.sort();
        let creates =
            self.positions.iter().filter(|q| q.verb == "create" && q.namespace == p.namespace && q.resource == p.resource).count();
        assert_eq!(created.len(), creates, "{}: {creates} creates in {prefix} but {} new records", self.script.name, created.len());
        created[p.nth as usize - 1].1.clone()
    }

    fn deletes_or_replaces(&self) -> bool {
        self.start.iter().any(|(k, r)| self.end.get(k).is_none_or(|e| e.meaning != r.meaning))
    }
}

/// What one scenario found.
#[derive(Default, Debug)]
struct Tally {
    scenarios: usize,
    injected: usize,
    first_run_failed: usize,
    lost: usize,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.scenarios += o.scenarios;
        self.injected += o.injected;
        self.first_run_failed += o.first_run_failed;
        self.lost += o.lost;
    }
}

fn read_scenario(b: &Baseline, p: &Pos, fk: Fk) -> Result<Tally, String> {
    let s = Scenario::new();
    (b.script.prepare)(&s);
    for f in fault_rules(p, fk, b) {
        s.emu().inject(f);
    }
    let out = s.run(&b.script);
    let log = s.emu().request_log();
    let mut t = Tally { scenarios: 1, ..Default::default() };
    if !fired(p, fk, &log) {
        return Err("the fault was not met".into());
    }
    t.injected = 1;
    if !out.status.success() {
        return Err(format!("a read fault made it fail: {}", both(&out)));
    }
    let stdout = s.neutral(&out.stdout);
    if stdout != b.stdout {
        return Err(format!("stdout differs from the undisturbed run:\n{stdout}\n--- undisturbed:\n{}", b.stdout));
    }
    if s.files(&s.data_dir()) != b.files {
        return Err("the written files differ from the undisturbed run".into());
    }
    if meanings(&s.state()) != meanings(&b.start) {
        return Err("a read verb changed a record".into());
    }
    Ok(t)
}

/// Records of `start` that are gone or changed and not in the backup directory exactly as they were.
fn unbacked(start: &State, now: &State, backup_dir: &Path) -> Vec<String> {
    let saved: Vec<NewObject> = backup::read_dir(backup_dir).map(|v| v.into_iter().filter_map(Result::ok).collect()).unwrap_or_default();
    start
        .iter()
        .filter(|(k, r)| now.get(*k).is_none_or(|n| n.meaning != r.meaning))
        .filter(|(_, r)| !saved.contains(&r.obj))
        .map(|(k, _)| k.clone())
        .collect()
}

fn write_scenario(b: &Baseline, p: &Pos, fk: Fk) -> Result<Tally, String> {
    let s = Scenario::new();
    (b.script.prepare)(&s);
    let start = s.state();
    for f in fault_rules(p, fk, b) {
        s.emu().inject(f);
    }
    let first = s.run(&b.script);
    let log = s.emu().request_log();
    let mut t = Tally { scenarios: 1, ..Default::default() };
    let ctx = |what: String| format!("{what}\nfirst run: {}", both(&first));
    if !fired(p, fk, &log) {
        return Err(ctx("the fault was not met".into()));
    }
    t.injected = 1;
    let now = s.state();
    // Nothing half-done: each record is as it was or as the undisturbed run left it.
    for k in now.keys().chain(start.keys()).chain(b.end.keys()).collect::<BTreeSet<_>>() {
        let m = |st: &State| st.get(k).map(|r| r.meaning.clone());
        if m(&now) != m(&start) && m(&now) != m(&b.end) {
            return Err(ctx(format!("{k} is neither as before nor as the undisturbed run left it")));
        }
    }
    // Nothing lost.
    let lost = unbacked(&start, &now, &s.backup_dir());
    t.lost = lost.len();
    if !lost.is_empty() {
        return Err(ctx(format!("changed or deleted without a backup: {lost:?}")));
    }
    check_no_blind_resend(&log).map_err(ctx)?;
    if fk != Fk::AlwaysFails {
        // One failed request: read again, decided, done.
        if !first.status.success() {
            return Err(ctx("one failed request made the run fail".into()));
        }
        if meanings(&now) != meanings(&b.end) {
            return Err(ctx("exit 0 but the end state differs from the undisturbed run".into()));
        }
    } else {
        t.first_run_failed = 1;
        let key = b.target_key(p);
        let name = key.rsplit('/').next().unwrap();
        if first.status.success() || !both(&first).contains(name) {
            return Err(ctx(format!("a write that always fails must fail the run and be named ({name})")));
        }
        let attempts = log.iter().filter(|r| p.alike(r)).count();
        if attempts > 10 {
            return Err(ctx(format!("{attempts} attempts of a write that always fails: not bounded")));
        }
    }
    s.emu().clear_faults();
    let second = s.run(&b.script);
    if !second.status.success() {
        return Err(ctx(format!("the re-run failed: {}", both(&second))));
    }
    let after = s.state();
    if meanings(&after) != meanings(&b.end) {
        return Err(ctx(format!("after the re-run the end state differs: {}", both(&second))));
    }
    // Whatever was deleted or replaced comes back from the backup directory (checked where a write failed).
    if p.is_write() && b.deletes_or_replaces() && b.script.name != "restore" {
        let undo = s.work.path().join("undo");
        let out =
            run(s.c.werf().args(["releases", "restore", "--force", "--yes", "--dir"]).arg(s.backup_dir()).arg("--backup-dir").arg(&undo));
        // Records the run created (move's new names) stay: restore puts back, it never deletes.
        let mut back = meanings(&s.state());
        back.retain(|k, _| start.contains_key(k));
        if !out.status.success() || back != meanings(&start) {
            return Err(ctx(format!("restoring the backup directory does not give back the start: {}", both(&out))));
        }
    }
    Ok(t)
}

/// Run every (baseline, position, fault) in parallel; failures are collected, then reported together.
fn sweep(kind: Kind) {
    let started = Instant::now();
    // KUBECTL_WERF_FAULTS_ONLY=prune-A,unlock narrows the sweep to those scripted runs (while debugging).
    let only = std::env::var("KUBECTL_WERF_FAULTS_ONLY").ok();
    let wanted = |name: &str| only.as_deref().is_none_or(|o| o.split(',').any(|w| w == name));
    let baselines: Vec<Baseline> = scripts().iter().filter(|s| s.kind == kind && wanted(s.name)).map(Baseline::take).collect();
    let mut jobs: Vec<(usize, usize, Fk)> = Vec::new();
    for (bi, b) in baselines.iter().enumerate() {
        for (pi, p) in b.positions.iter().enumerate() {
            let kinds: &[Fk] = if p.is_write() { &WRITE_FAULTS } else { &READ_FAULTS };
            jobs.extend(kinds.iter().map(|fk| (bi, pi, *fk)));
        }
    }
    let mut failures: Vec<String> = Vec::new();
    let mut total = Tally::default();
    let mut per_script = BTreeMap::<&str, Tally>::new();
    let outcomes = common::run_parallel(&jobs, PARALLEL, |&(bi, pi, fk)| {
        let (b, p) = (&baselines[bi], &baselines[bi].positions[pi]);
        match kind {
            Kind::Read => read_scenario(b, p, fk),
            Kind::Write => write_scenario(b, p, fk),
        }
    });
    for (&(bi, pi, fk), outcome) in jobs.iter().zip(outcomes) {
        let (b, p) = (&baselines[bi], &baselines[bi].positions[pi]);
        match outcome.unwrap_or_else(|msg| Err(format!("panicked: {msg}"))) {
            Ok(t) => {
                total.add(&t);
                per_script.entry(b.script.name).or_default().add(&t);
            }
            Err(e) => failures.push(format!("{} / {} / {fk:?}: {e}", b.script.name, p.describe())),
        }
    }
    for (name, t) in per_script {
        eprintln!(
            "  {name}: {} scenarios, {} faults injected, {} always-failing writes named, {} records lost",
            t.scenarios, t.injected, t.first_run_failed, t.lost
        );
    }
    eprintln!(
        "{kind:?} verbs: {} jobs, {} scenarios passed, faults injected: {}, always-failing writes named: {}, records lost: {}, in {:.1?}",
        jobs.len(),
        total.scenarios,
        total.injected,
        total.first_run_failed,
        total.lost,
        started.elapsed()
    );
    assert!(failures.is_empty(), "{} of {} scenarios failed:\n\n{}", failures.len(), jobs.len(), failures.join("\n\n"));
}

#[test]
fn read_verbs_print_the_same_whatever_request_fails_emulator_only() {
    sweep(Kind::Read);
}

#[test]
fn write_verbs_lose_nothing_and_converge_whatever_request_fails_emulator_only() {
    sweep(Kind::Write);
}

// ---------------------------------------------------------------------------------------------------
// SIGTERM / SIGINT

/// Start the script, wait until a request matching `hook` reached the server (it is then held for
/// SLOW), send the signal, and return the child's output.
fn interrupted_run(s: &Scenario, script: &Script, hook: Fault, signal: &str) -> Output {
    let arrived = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = arrived.clone();
    s.emu().inject(hook.clone().mutate(move |_| flag.store(true, Ordering::SeqCst)));
    s.emu().inject(hook.delay(SLOW));
    let child = s.command(script).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    while !arrived.load(Ordering::SeqCst) {
        assert!(started.elapsed() < Duration::from_secs(60), "{}: the hooked request never came", script.name);
        std::thread::sleep(Duration::from_millis(5));
    }
    let sent = std::process::Command::new("kill").args([format!("-{signal}"), child.id().to_string()]).status().unwrap();
    assert!(sent.success());
    child.wait_with_output().unwrap()
}

/// The interrupted run said how to go on and exited as migrate2to3 does; nothing is half-done or lost;
/// the same command finishes the job, and the backup directory undoes it.
fn check_interrupted(s: &Scenario, b: &Baseline, start: &State, out: &Output, what: &str) -> State {
    let text = both(out);
    assert_eq!(out.status.code(), Some(1), "{what}: {text}");
    let resume = format!("interrupted: run the same command again to finish: kubectl werf {}", b.script.args[..4].join(" "));
    assert!(text.contains(&resume), "{what}: no `{resume}` in {text}");
    let now = s.state();
    for k in now.keys().chain(start.keys()).chain(b.end.keys()).collect::<BTreeSet<_>>() {
        let m = |st: &State| st.get(k).map(|r| r.meaning.clone());
        assert!(m(&now) == m(start) || m(&now) == m(&b.end), "{what}: {k} is half-done");
    }
    let lost = unbacked(start, &now, &s.backup_dir());
    assert!(lost.is_empty(), "{what}: changed or deleted without a backup: {lost:?}");
    s.emu().clear_faults();
    let again = s.run(&b.script);
    assert!(again.status.success(), "{what}: re-run: {}", both(&again));
    assert_eq!(meanings(&s.state()), meanings(&b.end), "{what}: end state after the re-run");
    let undo = run(s
        .c
        .werf()
        .args(["releases", "restore", "--force", "--yes", "--dir"])
        .arg(s.backup_dir())
        .arg("--backup-dir")
        .arg(s.work.path().join("undo")));
    assert!(undo.status.success(), "{what}: restore: {}", both(&undo));
    assert_eq!(meanings(&s.state()), meanings(start), "{what}: the backup directory gives back the start");
    now
}

fn baseline_of(name: &str) -> Baseline {
    Baseline::take(scripts().iter().find(|s| s.name == name).unwrap())
}

#[test]
fn unlock_interrupted_settles_its_write_and_says_how_to_resume_emulator_only() {
    let b = baseline_of("unlock");
    // Interrupted while reading the record again before the write (nothing may be written), and while
    // the write is in flight (it must finish, whole).
    for (signal, during) in [("TERM", "get"), ("INT", "get"), ("TERM", "update"), ("INT", "update")] {
        let what = format!("SIG{signal} during the {during}");
        let s = Scenario::new();
        let start = s.state();
        let hook = Fault::on(during, "secrets").namespace(APPS).name("sh.helm.release.v1.stuck.v2");
        let out = interrupted_run(&s, &b.script, hook, signal);
        let now = check_interrupted(&s, &b, &start, &out, &what);
        let expected = if during == "get" { &start } else { &b.end };
        assert_eq!(meanings(&now), meanings(expected), "{what}: {}", both(&out));
    }
}

#[test]
fn prune_interrupted_settles_deletes_in_flight_and_starts_no_more_emulator_only() {
    let b = baseline_of("prune-A");
    let planned = b.start.keys().filter(|k| !b.end.contains_key(*k)).count();
    for signal in ["TERM", "INT"] {
        let what = format!("SIG{signal} during the deletes");
        let s = Scenario::new();
        let start = s.state();
        // Every delete is held: the signal comes while the first is in flight, before most have started.
        let out = interrupted_run(&s, &b.script, Fault::on("delete", "*").always(), signal);
        let now = check_interrupted(&s, &b, &start, &out, &what);
        let deleted = start.keys().filter(|k| !now.contains_key(*k)).count();
        assert!(deleted >= 1 && deleted < planned, "{what}: {deleted} of {planned} deleted: {}", both(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("interrupted before this delete"), "{what}: {stdout}");
    }
}

/// An interrupted or killed run left every record as it was or as the finished run leaves it, backed up
/// whatever it changed, and the same command finishes the job.
fn check_settled_and_converges(s: &Scenario, b: &Baseline, start: &State, out: &Output, what: &str) {
    let now = s.state();
    for k in now.keys().chain(start.keys()).chain(b.end.keys()).collect::<BTreeSet<_>>() {
        let m = |st: &State| st.get(k).map(|r| r.meaning.clone());
        assert!(m(&now) == m(start) || m(&now) == m(&b.end), "{what}: {k} is half-done: {}", both(out));
    }
    let lost = unbacked(start, &now, &s.backup_dir());
    assert!(lost.is_empty(), "{what}: changed or deleted without a backup: {lost:?}");
    s.emu().clear_faults();
    let again = s.run(&b.script);
    assert!(again.status.success(), "{what}: re-run: {}", both(&again));
    assert_eq!(meanings(&s.state()), meanings(&b.end), "{what}: end state after the re-run");
}

#[test]
fn forget_and_move_interrupted_or_killed_lose_nothing_and_converge_emulator_only() {
    for (script, signal, during, resource) in [
        ("forget", "TERM", "delete", "configmaps"),
        ("forget", "INT", "delete", "configmaps"),
        ("forget", "KILL", "delete", "configmaps"),
        ("move", "TERM", "create", "secrets"),
        ("move", "INT", "delete", "secrets"),
        ("move", "KILL", "create", "secrets"),
        ("move", "KILL", "delete", "secrets"),
    ] {
        let b = baseline_of(script);
        let what = format!("{script}: SIG{signal} during a {during}");
        let s = Scenario::new();
        let start = s.state();
        // Every such request is held, so the signal comes while the first is in flight.
        let out = interrupted_run(&s, &b.script, Fault::on(during, resource).namespace(APPS).always(), signal);
        if signal == "KILL" {
            assert_eq!(out.status.code(), None, "{what}: {}", both(&out));
        } else {
            assert_eq!(out.status.code(), Some(1), "{what}: {}", both(&out));
            let resume = format!("interrupted: run the same command again to finish: kubectl werf {}", b.script.args[..4].join(" "));
            assert!(both(&out).contains(&resume), "{what}: no `{resume}` in {}", both(&out));
        }
        let changed = s.state();
        assert_ne!(meanings(&changed), meanings(&b.end), "{what}: the run finished before the signal");
        check_settled_and_converges(&s, &b, &start, &out, &what);
    }
}

// ---------------------------------------------------------------------------------------------------
// A concurrent writer

#[test]
fn a_record_changed_by_someone_else_meanwhile_is_named_and_never_overwritten_emulator_only() {
    let cases = [
        ("unlock", "update", "secrets", APPS, "sh.helm.release.v1.stuck.v2"),
        ("unlock-helm2", "update", "configmaps", TILLER, "stuck.v2"),
        ("unlock-delete", "delete", "secrets", APPS, "sh.helm.release.v1.stuck.v2"),
        ("prune-A", "delete", "secrets", OTHER, "sh.helm.release.v1.long.v3"),
        ("restore", "update", "secrets", APPS, "sh.helm.release.v1.stuck.v2"),
        ("restore", "create", "secrets", OTHER, "sh.helm.release.v1.long.v1"),
    ];
    for (script_name, verb, resource, ns, name) in cases {
        let what = format!("{script_name}: {verb} {ns}/{resource}/{name}");
        let script = scripts().into_iter().find(|s| s.name == script_name).unwrap();
        let s = Scenario::new();
        (script.prepare)(&s);
        let start = s.state();
        // Theirs: the record as it is (or, for a create, as the directory holds it) with one more label.
        let mut theirs = match verb {
            "create" => {
                backup::read_dir(&s.data_dir()).unwrap().into_iter().map(Result::unwrap).find(|o| o.name == name).unwrap().to_json()
            }
            _ => start[&format!("{ns}/{resource}/{name}")].raw.clone(),
        };
        kubectl_werf::manifest::strip_server_metadata(&mut theirs);
        theirs["metadata"]["labels"]["changed-by"] = "someone-else".into();
        // Just before our write reaches the server, the other writer's lands.
        let mut hook = Fault::on(verb, resource).namespace(ns);
        if verb != "create" {
            hook = hook.name(name);
        }
        let write = theirs.clone();
        s.emu().inject(hook.mutate(move |h| {
            let done = if verb == "create" { h.create(write.clone()) } else { h.update(write.clone()) };
            done.unwrap();
        }));
        let out = s.run(&script);
        let text = both(&out);
        assert_eq!(out.status.code(), Some(1), "{what}: {text}");
        assert!(text.contains(name) && (text.contains("someone else") || text.contains("changed")), "{what}: not named: {text}");
        let now = s.emu().store().get(resource, ns, name).unwrap_or_else(|e| panic!("{what}: their record is gone: {e:?}"));
        assert_eq!(now["metadata"]["labels"]["changed-by"], "someone-else", "{what}: their write was overwritten");
        // The record as it was before (before them, too) is in the backup directory.
        let lost = unbacked(&start, &s.state(), &s.backup_dir());
        assert!(lost.is_empty(), "{what}: changed or deleted without a backup: {lost:?}");
    }
}
