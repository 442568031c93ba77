//! Shell completion through the real kubectl (1.26+ plugin completion): kubectl runs
//! `kubectl_complete-werf` from PATH, which reads release names and namespaces from the cluster.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{TestCluster, fixture, run_ok};

/// Our binaries' directory first on PATH, so kubectl finds kubectl-werf and kubectl_complete-werf.
fn with_our_path(cmd: &mut Command) -> &mut Command {
    let ours = Path::new(env!("CARGO_BIN_EXE_kubectl_complete-werf")).parent().unwrap().to_path_buf();
    assert_eq!(Some(ours.as_path()), Path::new(env!("CARGO_BIN_EXE_kubectl-werf")).parent());
    let mut paths = vec![ours];
    paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    cmd.env("PATH", std::env::join_paths(paths).unwrap())
}

fn lines(out: &str) -> Vec<&str> {
    out.lines().collect()
}

#[test]
fn kubectl_completes_verbs_release_names_and_namespaces() {
    let c = TestCluster::start();
    let ns = c.namespace("compl");
    c.seed_file(&fixture("helm3/fx-helm3-shop-secrets.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));

    let out = run_ok(with_our_path(c.kubectl().args(["__complete", "werf", "releases", "history", "-n", &ns, ""])));
    let l = lines(&out);
    assert!(l.contains(&"shop"), "{out}");
    assert_eq!(l.last(), Some(&":4"), "{out}");

    // Prefix filtering, and the glued `--namespace=` form.
    let out = run_ok(with_our_path(c.kubectl().args(["__complete", "werf", "annotate", &format!("--namespace={ns}"), "sh"])));
    assert_eq!(lines(&out), vec!["shop", ":4"], "{out}");
    let out = run_ok(with_our_path(c.kubectl().args(["__complete", "werf", "releases", "history", "-n", &ns, "x"])));
    assert_eq!(lines(&out), vec![":4"], "{out}");

    let out = run_ok(with_our_path(c.kubectl().args(["__complete", "werf", "releases", "list", "-n", "kw-compl"])));
    let l = lines(&out);
    assert!(l.contains(&ns.as_str()), "{out}");
    assert_eq!(l.last(), Some(&":4"), "{out}");

    let out = run_ok(with_our_path(c.kubectl().args(["__complete", "werf", "rel"])));
    assert_eq!(lines(&out), vec!["release-name", "releases", ":4"], "{out}");

    // The hidden verb answers the same as the completion binary.
    let direct = run_ok(with_our_path(c.werf().args(["__complete", "releases", "history", "-n", &ns, ""])));
    assert!(lines(&direct).contains(&"shop"), "{direct}");
}

#[test]
fn unreachable_cluster_gives_no_candidates_and_no_errors() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n    namespace: x\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: t\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl_complete-werf"))
        .args(["releases", "history", ""])
        .env("KUBECONFIG", &kubeconfig)
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), ":4\n");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    // Context names come from the kubeconfig alone.
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl_complete-werf"))
        .args(["version", "--context", ""])
        .env("KUBECONFIG", &kubeconfig)
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "c\n:4\n");
}

#[test]
fn completion_scripts_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = Command::new(env!("CARGO_BIN_EXE_kubectl-werf")).args(["completion", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(!script.is_empty() && script.contains("kubectl-werf"), "{shell}: {script}");
    }
    let help = Command::new(env!("CARGO_BIN_EXE_kubectl-werf")).args(["completion", "--help"]).output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("kubectl_complete-werf") && help.contains("fish"), "{help}");
}
