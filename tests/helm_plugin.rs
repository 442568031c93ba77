//! `helm plugin install <checkout>` with real helm3 and helm4, then `helm werf-releases ...` runs us:
//! same answers as running kubectl-werf directly, and helm's `-n` reaches us as HELM_NAMESPACE.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{TestCluster, fixture, repo_root, run_ok};

fn path_with_our_binary() -> String {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_kubectl-werf"));
    let dir = bin.parent().unwrap().to_path_buf();
    let mut paths = vec![dir];
    paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    std::env::join_paths(paths).unwrap().into_string().unwrap()
}

#[test]
fn plugin_installs_and_runs_under_helm3_and_helm4() {
    let c = TestCluster::start();
    // helm 4's status maps every kind of the stored manifest, the shop chart's Widget included.
    c.install_widget_crd();
    let ns = c.namespace("plugin");
    let map = BTreeMap::from([("fx-helm3", ns.as_str())]);
    for f in ["shop-secrets", "stuck-secrets"] {
        c.seed_file(&fixture(&format!("helm3/fx-helm3-{f}.yaml")), &map);
    }
    let path = path_with_our_binary();
    // helm copies nothing for a local directory: it links it, so the checkout itself is the plugin.
    let checkout = repo_root();
    for major in [3u8, 4] {
        let mut install = c.helm(major);
        install.env("PATH", &path).args(["plugin", "install"]).arg(&checkout);
        if major == 4 {
            // helm 4 verifies signatures of packaged plugins; a local directory has none to check
            install.arg("--verify=false");
        }
        let out = common::run(&mut install);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() || stderr.contains("already exists"), "helm{major} plugin install: {stderr}");
        let listed = run_ok(c.helm(major).env("PATH", &path).args(["plugin", "list"]));
        assert!(listed.contains("werf-releases"), "helm{major}: {listed}");

        let via_helm = run_ok(c.helm(major).env("PATH", &path).args(["werf-releases", "list", "-A", "-o", "json", "--helm-version", "3"]));
        let direct = run_ok(c.werf().args(["releases", "list", "-A", "-o", "json", "--helm-version", "3"]));
        assert_eq!(via_helm, direct, "helm{major} werf-releases list -A");

        // helm's -n is removed from our argv and passed as HELM_NAMESPACE
        let via_helm = run_ok(c.helm(major).env("PATH", &path).args(["werf-releases", "list", "-n", &ns, "--helm-version", "3"]));
        let direct = run_ok(c.werf().args(["releases", "list", "-n", &ns, "--helm-version", "3"]));
        assert_eq!(via_helm, direct, "helm{major} -n");
        assert!(via_helm.contains("shop") && via_helm.contains("stuck"), "{via_helm}");

        // In plugin mode status prints like the helm that runs us.
        let via_helm = run_ok(c.helm(major).env("PATH", &path).args(["werf-releases", "status", "shop", "-n", &ns]));
        let theirs = run_ok(c.helm(major).args(["status", "shop", "-n", &ns]));
        assert_eq!(via_helm, theirs, "helm{major} status");
    }
}
