//! Every way a kubeconfig or a CI job hands over credentials, on the emulator and on a real
//! kube-apiserver alike: exec credential plugins (EKS/GKE/AKS style) for every verb, a serving name
//! that differs from the address (`tls-server-name` in the kubeconfig, `--tls-server-name`,
//! `$WERF_KUBE_TLS_SERVER`, `$HELM_KUBETLS_SERVER_NAME`), and werf's `WERF_KUBE_*` variables with
//! werf's precedence (flag > WERF_* > kubectl's own).
//! Client certificates and `--as-uid` need the server's CA key and RBAC: tests/real_verbs_connection.rs.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use base64::Engine;
use common::{TestCluster, fixture, run, run_ok};
use serde_json::Value;

/// What the test cluster's kubeconfig says about its current context.
struct Conn {
    server: String,
    ca_b64: String,
    token: String,
    context: String,
}

fn conn(c: &TestCluster) -> Conn {
    let kc: Value = serde_saphyr::from_str(&std::fs::read_to_string(&c.kubeconfig).unwrap()).unwrap();
    let context = kc["current-context"].as_str().unwrap().to_string();
    let named = |list: &str, name: &str| -> Value {
        kc[list].as_array().unwrap().iter().find(|e| e["name"] == name).cloned().unwrap_or_else(|| panic!("{list} {name}"))
    };
    let ctx = named("contexts", &context)["context"].clone();
    let cluster = named("clusters", ctx["cluster"].as_str().unwrap())["cluster"].clone();
    let user = named("users", ctx["user"].as_str().unwrap())["user"].clone();
    Conn {
        server: cluster["server"].as_str().unwrap().to_string(),
        ca_b64: cluster["certificate-authority-data"].as_str().expect("the test kubeconfig carries its CA").to_string(),
        token: user["token"].as_str().expect("the test kubeconfig's user has a token").to_string(),
        context,
    }
}

fn both(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn write_exec(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A kubeconfig whose only user authenticates through `plugin` (an exec credential plugin).
fn exec_kubeconfig(conn: &Conn, plugin: &Path, extra_user_lines: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: exec\nclusters:\n- name: k\n  cluster:\n    server: {}\n    certificate-authority-data: {}\nusers:\n- name: via-exec\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      args: [\"--cluster\", \"test\"]\n      interactiveMode: IfAvailable\n      provideClusterInfo: true\n{extra_user_lines}contexts:\n- name: exec\n  context:\n    cluster: k\n    user: via-exec\n",
        conn.server,
        conn.ca_b64,
        plugin.display()
    )
}

/// A plugin printing an ExecCredential with `token`, counting its runs and keeping what it was told.
fn token_plugin(dir: &Path, token: &str, expiry: &str) -> (PathBuf, PathBuf, PathBuf) {
    let plugin = dir.join("get-token");
    let count = dir.join("runs");
    let info = dir.join("exec-info.json");
    write_exec(
        &plugin,
        &format!(
            "echo run >> '{}'\nprintf '%s' \"$KUBERNETES_EXEC_INFO\" > '{}'\ncat <<EOF\n{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{token}\",\"expirationTimestamp\":\"{expiry}\"}}}}\nEOF",
            count.display(),
            info.display()
        ),
    );
    (plugin, count, info)
}

fn runs(count: &Path) -> usize {
    std::fs::read_to_string(count).map(|s| s.lines().count()).unwrap_or(0)
}

fn seed_shop(c: &TestCluster, hint: &str) -> String {
    let ns = c.namespace(hint);
    let map = BTreeMap::from([("fx-helm3", ns.as_str())]);
    for f in ["shop-secrets", "stuck-secrets"] {
        c.seed_file(&fixture(&format!("helm3/fx-helm3-{f}.yaml")), &map);
    }
    ns
}

#[test]
fn an_exec_credential_plugin_serves_every_verb() {
    let c = TestCluster::start();
    let ns = seed_shop(&c, "exec");
    let tiller = c.namespace("exec-tiller");
    let conn = conn(&c);
    let dir = tempfile::tempdir().unwrap();
    let (plugin, count, info) = token_plugin(dir.path(), &conn.token, "2099-01-01T00:00:00Z");
    let kubeconfig = dir.path().join("exec-kubeconfig");
    std::fs::write(&kubeconfig, exec_kubeconfig(&conn, &plugin, "")).unwrap();
    let export = |name: &str| dir.path().join(name).display().to_string();
    let (exp_token, exp_exec) = (export("export-token"), export("export-exec"));
    let verbs: Vec<Vec<String>> = [
        vec!["version", "-o", "json"],
        vec!["releases", "list", "-n", &ns, "-o", "json"],
        vec!["releases", "history", "shop", "-n", &ns],
        vec!["releases", "status", "shop", "-n", &ns],
        vec!["releases", "get", "all", "shop", "-n", &ns],
        vec!["releases", "get", "values", "shop", "-n", &ns, "-a", "-o", "json"],
        vec!["releases", "get", "metadata", "shop", "-n", &ns],
        vec!["releases", "unlock", "stuck", "-n", &ns, "--dry-run"],
        vec!["releases", "prune", "shop", "-n", &ns, "--keep", "1", "--dry-run"],
        vec!["annotate", "shop", "-n", &ns, "--add-annotation", "team=core", "--dry-run"],
        vec!["adopt", "--from-release", "shop", "-n", &ns, "--dry-run"],
        vec!["migrate2to3", "--all", "--tiller-namespace", &tiller, "--dry-run"],
    ]
    .iter()
    .map(|v| v.iter().map(|s| s.to_string()).collect())
    .collect();
    for args in &verbs {
        let with_token = run(c.werf().args(args));
        let before = runs(&count);
        let with_exec = run(c.werf().env("KUBECONFIG", &kubeconfig).args(args));
        assert!(runs(&count) > before, "{args:?}: the plugin was not run");
        assert_eq!(with_exec.status.code(), with_token.status.code(), "{args:?}:\n{}\n---\n{}", both(&with_exec), both(&with_token));
        let strip = |o: &Output| String::from_utf8_lossy(&o.stdout).replace(&exp_token, "DIR").replace(&exp_exec, "DIR");
        if args[0] == "version" {
            let v: Value = serde_json::from_slice(&with_exec.stdout).unwrap();
            assert!(v["serverVersion"]["gitVersion"].is_string(), "{args:?}: {}", both(&with_exec));
        } else {
            assert_eq!(strip(&with_exec), strip(&with_token), "{args:?}");
        }
        assert!(!both(&with_exec).contains(&conn.token), "{args:?} printed the plugin's token");
    }
    // Writing verbs too (export, then restore its files as a dry run).
    for (dir_arg, kubeconfig) in [(&exp_token, c.kubeconfig.clone()), (&exp_exec, kubeconfig.clone())] {
        run_ok(c.werf().env("KUBECONFIG", &kubeconfig).args(["releases", "export", "-n", &ns, "--dir", dir_arg]));
        run_ok(c.werf().env("KUBECONFIG", &kubeconfig).args(["releases", "restore", "--dir", dir_arg, "--dry-run"]));
    }
    let files = |d: &str| {
        let mut v: Vec<_> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name()).collect();
        v.sort();
        v
    };
    assert_eq!(files(&exp_exec), files(&exp_token));
    // The plugin was told what client-go tells it: not interactive (no terminal here), and the cluster.
    let told: Value = serde_json::from_str(&std::fs::read_to_string(&info).unwrap()).unwrap();
    assert_eq!(told["kind"], "ExecCredential");
    assert_eq!(told["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(told["spec"]["interactive"], false);
    assert_eq!(told["spec"]["cluster"]["server"], conn.server.as_str());
    // One run per invocation while the token is valid.
    let before = runs(&count);
    run_ok(c.werf().env("KUBECONFIG", &kubeconfig).args(["releases", "list", "-n", &ns]));
    assert_eq!(runs(&count) - before, 1, "a valid token is fetched once per invocation");
}

#[test]
fn an_expiring_exec_token_is_fetched_again_and_a_later_failure_is_one_line() {
    let c = TestCluster::start();
    let ns = seed_shop(&c, "exec-refresh");
    let conn = conn(&c);
    let dir = tempfile::tempdir().unwrap();
    // Already expired: fetched again before every request, as client-go would.
    let (plugin, count, _) = token_plugin(dir.path(), &conn.token, "2000-01-01T00:00:00Z");
    let kubeconfig = dir.path().join("kc");
    std::fs::write(&kubeconfig, exec_kubeconfig(&conn, &plugin, "")).unwrap();
    let out = run_ok(c.werf().env("KUBECONFIG", &kubeconfig).args(["releases", "history", "shop", "-n", &ns]));
    assert!(out.contains("REVISION"), "{out}");
    assert!(runs(&count) >= 2, "an expired token is fetched again: {} runs", runs(&count));

    // A plugin that works once, then fails loudly with the token on stdout and a secret on stderr.
    let flaky = dir.path().join("flaky");
    let marker = dir.path().join("ran-once");
    write_exec(
        &flaky,
        &format!(
            "if [ -e '{m}' ]; then echo '{{\"status\":{{\"token\":\"LEAKED-{t}\"}}}}'; echo 'STDERR-SECRET-{t}' >&2; exit 4; fi\ntouch '{m}'\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{t}\",\"expirationTimestamp\":\"2000-01-01T00:00:00Z\"}}}}'",
            m = marker.display(),
            t = conn.token
        ),
    );
    std::fs::write(&kubeconfig, exec_kubeconfig(&conn, &flaky, "")).unwrap();
    let started = Instant::now();
    let out = run(c.werf().env("KUBECONFIG", &kubeconfig).args(["releases", "list", "-n", &ns]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("exec credential plugin") && stderr.contains("exit status 4") && stderr.contains("flaky"), "{stderr}");
    assert!(!both(&out).contains(&conn.token) && !both(&out).contains("STDERR-SECRET"), "the plugin's output leaked: {stderr}");
    assert!(started.elapsed() < Duration::from_secs(15), "a failing plugin is not retried like a broken connection");
}

#[test]
fn a_failing_exec_plugin_is_one_clear_line_and_its_output_never_shows() {
    let c = TestCluster::start();
    let ns = seed_shop(&c, "exec-fail");
    let conn = conn(&c);
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("broken-login");
    write_exec(
        &plugin,
        "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"STDOUT-TOKEN-77\"}}'\necho 'STDERR-DETAIL-77: refresh token expired' >&2\nexit 2",
    );
    let kubeconfig = dir.path().join("kc");
    std::fs::write(&kubeconfig, exec_kubeconfig(&conn, &plugin, "")).unwrap();
    for verbose in [None, Some("9")] {
        let mut cmd = c.werf();
        cmd.env("KUBECONFIG", &kubeconfig).args(["releases", "list", "-n", &ns]);
        if let Some(v) = verbose {
            cmd.args(["-v", v]);
        }
        let out = run(&mut cmd);
        let text = both(&out);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(!text.contains("STDOUT-TOKEN-77") && !text.contains("STDERR-DETAIL-77"), "the plugin's output reached ours:\n{text}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().last().unwrap_or_default();
        assert!(last.starts_with("error: ") && last.contains("broken-login") && last.contains("exit status 2"), "{stderr}");
        if verbose.is_none() {
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
        }
    }
    // A plugin that is not installed: one line with the kubeconfig's install hint.
    let missing = exec_kubeconfig(&conn, &dir.path().join("kubelogin-missing"), "").replace(
        "      provideClusterInfo: true\n",
        "      provideClusterInfo: true\n      installHint: |\n        install kubelogin\n        from your package manager\n",
    );
    std::fs::write(&kubeconfig, missing).unwrap();
    let out = run(c.werf().env("KUBECONFIG", &kubeconfig).args(["releases", "list", "-n", &ns]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("kubelogin-missing") && stderr.contains("not found (install kubelogin from your package manager)"), "{stderr}");
}

/// Forwards TCP connections from `127.0.0.2:<free port>` to the API server: an address that is not in
/// the server certificate's names (they are 127.0.0.1, localhost, ...).
fn forwarder(server: &str) -> String {
    let target = server.trim_start_matches("https://").trim_end_matches('/').to_string();
    let listener = TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2 (loopback)");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(upstream) = TcpStream::connect(&target) else { continue };
            let pipe = |mut from: TcpStream, mut to: TcpStream| {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    while let Ok(n) = from.read(&mut buf) {
                        if n == 0 || to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            };
            pipe(client.try_clone().unwrap(), upstream.try_clone().unwrap());
            pipe(upstream, client);
        }
    });
    format!("https://127.0.0.2:{port}")
}

#[test]
fn a_serving_name_that_differs_from_the_address() {
    let c = TestCluster::start();
    let ns = seed_shop(&c, "tls-name");
    let conn = conn(&c);
    let proxied = forwarder(&conn.server);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = |tls_server_name: Option<&str>| {
        let path = dir.path().join(format!("kc-{}", tls_server_name.unwrap_or("none")));
        let extra = tls_server_name.map(|n| format!("    tls-server-name: {n}\n")).unwrap_or_default();
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: x\nclusters:\n- name: k\n  cluster:\n    server: {proxied}\n    certificate-authority-data: {}\n{extra}users:\n- name: u\n  user:\n    token: {}\ncontexts:\n- name: x\n  context:\n    cluster: k\n    user: u\n",
                conn.ca_b64, conn.token
            ),
        )
        .unwrap();
        path
    };
    let list = |kc: &Path, extra: &[&str], envs: &[(&str, &str)]| -> Output {
        let mut cmd = c.werf();
        cmd.env("KUBECONFIG", kc).args(["releases", "list", "-n", &ns]).args(extra);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        run(&mut cmd)
    };
    let works = |o: Output, what: &str| {
        assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("shop"), "{what}: {}", both(&o));
    };
    let refused = |o: Output, what: &str| {
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(1), "{what}: {stderr}");
        assert!(stderr.contains("certificate") && stderr.lines().count() == 1, "{what}: {stderr}");
    };
    let plain = kubeconfig(None);
    refused(list(&plain, &[], &[]), "127.0.0.2 is not a name of the certificate");
    works(list(&plain, &["--tls-server-name", "localhost"], &[]), "--tls-server-name");
    works(list(&kubeconfig(Some("localhost")), &[], &[]), "tls-server-name in the kubeconfig");
    works(list(&plain, &[], &[("WERF_KUBE_TLS_SERVER", "localhost")]), "$WERF_KUBE_TLS_SERVER");
    refused(
        list(&plain, &["--tls-server-name", "wrong.invalid"], &[("WERF_KUBE_TLS_SERVER", "localhost")]),
        "the flag wins over werf's variable",
    );
    refused(list(&kubeconfig(Some("wrong.invalid")), &[], &[]), "a wrong name in the kubeconfig");
    works(list(&kubeconfig(Some("wrong.invalid")), &["--tls-server-name", "localhost"], &[]), "the flag wins over the kubeconfig");
    works(
        list(&plain, &[], &[("HELM_PLUGIN_NAME", "werf-releases"), ("HELM_KUBETLS_SERVER_NAME", "localhost")]),
        "$HELM_KUBETLS_SERVER_NAME under Helm",
    );
}

#[test]
fn werf_variables_connect_with_werfs_precedence() {
    let c = TestCluster::start();
    let ns = seed_shop(&c, "werf-env");
    let conn = conn(&c);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, base64::engine::general_purpose::STANDARD.decode(&conn.ca_b64).unwrap()).unwrap();
    // A kubeconfig pointing nowhere: what KUBECONFIG holds when werf's variables must win.
    let nowhere = dir.path().join("nowhere");
    // (The right server, but a user without credentials: refused at once, not retried.)
    std::fs::write(
        &nowhere,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: nowhere\nclusters:\n- name: nowhere\n  cluster:\n    server: {}\n    certificate-authority-data: {}\ncontexts:\n- name: nowhere\n  context:\n    cluster: nowhere\n    user: nobody\nusers:\n- name: nobody\n  user: {{}}\n",
            conn.server, conn.ca_b64
        ),
    )
    .unwrap();
    let real = std::fs::read_to_string(&c.kubeconfig).unwrap();
    // The real contexts, but the current one points nowhere: WERF_KUBE_CONTEXT has to pick.
    let merged = dir.path().join("merged");
    let mut merged_text = real.replace(&format!("current-context: {}", conn.context), "current-context: nowhere");
    assert_ne!(merged_text, real, "the test kubeconfig names its current context");
    merged_text =
        merged_text.replacen("contexts:\n", "contexts:\n- name: nowhere\n  context: {cluster: nowhere-cluster, user: nobody}\n", 1);
    std::fs::write(&merged, &merged_text).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&real);

    let list = |envs: &[(&str, String)], args: &[&str]| -> Output {
        let mut cmd = c.werf();
        cmd.env("HOME", &home).env("KUBECONFIG", &nowhere).args(["releases", "list", "-n", &ns]).args(args);
        for (k, v) in envs {
            if k == &"KUBECONFIG" && v.is_empty() {
                cmd.env_remove("KUBECONFIG");
            } else {
                cmd.env(k, v);
            }
        }
        run(&mut cmd)
    };
    let works = |o: Output, what: &str| {
        assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("shop"), "{what}: {}", both(&o));
        assert!(!both(&o).contains(&conn.token) && !both(&o).contains(&b64), "{what} printed a credential");
    };
    let fails = |o: Output, what: &str| {
        assert_eq!(o.status.code(), Some(1), "{what}: {}", both(&o));
        assert_eq!(String::from_utf8_lossy(&o.stderr).lines().count(), 1, "{what}: {}", both(&o));
        assert!(!both(&o).contains(&conn.token) && !both(&o).contains(&b64), "{what} printed a credential");
    };
    let path = |p: &Path| p.display().to_string();
    fails(list(&[], &[]), "control: KUBECONFIG points nowhere");
    works(list(&[("WERF_KUBE_CONFIG", path(&c.kubeconfig))], &[]), "$WERF_KUBE_CONFIG over $KUBECONFIG");
    works(list(&[("WERF_KUBECONFIG", path(&c.kubeconfig))], &[]), "$WERF_KUBECONFIG over $KUBECONFIG");
    fails(
        list(&[("WERF_KUBE_CONFIG", path(&nowhere)), ("WERF_KUBECONFIG", path(&c.kubeconfig))], &[]),
        "$WERF_KUBE_CONFIG before $WERF_KUBECONFIG",
    );
    fails(list(&[("WERF_KUBE_CONFIG", path(&c.kubeconfig))], &["--kubeconfig", &path(&nowhere)]), "--kubeconfig over werf's variables");
    for var in ["WERF_KUBE_CONFIG_BASE64", "WERF_KUBECONFIG_BASE64", "KUBECONFIG_BASE64"] {
        works(list(&[(var, b64.clone()), ("WERF_KUBE_CONFIG", path(&nowhere))], &[]), &format!("${var} over kubeconfig paths"));
    }
    let broken_b64 = base64::engine::general_purpose::STANDARD.encode(format!("{real}\n  - [ {}", conn.token));
    fails(list(&[("WERF_KUBE_CONFIG_BASE64", broken_b64.clone())], &[]), "a broken base64 kubeconfig");
    let o = list(&[("WERF_KUBE_CONFIG_BASE64", broken_b64.clone())], &[]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("$WERF_KUBE_CONFIG_BASE64"), "{}", both(&o));
    assert!(!both(&o).contains(&broken_b64), "the variable's value was printed");

    // Contexts: WERF_KUBE_CONTEXT over current-context, --context over WERF_KUBE_CONTEXT.
    fails(list(&[("KUBECONFIG", path(&merged))], &[]), "control: current-context points nowhere");
    works(list(&[("KUBECONFIG", path(&merged)), ("WERF_KUBE_CONTEXT", conn.context.clone())], &[]), "$WERF_KUBE_CONTEXT");
    fails(
        list(&[("KUBECONFIG", path(&merged)), ("WERF_KUBE_CONTEXT", conn.context.clone())], &["--context", "nowhere"]),
        "--context over $WERF_KUBE_CONTEXT",
    );

    // No kubeconfig at all: server, token and CA from werf's variables.
    let no_kc = ("KUBECONFIG", String::new());
    let server = ("WERF_KUBE_API_SERVER", conn.server.clone());
    let token = ("WERF_KUBE_TOKEN", conn.token.clone());
    works(
        list(&[no_kc.clone(), server.clone(), token.clone(), ("WERF_KUBE_CA_PATH", path(&ca))], &[]),
        "$WERF_KUBE_API_SERVER + $WERF_KUBE_TOKEN + $WERF_KUBE_CA_PATH",
    );
    works(
        list(&[no_kc.clone(), server.clone(), token.clone(), ("WERF_SKIP_TLS_VERIFY_KUBE", "true".into())], &[]),
        "$WERF_SKIP_TLS_VERIFY_KUBE",
    );
    let o = list(&[no_kc.clone(), server.clone(), token.clone()], &[]);
    fails(o, "without a CA the server certificate is refused");
    fails(
        list(&[no_kc.clone(), server.clone(), token.clone(), ("WERF_KUBE_CA_PATH", path(&ca))], &["--token", "wrong-token"]),
        "--token over $WERF_KUBE_TOKEN",
    );
    works(
        list(
            &[no_kc.clone(), token.clone(), ("WERF_KUBE_CA_PATH", path(&ca)), ("WERF_KUBE_API_SERVER", "https://127.0.0.2:1".into())],
            &["--server", &conn.server],
        ),
        "--server over $WERF_KUBE_API_SERVER",
    );
    // WERF_KUBE_TOKEN over the kubeconfig's own user.
    let wrong_user = dir.path().join("wrong-user");
    std::fs::write(&wrong_user, real.replace(&conn.token, "not-the-token")).unwrap();
    fails(list(&[("KUBECONFIG", path(&wrong_user))], &[]), "control: the kubeconfig's token is wrong");
    works(list(&[("KUBECONFIG", path(&wrong_user)), token.clone()], &[]), "$WERF_KUBE_TOKEN over the kubeconfig's user");
    // A CI job's usual combination: WERF_KUBE_CONFIG_BASE64 + WERF_KUBE_CONTEXT.
    let b64_merged = base64::engine::general_purpose::STANDARD.encode(&merged_text);
    works(list(&[("WERF_KUBE_CONFIG_BASE64", b64_merged), ("WERF_KUBE_CONTEXT", conn.context.clone())], &[]), "base64 + context");
}
