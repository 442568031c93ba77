//! The command line as users meet it: help, exit codes, naming, Helm mode, version without a cluster.

use std::process::Command;

fn werf() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-werf"));
    for (k, _) in std::env::vars() {
        if k.starts_with("HELM_") || k.starts_with("WERF_") || k == "KUBECONFIG" || k == "TILLER_NAMESPACE" {
            cmd.env_remove(k);
        }
    }
    let home = std::env::temp_dir().join("kubectl-werf-cli-tests-home");
    std::fs::create_dir_all(&home).unwrap();
    cmd.env("HOME", home).env("NO_COLOR", "1");
    cmd
}

fn output(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn help_shows_the_command_tree_and_kubectl_flags() {
    let (code, stdout, _) = output(werf().arg("--help"));
    assert_eq!(code, 0);
    assert!(stdout.contains("Usage: kubectl werf"), "{stdout}");
    for expected in [
        "version",
        "release-name",
        "--kubeconfig",
        "--context",
        "--namespace",
        "--as-group",
        "--request-timeout",
        "--insecure-skip-tls-verify",
        "Examples:",
    ] {
        assert!(stdout.contains(expected), "help lacks {expected}:\n{stdout}");
    }
}

#[test]
fn helm_mode_usage_says_helm() {
    let (code, _, stderr) = output(werf().env("HELM_PLUGIN_NAME", "werf-releases").arg("--bogus"));
    assert_eq!(code, 2);
    assert!(stderr.contains("helm werf-releases"), "{stderr}");
    // Helm runs `kubectl-werf releases list`; its usage must read as the user typed it.
    let (code, stdout, _) = output(werf().env("HELM_PLUGIN_NAME", "werf-releases").args(["releases", "list", "--help"]));
    assert_eq!(code, 0);
    assert!(stdout.contains("Usage: helm werf-releases list [OPTIONS]"), "{stdout}");
    let (_, stdout, _) = output(werf().env("HELM_PLUGIN_NAME", "werf-releases").args(["releases", "get", "manifest", "--help"]));
    assert!(stdout.contains("Usage: helm werf-releases get manifest [OPTIONS] <NAME>"), "{stdout}");
    let (_, stdout, _) = output(werf().args(["releases", "list", "--help"]));
    assert!(stdout.contains("Usage: kubectl werf releases list [OPTIONS]"), "{stdout}");
}

#[test]
fn usage_errors_exit_2_and_say_why() {
    let (code, _, stderr) = output(werf().arg("no-such-verb"));
    assert_eq!(code, 2);
    assert!(stderr.contains("unrecognized subcommand 'no-such-verb'"), "{stderr}");
    let (code, _, stderr) = output(werf().args(["release-name", "--project", "a b", "--no-slug"]));
    assert_eq!(code, 2);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("\"a b\""), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
}

#[test]
fn release_name_matches_werf() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, _) =
        output(werf().current_dir(dir.path()).args(["release-name", "--project", "myproject", "--env", "Production", "--release-only"]));
    assert_eq!(code, 0);
    assert_eq!(stdout, "myproject-production-9ca773a6\n");
    let (_, stdout, _) =
        output(werf().current_dir(dir.path()).env("WERF_ENV", "stage").args(["release-name", "--project", "symfony-demo", "-o", "json"]));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["release"], "symfony-demo-stage");
    assert_eq!(v["namespace"], "symfony-demo-stage");
    // In a werf project directory werf.yaml names the release.
    std::fs::write(dir.path().join("werf.yaml"), "project: shop\nconfigVersion: 1\ndeploy:\n  helmRelease: \"[[ project ]]-[[ env ]]-app\"\n  namespace: \"ns-[[ env ]]\"\n---\nimage: {{ .Env }}\n").unwrap();
    let (code, stdout, stderr) = output(werf().current_dir(dir.path()).args(["release-name", "--env", "Prod"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("RELEASE    shop-prod-app-"), "{stdout}");
    assert!(stdout.contains("NAMESPACE  ns-prod-"), "{stdout}");
}

#[test]
fn version_without_a_cluster_still_prints_the_client() {
    let (code, stdout, _) = output(werf().args(["version", "--client", "-o", "json"]));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["clientVersion"]["version"], format!("v{}", env!("CARGO_PKG_VERSION")));
    assert!(v["clientVersion"]["gitCommit"].as_str().is_some_and(|c| !c.is_empty()));
}
