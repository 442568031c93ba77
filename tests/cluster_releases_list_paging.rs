//! Paged LISTs: releases whose records span many LIST pages (metadata pages of 500, payload pages of
//! 100), in namespaces and under names whose storage keys sort in the awkward ways (`NS` before `NS-b`
//! by name but after it by key: `-` sorts before `/`; `web-x` before `web`; revision `v10` before `v2`).
//! The verbs stream over the pages in the server's key order (a real server's watch cache and etcd give
//! the same order) and must answer as helm does, which reads every record in one LIST.
//!
//! And a continue token that expired (`410`) while a verb paged: on the emulator (which offers no fresh
//! token) the verb starts the LIST again and skips what it had; tests/real_verbs_list_continue.rs makes a real
//! server expire one.

mod common;
mod seeding;
mod synthetic_releases;

use std::collections::BTreeSet;

use common::{TestCluster, run_ok};
use serde_json::Value;

/// 600 records of 50 releases in namespace A (`web`, `web-x` and `r00`..`r47`, 12 revisions each) and
/// 6 of 2 releases in `A-b`.
struct Seeded {
    a: String,
    b: String,
    records: BTreeSet<String>,
}

fn seed(c: &TestCluster) -> Seeded {
    let a = c.namespace("paging");
    let b = c.namespace_named(&format!("{a}-b"));
    let base = synthetic_releases::shop();
    let mut objects = Vec::new();
    let names: Vec<String> = ["web".to_string(), "web-x".to_string()].into_iter().chain((0..48).map(|i| format!("r{i:02}"))).collect();
    for (i, name) in names.iter().enumerate() {
        objects.extend(seeding::release_secrets(&base, &a, name, i, 12));
    }
    for (i, name) in ["web", "a"].iter().enumerate() {
        objects.extend(seeding::release_secrets(&base, &b, name, 100 + i, 3));
    }
    let records = objects
        .iter()
        .filter(|o| o["metadata"]["namespace"] == a.as_str())
        .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    seeding::create_all(c, objects, 16);
    Seeded { a, b, records }
}

fn json(out: &str) -> Vec<Value> {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Our rows with only the fields helm prints, sorted by namespace and name, to compare with helm's.
fn like_helm(ours: &[Value], helm: &[Value]) -> (Vec<Value>, Vec<Value>) {
    let keys: Vec<String> = helm.first().and_then(Value::as_object).map(|m| m.keys().cloned().collect()).unwrap_or_default();
    let key = |v: &Value| (v["namespace"].as_str().unwrap_or_default().to_string(), v["name"].as_str().unwrap_or_default().to_string());
    let mut ours: Vec<Value> = ours.iter().map(|v| Value::Object(keys.iter().map(|k| (k.clone(), v[k].clone())).collect())).collect();
    let mut helm = helm.to_vec();
    ours.sort_by_key(key);
    helm.sort_by_key(key);
    (ours, helm)
}

#[test]
fn releases_spanning_many_pages_answer_as_helm() {
    let c = TestCluster::start();
    let s = seed(&c);
    let helm_a = json(&run_ok(c.helm(3).args(["list", "-n", &s.a, "-o", "json"])));
    let helm_b = json(&run_ok(c.helm(3).args(["list", "-n", &s.b, "-o", "json"])));
    assert_eq!(helm_a.len(), 50);
    // One namespace: 600 records, two metadata pages.
    let ours = json(&run_ok(c.werf().args(["releases", "list", "-n", &s.a, "--helm-version", "3", "-o", "json"])));
    let (ours, helm) = like_helm(&ours, &helm_a);
    assert_eq!(ours, helm, "releases list -n {}", s.a);
    // All namespaces (the whole server, other tests' records interleaved): ours filtered to ours.
    let all = json(&run_ok(c.werf().args(["releases", "list", "-A", "--helm-version", "3", "-o", "json"])));
    let mine: Vec<Value> = all.into_iter().filter(|r| r["namespace"] == s.a.as_str() || r["namespace"] == s.b.as_str()).collect();
    let helm_ab: Vec<Value> = helm_a.iter().chain(&helm_b).cloned().collect();
    let (ours, helm) = like_helm(&mine, &helm_ab);
    assert_eq!(ours, helm, "releases list -A, the test's namespaces");
    // History and every revision's payload: ours as helm's.
    for name in ["web", "web-x", "r47"] {
        let ours = json(&run_ok(c.werf().args(["releases", "history", name, "-n", &s.a, "-o", "json"])));
        let helm = json(&run_ok(c.helm(3).args(["history", name, "-n", &s.a, "-o", "json"])));
        assert_eq!(ours.len(), 12, "{name}");
        let keys: Vec<String> = helm[0].as_object().unwrap().keys().cloned().collect();
        let ours: Vec<Value> = ours.iter().map(|v| Value::Object(keys.iter().map(|k| (k.clone(), v[k].clone())).collect())).collect();
        assert_eq!(ours, helm, "history {name}");
    }
    // Export: every record of the namespace exactly once (six payload pages).
    let dir = c.dir.path().join("export");
    run_ok(c.werf().args(["releases", "export", "-n", &s.a, "--dir"]).arg(&dir));
    assert_eq!(exported(&dir), s.records);
}

/// The record names of an export directory (one file per record, named after it).
fn exported(dir: &std::path::Path) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for entry in walk(dir) {
        let text = std::fs::read_to_string(&entry).unwrap();
        for o in kubectl_werf::manifest::parse_objects(&text, true) {
            let o = o.unwrap();
            assert!(names.insert(o.name.clone()), "{} exported twice", o.name);
        }
    }
    names
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A continue token that expired mid-LIST, from a server that offers no fresh one: the verb lists
/// again from the start, skips what it had, and answers exactly as undisturbed.
#[test]
fn an_expired_continue_token_restarts_the_list_emulator_only() {
    let c = TestCluster::start();
    let emu = c.emulator_for("injects 410 Expired into the second page of a LIST");
    let s = seed(&c);
    // list reads the payloads of the records not labelled superseded in pages of 250: more releases than
    // that, one revision each, so its LIST has a second page.
    let wide = c.namespace("paging-wide");
    let base = synthetic_releases::shop();
    let objects: Vec<Value> = (0..260).flat_map(|i| seeding::release_secrets(&base, &wide, &format!("w{i:03}"), 200 + i, 1)).collect();
    seeding::create_all(&c, objects, 16);
    let list = ["releases", "list", "-n", &wide, "--helm-version", "3", "-o", "json", "--max", "0"];
    let undisturbed = run_ok(c.werf().args(list));
    let history = ["releases", "history", "web", "-n", &s.a, "-o", "json"];
    let undisturbed_history = run_ok(c.werf().args(history));
    let secret_lists = |ns: &str| -> Vec<kube_emulator::LoggedRequest> {
        emu.request_log().into_iter().filter(|r| r.verb == "list" && r.resource == "secrets" && r.namespace == ns).collect()
    };
    let selector = |q: &str| q.split('&').find(|p| p.starts_with("labelSelector=")).map(str::to_string);
    for (what, ns, args, want) in [("list", &wide, &list[..], &undisturbed), ("history", &s.a, &history[..], &undisturbed_history)] {
        // The first LIST request that continues a paged LIST (verbs may send several LISTs first).
        emu.clear_request_log();
        run_ok(c.werf().args(args));
        let nth = secret_lists(ns).iter().position(|r| r.query.contains("continue=")).map(|i| i as u64 + 1);
        let Some(nth) = nth else {
            assert_ne!(what, "list", "list pages over the seeded records: {:?}", secret_lists(ns));
            continue;
        };
        emu.clear_request_log();
        emu.inject(kube_emulator::Fault::on("list", "secrets").namespace(ns).nth(nth).respond(410));
        let got = run_ok(c.werf().args(args));
        assert_eq!(&got, want, "{what} after an expired token");
        let lists = secret_lists(ns);
        let expired = &lists[nth as usize - 1];
        assert_eq!(expired.status, 410, "{lists:?}");
        assert!(expired.query.contains("continue="), "{lists:?}");
        assert!(
            lists[nth as usize..].iter().any(|r| !r.query.contains("continue=") && selector(&r.query) == selector(&expired.query)),
            "the same LIST started again: {lists:?}"
        );
        emu.clear_faults();
    }
    // Export (payload pages of 100): every record once.
    emu.inject(kube_emulator::Fault::on("list", "secrets").namespace(&s.a).nth(3).respond(410));
    let dir = c.dir.path().join("export");
    run_ok(c.werf().args(["releases", "export", "-n", &s.a, "--dir"]).arg(&dir));
    assert_eq!(exported(&dir), s.records);
}
