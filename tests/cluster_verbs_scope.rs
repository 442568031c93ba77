//! Which releases a command line selects, the same in every verb (README "Which releases a command
//! selects"): `-n NS` reaches Helm 2 releases by their release namespace only, `-A` covers both Helm 3
//! drivers and every Tiller namespace, a release stored in several places is shown once per storage by
//! read verbs and refused by write verbs, and "not found" says where it looked and where the name is.

mod common;
mod release_fixtures;

use std::collections::BTreeMap;
use std::process::Output;

use common::{TestCluster, fixture, run, run_ok};
use kubectl_werf::release::helm2;
use kubectl_werf::storage::codec::{self, DecodeLimits};
use kubectl_werf::storage::{Helm2Storage, Helm3Driver};
use kubectl_werf::storage::{Helm2Store, Helm3Store, ObjectKind};
use serde_json::Value;

fn text(o: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[track_caller]
fn code(o: &Output, want: i32) -> String {
    assert_eq!(o.status.code(), Some(want), "exit code; output:\n{}", text(o));
    text(o)
}

/// A Helm 2 fixture record decoded (`shop.v1`, `stuck.v2`, `blog.v1`, ...).
fn helm2_fixture(dir: &str, object: &str) -> helm2::Release {
    let r = release_fixtures::load(dir).into_iter().find(|r| r.name == object).unwrap_or_else(|| panic!("no {object} in {dir}"));
    codec::decode_helm2(&r.payload, &DecodeLimits::default()).unwrap()
}

/// Write a Helm 2 release record into a Tiller namespace with its release namespace set to `ns`.
fn put_v2(c: &TestCluster, tiller: &str, kind: ObjectKind, mut rel: helm2::Release, ns: &str) {
    rel.namespace = ns.to_string();
    let store = Helm2Store::new(c.client.clone(), tiller, Helm2Storage::Auto, DecodeLimits::default());
    c.rt.block_on(store.create(kind, &rel)).unwrap();
}

fn seed_helm3(c: &TestCluster, file: &str, from: &str, ns: &str) {
    c.seed_file(&fixture(&format!("helm3/{file}")), &BTreeMap::from([(from, ns)]));
}

/// Every record of a Helm 3 fixture file rewritten with its release namespace set to `ns` (so the
/// NAMESPACE column of a cluster-wide listing is this test's), under the file's driver.
fn put_v3(c: &TestCluster, file: &str, ns: &str) {
    for r in release_fixtures::load("helm3").into_iter().filter(|r| r.file == file) {
        let mut rel = codec::decode_helm3(&r.payload, &DecodeLimits::default()).unwrap();
        rel.namespace = ns.to_string();
        let driver = if r.kind == "Secret" { Helm3Driver::Secret } else { Helm3Driver::ConfigMap };
        c.rt.block_on(Helm3Store::new(c.client.clone(), driver, DecodeLimits::default()).create(&rel)).unwrap();
    }
}

/// Names of the objects of one kind carrying `selector` in `ns`.
fn objects(c: &TestCluster, kind: &str, ns: &str, selector: &str) -> Vec<String> {
    let out = run_ok(c.kubectl().args(["get", kind, "-n", ns, "-l", selector, "-o", "name"]));
    let mut v: Vec<String> = out.lines().map(|l| l.rsplit('/').next().unwrap().to_string()).collect();
    v.sort();
    v
}

fn files(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default();
    v.sort();
    v
}

/// Issue 19 item 1: `prune shop -n NS` pruned the Helm 2 `shop` of another release namespace, and
/// `export stuck -n NS` took Helm 2 `stuck` records: Helm 2 releases were matched by name only.
#[test]
fn explicit_namespace_never_reaches_helm2_releases_of_other_namespaces() {
    let c = TestCluster::start();
    let apps = c.namespace("scope-apps");
    let legacy = c.namespace("scope-legacy");
    let tiller = c.namespace("scope-tiller");
    seed_helm3(&c, "fx-helm4-shop-secrets.yaml", "fx-helm4", &apps);
    seed_helm3(&c, "fx-helm3-stuck-secrets.yaml", "fx-helm3", &apps);
    for rev in 1..=4 {
        put_v2(&c, &tiller, ObjectKind::ConfigMap, helm2_fixture("helm2-synthetic", &format!("shop.v{rev}")), &legacy);
    }
    for rev in 1..=2 {
        put_v2(&c, &tiller, ObjectKind::ConfigMap, helm2_fixture("helm2-synthetic", &format!("stuck.v{rev}")), &legacy);
    }
    let t = ["--tiller-namespace", tiller.as_str()];
    let all_shop = || objects(&c, "configmaps", &tiller, "NAME=shop");
    assert_eq!(all_shop().len(), 4);

    // The Tiller namespace named, or not (records then looked for everywhere): only the Helm 3 shop.
    for extra in [&t[..], &[][..]] {
        let plan = run_ok(c.werf().args(["releases", "prune", "shop", "-n", &apps, "--keep", "2", "--dry-run"]).args(extra));
        assert!(!plan.contains("helm2") && !plan.contains(&tiller), "{plan}");
        assert!(plan.contains(&apps) && plan.contains("1 (superseded), 2 (superseded)"), "{plan}");
    }
    let backup = c.dir.path().join("prune");
    run_ok(c.werf().args(["releases", "prune", "shop", "-n", &apps, "--keep", "2", "--yes", "--backup-dir"]).arg(&backup).args(t));
    assert_eq!(all_shop().len(), 4, "the Helm 2 shop of namespace {legacy} is untouched");
    assert_eq!(objects(&c, "secrets", &apps, "name=shop").len(), 2);
    assert!(files(&backup).iter().all(|f| f.starts_with(&format!("{apps}_"))), "{:?}", files(&backup));

    // export NAME -n NS: that namespace's release only
    let dir = c.dir.path().join("export-stuck");
    run_ok(c.werf().args(["releases", "export", "stuck", "-n", &apps, "--dir"]).arg(&dir).args(t));
    assert_eq!(
        files(&dir),
        vec![format!("{apps}_secret_sh.helm.release.v1.stuck.v1.yaml"), format!("{apps}_secret_sh.helm.release.v1.stuck.v2.yaml")]
    );

    // -n of the Helm 2 release's own namespace selects it; the plan says the release namespace and
    // where its records live.
    let plan = run_ok(c.werf().args(["releases", "prune", "shop", "-n", &legacy, "--keep", "2", "--dry-run"]));
    let row = plan.lines().find(|l| l.contains("helm2/configmap")).unwrap_or_else(|| panic!("{plan}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[..4], ["shop", legacy.as_str(), "helm2/configmap", tiller.as_str()], "{plan}");
    let unlock = run_ok(c.werf().args(["releases", "unlock", "stuck", "-n", &legacy, "--dry-run"]).args(t));
    assert!(unlock.contains(&legacy) && unlock.contains(&tiller) && unlock.contains("helm2/configmap"), "{unlock}");
    // ... and `unlock stuck -n apps` is the Helm 3 one
    let unlock = run_ok(c.werf().args(["releases", "unlock", "stuck", "-n", &apps, "--dry-run"]).args(t));
    assert!(unlock.contains(&apps) && !unlock.contains("helm2"), "{unlock}");

    // migrate2to3 keeps Tiller's global names; -n filters there too.
    let out = run(c.werf().args(["migrate2to3", "shop", "-n", &apps, "--dry-run"]).args(t));
    let out = code(&out, 1);
    assert!(out.contains("outside -n") && out.contains(&legacy), "{out}");
    let out = run_ok(c.werf().args(["migrate2to3", "--all", "-n", &apps, "--dry-run"]).args(t));
    assert!(out.contains("No Helm 2 releases found"), "{out}");
    let out = run_ok(c.werf().args(["migrate2to3", "shop", "--dry-run", "--skip-ownership"]).args(t));
    assert!(out.contains(&format!("RELEASE shop → shop in namespace {legacy}")), "{out}");
}

/// Issue 19 item 2: `-A` is every Helm 3/4 release of both drivers and every Helm 2 release wherever
/// Tiller keeps it, in every verb; a release stored under both drivers is shown once per storage by
/// read verbs and refused by write verbs unless a flag picks one.
#[test]
fn all_namespaces_means_both_drivers_and_every_tiller_everywhere() {
    let c = TestCluster::start();
    let ns = c.namespace("scope-all");
    let legacy = c.namespace("scope-all-legacy");
    let tiller = c.namespace("scope-all-tiller");
    put_v3(&c, "fx-helm3-cart-configmaps.yaml", &ns);
    put_v3(&c, "fx-helm3-shop-secrets.yaml", &ns);
    for rev in 1..=2 {
        put_v2(&c, &tiller, ObjectKind::Secret, helm2_fixture("helm2-synthetic", &format!("cart.v{rev}")), &legacy);
    }
    let ours = |json: &str| -> Vec<(String, String, String)> {
        let rows: Vec<Value> = serde_json::from_str(json).unwrap();
        let mut v: Vec<(String, String, String)> = rows
            .iter()
            .filter(|r| r["namespace"] == ns.as_str() || r["namespace"] == legacy.as_str())
            .map(|r| (r["name"].as_str().unwrap().into(), r["namespace"].as_str().unwrap().into(), r["storage"].as_str().unwrap().into()))
            .collect();
        v.sort();
        v
    };
    let helm2_cart = ("cart".to_string(), legacy.clone(), "helm2/secret".to_string());
    let cm_cart = ("cart".to_string(), ns.clone(), "configmap".to_string());
    let shop = ("shop".to_string(), ns.clone(), "secret".to_string());
    let mut want = vec![helm2_cart.clone(), cm_cart.clone(), shop.clone()];
    want.sort();
    assert_eq!(ours(&run_ok(c.werf().args(["releases", "list", "-A", "-o", "json", "--max", "0"]))), want);
    // -n: the namespace's releases of both drivers; Helm 2 ones by release namespace
    let out = run_ok(c.werf().args(["releases", "list", "-n", &ns, "-o", "json"]));
    assert_eq!(ours(&out), vec![cm_cart, shop.clone()]);
    let out = run_ok(c.werf().args(["releases", "list", "-n", &legacy, "-o", "json"]));
    assert_eq!(ours(&out), vec![helm2_cart]);
    // --release-storage secret: exactly helm's view
    let out = run_ok(c.werf().args(["releases", "list", "-n", &ns, "-o", "json", "--release-storage", "secret"]));
    assert_eq!(ours(&out), vec![shop]);

    // export -A: a backup misses nothing (ConfigMap driver, Tiller outside kube-system)
    let dir = c.dir.path().join("all");
    run_ok(c.werf().args(["releases", "export", "-A", "--dir"]).arg(&dir));
    let got = files(&dir);
    for f in [
        format!("{tiller}_secret_cart.v1.yaml"),
        format!("{ns}_configmap_sh.helm.release.v1.cart.v2.yaml"),
        format!("{ns}_secret_sh.helm.release.v1.shop.v4.yaml"),
    ] {
        assert!(got.contains(&f), "{f} missing from the export: {got:?}");
    }
    // export -n: both drivers and the Helm 2 releases of that release namespace
    let dir = c.dir.path().join("legacy");
    run_ok(c.werf().args(["releases", "export", "-n", &legacy, "--dir"]).arg(&dir));
    assert_eq!(files(&dir), vec![format!("{tiller}_secret_cart.v1.yaml"), format!("{tiller}_secret_cart.v2.yaml")]);

    // prune -A: both drivers, every Tiller (each flag set picks exactly one storage, so releases of
    // other tests cannot make it ambiguous)
    let plan = run_ok(c.werf().args(["releases", "prune", "-A", "--keep", "1", "--dry-run", "--helm-version", "3"]));
    assert!(plan.lines().any(|l| l.starts_with("cart") && l.contains(&ns) && l.contains("configmap")), "{plan}");
    let plan = run_ok(c.werf().args([
        "releases",
        "prune",
        "-A",
        "--keep",
        "1",
        "--dry-run",
        "--helm-version",
        "2",
        "--helm-release-storage-type",
        "secret",
    ]));
    assert!(plan.lines().any(|l| l.starts_with("cart") && l.contains(&legacy) && l.contains(&tiller)), "{plan}");

    // The same release under both drivers: read verbs show each storage, write verbs refuse.
    let shop_cm: Vec<Value> = {
        let out = run_ok(c.kubectl().args(["get", "secrets", "-n", &ns, "-l", "name=shop", "-o", "json"]));
        let list: Value = serde_json::from_str(&out).unwrap();
        list["items"].as_array().unwrap().clone()
    };
    for s in shop_cm {
        let mut cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": s["metadata"]["name"], "namespace": ns, "labels": s["metadata"]["labels"]}});
        let data = s["data"]["release"].as_str().unwrap();
        use base64::Engine;
        cm["data"] =
            serde_json::json!({"release": String::from_utf8(base64::engine::general_purpose::STANDARD.decode(data).unwrap()).unwrap()});
        c.create_object(cm);
    }
    let out = run_ok(c.werf().args(["releases", "list", "-n", &ns, "-o", "json"]));
    assert_eq!(ours(&out).iter().filter(|r| r.0 == "shop").count(), 2, "{out}");
    let out = run(c.werf().args(["releases", "history", "shop", "-n", &ns]));
    let both = code(&out, 0);
    assert!(both.contains("also found: Helm 3 release shop") && both.contains("--release-storage configmap"), "{both}");
    for verb in [
        vec!["releases", "prune", "shop", "-n", &ns, "--keep", "1", "--dry-run"],
        vec!["releases", "unlock", "shop", "-n", &ns, "--dry-run"],
        vec!["annotate", "shop", "-n", &ns, "--add-label", "a=b", "--dry-run"],
    ] {
        let out = code(&run(c.werf().args(&verb)), 2);
        assert!(out.contains("stored in 2 places") && out.contains("--release-storage"), "{verb:?}: {out}");
    }
    let out = code(&run(c.werf().args(["releases", "prune", "-A", "--keep", "1", "--dry-run", "--helm-version", "3"])), 2);
    assert!(out.contains(&format!("shop (secret in {ns}, configmap in {ns})")), "{out}");
    let plan =
        run_ok(c.werf().args(["releases", "prune", "shop", "-n", &ns, "--keep", "1", "--dry-run", "--release-storage", "configmap"]));
    assert!(plan.contains("configmap") && !plan.contains("secret"), "{plan}");
}

/// Issue 19 item 3: a Helm 2 release is found by `history|status|get|unlock|prune|export NAME -n NS`
/// wherever `list -A` finds it, without naming Tiller's namespace; "not found" says where it looked and
/// where the name exists.
#[test]
fn helm2_release_found_by_namespace_wherever_tiller_keeps_it() {
    let c = TestCluster::start();
    let tools = c.namespace("scope-tools");
    let elsewhere = c.namespace("scope-nothing");
    // Tiller in the release's own namespace, as the genuine `tools` record was written
    put_v2(&c, &tools, ObjectKind::ConfigMap, helm2_fixture("helm2", "blog.v1"), &tools);
    let hist = run_ok(c.werf().args(["releases", "history", "blog", "-n", &tools, "-o", "json"]));
    let hist: Vec<Value> = serde_json::from_str(&hist).unwrap();
    assert_eq!(hist.len(), 1);
    assert_eq!(hist[0]["status"], "superseded");
    let status = run_ok(c.werf().args(["releases", "status", "blog", "-n", &tools]));
    assert!(status.contains(&format!("NAMESPACE: {tools}\n")), "{status}");
    run_ok(c.werf().args(["releases", "get", "manifest", "blog", "-n", &tools]));
    let out = run_ok(c.werf().args(["releases", "unlock", "blog", "-n", &tools, "--dry-run"]));
    assert!(out.contains("not pending"), "{out}");
    run_ok(c.werf().args(["releases", "prune", "blog", "-n", &tools, "--keep", "1", "--dry-run"]));
    let dir = c.dir.path().join("blog");
    run_ok(c.werf().args(["releases", "export", "blog", "-n", &tools, "--dir"]).arg(&dir));
    assert_eq!(files(&dir), vec![format!("{tools}_configmap_blog.v1.yaml")]);

    // Not in this namespace: where we looked, and the flags that reach it.
    let out = code(&run(c.werf().args(["releases", "history", "blog", "-n", &elsewhere])), 1);
    let line = out.lines().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains(&format!("in namespace {elsewhere}")) && line.contains("Helm 2 records in every namespace"), "{line}");
    assert!(line.contains(&format!("-n {tools}")) && line.contains(&format!("--tiller-namespace {tools}")), "{line}");
    // A Tiller namespace named where the release is not: the hint points to the right one.
    let out = code(&run(c.werf().args(["releases", "status", "blog", "-n", &tools, "--tiller-namespace", &elsewhere])), 1);
    assert!(
        out.contains(&format!("Helm 2 records in namespace {elsewhere}")) && out.contains(&format!("--tiller-namespace {tools}")),
        "{out}"
    );
    // A Helm 3 release under the other driver: the hint names --release-storage.
    seed_helm3(&c, "fx-helm3-cart-configmaps.yaml", "fx-helm3", &elsewhere);
    let out = code(&run(c.werf().args(["releases", "history", "cart", "-n", &elsewhere, "--release-storage", "secret"])), 1);
    assert!(out.contains("--release-storage configmap"), "{out}");
}

/// Issue 19 item 7: a damaged Tiller record anywhere made `list` of an empty namespace exit 1 with no
/// error line. A damaged record outside the scope is a warning; exit 1 only with an error printed.
#[test]
fn damaged_records_outside_the_scope_do_not_fail_a_listing() {
    let c = TestCluster::start();
    let empty = c.namespace("scope-empty");
    let tiller = c.namespace("scope-damaged");
    c.seed_file(&fixture("helm2-synthetic/kube-system-damaged-configmaps.yaml"), &BTreeMap::from([("kube-system", tiller.as_str())]));
    for extra in [&["--tiller-namespace", tiller.as_str()][..], &[][..]] {
        let out = run(c.werf().args(["releases", "list", "-n", &empty]).args(extra));
        let all = code(&out, 0);
        assert!(!all.contains("error"), "{all}");
        assert!(all.contains(&format!("{tiller}/broken.v1")), "the damaged record is still named: {all}");
    }
    // Every record in scope damaged: an error line and exit 1.
    let ns = c.namespace("scope-broken");
    c.create_object(serde_json::json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": "sh.helm.release.v1.broken.v1", "namespace": ns, "labels": {"owner": "helm", "name": "broken", "version": "1", "status": "deployed"}},
        "data": {"release": "SDRzSUFBQUFBQUFDL2Jyb2tlbg=="}}));
    let out = code(&run(c.werf().args(["releases", "list", "-n", &ns, "--helm-version", "3"])), 1);
    assert!(out.lines().any(|l| l.starts_with("error: ")), "{out}");
}

/// Issue 19 item 8: re-running `migrate2to3 --project P --env E --delete-v2-releases --yes` after it
/// succeeded exited 1 ("not found in Helm 2 storage"); an already migrated release is success.
#[test]
fn rerun_after_a_complete_migration_succeeds() {
    let c = TestCluster::start();
    let tiller = c.namespace("scope-mig-tiller");
    // werf's name for --project myproject --env production is myproject-production, namespace too;
    // the test runs it in a namespace of its own through --target-namespace.
    let target = c.namespace("scope-mig");
    for rev in [3, 7] {
        let rel = helm2_fixture("helm2-synthetic", &format!("myproject-production.v{rev}"));
        put_v2(&c, &tiller, ObjectKind::ConfigMap, rel, &target);
    }
    let args = [
        "migrate2to3",
        "--project",
        "myproject",
        "--env",
        "production",
        "--delete-v2-releases",
        "--yes",
        "--skip-ownership",
        "--tiller-namespace",
        tiller.as_str(),
        "--target-namespace",
        target.as_str(),
    ];
    let backup = c.dir.path().join("b");
    let first = run_ok(c.werf().args(args).arg("--backup-dir").arg(&backup));
    assert!(first.contains("myproject-production: migrated"), "{first}");
    assert!(objects(&c, "configmaps", &tiller, "OWNER=TILLER").is_empty());
    let again = run(c.werf().args(args).arg("--backup-dir").arg(&backup));
    let again = code(&again, 0);
    assert!(again.contains("already migrated"), "{again}");
    // Without a Helm 3 copy it is still an error.
    let out = code(&run(c.werf().args(["migrate2to3", "nothing-here", "--tiller-namespace", &tiller, "--yes"])), 1);
    assert!(out.contains("not found in Helm 2 storage"), "{out}");
}
