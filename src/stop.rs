//! Graceful interruption. The first SIGINT/SIGTERM asks the running verb to stop starting new writes;
//! writes already sent are allowed to settle so nothing is left half-done, and the verb then prints how
//! to resume. A second signal exits at once (exit code 130), as shells expect.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A stop asked for by something other than a signal (stdout's reader went away), before or after a
/// verb installed its `StopSignal`.
static REQUESTED_ELSEWHERE: AtomicBool = AtomicBool::new(false);
static INSTALLED: Mutex<Vec<Arc<AtomicBool>>> = Mutex::new(Vec::new());

/// Ask every verb to stop as the first Ctrl-C does (writes in flight finish, none is started).
pub fn request_everywhere(why: &str) {
    if REQUESTED_ELSEWHERE.swap(true, Ordering::SeqCst) {
        return;
    }
    let installed = INSTALLED.lock().map(|v| v.clone()).unwrap_or_default();
    eprintln!("{why}: finishing writes already sent, starting no new ones");
    for flag in installed {
        flag.store(true, Ordering::SeqCst);
    }
}

#[derive(Clone, Default)]
pub struct StopSignal {
    requested: Arc<AtomicBool>,
    /// Until armed, a signal ends the process at once (130): nothing is being written yet, so there is
    /// nothing to let settle (reads and prompts stop at once, as kubectl's do).
    armed: Arc<AtomicBool>,
}

impl StopSignal {
    /// A flag nobody sets (tests, read-only verbs).
    pub fn never() -> Self {
        StopSignal::default()
    }

    /// Listen for SIGINT and SIGTERM. Must be called inside the tokio runtime. The handlers are in
    /// place when this returns: a signal from then on is caught, never the default exit.
    pub fn install() -> Self {
        let stop = StopSignal::install_unarmed();
        stop.arm();
        stop
    }

    fn register(flag: &Arc<AtomicBool>) {
        // Output printed so far (the plan) either reached its reader or stopped us: settle that first.
        crate::pipe::settle();
        if let Ok(mut v) = INSTALLED.lock() {
            v.push(flag.clone());
        }
        if REQUESTED_ELSEWHERE.load(Ordering::SeqCst) {
            flag.store(true, Ordering::SeqCst);
        }
    }

    /// Listen for SIGINT and SIGTERM, but exit at once on them until [`StopSignal::arm`]: for verbs
    /// that read (and ask) before they write.
    pub fn install_unarmed() -> Self {
        let stop = StopSignal::default();
        let flag = stop.requested.clone();
        let armed = stop.armed.clone();
        StopSignal::register(&flag);
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
                return stop;
            };
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = int.recv() => {},
                        _ = term.recv() => {},
                    }
                    if !armed.load(Ordering::SeqCst) {
                        std::process::exit(130);
                    }
                    if flag.swap(true, Ordering::SeqCst) {
                        eprintln!("\ninterrupted again: exiting now");
                        std::process::exit(130);
                    }
                    eprintln!("\ninterrupt received: finishing writes already sent, starting no new ones (interrupt again to exit now)");
                }
            });
        }
        #[cfg(not(unix))]
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, Ordering::SeqCst);
                eprintln!("\ninterrupt received: finishing writes already sent, starting no new ones");
            }
        });
        stop
    }

    /// From now on the first signal lets writes in flight settle instead of exiting.
    pub fn arm(&self) {
        crate::pipe::settle();
        self.armed.store(true, Ordering::SeqCst);
    }

    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// For tests: behave as if a signal arrived.
    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
    }
}

/// The command line as the user gave it, shell-quoted, to print after an interruption or partial
/// failure. Under Helm, helm consumes its global flags and hands them over as environment; they are
/// put back so the printed command runs against the same namespace and context.
pub fn resume_command(ctx: &crate::app::Context<'_>) -> String {
    let mut args: Vec<String> = redact_credentials(std::env::args().skip(1)).iter().map(|a| shell_quote(a)).collect();
    if ctx.mode == crate::settings::InvocationMode::Helm {
        for (var, flag) in [("HELM_KUBECONTEXT", "--kube-context"), ("HELM_NAMESPACE", "--namespace")] {
            if let Some(v) = ctx.env.non_empty(var) {
                args.push(flag.to_string());
                args.push(shell_quote(&v));
            }
        }
    }
    format!("{} {}", ctx.mode.command_prefix(), args.join(" "))
}

/// Flags whose value is a credential. Every flag added to `cli::ConnectionArgs` whose value is a
/// secret belongs here (a unit test checks the flag definitions against this list).
pub const CREDENTIAL_FLAGS: &[&str] = &["--token", "--password", "--client-key", "--client-key-data", "--client-certificate-data"];

/// The command line with every credential flag's value replaced by a placeholder: a printed hint
/// never carries one (the user gives it again, or keeps it in the kubeconfig).
pub fn redact_credentials(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut hide_next = false;
    for a in args {
        if hide_next {
            out.push("<redacted>".to_string());
            hide_next = false;
            continue;
        }
        match CREDENTIAL_FLAGS.iter().find(|f| a == **f || a.starts_with(&format!("{f}="))) {
            Some(f) if a.contains('=') => out.push(format!("{f}=<redacted>")),
            Some(_) => {
                out.push(a);
                hide_next = true;
            }
            None => out.push(a),
        }
    }
    out
}

/// Quote for a POSIX shell when needed.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_a_hint() {
        let args = ["releases", "prune", "--token", "s3cret", "--token=s3cret", "--password", "p4ss", "-n", "x"].map(String::from);
        let out = redact_credentials(args).join(" ");
        assert!(!out.contains("s3cret") && !out.contains("p4ss"), "{out}");
        assert_eq!(out, "releases prune --token <redacted> --token=<redacted> --password <redacted> -n x");
    }

    /// A flag added later whose value is a secret must be redacted too: every connection flag whose
    /// name or value name speaks of a token, password or key is in CREDENTIAL_FLAGS.
    #[test]
    fn every_credential_flag_is_known() {
        use clap::CommandFactory;
        let cmd = crate::cli::Cli::command();
        for arg in cmd.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            let value_names: Vec<String> = arg.get_value_names().map(|v| v.iter().map(|s| s.to_string().to_ascii_lowercase()).collect()).unwrap_or_default();
            let secret = ["token", "password", "key", "secret"].iter().any(|w| long.contains(w) || value_names.iter().any(|v| v.contains(w)));
            if secret {
                assert!(CREDENTIAL_FLAGS.contains(&format!("--{long}").as_str()), "--{long} carries a credential: add it to CREDENTIAL_FLAGS");
            }
        }
    }

    #[test]
    fn resume_commands_are_quoted_for_a_shell() {
        assert_eq!(shell_quote("--keep=2"), "--keep=2");
        assert_eq!(shell_quote("--all"), "--all");
        assert_eq!(shell_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
