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
