//! Credentials that do not sit in the kubeconfig as plain values: exec credential plugins
//! (`users[].user.exec`, as `aws eks get-token`, `gke-gcloud-auth-plugin` and `kubelogin` use) and
//! werf's base64 kubeconfigs.
//!
//! The exec plugin is run here rather than by kube, so that:
//! - it runs once per invocation (kube would run it for every TLS and auth setup step), and again only
//!   when its token is about to expire or the server answered 401;
//! - its output never reaches an error message or a log: kube's error for a failed plugin carries the
//!   plugin's stdout and stderr, and stdout is where the token is. Failures here are one line naming the
//!   program and what went wrong, never what it printed;
//! - interactivity follows client-go: with `interactiveMode: IfAvailable` (or unset) the plugin gets the
//!   terminal (stdin and stderr, for a login prompt) only when stdin is one; otherwise its stderr is
//!   captured and dropped, and `interactiveMode: Always` without a terminal is refused.
//!
//! A token goes into each request's `Authorization` header (marked sensitive) by [`ExecAuthLayer`]; a
//! client certificate and key go into the TLS setup.

use std::future::Future;
use std::io::IsTerminal;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use base64::Engine;
use http::HeaderValue;
use kube::config::{ExecConfig, ExecInteractiveMode, Kubeconfig};
use serde::Deserialize;

use crate::error::ClusterError;
use crate::kube_failure::ExecCredentialError;
use crate::settings::Base64Kubeconfig;

/// Seconds before a token's expiry at which it is fetched again.
const REFRESH_MARGIN_SECS: i64 = 30;

/// A kube client-building error as one line; kube's own auth errors are replaced by wording that
/// cannot carry a plugin's output or a credential.
pub fn describe_client_error(err: &kube::Error) -> String {
    match err {
        kube::Error::Auth(auth) => match auth {
            kube::client::AuthError::AuthExecRun { .. }
            | kube::client::AuthError::AuthExecStart(_)
            | kube::client::AuthError::AuthExecParse(_)
            | kube::client::AuthError::AuthExec(_) => "the kubeconfig user's exec credential plugin failed".into(),
            kube::client::AuthError::ReadTokenFile(_, path) => format!("cannot read the token file {}", path.display()),
            _ => "the kubeconfig user's credentials cannot be used (check its token, certificate and key)".into(),
        },
        other => crate::error::describe_kube_error(other),
    }
}

/// Decode a kubeconfig passed as base64 in one of werf's variables. Errors name the variable only.
pub fn decode_base64_kubeconfig(b64: &Base64Kubeconfig) -> Result<Kubeconfig, ClusterError> {
    let invalid = |reason: &str| ClusterError::Config(format!("${}: {reason} (its value is not shown)", b64.variable));
    let compact: String = b64.value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.trim_end_matches('='))
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(compact.trim_end_matches('=')))
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(compact.trim_end_matches('=')))
        .map_err(|_| invalid("not valid base64"))?;
    let text = String::from_utf8(bytes).map_err(|_| invalid("the decoded kubeconfig is not UTF-8 text"))?;
    // The parser's message may quote the document: say where it broke, not what is there.
    Kubeconfig::from_yaml(&text).map_err(|_| invalid("the decoded text is not a kubeconfig (YAML or JSON)"))
}

/// kube's complaint about the selected kubeconfig, as one line. For a base64 kubeconfig from werf's
/// variables it is reworded: kube quotes names from the document, and a garbled document's "names" may
/// be pieces of its credentials.
pub fn kubeconfig_error(settings: &crate::settings::ConnectionSettings, err: &kube::config::KubeconfigError) -> ClusterError {
    use kube::config::KubeconfigError as K;
    let Some(b64) = settings.kubeconfig_base64.as_ref().filter(|_| settings.kubeconfig.is_none()) else {
        return ClusterError::Config(err.to_string());
    };
    let context = settings.context.as_deref().map(|c| format!("the context {c:?}")).unwrap_or_else(|| "its current context".into());
    let what = match err {
        K::CurrentContextNotSet => "it sets no current context (pass --context or $WERF_KUBE_CONTEXT)".to_string(),
        K::LoadContext(_) => format!("{context} is not in it"),
        K::LoadClusterOfContext(_) => format!("the cluster of {context} is not in it"),
        K::MissingClusterUrl | K::ParseClusterUrl(_) => format!("the cluster of {context} has no valid server URL"),
        K::LoadCertificateAuthority(_) | K::ParseCertificates(_) => "its certificate authority cannot be loaded".into(),
        K::LoadClientCertificate(_) | K::LoadClientKey(_) => "its client certificate or key cannot be loaded".into(),
        _ => "it cannot be used".into(),
    };
    ClusterError::Config(format!("${}: {what} (its value is not shown)", b64.variable))
}

/// What a plugin handed back.
struct Credential {
    token: Option<String>,
    certificate: Option<(String, String)>,
    expires: Option<jiff::Timestamp>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecCredentialOut {
    api_version: Option<String>,
    kind: Option<String>,
    status: Option<ExecStatusOut>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecStatusOut {
    token: Option<String>,
    client_certificate_data: Option<String>,
    client_key_data: Option<String>,
    expiration_timestamp: Option<String>,
}

/// Run an exec credential plugin once, as client-go does. Blocking: call from a blocking thread.
fn run_plugin(exec: &ExecConfig) -> Result<Credential, ExecCredentialError> {
    let program = exec
        .command
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ExecCredentialError("the kubeconfig user's exec section has no command".into()))?;
    let name = format!("{program:?}");
    let api_version = exec.api_version.clone().unwrap_or_else(|| "client.authentication.k8s.io/v1beta1".into());
    let terminal = std::io::stdin().is_terminal();
    let interactive = match exec.interactive_mode {
        Some(ExecInteractiveMode::Never) => false,
        Some(ExecInteractiveMode::Always) => {
            if !terminal {
                return Err(ExecCredentialError(format!(
                    "exec credential plugin {name} needs an interactive terminal (interactiveMode: Always), and standard input is not one"
                )));
            }
            true
        }
        _ => terminal,
    };
    let mut spec = serde_json::json!({ "interactive": interactive });
    if exec.provide_cluster_info
        && let Some(cluster) = &exec.cluster
    {
        spec["cluster"] = serde_json::to_value(cluster).unwrap_or_default();
    }
    let info = serde_json::json!({ "apiVersion": api_version, "kind": "ExecCredential", "spec": spec });

    let mut cmd = std::process::Command::new(program);
    cmd.args(exec.args.iter().flatten());
    for pair in exec.env.iter().flatten() {
        if let (Some(k), Some(v)) = (pair.get("name"), pair.get("value")) {
            cmd.env(k, v);
        }
    }
    cmd.env("KUBERNETES_EXEC_INFO", info.to_string());
    cmd.stdout(std::process::Stdio::piped());
    if interactive {
        cmd.stdin(std::process::Stdio::inherit()).stderr(std::process::Stdio::inherit());
    } else {
        // Its stderr is captured and dropped: it may echo what the plugin was given or got.
        cmd.stdin(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
    }
    let out = cmd.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            let hint = exec
                .install_hint
                .as_deref()
                .map(|h| h.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|h| !h.is_empty())
                .map(|h| format!(" ({h})"))
                .unwrap_or_default();
            ExecCredentialError(format!("exec credential plugin {name} of the kubeconfig user was not found{hint}"))
        } else {
            ExecCredentialError(format!("cannot run exec credential plugin {name}: {}", e.kind()))
        }
    })?;
    if !out.status.success() {
        let status = match out.status.code() {
            Some(code) => format!("exit status {code}"),
            None => "killed by a signal".into(),
        };
        return Err(ExecCredentialError(format!(
            "exec credential plugin {name} failed ({status}); its output is not shown, as it may hold credentials: run the command of the kubeconfig user's exec section yourself to see why"
        )));
    }
    let malformed = |what: &str| ExecCredentialError(format!("exec credential plugin {name} {what}"));
    let parsed: ExecCredentialOut =
        serde_json::from_slice(&out.stdout).map_err(|_| malformed("printed no valid ExecCredential (JSON) on stdout"))?;
    if parsed.kind.as_deref().is_some_and(|k| k != "ExecCredential") {
        return Err(malformed("printed an object that is not an ExecCredential"));
    }
    if let Some(v) = &parsed.api_version
        && v != &api_version
    {
        return Err(malformed(&format!("answered with apiVersion {v:?}, but the kubeconfig asks for {api_version:?}")));
    }
    let status = parsed.status.ok_or_else(|| malformed("printed an ExecCredential without status"))?;
    let expires = match status.expiration_timestamp.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => Some(t.parse::<jiff::Timestamp>().map_err(|_| malformed("gave an invalid expirationTimestamp"))?),
        None => None,
    };
    let certificate = match (status.client_certificate_data, status.client_key_data) {
        (Some(c), Some(k)) if !c.is_empty() && !k.is_empty() => Some((c, k)),
        (None, None) => None,
        _ => return Err(malformed("gave a client certificate without its key, or a key without its certificate")),
    };
    let token = status.token.filter(|t| !t.is_empty());
    if token.is_none() && certificate.is_none() {
        return Err(malformed("gave neither a token nor a client certificate"));
    }
    Ok(Credential { token, certificate, expires })
}

async fn run_plugin_async(exec: ExecConfig) -> Result<Credential, ExecCredentialError> {
    tokio::task::spawn_blocking(move || run_plugin(&exec))
        .await
        .unwrap_or_else(|_| Err(ExecCredentialError("the exec credential plugin could not be run".into())))
}

/// A bearer token from a plugin, kept until shortly before it expires.
struct Cached {
    header: HeaderValue,
    expires: Option<jiff::Timestamp>,
}

impl Cached {
    fn fresh(&self) -> bool {
        self.expires.is_none_or(|t| jiff::Timestamp::now() + jiff::SignedDuration::from_secs(REFRESH_MARGIN_SECS) < t)
    }
}

/// The plugin of one kubeconfig user and its current token.
pub struct ExecTokenSource {
    exec: ExecConfig,
    cached: Mutex<Option<Cached>>,
}

fn bearer(token: &str) -> Result<HeaderValue, ExecCredentialError> {
    let mut value = HeaderValue::try_from(format!("Bearer {token}"))
        .map_err(|_| ExecCredentialError("the exec credential plugin's token is not a valid header value".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Run the kubeconfig user's exec plugin (if it has one) and put its credential into `config`: a
/// client certificate goes to the TLS setup, a token to the returned source, whose [`ExecAuthLayer`]
/// sets it on every request and runs the plugin again when it expires.
pub async fn take_exec_credentials(config: &mut kube::Config) -> Result<Option<Arc<ExecTokenSource>>, ClusterError> {
    let Some(exec) = config.auth_info.exec.take() else { return Ok(None) };
    let cred = run_plugin_async(exec.clone()).await.map_err(|e| ClusterError::Config(e.0))?;
    if let Some((cert, key)) = cred.certificate {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
        config.auth_info.client_certificate = None;
        config.auth_info.client_key = None;
        config.auth_info.client_certificate_data = Some(b64(&cert));
        config.auth_info.client_key_data = Some(b64(&key).into());
    }
    let Some(token) = cred.token else { return Ok(None) };
    // The plugin's token replaces whatever else the user entry says.
    config.auth_info.token = None;
    config.auth_info.token_file = None;
    let header = bearer(&token).map_err(|e| ClusterError::Config(e.0))?;
    Ok(Some(Arc::new(ExecTokenSource { exec, cached: Mutex::new(Some(Cached { header, expires: cred.expires })) })))
}

/// Sets the plugin's token on every request (no-op without a plugin token).
#[derive(Clone)]
pub struct ExecAuthLayer {
    source: Option<Arc<ExecTokenSource>>,
}

impl ExecAuthLayer {
    pub fn new(source: Option<Arc<ExecTokenSource>>) -> Self {
        ExecAuthLayer { source }
    }
}

impl<S> tower::Layer<S> for ExecAuthLayer {
    type Service = ExecAuth<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ExecAuth { inner, source: self.source.clone(), refreshing: None }
    }
}

type Refresh = Pin<Box<dyn Future<Output = Result<Credential, ExecCredentialError>> + Send>>;

pub struct ExecAuth<S> {
    inner: S,
    source: Option<Arc<ExecTokenSource>>,
    /// A plugin run in progress, driven by `poll_ready` (kube's buffer calls us from one task).
    refreshing: Option<Refresh>,
}

impl<S, B1, B2> tower::Service<http::Request<B1>> for ExecAuth<S>
where
    S: tower::Service<http::Request<B1>, Response = http::Response<B2>>,
    S::Error: Into<tower::BoxError>,
    S::Future: Send + 'static,
{
    type Response = http::Response<B2>;
    type Error = tower::BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if let Some(source) = &self.source {
            let fresh = source.cached.lock().map(|c| c.as_ref().is_some_and(Cached::fresh)).unwrap_or(false);
            if !fresh {
                let exec = source.exec.clone();
                let run = self.refreshing.get_or_insert_with(|| Box::pin(run_plugin_async(exec)));
                match run.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(result) => {
                        self.refreshing = None;
                        let cred = result.map_err(tower::BoxError::from)?;
                        let Some(token) = cred.token else {
                            return Poll::Ready(
                                Err(ExecCredentialError("the exec credential plugin stopped giving a token".into()).into()),
                            );
                        };
                        let header = bearer(&token)?;
                        if let Ok(mut c) = source.cached.lock() {
                            *c = Some(Cached { header, expires: cred.expires });
                        }
                    }
                }
            }
        }
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: http::Request<B1>) -> Self::Future {
        let Some(source) = self.source.clone() else {
            let fut = self.inner.call(req);
            return Box::pin(async move { fut.await.map_err(Into::into) });
        };
        if let Some(header) = source.cached.lock().ok().and_then(|c| c.as_ref().map(|c| c.header.clone())) {
            req.headers_mut().insert(http::header::AUTHORIZATION, header);
        }
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await.map_err(Into::into)?;
            if res.status() == http::StatusCode::UNAUTHORIZED
                && let Ok(mut c) = source.cached.lock()
            {
                // As client-go: a refused token is fetched again for the next request.
                *c = None;
            }
            Ok(res)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec_with(script: &str, dir: &std::path::Path) -> ExecConfig {
        let path = dir.join("plugin.sh");
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        ExecConfig {
            api_version: Some("client.authentication.k8s.io/v1".into()),
            command: Some(path.display().to_string()),
            args: None,
            env: None,
            drop_env: None,
            install_hint: None,
            interactive_mode: Some(ExecInteractiveMode::Never),
            provide_cluster_info: false,
            cluster: None,
            other: Default::default(),
        }
    }

    #[test]
    fn a_token_and_its_expiry_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let exec = exec_with(
            r#"echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"tok-123","expirationTimestamp":"2099-01-01T00:00:00Z"}}'"#,
            dir.path(),
        );
        let cred = run_plugin(&exec).unwrap();
        assert_eq!(cred.token.as_deref(), Some("tok-123"));
        assert_eq!(cred.expires.unwrap().to_string(), "2099-01-01T00:00:00Z");
    }

    #[test]
    fn failures_never_quote_the_plugins_output() {
        let dir = tempfile::tempdir().unwrap();
        for script in [
            "echo 'SECRET-OUT'; echo 'SECRET-ERR' >&2; exit 3",
            "echo '{\"apiVersion\": \"client.authentication.k8s.io/v1\", SECRET-OUT'",
            r#"echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"SECRET-OUT"}}'"#,
            r#"echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"SECRET-OUT","expirationTimestamp":"SECRET-OUT"}}'"#,
            r#"echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientKeyData":"SECRET-OUT"}}'"#,
        ] {
            let err = run_plugin(&exec_with(script, dir.path())).err().unwrap();
            assert!(!err.0.contains("SECRET"), "{script}: {err}");
            assert!(err.0.contains("plugin.sh") && !err.0.contains('\n'), "{err}");
        }
        let err = run_plugin(&exec_with("exit 3", dir.path())).err().unwrap();
        assert!(err.0.contains("exit status 3"), "{err}");
    }

    #[test]
    fn a_missing_plugin_names_the_install_hint() {
        let dir = tempfile::tempdir().unwrap();
        let mut exec = exec_with("true", dir.path());
        exec.command = Some(dir.path().join("no-such-plugin").display().to_string());
        exec.install_hint = Some("install it\nwith apt".into());
        let err = run_plugin(&exec).err().unwrap();
        assert!(err.0.contains("not found (install it with apt)"), "{err}");
    }

    #[test]
    fn base64_kubeconfigs_decode_and_never_show_their_text() {
        let text = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n";
        let b64 = base64::engine::general_purpose::STANDARD.encode(text);
        let with_newlines: String = b64.chars().collect::<Vec<_>>().chunks(10).map(|c| c.iter().collect::<String>() + "\n").collect();
        let kc = decode_base64_kubeconfig(&Base64Kubeconfig { variable: "WERF_KUBE_CONFIG_BASE64", value: with_newlines }).unwrap();
        assert_eq!(kc.clusters[0].name, "c");
        let bad = base64::engine::general_purpose::STANDARD.encode("users: [SECRET-TOKEN: {");
        let err = decode_base64_kubeconfig(&Base64Kubeconfig { variable: "KUBECONFIG_BASE64", value: bad }).unwrap_err();
        assert!(err.to_string().starts_with("$KUBECONFIG_BASE64: ") && !err.to_string().contains("SECRET"), "{err}");
        let err = decode_base64_kubeconfig(&Base64Kubeconfig { variable: "KUBECONFIG_BASE64", value: "%%%".into() }).unwrap_err();
        assert!(err.to_string().contains("not valid base64"), "{err}");
    }
}
