//! What one object needs: the keys whose live values differ from the request, and what Helm will do to
//! them later. Pure functions.

use std::collections::BTreeMap;

use serde_json::Value;

use super::inputs::{Changes, Field};
use crate::names::{self, NameError, TOTAL_ANNOTATION_SIZE_LIMIT};

/// The part of the change set an object still needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectPlan {
    pub set_labels: BTreeMap<String, String>,
    pub remove_labels: Vec<String>,
    pub set_annotations: BTreeMap<String, String>,
    pub remove_annotations: Vec<String>,
}

impl ObjectPlan {
    pub fn is_empty(&self) -> bool {
        self.set_labels.is_empty() && self.remove_labels.is_empty() && self.set_annotations.is_empty() && self.remove_annotations.is_empty()
    }

    /// The JSON merge patch for this plan, with the resourceVersion precondition.
    pub fn patch(&self, resource_version: Option<&str>) -> Value {
        crate::ownership::metadata_patch(
            &self.set_labels,
            &self.remove_labels,
            &self.set_annotations,
            &self.remove_annotations,
            resource_version,
        )
    }

    /// `+2 annotations, -1 label` for the report.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        for (sign, n, what) in [
            ("+", self.set_annotations.len(), "annotation"),
            ("+", self.set_labels.len(), "label"),
            ("-", self.remove_annotations.len(), "annotation"),
            ("-", self.remove_labels.len(), "label"),
        ] {
            if n > 0 {
                parts.push(format!("{sign}{n} {what}{}", if n == 1 { "" } else { "s" }));
            }
        }
        parts.join(", ")
    }
}

/// Compare the live labels and annotations with the change set. Errors when the object's annotations would
/// exceed Kubernetes' 256 KiB total.
pub fn plan_object(
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
    changes: &Changes,
) -> Result<ObjectPlan, NameError> {
    let differing = |live: &BTreeMap<String, String>, want: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        want.iter().filter(|(k, v)| live.get(*k) != Some(*v)).map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    let present = |live: &BTreeMap<String, String>, keys: &std::collections::BTreeSet<String>| -> Vec<String> {
        keys.iter().filter(|k| live.contains_key(*k)).cloned().collect()
    };
    let plan = ObjectPlan {
        set_labels: differing(labels, &changes.set_labels),
        remove_labels: present(labels, &changes.remove_labels),
        set_annotations: differing(annotations, &changes.set_annotations),
        remove_annotations: present(annotations, &changes.remove_annotations),
    };
    if !plan.set_annotations.is_empty() {
        let mut result = annotations.clone();
        for k in &plan.remove_annotations {
            result.remove(k);
        }
        result.extend(plan.set_annotations.clone());
        let total = names::annotations_size(&result);
        if total > TOTAL_ANNOTATION_SIZE_LIMIT {
            return Err(NameError::AnnotationsTooLong { total, limit: TOTAL_ANNOTATION_SIZE_LIMIT });
        }
    }
    Ok(plan)
}

/// A key the chart itself sets on an object, which the next `helm upgrade` puts back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartKey {
    pub field: Field,
    pub key: String,
    pub chart_value: String,
    /// true: we remove it; false: we set another value.
    pub removing: bool,
}

impl ChartKey {
    pub fn describe(&self) -> String {
        if self.removing {
            format!("the chart sets {} {} ({:?}); the next helm upgrade puts it back", self.field.as_str(), self.key, self.chart_value)
        } else {
            format!(
                "the chart sets {} {} to {:?}; the next helm upgrade overwrites the new value",
                self.field.as_str(),
                self.key,
                self.chart_value
            )
        }
    }
}

fn string_map(meta: Option<&Value>, field: &str) -> BTreeMap<String, String> {
    meta.and_then(|m| m.get(field))
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().map(String::from).unwrap_or_else(|| v.to_string()))).collect())
        .unwrap_or_default()
}

/// Keys of the change set that the manifest object (as the chart rendered it) sets to something else, or
/// that we remove although the chart sets them. Helm's three-way merge leaves every other key alone.
pub fn chart_conflicts(manifest_object: &Value, changes: &Changes) -> Vec<ChartKey> {
    let meta = manifest_object.get("metadata");
    let mut out = Vec::new();
    for (field, name) in [(Field::Label, "labels"), (Field::Annotation, "annotations")] {
        let chart = string_map(meta, name);
        for (key, value) in changes.set(field) {
            if let Some(chart_value) = chart.get(key)
                && chart_value != value
            {
                out.push(ChartKey { field, key: key.clone(), chart_value: chart_value.clone(), removing: false });
            }
        }
        for key in changes.remove(field) {
            if let Some(chart_value) = chart.get(key) {
                out.push(ChartKey { field, key: key.clone(), chart_value: chart_value.clone(), removing: true });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn changes() -> Changes {
        Changes {
            set_annotations: map(&[("a", "1"), ("b", "2")]),
            set_labels: map(&[("tier", "web")]),
            remove_annotations: ["gone".to_string(), "absent".to_string()].into(),
            remove_labels: ["old".to_string()].into(),
        }
    }

    #[test]
    fn only_differing_keys_are_planned() {
        let plan = plan_object(&map(&[("tier", "web"), ("old", "x")]), &map(&[("a", "1"), ("gone", "y")]), &changes()).unwrap();
        assert_eq!(plan.set_annotations, map(&[("b", "2")]));
        assert!(plan.set_labels.is_empty());
        assert_eq!(plan.remove_annotations, ["gone"]);
        assert_eq!(plan.remove_labels, ["old"]);
        assert_eq!(plan.summary(), "+1 annotation, -1 annotation, -1 label");
        assert_eq!(
            plan.patch(Some("7")),
            json!({"metadata":{"labels":{"old":null},"annotations":{"gone":null,"b":"2"},"resourceVersion":"7"}})
        );
        let done = plan_object(&map(&[("tier", "web")]), &map(&[("a", "1"), ("b", "2")]), &changes()).unwrap();
        assert!(done.is_empty());
    }

    #[test]
    fn total_annotation_size_counts_what_stays() {
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT - 4);
        let live = map(&[("big", big.as_str())]);
        let err = plan_object(&BTreeMap::new(), &live, &changes()).unwrap_err();
        assert!(matches!(err, NameError::AnnotationsTooLong { .. }), "{err}");
        // Removing the big one makes room.
        let mut c = changes();
        c.remove_annotations.insert("big".into());
        assert!(plan_object(&BTreeMap::new(), &live, &c).is_ok());
    }

    #[test]
    fn chart_keys_are_reported() {
        let obj = json!({"metadata": {"labels": {"tier": "db", "old": "1"}, "annotations": {"a": "1"}}});
        let got = chart_conflicts(&obj, &changes());
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got.iter().any(|k| k.key == "tier" && !k.removing && k.chart_value == "db"));
        assert!(got.iter().any(|k| k.key == "old" && k.removing));
        assert!(got[0].describe().contains("helm upgrade"));
        assert!(chart_conflicts(&json!({"metadata": {}}), &changes()).is_empty());
    }
}
