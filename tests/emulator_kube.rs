//! kube-rs against the emulator: aggregated discovery, short names, the custom resource,
//! typed and metadata-only calls.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube_emulator::Emulator;

async fn client(emu: &Emulator) -> kube::Client {
    let kc = Kubeconfig::from_yaml(&emu.kubeconfig_yaml(None)).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await.unwrap();
    kube::Client::try_from(cfg).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_discovery_and_crud() {
    let emu = Emulator::start().await.unwrap();
    emu.seed_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/helm3")).unwrap();
    emu.seed_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/crds")).unwrap();
    let client = client(&emu).await;

    let discovery = kube::Discovery::new(client.clone()).run_aggregated().await.unwrap();
    let apps = discovery.groups().find(|g| g.name() == "apps").expect("apps group");
    assert!(apps.recommended_resources().iter().any(|(r, _)| r.kind == "Deployment"));
    let shop = discovery.groups().find(|g| g.name() == "shop.example.com").expect("custom group");
    assert!(shop.recommended_resources().iter().any(|(r, _)| r.plural == "widgets"));
    let agg = emu.request_log().into_iter().find(|r| r.path == "/apis").unwrap();
    assert!(agg.accept.contains("apidiscovery.k8s.io;v=v2"), "{}", agg.accept);

    // short names come from the raw aggregated document
    let raw: serde_json::Value = client
        .request(
            http::Request::get("/apis")
                .header("Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(raw.to_string().contains("\"deploy\""));

    let secrets: Api<Secret> = Api::namespaced(client.clone(), "fx-helm3");
    let list = secrets.list(&ListParams::default().labels("owner=helm,name=shop")).await.unwrap();
    assert_eq!(list.items.len(), 4);
    let meta = secrets.list_metadata(&ListParams::default().labels("owner=helm").limit(2)).await.unwrap();
    assert_eq!(meta.items.len(), 2);
    assert!(meta.metadata.continue_.is_some());

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("k".into());
    cm.data = Some([("a".to_string(), "b".to_string())].into());
    let created = cms.create(&PostParams::default(), &cm).await.unwrap();
    assert!(created.metadata.uid.is_some());
    let patched =
        cms.patch("k", &PatchParams::default(), &Patch::Merge(serde_json::json!({"metadata": {"labels": {"x": "y"}}}))).await.unwrap();
    assert_eq!(patched.metadata.labels.unwrap()["x"], "y");
    let err = cms.create(&PostParams::default(), &cm).await.unwrap_err();
    match err {
        kube::Error::Api(s) => assert_eq!(s.code, 409),
        other => panic!("unexpected {other:?}"),
    }
}
