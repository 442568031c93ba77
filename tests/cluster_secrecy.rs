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
use kubectl_werf::settings::{Helm2Storage, Helm3Driver};
use kubectl_werf::storage::codec::{self, DecodeLimits};
use kubectl_werf::storage::{Helm2Store, Helm3Store, ObjectKind};
use serde_json::json;

/// Strings of the kubeconfig that are credentials: tokens, passwords, client keys and certificates.
fn credentials(c: &TestCluster) -> Vec<String> {
    let text = std::fs::read_to_string(&c.kubeconfig).unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim().trim_start_matches("- ");
        for key in ["token:", "password:", "client-key-data:", "client-certificate-data:"] {
            if let Some(v) = line.strip_prefix(key) {
                let v = v.trim().trim_matches('"');
                if v.len() >= 8 {
                    out.push(v.to_string());
                }
            }
        }
    }
    out
}

fn both(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn values_and_credentials_stay_out_of_output_and_logs() {
    let c = TestCluster::start();
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
    assert!(!secrets.is_empty() || c.is_real(), "the emulator's kubeconfig carries a token");
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
