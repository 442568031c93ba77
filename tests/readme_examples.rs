//! README.md stays true (issue 19 items 15 and 16): every `kubectl werf ...` and `helm werf-releases ...`
//! line of its `sh` blocks runs, block by block in order, against an emulator seeded with the world the README talks
//! about (releases `shop`, `cart`, `old`, Tiller releases in kube-system and tiller-apps, a chart whose
//! ConfigMap already exists). A line that changes something without `--yes` must stop at "no terminal
//! to ask on" (it asks on a terminal) and then succeed with `--yes`. And `scripts/demo` runs its tour
//! without a failing step.

mod common;
mod release_fixtures;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{TestCluster, helm_bin, repo_root, run_ok};
use kubectl_werf::release::helm2;
use kubectl_werf::storage::codec::{self, DecodeLimits};
use kubectl_werf::storage::{Helm2Storage, Helm3Driver};
use kubectl_werf::storage::{Helm2Store, Helm3Store, ObjectKind};
use serde_json::json;

/// The lines of the README's ```sh blocks that run the plugin (continuations joined, `$ ` dropped),
/// block by block: each block is one sequence of examples, run in a world of its own.
fn readme_blocks() -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let mut blocks: Vec<Vec<String>> = Vec::new();
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            if !out.is_empty() {
                blocks.push(std::mem::take(&mut out));
            }
            in_sh = trimmed == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let line = line.trim_start().trim_start_matches("$ ");
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            continue;
        }
        let full = format!("{pending}{line}");
        pending.clear();
        if full.contains("kubectl werf ") || full.contains("helm werf-releases ") {
            out.push(full);
        }
    }
    blocks
}

fn helm2_fixture(object: &str) -> helm2::Release {
    let r = release_fixtures::load("helm2-synthetic").into_iter().find(|r| r.name == object).unwrap_or_else(|| panic!("no {object}"));
    codec::decode_helm2(&r.payload, &DecodeLimits::default()).unwrap()
}

fn put_v2(c: &TestCluster, tiller: &str, kind: ObjectKind, mut rel: helm2::Release, name: Option<&str>, ns: &str) {
    rel.namespace = ns.to_string();
    if let Some(n) = name {
        rel.name = n.to_string();
    }
    c.rt.block_on(Helm2Store::new(c.client.clone(), tiller, Helm2Storage::Auto, DecodeLimits::default()).create(kind, &rel)).unwrap();
}

/// The Helm 3 records of a fixture file under a new name and namespace.
fn put_v3(c: &TestCluster, file: &str, name: &str, ns: &str, edit: &dyn Fn(&mut kubectl_werf::release::helm3::Release)) {
    for r in release_fixtures::load("helm3").into_iter().filter(|r| r.file == file) {
        let mut rel = codec::decode_helm3(&r.payload, &DecodeLimits::default()).unwrap();
        rel.name = name.to_string();
        rel.namespace = ns.to_string();
        edit(&mut rel);
        let driver = if r.kind == "Secret" { Helm3Driver::Secret } else { Helm3Driver::ConfigMap };
        c.rt.block_on(Helm3Store::new(c.client.clone(), driver, DecodeLimits::default()).create(&rel)).unwrap();
    }
}

fn configmap(ns: &str, name: &str, owner: Option<&str>) -> serde_json::Value {
    let (labels, annotations) = match owner {
        Some(release) => (
            json!({"app.kubernetes.io/managed-by": "Helm"}),
            json!({"meta.helm.sh/release-name": release, "meta.helm.sh/release-namespace": ns}),
        ),
        None => (json!({}), json!({})),
    };
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns, "labels": labels, "annotations": annotations}, "data": {"k": "v"}})
}

fn write_chart(dir: &Path) {
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(dir.join("Chart.yaml"), "apiVersion: v2\nname: app\nversion: 0.1.0\n").unwrap();
    std::fs::write(dir.join("templates/settings.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  k: v\n")
        .unwrap();
}

/// The world the README's examples talk about.
fn seed_readme_world(c: &TestCluster) {
    for ns in ["shop", "prod", "apps", "tiller-apps", "legacy-shop", "legacy-cart", "legacy-stuck", "myproject-production", "shop-prod"] {
        run_ok(c.kubectl().args(["create", "namespace", ns]));
    }
    put_v3(c, "fx-helm3-shop-secrets.yaml", "shop", "shop", &|_| {});
    put_v3(c, "fx-helm3-cart-configmaps.yaml", "cart", "shop", &|_| {});
    put_v3(c, "fx-helm3-shop-secrets.yaml", "shop-prod", "shop-prod", &|_| {});
    // Tiller (werf v1.1) in kube-system: shop, cart, stuck, gone, myproject-production
    for rev in 1..=4 {
        put_v2(c, "kube-system", ObjectKind::ConfigMap, helm2_fixture(&format!("shop.v{rev}")), None, "legacy-shop");
    }
    for rev in 1..=2 {
        put_v2(c, "kube-system", ObjectKind::ConfigMap, helm2_fixture(&format!("stuck.v{rev}")), None, "legacy-stuck");
        put_v2(c, "kube-system", ObjectKind::ConfigMap, helm2_fixture(&format!("cart.v{rev}")), None, "legacy-cart");
        // another Tiller, Secret storage: release `legacy`
        put_v2(c, "tiller-apps", ObjectKind::Secret, helm2_fixture(&format!("cart.v{rev}")), Some("legacy"), "legacy-cart");
    }
    put_v2(c, "kube-system", ObjectKind::ConfigMap, helm2_fixture("gone.v1"), None, "legacy-stuck");
    for rev in [3, 7] {
        put_v2(
            c,
            "kube-system",
            ObjectKind::ConfigMap,
            helm2_fixture(&format!("myproject-production.v{rev}")),
            None,
            "myproject-production",
        );
    }
    // The releases' manifests hold Widgets: their CRD is installed, as on the clusters they run on.
    c.install_widget_crd();
    // A Helm 3 release `app` in prod (installed before Helm 4; `adopt --from-release app` hands its fields over)
    put_v3(c, "fx-helm3-shop-secrets.yaml", "app", "prod", &|r| {
        r.manifest =
            "---\n# Source: app/templates/settings.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  k: v\n"
                .into();
        r.hooks.clear();
        r.info.status =
            if r.version == 4 { kubectl_werf::release::helm3::Status::Deployed } else { kubectl_werf::release::helm3::Status::Superseded };
    });
    // adopt: objects Helm would refuse, and a release `old` owning `moving`
    c.create_object(configmap("default", "settings", None));
    c.create_object(configmap("prod", "settings", None));
    c.create_object(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "prod"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}));
    c.create_object(configmap("default", "moving", Some("old")));
    put_v3(c, "fx-helm3-shop-secrets.yaml", "old", "default", &|r| {
        r.manifest =
            "---\n# Source: app/templates/moving.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: moving\ndata:\n  k: v\n".into();
        r.hooks.clear();
        r.info.status = kubectl_werf::release::helm3::Status::Superseded;
        if r.version == 2 {
            r.info.status = kubectl_werf::release::helm3::Status::Deployed;
        }
    });
}

fn path_with(dirs: &[PathBuf]) -> String {
    let mut paths: Vec<PathBuf> = dirs.to_vec();
    paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    std::env::join_paths(paths).unwrap().into_string().unwrap()
}

/// Strip a trailing `# comment` (outside quotes, which README lines do not use around `#`).
fn without_comment(line: &str) -> &str {
    match line.find("  #").or_else(|| line.find(" # ")) {
        Some(i) => line[..i].trim_end(),
        None => line.trim_end(),
    }
}

/// The exit code a README line documents: `(exit N)` at the end of its comment, else 0.
fn expected_exit(line: &str) -> i32 {
    let comment = &line[without_comment(line).len()..];
    comment.trim_end().strip_suffix(')').and_then(|c| c.rsplit_once("(exit ")).and_then(|(_, n)| n.parse().ok()).unwrap_or(0)
}

#[test]
fn every_readme_command_line_runs_against_the_sandbox_emulator_only() {
    let blocks = readme_blocks();
    assert!(blocks.iter().map(Vec::len).sum::<usize>() >= 20, "README lines found: {blocks:#?}");
    let mut failures = Vec::new();
    for block in &blocks {
        failures.extend(run_block(block));
    }
    assert!(failures.is_empty(), "README lines that fail:\n\n{}", failures.join("\n\n"));
}

/// One ```sh block's lines, in order, in a freshly seeded emulator; the failures.
fn run_block(lines: &[String]) -> Vec<String> {
    let c = TestCluster::start();
    c.emulator_for("README lines use fixed namespaces and -A");
    seed_readme_world(&c);
    let work = c.dir.path().join("work");
    write_chart(&work.join("chart"));
    // `kubectl werf` finds the plugin on PATH; `helm` is the real helm 3; `helm werf-releases` is the
    // plugin installed from this checkout.
    let bin = c.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(helm_bin(3), bin.join("helm")).unwrap();
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_kubectl-werf")).parent().unwrap().to_path_buf();
    let path = path_with(&[bin, ours]);
    if lines.iter().any(|l| l.contains("helm werf-releases")) {
        let install = common::run(c.helm(3).env("PATH", &path).args(["plugin", "install"]).arg(repo_root()));
        assert!(install.status.success(), "helm plugin install: {}", String::from_utf8_lossy(&install.stderr));
    }
    let sh = |line: &str| {
        // the same isolated environment as c.helm()/c.werf(), plus PATH
        let cmd: Command = c.helm(3);
        let envs: Vec<(std::ffi::OsString, Option<std::ffi::OsString>)> =
            cmd.get_envs().map(|(k, v)| (k.to_owned(), v.map(|v| v.to_owned()))).collect();
        let mut sh = Command::new("sh");
        for (k, v) in envs {
            match v {
                Some(v) => sh.env(k, v),
                None => sh.env_remove(k),
            };
        }
        sh.env("PATH", &path).current_dir(&work).arg("-c").arg(line).stdin(std::process::Stdio::null());
        common::run(&mut sh)
    };
    let mut failures = Vec::new();
    for line in lines {
        let out = sh(line);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if out.status.code() == Some(2) && text.contains("no terminal to ask on") {
            // asks on a terminal, as the README says; with --yes it does the job
            let again = format!("{} --yes", without_comment(line));
            let out = sh(&again);
            if !out.status.success() {
                failures.push(format!(
                    "{again}\n  exit {:?}\n{}{}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            continue;
        }
        // A line whose comment ends in `(exit N)` documents a verb that reports a finding by its exit code.
        let expected = expected_exit(line);
        if out.status.code() != Some(expected) {
            failures.push(format!("{line}\n  exit {:?}, the README says {expected}\n{text}", out.status.code()));
        }
        if line.starts_with("kubectl werf release-name --project myproject --env Production") {
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "RELEASE    myproject-production-9ca773a6\nNAMESPACE  myproject-production-9ca773a6\n",
                "the output the README shows"
            );
        }
    }
    failures
}

/// Issue 19 item 15: the demo's migrate step ended in "7 release(s) blocked"; the tour now succeeds.
#[test]
fn demo_tour_runs_without_a_failing_step() {
    let out = Command::new(repo_root().join("scripts/demo")).current_dir(repo_root()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("== building kubectl-werf and the sandbox"), "build progress is visible: {stderr}");
    assert!(!stdout.contains("blocked") && !stderr.contains("error:"), "{stdout}\n{stderr}");
    assert!(stdout.contains("shop: migrated"), "{stdout}");
}
