//! Shared harness for cluster tests. Every cluster test runs against an in-process API emulator, or,
//! when `KUBECTL_WERF_TEST_KUBECONFIG` names a kubeconfig, unchanged against that real cluster: each
//! test creates its own uniquely named namespaces and deletes them when it ends.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use kube::api::{Api, DynamicObject, PostParams};
use kube::discovery::ApiResource;
use serde_json::Value;

pub use kube_emulator::Emulator;

pub mod helm3_fixtures;
pub mod maintenance;
pub mod surgery;

pub const REAL_CLUSTER_ENV: &str = "KUBECTL_WERF_TEST_KUBECONFIG";

/// The repository root (tests run with the package root as working directory).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> PathBuf {
    repo_root().join("fixtures").join(rel)
}

/// A real helm binary; a missing one fails the test (compatibility claims need the real thing).
pub fn helm_bin(major: u8) -> PathBuf {
    let name = format!("helm{major}");
    if let Some(p) = std::env::var_os(format!("HELM{major}_BIN")) {
        return PathBuf::from(p);
    }
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("HELM_BIN_DIR") {
        candidates.push(PathBuf::from(dir).join(&name));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(&home).join(".cache/kubectl-werf/helm").join(&name));
        candidates.push(PathBuf::from(&home).join(".cache/helm-bins").join(&name));
    }
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} not found: run scripts/install-helm (or set HELM_BIN_DIR / HELM{major}_BIN)"))
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:x}{:x}{n}", std::process::id() % 0xfff, nanos % 0xfffff)
}

pub struct TestCluster {
    pub emulator: Option<Emulator>,
    pub kubeconfig: PathBuf,
    pub dir: tempfile::TempDir,
    pub rt: tokio::runtime::Runtime,
    pub client: kube::Client,
    namespaces: std::sync::Mutex<Vec<String>>,
    /// A control plane of this test's own (`isolated`); dropped after the namespaces are deleted.
    own_control_plane: Option<RealControlPlane>,
}

impl TestCluster {
    /// An emulator of our own, or the real cluster named by `KUBECTL_WERF_TEST_KUBECONFIG`.
    pub fn start() -> TestCluster {
        TestCluster::connect(std::env::var_os(REAL_CLUSTER_ENV).map(PathBuf::from))
    }

    /// The real cluster of this kubeconfig, or (None) an emulator of our own.
    pub fn connect(real_kubeconfig: Option<PathBuf>) -> TestCluster {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let (emulator, kubeconfig) = match real_kubeconfig {
            Some(path) => (None, path),
            None => {
                let emulator = Emulator::start_blocking().expect("emulator starts");
                let path = dir.path().join("kubeconfig");
                emulator.write_kubeconfig(&path).unwrap();
                (Some(emulator), path)
            }
        };
        let client = rt.block_on(async {
            let kc = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
            let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.unwrap();
            kube::Client::try_from(config).unwrap()
        });
        TestCluster { emulator, kubeconfig, dir, rt, client, namespaces: Default::default(), own_control_plane: None }
    }

    /// A cluster no other test touches, for tests that must compare cluster-wide answers (`-A` of
    /// real helm against ours): a fresh emulator, or in real-cluster mode a real control plane of its own.
    pub fn isolated() -> TestCluster {
        if std::env::var_os(REAL_CLUSTER_ENV).is_none() {
            return TestCluster::start();
        }
        let plane = RealControlPlane::start("");
        let mut cluster = TestCluster::connect(Some(plane.kubeconfig.clone()));
        cluster.own_control_plane = Some(plane);
        cluster
    }

    pub fn is_real(&self) -> bool {
        self.emulator.is_none()
    }

    /// The emulator, for tests that need fault injection, the request log or the emulator's own users.
    /// Such a test carries `emulator_only` in its name: the real-cluster pass of `scripts/test` filters
    /// it out by that name (libtest reports it as filtered out, never as passed). Reaching this in
    /// real-cluster mode is a harness error, so it fails loudly instead of skipping silently.
    pub fn emulator_for(&self, why: &str) -> &Emulator {
        self.emulator
            .as_ref()
            .unwrap_or_else(|| panic!("an emulator-only test ran against a real cluster ({why}): name it *emulator_only*"))
    }

    /// Create a uniquely named namespace, deleted when the cluster handle drops.
    pub fn namespace(&self, hint: &str) -> String {
        let hint: String = hint.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(30).collect();
        let name = format!("kw-{}-{}", hint.to_ascii_lowercase(), unique_suffix());
        self.create_namespace(&name);
        name
    }

    /// Create a namespace of exactly this name (for tests that need names in a given order), deleted
    /// when the cluster handle drops.
    pub fn namespace_named(&self, name: &str) -> String {
        self.create_namespace(name);
        name.to_string()
    }

    fn create_namespace(&self, name: &str) {
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        let ns: k8s_openapi::api::core::v1::Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap();
        self.rt.block_on(api.create(&PostParams::default(), &ns)).unwrap();
        self.namespaces.lock().unwrap().push(name.to_string());
    }

    /// Load every object of a fixture file into the cluster, moving each object's namespace through
    /// `ns_map` (fixture namespace → test namespace). Release payloads are left untouched.
    pub fn seed_file(&self, path: &Path, ns_map: &BTreeMap<&str, &str>) -> usize {
        let text = std::fs::read_to_string(path).unwrap();
        let objects = if path.extension().is_some_and(|e| e == "json") {
            kubectl_werf::manifest::parse_json_objects(&text, true)
        } else {
            kubectl_werf::manifest::parse_objects(&text, true)
        };
        let mut n = 0;
        for obj in objects {
            let obj = obj.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let mut value = obj.object.clone();
            kubectl_werf::manifest::strip_server_metadata(&mut value);
            if let Some(ns) = obj.namespace.as_deref() {
                let target = ns_map.get(ns).unwrap_or_else(|| panic!("{}: no test namespace for {ns}", path.display()));
                value["metadata"]["namespace"] = Value::String(target.to_string());
            }
            self.create_object(value);
            n += 1;
        }
        n
    }

    /// Create one object given as JSON.
    pub fn create_object(&self, value: Value) -> DynamicObject {
        let api_version = value["apiVersion"].as_str().unwrap().to_string();
        let kind = value["kind"].as_str().unwrap().to_string();
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
        let plural = match kind.as_str() {
            "Secret" => "secrets".to_string(),
            "ConfigMap" => "configmaps".to_string(),
            "Namespace" => "namespaces".to_string(),
            other => format!("{}s", other.to_ascii_lowercase()),
        };
        let gvk = kube::api::GroupVersionKind::gvk(group, version, &kind);
        let ar = ApiResource::from_gvk_with_plural(&gvk, &plural);
        let obj: DynamicObject = serde_json::from_value(value).unwrap();
        let api: Api<DynamicObject> = match obj.metadata.namespace.as_deref() {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &ar),
            None => Api::all_with(self.client.clone(), &ar),
        };
        self.rt.block_on(api.create(&PostParams::default(), &obj)).unwrap_or_else(|e| panic!("create {kind}: {e}"))
    }

    /// The plugin binary with this cluster's kubeconfig and an isolated environment.
    pub fn werf(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-werf"));
        self.isolate(&mut cmd);
        cmd
    }

    /// A real helm binary (3 or 4) with this cluster's kubeconfig and its own config/cache dirs.
    pub fn helm(&self, major: u8) -> Command {
        let mut cmd = Command::new(helm_bin(major));
        self.isolate(&mut cmd);
        cmd
    }

    pub fn kubectl(&self) -> Command {
        let mut cmd = Command::new("kubectl");
        self.isolate(&mut cmd);
        cmd
    }

    fn isolate(&self, cmd: &mut Command) {
        for (k, _) in std::env::vars() {
            if k.starts_with("HELM_") || k.starts_with("WERF_") || k == "TILLER_NAMESPACE" || k == "KUBECONFIG" {
                cmd.env_remove(&k);
            }
        }
        let home = self.dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        cmd.env("HOME", &home)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .env("NO_COLOR", "1")
            .env("TZ", "UTC");
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        let names = std::mem::take(&mut *self.namespaces.lock().unwrap());
        if names.is_empty() {
            return;
        }
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        self.rt.block_on(async {
            for name in names {
                let _ = api.delete(&name, &Default::default()).await;
            }
        });
    }
}

/// Run a command, returning its output; panics with both streams when it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Run and require success; returns stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `f` on every item, `workers` threads at a time, and returns each outcome in item order; a
/// panic becomes `Err(its message)`, so one failing scenario does not hide the others.
pub fn run_parallel<T: Sync, R: Send>(items: &[T], workers: usize, f: impl Fn(&T) -> R + Sync) -> Vec<Result<R, String>> {
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<R, String>>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(i) else { break };
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(item))).map_err(|e| {
                        e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
                    });
                    results.lock().unwrap()[i] = Some(outcome);
                }
            });
        }
    });
    results.into_inner().unwrap().into_iter().map(|r| r.expect("every item ran")).collect()
}

/// The shared tool that runs a real control plane on loopback (`../shared/tools/real-apiserver`
/// beside the project, or `REAL_APISERVER_TOOL`).
pub fn real_apiserver_tool() -> PathBuf {
    std::env::var_os("REAL_APISERVER_TOOL").map(PathBuf::from).unwrap_or_else(|| repo_root().join("../shared/tools/real-apiserver"))
}

/// A real kube-apiserver (with etcd and the controller-manager) of one test's own, for what a shared
/// server cannot offer: restarting its processes, or flags such as tight in-flight limits. Stopped and
/// deleted when dropped.
pub struct RealControlPlane {
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

impl RealControlPlane {
    pub fn start(extra_apiserver_args: &str) -> RealControlPlane {
        let dir = tempfile::Builder::new().prefix("kw-real-").tempdir().unwrap();
        let out = Command::new(real_apiserver_tool())
            .args(["start"])
            .arg(dir.path())
            .env("REAL_APISERVER_ARGS", extra_apiserver_args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", real_apiserver_tool().display()));
        assert!(out.status.success(), "real-apiserver start failed:\n{}", String::from_utf8_lossy(&out.stderr));
        let kubeconfig = dir.path().join("kubeconfig");
        RealControlPlane { dir, kubeconfig }
    }

    /// `real-apiserver restart DIR PART [--kill]`: PART is apiserver, etcd or controller-manager.
    pub fn restart(&self, part: &str, kill: bool) {
        let mut cmd = Command::new(real_apiserver_tool());
        cmd.arg("restart").arg(self.dir.path()).arg(part);
        if kill {
            cmd.arg("--kill");
        }
        run_ok(&mut cmd);
    }

    /// A `TestCluster` (client, namespaces, werf/helm/kubectl commands) on this control plane.
    pub fn cluster(&self) -> TestCluster {
        TestCluster::connect(Some(self.kubeconfig.clone()))
    }
}

impl Drop for RealControlPlane {
    fn drop(&mut self) {
        let _ = Command::new(real_apiserver_tool()).arg("stop").arg(self.dir.path()).output();
    }
}

impl TestCluster {
    /// Install the shop chart's Widget CRD (fixtures/crds) unless present, and wait until the server
    /// serves it: the genuine shop/stuck records' manifests hold a Widget, and real helm maps every kind
    /// of a stored manifest through discovery. CRDs are cluster-wide, so it stays for every test.
    pub fn install_widget_crd(&self) {
        use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
        let path = fixture("crds/widgets.shop.example.com.yaml");
        let crd: CustomResourceDefinition = serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let api: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        self.rt.block_on(async {
            match api.create(&PostParams::default(), &crd).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => panic!("create the Widget CRD: {e}"),
            }
            for _ in 0..200 {
                let established = api
                    .get("widgets.shop.example.com")
                    .await
                    .ok()
                    .and_then(|c| c.status)
                    .and_then(|s| s.conditions)
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Established" && c.status == "True"));
                if established || !self.is_real() {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("the Widget CRD did not become established");
        });
    }
}
