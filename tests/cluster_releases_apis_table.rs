//! Every row of the removed-API table (`src/release/apis/removed-apis.tsv`): an object written for the
//! old API version (`fixtures/apis/rows.yaml`) is converted by the project's converter, and the API server
//! must accept the result in a server-side dry-run create with strict field validation. On the real
//! kube-apiserver 1.36 this is the proof that the conversions make valid objects; kinds with no
//! replacement must come out removed.

mod common;

use std::collections::BTreeSet;

use common::TestCluster;
use kubectl_werf::live::ResourceCatalog;
use kubectl_werf::release::apis::{TextPlace, convert::convert_text, table};
use serde_json::Value;

fn rows_text(ns: &str) -> String {
    std::fs::read_to_string(common::fixture("apis/rows.yaml")).unwrap().replace("namespace: NAMESPACE", &format!("namespace: {ns}"))
}

/// POST `object` with `?dryRun=All&fieldValidation=Strict`; (status, body).
fn dry_run_create(c: &TestCluster, catalog: &ResourceCatalog, ns: &str, object: &Value) -> (u16, String) {
    let api_version = object["apiVersion"].as_str().unwrap();
    let kind = object["kind"].as_str().unwrap();
    let r = catalog.resolve_gvk(api_version, kind).unwrap_or_else(|e| panic!("{api_version} {kind}: {e}"));
    let prefix = if r.group.is_empty() { format!("/api/{}", r.version) } else { format!("/apis/{}/{}", r.group, r.version) };
    let path = if r.namespaced { format!("{prefix}/namespaces/{ns}/{}", r.plural) } else { format!("{prefix}/{}", r.plural) };
    let mut body = object.clone();
    if r.namespaced {
        body["metadata"]["namespace"] = Value::String(ns.to_string());
    }
    let request = http::Request::post(format!("{path}?dryRun=All&fieldValidation=Strict"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(kube::client::Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    c.rt.block_on(async {
        let response = c.client.send(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect_bytes().await.unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    })
}

#[test]
fn every_table_row_converts_to_an_object_the_server_accepts() {
    let c = TestCluster::start();
    let ns = c.namespace("apis-rows");
    let catalog = c.rt.block_on(kubectl_werf::live::discovery::load(&c.client)).unwrap();
    let text = rows_text(&ns);
    let docs = kubectl_werf::manifest::split_documents(&text);
    let mut covered = BTreeSet::new();
    let mut failures = Vec::new();
    for doc in &docs {
        // (Access reviews have no name, so this reads the document itself rather than as a named object.)
        let original: Value = serde_saphyr::from_str(doc.text).unwrap();
        let key = (original["apiVersion"].as_str().unwrap().to_string(), original["kind"].as_str().unwrap().to_string());
        assert!(covered.insert(key.clone()), "{key:?} twice in rows.yaml");
        let row =
            table().iter().find(|r| r.api_version == key.0 && r.kind == key.1).unwrap_or_else(|| panic!("{key:?} is not a table row"));
        let converted = convert_text(doc.text, TextPlace::Manifest, None, &|_| true);
        assert_eq!(converted.mapped.len(), 1, "{key:?}");
        let objects: Vec<Value> = kubectl_werf::manifest::split_documents(&converted.text)
            .iter()
            .filter_map(|d| serde_saphyr::from_str::<Value>(d.text).ok())
            .filter(|v| v.get("kind").is_some())
            .collect();
        let Some(replacement) = &row.replacement else {
            assert!(objects.is_empty(), "{key:?} has no replacement and must be taken out: {}", converted.text);
            continue;
        };
        assert_eq!(objects.len(), 1, "{key:?}");
        assert_eq!(objects[0]["apiVersion"].as_str(), Some(replacement.as_str()));
        let (status, body) = dry_run_create(&c, &catalog, &ns, &objects[0]);
        if !(200..300).contains(&status) {
            failures.push(format!("{} {} → {replacement}: {status} {body}\n{}", key.0, key.1, converted.text));
        }
    }
    let all: BTreeSet<(String, String)> = table().iter().map(|r| (r.api_version.clone(), r.kind.clone())).collect();
    let missing: Vec<_> = all.difference(&covered).collect();
    assert!(missing.is_empty(), "table rows without an object in fixtures/apis/rows.yaml: {missing:?}");
    assert!(failures.is_empty(), "{} conversion(s) refused:\n{}", failures.len(), failures.join("\n\n"));
}

/// The dry-run check can fail: the apiVersion alone does not make these objects valid (unknown old fields
/// under strict validation everywhere; a missing required field on the real server, whose validation the
/// emulator does not reproduce).
#[test]
fn changing_only_the_api_version_is_refused() {
    let c = TestCluster::start();
    let ns = c.namespace("apis-rows-neg");
    let catalog = c.rt.block_on(kubectl_werf::live::discovery::load(&c.client)).unwrap();
    let text = rows_text(&ns);
    let mut cases = vec![("extensions/v1beta1", "Ingress"), ("autoscaling/v2beta1", "HorizontalPodAutoscaler")];
    if c.is_real() {
        cases.extend([("apps/v1beta1", "Deployment"), ("admissionregistration.k8s.io/v1beta1", "ValidatingWebhookConfiguration")]);
    }
    for (api_version, kind) in cases {
        let doc = kubectl_werf::manifest::parse_objects(&text, false)
            .into_iter()
            .filter_map(Result::ok)
            .find(|o| o.api_version == api_version && o.kind == kind)
            .unwrap();
        let row = table().iter().find(|r| r.api_version == api_version && r.kind == kind).unwrap();
        let mut retagged = doc.object.clone();
        retagged["apiVersion"] = Value::String(row.replacement.clone().unwrap());
        let (status, body) = dry_run_create(&c, &catalog, &ns, &retagged);
        assert!(status >= 400, "{api_version} {kind} with only its apiVersion changed was accepted: {body}");
    }
}
