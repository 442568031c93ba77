//! Shell completion: `kubectl werf completion SHELL` prints a static script (clap_complete), and
//! `kubectl werf __complete WORDS... CURRENT` / `kubectl_complete-werf WORDS... CURRENT` answer kubectl's
//! plugin completion (kubectl 1.26+) with cobra's protocol: one candidate per line, then `:<directive>`.
//!
//! Verbs, flags and enum values come from the clap tree; release names and namespaces come from the
//! cluster (metadata-only lists). Any cluster problem just yields no candidates: completion never prints
//! errors and never panics.

use std::process::ExitCode;
use std::time::Duration;

use clap::CommandFactory;
use clap::builder::ValueHint;

use crate::cli::{Cli, CompletionArgs, ConnectionArgs, StorageArgs};
use crate::commands::context::Outcome;
use crate::error::AppError;
use crate::settings::{ConnectionSettings, EnvLookup, InvocationMode, ProcessEnv};
use crate::storage::{Helm2Storage, StorageSettings};

/// Cobra directives (a bitmask).
pub const DIRECTIVE_DEFAULT: u32 = 0;
pub const DIRECTIVE_ERROR: u32 = 1;
pub const DIRECTIVE_NO_SPACE: u32 = 2;
pub const DIRECTIVE_NO_FILE: u32 = 4;

/// How long the cluster may take to answer before completion gives up silently.
const CLUSTER_BUDGET: Duration = Duration::from_secs(3);

/// `kubectl werf completion SHELL`.
pub fn run(args: CompletionArgs) -> Result<Outcome, AppError> {
    use std::io::Write;
    // clap_complete's bash script names its functions after the bin names and mangles dashes
    // inconsistently, so bash gets a dash-free name and only the `complete` lines name the binary.
    let bash = args.shell == clap_complete::Shell::Bash;
    let bin = if bash { "kubectl_werf" } else { "kubectl-werf" };
    let mut cmd = with_bin_names(Cli::command(), bin);
    // Generated into memory first: clap_complete panics when its writer fails (e.g. a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, bin, &mut script);
    if bash {
        script = String::from_utf8_lossy(&script).replace(" kubectl_werf\n", " kubectl-werf\n").into_bytes();
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        Ok(()) => Ok(Outcome::Success),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Outcome::Success),
        Err(e) => Err(AppError::Failed(format!("cannot write the completion script: {e}"))),
    }
}

/// The clap tree says `kubectl werf` for help texts; the scripts complete the `kubectl-werf` binary, so
/// every level is renamed (clap_complete names its shell functions after these).
fn with_bin_names(cmd: clap::Command, bin: &str) -> clap::Command {
    cmd.bin_name(bin).mut_subcommands(|sub| {
        let name = format!("{bin} {}", sub.get_name());
        with_bin_names(sub, &name)
    })
}

/// What the current word needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Want {
    /// Fixed candidates (verbs, flags, enum values).
    Words(Vec<String>),
    /// Release names from the cluster; `helm2` reads Tiller's records instead of Helm 3's.
    Releases { helm2: bool, exclude: Vec<String> },
    /// Namespaces from the cluster.
    Namespaces,
    /// Context names from the kubeconfig.
    Contexts,
    /// A path: let the shell complete files.
    Files,
    #[default]
    Nothing,
}

/// The command line up to the current word, as far as completion cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    /// Subcommand names from the root, canonical (`ls` becomes `list`).
    pub path: Vec<String>,
    /// Flags seen, by clap argument id, with their values (`"true"` for switches).
    pub flags: Vec<(String, String)>,
    /// Positional values after the last subcommand.
    pub positionals: Vec<String>,
    pub want: Want,
    /// Prepended to each candidate (`--output=` when completing `--output=js`).
    pub prefix: String,
    /// The part of the current word candidates must start with.
    pub current: String,
}

impl Analysis {
    pub fn flag(&self, id: &str) -> Option<&str> {
        self.flags.iter().rev().find(|(k, _)| k == id).map(|(_, v)| v.as_str())
    }

    fn flag_all(&self, id: &str) -> Vec<String> {
        self.flags.iter().filter(|(k, _)| k == id).map(|(_, v)| v.clone()).collect()
    }
}

fn find_long<'a>(cmd: &'a clap::Command, name: &str) -> Option<&'a clap::Arg> {
    cmd.get_arguments().find(|a| a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|al| al.contains(&name)))
}

fn find_short(cmd: &clap::Command, c: char) -> Option<&clap::Arg> {
    cmd.get_arguments().find(|a| a.get_short() == Some(c) || a.get_all_short_aliases().is_some_and(|al| al.contains(&c)))
}

fn takes_value(arg: &clap::Arg) -> bool {
    arg.get_action().takes_values()
}

fn positional_at(cmd: &clap::Command, index: usize) -> Option<&clap::Arg> {
    let positionals: Vec<&clap::Arg> = cmd.get_positionals().collect();
    positionals.get(index).copied().or_else(|| {
        positionals
            .last()
            .copied()
            .filter(|a| a.get_num_args().is_some_and(|r| r.max_values() > 1) || matches!(a.get_action(), clap::ArgAction::Append))
    })
}

fn visible_subcommands(cmd: &clap::Command) -> Vec<String> {
    let mut out = Vec::new();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        out.push(sub.get_name().to_string());
        out.extend(sub.get_visible_aliases().map(str::to_string));
    }
    out
}

fn long_flags(cmd: &clap::Command) -> Vec<String> {
    let mut out = Vec::new();
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        if let Some(long) = arg.get_long() {
            out.push(format!("--{long}"));
        }
        if let Some(aliases) = arg.get_visible_aliases() {
            out.extend(aliases.into_iter().map(|a| format!("--{a}")));
        }
    }
    out
}

/// Candidates for a flag's value, by argument id, then by the argument's own possible values.
fn flag_values(arg: &clap::Arg) -> Want {
    match arg.get_id().as_str() {
        "release_storage" => return words(&["secret", "configmap"]),
        "helm2_storage_type" => return words(&["configmap", "secret", "auto"]),
        "namespace" | "helm2_namespace" | "target_namespace" | "release_namespace" => return Want::Namespaces,
        "context" => return Want::Contexts,
        "from_release" | "release" => return Want::Releases { helm2: false, exclude: Vec::new() },
        _ => {}
    }
    let values: Vec<String> = arg.get_possible_values().iter().filter(|v| !v.is_hide_set()).map(|v| v.get_name().to_string()).collect();
    if !values.is_empty() {
        return Want::Words(values);
    }
    match arg.get_value_hint() {
        ValueHint::AnyPath | ValueHint::FilePath | ValueHint::DirPath => Want::Files,
        _ => Want::Nothing,
    }
}

fn words(list: &[&str]) -> Want {
    Want::Words(list.iter().map(|s| s.to_string()).collect())
}

/// Which verbs take release names as positionals, and how many.
fn release_positional(path: &[String], given: &[String], helm_version: Option<&str>) -> Option<Want> {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    let helm2_flag = helm_version == Some("2");
    let single = |helm2: bool| (given.is_empty()).then(|| Want::Releases { helm2, exclude: Vec::new() });
    let many = |helm2: bool| Some(Want::Releases { helm2, exclude: given.to_vec() });
    match p.as_slice() {
        ["releases", "history" | "status" | "unlock" | "size" | "relabel"] | ["releases", "get", _] => single(helm2_flag),
        ["releases", "prune" | "export" | "apis" | "doctor"] => many(helm2_flag),
        ["annotate"] => single(false),
        ["migrate2to3"] => many(true),
        _ => None,
    }
}

/// Work out what the last word of `words` (the current, possibly empty, word) should complete to.
pub fn analyze(root: &clap::Command, words: &[String]) -> Analysis {
    let mut root = root.clone();
    root.build();
    let (current, before) = match words.split_last() {
        Some((c, b)) => (c.clone(), b),
        None => (String::new(), &[][..]),
    };
    let mut a = Analysis::default();
    let mut cmd = &root;
    let mut pending: Option<&clap::Arg> = None;
    let mut only_positionals = false;

    for word in before {
        if let Some(arg) = pending.take() {
            a.flags.push((arg.get_id().to_string(), word.clone()));
            continue;
        }
        if !only_positionals && word == "--" {
            only_positionals = true;
            continue;
        }
        if !only_positionals && let Some(long) = word.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            if let Some(arg) = find_long(cmd, name) {
                match (takes_value(arg), value) {
                    (true, Some(v)) => a.flags.push((arg.get_id().to_string(), v.to_string())),
                    (true, None) => pending = Some(arg),
                    (false, v) => a.flags.push((arg.get_id().to_string(), v.unwrap_or("true").to_string())),
                }
            }
            continue;
        }
        if !only_positionals && word.len() > 1 && word.starts_with('-') {
            let shorts = &word[1..];
            for (i, c) in shorts.char_indices() {
                let Some(arg) = find_short(cmd, c) else { break };
                if takes_value(arg) {
                    let rest = &shorts[i + c.len_utf8()..];
                    let rest = rest.strip_prefix('=').unwrap_or(rest);
                    if rest.is_empty() {
                        pending = Some(arg);
                    } else {
                        a.flags.push((arg.get_id().to_string(), rest.to_string()));
                    }
                    break;
                }
                a.flags.push((arg.get_id().to_string(), "true".to_string()));
            }
            continue;
        }
        if a.positionals.is_empty()
            && !only_positionals
            && let Some(sub) = cmd.find_subcommand(word)
        {
            a.path.push(sub.get_name().to_string());
            cmd = sub;
            continue;
        }
        a.positionals.push(word.clone());
    }

    a.current = current.clone();
    if let Some(arg) = pending {
        a.want = flag_values(arg);
        return a;
    }
    if !only_positionals && current.starts_with('-') {
        if let Some(long) = current.strip_prefix("--")
            && let Some((name, value)) = long.split_once('=')
        {
            if let Some(arg) = find_long(cmd, name).filter(|a| takes_value(a)) {
                a.want = flag_values(arg);
                a.prefix = format!("--{name}=");
                a.current = value.to_string();
            }
            return a;
        }
        a.want = Want::Words(long_flags(cmd));
        return a;
    }
    if a.positionals.is_empty() && !only_positionals && cmd.has_subcommands() {
        a.want = Want::Words(visible_subcommands(cmd));
        return a;
    }
    if let Some(want) = release_positional(&a.path, &a.positionals, a.flag("helm_version")) {
        a.want = want;
        return a;
    }
    if let Some(arg) = positional_at(cmd, a.positionals.len()) {
        a.want = match flag_values(arg) {
            Want::Words(w) => Want::Words(w),
            Want::Files => Want::Files,
            _ => Want::Nothing,
        };
    }
    a
}

/// Candidates filtered by the current word, deduplicated, in a stable order, and the directive.
pub fn finish(a: &Analysis, found: Vec<String>) -> (Vec<String>, u32) {
    let mut seen = std::collections::BTreeSet::new();
    let out: Vec<String> = found
        .into_iter()
        .filter(|c| c.starts_with(&a.current) && !c.contains('\n'))
        .filter(|c| seen.insert(c.clone()))
        .map(|c| format!("{}{c}", a.prefix))
        .collect();
    let directive = if a.want == Want::Files { DIRECTIVE_DEFAULT } else { DIRECTIVE_NO_FILE };
    (out, directive)
}

/// Candidates for `words` (the words after `kubectl werf`, the last one being the current word).
pub fn complete(words: &[String], env: &dyn EnvLookup) -> (Vec<String>, u32) {
    let a = analyze(&Cli::command(), words);
    let found = match &a.want {
        Want::Words(w) => w.clone(),
        Want::Nothing | Want::Files => Vec::new(),
        Want::Contexts => contexts(&a, env).unwrap_or_default(),
        Want::Releases { .. } | Want::Namespaces => from_cluster(&a, env).unwrap_or_default(),
    };
    finish(&a, found)
}

/// Print the cobra answer for `words`. Always succeeds: errors mean no candidates.
pub fn complete_main(words: &[String]) -> ExitCode {
    use std::io::Write;
    let (candidates, directive) = complete(words, &ProcessEnv);
    let mut out = std::io::stdout().lock();
    for c in candidates {
        let _ = writeln!(out, "{c}");
    }
    let _ = writeln!(out, ":{directive}");
    let _ = out.flush();
    ExitCode::SUCCESS
}

fn connection_args(a: &Analysis) -> ConnectionArgs {
    let path = |id: &str| a.flag(id).map(std::path::PathBuf::from);
    let text = |id: &str| a.flag(id).map(str::to_string);
    ConnectionArgs {
        kubeconfig: path("kubeconfig"),
        context: text("context"),
        cluster: text("cluster"),
        user: text("user"),
        namespace: text("namespace"),
        as_user: text("as_user"),
        as_group: a.flag_all("as_group"),
        request_timeout: text("request_timeout"),
        server: text("server"),
        token: text("token"),
        certificate_authority: path("certificate_authority"),
        insecure_skip_tls_verify: a.flag("insecure_skip_tls_verify").is_some_and(|v| v != "false"),
        ..Default::default()
    }
}

fn contexts(a: &Analysis, env: &dyn EnvLookup) -> Option<Vec<String>> {
    let settings = ConnectionSettings::resolve(&connection_args(a), InvocationMode::Kubectl, env).ok()?;
    let config = crate::cluster::configured_kubeconfig(&settings, env).ok()??;
    Some(config.contexts.into_iter().map(|c| c.name).collect())
}

fn from_cluster(a: &Analysis, env: &dyn EnvLookup) -> Option<Vec<String>> {
    let mut settings = ConnectionSettings::resolve(&connection_args(a), InvocationMode::Kubectl, env).ok()?;
    if settings.request_timeout.is_none() {
        settings.request_timeout = Some(CLUSTER_BUDGET);
    }
    let storage_args = StorageArgs {
        release_storage: a.flag("release_storage").map(str::to_string),
        helm2_namespace: a.flag("helm2_namespace").map(str::to_string),
        helm2_storage_type: a.flag("helm2_storage_type").map(str::to_string),
        max_decompressed_mib: 64,
    };
    let storage = StorageSettings::resolve(&storage_args, env).ok()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
    let want = a.want.clone();
    runtime.block_on(async move {
        let work = async {
            let access = crate::cluster::connect(&settings, env).await.ok()?;
            fetch(&access, &storage, &want).await
        };
        tokio::time::timeout(CLUSTER_BUDGET, work).await.ok().flatten()
    })
}

async fn fetch(access: &crate::cluster::ClusterAccess, storage: &StorageSettings, want: &Want) -> Option<Vec<String>> {
    use crate::storage::codec::{HELM2_LIST_SELECTOR, parse_helm2_labels, parse_helm3_labels};
    use crate::storage::objects::ObjectStore;
    use crate::storage::{Helm3Store, ObjectKind};
    match want {
        Want::Namespaces => {
            let api: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(access.client.clone());
            let list = api.list_metadata(&kube::api::ListParams::default()).await.ok()?;
            Some(list.items.into_iter().filter_map(|m| m.metadata.name).collect())
        }
        Want::Releases { helm2: false, exclude } => {
            let limits = crate::storage::codec::DecodeLimits { max_decompressed: storage.max_decompressed_bytes };
            let store = Helm3Store::new(access.client.clone(), storage.helm3_driver, limits);
            let metas = store.list_meta(Some(&access.namespace), None).await.ok()?;
            Some(metas.into_iter().filter_map(|m| parse_helm3_labels(&m.labels).name).filter(|n| !exclude.contains(n)).collect())
        }
        Want::Releases { helm2: true, exclude } => {
            let kinds: &[ObjectKind] = match storage.helm2_storage {
                Helm2Storage::ConfigMap => &[ObjectKind::ConfigMap],
                Helm2Storage::Secret => &[ObjectKind::Secret],
                Helm2Storage::Auto => &[ObjectKind::ConfigMap, ObjectKind::Secret],
            };
            let mut names = Vec::new();
            for kind in kinds {
                let store = ObjectStore::new(access.client.clone(), *kind);
                // One kind may be forbidden while the other answers; keep what we can read.
                if let Ok(metas) = store.list_meta_all(Some(&storage.helm2_namespace), HELM2_LIST_SELECTOR).await {
                    names.extend(metas.into_iter().filter_map(|m| parse_helm2_labels(&m.labels).name));
                }
            }
            names.retain(|n| !exclude.contains(n));
            Some(names)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn an(words: &[&str]) -> Analysis {
        let words: Vec<String> = words.iter().map(|s| s.to_string()).collect();
        analyze(&Cli::command(), &words)
    }

    fn cands(words: &[&str]) -> (Vec<String>, u32) {
        let a = an(words);
        let found = match &a.want {
            Want::Words(w) => w.clone(),
            _ => Vec::new(),
        };
        finish(&a, found)
    }

    #[test]
    fn verbs_at_the_top() {
        let (c, d) = cands(&[""]);
        for v in ["version", "release-name", "annotate", "releases", "adopt", "migrate2to3", "completion"] {
            assert!(c.contains(&v.to_string()), "{v} missing from {c:?}");
        }
        assert!(!c.iter().any(|v| v.starts_with("__")), "{c:?}");
        assert_eq!(d, DIRECTIVE_NO_FILE);
        assert_eq!(cands(&["rel"]).0, vec!["release-name", "releases"]);
    }

    #[test]
    fn sub_verbs_and_aliases() {
        let (c, _) = cands(&["releases", ""]);
        for v in ["list", "ls", "history", "hist", "status", "get", "unlock", "prune", "export", "restore"] {
            assert!(c.contains(&v.to_string()), "{v} missing from {c:?}");
        }
        assert_eq!(cands(&["releases", "l"]).0, vec!["list", "ls"]);
        // Flags before the sub-verb do not hide it.
        assert_eq!(cands(&["releases", "-n", "shop", "--helm-version", "3", "st"]).0, vec!["status"]);
        assert_eq!(cands(&["releases", "get", "v"]).0, vec!["values"]);
        // An alias descends like the name.
        let a = an(&["releases", "ls", ""]);
        assert_eq!(a.path, vec!["releases", "list"]);
    }

    #[test]
    fn long_flags_of_the_verb_in_effect() {
        let (c, d) = cands(&["releases", "list", "--"]);
        for f in
            ["--all-namespaces", "--output", "--namespace", "--kubeconfig", "--context", "--release-storage", "--helm-version", "--help"]
        {
            assert!(c.contains(&f.to_string()), "{f} missing from {c:?}");
        }
        assert!(c.iter().all(|f| f.starts_with("--")), "{c:?}");
        assert_eq!(d, DIRECTIVE_NO_FILE);
        assert_eq!(cands(&["releases", "unlock", "x", "--to"]).0, vec!["--to", "--token"]);
        let (c, _) = cands(&["migrate2to3", "-"]);
        assert!(c.contains(&"--tiller-namespace".to_string()) && c.contains(&"--delete-v2-releases".to_string()), "{c:?}");
    }

    #[test]
    fn enum_values() {
        assert_eq!(cands(&["releases", "list", "-o", ""]).0, vec!["table", "json", "yaml", "name"]);
        assert_eq!(cands(&["releases", "history", "x", "-o", ""]).0, vec!["table", "json", "yaml"]);
        assert_eq!(cands(&["releases", "list", "--output", "j"]).0, vec!["json"]);
        assert_eq!(cands(&["releases", "list", "--output=y"]).0, vec!["--output=yaml"]);
        assert_eq!(cands(&["releases", "list", "--release-storage", ""]).0, vec!["secret", "configmap"]);
        assert_eq!(cands(&["migrate2to3", "--helm-release-storage-type", ""]).0, vec!["configmap", "secret", "auto"]);
        assert_eq!(cands(&["migrate2to3", "--tiller-storage", "a"]).0, vec!["auto"]);
        assert_eq!(cands(&["releases", "unlock", "shop", "--to", ""]).0, vec!["failed", "superseded", "delete"]);
        assert!(cands(&["annotate", "--ci-env", "g"]).0.iter().all(|v| v.starts_with('g')));
        assert_eq!(cands(&["completion", ""]).0.iter().filter(|s| ["bash", "zsh", "fish", "powershell"].contains(&s.as_str())).count(), 4);
    }

    #[test]
    fn cluster_lookups_are_recognised() {
        assert_eq!(an(&["releases", "history", ""]).want, Want::Releases { helm2: false, exclude: vec![] });
        assert_eq!(an(&["releases", "hist", "-n", "shop", "s"]).want, Want::Releases { helm2: false, exclude: vec![] });
        assert_eq!(an(&["releases", "history", "shop", ""]).want, Want::Nothing);
        assert_eq!(an(&["releases", "get", "values", ""]).want, Want::Releases { helm2: false, exclude: vec![] });
        assert_eq!(an(&["releases", "status", "--helm-version", "2", ""]).want, Want::Releases { helm2: true, exclude: vec![] });
        assert_eq!(an(&["releases", "prune", "a", ""]).want, Want::Releases { helm2: false, exclude: vec!["a".into()] });
        assert_eq!(an(&["annotate", ""]).want, Want::Releases { helm2: false, exclude: vec![] });
        assert_eq!(an(&["migrate2to3", "x", ""]).want, Want::Releases { helm2: true, exclude: vec!["x".into()] });
        assert_eq!(an(&["releases", "list", "-n", ""]).want, Want::Namespaces);
        assert_eq!(an(&["releases", "list", "--namespace=k"]).want, Want::Namespaces);
        assert_eq!(an(&["migrate2to3", "--tiller-namespace", ""]).want, Want::Namespaces);
        assert_eq!(an(&["version", "--context", ""]).want, Want::Contexts);
        let a = an(&["releases", "history", "-n", "shop", "--context=c1", "--kubeconfig", "/k", ""]);
        assert_eq!(a.flag("namespace"), Some("shop"));
        assert_eq!(a.flag("context"), Some("c1"));
        assert_eq!(a.flag("kubeconfig"), Some("/k"));
        // Short flags glued to their value.
        assert_eq!(an(&["releases", "history", "-nshop", ""]).flag("namespace"), Some("shop"));
    }

    #[test]
    fn paths_fall_back_to_files_and_odd_input_does_not_panic() {
        let (c, d) = cands(&["releases", "export", "--dir", ""]);
        assert!(c.is_empty());
        assert_eq!(d, DIRECTIVE_DEFAULT);
        for words in [
            vec![],
            vec!["--"],
            vec!["-"],
            vec!["--nope=", ""],
            vec!["-zzz", "é", "--=", ""],
            vec!["releases", "--", "-x", ""],
            vec!["releases", "get", "values", "shop", "extra", "more", ""],
            vec!["-n"],
        ] {
            let _ = cands(&words);
        }
        assert_eq!(cands(&["bogus", ""]), (vec![], DIRECTIVE_NO_FILE));
    }
}
