//! Program entry: parse the command line, pick the invocation mode, run the verb, map the outcome to
//! kubectl's exit codes (0 success, 1 failure, 2 usage error).

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::{Cli, Command};
use crate::commands;
use crate::commands::context::{Context, Outcome};
use crate::error::AppError;
use crate::settings::{ConnectionSettings, EnvLookup, InvocationMode, ProcessEnv};

pub fn main() -> ExitCode {
    // Output to a closed pipe ends the process as SIGPIPE does (see `pipe`); verbs that write switch
    // to a relay below.
    let reading = crate::pipe::for_reading();
    let args: Vec<OsString> = std::env::args_os().collect();
    let env = ProcessEnv;
    let argv0 = args.first().map(|a| a.to_string_lossy().into_owned()).unwrap_or_default();
    // Run as `kubectl_complete-werf` (a link to this binary, e.g. next to krew's link, which survives
    // `krew upgrade`): kubectl's plugin completion, the words being all our arguments.
    let base = argv0.rsplit(['/', '\\']).next().unwrap_or(&argv0);
    if base.strip_suffix(".exe").unwrap_or(base) == "kubectl_complete-werf" {
        let words: Vec<String> = args[1..].iter().map(|a| a.to_string_lossy().into_owned()).collect();
        return commands::completion::complete_main(&words);
    }
    // Completion requests bypass clap's parsing (their words are partial, flags included).
    if args.get(1).is_some_and(|a| a == "__complete") {
        let words: Vec<String> = args[2..].iter().map(|a| a.to_string_lossy().into_owned()).collect();
        return commands::completion::complete_main(&words);
    }
    // `kubectl werf help releases list` is `kubectl werf releases list --help`, as in kubectl and helm.
    let args: Vec<OsString> = if args.get(1).is_some_and(|a| a == "help") {
        let mut rewritten: Vec<OsString> = vec![args[0].clone()];
        rewritten.extend(args[2..].iter().cloned());
        rewritten.push("--help".into());
        rewritten
    } else {
        args
    };
    let mode = InvocationMode::detect(&argv0, &env);
    let command = command_for_mode(Cli::command(), mode);
    let matches = match command.try_get_matches_from(&args) {
        Ok(m) => m,
        Err(e) => {
            // clap prints help/version to stdout with exit 0, and usage errors to stderr with exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(2);
        }
    };
    let guard = if writes(&cli.command) { crate::pipe::for_writing(crate::stop::request_everywhere) } else { reading };
    let code = match run(cli, mode, &env) {
        Ok(Outcome::Success) => 0,
        Ok(Outcome::PartialFailure) => 1,
        Ok(Outcome::Code(code)) => code,
        Err(e) => {
            eprintln!("error: {}", crate::error::one_line(&e.to_string()));
            e.exit_code()
        }
    };
    guard.finish(code)
}

/// Usage lines as Helm users type them: `helm werf-releases list ...` (clap would print the path it
/// parsed, `... releases list`), for a command and everything below it.
fn helm_usage(command: clap::Command, path: &str) -> clap::Command {
    let mut probe = command.clone().bin_name(path);
    let usage = probe.render_usage().to_string();
    let usage = usage.strip_prefix("Usage: ").unwrap_or(&usage).to_string();
    command.override_usage(usage).mut_subcommands(|sub| {
        let child = format!("{path} {}", sub.get_name());
        helm_usage(sub, &child)
    })
}

/// Adjust usage lines to how the user reached us: `kubectl werf ...` or `helm werf-releases ...`.
pub fn command_for_mode(command: clap::Command, mode: InvocationMode) -> clap::Command {
    match mode {
        InvocationMode::Kubectl => command.bin_name("kubectl werf"),
        // Helm runs `kubectl-werf releases ...` for `helm werf-releases ...`.
        InvocationMode::Helm => command
            .bin_name("helm werf-releases")
            .mut_subcommands(|sub| if sub.get_name() == "releases" { helm_usage(sub, "helm werf-releases") } else { sub }),
    }
}

/// Verbs that may change the cluster (not in a dry run): they must never die between two writes.
fn writes(command: &Command) -> bool {
    use crate::cli::ReleasesCommand;
    match command {
        Command::Annotate(a) => !a.dry_run,
        Command::Adopt(a) => !a.dry_run,
        Command::Migrate2to3(a) => !a.dry_run,
        Command::Releases(r) => match &r.command {
            ReleasesCommand::Unlock(a) => !a.dry_run,
            ReleasesCommand::Prune(a) => !a.dry_run,
            ReleasesCommand::Restore(a) => !a.dry_run,
            ReleasesCommand::Forget(a) => !a.dry_run,
            ReleasesCommand::Move(a) => !a.dry_run,
            ReleasesCommand::Apis(a) => a.fix && !a.dry_run,
            ReleasesCommand::Relabel(a) => !a.dry_run,
            _ => false,
        },
        _ => false,
    }
}

fn run(cli: Cli, mode: InvocationMode, env: &dyn EnvLookup) -> Result<Outcome, AppError> {
    let connection = ConnectionSettings::resolve(&cli.connection, mode, env)?;
    init_logging(connection.verbosity);
    crate::retry::set_request_timeout(connection.request_timeout);
    let ctx = Context { mode, connection, env };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| AppError::Failed(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        match cli.command {
            Command::Version(args) => commands::version::run(&ctx, args).await,
            Command::ReleaseName(args) => commands::release_name::run(&ctx, args),
            Command::Annotate(args) => commands::annotate::run(&ctx, *args).await,
            Command::Releases(args) => commands::releases::run(&ctx, args).await,
            Command::Adopt(args) => commands::adopt::run(&ctx, *args).await,
            Command::Migrate2to3(args) => commands::migrate2to3::run(&ctx, args).await,
            Command::Completion(args) => commands::completion::run(args),
            Command::Complete(args) => {
                commands::completion::complete_main(&args.words);
                Ok(Outcome::Success)
            }
        }
    })
}

/// kubectl's `-v` levels mapped onto tracing: 4 and up show each API request (method, URL, status),
/// 6 and up show connection-level detail. Logs go to stderr; credentials are never part of them
/// (kube's request spans carry method and URL only).
fn init_logging(verbosity: u8) {
    let filter = match verbosity {
        0..=3 => return,
        4..=5 => "kube_client=debug,kubectl_werf=debug",
        6..=7 => "kube_client=debug,kubectl_werf=trace",
        _ => "kube_client=trace,kubectl_werf=trace,hyper_util=debug",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(crate::interact::stderr_colors())
        .try_init();
}
