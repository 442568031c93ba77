//! A closed output pipe (`| head`, `| less` then q) ends the program the way it ends kubectl: as a
//! process killed by SIGPIPE (status 141 in a shell), silently — never a panic, never "Broken pipe".
//!
//! - Read-only verbs restore SIGPIPE's default action: the first write to a closed pipe ends the
//!   process at once, like any Unix filter.
//! - Verbs that change the cluster must not die between two writes. Their stdout goes through a relay
//!   thread; when the reader is gone the relay discards further output and calls the hook it was given,
//!   which asks the verb to stop as the first Ctrl-C does (`stop::request_everywhere`): writes in
//!   flight finish, none is started. At exit the
//!   process then ends by SIGPIPE when the verb had nothing left undone, otherwise with the verb's own
//!   exit code (it printed what was not done on stderr).

use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);
/// The relay's read end (-1 without a relay) and whether it is in the middle of a chunk.
static RELAY_FD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);
static BUSY: AtomicBool = AtomicBool::new(false);

/// Wait (briefly) until everything printed so far has reached stdout's reader or been found
/// undeliverable: a verb calls this before its first write, so output closed during the plan stops
/// the writes deterministically.
pub fn settle() {
    #[cfg(unix)]
    {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let fd = RELAY_FD.load(Ordering::SeqCst);
        if fd < 0 {
            return;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while std::time::Instant::now() < deadline {
            let mut pending: libc::c_int = 0;
            // SAFETY: FIONREAD on a pipe descriptor this process owns writes one int.
            let ok = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut pending) } == 0;
            if !ok || (pending == 0 && !BUSY.load(Ordering::SeqCst)) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
}

/// Whether stdout's reader went away.
pub fn closed() -> bool {
    CLOSED.load(Ordering::SeqCst)
}

/// How the process treats its stdout; keep it until exit.
pub struct OutputGuard {
    #[cfg(unix)]
    relay: Option<(std::thread::JoinHandle<()>, libc::c_int)>,
}

/// Read-only verbs: die by SIGPIPE on a closed pipe.
pub fn for_reading() -> OutputGuard {
    #[cfg(unix)]
    // SAFETY: setting a signal disposition to its default has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    OutputGuard {
        #[cfg(unix)]
        relay: None,
    }
}

/// Verbs that write: stdout through a relay that turns a closed pipe into a call of `on_closed` (a stop
/// request), once.
pub fn for_writing(on_closed: fn(&str)) -> OutputGuard {
    #[cfg(unix)]
    {
        use std::io::IsTerminal;
        // SAFETY: setting a signal disposition has no preconditions. A write to a closed pipe then
        // fails with EPIPE, which the relay turns into a stop request.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        if std::io::stdout().is_terminal() {
            return OutputGuard { relay: None };
        }
        OutputGuard { relay: start_relay(on_closed) }
    }
    #[cfg(not(unix))]
    {
        let _ = on_closed;
        OutputGuard {}
    }
}

#[cfg(unix)]
fn start_relay(on_closed: fn(&str)) -> Option<(std::thread::JoinHandle<()>, libc::c_int)> {
    use std::io::{Read, Write};
    use std::os::fd::FromRawFd;
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: plain descriptor calls on descriptors this function owns; fd 1 is only replaced by a
    // copy of a pipe's write end after its original was saved.
    unsafe {
        if libc::pipe(fds.as_mut_ptr()) != 0 {
            return None;
        }
        let original = libc::dup(1);
        if original < 0 || libc::dup2(fds[1], 1) < 0 {
            libc::close(fds[0]);
            libc::close(fds[1]);
            if original >= 0 {
                libc::close(original);
            }
            return None;
        }
        libc::close(fds[1]);
        RELAY_FD.store(fds[0], Ordering::SeqCst);
        let mut from = std::fs::File::from_raw_fd(fds[0]);
        let mut to = std::fs::File::from_raw_fd(original);
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                BUSY.store(false, Ordering::SeqCst);
                let n = match from.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => {
                        BUSY.store(true, Ordering::SeqCst);
                        n
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => return,
                };
                if closed() {
                    continue; // the reader is gone: keep draining so the verb never blocks
                }
                if to.write_all(&buf[..n]).and_then(|_| to.flush()).is_err() {
                    CLOSED.store(true, Ordering::SeqCst);
                    on_closed("output closed");
                }
            }
        });
        Some((thread, original))
    }
}

impl OutputGuard {
    /// Flush what the verb printed and end as the pipe's state says: `code` normally; killed by
    /// SIGPIPE when the reader went away and the verb completed (nothing for the user to finish).
    pub fn finish(self, code: u8) -> std::process::ExitCode {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        #[cfg(unix)]
        if let Some((thread, _)) = self.relay {
            // SAFETY: point fd 1 at /dev/null so the relay sees end-of-file and drains.
            unsafe {
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
                if null >= 0 {
                    libc::dup2(null, 1);
                    libc::close(null);
                }
            }
            let _ = thread.join();
        }
        if closed() && code == 0 {
            die_by_sigpipe();
        }
        std::process::ExitCode::from(code)
    }
}

/// End as a process killed by SIGPIPE.
pub fn die_by_sigpipe() {
    #[cfg(unix)]
    // SAFETY: restoring the default action and raising the signal ends the process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
}
