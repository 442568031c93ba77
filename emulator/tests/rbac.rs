//! The RBAC authorizer through HTTP: roles and bindings created through the API decide, and
//! denials are the real server's Forbidden Status.

mod support;

use kube_emulator::{Emulator, EmulatorConfig};
use serde_json::{Value, json};
use support::{Req, fixtures, send};

const RBAC: &str = "/apis/rbac.authorization.k8s.io/v1";

struct Rig {
    e: Emulator,
    admin: String,
}

impl Rig {
    fn new() -> Rig {
        let e = Emulator::start_blocking().unwrap();
        e.enable_rbac();
        let admin = e.admin_token();
        for ns in ["team-a", "team-b"] {
            e.store().ensure_namespace(ns).unwrap();
        }
        Rig { e, admin }
    }

    /// POST as admin, like `kubectl create -f`.
    fn create(&self, path: &str, body: Value) {
        let r = send(self.e.addr(), Req::new("POST", path, Some(&self.admin)).json(&body)).unwrap();
        assert_eq!(r.status, 201, "{path}: {}", String::from_utf8_lossy(&r.body));
    }

    fn delete(&self, path: &str) {
        let r = send(self.e.addr(), Req::new("DELETE", path, Some(&self.admin))).unwrap();
        assert_eq!(r.status, 200, "{path}: {}", String::from_utf8_lossy(&r.body));
    }

    fn status(&self, token: &str, method: &str, path: &str) -> u16 {
        self.call(token, method, path).status
    }

    fn call(&self, token: &str, method: &str, path: &str) -> support::Resp {
        let mut req = Req::new(method, path, Some(token));
        if method == "POST" || method == "PUT" {
            req = req.json(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "made"}}));
        } else if method == "PATCH" {
            req = req.ct("application/merge-patch+json");
            req.body = br#"{"metadata":{"labels":{"x":"y"}}}"#.to_vec();
        }
        send(self.e.addr(), req).unwrap()
    }
}

fn reader_role(ns: &str) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "secret-reader", "namespace": ns},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]})
}

fn binding(kind: &str, ns: Option<&str>, name: &str, role_kind: &str, role: &str, subjects: Value) -> Value {
    let mut meta = json!({"name": name});
    if let Some(ns) = ns {
        meta["namespace"] = json!(ns);
    }
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role}, "subjects": subjects})
}

#[test]
fn role_in_one_namespace_only() {
    let r = Rig::new();
    r.e.add_user("alice-token", "alice", &["devs"]);
    r.e.store().create(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1", "namespace": "team-a"}})).unwrap();
    // nothing granted yet
    assert_eq!(r.status("alice-token", "GET", "/api/v1/namespaces/team-a/secrets"), 403);
    r.create(&format!("{RBAC}/namespaces/team-a/roles"), reader_role("team-a"));
    r.create(
        &format!("{RBAC}/namespaces/team-a/rolebindings"),
        binding(
            "RoleBinding",
            Some("team-a"),
            "alice-reads",
            "Role",
            "secret-reader",
            json!([{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}]),
        ),
    );
    let ok = r.call("alice-token", "GET", "/api/v1/namespaces/team-a/secrets");
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["items"][0]["metadata"]["name"], "s1");
    assert_eq!(r.status("alice-token", "GET", "/api/v1/namespaces/team-a/secrets/s1"), 200);
    assert_eq!(r.status("alice-token", "GET", "/api/v1/namespaces/team-a/secrets/missing"), 404, "authorized, then not found");
    // not another namespace, not cluster-wide, not another verb or resource
    let other = r.call("alice-token", "GET", "/api/v1/namespaces/team-b/secrets");
    assert_eq!(other.status, 403);
    assert_eq!(
        other.json(),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "secrets is forbidden: User \"alice\" cannot list resource \"secrets\" in API group \"\" in the namespace \"team-b\"",
            "reason": "Forbidden", "details": {"kind": "secrets"}, "code": 403})
    );
    let all = r.call("alice-token", "GET", "/api/v1/secrets");
    assert_eq!(all.status, 403);
    assert_eq!(
        all.json()["message"],
        "secrets is forbidden: User \"alice\" cannot list resource \"secrets\" in API group \"\" at the cluster scope"
    );
    let del = r.call("alice-token", "DELETE", "/api/v1/namespaces/team-a/secrets/s1");
    assert_eq!(del.status, 403);
    assert_eq!(
        del.json()["message"],
        "secrets \"s1\" is forbidden: User \"alice\" cannot delete resource \"secrets\" in API group \"\" in the namespace \"team-a\""
    );
    assert_eq!(del.json()["details"], json!({"name": "s1", "kind": "secrets"}));
    assert_eq!(r.status("alice-token", "GET", "/api/v1/namespaces/team-a/configmaps"), 403);
    // removing the binding takes the right away at once
    r.delete(&format!("{RBAC}/namespaces/team-a/rolebindings/alice-reads"));
    assert_eq!(r.status("alice-token", "GET", "/api/v1/namespaces/team-a/secrets"), 403);
}

#[test]
fn cluster_role_binding_grants_everywhere_rolebinding_to_clusterrole_in_one_namespace() {
    let r = Rig::new();
    r.e.add_user("g-token", "gina", &["kubectl-werf:releases-read"]);
    r.e.add_user("h-token", "hank", &[]);
    r.create(
        &format!("{RBAC}/clusterroles"),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "reader"},
            "rules": [{"apiGroups": [""], "resources": ["secrets", "configmaps"], "verbs": ["get", "list"]}]}),
    );
    r.create(
        &format!("{RBAC}/clusterrolebindings"),
        binding(
            "ClusterRoleBinding",
            None,
            "readers",
            "ClusterRole",
            "reader",
            json!([{"kind": "Group", "name": "kubectl-werf:releases-read"}]),
        ),
    );
    r.create(
        &format!("{RBAC}/namespaces/team-b/rolebindings"),
        binding("RoleBinding", Some("team-b"), "hank-reads", "ClusterRole", "reader", json!([{"kind": "User", "name": "hank"}])),
    );
    for path in ["/api/v1/secrets", "/api/v1/configmaps", "/api/v1/namespaces/team-a/secrets", "/api/v1/namespaces/kube-system/configmaps"]
    {
        assert_eq!(r.status("g-token", "GET", path), 200, "{path}");
    }
    assert_eq!(r.status("g-token", "POST", "/api/v1/namespaces/team-a/configmaps"), 403);
    assert_eq!(r.status("h-token", "GET", "/api/v1/namespaces/team-b/secrets"), 200);
    assert_eq!(r.status("h-token", "GET", "/api/v1/namespaces/team-a/secrets"), 403);
    assert_eq!(r.status("h-token", "GET", "/api/v1/secrets"), 403);
}

#[test]
fn discovery_version_openapi_and_health_for_every_authenticated_user() {
    let r = Rig::new();
    r.e.add_user("n-token", "nobody", &[]);
    for path in [
        "/api",
        "/api/v1",
        "/apis",
        "/apis/apps/v1",
        "/version",
        "/openapi/v3",
        "/openapi/v3/apis/apps/v1",
        "/healthz",
        "/livez",
        "/readyz",
    ] {
        assert_eq!(r.status("n-token", "GET", path), 200, "{path}");
    }
    let m = r.call("n-token", "GET", "/metrics");
    assert_eq!(m.status, 403);
    assert_eq!(
        m.json(),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "forbidden: User \"nobody\" cannot get path \"/metrics\"", "reason": "Forbidden", "details": {}, "code": 403})
    );
    // the defaults are real objects: deleting them takes discovery away, as on a real cluster
    r.delete(&format!("{RBAC}/clusterrolebindings/system:discovery"));
    r.delete(&format!("{RBAC}/clusterrolebindings/system:public-info-viewer"));
    assert_eq!(r.status("n-token", "GET", "/apis"), 403);
    assert_eq!(r.status("n-token", "GET", "/version"), 403);
    // unauthenticated health checks stay public; the admin always passes
    assert_eq!(send(r.e.addr(), Req::new("GET", "/healthz", None)).unwrap().status, 200);
    assert_eq!(r.status(&r.admin, "GET", "/apis"), 200);
}

#[test]
fn forbidden_matches_the_captured_answer() {
    // fixtures/apiserver-1.36/responses/list_forbidden.json: `viewer` lists secrets cluster-wide
    let capture: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("apiserver-1.36/responses/list_forbidden.json")).unwrap()).unwrap();
    let e = Emulator::start_blocking_with(EmulatorConfig { rbac: true, ..Default::default() }).unwrap();
    e.add_user("viewer-token", "viewer", &[]);
    let path = capture["request"]["path"].as_str().unwrap();
    let r = send(e.addr(), Req::new("GET", path, Some("viewer-token"))).unwrap();
    assert_eq!(r.status as u64, capture["status"].as_u64().unwrap());
    assert_eq!(r.json(), capture["response"]);
    assert_eq!(
        r.json()["message"],
        "secrets is forbidden: User \"viewer\" cannot list resource \"secrets\" in API group \"\" at the cluster scope"
    );
}

#[test]
fn namespaces_resource_names_subresources_and_service_accounts() {
    let r = Rig::new();
    let sa = "system:serviceaccount:team-a:deployer";
    r.e.add_user("sa-token", sa, &[]);
    r.create(
        &format!("{RBAC}/clusterroles"),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "ns-and-one-cm"},
        "rules": [
            {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["settings"], "verbs": ["get", "list", "patch"]},
            {"apiGroups": ["apps"], "resources": ["deployments/status"], "verbs": ["get"]}
        ]}),
    );
    // a ServiceAccount subject without namespace = the binding's namespace
    r.create(
        &format!("{RBAC}/namespaces/team-a/rolebindings"),
        binding(
            "RoleBinding",
            Some("team-a"),
            "deployer",
            "ClusterRole",
            "ns-and-one-cm",
            json!([{"kind": "ServiceAccount", "name": "deployer"}]),
        ),
    );
    r.e.store().create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "team-a"}})).unwrap();
    r.e.store().create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "namespace": "team-a"}})).unwrap();
    r.e.store()
        .create(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "team-a"},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}))
        .unwrap();
    // a RoleBinding in team-a grants GET of the namespace team-a itself
    assert_eq!(r.status("sa-token", "GET", "/api/v1/namespaces/team-a"), 200);
    let other = r.call("sa-token", "GET", "/api/v1/namespaces/team-b");
    assert_eq!(other.status, 403);
    assert_eq!(
        other.json()["message"],
        format!(
            "namespaces \"team-b\" is forbidden: User \"{sa}\" cannot get resource \"namespaces\" in API group \"\" in the namespace \"team-b\""
        )
    );
    assert_eq!(
        r.call("sa-token", "GET", "/api/v1/namespaces").json()["message"],
        format!("namespaces is forbidden: User \"{sa}\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope")
    );
    // resourceNames: that object only; a plain list is denied, a list naming it is allowed
    assert_eq!(r.status("sa-token", "GET", "/api/v1/namespaces/team-a/configmaps/settings"), 200);
    assert_eq!(r.status("sa-token", "PATCH", "/api/v1/namespaces/team-a/configmaps/settings"), 200);
    assert_eq!(r.status("sa-token", "GET", "/api/v1/namespaces/team-a/configmaps/other"), 403);
    assert_eq!(r.status("sa-token", "GET", "/api/v1/namespaces/team-a/configmaps"), 403);
    let named = r.call("sa-token", "GET", "/api/v1/namespaces/team-a/configmaps?fieldSelector=metadata.name%3Dsettings");
    assert_eq!(named.status, 200);
    assert_eq!(named.json()["items"].as_array().unwrap().len(), 1);
    let wrong = r.call("sa-token", "GET", "/api/v1/namespaces/team-a/configmaps?fieldSelector=metadata.name%3Dother");
    assert_eq!(wrong.status, 403);
    assert_eq!(
        wrong.json()["message"],
        format!(
            "configmaps \"other\" is forbidden: User \"{sa}\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"team-a\""
        )
    );
    // subresources: the status of a deployment, not the deployment
    assert_eq!(r.status("sa-token", "GET", "/apis/apps/v1/namespaces/team-a/deployments/web/status"), 200);
    let dep = r.call("sa-token", "GET", "/apis/apps/v1/namespaces/team-a/deployments/web");
    assert_eq!(dep.status, 403);
    assert_eq!(
        dep.json()["message"],
        format!(
            "deployments.apps \"web\" is forbidden: User \"{sa}\" cannot get resource \"deployments\" in API group \"apps\" in the namespace \"team-a\""
        )
    );
    assert_eq!(dep.json()["details"], json!({"name": "web", "group": "apps", "kind": "deployments"}));
    let scale = r.call("sa-token", "GET", "/apis/apps/v1/namespaces/team-a/deployments/web/scale");
    assert!(
        scale.json()["message"].as_str().unwrap().contains("cannot get resource \"deployments/scale\" in API group \"apps\""),
        "{:?}",
        scale.json()
    );
    // the implied ServiceAccount groups work in bindings
    r.create(
        &format!("{RBAC}/clusterrolebindings"),
        binding(
            "ClusterRoleBinding",
            None,
            "team-a-sas",
            "ClusterRole",
            "ns-and-one-cm",
            json!([{"kind": "Group", "name": "system:serviceaccounts:team-a"}]),
        ),
    );
    assert_eq!(r.status("sa-token", "GET", "/api/v1/namespaces/team-b"), 200);
}

#[test]
fn missing_role_is_named_in_the_forbidden_message() {
    let r = Rig::new();
    r.e.add_user("t", "tess", &[]);
    r.create(
        &format!("{RBAC}/namespaces/team-a/rolebindings"),
        binding("RoleBinding", Some("team-a"), "dangling", "Role", "not-there", json!([{"kind": "User", "name": "tess"}])),
    );
    let d = r.call("t", "GET", "/api/v1/namespaces/team-a/pods");
    assert_eq!(
        d.json()["message"],
        "pods is forbidden: User \"tess\" cannot list resource \"pods\" in API group \"\" in the namespace \"team-a\": RBAC: role.rbac.authorization.k8s.io \"not-there\" not found"
    );
    // creating the role later makes the binding work
    r.create(&format!("{RBAC}/namespaces/team-a/roles"), json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "not-there", "namespace": "team-a"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]}));
    assert_eq!(r.status("t", "GET", "/api/v1/namespaces/team-a/pods"), 200);
}

#[test]
fn default_stays_allow_all_and_rbac_can_be_turned_off() {
    let e = Emulator::start_blocking().unwrap();
    e.add_user("u", "someone", &[]);
    assert_eq!(send(e.addr(), Req::new("GET", "/api/v1/secrets", Some("u"))).unwrap().status, 200);
    assert!(e.store().list("clusterroles", None, None).unwrap().is_empty(), "no bootstrap objects without RBAC");
    e.enable_rbac();
    assert_eq!(send(e.addr(), Req::new("GET", "/api/v1/secrets", Some("u"))).unwrap().status, 403);
    let names: Vec<String> =
        e.store().list("clusterroles", None, None).unwrap().iter().map(|v| v["metadata"]["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, ["cluster-admin", "system:basic-user", "system:discovery", "system:public-info-viewer"]);
    e.enable_rbac(); // idempotent
    e.set_authorizer(None);
    assert_eq!(send(e.addr(), Req::new("GET", "/api/v1/secrets", Some("u"))).unwrap().status, 200);
}

#[test]
fn large_lists_are_authorized_once() {
    let r = Rig::new();
    r.e.add_user("g", "gina", &["readers"]);
    r.create(
        &format!("{RBAC}/clusterroles"),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "cm-reader"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]}),
    );
    r.create(
        &format!("{RBAC}/clusterrolebindings"),
        binding("ClusterRoleBinding", None, "cm-readers", "ClusterRole", "cm-reader", json!([{"kind": "Group", "name": "readers"}])),
    );
    let h = r.e.store();
    for i in 0..10_000 {
        h.create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("c{i:05}"), "namespace": "team-a"}, "data": {"k": "v"}})).unwrap();
    }
    // count the authorizer's calls: the RBAC authorizer wrapped in a counting one
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let rbac = kube_emulator::RbacAuthorizer::new(r.e.store());
    let counter = calls.clone();
    r.e.set_authorizer(Some(std::sync::Arc::new(move |a: &kube_emulator::RequestAttributes| {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        kube_emulator::Authorizer::authorize(&rbac, a)
    })));
    let started = std::time::Instant::now();
    let resp = r.call("g", "GET", "/api/v1/configmaps");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["items"].as_array().unwrap().len(), 10_000);
    assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 1, "one decision per request, not per object");
    // many small requests after writes: the compiled policy is reused while RBAC objects do not change
    for i in 0..200 {
        h.create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("x{i}"), "namespace": "team-b"}})).unwrap();
        assert_eq!(r.status("g", "GET", "/api/v1/namespaces/team-b/configmaps?limit=1"), 200);
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "{:?}", started.elapsed());
}
