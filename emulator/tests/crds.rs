//! CustomResourceDefinitions: a fresh emulator serves no custom resource (as a fresh cluster); a CRD created
//! through the API is established and served at once, in every discovery document; deleting it removes its
//! resources from discovery and its objects with them. Each emulator has its own CRDs.

mod support;

use kube_emulator::Emulator;
use serde_json::{Value, json};
use support::{Req, send};

const AGG: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
const CRDS: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
const WIDGETS: &str = "/apis/shop.example.com/v1/namespaces/default/widgets";

fn crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.shop.example.com"},
        "spec": {
            "group": "shop.example.com", "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "shortNames": ["wd"]},
            "versions": [
                {"name": "v1beta1", "served": true, "storage": false, "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}},
                {"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                 "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}
            ]
        }
    })
}

fn served(e: &Emulator, t: &str) -> bool {
    let agg = send(e.addr(), Req::new("GET", "/apis", Some(t)).accept(AGG)).unwrap().json();
    let plain = send(e.addr(), Req::new("GET", "/apis", Some(t))).unwrap().json();
    let in_agg = agg["items"].as_array().unwrap().iter().any(|g| g["metadata"]["name"] == "shop.example.com");
    let in_plain = plain["groups"].as_array().unwrap().iter().any(|g| g["name"] == "shop.example.com");
    assert_eq!(in_agg, in_plain, "aggregated and plain discovery agree");
    in_agg
}

#[test]
fn a_crd_enters_discovery_when_created_and_leaves_when_deleted() {
    let e = Emulator::start_blocking().unwrap();
    let other = Emulator::start_blocking().unwrap();
    let t = e.admin_token();
    let a = e.addr();
    assert!(!served(&e, &t));
    let w = json!({"apiVersion": "shop.example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3}});
    assert_eq!(send(a, Req::new("POST", WIDGETS, Some(&t)).json(&w)).unwrap().status, 404);

    let r = send(a, Req::new("POST", CRDS, Some(&t)).json(&crd())).unwrap();
    assert_eq!(r.status, 201, "{}", r.json());
    let got = send(a, Req::new("GET", &format!("{CRDS}/widgets.shop.example.com"), Some(&t))).unwrap().json();
    let conditions = got["status"]["conditions"].as_array().unwrap();
    assert!(conditions.iter().any(|c| c["type"] == "Established" && c["status"] == "True"), "{got}");
    assert_eq!(got["status"]["storedVersions"], json!(["v1"]));
    assert_eq!(got["status"]["acceptedNames"]["listKind"], "WidgetList");

    assert!(served(&e, &t));
    assert!(!served(&other, &other.admin_token()), "another emulator does not see this CRD");
    let agg = send(a, Req::new("GET", "/apis", Some(&t)).accept(AGG)).unwrap().json();
    let group = agg["items"].as_array().unwrap().iter().find(|g| g["metadata"]["name"] == "shop.example.com").unwrap().clone();
    assert_eq!(group["versions"][0]["version"], "v1", "the GA version is preferred");
    assert_eq!(group["versions"][0]["resources"][0]["shortNames"], json!(["wd"]));
    assert_eq!(group["versions"][0]["resources"][0]["subresources"][0]["subresource"], "status");
    let g = send(a, Req::new("GET", "/apis/shop.example.com", Some(&t))).unwrap().json();
    assert_eq!((g["kind"].as_str(), g["preferredVersion"]["version"].as_str()), (Some("APIGroup"), Some("v1")));
    let rl = send(a, Req::new("GET", "/apis/shop.example.com/v1beta1", Some(&t))).unwrap().json();
    assert_eq!(rl["resources"][0]["name"], "widgets");

    // served in both versions, stored once
    assert_eq!(send(a, Req::new("POST", WIDGETS, Some(&t)).json(&w)).unwrap().status, 201);
    let old = send(a, Req::new("GET", "/apis/shop.example.com/v1beta1/namespaces/default/widgets/w1", Some(&t))).unwrap().json();
    assert_eq!((old["apiVersion"].as_str(), old["spec"]["size"].as_i64()), (Some("shop.example.com/v1beta1"), Some(3)));
    assert_eq!(e.store().get("wd", "default", "w1").unwrap()["metadata"]["generation"], 1);

    let r = send(a, Req::new("DELETE", &format!("{CRDS}/widgets.shop.example.com"), Some(&t))).unwrap();
    assert_eq!(r.status, 200);
    assert!(!served(&e, &t));
    assert_eq!(send(a, Req::new("GET", &format!("{WIDGETS}/w1"), Some(&t))).unwrap().status, 404);
    assert!(e.store().keys().iter().all(|k| k.0 != "shop.example.com"), "the CRD's objects went with it");
    // created again: empty
    assert_eq!(send(a, Req::new("POST", CRDS, Some(&t)).json(&crd())).unwrap().status, 201);
    let list = send(a, Req::new("GET", WIDGETS, Some(&t))).unwrap().json();
    assert_eq!(list["items"], json!([]));
}

#[test]
fn a_crd_name_must_be_plural_dot_group() {
    let e = Emulator::start_blocking().unwrap();
    let t = e.admin_token();
    let mut bad = crd();
    bad["metadata"]["name"] = "gadgets.shop.example.com".into();
    let r = send(e.addr(), Req::new("POST", CRDS, Some(&t)).json(&bad)).unwrap();
    assert_eq!(r.status, 422, "{}", r.json());
    assert!(!served(&e, &t));
}
