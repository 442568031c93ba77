//! Helpers of the `releases unlock|prune|export|restore` tests (tests/cluster_releases_{unlock,prune,export,restore}.rs):
//! seeding fixture records, reading record objects back, and helm's JSON answers.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ListParams};
use serde_json::Value;

use super::{TestCluster, fixture, run_ok};

pub type Records = BTreeMap<(String, String), (String, BTreeMap<String, String>)>;

/// Every record object in `ns` matching `selector`: (kind, name) → (payload text, labels).
pub fn records(c: &TestCluster, ns: &str, selector: &str) -> Records {
    let lp = ListParams::default().labels(selector);
    let mut out = BTreeMap::new();
    let secrets: Api<Secret> = Api::namespaced(c.client.clone(), ns);
    for s in c.rt.block_on(secrets.list(&lp)).unwrap() {
        let payload = s.data.as_ref().and_then(|d| d.get("release")).map(|b| String::from_utf8(b.0.clone()).unwrap()).unwrap_or_default();
        out.insert(("Secret".into(), s.metadata.name.clone().unwrap()), (payload, s.metadata.labels.clone().unwrap_or_default()));
    }
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), ns);
    for m in c.rt.block_on(cms.list(&lp)).unwrap() {
        let payload = m.data.as_ref().and_then(|d| d.get("release")).cloned().unwrap_or_default();
        out.insert(("ConfigMap".into(), m.metadata.name.clone().unwrap()), (payload, m.metadata.labels.clone().unwrap_or_default()));
    }
    out
}

pub fn helm_json(c: &TestCluster, major: u8, args: &[&str]) -> Value {
    let mut cmd = c.helm(major);
    // `cart` was written with HELM_DRIVER=configmap
    if args.get(1) == Some(&"cart") {
        cmd.env("HELM_DRIVER", "configmap");
    }
    let out = run_ok(cmd.args(args).args(["-o", "json"]));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

pub fn statuses(history: &Value) -> Vec<(i64, String)> {
    history.as_array().unwrap().iter().map(|r| (r["revision"].as_i64().unwrap(), r["status"].as_str().unwrap().to_string())).collect()
}

pub fn seed(c: &TestCluster, hint: &str, files: &[&str], fx: &str) -> String {
    let ns = c.namespace(hint);
    let map = BTreeMap::from([(fx, ns.as_str())]);
    for f in files {
        c.seed_file(&fixture(&format!("helm3/{fx}-{f}.yaml")), &map);
    }
    ns
}

pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default();
    v.sort();
    v
}
