//! The protobuf decoder against genuine answers of a real kube-apiserver v1.36.2
//! (fixtures/apiserver-1.36/protobuf): every record it reads equals the JSON twin of the same answer.
//! Then the emulator's protobuf LIST answers for the same objects decode to the same records, and
//! real helm (client-go's protobuf decoder) lists from them what it lists from JSON.

mod common;

use std::collections::BTreeMap;

use base64::Engine;
use bytes::Bytes;
use kubectl_werf::storage::ObjectKind;
use kubectl_werf::storage::objects::{ObjectStore, RawObject};
use kubectl_werf::storage::protobuf;
use serde_json::Value;

fn read(name: &str) -> Vec<u8> {
    std::fs::read(common::fixture(&format!("apiserver-1.36/protobuf/{name}"))).unwrap()
}

fn json(name: &str) -> Value {
    serde_json::from_slice(&read(name)).unwrap()
}

/// What a record is, as the JSON answer tells it: (name, namespace, labels, uid, rv, created, type, payload).
type Expected = (String, String, BTreeMap<String, String>, String, String, String, Option<String>, Option<Vec<u8>>);

fn expected(items: &Value, secret: bool) -> Vec<Expected> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let m = &i["metadata"];
            let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
            let labels = m["labels"].as_object().map(|l| l.iter().map(|(k, v)| (k.clone(), s(v))).collect()).unwrap_or_default();
            let payload = i["data"]["release"]
                .as_str()
                .map(|p| if secret { base64::engine::general_purpose::STANDARD.decode(p).unwrap() } else { p.as_bytes().to_vec() });
            (
                s(&m["name"]),
                s(&m["namespace"]),
                labels,
                s(&m["uid"]),
                s(&m["resourceVersion"]),
                s(&m["creationTimestamp"]),
                i["type"].as_str().map(String::from),
                payload,
            )
        })
        .collect()
}

fn got(objects: &[RawObject]) -> Vec<Expected> {
    objects
        .iter()
        .map(|o| {
            let i = &o.info;
            (
                i.name.clone(),
                i.namespace.clone(),
                i.labels.clone(),
                i.uid.clone().unwrap_or_default(),
                i.resource_version.clone().unwrap_or_default(),
                i.creation_timestamp.clone().unwrap_or_default(),
                i.secret_type.clone(),
                o.payload.clone(),
            )
        })
        .collect()
}

#[test]
fn real_secret_and_configmap_lists_decode_as_their_json_twins() {
    for (file, kind, secret) in [("secrets", ObjectKind::Secret, true), ("configmaps", ObjectKind::ConfigMap, false)] {
        let (envelope_kind, list) = protobuf::unwrap(Bytes::from(read(&format!("{file}.pb")))).unwrap();
        assert_eq!(envelope_kind, if secret { "SecretList" } else { "ConfigMapList" });
        assert_eq!(protobuf::continue_token(&list).unwrap(), None);
        let objects = protobuf::objects(kind, list, None).unwrap();
        let twin = json(&format!("{file}.json"));
        assert!(!objects.is_empty());
        assert_eq!(got(&objects), expected(&twin["items"], secret), "{file}");
    }
}

#[test]
fn real_metadata_list_decodes_as_its_json_twin() {
    let (kind, list) = protobuf::unwrap(Bytes::from(read("secrets-meta.pb"))).unwrap();
    assert_eq!(kind, "PartialObjectMetadataList");
    let infos = protobuf::metadata(ObjectKind::Secret, list, None).unwrap();
    let as_raw: Vec<RawObject> = infos.into_iter().map(|info| RawObject { info, payload: None }).collect();
    let mut want = expected(&json("secrets-meta.json")["items"], true);
    // Metadata lists carry no type and no data.
    for w in &mut want {
        w.6 = None;
    }
    assert_eq!(got(&as_raw), want);
}

#[test]
fn a_real_page_carries_its_continue_token() {
    let (_, list) = protobuf::unwrap(Bytes::from(read("secrets-page1.pb"))).unwrap();
    let token = protobuf::continue_token(&list).unwrap().expect("a continue token");
    assert!(!token.is_empty());
    assert_eq!(protobuf::objects(ObjectKind::Secret, list, None).unwrap().len(), 2);
}

#[test]
fn a_real_forbidden_status_reads_as_kubes() {
    let (kind, raw) = protobuf::unwrap(Bytes::from(read("forbidden.pb"))).unwrap();
    assert_eq!(kind, "Status");
    let status: kube::core::Status = serde_json::from_value(protobuf::status_json(raw).unwrap()).unwrap();
    assert_eq!(status.code, 403);
    assert_eq!(status.reason, "Forbidden");
    assert!(status.message.contains("cannot list resource \"secrets\""), "{}", status.message);
}

/// The emulator, given the objects of the real answers, answers LISTs (protobuf asked for) with the
/// same records, page by page; with protobuf turned off it answers JSON and the records are the same.
#[test]
fn emulator_protobuf_lists_match_the_real_servers_emulator_only() {
    let c = common::TestCluster::start();
    let emu = c.emulator_for("compares the emulator's own encoding");
    emu.store().ensure_namespace("fx-helm3").unwrap();
    let strip = |mut v: Value, kind: &str| {
        for k in ["uid", "resourceVersion", "creationTimestamp", "managedFields"] {
            v["metadata"].as_object_mut().unwrap().remove(k);
        }
        v["apiVersion"] = "v1".into();
        v["kind"] = kind.into();
        v
    };
    for (file, kind, k) in [("secrets", ObjectKind::Secret, "Secret"), ("configmaps", ObjectKind::ConfigMap, "ConfigMap")] {
        let twin = json(&format!("{file}.json"));
        for item in twin["items"].as_array().unwrap() {
            emu.store().create(strip(item.clone(), k)).unwrap();
        }
        let store = ObjectStore::new(c.client.clone(), kind);
        let secret = kind == ObjectKind::Secret;
        // Without server-set fields (uid, resourceVersion, creation time differ by nature).
        let comparable = |v: Vec<Expected>| -> Vec<Expected> {
            v.into_iter()
                .map(|mut e| {
                    (e.3, e.4, e.5) = (String::new(), String::new(), String::new());
                    e
                })
                .collect()
        };
        let want = comparable(expected(&twin["items"], secret));
        for protobuf_on in [true, false] {
            emu.set_protobuf_lists(protobuf_on);
            let mut all = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let page =
                    c.rt.block_on(store.lister().list_raw(
                        Some("fx-helm3"),
                        "owner=helm",
                        2,
                        token.as_deref(),
                        kubectl_werf::storage::shape::Shape::Full,
                    ))
                    .unwrap();
                assert_eq!(page.body.is_protobuf(), protobuf_on);
                token = page.continue_token.clone();
                all.extend(page.body.objects().unwrap());
                if token.is_none() {
                    break;
                }
            }
            assert_eq!(comparable(got(&all)), want, "{file}, protobuf {protobuf_on}");
            let metas =
                c.rt.block_on(store.lister().list_raw(Some("fx-helm3"), "owner=helm", 0, None, kubectl_werf::storage::shape::Shape::Meta))
                    .unwrap();
            assert_eq!(metas.body.is_protobuf(), protobuf_on);
            let infos = metas.body.infos().unwrap();
            assert_eq!(
                infos.iter().map(|i| (&i.name, &i.labels)).collect::<Vec<_>>(),
                all.iter().map(|o| (&o.info.name, &o.info.labels)).collect::<Vec<_>>()
            );
            assert!(infos.iter().all(|i| i.uid.is_some() && i.resource_version.is_some() && i.creation_timestamp.is_some()));
        }
        emu.set_protobuf_lists(true);
    }
    // client-go reads the emulator's protobuf lists as it reads JSON ones.
    let helm_list = |protobuf_on: bool| {
        emu.set_protobuf_lists(protobuf_on);
        let out = common::run_ok(c.helm(3).args(["list", "-a", "-n", "fx-helm3", "-o", "json"]));
        let cm = common::run_ok(c.helm(4).env("HELM_DRIVER", "configmap").args(["list", "-n", "fx-helm3", "-o", "json"]));
        (out, cm)
    };
    let (pb, pb_cm) = helm_list(true);
    let (js, js_cm) = helm_list(false);
    emu.set_protobuf_lists(true);
    assert_eq!(pb, js);
    assert_eq!(pb_cm, js_cm);
    assert!(pb.contains("\"name\":\"shop\"") && pb_cm.contains("\"name\":\"cart\""), "{pb} {pb_cm}");
}
