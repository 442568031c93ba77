//! kubectl's certificate and impersonation flags against a real kube-apiserver, which the emulator
//! cannot stand in for: it neither asks for client certificates nor implements impersonation.
//!
//! - `--client-certificate`/`--client-key`, and `client-certificate-data`/`client-key-data` users,
//!   with a certificate signed by the server's client CA (`real-apiserver` starts kube-apiserver with
//!   `--client-ca-file DIR/pki/ca.crt`; its key is `DIR/pki/ca.key`): the certificate's CN is the user
//!   RBAC sees. A certificate of another CA is 401; no credentials at all is system:anonymous's 403.
//! - `--as-uid` with `--as`: allowed when RBAC grants `impersonate` on that `uids` name, a 403 in one
//!   line when it does not.
//!
//! Uses the real control plane of `KUBECTL_WERF_TEST_KUBECONFIG` when it is one `real-apiserver` made
//! (its `pki/` beside the kubeconfig), else starts one of its own.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use common::{RealControlPlane, TestCluster, fixture, run, run_ok};
use serde_json::Value;

fn both(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The control plane's directory (kubeconfig, pki/, apiserver.cmd) and, when started here, its owner.
fn control_plane() -> (PathBuf, Option<RealControlPlane>) {
    if let Some(kc) = std::env::var_os(common::REAL_CLUSTER_ENV).map(PathBuf::from) {
        let dir = kc.parent().unwrap().to_path_buf();
        if dir.join("pki/ca.key").is_file() && dir.join("apiserver.cmd").is_file() {
            return (dir, None);
        }
    }
    let plane = RealControlPlane::start("");
    (plane.dir.path().to_path_buf(), Some(plane))
}

fn openssl(args: &[&str]) {
    run_ok(Command::new("openssl").args(args));
}

/// A client key and a certificate for `cn` signed by the CA at `ca_dir/ca.{crt,key}` (or self-signed).
fn client_certificate(dir: &Path, name: &str, cn: &str, ca_dir: Option<&Path>) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let crt = dir.join(format!("{name}.crt"));
    let subj = format!("/CN={cn}/O=kw-cert-users");
    match ca_dir {
        Some(ca) => {
            let csr = dir.join(format!("{name}.csr"));
            openssl(&[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                key.to_str().unwrap(),
                "-out",
                csr.to_str().unwrap(),
                "-subj",
                &subj,
            ]);
            let ext = dir.join(format!("{name}.ext"));
            std::fs::write(&ext, "extendedKeyUsage=clientAuth\n").unwrap();
            openssl(&[
                "x509",
                "-req",
                "-in",
                csr.to_str().unwrap(),
                "-CA",
                ca.join("ca.crt").to_str().unwrap(),
                "-CAkey",
                ca.join("ca.key").to_str().unwrap(),
                "-CAcreateserial",
                "-CAserial",
                dir.join("ca.srl").to_str().unwrap(),
                "-out",
                crt.to_str().unwrap(),
                "-days",
                "2",
                "-extfile",
                ext.to_str().unwrap(),
            ]);
        }
        None => openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            crt.to_str().unwrap(),
            "-days",
            "2",
            "-subj",
            &subj,
        ]),
    }
    (crt, key)
}

struct Server {
    url: String,
    ca_b64: String,
}

fn server(kubeconfig: &Path) -> Server {
    let kc: Value = serde_saphyr::from_str(&std::fs::read_to_string(kubeconfig).unwrap()).unwrap();
    let cluster = &kc["clusters"][0]["cluster"];
    Server { url: cluster["server"].as_str().unwrap().into(), ca_b64: cluster["certificate-authority-data"].as_str().unwrap().into() }
}

/// A kubeconfig with one cluster and a user of the given `user:` lines (none: no credentials).
fn kubeconfig_with_user(s: &Server, user_lines: &str) -> String {
    let user = if user_lines.is_empty() { "  user: {}\n".to_string() } else { format!("  user:\n{user_lines}") };
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: real\n  cluster:\n    server: {}\n    certificate-authority-data: {}\nusers:\n- name: u\n{user}contexts:\n- name: c\n  context:\n    cluster: real\n    user: u\n",
        s.url, s.ca_b64
    )
}

/// Let `user` read Secrets in `ns` (a Role of its own: the built-in `admin`/`view` roles are
/// aggregated by a controller this control plane does not run).
fn read_secrets(c: &TestCluster, ns: &str, user: &str) {
    run_ok(c.kubectl().args(["create", "role", "read-secrets", "--verb=get,list,watch", "--resource=secrets", "-n", ns]));
    run_ok(c.kubectl().args(["create", "rolebinding", "read-secrets", "--role=read-secrets", "--user", user, "-n", ns]));
}

fn suffix() -> String {
    format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() % 0xffffff)
}

#[test]
#[ignore = "real kube-apiserver: scripts/test runs it"]
fn client_certificates_signed_by_the_servers_ca() {
    let (dir, _plane) = control_plane();
    let cmd = std::fs::read_to_string(dir.join("apiserver.cmd")).unwrap();
    assert!(
        cmd.contains("--client-ca-file") && cmd.contains(&format!("{}/pki/ca.crt", dir.display())),
        "kube-apiserver must verify client certificates against pki/ca.crt: {cmd}"
    );
    let c = TestCluster::connect(Some(dir.join("kubeconfig")));
    let ns = c.namespace("client-cert");
    c.seed_file(&fixture("helm3/fx-helm3-shop-secrets.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
    let cn = format!("kw-cert-{}", suffix());
    read_secrets(&c, &ns, &cn);

    let work = tempfile::tempdir().unwrap();
    let (crt, key) = client_certificate(work.path(), "good", &cn, Some(&dir.join("pki")));
    let (stranger_crt, stranger_key) = client_certificate(work.path(), "stranger", &cn, None);
    let s = server(&c.kubeconfig);
    let no_credentials = work.path().join("anonymous");
    std::fs::write(&no_credentials, kubeconfig_with_user(&s, "")).unwrap();
    let list = |kubeconfig: &Path, extra: &[&str]| -> Output {
        run(c.werf().env("KUBECONFIG", kubeconfig).args(["releases", "list", "-n", &ns]).args(extra))
    };
    let works = |o: Output, what: &str| {
        assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("shop"), "{what}: {}", both(&o));
    };
    let refused = |o: Output, what: &str, needle: &str| {
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(1), "{what}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{what}: one line: {stderr}");
        assert!(stderr.contains(needle), "{what}: {stderr}");
    };
    refused(list(&no_credentials, &[]), "no credentials", "system:anonymous");
    works(
        list(&no_credentials, &["--client-certificate", crt.to_str().unwrap(), "--client-key", key.to_str().unwrap()]),
        "--client-certificate and --client-key",
    );
    refused(
        list(&no_credentials, &["--client-certificate", stranger_crt.to_str().unwrap(), "--client-key", stranger_key.to_str().unwrap()]),
        "a certificate of another CA",
        "Unauthorized",
    );
    // The same certificate as kubeconfig data.
    let b64 = |p: &Path| base64::engine::general_purpose::STANDARD.encode(std::fs::read(p).unwrap());
    let with_data = work.path().join("with-data");
    std::fs::write(
        &with_data,
        kubeconfig_with_user(&s, &format!("    client-certificate-data: {}\n    client-key-data: {}\n", b64(&crt), b64(&key))),
    )
    .unwrap();
    works(list(&with_data, &[]), "client-certificate-data / client-key-data");
    // The flags replace the file's certificate.
    let stranger_data = work.path().join("stranger-data");
    std::fs::write(
        &stranger_data,
        kubeconfig_with_user(
            &s,
            &format!("    client-certificate-data: {}\n    client-key-data: {}\n", b64(&stranger_crt), b64(&stranger_key)),
        ),
    )
    .unwrap();
    refused(list(&stranger_data, &[]), "a stranger's certificate in the kubeconfig", "Unauthorized");
    works(
        list(&stranger_data, &["--client-certificate", crt.to_str().unwrap(), "--client-key", key.to_str().unwrap()]),
        "the flags over the kubeconfig's certificate",
    );
    // Other verbs authenticate the same way (the user can read in its namespace only).
    let out = run_ok(c.werf().env("KUBECONFIG", &with_data).args(["releases", "status", "shop", "-n", &ns]));
    assert!(out.contains("NAME: shop"), "{out}");
    // Key material never shows, not even at -v 9.
    let key_body: String = std::fs::read_to_string(&key).unwrap().lines().filter(|l| !l.starts_with("-----")).collect();
    let out = run(c.werf().env("KUBECONFIG", &with_data).args(["releases", "list", "-n", &ns, "-v", "9"]));
    assert!(out.status.success(), "{}", both(&out));
    for piece in key_body.as_bytes().chunks(40).filter(|p| p.len() == 40) {
        assert!(!both(&out).contains(std::str::from_utf8(piece).unwrap()), "the client key leaked");
    }
    assert!(!both(&out).contains(&b64(&key)), "the client key data leaked");
}

#[test]
#[ignore = "real kube-apiserver: scripts/test runs it"]
fn as_uid_is_sent_and_refused_when_rbac_does_not_allow_that_uid() {
    let (dir, _plane) = control_plane();
    let c = TestCluster::connect(Some(dir.join("kubeconfig")));
    let ns = c.namespace("as-uid");
    c.seed_file(&fixture("helm3/fx-helm3-shop-secrets.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
    let sfx = suffix();
    let bob = format!("kw-bob-{sfx}");
    let role = format!("kw-impersonate-{sfx}");
    // `limited` may impersonate bob, and bob's uid "uid-ok" only; bob may read the namespace's Secrets.
    let rbac = format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: {role}}}\nrules:\n- {{apiGroups: [\"\"], resources: [users], verbs: [impersonate], resourceNames: [{bob}]}}\n- {{apiGroups: [authentication.k8s.io], resources: [uids], verbs: [impersonate], resourceNames: [uid-ok]}}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: {role}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {role}}}\nsubjects: [{{apiGroup: rbac.authorization.k8s.io, kind: User, name: limited}}]\n"
    );
    let file = c.dir.path().join("rbac.yaml");
    std::fs::write(&file, rbac).unwrap();
    run_ok(c.kubectl().args(["apply", "-f"]).arg(&file));
    read_secrets(&c, &ns, &bob);

    let list = |extra: &[&str]| run(c.werf().args(["releases", "list", "-n", &ns, "--context", "limited"]).args(extra));
    let works = |o: Output, what: &str| {
        assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("shop"), "{what}: {}", both(&o));
    };
    let forbidden = |o: Output, what: &str, needle: &str| {
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(1), "{what}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{what}: one line: {stderr}");
        assert!(stderr.contains("forbidden") && stderr.contains(needle), "{what}: {stderr}");
    };
    // RBAC needs a moment to see new bindings on a busy server.
    let mut tries = 0;
    while !list(&["--as", &bob]).status.success() && tries < 50 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        tries += 1;
    }
    forbidden(list(&[]), "limited itself has no rights", "limited");
    works(list(&["--as", &bob]), "--as bob");
    works(list(&["--as", &bob, "--as-uid", "uid-ok"]), "--as bob --as-uid uid-ok");
    forbidden(list(&["--as", &bob, "--as-uid", "uid-other"]), "an unallowed uid", "uids");
    // The uid really is sent: an admin (system:masters) may impersonate any uid.
    let out = run(c.werf().args(["releases", "list", "-n", &ns, "--as", &bob, "--as-uid", "uid-other"]));
    assert!(out.status.success(), "{}", both(&out));
    // Without --as it is a usage problem, said in one line.
    let out = list(&["--as-uid", "uid-ok"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--as-uid uid-ok needs --as"), "{}", both(&out));

    let _ = c.kubectl().args(["delete", "-f"]).arg(&file).output();
}
