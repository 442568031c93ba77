//! `metadata.generation`, as kube-apiserver 1.36 keeps it. Captured from the real server (create each kind,
//! then change its annotations, its labels, its spec, its status): each registry strategy decides for its
//! own kind, so this is a table, not one rule.
//!
//! - Kinds with a generation start at 1; all others have none ([`has_generation`]).
//! - A write bumps it by one when anything outside `metadata` changed, `status` excepted where the kind
//!   serves a status subresource (a custom resource without one counts a status change too).
//! - Besides: a Deployment's annotation change bumps it (its strategy copies annotations to the
//!   ReplicaSets, so they count like the template), an EndpointSlice's label change does, and a
//!   PriorityClass never changes generation after create.

use serde_json::Value;

use crate::discovery::Resource;

/// `(group, plural)` of the built-in kinds the real server gives a generation.
const WITH_GENERATION: &[(&str, &str)] = &[
    ("", "pods"),
    ("", "replicationcontrollers"),
    ("", "podtemplates"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("policy", "poddisruptionbudgets"),
    ("networking.k8s.io", "ingresses"),
    ("networking.k8s.io", "ingressclasses"),
    ("networking.k8s.io", "networkpolicies"),
    ("discovery.k8s.io", "endpointslices"),
    ("scheduling.k8s.io", "priorityclasses"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"),
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"),
    ("flowcontrol.apiserver.k8s.io", "flowschemas"),
    ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"),
    ("resource.k8s.io", "deviceclasses"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
];

/// The kind gets `metadata.generation: 1` on create.
pub fn has_generation(res: &Resource) -> bool {
    res.custom || WITH_GENERATION.contains(&(res.group.as_str(), res.plural.as_str()))
}

fn is(res: &Resource, group: &str, plural: &str) -> bool {
    res.group == group && res.plural == plural
}

/// A write from `old` to `new` (whole objects) bumps the generation.
pub fn bumps(res: &Resource, old: &Value, new: &Value) -> bool {
    if is(res, "scheduling.k8s.io", "priorityclasses") {
        return false;
    }
    let status_is_separate = !res.custom || res.subresources.iter().any(|s| s == "status");
    let content = |v: &Value| -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter(|(k, _)| !(matches!(k.as_str(), "metadata" | "kind" | "apiVersion") || (status_is_separate && *k == "status")))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            o => o.clone(),
        }
    };
    // an absent map and an empty one are the same to the server's semantic comparison
    let meta_map =
        |v: &Value, key: &str| v.pointer(&format!("/metadata/{key}")).cloned().filter(|m| m.as_object().is_some_and(|m| !m.is_empty()));
    content(old) != content(new)
        || (is(res, "apps", "deployments") && meta_map(old, "annotations") != meta_map(new, "annotations"))
        || (is(res, "discovery.k8s.io", "endpointslices") && meta_map(old, "labels") != meta_map(new, "labels"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn res(group: &str, plural: &str) -> &'static Resource {
        crate::discovery::resources().iter().find(|r| r.group == group && r.plural == plural && r.preferred).unwrap()
    }

    #[test]
    fn the_captured_rules() {
        assert!(has_generation(res("", "pods")) && has_generation(res("scheduling.k8s.io", "priorityclasses")));
        assert!(!has_generation(res("autoscaling", "horizontalpodautoscalers")) && !has_generation(res("apps", "controllerrevisions")));
        let d = res("apps", "deployments");
        let base = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 1}, "status": {"replicas": 0}});
        let with = |p: &str, v: Value| {
            let mut o = base.clone();
            *o.pointer_mut(p).unwrap() = v;
            o
        };
        assert!(!bumps(d, &base, &with("/metadata/labels", json!({"a": "2"}))));
        assert!(bumps(
            d,
            &base,
            &json!({"metadata": {"labels": {"a": "1"}, "annotations": {"x": "y"}}, "spec": {"replicas": 1}, "status": {"replicas": 0}})
        ));
        assert!(
            !bumps(
                d,
                &base,
                &json!({"metadata": {"labels": {"a": "1"}, "annotations": {}}, "spec": {"replicas": 1}, "status": {"replicas": 0}})
            ),
            "empty = absent"
        );
        assert!(bumps(d, &base, &with("/spec/replicas", json!(2))));
        assert!(!bumps(d, &base, &with("/status/replicas", json!(1))));
        let es = res("discovery.k8s.io", "endpointslices");
        assert!(bumps(es, &base, &with("/metadata/labels", json!({"a": "2"}))));
        assert!(!bumps(
            res("scheduling.k8s.io", "priorityclasses"),
            &json!({"value": 1, "description": "a"}),
            &json!({"value": 1, "description": "b"})
        ));
    }
}
