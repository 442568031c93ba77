//! Reaching the API server as kubectl does: kubeconfig files, flags, Helm's plugin environment,
//! verbosity that never shows credentials.

mod common;

use common::{TestCluster, run, run_ok};

fn server_version(c: &TestCluster) -> String {
    let out = run_ok(c.kubectl().args(["version", "-o", "json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["serverVersion"]["gitVersion"].as_str().unwrap().to_string()
}

/// Where the test's server is and how to reach it without a kubeconfig: its URL, the admin's bearer
/// token and its CA certificate (PEM), all read from the test cluster's kubeconfig (the emulator's or a
/// real server's alike).
struct Endpoint {
    url: String,
    token: String,
    ca_pem: String,
}

fn endpoint(c: &TestCluster) -> Endpoint {
    let kc: serde_json::Value = serde_saphyr::from_str(&std::fs::read_to_string(&c.kubeconfig).unwrap()).unwrap();
    let current = kc["current-context"].as_str().unwrap();
    let context = kc["contexts"].as_array().unwrap().iter().find(|x| x["name"] == current).unwrap();
    let cluster = kc["clusters"].as_array().unwrap().iter().find(|x| x["name"] == context["context"]["cluster"]).unwrap();
    let user = kc["users"].as_array().unwrap().iter().find(|x| x["name"] == context["context"]["user"]).unwrap();
    let ca = cluster["cluster"]["certificate-authority-data"].as_str().expect("the kubeconfig carries its CA");
    let ca_pem = String::from_utf8(kubectl_werf::storage::codec::decode_base64(ca.as_bytes()).unwrap()).unwrap();
    let token = user["user"]["token"].as_str().expect("the kubeconfig's user has a token").to_string();
    assert!(!token.is_empty() && !ca_pem.is_empty(), "a token and a CA in {}", c.kubeconfig.display());
    Endpoint { url: cluster["cluster"]["server"].as_str().unwrap().to_string(), token, ca_pem }
}

/// Every secret the kubeconfig's users hold (tokens, passwords, client keys), read from the parsed file
/// (flow-style `user: {token: ...}` as well as block style); never empty, or a leak check would be vacuous.
fn kubeconfig_secrets(c: &TestCluster) -> Vec<String> {
    let kc: serde_json::Value = serde_saphyr::from_str(&std::fs::read_to_string(&c.kubeconfig).unwrap()).unwrap();
    let mut secrets = Vec::new();
    for user in kc["users"].as_array().expect("users in the kubeconfig") {
        for key in ["token", "password", "client-key-data"] {
            if let Some(v) = user["user"][key].as_str() {
                assert!(!v.is_empty(), "empty {key} in {}", c.kubeconfig.display());
                secrets.push(v.to_string());
            }
        }
    }
    assert!(!secrets.is_empty(), "no credential in {}", c.kubeconfig.display());
    secrets
}

#[test]
fn version_reports_the_server() {
    let c = TestCluster::start();
    let expected = server_version(&c);
    let out = run_ok(c.werf().args(["version", "-o", "json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["serverVersion"]["gitVersion"], expected.as_str());
    let table = run_ok(c.werf().arg("version"));
    assert!(table.contains(&format!("Server Version: {expected}")), "{table}");
}

#[test]
fn verbose_logging_shows_requests_but_never_the_token() {
    let c = TestCluster::start();
    let secrets = kubeconfig_secrets(&c);
    let out = run(c.werf().args(["version", "-v", "6"]));
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/version"), "-v 6 should log the request:\n{stderr}");
    // Whatever credential the kubeconfig holds must not appear.
    for secret in &secrets {
        assert!(!stderr.contains(secret.as_str()), "a credential of the kubeconfig leaked into the log");
    }
    let quiet = run(c.werf().arg("version"));
    assert!(quiet.status.success());
    assert!(String::from_utf8_lossy(&quiet.stderr).is_empty(), "no logs without -v");
}

#[test]
fn several_kubeconfig_files_and_context_selection() {
    let c = TestCluster::start();
    let expected = server_version(&c);
    // A first file whose current context points nowhere useful; the real one second.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("first");
    std::fs::write(
        &broken,
        "apiVersion: v1\nkind: Config\ncurrent-context: nowhere\nclusters:\n- name: nowhere\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: nowhere\n  context:\n    cluster: nowhere\n    user: nobody\nusers:\n- name: nobody\n  user: {}\n",
    )
    .unwrap();
    let kc: serde_json::Value = serde_saphyr::from_str(&std::fs::read_to_string(&c.kubeconfig).unwrap()).unwrap();
    let real_context = kc["current-context"].as_str().unwrap().to_string();
    let list = std::env::join_paths([broken.clone(), c.kubeconfig.clone()]).unwrap();
    // The first file's current-context wins, so the request goes nowhere: a one-line error.
    let out = run(c.werf().env("KUBECONFIG", &list).args(["version", "-o", "json"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.get("serverVersion").is_none());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: cannot reach the API server: cannot connect to the API server https://127.0.0.1:1: Connection refused (os error 111)\n"
    );
    // doctor, which reads several storages: the server named once, no table resting on nothing.
    let out = run(c.werf().env("KUBECONFIG", &list).args(["releases", "doctor", "-A"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot connect to the API server https://127.0.0.1:1"), "{stderr}");
    // --context picks the real cluster out of the merged files.
    let out = run_ok(c.werf().env("KUBECONFIG", &list).args(["version", "-o", "json", "--context", &real_context]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["serverVersion"]["gitVersion"], expected.as_str());
    // --kubeconfig overrides $KUBECONFIG entirely.
    let out = run_ok(c.werf().env("KUBECONFIG", &broken).args(["version", "-o", "json", "--kubeconfig"]).arg(&c.kubeconfig));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["serverVersion"]["gitVersion"], expected.as_str());
}

#[test]
fn flags_and_helm_environment_reach_the_server() {
    let c = TestCluster::start();
    let emu = endpoint(&c);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &emu.ca_pem).unwrap();
    let empty_home = dir.path().join("home");
    std::fs::create_dir_all(&empty_home).unwrap();
    // kubectl-style flags only, no kubeconfig at all.
    let out = run_ok(
        c.werf()
            .env_remove("KUBECONFIG")
            .env("HOME", &empty_home)
            .args(["version", "-o", "json", "--server", &emu.url, "--token", &emu.token, "--certificate-authority"])
            .arg(&ca),
    );
    assert!(out.contains("serverVersion"), "{out}");
    // The same through Helm's plugin environment.
    let out = run_ok(
        c.werf()
            .env_remove("KUBECONFIG")
            .env("HOME", &empty_home)
            .env("HELM_PLUGIN_NAME", "werf-releases")
            .env("HELM_KUBEAPISERVER", &emu.url)
            .env("HELM_KUBETOKEN", &emu.token)
            .env("HELM_KUBECAFILE", &ca)
            .args(["version", "-o", "json"]),
    );
    assert!(out.contains("serverVersion"), "{out}");
    // Without the CA, verification fails clearly; --insecure-skip-tls-verify is honoured when asked.
    let out = run(c
        .werf()
        .env_remove("KUBECONFIG")
        .env("HOME", &empty_home)
        .args(["version", "-o", "json", "--server", &emu.url, "--token", &emu.token]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error: cannot reach the API server"), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "an unreachable server fails `version`, as kubectl's");
    assert!(stderr.contains("certificate"), "the reason is the certificate: {stderr}");
    let out = run_ok(c.werf().env_remove("KUBECONFIG").env("HOME", &empty_home).args([
        "version",
        "-o",
        "json",
        "--server",
        &emu.url,
        "--token",
        &emu.token,
        "--insecure-skip-tls-verify",
    ]));
    assert!(out.contains("serverVersion"), "{out}");
    // A wrong token is the server's 401, said in one line.
    let out = run(c
        .werf()
        .env_remove("KUBECONFIG")
        .env("HOME", &empty_home)
        .args(["version", "--server", &emu.url, "--token", "wrong", "--certificate-authority"])
        .arg(&ca));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: cannot reach the API server: Unauthorized\n",
        "one line, the token not echoed"
    );
}

/// Every server has its own CA (each emulator instance makes one): trusting another server's CA (from a
/// file, from `HELM_KUBECAFILE`, or from that server's kubeconfig) is refused like any unknown
/// authority, and accepted only with --insecure-skip-tls-verify.
#[test]
fn another_servers_ca_is_refused() {
    let c = TestCluster::start();
    let emu = endpoint(&c);
    let other = kube_emulator::Emulator::start_blocking().expect("an emulator, for a CA of its own");
    assert_ne!(emu.ca_pem, other.ca_certificate_pem(), "two servers, two CAs");
    let dir = tempfile::tempdir().unwrap();
    let (right, wrong) = (dir.path().join("right.pem"), dir.path().join("wrong.pem"));
    std::fs::write(&right, &emu.ca_pem).unwrap();
    other.write_ca_certificate(&wrong).unwrap();
    let empty_home = dir.path().join("home");
    std::fs::create_dir_all(&empty_home).unwrap();
    let list = |ca: &std::path::Path, extra: &[&str]| {
        run(c
            .werf()
            .env_remove("KUBECONFIG")
            .env("HOME", &empty_home)
            .args(["releases", "list", "-A", "-o", "json", "--server", &emu.url, "--token", &emu.token])
            .arg("--certificate-authority")
            .arg(ca)
            .args(extra))
    };
    let ok = list(&right, &[]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    // A command that needs the server fails (exit 1) at once (a refused certificate is not retried)
    // and says why in one line, with what to check.
    let refused = list(&wrong, &[]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: ")
            && stderr.contains("certificate")
            && stderr.contains("--certificate-authority")
            && stderr.lines().count() == 1,
        "one clear line: {stderr}"
    );
    let unreachable = |out: std::process::Output| {
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!String::from_utf8_lossy(&out.stdout).contains("serverVersion"), "{stderr}");
        assert!(stderr.contains("cannot reach the API server") && stderr.contains("certificate"), "{stderr}");
        assert_eq!(out.status.code(), Some(1), "{stderr}");
    };
    // The same through HELM_KUBECAFILE.
    unreachable(run(c
        .werf()
        .env_remove("KUBECONFIG")
        .env("HOME", &empty_home)
        .env("HELM_PLUGIN_NAME", "werf-releases")
        .env("HELM_KUBEAPISERVER", &emu.url)
        .env("HELM_KUBETOKEN", &emu.token)
        .env("HELM_KUBECAFILE", &wrong)
        .args(["version", "-o", "json"])));
    // The other instance's own kubeconfig, pointed at this server: still its CA, still refused ...
    let foreign = dir.path().join("foreign-kubeconfig");
    std::fs::write(&foreign, other.kubeconfig_yaml_for(&emu.token, None).replace(&other.url(), &emu.url)).unwrap();
    unreachable(run(c.werf().env("KUBECONFIG", &foreign).args(["version", "-o", "json"])));
    // ... while this instance's own kubeconfig works.
    assert!(run_ok(c.werf().env("KUBECONFIG", &c.kubeconfig).args(["version", "-o", "json"])).contains("serverVersion"));
    // Skipping verification is honoured only when asked for.
    let skipped = list(&wrong, &["--insecure-skip-tls-verify"]);
    assert!(skipped.status.success(), "{}", String::from_utf8_lossy(&skipped.stderr));
}
