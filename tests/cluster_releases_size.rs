//! `releases size`: the bytes the server counts for each record, the breakdown by part and file, growth
//! over revisions, `--warn-at`, on records written by real helm 3 (Secret and ConfigMap drivers) and
//! Tiller-layout records, checked against what kubectl reads back.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Output;

use base64::Engine;
use common::{TestCluster, fixture, run, run_ok};
use serde_json::Value;

const LIMIT: u64 = 1_048_576;

/// Bytes that do not compress (xorshift), like a stray .tgz.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A chart with two small templates and, at its root, a stray archive of `blob` bytes that nothing uses
/// (helm still stores it under `chart.files`).
fn chart_with_stray_archive(c: &TestCluster, dir_name: &str, blob: usize) -> PathBuf {
    let dir = c.dir.path().join(dir_name);
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(dir.join("Chart.yaml"), "apiVersion: v2\nname: heavy\nversion: 0.1.0\n").unwrap();
    std::fs::write(dir.join("values.yaml"), "greeting: hello\n").unwrap();
    std::fs::write(
        dir.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n  greeting: {{ .Values.greeting | quote }}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("templates/hook.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-hook\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n    helm.sh/hook-delete-policy: before-hook-creation\ndata:\n  phase: \"pre\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("heavy-0.0.9.tgz"), noise(blob, blob as u64)).unwrap();
    dir
}

fn size_json(c: &TestCluster, args: &[&str]) -> (Value, Output) {
    let out = run(c.werf().args(["releases", "size"]).args(args).args(["-o", "json"]));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}\nstderr: {}", String::from_utf8_lossy(&out.stderr)));
    (v, out)
}

/// What the server counts for a record, read with kubectl: the key `release` plus the value (a Secret's
/// base64-decoded once: helm's base64 text).
fn counted_by_kubectl(c: &TestCluster, kind: &str, ns: &str, name: &str) -> u64 {
    let v: Value = serde_json::from_str(&run_ok(c.kubectl().args(["get", kind, name, "-n", ns, "-o", "json"]))).unwrap();
    let data = v["data"]["release"].as_str().unwrap();
    let len = if kind == "secret" { base64::engine::general_purpose::STANDARD.decode(data).unwrap().len() } else { data.len() };
    (len + "release".len()) as u64
}

fn release<'a>(report: &'a Value, name: &str, storage: &str) -> &'a Value {
    report["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name && r["storage"] == storage)
        .unwrap_or_else(|| panic!("no {storage} release {name} in {report:#}"))
}

fn parts_sum(parts: &Value) -> u64 {
    parts.as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum()
}

/// One namespace, helm 3 installing with a stray 150 KB archive, then upgrading with 400 KB and 450 KB
/// ones (Secret driver), and small releases beside it: helm 3 with the ConfigMap driver, helm 4.
#[test]
fn helm3_records_sized_as_the_server_counts_with_the_stray_archive_named() {
    let c = TestCluster::start();
    let ns = c.namespace("size-helm3");
    for (rev, blob) in [(1, 150_000), (2, 400_000), (3, 450_000)] {
        let chart = chart_with_stray_archive(&c, &format!("heavy-{rev}"), blob);
        run_ok(c.helm(3).args(["upgrade", "--install", "heavy"]).arg(&chart).args(["-n", &ns]));
    }
    let small = chart_with_stray_archive(&c, "light", 2_000);
    run_ok(c.helm(3).env("HELM_DRIVER", "configmap").args(["install", "light"]).arg(&small).args(["-n", &ns]));
    // helm 4 writes more fields (apply method, mod times): the same rules apply.
    run_ok(c.helm(4).args(["install", "four"]).arg(&small).args(["-n", &ns]));

    let (report, out) = size_json(&c, &["-n", &ns]);
    assert_eq!(out.status.code(), Some(0), "nothing at 80%: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(report["limit"], LIMIT);
    assert_eq!(report["warnAtPercent"], 80);

    // Secret driver: every revision's size is what the server counts.
    let heavy = release(&report, "heavy", "secret");
    assert_eq!(heavy["namespace"], ns.as_str());
    let revisions = heavy["revisions"].as_array().unwrap();
    assert_eq!(revisions.iter().map(|r| r["revision"].as_i64().unwrap()).collect::<Vec<_>>(), [1, 2, 3]);
    let mut sizes = Vec::new();
    for r in revisions {
        let rev = r["revision"].as_i64().unwrap();
        let counted = counted_by_kubectl(&c, "secret", &ns, &format!("sh.helm.release.v1.heavy.v{rev}"));
        assert_eq!(r["bytes"], counted, "revision {rev}");
        assert_eq!(r["object"], format!("{ns}/sh.helm.release.v1.heavy.v{rev}").as_str());
        assert_eq!(parts_sum(&r["parts"]), counted, "the parts share out exactly the stored bytes");
        // The stray archive is the largest file, in `files`, and carries most of the record.
        let top = &r["files"][0];
        assert_eq!(top["name"], "heavy-0.0.9.tgz", "{r:#}");
        assert_eq!(top["part"], "files");
        let blob = [150_000, 400_000, 450_000][rev as usize - 1];
        assert_eq!(top["bytes"], blob);
        let stored = top["stored"].as_u64().unwrap();
        // base64(gzip(json(base64(noise)))) costs about 4/3 of the noise; the estimate must be close.
        assert!(stored > blob * 5 / 4 && stored < blob * 3 / 2, "revision {rev}: {stored} of {counted} for {blob} bytes of noise");
        assert!(r["parts"]["files"].as_u64().unwrap() >= stored);
        assert!(r["parts"]["templates"].as_u64().unwrap() > 0 && r["parts"]["hooks"].as_u64().unwrap() > 0);
        assert!(r["parts"]["manifest"].as_u64().unwrap() > 0 && r["parts"]["values"].as_u64().unwrap() > 0);
        assert_eq!(r["parts"]["subcharts"], 0, "helm 3 stores no subcharts");
        let names: Vec<&str> = r["files"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
        for want in ["templates/cm.yaml", "templates/hook.yaml"] {
            assert!(names.contains(&want), "{names:?}");
        }
        assert!(r["payloadParts"]["files"].as_u64().unwrap() > blob * 4 / 3, "JSON holds the file as base64");
        sizes.push(counted);
    }
    // Growth: the largest step is 1 → 2; the estimate of the next record adds it to the latest.
    assert_eq!(revisions[1]["growth"], sizes[1] as i64 - sizes[0] as i64);
    assert_eq!(revisions[2]["growth"], sizes[2] as i64 - sizes[1] as i64);
    assert_eq!(heavy["largestGrowth"], serde_json::json!({"from": 1, "to": 2, "bytes": sizes[1] - sizes[0]}));
    assert_eq!(heavy["latestRevision"], 3);
    assert_eq!(heavy["bytes"], sizes[2]);
    assert_eq!(heavy["nextEstimate"], sizes[2] + sizes[1] - sizes[0]);
    assert_eq!(heavy["nextMayExceed"], sizes[2] + sizes[1] - sizes[0] > LIMIT);

    // ConfigMap driver, beside it.
    let light = release(&report, "light", "configmap");
    let counted = counted_by_kubectl(&c, "configmap", &ns, "sh.helm.release.v1.light.v1");
    assert_eq!(light["revisions"][0]["bytes"], counted);
    assert_eq!(parts_sum(&light["revisions"][0]["parts"]), counted);
    assert_eq!(light["largestGrowth"], Value::Null);
    let four = release(&report, "four", "secret");
    let counted = counted_by_kubectl(&c, "secret", &ns, "sh.helm.release.v1.four.v1");
    assert_eq!(four["revisions"][0]["bytes"], counted);
    assert_eq!(parts_sum(&four["revisions"][0]["parts"]), counted);
    assert_eq!(four["revisions"][0]["files"][0]["name"], "heavy-0.0.9.tgz");
    // Sorted by size by default; by name on request.
    let order = |r: &Value| r["releases"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    // four and light hold the same chart: their order by size depends on the writer; by name it is fixed.
    assert_eq!(order(&report)[0], "heavy");
    assert_eq!(order(&size_json(&c, &["-n", &ns, "--sort", "name"]).0), ["four", "heavy", "light"]);
    assert_eq!(order(&size_json(&c, &["-n", &ns, "--sort", "growth"]).0)[0], "heavy");

    // --warn-at: the latest heavy record is about 60% of the limit.
    let percent = sizes[2] as f64 * 100.0 / LIMIT as f64;
    let below = format!("{}", (percent as u64) + 1);
    let above = format!("{}", (percent as u64).max(1));
    let (v, out) = size_json(&c, &["-n", &ns, "--warn-at", &below]);
    assert_eq!(out.status.code(), Some(0), "{v:#}");
    let (v, out) = size_json(&c, &["-n", &ns, "--warn-at", &above]);
    assert_eq!(out.status.code(), Some(3));
    let marked: Vec<i64> = release(&v, "heavy", "secret")["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["atOrAbove"] == true)
        .map(|r| r["revision"].as_i64().unwrap())
        .collect();
    assert!(marked.contains(&3) && !marked.contains(&1), "{marked:?}");
    assert_eq!(release(&v, "light", "configmap")["atOrAbove"], false);
    assert_eq!(release(&v, "four", "secret")["atOrAbove"], false);

    // The table names the archive among the largest files and marks the record.
    let out = run(c.werf().args(["releases", "size", "-n", &ns, "--warn-at", &above]));
    assert_eq!(out.status.code(), Some(3));
    let table = String::from_utf8_lossy(&out.stdout);
    let header = table.lines().next().unwrap();
    for col in [
        "NAMESPACE",
        "NAME",
        "STORAGE",
        "REVISION",
        "BYTES",
        "OF LIMIT",
        "LARGEST GROWTH",
        "TEMPLATES",
        "FILES",
        "SUBCHARTS",
        "VALUES",
        "MANIFEST",
        "HOOKS",
        "OTHER",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let row = table.lines().find(|l| l.contains("heavy") && l.contains("secret")).unwrap();
    assert!(row.contains(&sizes[2].to_string()) && row.contains('!'), "{table}");
    assert!(table.lines().any(|l| l.contains("heavy-0.0.9.tgz") && l.contains("files")), "{table}");
    assert!(table.contains(&format!("{ns}/sh.helm.release.v1.heavy.v3")), "{table}");

    // Named: the same release, with helm able to read it (nothing was written).
    let (one, out) = size_json(&c, &["heavy", "-n", &ns]);
    assert!(out.status.success());
    assert_eq!(one["releases"].as_array().unwrap().len(), 1);
    assert_eq!(one["releases"][0]["bytes"], sizes[2]);
    run_ok(c.helm(3).args(["status", "heavy", "-n", &ns]));
}

/// Tiller records (ConfigMap layout) with a subchart, and damaged ones: the subchart's files are named
/// under `charts/cache/`, damaged records are sized and named on stderr, exit 1.
#[test]
fn helm2_records_with_a_subchart_and_damaged_ones() {
    let c = TestCluster::start();
    let tiller = c.namespace("size-tiller");
    let map = BTreeMap::from([("kube-system", tiller.as_str())]);
    c.seed_file(&fixture("helm2-synthetic/kube-system-shop-4revs-configmaps.yaml"), &map);
    c.seed_file(&fixture("helm2-synthetic/kube-system-damaged-configmaps.yaml"), &map);

    let (report, out) = size_json(&c, &["--helm-version", "2", "--tiller-namespace", &tiller]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "a damaged record: exit 1\n{stderr}");
    assert!(stderr.lines().any(|l| l.contains(&format!("{tiller}/broken.v1"))), "{stderr}");
    assert_eq!(stderr.lines().filter(|l| l.contains("broken.v1")).count(), 1, "one line per damaged record: {stderr}");

    let shop = release(&report, "shop", "helm2/configmap");
    assert_eq!(shop["namespace"], "legacy-shop");
    assert_eq!(shop["recordsNamespace"], tiller.as_str());
    let revisions = shop["revisions"].as_array().unwrap();
    assert_eq!(revisions.len(), 4);
    for r in revisions {
        let rev = r["revision"].as_i64().unwrap();
        let counted = counted_by_kubectl(&c, "configmap", &tiller, &format!("shop.v{rev}"));
        assert_eq!(r["bytes"], counted);
        assert_eq!(parts_sum(&r["parts"]), counted);
        assert!(r["parts"]["subcharts"].as_u64().unwrap() > 0, "Tiller stores the subchart: {r:#}");
        assert!(r["parts"]["hooks"].as_u64().unwrap() > 0 && r["parts"]["templates"].as_u64().unwrap() > 0);
        let files = r["files"].as_array().unwrap();
        assert!(
            files.iter().any(|f| f["name"].as_str().unwrap().starts_with("charts/cache/templates/") && f["part"] == "subcharts"),
            "{files:#?}"
        );
        assert!(files.iter().any(|f| f["name"].as_str().unwrap().starts_with("templates/") && f["part"] == "templates"));
    }

    // The damaged record: sized (the server counts it all the same), not broken down.
    let broken = report["releases"].as_array().unwrap().iter().find(|r| r["name"] == "broken").expect("broken is listed");
    let rec = &broken["revisions"][0];
    assert_eq!(rec["bytes"], counted_by_kubectl(&c, "configmap", &tiller, "broken.v1"));
    assert!(rec.get("parts").is_none() && rec["error"].is_string(), "{rec:#}");
    // A protobuf stored without gzip is legal: broken down by its raw bytes.
    let rawproto = release(&report, "rawproto", "helm2/configmap");
    assert_eq!(parts_sum(&rawproto["revisions"][0]["parts"]), rawproto["bytes"].as_u64().unwrap());

    // --warn-at 1: every record is marked; exit 3 wins over the damaged record's 1.
    let (_, out) = size_json(&c, &["--helm-version", "2", "--tiller-namespace", &tiller, "--warn-at", "1"]);
    assert_eq!(out.status.code(), Some(3));
}

/// A name that is nowhere: one line naming where it looked, exit 1.
#[test]
fn a_missing_release_is_one_line() {
    let c = TestCluster::start();
    let ns = c.namespace("size-none");
    let out = run(c.werf().args(["releases", "size", "nothere", "-n", &ns]));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("nothere") && stderr.contains(&ns), "{stderr}");
}
