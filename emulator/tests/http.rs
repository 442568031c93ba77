//! Behaviour of the HTTP surface: discovery, auth, negotiation, faults, the request log.

mod support;

use std::time::{Duration, Instant};

use kube_emulator::{Emulator, Fault, PatchType};
use serde_json::{Value, json};
use support::{Req, fixtures, send};

const AGG_ACCEPT: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

fn emu() -> (Emulator, String) {
    let e = Emulator::start_blocking().unwrap();
    let t = e.admin_token();
    (e, t)
}

#[test]
fn aggregated_and_plain_discovery() {
    let (e, t) = emu();
    let r = send(e.addr(), Req::new("GET", "/apis", Some(&t)).accept(AGG_ACCEPT)).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"));
    let v = r.json();
    assert_eq!(v["kind"], "APIGroupDiscoveryList");
    let text = v.to_string();
    assert!(text.contains("\"deploy\""), "short name deploy present");
    assert!(!text.contains("shop.example.com"), "no custom group until its CRD is created (tests/crds.rs)");
    let r = send(e.addr(), Req::new("GET", "/api", Some(&t)).accept(AGG_ACCEPT)).unwrap();
    assert_eq!(r.json()["items"][0]["versions"][0]["version"], "v1");
    // plain documents
    let r = send(e.addr(), Req::new("GET", "/apis", Some(&t)).accept("application/json")).unwrap();
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json()["kind"], "APIGroupList");
    let r = send(e.addr(), Req::new("GET", "/apis/shop.example.com/v1", Some(&t))).unwrap();
    assert_eq!(r.status, 404);
    let r = send(e.addr(), Req::new("GET", "/apis/apps", Some(&t))).unwrap();
    assert_eq!(r.json()["kind"], "APIGroup");
    let r = send(e.addr(), Req::new("GET", "/api/v1", Some(&t))).unwrap();
    assert_eq!(r.json()["kind"], "APIResourceList");
    let r = send(e.addr(), Req::new("GET", "/version", Some(&t))).unwrap();
    assert_eq!(r.json()["gitVersion"], "v1.36.2");
    let r = send(e.addr(), Req::new("GET", "/apis/nope.example.com/v1", Some(&t))).unwrap();
    assert_eq!(r.status, 404);
}

#[test]
fn openapi_and_health() {
    let (e, t) = emu();
    let idx = send(e.addr(), Req::new("GET", "/openapi/v3", Some(&t))).unwrap().json();
    let paths = idx["paths"].as_object().unwrap();
    for (p, v) in paths {
        let url = v["serverRelativeURL"].as_str().unwrap();
        let r = send(e.addr(), Req::new("GET", url, Some(&t))).unwrap();
        assert_eq!(r.status, 200, "{p}");
    }
    let doc = send(e.addr(), Req::new("GET", "/openapi/v3/apis/apps/v1", Some(&t))).unwrap().json();
    assert!(doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"].is_object());
    assert_eq!(send(e.addr(), Req::new("GET", "/openapi/v2", Some(&t))).unwrap().status, 404);
    for p in ["/healthz", "/livez", "/readyz"] {
        let r = send(e.addr(), Req::new("GET", p, None)).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]));
    }
}

#[test]
fn authentication() {
    let (e, t) = emu();
    for tok in [None, Some("wrong")] {
        let r = send(e.addr(), Req::new("GET", "/api/v1/namespaces", tok)).unwrap();
        assert_eq!(r.status, 401);
        assert_eq!(
            r.json(),
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
        );
    }
    e.add_user("u1", "alice", &["devs"]);
    assert_eq!(send(e.addr(), Req::new("GET", "/api/v1/namespaces", Some("u1"))).unwrap().status, 200);
    assert_eq!(send(e.addr(), Req::new("GET", "/api/v1/namespaces", Some(&t))).unwrap().status, 200);
    let log = e.request_log();
    assert_eq!(log.iter().filter(|l| l.user == "alice").count(), 1);
    assert!(e.kubeconfig_yaml(Some("ns1")).contains("namespace: ns1"));
}

#[test]
fn forbidden_via_authorizer() {
    let (e, _) = emu();
    e.add_user("v", "viewer", &[]);
    e.set_authorizer(Some(std::sync::Arc::new(|a: &kube_emulator::RequestAttributes| {
        if a.user == "viewer" && a.verb != "get" { kube_emulator::Decision::Deny(None) } else { kube_emulator::Decision::Allow }
    })));
    let r = send(e.addr(), Req::new("GET", "/api/v1/namespaces/default/secrets", Some("v"))).unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json()["message"],
        "secrets is forbidden: User \"viewer\" cannot list resource \"secrets\" in API group \"\" in the namespace \"default\""
    );
    let r = send(e.addr(), Req::new("DELETE", "/apis/apps/v1/namespaces/default/deployments/web", Some("v"))).unwrap();
    assert_eq!(
        r.json()["message"],
        "deployments.apps \"web\" is forbidden: User \"viewer\" cannot delete resource \"deployments\" in API group \"apps\" in the namespace \"default\""
    );
    assert_eq!(r.json()["details"], json!({"name": "web", "group": "apps", "kind": "deployments"}));
}

#[test]
fn table_metadata_and_lists() {
    let (e, t) = emu();
    e.seed_dir(&fixtures().join("helm3")).unwrap();
    let table = send(
        e.addr(),
        Req::new("GET", "/api/v1/namespaces/fx-helm3/secrets?limit=500", Some(&t))
            .accept("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"),
    )
    .unwrap();
    assert_eq!(table.header("content-type"), Some("application/json;as=Table;g=meta.k8s.io;v=v1"));
    let v = table.json();
    assert_eq!(v["kind"], "Table");
    let cols: Vec<&str> = v["columnDefinitions"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(cols, vec!["Name", "Type", "Data", "Age"]);
    assert_eq!(v["rows"].as_array().unwrap().len(), 7);
    assert_eq!(v["rows"][0]["cells"][1], "helm.sh/release.v1");
    assert_eq!(v["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    // metadata-only GET
    let r = send(
        e.addr(),
        Req::new("GET", "/api/v1/namespaces/fx-helm3/secrets/sh.helm.release.v1.shop.v1", Some(&t))
            .accept("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"),
    )
    .unwrap();
    let m = r.json();
    assert_eq!(m["kind"], "PartialObjectMetadata");
    assert!(m.get("data").is_none());
    assert_eq!(m["metadata"]["labels"]["owner"], "helm");
    // all-namespace list and field selectors
    let all =
        send(e.addr(), Req::new("GET", "/api/v1/secrets?labelSelector=owner%3Dhelm,name%20in%20(shop,cart)", Some(&t))).unwrap().json();
    let names: Vec<String> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| format!("{}/{}", i["metadata"]["namespace"].as_str().unwrap(), i["metadata"]["name"].as_str().unwrap()))
        .collect();
    assert_eq!(names.len(), 8);
    assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted by namespace/name: {names:?}");
    assert!(all["items"][0].get("kind").is_none(), "list items carry no kind");
    let one = send(
        e.addr(),
        Req::new("GET", "/api/v1/namespaces/fx-helm3/secrets?fieldSelector=metadata.name%3Dsh.helm.release.v1.big.v1", Some(&t)),
    )
    .unwrap()
    .json();
    assert_eq!(one["items"].as_array().unwrap().len(), 1);
    let bad = send(e.addr(), Req::new("GET", "/api/v1/namespaces/fx-helm3/secrets?fieldSelector=spec.x%3D1", Some(&t))).unwrap();
    assert_eq!(bad.status, 400);
    let w = send(e.addr(), Req::new("GET", "/api/v1/namespaces/fx-helm3/secrets?watch=true", Some(&t))).unwrap();
    assert_eq!(w.status, 405);
    assert_eq!(w.json()["kind"], "Status");
}

#[test]
fn writes_validation_and_options() {
    let (e, t) = emu();
    let a = e.addr();
    let base = "/api/v1/namespaces/default/configmaps";
    // Warn (default): unknown fields are dropped with a Warning header
    let r = send(
        a,
        Req::new("POST", base, Some(&t)).json(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w"}, "bogus": 1})),
    )
    .unwrap();
    assert_eq!(r.status, 201);
    assert_eq!(r.header("warning"), Some("299 - \"unknown field \\\"bogus\\\"\""));
    assert!(r.json().get("bogus").is_none());
    let r = send(
        a,
        Req::new("POST", &format!("{base}?fieldValidation=Ignore"), Some(&t))
            .json(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "i"}, "bogus": 1})),
    )
    .unwrap();
    assert_eq!((r.status, r.header("warning")), (201, None));
    let r = send(
        a,
        Req::new("POST", "/apis/apps/v1/namespaces/default/deployments?fieldValidation=Strict", Some(&t))
            .json(&json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicass": 1}})),
    )
    .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.replicass\""
    );
    // dryRun
    let r = send(
        a,
        Req::new("POST", &format!("{base}?dryRun=All"), Some(&t))
            .json(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}})),
    )
    .unwrap();
    assert_eq!(r.status, 201);
    assert_eq!(send(a, Req::new("GET", &format!("{base}/dry"), Some(&t))).unwrap().status, 404);
    // malformed bodies never panic
    for (ct, body) in [
        ("application/json", &b"{not json"[..]),
        ("application/json", b"[1,2]"),
        ("application/json", b"\"str\""),
        ("application/yaml", b": : :"),
        ("application/json", b""),
    ] {
        let mut r = Req::new("POST", base, Some(&t)).ct(ct);
        r.body = body.to_vec();
        let resp = send(a, r).unwrap();
        assert!(resp.status == 400 || resp.status == 415, "{ct} {body:?} -> {}", resp.status);
        assert_eq!(resp.json()["kind"], "Status");
    }
    let wpath = format!("{base}/w");
    let mut r = Req::new("PATCH", &wpath, Some(&t)).ct("text/plain");
    r.body = b"{}".to_vec();
    assert_eq!(send(a, r).unwrap().status, 415);
    // strategic merge patch merges containers by name
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}}}});
    assert_eq!(send(a, Req::new("POST", "/apis/apps/v1/namespaces/default/deployments", Some(&t)).json(&d)).unwrap().status, 201);
    let r = send(
        a,
        Req::new("PATCH", "/apis/apps/v1/namespaces/default/deployments/web", Some(&t))
            .ct("application/strategic-merge-patch+json")
            .json(&json!({"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "z"}]}}}})),
    )
    .unwrap();
    let c = &r.json()["spec"]["template"]["spec"]["containers"];
    assert_eq!(c.as_array().unwrap().len(), 2);
    assert_eq!(c[1]["image"], "z");
    assert_eq!(r.json()["metadata"]["generation"], 2);
    // server-side apply: needs a field manager, creates when missing
    let mut r =
        Req::new("PATCH", "/api/v1/namespaces/default/configmaps/applied?fieldManager=test", Some(&t)).ct("application/apply-patch+yaml");
    r.body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  k: v\n".to_vec();
    let resp = send(a, r).unwrap();
    assert_eq!(resp.status, 201);
    assert_eq!(resp.json()["data"]["k"], "v");
    // deleting a namespace deletes its objects
    e.store().ensure_namespace("gone").unwrap();
    e.store().create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "gone"}})).unwrap();
    let r = send(a, Req::new("DELETE", "/api/v1/namespaces/gone", Some(&t))).unwrap();
    assert_eq!(r.json()["status"]["phase"], "Terminating");
    assert_eq!(e.store().count("configmaps", Some("gone")), 0);
    // invalid namespace names use the label rule
    let r = send(
        a,
        Req::new("POST", "/api/v1/namespaces", Some(&t))
            .json(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}})),
    )
    .unwrap();
    assert_eq!(r.status, 422);
    assert!(r.json()["message"].as_str().unwrap().contains("RFC 1123 label"));
    // a declared body over 3 MiB is refused before reading it
    let mut r = Req::new("POST", base, Some(&t)).ct("application/json");
    r.body = vec![b' '; 3 * 1024 * 1024 + 1];
    assert_eq!(send(a, r).unwrap().status, 413);
    // generateName
    let r = send(
        a,
        Req::new("POST", base, Some(&t)).json(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}})),
    )
    .unwrap();
    assert!(r.json()["metadata"]["name"].as_str().unwrap().starts_with("gen-"));
}

#[test]
fn faults_and_observation() {
    let (e, t) = emu();
    let a = e.addr();
    let list = "/api/v1/namespaces/default/configmaps";
    e.inject(Fault::on("list", "configmaps").nth(2).respond_retry_after(429, 3));
    assert_eq!(send(a, Req::new("GET", list, Some(&t))).unwrap().status, 200);
    let r = send(a, Req::new("GET", list, Some(&t))).unwrap();
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("3"));
    assert_eq!(r.json()["reason"], "TooManyRequests");
    assert_eq!(r.json()["details"]["retryAfterSeconds"], 3);
    assert_eq!(send(a, Req::new("GET", list, Some(&t))).unwrap().status, 200, "one-shot");

    e.inject(Fault::on("get", "configmaps").name("drop-*").drop_connection());
    assert!(send(a, Req::new("GET", &format!("{list}/drop-me"), Some(&t))).is_err());
    assert_eq!(send(a, Req::new("GET", &format!("{list}/drop-me"), Some(&t))).unwrap().status, 404);

    e.inject(Fault::on("get", "namespaces").delay(Duration::from_millis(300)));
    let start = Instant::now();
    assert_eq!(send(a, Req::new("GET", "/api/v1/namespaces/default", Some(&t))).unwrap().status, 200);
    assert!(start.elapsed() >= Duration::from_millis(300));

    // a concurrent writer bumps the object between a client's GET and its PUT
    e.store()
        .create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}, "data": {"k": "1"}}))
        .unwrap();
    let got = send(a, Req::new("GET", &format!("{list}/c"), Some(&t))).unwrap().json();
    e.inject(Fault::on("update", "configmaps").namespace("default").mutate(|s| {
        s.patch("configmaps", "default", "c", PatchType::Merge, &json!({"data": {"k": "other"}})).unwrap();
    }));
    let mut upd = got.clone();
    upd["data"]["k"] = Value::from("mine");
    let r = send(a, Req::new("PUT", &format!("{list}/c"), Some(&t)).json(&upd)).unwrap();
    assert_eq!(r.status, 409);
    assert_eq!(e.store().get("cm", "default", "c").unwrap()["data"]["k"], "other");

    e.inject(Fault::on_path("/version").always().respond(503));
    assert_eq!(send(a, Req::new("GET", "/version", Some(&t))).unwrap().status, 503);
    assert_eq!(send(a, Req::new("GET", "/version", Some(&t))).unwrap().status, 503);
    e.clear_faults();
    assert_eq!(send(a, Req::new("GET", "/version", Some(&t))).unwrap().status, 200);

    let log = e.request_log();
    let dropped = log.iter().find(|l| l.dropped).unwrap();
    assert_eq!(dropped.name, "drop-me");
    let l = log.iter().find(|l| l.path == list && l.status == 200).unwrap();
    assert_eq!((l.verb.as_str(), l.user.as_str(), l.resource.as_str()), ("list", "admin", "configmaps"));
    assert!(l.response_bytes > 0);
    let counters = e.route_counters();
    assert_eq!(counters["GET /api/v1/namespaces/{namespace}/configmaps"], 3);
    assert_eq!(counters["GET /version"], 3);
    e.clear_request_log();
    assert!(e.request_log().is_empty());
}

#[test]
fn seeding_documents() {
    let (e, _) = emu();
    let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a, namespace: s1, uid: x, resourceVersion: '5', managedFields: []}\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: b, namespace: s2}\n  stringData: {k: v}\n---\nfoo: bar\n---\nkind: NoApiVersion\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n";
    assert_eq!(e.seed_documents(text).unwrap(), 3);
    let a = e.store().get("configmaps", "s1", "a").unwrap();
    assert_ne!(a["metadata"]["uid"], "x");
    assert!(e.store().get("namespaces", "", "s2").is_ok());
    assert!(e.store().get("configmaps", "default", "c").is_ok());
    assert_eq!(
        e.seed_documents("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"j\",\"namespace\":\"s1\"}}").unwrap(),
        1
    );
    assert!(e.seed_documents("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n").is_err());
    let n = e.seed_dir(&fixtures().join("helm2-synthetic")).unwrap();
    assert!(n > 10);
}

#[tokio::test]
async fn async_start_and_many_concurrent_requests() {
    let e = Emulator::start().await.unwrap();
    for i in 0..300 {
        e.store().create(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": format!("s{i:04}"), "namespace": "default"}, "stringData": {"release": "x".repeat(20_000)}})).unwrap();
    }
    let addr = e.addr();
    let t = e.admin_token();
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let t = t.clone();
            tokio::task::spawn_blocking(move || {
                let r = send(addr, Req::new("GET", "/api/v1/namespaces/default/secrets", Some(&t))).unwrap();
                assert_eq!(r.status, 200);
                r.json()["items"].as_array().unwrap().len()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.await.unwrap(), 300);
    }
}
