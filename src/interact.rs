//! Talking to the person at the terminal: confirmations only on a TTY (or `--yes`), progress bars only
//! on a TTY, colour only on a TTY without `NO_COLOR`.

use std::io::IsTerminal;

use crate::error::AppError;

/// Whether stdin and stderr are a terminal a person can answer on.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Colour for stdout tables: a terminal, and `NO_COLOR` not set (any value turns colour off).
pub fn colors_enabled() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Ask before changing anything. `--yes` answers for the user; without a terminal and without
/// `--yes` this is an error that says how to proceed, never a silent yes.
pub fn confirm(question: &str, yes: bool) -> Result<bool, AppError> {
    if yes {
        return Ok(true);
    }
    if !interactive() {
        return Err(AppError::Usage(format!(
            "{question} — no terminal to ask on; re-run with --yes to proceed, or --dry-run to only see the plan"
        )));
    }
    dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()
        .map_err(|e| AppError::Failed(format!("cannot read the answer: {e}")))
}

/// A progress bar on stderr for long work; hidden when stderr is not a terminal.
pub fn progress(len: u64, what: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() || len < 2 {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(what.to_string());
    bar
}

/// Status words coloured the way people scan them: green good, red bad, yellow in flight.
pub fn paint_status(status: &str, enabled: bool) -> String {
    if !enabled {
        return status.to_string();
    }
    let code = match status {
        "deployed" | "DEPLOYED" | "ok" | "adopted" | "migrated" | "patched" => "32",
        "failed" | "FAILED" | "error" | "conflict" => "31",
        s if s.starts_with("pending") || s.starts_with("PENDING") || s == "uninstalling" => "33",
        "superseded" | "uninstalled" | "SUPERSEDED" | "DELETED" | "skipped" => "2",
        _ => return status.to_string(),
    };
    format!("\u{1b}[{code}m{status}\u{1b}[0m")
}
