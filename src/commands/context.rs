//! What every verb gets from the invocation ([`Context`]), how it reports finishing ([`Outcome`]), and
//! the command line to print so the user can resume after an interruption or a partial failure.

use crate::error::AppError;
use crate::settings::{ConnectionSettings, EnvLookup, InvocationMode};

/// Everything a verb needs from the invocation besides its own arguments.
pub struct Context<'a> {
    pub mode: InvocationMode,
    pub connection: ConnectionSettings,
    pub env: &'a dyn EnvLookup,
}

impl Context<'_> {
    pub async fn connect(&self) -> Result<crate::cluster::ClusterAccess, AppError> {
        Ok(crate::cluster::connect(&self.connection, self.env).await?)
    }
}

/// How a verb finished when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// Some items failed (already reported); the rest was done.
    PartialFailure,
    /// Done, with an exit code of the verb's own (documented in its help), e.g. 3 when `releases apis`
    /// found removed APIs.
    Code(u8),
}

/// The command line as the user gave it, shell-quoted, to print after an interruption or partial
/// failure. Under Helm, helm consumes its global flags and hands them over as environment; they are
/// put back so the printed command runs against the same namespace and context.
pub fn resume_command(ctx: &Context<'_>) -> String {
    let mut args: Vec<String> = redact_credentials(std::env::args().skip(1)).iter().map(|a| shell_quote(a)).collect();
    if ctx.mode == InvocationMode::Helm {
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
            let value_names: Vec<String> =
                arg.get_value_names().map(|v| v.iter().map(|s| s.to_string().to_ascii_lowercase()).collect()).unwrap_or_default();
            let secret =
                ["token", "password", "key", "secret"].iter().any(|w| long.contains(w) || value_names.iter().any(|v| v.contains(w)));
            if secret {
                assert!(
                    CREDENTIAL_FLAGS.contains(&format!("--{long}").as_str()),
                    "--{long} carries a credential: add it to CREDENTIAL_FLAGS"
                );
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
