//! Real `kubectl`, `helm3` and `helm4` against the emulator seeded with the fixtures.
//!
//! Helm binaries come from `HELM3_BIN`/`HELM4_BIN`, else `$HELM_BIN_DIR/helm3|helm4`, else
//! `~/.cache/helm-bins/helm3|helm4`; `kubectl` from `KUBECTL_BIN` or `PATH`. A missing
//! binary fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;

use kube_emulator::Emulator;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn helm_bin(v: u8) -> PathBuf {
    let var = format!("HELM{v}_BIN");
    let name = format!("helm{v}");
    let candidates: Vec<PathBuf> = [
        std::env::var_os(&var).map(PathBuf::from),
        std::env::var_os("HELM_BIN_DIR").map(|d| PathBuf::from(d).join(&name)),
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/helm-bins").join(&name)),
    ]
    .into_iter()
    .flatten()
    .collect();
    candidates.iter().find(|p| p.is_file()).cloned().unwrap_or_else(|| {
        panic!("{name} not found: set {var} or HELM_BIN_DIR, or install it at ~/.cache/helm-bins/{name} (looked at {candidates:?})")
    })
}

fn kubectl_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("KUBECTL_BIN") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("kubectl not found on PATH (or set KUBECTL_BIN)"))
}

struct Env {
    emu: Emulator,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

fn setup() -> Env {
    let emu = Emulator::start_blocking().expect("start emulator");
    // crds: the shop chart's Widget CRD, as on a cluster where that chart was installed
    for d in ["crds", "helm3", "helm2", "helm2-synthetic"] {
        emu.seed_dir(&fixtures().join(d)).unwrap_or_else(|e| panic!("seeding {d}: {e}"));
    }
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    emu.write_kubeconfig(&kubeconfig).unwrap();
    Env { emu, dir, kubeconfig }
}

impl Env {
    fn cmd(&self, bin: &Path) -> Command {
        let mut c = Command::new(bin);
        let home = self.dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        c.env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &home)
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .env_remove("HELM_DRIVER")
            .env_remove("HELM_NAMESPACE")
            .env_remove("HELM_KUBECONTEXT");
        c
    }

    fn run(&self, bin: &Path, args: &[&str], envs: &[(&str, &str)]) -> String {
        let mut c = self.cmd(bin);
        c.args(args);
        for (k, v) in envs {
            c.env(k, v);
        }
        let out = c.output().unwrap_or_else(|e| panic!("running {bin:?}: {e}"));
        assert!(
            out.status.success(),
            "{bin:?} {args:?} failed: {}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, bin: &Path, args: &[&str], envs: &[(&str, &str)]) -> Value {
        let out = self.run(bin, args, envs);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"))
    }
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("helm3").join(name)).unwrap()).unwrap()
}

fn only_namespace(list: &Value, ns: &str) -> Value {
    Value::Array(list.as_array().unwrap().iter().filter(|r| r["namespace"] == ns).cloned().collect())
}

#[test]
fn kubectl_against_the_emulator() {
    let env = setup();
    let k = kubectl_bin();
    let v: Value = serde_json::from_str(&env.run(&k, &["get", "--raw", "/version"], &[])).unwrap();
    assert_eq!(v["gitVersion"], "v1.36.2");

    let out = env.run(&k, &["get", "secrets", "-n", "fx-helm3"], &[]);
    assert!(out.starts_with("NAME"), "{out}");
    assert!(out.contains("TYPE") && out.contains("DATA") && out.contains("AGE"), "{out}");
    assert!(out.contains("sh.helm.release.v1.shop.v4") && out.contains("helm.sh/release.v1"), "{out}");
    let out = env.run(&k, &["get", "cm", "-A"], &[]);
    assert!(out.contains("tools") && out.contains("blog.v1"), "{out}");

    let res = env.run(&k, &["api-resources"], &[]);
    assert!(res.lines().any(|l| l.starts_with("deployments ") && l.contains("deploy")), "{res}");
    assert!(res.lines().any(|l| l.starts_with("widgets ") && l.contains("shop.example.com/v1")), "{res}");

    let manifest = env.dir.path().join("objs.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: demo\ndata:\n  a: b\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: demo\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx\n---\napiVersion: shop.example.com/v1\nkind: Widget\nmetadata:\n  name: w1\n  namespace: demo\nspec:\n  size: 2\n",
    )
    .unwrap();
    let out = env.run(&k, &["create", "-f", manifest.to_str().unwrap()], &[]);
    assert!(
        out.contains("configmap/cfg created")
            && out.contains("deployment.apps/web created")
            && out.contains("widget.shop.example.com/w1 created"),
        "{out}"
    );

    env.run(&k, &["annotate", "cm", "cfg", "-n", "demo", "meta.helm.sh/release-name=app"], &[]);
    env.run(&k, &["label", "cm", "cfg", "-n", "demo", "app.kubernetes.io/managed-by=Helm"], &[]);
    env.run(&k, &["annotate", "deploy/web", "-n", "demo", "x=y"], &[]);
    let cm = env.emu.store().get("configmaps", "demo", "cfg").unwrap();
    assert_eq!(cm["metadata"]["annotations"]["meta.helm.sh/release-name"], "app");
    assert_eq!(cm["metadata"]["labels"]["app.kubernetes.io/managed-by"], "Helm");
    assert_eq!(env.emu.store().get("deploy", "demo", "web").unwrap()["metadata"]["annotations"]["x"], "y");
    let got: Value = serde_json::from_str(&env.run(&k, &["get", "cm", "cfg", "-n", "demo", "-o", "json"], &[])).unwrap();
    assert_eq!(got["data"]["a"], "b");
    let out = env.run(&k, &["get", "deploy", "-n", "demo"], &[]);
    assert!(out.contains("web"), "{out}");
    let out = env.run(&k, &["get", "widgets.shop.example.com", "-n", "demo", "-o", "name"], &[]);
    assert_eq!(out.trim(), "widget.shop.example.com/w1");

    let out = env.run(&k, &["delete", "cm", "cfg", "-n", "demo"], &[]);
    assert!(out.contains("deleted"), "{out}");
    assert!(env.emu.store().get("configmaps", "demo", "cfg").is_err());
    let out = env.run(&k, &["delete", "namespace", "demo"], &[]);
    assert!(out.contains("deleted"), "{out}");
    assert_eq!(env.emu.store().count("deployments.apps", Some("demo")), 0);
    // every request kubectl made was authenticated as the admin, none hit a server error
    let log = env.emu.request_log();
    assert!(log.iter().all(|r| r.user == "admin"));
    assert!(log.iter().all(|r| r.status < 500), "{log:#?}");
    if std::env::var_os("EMULATOR_DEBUG_LOG").is_some() {
        for r in log.iter().filter(|r| r.status >= 300) {
            eprintln!("{} {} {} -> {}", r.method, r.path, r.query, r.status);
        }
    }
}

#[test]
fn helm3_reads_release_storage() {
    let env = setup();
    let h = helm_bin(3);
    let list = env.json(&h, &["list", "-A", "-a", "-o", "json"], &[]);
    assert_eq!(only_namespace(&list, "fx-helm3"), fixture_json("fx-helm3-helm-list.json"));
    assert_eq!(only_namespace(&list, "fx-helm4"), fixture_json("fx-helm4-helm-list.json"));
    let status = env.json(&h, &["status", "shop", "-n", "fx-helm3", "-o", "json"], &[]);
    assert_eq!(status, fixture_json("fx-helm3-shop-status.json"));
    let history = env.json(&h, &["history", "shop", "-n", "fx-helm3", "-o", "json"], &[]);
    assert_eq!(history, fixture_json("fx-helm3-shop-history.json"));
    let manifest = env.run(&h, &["get", "manifest", "shop", "-n", "fx-helm3"], &[]);
    assert_eq!(manifest, std::fs::read_to_string(fixtures().join("helm3/fx-helm3-shop-manifest.txt")).unwrap());
    let all = env.run(&h, &["get", "all", "shop", "-n", "fx-helm3"], &[]);
    assert!(all.contains("NAME: shop") && all.contains("MANIFEST:") && all.contains("HOOKS:"), "{all}");
    let cart = env.json(&h, &["list", "-n", "fx-helm3", "-a", "-o", "json"], &[("HELM_DRIVER", "configmap")]);
    assert_eq!(cart.as_array().unwrap().len(), 1);
    assert_eq!((cart[0]["name"].as_str(), cart[0]["revision"].as_str()), (Some("cart"), Some("2")));
    let cart_hist = env.json(&h, &["history", "cart", "-n", "fx-helm3", "-o", "json"], &[("HELM_DRIVER", "configmap")]);
    assert_eq!(cart_hist.as_array().unwrap().len(), 2);
}

#[test]
fn helm4_reads_release_storage() {
    let env = setup();
    let h = helm_bin(4);
    let list = env.json(&h, &["list", "-A", "-o", "json"], &[]);
    assert_eq!(only_namespace(&list, "fx-helm4"), fixture_json("fx-helm4-helm-list.json"));
    assert_eq!(only_namespace(&list, "fx-helm3"), fixture_json("fx-helm3-helm-list.json"));
    let status = env.json(&h, &["status", "shop", "-n", "fx-helm4", "-o", "json"], &[]);
    assert_eq!(status, fixture_json("fx-helm4-shop-status.json"));
    let history = env.json(&h, &["history", "shop", "-n", "fx-helm4", "-o", "json"], &[]);
    assert_eq!(history, fixture_json("fx-helm4-shop-history.json"));
    let hooks = env.run(&h, &["get", "hooks", "shop", "-n", "fx-helm4"], &[]);
    assert_eq!(hooks, std::fs::read_to_string(fixtures().join("helm3/fx-helm4-shop-hooks.txt")).unwrap());
    let all = env.run(&h, &["get", "all", "shop", "-n", "fx-helm4"], &[]);
    assert!(all.contains("NAME: shop"), "{all}");
    let cart = env.json(&h, &["list", "-n", "fx-helm4", "-o", "json"], &[("HELM_DRIVER", "configmap")]);
    assert_eq!(cart[0]["name"], "cart");
    // helm listed secrets with its owner=helm selector
    assert!(env.emu.request_log().iter().any(|r| r.path == "/api/v1/secrets" && r.query.contains("labelSelector=owner")));
}
