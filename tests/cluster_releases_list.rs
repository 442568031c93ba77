//! `releases list` against an API server: our output equals helm's own fixture outputs and what real helm3
//! and helm4 print for the same seeded namespaces; damaged records, the fetch plan, a one-namespace user.
//! `history`, `status` and `get`: cluster_releases_history_status_get.rs.

mod common;

use std::collections::BTreeMap;

use common::helm3_fixtures::seed_helm3;
use common::{TestCluster, fixture, run, run_ok};
use serde_json::Value;

/// Our table without the STORAGE column is helm's table: every cell is padded, so dropping the
/// last tab-separated cell of each line leaves exactly what helm prints.
fn without_storage_column(table: &str) -> String {
    table.lines().map(|l| l.rsplit_once('\t').map_or(l, |(a, _)| a).to_string() + "\n").collect()
}

fn without_our_fields(json: &str) -> Value {
    let mut v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    if let Value::Array(items) = &mut v {
        for i in items {
            if let Value::Object(m) = i {
                m.shift_remove("storage");
                m.shift_remove("project");
                m.shift_remove("env");
            }
        }
    }
    v
}

fn helm_list(c: &TestCluster, major: u8, args: &[&str]) -> String {
    let mut cmd = c.helm(major);
    cmd.arg("list").args(args);
    // Helm 3 hides some statuses by default; Helm 4 (and we) show all. Status flags narrow both.
    let narrows =
        args.iter().any(|a| ["--deployed", "--failed", "--pending", "--superseded", "--uninstalled", "--uninstalling"].contains(a));
    if major == 3 && !narrows {
        cmd.arg("-a");
    }
    run_ok(&mut cmd)
}

#[test]
fn list_equals_helm_fixture_and_live_helm_for_every_flag() {
    let c = TestCluster::start();
    let seeded = seed_helm3(&c);
    for (ns, fx) in &seeded {
        // helm's own recorded answer (Secret driver releases only)
        let ours =
            run_ok(c.werf().args(["releases", "list", "-n", ns, "-o", "json", "--helm-version", "3", "--release-storage", "secret"]));
        let expected = std::fs::read_to_string(fixture(&format!("helm3/{fx}-helm-list.json"))).unwrap();
        assert_eq!(without_our_fields(&ours), serde_json::from_str::<Value>(&expected).unwrap(), "{fx}");
        assert!(ours.contains("\"storage\":\"secret\""));
        let cases: &[&[&str]] = &[
            &[],
            &["-d"],
            &["-d", "-r"],
            &["-r"],
            &["--max", "1", "--offset", "1"],
            &["-m", "0"],
            &["--offset", "9"],
            &["--no-headers"],
            &["-q"],
            &["--time-format", "2006-01-02T15:04:05Z07:00"],
            &["-l", "team=payments"],
            &["-l", "status!=deployed"],
            &["-l", "team in (payments,ops),tier"],
            &["--superseded"],
            &["--failed"],
            &["--uninstalled"],
            &["--pending", "--deployed"],
            &["-f", "^s"],
            &["--filter", "u[a-z]+k"],
            &["-o", "yaml"],
            &["-o", "json"],
            &["-q", "-o", "json"],
            &["-q", "-o", "yaml"],
        ];
        for case in cases {
            let mut args = vec!["-n", ns.as_str()];
            args.extend_from_slice(case);
            let ours = run_ok(c.werf().args(["releases", "list", "--helm-version", "3", "--release-storage", "secret"]).args(&args));
            for major in [3u8, 4] {
                let theirs = helm_list(&c, major, &args);
                let structured = case.contains(&"-o");
                if case.contains(&"-q") {
                    assert_eq!(ours, theirs, "helm{major} list {args:?}");
                } else if case.contains(&"json") {
                    assert_eq!(without_our_fields(&ours), serde_json::from_str::<Value>(&theirs).unwrap(), "helm{major} list {args:?}");
                } else if structured {
                    let ours_yaml: String =
                        ours.lines().filter(|l| !l.trim_start().starts_with("storage:")).map(|l| format!("{l}\n")).collect();
                    assert_eq!(ours_yaml, theirs, "helm{major} list {args:?}");
                } else {
                    assert_eq!(without_storage_column(&ours), theirs, "helm{major} list {args:?}");
                }
            }
        }
        // The ConfigMap driver, chosen by flag and by HELM_DRIVER.
        let ours = run_ok(c.werf().args(["releases", "list", "-n", ns, "--release-storage", "configmap", "--helm-version", "3"]));
        let theirs = run_ok(c.helm(3).env("HELM_DRIVER", "configmap").args(["list", "-a", "-n", ns]));
        assert_eq!(without_storage_column(&ours), theirs);
        assert!(ours.contains("configmap"), "{ours}");
        let by_env = run_ok(c.werf().env("HELM_DRIVER", "configmap").args(["releases", "list", "-n", ns, "--helm-version", "3"]));
        assert_eq!(by_env, ours);
    }
}

#[test]
fn all_namespaces_matches_helm_on_our_namespaces() {
    // helm's -A sees every release on the server (and helm3 crashes on some damaged records other
    // tests write on purpose), so this comparison needs a server of its own.
    let c = TestCluster::isolated();
    let seeded = seed_helm3(&c);
    let ours =
        run_ok(c.werf().args(["releases", "list", "-A", "-o", "json", "--max", "0", "--helm-version", "3", "--release-storage", "secret"]));
    let h3 = run_ok(c.helm(3).args(["list", "-A", "-a", "-o", "json", "--max", "0"]));
    let h4 = run_ok(c.helm(4).args(["list", "-A", "-o", "json", "--max", "0"]));
    // Keep the fixtures' payload namespaces only (a real server has releases of its own, e.g. none today).
    let keep = |v: Value| -> Vec<Value> {
        let mut items: Vec<Value> =
            v.as_array().unwrap().iter().filter(|i| i["namespace"] == "fx-helm3" || i["namespace"] == "fx-helm4").cloned().collect();
        items.sort_by_key(|i| (i["name"].to_string(), i["namespace"].to_string()));
        items
    };
    let ours = keep(without_our_fields(&ours));
    assert_eq!(ours.len(), 6, "{ours:?}");
    assert_eq!(ours, keep(serde_json::from_str(&h3).unwrap()));
    assert_eq!(ours, keep(serde_json::from_str(&h4).unwrap()));
    drop(seeded);
}

#[test]
fn damaged_and_mislabelled_helm3_records() {
    let c = TestCluster::start();
    let ns = c.namespace("rel-damaged");
    c.seed_file(&fixture("helm3/fx-helm3-shop-secrets.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
    c.seed_file(&fixture("helm3/fx-helm3-stuck-secrets.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
    // A corrupt record of its own release, and a corrupt newer revision of stuck (helm skips it).
    let corrupt = |name: &str, release: &str, version: &str| {
        serde_json::json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
            "metadata": {"name": name, "namespace": ns, "labels": {"owner": "helm", "name": release, "version": version, "status": "deployed"}},
            "data": {"release": "SDRzSUFBQUFBQUFDL2Jyb2tlbg=="}})
    };
    c.create_object(corrupt("sh.helm.release.v1.broken.v1", "broken", "1"));
    c.create_object(corrupt("sh.helm.release.v1.stuck.v3", "stuck", "3"));
    // shop revision 3 copied under a wrong version label: labels say 9, payload says 3
    let shop3 = run_ok(c.kubectl().args(["get", "secret", "-n", &ns, "sh.helm.release.v1.shop.v3", "-o", "json"]));
    let mut shop3: Value = serde_json::from_str(&shop3).unwrap();
    shop3["metadata"] = serde_json::json!({"name": "sh.helm.release.v1.shop.v9", "namespace": ns, "labels": {"owner": "helm", "name": "shop", "version": "9", "status": "failed"}});
    c.create_object(shop3);
    let out = run(c.werf().args(["releases", "list", "-n", &ns, "--helm-version", "3"]));
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(&format!("warning: {ns}/sh.helm.release.v1.broken.v1: ")), "{stderr}");
    assert!(stderr.contains(&format!("warning: {ns}/sh.helm.release.v1.stuck.v3: ")), "{stderr}");
    assert!(stderr.contains("sh.helm.release.v1.shop.v9: labels say shop revision 9 but the payload is shop revision 3"), "{stderr}");
    let ours = String::from_utf8(out.stdout).unwrap();
    for major in [3u8, 4] {
        let theirs = helm_list(&c, major, &["-n", &ns]);
        assert_eq!(without_storage_column(&ours), theirs, "helm{major}");
    }
    // Only damaged records: nothing could be listed, exit 1.
    let only = c.namespace("rel-only-broken");
    let mut b = corrupt("sh.helm.release.v1.broken.v1", "broken", "1");
    b["metadata"]["namespace"] = only.clone().into();
    c.create_object(b);
    let out = run(c.werf().args(["releases", "list", "-n", &only, "--helm-version", "3"]));
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn list_fetches_only_the_latest_records_emulator_only() {
    let c = TestCluster::start();
    let emu = c.emulator_for("counts requests in the emulator's log");
    let seeded = seed_helm3(&c);
    let ns = &seeded[0].0;
    let list_requests = |args: &[&str]| {
        emu.clear_request_log();
        let out = run_ok(c.werf().args(["releases", "list", "-n", ns, "--helm-version", "3", "--release-storage", "secret"]).args(args));
        (out, emu.request_log())
    };
    let (_, log) = list_requests(&[]);
    let lists: Vec<_> = log.iter().filter(|r| r.verb == "list").collect();
    let gets: Vec<_> = log.iter().filter(|r| r.verb == "get" && r.resource == "secrets").collect();
    // The payloads of records not labelled superseded, and the metadata of all, both in protobuf.
    assert_eq!(lists.len(), 2, "{lists:?}");
    let payloads = lists.iter().find(|r| r.query.contains("status%21%3Dsuperseded")).unwrap_or_else(|| panic!("{lists:?}"));
    assert!(payloads.query.contains("labelSelector=owner%3Dhelm%2C"), "{payloads:?}");
    assert!(payloads.accept.starts_with("application/vnd.kubernetes.protobuf,"), "{payloads:?}");
    let metas = lists.iter().find(|r| r.query.contains("labelSelector=owner%3Dhelm&")).unwrap_or_else(|| panic!("{lists:?}"));
    assert!(metas.accept.starts_with("application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList"), "{metas:?}");
    // Every latest record (big v1, shop v4, stuck v2) came with the first LIST: no GET.
    assert_eq!(gets.len(), 0, "{gets:?}");

    // `-A` over every storage: the Secret driver (helm's) is LISTed at once; the ConfigMap driver and
    // Tiller's Secrets and ConfigMaps are first asked of the server's cache (resourceVersion=0), and
    // a storage is LISTed only when the cache holds a record of it.
    let all_lists = || {
        emu.clear_request_log();
        run_ok(c.werf().args(["releases", "list", "-A"]));
        let log = emu.request_log();
        let probes: Vec<String> = log
            .iter()
            .filter(|r| r.verb == "list" && r.query.contains("resourceVersion=0"))
            .map(|r| format!("{} {}", r.resource, r.query))
            .collect();
        let lists: Vec<String> = log
            .iter()
            .filter(|r| r.verb == "list" && !r.query.contains("resourceVersion=0"))
            .map(|r| format!("{} {}", r.resource, r.query))
            .collect();
        (probes, lists)
    };
    let (probes, lists) = all_lists();
    assert_eq!(probes.len(), 3, "{probes:?} {lists:?}");
    assert!(probes.iter().any(|p| p.starts_with("configmaps ") && p.contains("owner%3Dhelm")), "{probes:?}");
    assert!(probes.iter().any(|p| p.starts_with("configmaps ") && p.contains("OWNER%3DTILLER")), "{probes:?}");
    assert!(probes.iter().any(|p| p.starts_with("secrets ") && p.contains("OWNER%3DTILLER")), "{probes:?}");
    // Both Helm 3 drivers hold records here (the fixtures include ConfigMap-driver ones), Tiller none.
    assert_eq!(lists.len(), 4, "two LISTs for each Helm 3 driver: {lists:?}");
    assert!(lists.iter().all(|l| l.contains("owner%3Dhelm")), "{lists:?}");
    let tiller = c.namespace("rel-probe-tiller");
    c.seed_file(&fixture("helm2-synthetic/kube-system-shop-4revs-configmaps.yaml"), &BTreeMap::from([("kube-system", tiller.as_str())]));
    let (probes, lists) = all_lists();
    assert_eq!(probes.len(), 3, "{probes:?}");
    assert_eq!(lists.len(), 6, "Tiller's ConfigMaps, found in the cache, are LISTed too: {lists:?}");
    assert_eq!(lists.iter().filter(|l| l.starts_with("configmaps ") && l.contains("OWNER%3DTILLER")).count(), 2, "{lists:?}");

    // A latest record labelled superseded is not in the first LIST: it alone is fetched.
    let shop4 = run_ok(c.kubectl().args(["get", "secret", "-n", ns, "sh.helm.release.v1.shop.v4", "-o", "json"]));
    let mut shop4: Value = serde_json::from_str(&shop4).unwrap();
    shop4["metadata"]["labels"]["status"] = "superseded".into();
    let before = run_ok(c.werf().args(["releases", "list", "-n", ns, "--helm-version", "3", "--release-storage", "secret"]));
    let path = c.dir.path().join("shop4.json");
    std::fs::write(&path, shop4.to_string()).unwrap();
    run_ok(c.kubectl().args(["replace", "-f", path.to_str().unwrap()]));
    let (after, log) = list_requests(&[]);
    let gets: Vec<_> = log.iter().filter(|r| r.verb == "get" && r.resource == "secrets").collect();
    assert_eq!(gets.len(), 1, "{gets:?}");
    assert_eq!(gets[0].name, "sh.helm.release.v1.shop.v4");
    assert_eq!(after, before, "the payload, not the label, gives the status");

    // A server that answers JSON is read as JSON: the same answers from every verb that lists.
    let verbs: [&[&str]; 4] = [
        &["list", "-n", ns, "-o", "json"],
        &["list", "-A", "-o", "json"],
        &["history", "shop", "-n", ns, "-o", "json"],
        &["status", "shop", "-n", ns, "-o", "json"],
    ];
    let protobuf: Vec<String> = verbs.iter().map(|v| run_ok(c.werf().arg("releases").args(*v))).collect();
    emu.set_protobuf_lists(false);
    emu.clear_request_log();
    let json: Vec<String> = verbs.iter().map(|v| run_ok(c.werf().arg("releases").args(*v))).collect();
    emu.set_protobuf_lists(true);
    assert_eq!(json, protobuf);
    assert!(emu.request_log().iter().any(|r| r.verb == "list" && r.accept.starts_with("application/vnd.kubernetes.protobuf")));
}

/// A user who may read one namespace only (a Role and RoleBinding there): on the emulator a token user of
/// its own, on a real server the admin impersonating (`--as`, `--as-group`), so the server's RBAC decides.
#[test]
fn rbac_one_namespace_user() {
    let c = TestCluster::start();
    let seeded = seed_helm3(&c);
    let allowed = seeded[0].0.clone();
    let tiller = c.namespace("rel-tiller");
    c.seed_file(&fixture("helm2-synthetic/kube-system-shop-4revs-configmaps.yaml"), &BTreeMap::from([("kube-system", tiller.as_str())]));
    let group = format!("devs-{}", common::unique_suffix());
    c.create_object(serde_json::json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "release-reader", "namespace": allowed},
        "rules": [{"apiGroups": [""], "resources": ["secrets", "configmaps"], "verbs": ["get", "list"]}],
    }));
    c.create_object(serde_json::json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "release-reader", "namespace": allowed},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "release-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}],
    }));
    let alice_kubeconfig = c.emulator.as_ref().map(|emu| {
        emu.enable_rbac();
        emu.add_user("ns-token", "alice", &[&group]);
        let kc = c.dir.path().join("alice.kubeconfig");
        std::fs::write(&kc, emu.kubeconfig_yaml_for("ns-token", Some(&allowed))).unwrap();
        kc
    });
    // Alice's default namespace is the allowed one (her kubeconfig's; on a real server `-n`).
    let as_alice = |args: &[&str]| {
        let mut cmd = c.werf();
        match &alice_kubeconfig {
            Some(kc) => {
                cmd.env("KUBECONFIG", kc);
            }
            None => {
                cmd.args(["--as", "alice", "--as-group", &group]);
                if !args.iter().any(|a| *a == "-n" || *a == "-A") {
                    cmd.args(["-n", &allowed]);
                }
            }
        }
        run(cmd.args(args))
    };
    // A real server's authorizer learns of the new binding from its informers a moment later.
    let start = std::time::Instant::now();
    while !as_alice(&["releases", "list", "--helm-version", "3"]).status.success() {
        assert!(start.elapsed() < std::time::Duration::from_secs(15), "the RoleBinding never took effect");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // -A needs cluster-wide rights: a clear message and a hint.
    let out = as_alice(&["releases", "list", "-A"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cluster-wide") && stderr.contains("-n NAMESPACE"), "{stderr}");
    // One namespace works; Tiller's namespace is not readable: warned, Helm 3 part still shown.
    let out = as_alice(&["releases", "list", "--tiller-namespace", &tiller]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("shop") && stdout.contains("stuck") && stdout.contains("big"), "{stdout}");
    assert!(stderr.contains("skipping Helm 2 releases") && stderr.contains(&tiller), "{stderr}");
    // Another namespace: refused, the server's message naming it.
    let other = &seeded[1].0;
    let out = as_alice(&["releases", "list", "-n", other, "--helm-version", "3"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(other.as_str()) && stderr.to_ascii_lowercase().contains("forbidden"), "{stderr}");
}
