//! The object store: every object is kept as its serialized JSON (without `kind` and
//! `apiVersion`, which are added when served) plus a small parsed "head" (metadata and
//! top-level scalar fields) used for selectors, metadata-only answers and tables.
//!
//! All writes go through the same code whether they come from HTTP or from a
//! [`StoreHandle`], so both bump the global `resourceVersion` the same way.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::discovery::{self, Resource};
use crate::patch;
use crate::schema::{self, SchemaCursor};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{ApiError, Gr};
use crate::util;
use crate::validate;

/// How unknown fields are treated (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    Ignore,
    #[default]
    Warn,
    Strict,
}

/// Options of a write.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_validation: FieldValidation,
    pub field_manager: Option<String>,
    /// Field tracking (see `managed`): `force=true` of an apply, the client's user agent (the manager when
    /// `fieldManager` is absent), the subresource written, and whether this write is an apply.
    pub force: bool,
    pub user_agent: String,
    pub subresource: String,
    pub apply: bool,
}

impl WriteOptions {
    fn tracking(&self) -> crate::managed::Write<'_> {
        crate::managed::Write {
            manager: crate::managed::manager_name(self.field_manager.as_deref(), &self.user_agent),
            subresource: &self.subresource,
            apply: self.apply,
            force: self.force,
        }
    }
}

/// The managedFields a request carried (before `finalize` drops client-set metadata).
fn requested_managed_fields(obj: &Map<String, Value>) -> Option<Value> {
    obj.get("metadata").and_then(|m| m.get("managedFields")).cloned()
}

/// Patch flavours (by request content type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json`
    Json,
    /// `application/merge-patch+json`
    Merge,
    /// `application/strategic-merge-patch+json`
    Strategic,
    /// `application/apply-patch+yaml` (see crate docs for its limits)
    Apply,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Option<PatchType> {
        let base = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match base.as_str() {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" | "application/apply-patch+cbor" => Some(PatchType::Apply),
            _ => None,
        }
    }
}

/// The result of a successful write.
#[derive(Debug, Clone)]
pub struct WriteOutcome {
    /// The object as stored (with `kind`/`apiVersion` of the resource version written to).
    pub object: Value,
    /// `Warning` header texts (unknown fields under `fieldValidation=Warn`).
    pub warnings: Vec<String>,
    /// The object was created (201) rather than updated (200).
    pub created: bool,
}

/// A stored object.
#[derive(Debug, Clone)]
pub struct Obj {
    /// `{"metadata": {...}, <top-level scalar fields>}`.
    pub head: Value,
    /// The serialized object without `kind` and `apiVersion`.
    pub body: Bytes,
}

impl Obj {
    fn new(value: &Value) -> Obj {
        let mut json = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
        // The Vec grew by doubling; `Bytes` would keep all of its capacity for the object's
        // lifetime (about twice the stored JSON, which matters with thousands of big Secrets).
        json.shrink_to_fit();
        let body = Bytes::from(json);
        let mut head = Map::new();
        if let Value::Object(m) = value {
            for (k, v) in m {
                if k == "metadata" || !(v.is_object() || v.is_array()) {
                    head.insert(k.clone(), v.clone());
                }
            }
        }
        Obj { head: Value::Object(head), body }
    }

    pub fn meta_str(&self, key: &str) -> &str {
        self.head.get("metadata").and_then(|m| m.get(key)).and_then(Value::as_str).unwrap_or("")
    }

    pub fn labels(&self) -> Option<&Map<String, Value>> {
        self.head.get("metadata")?.get("labels")?.as_object()
    }

    /// The full object (parsed from the stored JSON), without kind/apiVersion.
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The full object with `kind` and `apiVersion` first.
    pub fn typed_value(&self, res: &Resource) -> Value {
        with_type(res, self.value())
    }

    /// The serialized object with `kind` and `apiVersion` first, as chunks (zero-copy).
    pub fn typed_chunks(&self, res: &Resource) -> Vec<Bytes> {
        let prefix = format!("{{\"kind\":{},\"apiVersion\":{},", json_str(&res.kind), json_str(&res.api_version()));
        if self.body.len() <= 2 {
            return vec![Bytes::from(format!("{{\"kind\":{},\"apiVersion\":{}}}", json_str(&res.kind), json_str(&res.api_version())))];
        }
        vec![Bytes::from(prefix), self.body.slice(1..)]
    }
}

pub fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Puts `kind` and `apiVersion` in front of an object.
pub fn with_type(res: &Resource, v: Value) -> Value {
    let mut m = Map::new();
    m.insert("kind".into(), res.kind.clone().into());
    m.insert("apiVersion".into(), res.api_version().into());
    if let Value::Object(o) = v {
        for (k, val) in o {
            if k != "kind" && k != "apiVersion" {
                m.insert(k, val);
            }
        }
    }
    Value::Object(m)
}

type Table = BTreeMap<(String, String), Obj>;

#[derive(Default)]
struct Inner {
    rv: u64,
    tables: HashMap<(String, String), Table>,
}

/// Query of a LIST.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub label: Option<LabelSelector>,
    pub field: Option<FieldSelector>,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
}

/// One page of a LIST.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub items: Vec<Obj>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<u64>,
}

/// The shared store.
pub struct Store {
    inner: RwLock<Inner>,
    /// The CustomResourceDefinitions served now (see `crd.rs`).
    pub(crate) crds: crate::crd::Registry,
}

fn uses_generation(res: &Resource) -> bool {
    crate::generation::has_generation(res)
}

const SERVER_META: &[&str] = &[
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "selfLink",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

const META_ORDER: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
];

fn ordered_meta(meta: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let mut rest = meta;
    for k in META_ORDER {
        if let Some(v) = rest.shift_remove(*k) {
            let empty = match &v {
                Value::Null => true,
                Value::Object(m) => m.is_empty(),
                Value::Array(a) => a.is_empty(),
                Value::String(s) => s.is_empty(),
                _ => false,
            };
            if !empty {
                out.insert((*k).to_string(), v);
            }
        }
    }
    let managed = rest.shift_remove("managedFields");
    for (k, v) in rest {
        if !v.is_null() {
            out.insert(k, v);
        }
    }
    // Only `managed::track`/`managed::apply` put them here (`finalize` drops what clients send); last, as
    // the real server orders ObjectMeta.
    if let Some(m) = managed.filter(|m| m.as_array().is_some_and(|a| !a.is_empty())) {
        out.insert("managedFields".into(), m);
    }
    out
}

/// Server-assigned metadata carried over from the stored object on update.
struct Carry {
    uid: String,
    creation: String,
    generation: Option<i64>,
}

fn strict_error(res: &Resource, unknown: &[String]) -> ApiError {
    let list: Vec<String> = unknown.iter().map(|f| format!("unknown field \"{f}\"")).collect();
    ApiError::bad_request(format!(
        "{kind} in version \"{v}\" cannot be handled as a {kind}: strict decoding error: {}",
        list.join(", "),
        kind = res.kind,
        v = res.version
    ))
}

/// Decode-stage checks shared by create/update/patch results. Returns the object without
/// kind/apiVersion, with unknown fields pruned, plus warnings.
fn decode_stage(res: &Resource, body: Value, fv: FieldValidation) -> Result<(Map<String, Value>, Vec<String>), ApiError> {
    let Value::Object(_) = &body else {
        return Err(ApiError::bad_request(format!(
            "{kind} in version \"{v}\" cannot be handled as a {kind}: json: cannot unmarshal into Go value of type struct",
            kind = res.kind,
            v = res.version
        )));
    };
    let mut body = body;
    if let Some(av) = body.get("apiVersion").and_then(Value::as_str)
        && !av.is_empty()
        && av != res.api_version()
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({av}) does not match the expected API version ({})",
            res.api_version()
        )));
    }
    if let Some(k) = body.get("kind").and_then(Value::as_str)
        && !k.is_empty()
        && k != res.kind
    {
        return Err(ApiError::bad_request(format!("the kind in the data ({k}) does not match the expected kind ({})", res.kind)));
    }
    if let Some(m) = body.get("metadata")
        && !m.is_object()
        && !m.is_null()
    {
        return Err(ApiError::bad_request(format!(
            "{kind} in version \"{v}\" cannot be handled as a {kind}: json: cannot unmarshal metadata into Go struct field {kind}.metadata of type v1.ObjectMeta",
            kind = res.kind,
            v = res.version
        )));
    }
    let mut warnings = Vec::new();
    if let Some(schema) = SchemaCursor::for_kind(&res.group, &res.version, &res.kind) {
        let unknown = schema::prune_unknown(&mut body, schema);
        if !unknown.is_empty() {
            match fv {
                FieldValidation::Strict => return Err(strict_error(res, &unknown)),
                FieldValidation::Warn => warnings.extend(unknown.iter().map(|f| format!("unknown field \"{f}\""))),
                FieldValidation::Ignore => {}
            }
        }
    }
    let Value::Object(mut m) = body else { return Err(ApiError::internal("object expected")) };
    m.shift_remove("kind");
    m.shift_remove("apiVersion");
    if res.group.is_empty() && res.plural == "secrets" {
        let name = m.get("metadata").and_then(|x| x.get("name")).and_then(Value::as_str).unwrap_or("").to_string();
        // only decode errors here; the size limit is a validation error (checked later)
        validate::secret(&mut m, &name).or_else(|e| if e.code == 422 { Ok(()) } else { Err(e) })?;
    }
    if res.group.is_empty() && res.plural == "configmaps" {
        validate::configmap(&m, "").or_else(|e| if e.code == 422 { Ok(()) } else { Err(e) })?;
    }
    Ok((m, warnings))
}

/// Validation stage (after admission): names, metadata, data sizes.
fn validate_stage(res: &Resource, obj: &Map<String, Value>) -> Result<(), ApiError> {
    let meta = obj.get("metadata").and_then(Value::as_object).cloned().unwrap_or_default();
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("");
    let mut causes = if name.is_empty() {
        vec![crate::status::Cause {
            reason: "FieldValueRequired".into(),
            message: "Required value: name or generateName is required".into(),
            field: "metadata.name".into(),
        }]
    } else {
        validate::name_causes(res, name)
    };
    causes.extend(validate::metadata_causes(&meta));
    if !causes.is_empty() {
        return Err(ApiError::invalid(&res.group, &res.kind, name, causes));
    }
    // Secrets: every caller runs `validate::secret` on the object itself right after this (its
    // data was already decode-checked in `decode_stage`), so no copy is checked here.
    if res.group.is_empty() && res.plural == "configmaps" {
        validate::configmap(obj, name)?;
    }
    Ok(())
}

/// Builds the final stored object: ordered metadata with server fields, kind-specific defaults.
fn finalize(res: &Resource, mut obj: Map<String, Value>, ns: &str, rv: Option<u64>, carry: Option<&Carry>) -> Value {
    let mut meta = obj.shift_remove("metadata").and_then(|m| if let Value::Object(m) = m { Some(m) } else { None }).unwrap_or_default();
    for k in SERVER_META {
        meta.shift_remove(*k);
    }
    if res.namespaced {
        meta.insert("namespace".into(), ns.into());
    } else {
        meta.shift_remove("namespace");
    }
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("").to_string();
    match carry {
        Some(c) => {
            meta.insert("uid".into(), c.uid.clone().into());
            if let Some(g) = c.generation {
                meta.insert("generation".into(), g.into());
            }
            meta.insert("creationTimestamp".into(), c.creation.clone().into());
        }
        None => {
            meta.insert("uid".into(), util::new_uid().into());
            if uses_generation(res) {
                meta.insert("generation".into(), 1.into());
            }
            meta.insert("creationTimestamp".into(), util::rfc3339(util::now_unix()).into());
        }
    }
    if let Some(rv) = rv {
        meta.insert("resourceVersion".into(), rv.to_string().into());
    }
    if res.group.is_empty() && res.plural == "namespaces" {
        let labels = meta.entry("labels").or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(l) = labels {
            l.insert("kubernetes.io/metadata.name".into(), name.clone().into());
        }
        let spec = obj.entry("spec").or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(s) = spec
            && !s.contains_key("finalizers")
        {
            s.insert("finalizers".into(), serde_json::json!(["kubernetes"]));
        }
        let status = obj.entry("status").or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(s) = status {
            s.entry("phase").or_insert_with(|| "Active".into());
        }
    }
    let mut out = Map::new();
    out.insert("metadata".into(), Value::Object(ordered_meta(meta)));
    let is_secret = res.group.is_empty() && res.plural == "secrets";
    let is_cm = res.group.is_empty() && res.plural == "configmaps";
    let mut type_field = None;
    for (k, v) in obj {
        if v.is_null() {
            continue;
        }
        if (is_secret || is_cm) && matches!(k.as_str(), "data" | "binaryData") && v.as_object().is_some_and(|m| m.is_empty()) {
            continue;
        }
        if is_secret && k == "type" {
            type_field = Some(v);
            continue;
        }
        out.insert(k, v);
    }
    if let Some(t) = type_field {
        out.insert("type".into(), t);
    }
    Value::Object(out)
}

/// The real server's rule, kind by kind (see `generation.rs`).
fn bumps_generation(res: &Resource, old: &Value, new: &Value) -> bool {
    crate::generation::bumps(res, old, new)
}

/// Continue tokens look like the real server's: base64url JSON `{"v","rv","start"}`.
fn encode_continue(rv: u64, key: &str) -> String {
    let j = serde_json::json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{key}\u{0}")});
    util::b64url_nopad_encode(j.to_string().as_bytes())
}

fn decode_continue(tok: &str) -> Result<String, ApiError> {
    let bad = |why: &str| ApiError::bad_request(format!("continue key is not valid: {why}"));
    let raw = util::b64url_nopad_decode(tok).ok_or_else(|| bad("illegal base64 data"))?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad("invalid continue token"))?;
    if v.get("v").and_then(Value::as_str) != Some("meta.k8s.io/v1") {
        return Err(bad("continue key is not a supported version"));
    }
    let start = v.get("start").and_then(Value::as_str).ok_or_else(|| bad("missing start"))?;
    Ok(start.trim_end_matches('\u{0}').trim_start_matches('/').to_string())
}

impl Default for Store {
    fn default() -> Self {
        Store::new(1000)
    }
}

impl Store {
    pub fn new(initial_rv: u64) -> Store {
        Store { inner: RwLock::new(Inner { rv: initial_rv, tables: HashMap::new() }), crds: Default::default() }
    }

    /// The resource served at `/apis/{group}/{version}/{plural}`: built in, or from a CRD.
    pub(crate) fn find_resource(&self, group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
        discovery::find(group, version, plural).or_else(|| self.crds.find(group, version, plural))
    }

    /// A resource by kubectl-style name (see [`StoreHandle`]).
    pub(crate) fn resolve_resource(&self, name: &str) -> Option<&'static Resource> {
        discovery::resolve(name).or_else(|| self.crds.resolve(name))
    }

    /// The resource of an object's `apiVersion` and `kind`.
    pub(crate) fn resource_of(&self, obj: &Value) -> Result<&'static Resource, ApiError> {
        let av = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        discovery::find_by_kind(av, kind)
            .or_else(|| self.crds.find_by_kind(av, kind))
            .ok_or_else(|| ApiError::new(404, "NotFound", format!("no matches for kind \"{kind}\" in version \"{av}\"")))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.read().rv
    }

    pub fn namespace_exists(&self, ns: &str) -> bool {
        self.read().tables.get(&(String::new(), "namespaces".to_string())).is_some_and(|t| t.contains_key(&(String::new(), ns.to_string())))
    }

    pub fn get(&self, res: &Resource, ns: &str, name: &str) -> Result<Obj, ApiError> {
        let ns = if res.namespaced { ns } else { "" };
        self.read()
            .tables
            .get(&res.storage_key())
            .and_then(|t| t.get(&(ns.to_string(), name.to_string())))
            .cloned()
            .ok_or_else(|| ApiError::not_found(res.gr(), name))
    }

    /// Number of objects of a resource (in a namespace, or everywhere).
    pub fn count(&self, res: &Resource, ns: Option<&str>) -> usize {
        let g = self.read();
        let Some(t) = g.tables.get(&res.storage_key()) else { return 0 };
        match ns {
            None => t.len(),
            Some(ns) => t.keys().filter(|k| k.0 == ns).count(),
        }
    }

    pub fn list(&self, res: &Resource, ns: Option<&str>, q: &ListQuery) -> Result<ListPage, ApiError> {
        let start_after = match &q.continue_token {
            Some(t) if !t.is_empty() => Some(decode_continue(t)?),
            _ => None,
        };
        let ns = if res.namespaced { ns } else { None };
        let g = self.read();
        let rv = g.rv;
        let empty = Table::new();
        let table = g.tables.get(&res.storage_key()).unwrap_or(&empty);
        let lower: Bound<(String, String)> = match (&start_after, ns) {
            (Some(s), Some(ns)) => Bound::Excluded((ns.to_string(), s.clone())),
            (Some(s), None) => {
                let (a, b) = if res.namespaced { s.split_once('/').unwrap_or(("", s.as_str())) } else { ("", s.as_str()) };
                Bound::Excluded((a.to_string(), b.to_string()))
            }
            (None, Some(ns)) => Bound::Included((ns.to_string(), String::new())),
            (None, None) => Bound::Unbounded,
        };
        let iter = table.range((lower, Bound::Unbounded)).take_while(|(k, _)| ns.is_none_or(|ns| k.0 == ns));
        let has_selectors = q.label.as_ref().is_some_and(|l| !l.is_empty()) || q.field.as_ref().is_some_and(|f| !f.is_empty());
        let matches = |o: &Obj| -> bool {
            if let Some(l) = &q.label
                && !l.is_empty()
            {
                let labels = o.labels();
                if !l.matches_with(|k| labels.and_then(|m| m.get(k)).and_then(Value::as_str)) {
                    return false;
                }
            }
            if let Some(f) = &q.field
                && !f.is_empty()
                && !f.matches(&o.head)
            {
                return false;
            }
            true
        };
        let limit = q.limit.filter(|&l| l > 0);
        let mut items = Vec::new();
        let mut last_key: Option<(String, String)> = None;
        let mut more = false;
        let mut remaining = 0u64;
        for (k, o) in iter {
            if let Some(l) = limit
                && items.len() >= l
            {
                if has_selectors {
                    if matches(o) {
                        more = true;
                        break;
                    }
                    continue;
                }
                more = true;
                remaining += 1;
                continue;
            }
            if matches(o) {
                items.push(o.clone());
                last_key = Some(k.clone());
            }
        }
        let continue_token = if more {
            last_key.map(|(kns, kname)| {
                let key = if ns.is_none() && res.namespaced { format!("{kns}/{kname}") } else { kname };
                encode_continue(rv, &key)
            })
        } else {
            None
        };
        Ok(ListPage { items, resource_version: rv, remaining: if more && !has_selectors { Some(remaining) } else { None }, continue_token })
    }

    /// CREATE. `ns` is ignored for cluster-scoped resources.
    pub fn create(&self, res: &Resource, ns: &str, body: Value, opts: &WriteOptions) -> Result<WriteOutcome, ApiError> {
        let ns = if res.namespaced { ns } else { "" };
        if let Some(bns) = body.pointer("/metadata/namespace").and_then(Value::as_str)
            && res.namespaced
            && !bns.is_empty()
            && bns != ns
        {
            return Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request"));
        }
        let (mut obj, warnings) = decode_stage(res, body, opts.field_validation)?;
        if crate::reviews::is_review(res) {
            return Ok(WriteOutcome { object: crate::reviews::create(res, ns, obj)?, warnings, created: true });
        }
        let meta = obj.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
        if meta.is_null() {
            *meta = Value::Object(Map::new());
        }
        let generate = meta.get("generateName").and_then(Value::as_str).unwrap_or("").to_string();
        let has_name = meta.get("name").and_then(Value::as_str).is_some_and(|n| !n.is_empty());
        if res.namespaced && !self.namespace_exists(ns) {
            return Err(ApiError::not_found(Gr { group: "", resource: "namespaces" }, ns));
        }
        let mut g = self.write();
        if !has_name && !generate.is_empty() {
            let table = g.tables.get(&res.storage_key());
            let mut candidate = format!("{generate}{}", util::random_suffix());
            for _ in 0..8 {
                if !table.is_some_and(|t| t.contains_key(&(ns.to_string(), candidate.clone()))) {
                    break;
                }
                candidate = format!("{generate}{}", util::random_suffix());
            }
            if let Some(Value::Object(m)) = obj.get_mut("metadata") {
                m.insert("name".into(), candidate.into());
            }
        }
        validate_stage(res, &obj)?;
        if res.group.is_empty() && res.plural == "secrets" {
            let name = obj.pointer_name();
            validate::secret(&mut obj, &name)?;
        }
        let name = obj.pointer_name();
        let key = (ns.to_string(), name.clone());
        if g.tables.get(&res.storage_key()).is_some_and(|t| t.contains_key(&key)) {
            return Err(ApiError::already_exists(res.gr(), &name));
        }
        if crate::crd::is_crd(res) {
            self.crds.check(&Value::Object(obj.clone()))?;
        }
        let rv = if opts.dry_run { None } else { Some(g.rv + 1) };
        let requested = requested_managed_fields(&obj);
        let mut value = finalize(res, obj, ns, rv, None);
        if !opts.dry_run && crate::crd::is_crd(res) {
            self.crds.written(&mut value);
        }
        crate::managed::track(res, None, &mut value, requested.as_ref(), &opts.tracking());
        if !opts.dry_run {
            g.rv += 1;
            g.tables.entry(res.storage_key()).or_default().insert(key, Obj::new(&value));
        }
        Ok(WriteOutcome { object: with_type(res, value), warnings, created: true })
    }

    /// UPDATE (PUT). A non-empty `metadata.resourceVersion` is a precondition.
    pub fn update(&self, res: &Resource, ns: &str, name: &str, body: Value, opts: &WriteOptions) -> Result<WriteOutcome, ApiError> {
        let ns = if res.namespaced { ns } else { "" };
        if let Some(bns) = body.pointer("/metadata/namespace").and_then(Value::as_str)
            && res.namespaced
            && !bns.is_empty()
            && bns != ns
        {
            return Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request"));
        }
        let body_name = body.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!("the name of the object ({body_name}) does not match the name on the URL ({name})")));
        }
        let want_rv = body.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or("").to_string();
        let (mut obj, warnings) = decode_stage(res, body, opts.field_validation)?;
        if let Some(Value::Object(m)) = obj.get_mut("metadata") {
            m.insert("name".into(), name.into());
        } else {
            obj.insert("metadata".into(), serde_json::json!({"name": name}));
        }
        let mut g = self.write();
        let old = g
            .tables
            .get(&res.storage_key())
            .and_then(|t| t.get(&(ns.to_string(), name.to_string())))
            .cloned()
            .ok_or_else(|| ApiError::not_found(res.gr(), name))?;
        if !want_rv.is_empty() && want_rv != old.meta_str("resourceVersion") {
            return Err(ApiError::conflict_modified(res.gr(), name));
        }
        self.commit_update(&mut g, res, ns, name, obj, &old, opts, warnings)
    }

    #[allow(clippy::too_many_arguments)]
    fn commit_update(
        &self,
        g: &mut Inner,
        res: &Resource,
        ns: &str,
        name: &str,
        mut obj: Map<String, Value>,
        old: &Obj,
        opts: &WriteOptions,
        warnings: Vec<String>,
    ) -> Result<WriteOutcome, ApiError> {
        validate_stage(res, &obj)?;
        if res.group.is_empty() && res.plural == "secrets" {
            validate::secret(&mut obj, name)?;
        }
        let old_value = old.value();
        // Namespaces keep their status; other kinds keep it when they have a status subresource (unless this
        // is a write of that subresource).
        if opts.subresource != "status"
            && (res.subresources.iter().any(|s| s == "status") || (res.group.is_empty() && res.plural == "namespaces"))
        {
            match old_value.get("status") {
                Some(s) => {
                    obj.insert("status".into(), s.clone());
                }
                None => {
                    obj.shift_remove("status");
                }
            }
        }
        let old_gen = old.head.pointer("/metadata/generation").and_then(Value::as_i64);
        let carry =
            Carry { uid: old.meta_str("uid").to_string(), creation: old.meta_str("creationTimestamp").to_string(), generation: old_gen };
        let rv = if opts.dry_run { old.meta_str("resourceVersion").parse().ok() } else { Some(g.rv + 1) };
        let requested = requested_managed_fields(&obj);
        let mut value = finalize(res, obj, ns, rv, Some(&carry));
        if !opts.apply {
            crate::managed::track(res, Some(&old_value), &mut value, requested.as_ref(), &opts.tracking());
        } else if let Some(mf) = requested
            && let Some(Value::Object(m)) = value.get_mut("metadata")
        {
            // computed by managed::apply
            m.insert("managedFields".into(), mf);
        }
        if let Some(old_generation) = old_gen
            && bumps_generation(res, &old_value, &value)
            && let Some(Value::Object(m)) = value.get_mut("metadata")
        {
            m.insert("generation".into(), (old_generation + 1).into());
        }
        if !opts.dry_run && crate::crd::is_crd(res) {
            self.crds.written(&mut value);
        }
        if !opts.dry_run {
            g.rv += 1;
            g.tables.entry(res.storage_key()).or_default().insert((ns.to_string(), name.to_string()), Obj::new(&value));
        }
        Ok(WriteOutcome { object: with_type(res, value), warnings, created: false })
    }

    /// PATCH. `patch` is the raw request body.
    pub fn patch(
        &self,
        res: &Resource,
        ns: &str,
        name: &str,
        ptype: PatchType,
        patch: &[u8],
        opts: &WriteOptions,
    ) -> Result<WriteOutcome, ApiError> {
        let ns = if res.namespaced { ns } else { "" };
        let parsed: Value = match ptype {
            PatchType::Apply => {
                let text = std::str::from_utf8(patch).map_err(|_| ApiError::bad_request("error decoding YAML: invalid UTF-8"))?;
                serde_json::from_str(text)
                    .or_else(|_| serde_saphyr::from_str::<Value>(text))
                    .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?
            }
            _ => serde_json::from_slice(patch).map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?,
        };
        if res.custom && ptype == PatchType::Strategic {
            return Err(ApiError::unsupported_media_type("application/strategic-merge-patch+json"));
        }
        if ptype == PatchType::Apply && opts.field_manager.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::invalid(
                "meta.k8s.io",
                "PatchOptions",
                "",
                vec![crate::status::Cause {
                    reason: "FieldValueRequired".into(),
                    message: "Required value: is required for apply patch".into(),
                    field: "fieldManager".into(),
                }],
            ));
        }
        if ptype != PatchType::Json && !parsed.is_object() {
            return Err(ApiError::bad_request("json: cannot unmarshal array into Go value of type map[string]interface {}"));
        }
        let existing = self.get(res, ns, name);
        let old = match existing {
            Ok(o) => o,
            Err(e) if ptype == PatchType::Apply && e.code == 404 => {
                let mut body = parsed;
                if let Some(Value::Object(m)) = body.get_mut("metadata") {
                    m.insert("name".into(), name.into());
                    m.shift_remove("managedFields");
                }
                let opts = WriteOptions { apply: true, ..opts.clone() };
                return self.create(res, ns, body, &opts);
            }
            Err(e) => return Err(e),
        };
        let mut g = self.write();
        // re-read under the write lock
        let old = g.tables.get(&res.storage_key()).and_then(|t| t.get(&(ns.to_string(), name.to_string()))).cloned().unwrap_or(old);
        let old_rv = old.meta_str("resourceVersion").to_string();
        let mut doc = with_type(res, old.value());
        let schema = SchemaCursor::for_kind(&res.group, &res.version, &res.kind);
        match ptype {
            PatchType::Merge => patch::merge_patch(&mut doc, &parsed),
            PatchType::Json => patch::json_patch(&mut doc, &parsed).map_err(|_| ApiError::unprocessable_generic())?,
            PatchType::Strategic => patch::strategic_merge(&mut doc, &parsed, schema),
            PatchType::Apply => {
                let mut p = parsed.clone();
                if let Some(Value::Object(m)) = p.get_mut("metadata") {
                    m.shift_remove("resourceVersion");
                }
                if crate::managed::tracked(res) {
                    let tracking = WriteOptions { apply: true, ..opts.clone() };
                    crate::managed::apply(res, &mut doc, &p, &tracking.tracking())?;
                } else if res.custom {
                    patch::merge_patch(&mut doc, &p)
                } else {
                    patch::strategic_merge(&mut doc, &p, schema)
                }
            }
        }
        let opts = &WriteOptions { apply: ptype == PatchType::Apply && crate::managed::tracked(res), ..opts.clone() };
        let new_rv = doc.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or("").to_string();
        if !new_rv.is_empty() && new_rv != old_rv {
            return Err(ApiError::conflict_modified(res.gr(), name));
        }
        let new_name = doc.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
        if new_name != name {
            return Err(ApiError::bad_request(format!("the name of the object ({new_name}) does not match the name on the URL ({name})")));
        }
        if res.namespaced {
            let new_ns = doc.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
            if new_ns != ns {
                return Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request"));
            }
        }
        let (obj, warnings) = decode_stage(res, doc, opts.field_validation)?;
        self.commit_update(&mut g, res, ns, name, obj, &old, opts, warnings)
    }

    /// DELETE with optional preconditions. Returns the deleted object (with kind/apiVersion).
    pub fn delete(
        &self,
        res: &Resource,
        ns: &str,
        name: &str,
        pre_rv: Option<&str>,
        pre_uid: Option<&str>,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let ns = if res.namespaced { ns } else { "" };
        let mut g = self.write();
        let key = (ns.to_string(), name.to_string());
        let old = g.tables.get(&res.storage_key()).and_then(|t| t.get(&key)).cloned().ok_or_else(|| ApiError::not_found(res.gr(), name))?;
        if let Some(uid) = pre_uid.filter(|u| !u.is_empty())
            && uid != old.meta_str("uid")
        {
            return Err(ApiError::conflict_kind(
                &res.group,
                &res.kind,
                name,
                &format!(
                    "the UID in the precondition ({uid}) does not match the UID in record ({}). The object might have been deleted and then recreated",
                    old.meta_str("uid")
                ),
            ));
        }
        if let Some(rv) = pre_rv.filter(|r| !r.is_empty())
            && rv != old.meta_str("resourceVersion")
        {
            return Err(ApiError::conflict_kind(
                &res.group,
                &res.kind,
                name,
                &format!(
                    "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({}). The object might have been modified",
                    old.meta_str("resourceVersion")
                ),
            ));
        }
        if !dry_run {
            g.rv += 1;
            if let Some(t) = g.tables.get_mut(&res.storage_key()) {
                t.remove(&key);
            }
            // the CRD's custom resources go with it
            if crate::crd::is_crd(res)
                && let Some(gone) = self.crds.deleted(name)
            {
                g.tables.remove(&gone);
            }
            if res.group.is_empty() && res.plural == "namespaces" {
                let custom = self.crds.namespaced_keys();
                for (rk, t) in g.tables.iter_mut() {
                    if let Some(r) = discovery::resources()
                        .iter()
                        .find(|r| r.storage_key() == *rk)
                        .map(|r| r.namespaced)
                        .or_else(|| custom.contains(rk).then_some(true))
                        && r
                    {
                        t.retain(|k, _| k.0 != name);
                    }
                }
            }
        }
        Ok(old.typed_value(res))
    }

    /// Names of all objects (for tests and debugging): `(group, plural, namespace, name)`.
    pub fn keys(&self) -> Vec<(String, String, String, String)> {
        let g = self.read();
        let mut out: Vec<_> = g
            .tables
            .iter()
            .flat_map(|((gr, pl), t)| t.keys().map(move |(ns, n)| (gr.clone(), pl.clone(), ns.clone(), n.clone())))
            .collect();
        out.sort();
        out
    }
}

trait PointerName {
    fn pointer_name(&self) -> String;
}

impl PointerName for Map<String, Value> {
    fn pointer_name(&self) -> String {
        self.get("metadata").and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("").to_string()
    }
}

/// A cloneable handle for tests and fault-injection mutations: reads and writes objects
/// exactly as another API client would (validation, resourceVersion bumps, conflicts).
///
/// Resources are named like kubectl does: `secrets`, `secret`, `cm`, `deployments.apps`,
/// `Deployment`, `widgets.shop.example.com`.
#[derive(Clone)]
pub struct StoreHandle {
    pub(crate) store: Arc<Store>,
}

fn resolve(store: &Store, resource: &str) -> Result<&'static Resource, ApiError> {
    store
        .resolve_resource(resource)
        .ok_or_else(|| ApiError::new(404, "NotFound", format!("the server doesn't have a resource type \"{resource}\"")))
}

impl StoreHandle {
    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.store.resource_version()
    }

    /// GET an object (`namespace` is ignored for cluster-scoped resources).
    pub fn get(&self, resource: &str, namespace: &str, name: &str) -> Result<Value, ApiError> {
        let res = resolve(&self.store, resource)?;
        Ok(self.store.get(res, namespace, name)?.typed_value(res))
    }

    /// LIST objects (all namespaces when `namespace` is `None`), with an optional label selector.
    pub fn list(&self, resource: &str, namespace: Option<&str>, label_selector: Option<&str>) -> Result<Vec<Value>, ApiError> {
        let res = resolve(&self.store, resource)?;
        let label = match label_selector {
            Some(s) => Some(LabelSelector::parse(s).map_err(ApiError::bad_request)?),
            None => None,
        };
        let page = self.store.list(res, namespace, &ListQuery { label, ..Default::default() })?;
        Ok(page.items.iter().map(|o| o.typed_value(res)).collect())
    }

    /// Number of stored objects of a resource.
    pub fn count(&self, resource: &str, namespace: Option<&str>) -> usize {
        resolve(&self.store, resource).map(|r| self.store.count(r, namespace)).unwrap_or(0)
    }

    /// CREATE from a full object (`apiVersion`, `kind`, `metadata.namespace` decide where).
    pub fn create(&self, obj: Value) -> Result<Value, ApiError> {
        let res = self.store.resource_of(&obj)?;
        let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default").to_string();
        Ok(self.store.create(res, &ns, obj, &WriteOptions::default())?.object)
    }

    /// UPDATE (PUT semantics: a `metadata.resourceVersion` is a precondition).
    pub fn update(&self, obj: Value) -> Result<Value, ApiError> {
        let res = self.store.resource_of(&obj)?;
        let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default").to_string();
        let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
        Ok(self.store.update(res, &ns, &name, obj, &WriteOptions::default())?.object)
    }

    /// PATCH with the given patch type.
    pub fn patch(&self, resource: &str, namespace: &str, name: &str, ptype: PatchType, patch: &Value) -> Result<Value, ApiError> {
        let res = resolve(&self.store, resource)?;
        let body = serde_json::to_vec(patch).unwrap_or_default();
        let opts = WriteOptions { field_manager: Some("emulator-test".into()), ..Default::default() };
        Ok(self.store.patch(res, namespace, name, ptype, &body, &opts)?.object)
    }

    /// DELETE; returns the deleted object.
    pub fn delete(&self, resource: &str, namespace: &str, name: &str) -> Result<Value, ApiError> {
        let res = resolve(&self.store, resource)?;
        self.store.delete(res, namespace, name, None, None, false)
    }

    /// Creates a namespace if it does not exist yet.
    pub fn ensure_namespace(&self, name: &str) -> Result<(), ApiError> {
        if self.store.namespace_exists(name) {
            return Ok(());
        }
        match self.create(serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})) {
            Ok(_) => Ok(()),
            Err(e) if e.code == 409 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `(group, plural, namespace, name)` of every stored object, sorted.
    pub fn keys(&self) -> Vec<(String, String, String, String)> {
        self.store.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn handle() -> StoreHandle {
        let h = StoreHandle { store: Arc::new(Store::default()) };
        h.ensure_namespace("ns").unwrap();
        h
    }

    fn cm(name: &str, labels: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "ns", "labels": labels}, "data": {"k": "v"}})
    }

    #[test]
    fn pagination_walks_everything_in_order() {
        let h = handle();
        for n in ["e", "a", "c", "b", "d"] {
            h.create(cm(n, json!({}))).unwrap();
        }
        let res = discovery::find("", "v1", "configmaps").unwrap();
        let mut seen = Vec::new();
        let mut tok = None;
        let mut remaining = Vec::new();
        loop {
            let page =
                h.store.list(res, Some("ns"), &ListQuery { limit: Some(2), continue_token: tok.clone(), ..Default::default() }).unwrap();
            seen.extend(page.items.iter().map(|o| o.meta_str("name").to_string()));
            remaining.push(page.remaining);
            match page.continue_token {
                Some(t) => {
                    assert!(!t.contains('='));
                    tok = Some(t)
                }
                None => break,
            }
        }
        assert_eq!(seen, vec!["a", "b", "c", "d", "e"]);
        assert_eq!(remaining, vec![Some(3), Some(1), None]);
        assert!(h.store.list(res, Some("ns"), &ListQuery { continue_token: Some("!!!".into()), ..Default::default() }).is_err());
    }

    #[test]
    fn pagination_across_namespaces_with_selector() {
        let h = handle();
        h.ensure_namespace("other").unwrap();
        for (ns, n, app) in [("ns", "a", "x"), ("ns", "b", "y"), ("other", "a", "x"), ("other", "c", "x")] {
            let mut o = cm(n, json!({"app": app}));
            o["metadata"]["namespace"] = ns.into();
            h.create(o).unwrap();
        }
        let res = discovery::find("", "v1", "configmaps").unwrap();
        let sel = LabelSelector::parse("app=x").unwrap();
        let p1 = h.store.list(res, None, &ListQuery { label: Some(sel.clone()), limit: Some(2), ..Default::default() }).unwrap();
        let names: Vec<_> = p1.items.iter().map(|o| format!("{}/{}", o.meta_str("namespace"), o.meta_str("name"))).collect();
        assert_eq!(names, vec!["ns/a", "other/a"]);
        assert_eq!(p1.remaining, None);
        let p2 = h
            .store
            .list(res, None, &ListQuery { label: Some(sel), limit: Some(2), continue_token: p1.continue_token, ..Default::default() })
            .unwrap();
        assert_eq!(p2.items.len(), 1);
        assert_eq!(p2.items[0].meta_str("name"), "c");
        assert!(p2.continue_token.is_none());
    }

    #[test]
    fn resource_versions_increase_and_conflicts() {
        let h = handle();
        let a = h.create(cm("a", json!({"app": "x"}))).unwrap();
        let rv1: u64 = a["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
        let p = h.patch("cm", "ns", "a", PatchType::Merge, &json!({"metadata": {"labels": {"b": "c"}}})).unwrap();
        let rv2: u64 = p["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
        assert!(rv2 > rv1);
        let mut stale = a.clone();
        stale["data"]["k"] = "w".into();
        assert_eq!(h.update(stale.clone()).unwrap_err().code, 409);
        stale["metadata"].as_object_mut().unwrap().remove("resourceVersion");
        assert_eq!(h.update(stale).unwrap()["data"]["k"], "w");
        // PUT replaces: the label added by the patch is gone again
        assert!(h.get("configmaps", "ns", "a").unwrap()["metadata"]["labels"].get("b").is_none());
        assert_eq!(h.get("configmaps", "ns", "a").unwrap()["metadata"]["uid"], a["metadata"]["uid"]);
    }

    #[test]
    fn namespace_deletion_cascades() {
        let h = handle();
        h.create(cm("a", json!({}))).unwrap();
        assert_eq!(h.count("cm", Some("ns")), 1);
        h.delete("namespaces", "", "ns").unwrap();
        assert_eq!(h.count("cm", None), 0);
        assert_eq!(h.create(cm("a", json!({}))).unwrap_err().code, 404);
    }

    #[test]
    fn generate_name_and_defaults() {
        let h = handle();
        let o = h
            .create(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"generateName": "s-", "namespace": "ns"}, "stringData": {"a": "b"}}))
            .unwrap();
        let name = o["metadata"]["name"].as_str().unwrap();
        assert!(name.starts_with("s-") && name.len() == 7);
        assert_eq!(o["type"], "Opaque");
        assert_eq!(o["data"]["a"], "Yg==");
        let d = h
            .create(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"}, "spec": {"replicas": 1}}))
            .unwrap();
        assert_eq!(d["metadata"]["generation"], 1);
        let d2 = h.patch("deploy", "ns", "web", PatchType::Merge, &json!({"spec": {"replicas": 2}})).unwrap();
        assert_eq!(d2["metadata"]["generation"], 2);
        let d3 = h.patch("deploy", "ns", "web", PatchType::Merge, &json!({"metadata": {"labels": {"a": "b"}}})).unwrap();
        assert_eq!(d3["metadata"]["generation"], 2);
    }
}
