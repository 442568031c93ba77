//! Graceful interruption. The first SIGINT/SIGTERM asks the running verb to stop starting new writes;
//! writes already sent are allowed to settle so nothing is left half-done, and the verb then prints how
//! to resume. A second signal exits at once (exit code 130), as shells expect.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone, Default)]
pub struct StopSignal {
    requested: Arc<AtomicBool>,
}

impl StopSignal {
    /// A flag nobody sets (tests, read-only verbs).
    pub fn never() -> Self {
        StopSignal::default()
    }

    /// Listen for SIGINT and SIGTERM. Must be called inside the tokio runtime. The handlers are in
    /// place when this returns: a signal from then on is caught, never the default exit.
    pub fn install() -> Self {
        let stop = StopSignal::default();
        let flag = stop.requested.clone();
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
    let mut args: Vec<String> = std::env::args().skip(1).map(|a| shell_quote(&a)).collect();
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
    fn resume_commands_are_quoted_for_a_shell() {
        assert_eq!(shell_quote("--keep=2"), "--keep=2");
        assert_eq!(shell_quote("--all"), "--all");
        assert_eq!(shell_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
