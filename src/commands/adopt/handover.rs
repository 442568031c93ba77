//! Handing an adopted object's fields to Helm 4, and predicting whether Helm 4 would take it over.
//!
//! Helm 3 updates objects with a three-way merge (field manager `helm`, operation Update): field
//! ownership never stops it. Helm 4 applies them server-side (manager `helm`, operation Apply, no
//! `--force-conflicts` by default): every field its manifest sets that another manager owns with a
//! different value is a conflict and the install or upgrade fails. Ownership metadata alone is therefore
//! not enough for Helm 4.
//!
//! With the object's manifest, the fields it sets are found by asking the server for a forced dry-run apply
//! of it as Helm 4 sends it (with the ownership label and annotations Helm adds): the `helm` Apply entry of
//! the answer is exactly that field set, computed with the server's own schema. Those fields, wherever
//! another manager owns them, move to the `helm` Apply entry (created when missing) by rewriting
//! `metadata.managedFields` under the object's `resourceVersion`; nothing else changes. Entries of
//! subresources (`status`, `scale`) and of Apply managers other than `helm` and `kubectl` (Argo CD, Flux,
//! other controllers) keep their fields unless `--force`.
//!
//! `--dry-run` asks the server for the apply Helm 4 would send (dry run, no force) and reports the
//! conflicts it answers, and whether the handover of this run would clear them.

use kube::ResourceExt;
use kube::api::DynamicObject;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::live::fields::{
    self, ApplyOutcome, Conflict, FieldSet, HELM_MANAGER, KUBECTL_APPLY_MANAGER, ManagedEntry, entries_of, is_apply,
};
use crate::live::objects::{self, PatchDecision, PatchFailure, PatchSettled};
use crate::live::{PatchError, ResolvedResource};
use crate::manifest::ManifestObject;
use crate::ownership::{MANAGED_BY_HELM, MANAGED_BY_LABEL, RELEASE_NAME_ANNOTATION, RELEASE_NAMESPACE_ANNOTATION};
use crate::stop::StopSignal;

/// How many rounds of rewriting a handover makes while the server's answer still leaves fields with other
/// managers. (Each round is one settled patch, which bounds its own retries after a conflict or a transient
/// failure: `crate::retry::WRITE_ATTEMPTS`.)
const ROUNDS: u32 = 3;

/// Fields of one manager entry that move to Helm, or stay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldMove {
    pub manager: String,
    pub operation: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subresource: String,
    /// Paths as the API server prints them (`.data.a`).
    pub fields: Vec<String>,
    /// Why they stay (only for fields kept with their manager).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl FieldMove {
    fn of(entry: &ManagedEntry, set: &FieldSet, reason: Option<String>) -> FieldMove {
        FieldMove {
            manager: entry.manager.clone(),
            operation: entry.operation.clone(),
            subresource: entry.subresource.clone(),
            fields: set.leaf_texts(),
            reason,
        }
    }

    /// `kubectl-create (Update): .data.a, .data.b`
    pub fn describe(&self) -> String {
        let who = if self.subresource.is_empty() {
            format!("{} ({})", self.manager, self.operation)
        } else {
            format!("{} ({}, subresource {})", self.manager, self.operation, self.subresource)
        };
        format!("{who}: {}", self.fields.join(", "))
    }
}

/// What the handover of one object changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Fields that move to `helm` (Apply), per manager they leave.
    pub moves: Vec<FieldMove>,
    /// Fields the manifest sets that stay with their manager (need `--force`).
    pub kept: Vec<FieldMove>,
    /// The paths of `kept` and `moves`, for matching conflicts.
    kept_set: FieldSet,
    moved_set: FieldSet,
    /// The new `managedFields`; `None` when nothing moves.
    pub entries: Option<Vec<ManagedEntry>>,
}

impl Plan {
    pub fn moves_anything(&self) -> bool {
        self.entries.is_some()
    }

    /// Whether this field (as the server prints it) stays with another manager.
    pub fn keeps_field(&self, field: &str) -> bool {
        self.kept_set.paths().iter().any(|p| fields::path_text(p) == field)
    }

    /// Whether this field (as the server prints it) moves to `helm` (Apply).
    pub fn moves_field(&self, field: &str) -> bool {
        self.moved_set.paths().iter().any(|p| fields::path_text(p) == field)
    }
}

/// Why an entry keeps the manifest's fields without `--force`; `None` when they may move.
fn needs_force(entry: &ManagedEntry) -> Option<String> {
    if !entry.subresource.is_empty() {
        return Some(format!("owned through the {} subresource; --force moves them", entry.subresource));
    }
    if is_apply(entry) && entry.manager != HELM_MANAGER && entry.manager != KUBECTL_APPLY_MANAGER {
        return Some(format!("applied by {} (another server-side apply manager, e.g. Argo CD or Flux); --force moves them", entry.manager));
    }
    None
}

/// The handover of one object (pure): which of the fields the manifest sets (`manifest`) leave which
/// managers for `helm` (Apply), and the `managedFields` that result. `api_version` is the object's, for a
/// new `helm` entry; `now` its time (RFC 3339).
pub fn plan(entries: &[ManagedEntry], manifest: &FieldSet, api_version: &str, force: bool, now: &str) -> Plan {
    let mut moved = FieldSet::new();
    let mut out = Plan::default();
    let mut next: Vec<ManagedEntry> = Vec::with_capacity(entries.len() + 1);
    for entry in entries {
        if entry.is_helm_apply() {
            next.push(entry.clone());
            continue;
        }
        let taken = entry.fields.intersection(manifest);
        if taken.is_empty() {
            next.push(entry.clone());
            continue;
        }
        if let Some(reason) = needs_force(entry).filter(|_| !force) {
            out.kept.push(FieldMove::of(entry, &taken, Some(reason)));
            out.kept_set = out.kept_set.union(&taken);
            next.push(entry.clone());
            continue;
        }
        out.moves.push(FieldMove::of(entry, &taken, None));
        moved = moved.union(&taken);
        let mut rest = entry.clone();
        rest.fields = entry.fields.difference(manifest);
        if !rest.fields.is_empty() {
            next.push(rest);
        }
    }
    if moved.is_empty() {
        return out;
    }
    out.moved_set = moved.clone();
    match next.iter_mut().find(|e| e.is_helm_apply()) {
        Some(helm) => {
            helm.fields = helm.fields.union(&moved);
            helm.set_time(now);
        }
        // Apply entries come first, as the server sorts them.
        None => next.insert(0, ManagedEntry::new(HELM_MANAGER, "Apply", api_version, now, moved)),
    }
    out.entries = Some(next);
    out
}

/// The manifest object as Helm 4 applies it: server-set metadata removed, the namespace filled in, and
/// the ownership label and annotations Helm adds.
pub fn applied_object(manifest: &ManifestObject, namespace: Option<&str>, release: &str, release_ns: &str) -> Value {
    let mut obj = manifest.object.clone();
    crate::manifest::strip_server_metadata(&mut obj);
    if let Value::Object(m) = &mut obj {
        m.remove("status");
    }
    let meta = obj.as_object_mut().map(|m| m.entry("metadata").or_insert_with(|| Value::Object(Map::new())));
    if let Some(Value::Object(meta)) = meta {
        match namespace {
            Some(ns) => {
                meta.insert("namespace".into(), ns.into());
            }
            None => {
                meta.remove("namespace");
            }
        }
        let labels = meta.entry("labels").or_insert_with(|| Value::Object(Map::new()));
        if !labels.is_object() {
            *labels = Value::Object(Map::new());
        }
        if let Value::Object(l) = labels {
            l.insert(MANAGED_BY_LABEL.into(), MANAGED_BY_HELM.into());
        }
        let annotations = meta.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
        if !annotations.is_object() {
            *annotations = Value::Object(Map::new());
        }
        if let Value::Object(a) = annotations {
            a.insert(RELEASE_NAME_ANNOTATION.into(), release.into());
            a.insert(RELEASE_NAMESPACE_ANNOTATION.into(), release_ns.into());
        }
    }
    obj
}

/// The fields `applied` sets, as the server computes them: the `helm` Apply entry of a forced dry-run apply.
/// `Err` carries the server's refusal (then Helm 4 would fail on this object too) or a transport error.
pub async fn manifest_fields(
    client: &kube::Client,
    res: &ResolvedResource,
    namespace: Option<&str>,
    name: &str,
    applied: &Value,
) -> Result<FieldSet, String> {
    let outcome = crate::retry::read(crate::retry::ReadRetry::default(), || {
        fields::dry_run_apply(client, res, namespace, name, applied, HELM_MANAGER, true)
    })
    .await
    .map_err(|e| crate::error::describe_kube_error(&e))?;
    match outcome {
        ApplyOutcome::Applied(obj) => {
            let value = serde_json::to_value(&*obj).map_err(|e| e.to_string())?;
            let entries = entries_of(&value)?;
            entries
                .iter()
                .find(|e| e.is_helm_apply())
                .map(|e| e.fields.clone())
                .ok_or_else(|| "the server's dry-run apply answered no field set for manager helm".to_string())
        }
        ApplyOutcome::Conflicts(c) => Err(format!("the forced dry-run apply still conflicted ({} field(s))", c.len())),
        ApplyOutcome::Refused(msg) => Err(format!("the server refuses the manifest: {msg}")),
    }
}

/// Helm 4's take on one object now, from a dry-run apply without force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Helm4Now {
    Passes,
    Conflicts(Vec<Conflict>),
    Refused(String),
}

pub async fn predict(
    client: &kube::Client,
    res: &ResolvedResource,
    namespace: Option<&str>,
    name: &str,
    applied: &Value,
) -> Result<Helm4Now, String> {
    let outcome = crate::retry::read(crate::retry::ReadRetry::default(), || {
        fields::dry_run_apply(client, res, namespace, name, applied, HELM_MANAGER, false)
    })
    .await
    .map_err(|e| crate::error::describe_kube_error(&e))?;
    Ok(match outcome {
        ApplyOutcome::Applied(_) => Helm4Now::Passes,
        ApplyOutcome::Conflicts(c) => Helm4Now::Conflicts(c),
        ApplyOutcome::Refused(msg) => Helm4Now::Refused(msg),
    })
}

/// Conflicts Helm 4 does not meet: before it applies, Helm 4 moves `helm`'s own Update fields (Helm 3's) to
/// its Apply entry when it adopts objects on install and when it upgrades a release Helm 3 wrote.
pub fn helm_migrates_its_update_fields(conflict: &Conflict) -> bool {
    conflict.manager == HELM_MANAGER && conflict.message.contains(" using ") && !conflict.message.contains("subresource")
}

/// What the handover did.
#[derive(Debug, Clone, Default)]
pub struct Done {
    pub moves: Vec<FieldMove>,
    pub kept: Vec<FieldMove>,
}

/// Move the fields of `manifest` to `helm` (Apply) on the live object through the one settled patch
/// ([`crate::live::objects::patch_settled`]): read (or take `start`, the object as a patch just returned it),
/// plan, rewrite `managedFields` under its `resourceVersion`; on a conflict or a transient failure it reads
/// again and re-plans (bounded), so a rewrite that landed unseen is not sent twice. When the server's answer
/// still leaves fields with other managers, another round starts from that answer (bounded too). No write
/// starts once `stop` is requested.
#[allow(clippy::too_many_arguments)]
pub async fn hand_over(
    client: &kube::Client,
    res: &ResolvedResource,
    namespace: Option<&str>,
    name: &str,
    manifest: &FieldSet,
    force: bool,
    stop: &StopSignal,
    start: Option<Value>,
) -> Result<Done, String> {
    let mut done = Done::default();
    let mut known: Option<DynamicObject> = start.and_then(|v| serde_json::from_value(v).ok());
    for _round in 0..ROUNDS {
        // What the last decision kept, and the moves of the last rewrite sent: they happened if it (or a lost
        // one the settled patch found landed) did.
        let mut kept: Vec<FieldMove> = Vec::new();
        let mut sent: Vec<FieldMove> = Vec::new();
        let mut api_version = res.api_version();
        let settled = objects::patch_settled(client, res, namespace, name, known.take(), stop, |obj| {
            let live = match serde_json::to_value(obj) {
                Ok(v) => v,
                Err(e) => return PatchDecision::Refuse(e.to_string()),
            };
            let entries = match entries_of(&live) {
                Ok(e) => e,
                Err(e) => return PatchDecision::Refuse(e),
            };
            api_version = live.get("apiVersion").and_then(Value::as_str).map(String::from).unwrap_or_else(|| res.api_version());
            let p = plan(&entries, manifest, &api_version, force, &now_rfc3339());
            kept = p.kept;
            match &p.entries {
                None => PatchDecision::Nothing,
                Some(_) if stop.requested() => PatchDecision::Refuse("interrupted before its fields were handed to helm".into()),
                Some(next) => {
                    sent = p.moves;
                    // The whole list, replaced as a whole by the merge patch; nothing else changes, so no field
                    // moves to this tool's manager. The settled patch adds the resourceVersion it read.
                    let list: Vec<Value> = next.iter().map(ManagedEntry::to_json).collect();
                    PatchDecision::Patch(serde_json::json!({"metadata": {"managedFields": list}}))
                }
            }
        })
        .await;
        let patched = match settled {
            Ok(PatchSettled::Unchanged(..)) => {
                done.kept = kept;
                return Ok(done);
            }
            Ok(PatchSettled::Patched(obj, _)) => obj,
            Ok(PatchSettled::Missing) => return Err("deleted meanwhile".into()),
            Err(PatchFailure::Refused(why)) => return Err(why),
            Err(PatchFailure::Failed(e)) => return Err(e.to_string()),
            Err(PatchFailure::Unread { read, .. }) => return Err(format!("cannot read it: {}", crate::error::describe_kube_error(&read))),
            Err(PatchFailure::GaveUp { attempts, last }) => {
                return Err(format!(
                    "field ownership not handed over after {attempts} attempts, last: {}; try again",
                    attempt_error(&last)
                ));
            }
            Err(PatchFailure::Interrupted(e)) => {
                return Err(format!("interrupted before its fields were handed to helm (last: {})", attempt_error(&e)));
            }
        };
        merge_moves(&mut done.moves, &sent);
        done.kept = kept;
        // Read back what the server kept: another round only if something still has to move.
        let value = serde_json::to_value(&patched).map_err(|e| e.to_string())?;
        let check = plan(&entries_of(&value)?, manifest, &api_version, force, "");
        if !check.moves_anything() {
            done.kept = check.kept;
            return Ok(done);
        }
        tracing::debug!("{name}: resourceVersion {:?}: fields still to move", patched.resource_version());
        known = Some(patched);
    }
    Err(format!("field ownership not handed over after {ROUNDS} rounds, last: the server kept other managers on the fields; try again"))
}

/// How one failed rewrite is named: a conflict as such, others as they are.
fn attempt_error(e: &PatchError) -> String {
    match e {
        PatchError::Conflict(status) => format!("conflict: {}", status.message),
        other => other.to_string(),
    }
}

fn merge_moves(into: &mut Vec<FieldMove>, more: &[FieldMove]) {
    for m in more {
        match into.iter_mut().find(|x| x.manager == m.manager && x.operation == m.operation && x.subresource == m.subresource) {
            Some(x) => {
                for f in &m.fields {
                    if !x.fields.contains(f) {
                        x.fields.push(f.clone());
                    }
                }
            }
            None => into.push(m.clone()),
        }
    }
}

/// Now, as `managedFields` times are written: RFC 3339, seconds, UTC.
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entries(v: Value) -> Vec<ManagedEntry> {
        entries_of(&json!({"metadata": {"managedFields": v}})).unwrap()
    }

    fn set(v: Value) -> FieldSet {
        FieldSet::from_fields_v1(&v).unwrap()
    }

    /// managedFields of a ConfigMap made by `kubectl create`, labelled and annotated by hand (captured from
    /// kube-apiserver v1.36.2).
    fn hand_made() -> Vec<ManagedEntry> {
        let v: Value = serde_json::from_str(include_str!(
            "../../../fixtures/apiserver-1.36/managed-fields/configmap_kubectl_create_label_annotate.json"
        ))
        .unwrap();
        entries_of(&v["object"]).unwrap()
    }

    /// The `helm` Apply entry the server computed for the chart's ConfigMap (same capture).
    fn chart_set() -> FieldSet {
        let v: Value = serde_json::from_str(include_str!(
            "../../../fixtures/apiserver-1.36/managed-fields/configmap_kubectl_create_label_annotate.json"
        ))
        .unwrap();
        set(v["chartFields"].clone())
    }

    #[test]
    fn moves_exactly_the_manifests_fields() {
        let p = plan(&hand_made(), &chart_set(), "v1", false, "2026-01-01T00:00:00Z");
        let next = p.entries.clone().expect("something moves");
        let helm = next.iter().find(|e| e.is_helm_apply()).unwrap();
        assert_eq!(helm.fields, hand_made().iter().map(|e| e.fields.intersection(&chart_set())).fold(FieldSet::new(), |a, b| a.union(&b)));
        // What the chart does not set stays where it was: data.b with kubectl-create.
        let create = next.iter().find(|e| e.manager == "kubectl-create").unwrap();
        assert!(create.fields.leaf_texts().contains(&".data.b".to_string()), "{:?}", create.fields.leaf_texts());
        assert!(!create.fields.leaf_texts().contains(&".data.a".to_string()));
        assert!(p.moves.iter().any(|m| m.manager == "kubectl-create" && m.fields == vec![".data.a".to_string()]), "{:?}", p.moves);
        assert!(p.kept.is_empty());
        // Planning again on the result moves nothing: re-runs converge.
        assert!(!plan(&next, &chart_set(), "v1", false, "").moves_anything());
    }

    #[test]
    fn subresources_and_foreign_appliers_need_force() {
        let e = entries(json!([
            {"manager": "argocd-controller", "operation": "Apply", "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}}},
            {"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}}}},
            {"manager": "kubectl", "operation": "Update", "subresource": "scale", "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
            {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status", "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:replicas": {}}}}
        ]));
        let chart = set(
            json!({"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}}),
        );
        let p = plan(&e, &chart, "apps/v1", false, "t");
        assert_eq!(p.moves.len(), 1, "{:?}", p.moves);
        assert_eq!(p.moves[0].manager, "kubectl");
        assert_eq!(p.kept.len(), 2);
        assert!(p.keeps_field(".spec.replicas"));
        assert!(p.keeps_field(".spec.template.spec.containers[name=\"web\"].image"));
        assert!(!p.keeps_field(".metadata.labels.app"));
        let next = p.entries.unwrap();
        assert_eq!(next[0].manager, "helm");
        assert_eq!(next.len(), 4, "kubectl (Apply) had nothing else and is gone");
        let forced = plan(&e, &chart, "apps/v1", true, "t");
        assert_eq!(forced.moves.len(), 3);
        assert!(forced.kept.is_empty());
        let next = forced.entries.unwrap();
        assert_eq!(next.iter().map(|e| e.manager.as_str()).collect::<Vec<_>>(), vec!["helm", "kube-controller-manager"]);
    }

    #[test]
    fn joins_an_existing_helm_entry() {
        let e = entries(json!([
            {"manager": "helm", "operation": "Apply", "apiVersion": "v1", "time": "old", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:x": {}}}},
            {"manager": "helm", "operation": "Update", "apiVersion": "v1", "time": "old", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {".": {}, "f:a": {}}}}
        ]));
        let p = plan(&e, &set(json!({"f:data": {"f:a": {}}})), "v1", false, "new");
        let next = p.entries.unwrap();
        assert_eq!(next.len(), 2);
        assert_eq!(next[0].to_json()["fieldsV1"], json!({"f:data": {"f:a": {}, "f:x": {}}}));
        assert_eq!(next[0].to_json()["time"], "new");
        assert_eq!(next[1].to_json()["fieldsV1"], json!({"f:data": {}}));
    }

    #[test]
    fn applied_object_carries_helms_metadata() {
        let m = crate::manifest::parse_objects("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\n  resourceVersion: \"9\"\n  labels:\n    tier: web\ndata:\n  a: \"1\"\nstatus: {}\n", true)
            .remove(0)
            .unwrap();
        let v = applied_object(&m, Some("prod"), "app", "prod");
        assert_eq!(v["metadata"]["namespace"], "prod");
        assert_eq!(v["metadata"]["labels"], json!({"tier": "web", "app.kubernetes.io/managed-by": "Helm"}));
        assert_eq!(v["metadata"]["annotations"], json!({"meta.helm.sh/release-name": "app", "meta.helm.sh/release-namespace": "prod"}));
        assert!(v["metadata"].get("resourceVersion").is_none());
        assert!(v.get("status").is_none());
    }
}
