//! Every verb, 32 runs at once, against 1,000 release records on a real kube-apiserver that throttles:
//! started with `--max-requests-inflight=5 --max-mutating-requests-inflight=2`, so API Priority and
//! Fairness has 7 seats in all. `system:masters` is exempt from it, so the verbs run as the admin
//! impersonating a user of an ordinary group bound to `cluster-admin` (`--as`, `--as-group`); the
//! seeding, as the admin itself, is not throttled. That group's requests go to a priority level of
//! their own (a FlowSchema and PriorityLevelConfiguration, as a cluster admin would set up for a noisy
//! client) with one seat and short queues: the flags alone give ordinary users one seat too, but
//! queues long enough (6 x 50 per user) that 32 runs of a light verb just wait in them; with 2 queues
//! of 4 the server answers 429 to whatever does not fit, as it does on a busy cluster.
//!
//! For each verb: 32 runs in parallel, each on its own release(s); every run must exit 0 and leave what
//! it should (checked through the API or the verbs' own output), and the server's
//! `apiserver_request_total{code="429"}` must have grown during the phase: real 429s, met and retried.
//! The records: 100 Helm 3 releases of 8 revisions (800), 36 stuck releases of 2 (72), 32 Helm 2
//! releases of 4 (128) = 1,000.

mod common;
mod release_fixtures;
mod seeding;
mod synthetic_releases;

use std::collections::BTreeMap;
use std::process::Output;
use std::time::Instant;

use common::{RealControlPlane, TestCluster, run, run_parallel};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, ListParams};
use kubectl_werf::release::helm3::Status;
use kubectl_werf::storage::Helm2Storage;
use kubectl_werf::storage::codec::{self, DecodeLimits};
use kubectl_werf::storage::{Helm2Store, ObjectKind};
use serde_json::{Value, json};

const PARALLEL: usize = 32;
const USER_GROUP: &str = "kw-throttled";

struct Load<'a> {
    c: &'a TestCluster,
    ns: String,
    tiller: String,
    apps: String,
}

impl Load<'_> {
    /// The plugin as an ordinary (throttled) user.
    fn werf(&self, args: &[String]) -> Output {
        run(self.c.werf().args(["--as", "throttled-user", "--as-group", USER_GROUP]).args(args))
    }

    fn requests_429(&self) -> u64 {
        let request = http::Request::get("/metrics").body(Vec::new()).unwrap();
        let text = self.c.rt.block_on(self.c.client.request_text(request)).unwrap();
        text.lines()
            .filter(|l| l.starts_with("apiserver_request_total{") && l.contains("code=\"429\""))
            .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
            .sum::<f64>() as u64
    }

    /// 32 runs of `args(i)` at once; each must exit 0 and pass `check(i, stdout)`; the server must have
    /// answered 429 meanwhile.
    fn phase(&self, what: &str, args: impl Fn(usize) -> Vec<String> + Sync, check: impl Fn(usize, &str) + Sync) {
        let before = self.requests_429();
        let started = Instant::now();
        let items: Vec<usize> = (0..PARALLEL).collect();
        let outcomes = run_parallel(&items, PARALLEL, |&i| {
            let out = self.werf(&args(i));
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "{what} #{i} {:?}: exit {:?}\n{stdout}\n{}",
                args(i),
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            );
            check(i, &stdout);
        });
        let throttled = self.requests_429() - before;
        eprintln!("{what}: {PARALLEL} runs in {:.1}s, the server answered 429 {throttled} times", started.elapsed().as_secs_f64());
        let failed: Vec<String> = outcomes.into_iter().filter_map(Result::err).collect();
        assert!(failed.is_empty(), "{what}: {} of {PARALLEL} runs failed:\n{}", failed.len(), failed.join("\n---\n"));
        assert!(throttled > 0, "{what}: the server never throttled: the phase proves nothing");
    }

    fn secrets(&self, ns: &str, selector: &str) -> Vec<Secret> {
        let api: Api<Secret> = Api::namespaced(self.c.client.clone(), ns);
        self.c.rt.block_on(api.list(&ListParams::default().labels(selector))).unwrap().items
    }

    /// Revision → status of release `name`'s Helm 3 records, from their labels.
    fn revisions(&self, ns: &str, name: &str) -> BTreeMap<u32, String> {
        self.secrets(ns, &format!("owner=helm,name={name}"))
            .into_iter()
            .map(|s| {
                let l = s.metadata.labels.unwrap_or_default();
                (l["version"].parse().unwrap(), l["status"].clone())
            })
            .collect()
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn seed(c: &TestCluster) -> Load<'_> {
    let started = Instant::now();
    let ns = c.namespace("throttled");
    let tiller = c.namespace("throttled-tiller");
    let apps = c.namespace("throttled-apps");
    c.create_object(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "kw-throttled-admin"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": USER_GROUP}],
    }));
    c.create_object(json!({
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
        "metadata": {"name": "kw-throttled"},
        "spec": {"type": "Limited", "limited": {
            "nominalConcurrencyShares": 5, "lendablePercent": 0,
            "limitResponse": {"type": "Queue", "queuing": {"queues": 2, "handSize": 1, "queueLengthLimit": 4}},
        }},
    }));
    c.create_object(json!({
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
        "metadata": {"name": "kw-throttled"},
        "spec": {
            "priorityLevelConfiguration": {"name": "kw-throttled"},
            "matchingPrecedence": 500,
            "distinguisherMethod": {"type": "ByUser"},
            "rules": [{
                "subjects": [{"kind": "Group", "group": {"name": USER_GROUP}}],
                "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"], "clusterScope": true, "namespaces": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            }],
        },
    }));
    let base = synthetic_releases::shop();
    let mut objects = Vec::new();
    for i in 0..100 {
        let mut b = base.clone();
        // a64..a95 are annotated: their manifests are two live ConfigMaps each.
        if (64..96).contains(&i) {
            b.manifest = (0..2)
                .map(|j| {
                    format!("---\n# Source: a/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a{i:02}-cm-{j}\n")
                })
                .collect();
            for j in 0..2 {
                objects.push(
                    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("a{i:02}-cm-{j}"), "namespace": ns}}),
                );
            }
        }
        objects.extend(seeding::release_secrets(&b, &ns, &format!("a{i:02}"), i, 8));
    }
    for i in 0..36 {
        for rev in 1..=2 {
            let mut r = synthetic_releases::revision(&base, &format!("stuck{i:02}"), &ns, 200 + i, rev, 2);
            r.config.shift_remove("blob");
            r.info.status = if rev == 2 { Status::PendingUpgrade } else { Status::Deployed };
            objects.push(synthetic_releases::secret(&r, synthetic_releases::created_at(200 + i, rev)));
        }
    }
    // Objects to adopt: two ConfigMaps per run.
    for i in 0..PARALLEL {
        for j in 0..2 {
            objects
                .push(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("free-{i:02}-{j}"), "namespace": ns}}));
        }
    }
    seeding::create_all(c, objects, 16);
    let store = Helm2Store::new(c.client.clone(), &tiller, Helm2Storage::ConfigMap, DecodeLimits::default());
    let shop2: Vec<_> = (1..=4)
        .map(|rev| {
            let r = release_fixtures::load("helm2-synthetic").into_iter().find(|r| r.name == format!("shop.v{rev}")).unwrap();
            codec::decode_helm2(&r.payload, &DecodeLimits::default()).unwrap()
        })
        .collect();
    c.rt.block_on(async {
        use futures::StreamExt;
        let releases: Vec<_> = (0..PARALLEL)
            .flat_map(|i| {
                shop2.iter().map(move |r| {
                    let mut r = r.clone();
                    r.name = format!("h{i:02}");
                    r
                })
            })
            .map(|mut r| {
                r.namespace = apps.clone();
                r
            })
            .collect();
        futures::stream::iter(releases)
            .map(|r| {
                let store = &store;
                async move { store.create(ObjectKind::ConfigMap, &r).await.unwrap() }
            })
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await;
    });
    let load = Load { c, ns, tiller, apps };
    let records = load.secrets(&load.ns, "owner=helm").len() + {
        let api: Api<ConfigMap> = Api::namespaced(c.client.clone(), &load.tiller);
        c.rt.block_on(api.list_metadata(&ListParams::default().labels("OWNER=TILLER"))).unwrap().items.len()
    };
    assert_eq!(records, 1000);
    eprintln!("seeded 1,000 records in {:.1}s", started.elapsed().as_secs_f64());
    load
}

#[test]
#[ignore = "real kube-apiserver: scripts/test runs it"]
fn every_verb_32_at_once_on_a_throttling_server() {
    let cp = RealControlPlane::start("--max-requests-inflight=5 --max-mutating-requests-inflight=2");
    let c = cp.cluster();
    let l = seed(&c);
    let ns = l.ns.clone();
    let t = ["--tiller-namespace".to_string(), l.tiller.clone()];
    let exports = c.dir.path().join("exports");
    let release = |i: usize| format!("a{i:02}");

    // Reads.
    let baseline = String::from_utf8(l.werf(&strings(&["releases", "list", "-A", "-o", "json", &t[0], &t[1]])).stdout).unwrap();
    assert_eq!(serde_json::from_str::<Vec<Value>>(&baseline).unwrap().len(), 100 + 36 + PARALLEL, "{baseline}");
    l.phase("releases list -A", |_| strings(&["releases", "list", "-A", "-o", "json", &t[0], &t[1]]), |_, out| assert_eq!(out, baseline));
    l.phase(
        "releases history",
        |i| strings(&["releases", "history", &release(i), "-n", &ns, "-o", "json"]),
        |i, out| {
            let rows: Vec<Value> = serde_json::from_str(out).unwrap();
            let revisions: Vec<i64> = rows.iter().map(|r| r["revision"].as_i64().unwrap()).collect();
            assert_eq!(revisions, (1..=8).collect::<Vec<_>>(), "{}", release(i));
        },
    );
    l.phase(
        "releases status",
        |i| strings(&["releases", "status", &release(i), "-n", &ns]),
        |i, out| {
            assert!(out.contains(&format!("NAME: {}", release(i))) && out.contains("REVISION: 8"), "{out}");
        },
    );
    l.phase(
        "releases get all",
        |i| strings(&["releases", "get", "all", &release(i), "-n", &ns]),
        |_, out| {
            assert!(out.contains("MANIFEST:"), "{out}");
        },
    );
    l.phase(
        "releases export",
        |i| {
            let mut a = strings(&["releases", "export", &release(i), "-n", &ns, "--dir"]);
            a.push(exports.join(release(i)).display().to_string());
            a
        },
        |i, _| assert!(std::fs::read_dir(exports.join(release(i))).map(|d| d.count()).unwrap_or(0) > 0, "{}", release(i)),
    );

    // Writes.
    l.phase("releases prune", |i| strings(&["releases", "prune", &release(32 + i), "-n", &ns, "--keep", "3", "--yes"]), |_, _| {});
    for i in 0..PARALLEL {
        assert_eq!(l.revisions(&ns, &release(32 + i)).into_keys().collect::<Vec<_>>(), vec![6, 7, 8], "pruned {}", release(32 + i));
    }
    // restore: the exported releases deleted, then put back from their exports.
    let before: Vec<BTreeMap<u32, String>> = (0..PARALLEL).map(|i| l.revisions(&ns, &release(i))).collect();
    let api: Api<Secret> = Api::namespaced(c.client.clone(), &ns);
    for i in 0..PARALLEL {
        c.rt.block_on(
            api.delete_collection(&DeleteParams::default(), &ListParams::default().labels(&format!("owner=helm,name={}", release(i)))),
        )
        .unwrap();
    }
    l.phase(
        "releases restore",
        |i| {
            let mut a = strings(&["releases", "restore", "--yes", "--dir"]);
            a.push(exports.join(release(i)).display().to_string());
            a
        },
        |_, _| {},
    );
    for (i, revisions) in before.iter().enumerate() {
        assert_eq!(&l.revisions(&ns, &release(i)), revisions, "restored {}", release(i));
    }
    l.phase("releases unlock", |i| strings(&["releases", "unlock", &format!("stuck{i:02}"), "-n", &ns, "--yes", "--force"]), |_, _| {});
    for i in 0..PARALLEL {
        assert_eq!(l.revisions(&ns, &format!("stuck{i:02}"))[&2], "failed", "unlocked stuck{i:02}");
    }
    l.phase("migrate2to3", |i| strings(&["migrate2to3", &format!("h{i:02}"), &t[0], &t[1], "--yes"]), |_, _| {});
    for i in 0..PARALLEL {
        assert_eq!(l.revisions(&l.apps, &format!("h{i:02}")).len(), 4, "migrated h{i:02}");
    }
    l.phase(
        "releases move",
        |i| strings(&["releases", "move", &release(i), "--to-name", &format!("moved{i:02}"), "-n", &ns, "--yes"]),
        |_, _| {},
    );
    for (i, revisions) in before.iter().enumerate() {
        assert!(l.revisions(&ns, &release(i)).is_empty(), "moved away from {}", release(i));
        assert_eq!(&l.revisions(&ns, &format!("moved{i:02}")), revisions, "moved to moved{i:02}");
    }
    l.phase("releases forget", |i| strings(&["releases", "forget", &format!("stuck{i:02}"), "-n", &ns, "--yes"]), |_, _| {});
    for i in 0..PARALLEL {
        assert!(l.revisions(&ns, &format!("stuck{i:02}")).is_empty(), "forgot stuck{i:02}");
    }
    l.phase(
        "annotate",
        |i| strings(&["annotate", &release(64 + i), "-n", &ns, "--add-annotation", "example.com/load=1", "--yes"]),
        |_, _| {},
    );
    l.phase(
        "adopt",
        |i| {
            strings(&[
                "adopt",
                &format!("configmap/free-{i:02}-0"),
                &format!("configmap/free-{i:02}-1"),
                "--release",
                &format!("adopted{i:02}"),
                "-n",
                &ns,
                "--yes",
            ])
        },
        |_, _| {},
    );
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), &ns);
    for cm in c.rt.block_on(cms.list(&ListParams::default())).unwrap().items {
        let name = cm.metadata.name.clone().unwrap();
        let annotations = cm.metadata.annotations.clone().unwrap_or_default();
        if name.contains("-cm-") {
            assert_eq!(annotations.get("example.com/load").map(String::as_str), Some("1"), "annotated {name}");
        } else if let Some(i) = name.strip_prefix("free-") {
            let release = format!("adopted{}", &i[..2]);
            assert_eq!(annotations.get("meta.helm.sh/release-name"), Some(&release), "adopted {name}");
        }
    }
}
