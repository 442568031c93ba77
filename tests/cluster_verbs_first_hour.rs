//! The first hour with the plugin (issue 19, robustness and interface): closed pipes, credentials in
//! hints, unreachable servers, prompts, escapes, help, invalid names and `list --max`.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{TestCluster, fixture, run, run_ok};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn text(o: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&o.stdout), stderr(o))
}

/// A namespace with the Helm 3 releases shop (4 revisions) and stuck (pending-upgrade).
fn seeded(c: &TestCluster, hint: &str) -> String {
    let ns = c.namespace(hint);
    for f in ["shop-secrets", "stuck-secrets"] {
        c.seed_file(&fixture(&format!("helm3/fx-helm3-{f}.yaml")), &BTreeMap::from([("fx-helm3", ns.as_str())]));
    }
    ns
}

/// Run with stdout connected to a pipe whose reader is already gone (`| head -0`).
fn with_closed_stdout(cmd: &mut Command) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    cmd.stdout(writer).stderr(Stdio::piped()).stdin(Stdio::null());
    let child = cmd.spawn().unwrap();
    child.wait_with_output().unwrap()
}

/// Strings of the kubeconfig that are credentials (bearer tokens).
fn tokens(c: &TestCluster) -> Vec<String> {
    let text = std::fs::read_to_string(&c.kubeconfig).unwrap();
    let re = regex::Regex::new(r#"token:\s*"?([A-Za-z0-9._~+/=-]{6,})"?"#).unwrap();
    re.captures_iter(&text).map(|m| m[1].to_string()).collect()
}

fn current_token(c: &TestCluster) -> String {
    tokens(c).into_iter().next().expect("the test kubeconfig carries a bearer token")
}

fn server_url(c: &TestCluster) -> String {
    let text = std::fs::read_to_string(&c.kubeconfig).unwrap();
    let re = regex::Regex::new(r#"server:\s*"?(https://[^\s"}]+)"?"#).unwrap();
    re.captures(&text).expect("server in kubeconfig")[1].to_string()
}

fn secret_names(c: &TestCluster, ns: &str, selector: &str) -> Vec<String> {
    let out = run_ok(c.kubectl().args(["get", "secrets", "-n", ns, "-l", selector, "-o", "name"]));
    out.lines().map(String::from).collect()
}

/// Issue 19 item 4: `migrate2to3 --all --dry-run | head -1` panicked (101), `export | head -0` too,
/// others printed "error: Broken pipe". A closed pipe ends a read the way SIGPIPE ends kubectl; a
/// write verb stops as at the first Ctrl-C (nothing started after) and says so on stderr.
#[test]
fn closed_pipe_ends_reads_as_sigpipe_and_stops_writes() {
    let c = TestCluster::start();
    let ns = seeded(&c, "pipe");
    let tiller = c.namespace("pipe-tiller");
    c.seed_file(&fixture("helm2-synthetic/kube-system-shop-4revs-configmaps.yaml"), &BTreeMap::from([("kube-system", tiller.as_str())]));
    let dir = c.dir.path().join("export");
    let reads: Vec<Vec<String>> = vec![
        vec!["releases", "list", "-n", &ns],
        vec!["releases", "list", "-A", "-o", "json"],
        vec!["releases", "history", "shop", "-n", &ns],
        vec!["releases", "get", "manifest", "shop", "-n", &ns],
        vec!["releases", "export", "-n", &ns, "--dir", dir.to_str().unwrap()],
        vec!["migrate2to3", "--all", "--dry-run", "--skip-ownership", "--tiller-namespace", &tiller],
        vec!["releases", "prune", "shop", "-n", &ns, "--keep", "1", "--dry-run"],
        vec!["version"],
        vec!["completion", "bash"],
        vec!["releases", "list", "--help"],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(String::from).collect())
    .collect();
    for args in &reads {
        let out = with_closed_stdout(c.werf().args(args));
        let err = stderr(&out);
        assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{args:?}: {:?}\n{err}", out.status);
        assert!(!err.contains("panicked") && !err.to_lowercase().contains("broken pipe"), "{args:?}: {err}");
    }
    // A write verb: the plan could not be shown, so nothing is deleted; the user is told.
    let before = secret_names(&c, &ns, "name=shop");
    let out = with_closed_stdout(
        c.werf().args(["releases", "prune", "shop", "-n", &ns, "--keep", "1", "--yes", "--backup-dir"]).arg(c.dir.path().join("b")),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("output closed") && err.contains("run the same command again"), "{err}");
    assert!(!err.contains("panicked") && !err.to_lowercase().contains("broken pipe"), "{err}");
    assert_eq!(secret_names(&c, &ns, "name=shop"), before, "no record deleted after the output went away");
}

/// Issue 19 item 5: the "run the same command again" hint echoed `--token <value>`. No credential, from
/// a flag or from Helm's environment, appears in hints, logs or errors.
#[test]
fn credentials_never_appear_in_hints_logs_or_errors() {
    let c = TestCluster::start();
    let ns = seeded(&c, "creds");
    let token = current_token(&c);
    let secrets = tokens(&c);
    let check = |what: &str, out: &Output| {
        let all = text(out);
        for s in &secrets {
            assert!(!all.contains(s.as_str()), "{what}: a credential was printed:\n{all}");
        }
    };
    // A hint after an interruption (output closed during the plan), with --token and --token=.
    for flag in [vec!["--token".to_string(), token.clone()], vec![format!("--token={token}")]] {
        let out =
            with_closed_stdout(c.werf().args(["releases", "prune", "shop", "-n", &ns, "--keep", "1", "--yes", "-v", "9"]).args(&flag));
        assert!(stderr(&out).contains("run the same command again"), "{}", stderr(&out));
        assert!(stderr(&out).contains("<redacted>"), "{}", stderr(&out));
        check("prune hint", &out);
    }
    // Under Helm: the token comes from HELM_KUBETOKEN.
    let out = with_closed_stdout(
        c.werf()
            .args(["releases", "unlock", "stuck", "--yes", "-v", "9", "--backup-dir"])
            .arg(c.dir.path().join("u"))
            .env("HELM_PLUGIN_NAME", "werf-releases")
            .env("HELM_NAMESPACE", &ns)
            .env("HELM_KUBETOKEN", &token),
    );
    check("helm-mode unlock", &out);
    // Errors: a refused token, and an unreachable server given with a token.
    let out = run(c.werf().args(["releases", "list", "-n", &ns, "--token", "not-the-token-x9"]));
    assert!(!text(&out).contains("not-the-token-x9"), "{}", text(&out));
    let out = run(c.werf().args(["releases", "list", "-s", "https://127.0.0.1:1", "--token", &token]));
    check("unreachable server", &out);
}

/// Issue 19 item 6: connection refused cost 26 s of silence and a debug-style error. Until the server
/// first answers, refused connections, unknown hosts and refused certificates fail at once with one
/// line naming the server; Ctrl-C during reads ends the process at once.
#[test]
fn unreachable_servers_fail_at_once_naming_the_server() {
    let c = TestCluster::start();
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        format!("https://127.0.0.1:{port}")
    };
    let cases = [
        (refused.clone(), vec!["--insecure-skip-tls-verify"]),
        ("https://kubectl-werf-test.invalid:6443".to_string(), vec!["--insecure-skip-tls-verify"]),
        // the real server, but without its CA: the certificate is refused
        (server_url(&c), vec![]),
    ];
    for (server, extra) in cases {
        for verb in
            [&["releases", "list", "-A"][..], &["migrate2to3", "--all", "--dry-run"][..], &["releases", "history", "x", "-n", "y"][..]]
        {
            let started = Instant::now();
            let out = run(c.werf().args(verb).args(["-s", &server, "--token", "t0k3n-x"]).args(&extra).env("KUBECONFIG", "/nonexistent"));
            let took = started.elapsed();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{verb:?} {server}: {err}");
            assert!(took < Duration::from_secs(3), "{verb:?} {server}: took {took:?}");
            let lines: Vec<&str> = err.lines().collect();
            assert_eq!(lines.len(), 1, "{verb:?} {server}: one line: {err}");
            let host = server.trim_start_matches("https://");
            assert!(
                lines[0].starts_with("error: ") && lines[0].contains("cannot connect to the API server") && lines[0].contains(host),
                "{verb:?}: {err}"
            );
        }
    }
    // Ctrl-C while a read waits on a server that never answers: gone at once.
    let black_hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = black_hole.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in black_hole.incoming().take(8) {
            held.push(s);
        }
        std::thread::sleep(Duration::from_secs(20));
    });
    for verb in [&["migrate2to3", "--all", "--dry-run"][..], &["releases", "list", "-A"][..]] {
        let mut child = c
            .werf()
            .args(verb)
            .args(["-s", &format!("https://127.0.0.1:{port}"), "--insecure-skip-tls-verify", "--token", "x"])
            .env("KUBECONFIG", "/nonexistent")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(700));
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let started = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if started.elapsed() > Duration::from_secs(3) {
                let _ = child.kill();
                let mut err = String::new();
                let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                panic!("{verb:?}: still running 3 s after Ctrl-C: {err}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.signal() == Some(libc::SIGINT) || status.code() == Some(130), "{verb:?}: {status:?}");
    }
    drop(holder);
}

fn pty_spawn(cmd: Command) -> expectrl::session::OsSession {
    let mut s = expectrl::Session::spawn(cmd).expect("spawn in a pty");
    s.set_expect_timeout(Some(Duration::from_secs(30)));
    s
}

/// Everything the program still prints, until it exits (a pty read fails once the child is gone).
fn pty_rest(s: &mut expectrl::session::OsSession) -> String {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

/// Issue 19 item 9: Ctrl-C at a prompt left the cursor hidden; with stdin a pipe, no prompt at all.
#[test]
fn prompts_restore_the_cursor_and_ask_on_the_terminal_when_stdin_is_a_pipe() {
    use expectrl::Expect;
    let c = TestCluster::start();
    let ns = seeded(&c, "prompt");
    let mut cmd = c.werf();
    cmd.args(["releases", "unlock", "stuck", "-n", &ns]).env("TERM", "xterm");
    let mut s = pty_spawn(cmd);
    s.expect("Mark revision 2 of release stuck failed").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    s.send("\x03").unwrap();
    let after = pty_rest(&mut s);
    // the prompt hides the cursor while it waits for a key; after Ctrl-C it must be shown again
    let hidden = after.rfind("\x1b[?25l");
    let shown_again = after.rfind("\x1b[?25h");
    assert!(shown_again.is_some() && shown_again > hidden, "cursor left hidden after Ctrl-C: {after:?}");
    assert_eq!(secret_names(&c, &ns, "name=stuck,status=pending-upgrade").len(), 1, "nothing changed");

    // stdin is a pipe, the terminal is still there: the question is asked on it.
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(format!("echo ignored | '{}' releases unlock stuck -n '{ns}'", env!("CARGO_BIN_EXE_kubectl-werf")));
    cmd.env("KUBECONFIG", &c.kubeconfig).env("TERM", "xterm").env("NO_COLOR", "1");
    let mut s = pty_spawn(cmd);
    s.expect("Mark revision 2 of release stuck failed").unwrap();
    s.send("n").unwrap();
    let rest = pty_rest(&mut s);
    assert!(rest.contains("cancelled"), "{rest:?}");
}

/// Issue 19 item 10: `-v N` logs carried colour escapes into files and pipes; TERM=dumb got colour.
#[test]
fn no_escapes_off_a_terminal_or_with_term_dumb() {
    let c = TestCluster::start();
    let ns = seeded(&c, "ansi");
    let out = run(c.werf().args(["releases", "list", "-n", &ns, "-v", "6"]).env_remove("NO_COLOR").env("TERM", "xterm"));
    assert!(out.status.success());
    assert!(!stderr(&out).is_empty(), "-v 6 logs requests");
    assert!(!text(&out).contains('\x1b'), "escape in piped output: {:?}", text(&out));
    let mut cmd = c.werf();
    cmd.args(["releases", "list", "-n", &ns]).env_remove("NO_COLOR").env("TERM", "dumb");
    let mut s = pty_spawn(cmd);
    let all = pty_rest(&mut s);
    assert!(all.contains("pending-upgrade"), "{all:?}");
    assert!(!all.contains('\x1b'), "escape with TERM=dumb: {all:?}");
}

/// Issue 19 item 11: help with examples on every releases verb, and `kubectl werf help VERB`.
#[test]
fn help_has_examples_and_the_help_verb_works() {
    let c = TestCluster::start();
    for verb in ["list", "history", "status", "get"] {
        let out = run_ok(c.werf().args(["releases", verb, "--help"]));
        assert!(out.contains("Examples:\n  kubectl werf releases"), "releases {verb} --help: {out}");
    }
    let out = run_ok(c.werf().args(["help", "releases"]));
    assert!(out.contains("Usage: kubectl werf releases"), "{out}");
    let out = run_ok(c.werf().args(["help", "releases", "list"]));
    assert!(out.contains("Usage: kubectl werf releases list"), "{out}");
}

/// Issue 19 item 12: invalid release names reached the server as label selectors (exit 1, the
/// server's selector error); `--release-storage all` was a plain failure.
#[test]
fn invalid_names_and_storage_values_are_usage_errors() {
    let c = TestCluster::start();
    let ns = c.namespace("names");
    let long = "a".repeat(300);
    for (verb, name) in [
        ("status", "магазин"),
        ("history", long.as_str()),
        ("status", ""),
        ("history", "Shop_1"),
        ("unlock", "магазин"),
        ("prune", "UPPER"),
        ("export", "bad name"),
    ] {
        let mut cmd = c.werf();
        cmd.args(["releases", verb, name, "-n", &ns]);
        if verb == "prune" {
            cmd.args(["--keep", "1"]);
        }
        if verb == "export" {
            cmd.arg("--dir").arg(c.dir.path().join("x"));
        }
        let out = run(&mut cmd);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{verb} {name:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{verb} {name:?}: one line: {err}");
        assert!(err.starts_with("error: ") && err.contains("release name"), "{verb} {name:?}: {err}");
        assert!(!err.contains("selector"), "{verb} {name:?}: the server's selector error: {err}");
    }
    let out = run(c.werf().args(["releases", "list", "-n", &ns, "--release-storage", "all"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).starts_with("error: ") && stderr(&out).lines().count() == 1, "{}", stderr(&out));
}

/// Issue 19 item 14: `list` stopped at --max (helm's 256 by default) without a word.
#[test]
fn list_says_how_many_more_there_are_beyond_max() {
    let c = TestCluster::start();
    let ns = seeded(&c, "max");
    let out = run(c.werf().args(["releases", "list", "-n", &ns, "--max", "1"]));
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2, "header and one release");
    let err = stderr(&out);
    assert!(err.contains("1 more release(s) not shown") && err.contains("--max 0") && err.contains("--offset 1"), "{err}");
    let out = run(c.werf().args(["releases", "list", "-n", &ns]));
    assert!(!stderr(&out).contains("not shown"), "{}", stderr(&out));
}
