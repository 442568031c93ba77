//! Reaching the Kubernetes API exactly as kubectl does: kubeconfig loading rules, flag overrides,
//! in-cluster fallback, and the default namespace.

use std::path::{Path, PathBuf};

use kube::config::{
    AuthInfo, Cluster as KubeconfigCluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster, NamedContext,
};

use crate::error::ClusterError;
use crate::settings::{ConnectionSettings, EnvLookup};

/// A ready client plus what the user's configuration says about defaults.
#[derive(Clone)]
pub struct ClusterAccess {
    pub client: kube::Client,
    /// `-n`, else the context's namespace, else `default` (in a pod: the service account's namespace).
    pub namespace: String,
    /// Whether the namespace was chosen explicitly (flag or Helm's environment) rather than defaulted.
    pub namespace_explicit: bool,
    pub cluster_url: String,
}

/// The kubeconfig files kubectl would read: `--kubeconfig` alone, else every existing file in
/// `$KUBECONFIG`, else `~/.kube/config` if it exists. Missing files in `$KUBECONFIG` are skipped, as
/// client-go does; an explicit `--kubeconfig` that is missing is an error.
pub fn kubeconfig_paths(settings: &ConnectionSettings, env: &dyn EnvLookup) -> Result<Vec<PathBuf>, ClusterError> {
    if let Some(path) = &settings.kubeconfig {
        if !path.exists() {
            return Err(ClusterError::Kubeconfig { path: path.display().to_string(), reason: "no such file or directory".into() });
        }
        return Ok(vec![path.clone()]);
    }
    if let Some(list) = env.non_empty("KUBECONFIG") {
        return Ok(std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty() && p.exists()).collect());
    }
    let home = env.non_empty("HOME").map(PathBuf::from);
    Ok(home.map(|h| h.join(".kube").join("config")).filter(|p| p.exists()).into_iter().collect())
}

/// Read and merge kubeconfig files with kubectl's rules (the first file to set a value wins).
pub fn load_kubeconfig(paths: &[PathBuf]) -> Result<Option<Kubeconfig>, ClusterError> {
    let mut merged: Option<Kubeconfig> = None;
    for path in paths {
        let config = Kubeconfig::read_from(path)
            .map_err(|e| ClusterError::Kubeconfig { path: path.display().to_string(), reason: e.to_string() })?;
        merged = Some(match merged {
            None => config,
            Some(m) => m.merge(config).map_err(|e| ClusterError::Kubeconfig { path: path.display().to_string(), reason: e.to_string() })?,
        });
    }
    Ok(merged)
}

/// Build the kube `Config` the flags and files describe.
pub async fn resolve_config(settings: &ConnectionSettings, env: &dyn EnvLookup) -> Result<kube::Config, ClusterError> {
    let kubeconfig = configured_kubeconfig(settings, env)?;
    let mut config = match kubeconfig {
        Some(kc) if has_usable_context(&kc, settings) => {
            let kc = apply_overrides(kc, settings)?;
            let options =
                KubeConfigOptions { context: settings.context.clone(), cluster: settings.cluster.clone(), user: settings.user.clone() };
            kube::Config::from_custom_kubeconfig(kc, &options).await.map_err(|e| crate::credentials::kubeconfig_error(settings, &e))?
        }
        Some(_) | None if settings.server.is_some() => {
            // Only flags: a synthetic kubeconfig so CA and TLS options go through kube's own loader.
            let kc = apply_overrides(flags_only_kubeconfig(), settings)?;
            kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|e| crate::credentials::kubeconfig_error(settings, &e))?
        }
        Some(kc) => {
            // A kubeconfig without a usable context: say which context is missing, as kubectl does.
            let options =
                KubeConfigOptions { context: settings.context.clone(), cluster: settings.cluster.clone(), user: settings.user.clone() };
            kube::Config::from_custom_kubeconfig(kc, &options).await.map_err(|e| crate::credentials::kubeconfig_error(settings, &e))?
        }
        None => {
            let mut c = kube::Config::incluster().map_err(|_| ClusterError::NoConfiguration)?;
            // In a pod the flags still apply.
            if let Some(token) = &settings.token {
                c.auth_info = AuthInfo { token: Some(token.clone().into()), ..Default::default() };
            }
            c.accept_invalid_certs |= settings.insecure_skip_tls_verify;
            if settings.tls_server_name.is_some() {
                c.tls_server_name = settings.tls_server_name.clone();
            }
            c
        }
    };
    if let Some(user) = &settings.as_user {
        config.auth_info.impersonate = Some(user.clone());
    }
    if !settings.as_groups.is_empty() {
        config.auth_info.impersonate_groups = Some(settings.as_groups.clone());
    }
    if let Some(uid) = &settings.as_uid {
        if config.auth_info.impersonate.is_none() {
            return Err(ClusterError::Config(format!(
                "--as-uid {uid} needs --as USER too: Kubernetes impersonates a UID only together with a user"
            )));
        }
        config.auth_info.impersonate_uid = Some(uid.clone());
    }
    if let Some(timeout) = settings.request_timeout {
        config.read_timeout = Some(timeout);
        config.write_timeout = Some(timeout);
        config.connect_timeout = Some(timeout);
    }
    // Our own code decides what may be retried: reads with backoff, writes never blindly.
    config.default_retry = false;
    if let Some(ns) = &settings.namespace {
        config.default_namespace = ns.clone();
    }
    Ok(config)
}

fn has_usable_context(kc: &Kubeconfig, settings: &ConnectionSettings) -> bool {
    settings.context.is_some() || kc.current_context.as_deref().is_some_and(|c| !c.is_empty())
}

const FLAGS_ONLY: &str = "kubectl-werf-flags";

fn flags_only_kubeconfig() -> Kubeconfig {
    Kubeconfig {
        clusters: vec![NamedCluster { name: FLAGS_ONLY.into(), cluster: Some(KubeconfigCluster::default()), other: Default::default() }],
        auth_infos: vec![NamedAuthInfo { name: FLAGS_ONLY.into(), auth_info: Some(AuthInfo::default()), other: Default::default() }],
        contexts: vec![NamedContext {
            name: FLAGS_ONLY.into(),
            context: Some(Context { cluster: FLAGS_ONLY.into(), user: Some(FLAGS_ONLY.into()), ..Default::default() }),
            other: Default::default(),
        }],
        current_context: Some(FLAGS_ONLY.into()),
        ..Default::default()
    }
}

/// Apply `--server`, `--token`, `--certificate-authority` and `--insecure-skip-tls-verify` to the
/// cluster and user the selected context points at, the way kubectl layers flags over files.
fn apply_overrides(mut kc: Kubeconfig, settings: &ConnectionSettings) -> Result<Kubeconfig, ClusterError> {
    let context_name = settings.context.clone().or_else(|| kc.current_context.clone()).unwrap_or_default();
    let context = kc.contexts.iter().find(|c| c.name == context_name).and_then(|c| c.context.clone());
    let Some(context) = context else {
        return Ok(kc); // kube reports the missing context with its name
    };
    let cluster_name = settings.cluster.clone().unwrap_or(context.cluster.clone());
    let user_name = settings.user.clone().or(context.user.clone());

    let needs_cluster_change = settings.server.is_some()
        || settings.certificate_authority.is_some()
        || settings.insecure_skip_tls_verify
        || settings.tls_server_name.is_some();
    if needs_cluster_change && let Some(entry) = kc.clusters.iter_mut().find(|c| c.name == cluster_name) {
        let cluster = entry.cluster.get_or_insert_with(KubeconfigCluster::default);
        if let Some(server) = &settings.server {
            cluster.server = Some(normalize_server(server));
        }
        if let Some(ca) = &settings.certificate_authority {
            check_readable(ca)?;
            cluster.certificate_authority = Some(ca.display().to_string());
            cluster.certificate_authority_data = None;
        }
        if let Some(name) = &settings.tls_server_name {
            cluster.tls_server_name = Some(name.clone());
        }
        if settings.insecure_skip_tls_verify {
            cluster.insecure_skip_tls_verify = Some(true);
            // kubectl refuses a CA together with insecure; dropping the CA is what the user asked for.
            cluster.certificate_authority = None;
            cluster.certificate_authority_data = None;
        }
    }
    if let Some(token) = &settings.token {
        let auth = AuthInfo { token: Some(token.clone().into()), ..Default::default() };
        match user_name.as_ref().and_then(|u| kc.auth_infos.iter_mut().find(|a| &a.name == u)) {
            Some(entry) => entry.auth_info = Some(auth),
            None => {
                // The context has no user entry: add one and point the context at it.
                kc.auth_infos.push(NamedAuthInfo { name: FLAGS_ONLY.into(), auth_info: Some(auth), other: Default::default() });
                if let Some(ctx) = kc.contexts.iter_mut().find(|c| c.name == context_name)
                    && let Some(c) = ctx.context.as_mut()
                {
                    c.user = Some(FLAGS_ONLY.into());
                }
            }
        }
    }
    if settings.client_certificate.is_some() || settings.client_key.is_some() {
        apply_client_certificate(&mut kc, &context_name, settings)?;
    }
    Ok(kc)
}

/// `--client-certificate` and `--client-key` replace the certificate and key of the context's user (as
/// kubectl layers them), keeping its other credentials; a context without a user gets one.
fn apply_client_certificate(kc: &mut Kubeconfig, context_name: &str, settings: &ConnectionSettings) -> Result<(), ClusterError> {
    for path in [&settings.client_certificate, &settings.client_key].into_iter().flatten() {
        std::fs::metadata(path).map_err(|e| ClusterError::Kubeconfig {
            path: path.display().to_string(),
            reason: format!("cannot read client certificate or key: {e}"),
        })?;
    }
    let user_name = settings
        .user
        .clone()
        .or_else(|| kc.contexts.iter().find(|c| c.name == context_name).and_then(|c| c.context.as_ref()?.user.clone()));
    let index = match user_name.as_ref().and_then(|u| kc.auth_infos.iter().position(|a| &a.name == u)) {
        Some(i) => i,
        None => {
            let name = format!("{FLAGS_ONLY}-client-certificate");
            kc.auth_infos.push(NamedAuthInfo { name: name.clone(), auth_info: Some(AuthInfo::default()), other: Default::default() });
            if let Some(c) = kc.contexts.iter_mut().find(|c| c.name == context_name).and_then(|c| c.context.as_mut()) {
                c.user = Some(name);
            }
            kc.auth_infos.len() - 1
        }
    };
    let auth = kc.auth_infos[index].auth_info.get_or_insert_with(AuthInfo::default);
    if let Some(cert) = &settings.client_certificate {
        auth.client_certificate = Some(cert.display().to_string());
        auth.client_certificate_data = None;
    }
    if let Some(key) = &settings.client_key {
        auth.client_key = Some(key.display().to_string());
        auth.client_key_data = None;
    }
    Ok(())
}

/// The kubeconfig this invocation uses: the files of [`kubeconfig_paths`] when `--kubeconfig` (or werf's
/// `WERF_KUBE_CONFIG`) names one, else a base64 kubeconfig from werf's variables, else the files of
/// `$KUBECONFIG` or `~/.kube/config`. A base64 kubeconfig's text is never part of an error.
pub fn configured_kubeconfig(settings: &ConnectionSettings, env: &dyn EnvLookup) -> Result<Option<Kubeconfig>, ClusterError> {
    if settings.kubeconfig.is_none()
        && let Some(b64) = &settings.kubeconfig_base64
    {
        return crate::credentials::decode_base64_kubeconfig(b64).map(Some);
    }
    let paths = kubeconfig_paths(settings, env)?;
    load_kubeconfig(&paths)
}

fn check_readable(path: &Path) -> Result<(), ClusterError> {
    std::fs::metadata(path).map(|_| ()).map_err(|e| ClusterError::Kubeconfig {
        path: path.display().to_string(),
        reason: format!("cannot read certificate authority: {e}"),
    })
}

/// kubectl accepts `host:port` without a scheme and assumes https.
fn normalize_server(server: &str) -> String {
    if server.contains("://") { server.to_string() } else { format!("https://{server}") }
}

/// A URL without `user:password@` (a server address may carry credentials; messages never do).
fn without_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if path.is_empty() { format!("{scheme}://{host}") } else { format!("{scheme}://{host}/{path}") }
        }
        None => url.to_string(),
    }
}

/// Connect: resolve the configuration and build a client.
pub async fn connect(settings: &ConnectionSettings, env: &dyn EnvLookup) -> Result<ClusterAccess, ClusterError> {
    let mut config = resolve_config(settings, env).await?;
    let namespace = config.default_namespace.clone();
    let cluster_url = config.cluster_url.to_string();
    crate::kube_failure::note_server_url(without_userinfo(cluster_url.trim_end_matches('/')));
    // An exec credential plugin runs here, once, under our control (see `credentials`).
    let exec = crate::credentials::take_exec_credentials(&mut config).await?;
    let builder = kube::client::ClientBuilder::try_from(config)
        .map_err(|e| ClusterError::Client(crate::credentials::describe_client_error(&e)))?
        .with_layer(&crate::credentials::ExecAuthLayer::new(exec));
    // Every request goes through the client's backoff window (fewer in flight while the server throttles).
    let builder = builder.with_layer(&crate::retry::BackoffLayer::new());
    let client = match settings.rate_limit {
        Some(limit) => builder.with_layer(&crate::ratelimit::RateLimitLayer::new(limit)).build(),
        None => builder.build(),
    };
    Ok(ClusterAccess { client, namespace, namespace_explicit: settings.namespace.is_some(), cluster_url })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn kubeconfig(cluster: &str, server: &str, user: &str, token: &str, ctx: &str, ns: Option<&str>, current: Option<&str>) -> String {
        let ns_line = ns.map(|n| format!("\n    namespace: {n}")).unwrap_or_default();
        let current = current.map(|c| format!("current-context: {c}\n")).unwrap_or_default();
        format!(
            "apiVersion: v1\nkind: Config\n{current}clusters:\n- name: {cluster}\n  cluster:\n    server: {server}\nusers:\n- name: {user}\n  user:\n    token: {token}\ncontexts:\n- name: {ctx}\n  context:\n    cluster: {cluster}\n    user: {user}{ns_line}\n"
        )
    }

    fn env_map(pairs: &[(&str, String)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[tokio::test]
    async fn kubeconfig_list_merges_first_wins_and_skips_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a", &kubeconfig("ca", "http://127.0.0.1:1001", "ua", "ta", "ctx-a", Some("team-a"), Some("ctx-a")));
        let b = write(dir.path(), "b", &kubeconfig("cb", "http://127.0.0.1:1002", "ub", "tb", "ctx-b", None, Some("ctx-b")));
        let missing = dir.path().join("missing");
        let list = std::env::join_paths([missing.clone(), a.clone(), b.clone()]).unwrap().into_string().unwrap();
        let env = env_map(&[("KUBECONFIG", list), ("HOME", dir.path().display().to_string())]);
        let settings = ConnectionSettings::default();
        assert_eq!(kubeconfig_paths(&settings, &env).unwrap(), vec![a.clone(), b.clone()]);
        let config = resolve_config(&settings, &env).await.unwrap();
        // current-context comes from the first file that sets it; its namespace is the default.
        assert_eq!(config.cluster_url.to_string(), "http://127.0.0.1:1001/");
        assert_eq!(config.default_namespace, "team-a");
        assert_eq!(config.auth_info.token.as_ref().unwrap().expose_secret(), "ta");
        // A context from the second file is reachable with --context.
        let settings = ConnectionSettings { context: Some("ctx-b".into()), ..Default::default() };
        let config = resolve_config(&settings, &env).await.unwrap();
        assert_eq!(config.cluster_url.to_string(), "http://127.0.0.1:1002/");
        assert_eq!(config.default_namespace, "default");
        assert_eq!(config.auth_info.token.as_ref().unwrap().expose_secret(), "tb");
        assert!(!config.default_retry);
    }

    #[tokio::test]
    async fn explicit_kubeconfig_is_the_only_file_read() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a", &kubeconfig("ca", "http://127.0.0.1:1001", "ua", "ta", "ctx-a", None, Some("ctx-a")));
        let b = write(dir.path(), "b", &kubeconfig("cb", "http://127.0.0.1:1002", "ub", "tb", "ctx-b", None, Some("ctx-b")));
        let env = env_map(&[("KUBECONFIG", a.display().to_string())]);
        let settings = ConnectionSettings { kubeconfig: Some(b.clone()), ..Default::default() };
        assert_eq!(kubeconfig_paths(&settings, &env).unwrap(), vec![b]);
        let config = resolve_config(&settings, &env).await.unwrap();
        assert_eq!(config.cluster_url.to_string(), "http://127.0.0.1:1002/");
        let settings = ConnectionSettings { kubeconfig: Some(dir.path().join("nope")), ..Default::default() };
        let err = resolve_config(&settings, &env).await.unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[tokio::test]
    async fn home_kubeconfig_is_the_fallback() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".kube")).unwrap();
        write(&dir.path().join(".kube"), "config", &kubeconfig("c", "http://127.0.0.1:1003", "u", "t", "x", Some("home-ns"), Some("x")));
        let env = env_map(&[("HOME", dir.path().display().to_string())]);
        let config = resolve_config(&ConnectionSettings::default(), &env).await.unwrap();
        assert_eq!(config.cluster_url.to_string(), "http://127.0.0.1:1003/");
        assert_eq!(config.default_namespace, "home-ns");
    }

    #[tokio::test]
    async fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a", &kubeconfig("ca", "http://127.0.0.1:1001", "ua", "ta", "ctx-a", Some("team-a"), Some("ctx-a")));
        let env = env_map(&[("KUBECONFIG", a.display().to_string())]);
        let settings = ConnectionSettings {
            namespace: Some("explicit".into()),
            server: Some("http://127.0.0.1:2000".into()),
            token: Some("flag-token".into()),
            as_user: Some("bob".into()),
            as_groups: vec!["g1".into(), "g2".into()],
            request_timeout: Some(std::time::Duration::from_secs(7)),
            insecure_skip_tls_verify: true,
            ..Default::default()
        };
        let config = resolve_config(&settings, &env).await.unwrap();
        assert_eq!(config.cluster_url.to_string(), "http://127.0.0.1:2000/");
        assert_eq!(config.default_namespace, "explicit");
        assert_eq!(config.auth_info.token.as_ref().unwrap().expose_secret(), "flag-token");
        assert_eq!(config.auth_info.impersonate.as_deref(), Some("bob"));
        assert_eq!(config.auth_info.impersonate_groups.as_deref(), Some(&["g1".to_string(), "g2".to_string()][..]));
        assert_eq!(config.read_timeout, Some(std::time::Duration::from_secs(7)));
        assert!(config.accept_invalid_certs);
    }

    #[tokio::test]
    async fn server_and_token_flags_work_without_any_kubeconfig() {
        let dir = tempfile::tempdir().unwrap();
        let env = env_map(&[("HOME", dir.path().display().to_string())]);
        let settings = ConnectionSettings { server: Some("127.0.0.1:6443".into()), token: Some("abc".into()), ..Default::default() };
        let config = resolve_config(&settings, &env).await.unwrap();
        assert_eq!(config.cluster_url.to_string(), "https://127.0.0.1:6443/");
        assert_eq!(config.default_namespace, "default");
        assert_eq!(config.auth_info.token.as_ref().unwrap().expose_secret(), "abc");
    }

    #[tokio::test]
    async fn missing_context_and_no_configuration_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a", &kubeconfig("ca", "http://127.0.0.1:1001", "ua", "ta", "ctx-a", None, Some("ctx-a")));
        let env = env_map(&[("KUBECONFIG", a.display().to_string())]);
        let settings = ConnectionSettings { context: Some("nope".into()), ..Default::default() };
        let err = resolve_config(&settings, &env).await.unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let env = env_map(&[("HOME", empty.path().display().to_string())]);
        // Not in a pod either (no KUBERNETES_SERVICE_HOST in tests): a clear message.
        if std::env::var_os("KUBERNETES_SERVICE_HOST").is_none() {
            let err = resolve_config(&ConnectionSettings::default(), &env).await.unwrap_err();
            assert!(matches!(err, ClusterError::NoConfiguration), "{err}");
        }
    }
}
