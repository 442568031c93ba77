//! `migrate2to3 --cleanup`: delete Helm 2 records that have an equal Helm 3 copy. Each Helm 2 record is
//! converted exactly as the migration would convert it and compared with the stored Helm 3 record, as the
//! migration's idempotency check does; anything else is kept and reported.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use serde::Serialize;

use crate::error::describe_kube_error;
use crate::release::convert::ConvertOptions;
use crate::storage::codec::LabelStamp;
use crate::storage::{Helm3Store, ObjectInfo};

use super::compare::{Sameness, compare};
use super::exec::{Writer, delete_v2};
use super::plan::{NsState, PlanOptions, V2Release, convert_one, decode_value};

#[derive(Debug, Clone, Serialize)]
pub struct CleanupItem {
    pub release: String,
    /// The Helm 2 record (`namespace/name`).
    pub record: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<i32>,
    /// The Helm 3 record it was compared with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helm3_record: Option<String>,
    /// Delete it (an equal copy exists).
    pub delete: bool,
    /// Why it is deleted or kept.
    pub reason: String,
    /// The record could not be judged (undecodable, unreadable copy): counts as a failure.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub failed: bool,
    #[serde(skip)]
    pub info: Option<ObjectInfo>,
    /// After execution: deleted, or the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// Judge every Helm 2 record of the releases.
pub async fn plan(
    h3: &Helm3Store,
    releases: Vec<V2Release>,
    states: &HashMap<String, Arc<NsState>>,
    opts: &PlanOptions,
) -> Vec<CleanupItem> {
    let mut items: Vec<CleanupItem> = stream::iter(releases)
        .map(|rel| plan_release(h3, rel, states, opts))
        .buffer_unordered(opts.concurrency)
        .flat_map(stream::iter)
        .collect()
        .await;
    items.sort_by(|a, b| (&a.release, a.revision, &a.record).cmp(&(&b.release, b.revision, &b.record)));
    items
}

async fn plan_release(h3: &Helm3Store, rel: V2Release, states: &HashMap<String, Arc<NsState>>, opts: &PlanOptions) -> Vec<CleanupItem> {
    let mut items = Vec::new();
    {
        if rel.records.is_empty() && rel.errors.is_empty() {
            items.push(CleanupItem {
                release: rel.name.clone(),
                record: format!("{}/{}", opts.h2_namespace, rel.name),
                revision: None,
                helm3_record: None,
                delete: false,
                reason: format!("no Helm 2 records of release {:?} in namespace {} ({})", rel.name, opts.h2_namespace, opts.h2_kinds),
                failed: true,
                info: None,
                result: None,
            });
            return items;
        }
        for e in &rel.errors {
            items.push(CleanupItem {
                release: rel.name.clone(),
                record: format!("{}/{}", e.namespace, e.object),
                revision: None,
                helm3_record: None,
                delete: false,
                reason: format!("undecodable: {}; kept", e.reason),
                failed: true,
                info: None,
                result: None,
            });
        }
        for rec in &rel.records {
            let target_ns = opts.target_namespace.clone().unwrap_or_else(|| rec.release.namespace.clone());
            let convert_opts = ConvertOptions { target_name: opts.target_name.clone(), target_namespace: Some(target_ns.clone()) };
            let mut item = CleanupItem {
                release: rel.name.clone(),
                record: rec.object.key(),
                revision: Some(rec.release.version),
                helm3_record: None,
                delete: false,
                reason: String::new(),
                failed: false,
                info: Some(rec.object.clone()),
                result: None,
            };
            let (object, _, _) = match convert_one(h3, rec, &convert_opts, LabelStamp::Created(0)) {
                Ok(c) => c,
                Err(e) => {
                    item.reason = format!("{e}; kept");
                    item.failed = true;
                    items.push(item);
                    continue;
                }
            };
            item.helm3_record = Some(format!("{}/{}", object.namespace, object.name));
            let state = states.get(&target_ns);
            let raw = match h3.get_raw(&object.namespace, &object.name).await {
                Ok(r) => r,
                Err(e) => {
                    item.reason = format!("cannot read the Helm 3 copy: {}; kept", describe_kube_error(&e));
                    item.failed = true;
                    items.push(item);
                    continue;
                }
            };
            let Some(raw) = raw else {
                item.reason = "no Helm 3 copy; kept (migrate it first)".into();
                items.push(item);
                continue;
            };
            let stored = raw.payload.as_deref().map(|p| decode_value(p, &opts.limits));
            let meant = decode_value(object.payload.as_bytes(), &opts.limits);
            match (stored, meant) {
                (Some(Ok(stored)), Ok(meant)) => match compare(&meant, &stored) {
                    Sameness::Equal => {
                        item.delete = true;
                        item.reason = "equal Helm 3 copy".into();
                    }
                    Sameness::Superseded
                        if state.and_then(|s| s.latest(&object_release(opts, rec))).is_some_and(|l| l > rec.release.version as i64) =>
                    {
                        item.delete = true;
                        item.reason = "Helm 3 copy, superseded by a later Helm 3 upgrade".into();
                    }
                    Sameness::Superseded => item.reason = "the Helm 3 copy differs at .info.status; kept".into(),
                    Sameness::Differs(paths) => item.reason = format!("the Helm 3 copy differs at {}; kept", paths.join(", ")),
                },
                (Some(Err(e)), _) => {
                    item.reason = format!("the Helm 3 copy cannot be decoded ({e}); kept");
                    item.failed = true;
                }
                (None, _) => {
                    item.reason = "the Helm 3 copy has no data; kept".into();
                    item.failed = true;
                }
                (_, Err(e)) => {
                    item.reason = format!("{e}; kept");
                    item.failed = true;
                }
            }
            items.push(item);
        }
    }
    items
}

fn object_release(opts: &PlanOptions, rec: &crate::storage::Helm2Record) -> String {
    opts.target_name.clone().unwrap_or_else(|| rec.release.name.clone())
}

/// Namespaces whose Helm 3 records the cleanup compares with.
pub fn namespaces(releases: &[V2Release], opts: &PlanOptions) -> BTreeSet<String> {
    releases
        .iter()
        .flat_map(|r| r.records.iter().map(|rec| opts.target_namespace.clone().unwrap_or_else(|| rec.release.namespace.clone())))
        .filter(|n| !n.is_empty())
        .collect()
}

/// Delete the records judged deletable, each after its backup, at the version that was read.
pub async fn execute(writer: &Writer, items: &mut [CleanupItem], concurrency: usize) {
    stream::iter(items.iter_mut().filter(|i| i.delete))
        .for_each_concurrent(concurrency, |item| async move {
            if writer.stop.requested() {
                item.result = Some("not deleted (interrupted)".into());
                return;
            }
            let Some(info) = &item.info else { return };
            item.result = Some(match delete_v2(writer, info).await {
                Ok(_) => "deleted".into(),
                Err(e) => {
                    item.failed = true;
                    e
                }
            });
        })
        .await;
}
