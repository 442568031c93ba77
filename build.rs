// Records the git commit the binary was built from, for `kubectl werf version`, and renders the man
// page from the clap definitions (`$OUT_DIR/kubectl-werf.1`; scripts/dist ships it).
use std::process::Command;

/// What `cli.rs` needs from the crate besides clap: the invocation modes its usage lines know.
#[allow(dead_code)]
mod settings {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum InvocationMode {
        Kubectl,
        Helm,
    }
}

#[allow(dead_code)]
#[path = "src/cli.rs"]
mod cli;

fn man_page() {
    use clap::CommandFactory;
    let Some(out) = std::env::var_os("OUT_DIR") else { return };
    let cmd = cli::Cli::command().name("kubectl-werf").bin_name("kubectl werf");
    let mut page = Vec::new();
    if clap_mangen::Man::new(cmd).render(&mut page).is_ok() {
        let _ = std::fs::write(std::path::Path::new(&out).join("kubectl-werf.1"), page);
    }
    println!("cargo:rerun-if-changed=src/cli.rs");
}

fn main() {
    man_page();
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=KUBECTL_WERF_GIT_COMMIT={commit}");
    // Re-run when HEAD moves; in a worktree or a plain copy these may not exist, which only means no re-run.
    for path in [".git/HEAD", ".git/refs/heads"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
