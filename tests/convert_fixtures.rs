//! Helm 2 → Helm 3 conversion against the fixtures: every Helm 2 record converts and round-trips
//! through the Helm 3 codec, and each synthetic record, migrated, equals the genuine Helm 3 record it
//! was made from except for the differences `fixtures/README.md` lists ("Expected differences after
//! migrating helm2-synthetic"), each of which is asserted explicitly.

mod release_fixtures;

use std::collections::{BTreeMap, BTreeSet};

use kubectl_werf::release::convert::{Conversion, ConvertOptions, NoteKind, convert};
use kubectl_werf::release::helm2;
use kubectl_werf::storage::codec::{self, DecodeLimits};
use release_fixtures::{decode_helm2_unless_broken, helm2_records, load};
use serde_json::{Value, json};

fn limits() -> DecodeLimits {
    DecodeLimits::default()
}

fn helm2_by_name(name: &str) -> helm2::Release {
    let r = helm2_records().into_iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no Helm 2 record {name}"));
    codec::decode_helm2(&r.payload, &limits()).unwrap()
}

/// The genuine Helm 3 record `release.vN` in `fixtures/helm3/<file>`, as a JSON value.
fn genuine(file: &str, release: &str, revision: i64) -> Value {
    let object = codec::helm3_object_name(release, revision);
    let r = load("helm3").into_iter().find(|r| r.file == file && r.name == object).unwrap_or_else(|| panic!("{file}: no {object}"));
    codec::decode_helm3_value(&r.payload, &limits()).unwrap()
}

/// Converts, stores (encode_helm3) and reads back (decode_helm3 / decode_helm3_value). The model read
/// back must equal the converted one.
fn migrate(h2: &helm2::Release) -> (Conversion, Value) {
    let conv = convert(h2, &ConvertOptions::default()).unwrap_or_else(|e| panic!("{}.v{}: {e}", h2.name, h2.version));
    let text = codec::encode_helm3(&conv.release).unwrap();
    assert!(text.starts_with("H4sIAAAAAAAC/"), "gzip with Go's header");
    let back = codec::decode_helm3(text.as_bytes(), &limits()).unwrap();
    assert_eq!(back, conv.release, "{}.v{}: decode(encode(x)) == x", h2.name, h2.version);
    let value = codec::decode_helm3_value(text.as_bytes(), &limits()).unwrap();
    (conv, value)
}

// ---------------------------------------------------------------------------------------------
// JSON diff

/// One difference: the value on each side (`None` = key absent).
type Diffs = BTreeMap<String, (Option<Value>, Option<Value>)>;

/// Paths (`.chart.metadata.apiVersion`, `.hooks[0].last_run.phase`) where `a` and `b` differ, plus
/// `<path> key order` entries where both objects have the same keys in a different order (Helm's
/// key order is part of the shape).
fn json_diff(a: &Value, b: &Value) -> Diffs {
    fn walk(a: &Value, b: &Value, path: &str, out: &mut Diffs) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                for (k, v) in x {
                    let p = format!("{path}.{k}");
                    match y.get(k) {
                        Some(w) => walk(v, w, &p, out),
                        None => {
                            out.insert(p, (Some(v.clone()), None));
                        }
                    }
                }
                for (k, w) in y {
                    if !x.contains_key(k) {
                        out.insert(format!("{path}.{k}"), (None, Some(w.clone())));
                    }
                }
                let xo: Vec<&String> = x.keys().filter(|k| y.contains_key(*k)).collect();
                let yo: Vec<&String> = y.keys().filter(|k| x.contains_key(*k)).collect();
                if xo != yo {
                    out.insert(format!("{path} key order"), (Some(json!(xo)), Some(json!(yo))));
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (v, w)) in x.iter().zip(y).enumerate() {
                    walk(v, w, &format!("{path}[{i}]"), out);
                }
            }
            _ if a == b => {}
            _ => {
                out.insert(path.to_owned(), (Some(a.clone()), Some(b.clone())));
            }
        }
    }
    let mut out = Diffs::new();
    walk(a, b, "", &mut out);
    out
}

/// Removes the expected difference at `path`, asserting both sides.
#[track_caller]
fn expect(diffs: &mut Diffs, path: &str, migrated: Option<Value>, genuine: Option<Value>) {
    let got = diffs.remove(path).unwrap_or_else(|| panic!("expected a difference at {path}; differences: {:#?}", diffs.keys()));
    assert_eq!(got, (migrated, genuine), "difference at {path}");
}

#[track_caller]
fn assert_no_other_differences(what: &str, diffs: &Diffs) {
    assert!(diffs.is_empty(), "{what}: unexpected differences:\n{}", {
        diffs.iter().map(|(p, (a, b))| format!("  {p}: migrated {a:?} genuine {b:?}\n")).collect::<String>()
    });
}

fn at<'a>(v: &'a Value, pointer: &str) -> &'a Value {
    v.pointer(pointer).unwrap_or_else(|| panic!("no {pointer}"))
}

// ---------------------------------------------------------------------------------------------
// Expected differences shared by every synthetic record

/// chart: `apiVersion` v1 instead of v2; `metadata.dependencies`, `lock` and `schema` absent; `type`
/// is `application` on both sides.
fn expect_chart_differences(diffs: &mut Diffs, migrated: &Value, genuine: &Value) {
    expect(diffs, ".chart.metadata.apiVersion", Some(json!("v1")), Some(json!("v2")));
    if let Some(deps) = genuine.pointer("/chart/metadata/dependencies") {
        assert!(deps.is_array());
        expect(diffs, ".chart.metadata.dependencies", None, Some(deps.clone()));
    }
    let lock = at(genuine, "/chart/lock");
    assert!(lock.is_object());
    expect(diffs, ".chart.lock", Some(Value::Null), Some(lock.clone()));
    let schema = at(genuine, "/chart/schema");
    assert!(schema.is_string());
    expect(diffs, ".chart.schema", Some(Value::Null), Some(schema.clone()));
    assert_eq!(at(migrated, "/chart/metadata/type"), "application");
    assert_eq!(at(genuine, "/chart/metadata/type"), "application");
}

fn rfc3339(ts: Option<&helm2::Timestamp>) -> Value {
    json!(ts.and_then(|t| t.to_time()).and_then(|t| t.to_rfc3339()).unwrap_or_default())
}

/// The documented `last_run` mapping, computed independently from the Helm 2 data: a test hook takes
/// its suite result (times and phase); another hook with a `last_run` completed successfully then
/// (started_at = completed_at = last_run, phase Succeeded); without one it never ran.
fn documented_last_run(h2: &helm2::Release, hook: &helm2::Hook) -> Value {
    let is_test =
        hook.events.iter().any(|&e| e == helm2::HookEvent::ReleaseTestSuccess as i32 || e == helm2::HookEvent::ReleaseTestFailure as i32);
    let suite = h2.info.as_ref().and_then(|i| i.status.as_ref()).and_then(|s| s.last_test_suite_run.as_ref());
    if is_test && let Some(run) = suite.and_then(|s| s.results.iter().find(|r| r.name == hook.name)) {
        let phase = match helm2::TestRunStatus::try_from(run.status).unwrap() {
            helm2::TestRunStatus::Success => "Succeeded",
            helm2::TestRunStatus::Failure => "Failed",
            helm2::TestRunStatus::Running => "Running",
            helm2::TestRunStatus::Unknown => "Unknown",
        };
        return json!({"started_at": rfc3339(run.started_at.as_ref()), "completed_at": rfc3339(run.completed_at.as_ref()), "phase": phase});
    }
    match &hook.last_run {
        Some(t) => json!({"started_at": rfc3339(Some(t)), "completed_at": rfc3339(Some(t)), "phase": "Succeeded"}),
        None => json!({"started_at": "", "completed_at": "", "phase": ""}),
    }
}

/// hooks: the migrated `last_run` of each hook is what the documented mapping produces from the Helm 2
/// data; wherever it differs from the genuine record, that difference is expected. Where the genuine
/// hook completed, Helm 2's `last_run` is that completion time (so the mapping's `completed_at` agrees).
/// Returns how many hook fields differed.
fn expect_hook_last_run_differences(diffs: &mut Diffs, h2: &helm2::Release, migrated: &Value, genuine: &Value) -> usize {
    let hooks = at(migrated, "/hooks").as_array().unwrap();
    assert_eq!(hooks.len(), h2.hooks.len());
    assert_eq!(hooks.len(), at(genuine, "/hooks").as_array().unwrap().len());
    let mut n = 0;
    for (i, hook) in h2.hooks.iter().enumerate() {
        let mig = &hooks[i]["last_run"];
        let gen_run = &genuine["hooks"][i]["last_run"];
        assert_eq!(*mig, documented_last_run(h2, hook), "hook {} last_run", hook.name);
        assert_eq!(genuine["hooks"][i]["name"], json!(hook.name));
        let is_test = genuine["hooks"][i]["events"] == json!(["test"]);
        if !is_test && gen_run["phase"] == "Succeeded" {
            assert_eq!(
                gen_run["completed_at"],
                rfc3339(hook.last_run.as_ref()),
                "hook {}: Helm 2 last_run is the completion time",
                hook.name
            );
        }
        for field in ["started_at", "completed_at", "phase"] {
            if mig[field] != gen_run[field] {
                expect(diffs, &format!(".hooks[{i}].last_run.{field}"), Some(mig[field].clone()), Some(gen_run[field].clone()));
                n += 1;
            }
        }
    }
    n
}

fn note_kinds(conv: &Conversion) -> BTreeSet<NoteKind> {
    conv.notes.iter().map(|n| n.kind).collect()
}

/// Notes every synthetic record gets: engine/tillerVersion dropped, `type: application`, hook
/// last_run derived, test suite times not stored.
fn base_note_kinds() -> BTreeSet<NoteKind> {
    [NoteKind::ChartFieldDropped, NoteKind::ChartMetadata, NoteKind::HookLastRun, NoteKind::TestSuite].into()
}

fn assert_base_notes(conv: &Conversion) {
    let texts: Vec<&str> = conv.notes.iter().map(|n| n.text.as_str()).collect();
    assert!(texts.iter().any(|t| t.contains("engine") && t.contains("gotpl")), "{texts:#?}");
    assert!(texts.iter().any(|t| t.contains("tillerVersion")), "{texts:#?}");
    assert!(conv.notes_of(NoteKind::TestSuite).count() >= 1);
}

// ---------------------------------------------------------------------------------------------
// Every record

#[test]
fn every_helm2_fixture_converts_and_round_trips_through_the_helm3_codec() {
    let recs = helm2_records();
    let mut converted = 0;
    for r in &recs {
        let Some(h2) = decode_helm2_unless_broken(r) else { continue };
        let (conv, value) = migrate(&h2);
        assert_eq!(codec::helm3_object_name(&conv.release.name, conv.release.version), format!("sh.helm.release.v1.{}", r.name));
        assert_eq!(value["name"], json!(h2.name));
        assert_eq!(value["version"], json!(h2.version));
        assert_eq!(value["namespace"], json!(h2.namespace));
        assert_eq!(value["manifest"], json!(h2.manifest));
        assert_eq!(value["info"]["status"], json!(h2.status_name().to_lowercase().replace('_', "-").replace("deleted", "uninstalled")));
        // Keys in the order Helm writes them.
        let order = ["name", "info", "chart", "config", "manifest", "hooks", "version", "namespace"];
        let keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        let expected: Vec<&str> = order.iter().copied().filter(|k| keys.contains(k)).collect();
        assert_eq!(keys, expected, "{}", r.name);
        converted += 1;
    }
    assert_eq!(converted, recs.len() - 1, "all but broken.v1");
    assert_eq!(converted, 17);
}

#[test]
fn damaged_file_records_that_decode_migrate_normally() {
    let nolabel = helm2_by_name("nolabel.v1");
    let (conv, value) = migrate(&nolabel);
    assert_eq!((value["name"].as_str(), value["version"].as_i64()), (Some("nolabel"), Some(1)));
    assert!(note_kinds(&conv).is_superset(&base_note_kinds()));
    let raw = helm2_by_name("rawproto.v1");
    let (_, value) = migrate(&raw);
    assert_eq!((value["name"].as_str(), value["version"].as_i64()), (Some("rawproto"), Some(1)));
}

// ---------------------------------------------------------------------------------------------
// Synthetic records vs the genuine Helm 3 records they came from

#[test]
fn shop_revisions_equal_genuine_helm3_except_expected_differences() {
    for rev in 1..=4 {
        let h2 = helm2_by_name(&format!("shop.v{rev}"));
        let (conv, migrated) = migrate(&h2);
        let genuine = genuine("fx-helm3-shop-secrets.yaml", "shop", rev);
        let mut diffs = json_diff(&migrated, &genuine);

        expect(&mut diffs, ".namespace", Some(json!("legacy-shop")), Some(json!("fx-helm3")));
        // notes and manifest still mention fx-helm3, unchanged
        assert!(at(&migrated, "/info/notes").as_str().unwrap().contains("--namespace fx-helm3"));
        expect_chart_differences(&mut diffs, &migrated, &genuine);
        let hook_fields = expect_hook_last_run_differences(&mut diffs, &h2, &migrated, &genuine);
        assert!(hook_fields > 0, "the test hook's suite result at least");
        if rev == 4 {
            // Helm 2 still DEPLOYED; genuine is after `helm uninstall --keep-history`.
            expect(&mut diffs, ".info.status", Some(json!("deployed")), Some(json!("uninstalled")));
            expect(&mut diffs, ".info.description", Some(json!("Rollback to 2")), Some(json!("Uninstallation complete")));
            let deleted = at(&genuine, "/info/deleted").clone();
            assert_ne!(deleted, "");
            expect(&mut diffs, ".info.deleted", Some(json!("")), Some(deleted));
        }
        assert_no_other_differences(&format!("shop.v{rev}"), &diffs);

        // The subchart is dropped, and the plan says so.
        let sub: Vec<&str> = conv.notes_of(NoteKind::SubchartDropped).map(|n| n.text.as_str()).collect();
        assert_eq!(sub.len(), 1, "{sub:?}");
        assert!(sub[0].starts_with("subchart cache 0.1.0 (5 templates)") && sub[0].contains("never holds subcharts"), "{}", sub[0]);
        let mut kinds = base_note_kinds();
        kinds.insert(NoteKind::SubchartDropped);
        assert_eq!(note_kinds(&conv), kinds, "shop.v{rev}: {:#?}", conv.notes);
        assert_base_notes(&conv);
        // The test hook's last_run is its suite result: Succeeded.
        let test_hook = migrated["hooks"].as_array().unwrap().iter().find(|h| h["events"] == json!(["test"])).unwrap();
        assert_eq!(test_hook["name"], "shop-test-connection");
        assert_eq!(test_hook["last_run"]["phase"], "Succeeded");
    }
}

#[test]
fn cart_revisions_equal_genuine_helm3_except_expected_differences() {
    for rev in 1..=2 {
        let h2 = helm2_by_name(&format!("cart.v{rev}"));
        let (conv, migrated) = migrate(&h2);
        let genuine = genuine("fx-helm3-cart-configmaps.yaml", "cart", rev);
        let mut diffs = json_diff(&migrated, &genuine);
        expect(&mut diffs, ".namespace", Some(json!("legacy-cart")), Some(json!("fx-helm3")));
        expect_chart_differences(&mut diffs, &migrated, &genuine);
        expect_hook_last_run_differences(&mut diffs, &h2, &migrated, &genuine);
        assert_no_other_differences(&format!("cart.v{rev}"), &diffs);
        assert_eq!(note_kinds(&conv), base_note_kinds(), "{:#?}", conv.notes);
    }
}

#[test]
fn stuck_revisions_equal_genuine_helm3_except_expected_differences() {
    for rev in 1..=2 {
        let h2 = helm2_by_name(&format!("stuck.v{rev}"));
        let (conv, migrated) = migrate(&h2);
        let genuine = genuine("fx-helm3-stuck-secrets.yaml", "stuck", rev);
        let mut diffs = json_diff(&migrated, &genuine);
        expect(&mut diffs, ".namespace", Some(json!("legacy-stuck")), Some(json!("fx-helm3")));
        expect_chart_differences(&mut diffs, &migrated, &genuine);
        expect_hook_last_run_differences(&mut diffs, &h2, &migrated, &genuine);
        assert_no_other_differences(&format!("stuck.v{rev}"), &diffs);
        assert_eq!(note_kinds(&conv), base_note_kinds(), "{:#?}", conv.notes);
    }
    let (_, latest) = migrate(&helm2_by_name("stuck.v2"));
    assert_eq!(latest["info"]["status"], "pending-upgrade");
}

#[test]
fn gone_equals_stuck_revision_1_deleted() {
    let h2 = helm2_by_name("gone.v1");
    let (conv, migrated) = migrate(&h2);
    let genuine = genuine("fx-helm3-stuck-secrets.yaml", "stuck", 1);
    let mut diffs = json_diff(&migrated, &genuine);
    expect(&mut diffs, ".name", Some(json!("gone")), Some(json!("stuck")));
    expect(&mut diffs, ".namespace", Some(json!("legacy-stuck")), Some(json!("fx-helm3")));
    expect(&mut diffs, ".info.status", Some(json!("uninstalled")), Some(json!("deployed")));
    expect(&mut diffs, ".info.description", Some(json!("Deletion complete")), Some(json!("Install complete")));
    // deleted = the last deployed time
    let last_deployed = at(&genuine, "/info/last_deployed").clone();
    assert_eq!(at(&migrated, "/info/last_deployed"), &last_deployed);
    expect(&mut diffs, ".info.deleted", Some(last_deployed), Some(json!("")));
    expect_chart_differences(&mut diffs, &migrated, &genuine);
    expect_hook_last_run_differences(&mut diffs, &h2, &migrated, &genuine);
    assert_no_other_differences("gone.v1", &diffs);

    let mut kinds = base_note_kinds();
    kinds.insert(NoteKind::Status);
    assert_eq!(note_kinds(&conv), kinds, "{:#?}", conv.notes);
    assert_eq!(conv.notes_of(NoteKind::Status).next().unwrap().text, "status DELETED is called uninstalled in Helm 3");
}

#[test]
fn werf_myproject_production_equals_shop_revision_2_renamed() {
    let genuine = genuine("fx-helm3-shop-secrets.yaml", "shop", 2);
    let werf_annotations =
        "  annotations:\n    werf.io/version: v1.1.23\n    project.werf.io/name: myproject\n    project.werf.io/env: production\n";
    for (rev, status) in [(3, "superseded"), (7, "deployed")] {
        let h2 = helm2_by_name(&format!("myproject-production.v{rev}"));
        let (conv, migrated) = migrate(&h2);
        let mut diffs = json_diff(&migrated, &genuine);
        expect(&mut diffs, ".name", Some(json!("myproject-production")), Some(json!("shop")));
        expect(&mut diffs, ".namespace", Some(json!("myproject-production")), Some(json!("fx-helm3")));
        expect(&mut diffs, ".version", Some(json!(rev)), Some(json!(2)));
        assert_eq!(at(&genuine, "/info/status"), "superseded");
        assert_eq!(at(&migrated, "/info/status"), status);
        if status != "superseded" {
            expect(&mut diffs, ".info.status", Some(json!(status)), Some(json!("superseded")));
        }
        // werf annotations inserted into the first object of the manifest, nothing else changed.
        let gen_manifest = at(&genuine, "/manifest").as_str().unwrap();
        let first_name = "metadata:\n  name: shop-cache\n";
        assert!(gen_manifest.find(first_name).unwrap() < gen_manifest[4..].find("\n---").unwrap(), "first object");
        let expected_manifest = gen_manifest.replacen(first_name, &format!("{first_name}{werf_annotations}"), 1);
        assert_eq!(at(&migrated, "/manifest"), &json!(expected_manifest));
        expect(&mut diffs, ".manifest", Some(json!(expected_manifest)), Some(json!(gen_manifest)));
        expect_chart_differences(&mut diffs, &migrated, &genuine);
        expect_hook_last_run_differences(&mut diffs, &h2, &migrated, &genuine);
        assert_no_other_differences(&format!("myproject-production.v{rev}"), &diffs);
        assert_eq!(note_kinds(&conv), base_note_kinds(), "{:#?}", conv.notes);
    }
}

#[test]
fn the_diff_helper_reports_paths() {
    let a = json!({"a": 1, "b": {"c": [1, 2], "d": "x"}, "only_a": true, "o": {"p": 1, "q": 2}});
    let b = json!({"a": 1, "b": {"c": [1, 3], "d": "y"}, "only_b": null, "o": {"q": 2, "p": 1}});
    let d = json_diff(&a, &b);
    let paths: Vec<&str> = d.keys().map(String::as_str).collect();
    assert_eq!(paths, [".b.c[1]", ".b.d", ".o key order", ".only_a", ".only_b"]);
    assert_eq!(d[".only_b"], (None, Some(Value::Null)));
}
