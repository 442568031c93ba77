//! How flags and werf's variables shape the client configuration (no server needed): the
//! `--tls-server-name`, `--client-certificate`/`--client-key` and `--as-uid` overrides, and werf's
//! base64 kubeconfig and kubeconfig path variables in their order.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use kubectl_werf::cli::ConnectionArgs;
use kubectl_werf::cluster::resolve_config;
use kubectl_werf::settings::{ConnectionSettings, InvocationMode};
use secrecy::ExposeSecret;

fn kubeconfig(server: &str, token: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n    server: {server}\nusers:\n- name: u\n  user:\n    token: {token}\ncontexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n"
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn env(pairs: &[(&str, String)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn settings(args: &ConnectionArgs, env: &HashMap<String, String>) -> ConnectionSettings {
    ConnectionSettings::resolve(args, InvocationMode::Kubectl, env).unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn tls_server_name_client_certificate_and_as_uid_reach_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let kc = write(dir.path(), "kc", &kubeconfig("https://127.0.0.1:1001", "file-token"));
    let cert = write(dir.path(), "c.crt", "cert");
    let key = write(dir.path(), "c.key", "key");
    let e = env(&[("KUBECONFIG", kc.display().to_string())]);
    let args = ConnectionArgs {
        tls_server_name: Some("api.internal".into()),
        client_certificate: Some(cert.clone()),
        client_key: Some(key.clone()),
        as_user: Some("bob".into()),
        as_uid: Some("uid-1".into()),
        ..Default::default()
    };
    let config = rt().block_on(resolve_config(&settings(&args, &e), &e)).unwrap();
    assert_eq!(config.tls_server_name.as_deref(), Some("api.internal"));
    assert_eq!(config.auth_info.client_certificate.as_deref(), Some(cert.to_str().unwrap()));
    assert_eq!(config.auth_info.client_key.as_deref(), Some(key.to_str().unwrap()));
    // The user's token stays: kubectl layers the certificate over the user entry.
    assert_eq!(config.auth_info.token.as_ref().unwrap().expose_secret(), "file-token");
    assert_eq!(config.auth_info.impersonate.as_deref(), Some("bob"));
    assert_eq!(config.auth_info.impersonate_uid.as_deref(), Some("uid-1"));

    // --as-uid alone is refused with a line that says why.
    let args = ConnectionArgs { as_uid: Some("uid-1".into()), ..Default::default() };
    let err = rt().block_on(resolve_config(&settings(&args, &e), &e)).unwrap_err();
    assert!(err.to_string().contains("--as-uid") && err.to_string().contains("--as"), "{err}");

    // A missing client key is named.
    let args = ConnectionArgs { client_key: Some(dir.path().join("nope.key")), ..Default::default() };
    let err = rt().block_on(resolve_config(&settings(&args, &e), &e)).unwrap_err();
    assert!(err.to_string().contains("nope.key"), "{err}");
}

#[test]
fn tls_server_name_in_the_kubeconfig_and_with_server_flags_only() {
    let dir = tempfile::tempdir().unwrap();
    let text = kubeconfig("https://127.0.0.1:1001", "t").replace("    server:", "    tls-server-name: from-file.internal\n    server:");
    let kc = write(dir.path(), "kc", &text);
    let e = env(&[("KUBECONFIG", kc.display().to_string())]);
    let config = rt().block_on(resolve_config(&settings(&ConnectionArgs::default(), &e), &e)).unwrap();
    assert_eq!(config.tls_server_name.as_deref(), Some("from-file.internal"));
    // No kubeconfig at all: --server with --tls-server-name.
    let empty = env(&[("HOME", dir.path().join("empty-home").display().to_string())]);
    let args = ConnectionArgs {
        server: Some("https://127.0.0.1:1002".into()),
        tls_server_name: Some("flag.internal".into()),
        ..Default::default()
    };
    let config = rt().block_on(resolve_config(&settings(&args, &empty), &empty)).unwrap();
    assert_eq!(config.tls_server_name.as_deref(), Some("flag.internal"));
    assert_eq!(config.cluster_url.to_string(), "https://127.0.0.1:1002/");
}

#[test]
fn werf_kubeconfig_variables_in_werf_order() {
    let dir = tempfile::tempdir().unwrap();
    let file_a = write(dir.path(), "a", &kubeconfig("https://127.0.0.1:1001", "ta"));
    let file_b = write(dir.path(), "b", &kubeconfig("https://127.0.0.1:1002", "tb"));
    let file_c = write(dir.path(), "c", &kubeconfig("https://127.0.0.1:1003", "tc"));
    let b64 = base64::engine::general_purpose::STANDARD.encode(kubeconfig("https://127.0.0.1:1004", "t64"));
    let url = |pairs: &[(&str, String)], args: &ConnectionArgs| {
        let e = env(pairs);
        rt().block_on(resolve_config(&settings(args, &e), &e)).unwrap().cluster_url.to_string()
    };
    let none = ConnectionArgs::default();
    let kube = ("KUBECONFIG", file_a.display().to_string());
    let werf_path = ("WERF_KUBECONFIG", file_b.display().to_string());
    let werf_path_first = ("WERF_KUBE_CONFIG", file_c.display().to_string());
    let werf_b64 = ("KUBECONFIG_BASE64", b64.clone());
    assert_eq!(url(std::slice::from_ref(&kube), &none), "https://127.0.0.1:1001/");
    assert_eq!(url(&[kube.clone(), werf_path.clone()], &none), "https://127.0.0.1:1002/");
    assert_eq!(url(&[kube.clone(), werf_path.clone(), werf_path_first.clone()], &none), "https://127.0.0.1:1003/");
    assert_eq!(url(&[kube.clone(), werf_path.clone(), werf_path_first.clone(), werf_b64.clone()], &none), "https://127.0.0.1:1004/");
    let flag = ConnectionArgs { kubeconfig: Some(file_a.clone()), ..Default::default() };
    assert_eq!(url(&[werf_path_first, werf_b64], &flag), "https://127.0.0.1:1001/", "--kubeconfig wins");

    // A base64 kubeconfig that does not decode is named by its variable, its text never shown.
    let e = env(&[("WERF_KUBE_CONFIG_BASE64", base64::engine::general_purpose::STANDARD.encode("users: [{name: SECRET-42, user: {"))]);
    let err = rt().block_on(resolve_config(&settings(&none, &e), &e)).unwrap_err();
    assert!(err.to_string().contains("$WERF_KUBE_CONFIG_BASE64") && !err.to_string().contains("SECRET-42"), "{err}");
}
