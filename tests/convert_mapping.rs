//! Helm 2 → Helm 3 conversion rules: genuine Tiller records, rename/move options, the status and hook
//! mapping tables, hook last_run, values parsing and every note.

mod release_fixtures;

use std::collections::BTreeMap;

use kubectl_werf::release::convert::{
    self, Conversion, ConvertError, ConvertOptions, NoteKind, ValuesSource, convert, hook_event_from_helm2, status_from_helm2,
};
use kubectl_werf::release::helm2::{self, HookDeletePolicy as P2, HookEvent as E2, StatusCode as S2, TestRunStatus as T2};
use kubectl_werf::release::helm3;
use kubectl_werf::storage::codec::{self, DecodeLimits};
use serde_json::{Value, json};

fn limits() -> DecodeLimits {
    DecodeLimits::default()
}

fn helm2_by_name(name: &str) -> Vec<helm2::Release> {
    let mut recs = release_fixtures::load("helm2");
    recs.extend(release_fixtures::load("helm2-synthetic"));
    let out: Vec<helm2::Release> =
        recs.iter().filter(|r| r.name == name).map(|r| codec::decode_helm2(&r.payload, &limits()).unwrap()).collect();
    assert!(!out.is_empty(), "{name}");
    out
}

/// The stored JSON (as bytes and as a value) of a conversion.
fn stored(conv: &Conversion) -> (String, Value) {
    let text = codec::encode_helm3(&conv.release).unwrap();
    let back = codec::decode_helm3(text.as_bytes(), &limits()).unwrap();
    assert_eq!(back, conv.release);
    let json = String::from_utf8(codec::helm3_json(&conv.release).unwrap()).unwrap();
    (json, codec::decode_helm3_value(text.as_bytes(), &limits()).unwrap())
}

fn ts(seconds: i64, nanos: i32) -> Option<helm2::Timestamp> {
    Some(helm2::Timestamp { seconds, nanos })
}

/// A small valid Helm 2 release.
fn base() -> helm2::Release {
    helm2::Release {
        name: "rel".into(),
        namespace: "ns".into(),
        version: 1,
        manifest: "---\n# Source: c/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n".into(),
        info: Some(helm2::Info {
            status: Some(helm2::Status { code: S2::Deployed as i32, notes: "hello".into(), ..Default::default() }),
            first_deployed: ts(1_580_000_000, 5),
            last_deployed: ts(1_580_000_100, 0),
            deleted: None,
            description: "Install complete".into(),
        }),
        chart: Some(helm2::Chart {
            metadata: Some(helm2::Metadata { name: "c".into(), version: "0.1.0".into(), api_version: "v1".into(), ..Default::default() }),
            templates: vec![helm2::Template { name: "templates/cm.yaml".into(), data: b"kind: ConfigMap".to_vec() }],
            values: Some(helm2::Config { raw: "a: 1\n".into(), ..Default::default() }),
            ..Default::default()
        }),
        config: Some(helm2::Config { raw: "{}\n".into(), ..Default::default() }),
        hooks: vec![],
    }
}

fn conv(r: &helm2::Release) -> Conversion {
    convert(r, &ConvertOptions::default()).unwrap()
}

fn texts(c: &Conversion, kind: NoteKind) -> Vec<String> {
    c.notes_of(kind).map(|n| n.text.clone()).collect()
}

fn hook(name: &str, events: &[i32]) -> helm2::Hook {
    helm2::Hook {
        name: name.into(),
        kind: "Job".into(),
        path: format!("c/templates/{name}.yaml"),
        manifest: format!("kind: Job\nmetadata:\n  name: {name}\n"),
        events: events.to_vec(),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Genuine Tiller records

#[test]
fn genuine_blog_with_empty_api_version_and_a_template_without_data() {
    let [blog] = &helm2_by_name("blog.v1")[..] else { panic!() };
    let c = conv(blog);
    let (json, v) = stored(&c);
    assert_eq!(v["info"]["status"], "superseded");
    assert_eq!(v["namespace"], json!(blog.namespace));
    let meta = v["chart"]["metadata"].as_object().unwrap();
    assert!(!meta.contains_key("apiVersion"), "empty apiVersion is left out, as Go's omitempty does");
    assert_eq!(meta["name"], "ghost");
    assert_eq!(meta["version"], "1.24.8");
    assert_eq!(meta["type"], "application");
    assert_eq!(meta["maintainers"], json!([{"name": "Fabian Müller", "email": "fabian.mueller@example.com"}]));
    let templates = v["chart"]["templates"].as_array().unwrap();
    assert_eq!(templates.len(), blog.chart.as_ref().unwrap().templates.len());
    let empty = blog.chart.as_ref().unwrap().templates.iter().position(|t| t.data.is_empty()).unwrap();
    assert_eq!(templates[empty]["data"], Value::Null, "no data → null, as Go writes a nil []byte");
    for (t2, t3) in blog.chart.as_ref().unwrap().templates.iter().zip(templates) {
        assert_eq!(t3["name"], json!(t2.name));
        if !t2.data.is_empty() {
            assert_eq!(t3["data"], json!(codec::encode_base64(&t2.data)));
        }
    }
    assert!(json.contains(r#""deleted":"""#), "zero time written as \"\"");
    assert_eq!(texts(&c, NoteKind::ChartMetadata).len(), 2, "{:#?}", c.notes);
    assert!(texts(&c, NoteKind::ChartMetadata).iter().any(|t| t.contains("apiVersion is empty")));
}

#[test]
fn genuine_zebu_test_hook_files_and_empty_config() {
    let zebu = helm2_by_name("invincible-zebu.v1");
    assert_eq!(zebu.len(), 2, "ConfigMap and Secret layouts");
    let c = conv(&zebu[0]);
    let (json, v) = stored(&c);
    assert_eq!(json, stored(&conv(&zebu[1])).0, "same JSON from both layouts");
    assert!(v.get("config").is_none(), "config.raw \"{{}}\\n\" → empty map → left out (omitempty)");
    assert_eq!(v["info"]["status"], "deployed");
    assert_eq!(v["info"]["description"], "Install complete");
    assert_eq!(v["info"]["first_deployed"], "2020-04-02T21:24:40.6135648Z");
    assert!(v["info"]["notes"].as_str().unwrap().starts_with("The metric server has been deployed."));
    // Test hook without a suite result: never ran.
    let hooks = v["hooks"].as_array().unwrap();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["events"], json!(["test"]));
    assert_eq!(hooks[0]["kind"], "Pod");
    assert_eq!(hooks[0]["last_run"], json!({"started_at": "", "completed_at": "", "phase": ""}));
    assert!(hooks[0].get("weight").is_none() && hooks[0].get("delete_policies").is_none());
    // Files: path → name, bytes → base64 data.
    let files2 = &zebu[0].chart.as_ref().unwrap().files;
    let files3 = v["chart"]["files"].as_array().unwrap();
    assert_eq!(files3.len(), files2.len());
    for (f2, f3) in files2.iter().zip(files3) {
        assert_eq!(f3["name"], json!(f2.type_url));
        assert_eq!(f3["data"], json!(codec::encode_base64(&f2.value)));
    }
    assert!(files3.iter().any(|f| f["name"] == "ci/ci-values.yaml"));
    // Chart values parsed into a map, written with sorted keys.
    let values = v["chart"]["values"].as_object().unwrap();
    assert!(!values.is_empty());
    let keys: Vec<&String> = values.keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    // Helm's key order and the shape of every part.
    let order = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<String>>();
    assert_eq!(order(&v), ["name", "info", "chart", "manifest", "hooks", "version", "namespace"]);
    assert_eq!(order(&v["info"]), ["first_deployed", "last_deployed", "deleted", "description", "status", "notes"]);
    assert_eq!(order(&v["chart"]), ["metadata", "lock", "templates", "values", "schema", "files"]);
    assert_eq!(order(&hooks[0]), ["name", "kind", "path", "manifest", "events", "last_run"]);
    assert_eq!(order(&hooks[0]["last_run"]), ["started_at", "completed_at", "phase"]);
    assert_eq!(
        order(&v["chart"]["metadata"]),
        ["name", "home", "sources", "version", "description", "keywords", "maintainers", "apiVersion", "appVersion", "type"]
    );
    assert!(json.starts_with(r#"{"name":"invincible-zebu","info":{"first_deployed":"2020-04-02T21:24:40.6135648Z","#), "{}", &json[..120]);
    assert!(json.contains(r#""lock":null,"#) && json.contains(r#""schema":null,"#));
    // Nothing was dropped but what every Helm 2 chart loses.
    assert_eq!(texts(&c, NoteKind::ChartMetadata), ["chart.metadata.type set to application (every Helm 2 chart is an application chart)"]);
    assert_eq!(c.notes.len(), 1, "{:#?}", c.notes);
}

#[test]
fn genuine_lunging_bat_deployed() {
    let [bat] = &helm2_by_name("lunging-bat.v1")[..] else { panic!() };
    let (_, v) = stored(&conv(bat));
    assert_eq!(v["info"]["status"], "deployed");
    assert_eq!(v["version"], 1);
    assert_eq!(v["manifest"], json!(bat.manifest));
}

// ---------------------------------------------------------------------------------------------
// Options

#[test]
fn rename_and_move() {
    let r = base();
    let opts = ConvertOptions { target_name: Some("renamed".into()), target_namespace: Some("other".into()) };
    let c = convert(&r, &opts).unwrap();
    assert_eq!((c.release.name.as_str(), c.release.namespace.as_str()), ("renamed", "other"));
    assert_eq!(c.release.manifest, r.manifest, "manifest unchanged");
    assert_eq!(texts(&c, NoteKind::Renamed), [r#"release renamed from "rel" to "renamed""#]);
    assert_eq!(texts(&c, NoteKind::Moved), [r#"release moved from namespace "ns" to "other" (manifest and notes unchanged)"#]);
    assert_eq!(codec::helm3_object_name(&c.release.name, c.release.version), "sh.helm.release.v1.renamed.v1");

    // Same as the source: no notes.
    let same = ConvertOptions { target_name: Some("rel".into()), target_namespace: Some("ns".into()) };
    let c = convert(&r, &same).unwrap();
    assert_eq!(c.notes_of(NoteKind::Renamed).count() + c.notes_of(NoteKind::Moved).count(), 0);

    // Only one of them.
    let c = convert(&r, &ConvertOptions { target_namespace: Some("x".into()), ..Default::default() }).unwrap();
    assert_eq!((c.release.name.as_str(), c.release.namespace.as_str()), ("rel", "x"));

    // A synthetic fixture moved and renamed: nothing else changes.
    let shop = &helm2_by_name("shop.v2")[0];
    let plain = conv(shop);
    let moved = convert(shop, &ConvertOptions { target_name: Some("shop2".into()), target_namespace: Some("fx".into()) }).unwrap();
    let mut expected = plain.release.clone();
    expected.name = "shop2".into();
    expected.namespace = "fx".into();
    assert_eq!(moved.release, expected);
    assert_eq!(moved.notes.len(), plain.notes.len() + 2);
}

#[test]
fn invalid_names_namespaces_and_revisions_are_errors() {
    let r = base();
    let e = convert(&r, &ConvertOptions { target_name: Some("Bad_Name".into()), ..Default::default() }).unwrap_err();
    assert!(matches!(e, ConvertError::InvalidName(_)), "{e:?}");
    assert!(e.to_string().starts_with("invalid release name \"Bad_Name\""), "{e}");
    let e = convert(&r, &ConvertOptions { target_name: Some("x".repeat(54)), ..Default::default() }).unwrap_err();
    assert!(matches!(e, ConvertError::InvalidName(_)), "{e:?}");
    let e = convert(&r, &ConvertOptions { target_namespace: Some("a.b".into()), ..Default::default() }).unwrap_err();
    assert!(e.to_string().starts_with("invalid namespace name \"a.b\""), "{e}");

    // Tiller accepted names Helm 3 cannot store; a target name fixes it.
    let mut upper = base();
    upper.name = "My_App".into();
    assert!(matches!(conv_err(&upper), ConvertError::InvalidName(_)));
    let c = convert(&upper, &ConvertOptions { target_name: Some("my-app".into()), ..Default::default() }).unwrap();
    assert_eq!(c.release.name, "my-app");

    let mut nameless = base();
    nameless.name.clear();
    assert_eq!(conv_err(&nameless), ConvertError::MissingName);
    let mut no_ns = base();
    no_ns.namespace.clear();
    assert_eq!(conv_err(&no_ns), ConvertError::MissingNamespace);
    assert!(convert(&no_ns, &ConvertOptions { target_namespace: Some("ns".into()), ..Default::default() }).is_ok());
    let mut rev0 = base();
    rev0.version = 0;
    assert_eq!(conv_err(&rev0), ConvertError::InvalidRevision(0));
}

fn conv_err(r: &helm2::Release) -> ConvertError {
    convert(r, &ConvertOptions::default()).unwrap_err()
}

// ---------------------------------------------------------------------------------------------
// Status

#[test]
fn status_mapping_for_every_code() {
    let table = [
        (S2::Unknown, "unknown"),
        (S2::Deployed, "deployed"),
        (S2::Deleted, "uninstalled"),
        (S2::Superseded, "superseded"),
        (S2::Failed, "failed"),
        (S2::Deleting, "uninstalling"),
        (S2::PendingInstall, "pending-install"),
        (S2::PendingUpgrade, "pending-upgrade"),
        (S2::PendingRollback, "pending-rollback"),
    ];
    assert_eq!(table.len(), 9, "every hapi Status.Code");
    for (code, name) in table {
        assert_eq!(status_from_helm2(code as i32).unwrap().as_str(), name);
        let mut r = base();
        r.info.as_mut().unwrap().status.as_mut().unwrap().code = code as i32;
        let c = conv(&r);
        let (_, v) = stored(&c);
        assert_eq!(v["info"]["status"], name);
        // The Helm 3 label value is the same string.
        assert!(!helm3::Status::from(name).is_other());
        let notes = texts(&c, NoteKind::Status);
        match code {
            S2::Deleted => assert_eq!(notes, ["status DELETED is called uninstalled in Helm 3"]),
            S2::Deleting => assert_eq!(notes, ["status DELETING is called uninstalling in Helm 3"]),
            _ => assert!(notes.is_empty(), "{notes:?}"),
        }
    }
    // Out of range: unknown, noted.
    assert_eq!(status_from_helm2(99), None);
    let mut r = base();
    r.info.as_mut().unwrap().status.as_mut().unwrap().code = 99;
    let c = conv(&r);
    assert_eq!(c.release.info.status, helm3::Status::Unknown);
    assert_eq!(texts(&c, NoteKind::Status), ["status code 99 is out of range; stored as unknown"]);
    // No info at all: unknown status, zero times.
    let mut r = base();
    r.info = None;
    let (json, _) = stored(&conv(&r));
    assert!(json.contains(r#""info":{"first_deployed":"","last_deployed":"","deleted":"","status":"unknown"}"#), "{json}");
}

#[test]
fn info_times_description_notes_and_resources() {
    let mut r = base();
    {
        let info = r.info.as_mut().unwrap();
        info.deleted = ts(0, 0);
        info.status.as_mut().unwrap().resources = "==> v1/ConfigMap\nNAME  DATA  AGE\ncm    1     1s\n".into();
    }
    let c = conv(&r);
    let (_, v) = stored(&c);
    assert_eq!(v["info"]["first_deployed"], "2020-01-26T00:53:20.000000005Z");
    assert_eq!(v["info"]["last_deployed"], "2020-01-26T00:55:00Z");
    assert_eq!(v["info"]["deleted"], "", "the all-zero timestamp is Helm 3's zero time");
    assert_eq!(v["info"]["description"], "Install complete");
    assert_eq!(v["info"]["notes"], "hello");
    assert!(v["info"].get("resources").is_none(), "Helm 3 never stores resources");
    assert_eq!(texts(&c, NoteKind::ResourcesDropped).len(), 1);
    assert!(texts(&c, NoteKind::ResourcesDropped)[0].starts_with("status resources (3 lines of text) not stored"));

    let mut bad = base();
    bad.info.as_mut().unwrap().last_deployed = ts(i64::MAX / 2, 0);
    let e = conv_err(&bad);
    assert!(matches!(&e, ConvertError::Timestamp { field, .. } if field == "info.last_deployed"), "{e:?}");
}

// ---------------------------------------------------------------------------------------------
// Hooks

#[test]
fn hook_event_mapping_for_every_event() {
    let table: [(E2, Option<&str>); 12] = [
        (E2::Unknown, None),
        (E2::PreInstall, Some("pre-install")),
        (E2::PostInstall, Some("post-install")),
        (E2::PreDelete, Some("pre-delete")),
        (E2::PostDelete, Some("post-delete")),
        (E2::PreUpgrade, Some("pre-upgrade")),
        (E2::PostUpgrade, Some("post-upgrade")),
        (E2::PreRollback, Some("pre-rollback")),
        (E2::PostRollback, Some("post-rollback")),
        (E2::ReleaseTestSuccess, Some("test")),
        (E2::ReleaseTestFailure, Some("test")),
        (E2::CrdInstall, None),
    ];
    for (event, name) in table {
        assert_eq!(hook_event_from_helm2(event as i32).as_ref().map(helm3::HookEvent::as_str), name, "{event:?}");
        let mut r = base();
        r.hooks = vec![hook("h", &[event as i32])];
        let c = conv(&r);
        let (_, v) = stored(&c);
        let h = &v["hooks"][0];
        assert_eq!(h["name"], "h", "the hook is always kept");
        match name {
            Some(n) => assert_eq!(h["events"], json!([n])),
            None => assert!(h.get("events").is_none(), "{event:?}: no events left"),
        }
        let dropped = texts(&c, NoteKind::HookEventDropped);
        let changed = texts(&c, NoteKind::HookEventChanged);
        match event {
            E2::CrdInstall => assert_eq!(
                dropped,
                [
                    "hook h: crd-install event has no Helm 3 equivalent; kept with no events, so Helm 3 never runs or deletes it (Helm 3 installs CRDs from the chart's crds/ directory and never deletes them)"
                ]
            ),
            E2::Unknown => assert_eq!(dropped, ["hook h: event UNKNOWN dropped (Helm 3 has no such event)"]),
            _ => assert!(dropped.is_empty()),
        }
        if event == E2::ReleaseTestFailure {
            assert_eq!(changed, ["hook h: release-test-failure becomes test; Helm 3 expects the test to succeed"]);
        } else {
            assert!(changed.is_empty());
        }
    }
    // Out of range.
    assert_eq!(hook_event_from_helm2(42), None);
    let mut r = base();
    r.hooks = vec![hook("h", &[E2::PreInstall as i32, 42])];
    let c = conv(&r);
    assert_eq!(c.release.hooks[0].events, [helm3::HookEvent::PreInstall]);
    assert_eq!(texts(&c, NoteKind::HookEventDropped), ["hook h: out-of-range event 42 dropped (Helm 3 has no such event)"]);
}

#[test]
fn crd_install_with_other_events_keeps_them_and_test_events_collapse() {
    let mut r = base();
    r.hooks = vec![
        hook("crds", &[E2::CrdInstall as i32, E2::PreUpgrade as i32, E2::PreInstall as i32]),
        hook("t", &[E2::ReleaseTestSuccess as i32, E2::ReleaseTestFailure as i32]),
    ];
    let c = conv(&r);
    let (_, v) = stored(&c);
    assert_eq!(v["hooks"][0]["events"], json!(["pre-upgrade", "pre-install"]), "order kept");
    assert_eq!(v["hooks"][1]["events"], json!(["test"]), "test once");
    assert_eq!(
        texts(&c, NoteKind::HookEventDropped),
        [
            "hook crds: crd-install event has no Helm 3 equivalent; dropped, the hook keeps its other events (Helm 3 installs CRDs from the chart's crds/ directory)"
        ]
    );
    assert_eq!(c.notes_of(NoteKind::HookEventChanged).count(), 1);
}

#[test]
fn hook_fields_delete_policies_weight_and_timeout() {
    let mut h = hook("h", &[E2::PreInstall as i32]);
    h.weight = -5;
    h.delete_policies = vec![P2::BeforeHookCreation as i32, P2::Succeeded as i32, P2::Failed as i32, 7];
    h.delete_timeout = 60;
    let mut r = base();
    r.hooks = vec![h.clone()];
    let c = conv(&r);
    let (_, v) = stored(&c);
    let h3 = &v["hooks"][0];
    assert_eq!(h3["name"], "h");
    assert_eq!(h3["kind"], "Job");
    assert_eq!(h3["path"], "c/templates/h.yaml");
    assert_eq!(h3["manifest"], json!(h.manifest));
    assert_eq!(h3["weight"], -5);
    assert_eq!(h3["delete_policies"], json!(["before-hook-creation", "hook-succeeded", "hook-failed"]));
    assert_eq!(texts(&c, NoteKind::HookDeletePolicyDropped), ["hook h: out-of-range delete policy 7 dropped"]);
    assert_eq!(texts(&c, NoteKind::HookDeleteTimeoutDropped), ["hook h: delete timeout 60s dropped (Helm 3 has no hook-delete-timeout)"]);
    assert!(h3.get("output_log_policies").is_none());
    for (p, name) in [(P2::Succeeded, "hook-succeeded"), (P2::Failed, "hook-failed"), (P2::BeforeHookCreation, "before-hook-creation")] {
        assert_eq!(convert::hook_delete_policy_from_helm2(p as i32).unwrap().as_str(), name);
    }
}

fn suite(results: Vec<helm2::TestRun>) -> helm2::TestSuite {
    helm2::TestSuite { started_at: ts(1_600_000_000, 0), completed_at: ts(1_600_000_010, 0), results }
}

fn run(name: &str, status: T2, info: &str) -> helm2::TestRun {
    helm2::TestRun {
        name: name.into(),
        status: status as i32,
        info: info.into(),
        started_at: ts(1_600_000_001, 500),
        completed_at: ts(1_600_000_002, 0),
    }
}

#[test]
fn hook_last_run_mapping() {
    let mut pre = hook("pre", &[E2::PreInstall as i32]);
    pre.last_run = ts(1_600_000_000, 123_000_000);
    let never = hook("never", &[E2::PostUpgrade as i32]);
    let ok = hook("t-ok", &[E2::ReleaseTestSuccess as i32]);
    let failed = hook("t-failed", &[E2::ReleaseTestSuccess as i32]);
    let running = hook("t-running", &[E2::ReleaseTestSuccess as i32]);
    let unknown = hook("t-unknown", &[E2::ReleaseTestFailure as i32]);
    let mut no_result = hook("t-none", &[E2::ReleaseTestSuccess as i32]);
    no_result.last_run = ts(1_600_000_005, 0);
    let untested = hook("t-untested", &[E2::ReleaseTestSuccess as i32]);
    let mut r = base();
    r.hooks = vec![pre, never, ok, failed, running, unknown, no_result, untested];
    r.info.as_mut().unwrap().status.as_mut().unwrap().last_test_suite_run = Some(suite(vec![
        run("t-ok", T2::Success, ""),
        run("t-failed", T2::Failure, "pod t-failed failed"),
        run("t-running", T2::Running, ""),
        run("t-unknown", T2::Unknown, ""),
        run("orphan", T2::Success, ""),
    ]));
    let c = conv(&r);
    let (_, v) = stored(&c);
    let last_run = |i: usize| v["hooks"][i]["last_run"].clone();
    let t = |s: &str, c: &str, p: &str| json!({"started_at": s, "completed_at": c, "phase": p});
    assert_eq!(last_run(0), t("2020-09-13T12:26:40.123Z", "2020-09-13T12:26:40.123Z", "Succeeded"));
    assert_eq!(last_run(1), t("", "", ""));
    let (s, e) = ("2020-09-13T12:26:41.0000005Z", "2020-09-13T12:26:42Z");
    assert_eq!(last_run(2), t(s, e, "Succeeded"));
    assert_eq!(last_run(3), t(s, e, "Failed"));
    assert_eq!(last_run(4), t(s, e, "Running"));
    assert_eq!(last_run(5), t(s, e, "Unknown"));
    assert_eq!(last_run(6), t("2020-09-13T12:26:45Z", "2020-09-13T12:26:45Z", "Succeeded"), "falls back to last_run");
    assert_eq!(last_run(7), t("", "", ""));

    let last = texts(&c, NoteKind::HookLastRun);
    assert_eq!(last.len(), 2, "{last:#?}");
    assert_eq!(
        last[0],
        "hook pre: Helm 2 records only when it completed successfully (2020-09-13T12:26:40.123Z); stored as started and completed then, phase Succeeded"
    );
    let suite_notes = texts(&c, NoteKind::TestSuite);
    assert_eq!(
        suite_notes,
        [
            "last test suite run (5 results, started 2020-09-13T12:26:40Z, completed 2020-09-13T12:26:50Z): suite times not stored; each result is kept as its test hook's last_run",
            "test result \"t-failed\" (FAILURE) message dropped: pod t-failed failed",
            "test result \"orphan\" (SUCCESS) has no matching test hook; dropped",
        ]
    );
}

#[test]
fn a_test_result_does_not_apply_to_a_non_test_hook_of_the_same_name() {
    let mut h = hook("same", &[E2::PostInstall as i32]);
    h.last_run = ts(1_600_000_000, 0);
    let mut r = base();
    r.hooks = vec![h];
    r.info.as_mut().unwrap().status.as_mut().unwrap().last_test_suite_run = Some(suite(vec![run("same", T2::Failure, "")]));
    let c = conv(&r);
    assert_eq!(c.release.hooks[0].last_run.phase, helm3::HookPhase::Succeeded);
    assert!(texts(&c, NoteKind::TestSuite).iter().any(|t| t.contains("\"same\" (FAILURE) has no matching test hook")));
}

// ---------------------------------------------------------------------------------------------
// Chart, values

#[test]
fn chart_metadata_field_by_field() {
    let mut r = base();
    r.chart.as_mut().unwrap().metadata = Some(helm2::Metadata {
        name: "c".into(),
        home: "https://h".into(),
        sources: vec!["s1".into(), "s2".into()],
        version: "1.2.3".into(),
        description: "d".into(),
        keywords: vec!["k".into()],
        maintainers: vec![helm2::Maintainer { name: "m".into(), email: "e@x".into(), url: "https://u".into() }],
        engine: "gotpl".into(),
        icon: "https://i".into(),
        api_version: "v1".into(),
        condition: "c.enabled".into(),
        tags: "t1,t2".into(),
        app_version: "9.9".into(),
        deprecated: true,
        tiller_version: ">=2.10.0".into(),
        annotations: BTreeMap::from([("a/b".into(), "v".into())]),
        kube_version: ">=1.10".into(),
    });
    let c = conv(&r);
    let (json, v) = stored(&c);
    assert_eq!(
        v["chart"]["metadata"],
        json!({"name": "c", "home": "https://h", "sources": ["s1", "s2"], "version": "1.2.3", "description": "d",
            "keywords": ["k"], "maintainers": [{"name": "m", "email": "e@x", "url": "https://u"}], "icon": "https://i",
            "apiVersion": "v1", "condition": "c.enabled", "tags": "t1,t2", "appVersion": "9.9", "deprecated": true,
            "annotations": {"a/b": "v"}, "kubeVersion": "\u{3e}=1.10", "type": "application"})
    );
    assert!(json.contains(r#""kubeVersion":"\u003e=1.10""#), "Go's HTML-safe escaping");
    assert_eq!(
        texts(&c, NoteKind::ChartFieldDropped),
        [
            "chart.metadata.engine \"gotpl\" dropped (Helm 3 has no engine field)",
            "chart.metadata.tillerVersion \">=2.10.0\" dropped (no Tiller in Helm 3)"
        ]
    );
}

#[test]
fn subcharts_are_dropped_with_a_note() {
    let mut r = base();
    let nested = helm2::Chart {
        metadata: Some(helm2::Metadata { name: "redis".into(), version: "1.0.0".into(), ..Default::default() }),
        templates: vec![helm2::Template { name: "templates/a.yaml".into(), data: b"a".to_vec() }; 2],
        ..Default::default()
    };
    let cache = helm2::Chart {
        metadata: Some(helm2::Metadata { name: "cache".into(), version: "0.1.0".into(), ..Default::default() }),
        templates: vec![helm2::Template { name: "templates/x.yaml".into(), data: b"x".to_vec() }],
        files: vec![helm2::Any { type_url: "README.md".into(), value: b"r".to_vec() }],
        dependencies: vec![nested],
        ..Default::default()
    };
    let solo = helm2::Chart {
        metadata: Some(helm2::Metadata { name: "solo".into(), version: "2.0.0".into(), ..Default::default() }),
        templates: vec![helm2::Template { name: "templates/x.yaml".into(), data: b"x".to_vec() }],
        ..Default::default()
    };
    r.chart.as_mut().unwrap().dependencies = vec![cache, solo];
    let c = conv(&r);
    let (json, _) = stored(&c);
    assert!(!json.contains("redis") && !json.contains("cache") && !json.contains("solo"));
    assert_eq!(
        texts(&c, NoteKind::SubchartDropped),
        [
            "subchart cache 0.1.0 (3 templates, 1 file, 1 nested subchart) not stored: Helm 3 storage never holds subcharts (its objects stay in the manifest)",
            "subchart solo 2.0.0 (1 template) not stored: Helm 3 storage never holds subcharts (its objects stay in the manifest)",
        ]
    );
}

#[test]
fn values_parsing_and_errors() {
    let mut r = base();
    r.config = Some(helm2::Config {
        raw: "replicaCount: 2\nimage:\n  tag: '1.27'\nenabled: yes\nname: ~\nwhole: 2.0\n".into(),
        ..Default::default()
    });
    r.chart.as_mut().unwrap().values =
        Some(helm2::Config { raw: "b: 1\na: {d: 2, c: [x, {z: 1, q: 2}]}\nratio: 0.75\n".into(), ..Default::default() });
    let (json, v) = stored(&conv(&r));
    assert_eq!(v["config"], json!({"enabled": true, "image": {"tag": "1.27"}, "name": null, "replicaCount": 2, "whole": 2}));
    assert!(
        json.contains(r#""config":{"enabled":true,"image":{"tag":"1.27"},"name":null,"replicaCount":2,"whole":2}"#),
        "sorted like Go maps"
    );
    assert!(json.contains(r#""values":{"a":{"c":["x",{"q":2,"z":1}],"d":2},"b":1,"ratio":0.75}"#), "{json}");

    // Empty forms.
    for raw in ["", "{}\n", "# nothing\n", "null\n"] {
        let mut r = base();
        r.config = Some(helm2::Config { raw: raw.into(), ..Default::default() });
        r.chart.as_mut().unwrap().values = Some(helm2::Config { raw: raw.into(), ..Default::default() });
        let (json, v) = stored(&conv(&r));
        assert!(v.get("config").is_none(), "{raw:?}");
        assert!(json.contains(r#""values":{},"#), "{raw:?}: {json}");
    }
    // No values message at all: config left out, chart values null (a chart without values.yaml).
    let mut r = base();
    r.config = None;
    r.chart.as_mut().unwrap().values = None;
    let (json, v) = stored(&conv(&r));
    assert!(v.get("config").is_none());
    assert!(json.contains(r#""values":null,"#), "{json}");

    // Bad values are errors naming which values.
    let mut r = base();
    r.config = Some(helm2::Config { raw: "- a\n- b\n".into(), ..Default::default() });
    let e = conv_err(&r);
    assert!(matches!(&e, ConvertError::Values { which: ValuesSource::Config, .. }), "{e:?}");
    assert_eq!(e.to_string(), "user values (config.raw): YAML document is a sequence, not a mapping");
    let mut r = base();
    r.chart.as_mut().unwrap().values = Some(helm2::Config { raw: "a: [1\n".into(), ..Default::default() });
    let e = conv_err(&r);
    assert!(matches!(&e, ConvertError::Values { which: ValuesSource::ChartValues, .. }), "{e:?}");
    assert!(e.to_string().starts_with("chart values (chart.values.raw): YAML: "), "{e}");
}

#[test]
fn unused_values_maps_are_noted() {
    let mut r = base();
    r.config.as_mut().unwrap().values.insert("k".into(), helm2::ConfigValue { value: "v".into() });
    r.chart.as_mut().unwrap().values.as_mut().unwrap().values.insert("k".into(), helm2::ConfigValue { value: "v".into() });
    let c = conv(&r);
    assert_eq!(
        texts(&c, NoteKind::ValuesMapDropped),
        [
            "chart values.values map (1 entry, unused by Tiller) dropped; values.raw is kept",
            "config.values map (1 entry, unused by Tiller) dropped; config.raw is kept",
        ]
    );
}

#[test]
fn no_chart_and_empty_chart_parts() {
    let mut r = base();
    r.chart = None;
    let c = conv(&r);
    let (json, _) = stored(&c);
    assert!(json.contains(r#""chart":{"metadata":null,"lock":null,"templates":null,"values":null,"schema":null,"files":null}"#), "{json}");
    assert_eq!(texts(&c, NoteKind::ChartMissing).len(), 1);

    let mut r = base();
    r.chart.as_mut().unwrap().templates.clear();
    let (json, _) = stored(&conv(&r));
    assert!(json.contains(r#""templates":null,"#) && json.contains(r#""files":null}"#), "{json}");
}

#[test]
fn note_kinds_have_stable_names() {
    assert_eq!(NoteKind::SubchartDropped.as_str(), "subchart-dropped");
    assert_eq!(NoteKind::HookEventDropped.to_string(), "hook-event-dropped");
    let c = conv(&base());
    assert_eq!(c.notes[0].to_string(), c.notes[0].text);
}
