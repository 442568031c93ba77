//! `doctor --drift`: objects of the latest deployed manifest missing live, and fields the manifest sets
//! whose live value differs.
//!
//! Each manifest object is read once (bounded concurrency) and compared on the fields the manifest sets:
//! client-side with the normalisation rules of [`crate::live::compare`] (`--drift`, `--drift=client`), or
//! against the server's answer to a server-side apply of the manifest object with `dryRun=All`
//! (`--drift=server`: defaulting, quantities and conversions exactly as the server does them; nothing is
//! written). Values of Secrets are never printed: their paths say "differs".
//!
//! Severity: warning for both checks. Helm's next upgrade or a rollback puts the manifest's values back
//! and recreates missing objects, so neither makes it fail; but the cluster is not what the release says.

use std::collections::BTreeSet;

use futures::{StreamExt, stream};
use serde_json::Value;

use crate::cli::DriftMode;
use crate::error::AppError;
use crate::live::compare::{self, FieldDiff, Mode};
use crate::live::fields::{ApplyOutcome, dry_run_apply};
use crate::live::targets::{Target, resolve_manifest};

use super::model::{Check, Finding, Fix, ReleaseManifest, Severity};
use super::ownership::{LiveInput, LiveReport};

/// Objects read (and dry-run applied) at once.
const CONCURRENCY: usize = 16;
/// The field manager of the dry-run applies (`--drift=server`); nothing is stored under it.
const DRIFT_MANAGER: &str = "kubectl-werf-doctor";

/// What one manifest object looks like live.
enum Seen {
    Missing,
    Differs(Vec<FieldDiff>),
    /// The dry-run apply was refused because the manifest cannot be applied over the live object (an
    /// immutable field changed): drift in itself.
    Unappliable(String),
    /// Could not be compared: a warning line.
    Unread(String),
}

pub async fn check_drift(input: &LiveInput<'_>, mode: DriftMode) -> Result<LiveReport, AppError> {
    let catalog = input.catalog().await?;
    let mut report = LiveReport::default();
    let mut jobs: Vec<(usize, Target)> = Vec::new();
    let mut seen: BTreeSet<(&str, &str)> = BTreeSet::new();
    for (i, r) in input.releases.iter().enumerate() {
        // A release under both drivers is compared once.
        if !seen.insert((&r.release.namespace, &r.release.name)) {
            continue;
        }
        let (targets, unresolved) = resolve_manifest(&catalog, &r.manifest, &r.release.namespace);
        // A type the server does not serve (a removed API version, a CRD not installed) is not compared:
        // the object may live on at another version, and removed-api reports the version already.
        for u in unresolved {
            report
                .warnings
                .push(format!("drift: release {} ({}): {} not compared: {}", r.release.name, r.release.namespace, u.what, u.reason));
        }
        jobs.extend(targets.into_iter().map(|t| (i, t)));
    }
    let client = input.client;
    let mut results: Vec<(usize, Target, Seen)> = stream::iter(jobs)
        .map(|(i, t)| async move {
            let seen = look(client, &t, mode).await;
            (i, t, seen)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    results.sort_by_key(|a| (a.0, a.1.display()));
    for (i, t, seen) in results {
        let r = &input.releases[i];
        match seen {
            Seen::Missing => report.findings.push(missing_finding(r, &t.display())),
            Seen::Differs(diffs) if diffs.is_empty() => {}
            Seen::Differs(diffs) => report.findings.push(field_finding(r, &t, &diffs, mode)),
            Seen::Unappliable(msg) => report.findings.push(Finding {
                release: r.release.clone(),
                check: Check::DriftField,
                severity: Severity::Warning,
                summary: format!("{} cannot be applied over its live object", t.display()),
                evidence: vec![format!("object: {}", t.display()), format!("server-side dry-run apply: {msg}")],
                fix: restore_advice(r),
            }),
            Seen::Unread(line) => report.warnings.push(line),
        }
    }
    Ok(report)
}

async fn look(client: &kube::Client, t: &Target, mode: DriftMode) -> Seen {
    let ns = t.namespace.as_deref();
    let live = match crate::live::objects::get(client, &t.resource, ns, &t.name).await {
        Ok(Some(obj)) => obj,
        Ok(None) => return Seen::Missing,
        Err(e) => return Seen::Unread(format!("drift: cannot read {}: {}", t.display(), crate::error::describe_kube_error(&e))),
    };
    let live = match serde_json::to_value(&live) {
        Ok(v) => v,
        Err(e) => return Seen::Unread(format!("drift: {}: {e}", t.display())),
    };
    let manifest = &t.manifest.object;
    match mode {
        DriftMode::Client => Seen::Differs(compare::diff_object(manifest, manifest, &live, Mode::Normalised)),
        DriftMode::Server => {
            let mut body = manifest.clone();
            if let (Some(ns), Some(meta)) = (ns, body.get_mut("metadata").and_then(Value::as_object_mut)) {
                meta.insert("namespace".into(), Value::String(ns.to_string()));
            }
            // A dry run changes nothing, so it is retried like a read.
            let answer = crate::retry::read(crate::retry::ReadRetry::default(), || {
                dry_run_apply(client, &t.resource, ns, &t.name, &body, DRIFT_MANAGER, true)
            })
            .await;
            match answer {
                Ok(ApplyOutcome::Applied(dry)) => match serde_json::to_value(&*dry) {
                    Ok(dry) => Seen::Differs(compare::diff_object(&body, &dry, &live, Mode::Exact)),
                    Err(e) => Seen::Unread(format!("drift: {}: {e}", t.display())),
                },
                Ok(ApplyOutcome::Refused(msg)) if msg.contains("immutable") => Seen::Unappliable(msg),
                Ok(ApplyOutcome::Refused(msg)) => {
                    Seen::Unread(format!("drift: server-side dry-run apply of {} was refused: {msg}", t.display()))
                }
                Ok(ApplyOutcome::Conflicts(c)) => Seen::Unread(format!(
                    "drift: server-side dry-run apply of {} met conflicts: {}",
                    t.display(),
                    c.iter().map(|c| c.field.as_str()).collect::<Vec<_>>().join(", ")
                )),
                Err(e) => Seen::Unread(format!(
                    "drift: server-side dry-run apply of {} failed: {}",
                    t.display(),
                    crate::error::describe_kube_error(&e)
                )),
            }
        }
    }
}

/// `helm rollback` to the compared revision applies its manifest again: missing objects are created and
/// changed fields put back. Release values are not needed for it (and never printed).
fn restore_advice(r: &ReleaseManifest) -> Fix {
    Fix::advice(format!(
        "to put the manifest back: helm rollback {} {} -n {} (or the next helm upgrade does it); if the live value is the one \
         wanted, change the chart or its values instead",
        r.release.name, r.revision, r.release.namespace
    ))
}

fn missing_finding(r: &ReleaseManifest, what: &str) -> Finding {
    let evidence = vec![
        format!("object: {what}"),
        format!("in the manifest of release {} ({}) revision {}", r.release.name, r.release.namespace, r.revision),
    ];
    Finding {
        release: r.release.clone(),
        check: Check::DriftMissing,
        severity: Severity::Warning,
        summary: format!("{what} of revision {}'s manifest is missing live", r.revision),
        evidence,
        fix: restore_advice(r),
    }
}

fn field_finding(r: &ReleaseManifest, t: &Target, diffs: &[FieldDiff], mode: DriftMode) -> Finding {
    let secret = t.resource.group.is_empty() && t.resource.kind == "Secret";
    let expected = match mode {
        DriftMode::Client => "manifest",
        DriftMode::Server => "applied",
    };
    let mut evidence = vec![format!("object: {}", t.display())];
    for d in diffs {
        if secret {
            evidence.push(format!("{}: differs", d.path));
        } else {
            evidence.push(format!(
                "{}: {expected} {}, live {}",
                d.path,
                compare::show_value(d.expected.as_ref()),
                compare::show_value(d.live.as_ref())
            ));
        }
    }
    let fields: Vec<&str> = diffs.iter().map(|d| d.path.as_str()).collect();
    Finding {
        release: r.release.clone(),
        check: Check::DriftField,
        severity: Severity::Warning,
        summary: format!("{} differs live from revision {}'s manifest: {}", t.display(), r.revision, fields.join(", ")),
        evidence,
        fix: restore_advice(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::releases::doctor::model::ReleaseRef;
    use crate::live::discovery::ResourceCatalog;
    use serde_json::json;

    fn catalog() -> ResourceCatalog {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/apiserver-1.36/discovery/");
        let core = std::fs::read_to_string(format!("{dir}aggregated_api.json")).unwrap();
        let groups = std::fs::read_to_string(format!("{dir}aggregated_apis.json")).unwrap();
        ResourceCatalog::from_aggregated_json(&core, &groups).unwrap()
    }

    fn release() -> ReleaseManifest {
        ReleaseManifest {
            release: ReleaseRef { name: "shop".into(), namespace: "ns".into(), storage: "secret".into() },
            revision: 3,
            manifest: String::new(),
        }
    }

    fn target(manifest: &str) -> Target {
        let (mut targets, _) = resolve_manifest(&catalog(), manifest, "ns");
        targets.remove(0)
    }

    #[test]
    fn secret_values_are_never_shown() {
        let t = target("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: hunter2\n");
        let diffs =
            compare::diff_object(&t.manifest.object, &t.manifest.object, &json!({"data": {"password": "b3RoZXI="}}), Mode::Normalised);
        let f = field_finding(&release(), &t, &diffs, DriftMode::Client);
        assert_eq!(f.evidence, ["object: Secret/s (ns)", ".data.password: differs"]);
        let text = format!("{f:?}");
        assert!(!text.contains("hunter2") && !text.contains("b3RoZXI=") && !text.contains("aHVudGVyMg=="), "{text}");
    }

    #[test]
    fn other_values_are_shown_with_the_fix() {
        let t = target("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: v\n");
        let diffs = compare::diff_object(&t.manifest.object, &t.manifest.object, &json!({"data": {"k": "w"}}), Mode::Normalised);
        let f = field_finding(&release(), &t, &diffs, DriftMode::Client);
        assert_eq!(f.evidence[1], ".data.k: manifest \"v\", live \"w\"");
        assert_eq!((f.check, f.severity), (Check::DriftField, Severity::Warning));
        assert!(f.fix.advice.as_deref().unwrap().starts_with("to put the manifest back: helm rollback shop 3 -n ns"));
        let m = missing_finding(&release(), "ConfigMap/c (ns)");
        assert_eq!(m.summary, "ConfigMap/c (ns) of revision 3's manifest is missing live");
    }
}
