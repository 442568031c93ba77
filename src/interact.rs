//! Talking to the person at the terminal: confirmations only on a TTY (or `--yes`), progress bars only
//! on a TTY, colour only on a TTY without `NO_COLOR`.

use std::io::IsTerminal;

use crate::error::AppError;

/// Whether a person can answer: stderr is a terminal, and stdin is one or the controlling terminal
/// can be opened (`helm template ... | kubectl werf adopt -f -` asks on /dev/tty, as the prompt
/// library reads keys there when stdin is a pipe).
pub fn interactive() -> bool {
    std::io::stderr().is_terminal() && (std::io::stdin().is_terminal() || controlling_terminal())
}

fn controlling_terminal() -> bool {
    #[cfg(unix)]
    {
        std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").is_ok()
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// While a prompt is on screen: Ctrl-C (the prompt library raises SIGINT for it) puts the cursor back
/// and exits 130 at once, and every other way out of the prompt shows the cursor again.
pub struct PromptGuard {
    #[cfg(unix)]
    previous: libc::sigaction,
}

#[cfg(unix)]
extern "C" fn interrupted_at_prompt(_: libc::c_int) {
    const TEXT: &[u8] = b"\x1b[?25h\n";
    // SAFETY: write(2) and _exit(2) are async-signal-safe.
    unsafe {
        libc::write(2, TEXT.as_ptr().cast(), TEXT.len());
        libc::_exit(130);
    }
}

impl PromptGuard {
    pub fn new() -> PromptGuard {
        #[cfg(unix)]
        // SAFETY: installs a handler that only calls async-signal-safe functions; the previous action
        // is saved and put back on drop.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = interrupted_at_prompt as *const () as usize;
            libc::sigemptyset(&mut action.sa_mask);
            let mut previous: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGINT, &action, &mut previous);
            PromptGuard { previous }
        }
        #[cfg(not(unix))]
        PromptGuard {}
    }
}

impl Default for PromptGuard {
    fn default() -> Self {
        PromptGuard::new()
    }
}

impl Drop for PromptGuard {
    fn drop(&mut self) {
        if std::io::stderr().is_terminal() {
            use std::io::Write;
            let _ = std::io::stderr().write_all(b"\x1b[?25h");
        }
        #[cfg(unix)]
        // SAFETY: restores the action saved in `new`.
        unsafe {
            libc::sigaction(libc::SIGINT, &self.previous, std::ptr::null_mut());
        }
    }
}

/// Colour for stdout tables: a terminal, `NO_COLOR` not set (any value turns colour off), and a
/// terminal that understands escapes (`TERM` set and not `dumb`).
pub fn colors_enabled() -> bool {
    std::io::stdout().is_terminal() && escapes_allowed()
}

/// Colour and escapes on stderr (logs, progress): the same rules for stderr.
pub fn stderr_colors() -> bool {
    std::io::stderr().is_terminal() && escapes_allowed()
}

fn escapes_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::env::var("TERM").is_ok_and(|t| !t.is_empty() && t != "dumb")
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
    let _guard = PromptGuard::new();
    dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()
        .map_err(|e| AppError::Failed(format!("cannot read the answer: {e}")))
}

/// A progress bar on stderr for long work; hidden when stderr is not a terminal.
pub fn progress(len: u64, what: &str) -> indicatif::ProgressBar {
    let dumb = std::env::var("TERM").map_or(true, |t| t.is_empty() || t == "dumb");
    if !std::io::stderr().is_terminal() || dumb || len < 2 {
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
