//! Release records holding removed Kubernetes APIs, for tests. Real helm cannot install those APIs on a
//! 1.36 cluster and there is no Tiller here, so the charts in `fixtures/apis/charts/` are rendered with
//! `helm template` (real helm 3) and the result is encoded as Helm 3 records (the project's encoder, proven
//! equal to helm's by tests/release_codec.rs) and as Helm 2 records (the project's Tiller encoding): the
//! manifest as helm stores it, hooks split off by their `helm.sh/hook` annotation as helm does.
#![allow(dead_code)]

use std::path::PathBuf;

use kubectl_werf::release::{Time, helm2, helm3};
use kubectl_werf::storage::codec::{self, LabelStamp};
use serde_json::{Value, json};

pub fn chart_dir(chart: &str) -> PathBuf {
    crate::common::repo_root().join("fixtures/apis/charts").join(chart)
}

/// A hook as helm keeps it.
#[derive(Debug, Clone)]
pub struct RenderedHook {
    pub name: String,
    pub kind: String,
    pub path: String,
    pub manifest: String,
    pub events: Vec<String>,
    pub weight: i64,
    pub delete_policies: Vec<String>,
}

/// What helm stores of a rendered chart.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub manifest: String,
    pub hooks: Vec<RenderedHook>,
    pub chart_name: String,
    pub chart_version: String,
    pub app_version: String,
}

/// `helm3 template RELEASE CHART -n NAMESPACE --set k=v...`, split into manifest and hooks.
pub fn render(chart: &str, release: &str, namespace: &str, set: &[&str]) -> Rendered {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(crate::common::helm_bin(3));
    cmd.args(["template", release]).arg(chart_dir(chart)).args(["-n", namespace]);
    for s in set {
        cmd.args(["--set", s]);
    }
    for (k, _) in std::env::vars() {
        if k.starts_with("HELM_") || k == "KUBECONFIG" {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", home.path())
        .env("HELM_CACHE_HOME", home.path().join("cache"))
        .env("HELM_CONFIG_HOME", home.path().join("config"))
        .env("HELM_DATA_HOME", home.path().join("data"));
    let text = crate::common::run_ok(&mut cmd);
    let chart_yaml: Value = serde_saphyr::from_str(&std::fs::read_to_string(chart_dir(chart).join("Chart.yaml")).unwrap()).unwrap();
    let mut manifest = String::new();
    let mut hooks = Vec::new();
    for doc in kubectl_werf::manifest::split_documents(&text) {
        let path = doc.source.unwrap_or_default().to_string();
        let body: String = doc.text.lines().filter(|l| !l.trim_start().starts_with("# Source:")).map(|l| format!("{l}\n")).collect();
        let value: Value = serde_saphyr::from_str(&body).unwrap();
        let annotations = value.pointer("/metadata/annotations");
        let hook = annotations.and_then(|a| a.get("helm.sh/hook")).and_then(Value::as_str);
        match hook {
            Some(events) => hooks.push(RenderedHook {
                name: value["metadata"]["name"].as_str().unwrap().to_string(),
                kind: value["kind"].as_str().unwrap().to_string(),
                path: path.clone(),
                manifest: body.trim_end().to_string() + "\n",
                events: events.split(',').map(|e| e.trim().to_string()).collect(),
                weight: annotations
                    .and_then(|a| a.get("helm.sh/hook-weight"))
                    .and_then(Value::as_str)
                    .and_then(|w| w.parse().ok())
                    .unwrap_or(0),
                delete_policies: annotations
                    .and_then(|a| a.get("helm.sh/hook-delete-policy"))
                    .and_then(Value::as_str)
                    .map(|p| p.split(',').map(|e| e.trim().to_string()).collect())
                    .unwrap_or_default(),
            }),
            None => manifest.push_str(&format!("---\n# Source: {path}\n{}\n", body.trim_end())),
        }
    }
    Rendered {
        manifest,
        hooks,
        chart_name: chart_yaml["name"].as_str().unwrap().to_string(),
        chart_version: chart_yaml["version"].as_str().unwrap().to_string(),
        app_version: chart_yaml["appVersion"].as_str().unwrap_or_default().to_string(),
    }
}

/// A Helm 3 revision of `rendered`.
pub fn helm3_release(
    name: &str,
    namespace: &str,
    revision: i64,
    status: helm3::Status,
    description: &str,
    rendered: &Rendered,
) -> helm3::Release {
    let mut r = helm3::Release {
        name: name.into(),
        namespace: namespace.into(),
        version: revision,
        manifest: rendered.manifest.clone(),
        ..Default::default()
    };
    r.info.status = status;
    r.info.description = description.into();
    r.info.first_deployed = Time::from_unix(1_600_000_000, 0).unwrap();
    r.info.last_deployed = Time::from_unix(1_600_000_000 + revision * 3600, 0).unwrap();
    let chart = r.chart.get_or_insert_with(Default::default);
    chart.metadata = Some(helm3::Metadata {
        name: rendered.chart_name.clone(),
        version: rendered.chart_version.clone(),
        app_version: rendered.app_version.clone(),
        api_version: "v1".into(),
        ..Default::default()
    });
    chart.values = Some(serde_json::Map::new());
    chart.templates = Some(Vec::new());
    r.hooks = rendered
        .hooks
        .iter()
        .map(|h| helm3::Hook {
            name: h.name.clone(),
            kind: h.kind.clone(),
            path: h.path.clone(),
            manifest: h.manifest.clone(),
            events: h.events.iter().map(|e| helm3::HookEvent::from(e.as_str())).collect(),
            weight: h.weight,
            delete_policies: h.delete_policies.iter().map(|p| helm3::HookDeletePolicy::from(p.as_str())).collect(),
            ..Default::default()
        })
        .collect();
    r
}

/// The Secret (or ConfigMap) helm's driver stores for `r`.
pub fn helm3_record(r: &helm3::Release, configmap: bool) -> Value {
    let payload = codec::encode_helm3(r).unwrap();
    let labels = codec::helm3_labels(r, LabelStamp::Created(1_600_000_000 + r.version));
    let meta = json!({"name": codec::helm3_object_name(&r.name, r.version), "namespace": r.namespace, "labels": labels});
    if configmap {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"release": payload}})
    } else {
        json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1", "metadata": meta, "data": {"release": codec::encode_base64(payload.as_bytes())}})
    }
}

fn helm2_event(e: &str) -> i32 {
    match e {
        "pre-install" => 1,
        "post-install" => 2,
        "pre-delete" => 3,
        "post-delete" => 4,
        "pre-upgrade" => 5,
        "post-upgrade" => 6,
        "pre-rollback" => 7,
        "post-rollback" => 8,
        other => panic!("hook event {other} has no Helm 2 code here"),
    }
}

fn helm2_policy(p: &str) -> i32 {
    match p {
        "hook-succeeded" => 0,
        "hook-failed" => 1,
        "before-hook-creation" => 2,
        other => panic!("hook delete policy {other}"),
    }
}

/// A Helm 2 (Tiller) revision of `rendered`.
pub fn helm2_release(
    name: &str,
    namespace: &str,
    revision: i32,
    status: helm2::StatusCode,
    description: &str,
    rendered: &Rendered,
) -> helm2::Release {
    let at = |s: i64| Some(helm2::Timestamp { seconds: s, nanos: 0 });
    helm2::Release {
        name: name.into(),
        info: Some(helm2::Info {
            status: Some(helm2::Status { code: status as i32, ..Default::default() }),
            first_deployed: at(1_500_000_000),
            last_deployed: at(1_500_000_000 + i64::from(revision) * 3600),
            deleted: None,
            description: description.into(),
        }),
        chart: Some(helm2::Chart {
            metadata: Some(helm2::Metadata {
                name: rendered.chart_name.clone(),
                version: rendered.chart_version.clone(),
                app_version: rendered.app_version.clone(),
                api_version: "v1".into(),
                ..Default::default()
            }),
            values: Some(helm2::Config { raw: "{}\n".into(), ..Default::default() }),
            ..Default::default()
        }),
        config: Some(helm2::Config { raw: "{}\n".into(), ..Default::default() }),
        manifest: rendered.manifest.clone(),
        hooks: rendered
            .hooks
            .iter()
            .map(|h| helm2::Hook {
                name: h.name.clone(),
                kind: h.kind.clone(),
                path: h.path.clone(),
                manifest: h.manifest.clone(),
                events: h.events.iter().map(|e| helm2_event(e)).collect(),
                last_run: None,
                weight: h.weight as i32,
                delete_policies: h.delete_policies.iter().map(|p| helm2_policy(p)).collect(),
                delete_timeout: 0,
            })
            .collect(),
        version: revision,
        namespace: namespace.into(),
    }
}

/// The ConfigMap (or Secret) Tiller stores for `r` in `tiller_namespace`.
pub fn helm2_record(r: &helm2::Release, tiller_namespace: &str, secret: bool) -> Value {
    let payload = codec::encode_helm2(r);
    let labels = codec::helm2_labels(r, LabelStamp::Created(1_500_000_000 + i64::from(r.version)));
    let meta = json!({"name": codec::helm2_object_name(&r.name, r.version), "namespace": tiller_namespace, "labels": labels});
    if secret {
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": {"release": codec::encode_base64(payload.as_bytes())}})
    } else {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"release": payload}})
    }
}

/// The `legacy` scenario of Helm 3 records: revision 1 superseded, 2 deployed, 3 failed (a failed upgrade on
/// top of the deployed revision), all rendered from `legacy-app` 1.0.0 with different values.
pub fn legacy_history(name: &str, namespace: &str, configmap: bool) -> Vec<Value> {
    use helm3::Status;
    let steps = [
        (1, Status::Superseded, "Install complete", vec!["replicas=1"]),
        (2, Status::Deployed, "Upgrade complete", vec!["replicas=2"]),
        (3, Status::Failed, "Upgrade \"legacy\" failed: timed out waiting for the condition", vec!["replicas=3", "image=nginx:broken"]),
    ];
    steps
        .iter()
        .map(|(rev, status, desc, set)| {
            let rendered = render("legacy-app", name, namespace, set);
            helm3_record(&helm3_release(name, namespace, *rev, status.clone(), desc, &rendered), configmap)
        })
        .collect()
}
