//! `kubectl werf migrate2to3` against an API server: every Helm 2 fixture record migrates and real helm3
//! and helm4 read the result; the synthetic records round-trip to the genuine Helm 3 records except for
//! the documented differences; plan, dry run, confirmation, blockers, --force, ownership stamping and a
//! Helm 3 upgrade taking objects over, Helm 2 deletion with backups that `kubectl create -f` restores,
//! and `--cleanup`. Fault injection and kill tests are in `cluster_migrate_faults.rs`.

mod common;
mod helm2_wire;
mod release_fixtures;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Output;

use common::{TestCluster, fixture, run, run_ok};
use kubectl_werf::release::helm2;
use kubectl_werf::storage::codec::{self, DecodeLimits};
use kubectl_werf::storage::{Helm2Storage, Helm3Driver};
use kubectl_werf::storage::{Helm2Store, Helm3Store, ObjectKind};
use serde_json::{Value, json};

fn migrate(c: &TestCluster, args: &[&str]) -> Output {
    run(c.werf().arg("migrate2to3").args(args))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn both(o: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[track_caller]
fn expect_code(o: &Output, code: i32) -> String {
    assert_eq!(o.status.code(), Some(code), "exit code; output:\n{}", both(o));
    stdout(o)
}

fn synthetic(name: &str) -> helm2::Release {
    let r = release_fixtures::load("helm2-synthetic").into_iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no {name}"));
    codec::decode_helm2(&r.payload, &DecodeLimits::default()).unwrap()
}

fn genuine(file: &str, release: &str, revision: i64) -> Value {
    let object = codec::helm3_object_name(release, revision);
    let r = release_fixtures::load("helm3").into_iter().find(|r| r.file == file && r.name == object).unwrap();
    codec::decode_helm3_value(&r.payload, &DecodeLimits::default()).unwrap()
}

fn h3(c: &TestCluster) -> Helm3Store {
    Helm3Store::new(c.client.clone(), Helm3Driver::Secret, DecodeLimits::default())
}

/// The migrated record as stored, decoded.
fn stored(c: &TestCluster, ns: &str, release: &str, revision: i64) -> Value {
    let raw =
        c.rt.block_on(h3(c).get_raw(ns, &codec::helm3_object_name(release, revision)))
            .unwrap()
            .unwrap_or_else(|| panic!("{ns}/{release}.v{revision} missing"));
    codec::decode_helm3_value(raw.payload.as_deref().unwrap(), &DecodeLimits::default()).unwrap()
}

/// Paths where two JSON values differ; `None` where a key is absent (an absent key is not `null`).
fn diff(a: &Value, b: &Value) -> BTreeMap<String, (Option<Value>, Option<Value>)> {
    fn walk(a: Option<&Value>, b: Option<&Value>, path: String, out: &mut BTreeMap<String, (Option<Value>, Option<Value>)>) {
        match (a, b) {
            (Some(Value::Object(x)), Some(Value::Object(y))) => {
                let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    walk(x.get(k), y.get(k), format!("{path}.{k}"), out);
                }
            }
            (Some(Value::Array(x)), Some(Value::Array(y))) if x.len() == y.len() => {
                for (i, (v, w)) in x.iter().zip(y).enumerate() {
                    walk(Some(v), Some(w), format!("{path}[{i}]"), out);
                }
            }
            _ if a == b => {}
            _ => {
                out.insert(path, (a.cloned(), b.cloned()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(Some(a), Some(b), String::new(), &mut out);
    out
}

/// The helper itself: an absent key differs from `null`, and a hook's `last_run` differences are reported
/// like any other path (assert_documented_differences removes only the ones it checked).
#[test]
fn diff_reports_absent_against_null_and_last_run_changes() {
    let a = json!({"chart": {"lock": null}, "hooks": [{"last_run": {"phase": "Succeeded", "started_at": ""}}]});
    let b = json!({"chart": {}, "hooks": [{"last_run": {"phase": "", "started_at": "", "completed_at": ""}}]});
    let d = diff(&a, &b);
    assert_eq!(d.get(".chart.lock"), Some(&(Some(Value::Null), None)), "{d:#?}");
    assert_eq!(d.get(".hooks[0].last_run.phase"), Some(&(Some(json!("Succeeded")), Some(json!("")))), "{d:#?}");
    assert_eq!(d.get(".hooks[0].last_run.completed_at"), Some(&(None, Some(json!("")))), "{d:#?}");
    assert_eq!(d.len(), 3, "{d:#?}");
    assert!(diff(&a, &a).is_empty());
}

/// The Helm 2 record `name` (`shop.v2`) of helm2-synthetic, read by the independent decoder.
fn synthetic_wire(name: &str) -> helm2_wire::Release {
    let r = release_fixtures::load("helm2-synthetic").into_iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no {name}"));
    helm2_wire::decode(&r.payload)
}

/// A Helm 3 hook's `last_run` as (started_at, completed_at, phase); `""` times are the zero time (`None`).
fn last_run_of(hook: &Value) -> (Option<helm2_wire::Time>, Option<helm2_wire::Time>, String) {
    let run = &hook["last_run"];
    let t = |key: &str| match run.get(key) {
        Some(v) if v == "" => None,
        Some(v) => Some(wire_time(v)),
        None => panic!("last_run.{key} missing (Helm 3 writes the zero time as \"\"): {hook}"),
    };
    (t("started_at"), t("completed_at"), run["phase"].as_str().unwrap_or_else(|| panic!("phase in {hook}")).to_string())
}

/// The `last_run` the documented mapping (fixtures/README.md, src/release/convert.rs) gives a Helm 2 hook: a test
/// hook with a result of the last test suite takes its times and phase; any other hook with a `last_run`
/// completed then, successfully (Tiller stamps only successful runs, start unrecorded); otherwise it never ran.
fn expected_last_run(h2: &helm2_wire::Release, hook: &helm2_wire::Hook) -> (Option<helm2_wire::Time>, Option<helm2_wire::Time>, String) {
    let is_test = hook.events.iter().any(|e| matches!(e, 9 | 10));
    if let Some(run) = h2.test_results.iter().find(|r| is_test && r.name == hook.name) {
        let phase = ["Unknown", "Succeeded", "Failed", "Running"].get(run.status as usize).copied().unwrap_or("Unknown");
        return (run.started_at, run.completed_at, phase.to_string());
    }
    match hook.last_run.filter(|t| *t != helm2_wire::Time::default()) {
        Some(t) => (Some(t), Some(t), "Succeeded".to_string()),
        None => (None, None, String::new()),
    }
}

/// The differences `fixtures/README.md` documents for helm2-synthetic, plus the namespace we moved to.
/// Everything else must be equal; the documented ones are checked where their value is known: hook `last_run`s
/// against what the Helm 2 record `what` holds (read by tests/helm2_wire, not by the product).
#[track_caller]
fn assert_documented_differences(what: &str, migrated: &Value, genuine: &Value, target_ns: &str, extra_allowed: &[&str]) {
    let mut d = diff(migrated, genuine);
    assert_eq!(d.remove(".namespace"), Some((Some(json!(target_ns)), Some(json!("fx-helm3")))), "{what}: namespace");
    assert_eq!(d.remove(".chart.metadata.apiVersion"), Some((Some(json!("v1")), Some(json!("v2")))), "{what}");
    // Helm 2 has no place for these. `metadata.dependencies` is `omitempty` (left out); `lock` and `schema` are
    // not, so Go writes them as `null`, as in the Helm-3-written pluto records of fixtures/helm3.
    for (absent, written) in
        [(".chart.metadata.dependencies", None), (".chart.lock", Some(Value::Null)), (".chart.schema", Some(Value::Null))]
    {
        if let Some((m, _)) = d.remove(absent) {
            assert_eq!(m, written, "{what}: {absent} after migration");
        }
    }
    let source = synthetic_wire(what);
    let hooks = migrated["hooks"].as_array().unwrap();
    assert_eq!(
        hooks.iter().map(|h| h["name"].clone()).collect::<Vec<_>>(),
        source.hooks.iter().map(|h| json!(h.name)).collect::<Vec<_>>(),
        "{what}: hooks"
    );
    for (i, (m, h2)) in hooks.iter().zip(&source.hooks).enumerate() {
        assert_eq!(last_run_of(m), expected_last_run(&source, h2), "{what}: hook {} last_run", h2.name);
        // Checked just above: only these three keys may differ from the genuine record, and nothing else may
        // be in (or missing from) the migrated last_run.
        let keys: Vec<&String> = m["last_run"].as_object().unwrap_or_else(|| panic!("{what}: hook {} last_run", h2.name)).keys().collect();
        assert_eq!(keys, ["started_at", "completed_at", "phase"], "{what}: hook {} last_run keys", h2.name);
        for key in ["started_at", "completed_at", "phase"] {
            d.remove(&format!(".hooks[{i}].last_run.{key}"));
        }
    }
    for p in extra_allowed {
        d.remove(*p);
    }
    assert!(d.is_empty(), "{what}: undocumented differences: {d:#?}");
}

/// YAML values text as JSON, every number as f64 (Helm reads values into float64s); empty text is an empty
/// map, as Helm's `chartutil.ReadValues` makes it.
fn yaml_as_json(raw: &str) -> Value {
    let v: Value = serde_saphyr::from_str(raw).unwrap_or_else(|e| panic!("values YAML: {e}: {raw}"));
    if v.is_null() { json!({}) } else { numbers_as_f64(&v) }
}

fn numbers_as_f64(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64().unwrap()),
        Value::Array(a) => Value::Array(a.iter().map(numbers_as_f64).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), numbers_as_f64(v))).collect()),
        other => other.clone(),
    }
}

/// An RFC 3339 time of a Helm 3 record as a protobuf Timestamp's seconds and nanoseconds.
fn wire_time(v: &Value) -> helm2_wire::Time {
    let t: jiff::Timestamp = v.as_str().unwrap_or_else(|| panic!("time {v}")).parse().unwrap_or_else(|e| panic!("time {v}: {e}"));
    helm2_wire::Time { seconds: t.as_second(), nanos: t.subsec_nanosecond() }
}

/// A migrated genuine Tiller record holds what the Helm 2 record holds, field by field, with the mapping of
/// ../shared/reference/helm-storage.md (status and hook event names, YAML values as JSON maps, the release
/// moved to `ns`).
#[track_caller]
fn assert_migrated_from(what: &str, m: &Value, h2: &helm2_wire::Release, ns: &str, mapped_above: bool) {
    // Data as Go's encoding/json writes a []byte: base64, or `null` for a nil slice (no data in the record).
    let b64 = |d: &Option<Vec<u8>>| {
        d.as_ref().map_or(Value::Null, |d| json!(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, d)))
    };
    assert_eq!([&m["name"], &m["namespace"], &m["version"]], [&json!(h2.name), &json!(ns), &json!(h2.version)], "{what}");
    assert_eq!(m["manifest"], json!(h2.manifest), "{what}: manifest");
    let info = &m["info"];
    // A deployed revision holding removed APIs is copied verbatim, then superseded by the mapped
    // revision written above it (migrate2to3's default, see `releases apis --fix`).
    let status = helm2_wire::status_name(h2.status_code);
    let status = if mapped_above && status == "deployed" { "superseded" } else { status };
    assert_eq!(info["status"], status, "{what}: status");
    assert_eq!(info["description"], json!(h2.description), "{what}: description");
    assert_eq!(info.get("notes").and_then(Value::as_str).unwrap_or(""), h2.notes, "{what}: notes");
    assert_eq!(Some(wire_time(&info["first_deployed"])), h2.first_deployed, "{what}: first_deployed");
    assert_eq!(Some(wire_time(&info["last_deployed"])), h2.last_deployed, "{what}: last_deployed");
    match h2.deleted {
        Some(t) => assert_eq!(wire_time(&info["deleted"]), t, "{what}: deleted"),
        None => assert_eq!(info["deleted"], "", "{what}: deleted is the zero time, which Helm 3 writes as \"\""),
    }
    // `config` is `omitempty`: Go leaves an empty map out.
    let config = yaml_as_json(&h2.config_raw);
    if config == json!({}) {
        assert_eq!(m.get("config"), None, "{what}: empty config is left out");
    } else {
        assert_eq!(numbers_as_f64(&m["config"]), config, "{what}: config");
    }
    let meta = &m["chart"]["metadata"];
    assert_eq!((&meta["name"], &meta["version"]), (&json!(h2.chart.name), &json!(h2.chart.version)), "{what}: chart");
    for (key, want) in
        [("appVersion", &h2.chart.app_version), ("description", &h2.chart.description), ("apiVersion", &h2.chart.api_version)]
    {
        assert_eq!(meta.get(key).and_then(Value::as_str).unwrap_or(""), want, "{what}: chart.metadata.{key}");
    }
    let templates: Vec<(Value, Value)> =
        m["chart"]["templates"].as_array().unwrap().iter().map(|t| (t["name"].clone(), t["data"].clone())).collect();
    let want: Vec<(Value, Value)> = h2.chart.templates.iter().map(|(n, d)| (json!(n), b64(d))).collect();
    assert_eq!(templates, want, "{what}: chart.templates");
    assert_eq!(numbers_as_f64(&m["chart"]["values"]), yaml_as_json(&h2.chart.values_raw), "{what}: chart.values");
    let files: Vec<(Value, Value)> =
        m["chart"]["files"].as_array().map(|a| a.iter().map(|f| (f["name"].clone(), f["data"].clone())).collect()).unwrap_or_default();
    let want: Vec<(Value, Value)> = h2.chart.files.iter().map(|(n, d)| (json!(n), b64(d))).collect();
    assert_eq!(files, want, "{what}: chart.files");
    let hooks = m.get("hooks").and_then(Value::as_array).cloned().unwrap_or_default();
    assert_eq!(hooks.len(), h2.hooks.len(), "{what}: hooks");
    for (h, w) in hooks.iter().zip(&h2.hooks) {
        let events: Vec<&str> = w.events.iter().map(|e| helm2_wire::event_name(*e)).collect();
        assert_eq!(
            (&h["name"], &h["kind"], &h["path"], &h["manifest"], &h["events"], h.get("weight")),
            // `weight` is `omitempty`: Go leaves 0 out.
            (
                &json!(w.name),
                &json!(w.kind),
                &json!(w.path),
                &json!(w.manifest),
                &json!(events),
                (w.weight != 0).then(|| json!(w.weight)).as_ref()
            ),
            "{what}: hook {}",
            w.name
        );
    }
}

/// Every fixture release, migrated one by one into one test namespace (the payload namespaces
/// `legacy-*`, `default`, `tools` are not ours to write to on a real cluster), read back, compared with
/// the genuine Helm 3 records, and read by real helm3 and helm4.
#[test]
fn every_fixture_release_migrates_and_real_helm_reads_it() {
    let c = TestCluster::start();
    c.install_widget_crd();
    let apps = c.namespace("apps");
    let tillers: BTreeMap<&str, String> =
        ["kube-system", "tiller-apps", "helm-system", "tools"].into_iter().map(|t| (t, c.namespace(&format!("t-{t}")))).collect();
    let map: BTreeMap<&str, &str> = tillers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for dir in ["helm2", "helm2-synthetic"] {
        for f in std::fs::read_dir(fixture(dir)).unwrap() {
            c.seed_file(&f.unwrap().path(), &map);
        }
    }
    let releases: &[(&str, &str, &[i64])] = &[
        ("kube-system", "shop", &[1, 2, 3, 4]),
        ("kube-system", "stuck", &[1, 2]),
        ("kube-system", "gone", &[1]),
        ("kube-system", "nolabel", &[1]),
        ("kube-system", "rawproto", &[1]),
        ("tiller-apps", "cart", &[1, 2]),
        // its Deployment (extensions/v1beta1) and APIService (apiregistration.k8s.io/v1beta1) are mapped
        // in a revision 2
        ("helm-system", "invincible-zebu", &[1, 2]),
        ("helm-system", "lunging-bat", &[1, 2]), // mapped in a revision 2 too
        // its Ingress (extensions/v1beta1) is mapped in a revision 2
        ("tools", "blog", &[1, 2]),
    ];
    for (tiller, name, _) in releases {
        // --skip-ownership: these manifests name objects (cluster roles, objects in `default`) that are
        // not this test's on a real cluster; ownership is tested with objects the tests create.
        let out = migrate(&c, &[name, "--tiller-namespace", &tillers[tiller], "--target-namespace", &apps, "--yes", "--skip-ownership"]);
        let text = expect_code(&out, 0);
        assert!(text.contains(&format!("{name}: migrated")), "{text}");
        assert!(text.contains("note (revision"), "every conversion note is a plan line: {text}");
    }
    // werf v1.1: the release named by --project/--env, the Tiller namespace from werf's environment.
    let out = run(c
        .werf()
        .args(["migrate2to3", "--project", "myproject", "--env", "production", "--target-namespace", &apps, "--yes", "--skip-ownership"])
        .env("WERF_HELM2_RELEASE_STORAGE_NAMESPACE", &tillers["kube-system"]));
    let text = expect_code(&out, 0);
    assert!(text.contains("myproject-production: migrated") && text.contains("written revision(s) 3, 7"), "{text}");
    // The damaged record is named, with the reason; nothing is written for it.
    let out = migrate(&c, &["broken", "--tiller-namespace", &tillers["kube-system"], "--target-namespace", &apps, "--yes"]);
    let text = expect_code(&out, 1);
    assert!(text.contains("broken.v1") && text.contains("gzip"), "{text}");
    assert!(c.rt.block_on(h3(&c).get_raw(&apps, "sh.helm.release.v1.broken.v1")).unwrap().is_none());

    // Round trip of the synthetic records.
    for rev in 1..=4 {
        let extra: &[&str] = if rev == 4 { &[".info.status", ".info.description", ".info.deleted"] } else { &[] };
        let m = stored(&c, &apps, "shop", rev);
        assert_documented_differences(&format!("shop.v{rev}"), &m, &genuine("fx-helm3-shop-secrets.yaml", "shop", rev), &apps, extra);
        if rev == 4 {
            assert_eq!((m["info"]["status"].as_str(), m["info"]["description"].as_str()), (Some("deployed"), Some("Rollback to 2")));
        }
    }
    for rev in 1..=2 {
        assert_documented_differences(
            &format!("cart.v{rev}"),
            &stored(&c, &apps, "cart", rev),
            &genuine("fx-helm3-cart-configmaps.yaml", "cart", rev),
            &apps,
            &[],
        );
        assert_documented_differences(
            &format!("stuck.v{rev}"),
            &stored(&c, &apps, "stuck", rev),
            &genuine("fx-helm3-stuck-secrets.yaml", "stuck", rev),
            &apps,
            &[],
        );
    }
    let gone = stored(&c, &apps, "gone", 1);
    assert_eq!(gone["info"]["status"], "uninstalled");
    assert_documented_differences(
        "gone.v1",
        &gone,
        &genuine("fx-helm3-stuck-secrets.yaml", "stuck", 1),
        &apps,
        &[".name", ".info.status", ".info.description", ".info.deleted"],
    );
    for (rev, status) in [(3, "superseded"), (7, "deployed")] {
        let m = stored(&c, &apps, "myproject-production", rev);
        assert_eq!((m["version"].as_i64(), m["info"]["status"].as_str()), (Some(rev), Some(status)));
        assert_documented_differences(
            &format!("myproject-production.v{rev}"),
            &m,
            &genuine("fx-helm3-shop-secrets.yaml", "shop", 2),
            &apps,
            &[".name", ".version", ".info.status", ".manifest"],
        );
    }
    // The genuine Tiller records: the stored record against the Helm 2 record read by a decoder of its own
    // (tests/helm2_wire), and real helm3/helm4's values and manifest against the same.
    for r in release_fixtures::load("helm2") {
        let h2 = helm2_wire::decode(&r.payload);
        let above = c.rt.block_on(h3(&c).get_raw(&apps, &codec::helm3_object_name(&h2.name, h2.version + 1))).unwrap();
        let mapped_above = above.is_some() && {
            let m = stored(&c, &apps, &h2.name, h2.version + 1);
            let mapped = m["info"]["description"].as_str().is_some_and(|d| d.starts_with("Removed APIs mapped by kubectl-werf"));
            if mapped {
                // deployed when the copied revision was; otherwise the copied revision's status (fix.rs)
                assert_eq!(m["info"]["status"], helm2_wire::status_name(h2.status_code), "{}: the mapped revision", r.file);
            }
            mapped
        };
        assert_migrated_from(&r.file, &stored(&c, &apps, &h2.name, h2.version), &h2, &apps, mapped_above);
        // Helm prints `null` for a release whose (empty) config was left out of the record.
        let values = Some(yaml_as_json(&h2.config_raw)).filter(|v| *v != json!({})).unwrap_or(Value::Null);
        let revision = h2.version.to_string();
        for major in [3u8, 4] {
            let got: Value = serde_json::from_str(&run_ok(c.helm(major).args([
                "get",
                "values",
                &h2.name,
                "-n",
                &apps,
                "--revision",
                &revision,
                "-o",
                "json",
            ])))
            .unwrap();
            assert_eq!(numbers_as_f64(&got), values, "helm{major} get values {} ({})", h2.name, r.file);
            let manifest = run_ok(c.helm(major).args(["get", "manifest", &h2.name, "-n", &apps, "--revision", &revision]));
            assert_eq!(manifest, format!("{}\n", h2.manifest), "helm{major} get manifest {} ({})", h2.name, r.file);
        }
    }

    // Real helm3 and helm4 read every migrated release.
    let mut expected: BTreeMap<&str, Vec<i64>> = releases.iter().map(|(_, n, revs)| (*n, revs.to_vec())).collect();
    expected.insert("myproject-production", vec![3, 7]);
    for major in [3u8, 4] {
        let mut list = c.helm(major);
        list.args(["list", "-n", &apps, "-o", "json"]);
        if major == 3 {
            list.arg("-a");
        }
        let listed: Value = serde_json::from_str(&run_ok(&mut list)).unwrap();
        let mut names: Vec<&str> =
            listed.as_array().unwrap().iter().filter(|r| r["namespace"] == apps.as_str()).map(|r| r["name"].as_str().unwrap()).collect();
        names.sort();
        assert_eq!(names, expected.keys().copied().collect::<Vec<_>>(), "helm{major} list -n {apps}");
        for (name, revs) in &expected {
            let hist: Value = serde_json::from_str(&run_ok(c.helm(major).args(["history", name, "-n", &apps, "-o", "json"]))).unwrap();
            let got: Vec<i64> = hist.as_array().unwrap().iter().map(|h| h["revision"].as_i64().unwrap()).collect();
            assert_eq!(&got, revs, "helm{major} history {name}");
            let all = run_ok(c.helm(major).args(["get", "all", name, "-n", &apps]));
            assert!(all.contains("COMPUTED VALUES:") && all.contains("MANIFEST:"), "helm{major} get all {name}: {all}");
            let out = run(c.helm(major).args(["status", name, "-n", &apps, "-o", "json"]));
            if major == 4 && !out.status.success() {
                // Helm 4's status resolves the manifest's kinds; these Helm 2-era charts use API versions
                // (extensions/v1beta1, ...) no current API server serves. Tolerated only when helm4 fails the
                // same way on a record helm itself wrote, holding nothing of ours but this manifest.
                let err = String::from_utf8_lossy(&out.stderr).into_owned();
                assert!(err.contains("resource mapping not found") && err.contains("v1beta1"), "helm4 status {name}: {err}");
                let manifest = stored(&c, &apps, name, *revs.last().unwrap())["manifest"].as_str().unwrap().to_string();
                let control = format!("{name}-control");
                put_genuine_with_manifest(&c, &apps, &control, &manifest);
                let again = run(c.helm(4).args(["status", &control, "-n", &apps, "-o", "json"]));
                assert!(!again.status.success(), "helm4 status {control} succeeded: only the migrated record fails");
                assert_eq!(
                    String::from_utf8_lossy(&again.stderr).replace(&control, name),
                    err,
                    "helm4 status: the control fails otherwise"
                );
                eprintln!("helm4 status {name}: fails on the manifest's removed API versions, as on the control record");
                continue;
            }
            assert!(out.status.success(), "helm{major} status {name}: {}", both(&out));
            let status: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(
                (status["name"].as_str(), status["version"].as_i64()),
                (Some(*name), revs.last().copied()),
                "helm{major} status {name}"
            );
        }
    }
}

/// Store, as release `name` revision 1 in `ns`, the record real helm 3 wrote for shop revision 2
/// (fixtures/helm3) with only name, namespace and manifest changed: decoded and encoded here with flate2 and
/// base64, not with the product's codec.
fn put_genuine_with_manifest(c: &TestCluster, ns: &str, name: &str, manifest: &str) {
    use base64::Engine;
    use std::io::{Read, Write};
    let b64 = base64::engine::general_purpose::STANDARD;
    let r = release_fixtures::load("helm3")
        .into_iter()
        .find(|r| r.file == "fx-helm3-shop-secrets.yaml" && r.name == "sh.helm.release.v1.shop.v2")
        .unwrap();
    let mut body = Vec::new();
    flate2::read::GzDecoder::new(&b64.decode(&r.payload).unwrap()[..]).read_to_end(&mut body).unwrap();
    let mut release: Value = serde_json::from_slice(&body).unwrap();
    release["name"] = json!(name);
    release["namespace"] = json!(ns);
    release["manifest"] = json!(manifest);
    release["version"] = json!(1);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&serde_json::to_vec(&release).unwrap()).unwrap();
    let payload = b64.encode(gz.finish().unwrap());
    let status = release["info"]["status"].clone();
    c.create_object(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": format!("sh.helm.release.v1.{name}.v1"), "namespace": ns,
            "labels": {"name": name, "owner": "helm", "status": status, "version": "1"}},
        "data": {"release": b64.encode(payload)}
    }));
}

/// Write a Helm 2 release into a Tiller namespace, payload namespace moved to a test namespace.
fn put_v2(c: &TestCluster, tiller: &str, kind: ObjectKind, mut rel: helm2::Release, ns: &str) {
    rel.namespace = ns.to_string();
    let store = Helm2Store::new(c.client.clone(), tiller, Helm2Storage::Auto, DecodeLimits::default());
    c.rt.block_on(store.create(kind, &rel)).unwrap();
}

fn v2_names(c: &TestCluster, tiller: &str) -> BTreeSet<String> {
    let store = Helm2Store::new(c.client.clone(), tiller, Helm2Storage::Auto, DecodeLimits::default());
    let listing = c.rt.block_on(store.list(None)).unwrap();
    listing.records.iter().map(|r| r.object.name.clone()).chain(listing.errors.iter().map(|e| e.object.clone())).collect()
}

fn live_meta(c: &TestCluster, ns: &str, kind: &str, name: &str) -> Value {
    let out = run_ok(c.kubectl().args(["get", kind, name, "-n", ns, "-o", "json"]));
    let v: Value = serde_json::from_str(&out).unwrap();
    v["metadata"].clone()
}

/// `--all` with a damaged record, ownership stamping (never stealing), Helm 2 deletion after backup, a
/// restore with `kubectl create -f`, a Helm 3 upgrade taking a stamped object over, and `--cleanup`
/// accepting the copy Helm 3 has superseded since.
#[test]
fn all_releases_ownership_deletion_restore_upgrade_and_cleanup() {
    let c = TestCluster::start();
    c.install_widget_crd();
    let tiller = c.namespace("tiller");
    let apps = c.namespace("apps");
    for rev in 1..=4 {
        put_v2(&c, &tiller, ObjectKind::ConfigMap, synthetic(&format!("shop.v{rev}")), &apps);
    }
    for rev in 1..=2 {
        put_v2(&c, &tiller, ObjectKind::Secret, synthetic(&format!("stuck.v{rev}")), &apps);
    }
    // Only the corrupt record of the damaged file.
    let damaged = std::fs::read_to_string(fixture("helm2-synthetic/kube-system-damaged-configmaps.yaml")).unwrap();
    for obj in kubectl_werf::manifest::parse_objects(&damaged, true) {
        let obj = obj.unwrap();
        if obj.name == "broken.v1" {
            let mut v = obj.object.clone();
            kubectl_werf::manifest::strip_server_metadata(&mut v);
            v["metadata"]["namespace"] = json!(tiller);
            c.create_object(v);
        }
    }
    // Live objects of shop's latest manifest: one unowned, one owned by another release, the rest missing.
    c.create_object(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "shop", "namespace": apps, "labels": {"heritage": "Tiller"}}}));
    c.create_object(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "shop-cache", "namespace": apps,
        "labels": {"app.kubernetes.io/managed-by": "Helm"}, "annotations": {"meta.helm.sh/release-name": "other", "meta.helm.sh/release-namespace": apps}}}));
    c.create_object(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "unrelated", "namespace": apps}}));
    let before = v2_names(&c, &tiller);
    assert_eq!(before.len(), 7);

    // Dry run: the plan, no writes.
    let out = migrate(&c, &["--all", "--tiller-namespace", &tiller, "--delete-v2-releases", "--dry-run"]);
    let plan = expect_code(&out, 1);
    for needle in [
        "RELEASE shop → shop in namespace",
        "sh.helm.release.v1.shop.v4",
        "create",
        "note (revisions 1-4): subchart cache",
        "stamp: ServiceAccount/shop",
        "left alone: ServiceAccount/shop-cache",
        "BLOCKED: undecodable Helm 2 record",
        "broken.v1",
        "Dry run: nothing was changed",
    ] {
        assert!(plan.contains(needle), "{needle:?} in plan:\n{plan}");
    }
    assert_eq!(v2_names(&c, &tiller), before);
    assert!(c.rt.block_on(h3(&c).list_meta(Some(&apps), None)).unwrap().is_empty());
    // No terminal and no --yes: refused, nothing written.
    let out = migrate(&c, &["--all", "--tiller-namespace", &tiller]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(both(&out).contains("--yes"), "{}", both(&out));

    let backup = c.dir.path().join("backup");
    let out = migrate(
        &c,
        &["--all", "--tiller-namespace", &tiller, "--delete-v2-releases", "--yes", "--backup-dir", backup.to_str().unwrap(), "-o", "json"],
    );
    let text = expect_code(&out, 1);
    let report: Value = serde_json::from_str(&text).unwrap();
    let by_name = |n: &str| report["releases"].as_array().unwrap().iter().find(|r| r["release"] == n).unwrap().clone();
    assert_eq!(by_name("shop")["result"]["outcome"], "migrated");
    assert_eq!(by_name("stuck")["result"]["outcome"], "migrated");
    assert_eq!(by_name("broken")["result"]["outcome"], "failed");
    assert!(by_name("broken")["blockers"][0].as_str().unwrap().contains("broken.v1: gzip"), "{}", by_name("broken"));
    let shop_notes = by_name("shop")["revisions"][0]["notes"].as_array().unwrap().len();
    assert!(shop_notes >= 4, "notes in JSON: {}", by_name("shop"));
    // Only the damaged record is left in Helm 2; every deleted one is in the backup.
    assert_eq!(v2_names(&c, &tiller), BTreeSet::from(["broken.v1".to_string()]));
    let backed: Vec<_> = kubectl_werf::storage::backup::read_dir(&backup).unwrap().into_iter().map(Result::unwrap).collect();
    assert_eq!(backed.len(), 6);
    // Ownership: stamped, the foreign one untouched, missing ones reported.
    let sa = live_meta(&c, &apps, "serviceaccount", "shop");
    assert_eq!(sa["labels"]["app.kubernetes.io/managed-by"], "Helm");
    assert_eq!(sa["labels"]["heritage"], "Tiller");
    assert_eq!(sa["annotations"]["meta.helm.sh/release-name"], "shop");
    assert_eq!(sa["annotations"]["meta.helm.sh/release-namespace"], apps.as_str());
    let foreign = live_meta(&c, &apps, "serviceaccount", "shop-cache");
    assert_eq!(foreign["annotations"]["meta.helm.sh/release-name"], "other");
    let own = &by_name("shop")["result"]["ownership"];
    assert!(own["owned_by_other_release"][0].as_str().unwrap().contains("shop-cache"), "{own}");
    assert!(own["missing"].as_array().unwrap().iter().any(|m| m.as_str().unwrap().starts_with("Deployment/shop")), "{own}");

    // Restore the Helm 2 records from the backup with kubectl, as the help says.
    run_ok(c.kubectl().args(["create", "-f", backup.to_str().unwrap()]));
    assert_eq!(v2_names(&c, &tiller), before);

    // A Helm 3 upgrade with a chart rendering the stamped object takes it over.
    let chart = c.dir.path().join("tiny");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: tiny\nversion: 0.1.0\n").unwrap();
    std::fs::write(
        chart.join("templates/sa.yaml"),
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: shop\n  labels:\n    tiny: \"yes\"\n",
    )
    .unwrap();
    // Real helm upgrades the migrated release: helm3 to revision 5, then helm4 to revision 6.
    for major in [3u8, 4] {
        run_ok(c.helm(major).args(["upgrade", "shop", chart.to_str().unwrap(), "-n", &apps]));
        let sa = live_meta(&c, &apps, "serviceaccount", "shop");
        assert_eq!(sa["labels"]["tiny"], "yes", "helm{major} upgrade took the stamped ServiceAccount over");
    }
    let hist: Value = serde_json::from_str(&run_ok(c.helm(3).args(["history", "shop", "-n", &apps, "-o", "json"]))).unwrap();
    assert_eq!(hist.as_array().unwrap().iter().map(|h| h["revision"].as_i64().unwrap()).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);

    // Re-running the migration now: Helm 3 has moved on; nothing is overwritten.
    let out = migrate(&c, &["shop", "--tiller-namespace", &tiller, "--yes"]);
    let text = expect_code(&out, 0);
    assert!(text.contains("skip (superseded by a Helm 3 upgrade)"), "{text}");
    assert_eq!(stored(&c, &apps, "shop", 4)["info"]["status"], "superseded");

    // Cleanup: every restored record has a copy (shop.v4 superseded by the upgrade); broken is kept.
    let out = migrate(&c, &["--cleanup", "--all", "--tiller-namespace", &tiller, "--dry-run"]);
    let text = expect_code(&out, 1);
    assert!(text.contains("DELETE") && text.contains("superseded by a later Helm 3 upgrade") && text.contains("ERROR  "), "{text}");
    assert_eq!(v2_names(&c, &tiller), before);
    let cleanup_backup = c.dir.path().join("cleanup-backup");
    let out =
        migrate(&c, &["--cleanup", "--all", "--tiller-namespace", &tiller, "--yes", "--backup-dir", cleanup_backup.to_str().unwrap()]);
    let text = expect_code(&out, 1);
    assert!(text.contains("6 Helm 2 record(s) deleted"), "{text}");
    assert_eq!(v2_names(&c, &tiller), BTreeSet::from(["broken.v1".to_string()]));
    assert_eq!(kubectl_werf::storage::backup::read_dir(&cleanup_backup).unwrap().len(), 6);
}

/// Re-runs skip everything and write nothing; a different record stops the release until --force,
/// which backs it up and replaces it; a missing namespace and an oversized record are blockers.
#[test]
fn idempotent_rerun_conflicts_force_and_blockers() {
    let c = TestCluster::start();
    let tiller = c.namespace("tiller");
    let apps = c.namespace("apps");
    for rev in 1..=4 {
        put_v2(&c, &tiller, ObjectKind::ConfigMap, synthetic(&format!("shop.v{rev}")), &apps);
    }
    let args = ["shop", "--tiller-namespace", &tiller, "--target-release", "shop-new", "--yes", "--skip-ownership"];
    expect_code(&migrate(&c, &args), 0);
    let before = resource_versions(&c, &[&tiller, &apps]);
    let text = expect_code(&migrate(&c, &args), 0);
    assert!(text.contains("shop: skipped (already migrated)"), "{text}");
    assert_eq!(text.matches("skip (equal record exists)").count(), 4, "{text}");
    assert_eq!(resource_versions(&c, &[&tiller, &apps]), before, "a re-run writes nothing");

    // Someone changed revision 2 in Helm 3: the release stops there; --force backs it up and replaces it.
    let store = h3(&c);
    let rec = c.rt.block_on(store.get(&apps, "shop-new", 2)).unwrap().unwrap().unwrap();
    let mut changed = rec.release.clone();
    changed.info.description = "edited by hand".into();
    c.rt.block_on(store.update(&rec.object, &changed)).unwrap();
    let text = expect_code(&migrate(&c, &args), 1);
    assert!(
        text.contains("exists and differs from revision 2") && text.contains(".info.description") && text.contains("--force"),
        "{text}"
    );
    assert_eq!(stored(&c, &apps, "shop-new", 2)["info"]["description"], "edited by hand");
    let backup = c.dir.path().join("force-backup");
    let mut forced: Vec<&str> = args.to_vec();
    forced.extend(["--force", "--backup-dir", backup.to_str().unwrap()]);
    let text = expect_code(&migrate(&c, &forced), 0);
    assert!(text.contains("replaced 2"), "{text}");
    assert_ne!(stored(&c, &apps, "shop-new", 2)["info"]["description"], "edited by hand");
    let saved = kubectl_werf::storage::backup::read_dir(&backup).unwrap();
    assert_eq!(saved.len(), 1);
    let saved = saved[0].as_ref().unwrap();
    let old = codec::decode_helm3_value(saved.payload.as_bytes(), &DecodeLimits::default()).unwrap();
    assert_eq!(old["info"]["description"], "edited by hand");

    // A target namespace that does not exist blocks the release before anything is written.
    let missing = format!("{apps}-missing");
    let text = expect_code(&migrate(&c, &["shop", "--tiller-namespace", &tiller, "--target-namespace", &missing, "--yes"]), 1);
    assert!(text.contains("does not exist"), "{text}");

    // A release that would not fit in one Secret after conversion is a blocker, with the size.
    let mut big = synthetic("shop.v4");
    big.name = "big".into();
    big.version = 1;
    let mut seed = 7u64;
    big.manifest = (0..900_000)
        .map(|_| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            char::from(1 + ((seed >> 33) % 31) as u8)
        })
        .collect();
    big.namespace = apps.clone();
    let conv = kubectl_werf::release::convert::convert(&big, &Default::default()).unwrap();
    let size = store.object_for(&conv.release, codec::LabelStamp::Created(0)).unwrap().data_size();
    assert!(size > 1_048_576, "the test record must exceed the limit after conversion ({size})");
    put_v2(&c, &tiller, ObjectKind::ConfigMap, big, &apps);
    let text = expect_code(&migrate(&c, &["big", "--tiller-namespace", &tiller, "--yes"]), 1);
    assert!(text.contains(&format!("revision 1 is {size} bytes after conversion, over the 1048576-byte limit")), "{text}");
    assert!(c.rt.block_on(store.get_raw(&apps, "sh.helm.release.v1.big.v1")).unwrap().is_none());

    // --release-versions-max keeps the newest N; older ones stay in Helm 2 even with --delete-v2-releases.
    let text = expect_code(
        &migrate(
            &c,
            &[
                "shop",
                "--tiller-namespace",
                &tiller,
                "--target-release",
                "shop-two",
                "--release-versions-max",
                "2",
                "--delete-v2-releases",
                "--skip-ownership",
                "--yes",
                "--backup-dir",
                c.dir.path().join("b2").to_str().unwrap(),
            ],
        ),
        0,
    );
    assert!(text.contains("not migrated (--release-versions-max): revision(s) 1, 2"), "{text}");
    let left: BTreeSet<String> = v2_names(&c, &tiller).into_iter().filter(|n| n.starts_with("shop.")).collect();
    assert_eq!(left, BTreeSet::from(["shop.v1".to_string(), "shop.v2".to_string()]));
    let hist = c.rt.block_on(store.history(&apps, "shop-two")).unwrap();
    assert_eq!(hist.records.iter().map(|r| r.release.version).collect::<Vec<_>>(), [3, 4]);
}

/// Every Secret and ConfigMap of these namespaces with its resourceVersion: equal snapshots mean no
/// write happened in between, on any server.
fn resource_versions(c: &TestCluster, namespaces: &[&str]) -> BTreeMap<String, String> {
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    let mut out = BTreeMap::new();
    for ns in namespaces {
        let secrets: kube::Api<Secret> = kube::Api::namespaced(c.client.clone(), ns);
        let maps: kube::Api<ConfigMap> = kube::Api::namespaced(c.client.clone(), ns);
        for s in c.rt.block_on(secrets.list(&Default::default())).unwrap() {
            out.insert(format!("{ns}/secret/{}", s.metadata.name.unwrap()), s.metadata.resource_version.unwrap());
        }
        for m in c.rt.block_on(maps.list(&Default::default())).unwrap() {
            out.insert(format!("{ns}/configmap/{}", m.metadata.name.unwrap()), m.metadata.resource_version.unwrap());
        }
    }
    out
}
