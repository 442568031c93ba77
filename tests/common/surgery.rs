//! Helpers of the `releases forget|move` tests (tests/cluster_releases_{forget,move}.rs): a one-ConfigMap
//! chart, helm's answers, the ConfigMap's ownership keys, and the release's record objects.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{TestCluster, run_ok};

/// A chart with one ConfigMap of a fixed name (so renaming the release leaves the object as it is), in
/// the release namespace unless `namespace` pins it.
pub fn write_chart(c: &TestCluster, name: &str, namespace: Option<&str>) -> PathBuf {
    let dir = c.dir.path().join(name);
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(dir.join("Chart.yaml"), format!("apiVersion: v2\nname: {name}\nversion: 0.1.0\n")).unwrap();
    let ns = namespace.map(|n| format!("  namespace: {n}\n")).unwrap_or_default();
    std::fs::write(
        dir.join("templates/cm.yaml"),
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n{ns}  labels:\n    app.kubernetes.io/instance: {{{{ .Release.Name }}}}\ndata:\n  value: {{{{ .Values.value | default \"one\" | quote }}}}\n"),
    )
    .unwrap();
    dir
}

pub fn helm_json(c: &TestCluster, major: u8, args: &[&str]) -> Value {
    serde_json::from_str(&run_ok(c.helm(major).args(args).args(["-o", "json"]))).unwrap()
}

pub fn names_listed(c: &TestCluster, major: u8, ns: &str) -> Vec<String> {
    let mut cmd = c.helm(major);
    cmd.args(["list", "-n", ns, "-o", "json"]);
    if major == 3 {
        cmd.arg("-a");
    }
    let v: Value = serde_json::from_str(&run_ok(&mut cmd)).unwrap();
    v.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_string()).collect()
}

/// The ConfigMap's ownership keys and its data value.
pub fn settings(c: &TestCluster, ns: &str) -> (BTreeMap<String, String>, String) {
    let v: Value = serde_json::from_str(&run_ok(c.kubectl().args(["get", "configmap", "settings", "-n", ns, "-o", "json"]))).unwrap();
    let mut keys = BTreeMap::new();
    for (section, key) in [
        ("labels", "app.kubernetes.io/managed-by"),
        ("annotations", "meta.helm.sh/release-name"),
        ("annotations", "meta.helm.sh/release-namespace"),
    ] {
        if let Some(val) = v["metadata"][section][key].as_str() {
            keys.insert(key.to_string(), val.to_string());
        }
    }
    (keys, v["data"]["value"].as_str().unwrap().to_string())
}

pub fn helm_keys(release: &str, ns: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/managed-by".to_string(), "Helm".to_string()),
        ("meta.helm.sh/release-name".to_string(), release.to_string()),
        ("meta.helm.sh/release-namespace".to_string(), ns.to_string()),
    ])
}

pub fn records(c: &TestCluster, ns: &str) -> Vec<String> {
    labelled(c, ns, "owner=helm")
}

pub fn labelled(c: &TestCluster, ns: &str, selector: &str) -> Vec<String> {
    let out = run_ok(c.kubectl().args(["get", "secrets,configmaps", "-n", ns, "-l", selector, "-o", "name"]));
    let mut v: Vec<String> = out.lines().map(String::from).collect();
    v.sort();
    v
}

pub fn install(c: &TestCluster, major: u8, release: &str, chart: &Path, ns: &str, value: &str) {
    run_ok(c.helm(major).args(["upgrade", "--install", release]).arg(chart).args(["-n", ns, "--set", &format!("value={value}")]));
}
