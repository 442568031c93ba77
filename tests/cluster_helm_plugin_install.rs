//! The released Helm plugin, installed the way users install it: `scripts/helm-plugin` packs a
//! kubectl-werf binary with `helm plugin package` (Helm 4) and signs it with an RSA key of a keyring
//! this test generates; the tarball and its `.prov` are served on loopback HTTP.
//! - Helm 4 installs it from the URL verifying it against the test's keyring, and refuses a tampered
//!   tarball, a tarball without `.prov` and a signature by a key not in the keyring.
//! - Helm 3.17 installs the unpacked tarball (it installs http tarballs only with plugin.yaml at the
//!   archive root, which `helm plugin package` does not write), as the README says.
//! - Both then run `helm werf-releases list -A` with no kubectl-werf on PATH, and honour Helm's
//!   `--kube-tls-server-name` (HELM_KUBETLS_SERVER_NAME) and `HELM_MAX_HISTORY` (`prune`'s default).
//!
//! The binary packed here is this test build's (stripped), not a release build: what is tested is the
//! packaging, signing, installation and plugin environment, which do not depend on the optimisation.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{TestCluster, fixture, helm_bin, repo_root, run, run_ok};
use kubectl_werf::storage::Helm3Driver;
use kubectl_werf::storage::Helm3Store;
use kubectl_werf::storage::codec::DecodeLimits;
use serde_json::Value;

/// PATH for helm: system directories only, where no kubectl-werf lives.
const BARE_PATH: &str = "/usr/bin:/bin";

fn both(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A static file server on loopback (GET and HEAD, one request per connection).
fn serve(dir: &Path) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let dir = dir.clone();
            std::thread::spawn(move || {
                let _ = answer(stream, &dir);
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}

fn answer(mut stream: TcpStream, dir: &Path) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut parts = request.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let name = path.trim_start_matches('/');
    let file = (!name.contains('/') && !name.contains("..")).then(|| dir.join(name)).filter(|p| p.is_file());
    match file {
        Some(p) => {
            let body = std::fs::read(&p)?;
            let ctype = if name.ends_with(".tgz") { "application/gzip" } else { "application/octet-stream" };
            write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())?;
            if method != "HEAD" {
                stream.write_all(&body)?;
            }
        }
        None => write!(stream, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?,
    }
    stream.flush()
}

/// GET over plain HTTP from the server above.
fn http_get(url: &str) -> Vec<u8> {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = TcpStream::connect(host).unwrap();
    write!(s, "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    assert!(all.starts_with(b"HTTP/1.1 200"), "GET {url}: {}", String::from_utf8_lossy(&all[..split]));
    all[split + 4..].to_vec()
}

/// A GnuPG home with an RSA signing key (no passphrase), and its legacy keyrings as Helm reads them.
struct Keys {
    secring: PathBuf,
    pubring: PathBuf,
    uid: String,
}

fn gpg_key(dir: &Path, name: &str) -> Keys {
    let home = dir.join(format!("gnupg-{name}"));
    std::fs::create_dir_all(&home).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let uid = format!("{name}@kubectl-werf.invalid");
    let params = home.join("params");
    std::fs::write(
        &params,
        format!("%no-protection\nKey-Type: RSA\nKey-Length: 2048\nName-Real: kubectl-werf test {name}\nName-Email: {uid}\nExpire-Date: 0\n%commit\n"),
    )
    .unwrap();
    let gpg = |args: &[&str]| {
        let out = Command::new("gpg").env("GNUPGHOME", &home).args(["--batch", "--quiet"]).args(args).output().expect("gpg runs");
        assert!(out.status.success(), "gpg {args:?}: {}", both(&out));
        out.stdout
    };
    gpg(&["--gen-key", params.to_str().unwrap()]);
    let secring = dir.join(format!("{name}-secring.gpg"));
    let pubring = dir.join(format!("{name}-pubring.gpg"));
    std::fs::write(&secring, gpg(&["--export-secret-keys", &uid])).unwrap();
    std::fs::write(&pubring, gpg(&["--export", &uid])).unwrap();
    Keys { secring, pubring, uid }
}

fn host_platform() -> (&'static str, &'static str) {
    let os = if cfg!(target_os = "macos") { "darwin" } else { std::env::consts::OS };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    (os, arch)
}

/// Rows of `list -o json` of this test's release only (the cluster may be shared by other tests).
fn ours(json: &str, release: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let rows: Vec<Value> = v.as_array().unwrap().iter().filter(|r| r["name"] == release).cloned().collect();
    assert_eq!(rows.len(), 1, "{release} in {json}");
    rows
}

struct HelmHome {
    major: u8,
    home: PathBuf,
}

impl HelmHome {
    fn new(c: &TestCluster, major: u8) -> Self {
        let home = c.dir.path().join(format!("helm{major}-home"));
        std::fs::create_dir_all(&home).unwrap();
        HelmHome { major, home }
    }

    fn cmd(&self, c: &TestCluster) -> Command {
        let mut cmd = c.helm(self.major);
        cmd.env("PATH", BARE_PATH)
            .env("HELM_DATA_HOME", self.home.join("data"))
            .env("HELM_CACHE_HOME", self.home.join("cache"))
            .env("HELM_CONFIG_HOME", self.home.join("config"));
        cmd
    }
}

#[test]
fn the_signed_plugin_tarball_installs_under_helm3_and_helm4_with_nothing_on_path() {
    let (os, arch) = host_platform();
    if (os, arch) != ("linux", "amd64") {
        eprintln!("the real helm binaries of this suite are linux/amd64; skipping on {os}/{arch}");
        return;
    }
    assert!(
        !Command::new("sh").args(["-c", "command -v kubectl-werf"]).env("PATH", BARE_PATH).status().unwrap().success(),
        "{BARE_PATH} must not hold a kubectl-werf"
    );
    let c = TestCluster::start();
    let ns = c.namespace("helm-plugin-dist");
    c.seed_file(&fixture("helm3/fx-helm3-shop-secrets.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
    // The genuine records say namespace fx-helm3 inside; `list -A` shows that. A copy under a name of
    // this test's own, in its namespace, tells our rows from other tests' on a shared cluster.
    let release = format!("plug-{}", ns.rsplit('-').next().unwrap());
    let h3 = Helm3Store::new(c.client.clone(), Helm3Driver::Secret, DecodeLimits::default());
    for rec in c.rt.block_on(h3.history(&ns, "shop")).unwrap().records {
        let mut r = rec.release.clone();
        r.name = release.clone();
        r.namespace = ns.clone();
        c.rt.block_on(h3.create(&r)).unwrap();
    }
    let work = tempfile::tempdir().unwrap();
    let keys = gpg_key(work.path(), "signer");
    let stranger = gpg_key(work.path(), "stranger");

    // The binary to pack: this build's, stripped of debug info when `strip` is there.
    let binary = work.path().join("kubectl-werf");
    let stripped = Command::new("strip").arg("-o").arg(&binary).arg(env!("CARGO_BIN_EXE_kubectl-werf")).status();
    if !stripped.is_ok_and(|s| s.success()) {
        std::fs::copy(env!("CARGO_BIN_EXE_kubectl-werf"), &binary).unwrap();
    }
    let pkg = work.path().join("pkg");
    let stdout = run_ok(
        Command::new(repo_root().join("scripts/helm-plugin"))
            .args(["--binary", binary.to_str().unwrap(), "--os", os, "--arch", arch, "--out", pkg.to_str().unwrap()])
            .args(["--key", &keys.uid, "--keyring", keys.secring.to_str().unwrap()])
            .arg("--helm")
            .arg(helm_bin(4)),
    );
    let tarball = PathBuf::from(stdout.lines().last().unwrap());
    let version = env!("CARGO_PKG_VERSION");
    let name = format!("werf-releases-{version}-{os}-{arch}.tgz");
    assert_eq!(tarball, pkg.join(&name));
    assert!(pkg.join(format!("{name}.prov")).is_file());
    // What is in it: plugin.yaml (legacy format, this platform's version, the packed binary as command), the binary, LICENSE.
    let listing = run_ok(Command::new("tar").arg("-tzf").arg(&tarball));
    let mut entries: Vec<&str> = listing.lines().map(|l| l.trim_end_matches('/')).collect();
    entries.sort();
    assert_eq!(entries, ["werf-releases", "werf-releases/LICENSE", "werf-releases/kubectl-werf", "werf-releases/plugin.yaml"]);
    let plugin_yaml = run_ok(Command::new("tar").arg("-xzOf").arg(&tarball).arg("werf-releases/plugin.yaml"));
    let meta: Value = serde_saphyr::from_str(&plugin_yaml).unwrap();
    assert_eq!(meta["version"], format!("{version}-{os}-{arch}").as_str());
    assert_eq!(meta["command"], "$HELM_PLUGIN_DIR/kubectl-werf releases");
    assert!(meta.get("apiVersion").is_none() && meta.get("hooks").is_none() && meta.get("platformHooks").is_none(), "{plugin_yaml}");

    // Three servers: the good files, a tampered tarball with the good .prov, and no .prov at all.
    let base = serve(&pkg);
    let tampered_dir = work.path().join("tampered");
    std::fs::create_dir_all(&tampered_dir).unwrap();
    let mut bytes = std::fs::read(&tarball).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(tampered_dir.join(&name), &bytes).unwrap();
    std::fs::copy(pkg.join(format!("{name}.prov")), tampered_dir.join(format!("{name}.prov"))).unwrap();
    let tampered = serve(&tampered_dir);
    let unsigned_dir = work.path().join("unsigned");
    std::fs::create_dir_all(&unsigned_dir).unwrap();
    std::fs::copy(&tarball, unsigned_dir.join(&name)).unwrap();
    let unsigned = serve(&unsigned_dir);

    // Helm 4: verification against the test's keyring.
    let h4 = HelmHome::new(&c, 4);
    let install4 =
        |base: &str, keyring: &Path| run(h4.cmd(&c).args(["plugin", "install", &format!("{base}/{name}"), "--keyring"]).arg(keyring));
    let installed4 = || run_ok(h4.cmd(&c).args(["plugin", "list"])).contains("werf-releases");
    for (what, out) in [
        ("a tampered tarball", install4(&tampered, &keys.pubring)),
        ("a tarball without .prov", install4(&unsigned, &keys.pubring)),
        ("a signer outside the keyring", install4(&base, &stranger.pubring)),
    ] {
        assert!(!out.status.success(), "helm4 installed {what}: {}", both(&out));
        assert!(both(&out).contains("verif"), "helm4 on {what}: {}", both(&out));
        assert!(!installed4(), "helm4 left {what} installed");
    }
    let out = install4(&base, &keys.pubring);
    assert!(out.status.success(), "helm4 plugin install: {}", both(&out));
    assert!(both(&out).contains("Plugin Hash Verified") && both(&out).contains(&keys.uid), "{}", both(&out));
    let listed = run_ok(h4.cmd(&c).args(["plugin", "list"]));
    assert!(listed.contains(&format!("{version}-{os}-{arch}")), "{listed}");

    // Helm 3: the unpacked tarball.
    let h3 = HelmHome::new(&c, 3);
    let unpack = work.path().join("helm3-plugin");
    std::fs::create_dir_all(&unpack).unwrap();
    let download = work.path().join("download.tgz");
    std::fs::write(&download, http_get(&format!("{base}/{name}"))).unwrap();
    run_ok(Command::new("tar").arg("-xzf").arg(&download).arg("-C").arg(&unpack));
    let out = run(h3.cmd(&c).args(["plugin", "install"]).arg(unpack.join("werf-releases")));
    assert!(out.status.success(), "helm3 plugin install: {}", both(&out));

    let direct = run_ok(c.werf().args(["releases", "list", "-A", "-o", "json", "--helm-version", "3"]));
    for h in [&h3, &h4] {
        let major = h.major;
        // `helm werf-releases list -A`, nothing on PATH but the system's.
        let table = run_ok(h.cmd(&c).args(["werf-releases", "list", "-A"]));
        let row =
            table.lines().find(|l| l.split_whitespace().next() == Some(release.as_str())).unwrap_or_else(|| panic!("helm{major}: {table}"));
        assert!(row.contains(&ns) && row.contains("uninstalled") && row.contains("shop-1.4.2"), "{row}");
        let json = run_ok(h.cmd(&c).args(["werf-releases", "list", "-A", "-o", "json", "--helm-version", "3"]));
        assert_eq!(ours(&json, &release), ours(&direct, &release), "helm{major} werf-releases list -A -o json");

        // Helm's --kube-tls-server-name reaches us as HELM_KUBETLS_SERVER_NAME.
        let wrong = run(h.cmd(&c).args(["werf-releases", "list", "-n", &ns, "--kube-tls-server-name", "wrong.invalid"]));
        assert_eq!(wrong.status.code(), Some(1), "helm{major}: {}", both(&wrong));
        assert!(both(&wrong).contains("certificate"), "helm{major}: {}", both(&wrong));
        let right = run_ok(h.cmd(&c).args(["werf-releases", "list", "-n", &ns, "--kube-tls-server-name", "localhost"]));
        assert!(right.contains(&release), "helm{major}: {right}");

        // HELM_MAX_HISTORY is prune's --keep.
        let via_helm = run_ok(h.cmd(&c).env("HELM_MAX_HISTORY", "2").args(["werf-releases", "prune", &release, "-n", &ns, "--dry-run"]));
        let with_keep = run_ok(c.werf().args(["releases", "prune", &release, "-n", &ns, "--keep", "2", "--dry-run"]));
        assert_eq!(via_helm, with_keep, "helm{major}: HELM_MAX_HISTORY=2 is --keep 2");
        let with_default =
            run_ok(h.cmd(&c).env_remove("HELM_MAX_HISTORY").args(["werf-releases", "prune", &release, "-n", &ns, "--dry-run"]));
        let keep10 = run_ok(c.werf().args(["releases", "prune", &release, "-n", &ns, "--keep", "10", "--dry-run"]));
        assert_eq!(with_default, keep10, "helm{major}: Helm's default history is 10");
        let unlimited = run(h.cmd(&c).env("HELM_MAX_HISTORY", "0").args(["werf-releases", "prune", &release, "-n", &ns, "--dry-run"]));
        assert_eq!(unlimited.status.code(), Some(2), "helm{major}: {}", both(&unlimited));
        assert!(both(&unlimited).contains("HELM_MAX_HISTORY") && both(&unlimited).contains("--keep"), "{}", both(&unlimited));
    }
    // Outside Helm, --keep stays required.
    let out = run(c.werf().args(["releases", "prune", &release, "-n", &ns, "--dry-run"]));
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
}
