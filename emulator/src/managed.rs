//! Field ownership (`metadata.managedFields`) and server-side apply with conflicts, modelled on
//! kube-apiserver 1.36 (structured-merge-diff) for ConfigMap, Secret, Service and Deployment (the
//! Deployment's `status` and `scale` subresources are served by `subresource`, through the store).
//! Captures in `fixtures/apiserver-1.36/managed-fields/` (`scripts/capture-managed-fields`) are replayed
//! against this model by `tests/managed_fields.rs`.
//!
//! Field sets are read from the served OpenAPI v3 schemas: `x-kubernetes-list-type` (`map` lists are
//! keyed by `x-kubernetes-list-map-keys`, missing key fields take the schema's `default`; `set` lists by
//! value; lists are atomic otherwise), `x-kubernetes-map-type: atomic`. Every write records the writer:
//! - Update (create, PUT, merge/JSON/strategic patch): fields added, changed or removed compared with the
//!   object before (for a create, the kind's zero object as Go decodes it) move to the writer's entry
//!   (`manager` from `fieldManager`, else the user agent up to its first `/`), leave every other entry;
//!   removed fields leave every entry. `managedFields` in the request, when non-empty, replace the stored
//!   ones before that (how clients rewrite them).
//! - Apply: the writer's entry becomes exactly the applied configuration's field set; fields it owned before
//!   and no longer applies are removed from the object unless another manager owns them; fields whose
//!   value changes are conflicts with every other manager owning them: 409 with `details.causes` unless
//!   `force=true`, which takes them.
//! - `status` writes own `status.*` (subresource `status`); `scale` writes own `spec.replicas`
//!   (subresource `scale`, no time). The main resource's writes leave `status` alone.
//!
//! Gaps (see emulator/README.md): other kinds keep no managedFields and apply there merges without
//! conflicts; no defaulting (fields the real server defaults are owned by nobody here); apply's list merge
//! keeps the stored order; the 10-Update-managers cap ("ancient-changes") is not applied.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::discovery::Resource;
use crate::schema::SchemaCursor;
use crate::status::ApiError;
use crate::util;

/// Whether writes of this resource keep managedFields here.
pub fn tracked(res: &Resource) -> bool {
    (res.group.is_empty() && matches!(res.plural.as_str(), "configmaps" | "secrets" | "services"))
        || (res.group == "apps" && res.plural == "deployments")
}

// ---------------------------------------------------------------------------------------------------------
// Field paths and sets

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum El {
    Field(String),
    Key(String),
    Value(String),
    Index(i64),
}

impl El {
    fn key(&self) -> String {
        match self {
            El::Field(n) => format!("f:{n}"),
            El::Key(j) => format!("k:{j}"),
            El::Value(j) => format!("v:{j}"),
            El::Index(i) => format!("i:{i}"),
        }
    }

    fn parse(key: &str) -> Option<El> {
        let (kind, rest) = key.split_once(':')?;
        match kind {
            "f" => Some(El::Field(rest.into())),
            "k" => Some(El::Key(rest.into())),
            "v" => Some(El::Value(rest.into())),
            "i" => rest.parse().ok().map(El::Index),
            _ => None,
        }
    }

    fn text(&self) -> String {
        match self {
            El::Field(n) => format!(".{n}"),
            El::Key(j) => match serde_json::from_str::<Value>(j) {
                Ok(Value::Object(m)) => format!("[{}]", m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")),
                _ => format!("[{j}]"),
            },
            El::Value(j) => format!("[={j}]"),
            El::Index(i) => format!("[{i}]"),
        }
    }
}

type Path = Vec<El>;
type Set = BTreeSet<Path>;

fn path_text(p: &[El]) -> String {
    p.iter().map(El::text).collect()
}

fn decode(fields: &Value) -> Set {
    fn walk(v: &Value, prefix: &mut Path, out: &mut Set) {
        let Value::Object(m) = v else { return };
        for (k, sub) in m {
            let Some(el) = El::parse(k) else { continue };
            prefix.push(el);
            if sub.as_object().is_some_and(|o| o.is_empty() || o.contains_key(".")) {
                out.insert(prefix.clone());
            }
            walk(sub, prefix, out);
            prefix.pop();
        }
    }
    let mut out = Set::new();
    walk(fields, &mut Vec::new(), &mut out);
    out
}

fn encode(set: &Set) -> Value {
    fn build(paths: &[&[El]]) -> Map<String, Value> {
        let mut groups: BTreeMap<&El, (bool, Vec<&[El]>)> = BTreeMap::new();
        for p in paths {
            if let Some((first, rest)) = p.split_first() {
                let g = groups.entry(first).or_default();
                if rest.is_empty() {
                    g.0 = true;
                } else {
                    g.1.push(rest);
                }
            }
        }
        let mut out = Map::new();
        for (el, (member, rests)) in groups {
            let inner = if rests.is_empty() { Map::new() } else { build(&rests) };
            let inner = if member && !inner.is_empty() {
                let mut with_dot = Map::new();
                with_dot.insert(".".into(), json!({}));
                with_dot.extend(inner);
                with_dot
            } else {
                inner
            };
            out.insert(el.key(), Value::Object(inner));
        }
        out
    }
    let paths: Vec<&[El]> = set.iter().map(Vec::as_slice).collect();
    Value::Object(build(&paths))
}

// ---------------------------------------------------------------------------------------------------------
// Schema

enum ListKind {
    Atomic,
    Set,
    Map(Vec<String>),
}

fn list_kind(s: Option<SchemaCursor>) -> ListKind {
    let Some(s) = s else { return ListKind::Atomic };
    match s.extension("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => ListKind::Set,
        Some("map") => {
            let keys = s
                .extension("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect())
                .unwrap_or_default();
            ListKind::Map(keys)
        }
        _ => ListKind::Atomic,
    }
}

fn map_atomic(s: Option<SchemaCursor>) -> bool {
    s.and_then(|s| s.extension("x-kubernetes-map-type")).and_then(Value::as_str) == Some("atomic")
}

/// The schema of field `k` and whether it is a declared struct field (not a map entry).
fn child(s: Option<SchemaCursor>, k: &str) -> (Option<SchemaCursor>, bool) {
    let Some(s) = s else { return (None, false) };
    match s.property(k) {
        Some(p) => (Some(p), true),
        None => (s.additional(), false),
    }
}

/// A list item's key element: its key fields (schema defaults for missing ones), sorted by name.
fn item_key(item: &Value, keys: &[String], items: Option<SchemaCursor>) -> El {
    let mut sorted: Vec<&String> = keys.iter().collect();
    sorted.sort();
    let mut m = Map::new();
    for k in sorted {
        let v = item.get(k).cloned().or_else(|| items.and_then(|s| s.property(k)).and_then(|p| p.extension("default")).cloned());
        if let Some(v) = v {
            m.insert(k.clone(), v);
        }
    }
    El::Key(Value::Object(m).to_string())
}

fn compact(v: &Value) -> String {
    v.to_string()
}

// ---------------------------------------------------------------------------------------------------------
// Field sets of objects, comparisons

/// The fields an applied configuration sets (structured-merge-diff's ToFieldSet).
fn field_set(v: &Value, s: Option<SchemaCursor>) -> Set {
    fn walk(v: &Value, s: Option<SchemaCursor>, path: &mut Path, out: &mut Set) {
        match v {
            Value::Object(m) => {
                if map_atomic(s) {
                    if !path.is_empty() {
                        out.insert(path.clone());
                    }
                    return;
                }
                for (k, sub) in m {
                    let (cs, declared) = child(s, k);
                    path.push(El::Field(k.clone()));
                    walk(sub, cs, path, out);
                    if sub.is_null() || sub.as_object().is_some_and(Map::is_empty) || !declared {
                        out.insert(path.clone());
                    }
                    path.pop();
                }
            }
            Value::Array(items) => match list_kind(s) {
                ListKind::Atomic => {
                    if !path.is_empty() {
                        out.insert(path.clone());
                    }
                }
                ListKind::Set => {
                    for item in items {
                        path.push(El::Value(compact(item)));
                        out.insert(path.clone());
                        path.pop();
                    }
                }
                ListKind::Map(keys) => {
                    let is = s.and_then(|s| s.items());
                    for item in items {
                        path.push(item_key(item, &keys, is));
                        walk(item, is, path, out);
                        out.insert(path.clone());
                        path.pop();
                    }
                }
            },
            Value::Null => {}
            _ => {
                if !path.is_empty() {
                    out.insert(path.clone());
                }
            }
        }
    }
    let mut out = Set::new();
    walk(v, s, &mut Vec::new(), &mut out);
    out
}

#[derive(Default)]
struct Comparison {
    added: Set,
    modified: Set,
    removed: Set,
}

/// What changed from `l` to `r` (structured-merge-diff's Compare).
fn compare(l: Option<&Value>, r: Option<&Value>, s: Option<SchemaCursor>, path: &mut Path, c: &mut Comparison) {
    let obj = |v: Option<&Value>| v.is_some_and(Value::is_object);
    let arr = |v: Option<&Value>| v.is_some_and(Value::is_array);
    let nullish = |v: Option<&Value>| v.is_none_or(Value::is_null);
    let post = |c: &mut Comparison, path: &Path| {
        if path.is_empty() {
            return;
        }
        if l.is_none() {
            c.added.insert(path.clone());
        } else if r.is_none() {
            c.removed.insert(path.clone());
        }
    };
    if (obj(l) || obj(r)) && (obj(l) || nullish(l)) && (obj(r) || nullish(r)) && !map_atomic(s) {
        let empty = Map::new();
        let lm = l.and_then(Value::as_object).unwrap_or(&empty);
        let rm = r.and_then(Value::as_object).unwrap_or(&empty);
        let mut keys: Vec<&String> = lm.keys().collect();
        keys.extend(rm.keys().filter(|k| !lm.contains_key(*k)));
        for k in keys {
            let (cs, _) = child(s, k);
            path.push(El::Field(k.clone()));
            compare(lm.get(k), rm.get(k), cs, path, c);
            path.pop();
        }
        post(c, path);
        return;
    }
    if (arr(l) || arr(r)) && (arr(l) || nullish(l)) && (arr(r) || nullish(r)) {
        match list_kind(s) {
            ListKind::Map(keys) => {
                let is = s.and_then(|s| s.items());
                let index = |v: Option<&Value>| -> Vec<(El, Value)> {
                    v.and_then(Value::as_array).map(|a| a.iter().map(|i| (item_key(i, &keys, is), i.clone())).collect()).unwrap_or_default()
                };
                let li = index(l);
                let ri = index(r);
                let mut order: Vec<&El> = li.iter().map(|(k, _)| k).collect();
                order.extend(ri.iter().map(|(k, _)| k).filter(|k| !li.iter().any(|(lk, _)| lk == *k)));
                for k in order {
                    let lv = li.iter().find(|(x, _)| x == k).map(|(_, v)| v);
                    let rv = ri.iter().find(|(x, _)| x == k).map(|(_, v)| v);
                    path.push(k.clone());
                    compare(lv, rv, is, path, c);
                    path.pop();
                }
                post(c, path);
                return;
            }
            ListKind::Set => {
                let vals = |v: Option<&Value>| -> Vec<String> {
                    v.and_then(Value::as_array).map(|a| a.iter().map(compact).collect()).unwrap_or_default()
                };
                let (lv, rv) = (vals(l), vals(r));
                for v in &lv {
                    if !rv.contains(v) {
                        path.push(El::Value(v.clone()));
                        c.removed.insert(path.clone());
                        path.pop();
                    }
                }
                for v in &rv {
                    if !lv.contains(v) {
                        path.push(El::Value(v.clone()));
                        c.added.insert(path.clone());
                        path.pop();
                    }
                }
                post(c, path);
                return;
            }
            ListKind::Atomic => {}
        }
    }
    if path.is_empty() {
        return;
    }
    match (l, r) {
        (None, Some(_)) => {
            c.added.insert(path.clone());
        }
        (Some(_), None) => {
            c.removed.insert(path.clone());
        }
        (Some(a), Some(b)) if a != b => {
            c.modified.insert(path.clone());
        }
        _ => {}
    }
}

/// Fields never tracked (apiVersion, kind, server-set metadata).
fn ignored(p: &Path) -> bool {
    match p.as_slice() {
        [El::Field(f), ..] if f == "apiVersion" || f == "kind" => true,
        [El::Field(m)] if m == "metadata" => true,
        [El::Field(m), El::Field(f), ..] if m == "metadata" => matches!(
            f.as_str(),
            "name"
                | "namespace"
                | "uid"
                | "resourceVersion"
                | "creationTimestamp"
                | "generation"
                | "managedFields"
                | "selfLink"
                | "deletionTimestamp"
                | "deletionGracePeriodSeconds"
        ),
        _ => false,
    }
}

/// Which part of the object a write may change: the main resource leaves `status` to its subresource.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Main,
    Status,
    Scale,
    Whole,
}

fn scope_of(res: &Resource, subresource: &str) -> Scope {
    match subresource {
        "status" => Scope::Status,
        "scale" => Scope::Scale,
        _ if res.subresources.iter().any(|s| s == "status") => Scope::Main,
        _ => Scope::Whole,
    }
}

fn in_scope(scope: Scope, p: &Path) -> bool {
    if ignored(p) {
        return false;
    }
    let status = matches!(p.first(), Some(El::Field(f)) if f == "status");
    match scope {
        Scope::Whole => true,
        Scope::Main => !status,
        Scope::Status => status,
        Scope::Scale => matches!(p.as_slice(), [El::Field(a), El::Field(b)] if a == "spec" && b == "replicas"),
    }
}

fn filter(set: Set, scope: Scope) -> Set {
    set.into_iter().filter(|p| in_scope(scope, p)).collect()
}

/// The kind's zero object as Go decodes it (what a create is compared against): present-but-empty structs
/// and null pointers matter for the `.` markers the real server writes.
fn zero_object(res: &Resource) -> Value {
    match (res.group.as_str(), res.plural.as_str()) {
        ("apps", "deployments") => {
            json!({"metadata": {}, "spec": {"selector": null, "template": {"metadata": {}, "spec": {"containers": null}}, "strategy": {}}, "status": {}})
        }
        ("", "services") => json!({"metadata": {}, "spec": {}, "status": {"loadBalancer": {}}}),
        _ => json!({"metadata": {}}),
    }
}

// ---------------------------------------------------------------------------------------------------------
// managedFields entries

#[derive(Debug, Clone)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    subresource: String,
    time: Option<String>,
    set: Set,
}

impl Entry {
    fn from_json(v: &Value) -> Option<Entry> {
        let m = v.as_object()?;
        let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        Some(Entry {
            manager: text("manager"),
            operation: text("operation"),
            api_version: text("apiVersion"),
            subresource: text("subresource"),
            time: m.get("time").and_then(Value::as_str).map(String::from),
            set: m.get("fieldsV1").map(decode).unwrap_or_default(),
        })
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("manager".into(), self.manager.clone().into());
        m.insert("operation".into(), self.operation.clone().into());
        m.insert("apiVersion".into(), self.api_version.clone().into());
        if let Some(t) = &self.time {
            m.insert("time".into(), t.clone().into());
        }
        m.insert("fieldsType".into(), "FieldsV1".into());
        m.insert("fieldsV1".into(), encode(&self.set));
        if !self.subresource.is_empty() {
            m.insert("subresource".into(), self.subresource.clone().into());
        }
        Value::Object(m)
    }

    fn same_manager(&self, manager: &str, operation: &str, api_version: &str, subresource: &str) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource == subresource
            && (operation == "Apply" || self.api_version == api_version)
    }

    /// The manager identifier the real server sorts conflicts by (JSON of manager, operation, apiVersion
    /// for Update, subresource).
    fn identifier(&self) -> String {
        let mut m = Map::new();
        m.insert("manager".into(), self.manager.clone().into());
        m.insert("operation".into(), self.operation.clone().into());
        if self.operation != "Apply" {
            m.insert("apiVersion".into(), self.api_version.clone().into());
        }
        if !self.subresource.is_empty() {
            m.insert("subresource".into(), self.subresource.clone().into());
        }
        Value::Object(m).to_string()
    }

    /// As conflicts print managers: `"kubectl" with subresource "scale" using apps/v1`.
    fn printed(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation != "Apply" {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }
}

fn entries_of(obj: &Value) -> Option<Vec<Entry>> {
    let list = obj.pointer("/metadata/managedFields")?.as_array()?;
    Some(list.iter().filter_map(Entry::from_json).collect())
}

/// Sorted as the server stores them: operation, time, manager, apiVersion, subresource.
fn finish(mut entries: Vec<Entry>) -> Value {
    entries.retain(|e| !e.set.is_empty());
    entries.sort_by(|a, b| {
        (a.operation.as_str(), a.time.as_deref().unwrap_or(""), a.manager.as_str(), a.api_version.as_str(), a.subresource.as_str()).cmp(&(
            b.operation.as_str(),
            b.time.as_deref().unwrap_or(""),
            b.manager.as_str(),
            b.api_version.as_str(),
            b.subresource.as_str(),
        ))
    });
    Value::Array(entries.iter().map(Entry::to_json).collect())
}

fn set_managed_fields(obj: &mut Value, list: Value) {
    if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
        meta.shift_remove("managedFields");
        if list.as_array().is_some_and(|a| !a.is_empty()) {
            meta.insert("managedFields".into(), list);
        }
    }
}

/// `fieldManager`, else the user agent up to its first `/` (as the real server).
pub fn manager_name(field_manager: Option<&str>, user_agent: &str) -> String {
    match field_manager {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => user_agent.split('/').next().unwrap_or("").chars().take(128).collect(),
    }
}

/// What a write carries for field tracking.
pub struct Write<'a> {
    pub manager: String,
    pub subresource: &'a str,
    pub apply: bool,
    pub force: bool,
}

// ---------------------------------------------------------------------------------------------------------
// Writes

/// Records an Update (or the Apply that created `new`) in `new.metadata.managedFields`. `old` is the stored
/// object (`None` for a create); `requested` the managedFields the request carried.
pub fn track(res: &Resource, old: Option<&Value>, new: &mut Value, requested: Option<&Value>, w: &Write<'_>) {
    if !tracked(res) {
        return;
    }
    let schema = SchemaCursor::for_kind(&res.group, &res.version, &res.kind);
    let api_version = res.api_version();
    let now = util::rfc3339(util::now_unix());
    let scope = scope_of(res, w.subresource);
    if w.apply && old.is_none() {
        let set = filter(field_set(new, schema), scope);
        let entry = Entry {
            manager: w.manager.clone(),
            operation: "Apply".into(),
            api_version,
            subresource: w.subresource.into(),
            time: Some(now),
            set,
        };
        set_managed_fields(new, finish(vec![entry]));
        return;
    }
    let stored = old.and_then(entries_of).unwrap_or_default();
    let mut entries = match requested {
        Some(Value::Array(list)) if !list.is_empty() => {
            list.iter().filter_map(Entry::from_json).filter(|e| !e.manager.is_empty() || !e.set.is_empty()).collect()
        }
        _ => stored,
    };
    let zero = zero_object(res);
    let mut base = old.cloned().unwrap_or(zero);
    if scope == Scope::Status
        && base.get("status").is_none()
        && let Value::Object(m) = &mut base
    {
        m.insert("status".into(), json!({}));
    }
    let mut c = Comparison::default();
    compare(Some(&base), Some(new), schema, &mut Vec::new(), &mut c);
    let changed: Set = filter(c.added.union(&c.modified).cloned().collect(), scope);
    let removed: Set = filter(c.removed, scope);
    let mut mine: Option<Entry> = None;
    for e in entries.iter_mut() {
        if e.same_manager(&w.manager, "Update", &api_version, w.subresource) {
            mine = Some(e.clone());
            e.set.clear();
            continue;
        }
        e.set = e.set.difference(&changed).cloned().collect::<Set>().difference(&removed).cloned().collect();
    }
    entries.retain(|e| !e.same_manager(&w.manager, "Update", &api_version, w.subresource));
    let before = mine.as_ref().map(|m| m.set.clone()).unwrap_or_default();
    let set: Set = before.difference(&removed).cloned().collect::<Set>().union(&changed).cloned().collect();
    if !set.is_empty() {
        let time = if w.subresource == "scale" {
            None
        } else if set != before || mine.is_none() {
            Some(now)
        } else {
            mine.as_ref().and_then(|m| m.time.clone())
        };
        entries.push(Entry {
            manager: w.manager.clone(),
            operation: "Update".into(),
            api_version,
            subresource: w.subresource.into(),
            time,
            set,
        });
    }
    set_managed_fields(new, finish(entries));
}

/// Server-side apply of `applied` onto `doc` (the stored object, with its managedFields): merges, removes
/// what the manager no longer applies, refuses conflicts (409) unless `force`, and records the manager's
/// Apply entry. `doc` becomes the new object.
pub fn apply(res: &Resource, doc: &mut Value, applied: &Value, w: &Write<'_>) -> Result<(), ApiError> {
    let schema = SchemaCursor::for_kind(&res.group, &res.version, &res.kind);
    let scope = scope_of(res, w.subresource);
    let api_version = res.api_version();
    let old = doc.clone();
    let mut entries = entries_of(&old).unwrap_or_default();
    let applied_set = filter(field_set(applied, schema), scope);
    let mut merged = old.clone();
    merge(&mut merged, applied, schema);
    // Fields this manager applied before and no longer applies go, unless another manager owns them or
    // something below them that stays (a map whose other keys stay is kept, only its keys go).
    let previous: Set =
        entries.iter().filter(|e| e.same_manager(&w.manager, "Apply", "", w.subresource)).flat_map(|e| e.set.iter().cloned()).collect();
    let others: Set =
        entries.iter().filter(|e| !e.same_manager(&w.manager, "Apply", "", w.subresource)).flat_map(|e| e.set.iter().cloned()).collect();
    let removable: Set =
        previous.difference(&applied_set).filter(|p| !others.iter().chain(applied_set.iter()).any(|o| o.starts_with(p))).cloned().collect();
    if !removable.is_empty() {
        let present = field_set(&merged, schema);
        let mut deepest_first: Vec<&Path> = removable.iter().collect();
        deepest_first.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in deepest_first {
            let stays_below = present.iter().any(|q| q.len() > p.len() && q.starts_with(p) && !removable.contains(q));
            if !stays_below {
                remove_path(&mut merged, p, schema);
            }
        }
    }
    let mut c = Comparison::default();
    compare(Some(&old), Some(&merged), schema, &mut Vec::new(), &mut c);
    let changed: Set = filter(c.added.union(&c.modified).cloned().collect(), scope);
    let removed: Set = filter(c.removed, scope);
    let mut conflicts: Vec<(String, Entry, Path)> = Vec::new();
    for e in &entries {
        if e.same_manager(&w.manager, "Apply", "", w.subresource) {
            continue;
        }
        for p in e.set.intersection(&changed) {
            conflicts.push((e.identifier(), e.clone(), p.clone()));
        }
    }
    if !conflicts.is_empty() && !w.force {
        return Err(conflict_error(conflicts));
    }
    for e in entries.iter_mut() {
        if e.same_manager(&w.manager, "Apply", "", w.subresource) {
            continue;
        }
        e.set = e.set.difference(&changed).cloned().collect::<Set>().difference(&removed).cloned().collect();
    }
    entries.retain(|e| !e.same_manager(&w.manager, "Apply", "", w.subresource));
    entries.push(Entry {
        manager: w.manager.clone(),
        operation: "Apply".into(),
        api_version,
        subresource: w.subresource.into(),
        time: Some(util::rfc3339(util::now_unix())),
        set: applied_set,
    });
    set_managed_fields(&mut merged, finish(entries));
    *doc = merged;
    Ok(())
}

fn conflict_error(mut conflicts: Vec<(String, Entry, Path)>) -> ApiError {
    conflicts.sort_by(|a, b| (&a.0, &a.2).cmp(&(&b.0, &b.2)));
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(_, e, p)| json!({"reason": "FieldManagerConflict", "message": format!("conflict with {}", e.printed()), "field": path_text(p)}))
        .collect();
    let message = if conflicts.len() == 1 {
        let (_, e, p) = &conflicts[0];
        format!("Apply failed with 1 conflict: conflict with {}: {}", e.printed(), path_text(p))
    } else {
        let mut lines = Vec::new();
        let mut last = None;
        for (id, e, p) in &conflicts {
            if last != Some(id) {
                lines.push(format!("conflicts with {}:", e.printed()));
                last = Some(id);
            }
            lines.push(format!("- {}", path_text(p)));
        }
        format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
    };
    ApiError::new(409, "Conflict", message).with_details(json!({"causes": causes}))
}

/// Merges an applied configuration into the object: maps field by field, `map` lists item by key, `set`
/// lists by value, everything else replaced.
fn merge(live: &mut Value, applied: &Value, s: Option<SchemaCursor>) {
    match (&mut *live, applied) {
        (Value::Object(l), Value::Object(a)) if !map_atomic(s) => {
            for (k, av) in a {
                let (cs, _) = child(s, k);
                match l.get_mut(k) {
                    Some(lv) if !av.is_null() => merge(lv, av, cs),
                    _ => {
                        l.insert(k.clone(), av.clone());
                    }
                }
            }
        }
        (Value::Array(l), Value::Array(a)) => match list_kind(s) {
            ListKind::Map(keys) => {
                let is = s.and_then(|s| s.items());
                for item in a {
                    let key = item_key(item, &keys, is);
                    match l.iter_mut().find(|x| item_key(x, &keys, is) == key) {
                        Some(x) => merge(x, item, is),
                        None => l.push(item.clone()),
                    }
                }
            }
            ListKind::Set => {
                for item in a {
                    if !l.contains(item) {
                        l.push(item.clone());
                    }
                }
            }
            ListKind::Atomic => *live = applied.clone(),
        },
        _ => *live = applied.clone(),
    }
}

fn remove_path(v: &mut Value, p: &[El], s: Option<SchemaCursor>) {
    let Some((first, rest)) = p.split_first() else { return };
    match (v, first) {
        (Value::Object(m), El::Field(k)) => {
            if rest.is_empty() {
                m.shift_remove(k);
            } else if let Some(sub) = m.get_mut(k) {
                remove_path(sub, rest, child(s, k).0);
            }
        }
        (Value::Array(items), el) => {
            let is = s.and_then(|s| s.items());
            let keys = match list_kind(s) {
                ListKind::Map(keys) => keys,
                _ => Vec::new(),
            };
            let pos = items.iter().position(|x| match el {
                El::Key(_) => item_key(x, &keys, is) == *el,
                El::Value(j) => compact(x) == *j,
                _ => false,
            });
            if let Some(i) = pos {
                if rest.is_empty() {
                    items.remove(i);
                } else {
                    remove_path(&mut items[i], rest, is);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_the_server() {
        let v = json!({"f:data": {".": {}, "f:a": {}}, "f:metadata": {"f:labels": {"f:x": {}}}, "f:spec": {"f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}}}}});
        assert_eq!(encode(&decode(&v)), v);
        let p = decode(&v).into_iter().find(|p| p.len() == 4).unwrap();
        assert_eq!(path_text(&p), ".spec.ports[port=80,protocol=\"TCP\"].port");
    }

    #[test]
    fn service_port_keys_take_the_protocol_default() {
        let s = SchemaCursor::for_kind("", "v1", "Service");
        let set = field_set(&json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}), s);
        assert_eq!(
            encode(&set),
            json!({"f:spec": {"f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}, "f:targetPort": {}}}}})
        );
    }
}
