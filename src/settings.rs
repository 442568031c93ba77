//! Resolution of user settings from flags and environment: where the cluster is, how to authenticate,
//! where release records live. Pure functions over an environment lookup so every rule is unit-tested
//! without touching the process environment.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{ConnectionArgs, StorageArgs};
use crate::error::SettingsError;
use crate::storage::{Helm2Storage, Helm3Driver, StorageSettings};

/// A read-only view of environment variables; the real process environment or a test's map.
pub trait EnvLookup {
    fn var(&self, name: &str) -> Option<String>;

    /// A variable that is set and not empty.
    fn non_empty(&self, name: &str) -> Option<String> {
        self.var(name).filter(|v| !v.is_empty())
    }

    /// Every variable whose name starts with `prefix`, sorted by name for stable results.
    fn with_prefix(&self, prefix: &str) -> Vec<(String, String)>;
}

/// The process environment.
pub struct ProcessEnv;

impl EnvLookup for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        let mut vars: Vec<_> = std::env::vars().filter(|(k, _)| k.starts_with(prefix)).collect();
        vars.sort();
        vars
    }
}

impl EnvLookup for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }

    fn with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        let mut vars: Vec<_> = self.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(k, v)| (k.clone(), v.clone())).collect();
        vars.sort();
        vars
    }
}

/// How the program was invoked: as a kubectl plugin (`kubectl werf`) or as a Helm plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationMode {
    Kubectl,
    Helm,
}

impl InvocationMode {
    /// Helm sets `HELM_PLUGIN_NAME` for its plugins; a binary named `helm-*` is also taken as Helm mode.
    pub fn detect(argv0: &str, env: &dyn EnvLookup) -> Self {
        let base = argv0.rsplit(['/', '\\']).next().unwrap_or(argv0);
        if env.non_empty("HELM_PLUGIN_NAME").is_some() || base.starts_with("helm") { InvocationMode::Helm } else { InvocationMode::Kubectl }
    }

    /// What users type to reach this program, for usage lines and hints.
    pub fn command_prefix(self) -> &'static str {
        match self {
            InvocationMode::Kubectl => "kubectl werf",
            InvocationMode::Helm => "helm werf-releases",
        }
    }
}

/// Everything needed to build a Kubernetes client, after flags and environment were merged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectionSettings {
    /// An explicit kubeconfig file (`--kubeconfig`): only this file is read, as kubectl does.
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub cluster: Option<String>,
    pub user: Option<String>,
    pub namespace: Option<String>,
    pub as_user: Option<String>,
    pub as_groups: Vec<String>,
    pub request_timeout: Option<Duration>,
    pub server: Option<String>,
    pub token: Option<String>,
    pub certificate_authority: Option<PathBuf>,
    pub insecure_skip_tls_verify: bool,
    pub verbosity: u8,
    /// Client-side rate limit; `None` sends requests as fast as the verb's concurrency allows.
    pub rate_limit: Option<crate::ratelimit::RateLimit>,
    /// The name the server's certificate must carry when it differs from the address (`--tls-server-name`).
    pub tls_server_name: Option<String>,
    /// A client certificate and its key for TLS authentication (`--client-certificate`, `--client-key`).
    pub client_certificate: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// The UID to impersonate together with `as_user` (`--as-uid`).
    pub as_uid: Option<String>,
    /// A whole kubeconfig given as base64 (werf's `WERF_KUBE_CONFIG_BASE64` and its aliases).
    pub kubeconfig_base64: Option<Base64Kubeconfig>,
}

/// A kubeconfig passed in an environment variable as base64: credentials, so never printed; errors name
/// only the variable.
#[derive(Clone, PartialEq, Eq)]
pub struct Base64Kubeconfig {
    /// The variable it came from, for messages.
    pub variable: &'static str,
    pub value: String,
}

impl std::fmt::Debug for Base64Kubeconfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Base64Kubeconfig({}, <{} bytes, not shown>)", self.variable, self.value.len())
    }
}

/// werf's names for a base64 kubeconfig, first set wins.
pub const WERF_KUBECONFIG_BASE64_VARS: [&str; 3] = ["WERF_KUBE_CONFIG_BASE64", "WERF_KUBECONFIG_BASE64", "KUBECONFIG_BASE64"];
/// werf's names for a kubeconfig path, first set wins (then kubectl's own `KUBECONFIG`).
pub const WERF_KUBECONFIG_PATH_VARS: [&str; 2] = ["WERF_KUBE_CONFIG", "WERF_KUBECONFIG"];

// RateLimit holds an f64; settings never hold NaN (parsing refuses it), so equality is total.
impl Eq for ConnectionSettings {}

/// Helm's default burst when only a QPS is given.
pub const DEFAULT_BURST_LIMIT: u32 = 100;

impl ConnectionSettings {
    /// Merge kubectl flags with Helm's plugin environment. Flags given on our own command line win;
    /// in Helm mode Helm has removed its flags from argv and passes them as `HELM_*` variables.
    pub fn resolve(args: &ConnectionArgs, mode: InvocationMode, env: &dyn EnvLookup) -> Result<Self, SettingsError> {
        let mut s = ConnectionSettings {
            kubeconfig: args.kubeconfig.clone(),
            context: args.context.clone(),
            cluster: args.cluster.clone(),
            user: args.user.clone(),
            namespace: args.namespace.clone(),
            as_user: args.as_user.clone(),
            as_groups: args.as_group.clone(),
            request_timeout: match &args.request_timeout {
                Some(t) => parse_request_timeout(t)?,
                None => None,
            },
            server: args.server.clone(),
            token: args.token.clone(),
            certificate_authority: args.certificate_authority.clone(),
            insecure_skip_tls_verify: args.insecure_skip_tls_verify,
            verbosity: args.verbosity,
            rate_limit: None,
            tls_server_name: args.tls_server_name.clone(),
            client_certificate: args.client_certificate.clone(),
            client_key: args.client_key.clone(),
            as_uid: args.as_uid.clone(),
            kubeconfig_base64: None,
        };
        let qps = match args.qps {
            Some(q) => Some(q),
            None => env.non_empty("HELM_QPS").map(|v| parse_number::<f64>("HELM_QPS", &v)).transpose()?,
        };
        let burst = match args.burst_limit {
            Some(b) => Some(b),
            None => env.non_empty("HELM_BURST_LIMIT").map(|v| parse_number::<u32>("HELM_BURST_LIMIT", &v)).transpose()?,
        };
        if let Some(qps) = qps {
            if !qps.is_finite() || qps < 0.0 {
                return Err(SettingsError::Invalid { what: "QPS", value: qps.to_string(), reason: "must be a positive number".into() });
            }
            // Helm treats 0 as "client default"; here it means no limit.
            if qps > 0.0 {
                s.rate_limit = Some(crate::ratelimit::RateLimit { qps, burst: burst.unwrap_or(DEFAULT_BURST_LIMIT).max(1) });
            }
        }
        if mode == InvocationMode::Helm {
            s.namespace = s.namespace.or_else(|| env.non_empty("HELM_NAMESPACE"));
            s.context = s.context.or_else(|| env.non_empty("HELM_KUBECONTEXT"));
            s.as_user = s.as_user.or_else(|| env.non_empty("HELM_KUBEASUSER"));
            if s.as_groups.is_empty()
                && let Some(groups) = env.non_empty("HELM_KUBEASGROUPS")
            {
                s.as_groups = groups.split(',').map(str::trim).filter(|g| !g.is_empty()).map(String::from).collect();
            }
            s.token = s.token.or_else(|| env.non_empty("HELM_KUBETOKEN"));
            s.server = s.server.or_else(|| env.non_empty("HELM_KUBEAPISERVER"));
            s.certificate_authority = s.certificate_authority.or_else(|| env.non_empty("HELM_KUBECAFILE").map(PathBuf::from));
            if !s.insecure_skip_tls_verify
                && let Some(v) = env.non_empty("HELM_KUBEINSECURE_SKIP_TLS_VERIFY")
            {
                s.insecure_skip_tls_verify = parse_bool("HELM_KUBEINSECURE_SKIP_TLS_VERIFY", &v)?;
            }
            if s.verbosity == 0
                && let Some(v) = env.non_empty("HELM_DEBUG")
                && parse_bool("HELM_DEBUG", &v)?
            {
                s.verbosity = 4;
            }
            s.tls_server_name = s.tls_server_name.or_else(|| env.non_empty("HELM_KUBETLS_SERVER_NAME"));
        }
        s.apply_werf_environment(env)?;
        Ok(s)
    }

    /// werf's variables, as werf CI jobs set them: below our flags (and Helm's, in plugin mode), above
    /// kubectl's own (`KUBECONFIG`, `~/.kube/config`). A base64 kubeconfig wins over kubeconfig paths
    /// from variables, as in werf; `--kubeconfig` wins over both.
    fn apply_werf_environment(&mut self, env: &dyn EnvLookup) -> Result<(), SettingsError> {
        self.context = self.context.take().or_else(|| env.non_empty("WERF_KUBE_CONTEXT"));
        if self.kubeconfig.is_none() {
            if let Some((variable, value)) = WERF_KUBECONFIG_BASE64_VARS.iter().find_map(|v| env.non_empty(v).map(|value| (*v, value))) {
                self.kubeconfig_base64 = Some(Base64Kubeconfig { variable, value });
            } else {
                self.kubeconfig = WERF_KUBECONFIG_PATH_VARS.iter().find_map(|v| env.non_empty(v)).map(PathBuf::from);
            }
        }
        self.token = self.token.take().or_else(|| env.non_empty("WERF_KUBE_TOKEN"));
        self.server = self.server.take().or_else(|| env.non_empty("WERF_KUBE_API_SERVER"));
        self.tls_server_name = self.tls_server_name.take().or_else(|| env.non_empty("WERF_KUBE_TLS_SERVER"));
        self.certificate_authority = self.certificate_authority.take().or_else(|| env.non_empty("WERF_KUBE_CA_PATH").map(PathBuf::from));
        if !self.insecure_skip_tls_verify
            && let Some(v) = env.non_empty("WERF_SKIP_TLS_VERIFY_KUBE")
        {
            self.insecure_skip_tls_verify = parse_werf_bool("WERF_SKIP_TLS_VERIFY_KUBE", &v)?;
        }
        Ok(())
    }
}

/// werf's booleans: Go's ParseBool values, plus yes/no.
fn parse_werf_bool(what: &'static str, value: &str) -> Result<bool, SettingsError> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "y" | "on" => Ok(true),
        "no" | "n" | "off" => Ok(false),
        _ => parse_bool(what, value).map_err(|_| SettingsError::Invalid {
            what,
            value: value.into(),
            reason: "expected true or false (1/0, yes/no)".into(),
        }),
    }
}

fn parse_number<T: std::str::FromStr>(what: &'static str, value: &str) -> Result<T, SettingsError> {
    value.trim().parse().map_err(|_| SettingsError::Invalid { what, value: value.into(), reason: "not a number".into() })
}

fn parse_bool(what: &'static str, value: &str) -> Result<bool, SettingsError> {
    // Go's strconv.ParseBool, which Helm uses for its boolean variables.
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(SettingsError::Invalid { what, value: value.into(), reason: "expected true or false".into() }),
    }
}

/// kubectl's `--request-timeout`: a bare number of seconds or a duration with units (`1h2m3s`, `500ms`);
/// zero means no timeout.
pub fn parse_request_timeout(value: &str) -> Result<Option<Duration>, SettingsError> {
    let invalid = |reason: &str| SettingsError::Invalid { what: "--request-timeout", value: value.into(), reason: reason.into() };
    let v = value.trim();
    if v.is_empty() {
        return Err(invalid("empty duration"));
    }
    let total = if v.bytes().all(|b| b.is_ascii_digit()) {
        Duration::from_secs(v.parse().map_err(|_| invalid("number out of range"))?)
    } else {
        parse_go_duration(v).ok_or_else(|| invalid("must be a number of seconds or a duration like 30s, 2m or 1h"))?
    };
    Ok(if total.is_zero() { None } else { Some(total) })
}

/// Go's time.ParseDuration for non-negative values: a sequence of decimal numbers with units.
fn parse_go_duration(s: &str) -> Option<Duration> {
    let mut rest = s;
    let mut total = 0f64;
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    if !total.is_finite() || total > 1e12 {
        return None;
    }
    Some(Duration::from_secs_f64(total))
}

pub const DEFAULT_TILLER_NAMESPACE: &str = "kube-system";

/// Where release records live, from `--release-storage`, `--helm2-namespace`, `--helm2-storage-type`,
/// `--max-decompressed-mib` and their variables.
impl StorageSettings {
    pub fn resolve(args: &StorageArgs, env: &dyn EnvLookup) -> Result<Self, SettingsError> {
        let chosen_driver =
            args.release_storage.clone().or_else(|| env.non_empty("WERF_RELEASE_STORAGE")).or_else(|| env.non_empty("HELM_DRIVER"));
        let helm3_driver_chosen = chosen_driver.is_some();
        let driver_name = chosen_driver.unwrap_or_else(|| "secret".into());
        let helm3_driver = match driver_name.to_ascii_lowercase().as_str() {
            "secret" | "secrets" => Helm3Driver::Secret,
            "configmap" | "configmaps" => Helm3Driver::ConfigMap,
            "sql" | "memory" => return Err(SettingsError::UnsupportedDriver(driver_name)),
            _ => {
                return Err(SettingsError::Invalid {
                    what: "release storage driver",
                    value: driver_name,
                    reason: "expected secret or configmap (without the option both are read)".into(),
                });
            }
        };
        let chosen_tiller = args
            .helm2_namespace
            .clone()
            .or_else(|| env.non_empty("WERF_HELM2_RELEASE_STORAGE_NAMESPACE"))
            .or_else(|| env.non_empty("WERF_HELM_RELEASE_STORAGE_NAMESPACE"))
            .or_else(|| env.non_empty("TILLER_NAMESPACE"));
        let helm2_namespace_chosen = chosen_tiller.is_some();
        let helm2_namespace = chosen_tiller.unwrap_or_else(|| DEFAULT_TILLER_NAMESPACE.into());
        let storage_type = args
            .helm2_storage_type
            .clone()
            .or_else(|| env.non_empty("WERF_HELM2_RELEASE_STORAGE_TYPE"))
            .or_else(|| env.non_empty("WERF_HELM_RELEASE_STORAGE_TYPE"))
            .unwrap_or_else(|| "auto".into());
        let helm2_storage = match storage_type.to_ascii_lowercase().as_str() {
            "configmap" | "configmaps" => Helm2Storage::ConfigMap,
            "secret" | "secrets" => Helm2Storage::Secret,
            "auto" => Helm2Storage::Auto,
            _ => {
                return Err(SettingsError::Invalid {
                    what: "Helm 2 release storage type",
                    value: storage_type,
                    reason: "expected configmap, secret or auto".into(),
                });
            }
        };
        if args.max_decompressed_mib == 0 {
            return Err(SettingsError::Invalid { what: "--max-decompressed-mib", value: "0".into(), reason: "must be at least 1".into() });
        }
        Ok(StorageSettings {
            helm3_driver,
            helm2_namespace,
            helm2_storage,
            max_decompressed_bytes: args.max_decompressed_mib.saturating_mul(1024 * 1024),
            helm3_driver_chosen,
            helm2_namespace_chosen,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn request_timeout_forms() {
        assert_eq!(parse_request_timeout("0").unwrap(), None);
        assert_eq!(parse_request_timeout("30").unwrap(), Some(Duration::from_secs(30)));
        assert_eq!(parse_request_timeout("30s").unwrap(), Some(Duration::from_secs(30)));
        assert_eq!(parse_request_timeout("2m").unwrap(), Some(Duration::from_secs(120)));
        assert_eq!(parse_request_timeout("1h2m3s").unwrap(), Some(Duration::from_secs(3723)));
        assert_eq!(parse_request_timeout("1.5s").unwrap(), Some(Duration::from_millis(1500)));
        assert_eq!(parse_request_timeout("500ms").unwrap(), Some(Duration::from_millis(500)));
        for bad in ["", "abc", "5x", "s", "-1s", "1e999h"] {
            assert!(parse_request_timeout(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn helm3_driver_precedence() {
        let args = StorageArgs { max_decompressed_mib: 64, ..Default::default() };
        let none = env(&[]);
        assert_eq!(StorageSettings::resolve(&args, &none).unwrap().helm3_driver, Helm3Driver::Secret);
        let helm = env(&[("HELM_DRIVER", "configmap")]);
        assert_eq!(StorageSettings::resolve(&args, &helm).unwrap().helm3_driver, Helm3Driver::ConfigMap);
        let werf_over_helm = env(&[("HELM_DRIVER", "configmap"), ("WERF_RELEASE_STORAGE", "secret")]);
        assert_eq!(StorageSettings::resolve(&args, &werf_over_helm).unwrap().helm3_driver, Helm3Driver::Secret);
        let flag = StorageArgs { release_storage: Some("configmap".into()), ..args.clone() };
        assert_eq!(
            StorageSettings::resolve(&flag, &env(&[("WERF_RELEASE_STORAGE", "secret")])).unwrap().helm3_driver,
            Helm3Driver::ConfigMap
        );
        // An empty variable is unset, as in Helm.
        assert_eq!(StorageSettings::resolve(&args, &env(&[("HELM_DRIVER", "")])).unwrap().helm3_driver, Helm3Driver::Secret);
    }

    #[test]
    fn unsupported_and_invalid_drivers() {
        let args = StorageArgs { max_decompressed_mib: 64, ..Default::default() };
        let err = StorageSettings::resolve(&args, &env(&[("HELM_DRIVER", "sql")])).unwrap_err();
        assert_eq!(err, SettingsError::UnsupportedDriver("sql".into()));
        assert!(err.to_string().contains("not supported"));
        let err = StorageSettings::resolve(&args, &env(&[("HELM_DRIVER", "memory")])).unwrap_err();
        assert!(matches!(err, SettingsError::UnsupportedDriver(_)));
        let err = StorageSettings::resolve(&args, &env(&[("HELM_DRIVER", "etcd")])).unwrap_err();
        assert!(err.to_string().contains("\"etcd\""), "{err}");
        let bad_type = StorageArgs { helm2_storage_type: Some("both".into()), ..args };
        assert!(StorageSettings::resolve(&bad_type, &env(&[])).is_err());
    }

    #[test]
    fn helm2_storage_follows_werf_order() {
        let args = StorageArgs { max_decompressed_mib: 64, ..Default::default() };
        let s = StorageSettings::resolve(&args, &env(&[])).unwrap();
        assert_eq!(s.helm2_namespace, "kube-system");
        assert_eq!(s.helm2_storage, Helm2Storage::Auto);
        let all = env(&[
            ("TILLER_NAMESPACE", "tiller"),
            ("WERF_HELM_RELEASE_STORAGE_NAMESPACE", "werf-old"),
            ("WERF_HELM2_RELEASE_STORAGE_NAMESPACE", "werf-new"),
            ("WERF_HELM_RELEASE_STORAGE_TYPE", "secret"),
            ("WERF_HELM2_RELEASE_STORAGE_TYPE", "configmap"),
        ]);
        let s = StorageSettings::resolve(&args, &all).unwrap();
        assert_eq!(s.helm2_namespace, "werf-new");
        assert_eq!(s.helm2_storage, Helm2Storage::ConfigMap);
        let s =
            StorageSettings::resolve(&args, &env(&[("TILLER_NAMESPACE", "tiller"), ("WERF_HELM_RELEASE_STORAGE_TYPE", "secret")])).unwrap();
        assert_eq!(s.helm2_namespace, "tiller");
        assert_eq!(s.helm2_storage, Helm2Storage::Secret);
        let flags = StorageArgs { helm2_namespace: Some("flagged".into()), helm2_storage_type: Some("configmap".into()), ..args };
        let s = StorageSettings::resolve(&flags, &all).unwrap();
        assert_eq!(s.helm2_namespace, "flagged");
        assert_eq!(s.helm2_storage, Helm2Storage::ConfigMap);
        assert_eq!(s.max_decompressed_bytes, 64 * 1024 * 1024);
    }

    #[test]
    fn rate_limits_from_flags_and_helm_variables() {
        let none = ConnectionSettings::resolve(&ConnectionArgs::default(), InvocationMode::Kubectl, &env(&[])).unwrap();
        assert_eq!(none.rate_limit, None);
        let from_env = ConnectionSettings::resolve(
            &ConnectionArgs::default(),
            InvocationMode::Kubectl,
            &env(&[("HELM_QPS", "20"), ("HELM_BURST_LIMIT", "5")]),
        )
        .unwrap();
        assert_eq!(from_env.rate_limit, Some(crate::ratelimit::RateLimit { qps: 20.0, burst: 5 }));
        let default_burst =
            ConnectionSettings::resolve(&ConnectionArgs::default(), InvocationMode::Kubectl, &env(&[("HELM_QPS", "2.5")])).unwrap();
        assert_eq!(default_burst.rate_limit, Some(crate::ratelimit::RateLimit { qps: 2.5, burst: DEFAULT_BURST_LIMIT }));
        let flags = ConnectionArgs { qps: Some(7.0), burst_limit: Some(1), ..Default::default() };
        let s = ConnectionSettings::resolve(&flags, InvocationMode::Kubectl, &env(&[("HELM_QPS", "20")])).unwrap();
        assert_eq!(s.rate_limit, Some(crate::ratelimit::RateLimit { qps: 7.0, burst: 1 }));
        assert!(ConnectionSettings::resolve(&ConnectionArgs::default(), InvocationMode::Kubectl, &env(&[("HELM_QPS", "fast")])).is_err());
        let zero = ConnectionSettings::resolve(&ConnectionArgs::default(), InvocationMode::Kubectl, &env(&[("HELM_QPS", "0")])).unwrap();
        assert_eq!(zero.rate_limit, None);
    }

    #[test]
    fn werf_variables_rank_below_flags_and_above_kubectls_own() {
        let werf = env(&[
            ("WERF_KUBE_CONTEXT", "werf-ctx"),
            ("WERF_KUBE_CONFIG", "/werf/config"),
            ("WERF_KUBECONFIG", "/werf/other"),
            ("KUBECONFIG", "/kubectl/config"),
            ("WERF_KUBE_TOKEN", "werf-token"),
            ("WERF_KUBE_API_SERVER", "https://werf:6443"),
            ("WERF_KUBE_TLS_SERVER", "werf.internal"),
            ("WERF_KUBE_CA_PATH", "/werf/ca.pem"),
            ("WERF_SKIP_TLS_VERIFY_KUBE", "true"),
        ]);
        let s = ConnectionSettings::resolve(&ConnectionArgs::default(), InvocationMode::Kubectl, &werf).unwrap();
        assert_eq!(s.context.as_deref(), Some("werf-ctx"));
        assert_eq!(s.kubeconfig, Some(PathBuf::from("/werf/config")), "WERF_KUBE_CONFIG, then WERF_KUBECONFIG, then KUBECONFIG");
        assert_eq!(s.token.as_deref(), Some("werf-token"));
        assert_eq!(s.server.as_deref(), Some("https://werf:6443"));
        assert_eq!(s.tls_server_name.as_deref(), Some("werf.internal"));
        assert_eq!(s.certificate_authority, Some(PathBuf::from("/werf/ca.pem")));
        assert!(s.insecure_skip_tls_verify);
        assert_eq!(s.kubeconfig_base64, None);
        let second = env(&[("WERF_KUBECONFIG", "/werf/other"), ("KUBECONFIG", "/kubectl/config")]);
        let s = ConnectionSettings::resolve(&ConnectionArgs::default(), InvocationMode::Kubectl, &second).unwrap();
        assert_eq!(s.kubeconfig, Some(PathBuf::from("/werf/other")));
        // KUBECONFIG alone stays kubectl's list (read by the cluster module), not an explicit file.
        let s = ConnectionSettings::resolve(&ConnectionArgs::default(), InvocationMode::Kubectl, &env(&[("KUBECONFIG", "/a:/b")])).unwrap();
        assert_eq!(s.kubeconfig, None);

        // Flags win over every werf variable.
        let flags = ConnectionArgs {
            context: Some("flag-ctx".into()),
            kubeconfig: Some("/flag/config".into()),
            token: Some("flag-token".into()),
            server: Some("https://flag:6443".into()),
            tls_server_name: Some("flag.internal".into()),
            certificate_authority: Some("/flag/ca.pem".into()),
            ..Default::default()
        };
        let s = ConnectionSettings::resolve(&flags, InvocationMode::Kubectl, &werf).unwrap();
        assert_eq!(s.context.as_deref(), Some("flag-ctx"));
        assert_eq!(s.kubeconfig, Some(PathBuf::from("/flag/config")));
        assert_eq!(s.token.as_deref(), Some("flag-token"));
        assert_eq!(s.server.as_deref(), Some("https://flag:6443"));
        assert_eq!(s.tls_server_name.as_deref(), Some("flag.internal"));
        assert_eq!(s.certificate_authority, Some(PathBuf::from("/flag/ca.pem")));

        // In Helm mode, Helm's flags (its HELM_* variables) also rank above werf's.
        let helm = env(&[
            ("HELM_KUBECONTEXT", "helm-ctx"),
            ("HELM_KUBETLS_SERVER_NAME", "helm.internal"),
            ("WERF_KUBE_CONTEXT", "werf-ctx"),
            ("WERF_KUBE_TLS_SERVER", "werf.internal"),
        ]);
        let s = ConnectionSettings::resolve(&ConnectionArgs::default(), InvocationMode::Helm, &helm).unwrap();
        assert_eq!(s.context.as_deref(), Some("helm-ctx"));
        assert_eq!(s.tls_server_name.as_deref(), Some("helm.internal"));
        let s = ConnectionSettings::resolve(&ConnectionArgs::default(), InvocationMode::Kubectl, &helm).unwrap();
        assert_eq!(s.tls_server_name.as_deref(), Some("werf.internal"), "HELM_* only count under Helm");

        for (value, expected) in [("1", true), ("yes", true), ("false", false), ("no", false)] {
            let s = ConnectionSettings::resolve(
                &ConnectionArgs::default(),
                InvocationMode::Kubectl,
                &env(&[("WERF_SKIP_TLS_VERIFY_KUBE", value)]),
            )
            .unwrap();
            assert_eq!(s.insecure_skip_tls_verify, expected, "{value}");
        }
        let err = ConnectionSettings::resolve(
            &ConnectionArgs::default(),
            InvocationMode::Kubectl,
            &env(&[("WERF_SKIP_TLS_VERIFY_KUBE", "maybe")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("WERF_SKIP_TLS_VERIFY_KUBE"), "{err}");
    }

    #[test]
    fn a_base64_kubeconfig_wins_over_kubeconfig_paths_from_variables_but_not_over_the_flag() {
        let vars = env(&[
            ("KUBECONFIG_BASE64", "third"),
            ("WERF_KUBECONFIG_BASE64", "second"),
            ("WERF_KUBE_CONFIG_BASE64", "first"),
            ("WERF_KUBE_CONFIG", "/werf/config"),
        ]);
        let s = ConnectionSettings::resolve(&ConnectionArgs::default(), InvocationMode::Kubectl, &vars).unwrap();
        let b64 = s.kubeconfig_base64.clone().unwrap();
        assert_eq!((b64.variable, b64.value.as_str()), ("WERF_KUBE_CONFIG_BASE64", "first"));
        assert_eq!(s.kubeconfig, None);
        assert!(!format!("{s:?}").contains("first"), "the base64 kubeconfig is never printed");
        let s = ConnectionSettings::resolve(
            &ConnectionArgs::default(),
            InvocationMode::Kubectl,
            &env(&[("KUBECONFIG_BASE64", "third"), ("WERF_KUBECONFIG_BASE64", "second")]),
        )
        .unwrap();
        assert_eq!(s.kubeconfig_base64.unwrap().variable, "WERF_KUBECONFIG_BASE64");
        let flag = ConnectionArgs { kubeconfig: Some("/flag".into()), ..Default::default() };
        let s = ConnectionSettings::resolve(&flag, InvocationMode::Kubectl, &vars).unwrap();
        assert_eq!((s.kubeconfig, s.kubeconfig_base64), (Some(PathBuf::from("/flag")), None));
    }

    #[test]
    fn helm_mode_detection() {
        let none = env(&[]);
        assert_eq!(InvocationMode::detect("/usr/bin/kubectl-werf", &none), InvocationMode::Kubectl);
        assert_eq!(InvocationMode::detect("kubectl-werf", &env(&[("HELM_PLUGIN_NAME", "werf-releases")])), InvocationMode::Helm);
        assert_eq!(InvocationMode::detect("/x/helm-werf-releases", &none), InvocationMode::Helm);
        assert_eq!(InvocationMode::detect("kubectl-werf", &env(&[("HELM_PLUGIN_NAME", "")])), InvocationMode::Kubectl);
    }

    #[test]
    fn helm_environment_fills_connection_settings_only_in_helm_mode() {
        let helm_env = env(&[
            ("HELM_NAMESPACE", "apps"),
            ("HELM_KUBECONTEXT", "prod"),
            ("HELM_KUBEASUSER", "alice"),
            ("HELM_KUBEASGROUPS", "dev, ops"),
            ("HELM_KUBETOKEN", "t0ken"),
            ("HELM_KUBEAPISERVER", "https://k8s:6443"),
            ("HELM_KUBECAFILE", "/ca.pem"),
            ("HELM_KUBEINSECURE_SKIP_TLS_VERIFY", "true"),
            ("HELM_DEBUG", "1"),
        ]);
        let args = ConnectionArgs::default();
        let kubectl = ConnectionSettings::resolve(&args, InvocationMode::Kubectl, &helm_env).unwrap();
        assert_eq!(kubectl, ConnectionSettings::default());
        let helm = ConnectionSettings::resolve(&args, InvocationMode::Helm, &helm_env).unwrap();
        assert_eq!(helm.namespace.as_deref(), Some("apps"));
        assert_eq!(helm.context.as_deref(), Some("prod"));
        assert_eq!(helm.as_user.as_deref(), Some("alice"));
        assert_eq!(helm.as_groups, vec!["dev".to_string(), "ops".to_string()]);
        assert_eq!(helm.token.as_deref(), Some("t0ken"));
        assert_eq!(helm.server.as_deref(), Some("https://k8s:6443"));
        assert_eq!(helm.certificate_authority, Some(PathBuf::from("/ca.pem")));
        assert!(helm.insecure_skip_tls_verify);
        assert_eq!(helm.verbosity, 4);
        // Our own flags win over Helm's environment.
        let flags = ConnectionArgs { namespace: Some("mine".into()), context: Some("dev".into()), ..Default::default() };
        let helm = ConnectionSettings::resolve(&flags, InvocationMode::Helm, &helm_env).unwrap();
        assert_eq!(helm.namespace.as_deref(), Some("mine"));
        assert_eq!(helm.context.as_deref(), Some("dev"));
        let bad = env(&[("HELM_KUBEINSECURE_SKIP_TLS_VERIFY", "yes")]);
        assert!(ConnectionSettings::resolve(&args, InvocationMode::Helm, &bad).is_err());
    }
}
