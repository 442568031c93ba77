//! Benchmark (`cargo bench --bench migrate`, a `harness = false` bench; `scripts/bench-migrate` runs it
//! on a real kube-apiserver or the sandbox):
//! migrate 200 releases × 10 revisions and compare with the time `kubectl create -f` takes to write the
//! same number of Secrets of the same size (the very objects the migration writes) to the same server.
//! Sizes: BENCH_RELEASES, BENCH_REVISIONS.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/release_fixtures/mod.rs"]
mod release_fixtures;

use std::io::Write as _;
use std::time::Instant;

use common::{TestCluster, run};
use futures::stream::{self, StreamExt};
use kubectl_werf::storage::codec::{self, DecodeLimits, LabelStamp};
use kubectl_werf::storage::{Helm2Storage, Helm3Driver};
use kubectl_werf::storage::{Helm2Store, Helm3Store, ObjectKind};

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    bench_migrate_vs_kubectl_create();
}

fn bench_migrate_vs_kubectl_create() {
    let releases = env_num("BENCH_RELEASES", 200);
    let revisions = env_num("BENCH_REVISIONS", 10);
    let total = releases * revisions;
    let c = TestCluster::start();
    let tiller = c.namespace("bench-tiller");
    let apps = c.namespace("bench-apps");
    let plain = c.namespace("bench-kubectl");
    let base = {
        let r = release_fixtures::load("helm2-synthetic").into_iter().find(|r| r.name == "shop.v2").unwrap();
        codec::decode_helm2(&r.payload, &DecodeLimits::default()).unwrap()
    };
    let h2 = Helm2Store::new(c.client.clone(), &tiller, Helm2Storage::ConfigMap, DecodeLimits::default());
    let h3 = Helm3Store::new(c.client.clone(), Helm3Driver::Secret, DecodeLimits::default());
    let mut records = Vec::with_capacity(total);
    for i in 0..releases {
        for rev in 1..=revisions {
            let mut r = base.clone();
            r.name = format!("bench-{i:04}");
            r.version = rev as i32;
            r.namespace = apps.clone();
            records.push(r);
        }
    }
    // The same Secrets the migration will write, in another namespace, for kubectl.
    let yaml = c.dir.path().join("kubectl-secrets.yaml");
    let mut bytes = 0usize;
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&yaml).unwrap());
        for r in &records {
            let mut r = r.clone();
            r.namespace = plain.clone();
            let conv = kubectl_werf::release::convert::convert(&r, &Default::default()).unwrap();
            let obj = h3.object_for(&conv.release, LabelStamp::Created(1)).unwrap();
            bytes += obj.data_size();
            writeln!(f, "---\n{}", kubectl_werf::storage::backup::to_yaml(&obj).unwrap()).unwrap();
        }
    }
    let seeded = Instant::now();
    c.rt.block_on(async {
        stream::iter(records.iter())
            .map(|r| h2.create(ObjectKind::ConfigMap, r))
            .buffer_unordered(16)
            .for_each(|res| async move {
                res.unwrap();
            })
            .await;
    });
    eprintln!("seeded {total} Helm 2 records in {:.2?}", seeded.elapsed());

    let t = Instant::now();
    let out = run(c.kubectl().args(["create", "-f", yaml.to_str().unwrap(), "-o", "name"]));
    let kubectl = t.elapsed();
    assert!(out.status.success(), "kubectl create: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), total);

    let t = Instant::now();
    let out = run(c.werf().args(["migrate2to3", "--all", "--tiller-namespace", &tiller, "--yes", "-o", "json"]));
    let migrate = t.elapsed();
    assert!(out.status.success(), "migrate: {}", String::from_utf8_lossy(&out.stderr));
    let written = c.rt.block_on(h3.list_meta(Some(&apps), None)).unwrap().len();
    assert_eq!(written, total);

    let t = Instant::now();
    let out = run(c.werf().args(["migrate2to3", "--all", "--tiller-namespace", &tiller, "--yes", "-o", "json"]));
    let rerun = t.elapsed();
    assert!(out.status.success());

    let backup = c.dir.path().join("bench-backup");
    let t = Instant::now();
    let out = run(c.werf().args([
        "migrate2to3",
        "--cleanup",
        "--all",
        "--tiller-namespace",
        &tiller,
        "--yes",
        "-o",
        "json",
        "--backup-dir",
        backup.to_str().unwrap(),
    ]));
    let cleanup = t.elapsed();
    assert!(out.status.success(), "cleanup: {}", String::from_utf8_lossy(&out.stderr));

    eprintln!(
        "\n== migrate2to3 benchmark: {releases} releases × {revisions} revisions = {total} records, {:.1} MiB of Secret data",
        bytes as f64 / 1048576.0
    );
    eprintln!(
        "kubectl create -f ({total} Secrets, same size):                 {kubectl:>8.2?}  ({:.0} records/s)",
        total as f64 / kubectl.as_secs_f64()
    );
    eprintln!(
        "migrate2to3 --all (plan, convert, create, read back, ownership): {migrate:>8.2?}  ({:.0} records/s)",
        total as f64 / migrate.as_secs_f64()
    );
    eprintln!("migrate2to3 --all again (everything skipped):                  {rerun:>8.2?}");
    eprintln!("migrate2to3 --cleanup --all (compare, back up, delete):        {cleanup:>8.2?}");
    eprintln!("speed-up over kubectl create: {:.2}x", kubectl.as_secs_f64() / migrate.as_secs_f64());
}
