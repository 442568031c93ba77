//! Field ownership (`metadata.managedFields`) and server-side apply, for handing an object's fields to
//! Helm 4.
//!
//! Each `managedFields` entry names a manager (`manager`, `operation` Apply or Update, `apiVersion`,
//! optional `subresource`) and the set of fields it owns as a `fieldsV1` trie: every key is one path
//! element, `f:<name>` (a field or map key), `k:<json>` (a list item by its key fields, e.g.
//! `k:{"name":"web"}`), `v:<json>` (a set item by value) or `i:<n>` (a list item by index). A key whose
//! value is `{}` is a member of the set; a key with children is a node whose descendants are members, and
//! is a member itself when its children include `".": {}`. Set operations need no schema: they work on the
//! trie ([`FieldSet`]). A path prints as the API server prints it in conflicts:
//! `.spec.template.spec.containers[name="web"].image`.
//!
//! Server calls: a server-side apply with `dryRun=All` (what Helm 4 would do, with or without `force`),
//! and the rewrite of `managedFields` as a JSON merge patch guarded by `resourceVersion`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use kube::api::{DynamicObject, Patch, PatchParams};
use serde_json::{Map, Value, json};

use super::discovery::ResolvedResource;
use super::objects::api_for;

/// The field manager Helm 3 and Helm 4 use (both set it explicitly, whatever the binary is called).
pub const HELM_MANAGER: &str = "helm";
/// kubectl's own server-side apply manager (`kubectl apply --server-side`).
pub const KUBECTL_APPLY_MANAGER: &str = "kubectl";

/// One element of a field path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Element {
    /// `f:name`: a struct field or a map key.
    Field(String),
    /// `k:{"name":"web"}`: a list item by its key fields (the JSON as the server wrote it).
    Key(String),
    /// `v:"x"`: a set item by its value (JSON).
    Value(String),
    /// `i:3`: a list item by position.
    Index(i64),
}

impl Element {
    /// From a `fieldsV1` key; `None` for `.` and anything unknown.
    pub fn parse(key: &str) -> Option<Element> {
        let (kind, rest) = key.split_once(':')?;
        match kind {
            "f" => Some(Element::Field(rest.to_string())),
            "k" => Some(Element::Key(rest.to_string())),
            "v" => Some(Element::Value(rest.to_string())),
            "i" => rest.parse().ok().map(Element::Index),
            _ => None,
        }
    }

    /// The `fieldsV1` key.
    pub fn key(&self) -> String {
        match self {
            Element::Field(n) => format!("f:{n}"),
            Element::Key(j) => format!("k:{j}"),
            Element::Value(j) => format!("v:{j}"),
            Element::Index(i) => format!("i:{i}"),
        }
    }
}

impl fmt::Display for Element {
    /// As the API server prints paths: `.name`, `[name="web"]`, `[containerPort=80,protocol="TCP"]`, `[="x"]`, `[3]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Element::Field(n) => write!(f, ".{n}"),
            Element::Key(j) => match serde_json::from_str::<Value>(j) {
                Ok(Value::Object(m)) => {
                    let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    write!(f, "[{}]", parts.join(","))
                }
                _ => write!(f, "[{j}]"),
            },
            Element::Value(j) => write!(f, "[={j}]"),
            Element::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A path from the object's root.
pub type FieldPath = Vec<Element>;

/// `.spec.replicas` for a path (`""` for the root).
pub fn path_text(path: &[Element]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// A set of field paths, kept as the same trie `fieldsV1` encodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    members: BTreeSet<Element>,
    children: BTreeMap<Element, FieldSet>,
}

impl FieldSet {
    pub fn new() -> FieldSet {
        FieldSet::default()
    }

    /// Reads a `fieldsV1` object. Unknown keys are ignored; a value that is not an object is an error.
    pub fn from_fields_v1(value: &Value) -> Result<FieldSet, String> {
        let Value::Object(map) = value else { return Err(format!("fieldsV1 must be an object, not {value}")) };
        let mut set = FieldSet::new();
        for (key, sub) in map {
            if key == "." {
                continue;
            }
            let Some(el) = Element::parse(key) else { continue };
            let Value::Object(inner) = sub else { return Err(format!("fieldsV1 key {key}: value must be an object")) };
            let child = FieldSet::from_fields_v1(sub)?;
            if inner.is_empty() || inner.contains_key(".") {
                set.members.insert(el.clone());
            }
            if !child.is_empty() {
                set.children.insert(el, child);
            }
        }
        Ok(set)
    }

    /// The `fieldsV1` object, keys in the server's order (fields, then keys, values, indices).
    pub fn to_fields_v1(&self) -> Value {
        let mut els: BTreeSet<&Element> = self.members.iter().collect();
        els.extend(self.children.keys());
        let mut out = Map::new();
        for el in els {
            let mut inner = match self.children.get(el) {
                Some(child) => match child.to_fields_v1() {
                    Value::Object(m) => m,
                    _ => Map::new(),
                },
                None => Map::new(),
            };
            if self.members.contains(el) && !inner.is_empty() {
                let mut with_dot = Map::new();
                with_dot.insert(".".into(), json!({}));
                with_dot.extend(inner);
                inner = with_dot;
            }
            out.insert(el.key(), Value::Object(inner));
        }
        Value::Object(out)
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(FieldSet::is_empty)
    }

    pub fn insert(&mut self, path: &[Element]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    pub fn contains(&self, path: &[Element]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.contains(rest)),
        }
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (el, child) in &other.children {
            let merged = match out.children.get(el) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(el.clone(), merged);
        }
        out
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.intersection(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (el, child) in &self.children {
            if let Some(theirs) = other.children.get(el) {
                let both = child.intersection(theirs);
                if !both.is_empty() {
                    children.insert(el.clone(), both);
                }
            }
        }
        FieldSet { members, children }
    }

    /// Members of `self` not in `other` (a member of `other` does not remove `self`'s descendants of it).
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (el, child) in &self.children {
            let rest = match other.children.get(el) {
                Some(theirs) => child.difference(theirs),
                None => child.clone(),
            };
            if !rest.is_empty() {
                children.insert(el.clone(), rest);
            }
        }
        FieldSet { members, children }
    }

    /// Every member path, depth first in the trie's order.
    pub fn paths(&self) -> Vec<FieldPath> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<Element>, out: &mut Vec<FieldPath>) {
        let mut els: BTreeSet<&Element> = self.members.iter().collect();
        els.extend(self.children.keys());
        for el in els {
            prefix.push(el.clone());
            if self.members.contains(el) {
                out.push(prefix.clone());
            }
            if let Some(child) = self.children.get(el) {
                child.collect(prefix, out);
            }
            prefix.pop();
        }
    }

    /// Member paths as the server prints them, leaving out bare nodes whose descendants are listed too
    /// (`.data` when `.data.a` is there): what a person reads as "the fields".
    pub fn leaf_texts(&self) -> Vec<String> {
        let paths = self.paths();
        paths.iter().filter(|p| !paths.iter().any(|q| q.len() > p.len() && q.starts_with(p))).map(|p| path_text(p)).collect()
    }
}

/// The operation of a `managedFields` entry.
pub fn is_apply(entry: &ManagedEntry) -> bool {
    entry.operation == "Apply"
}

/// One `managedFields` entry: the raw entry (written back as it was, but for `fieldsV1` and `time`) and its
/// parsed field set.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedEntry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    /// Empty for the main resource.
    pub subresource: String,
    pub fields: FieldSet,
    raw: Map<String, Value>,
}

impl ManagedEntry {
    pub fn from_json(value: &Value) -> Result<ManagedEntry, String> {
        let Value::Object(raw) = value else { return Err("managedFields entry is not an object".into()) };
        let text = |k: &str| raw.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let fields = match raw.get("fieldsV1") {
            Some(v) => FieldSet::from_fields_v1(v)?,
            None => FieldSet::new(),
        };
        Ok(ManagedEntry {
            manager: text("manager"),
            operation: text("operation"),
            api_version: text("apiVersion"),
            subresource: text("subresource"),
            fields,
            raw: raw.clone(),
        })
    }

    /// A new entry (as the server writes them: manager, operation, apiVersion, time, fieldsType, fieldsV1).
    pub fn new(manager: &str, operation: &str, api_version: &str, time: &str, fields: FieldSet) -> ManagedEntry {
        let mut raw = Map::new();
        raw.insert("manager".into(), manager.into());
        raw.insert("operation".into(), operation.into());
        raw.insert("apiVersion".into(), api_version.into());
        raw.insert("time".into(), time.into());
        raw.insert("fieldsType".into(), "FieldsV1".into());
        raw.insert("fieldsV1".into(), fields.to_fields_v1());
        ManagedEntry {
            manager: manager.into(),
            operation: operation.into(),
            api_version: api_version.into(),
            subresource: String::new(),
            fields,
            raw,
        }
    }

    /// The entry as JSON, its `fieldsV1` from `fields`.
    pub fn to_json(&self) -> Value {
        let mut raw = self.raw.clone();
        raw.insert("fieldsType".into(), "FieldsV1".into());
        raw.insert("fieldsV1".into(), self.fields.to_fields_v1());
        Value::Object(raw)
    }

    pub fn set_time(&mut self, time: &str) {
        self.raw.insert("time".into(), time.into());
    }

    /// `"kubectl-edit" (Update)`, `"kubectl" (Update, subresource scale)`, `"argocd-controller" (Apply)`.
    pub fn describe(&self) -> String {
        if self.subresource.is_empty() {
            format!("{} ({})", self.manager, self.operation)
        } else {
            format!("{} ({}, subresource {})", self.manager, self.operation, self.subresource)
        }
    }

    /// Helm 4's own entry: manager `helm`, operation Apply, main resource.
    pub fn is_helm_apply(&self) -> bool {
        self.manager == HELM_MANAGER && is_apply(self) && self.subresource.is_empty()
    }
}

/// The `metadata.managedFields` of an object.
pub fn entries_of(obj: &Value) -> Result<Vec<ManagedEntry>, String> {
    match obj.pointer("/metadata/managedFields") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(ManagedEntry::from_json).collect(),
        Some(_) => Err("metadata.managedFields is not a list".into()),
    }
}

/// One conflict of a refused apply, as the server's `details.causes` name it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Conflict {
    /// `.data.a`
    pub field: String,
    /// The server's words: `conflict with "kubectl-create" using v1`.
    pub message: String,
    /// The manager's name from the message (`kubectl-create`).
    pub manager: String,
}

impl Conflict {
    fn from_cause(field: &str, message: &str) -> Conflict {
        let manager = message.split('"').nth(1).unwrap_or("").to_string();
        Conflict { field: field.to_string(), message: message.to_string(), manager }
    }
}

/// What a server-side apply answered.
#[derive(Debug)]
pub enum ApplyOutcome {
    /// Accepted; the object as it would be (dry run) or is.
    Applied(Box<DynamicObject>),
    /// 409 with field manager conflicts.
    Conflicts(Vec<Conflict>),
    /// Refused for another reason (invalid, forbidden, ...): the server's message.
    Refused(String),
}

/// A server-side apply of `object` by `manager` with `dryRun=All` (nothing is changed), `force` as given and
/// strict field validation, as Helm 4 sends it. Transport failures are retried by the caller.
pub async fn dry_run_apply(
    client: &kube::Client,
    res: &ResolvedResource,
    namespace: Option<&str>,
    name: &str,
    object: &Value,
    manager: &str,
    force: bool,
) -> Result<ApplyOutcome, kube::Error> {
    let params = PatchParams {
        dry_run: true,
        force,
        field_manager: Some(manager.to_string()),
        field_validation: Some(kube::api::ValidationDirective::Strict),
    };
    match api_for(client, res, namespace).patch(name, &params, &Patch::Apply(object)).await {
        Ok(obj) => Ok(ApplyOutcome::Applied(Box::new(obj))),
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let causes: Vec<Conflict> = status
                .details
                .as_ref()
                .map(|d| {
                    d.causes
                        .iter()
                        .filter(|c| c.reason == "FieldManagerConflict" || !c.field.is_empty())
                        .map(|c| Conflict::from_cause(&c.field, &c.message))
                        .collect()
                })
                .unwrap_or_default();
            if causes.is_empty() { Ok(ApplyOutcome::Refused(status.message.clone())) } else { Ok(ApplyOutcome::Conflicts(causes)) }
        }
        Err(kube::Error::Api(status)) if status.code != 429 && status.code < 500 => Ok(ApplyOutcome::Refused(status.message.clone())),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: Value) -> FieldSet {
        FieldSet::from_fields_v1(&v).unwrap()
    }

    #[test]
    fn round_trips_the_servers_encoding() {
        let raw = json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:ports": {".": {}, "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}, "f:protocol": {}}}}}}}}});
        let s = set(raw.clone());
        assert_eq!(s.to_fields_v1(), raw);
        assert!(s.contains(&[Element::Field("spec".into()), Element::Field("replicas".into())]));
        assert!(s.contains(&[Element::Field("metadata".into()), Element::Field("labels".into())]));
        assert!(!s.contains(&[Element::Field("metadata".into())]));
        let texts = s.leaf_texts();
        assert!(texts.contains(&".spec.template.spec.containers[name=\"nginx\"].image".to_string()), "{texts:?}");
        assert!(
            texts.contains(&".spec.template.spec.containers[name=\"nginx\"].ports[containerPort=80,protocol=\"TCP\"].protocol".to_string())
        );
        assert!(!texts.contains(&".metadata.labels".to_string()));
        // `{".": {}}` alone is a member, written back as `{}` (as the server does).
        assert_eq!(set(json!({"f:annotations": {".": {}}})).to_fields_v1(), json!({"f:annotations": {}}));
    }

    #[test]
    fn set_operations() {
        let create = set(json!({"f:data": {".": {}, "f:a": {}, "f:b": {}}}));
        let chart = set(json!({"f:data": {"f:a": {}, "f:c": {}}, "f:metadata": {"f:labels": {"f:tier": {}}}}));
        assert_eq!(create.intersection(&chart), set(json!({"f:data": {"f:a": {}}})));
        assert_eq!(create.difference(&chart), set(json!({"f:data": {".": {}, "f:b": {}}})));
        assert_eq!(
            create.union(&chart).to_fields_v1(),
            json!({"f:data": {".": {}, "f:a": {}, "f:b": {}, "f:c": {}}, "f:metadata": {"f:labels": {"f:tier": {}}}})
        );
        assert!(create.difference(&create).is_empty());
        assert!(create.intersection(&FieldSet::new()).is_empty());
    }

    #[test]
    fn entries_keep_what_they_carry() {
        let obj = json!({"metadata": {"managedFields": [
            {"apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}, "manager": "kubectl", "operation": "Update", "subresource": "scale"},
            {"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}}}, "manager": "helm", "operation": "Apply", "time": "2026-01-01T00:00:00Z"}
        ]}});
        let entries = entries_of(&obj).unwrap();
        assert_eq!(entries[0].describe(), "kubectl (Update, subresource scale)");
        assert!(entries[1].is_helm_apply());
        assert_eq!(entries[0].to_json(), obj["metadata"]["managedFields"][0]);
        assert_eq!(entries_of(&json!({"metadata": {}})).unwrap(), Vec::new());
    }

    #[test]
    fn conflict_causes_name_their_manager() {
        let c = Conflict::from_cause(".spec.replicas", "conflict with \"kubectl\" with subresource \"scale\" using apps/v1");
        assert_eq!(c.manager, "kubectl");
    }
}
