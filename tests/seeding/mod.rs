//! Seeding many release records through the API quickly (a real server has no store to write into):
//! light synthetic Helm 3 records (the `shop` fixture release renamed, without the benchmark's
//! incompressible values, ~3 KB each) created by many requests at once, each retried while the server
//! answers 429 or 5xx (a server started with tight in-flight limits throttles its own seeding too).
#![allow(dead_code)]

use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, PostParams};
use kube::discovery::ApiResource;
use kubectl_werf::release::helm3::Release;
use serde_json::Value;

use crate::common::TestCluster;
use crate::synthetic_releases;

/// The Secrets helm would store for release `name` in `namespace` with `revisions` revisions (the last
/// deployed, earlier ones superseded); `i` varies times and values between releases.
pub fn release_secrets(base: &Release, namespace: &str, name: &str, i: usize, revisions: usize) -> Vec<Value> {
    (1..=revisions)
        .map(|rev| {
            let mut r = synthetic_releases::revision(base, name, namespace, i, rev, revisions);
            r.config.shift_remove("blob");
            synthetic_releases::secret(&r, synthetic_releases::created_at(i, rev))
        })
        .collect()
}

/// Create every object (Secrets, ConfigMaps or any kind `TestCluster::create_object` knows), `parallel`
/// requests at a time, each retried on 429/5xx/broken connections for up to a minute.
pub fn create_all(c: &TestCluster, objects: Vec<Value>, parallel: usize) {
    let client = c.client.clone();
    c.rt.block_on(async {
        futures::stream::iter(objects).map(|o| create_one(client.clone(), o)).buffer_unordered(parallel.max(1)).collect::<Vec<()>>().await;
    });
}

async fn create_one(client: kube::Client, value: Value) {
    let api_version = value["apiVersion"].as_str().unwrap().to_string();
    let kind = value["kind"].as_str().unwrap().to_string();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
    let gvk = kube::api::GroupVersionKind::gvk(group, version, &kind);
    let ar = ApiResource::from_gvk_with_plural(&gvk, &format!("{}s", kind.to_ascii_lowercase()));
    let obj: DynamicObject = serde_json::from_value(value).unwrap();
    let ns = obj.metadata.namespace.clone().unwrap();
    let name = obj.metadata.name.clone().unwrap();
    let api: Api<DynamicObject> = Api::namespaced_with(client, &ns, &ar);
    let start = std::time::Instant::now();
    let mut retried = false;
    loop {
        match api.create(&PostParams::default(), &obj).await {
            Ok(_) => return,
            // an earlier attempt landed though its answer was lost
            Err(kube::Error::Api(s)) if s.code == 409 && retried && s.reason == "AlreadyExists" => return,
            Err(e) if kubectl_werf::retry::is_transient(&e) && start.elapsed() < Duration::from_secs(60) => {
                retried = true;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("create {kind} {ns}/{name}: {e}"),
        }
    }
}
