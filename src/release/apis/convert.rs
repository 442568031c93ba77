//! Rewriting stored manifests and hooks for the API versions that replace removed ones.
//!
//! Each YAML document is parsed; a document holding an object of a removed apiVersion is re-emitted with the
//! replacement apiVersion and the field changes the replacement needs to be valid (below). Every other
//! document, and everything between documents (separators, `# Source:` comments), stays byte for byte.
//! Kinds with no replacement (PodSecurityPolicy) are taken out of the text, each with a note.
//!
//! Field changes made (the object stays what the old API version described):
//! - apps/v1 (Deployment, DaemonSet, ReplicaSet, StatefulSet from extensions/v1beta1, apps/v1beta1,
//!   apps/v1beta2): `spec.selector` is required; a missing one is set to the pod template's labels, as the
//!   old versions defaulted it. `spec.rollbackTo` and `spec.templateGeneration` (gone in apps/v1) are dropped.
//! - Ingress: `spec.backend` → `spec.defaultBackend`; `serviceName`/`servicePort` → `service.name` and
//!   `service.port.number` (an integer or a string of digits) or `service.port.name`; a missing
//!   `pathType` becomes `ImplementationSpecific` (what the old versions defaulted).
//! - HorizontalPodAutoscaler from autoscaling/v2beta1: `targetAverageUtilization` → `target {type:
//!   Utilization, averageUtilization}`, `targetAverageValue` → `target {type: AverageValue, averageValue}`,
//!   `metricName`/`selector`/`metricSelector` → `metric {name, selector}`, `object.target` →
//!   `object.describedObject`, `targetValue` → `target {type: Value, value}`, for resource,
//!   containerResource, pods, object and external metrics. autoscaling/v2beta2 has v2's fields already.
//! - CustomResourceDefinition: `spec.version` → `spec.versions` (served, storage); `spec.validation`,
//!   `spec.subresources` and `spec.additionalPrinterColumns` (with `JSONPath` → `jsonPath`) move into each
//!   version; every version gets a schema (`type: object` with `x-kubernetes-preserve-unknown-fields:
//!   true` when there was none, or when `preserveUnknownFields` was not false, which is what v1beta1 did);
//!   nodes with `properties` or `items` but no `type` get `object`/`array` (structural schema);
//!   `uniqueItems: true` (refused by v1) is dropped; `preserveUnknownFields: true` is dropped;
//!   `conversion.webhookClientConfig`/`conversionReviewVersions` → `conversion.webhook.{clientConfig,
//!   conversionReviewVersions}` (default `[v1beta1]`).
//! - Mutating/ValidatingWebhookConfiguration: required in v1: `admissionReviewVersions` (v1beta1's
//!   default `[v1beta1]`) and `sideEffects` (`Unknown` or missing → `None`, `Some` → `NoneOnDryRun`, each
//!   with a note: v1 accepts no other value).
//! - PodDisruptionBudget: an empty `spec.selector` matched no pods in policy/v1beta1 and matches every pod
//!   in policy/v1; it becomes the selector Kubernetes itself converts it to (`matchExpressions` on the key
//!   `pdb.kubernetes.io/deprecated-v1beta1-empty-selector-match` with `Exists`: no pod).
//! - Role/RoleBinding/ClusterRole/ClusterRoleBinding from rbac v1alpha1: `subjects[].apiVersion` →
//!   `apiGroup`.
//! - SubjectAccessReview/LocalSubjectAccessReview: `spec.group` → `spec.groups`.
//! - EndpointSlice: `endpoints[].topology` → `nodeName` (from `kubernetes.io/hostname`) and
//!   `deprecatedTopology`.
//! - PriorityLevelConfiguration from v1beta1/v1beta2: `assuredConcurrencyShares` →
//!   `nominalConcurrencyShares`.
//! - CertificateSigningRequest: a missing `usages` becomes v1beta1's default (`digital signature`, `key
//!   encipherment`); a missing `signerName` cannot be chosen for the user: noted (v1 requires one).
//!
//! Left out on purpose: defaults that differ between the versions but are not required (webhooks'
//! `failurePolicy`, `matchPolicy`, `timeoutSeconds`; DaemonSet and StatefulSet `updateStrategy`; Deployment
//! `revisionHistoryLimit`, `progressDeadlineSeconds`, rolling update sizes). The live objects keep the values
//! the old version defaulted, and pinning them in the stored manifest would make helm's next three-way merge
//! remove them when the chart does not set them. All other kinds of the table change only their apiVersion
//! (their fields are the same in the replacement).

use std::ops::Range;

use serde_json::{Map, Value, json};

use super::{RemovedApi, TextPlace, lookup};

/// An object whose apiVersion was replaced (or, with `to: None`, that was taken out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedObject {
    pub place: TextPlace,
    pub hook: Option<String>,
    pub kind: String,
    pub name: String,
    pub from: String,
    /// The replacement apiVersion; `None` when the kind has none and the object was removed.
    pub to: Option<String>,
}

impl MappedObject {
    /// `Kind/name from→to`, or `Kind/name removed (from, no replacement)`.
    pub fn describe(&self) -> String {
        match &self.to {
            Some(to) => format!("{}/{} {}→{}", self.kind, self.name, self.from, to),
            None => format!("{}/{} removed ({}, no replacement)", self.kind, self.name, self.from),
        }
    }
}

/// A text (manifest or hook) after conversion.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Converted {
    pub text: String,
    pub mapped: Vec<MappedObject>,
    /// Field changes made and things the user should know, one sentence each.
    pub notes: Vec<String>,
}

impl Converted {
    pub fn changed(&self) -> bool {
        !self.mapped.is_empty()
    }
}

/// Byte range of each document of `text` as [`crate::manifest::split_documents`] sees them (slices of the
/// text, so their offsets are exact).
fn document_ranges(text: &str) -> Vec<Range<usize>> {
    let base = text.as_ptr() as usize;
    crate::manifest::split_documents(text)
        .into_iter()
        .map(|d| {
            let start = d.text.as_ptr() as usize - base;
            start..start + d.text.len()
        })
        .collect()
}

/// Convert every object of `text` whose (apiVersion, kind) is in the table and for which `want` says yes.
pub fn convert_text(text: &str, place: TextPlace, hook: Option<&str>, want: &dyn Fn(&RemovedApi) -> bool) -> Converted {
    let mut out = Converted { text: String::with_capacity(text.len()), ..Default::default() };
    let mut at = 0;
    for range in document_ranges(text) {
        let doc = &text[range.clone()];
        let Some(replacement) = convert_document(doc, &place, hook, want, &mut out) else { continue };
        out.text.push_str(&text[at..range.start]);
        out.text.push_str(&replacement);
        at = range.end;
    }
    out.text.push_str(&text[at..]);
    out
}

/// The new text of one document, or `None` when it stays as it is.
fn convert_document(
    doc: &str,
    place: &TextPlace,
    hook: Option<&str>,
    want: &dyn Fn(&RemovedApi) -> bool,
    out: &mut Converted,
) -> Option<String> {
    let mut value: Value = parse_like_go(doc)?;
    let mut mapped = Vec::new();
    let mut notes = Vec::new();
    let keep = match value.get("items").and_then(Value::as_array).is_some() && is_list(&value) {
        true => {
            let items = value.get_mut("items").and_then(Value::as_array_mut)?;
            let mut kept = Vec::with_capacity(items.len());
            for mut item in std::mem::take(items) {
                if convert_value(&mut item, place, hook, want, &mut mapped, &mut notes) {
                    kept.push(item);
                }
            }
            *items = kept;
            true
        }
        false => convert_value(&mut value, place, hook, want, &mut mapped, &mut notes),
    };
    if mapped.is_empty() {
        return None;
    }
    out.mapped.extend(mapped);
    out.notes.extend(notes);
    let source = doc.lines().find(|l| l.trim_start().starts_with("# Source:")).map(|l| format!("{}\n", l.trim()));
    if !keep {
        // Only the comment stays, so `helm get manifest` still shows where the object came from.
        return Some(source.map(|s| format!("{s}# (removed by kubectl-werf: no replacement API)\n")).unwrap_or_default());
    }
    let body = emit_yaml(&value)?;
    Some(format!("{}{body}", source.unwrap_or_default()))
}

/// Read a document as Helm (Go's YAML 1.1 reader) does: `yes`/`on` are booleans, `0755` is octal.
fn parse_like_go(text: &str) -> Option<Value> {
    serde_saphyr::from_str_with_options(text, serde_saphyr::options! { legacy_octal_numbers: true }).ok()
}

fn is_list(v: &Value) -> bool {
    v.get("kind").and_then(Value::as_str).is_some_and(|k| k.ends_with("List")) && v.get("apiVersion").is_some()
}

/// YAML for a converted object, checked to read back as the same value.
fn emit_yaml(value: &Value) -> Option<String> {
    let text = serde_saphyr::to_string(value).ok()?;
    let back: Value = parse_like_go(&text)?;
    (back == *value).then_some(text)
}

/// Convert one object in place. Returns false when it is to be removed (no replacement).
fn convert_value(
    obj: &mut Value,
    place: &TextPlace,
    hook: Option<&str>,
    want: &dyn Fn(&RemovedApi) -> bool,
    mapped: &mut Vec<MappedObject>,
    notes: &mut Vec<String>,
) -> bool {
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_string();
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
    let Some(row) = lookup(&api_version, &kind).filter(|r| want(r)) else { return true };
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let entry = MappedObject {
        place: place.clone(),
        hook: hook.map(String::from),
        kind: kind.clone(),
        name: name.clone(),
        from: api_version.clone(),
        to: row.replacement.clone(),
    };
    if row.replacement.is_none() {
        notes.push(format!(
            "{kind}/{name} taken out of the stored manifest: {api_version} {kind} was removed in Kubernetes {} with no replacement{}",
            row.removed_in,
            if kind == "PodSecurityPolicy" {
                " (Pod Security Admission took its place; see the namespace labels pod-security.kubernetes.io/*)"
            } else {
                ""
            }
        ));
        mapped.push(entry);
        return false;
    }
    for note in convert_object(obj, row) {
        notes.push(format!("{kind}/{name}: {note}"));
    }
    mapped.push(entry);
    true
}

/// Set the replacement apiVersion and make the field changes it needs. Returns notes on what changed
/// beyond the apiVersion. `row` must be the table row of the object's apiVersion and kind.
pub fn convert_object(obj: &mut Value, row: &RemovedApi) -> Vec<String> {
    let mut notes = Vec::new();
    let Some(to) = row.replacement.as_deref() else { return notes };
    let from = row.api_version.as_str();
    if let Some(m) = obj.as_object_mut() {
        m.insert("apiVersion".into(), Value::String(to.to_string()));
    }
    match (row.kind.as_str(), to) {
        ("Deployment" | "DaemonSet" | "ReplicaSet" | "StatefulSet", "apps/v1") => apps_v1(obj, from, &mut notes),
        ("Ingress", _) => ingress(obj, &mut notes),
        ("HorizontalPodAutoscaler", _) if from == "autoscaling/v2beta1" => hpa_v2beta1(obj, &mut notes),
        ("CustomResourceDefinition", _) => crd(obj, &mut notes),
        ("MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration", _) => webhooks(obj, &mut notes),
        ("PodDisruptionBudget", _) => pdb(obj, &mut notes),
        ("Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding", _) if from.ends_with("/v1alpha1") => rbac_subjects(obj, &mut notes),
        ("SubjectAccessReview" | "LocalSubjectAccessReview", _) => rename(obj, "/spec", "group", "groups", &mut notes),
        ("EndpointSlice", _) => endpoint_slice(obj, &mut notes),
        ("PriorityLevelConfiguration", _) if from.ends_with("/v1beta1") || from.ends_with("/v1beta2") => {
            rename(obj, "/spec/limited", "assuredConcurrencyShares", "nominalConcurrencyShares", &mut notes)
        }
        ("CertificateSigningRequest", _) => csr(obj, &mut notes),
        _ => {}
    }
    notes
}

fn at<'a>(obj: &'a mut Value, pointer: &str) -> Option<&'a mut Map<String, Value>> {
    obj.pointer_mut(pointer).and_then(Value::as_object_mut)
}

fn rename(obj: &mut Value, pointer: &str, old: &str, new: &str, notes: &mut Vec<String>) {
    if let Some(m) = at(obj, pointer)
        && let Some(v) = m.remove(old)
    {
        m.insert(new.into(), v);
        notes.push(format!("{}.{old} → {new}", pointer.trim_start_matches('/').replace('/', ".")));
    }
}

fn is_empty_value(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        _ => false,
    }
}

fn apps_v1(obj: &mut Value, from: &str, notes: &mut Vec<String>) {
    let labels = obj.pointer("/spec/template/metadata/labels").filter(|l| l.as_object().is_some_and(|m| !m.is_empty())).cloned();
    let Some(spec) = at(obj, "/spec") else { return };
    for gone in ["rollbackTo", "templateGeneration"] {
        if spec.remove(gone).is_some() {
            notes.push(format!("spec.{gone} dropped (not in apps/v1)"));
        }
    }
    if is_empty_value(spec.get("selector")) {
        match labels {
            Some(labels) => {
                spec.insert("selector".into(), json!({ "matchLabels": labels }));
                notes.push(format!("spec.selector set to the pod template's labels, as {from} defaulted it (apps/v1 requires it)"));
            }
            None => notes.push("no spec.selector and no pod template labels: apps/v1 refuses this object".into()),
        }
    }
}

fn ingress_backend(b: &mut Value) -> bool {
    let Some(m) = b.as_object_mut() else { return false };
    let name = m.remove("serviceName");
    let port = m.remove("servicePort");
    if name.is_none() && port.is_none() {
        return false;
    }
    let mut service = Map::new();
    if let Some(n) = name {
        service.insert("name".into(), n);
    }
    if let Some(p) = port {
        let port = match p {
            Value::Number(n) => json!({ "number": n }),
            Value::String(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) => match s.parse::<u64>() {
                Ok(n) => json!({ "number": n }),
                Err(_) => json!({ "name": s }),
            },
            Value::String(s) => json!({ "name": s }),
            other => json!({ "name": other }),
        };
        service.insert("port".into(), port);
    }
    m.insert("service".into(), Value::Object(service));
    true
}

fn ingress(obj: &mut Value, notes: &mut Vec<String>) {
    let Some(spec) = at(obj, "/spec") else { return };
    if let Some(mut b) = spec.remove("backend") {
        ingress_backend(&mut b);
        spec.insert("defaultBackend".into(), b);
        notes.push("spec.backend → spec.defaultBackend".into());
    }
    let mut services = 0;
    let mut path_types = 0;
    if let Some(rules) = spec.get_mut("rules").and_then(Value::as_array_mut) {
        for rule in rules {
            let Some(paths) = rule.pointer_mut("/http/paths").and_then(Value::as_array_mut) else { continue };
            for p in paths {
                let Some(pm) = p.as_object_mut() else { continue };
                if let Some(b) = pm.get_mut("backend")
                    && ingress_backend(b)
                {
                    services += 1;
                }
                if is_empty_value(pm.get("pathType")) {
                    pm.insert("pathType".into(), "ImplementationSpecific".into());
                    path_types += 1;
                }
            }
        }
    }
    if let Some(b) = spec.get_mut("defaultBackend") {
        ingress_backend(b);
    }
    if services > 0 {
        notes.push(format!("{services} path backend(s): serviceName/servicePort → service.name/service.port"));
    }
    if path_types > 0 {
        notes.push(format!("{path_types} path(s) without pathType: ImplementationSpecific (the old default)"));
    }
}

/// `{type: Utilization|AverageValue|Value, ...}` from v2beta1's target fields.
fn hpa_target(m: &mut Map<String, Value>, utilization: &str, average: &str, value: &str) -> Option<Value> {
    if let Some(u) = m.remove(utilization) {
        return Some(json!({"type": "Utilization", "averageUtilization": u}));
    }
    if let Some(a) = m.remove(average) {
        return Some(json!({"type": "AverageValue", "averageValue": a}));
    }
    m.remove(value).map(|v| json!({"type": "Value", "value": v}))
}

fn hpa_v2beta1(obj: &mut Value, notes: &mut Vec<String>) {
    let Some(metrics) = obj.pointer_mut("/spec/metrics").and_then(Value::as_array_mut) else { return };
    let mut converted = 0;
    for metric in metrics {
        let ty = metric.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
        let key = match ty.as_str() {
            "Resource" => "resource",
            "ContainerResource" => "containerResource",
            "Pods" => "pods",
            "Object" => "object",
            "External" => "external",
            _ => continue,
        };
        let Some(src) = metric.get_mut(key).and_then(Value::as_object_mut) else { continue };
        match key {
            "resource" | "containerResource" => {
                if let Some(t) = hpa_target(src, "targetAverageUtilization", "targetAverageValue", "targetValue") {
                    src.insert("target".into(), t);
                }
            }
            "pods" => {
                let mut id = Map::new();
                if let Some(n) = src.remove("metricName") {
                    id.insert("name".into(), n);
                }
                if let Some(s) = src.remove("selector") {
                    id.insert("selector".into(), s);
                }
                let target = hpa_target(src, "targetAverageUtilization", "targetAverageValue", "targetValue");
                src.insert("metric".into(), Value::Object(id));
                if let Some(t) = target {
                    src.insert("target".into(), t);
                }
            }
            "object" => {
                let described = src.remove("target");
                let mut id = Map::new();
                if let Some(n) = src.remove("metricName") {
                    id.insert("name".into(), n);
                }
                if let Some(s) = src.remove("selector") {
                    id.insert("selector".into(), s);
                }
                // v2beta1: averageValue (per pod) wins over targetValue when both are set.
                let target = match src.remove("averageValue") {
                    Some(a) => {
                        src.remove("targetValue");
                        Some(json!({"type": "AverageValue", "averageValue": a}))
                    }
                    None => src.remove("targetValue").map(|v| json!({"type": "Value", "value": v})),
                };
                if let Some(d) = described {
                    src.insert("describedObject".into(), d);
                }
                src.insert("metric".into(), Value::Object(id));
                if let Some(t) = target {
                    src.insert("target".into(), t);
                }
            }
            _ => {
                let mut id = Map::new();
                if let Some(n) = src.remove("metricName") {
                    id.insert("name".into(), n);
                }
                if let Some(s) = src.remove("metricSelector") {
                    id.insert("selector".into(), s);
                }
                let target = hpa_target(src, "targetAverageUtilization", "targetAverageValue", "targetValue");
                src.insert("metric".into(), Value::Object(id));
                if let Some(t) = target {
                    src.insert("target".into(), t);
                }
            }
        }
        converted += 1;
    }
    if converted > 0 {
        notes.push(format!("{converted} metric(s): v2beta1 target fields → target {{type, averageUtilization|averageValue|value}}, metricName → metric.name"));
    }
}

/// Make a v1beta1 schema structural enough for v1: types on nodes that imply one, no `uniqueItems: true`.
fn structural(schema: &mut Value, fixes: &mut usize) {
    let Some(m) = schema.as_object_mut() else { return };
    if !m.contains_key("type")
        && !m.contains_key("x-kubernetes-int-or-string")
        && !m.contains_key("anyOf")
        && !m.contains_key("allOf")
        && !m.contains_key("oneOf")
    {
        if m.contains_key("properties") || m.contains_key("additionalProperties") {
            m.insert("type".into(), "object".into());
            *fixes += 1;
        } else if m.contains_key("items") {
            m.insert("type".into(), "array".into());
            *fixes += 1;
        }
    }
    if m.get("uniqueItems") == Some(&Value::Bool(true)) {
        m.remove("uniqueItems");
        *fixes += 1;
    }
    for key in ["properties", "patternProperties", "definitions"] {
        if let Some(props) = m.get_mut(key).and_then(Value::as_object_mut) {
            for v in props.values_mut() {
                structural(v, fixes);
            }
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(v) = m.get_mut(key) {
            match v {
                Value::Array(a) => a.iter_mut().for_each(|x| structural(x, fixes)),
                other => structural(other, fixes),
            }
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(a) = m.get_mut(key).and_then(Value::as_array_mut) {
            a.iter_mut().for_each(|x| structural(x, fixes));
        }
    }
}

fn crd(obj: &mut Value, notes: &mut Vec<String>) {
    let Some(spec) = at(obj, "/spec") else { return };
    let validation = spec.remove("validation").and_then(|v| v.get("openAPIV3Schema").cloned());
    let subresources = spec.remove("subresources");
    let columns = spec.remove("additionalPrinterColumns");
    let preserve = spec.remove("preserveUnknownFields");
    let keep_unknown = preserve != Some(Value::Bool(false));
    if let Some(Value::Bool(false)) = preserve {
        spec.insert("preserveUnknownFields".into(), Value::Bool(false));
    }
    let single = spec.remove("version");
    let mut versions: Vec<Value> = spec.get("versions").and_then(Value::as_array).cloned().unwrap_or_default();
    if versions.is_empty()
        && let Some(v) = single
    {
        versions.push(json!({"name": v, "served": true, "storage": true}));
        notes.push("spec.version → spec.versions".into());
    }
    let mut fixes = 0;
    let mut gave_schema = 0;
    for version in &mut versions {
        let Some(vm) = version.as_object_mut() else { continue };
        let mut schema = vm.get("schema").and_then(|s| s.get("openAPIV3Schema")).cloned().or_else(|| validation.clone());
        if schema.is_none() {
            gave_schema += 1;
        }
        let s = schema.get_or_insert_with(|| json!({"type": "object"}));
        structural(s, &mut fixes);
        if let Some(sm) = s.as_object_mut() {
            if !sm.contains_key("type") {
                sm.insert("type".into(), "object".into());
                fixes += 1;
            }
            if keep_unknown && !sm.contains_key("x-kubernetes-preserve-unknown-fields") {
                sm.insert("x-kubernetes-preserve-unknown-fields".into(), Value::Bool(true));
            }
        }
        vm.insert("schema".into(), json!({"openAPIV3Schema": s}));
        if !vm.contains_key("subresources")
            && let Some(sub) = &subresources
        {
            vm.insert("subresources".into(), sub.clone());
        }
        if let Some(cols) = vm.get("additionalPrinterColumns").cloned().or_else(|| columns.clone()) {
            let cols = cols
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|c| {
                            let mut c = c.clone();
                            if let Some(cm) = c.as_object_mut()
                                && let Some(p) = cm.remove("JSONPath")
                            {
                                cm.insert("jsonPath".into(), p);
                            }
                            c
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            vm.insert("additionalPrinterColumns".into(), Value::Array(cols));
        }
    }
    spec.insert("versions".into(), Value::Array(versions));
    if let Some(conv) = spec.get_mut("conversion").and_then(Value::as_object_mut) {
        let client = conv.remove("webhookClientConfig");
        let review = conv.remove("conversionReviewVersions");
        if conv.get("strategy").and_then(Value::as_str) == Some("Webhook") || client.is_some() {
            let mut webhook = Map::new();
            if let Some(c) = client {
                webhook.insert("clientConfig".into(), c);
            }
            webhook.insert("conversionReviewVersions".into(), review.unwrap_or_else(|| json!(["v1beta1"])));
            conv.insert("webhook".into(), Value::Object(webhook));
            notes.push("spec.conversion.webhookClientConfig → spec.conversion.webhook.clientConfig".into());
        }
    }
    if validation.is_some() {
        notes.push("spec.validation → spec.versions[].schema".into());
    }
    if subresources.is_some() || columns.is_some() {
        notes.push("spec.subresources/additionalPrinterColumns → spec.versions[]".into());
    }
    if gave_schema > 0 {
        notes.push(format!(
            "{gave_schema} version(s) without a schema get {{type: object, x-kubernetes-preserve-unknown-fields: true}} (v1 requires one)"
        ));
    } else if keep_unknown {
        notes.push("preserveUnknownFields was not false: x-kubernetes-preserve-unknown-fields: true at the schema root keeps unknown fields, as v1beta1 did".into());
    }
    if fixes > 0 {
        notes.push(format!("{fixes} schema node(s) made structural (type added, uniqueItems dropped)"));
    }
}

fn webhooks(obj: &mut Value, notes: &mut Vec<String>) {
    let Some(list) = obj.get_mut("webhooks").and_then(Value::as_array_mut) else { return };
    for w in list {
        let Some(m) = w.as_object_mut() else { continue };
        let name = m.get("name").and_then(Value::as_str).unwrap_or("?").to_string();
        if is_empty_value(m.get("admissionReviewVersions"))
            || m.get("admissionReviewVersions").and_then(Value::as_array).is_some_and(Vec::is_empty)
        {
            m.insert("admissionReviewVersions".into(), json!(["v1beta1"]));
            notes.push(format!("webhook {name}: admissionReviewVersions [v1beta1] (the v1beta1 default; v1 requires it)"));
        }
        let side = m.get("sideEffects").and_then(Value::as_str).map(String::from);
        let new = match side.as_deref() {
            None | Some("Unknown") => Some("None"),
            Some("Some") => Some("NoneOnDryRun"),
            _ => None,
        };
        if let Some(new) = new {
            m.insert("sideEffects".into(), new.into());
            notes.push(format!(
                "webhook {name}: sideEffects {} → {new} (v1 accepts only None or NoneOnDryRun; make sure the webhook behaves so)",
                side.as_deref().unwrap_or("unset (Unknown)")
            ));
        }
    }
}

/// `policy.NonV1beta1MatchNoneSelector`: what Kubernetes converts an empty v1beta1 selector to.
pub const PDB_MATCH_NONE_KEY: &str = "pdb.kubernetes.io/deprecated-v1beta1-empty-selector-match";

fn pdb(obj: &mut Value, notes: &mut Vec<String>) {
    let Some(spec) = at(obj, "/spec") else { return };
    let Some(selector) = spec.get("selector") else { return };
    let empty = match selector {
        Value::Object(m) => {
            is_empty_value(m.get("matchLabels")) && m.get("matchExpressions").and_then(Value::as_array).is_none_or(Vec::is_empty)
        }
        _ => false,
    };
    if empty {
        spec.insert("selector".into(), json!({"matchExpressions": [{"key": PDB_MATCH_NONE_KEY, "operator": "Exists"}]}));
        notes.push(format!(
            "empty spec.selector (no pod in policy/v1beta1, every pod in policy/v1) → the match-nothing selector Kubernetes uses ({PDB_MATCH_NONE_KEY} Exists)"
        ));
    }
}

fn rbac_subjects(obj: &mut Value, notes: &mut Vec<String>) {
    let Some(subjects) = obj.get_mut("subjects").and_then(Value::as_array_mut) else { return };
    let mut n = 0;
    for s in subjects {
        let Some(m) = s.as_object_mut() else { continue };
        if m.remove("apiVersion").is_some() || !m.contains_key("apiGroup") {
            let kind = m.get("kind").and_then(Value::as_str).unwrap_or_default();
            if kind == "User" || kind == "Group" {
                m.insert("apiGroup".into(), "rbac.authorization.k8s.io".into());
            }
            n += 1;
        }
    }
    if n > 0 {
        notes.push(format!("{n} subject(s): apiVersion → apiGroup"));
    }
}

fn endpoint_slice(obj: &mut Value, notes: &mut Vec<String>) {
    let Some(endpoints) = obj.get_mut("endpoints").and_then(Value::as_array_mut) else { return };
    let mut n = 0;
    for e in endpoints {
        let Some(m) = e.as_object_mut() else { continue };
        let Some(Value::Object(mut topology)) = m.remove("topology") else { continue };
        if let Some(host) = topology.remove("kubernetes.io/hostname")
            && !m.contains_key("nodeName")
        {
            m.insert("nodeName".into(), host);
        }
        if !topology.is_empty() {
            m.insert("deprecatedTopology".into(), Value::Object(topology));
        }
        n += 1;
    }
    if n > 0 {
        notes.push(format!("{n} endpoint(s): topology → nodeName/deprecatedTopology"));
    }
}

fn csr(obj: &mut Value, notes: &mut Vec<String>) {
    let Some(spec) = at(obj, "/spec") else { return };
    if is_empty_value(spec.get("usages")) {
        spec.insert("usages".into(), json!(["digital signature", "key encipherment"]));
        notes.push("spec.usages set to v1beta1's default (digital signature, key encipherment)".into());
    }
    if is_empty_value(spec.get("signerName")) {
        notes.push("no spec.signerName: certificates.k8s.io/v1 requires one and it cannot be chosen here; set it in the chart".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::apis::table;

    fn all(_: &RemovedApi) -> bool {
        true
    }

    fn one(yaml: &str) -> (Value, Vec<String>) {
        let c = convert_text(yaml, TextPlace::Manifest, None, &all);
        let objects: Vec<_> = crate::manifest::parse_objects(&c.text, true).into_iter().map(Result::unwrap).collect();
        assert_eq!(objects.len(), 1, "{}", c.text);
        (objects[0].object.clone(), c.notes)
    }

    #[test]
    fn untouched_documents_stay_byte_for_byte() {
        let text = "---\n# Source: c/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a  # a comment\ndata:\n  on: yes\n---\n# Source: c/templates/pdb.yaml\napiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata:\n  name: b\nspec:\n  minAvailable: 1\n  selector:\n    matchLabels:\n      app: b\n---\n# Source: c/templates/svc.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: c\n";
        let c = convert_text(text, TextPlace::Manifest, None, &all);
        assert_eq!(c.mapped.len(), 1);
        assert_eq!(c.mapped[0].describe(), "PodDisruptionBudget/b policy/v1beta1→policy/v1");
        let pdb_start = text.find("---\n# Source: c/templates/pdb.yaml").unwrap();
        let svc_start = text.find("---\n# Source: c/templates/svc.yaml").unwrap();
        assert!(c.text.starts_with(&text[..pdb_start + 4]), "{}", c.text);
        assert!(c.text.ends_with(&text[svc_start..]));
        assert!(c.text.contains("# Source: c/templates/pdb.yaml\napiVersion: policy/v1\n"), "{}", c.text);
        // Nothing to do: the very same text.
        let none = convert_text(text, TextPlace::Manifest, None, &|_| false);
        assert_eq!(none.text, text);
        assert!(!none.changed());
    }

    #[test]
    fn yaml_1_1_words_stay_strings() {
        let text = "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata:\n  name: d\n  annotations:\n    a: \"yes\"\n    b: \"on\"\n    c: \"0755\"\n    d: \"1e3\"\n    e: \"null\"\n    f: \"~\"\n    g: \"2001-12-14\"\nspec:\n  template:\n    metadata:\n      labels: {app: d}\n    spec:\n      containers: [{name: c, image: nginx, args: [\"--x=1\", \"y\", \"N\"]}]\n";
        let (obj, _) = one(text);
        for (k, v) in [("a", "yes"), ("b", "on"), ("c", "0755"), ("d", "1e3"), ("e", "null"), ("f", "~"), ("g", "2001-12-14")] {
            assert_eq!(obj["metadata"]["annotations"][k], v, "{k}");
        }
        assert_eq!(obj["spec"]["template"]["spec"]["containers"][0]["args"], json!(["--x=1", "y", "N"]));
        let emitted = serde_saphyr::to_string(&obj).unwrap();
        for word in ["'yes'", "'on'", "'y'", "'N'"] {
            assert!(emitted.contains(word) || emitted.contains(&word.replace('\'', "\"")), "{word} unquoted in\n{emitted}");
        }
    }

    #[test]
    fn numbers_and_booleans_read_as_go_reads_them() {
        let (obj, _) = one(
            "apiVersion: apps/v1beta1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    metadata:\n      labels: {app: d}\n    spec:\n      hostNetwork: yes\n      volumes:\n      - name: v\n        configMap: {name: c, defaultMode: 0755}\n",
        );
        assert_eq!(obj["spec"]["template"]["spec"]["volumes"][0]["configMap"]["defaultMode"], 493);
        assert_eq!(obj["spec"]["template"]["spec"]["hostNetwork"], true);
    }

    #[test]
    fn apps_selector_comes_from_the_template_labels() {
        let (obj, notes) = one(
            "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  rollbackTo: {revision: 2}\n  template:\n    metadata:\n      labels: {app: d, tier: web}\n    spec:\n      containers: [{name: c, image: nginx}]\n",
        );
        assert_eq!(obj["apiVersion"], "apps/v1");
        assert_eq!(obj["spec"]["selector"], json!({"matchLabels": {"app": "d", "tier": "web"}}));
        assert!(obj["spec"].get("rollbackTo").is_none());
        assert_eq!(notes.len(), 2, "{notes:?}");
        // An explicit selector is kept.
        let (obj, _) = one(
            "apiVersion: apps/v1beta2\nkind: StatefulSet\nmetadata: {name: s}\nspec:\n  serviceName: s\n  selector: {matchLabels: {app: s}}\n  template:\n    metadata:\n      labels: {app: s, x: y}\n",
        );
        assert_eq!(obj["spec"]["selector"], json!({"matchLabels": {"app": "s"}}));
    }

    #[test]
    fn ingress_backends_and_path_types() {
        let (obj, _) = one(
            "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: i}\nspec:\n  backend: {serviceName: def, servicePort: 80}\n  rules:\n  - host: a.example.com\n    http:\n      paths:\n      - path: /\n        backend: {serviceName: web, servicePort: http}\n      - path: /api\n        pathType: Prefix\n        backend: {serviceName: api, servicePort: \"8080\"}\n",
        );
        assert_eq!(obj["apiVersion"], "networking.k8s.io/v1");
        assert_eq!(obj["spec"]["defaultBackend"], json!({"service": {"name": "def", "port": {"number": 80}}}));
        assert!(obj["spec"].get("backend").is_none());
        let paths = &obj["spec"]["rules"][0]["http"]["paths"];
        assert_eq!(paths[0]["backend"], json!({"service": {"name": "web", "port": {"name": "http"}}}));
        assert_eq!(paths[0]["pathType"], "ImplementationSpecific");
        assert_eq!(paths[1]["backend"], json!({"service": {"name": "api", "port": {"number": 8080}}}));
        assert_eq!(paths[1]["pathType"], "Prefix");
    }

    #[test]
    fn hpa_v2beta1_metrics() {
        let (obj, _) = one(
            "apiVersion: autoscaling/v2beta1\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: d}\n  minReplicas: 1\n  maxReplicas: 5\n  metrics:\n  - type: Resource\n    resource: {name: cpu, targetAverageUtilization: 60}\n  - type: Resource\n    resource: {name: memory, targetAverageValue: 200Mi}\n  - type: Pods\n    pods: {metricName: qps, targetAverageValue: \"10\"}\n  - type: Object\n    object:\n      target: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: main}\n      metricName: requests\n      targetValue: 2k\n  - type: External\n    external: {metricName: queue, metricSelector: {matchLabels: {q: a}}, targetAverageValue: 30}\n",
        );
        assert_eq!(obj["apiVersion"], "autoscaling/v2");
        let m = &obj["spec"]["metrics"];
        assert_eq!(m[0]["resource"], json!({"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}));
        assert_eq!(m[1]["resource"], json!({"name": "memory", "target": {"type": "AverageValue", "averageValue": "200Mi"}}));
        assert_eq!(m[2]["pods"], json!({"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}));
        assert_eq!(
            m[3]["object"],
            json!({"describedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "main"}, "metric": {"name": "requests"}, "target": {"type": "Value", "value": "2k"}})
        );
        assert_eq!(
            m[4]["external"],
            json!({"metric": {"name": "queue", "selector": {"matchLabels": {"q": "a"}}}, "target": {"type": "AverageValue", "averageValue": 30}})
        );
        // v2beta2 has v2's fields: only the apiVersion changes.
        let text = "apiVersion: autoscaling/v2beta2\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\nspec:\n  maxReplicas: 3\n  metrics:\n  - type: Resource\n    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}\n";
        let (obj2, notes) = one(text);
        assert!(notes.is_empty());
        assert_eq!(obj2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 50);
    }

    #[test]
    fn crd_v1beta1_to_v1() {
        let (obj, notes) = one(
            "apiVersion: apiextensions.k8s.io/v1beta1\nkind: CustomResourceDefinition\nmetadata: {name: gadgets.example.com}\nspec:\n  group: example.com\n  version: v1alpha1\n  scope: Namespaced\n  names: {plural: gadgets, singular: gadget, kind: Gadget}\n  subresources: {status: {}}\n  additionalPrinterColumns:\n  - {name: Size, type: integer, JSONPath: .spec.size}\n  validation:\n    openAPIV3Schema:\n      properties:\n        spec:\n          properties:\n            size: {type: integer}\n            tags: {items: {type: string}, uniqueItems: true}\n",
        );
        assert_eq!(obj["apiVersion"], "apiextensions.k8s.io/v1");
        let spec = &obj["spec"];
        assert!(spec.get("version").is_none() && spec.get("validation").is_none() && spec.get("subresources").is_none());
        let v = &spec["versions"][0];
        assert_eq!((v["name"].as_str(), v["served"].as_bool(), v["storage"].as_bool()), (Some("v1alpha1"), Some(true), Some(true)));
        let schema = &v["schema"]["openAPIV3Schema"];
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["x-kubernetes-preserve-unknown-fields"], true);
        assert_eq!(schema["properties"]["spec"]["type"], "object");
        assert_eq!(schema["properties"]["spec"]["properties"]["tags"], json!({"items": {"type": "string"}, "type": "array"}));
        assert_eq!(v["subresources"], json!({"status": {}}));
        assert_eq!(v["additionalPrinterColumns"], json!([{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]));
        assert!(notes.iter().any(|n| n.contains("structural")), "{notes:?}");
    }

    #[test]
    fn webhooks_get_what_v1_requires() {
        let (obj, notes) = one(
            "apiVersion: admissionregistration.k8s.io/v1beta1\nkind: ValidatingWebhookConfiguration\nmetadata: {name: w}\nwebhooks:\n- name: a.example.com\n  failurePolicy: Ignore\n  clientConfig: {service: {name: s, namespace: n}}\n- name: b.example.com\n  sideEffects: Some\n  admissionReviewVersions: [v1]\n  clientConfig: {url: \"https://x.example.com\"}\n",
        );
        let w = &obj["webhooks"];
        assert_eq!((w[0]["admissionReviewVersions"].clone(), w[0]["sideEffects"].clone()), (json!(["v1beta1"]), json!("None")));
        assert_eq!(w[0]["failurePolicy"], "Ignore");
        assert!(w[0].get("matchPolicy").is_none(), "defaults are not pinned");
        assert_eq!((w[1]["admissionReviewVersions"].clone(), w[1]["sideEffects"].clone()), (json!(["v1"]), json!("NoneOnDryRun")));
        assert_eq!(notes.len(), 3, "{notes:?}");
    }

    #[test]
    fn pdb_empty_selector_keeps_matching_nothing() {
        let (obj, notes) =
            one("apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: p}\nspec:\n  maxUnavailable: 1\n  selector: {}\n");
        assert_eq!(obj["spec"]["selector"], json!({"matchExpressions": [{"key": PDB_MATCH_NONE_KEY, "operator": "Exists"}]}));
        assert_eq!(notes.len(), 1);
        let (obj, notes) = one(
            "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: p}\nspec:\n  maxUnavailable: 1\n  selector: {matchLabels: {app: p}}\n",
        );
        assert_eq!(obj["spec"]["selector"], json!({"matchLabels": {"app": "p"}}));
        assert!(notes.is_empty());
    }

    #[test]
    fn psp_is_taken_out_with_its_source_comment_kept() {
        let text = "---\n# Source: c/templates/psp.yaml\napiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata:\n  name: restricted\nspec:\n  privileged: false\n---\n# Source: c/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";
        let c = convert_text(text, TextPlace::Manifest, None, &all);
        assert_eq!(c.mapped[0].describe(), "PodSecurityPolicy/restricted removed (policy/v1beta1, no replacement)");
        assert!(c.notes[0].contains("no replacement"), "{:?}", c.notes);
        let objects: Vec<_> = crate::manifest::parse_objects(&c.text, true).into_iter().map(Result::unwrap).collect();
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].kind, "ConfigMap");
        assert!(c.text.contains("# Source: c/templates/psp.yaml"));
    }

    #[test]
    fn lists_convert_their_items() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: rbac.authorization.k8s.io/v1alpha1\n  kind: RoleBinding\n  metadata: {name: rb}\n  roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\n  subjects:\n  - {kind: User, name: alice, apiVersion: rbac.authorization.k8s.io/v1alpha1}\n  - {kind: ServiceAccount, name: sa, namespace: x}\n- apiVersion: extensions/v1beta1\n  kind: PodSecurityPolicy\n  metadata: {name: p}\n";
        let c = convert_text(text, TextPlace::Manifest, None, &all);
        assert_eq!(c.mapped.len(), 2);
        let objects: Vec<_> = crate::manifest::parse_objects(&c.text, true).into_iter().map(Result::unwrap).collect();
        assert_eq!(objects.len(), 1);
        assert_eq!(
            objects[0].object["subjects"],
            json!([{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}, {"kind": "ServiceAccount", "name": "sa", "namespace": "x"}])
        );
    }

    #[test]
    fn only_the_wanted_rows_are_mapped() {
        let text = "apiVersion: autoscaling/v2beta2\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\n---\napiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: p}\n";
        let c = convert_text(text, TextPlace::Hook, Some("h"), &|r| r.removed_in <= crate::release::apis::KubeVersion::new(1, 25));
        assert_eq!(c.mapped.len(), 1);
        assert_eq!(
            (c.mapped[0].kind.as_str(), c.mapped[0].place.clone(), c.mapped[0].hook.as_deref()),
            ("PodDisruptionBudget", TextPlace::Hook, Some("h"))
        );
        assert!(c.text.starts_with("apiVersion: autoscaling/v2beta2\n"));
    }

    #[test]
    fn every_row_with_a_replacement_converts() {
        for row in table() {
            let text = format!("apiVersion: {}\nkind: {}\nmetadata:\n  name: x\n", row.api_version, row.kind);
            let c = convert_text(&text, TextPlace::Manifest, None, &all);
            assert_eq!(c.mapped.len(), 1, "{} {}", row.api_version, row.kind);
            let objects: Vec<_> = crate::manifest::parse_objects(&c.text, true).into_iter().map(Result::unwrap).collect();
            match &row.replacement {
                Some(rep) => assert_eq!(&objects[0].api_version, rep),
                None => assert!(objects.is_empty()),
            }
        }
    }
}
