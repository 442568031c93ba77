//! `kubectl werf annotate` against an API server: the shop fixture release with its live objects created from
//! its latest manifest; werf, CI and custom inputs; validation with nothing changed; removal and chart-set
//! keys; hooks; missing objects; conflicts injected mid-run; a migrated-looking release without Helm labels.
//! Every test runs on the emulator and unchanged on a real cluster (fault injection only on the emulator).

mod common;

use std::collections::BTreeMap;

use common::{TestCluster, fixture, run};
use kubectl_werf::live::targets::resolve_manifest;
use kubectl_werf::live::{ResourceCatalog, discovery, objects};
use kubectl_werf::release::helm3::Release;
use kubectl_werf::storage::Helm3Driver;
use kubectl_werf::storage::Helm3Store;
use kubectl_werf::storage::codec::DecodeLimits;
use serde_json::{Value, json};

/// The shop release seeded into a test namespace, with the live objects of its latest revision.
struct Shop {
    ns: String,
    release: Release,
    catalog: ResourceCatalog,
}

fn store(c: &TestCluster) -> Helm3Store {
    Helm3Store::new(c.client.clone(), Helm3Driver::Secret, DecodeLimits::default())
}

/// Seed `fx-helm3-shop-secrets.yaml`, then create each object of the latest revision's manifest for which
/// `want(kind, name)` holds. A Widget is only created where the server serves `widgets.shop.example.com`.
fn seed_shop(c: &TestCluster, hint: &str, want: impl Fn(&str, &str) -> bool) -> Shop {
    let ns = c.namespace(hint);
    c.seed_file(&fixture("helm3/fx-helm3-shop-secrets.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
    let history = c.rt.block_on(store(c).history(&ns, "shop")).unwrap();
    let release = history.records.last().unwrap().release.clone();
    // the shop release holds a Widget: served once its CRD is installed, on either server
    c.install_widget_crd();
    let catalog = c.rt.block_on(discovery::load(&c.client)).unwrap();
    for obj in kubectl_werf::manifest::parse_objects(&release.manifest, true) {
        let obj = obj.unwrap();
        if !want(&obj.kind, &obj.name) || catalog.resolve_gvk(&obj.api_version, &obj.kind).is_err() {
            continue;
        }
        create_in(c, &obj.object, &ns);
    }
    Shop { ns, release, catalog }
}

fn create_in(c: &TestCluster, object: &Value, ns: &str) {
    let mut value = object.clone();
    value["metadata"]["namespace"] = Value::String(ns.to_string());
    c.create_object(value);
}

fn widgets_served(shop: &Shop) -> bool {
    shop.catalog.resolve_gvk("shop.example.com/v1", "Widget").is_ok()
}

/// Every live object of a manifest, by kubectl-style name, as JSON (absent ones left out).
fn live_objects(c: &TestCluster, shop: &Shop, manifest: &str) -> BTreeMap<String, Value> {
    let (targets, _) = resolve_manifest(&shop.catalog, manifest, &shop.ns);
    let mut out = BTreeMap::new();
    for t in targets {
        if let Some(obj) = c.rt.block_on(objects::get(&c.client, &t.resource, t.namespace.as_deref(), &t.name)).unwrap() {
            out.insert(kubectl_werf::commands::annotate::resource_name(&t), serde_json::to_value(obj).unwrap());
        }
    }
    out
}

/// The plugin without CI variables leaking in from the machine running the tests.
fn werf(c: &TestCluster) -> std::process::Command {
    let mut cmd = c.werf();
    for (k, _) in std::env::vars() {
        if k.starts_with("CI_") || k.starts_with("GITHUB_") || k == "GITLAB_CI" || k == "TRDL_USE_WERF_GROUP_CHANNEL" {
            cmd.env_remove(&k);
        }
    }
    cmd
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

fn annotate(c: &TestCluster, ns: &str, release: &str, args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut cmd = werf(c);
    cmd.args(["annotate", release, "-n", ns]).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run(&mut cmd);
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ok_json(ran: &Ran) -> Value {
    assert_eq!(ran.code, 0, "stdout:\n{}\nstderr:\n{}", ran.stdout, ran.stderr);
    serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("{e}: {}", ran.stdout))
}

/// RESOURCE → RESULT of a JSON report.
fn results(report: &Value) -> BTreeMap<String, String> {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["resource"].as_str().unwrap().to_string(), r["result"].as_str().unwrap().to_string()))
        .collect()
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect()).unwrap_or_default()
}

/// Server-maintained parts that may move on a real cluster between two reads.
fn comparable(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
        meta.remove("managedFields");
        if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            ann.retain(|k, _| !k.starts_with("deployment.kubernetes.io/"));
            if ann.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    v
}

/// `after` equals `before` with exactly these metadata changes; every other field is unchanged.
fn assert_only(
    name: &str,
    before: &Value,
    after: &Value,
    set_labels: &BTreeMap<String, String>,
    set_annotations: &BTreeMap<String, String>,
    removed_labels: &[&str],
    removed_annotations: &[&str],
) {
    let mut expected = before.clone();
    for (field, set, removed) in [("labels", set_labels, removed_labels), ("annotations", set_annotations, removed_annotations)] {
        let mut map = expected["metadata"].get(field).and_then(Value::as_object).cloned().unwrap_or_default();
        for k in removed {
            map.remove(*k);
        }
        for (k, v) in set {
            map.insert(k.clone(), Value::String(v.clone()));
        }
        if map.is_empty() {
            expected["metadata"].as_object_mut().unwrap().remove(field);
        } else {
            expected["metadata"][field] = Value::Object(map);
        }
    }
    // kube-apiserver bumps a Deployment's generation when its annotations change (its strategy treats them
    // like the template), by one per write; annotate writes each object once.
    if expected["kind"] == "Deployment" && expected["metadata"].get("annotations") != before["metadata"].get("annotations") {
        let generation = before["metadata"]["generation"].as_i64().unwrap();
        expected["metadata"]["generation"] = (generation + 1).into();
    }
    assert_eq!(comparable(after), comparable(&expected), "{name}: only the requested keys may change");
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// PATCH requests the emulator has served so far; `None` on a real server, which keeps no request log.
fn patch_count(c: &TestCluster) -> Option<usize> {
    c.emulator.as_ref().map(|e| e.request_log().iter().filter(|r| r.verb == "patch").count())
}

/// On the emulator, no PATCH was served since `before` was counted. A real server has no count to compare
/// (both `None`): there the callers rely on [`patches_logged`] and on the objects' resourceVersions.
#[track_caller]
fn assert_no_patch_since(c: &TestCluster, before: Option<usize>) {
    match (before, patch_count(c)) {
        (Some(before), Some(now)) => assert_eq!(now, before, "no PATCH served by the emulator"),
        (None, None) => assert!(c.is_real()),
        other => panic!("a patch count on one side only: {other:?}"),
    }
}

/// PATCH requests the plugin itself logged (its `-v 6` request log, the same on any server).
fn patches_logged(ran: &Ran) -> usize {
    ran.stderr.lines().filter(|l| l.contains("http.method=PATCH") && l.ends_with("requesting")).count()
}

#[test]
fn annotates_every_object_of_the_shop_release_and_nothing_else() {
    let c = TestCluster::start();
    let shop = seed_shop(&c, "annotate", |_, _| true);
    assert_eq!(shop.release.version, 4);
    let before = live_objects(&c, &shop, &shop.release.manifest);
    let expected_objects = if widgets_served(&shop) { 7 } else { 6 };
    assert_eq!(before.len(), expected_objects, "{:?}", before.keys());

    let args = [
        "--add-annotation",
        "team.example.com/owner=pay=ments",
        "--add-label",
        "tier=web",
        "--werf-auto-annotations",
        "--werf-version",
        "v2.31.0",
        "--project",
        "shop",
        "--env",
        "production",
        "--yes",
        "-o",
        "json",
    ];
    let env = [("WERF_ADD_ANNOTATION_TICKET", "example.com/ticket=OPS-17"), ("WERF_ADD_LABEL_COST", "cost-center=cc-42")];
    let logged = |args: &[&str]| -> Vec<String> { args.iter().map(|a| a.to_string()).chain(["-v".into(), "6".into()]).collect() };
    let verbose = logged(&args);
    let verbose: Vec<&str> = verbose.iter().map(String::as_str).collect();
    let first = annotate(&c, &shop.ns, "shop", &verbose, &env);
    let report = ok_json(&first);
    let got = results(&report);
    assert_eq!(got.len(), 7, "{got:?}");
    // The log shows the PATCHes it sent (one per patched object), so its silence below means something.
    assert_eq!(patches_logged(&first), got.values().filter(|r| *r == "patched").count(), "{}", first.stderr);
    for (name, result) in &got {
        let want = if before.contains_key(name) { "patched" } else { "missing" };
        assert_eq!(result, want, "{name}: {report:#}");
    }
    assert_eq!(report["revision"], 4);

    let annotations = map(&[
        ("team.example.com/owner", "pay=ments"),
        ("example.com/ticket", "OPS-17"),
        ("werf.io/version", "v2.31.0"),
        ("project.werf.io/name", "shop"),
        ("project.werf.io/env", "production"),
    ]);
    let labels = map(&[("tier", "web"), ("cost-center", "cc-42")]);
    let after = live_objects(&c, &shop, &shop.release.manifest);
    for (name, obj) in &before {
        assert_only(name, obj, &after[name], &labels, &annotations, &[], &[]);
    }

    // Again: every object already has every value, so nothing is sent.
    let patches = patch_count(&c);
    let again_ran = annotate(&c, &shop.ns, "shop", &verbose, &env);
    let again = ok_json(&again_ran);
    for (name, result) in results(&again) {
        let want = if before.contains_key(&name) { "unchanged" } else { "missing" };
        assert_eq!(result, want, "{name}");
    }
    assert_eq!(patches_logged(&again_ran), 0, "no PATCH for unchanged objects: {}", again_ran.stderr);
    assert_no_patch_since(&c, patches);

    // The table names each object.
    let table = annotate(&c, &shop.ns, "shop", &["--add-label", "tier=web", "--yes"], &[]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(table.stdout.starts_with("RESOURCE"), "{}", table.stdout);
    assert!(table.stdout.contains("deployment.apps/shop-cache"), "{}", table.stdout);
    assert!(table.stdout.lines().any(|l| l.starts_with("serviceaccount/shop ") && l.contains("unchanged")), "{}", table.stdout);
}

#[test]
fn ci_annotations_from_gitlab_and_github_variables() {
    let c = TestCluster::start();
    let shop = seed_shop(&c, "annotate-ci", |kind, _| kind == "Deployment");
    let gitlab = [
        ("GITLAB_CI", "true"),
        ("CI_PROJECT_URL", "https://gitlab.example.com/acme/shop"),
        ("CI_COMMIT_SHA", "1111111111111111111111111111111111111111"),
        ("CI_COMMIT_TAG", "v1.4.2"),
        ("CI_PIPELINE_URL", "https://gitlab.example.com/acme/shop/-/pipelines/501"),
        ("CI_JOB_URL", "https://gitlab.example.com/acme/shop/-/jobs/9001"),
        ("TRDL_USE_WERF_GROUP_CHANNEL", "2 stable"),
    ];
    let report = ok_json(&annotate(&c, &shop.ns, "shop", &["--ci-env", "auto", "--yes", "-o", "json"], &gitlab));
    assert_eq!(results(&report)["deployment.apps/shop"], "patched");
    let live = live_objects(&c, &shop, &shop.release.manifest);
    let ann = string_map(&live["deployment.apps/shop"]["metadata"]["annotations"]);
    assert_eq!(ann["project.werf.io/git"], "https://gitlab.example.com/acme/shop");
    assert_eq!(ann["ci.werf.io/commit"], "1111111111111111111111111111111111111111");
    assert_eq!(ann["ci.werf.io/tag"], "v1.4.2");
    assert_eq!(ann["gitlab.ci.werf.io/pipeline-url"], "https://gitlab.example.com/acme/shop/-/pipelines/501");
    assert_eq!(ann["gitlab.ci.werf.io/job-url"], "https://gitlab.example.com/acme/shop/-/jobs/9001");
    assert_eq!(ann["werf.io/release-channel"], "2 stable");

    let github = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REPOSITORY", "acme/shop"),
        ("GITHUB_SHA", "2222222222222222222222222222222222222222"),
        ("GITHUB_REF_TYPE", "tag"),
        ("GITHUB_REF_NAME", "v1.5.0"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_RUN_ID", "777"),
        // A variable set by hand beats CI: explicit inputs win.
        ("WERF_ADD_ANNOTATION_GIT", "project.werf.io/git=https://git.example.com/shop.git"),
    ];
    let report = ok_json(&annotate(&c, &shop.ns, "shop", &["--ci-env", "auto", "--yes", "-o", "json"], &github));
    assert_eq!(results(&report)["deployment.apps/shop-cache"], "patched");
    let live = live_objects(&c, &shop, &shop.release.manifest);
    let ann = string_map(&live["deployment.apps/shop-cache"]["metadata"]["annotations"]);
    assert_eq!(ann["project.werf.io/git"], "https://git.example.com/shop.git");
    assert_eq!(ann["ci.werf.io/commit"], "2222222222222222222222222222222222222222");
    assert_eq!(ann["ci.werf.io/tag"], "v1.5.0");
    assert_eq!(ann["github.ci.werf.io/workflow-run-url"], "https://github.com/acme/shop/actions/runs/777");
    // GitLab's keys from the first run stay: nobody asked to remove them.
    assert_eq!(ann["gitlab.ci.werf.io/job-url"], "https://gitlab.example.com/acme/shop/-/jobs/9001");

    // auto without any CI: a warning, and with nothing else to do a usage error.
    let none = annotate(&c, &shop.ns, "shop", &["--ci-env", "auto", "--add-label", "tier=web", "--yes"], &[]);
    assert_eq!(none.code, 0, "{}", none.stderr);
    assert!(none.stderr.contains("neither GITLAB_CI nor GITHUB_ACTIONS"), "{}", none.stderr);
}

#[test]
fn invalid_input_is_named_and_changes_nothing() {
    let c = TestCluster::start();
    let shop = seed_shop(&c, "annotate-bad", |_, _| true);
    // One object already carries ~200 KiB of annotations.
    let sa = shop.catalog.resolve_gvk("v1", "ServiceAccount").unwrap();
    let big = "x".repeat(200 * 1024);
    c.rt.block_on(objects::merge_patch(
        &c.client,
        sa,
        Some(&shop.ns),
        "shop",
        &json!({"metadata": {"annotations": {"example.com/blob": big}}}),
    ))
    .unwrap();
    let before = live_objects(&c, &shop, &shop.release.manifest);
    let patches = patch_count(&c);

    // (arguments, variables, exit code, text the error must contain)
    type Case<'a> = (Vec<String>, Vec<(&'a str, String)>, i32, &'a str);
    let cases: Vec<Case> = vec![
        (vec!["--add-annotation".into(), "bad key=1".into()], vec![], 2, "invalid annotation key \"bad key\""),
        (vec!["--add-label".into(), "tier=not valid!".into()], vec![], 2, "invalid label value \"not valid!\""),
        (vec!["--add-label".into(), "example.com/=x".into()], vec![], 2, "invalid label key \"example.com/\""),
        (vec!["--add-annotation".into(), "novalue".into()], vec![], 2, "\"novalue\""),
        (vec![], vec![("WERF_ADD_LABEL_BAD", "team=a/b".into())], 2, "$WERF_ADD_LABEL_BAD"),
        (
            vec![],
            vec![
                ("WERF_ADD_ANNOTATION_A", format!("a={}", "y".repeat(90 * 1024))),
                ("WERF_ADD_ANNOTATION_B", format!("b={}", "y".repeat(90 * 1024))),
                ("WERF_ADD_ANNOTATION_C", format!("c={}", "y".repeat(90 * 1024))),
            ],
            2,
            "annotations too long",
        ),
        // Fits on its own, but not next to the 200 KiB the ServiceAccount already has: exit 1, no object changed.
        (vec!["--add-annotation".into(), format!("example.com/more={}", "z".repeat(70 * 1024))], vec![], 1, "serviceaccount/shop"),
    ];
    for (args, env, code, needle) in cases {
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.extend(["--add-label", "fine=ok", "--yes"]);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let ran = annotate(&c, &shop.ns, "shop", &all, &env);
        assert_eq!(ran.code, code, "{args:?}: stdout {} stderr {}", ran.stdout, ran.stderr);
        let stderr = ran.stderr.to_lowercase();
        assert!(stderr.contains(&needle.to_lowercase()), "{args:?}: expected {needle:?} in {}", ran.stderr);
        assert!(ran.stderr.lines().count() <= 4, "one clear message, not a dump: {}", ran.stderr);
    }
    let over = annotate(
        &c,
        &shop.ns,
        "shop",
        &["--add-annotation", &format!("example.com/more={}", "z".repeat(70 * 1024)), "--yes", "-v", "6"],
        &[],
    );
    assert!(over.stderr.contains("annotations too long") && over.stderr.contains("nothing was changed"), "{}", over.stderr);
    assert!(over.stderr.contains("http.method=GET"), "the request log is on: {}", over.stderr);
    assert_eq!(patches_logged(&over), 0, "{}", over.stderr);
    assert_eq!(live_objects(&c, &shop, &shop.release.manifest), before, "nothing changed, not even resourceVersions");
    assert_no_patch_since(&c, patches);
}

#[test]
fn removal_and_keys_the_chart_sets() {
    let c = TestCluster::start();
    let shop = seed_shop(&c, "annotate-rm", |kind, _| kind != "Widget");
    ok_json(&annotate(&c, &shop.ns, "shop", &["--add-annotation", "note=x", "--add-label", "tier=web", "--yes", "-o", "json"], &[]));
    let before = live_objects(&c, &shop, &shop.release.manifest);

    let ran = annotate(
        &c,
        &shop.ns,
        "shop",
        &[
            "--remove-annotation",
            "note",
            "--remove-label",
            "tier",
            "--remove-label",
            "app.kubernetes.io/version",
            "--add-label",
            "app.kubernetes.io/name=renamed",
            "--remove-annotation",
            "never-there",
            "--yes",
            "-o",
            "json",
        ],
        &[],
    );
    let report = ok_json(&ran);
    for (name, result) in results(&report) {
        let want = if before.contains_key(&name) { "patched" } else { "missing" };
        assert_eq!(result, want, "{name}");
    }
    // The chart sets app.kubernetes.io/version and app.kubernetes.io/name: the next upgrade puts them back.
    assert!(ran.stderr.contains("Deployment/shop (") && ran.stderr.contains("label app.kubernetes.io/version"), "{}", ran.stderr);
    assert!(ran.stderr.contains("puts it back"), "{}", ran.stderr);
    assert!(ran.stderr.contains("label app.kubernetes.io/name to \"shop\"") && ran.stderr.contains("overwrites"), "{}", ran.stderr);
    assert!(!ran.stderr.contains("note"), "note is ours, the chart does not set it: {}", ran.stderr);

    let after = live_objects(&c, &shop, &shop.release.manifest);
    for (name, obj) in &before {
        assert_only(
            name,
            obj,
            &after[name],
            &map(&[("app.kubernetes.io/name", "renamed")]),
            &BTreeMap::new(),
            &["tier", "app.kubernetes.io/version"],
            &["note"],
        );
    }
}

#[test]
fn hooks_only_with_include_hooks() {
    let c = TestCluster::start();
    let shop = seed_shop(&c, "annotate-hooks", |kind, _| kind == "Service");
    assert!(!shop.release.hooks.is_empty());
    // Create the pre hook ConfigMap only; the post hook was deleted (hook-succeeded), the test Pod never ran.
    let mut hook_manifests = String::new();
    for hook in &shop.release.hooks {
        hook_manifests.push_str("---\n");
        hook_manifests.push_str(&hook.manifest);
        hook_manifests.push('\n');
        for obj in kubectl_werf::manifest::parse_objects(&hook.manifest, true) {
            let obj = obj.unwrap();
            if obj.name == "shop-pre" {
                create_in(&c, &obj.object, &shop.ns);
            }
        }
    }
    let hooks_before = live_objects(&c, &shop, &hook_manifests);
    assert_eq!(hooks_before.len(), 1);

    let plain = ok_json(&annotate(&c, &shop.ns, "shop", &["--add-annotation", "owner=shop-team", "--yes", "-o", "json"], &[]));
    assert!(!results(&plain).contains_key("configmap/shop-pre"));
    assert_eq!(live_objects(&c, &shop, &hook_manifests), hooks_before, "hooks untouched without --include-hooks");

    let ran = annotate(&c, &shop.ns, "shop", &["--add-annotation", "owner=shop-team", "--include-hooks", "--yes", "-o", "json"], &[]);
    let report = ok_json(&ran);
    let got = results(&report);
    assert_eq!(got["configmap/shop-pre"], "patched");
    assert_eq!(got["configmap/shop-post"], "missing");
    assert_eq!(got["pod/shop-test-connection"], "missing");
    assert_eq!(got["service/shop"], "unchanged");
    let hook_row = report["results"].as_array().unwrap().iter().find(|r| r["resource"] == "configmap/shop-pre").unwrap();
    assert_eq!(hook_row["hook"], true);
    assert!(ran.stderr.contains("hook objects are recreated"), "{}", ran.stderr);
    let after = live_objects(&c, &shop, &hook_manifests);
    assert_only(
        "shop-pre",
        &hooks_before["configmap/shop-pre"],
        &after["configmap/shop-pre"],
        &BTreeMap::new(),
        &map(&[("owner", "shop-team")]),
        &[],
        &[],
    );
}

#[test]
fn missing_objects_are_reported_not_fatal() {
    let c = TestCluster::start();
    let shop = seed_shop(&c, "annotate-missing", |kind, name| kind == "Deployment" && name == "shop");
    let ran = annotate(&c, &shop.ns, "shop", &["--add-label", "tier=web", "--yes"], &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let rows: BTreeMap<&str, &str> = ran
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols.len() >= 3).then(|| (cols[0], cols[2]))
        })
        .collect();
    assert_eq!(rows["deployment.apps/shop"], "patched", "{}", ran.stdout);
    for name in ["deployment.apps/shop-cache", "service/shop", "serviceaccount/shop-cache", "widget.shop.example.com/shop"] {
        assert_eq!(rows.get(name).copied(), Some("missing"), "{name}: {}", ran.stdout);
    }
    assert!(ran.stdout.contains("1 patched") && ran.stdout.contains("6 missing"), "{}", ran.stdout);
}

#[test]
fn conflicting_writer_mid_run_is_retried_and_both_changes_survive_emulator_only() {
    let c = TestCluster::start();
    let emu = c.emulator_for("injects a concurrent writer");
    let shop = seed_shop(&c, "annotate-conflict", |kind, _| kind == "Deployment");
    let before = live_objects(&c, &shop, &shop.release.manifest);
    let ns = shop.ns.clone();
    // Just before our first PATCH of deployment/shop is served, someone else changes the object.
    emu.inject(kube_emulator::Fault::on("patch", "deployments").name("shop").nth(1).mutate(move |store| {
        store
            .patch(
                "deployments",
                &ns,
                "shop",
                kube_emulator::PatchType::Merge,
                &json!({"metadata": {"annotations": {"other.example.com/writer": "was-here"}}, "spec": {"replicas": 5}}),
            )
            .unwrap();
    }));
    emu.clear_request_log();
    let report = ok_json(&annotate(&c, &shop.ns, "shop", &["--add-annotation", "owner=shop-team", "--yes", "-o", "json"], &[]));
    let row = report["results"].as_array().unwrap().iter().find(|r| r["resource"] == "deployment.apps/shop").unwrap().clone();
    assert_eq!(row["result"], "patched");
    assert!(row["detail"].as_str().unwrap().contains("after 1 conflict"), "{row}");

    let log = emu.request_log();
    let shop_patches: Vec<u16> = log.iter().filter(|r| r.verb == "patch" && r.name == "shop").map(|r| r.status).collect();
    assert_eq!(shop_patches, [409, 200]);
    assert!(log.iter().filter(|r| r.verb == "get" && r.name == "shop" && r.resource == "deployments").count() >= 2, "re-read after 409");

    let after = live_objects(&c, &shop, &shop.release.manifest);
    let dep = &after["deployment.apps/shop"];
    assert_eq!(dep["spec"]["replicas"], 5, "the other writer's change survives");
    let ann = string_map(&dep["metadata"]["annotations"]);
    assert_eq!(ann["other.example.com/writer"], "was-here");
    assert_eq!(ann["owner"], "shop-team");
    assert_only(
        "shop-cache",
        &before["deployment.apps/shop-cache"],
        &after["deployment.apps/shop-cache"],
        &BTreeMap::new(),
        &map(&[("owner", "shop-team")]),
        &[],
        &[],
    );
}

/// Removes a cluster-scoped test object even when the test fails.
struct ClusterRoleGuard<'a> {
    c: &'a TestCluster,
    name: String,
}

impl Drop for ClusterRoleGuard<'_> {
    fn drop(&mut self) {
        let api: kube::Api<k8s_openapi::api::rbac::v1::ClusterRole> = kube::Api::all(self.c.client.clone());
        let _ = self.c.rt.block_on(api.delete(&self.name, &Default::default()));
    }
}

#[test]
fn migrated_release_without_helm_labels() {
    let c = TestCluster::start();
    let shop = seed_shop(&c, "annotate-migrated", |_, _| false);
    let ns = shop.ns.clone();
    let role = format!("{ns}-reader");
    let _guard = ClusterRoleGuard { c: &c, name: role.clone() };
    // What a Helm 2 → 3 migration leaves: a Helm 3 record whose objects carry no Helm labels or annotations.
    let manifest = format!(
        "---\n# Source: legacy/templates/config.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: legacy-config\ndata:\n  mode: old\n\
         ---\n# Source: legacy/templates/secret.yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: legacy-secret\ntype: Opaque\nstringData:\n  token: s3cr3t\n\
         ---\n# Source: legacy/templates/role.yaml\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {role}\nrules:\n- apiGroups: [\"\"]\n  resources: [\"configmaps\"]\n  verbs: [\"get\"]\n"
    );
    let mut release = shop.release.clone();
    release.name = "legacy".into();
    release.namespace = ns.clone();
    release.version = 1;
    release.manifest = manifest.clone();
    release.hooks.clear();
    release.info.status = "deployed".into();
    c.rt.block_on(store(&c).create(&release)).unwrap();
    for obj in kubectl_werf::manifest::parse_objects(&manifest, true) {
        let obj = obj.unwrap();
        let mut value = obj.object.clone();
        if obj.kind != "ClusterRole" {
            value["metadata"]["namespace"] = Value::String(ns.clone());
        }
        c.create_object(value);
    }
    let before = live_objects(&c, &shop, &manifest);
    assert_eq!(before.len(), 3);

    // No werf.io/version in the manifest to keep: the user must say which.
    let ran = annotate(&c, &ns, "legacy", &["--werf-auto-annotations", "--project", "legacy", "--yes"], &[]);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(ran.stderr.contains("--werf-version"), "{}", ran.stderr);

    let report = ok_json(&annotate(
        &c,
        &ns,
        "legacy",
        &[
            "--werf-auto-annotations",
            "--werf-version",
            "v1.2.300",
            "--project",
            "legacy",
            "--add-label",
            "team=legacy",
            "--yes",
            "-o",
            "json",
        ],
        &[],
    ));
    let got = results(&report);
    assert_eq!(got.len(), 3);
    assert!(got.values().all(|r| r == "patched"), "{got:?}");
    assert_eq!(got[&format!("clusterrole.rbac.authorization.k8s.io/{role}")], "patched");
    let after = live_objects(&c, &shop, &manifest);
    let annotations = map(&[("werf.io/version", "v1.2.300"), ("project.werf.io/name", "legacy")]);
    for (name, obj) in &before {
        assert_only(name, obj, &after[name], &map(&[("team", "legacy")]), &annotations, &[], &[]);
    }
    // werf's auto values are now what later runs keep, without --werf-version.
    let ran = annotate(&c, &ns, "legacy", &["--werf-auto-annotations", "--project", "legacy", "--yes"], &[]);
    assert_eq!(ran.code, 2, "the manifest, not the live objects, is what werf writes to: {}", ran.stderr);
}

#[test]
fn confirmation_dry_run_and_unknown_release() {
    let c = TestCluster::start();
    let shop = seed_shop(&c, "annotate-ask", |kind, _| kind == "ServiceAccount");
    let before = live_objects(&c, &shop, &shop.release.manifest);

    // No terminal and no --yes: refuse, say how to proceed, change nothing.
    let ran = annotate(&c, &shop.ns, "shop", &["--add-label", "tier=web"], &[]);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(ran.stderr.contains("--yes") && ran.stderr.contains("--dry-run"), "{}", ran.stderr);

    let dry = annotate(&c, &shop.ns, "shop", &["--add-label", "tier=web", "--dry-run"], &[]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let patch_line = dry.stdout.lines().find(|l| l.starts_with("serviceaccount/shop -n ")).unwrap_or_else(|| panic!("{}", dry.stdout));
    let patch: Value = serde_json::from_str(patch_line.split_once(": ").unwrap().1).unwrap();
    assert_eq!(patch["metadata"]["labels"], json!({"tier": "web"}));
    assert!(patch["metadata"]["resourceVersion"].is_string());
    assert!(dry.stdout.contains("would-patch"), "{}", dry.stdout);
    assert_eq!(live_objects(&c, &shop, &shop.release.manifest), before);

    let unknown = annotate(&c, &shop.ns, "nosuch", &["--add-label", "tier=web", "--yes"], &[]);
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);
    assert!(unknown.stderr.contains("release \"nosuch\" not found"), "{}", unknown.stderr);

    let nothing = annotate(&c, &shop.ns, "shop", &["--yes"], &[]);
    assert_eq!(nothing.code, 2);
    assert!(nothing.stderr.contains("nothing to do"), "{}", nothing.stderr);
    assert_eq!(live_objects(&c, &shop, &shop.release.manifest), before);
}
