//! `releases history|status|get`: one release, printed exactly as helm prints it.
//!
//! A Helm 3/4 release in the namespace is looked up first; without one (or with `--helm-version 2`)
//! the Helm 2 release of that name in Tiller's storage is shown through the Helm 3 model.

use std::io::Write;

use serde_json::{Map, Value};

use crate::cli::{OutputFormat, ReleasesGetCommand, ReleasesHistoryArgs, ReleasesStatusArgs};
use crate::commands::context::Outcome;
use crate::error::AppError;
use crate::golang::json as gojson;
use crate::helmfmt::{self, Table};
use crate::live::resources::Form;
use crate::release::Time;
use crate::release::helm3::{HookEvent, Release};
use crate::storage::Helm3Store;
use crate::storage::ObjectKind;
use crate::storage::codec::{self, helm3_history_selector};
use crate::storage::scope::{Found, Place, helm3_driver, locate};

use super::view::{self, Flavor};
use super::{Scope, print_problems, time_of};

const ANSIC: &str = "Mon Jan _2 15:04:05 2006";

fn not_found(name: &str) -> AppError {
    AppError::Failed(format!("release: not found ({name})"))
}

fn helm3_store(scope: &Scope, kind: ObjectKind) -> Helm3Store {
    Helm3Store::new(scope.client.clone(), helm3_driver(kind), scope.limits())
}

/// The storage holding `name` under the shared scope rule; others holding it too are named on stderr.
async fn locate_for_read(scope: &Scope, name: &str) -> Result<Found, AppError> {
    let located = locate(&scope.client, &scope.selection(false), name).await?;
    let (found, warnings) = located.for_read()?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    Ok(found)
}

/// Every revision of the release, oldest first, as Helm 3 releases (Helm 2 ones converted).
/// `full` = decode everything (else Helm 3 records are decoded as summaries, enough for history).
async fn load_all(scope: &Scope, name: &str, full: bool) -> Result<Vec<Release>, AppError> {
    let found = locate_for_read(scope, name).await?;
    let mut releases: Vec<Release> = match (&found.place, found.helm2) {
        (Place::Helm3 { kind, namespace }, _) => {
            let store = helm3_store(scope, *kind);
            let selector = helm3_history_selector(name);
            let mut releases: Vec<Release> = if full {
                let listing = store.list(Some(namespace), Some(&selector)).await.map_err(|e| AppError::kube(&e))?;
                print_problems(&listing.errors, &listing.warnings);
                listing.records.into_iter().map(|r| r.release).collect()
            } else {
                let listing = store.list_summaries(Some(namespace), Some(&selector)).await.map_err(|e| AppError::kube(&e))?;
                print_problems(&listing.errors, &listing.warnings);
                listing.records.into_iter().map(|s| summary_release(&s.summary)).collect()
            };
            releases.retain(|r| r.name == name);
            releases
        }
        (Place::Helm2 { .. }, Some(listing)) => {
            print_problems(&listing.errors, &listing.warnings);
            let mut releases: Vec<Release> = listing.records.iter().map(|r| view::helm2_as_helm3(&r.release)).collect();
            releases.sort_by_key(|r| r.version);
            releases.dedup_by_key(|r| r.version);
            releases
        }
        (Place::Helm2 { .. }, None) => Vec::new(),
    };
    if releases.is_empty() {
        return Err(not_found(name));
    }
    releases.sort_by_key(|r| r.version);
    Ok(releases)
}

/// A release carrying only what a summary holds (history needs no more).
fn summary_release(s: &crate::release::helm3::ReleaseSummary) -> Release {
    let mut r = Release { name: s.name.clone(), version: s.version, namespace: s.namespace.clone(), ..Default::default() };
    r.info.status = s.status.clone();
    r.info.first_deployed = s.first_deployed;
    r.info.last_deployed = s.last_deployed;
    r.info.deleted = s.deleted;
    r.info.description = s.description.clone();
    if !(s.chart_name.is_empty() && s.chart_version.is_empty() && s.app_version.is_empty()) {
        r.chart.get_or_insert_with(Default::default).metadata = Some(crate::release::helm3::Metadata {
            name: s.chart_name.clone(),
            version: s.chart_version.clone(),
            app_version: s.app_version.clone(),
            ..Default::default()
        });
    }
    r
}

/// One revision (the latest by default), fully decoded, with its record's labels.
async fn load_one(
    scope: &Scope,
    name: &str,
    revision: Option<i64>,
) -> Result<(Release, std::collections::BTreeMap<String, String>), AppError> {
    let found = locate_for_read(scope, name).await?;
    let (kind, ns) = match (&found.place, found.helm2) {
        (Place::Helm3 { kind, namespace }, _) => (*kind, namespace.clone()),
        (Place::Helm2 { .. }, listing) => {
            let listing = listing.unwrap_or_default();
            print_problems(&listing.errors, &listing.warnings);
            let mut all: Vec<Release> = listing.records.iter().map(|r| view::helm2_as_helm3(&r.release)).collect();
            all.sort_by_key(|r| r.version);
            let pick = match revision {
                Some(rev) => all.into_iter().find(|r| r.version == rev),
                None => all.into_iter().last(),
            };
            return pick.map(|r| (r, Default::default())).ok_or_else(|| not_found(name));
        }
    };
    let store = helm3_store(scope, kind);
    let ns = ns.as_str();
    // Cheap path: labels pick the record, one GET reads it; the payload must agree.
    let target = match revision {
        Some(r) => Some(codec::helm3_object_name(name, r)),
        None => {
            // The lookup already read the records' labels.
            let (latest, unlabelled) = crate::storage::helm3::latest_by_labels(&found.helm3_records);
            if unlabelled.is_empty() { latest.into_values().next().map(|i| i.name) } else { None }
        }
    };
    if let Some(object) = target
        && let Some(found) = store.get_object(ns, &object).await.map_err(|e| AppError::kube(&e))?
    {
        match found {
            Ok(rec) if rec.release.name == name && revision.is_none_or(|r| r == rec.release.version) => {
                let labels = rec.object.labels.clone();
                return Ok((rec.release, labels));
            }
            Ok(_) => {}
            Err(e) => print_problems(&[e], &[]),
        }
    }
    // Slow path: every record of the release, decoded; the payloads decide.
    let listing = store.list(Some(ns), Some(&helm3_history_selector(name))).await.map_err(|e| AppError::kube(&e))?;
    let mut records: Vec<_> = listing.records.into_iter().filter(|r| r.release.name == name).collect();
    records.sort_by_key(|r| r.release.version);
    let pick = match revision {
        Some(rev) => records.into_iter().find(|r| r.release.version == rev),
        None => records.pop(),
    };
    match pick {
        Some(r) => {
            let labels = r.object.labels.clone();
            Ok((r.release, labels))
        }
        None => Err(not_found(name)),
    }
}

fn write_out(bytes: &[u8]) -> Result<Outcome, AppError> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(Outcome::Success)
}

fn rfc3339_json(t: &Time, flavor: Flavor) -> Value {
    match t.to_rfc3339() {
        Some(s) if !t.is_zero() => Value::String(s),
        _ => match flavor {
            Flavor::Helm3 => Value::String(String::new()),
            Flavor::Helm4 => Value::String("0001-01-01T00:00:00Z".into()),
        },
    }
}

fn ansic(t: &Time) -> String {
    match time_of(t) {
        Some(g) => g.format(ANSIC),
        None => "Mon Jan  1 00:00:00 0001".into(),
    }
}

pub async fn history(scope: &Scope, args: ReleasesHistoryArgs) -> Result<Outcome, AppError> {
    let all = load_all(scope, &args.name, false).await?;
    let skip = all.len().saturating_sub(args.max);
    let shown = &all[skip..];
    let text = match args.output {
        OutputFormat::Table => {
            let mut t = Table::new();
            t.add_row(["REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION", "DESCRIPTION"]);
            for r in shown {
                t.add_row([
                    r.version.to_string(),
                    ansic(&r.info.last_deployed),
                    r.info.status.as_str().to_string(),
                    view::chart_name(r),
                    view::app_version(r),
                    r.info.description.clone(),
                ]);
            }
            t.render()
        }
        format => {
            let items: Vec<Value> = shown
                .iter()
                .map(|r| {
                    let mut m = Map::new();
                    m.insert("revision".into(), r.version.into());
                    m.insert("updated".into(), rfc3339_json(&r.info.last_deployed, scope.flavor));
                    m.insert("status".into(), r.info.status.as_str().into());
                    m.insert("chart".into(), view::chart_name(r).into());
                    m.insert("app_version".into(), view::app_version(r).into());
                    m.insert("description".into(), r.info.description.clone().into());
                    Value::Object(m)
                })
                .collect();
            structured(&Value::Array(items), format)
        }
    };
    write_out(&text)
}

fn structured(v: &Value, format: OutputFormat) -> Vec<u8> {
    match format {
        OutputFormat::Yaml => helmfmt::yaml(v).into_bytes(),
        _ => helmfmt::json(v),
    }
}

/// helm's status text; `debug` and `show_metadata` are what `get all` turns on.
fn status_text(r: &Release, flavor: Flavor, show_metadata: bool, debug: bool) -> String {
    status_text_with(r, flavor, show_metadata, debug, false, "")
}

/// helm 3.17's status text with `--show-desc` and the `RESOURCES:` section of `--show-resources`.
fn status_text_with(r: &Release, flavor: Flavor, show_metadata: bool, debug: bool, show_desc: bool, resources: &str) -> String {
    let mut s = String::new();
    s.push_str(&format!("NAME: {}\n", r.name));
    if let Some(t) = time_of(&r.info.last_deployed) {
        s.push_str(&format!("LAST DEPLOYED: {}\n", t.format(ANSIC)));
    }
    s.push_str(&format!("NAMESPACE: {}\n", r.namespace));
    s.push_str(&format!("STATUS: {}\n", r.info.status));
    s.push_str(&format!("REVISION: {}\n", r.version));
    if show_metadata {
        let m = r.chart_metadata().cloned().unwrap_or_default();
        s.push_str(&format!("CHART: {}\nVERSION: {}\nAPP_VERSION: {}\n", m.name, m.version, m.app_version));
    }
    if flavor == Flavor::Helm4 || show_desc {
        s.push_str(&format!("DESCRIPTION: {}\n", r.info.description));
    }
    s.push_str(resources);
    let tests: Vec<_> = r.hooks.iter().filter(|h| h.events.contains(&HookEvent::Test)).collect();
    if tests.is_empty() {
        s.push_str("TEST SUITE: None\n");
    } else {
        for h in tests {
            if h.last_run.started_at.is_zero() {
                continue;
            }
            s.push_str(&format!(
                "TEST SUITE:     {}\nLast Started:   {}\nLast Completed: {}\nPhase:          {}\n",
                h.name,
                ansic(&h.last_run.started_at),
                ansic(&h.last_run.completed_at),
                h.last_run.phase.as_str()
            ));
        }
    }
    if debug {
        s.push_str("USER-SUPPLIED VALUES:\n");
        s.push_str(&helmfmt::yaml(&config_value(r)));
        s.push('\n');
        s.push_str("COMPUTED VALUES:\n");
        s.push_str(&helmfmt::yaml(&Value::Object(computed_values(r))));
        s.push('\n');
    }
    if debug || r.info.description.eq_ignore_ascii_case("Dry run complete") {
        s.push_str("HOOKS:\n");
        for h in &r.hooks {
            s.push_str(&format!("---\n# Source: {}\n{}\n", h.path, h.manifest));
        }
        s.push_str(&format!("MANIFEST:\n{}\n", r.manifest));
    }
    if !r.info.notes.is_empty() {
        s.push_str(&format!("NOTES:\n{}\n", r.info.notes.trim()));
    }
    s
}

/// The user-supplied values as helm holds them: `null` when none were given.
fn config_value(r: &Release) -> Value {
    if r.config.is_empty() { Value::Null } else { Value::Object(r.config.clone()) }
}

fn computed_values(r: &Release) -> Map<String, Value> {
    let chart = r.chart.as_ref().and_then(|c| c.values.clone()).unwrap_or_default();
    view::coalesce(&chart, &r.config)
}

pub async fn status(scope: &Scope, args: ReleasesStatusArgs) -> Result<Outcome, AppError> {
    let (release, _) = load_one(scope, &args.name, args.revision).await?;
    let printed = view::as_printed(&release, scope.flavor);
    let form = if args.output == OutputFormat::Table { Form::Table } else { Form::Object };
    let resources = if args.show_resources { Some(live_resources(scope, &release, form).await?) } else { None };
    let text = match args.output {
        OutputFormat::Table => {
            let section = resources.as_ref().map(super::resources::resources_section).unwrap_or_default();
            status_text_with(&printed, scope.flavor, false, false, args.show_desc, &section).into_bytes()
        }
        format => {
            let mut value = view::status_value(&release, scope.flavor);
            // helm 3 adds the objects as `info.resources` (after `notes`), Go-sorted like any map.
            if let Some(groups) = resources.filter(|g| !g.is_empty())
                && let Some(info) = value.get_mut("info").and_then(Value::as_object_mut)
            {
                let groups: Map<String, Value> =
                    groups.into_iter().map(|(k, objs)| (k, Value::Array(objs.iter().map(helmfmt::sorted).collect()))).collect();
                info.insert("resources".into(), Value::Object(groups));
            }
            structured(&value, format)
        }
    };
    write_out(&text)
}

/// The release's objects (and its workloads' pods) as `--show-resources` shows them; objects that cannot
/// be read are named on stderr and left out, as helm leaves them out.
async fn live_resources(scope: &Scope, release: &Release, form: Form) -> Result<std::collections::BTreeMap<String, Vec<Value>>, AppError> {
    let catalog = crate::live::discovery::load(&scope.client)
        .await
        .map_err(|e| AppError::Failed(format!("cannot load the API's resource types: {e}")))?;
    let found = crate::live::resources::release_resources(&scope.client, &catalog, &release.manifest, &scope.namespace, form)
        .await
        .map_err(|e| AppError::kube(&e))?;
    for w in &found.warnings {
        eprintln!("warning: {w}");
    }
    Ok(found.groups)
}

pub async fn get(scope: &Scope, what: ReleasesGetCommand) -> Result<Outcome, AppError> {
    let (name, revision) = match &what {
        ReleasesGetCommand::All(a) | ReleasesGetCommand::Manifest(a) | ReleasesGetCommand::Notes(a) | ReleasesGetCommand::Hooks(a) => {
            (a.name.clone(), a.revision)
        }
        ReleasesGetCommand::Values(a) => (a.name.clone(), a.revision),
        ReleasesGetCommand::Metadata(a) => (a.name.clone(), a.revision),
    };
    let (release, labels) = load_one(scope, &name, revision).await?;
    let r = view::as_printed(&release, scope.flavor);
    let text: Vec<u8> = match what {
        ReleasesGetCommand::All(_) => status_text(&r, scope.flavor, true, true).into_bytes(),
        ReleasesGetCommand::Manifest(_) => format!("{}\n", r.manifest).into_bytes(),
        ReleasesGetCommand::Notes(_) => {
            if r.info.notes.is_empty() {
                Vec::new()
            } else {
                format!("NOTES:\n{}\n", r.info.notes).into_bytes()
            }
        }
        ReleasesGetCommand::Hooks(_) => {
            r.hooks.iter().flat_map(|h| format!("---\n# Source: {}\n{}\n", h.path, h.manifest).into_bytes()).collect()
        }
        ReleasesGetCommand::Values(a) => {
            let values = if a.all { Value::Object(computed_values(&r)) } else { config_value(&r) };
            match a.output {
                OutputFormat::Table => {
                    let title = if a.all { "COMPUTED VALUES:\n" } else { "USER-SUPPLIED VALUES:\n" };
                    format!("{title}{}", helmfmt::yaml(&values)).into_bytes()
                }
                OutputFormat::Json => helmfmt::json(&helmfmt::sorted(&values)),
                OutputFormat::Yaml => helmfmt::yaml(&values).into_bytes(),
            }
        }
        ReleasesGetCommand::Metadata(a) => metadata(&r, &labels, scope.flavor, a.output),
    };
    write_out(&text)
}

/// `helm get metadata`: helm's `action.Metadata`.
fn metadata(r: &Release, labels: &std::collections::BTreeMap<String, String>, flavor: Flavor, output: OutputFormat) -> Vec<u8> {
    let m = r.chart_metadata().cloned().unwrap_or_default();
    let deployed_at =
        time_of(&r.info.last_deployed).map(|t| t.format("2006-01-02T15:04:05Z07:00")).unwrap_or_else(|| "0001-01-01T00:00:00Z".into());
    let mut deps: Vec<&str> = m.dependencies.iter().map(|d| d.name.as_str()).collect();
    deps.sort();
    let apply_method = match r.apply_method.as_str() {
        "ssa" => "server-side apply".to_string(),
        "csa" => "client-side apply".to_string(),
        "" => "client-side apply (defaulted)".to_string(),
        other => other.to_string(),
    };
    if output == OutputFormat::Table {
        let mut s = String::new();
        s.push_str(&format!("NAME: {}\nCHART: {}\nVERSION: {}\nAPP_VERSION: {}\n", r.name, m.name, m.version, m.app_version));
        s.push_str(&format!("ANNOTATIONS: {}\n", helmfmt::label_set_string(&m.annotations)));
        if flavor == Flavor::Helm4 {
            s.push_str(&format!("LABELS: {}\n", helmfmt::label_set_string(labels)));
        }
        s.push_str(&format!("DEPENDENCIES: {}\n", deps.join(",")));
        s.push_str(&format!(
            "NAMESPACE: {}\nREVISION: {}\nSTATUS: {}\nDEPLOYED_AT: {}\n",
            r.namespace, r.version, r.info.status, deployed_at
        ));
        if flavor == Flavor::Helm4 {
            s.push_str(&format!("APPLY_METHOD: {apply_method}\n"));
        }
        return s.into_bytes();
    }
    let mut v = Map::new();
    v.insert("name".into(), r.name.clone().into());
    v.insert("chart".into(), m.name.clone().into());
    v.insert("version".into(), m.version.clone().into());
    v.insert("appVersion".into(), m.app_version.clone().into());
    if !m.annotations.is_empty() {
        v.insert("annotations".into(), serde_json::to_value(&m.annotations).unwrap_or_default());
    }
    if flavor == Flavor::Helm4 && !labels.is_empty() {
        v.insert("labels".into(), serde_json::to_value(labels).unwrap_or_default());
    }
    if !m.dependencies.is_empty() {
        let deps: Vec<Value> = m
            .dependencies
            .iter()
            .map(|d| {
                let mut d = d.clone();
                d.extra.clear();
                serde_json::from_slice(&gojson::to_vec(&d).unwrap_or_default()).unwrap_or_default()
            })
            .collect();
        v.insert("dependencies".into(), Value::Array(deps));
    }
    v.insert("namespace".into(), r.namespace.clone().into());
    v.insert("revision".into(), r.version.into());
    v.insert("status".into(), r.info.status.as_str().into());
    v.insert("deployedAt".into(), deployed_at.into());
    if flavor == Flavor::Helm4 && !r.apply_method.is_empty() {
        v.insert("applyMethod".into(), r.apply_method.clone().into());
    }
    structured(&Value::Object(v), output)
}
