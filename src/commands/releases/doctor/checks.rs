//! The storage checks: pure functions of what `storage` read (and, for removed APIs, of discovery).
//! Severities (the README says the same):
//! - several-deployed, pending, undecodable, size: error (the next upgrade or rollback is expected to
//!   fail, or a record cannot be read);
//! - no-deployed: error when the latest revision is uninstalling or unknown (`helm upgrade` answers "has
//!   no deployed releases"); warning when it is failed or superseded (helm 3.5+ and helm 4 upgrade from
//!   the latest revision; older helm 3 refused); info when it is uninstalled (`helm uninstall
//!   --keep-history` did that on purpose; `helm upgrade --install` installs it again);
//! - removed-api: error when helm cannot build an object of a revision it reads (removed by the target
//!   version, or not served); warning when removed only after the target version;
//! - label-drift, both-drivers, helm2-and-helm3: warning.

use std::collections::BTreeSet;

use super::super::apis::scan::{self, ServedApis};
use super::super::collect::Generation;
use super::model::{Check, Finding, Fix, ReleaseRef, Severity};
use super::storage::{Rec, StoredRelease};
use crate::release::apis::KubeVersion;
use crate::release::{helm2, helm3};
use crate::storage::codec;
use crate::storage::record_object::OBJECT_DATA_LIMIT;
use crate::storage::scope::Place;
use crate::storage::texts::ReleaseTexts;

/// A record written this recently may belong to an operation that is still running (as `unlock` says).
pub const RECENT_SECONDS: i64 = 300;

/// Where a release's records are, as the storage rule of every verb names it.
pub fn place(r: &StoredRelease) -> Place {
    match r.generation {
        Generation::Helm3 => Place::Helm3 { kind: r.kind, namespace: r.object_namespace.clone() },
        Generation::Helm2 => Place::Helm2 {
            kind: r.kind,
            tiller_namespace: r.object_namespace.clone(),
            release_namespace: match r.release_namespace().as_str() {
                "?" => String::new(),
                ns => ns.to_string(),
            },
        },
    }
}

pub fn release_ref(r: &StoredRelease) -> ReleaseRef {
    ReleaseRef { name: r.name.clone(), namespace: r.release_namespace(), storage: r.storage().to_string() }
}

/// `kubectl werf releases VERB NAME <flags that pick its storage>`.
fn releases_command(verb: &str, r: &StoredRelease) -> String {
    format!("kubectl werf releases {verb} {} {}", r.name, place(r).picking_flags())
}

fn object_of(rec: &Rec) -> String {
    format!("{} {}/{}", rec.info.kind.kind(), rec.info.namespace, rec.info.name)
}

/// `3h12m`, `45s`.
pub fn age_text(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        3600..86400 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
    }
}

fn bytes_text(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The storage checks of one release (several-deployed, no-deployed, pending, label-drift,
/// undecodable, size).
pub fn check_release(r: &StoredRelease, now: i64) -> Vec<Finding> {
    let mut out = Vec::new();
    let g = r.generation;
    let rref = release_ref(r);
    let finding = |check, severity, summary: String, evidence: Vec<String>, fix| Finding {
        release: rref.clone(),
        check,
        severity,
        summary,
        evidence,
        fix,
    };

    // undecodable
    let damaged: Vec<(&Rec, &String)> = r
        .records
        .values()
        .filter_map(|rec| match &rec.decoded {
            Some(Err(e)) => Some((rec, e)),
            _ => None,
        })
        .collect();
    if !damaged.is_empty() {
        let latest_damaged = r.latest().is_some_and(|l| matches!(l.decoded, Some(Err(_))));
        let evidence = damaged.iter().map(|(rec, e)| format!("revision {} ({}): {e}", rec.revision, object_of(rec))).collect();
        let objects: Vec<String> = damaged.iter().map(|(rec, _)| format!("{} {}", rec.info.kind.resource(), rec.info.name)).collect();
        let advice = format!(
            "keep the export, then delete the damaged record{} (kubectl delete {} -n {}){}; or put a good copy back with `kubectl werf releases restore --dir DIR`",
            if damaged.len() > 1 { "s" } else { "" },
            objects.join(" "),
            r.object_namespace,
            if latest_damaged { ": the previous revision becomes the latest, which helm then upgrades from" } else { "" },
        );
        let dir = format!("export-{}-{}", r.object_namespace, r.name);
        out.push(finding(
            Check::Undecodable,
            Severity::Error,
            format!(
                "{} record(s) cannot be decoded{}",
                damaged.len(),
                if latest_damaged { ", the latest among them: helm fails on every command that reads it" } else { "" }
            ),
            evidence,
            Fix::both(format!("{} --dir {dir}", releases_command("export", r)), advice),
        ));
    }

    // pending
    let pending: Vec<&Rec> = r.records.values().filter(|rec| rec.status(g).is_some_and(|s| s.starts_with("pending"))).collect();
    if !pending.is_empty() {
        let mut evidence = Vec::new();
        let mut recent = false;
        for rec in &pending {
            let written = written_at(g, rec);
            let age = written.map(|t| now - t);
            recent |= age.is_some_and(|a| a < RECENT_SECONDS);
            evidence.push(format!(
                "revision {} is {} ({}), {}",
                rec.revision,
                rec.status(g).unwrap_or_default(),
                object_of(rec),
                match age {
                    Some(a) => format!("written {} ago", age_text(a)),
                    None => "age unknown".to_string(),
                }
            ));
        }
        if recent {
            evidence.push("younger than 5 minutes: it may be a running helm operation; wait before unlocking".into());
        }
        let newest = pending.last().map(|p| p.revision);
        let latest = r.latest().map(|l| l.revision);
        let mut command = releases_command("unlock", r);
        if newest != latest
            && let Some(n) = newest
        {
            command.push_str(&format!(" --revision {n}"));
        }
        out.push(finding(
            Check::Pending,
            Severity::Error,
            format!("{} pending revision(s): helm refuses to upgrade or roll back (\"another operation is in progress\")", pending.len()),
            evidence,
            Fix { command: Some(command), advice: None, asks_confirmation: true },
        ));
    }

    // several-deployed / no-deployed
    let deployed: Vec<&Rec> = r.records.values().filter(|rec| rec.status(g).as_deref() == Some("deployed")).collect();
    if deployed.len() > 1 {
        let revs: Vec<String> = deployed.iter().map(|d| d.revision.to_string()).collect();
        out.push(finding(
            Check::SeveralDeployed,
            Severity::Error,
            format!("revisions {} are all deployed: helm upgrades from the newest and leaves the others deployed", revs.join(", ")),
            deployed.iter().map(|d| format!("revision {} is deployed ({})", d.revision, object_of(d))).collect(),
            Fix { command: Some(format!("{} --to superseded", releases_command("unlock", r))), advice: None, asks_confirmation: true },
        ));
    }
    if deployed.is_empty()
        && let Some(latest) = r.latest()
    {
        let status = latest.status(g).unwrap_or_else(|| "unknown".into());
        if !status.starts_with("pending") && latest.texts().is_some() {
            let fatal = !matches!(status.as_str(), "failed" | "superseded");
            // `helm uninstall --keep-history` leaves this on purpose: upgrade needs --install, nothing is broken.
            let kept_history = status == "uninstalled";
            let good = r.records.values().rev().find(|rec| rec.status(g).as_deref() == Some("superseded")).map(|rec| rec.revision);
            let advice = if fatal {
                format!(
                    "helm upgrade answers \"has no deployed releases\": install it again with `helm upgrade --install {} CHART -n {}` (the kept history stays), or remove the history with `kubectl werf releases forget {} {}`",
                    r.name,
                    r.release_namespace(),
                    r.name,
                    place(r).picking_flags()
                )
            } else {
                let back = match good {
                    Some(n) => format!("; to go back instead: `helm rollback {} {n} -n {}`", r.name, r.release_namespace()),
                    None => String::new(),
                };
                format!(
                    "helm 3.5+ and helm 4 upgrade from the latest revision: `helm upgrade {} CHART -n {}` makes a deployed revision (older helm 3 refuses with \"has no deployed releases\"){back}",
                    r.name,
                    r.release_namespace()
                )
            };
            out.push(finding(
                Check::NoDeployed,
                if kept_history {
                    Severity::Info
                } else if fatal {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                format!("no deployed revision; the latest, {}, is {status}", latest.revision),
                r.records
                    .values()
                    .map(|rec| format!("revision {}: {}", rec.revision, rec.status(g).unwrap_or_else(|| "?".into())))
                    .collect(),
                Fix::advice(advice),
            ));
        }
    }

    // label-drift
    let drift: Vec<String> = r.records.values().flat_map(|rec| rec.texts().map(|t| label_drift(g, rec, t)).unwrap_or_default()).collect();
    if !drift.is_empty() {
        out.push(finding(
            Check::LabelDrift,
            Severity::Warning,
            "record labels disagree with their payloads: helm selects records by label (history, the deployed revision)".into(),
            drift,
            Fix { command: Some(releases_command("relabel", r)), advice: None, asks_confirmation: true },
        ));
    }

    // size
    // Below half the limit the history's sizes were not read (`storage` module notes): no finding.
    if let Some(latest) = r.latest()
        && let Some(bytes) = latest.bytes
        && bytes >= super::storage::SIZE_HISTORY_FROM
    {
        let sizes: Vec<(i64, usize)> = r.records.values().filter_map(|rec| rec.bytes.map(|b| (rec.revision, b))).collect();
        // The same estimate `releases size` shows (EST. NEXT): latest + largest growth.
        let g = super::super::size::growth(&sizes);
        if g.next_may_exceed() {
            let mut evidence = vec![format!(
                "latest revision {}: {} bytes stored ({}% of the {} bytes a Secret or ConfigMap may hold)",
                latest.revision,
                bytes_text(bytes),
                bytes * 100 / OBJECT_DATA_LIMIT,
                bytes_text(OBJECT_DATA_LIMIT)
            )];
            if let Some(step) = g.largest {
                evidence.push(format!(
                    "largest growth: revision {} → {}, +{} bytes",
                    step.from,
                    step.to,
                    bytes_text(step.bytes.max(0) as usize)
                ));
            }
            evidence.push(format!("latest + largest growth = {} bytes > {}", bytes_text(g.projected()), bytes_text(OBJECT_DATA_LIMIT)));
            out.push(finding(
                Check::Size,
                Severity::Error,
                "the next upgrade will likely write a record over the 1 MiB object limit (helm: \"Too long: must have at most 1048576 bytes\")".into(),
                evidence,
                Fix::both(
                    releases_command("size", r),
                    "helm stores the whole chart in every revision: remove stray files from the chart directory (packaged .tgz, binaries, logs) or list them in .helmignore, then upgrade",
                ),
            ));
        }
    }
    out
}

/// When a record was last written: the newest of `info.last_deployed` and the created/modified labels.
fn written_at(g: Generation, rec: &Rec) -> Option<i64> {
    let labels = match g {
        Generation::Helm3 => {
            let l = codec::parse_helm3_labels(&rec.info.labels);
            [l.created_at, l.modified_at]
        }
        Generation::Helm2 => {
            let l = codec::parse_helm2_labels(&rec.info.labels);
            [l.created_at, l.modified_at]
        }
    };
    labels.into_iter().chain([rec.texts().and_then(|t| t.last_deployed)]).flatten().max()
}

/// Where one record's labels disagree with its payload (name, owner, status, version), one line each:
/// the same function `releases relabel` repairs from, fed the payload fields it reads.
pub fn label_drift(g: Generation, rec: &Rec, t: &ReleaseTexts) -> Vec<String> {
    let at = format!("revision {} ({})", rec.revision, object_of(rec));
    let drift = match g {
        Generation::Helm3 => {
            let mut r = helm3::Release { name: t.name.clone(), version: t.revision, ..Default::default() };
            r.info.status = helm3::Status::from(t.status.as_str());
            codec::helm3_label_drift(&rec.info.labels, &r)
        }
        Generation::Helm2 => {
            let r = helm2::Release {
                name: t.name.clone(),
                version: i32::try_from(t.revision).unwrap_or_default(),
                info: Some(helm2::Info {
                    status: Some(helm2::Status { code: t.helm2_code.unwrap_or_default(), ..Default::default() }),
                    ..Default::default()
                }),
                ..Default::default()
            };
            codec::helm2_label_drift(&rec.info.labels, &r)
        }
    };
    drift
        .into_iter()
        .map(|d| format!("{at}: label {}={}, payload {}", d.label, d.stored.as_deref().unwrap_or("(none)"), d.expected))
        .collect()
}

/// The revisions helm reads: the latest, the last deployed and pending ones.
pub fn read_by_helm(r: &StoredRelease) -> BTreeSet<i64> {
    let g = r.generation;
    let mut out = BTreeSet::new();
    out.extend(r.latest().map(|l| l.revision));
    out.extend(r.last_deployed().map(|l| l.revision));
    out.extend(r.records.values().filter(|rec| rec.status(g).is_some_and(|s| s.starts_with("pending"))).map(|rec| rec.revision));
    out
}

/// removed-api: objects of the revisions helm reads whose API version the target version removed or
/// this cluster does not serve.
pub fn check_apis(r: &StoredRelease, served: &ServedApis, target: KubeVersion, target_flag: Option<&str>) -> Option<Finding> {
    let mut evidence = Vec::new();
    let mut blocks = false;
    for rev in read_by_helm(r) {
        let Some(t) = r.records.get(&rev).and_then(Rec::texts) else { continue };
        let (found, _, _) = scan::scan_texts(&t.manifest, &t.hooks, served, target);
        for f in found {
            blocks |= f.problem.blocks();
            let o = &f.object;
            let place = match &o.hook {
                Some(h) => format!("hook {h}"),
                None => "manifest".to_string(),
            };
            let why = match (f.problem, f.row) {
                (scan::ApiProblem::Removed, Some(row)) => format!("removed in {}", row.removed_in),
                (scan::ApiProblem::RemovedLater, Some(row)) => format!("removed in {} (served here)", row.removed_in),
                _ => "not served by this cluster".to_string(),
            };
            let replacement = f.row.and_then(|row| row.replacement.as_deref()).map(|x| format!(", use {x}")).unwrap_or_default();
            evidence.push(format!("revision {rev} {place}: {} {} {}: {why}{replacement}", o.kind, o.name, o.api_version));
        }
    }
    if evidence.is_empty() {
        return None;
    }
    let mut command = format!("{} --fix", releases_command("apis", r));
    if let Some(t) = target_flag {
        command.push_str(&format!(" --target-version {t}"));
    }
    Some(Finding {
        release: release_ref(r),
        check: Check::RemovedApi,
        severity: if blocks { Severity::Error } else { Severity::Warning },
        summary: if blocks {
            format!("revisions helm reads hold API versions Kubernetes {target} does not serve: upgrade and rollback fail")
        } else {
            format!("revisions helm reads hold API versions removed after Kubernetes {target}")
        },
        evidence,
        fix: Fix { command: Some(command), advice: None, asks_confirmation: true },
    })
}

/// both-drivers: one release with records under Secrets and ConfigMaps (reported on the ConfigMap copy,
/// the one helm's default driver does not read).
pub fn check_both_drivers(secret: &StoredRelease, configmap: &StoredRelease) -> Finding {
    let describe = |r: &StoredRelease| {
        let revs: Vec<String> =
            r.records.values().map(|rec| format!("{} {}", rec.revision, rec.status(r.generation).unwrap_or_else(|| "?".into()))).collect();
        format!("{} records: revisions {}", r.storage(), revs.join(", "))
    };
    let ns = &configmap.object_namespace;
    Finding {
        release: release_ref(configmap),
        check: Check::BothDrivers,
        severity: Severity::Warning,
        summary: "stored under both Helm 3 drivers: helm reads one (HELM_DRIVER), the other copy is stale".into(),
        evidence: vec![describe(secret), describe(configmap)],
        fix: Fix {
            command: Some(format!("kubectl werf releases forget {} {}", configmap.name, place(configmap).picking_flags())),
            advice: Some(format!(
                "helm reads Secrets unless HELM_DRIVER=configmap: the command forgets the ConfigMap copy (its objects stay). If your helm uses HELM_DRIVER=configmap, forget the Secret copy instead ({}). Keep a copy first with `kubectl werf releases export {} -n {ns} --helm-version 3 --release-storage configmap --dir DIR`",
                format_args!("kubectl werf releases forget {} {}", secret.name, place(secret).picking_flags()),
                configmap.name
            )),
            asks_confirmation: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_byte_counts_read_like_kubectl() {
        assert_eq!(age_text(-5), "0s");
        assert_eq!(age_text(59), "59s");
        assert_eq!(age_text(61), "1m1s");
        assert_eq!(age_text(3 * 3600 + 12 * 60), "3h12m");
        assert_eq!(age_text(2 * 86400 + 3600), "2d1h");
        assert_eq!(bytes_text(1_048_576), "1,048,576");
        assert_eq!(bytes_text(999), "999");
    }
}
