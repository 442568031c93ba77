//! Release models and codecs against the genuine records in `fixtures/`.

mod release_fixtures;

use std::collections::BTreeMap;

use kubectl_werf::golang::json as gojson;
use kubectl_werf::release::helm2;
use kubectl_werf::release::helm3::{self, HookEvent, HookPhase, Status};
use kubectl_werf::release::{Time, ZeroForm};
use kubectl_werf::storage::codec::{self, CodecError, DecodeLimits, GzipFault, LabelStamp};
use release_fixtures::{Record, decode_helm2_unless_broken, helm2_records, load};
use serde_json::Value;

fn limits() -> DecodeLimits {
    DecodeLimits::default()
}

fn helm3_records() -> Vec<Record> {
    let recs = load("helm3");
    // 9 per Helm version (shop 4, cart 2, stuck 2, big 1) + 2 pluto
    assert_eq!(recs.len(), 20, "{:?}", recs.iter().map(|r| &r.name).collect::<Vec<_>>());
    recs
}

fn raw_json(r: &Record) -> Vec<u8> {
    codec::decode_payload(&r.payload, &limits()).unwrap()
}

#[test]
fn helm3_every_record_round_trips_through_the_model() {
    for r in helm3_records() {
        let body = raw_json(&r);
        let original: Value = serde_json::from_slice(&body).unwrap();
        let rel = codec::decode_helm3(&r.payload, &limits()).unwrap_or_else(|e| panic!("{}/{}: {e}", r.file, r.name));
        // Same JSON value …
        assert_eq!(serde_json::to_value(&rel).unwrap(), original, "{}/{}", r.file, r.name);
        // … and byte for byte what Helm's json.Marshal wrote (key order, escaping, numbers).
        let ours = gojson::to_vec(&rel).unwrap();
        if ours != body {
            let i = ours.iter().zip(&body).position(|(a, b)| a != b).unwrap_or(ours.len().min(body.len()));
            panic!(
                "{}/{}: differs at byte {i}: ours …{}… helm …{}…",
                r.file,
                r.name,
                String::from_utf8_lossy(&ours[i.saturating_sub(60)..(i + 60).min(ours.len())]),
                String::from_utf8_lossy(&body[i.saturating_sub(60)..(i + 60).min(body.len())])
            );
        }
    }
}

#[test]
fn helm3_every_record_round_trips_through_encoder_and_decoder() {
    for r in helm3_records() {
        let original: Value = serde_json::from_slice(&raw_json(&r)).unwrap();
        let rel = codec::decode_helm3(&r.payload, &limits()).unwrap();
        let text = codec::encode_helm3(&rel).unwrap();
        assert!(text.starts_with("H4sIAAAAAAAC/"), "{}", &text[..20]);
        // A Secret's wire value: the base64 text base64-encoded again. (Its 18th character depends on the
        // first deflate byte: genuine records show both `SDRzSUFBQUFBQUFDLy…` and `SDRzSUFBQUFBQUFDLz…`.)
        assert!(codec::encode_base64(text.as_bytes()).starts_with("SDRzSUFBQUFBQUFDL"));
        let gz = codec::decode_base64(text.as_bytes()).unwrap();
        assert_eq!(gz[..10], [0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0x02, 0xff]);
        let back = codec::decode_helm3_value(text.as_bytes(), &limits()).unwrap();
        assert_eq!(back, original, "{}/{}", r.file, r.name);
        assert_eq!(codec::decode_helm3(text.as_bytes(), &limits()).unwrap(), rel);
        // The genuine records were written the same way: same header.
        let genuine = codec::decode_base64(&r.payload).unwrap();
        assert_eq!(genuine[..10], gz[..10], "{}", r.name);
    }
}

#[test]
fn helm3_records_match_their_labels_names_and_types() {
    for r in helm3_records() {
        let mut rel = codec::decode_helm3(&r.payload, &limits()).unwrap();
        assert_eq!(r.name, codec::helm3_object_name(&rel.name, rel.version));
        assert_eq!(codec::parse_helm3_object_name(&r.name), Some((rel.name.as_str(), rel.version)));
        if r.kind == "Secret" {
            assert_eq!(r.secret_type.as_deref(), Some(codec::HELM3_SECRET_TYPE));
        }
        let labels = codec::parse_helm3_labels(&r.labels);
        assert!(labels.is_helm());
        assert_eq!(labels.name.as_deref(), Some(rel.name.as_str()));
        assert_eq!(labels.version, Some(rel.version));
        assert_eq!(labels.status.as_ref(), Some(&rel.info.status));
        // Rebuilding the labels as Helm does gives back exactly the stored set.
        rel.labels = codec::helm3_custom_labels(&r.labels);
        let stamp = match (labels.created_at, labels.modified_at) {
            (Some(c), None) => LabelStamp::Created(c),
            (None, Some(m)) => LabelStamp::Modified(m),
            other => panic!("{}: {other:?}", r.name),
        };
        assert_eq!(codec::helm3_labels(&rel, stamp), r.labels, "{}", r.name);
        if rel.name == "shop" && r.file.starts_with("fx-") {
            let want: BTreeMap<String, String> =
                [("team", "payments"), ("tier", "web")].into_iter().map(|(k, v)| (k.into(), v.into())).collect();
            assert_eq!(labels.custom, want);
        }
    }
}

#[test]
fn helm3_summary_agrees_with_full_decode_and_helm_list() {
    let mut latest: BTreeMap<(String, String), helm3::ReleaseSummary> = BTreeMap::new();
    for r in helm3_records() {
        let full = codec::decode_helm3(&r.payload, &limits()).unwrap();
        let summary = codec::decode_helm3_summary(&r.payload, &limits()).unwrap();
        assert_eq!(summary, full.summary(), "{}", r.name);
        let key = (summary.namespace.clone(), summary.name.clone());
        if latest.get(&key).is_none_or(|s| s.version < summary.version) {
            latest.insert(key, summary);
        }
    }
    for ver in ["helm3", "helm4"] {
        let text = std::fs::read_to_string(release_fixtures::fixtures_dir().join(format!("helm3/fx-{ver}-helm-list.json"))).unwrap();
        let list: Vec<Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(list.len(), 3);
        for item in list {
            let key = (item["namespace"].as_str().unwrap().to_owned(), item["name"].as_str().unwrap().to_owned());
            let s = &latest[&key];
            assert_eq!(item["revision"], s.version.to_string());
            assert_eq!(item["status"], s.status.as_str());
            assert_eq!(item["chart"], s.chart());
            assert_eq!(item["app_version"], s.app_version.as_str());
            // "2026-11-21 22:34:56.457826462 +0000 UTC" (Go's Time.String of last_deployed)
            let updated = item["updated"].as_str().unwrap();
            let rfc = s.last_deployed.to_rfc3339().unwrap();
            let (date, rest) = rfc.split_once('T').unwrap();
            assert_eq!(updated, format!("{date} {} +0000 UTC", rest.trim_end_matches('Z')), "{key:?}");
        }
    }
}

#[test]
fn helm3_shop_history_details() {
    for (ver, ns) in [("helm3", "fx-helm3"), ("helm4", "fx-helm4")] {
        let recs: Vec<_> = helm3_records().into_iter().filter(|r| r.file == format!("fx-{ver}-shop-secrets.yaml")).collect();
        let rels: Vec<helm3::Release> = recs.iter().map(|r| codec::decode_helm3(&r.payload, &limits()).unwrap()).collect();
        let statuses: Vec<Status> = rels.iter().map(|r| r.info.status.clone()).collect();
        assert_eq!(statuses, [Status::Superseded, Status::Superseded, Status::Failed, Status::Uninstalled]);
        for r in &rels {
            assert_eq!(r.namespace, ns);
            let meta = r.chart.as_ref().unwrap().metadata.as_ref().unwrap();
            assert_eq!((meta.name.as_str(), meta.version.as_str(), meta.app_version.as_str()), ("shop", "1.4.2", "2.7.0"));
            assert_eq!(meta.kube_version, ">=1.20.0-0");
            let pre = r.hooks.iter().find(|h| h.name == "shop-pre").unwrap();
            assert_eq!(pre.weight, -5);
            assert_eq!(pre.events, [HookEvent::PreInstall, HookEvent::PreUpgrade]);
            assert!(r.hooks.iter().any(|h| h.events == [HookEvent::Test]));
            assert!(r.chart.as_ref().unwrap().schema.as_deref().unwrap().starts_with(b"{"));
        }
        let v1 = &rels[0];
        let post = v1.hooks.iter().find(|h| h.name == "shop-post").unwrap();
        assert_eq!(post.last_run.phase, HookPhase::default());
        assert!(post.last_run.started_at.is_zero());
        let pre = v1.hooks.iter().find(|h| h.name == "shop-pre").unwrap();
        assert_eq!(pre.last_run.phase, HookPhase::Succeeded);
        if ver == "helm3" {
            assert_eq!(v1.info.deleted, Time::Zero(ZeroForm::EmptyString));
            assert!(v1.apply_method.is_empty());
            assert!(v1.chart.as_ref().unwrap().modtime.is_absent());
        } else {
            assert_eq!(v1.info.deleted, Time::Zero(ZeroForm::Absent));
            assert_eq!(v1.apply_method, "ssa");
            assert!(!v1.chart.as_ref().unwrap().modtime.is_zero());
            assert!(!v1.chart.as_ref().unwrap().templates()[0].modtime.is_zero());
        }
        // uninstalled with --keep-history has a deletion time
        assert!(!rels[3].info.deleted.is_zero());
        // the user's values (`helm get values`) are the config
        let values: Value = serde_json::from_str(
            &std::fs::read_to_string(release_fixtures::fixtures_dir().join(format!("helm3/fx-{ver}-shop-values.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(Value::Object(rels[3].config.clone()), values);
    }
}

#[test]
fn helm3_pluto_records_keep_nulls() {
    for r in helm3_records().into_iter().filter(|r| r.file.starts_with("pluto-")) {
        let rel = codec::decode_helm3(&r.payload, &limits()).unwrap();
        assert!(rel.chart.as_ref().unwrap().lock.is_none());
        assert!(rel.chart.as_ref().unwrap().schema.is_none());
        assert!(matches!(rel.info.first_deployed, Time::At { offset, .. } if offset.seconds() == -6 * 3600));
        let json = String::from_utf8(codec::helm3_json(&rel).unwrap()).unwrap();
        assert!(json.contains(r#""lock":null"#) && json.contains(r#""schema":null"#) && json.contains(r#""deleted":"""#));
        assert!(json.contains("-06:00\""));
    }
}

#[test]
fn helm3_unknown_fields_survive_encode() {
    let r = &helm3_records()[0];
    let mut v: Value = serde_json::from_slice(&raw_json(r)).unwrap();
    v["future_top"] = serde_json::json!({"x": [1, 2.5, "<&>"]});
    v["info"]["annotations"] = serde_json::json!({"a": "b"});
    v["chart"]["metadata"]["future_meta"] = Value::Bool(true);
    v["chart"]["templates"][0]["future_file"] = Value::from(1);
    v["hooks"][0]["last_run"]["future_exec"] = Value::from("x");
    let text = codec::encode_payload(&gojson::to_vec(&v).unwrap());
    let rel = codec::decode_helm3(text.as_bytes(), &limits()).unwrap();
    assert_eq!(rel.info.annotations().unwrap()["a"], "b");
    assert_eq!(codec::decode_helm3_summary(text.as_bytes(), &limits()).unwrap().annotations.unwrap()["a"], "b");
    let back = codec::decode_helm3_value(codec::encode_helm3(&rel).unwrap().as_bytes(), &limits()).unwrap();
    assert_eq!(back, v);
}

#[test]
fn go_json_escaping_in_payloads() {
    let mut rel = helm3::Release { name: "esc".into(), version: 1, namespace: "ns".into(), ..Default::default() };
    rel.info.status = Status::Deployed;
    rel.info.description = "a<b>&c\u{2028}\u{2029}".into();
    rel.config.insert("k<".into(), Value::from(1e21));
    let json = String::from_utf8(codec::helm3_json(&rel).unwrap()).unwrap();
    assert_eq!(
        json,
        r#"{"name":"esc","info":{"first_deployed":"","last_deployed":"","deleted":"","description":"a\u003cb\u003e\u0026c\u2028\u2029","status":"deployed"},"config":{"k\u003c":1e+21},"version":1,"namespace":"ns"}"#
    );
    let back = codec::decode_helm3(codec::encode_helm3(&rel).unwrap().as_bytes(), &limits()).unwrap();
    assert_eq!(back, rel);
}

// ---------------------------------------------------------------------------------------------
// Helm 2

#[test]
fn helm2_every_record_decodes_and_matches_labels() {
    let recs = helm2_records();
    assert_eq!(recs.len(), 4 + 4 + 2 + 3 + 2 + 3, "{:?}", recs.iter().map(|r| &r.name).collect::<Vec<_>>());
    for r in &recs {
        let Some(rel) = decode_helm2_unless_broken(r) else { continue };
        assert_ne!(r.secret_type.as_deref(), Some(codec::HELM3_SECRET_TYPE));
        let labels = codec::parse_helm2_labels(&r.labels);
        assert!(labels.is_tiller(), "{}", r.name);
        assert_eq!(labels.name.as_deref(), Some(rel.name.as_str()));
        assert_eq!(labels.status.as_deref(), Some(rel.status_name()), "{}", r.name);
        if let Some(v) = labels.version {
            assert_eq!(v, rel.version);
        }
        assert_eq!(codec::helm2_object_name(&rel.name, rel.version), r.name);
        // Re-encoding and decoding gives the same message.
        let text = codec::encode_helm2(&rel);
        assert!(text.starts_with("H4sIAAAAAAAC/"));
        assert_eq!(codec::decode_helm2(text.as_bytes(), &limits()).unwrap(), rel);
    }
}

fn helm2_by_name(name: &str) -> (Record, helm2::Release) {
    let r = helm2_records().into_iter().find(|r| r.name == name).unwrap_or_else(|| panic!("{name}"));
    let rel = codec::decode_helm2(&r.payload, &limits()).unwrap();
    (r, rel)
}

#[test]
fn helm2_synthetic_histories() {
    let shop: Vec<helm2::Release> = (1..=4).map(|v| helm2_by_name(&format!("shop.v{v}")).1).collect();
    let codes: Vec<&str> = shop.iter().map(helm2::Release::status_name).collect();
    assert_eq!(codes, ["SUPERSEDED", "SUPERSEDED", "FAILED", "DEPLOYED"]);
    for (i, r) in shop.iter().enumerate() {
        assert_eq!(r.name, "shop");
        assert_eq!(r.version, i as i32 + 1);
        assert_eq!(r.namespace, "legacy-shop");
        let chart = r.chart.as_ref().unwrap();
        assert_eq!(chart.dependencies.len(), 1, "one subchart");
        assert_eq!(chart.dependencies[0].metadata.as_ref().unwrap().name, "cache");
    }
    let v4 = &shop[3];
    assert_eq!(v4.info.as_ref().unwrap().description, "Rollback to 2");
    let suite = v4.info.as_ref().unwrap().status.as_ref().unwrap().last_test_suite_run.as_ref().unwrap();
    assert!(suite.results.iter().any(|t| t.name == "shop-test-connection" && t.status == helm2::TestRunStatus::Success as i32));
    let pre = v4.hooks.iter().find(|h| h.name == "shop-pre").unwrap();
    assert_eq!(pre.weight, -5);
    assert_eq!(pre.events, [helm2::HookEvent::PreInstall as i32, helm2::HookEvent::PreUpgrade as i32]);
    assert_eq!(pre.delete_policies, [helm2::HookDeletePolicy::BeforeHookCreation as i32]);

    let (_, stuck) = helm2_by_name("stuck.v2");
    assert_eq!(stuck.status_name(), "PENDING_UPGRADE");
    assert_eq!(stuck.namespace, "legacy-stuck");
    let (_, gone) = helm2_by_name("gone.v1");
    assert_eq!(gone.status_name(), "DELETED");
    assert!(gone.info.as_ref().unwrap().deleted.is_some());

    let (rec, cart) = helm2_by_name("cart.v2");
    assert_eq!(rec.kind, "Secret");
    assert_eq!(rec.namespace, "tiller-apps");
    assert_eq!(cart.namespace, "legacy-cart");

    let sparse: Vec<i32> = helm2_records()
        .iter()
        .filter_map(|r| codec::parse_helm2_object_name(&r.name).filter(|(n, _)| *n == "myproject-production").map(|(_, v)| v))
        .collect();
    assert_eq!(sparse, [3, 7]);
    let (_, p7) = helm2_by_name("myproject-production.v7");
    assert_eq!((p7.version, p7.namespace.as_str()), (7, "myproject-production"));
}

#[test]
fn helm2_damaged_records() {
    let recs = helm2_records();
    let broken = recs.iter().find(|r| r.name == "broken.v1").unwrap();
    let e = codec::decode_helm2(&broken.payload, &limits()).unwrap_err();
    assert!(matches!(e, CodecError::Gzip(GzipFault::CorruptData | GzipFault::InvalidHeader | GzipFault::UnexpectedEof)), "{e:?}");
    eprintln!("{}/{}: {e}", broken.namespace, broken.name);

    let (rec, nolabel) = helm2_by_name("nolabel.v1");
    assert!(!rec.labels.contains_key("VERSION"));
    assert_eq!(codec::parse_helm2_labels(&rec.labels).version, None);
    assert_eq!(nolabel.version, 1);
    assert_eq!(nolabel.name, "nolabel");

    let (rec, raw) = helm2_by_name("rawproto.v1");
    assert!(!codec::is_gzip(&codec::decode_base64(&rec.payload).unwrap()));
    assert_eq!((raw.name.as_str(), raw.version), ("rawproto", 1));
}

#[test]
fn helm2_genuine_tiller_records() {
    let (_, blog) = helm2_by_name("blog.v1");
    assert_eq!(blog.status_name(), "SUPERSEDED");
    let chart = blog.chart.as_ref().unwrap();
    let meta = chart.metadata.as_ref().unwrap();
    assert_eq!((meta.name.as_str(), meta.version.as_str(), meta.api_version.as_str()), ("ghost", "1.24.8", ""));
    assert!(chart.templates.iter().any(|t| t.data.is_empty()), "a template with no data");

    let recs = helm2_records();
    let zebu: Vec<&Record> = recs.iter().filter(|r| r.name == "invincible-zebu.v1").collect();
    assert_eq!(zebu.len(), 2);
    let kinds: Vec<&str> = zebu.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["ConfigMap", "Secret"]);
    let a = codec::decode_helm2(&zebu[0].payload, &limits()).unwrap();
    let b = codec::decode_helm2(&zebu[1].payload, &limits()).unwrap();
    assert_eq!(a, b, "same record in both layouts");
    assert_eq!(a.config.as_ref().unwrap().raw, "{}\n");
    let meta = a.chart.as_ref().unwrap().metadata.as_ref().unwrap();
    assert_eq!((meta.name.as_str(), meta.version.as_str()), ("metrics-server", "2.10.1"));
    assert!(a.hooks.iter().any(|h| h.events.contains(&(helm2::HookEvent::ReleaseTestSuccess as i32))));
    assert!(!a.chart.as_ref().unwrap().files.is_empty());
    assert!(a.info.as_ref().unwrap().first_deployed.unwrap().to_time().is_some());

    let (_, bat) = helm2_by_name("lunging-bat.v1");
    assert_eq!(bat.status_name(), "DEPLOYED");
}

// ---------------------------------------------------------------------------------------------
// Hostile input

#[test]
fn deeply_nested_json_is_refused() {
    let deep = format!("{{\"config\":{{\"a\":{}1{}}}}}", "[".repeat(10_000), "]".repeat(10_000));
    let text = codec::encode_payload(deep.as_bytes());
    let e = codec::decode_helm3(text.as_bytes(), &limits()).unwrap_err();
    assert!(e.to_string().contains("recursion limit"), "{e}");
    // The summary skips `config` without recursing (serde_json ignores values iteratively), so even
    // very deep nesting there is harmless and does not fail the listing.
    let deeper = format!("{{\"name\":\"x\",\"config\":{{\"a\":{}1{}}},\"version\":2}}", "[".repeat(200_000), "]".repeat(200_000));
    let s = codec::decode_helm3_summary(codec::encode_payload(deeper.as_bytes()).as_bytes(), &limits()).unwrap();
    assert_eq!((s.name.as_str(), s.version), ("x", 2));
}

/// Helm's `Release.Chart` is a `*chart.Chart` tagged `json:"chart,omitempty"` (Helm 3 `pkg/release`, Helm 4
/// `pkg/release/v1`): a release without a chart has no `chart` key at all, whether the record had none or
/// had `"chart": null` (Go decodes both to a nil pointer). Re-encoding must not invent an empty chart.
#[test]
fn release_without_chart_has_no_chart_key() {
    let r = &helm3_records()[0];
    let mut want: Value = serde_json::from_slice(&raw_json(r)).unwrap();
    want.as_object_mut().unwrap().shift_remove("chart").expect("a helm-written record has a chart");
    for chart in [None, Some(Value::Null)] {
        let mut v = want.clone();
        if let Some(c) = chart {
            v.as_object_mut().unwrap().insert("chart".into(), c);
        }
        let text = codec::encode_payload(&gojson::to_vec(&v).unwrap());
        let rel = codec::decode_helm3(text.as_bytes(), &limits()).unwrap();
        assert!(rel.chart.is_none());
        let json = codec::helm3_json(&rel).unwrap();
        assert!(!String::from_utf8_lossy(&json).contains(r#""chart""#), "{}", String::from_utf8_lossy(&json));
        assert_eq!(serde_json::from_slice::<Value>(&json).unwrap(), want);
    }
}
