//! What the verbs print, built from either generation: a Helm 2 (Tiller) release is shown through the
//! Helm 3 model exactly as `migrate2to3` converts it (`release::convert`), so every output path has
//! one source.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::release::helm2;
use crate::release::helm3::{Info, Release, Status};
use crate::release::{Time, ZeroForm};

/// Helm 3's status name for a Tiller status code (the migration's mapping).
pub fn helm2_status(code: i32) -> Status {
    crate::release::convert::status_from_helm2(code).unwrap_or(Status::Unknown)
}

/// A Helm 2 release seen as a Helm 3 release: exactly what `migrate2to3` would write, so every
/// output path has one source. A record the migration would refuse (values that are not YAML, an
/// invalid name) is still shown, with only what its metadata says.
pub fn helm2_as_helm3(r: &helm2::Release) -> Release {
    match crate::release::convert::convert(r, &crate::release::convert::ConvertOptions::default()) {
        Ok(conversion) => conversion.release,
        Err(_) => {
            let info = r.info.clone().unwrap_or_default();
            let code = info.status.as_ref().map_or(0, |s| s.code);
            Release {
                name: r.name.clone(),
                info: Info {
                    first_deployed: ts(&info.first_deployed),
                    last_deployed: ts(&info.last_deployed),
                    deleted: ts(&info.deleted),
                    description: info.description.clone(),
                    status: helm2_status(code),
                    ..Info::default()
                },
                manifest: r.manifest.clone(),
                version: i64::from(r.version),
                namespace: r.namespace.clone(),
                ..Release::default()
            }
        }
    }
}

fn ts(t: &Option<helm2::Timestamp>) -> Time {
    t.as_ref().and_then(|t| t.to_time()).unwrap_or(Time::ZERO)
}

/// Which helm's output to reproduce where helm 3 and helm 4 differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Helm3,
    Helm4,
}

/// A release as the given helm decodes it before printing: fields that helm does not know are
/// dropped (Go ignores unknown keys), zero times take that helm's written form (Helm 3 `""`, Helm 4
/// omitted), and Helm 3 drops Helm 4's `apply_method`.
pub fn as_printed(release: &Release, flavor: Flavor) -> Release {
    let zero = match flavor {
        Flavor::Helm3 => ZeroForm::EmptyString,
        Flavor::Helm4 => ZeroForm::Absent,
    };
    let fix = |t: &mut Time| {
        if let Time::Zero(_) = t {
            *t = Time::Zero(zero);
        }
    };
    let mut r = release.clone();
    r.extra.clear();
    r.info.extra.clear();
    r.info.resources = None;
    fix(&mut r.info.first_deployed);
    fix(&mut r.info.last_deployed);
    fix(&mut r.info.deleted);
    for h in &mut r.hooks {
        h.extra.clear();
        h.last_run.extra.clear();
        fix(&mut h.last_run.started_at);
        fix(&mut h.last_run.completed_at);
    }
    if flavor == Flavor::Helm3 {
        r.apply_method.clear();
    }
    r
}

/// The release JSON `helm status -o json` prints (chart stripped), as a JSON value in Go field order.
pub fn status_value(release: &Release, flavor: Flavor) -> Value {
    let printed = as_printed(release, flavor);
    let bytes = crate::golang::json::to_vec(&printed).unwrap_or_default();
    let mut v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.shift_remove("chart");
    }
    v
}

/// `formatChartname`: `name-version`, or `MISSING` without chart metadata.
pub fn chart_name(release: &Release) -> String {
    match release.chart_metadata() {
        Some(m) => format!("{}-{}", m.name, m.version),
        None => "MISSING".into(),
    }
}

/// `formatAppVersion`.
pub fn app_version(release: &Release) -> String {
    match release.chart_metadata() {
        Some(m) => m.app_version.clone(),
        None => "MISSING".into(),
    }
}

/// Helm's value coalescing for `get values -a`: chart defaults under the user's values, nested maps
/// merged, a user `null` deleting the key.
pub fn coalesce(chart: &Map<String, Value>, user: &Map<String, Value>) -> Map<String, Value> {
    let mut out = user.clone();
    merge_defaults(&mut out, chart);
    out
}

fn merge_defaults(dst: &mut Map<String, Value>, src: &Map<String, Value>) {
    for (k, v) in src {
        match dst.get_mut(k) {
            None => {
                dst.insert(k.clone(), v.clone());
            }
            Some(Value::Null) => {
                dst.shift_remove(k);
            }
            Some(Value::Object(d)) => {
                if let Value::Object(s) = v {
                    merge_defaults(d, s);
                }
            }
            Some(_) => {}
        }
    }
    // user nulls with no default are dropped too
    dst.retain(|_, v| !v.is_null());
}

/// werf's project and environment for a release: `info.annotations` first, else the annotations of
/// the first object in the manifest.
pub fn werf_project_env(annotations: Option<&BTreeMap<String, String>>, manifest: Option<&str>) -> (Option<String>, Option<String>) {
    const PROJECT: &str = "project.werf.io/name";
    const ENV: &str = "project.werf.io/env";
    if let Some(a) = annotations
        && (a.contains_key(PROJECT) || a.contains_key(ENV))
    {
        return (a.get(PROJECT).cloned(), a.get(ENV).cloned());
    }
    let Some(manifest) = manifest else { return (None, None) };
    let first = first_document(manifest);
    let Some(doc) = first else { return (None, None) };
    let value: Value = match serde_saphyr::from_str(doc) {
        Ok(v) => v,
        Err(_) => return (None, None),
    };
    let ann = &value["metadata"]["annotations"];
    let get = |k: &str| ann.get(k).and_then(Value::as_str).map(String::from);
    (get(PROJECT), get(ENV))
}

fn first_document(manifest: &str) -> Option<&str> {
    for doc in manifest.split("\n---") {
        let doc = doc.trim_start_matches("---");
        if doc.lines().any(|l| l.starts_with("kind:") || l.starts_with("apiVersion:")) {
            return Some(doc);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn coalesce_user_wins_and_maps_merge() {
        let chart = json!({"a": 1, "m": {"x": 1, "y": 2}, "gone": 5});
        let user = json!({"a": 2, "m": {"y": 3}, "gone": null, "new": true});
        let out = coalesce(chart.as_object().unwrap(), user.as_object().unwrap());
        assert_eq!(Value::Object(out), json!({"a": 2, "m": {"y": 3, "x": 1}, "new": true}));
    }

    #[test]
    fn werf_annotations_from_first_object() {
        let m = "---\n# Source: x\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n    project.werf.io/name: myproject\n    project.werf.io/env: production\n---\nkind: Secret\n";
        assert_eq!(werf_project_env(None, Some(m)), (Some("myproject".into()), Some("production".into())));
    }
}
