//! helm 3.17 parity of `releases status --show-resources` (the table of every object of the release,
//! read from the cluster, and its workloads' pods) and `--show-desc`, against real helm3 on the same
//! cluster; and `releases list -o name` for pipes.
//!
//! helm prints the resource groups in Go map order, which changes from run to run: the groups are
//! compared as a set. AGE (the last column of these tables) is masked: the two tools read the objects
//! at different moments.

mod common;

use std::collections::BTreeMap;

use common::{TestCluster, fixture, run, run_ok};
use serde_json::{Value, json};

/// The shop chart's objects (its stored manifest) created in `ns`, and a pod of the cache Deployment.
fn create_live_objects(c: &TestCluster, ns: &str) {
    c.install_widget_crd();
    let manifest = std::fs::read_to_string(fixture("helm3/fx-helm3-shop-manifest.txt")).unwrap();
    for obj in kubectl_werf::manifest::parse_objects(&manifest, true) {
        let mut v = obj.unwrap().object;
        v["metadata"]["namespace"] = ns.into();
        c.create_object(v);
    }
    c.create_object(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "shop-cache-abc12", "namespace": ns,
                     "labels": {"app.kubernetes.io/name": "cache", "app.kubernetes.io/instance": "shop"}},
        "spec": {"containers": [{"name": "cache", "image": "registry.invalid/cache:1"}]}
    }));
}

/// The RESOURCES section split into groups (`VERSION/KIND` -> its lines, AGE cells masked), and the
/// text around it.
fn split_status(text: &str) -> (String, BTreeMap<String, Vec<String>>, String) {
    let Some((head, rest)) = text.split_once("RESOURCES:\n") else { return (text.to_string(), BTreeMap::new(), String::new()) };
    let (section, tail) = rest.split_once("\n\n\n").unwrap_or((rest, ""));
    let mut groups = BTreeMap::new();
    for block in section.split("==> ").filter(|b| !b.is_empty()) {
        let mut lines = block.lines();
        let key = lines.next().unwrap().to_string();
        let body = lines
            .filter(|l| !l.is_empty())
            .map(|line| {
                if line.starts_with("NAME ") {
                    line.to_string()
                } else {
                    let cut = line.trim_end().rfind(' ').map_or(0, |p| p + 1);
                    format!("{}<AGE>", &line[..cut])
                }
            })
            .collect();
        groups.insert(key, body);
    }
    (head.to_string(), groups, tail.to_string())
}

/// Compare our status text with helm's. helm prints the groups in Go map order (random), and kubectl's
/// printer prints a header only when a table's columns differ from the previous table's: where both
/// outputs carry the group's header (or both lack it) the group must be identical to the byte (AGE
/// masked); where only one does, its cells must be (a header changes the first row's padding).
fn assert_same_status(ours: &str, helm: &str, what: &str) {
    let (oh, og, ot) = split_status(ours);
    let (hh, hg, ht) = split_status(helm);
    assert_eq!((oh.as_str(), ot.as_str()), (hh.as_str(), ht.as_str()), "{what}: outside RESOURCES\n{ours}\n---\n{helm}");
    assert_eq!(og.keys().collect::<Vec<_>>(), hg.keys().collect::<Vec<_>>(), "{what}: groups\n{ours}\n---\n{helm}");
    let collapse = |lines: &[String]| -> Vec<String> {
        lines.iter().filter(|l| !l.starts_with("NAME ")).map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect()
    };
    for (key, ours_lines) in &og {
        let helm_lines = &hg[key];
        let headed = |l: &[String]| l.first().is_some_and(|f| f.starts_with("NAME "));
        if headed(ours_lines) == headed(helm_lines) {
            assert_eq!(ours_lines, helm_lines, "{what}: group {key}\n{ours}\n---\n{helm}");
        } else {
            assert_eq!(collapse(ours_lines), collapse(helm_lines), "{what}: group {key}\n{ours}\n---\n{helm}");
        }
    }
    let headers = |g: &BTreeMap<String, Vec<String>>| -> std::collections::BTreeSet<String> {
        g.values().flatten().filter(|l| l.starts_with("NAME ")).map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect()
    };
    assert_eq!(headers(&og), headers(&hg), "{what}: the headers\n{ours}\n---\n{helm}");
}

fn both(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn status_show_resources_and_show_desc_as_helm3_prints_them() {
    let c = TestCluster::start();
    let ns = c.namespace("status-res");
    let map = BTreeMap::from([("fx-helm3", ns.as_str())]);
    for f in ["shop-secrets", "stuck-secrets"] {
        c.seed_file(&fixture(&format!("helm3/fx-helm3-{f}.yaml")), &map);
    }
    create_live_objects(&c, &ns);

    for args in [
        vec!["--show-resources"],
        vec!["--show-desc"],
        vec!["--show-resources", "--show-desc"],
        vec!["--show-resources", "--revision", "2"],
    ] {
        let ours = run_ok(c.werf().args(["releases", "status", "shop", "-n", &ns]).args(&args));
        let helm = run_ok(c.helm(3).args(["status", "shop", "-n", &ns]).args(&args));
        assert_same_status(&ours, &helm, &format!("status {args:?}"));
        if args.contains(&"--show-resources") {
            for group in ["==> v1/Deployment\n", "==> v1/Service\n", "==> v1/ServiceAccount\n", "==> v1/Widget\n", "==> v1/Pod(related)\n"]
            {
                assert!(ours.contains(group), "{group}: {ours}");
            }
            assert!(ours.contains("shop-cache-abc12"), "the cache Deployment's pod is listed: {ours}");
        }
        if args.contains(&"--show-desc") {
            assert!(ours.contains("DESCRIPTION: "), "{ours}");
        }
    }
    // Without a single live object there is no RESOURCES section, as in helm.
    let ours = run_ok(c.werf().args(["releases", "status", "stuck", "-n", &ns, "--show-resources"]));
    let helm = run_ok(c.helm(3).args(["status", "stuck", "-n", &ns, "--show-resources"]));
    assert_same_status(&ours, &helm, "a release without live objects");
    assert!(!ours.contains("RESOURCES:"), "{ours}");

    // -o json: helm 3's `info.resources`, every object as the server has it (a list's resourceVersion
    // is the cluster's and moves with other writers: masked).
    let mask = |text: &str| -> String {
        let re = regex::Regex::new(r#""kind":"PodList","metadata":\{"resourceVersion":"\d+"\}"#).unwrap();
        re.replace_all(text, r#""kind":"PodList","metadata":{"resourceVersion":"<masked>"}"#).into_owned()
    };
    let ours = run_ok(c.werf().args(["releases", "status", "shop", "-n", &ns, "--show-resources", "-o", "json"]));
    let helm = run_ok(c.helm(3).args(["status", "shop", "-n", &ns, "--show-resources", "-o", "json"]));
    assert!(ours.contains(r#""kind":"PodList""#), "{ours}");
    assert_eq!(mask(&ours), mask(&helm), "status --show-resources -o json, byte for byte");
    let v: Value = serde_json::from_str(&ours).unwrap();
    assert_eq!(v["info"].as_object().unwrap().keys().next_back().map(String::as_str), Some("resources"));
    let ours = run_ok(c.werf().args(["releases", "status", "shop", "-n", &ns, "--show-resources", "-o", "yaml"]));
    let helm = run_ok(c.helm(3).args(["status", "shop", "-n", &ns, "--show-resources", "-o", "yaml"]));
    let yaml_mask =
        |t: &str| regex::Regex::new(r#"(?m)^(\s+resourceVersion: )['"]?\d+['"]?$"#).unwrap().replace_all(t, "$1<masked>").into_owned();
    assert_eq!(yaml_mask(&ours), yaml_mask(&helm), "status --show-resources -o yaml");
}

#[test]
fn list_output_name_is_one_namespace_slash_name_a_line() {
    let c = TestCluster::start();
    let ns = c.namespace("list-name");
    c.seed_file(&fixture("helm3/fx-helm3-shop-secrets.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
    c.seed_file(&fixture("helm3/fx-helm3-stuck-secrets.yaml"), &BTreeMap::from([("fx-helm3", ns.as_str())]));
    let out = run_ok(c.werf().args(["releases", "list", "-n", &ns, "-o", "name"]));
    // The release namespace is what the records say (the genuine fixtures were written in fx-helm3).
    assert_eq!(out, "fx-helm3/shop\nfx-helm3/stuck\n");
    // The same releases and order as the table, usable in a pipe.
    let table = run_ok(c.werf().args(["releases", "list", "-n", &ns, "-q"]));
    let names: Vec<&str> = out.lines().map(|l| l.split_once('/').unwrap().1).collect();
    assert_eq!(names, table.lines().collect::<Vec<_>>());
    let filtered = run_ok(c.werf().args(["releases", "list", "-n", &ns, "-o", "name", "--pending"]));
    assert_eq!(filtered, "fx-helm3/stuck\n");
    let bad = run(c.werf().args(["releases", "list", "-n", &ns, "-o", "wide"]));
    assert_eq!(bad.status.code(), Some(2), "{}", both(&bad));
}
