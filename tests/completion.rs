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
    assert!(help.status.success());
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("kubectl_complete-werf") && help.contains("fish"), "{help}");
}

/// A shell on PATH, or `None` with the reason printed (zsh and fish are optional; bash is not).
fn shell(name: &str) -> Option<std::path::PathBuf> {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).map(|d| d.join(name)).find(|p| p.is_file());
    if found.is_none() {
        eprintln!("skipping the {name} completion script: no {name} on PATH (apt-get install {name})");
    }
    found
}

/// `kubectl werf completion SHELL` written to a file in `dir`.
fn script_file(dir: &Path, shell: &str) -> std::path::PathBuf {
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-werf")).args(["completion", shell]).output().unwrap();
    assert!(out.status.success(), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
    let path = dir.join(format!("kubectl-werf.{shell}"));
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

fn shell_output(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{cmd:?}: {text}{}", String::from_utf8_lossy(&out.stderr));
    text
}

/// Each generated script, loaded into its own shell, completes `kubectl-werf rel` (the binary the static
/// scripts complete) with the two verbs starting so: `release-name` and `releases`.
#[test]
fn completion_scripts_complete_a_verb_in_their_shells() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();

    // bash: the script's function called as bash's programmable completion calls it.
    let bash = shell("bash").expect("bash is needed for the completion test");
    let script = script_file(dir.path(), "bash");
    let got = shell_output(
        Command::new(&bash)
            .env("HOME", &home)
            .args(["--norc", "--noprofile", "-c"])
            .arg(
                r#"source "$1" || exit 1
COMP_WORDS=(kubectl-werf rel); COMP_CWORD=1; COMP_LINE="kubectl-werf rel"; COMP_POINT=${#COMP_LINE}
_kubectl_werf kubectl-werf rel kubectl-werf
printf '%s\n' "${COMPREPLY[@]}""#,
            )
            .args(["bash"])
            .arg(&script),
    );
    assert_eq!(lines(&got), ["release-name", "releases"], "bash");

    // fish: `complete -C` prints what fish would offer, `candidate<TAB>description` a line.
    if let Some(fish) = shell("fish") {
        let script = script_file(dir.path(), "fish");
        let got = shell_output(
            Command::new(fish)
                .env("HOME", &home)
                .env("XDG_CONFIG_HOME", &home)
                .args(["--no-config", "-c"])
                .arg(format!("source '{}'; or exit 1; complete -C 'kubectl-werf rel'", script.display())),
        );
        let mut words: Vec<&str> = got.lines().map(|l| l.split('\t').next().unwrap()).collect();
        words.sort();
        assert_eq!(words, ["release-name", "releases"], "fish: {got}");
    }

    // zsh: completion runs only inside the line editor, so an interactive zsh in a pseudo-terminal
    // (zsh/zpty) gets `kubectl-werf rel` and two TABs: the first inserts the common prefix `release`,
    // the second lists both verbs with their descriptions.
    if let Some(zsh) = shell("zsh") {
        let script = script_file(dir.path(), "zsh");
        let driver = format!(
            r#"zmodload zsh/zpty || exit 1
zpty z 'zsh -f -i'
zpty -w z 'PS1="%% "; autoload -U compinit; compinit -u -D; source {script}; bindkey -e'
zpty -w -n z $'kubectl-werf rel\t\t'
out=""
integer i
for i in {{1..300}}; do
  if zpty -r -t z line; then out+="$line"; fi
  [[ $out == *releases*--* ]] && break
  sleep 0.1
done
zpty -d z
print -r -- "$out"
"#,
            script = script.display()
        );
        let got = shell_output(Command::new(zsh).env("HOME", &home).env("TERM", "dumb").args(["-f", "-c", &driver]));
        let plain: String = got.chars().filter(|c| !c.is_control() || *c == '\n').collect();
        assert!(plain.contains("kubectl-werf release"), "zsh inserted the common prefix: {plain}");
        assert!(plain.contains("release-name  -- Print the release name"), "zsh: {plain}");
        assert!(plain.contains("releases      -- List and inspect"), "zsh: {plain}");
    }
}
