//! Real helm installs and upgrades around our verbs: an object Helm refuses ("invalid ownership
//! metadata") is taken over after `adopt` with the chart's manifest (Helm 4 would otherwise conflict with
//! kubectl-create on the fields the chart sets); what helm writes, `releases` reads the same way.

mod common;

use common::{TestCluster, run, run_ok};

fn tiny_chart(dir: &std::path::Path, configmap: &str) -> std::path::PathBuf {
    let chart = dir.join("tiny");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: tiny\nversion: 0.1.0\nappVersion: \"1.0\"\n").unwrap();
    std::fs::write(
        chart.join("templates/cm.yaml"),
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {configmap}\ndata:\n  from: chart\n"),
    )
    .unwrap();
    chart
}

#[test]
fn helm_takes_over_an_adopted_object_and_our_history_matches_helms() {
    let c = TestCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let chart = tiny_chart(dir.path(), "settings");
    for major in [3u8, 4] {
        let ns = c.namespace(&format!("takeover{major}"));
        run_ok(c.kubectl().args(["create", "configmap", "settings", "-n", &ns, "--from-literal=from=hand"]));
        // Helm refuses the hand-made object.
        let out = run(c.helm(major).args(["upgrade", "--install", "app", "-n", &ns]).arg(&chart));
        assert!(!out.status.success(), "helm{major} should refuse the unowned object");
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(err.contains("invalid ownership metadata"), "{err}");
        // Feed Helm's own error to adopt, with the chart's manifest: Helm 4 applies server-side, so the
        // fields the chart sets must move to its field manager too (kubectl-create owns data.from).
        let manifest = dir.path().join(format!("{ns}.yaml"));
        std::fs::write(&manifest, run_ok(c.helm(major).args(["template", "app", "-n", &ns]).arg(&chart))).unwrap();
        let mut adopt = c.werf();
        adopt.args(["adopt", "--from-error", "-", "-f"]).arg(&manifest).args(["--yes", "-n", &ns]).stdin(std::process::Stdio::piped());
        adopt.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        let mut child = adopt.spawn().unwrap();
        {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(err.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "adopt failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        // Now Helm takes it over, and upgrades it again.
        run_ok(c.helm(major).args(["upgrade", "--install", "app", "-n", &ns]).arg(&chart));
        run_ok(c.helm(major).args(["upgrade", "app", "-n", &ns]).arg(&chart));
        let data = run_ok(c.kubectl().args(["get", "configmap", "settings", "-n", &ns, "-o", "jsonpath={.data.from}"]));
        assert_eq!(data, "chart");
        // What helm wrote, we read exactly as helm prints it.
        let helm_history = run_ok(c.helm(major).args(["history", "app", "-n", &ns, "-o", "json"]));
        let our_history = run_ok(c.werf().args(["releases", "history", "app", "-n", &ns, "-o", "json"]));
        let helm_v: serde_json::Value = serde_json::from_str(&helm_history).unwrap();
        let ours_v: serde_json::Value = serde_json::from_str(&our_history).unwrap();
        assert_eq!(ours_v, helm_v, "history of a helm{major}-written release");
        let list = run_ok(c.werf().args(["releases", "list", "-n", &ns, "-o", "json"]));
        let list: serde_json::Value = serde_json::from_str(&list).unwrap();
        assert_eq!(list[0]["revision"], "2");
        assert_eq!(list[0]["status"], "deployed");
    }
}
