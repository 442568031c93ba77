//! adopt's plan: read and classify every candidate (bounded concurrency) and, for objects a manifest names,
//! plan which fields move to Helm's field manager.

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::DynamicObject;
use serde_json::Value;

use crate::interact;
use crate::live::fields::entries_of;
use crate::live::objects;
use crate::ownership::{self, Ownership};

use super::handover;
use super::inputs::{Candidates, TargetRelease};
use super::{AdoptOptions, Candidate, Fields, Item, Observed};

/// Read and classify a candidate; also the object as read (for planning its field ownership).
pub(super) async fn observe_full(
    client: &kube::Client,
    c: &Candidate,
    release: &str,
    release_ns: &str,
) -> (Observed, Option<DynamicObject>) {
    if !c.resource.can_get_and_patch() {
        return (Observed::Error(format!("resource type {} does not support get and patch", c.resource.qualified_name())), None);
    }
    match objects::get(client, &c.resource, c.namespace.as_deref(), &c.name).await {
        Ok(None) => (Observed::Read { ownership: Ownership::Missing, resource_version: None, problems: Vec::new() }, None),
        Ok(Some(obj)) => (observed_of(&obj, release, release_ns), Some(obj)),
        Err(e) => (Observed::Error(crate::error::describe_kube_error(&e)), None),
    }
}

/// An object as read, classified for `release`.
pub(super) fn observed_of(obj: &DynamicObject, release: &str, release_ns: &str) -> Observed {
    Observed::Read {
        ownership: ownership::classify(obj.labels(), obj.annotations(), release, release_ns),
        resource_version: obj.resource_version(),
        problems: ownership::check(obj.labels(), obj.annotations(), release, release_ns),
    }
}

/// Only what deciding on a patch reads (identity, labels, annotations, resourceVersion): kept per object
/// until it is patched, so the first patch needs no second read.
pub(super) fn metadata_only(obj: &DynamicObject) -> DynamicObject {
    let m = &obj.metadata;
    let metadata = ObjectMeta {
        name: m.name.clone(),
        namespace: m.namespace.clone(),
        labels: m.labels.clone(),
        annotations: m.annotations.clone(),
        resource_version: m.resource_version.clone(),
        ..ObjectMeta::default()
    };
    DynamicObject { types: obj.types.clone(), metadata, data: Value::Null }
}

/// What a dry-run apply as Helm 4 answered (or why it could not be asked).
pub(super) type Helm4Answer = Result<handover::Helm4Now, String>;

/// For every object a manifest names and that adopt may take: which fields the manifest sets (the server's
/// answer to a forced dry-run apply) and the handover planned from the object as read. With `--dry-run`, also
/// what Helm 4's apply would answer now (a dry-run apply without force).
pub(super) async fn plan_fields(
    client: &kube::Client,
    items: &mut [Item],
    target: &TargetRelease,
    opts: &AdoptOptions,
    concurrency: usize,
) {
    let mut work = Vec::new();
    for (i, it) in items.iter_mut().enumerate().filter(|(_, it)| it.manifest.is_some()) {
        match it.ownership() {
            Some(Ownership::Missing) | None => it.fields = Fields::NotPlanned,
            Some(_) => work.push(i),
        }
    }
    if work.is_empty() {
        return;
    }
    let now = handover::now_rfc3339();
    let bar = interact::progress(work.len() as u64, "planning fields");
    let results: Vec<(usize, Fields, Option<Helm4Answer>)> = futures::stream::iter(work.into_iter().map(|i| {
        let (item, bar, now) = (&items[i], &bar, &now);
        async move {
            let c = &item.candidate;
            let manifest = item.manifest.as_ref().expect("filtered");
            let applied = handover::applied_object(manifest, c.namespace.as_deref(), &target.release, &target.namespace);
            let ns = c.namespace.as_deref();
            let takeable = match item.ownership() {
                Some(Ownership::Foreign { .. }) => opts.force,
                _ => true,
            };
            let fields = if opts.keep_field_managers || !takeable {
                Fields::NotPlanned
            } else {
                match handover::manifest_fields(client, &c.resource, ns, &c.name, &applied).await {
                    Err(e) => Fields::Unknown(e),
                    Ok(set) => {
                        let live = item.live.as_ref();
                        match live.map(entries_of).transpose() {
                            Err(e) => Fields::Unknown(e),
                            Ok(entries) => {
                                let api_version = live
                                    .and_then(|v| v.get("apiVersion"))
                                    .and_then(Value::as_str)
                                    .map(String::from)
                                    .unwrap_or_else(|| c.resource.api_version());
                                let plan = handover::plan(&entries.unwrap_or_default(), &set, &api_version, opts.force, now);
                                Fields::Planned { set, plan }
                            }
                        }
                    }
                }
            };
            let helm4 = if opts.dry_run { Some(handover::predict(client, &c.resource, ns, &c.name, &applied).await) } else { None };
            bar.inc(1);
            (i, fields, helm4)
        }
    }))
    .buffer_unordered(concurrency)
    .collect()
    .await;
    bar.finish_and_clear();
    for (i, fields, helm4) in results {
        items[i].fields = fields;
        items[i].helm4 = helm4;
        items[i].live = None;
    }
}

/// Read and classify every candidate, a bounded number at a time (discovery was done once, gathering them),
/// then plan the field handovers.
pub(super) async fn read_items(client: &kube::Client, mut cands: Candidates, target: &TargetRelease, opts: &AdoptOptions) -> Vec<Item> {
    // Read and classify everything, a bounded number at a time; discovery was done once above.
    let concurrency = opts.concurrency;
    let mut manifests = std::mem::take(&mut cands.manifests);
    let mut items: Vec<Item> = cands
        .items
        .into_iter()
        .map(|(candidate, observed)| {
            let manifest = manifests.remove(&candidate.key());
            Item {
                candidate,
                observed,
                selected: false,
                done: None,
                note: None,
                manifest,
                live: None,
                seen: None,
                fields: Fields::NoManifest,
                helm4: None,
                handed: None,
                stamped: false,
            }
        })
        .collect();
    // Unknown kinds and invalid names were judged already (an Error preset with a reason).
    let to_read: Vec<usize> = (0..items.len())
        .filter(|&i| {
            !matches!(&items[i].observed, Observed::UnknownType(_)) && !matches!(&items[i].observed, Observed::Error(e) if !e.is_empty())
        })
        .collect();
    let bar = interact::progress(to_read.len() as u64, "reading");
    let observed: Vec<(usize, Observed, Option<DynamicObject>)> = futures::stream::iter(to_read.into_iter().map(|i| {
        let (client, c, bar) = (&client, &items[i].candidate, &bar);
        let (release, ns) = (&target.release, &target.namespace);
        async move {
            let (o, live) = observe_full(client, c, release, ns).await;
            bar.inc(1);
            (i, o, live)
        }
    }))
    .buffer_unordered(concurrency)
    .collect()
    .await;
    bar.finish_and_clear();
    for (i, o, live) in observed {
        items[i].observed = o;
        items[i].seen = live.as_ref().map(metadata_only);
        if items[i].manifest.is_some() {
            items[i].live = live.and_then(|obj| serde_json::to_value(&obj).ok());
        }
    }
    plan_fields(client, &mut items, target, opts, concurrency).await;
    for it in &items {
        match &it.observed {
            Observed::UnknownType(reason) => eprintln!("warning: {}: {reason}; not adopted", it.candidate.display()),
            Observed::Error(reason) if reason.starts_with("invalid name") => {
                eprintln!("warning: {}: {reason}; not adopted", it.candidate.display())
            }
            _ => {}
        }
    }
    items
}
