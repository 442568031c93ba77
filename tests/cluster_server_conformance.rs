//! One scripted scenario of the API calls kubectl-werf depends on, run unchanged against the emulator and
//! (with `KUBECTL_WERF_TEST_KUBECONFIG`) against a real kube-apiserver: the expected status codes, reasons
//! and fields below are the real server's answers (1.36.2), so the emulator is held to them.

mod common;

use std::time::{Duration, Instant};

use common::TestCluster;
use serde_json::{Value, json};

struct Api<'a> {
    c: &'a TestCluster,
}

struct Answer {
    code: u16,
    body: Value,
}

impl Answer {
    fn reason(&self) -> &str {
        self.body["reason"].as_str().unwrap_or("")
    }
}

const JSON: &str = "application/json";
const MERGE: &str = "application/merge-patch+json";
const META_LIST: &str = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";

impl Api<'_> {
    fn call(&self, method: &str, path: &str, content_type: &str, accept: &str, body: Option<Vec<u8>>) -> Answer {
        let mut req = http::Request::builder().method(method).uri(path).header("Accept", accept);
        if body.is_some() {
            req = req.header("Content-Type", content_type);
        }
        let req = req.body(kube::client::Body::from(body.unwrap_or_default())).unwrap();
        self.c.rt.block_on(async {
            let resp = self.c.client.send(req).await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            let code = resp.status().as_u16();
            let bytes = resp.into_body().collect_bytes().await.unwrap();
            Answer { code, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
        })
    }
    fn get(&self, path: &str) -> Answer {
        self.call("GET", path, JSON, JSON, None)
    }
    fn post(&self, path: &str, body: &Value) -> Answer {
        self.call("POST", path, JSON, JSON, Some(serde_json::to_vec(body).unwrap()))
    }
    fn put(&self, path: &str, body: &Value) -> Answer {
        self.call("PUT", path, JSON, JSON, Some(serde_json::to_vec(body).unwrap()))
    }
    fn patch(&self, path: &str, body: &Value) -> Answer {
        self.call("PATCH", path, MERGE, JSON, Some(serde_json::to_vec(body).unwrap()))
    }
    fn delete(&self, path: &str, options: Option<&Value>) -> Answer {
        self.call("DELETE", path, JSON, JSON, options.map(|o| serde_json::to_vec(o).unwrap()))
    }
}

fn cm(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}})
}

fn rv(v: &Value) -> String {
    v["metadata"]["resourceVersion"].as_str().unwrap().to_string()
}

/// Polls (the real server's controllers act asynchronously; the emulator at once).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(60), "{what}: not within 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn one_scenario_two_servers() {
    let c = TestCluster::start();
    let api = Api { c: &c };
    let ns = c.namespace("conformance");
    let cms = format!("/api/v1/namespaces/{ns}/configmaps");
    let secrets = format!("/api/v1/namespaces/{ns}/secrets");

    // create, conflict on create, invalid name, missing namespace
    let a = api.post(&cms, &cm("a", json!({"app": "x"})));
    assert_eq!(a.code, 201, "{}", a.body);
    for key in ["uid", "resourceVersion", "creationTimestamp"] {
        assert!(a.body["metadata"][key].is_string(), "{key}: {}", a.body);
    }
    assert!(a.body["metadata"].get("generation").is_none(), "a ConfigMap has no generation");
    let again = api.post(&cms, &cm("a", json!({})));
    assert_eq!((again.code, again.reason()), (409, "AlreadyExists"));
    let bad = api.post(&cms, &cm("Bad_Name", json!({})));
    assert_eq!((bad.code, bad.reason()), (422, "Invalid"));
    assert_eq!(bad.body["details"]["causes"][0]["field"], "metadata.name");
    let missing = api.post("/api/v1/namespaces/kw-no-such-namespace-x/configmaps", &cm("a", json!({})));
    assert_eq!((missing.code, missing.reason()), (404, "NotFound"));
    assert_eq!(api.get(&format!("{cms}/nope")).code, 404);

    // label selectors, limit and continue: pages in name order, remainingItemCount, no token on the last page
    for n in ["p3", "p1", "p5", "p2", "p4"] {
        assert_eq!(api.post(&cms, &cm(n, json!({"page": "yes"}))).code, 201);
    }
    let mut names = Vec::new();
    let mut remaining = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let cont = token.as_deref().map(|t| format!("&continue={t}")).unwrap_or_default();
        let page = api.get(&format!("{cms}?labelSelector=page%3Dyes&limit=2{cont}"));
        assert_eq!(page.code, 200, "{}", page.body);
        names.extend(page.body["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_string()));
        remaining.push(page.body["metadata"]["remainingItemCount"].as_i64());
        match page.body["metadata"]["continue"].as_str() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    assert_eq!(names, ["p1", "p2", "p3", "p4", "p5"]);
    // with a label selector the server cannot count what is left: no remainingItemCount
    assert_eq!(remaining, [None, None, None]);
    let unselected = api.get(&format!("{cms}?limit=2"));
    assert_eq!(unselected.body["metadata"]["remainingItemCount"], 4, "{}", unselected.body["metadata"]);
    let set_based = api.get(&format!("{cms}?labelSelector=app%20in%20(x,y),!page"));
    assert_eq!(set_based.body["items"].as_array().unwrap().len(), 1);
    let bad_selector = api.get(&format!("{cms}?labelSelector=app%3D%3D%3Dx"));
    assert_eq!((bad_selector.code, bad_selector.reason()), (400, "BadRequest"));

    // metadata-only list
    let meta = api.call("GET", &format!("{cms}?labelSelector=page%3Dyes"), JSON, META_LIST, None);
    assert_eq!(meta.code, 200);
    assert_eq!(meta.body["kind"], "PartialObjectMetadataList");
    let items = meta.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert!(items.iter().all(|i| i.get("data").is_none() && i["metadata"]["labels"]["page"] == "yes"));

    // update with a stale resourceVersion; merge patch with a resourceVersion precondition
    let a_rv = rv(&a.body);
    let mut stale = a.body.clone();
    stale["data"]["k"] = "w".into();
    let updated = api.put(&format!("{cms}/a"), &stale);
    assert_eq!(updated.code, 200);
    let stale_put = api.put(&format!("{cms}/a"), &stale);
    assert_eq!((stale_put.code, stale_put.reason()), (409, "Conflict"));
    let stale_patch = api.patch(&format!("{cms}/a"), &json!({"metadata": {"resourceVersion": a_rv, "annotations": {"x": "1"}}}));
    assert_eq!((stale_patch.code, stale_patch.reason()), (409, "Conflict"));
    let current = rv(&updated.body);
    let good_patch = api.patch(&format!("{cms}/a"), &json!({"metadata": {"resourceVersion": current, "annotations": {"x": "1"}}}));
    assert_eq!(good_patch.code, 200);
    assert_eq!(good_patch.body["metadata"]["annotations"]["x"], "1");
    assert!(rv(&good_patch.body) != current, "a write changes the resourceVersion");

    // delete with preconditions
    let now_rv = rv(&good_patch.body);
    let pre = |rv: &str| json!({"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"resourceVersion": rv}});
    let d = api.delete(&format!("{cms}/a"), Some(&pre(&a_rv)));
    assert_eq!((d.code, d.reason()), (409, "Conflict"));
    let wrong_uid = json!({"preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}});
    assert_eq!(api.delete(&format!("{cms}/a"), Some(&wrong_uid)).code, 409);
    let d = api.delete(&format!("{cms}/a"), Some(&pre(&now_rv)));
    assert_eq!(d.code, 200);
    assert_eq!((d.body["kind"].as_str(), d.body["status"].as_str()), (Some("Status"), Some("Success")));
    assert_eq!(api.get(&format!("{cms}/a")).code, 404);

    // dryRun: answered like the real write, nothing stored or removed
    let dry = api.post(&format!("{cms}?dryRun=All"), &cm("dry", json!({})));
    assert_eq!(dry.code, 201);
    assert_eq!(api.get(&format!("{cms}/dry")).code, 404);
    assert_eq!(api.delete(&format!("{cms}/p1?dryRun=All"), None).code, 200);
    assert_eq!(api.get(&format!("{cms}/p1")).code, 200);
    let bad_dry = api.post(&format!("{cms}?dryRun=Bogus"), &cm("dry", json!({})));
    assert_eq!((bad_dry.code, bad_dry.reason()), (422, "Invalid"), "{}", bad_dry.body);

    // strict field validation
    let mut unknown = cm("strict", json!({}));
    unknown["bogus"] = json!(1);
    let strict = api.post(&format!("{cms}?fieldValidation=Strict"), &unknown);
    assert_eq!((strict.code, strict.reason()), (400, "BadRequest"));

    // the 1 MiB object data limit (decoded bytes) and the 3 MiB request limit
    let b64 = |n: usize| base64_of_zeros(n);
    let secret = |name: &str, n: usize| json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": {"blob": b64(n)}});
    let over = api.post(&secrets, &secret("over", 1024 * 1024 + 1));
    assert_eq!((over.code, over.reason()), (422, "Invalid"));
    assert!(over.body["message"].as_str().unwrap().contains("Too long: may not be more than 1048576 bytes"), "{}", over.body);
    assert_eq!(api.post(&secrets, &secret("fits", 1024 * 1024)).code, 201);
    let cm_over = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": {"k": "x".repeat(1024 * 1024 + 1)}});
    assert_eq!(api.post(&cms, &cm_over).code, 422);
    let huge =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "huge"}, "data": {"k": "x".repeat(3 * 1024 * 1024 + 10)}});
    let too_large = api.post(&cms, &huge);
    assert_eq!(too_large.code, 413);

    // generation: a Deployment's spec and annotation changes bump it, label changes do not
    let deploys = format!("/apis/apps/v1/namespaces/{ns}/deployments");
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {
        "replicas": 0, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}});
    let created = api.post(&deploys, &deployment);
    assert_eq!(created.code, 201, "{}", created.body);
    let generation = |a: &Answer| a.body["metadata"]["generation"].as_i64();
    assert_eq!(generation(&created), Some(1));
    let web = format!("{deploys}/web");
    assert_eq!(generation(&api.patch(&web, &json!({"metadata": {"labels": {"l": "1"}}}))), Some(1));
    assert_eq!(generation(&api.patch(&web, &json!({"metadata": {"annotations": {"a": "1"}}}))), Some(2));
    assert_eq!(generation(&api.patch(&web, &json!({"metadata": {"annotations": {"a": "1"}}}))), Some(2), "an unchanged annotation");
    assert_eq!(generation(&api.patch(&web, &json!({"spec": {"replicas": 1}}))), Some(3));
    assert_eq!(generation(&api.patch(&web, &json!({"metadata": {"annotations": {"a": null}}}))), Some(4));
    // an HPA has none; a Job's annotation change does not bump it
    let hpa = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 2}});
    let hpa = api.post(&format!("/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers"), &hpa);
    assert_eq!((hpa.code, generation(&hpa)), (201, None));
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {"suspend": true,
        "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "j", "image": "busybox"}]}}}});
    let jobs = format!("/apis/batch/v1/namespaces/{ns}/jobs");
    assert_eq!(generation(&api.post(&jobs, &job)), Some(1));
    assert_eq!(generation(&api.patch(&format!("{jobs}/j"), &json!({"metadata": {"annotations": {"a": "1"}}}))), Some(1));

    // namespace deletion: answered with the Terminating namespace; its objects go with it
    let doomed = c.namespace("conformance-gone");
    assert_eq!(api.post(&format!("/api/v1/namespaces/{doomed}/configmaps"), &cm("c", json!({}))).code, 201);
    let gone = api.delete(&format!("/api/v1/namespaces/{doomed}"), None);
    assert_eq!(gone.code, 200);
    assert_eq!((gone.body["kind"].as_str(), gone.body["status"]["phase"].as_str()), (Some("Namespace"), Some("Terminating")));
    assert!(gone.body["metadata"]["deletionTimestamp"].is_string());
    eventually("the namespace is deleted", || api.get(&format!("/api/v1/namespaces/{doomed}")).code == 404);
    assert_eq!(api.get(&format!("/api/v1/namespaces/{doomed}/configmaps/c")).code, 404);
}

#[test]
fn a_crd_is_served_while_it_exists() {
    let c = TestCluster::start();
    let api = Api { c: &c };
    let ns = c.namespace("conformance-crd");
    // a group of this test's own: the real server is shared, and CRDs are cluster-wide
    let group = format!("{}.example.com", ns.trim_start_matches("kw-"));
    let crd_name = format!("kwprobes.{group}");
    let crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    let in_discovery = || {
        let groups = api.get("/apis");
        groups.body["groups"].as_array().unwrap().iter().any(|g| g["name"] == group.as_str())
    };
    assert!(!in_discovery());
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": crd_name},
        "spec": {"group": group, "scope": "Namespaced", "names": {"kind": "KwProbe", "plural": "kwprobes", "singular": "kwprobe"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    let created = api.post(crds, &crd);
    assert_eq!(created.code, 201, "{}", created.body);
    assert_eq!(created.body["metadata"]["generation"], 1);
    eventually("the CRD is established", || {
        let got = api.get(&format!("{crds}/{crd_name}"));
        got.body["status"]["conditions"].as_array().is_some_and(|cs| cs.iter().any(|c| c["type"] == "Established" && c["status"] == "True"))
    });
    eventually("the group is in discovery", in_discovery);
    let probes = format!("/apis/{group}/v1/namespaces/{ns}/kwprobes");
    let g =
        api.post(&probes, &json!({"apiVersion": format!("{group}/v1"), "kind": "KwProbe", "metadata": {"name": "g"}, "spec": {"size": 1}}));
    assert_eq!((g.code, g.body["metadata"]["generation"].as_i64()), (201, Some(1)));
    // without a status subresource, a status change counts like any other
    assert_eq!(api.patch(&format!("{probes}/g"), &json!({"status": {"ok": true}})).body["metadata"]["generation"], 2);
    assert_eq!(api.patch(&format!("{probes}/g"), &json!({"metadata": {"annotations": {"a": "b"}}})).body["metadata"]["generation"], 2);

    assert_eq!(api.delete(&format!("{crds}/{crd_name}"), None).code, 200);
    eventually("the group leaves discovery", || !in_discovery());
    eventually("its objects are gone", || api.get(&format!("{probes}/g")).code == 404);
}

fn base64_of_zeros(n: usize) -> String {
    // n zero bytes: every 3 bytes are "AAAA"; the tail pads like base64
    let mut s = "AAAA".repeat(n / 3);
    match n % 3 {
        1 => s.push_str("AA=="),
        2 => s.push_str("AAA="),
        _ => {}
    }
    s
}
