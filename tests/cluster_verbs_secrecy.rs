//! Nothing sensitive leaves the tool unless asked for: with the most verbose logging (`-v 9`), every
//! verb that reads a release keeps the release's values and the user's credentials out of stdout and
//! stderr; `releases get values` / `get all` print the values because that is what they are for.
//! Runs unchanged against a real cluster (credentials taken from whatever the kubeconfig holds).

mod common;
mod release_fixtures;

use std::collections::BTreeMap;
use std::process::Output;

use common::{TestCluster, fixture, run};
use kubectl_werf::release::helm2;
use kubectl_werf::storage::codec::{self, DecodeLimits};
use kubectl_werf::storage::{Helm2Storage, Helm3Driver};
use kubectl_werf::storage::{Helm2Store, Helm3Store, ObjectKind};
use serde_json::json;

/// Strings of the kubeconfig that are credentials: tokens, passwords, client keys and certificates, read
/// from the parsed file (a real server's kubeconfig writes `user: {token: ...}` in flow style, which a
/// line-by-line reading missed). Never empty: the leak checks below would prove nothing.
fn credentials(c: &TestCluster) -> Vec<String> {
    let kc: serde_json::Value = serde_saphyr::from_str(&std::fs::read_to_string(&c.kubeconfig).unwrap()).unwrap();
    let mut out = Vec::new();
    for user in kc["users"].as_array().expect("users in the kubeconfig") {
        for key in ["token", "password", "client-key-data", "client-certificate-data"] {
            if let Some(v) = user["user"][key].as_str() {
                assert!(v.len() >= 8, "a {key} this short cannot be searched for: {}", c.kubeconfig.display());
                out.push(v.to_string());
            }
        }
    }
    assert!(!out.is_empty(), "no credential in {}", c.kubeconfig.display());
    out
}

fn both(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn values_and_credentials_stay_out_of_output_and_logs() {
    let c = TestCluster::start();
    // The shop manifest holds a Widget: with its CRD served, the adopt preflight below has nothing Helm
    // would refuse and exits 0 (without it, `would fail: Widget/shop`, exit 1), on any cluster.
    c.install_widget_crd();
    let ns = c.namespace("secrecy");
    let tiller = c.namespace("secrecy-tiller");
    let unique = format!("s3cret-{}", ns.rsplit('-').next().unwrap());
    let password = format!("pw-{unique}");

    // A Helm 3 release whose user values hold a password.
    c.seed_file(&fixture("helm3/fx-helm3-shop-secrets.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
    let h3 = Helm3Store::new(c.client.clone(), Helm3Driver::Secret, DecodeLimits::default());
    let latest = c.rt.block_on(h3.history(&ns, "shop")).unwrap().records.into_iter().max_by_key(|r| r.release.version).unwrap();
    let mut vault = latest.release.clone();
    vault.name = "vault".into();
    vault.version = 1;
    vault.namespace = ns.clone();
    vault.config.insert("database".into(), json!({"password": password}));
    c.rt.block_on(h3.create(&vault)).unwrap();

    // A Helm 2 release with the same secret in its values.
    let synthetic = release_fixtures::load("helm2-synthetic").into_iter().find(|r| r.name == "shop.v1").unwrap();
    let mut old: helm2::Release = codec::decode_helm2(&synthetic.payload, &DecodeLimits::default()).unwrap();
    old.name = "oldvault".into();
    old.namespace = ns.clone();
    old.config.get_or_insert_with(Default::default).raw = format!("database:\n  password: {password}\n");
    let h2 = Helm2Store::new(c.client.clone(), &tiller, Helm2Storage::Auto, DecodeLimits::default());
    c.rt.block_on(h2.create(ObjectKind::ConfigMap, &old)).unwrap();

    let secrets = credentials(&c);
    let export_dir = c.dir.path().join("export");
    let export = export_dir.to_str().unwrap();
    let quiet_runs: Vec<Vec<&str>> = vec![
        vec!["releases", "list", "-n", &ns, "-o", "json"],
        vec!["releases", "list", "-n", &ns, "-o", "yaml", "--tiller-namespace", &tiller],
        vec!["releases", "list", "-n", &ns],
        vec!["releases", "history", "vault", "-n", &ns, "-o", "json"],
        vec!["releases", "status", "vault", "-n", &ns],
        vec!["releases", "get", "manifest", "vault", "-n", &ns],
        vec!["releases", "get", "hooks", "vault", "-n", &ns],
        vec!["releases", "get", "notes", "vault", "-n", &ns],
        vec!["releases", "get", "metadata", "vault", "-n", &ns, "-o", "json"],
        vec!["releases", "history", "oldvault", "-n", &ns, "--tiller-namespace", &tiller],
        vec!["releases", "export", "-n", &ns, "--dir", export],
        vec!["migrate2to3", "oldvault", "--tiller-namespace", &tiller, "--dry-run"],
        vec!["annotate", "vault", "-n", &ns, "--add-annotation", "team=core", "--dry-run"],
        vec!["adopt", "--from-release", "vault", "-n", &ns, "--dry-run"],
    ];
    for args in &quiet_runs {
        let out = run(c.werf().args(args).args(["-v", "9"]));
        let text = both(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}:\n{text}");
        assert!(!text.contains(&password), "{args:?} printed a release value:\n{text}");
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "{args:?} printed a credential");
        }
        // Each run did real work (and logged its requests), so the absence above means something.
        assert!(String::from_utf8_lossy(&out.stderr).contains("GET"), "{args:?}: no request log at -v 9:\n{text}");
    }

    // Asked for: the values are printed, still without credentials. (`status -o json` is helm's whole
    // release object, config included, so it prints them as helm does.)
    for args in [
        vec!["releases", "status", "vault", "-n", &ns, "-o", "json"],
        vec!["releases", "get", "values", "vault", "-n", &ns],
        vec!["releases", "get", "values", "vault", "-n", &ns, "-a", "-o", "json"],
        vec!["releases", "get", "all", "vault", "-n", &ns],
        vec!["releases", "get", "values", "oldvault", "-n", &ns, "--tiller-namespace", &tiller],
    ] {
        let out = run(c.werf().args(&args).args(["-v", "9"]));
        assert!(out.status.success(), "{args:?}: {}", both(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains(&password), "{args:?} should print the values");
        assert!(!String::from_utf8_lossy(&out.stderr).contains(&password), "{args:?} logged a value");
        for s in &secrets {
            assert!(!both(&out).contains(s.as_str()), "{args:?} printed a credential");
        }
    }
}

/// A kubeconfig holding a client certificate and key (besides the token): at `-v 9` neither the key
/// nor the certificate, in PEM or in the kubeconfig's base64, shows up in any output. The certificate
/// is self-signed: the server (emulator or real) does not take it for a user, the token still
/// authenticates, but the client sends it in every TLS handshake.
#[test]
fn client_keys_never_reach_output_or_logs() {
    let c = TestCluster::start();
    let (cert, key) = kube_emulator::client_identity_pem().unwrap();
    let b64 = |s: &str| codec::encode_base64(s.as_bytes());
    let mut kc: serde_json::Value = serde_saphyr::from_str(&std::fs::read_to_string(&c.kubeconfig).unwrap()).unwrap();
    let current = kc["current-context"].as_str().unwrap().to_string();
    let user_name = kc["contexts"].as_array().unwrap().iter().find(|x| x["name"] == current.as_str()).unwrap()["context"]["user"].clone();
    let user = kc["users"].as_array_mut().unwrap().iter_mut().find(|x| x["name"] == user_name).unwrap();
    user["user"]["client-certificate-data"] = b64(&cert).into();
    user["user"]["client-key-data"] = b64(&key).into();
    let token = user["user"]["token"].as_str().expect("the kubeconfig's user has a token").to_string();
    let yaml = serde_json::to_string_pretty(&kc).unwrap();
    let path = c.dir.path().join("with-client-key");
    std::fs::write(&path, &yaml).unwrap();
    let ns = c.namespace("keys");
    c.seed_file(&fixture("helm3/fx-helm3-shop-secrets.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
    let key_body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    let cert_body: String = cert.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut secrets = vec![b64(&cert), b64(&key), token];
    // Any 40-character piece of the PEM bodies would betray them.
    for body in [&key_body, &cert_body] {
        secrets.extend(body.as_bytes().chunks(40).filter(|c| c.len() == 40).map(|c| String::from_utf8(c.to_vec()).unwrap()));
    }
    for args in [vec!["releases", "list", "-n", &ns], vec!["releases", "history", "shop", "-n", &ns], vec!["version"]] {
        let out = run(c.werf().env("KUBECONFIG", &path).args(&args).args(["-v", "9"]));
        assert!(out.status.success(), "{args:?}: {}", both(&out));
        let text = both(&out);
        assert!(text.contains("shop") || args == ["version"], "{args:?} did its work: {text}");
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "{args:?} printed key material");
        }
    }
}

/// The current context's server, CA data and token, read from the test kubeconfig.
fn server_ca_token(c: &TestCluster) -> (String, String, String) {
    let kc: serde_json::Value = serde_saphyr::from_str(&std::fs::read_to_string(&c.kubeconfig).unwrap()).unwrap();
    let context = kc["current-context"].as_str().unwrap();
    let find = |list: &str, name: &str| kc[list].as_array().unwrap().iter().find(|e| e["name"] == name).cloned().unwrap();
    let ctx = find("contexts", context)["context"].clone();
    let cluster = find("clusters", ctx["cluster"].as_str().unwrap())["cluster"].clone();
    let user = find("users", ctx["user"].as_str().unwrap())["user"].clone();
    (
        cluster["server"].as_str().unwrap().to_string(),
        cluster["certificate-authority-data"].as_str().unwrap().to_string(),
        user["token"].as_str().unwrap().to_string(),
    )
}

/// werf's credential variables (`WERF_KUBE_TOKEN`, `WERF_KUBE_CONFIG_BASE64` and its aliases), exec
/// credential plugins (their token, and whatever a failing one prints) and garbled inputs: at `-v 9`,
/// on success and on failure, none of it reaches stdout, stderr, hints or logs.
#[test]
fn werf_variables_exec_plugins_and_base64_kubeconfigs_stay_out_of_output() {
    use base64::Engine;
    let c = TestCluster::start();
    let ns = c.namespace("secrecy-werf");
    c.seed_file(&fixture("helm3/fx-helm3-shop-secrets.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
    let (server, ca_b64, token) = server_ca_token(&c);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, base64::engine::general_purpose::STANDARD.decode(&ca_b64).unwrap()).unwrap();
    let kubeconfig_text = std::fs::read_to_string(&c.kubeconfig).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&kubeconfig_text);
    let plugin_secret = format!("plugin-said-{}", ns.rsplit('-').next().unwrap());
    let script = |path: &std::path::Path, body: &str| {
        std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    let good_plugin = dir.path().join("good-plugin");
    script(
        &good_plugin,
        &format!(
            "echo '{plugin_secret}' >&2\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{token}\",\"expirationTimestamp\":\"2000-01-01T00:00:00Z\"}}}}'"
        ),
    );
    let bad_plugin = dir.path().join("bad-plugin");
    script(&bad_plugin, &format!("echo '{{\"status\":{{\"token\":\"{token}\"}}}}'\necho '{plugin_secret}' >&2\nexit 1"));
    let exec_kubeconfig = |plugin: &std::path::Path| {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: x\nclusters:\n- name: k\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca_b64}\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: {}\ncontexts:\n- name: x\n  context:\n    cluster: k\n    user: u\n",
            plugin.display()
        )
    };
    let (good_kc, bad_kc) = (dir.path().join("good-kc"), dir.path().join("bad-kc"));
    std::fs::write(&good_kc, exec_kubeconfig(&good_plugin)).unwrap();
    std::fs::write(&bad_kc, exec_kubeconfig(&bad_plugin)).unwrap();
    let garbled = base64::engine::general_purpose::STANDARD.encode(format!("{kubeconfig_text}\n  - [ {token}"));
    let wrong_token = format!("wrong-{token}");
    let path = |p: &std::path::Path| p.display().to_string();

    type Case<'a> = (&'a str, Vec<(&'a str, String)>, bool);
    let cases: Vec<Case> = vec![
        (
            "WERF_KUBE_TOKEN + API server + CA path",
            vec![("WERF_KUBE_TOKEN", token.clone()), ("WERF_KUBE_API_SERVER", server.clone()), ("WERF_KUBE_CA_PATH", path(&ca))],
            true,
        ),
        ("WERF_KUBE_CONFIG_BASE64", vec![("WERF_KUBE_CONFIG_BASE64", b64.clone())], true),
        ("WERF_KUBECONFIG_BASE64", vec![("WERF_KUBECONFIG_BASE64", b64.clone())], true),
        ("KUBECONFIG_BASE64", vec![("KUBECONFIG_BASE64", b64.clone())], true),
        ("an exec plugin's token", vec![("KUBECONFIG", path(&good_kc))], true),
        ("a failing exec plugin", vec![("KUBECONFIG", path(&bad_kc))], false),
        ("a garbled base64 kubeconfig", vec![("WERF_KUBE_CONFIG_BASE64", garbled.clone())], false),
        (
            "a wrong WERF_KUBE_TOKEN",
            vec![("WERF_KUBE_TOKEN", wrong_token.clone()), ("WERF_KUBE_API_SERVER", server.clone()), ("WERF_KUBE_CA_PATH", path(&ca))],
            false,
        ),
    ];
    let secrets = [token.clone(), b64.clone(), garbled.clone(), plugin_secret.clone(), wrong_token.clone()];
    for (what, envs, succeeds) in &cases {
        for args in [
            vec!["releases", "list", "-n", &ns],
            vec!["releases", "history", "shop", "-n", &ns, "-o", "json"],
            vec!["releases", "status", "shop", "-n", &ns],
            vec!["version"],
        ] {
            let mut cmd = c.werf();
            cmd.env_remove("KUBECONFIG").env("HOME", &home).args(&args).args(["-v", "9"]);
            for (k, v) in envs {
                cmd.env(k, v);
            }
            let out = run(&mut cmd);
            let text = both(&out);
            if *succeeds {
                assert!(out.status.success(), "{what}: {args:?}: {text}");
                assert!(String::from_utf8_lossy(&out.stderr).contains("GET"), "{what}: {args:?}: no request log at -v 9");
            } else {
                assert_eq!(out.status.code(), Some(1), "{what}: {args:?}: {text}");
            }
            for s in &secrets {
                assert!(!text.contains(s.as_str()), "{what}: {args:?} printed a credential or the plugin's output:\n{text}");
            }
        }
    }
}
