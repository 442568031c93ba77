//! Replays the field-ownership captures of `fixtures/apiserver-1.36/managed-fields/` (made by
//! `scripts/capture-managed-fields` against kube-apiserver v1.36.2) against a fresh emulator, step by step,
//! and compares: status codes; for conflicts (409) the message and every `details.causes` entry; for
//! objects `data` and the `managedFields` entries (manager, operation, apiVersion, subresource, fieldsV1, and whether a
//! time is set). resourceVersions in request bodies are mapped from the real server's to the emulator's.

mod support;

use std::collections::HashMap;

use kube_emulator::Emulator;
use serde_json::{Value, json};
use support::{Req, fixtures, send};

fn entries(obj: &Value) -> Vec<Value> {
    let mut list: Vec<Value> = obj
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut e| {
            let has_time = e.get("time").is_some();
            let m = e.as_object_mut().unwrap();
            m.remove("time");
            m.insert("hasTime".into(), has_time.into());
            e
        })
        .collect();
    list.sort_by_key(|e| format!("{}|{}|{}", e["operation"], e["manager"], e.get("subresource").unwrap_or(&Value::Null)));
    list
}

fn causes(status: &Value) -> Vec<String> {
    let mut c: Vec<String> = status["details"]["causes"].as_array().unwrap().iter().map(|c| c.to_string()).collect();
    c.sort();
    c
}

/// Replaces real resourceVersions in a request body with the emulator's.
fn map_rvs(v: &mut Value, rvs: &HashMap<String, String>) {
    match v {
        Value::Object(m) => {
            let json_patch_rv = m.get("path").and_then(Value::as_str) == Some("/metadata/resourceVersion");
            for (k, sub) in m.iter_mut() {
                if (k == "resourceVersion" || (json_patch_rv && k == "value"))
                    && let Some(s) = sub.as_str()
                    && let Some(mapped) = rvs.get(s)
                {
                    *sub = Value::String(mapped.clone());
                    continue;
                }
                map_rvs(sub, rvs);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| map_rvs(x, rvs)),
        _ => {}
    }
}

fn replay(file: &str) {
    let text = std::fs::read_to_string(fixtures().join("apiserver-1.36/managed-fields").join(file)).unwrap();
    let capture: Value = serde_json::from_str(&text).unwrap();
    let emu = Emulator::start_blocking().unwrap();
    let admin = emu.admin_token();
    let addr = emu.addr();
    let r = send(
        addr,
        Req::new("POST", "/api/v1/namespaces", Some(&admin))
            .json(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "mf-capture"}})),
    )
    .unwrap();
    assert_eq!(r.status, 201);
    let mut rvs: HashMap<String, String> = HashMap::new();
    let mut errors = Vec::new();
    for step in capture["steps"].as_array().unwrap() {
        let label = step["label"].as_str().unwrap();
        let req = &step["request"];
        let query = req["query"].as_str().unwrap_or("");
        let path =
            if query.is_empty() { req["path"].as_str().unwrap().to_string() } else { format!("{}?{query}", req["path"].as_str().unwrap()) };
        let mut body = req["body"].clone();
        map_rvs(&mut body, &rvs);
        let mut r = Req::new(req["method"].as_str().unwrap(), &path, Some(&admin));
        if !body.is_null() {
            r.body = serde_json::to_vec(&body).unwrap();
            r.content_type = Some(req["content_type"].as_str().unwrap());
        }
        let resp = send(addr, r).unwrap();
        let got = resp.json();
        let want = &step["response"];
        let expected_status = step["status"].as_u64().unwrap() as u16;
        if resp.status != expected_status {
            errors.push(format!("{file} {label}: status {} instead of {expected_status}: {got}", resp.status));
            continue;
        }
        if let (Some(real), Some(ours)) = (
            want.pointer("/metadata/resourceVersion").and_then(Value::as_str),
            got.pointer("/metadata/resourceVersion").and_then(Value::as_str),
        ) {
            rvs.insert(real.to_string(), ours.to_string());
        }
        if expected_status == 409 {
            if got["message"] != want["message"] {
                errors.push(format!("{file} {label}: message\n  ours: {}\n  real: {}", got["message"], want["message"]));
            }
            if causes(&got) != causes(want) {
                errors.push(format!("{file} {label}: causes\n  ours: {:?}\n  real: {:?}", causes(&got), causes(want)));
            }
            continue;
        }
        if want.get("data").is_some() && got.get("data") != want.get("data") {
            errors.push(format!("{file} {label}: data\n  ours: {}\n  real: {}", got["data"], want["data"]));
        }
        if want.pointer("/metadata/managedFields").is_some() || got.pointer("/metadata/managedFields").is_some() {
            let (ours, real) = (entries(&got), entries(want));
            if ours != real {
                errors.push(format!("{file} {label}: managedFields\n  ours: {}\n  real: {}", json!(ours), json!(real)));
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn configmap_create_label_annotate_and_helm_apply() {
    replay("configmap_kubectl_create_label_annotate.json");
}

#[test]
fn secret_create_and_helm_apply() {
    replay("secret_kubectl_create.json");
}

#[test]
fn service_create_and_helm_apply() {
    replay("service_kubectl_create.json");
}

#[test]
fn deployment_scale_status_and_four_managers() {
    replay("deployment_many_managers.json");
}

#[test]
fn helm3_object_then_helm4_migration_and_apply_removing_a_key() {
    replay("configmap_helm3_then_helm4_upgrade.json");
}

#[test]
fn helm3_object_edited_then_helm4_migration_and_apply() {
    replay("configmap_helm3_then_edit.json");
}
