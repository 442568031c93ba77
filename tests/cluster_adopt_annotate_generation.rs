//! A Deployment's `metadata.generation`: kube-apiserver bumps it when the Deployment's annotations
//! change, not only its spec (its strategy treats annotations like the pod template). Our verbs patch
//! metadata only: each patch that changes something moves the generation by exactly one, a run with
//! nothing to change sends nothing (no bump), and the bump one verb caused is never taken by another
//! verb, or by a re-run, for someone else's change (no "changed meanwhile", no conflict, no retry).

mod common;
mod synthetic_releases;

use common::{TestCluster, run};
use serde_json::{Value, json};

fn deployment(c: &TestCluster, ns: &str) -> Value {
    let api: kube::Api<k8s_openapi::api::apps::v1::Deployment> = kube::Api::namespaced(c.client.clone(), ns);
    serde_json::to_value(c.rt.block_on(api.get("web")).unwrap()).unwrap()
}

fn generation(c: &TestCluster, ns: &str) -> i64 {
    deployment(c, ns)["metadata"]["generation"].as_i64().unwrap()
}

/// The result column of a JSON report for the Deployment.
fn result_for_web(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let rows = v["results"].as_array().or_else(|| v.as_array()).unwrap_or_else(|| panic!("{v:#}"));
    let row = rows.iter().find(|r| r.to_string().contains("web")).unwrap_or_else(|| panic!("{v:#}"));
    row["result"].as_str().or_else(|| row["action"].as_str()).unwrap_or_default().to_string()
}

#[test]
fn metadata_patches_move_a_deployments_generation_once_and_never_read_as_a_conflict() {
    let c = TestCluster::start();
    let ns = c.namespace("generation");
    c.create_object(json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}},
    }));
    let mut r = synthetic_releases::shop();
    r.name = "app".into();
    r.namespace = ns.clone();
    r.version = 1;
    r.hooks.clear();
    r.manifest = "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n".into();
    c.create_object(synthetic_releases::secret(&r, synthetic_releases::created_at(1, 1)));
    let spec = deployment(&c, &ns)["spec"].clone();
    let g0 = generation(&c, &ns);

    let annotate = |value: &str| {
        run(c.werf().args(["annotate", "app", "-n", &ns, "--add-annotation", &format!("example.com/team={value}"), "-o", "json", "--yes"]))
    };
    assert_eq!(result_for_web(&annotate("a")), "patched");
    assert_eq!(generation(&c, &ns), g0 + 1, "one patch, one bump");
    assert_eq!(result_for_web(&annotate("a")), "unchanged", "the bump is not a change of ours to redo");
    assert_eq!(generation(&c, &ns), g0 + 1, "nothing sent, nothing bumped");

    // adopt after annotate's bump: one patch, no conflict; again: already owned, nothing sent.
    let adopt = || run(c.werf().args(["adopt", "deployment/web", "--release", "app", "-n", &ns, "-o", "json", "--yes"]));
    let first = adopt();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(generation(&c, &ns), g0 + 2);
    let again = adopt();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(generation(&c, &ns), g0 + 2, "adopting an adopted object sends nothing");
    assert!(!String::from_utf8_lossy(&again.stderr).contains("conflict"), "{}", String::from_utf8_lossy(&again.stderr));

    // annotate after adopt's bump: a new value patched at the first attempt (no conflict retried).
    let out = annotate("b");
    assert_eq!(result_for_web(&out), "patched");
    let detail = String::from_utf8_lossy(&out.stdout);
    assert!(!detail.contains("conflict"), "{detail}");
    assert_eq!(generation(&c, &ns), g0 + 3);
    let d = deployment(&c, &ns);
    assert_eq!(d["spec"], spec, "the spec is never ours to change");
    assert_eq!(d["metadata"]["annotations"]["example.com/team"], "b");
    assert_eq!(d["metadata"]["annotations"]["meta.helm.sh/release-name"], "app");
}
