//! Runs the Kubernetes API emulator standalone:
//!
//! ```text
//! cargo run --example sandbox -- --listen 127.0.0.1:0 --write-kubeconfig PATH [--write-ca FILE] [--seed DIR]... [--namespace NS] [--rbac]
//! ```
//!
//! Prints the URL (and the kubeconfig path) and serves until killed. The emulator generates a CA of
//! its own at start: the kubeconfig carries it as `certificate-authority-data`, and `--write-ca FILE`
//! also writes its PEM (for `--certificate-authority`, `HELM_KUBECAFILE` or `curl --cacert`). The
//! CA file is written before the kubeconfig, so a script that waits for the kubeconfig finds both. With `--rbac` the RBAC
//! authorizer decides for every user but the admin; `--user TOKEN=NAME[,GROUP...]` adds users
//! (e.g. `--user t1=alice,kubectl-werf:releases-read` after `kubectl apply -f deploy/rbac/...`;
//! a user's kubeconfig is the admin's with the token replaced).

use std::path::PathBuf;

use kube_emulator::{Emulator, EmulatorConfig};

fn usage() -> ! {
    eprintln!(
        "usage: sandbox [--listen ADDR] [--write-kubeconfig PATH] [--write-ca FILE] [--seed DIR]... [--namespace NS] [--token TOKEN] [--rbac] [--user TOKEN=NAME[,GROUP...]]..."
    );
    std::process::exit(2);
}

fn main() {
    let mut cfg = EmulatorConfig::default();
    let mut kubeconfig: Option<PathBuf> = None;
    let mut ca_file: Option<PathBuf> = None;
    let mut seeds: Vec<PathBuf> = Vec::new();
    let mut namespace: Option<String> = None;
    let mut users: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next()).unwrap_or_else(|| usage());
        match flag.as_str() {
            "--listen" => {
                cfg.listen = value().parse().unwrap_or_else(|e| {
                    eprintln!("bad --listen: {e}");
                    std::process::exit(2)
                })
            }
            "--write-kubeconfig" => kubeconfig = Some(PathBuf::from(value())),
            "--write-ca" => ca_file = Some(PathBuf::from(value())),
            "--seed" => seeds.push(PathBuf::from(value())),
            "--namespace" => namespace = Some(value()),
            "--token" => cfg.admin_token = Some(value()),
            "--rbac" if inline.is_none() => cfg.rbac = true,
            "--user" => users.push(value()),
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    let emu = match Emulator::start_blocking_with(cfg) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot start the emulator: {e}");
            std::process::exit(1);
        }
    };
    for u in &users {
        // TOKEN=NAME[,GROUP...] (names and groups may hold colons, never commas)
        let Some((token, rest)) = u.split_once('=') else { usage() };
        let mut parts = rest.split(',').filter(|p| !p.is_empty());
        let Some(name) = parts.next() else { usage() };
        let groups: Vec<&str> = parts.collect();
        emu.add_user(token, name, &groups);
        eprintln!("user {name} (token {token}, groups {groups:?})");
    }
    for dir in &seeds {
        match emu.seed_dir(dir) {
            Ok(n) => eprintln!("seeded {n} objects from {}", dir.display()),
            Err(e) => {
                eprintln!("seeding failed: {e}");
                std::process::exit(1);
            }
        }
    }
    if let Some(p) = &ca_file {
        if let Err(e) = emu.write_ca_certificate(p) {
            eprintln!("cannot write {}: {e}", p.display());
            std::process::exit(1);
        }
        eprintln!("CA certificate written to {}", p.display());
    }
    if let Some(p) = &kubeconfig {
        if let Err(e) = std::fs::write(p, emu.kubeconfig_yaml(namespace.as_deref())) {
            eprintln!("cannot write {}: {e}", p.display());
            std::process::exit(1);
        }
        eprintln!("kubeconfig written to {}", p.display());
    }
    println!("{}", emu.url());
    use std::io::Write;
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}
