//! `--fix`: make releases upgradable again by writing a revision whose manifest and hooks use the API
//! versions this cluster serves.
//!
//! Per release (planned from a fresh read of every stored revision, never from the scan alone):
//! - The base is the last deployed revision: helm's upgrade diffs against it. Without one, the latest
//!   when it is failed or superseded (helm then diffs against that). An operation in flight (pending-*,
//!   uninstalling) is refused (`releases unlock` first); an uninstalled release has nothing helm reads.
//! - Revision latest+1 is a copy of the base with manifest and hooks converted
//!   ([`crate::release::apis::convert`]), status deployed (or the base's status when the base was not
//!   deployed), `last_deployed` now, and a description naming what was mapped. It is written only when the
//!   base or the latest holds a removed API (a failed latest on a clean deployed revision gets a clean copy
//!   on top, so that `helm rollback`, which builds the latest, works too).
//! - Order of writes, so that nothing is lost at any point: every record about to change is backed up
//!   (durably, before anything is written); the new revision is created (never overwriting), read back
//!   and compared; only then is the previous deployed revision marked superseded, at the resourceVersion it
//!   was planned at. A re-run after an interruption finds the new revision deployed and supersedes what is
//!   left deployed below it (its description says it came from here).
//! - `--all-revisions` also rewrites every other revision holding removed APIs in place (backed up first,
//!   at its resourceVersion), so that `helm rollback` to them works.
//!
//! Which objects are mapped: rows of the table removed by the target version (or not served by this
//! cluster), when the replacement is served here; kinds with no replacement are taken out with a note.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Serialize;

use super::super::collect::Generation;
use super::scan::{ReleaseScan, ServedApis, scan_texts};
use crate::release::apis::convert::{MappedObject, convert_text};
use crate::release::apis::{KubeVersion, RemovedApi, TextPlace};
use crate::release::{Time, helm2, helm3};
use crate::stop::StopSignal;
use crate::storage::backup::{BackupDir, record_from_raw};
use crate::storage::codec::{DecodeLimits, LabelStamp};
use crate::storage::helm3::now_unix;
use crate::storage::objects::{NewObject, ObjectInfo, ObjectKind, ObjectStore, same_record};
use crate::storage::{Helm2Storage, Helm3Driver};
use crate::storage::{Helm2Store, Helm3Store};

/// Every revision written here says so: a re-run recognises its own work by it.
pub const DESCRIPTION_MARK: &str = "Removed APIs mapped by kubectl-werf";

/// How many entries a description names before it says "and N more".
const DESCRIBED: usize = 6;

#[derive(Clone)]
pub struct FixOptions {
    pub target: KubeVersion,
    pub all_revisions: bool,
    pub limits: DecodeLimits,
}

/// The rows a fix maps: removed by the target (or not served here), with a replacement this cluster
/// serves (or no replacement at all: then the object is taken out).
pub fn wanted(row: &RemovedApi, target: KubeVersion, served: &ServedApis) -> bool {
    let gone = row.removed_by(target) || !served.serves(&row.api_version, &row.kind);
    gone && row.replacement.as_deref().is_none_or(|rep| served.serves(rep, &row.kind))
}

/// Which release to fix.
#[derive(Debug, Clone)]
pub struct FixCandidate {
    pub generation: Generation,
    pub kind: ObjectKind,
    pub object_namespace: String,
    pub name: String,
}

impl FixCandidate {
    pub fn of(r: &ReleaseScan) -> FixCandidate {
        FixCandidate { generation: r.generation, kind: r.kind, object_namespace: r.object_namespace.clone(), name: r.name.clone() }
    }
}

/// A stored release, either generation.
#[derive(Debug, Clone)]
enum Rec {
    Helm3(Box<helm3::Release>),
    Helm2(Box<helm2::Release>),
}

impl Rec {
    fn version(&self) -> i64 {
        match self {
            Rec::Helm3(r) => r.version,
            Rec::Helm2(r) => i64::from(r.version),
        }
    }

    fn namespace(&self) -> &str {
        match self {
            Rec::Helm3(r) => &r.namespace,
            Rec::Helm2(r) => &r.namespace,
        }
    }

    fn status(&self) -> helm3::Status {
        match self {
            Rec::Helm3(r) => r.info.status.clone(),
            Rec::Helm2(r) => super::super::view::helm2_status(r.status_code()),
        }
    }

    fn description(&self) -> String {
        match self {
            Rec::Helm3(r) => r.info.description.clone(),
            Rec::Helm2(r) => r.info.as_ref().map(|i| i.description.clone()).unwrap_or_default(),
        }
    }

    fn texts(&self) -> (String, Vec<(String, String)>) {
        match self {
            Rec::Helm3(r) => (r.manifest.clone(), r.hooks.iter().map(|h| (h.name.clone(), h.manifest.clone())).collect()),
            Rec::Helm2(r) => (r.manifest.clone(), r.hooks.iter().map(|h| (h.name.clone(), h.manifest.clone())).collect()),
        }
    }

    /// A copy with manifest and hooks converted; what was mapped and the notes.
    fn converted(&self, want: &dyn Fn(&RemovedApi) -> bool) -> (Rec, Vec<MappedObject>, Vec<String>) {
        let mut out = self.clone();
        let mut mapped = Vec::new();
        let mut notes = Vec::new();
        let mut apply = |text: &mut String, place: TextPlace, hook: Option<&str>| {
            let c = convert_text(text, place, hook, want);
            if c.changed() {
                *text = c.text;
                mapped.extend(c.mapped);
                notes.extend(c.notes);
            }
        };
        match &mut out {
            Rec::Helm3(r) => {
                apply(&mut r.manifest, TextPlace::Manifest, None);
                for h in &mut r.hooks {
                    let name = h.name.clone();
                    apply(&mut h.manifest, TextPlace::Hook, Some(&name));
                }
            }
            Rec::Helm2(r) => {
                apply(&mut r.manifest, TextPlace::Manifest, None);
                for h in &mut r.hooks {
                    let name = h.name.clone();
                    apply(&mut h.manifest, TextPlace::Hook, Some(&name));
                }
            }
        }
        (out, mapped, notes)
    }

    fn set_status(&mut self, status: helm3::Status) {
        match self {
            Rec::Helm3(r) => r.info.status = status,
            Rec::Helm2(r) => {
                let code = match status {
                    helm3::Status::Deployed => helm2::StatusCode::Deployed,
                    helm3::Status::Superseded => helm2::StatusCode::Superseded,
                    helm3::Status::Failed => helm2::StatusCode::Failed,
                    helm3::Status::Uninstalled => helm2::StatusCode::Deleted,
                    _ => helm2::StatusCode::Unknown,
                };
                let info = r.info.get_or_insert_with(Default::default);
                info.status.get_or_insert_with(Default::default).code = code as i32;
            }
        }
    }

    /// Becomes revision `version`, deployed now, described by `description`.
    fn renumber(&mut self, version: i64, description: String) {
        let now = Time::now();
        match self {
            Rec::Helm3(r) => {
                r.version = version;
                r.info.description = description;
                r.info.last_deployed = now;
            }
            Rec::Helm2(r) => {
                r.version = version as i32;
                let info = r.info.get_or_insert_with(Default::default);
                info.description = description;
                info.last_deployed = helm2::Timestamp::from_time(&now);
            }
        }
    }
}

/// One stored revision as read for the fix.
#[derive(Debug, Clone)]
struct Stored {
    object: ObjectInfo,
    rec: Rec,
}

/// Storage of one release: reads its revisions and builds the objects to write.
#[derive(Clone)]
pub struct ReleaseStore {
    candidate: FixCandidate,
    objects: ObjectStore,
    h3: Option<Helm3Store>,
    h2: Option<Helm2Store>,
}

impl std::fmt::Debug for ReleaseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReleaseStore").field("candidate", &self.candidate).finish()
    }
}

impl ReleaseStore {
    pub fn new(client: &kube::Client, candidate: FixCandidate, limits: DecodeLimits) -> Self {
        let objects = ObjectStore::new(client.clone(), candidate.kind);
        let (h3, h2) = match candidate.generation {
            Generation::Helm3 => {
                let driver = if candidate.kind == ObjectKind::Secret { Helm3Driver::Secret } else { Helm3Driver::ConfigMap };
                (Some(Helm3Store::new(client.clone(), driver, limits)), None)
            }
            Generation::Helm2 => {
                let storage = if candidate.kind == ObjectKind::Secret { Helm2Storage::Secret } else { Helm2Storage::ConfigMap };
                (None, Some(Helm2Store::new(client.clone(), &candidate.object_namespace, storage, limits)))
            }
        };
        ReleaseStore { candidate, objects, h3, h2 }
    }

    /// Every revision, oldest first; undecodable records are errors naming the record.
    async fn history(&self) -> Result<(Vec<Stored>, Vec<String>), String> {
        let c = &self.candidate;
        let what = |e: kube::Error| format!("cannot read the revisions of {}: {}", self.shown(), crate::error::describe_kube_error(&e));
        let (records, errors) = if let Some(h3) = &self.h3 {
            let l = h3.history(&c.object_namespace, &c.name).await.map_err(what)?;
            (l.records.into_iter().map(|r| Stored { object: r.object, rec: Rec::Helm3(Box::new(r.release)) }).collect::<Vec<_>>(), l.errors)
        } else if let Some(h2) = &self.h2 {
            let l = h2.history(&c.name).await.map_err(what)?;
            (
                l.records
                    .into_iter()
                    .filter(|r| r.object.kind == c.kind)
                    .map(|r| Stored { object: r.object, rec: Rec::Helm2(Box::new(r.release)) })
                    .collect(),
                l.errors,
            )
        } else {
            (Vec::new(), Vec::new())
        };
        Ok((records, errors.into_iter().map(|e| e.to_string()).collect()))
    }

    fn shown(&self) -> String {
        let c = &self.candidate;
        match c.generation {
            Generation::Helm3 => format!("release {} in namespace {}", c.name, c.object_namespace),
            Generation::Helm2 => format!("Helm 2 release {} (Tiller namespace {})", c.name, c.object_namespace),
        }
    }

    /// The record object for `rec`, named and placed where this release's records are.
    fn object_for(&self, rec: &Rec, stamp: LabelStamp) -> Result<NewObject, String> {
        let mut obj = match (rec, &self.h3, &self.h2) {
            (Rec::Helm3(r), Some(h3), _) => h3.object_for(r, stamp).map_err(|e| format!("cannot encode revision {}: {e}", r.version))?,
            (Rec::Helm2(r), _, Some(h2)) => h2.object_for(self.candidate.kind, r, stamp),
            _ => return Err("internal: record of the other generation".into()),
        };
        obj.namespace = self.candidate.object_namespace.clone();
        Ok(obj)
    }
}

/// What the fix does to one release.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum Action {
    /// Write `revision` from `base` (and supersede `supersede` afterwards).
    Write {
        revision: i64,
        base: i64,
        #[serde(rename = "baseStatus")]
        base_status: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        supersede: Option<i64>,
    },
    /// An earlier run wrote the fixed revision but did not get to supersede these.
    Supersede { revisions: Vec<i64> },
    /// Only older revisions are rewritten (`--all-revisions`).
    RewriteOnly,
    /// Nothing helm reads needs a change.
    Nothing { why: String },
    /// Not touched, and why.
    Refused { why: String },
}

/// An older revision rewritten in place.
#[derive(Debug, Clone, Serialize)]
pub struct Rewrite {
    pub revision: i64,
    pub status: String,
    pub mapped: Vec<String>,
    #[serde(skip)]
    before: Option<Stored>,
    #[serde(skip)]
    after: Option<Rec>,
}

/// The plan, and then the outcome, for one release.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseFix {
    pub release: String,
    pub namespace: String,
    pub storage: &'static str,
    #[serde(flatten)]
    pub action: Action,
    /// What the new revision maps (`Kind/name from→to`).
    pub mapped: Vec<String>,
    pub notes: Vec<String>,
    pub rewrites: Vec<Rewrite>,
    /// Problems the fix cannot solve: helm still cannot build these objects.
    pub unfixable: Vec<String>,
    /// `fixed`, `would-fix`, `unchanged`, `failed`, `interrupted`.
    pub result: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    #[serde(skip)]
    store: Option<ReleaseStore>,
    #[serde(skip)]
    base: Option<Stored>,
    #[serde(skip)]
    new_rec: Option<Rec>,
    #[serde(skip)]
    stale: Vec<Stored>,
}

impl ReleaseFix {
    pub fn writes(&self) -> usize {
        let main = match &self.action {
            Action::Write { supersede, .. } => 1 + usize::from(supersede.is_some()),
            Action::Supersede { revisions } => revisions.len(),
            _ => 0,
        };
        main + self.rewrites.len()
    }

    pub fn will_write(&self) -> bool {
        self.writes() > 0
    }

    fn new(c: &FixCandidate, namespace: String, action: Action) -> ReleaseFix {
        ReleaseFix {
            release: c.name.clone(),
            namespace,
            storage: match (c.generation, c.kind) {
                (Generation::Helm3, ObjectKind::Secret) => "secret",
                (Generation::Helm3, ObjectKind::ConfigMap) => "configmap",
                (Generation::Helm2, k) => crate::storage::helm2::storage_name(k),
            },
            action,
            mapped: Vec::new(),
            notes: Vec::new(),
            rewrites: Vec::new(),
            unfixable: Vec::new(),
            result: "unchanged".into(),
            errors: Vec::new(),
            store: None,
            base: None,
            new_rec: None,
            stale: Vec::new(),
        }
    }
}

fn describe_mapped(base: i64, mapped: &[MappedObject]) -> String {
    let mut parts: Vec<String> = mapped.iter().take(DESCRIBED).map(MappedObject::describe).collect();
    if mapped.len() > DESCRIBED {
        parts.push(format!("and {} more", mapped.len() - DESCRIBED));
    }
    if parts.is_empty() {
        format!("{DESCRIPTION_MARK} (copy of revision {base}, above a later revision holding removed APIs)")
    } else {
        format!("{DESCRIPTION_MARK} (copy of revision {base}): {}", parts.join(", "))
    }
}

/// Blocking findings left in a converted revision: what the fix cannot solve.
fn unfixable(rec: &Rec, served: &ServedApis, target: KubeVersion) -> Vec<String> {
    let (manifest, hooks) = rec.texts();
    let (findings, bad, _) = scan_texts(&manifest, &hooks, served, target);
    let mut out: Vec<String> = findings
        .iter()
        .filter(|f| f.problem.blocks())
        .map(|f| {
            let o = &f.object;
            let place = match &o.hook {
                Some(h) => format!(" (hook {h})"),
                None => String::new(),
            };
            let why = match (f.row, f.row.and_then(|r| r.replacement.as_deref())) {
                (Some(_), Some(rep)) => format!("its replacement {rep} is not served by this cluster"),
                (Some(_), None) => "removed with no replacement".into(),
                (None, _) => "this cluster does not serve it (a CRD not installed?), and it is not a removed Kubernetes API".into(),
            };
            format!("{}/{} {}{place}: {why}", o.kind, o.name, o.api_version)
        })
        .collect();
    out.extend(bad.into_iter().map(|b| format!("a document helm cannot read: {}", b.reason)));
    out.sort();
    out.dedup();
    out
}

/// Plan the fix of one release from a fresh read of its revisions.
pub async fn plan(client: &kube::Client, c: &FixCandidate, served: &ServedApis, opts: &FixOptions) -> ReleaseFix {
    let store = ReleaseStore::new(client, c.clone(), opts.limits);
    let (history, errors) = match store.history().await {
        Ok(h) => h,
        Err(e) => {
            let mut fix = ReleaseFix::new(c, c.object_namespace.clone(), Action::Refused { why: e });
            fix.store = Some(store);
            return fix;
        }
    };
    if !errors.is_empty() {
        let why = format!("a record cannot be decoded ({}); fix or remove it first", errors.join("; "));
        return ReleaseFix::new(c, c.object_namespace.clone(), Action::Refused { why });
    }
    let mut fix = plan_history(c, history, served, opts);
    fix.store = Some(store);
    fix
}

/// Plan a Helm 3 release from records not written yet (`migrate2to3`'s plan): what `plan` would say once
/// they are stored. `records` are the objects to be written, any order.
pub fn plan_records(c: &FixCandidate, records: &[NewObject], served: &ServedApis, opts: &FixOptions) -> Result<ReleaseFix, String> {
    let mut history = Vec::new();
    for o in records {
        let release = crate::storage::codec::decode_helm3(o.payload.as_bytes(), &opts.limits)
            .map_err(|e| format!("{}/{}: {e}", o.namespace, o.name))?;
        let object = ObjectInfo {
            kind: o.kind,
            namespace: o.namespace.clone(),
            name: o.name.clone(),
            labels: o.labels.clone(),
            resource_version: None,
            uid: None,
            creation_timestamp: None,
            secret_type: o.secret_type.clone(),
        };
        history.push(Stored { object, rec: Rec::Helm3(Box::new(release)) });
    }
    history.sort_by_key(|s| s.rec.version());
    Ok(plan_history(c, history, served, opts))
}

/// Plan from the revisions of one release, oldest first.
fn plan_history(c: &FixCandidate, history: Vec<Stored>, served: &ServedApis, opts: &FixOptions) -> ReleaseFix {
    let mut fix = ReleaseFix::new(c, c.object_namespace.clone(), Action::Nothing { why: String::new() });
    let Some(latest) = history.last().cloned() else {
        fix.action = Action::Refused { why: "no stored revision".into() };
        return fix;
    };
    fix.namespace = latest.rec.namespace().to_string();
    let target = opts.target;
    let want = |row: &RemovedApi| wanted(row, target, served);
    let latest_status = latest.rec.status();
    if latest_status.is_pending() || latest_status == helm3::Status::Uninstalling {
        fix.action = Action::Refused {
            why: format!(
                "revision {} is {}: an operation is in flight (if it is stuck: kubectl werf releases unlock {} -n {})",
                latest.rec.version(),
                latest_status,
                c.name,
                fix.namespace
            ),
        };
        return fix;
    }
    let deployed: Vec<&Stored> = history.iter().filter(|s| s.rec.status() == helm3::Status::Deployed).collect();
    // An earlier run wrote the fixed revision and was stopped before superseding the one below it.
    if deployed.len() > 1
        && let Some(newest) = deployed.last()
        && newest.rec.description().starts_with(DESCRIPTION_MARK)
    {
        let stale: Vec<Stored> = deployed[..deployed.len() - 1].iter().map(|s| (*s).clone()).collect();
        fix.action = Action::Supersede { revisions: stale.iter().map(|s| s.rec.version()).collect() };
        fix.stale = stale;
        return fix;
    }
    let base = match deployed.last() {
        Some(d) => Some((*d).clone()),
        None if matches!(latest_status, helm3::Status::Failed | helm3::Status::Superseded) => Some(latest.clone()),
        None => None,
    };
    let mut rewrite_from: BTreeSet<i64> = BTreeSet::new();
    match &base {
        None => {
            fix.action = Action::Nothing {
                why: format!(
                    "the latest revision {} is {latest_status}: helm reads no stored manifest to upgrade it",
                    latest.rec.version()
                ),
            };
        }
        Some(base) => {
            let (converted, mapped, notes) = base.rec.converted(&want);
            let (_, latest_mapped, _) = latest.rec.converted(&want);
            let latest_is_base = latest.object.name == base.object.name;
            if mapped.is_empty() && (latest_is_base || latest_mapped.is_empty()) {
                fix.action = Action::Nothing { why: "the revisions helm reads hold no removed API this cluster can replace".into() };
                fix.unfixable = unfixable(&base.rec, served, target);
            } else {
                let revision = latest.rec.version() + 1;
                let was_deployed = base.rec.status() == helm3::Status::Deployed;
                let mut new_rec = converted.clone();
                new_rec.renumber(revision, describe_mapped(base.rec.version(), &mapped));
                new_rec.set_status(if was_deployed { helm3::Status::Deployed } else { base.rec.status() });
                fix.unfixable = unfixable(&new_rec, served, target);
                fix.mapped = mapped.iter().map(MappedObject::describe).collect();
                fix.notes = notes;
                fix.action = Action::Write {
                    revision,
                    base: base.rec.version(),
                    base_status: base.rec.status().to_string(),
                    supersede: was_deployed.then(|| base.rec.version()),
                };
                fix.new_rec = Some(new_rec);
                fix.base = Some(base.clone());
                rewrite_from.insert(revision);
            }
        }
    }
    if opts.all_revisions {
        for s in &history {
            let (after, mapped, _) = s.rec.converted(&want);
            if mapped.is_empty() {
                continue;
            }
            fix.rewrites.push(Rewrite {
                revision: s.rec.version(),
                status: s.rec.status().to_string(),
                mapped: mapped.iter().map(MappedObject::describe).collect(),
                before: Some(s.clone()),
                after: Some(after),
            });
        }
        if !fix.rewrites.is_empty() && matches!(fix.action, Action::Nothing { .. }) {
            fix.action = Action::RewriteOnly;
        }
    }
    fix
}

/// Carries out planned fixes.
pub struct Executor {
    pub backup: BackupDir,
    pub stop: StopSignal,
    pub limits: DecodeLimits,
}

impl Executor {
    /// Read `s`'s record as it is now, check it is the version planned, and back it up.
    async fn back_up(&self, store: &ReleaseStore, s: &Stored) -> Result<(), String> {
        let key = s.object.key();
        let raw = store
            .objects
            .get(&s.object.namespace, &s.object.name)
            .await
            .map_err(|e| format!("{key}: cannot read: {}", crate::error::describe_kube_error(&e)))?
            .ok_or_else(|| format!("{key}: deleted since it was read; nothing changed (run again)"))?;
        if raw.info.resource_version != s.object.resource_version {
            return Err(format!("{key}: changed since it was read; nothing changed (run again)"));
        }
        let record = record_from_raw(&raw).ok_or_else(|| format!("{key}: no release data to back up"))?;
        self.backup
            .write(&record)
            .map_err(|e| format!("{key}: backup to {} failed: {e}; nothing changed", self.backup.path().display()))?;
        Ok(())
    }

    /// Replace `s` with `rec` at the resourceVersion it was read at.
    async fn replace(&self, store: &ReleaseStore, s: &Stored, rec: &Rec) -> Result<(), String> {
        let mut obj = store.object_for(rec, LabelStamp::Modified(now_unix()))?;
        obj.name = s.object.name.clone();
        obj.namespace = s.object.namespace.clone();
        let rv = s.object.resource_version.clone().unwrap_or_default();
        store.objects.replace_settled(&obj, &rv, &self.limits, &self.stop).await.map_err(|e| format!("{}: {e}", s.object.key()))?;
        Ok(())
    }

    /// Carry out one release's plan (nothing when it has nothing to write).
    pub async fn execute(&self, fix: &mut ReleaseFix) {
        if !fix.will_write() {
            return;
        }
        if self.stop.requested() {
            fix.result = "interrupted".into();
            return;
        }
        match self.run(fix).await {
            Ok(()) => fix.result = "fixed".into(),
            Err(e) => {
                fix.result = if self.stop.requested() { "interrupted".into() } else { "failed".into() };
                fix.errors.push(e);
            }
        }
    }

    async fn run(&self, fix: &mut ReleaseFix) -> Result<(), String> {
        let store = fix.store.clone().ok_or("internal: no store")?;
        // 1. Back up everything that is about to change, before anything is written.
        if let Some(base) = &fix.base {
            self.back_up(&store, base).await?;
        }
        for s in &fix.stale {
            self.back_up(&store, s).await?;
        }
        for r in &fix.rewrites {
            if let Some(before) = &r.before {
                self.back_up(&store, before).await?;
            }
        }
        // 2. The new revision: created, read back, compared.
        if let (Some(new_rec), Some(base)) = (&fix.new_rec, &fix.base) {
            let obj = store.object_for(new_rec, LabelStamp::Created(now_unix()))?;
            store
                .objects
                .create_settled(&obj, &self.limits, &self.stop)
                .await
                .map_err(|e| format!("{}/{}: {e}", obj.namespace, obj.name))?;
            let back = store
                .objects
                .get(&obj.namespace, &obj.name)
                .await
                .map_err(|e| format!("{}/{}: cannot read back: {}", obj.namespace, obj.name, crate::error::describe_kube_error(&e)))?
                .ok_or_else(|| format!("{}/{}: not found when read back", obj.namespace, obj.name))?;
            if !same_record(&obj, &back, &self.limits) {
                return Err(format!(
                    "{}/{}: read back differs from what was written; revision {} left as it was",
                    obj.namespace,
                    obj.name,
                    base.rec.version()
                ));
            }
            // 3. Only now: the previous deployed revision is superseded (with its converted manifest when
            //    --all-revisions rewrites it anyway: one write).
            if base.rec.status() == helm3::Status::Deployed {
                if self.stop.requested() {
                    return Err("interrupted after writing the new revision; run again to supersede the old one".into());
                }
                let rewrite = fix.rewrites.iter().position(|r| r.revision == base.rec.version());
                let mut rec = match rewrite {
                    Some(i) => fix.rewrites[i].after.clone().unwrap_or_else(|| base.rec.clone()),
                    None => base.rec.clone(),
                };
                rec.set_status(helm3::Status::Superseded);
                self.replace(&store, base, &rec).await?;
                if let Some(i) = rewrite {
                    fix.rewrites[i].before = None;
                }
            }
        }
        for s in &fix.stale {
            if self.stop.requested() {
                return Err("interrupted; run again to finish".into());
            }
            let mut rec = s.rec.clone();
            rec.set_status(helm3::Status::Superseded);
            self.replace(&store, s, &rec).await?;
        }
        // 4. --all-revisions: the others, in place.
        for r in &fix.rewrites {
            let (Some(before), Some(after)) = (&r.before, &r.after) else { continue };
            if self.stop.requested() {
                return Err("interrupted; run again to finish".into());
            }
            self.replace(&store, before, after).await?;
        }
        Ok(())
    }
}

/// Plan every candidate, `concurrency` at a time, in the candidates' order.
pub async fn plan_all(
    client: &kube::Client,
    candidates: &[FixCandidate],
    served: Arc<ServedApis>,
    opts: &FixOptions,
    concurrency: usize,
) -> Vec<ReleaseFix> {
    use futures::StreamExt;
    let mut out: Vec<(usize, ReleaseFix)> = futures::stream::iter(candidates.iter().enumerate())
        .map(|(i, c)| {
            let served = served.clone();
            async move { (i, plan(client, c, &served, opts).await) }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, f)| f).collect()
}
