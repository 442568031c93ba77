//! Helm 2 (Tiller) release → Helm 3 release: the pure conversion behind `migrate2to3`.
//!
//! [`convert`] maps one Helm 2 revision to the Helm 3 release JSON that helm 3.17 writes (and helm 4
//! reads). It does no I/O. Every place where information is dropped or changed is reported as a
//! [`ConversionNote`] so the migration plan can show it; data that cannot be converted faithfully is a
//! [`ConvertError`], never a silent loss.
//!
//! # Mapping
//! Copied: name, namespace, version (the revision, gaps kept), manifest (byte for byte), description,
//! notes (from `info.status.notes`). [`ConvertOptions`] may rename the release or move it to another
//! namespace; the result must be a valid Helm 3 release name / Kubernetes namespace name.
//!
//! - **Status**: the code name lower-cased with `_` → `-`; `DELETED` → `uninstalled`, `DELETING` →
//!   `uninstalling` (noted). An out-of-range code becomes `unknown` (noted).
//! - **Times**: `first_deployed`, `last_deployed`, `deleted` as RFC 3339 UTC with nanoseconds. A missing
//!   timestamp, and the all-zero one (which Tiller never writes for a real event), become Helm 3's zero
//!   form `""`. A timestamp outside Helm's range is an error.
//! - **Values**: `config.raw` (user values) and the chart's `values.raw` are parsed from YAML into JSON
//!   maps the way Helm reads them (`sigs.k8s.io/yaml` over go-yaml v2, i.e. YAML 1.1 scalars:
//!   `y`/`yes`/`no`/`on`/`off` are booleans, `0755` is octal, `1_000` is a number; non-string keys
//!   become strings, so a plain `y:` key is `"true"` exactly as in Helm; the last duplicate key wins).
//!   Empty text, a document with only comments, `null` and `{}` give an empty map (so `config` is left
//!   out, as Helm does). Anything else that is not a mapping, or that does not parse, is an error naming
//!   which values failed — never a silently empty map. Integers are kept exact (Helm itself reads every
//!   number as a float64, so the stored digits are the same for every integer it can represent);
//!   integral floats (`2.0`) are written `2`, as Go does. A chart without a values message keeps `values: null`,
//!   like a Helm 3 chart without `values.yaml`. The unused hapi `Config.values` map is dropped (noted if
//!   non-empty). Parse errors do not quote the input (values may hold secrets).
//! - **Chart metadata** is copied field by field; `apiVersion` as Tiller stored it (`v1`, or empty for old
//!   charts — noted, Helm 3 only requires it when loading a chart from disk). `type` is set to
//!   `application` (every Helm 2 chart is one; noted). `engine` and `tillerVersion` have no Helm 3 field
//!   and are dropped (noted when set). `dependencies`, `lock` and `schema` stay absent: Helm 2 has no
//!   place for them (a `requirements.yaml` stays an ordinary chart file, as Helm 3 keeps it for v1 charts).
//! - **Templates** 1:1 (name, bytes; base64 in the JSON). **Files**: `Any.type_url` → name, `value` →
//!   data. Empty bytes are written `null`, as Go writes the nil slice golang/protobuf decodes them to.
//!   An empty template or file list is `null`, as Helm writes a nil slice.
//! - **Subcharts** (`chart.dependencies`) are dropped: Helm 3 storage never holds subcharts. Their
//!   rendered objects are in the manifest and their values in the parent's values, so nothing Helm 3
//!   needs is lost; each subchart is noted with its template/file counts.
//! - **Hook events** lower-cased with `_` → `-`; `RELEASE_TEST_SUCCESS` and `RELEASE_TEST_FAILURE` →
//!   `test` (once). A `RELEASE_TEST_FAILURE` hook is noted: Helm 3 expects every test to succeed.
//!   `CRD_INSTALL` has no Helm 3 equivalent (Helm 3 installs CRDs from the chart's `crds/` directory and
//!   never deletes them). helm-2to3 drops the event; we do too, but keep the hook with its other events
//!   and say so. A hook whose only event was `crd-install` is kept with no events: Helm 3 then never runs
//!   or deletes it (which is exactly how Helm 3 treats CRDs), while `helm get hooks` still shows it.
//!   `UNKNOWN` and out-of-range events are dropped (noted).
//! - **Delete policies**: `SUCCEEDED` → `hook-succeeded`, `FAILED` → `hook-failed`,
//!   `BEFORE_HOOK_CREATION` → `before-hook-creation`; out-of-range values dropped (noted). `weight` is
//!   copied. `delete_timeout` (`helm.sh/hook-delete-timeout`) has no Helm 3 field: dropped (noted when set).
//! - **Hook `last_run`**: Tiller stamps a hook's single `last_run` only after the hook became ready
//!   (after its whole event succeeded), so it is a *completion* time of a *successful* run. A non-test
//!   hook with `last_run` therefore gets `{started_at: last_run, completed_at: last_run, phase:
//!   Succeeded}`; the start is not recorded by Helm 2, so `started_at` repeats the completion instant (an
//!   upper bound; noted). A hook without `last_run` never ran: `{"", "", ""}` as Helm 3 writes it.
//!   A test hook takes `started_at`, `completed_at` and the phase from the `last_test_suite_run` result
//!   with the same name (`SUCCESS` → `Succeeded`, `FAILURE` → `Failed`, `RUNNING` → `Running`,
//!   `UNKNOWN` → `Unknown`); a test hook without a result falls back to its `last_run` as above.
//! - **Test suite**: Helm 3 keeps test results only on the hooks. The suite's own start/completion times
//!   are dropped (noted), as are a result's `info` message and results without a matching hook (noted).
//! - **`status.resources`** (Tiller's `kubectl get`-style text snapshot) is dropped (noted when set):
//!   Helm 3's `info.resources` is a map of live objects that Helm never stores (only `helm status
//!   --show-resources` fills it, from the cluster), and a text value there would break Helm's decoding.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use super::helm2;
use super::helm3;
use super::time::Time;
use crate::names::{self, NameError};

/// What to change while converting (one release renamed and/or moved).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConvertOptions {
    /// Store the release under this name instead of the Helm 2 one.
    pub target_name: Option<String>,
    /// Store the release in this namespace instead of the one in the Helm 2 payload.
    pub target_namespace: Option<String>,
}

/// A converted revision and what the conversion changed or dropped.
#[derive(Clone, Debug, PartialEq)]
pub struct Conversion {
    pub release: helm3::Release,
    pub notes: Vec<ConversionNote>,
}

impl Conversion {
    /// The notes of one kind.
    pub fn notes_of(&self, kind: NoteKind) -> impl Iterator<Item = &ConversionNote> {
        self.notes.iter().filter(move |n| n.kind == kind)
    }
}

/// Which kind of change a [`ConversionNote`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NoteKind {
    /// The release gets another name ([`ConvertOptions::target_name`]).
    Renamed,
    /// The release goes to another namespace ([`ConvertOptions::target_namespace`]).
    Moved,
    /// The status is spelled differently in Helm 3 (`DELETED` → `uninstalled`, …) or was out of range.
    Status,
    /// `status.resources` (a text snapshot) is not stored by Helm 3.
    ResourcesDropped,
    /// The test suite's own data (times, messages, unmatched results) has no Helm 3 place.
    TestSuite,
    /// The release has no chart.
    ChartMissing,
    /// A subchart is not stored (Helm 3 storage never holds subcharts).
    SubchartDropped,
    /// A chart metadata field without a Helm 3 equivalent (`engine`, `tillerVersion`) is dropped.
    ChartFieldDropped,
    /// A chart metadata field is set or kept in a way worth knowing (`type: application`, empty `apiVersion`).
    ChartMetadata,
    /// The hapi `Config.values` map (unused by Tiller) is not empty and is dropped.
    ValuesMapDropped,
    /// A hook event without a Helm 3 equivalent is dropped (`crd-install`, `UNKNOWN`, out of range).
    HookEventDropped,
    /// A hook event changes meaning (`release-test-failure` → `test`).
    HookEventChanged,
    /// A hook delete policy out of range is dropped.
    HookDeletePolicyDropped,
    /// A hook's `delete_timeout` has no Helm 3 field.
    HookDeleteTimeoutDropped,
    /// A hook's `last_run` is derived from Helm 2's single completion timestamp.
    HookLastRun,
}

impl NoteKind {
    /// A short stable identifier (for machine-readable plan output).
    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::Renamed => "renamed",
            NoteKind::Moved => "moved",
            NoteKind::Status => "status",
            NoteKind::ResourcesDropped => "resources-dropped",
            NoteKind::TestSuite => "test-suite",
            NoteKind::ChartMissing => "chart-missing",
            NoteKind::SubchartDropped => "subchart-dropped",
            NoteKind::ChartFieldDropped => "chart-field-dropped",
            NoteKind::ChartMetadata => "chart-metadata",
            NoteKind::ValuesMapDropped => "values-map-dropped",
            NoteKind::HookEventDropped => "hook-event-dropped",
            NoteKind::HookEventChanged => "hook-event-changed",
            NoteKind::HookDeletePolicyDropped => "hook-delete-policy-dropped",
            NoteKind::HookDeleteTimeoutDropped => "hook-delete-timeout-dropped",
            NoteKind::HookLastRun => "hook-last-run",
        }
    }
}

impl fmt::Display for NoteKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One change made by the conversion, for the plan output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversionNote {
    pub kind: NoteKind,
    /// Human text, e.g. `subchart cache 0.1.0 (5 templates) not stored: Helm 3 storage never holds subcharts`.
    pub text: String,
}

impl fmt::Display for ConversionNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Which values text failed to parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValuesSource {
    /// The user-supplied values (`config.raw`).
    Config,
    /// The chart's default values (`chart.values.raw`).
    ChartValues,
}

impl fmt::Display for ValuesSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValuesSource::Config => "user values (config.raw)",
            ValuesSource::ChartValues => "chart values (chart.values.raw)",
        })
    }
}

/// A Helm 2 revision that cannot be converted faithfully. Display is short and lower-case; callers
/// prefix the record identity.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The release has no name (and no target name was given).
    #[error("release has no name")]
    MissingName,
    /// The release has no namespace (and no target namespace was given).
    #[error("release has no namespace; choose a target namespace")]
    MissingNamespace,
    /// The (target) name or namespace is not valid for Helm 3 storage.
    #[error("{0}")]
    InvalidName(#[from] NameError),
    /// Revisions start at 1.
    #[error("invalid revision {0}")]
    InvalidRevision(i32),
    /// Values YAML that does not parse into a map.
    #[error("{which}: {message}")]
    Values { which: ValuesSource, message: String },
    /// A timestamp Helm cannot represent.
    #[error("{field}: timestamp out of range (seconds {seconds}, nanos {nanos})")]
    Timestamp { field: String, seconds: i64, nanos: i32 },
}

/// Converts one Helm 2 revision into the Helm 3 release that stores the same thing.
pub fn convert(v2: &helm2::Release, opts: &ConvertOptions) -> Result<Conversion, ConvertError> {
    let mut notes = Notes::default();

    let name = match &opts.target_name {
        Some(target) => {
            if *target != v2.name {
                notes.add(NoteKind::Renamed, format!("release renamed from {:?} to {target:?}", v2.name));
            }
            target.clone()
        }
        None if v2.name.is_empty() => return Err(ConvertError::MissingName),
        None => v2.name.clone(),
    };
    names::validate_release_name(&name)?;

    let namespace = match &opts.target_namespace {
        Some(target) => {
            if *target != v2.namespace {
                notes.add(
                    NoteKind::Moved,
                    format!("release moved from namespace {:?} to {target:?} (manifest and notes unchanged)", v2.namespace),
                );
            }
            target.clone()
        }
        None if v2.namespace.is_empty() => return Err(ConvertError::MissingNamespace),
        None => v2.namespace.clone(),
    };
    names::validate_namespace_name(&namespace)?;

    if v2.version < 1 {
        return Err(ConvertError::InvalidRevision(v2.version));
    }

    let info = v2.info.clone().unwrap_or_default();
    let status = info.status.clone().unwrap_or_default();
    let suite = status.last_test_suite_run.as_ref();

    let info3 = helm3::Info {
        first_deployed: time(info.first_deployed.as_ref(), "info.first_deployed")?,
        last_deployed: time(info.last_deployed.as_ref(), "info.last_deployed")?,
        deleted: time(info.deleted.as_ref(), "info.deleted")?,
        description: info.description.clone(),
        status: convert_status(status.code, &mut notes),
        notes: status.notes.clone(),
        resources: None,
        extra: Map::new(),
    };
    if !status.resources.is_empty() {
        notes.add(
            NoteKind::ResourcesDropped,
            format!(
                "status resources ({} lines of text) not stored: Helm 3 never stores resources (helm status --show-resources reads them live)",
                status.resources.lines().count()
            ),
        );
    }

    let chart = match &v2.chart {
        Some(c) => convert_chart(c, &mut notes)?,
        None => {
            notes.add(NoteKind::ChartMissing, "release has no chart; stored with an empty chart");
            helm3::Chart::default()
        }
    };

    let config = match &v2.config {
        Some(c) => {
            if !c.values.is_empty() {
                notes.add(
                    NoteKind::ValuesMapDropped,
                    format!("config.values map ({}, unused by Tiller) dropped; config.raw is kept", plural(c.values.len(), "entry")),
                );
            }
            parse_values(&c.raw, ValuesSource::Config)?
        }
        None => Map::new(),
    };

    let hooks = convert_hooks(&v2.hooks, suite, &mut notes)?;
    if let Some(suite) = suite {
        suite_notes(suite, &v2.hooks, &mut notes)?;
    }

    let release = helm3::Release {
        name,
        info: info3,
        chart: Some(chart),
        config,
        manifest: v2.manifest.clone(),
        hooks,
        version: i64::from(v2.version),
        namespace,
        apply_method: String::new(),
        extra: Map::new(),
        labels: BTreeMap::new(),
    };
    Ok(Conversion { release, notes: notes.0 })
}

#[derive(Default)]
struct Notes(Vec<ConversionNote>);

impl Notes {
    fn add(&mut self, kind: NoteKind, text: impl Into<String>) {
        self.0.push(ConversionNote { kind, text: text.into() });
    }
}

/// A Helm 2 timestamp as a Helm 3 time; missing or all-zero → `""`.
fn time(ts: Option<&helm2::Timestamp>, field: &str) -> Result<Time, ConvertError> {
    match ts {
        None => Ok(Time::ZERO),
        Some(t) if t.seconds == 0 && t.nanos == 0 => Ok(Time::ZERO),
        Some(t) => t.to_time().ok_or_else(|| ConvertError::Timestamp { field: field.to_owned(), seconds: t.seconds, nanos: t.nanos }),
    }
}

/// The Helm 3 status for a Helm 2 status code.
pub fn status_from_helm2(code: i32) -> Option<helm3::Status> {
    use helm2::StatusCode as C;
    use helm3::Status as S;
    Some(match C::try_from(code).ok()? {
        C::Unknown => S::Unknown,
        C::Deployed => S::Deployed,
        C::Deleted => S::Uninstalled,
        C::Superseded => S::Superseded,
        C::Failed => S::Failed,
        C::Deleting => S::Uninstalling,
        C::PendingInstall => S::PendingInstall,
        C::PendingUpgrade => S::PendingUpgrade,
        C::PendingRollback => S::PendingRollback,
    })
}

fn convert_status(code: i32, notes: &mut Notes) -> helm3::Status {
    match status_from_helm2(code) {
        Some(s) => {
            if matches!(s, helm3::Status::Uninstalled | helm3::Status::Uninstalling) {
                notes.add(NoteKind::Status, format!("status {} is called {s} in Helm 3", helm2::status_code_name(code)));
            }
            s
        }
        None => {
            notes.add(NoteKind::Status, format!("status code {code} is out of range; stored as unknown"));
            helm3::Status::Unknown
        }
    }
}

/// The Helm 3 event for a Helm 2 hook event; `None` for events Helm 3 does not have (`CRD_INSTALL`,
/// `UNKNOWN`, out of range).
pub fn hook_event_from_helm2(event: i32) -> Option<helm3::HookEvent> {
    use helm2::HookEvent as E;
    use helm3::HookEvent as H;
    Some(match E::try_from(event).ok()? {
        E::PreInstall => H::PreInstall,
        E::PostInstall => H::PostInstall,
        E::PreDelete => H::PreDelete,
        E::PostDelete => H::PostDelete,
        E::PreUpgrade => H::PreUpgrade,
        E::PostUpgrade => H::PostUpgrade,
        E::PreRollback => H::PreRollback,
        E::PostRollback => H::PostRollback,
        E::ReleaseTestSuccess | E::ReleaseTestFailure => H::Test,
        E::CrdInstall | E::Unknown => return None,
    })
}

/// The Helm 3 delete policy for a Helm 2 one; `None` if out of range.
pub fn hook_delete_policy_from_helm2(policy: i32) -> Option<helm3::HookDeletePolicy> {
    use helm2::HookDeletePolicy as P;
    use helm3::HookDeletePolicy as H;
    Some(match P::try_from(policy).ok()? {
        P::Succeeded => H::HookSucceeded,
        P::Failed => H::HookFailed,
        P::BeforeHookCreation => H::BeforeHookCreation,
    })
}

/// The Helm 3 hook phase for a Helm 2 test run status; `None` if out of range.
pub fn hook_phase_from_test_status(status: i32) -> Option<helm3::HookPhase> {
    use helm2::TestRunStatus as T;
    use helm3::HookPhase as P;
    Some(match T::try_from(status).ok()? {
        T::Unknown => P::Unknown,
        T::Success => P::Succeeded,
        T::Failure => P::Failed,
        T::Running => P::Running,
    })
}

fn is_test_event(e: i32) -> bool {
    e == helm2::HookEvent::ReleaseTestSuccess as i32 || e == helm2::HookEvent::ReleaseTestFailure as i32
}

fn convert_hooks(hooks: &[helm2::Hook], suite: Option<&helm2::TestSuite>, notes: &mut Notes) -> Result<Vec<helm3::Hook>, ConvertError> {
    let mut out = Vec::with_capacity(hooks.len());
    for h in hooks {
        let label = if h.name.is_empty() { format!("hook at {}", h.path) } else { format!("hook {}", h.name) };

        let mut events: Vec<helm3::HookEvent> = Vec::with_capacity(h.events.len());
        for &e in &h.events {
            match hook_event_from_helm2(e) {
                Some(ev) => {
                    if e == helm2::HookEvent::ReleaseTestFailure as i32 {
                        notes.add(
                            NoteKind::HookEventChanged,
                            format!("{label}: release-test-failure becomes test; Helm 3 expects the test to succeed"),
                        );
                    }
                    if !events.contains(&ev) {
                        events.push(ev);
                    }
                }
                None if e == helm2::HookEvent::CrdInstall as i32 => {
                    let rest = h.events.iter().filter(|&&o| o != e).count();
                    let what = if rest == 0 {
                        "kept with no events, so Helm 3 never runs or deletes it (Helm 3 installs CRDs from the chart's crds/ directory and never deletes them)"
                    } else {
                        "dropped, the hook keeps its other events (Helm 3 installs CRDs from the chart's crds/ directory)"
                    };
                    notes.add(NoteKind::HookEventDropped, format!("{label}: crd-install event has no Helm 3 equivalent; {what}"));
                }
                None => {
                    let name = helm2::hook_event_name(e).map_or_else(|| format!("out-of-range event {e}"), |n| format!("event {n}"));
                    notes.add(NoteKind::HookEventDropped, format!("{label}: {name} dropped (Helm 3 has no such event)"));
                }
            }
        }

        let mut delete_policies = Vec::with_capacity(h.delete_policies.len());
        for &p in &h.delete_policies {
            match hook_delete_policy_from_helm2(p) {
                Some(pol) => delete_policies.push(pol),
                None => notes.add(NoteKind::HookDeletePolicyDropped, format!("{label}: out-of-range delete policy {p} dropped")),
            }
        }
        if h.delete_timeout != 0 {
            notes.add(
                NoteKind::HookDeleteTimeoutDropped,
                format!("{label}: delete timeout {}s dropped (Helm 3 has no hook-delete-timeout)", h.delete_timeout),
            );
        }

        let is_test = h.events.iter().any(|&e| is_test_event(e));
        let result = if is_test { suite.and_then(|s| s.results.iter().rev().find(|r| r.name == h.name)) } else { None };
        let last_run = match (result, h.last_run.as_ref()) {
            (Some(run), last) => {
                let phase = match hook_phase_from_test_status(run.status) {
                    Some(p) => p,
                    None => {
                        notes.add(NoteKind::TestSuite, format!("{label}: test result status {} out of range; phase Unknown", run.status));
                        helm3::HookPhase::Unknown
                    }
                };
                if last.is_some_and(|t| t.seconds != 0 || t.nanos != 0) {
                    notes.add(
                        NoteKind::HookLastRun,
                        format!("{label}: last_run taken from its test result; the hook's own last_run timestamp dropped"),
                    );
                }
                helm3::HookExecution {
                    started_at: time(run.started_at.as_ref(), &format!("{label}: test started_at"))?,
                    completed_at: time(run.completed_at.as_ref(), &format!("{label}: test completed_at"))?,
                    phase,
                    extra: Map::new(),
                }
            }
            (None, Some(t)) if t.seconds != 0 || t.nanos != 0 => {
                let at = time(Some(t), &format!("{label}: last_run"))?;
                notes.add(
                    NoteKind::HookLastRun,
                    format!(
                        "{label}: Helm 2 records only when it completed successfully ({at}); stored as started and completed then, phase Succeeded"
                    ),
                );
                helm3::HookExecution { started_at: at, completed_at: at, phase: helm3::HookPhase::Succeeded, extra: Map::new() }
            }
            _ => helm3::HookExecution::default(),
        };

        out.push(helm3::Hook {
            name: h.name.clone(),
            kind: h.kind.clone(),
            path: h.path.clone(),
            manifest: h.manifest.clone(),
            events,
            last_run,
            weight: i64::from(h.weight),
            delete_policies,
            output_log_policies: Vec::new(),
            extra: Map::new(),
        });
    }
    Ok(out)
}

fn suite_notes(suite: &helm2::TestSuite, hooks: &[helm2::Hook], notes: &mut Notes) -> Result<(), ConvertError> {
    let started = time(suite.started_at.as_ref(), "last test suite run started_at")?;
    let completed = time(suite.completed_at.as_ref(), "last test suite run completed_at")?;
    let mut text = format!("last test suite run ({} result{}", suite.results.len(), if suite.results.len() == 1 { "" } else { "s" });
    if let Some(s) = started.to_rfc3339() {
        text.push_str(&format!(", started {s}"));
    }
    if let Some(c) = completed.to_rfc3339() {
        text.push_str(&format!(", completed {c}"));
    }
    text.push_str("): suite times not stored; each result is kept as its test hook's last_run");
    notes.add(NoteKind::TestSuite, text);
    for r in &suite.results {
        let matched = hooks.iter().any(|h| h.name == r.name && h.events.iter().any(|&e| is_test_event(e)));
        let status = helm2::test_run_status_name(r.status).unwrap_or("out-of-range status");
        if !matched {
            notes.add(NoteKind::TestSuite, format!("test result {:?} ({status}) has no matching test hook; dropped", r.name));
        }
        if !r.info.is_empty() {
            notes.add(NoteKind::TestSuite, format!("test result {:?} ({status}) message dropped: {}", r.name, r.info));
        }
    }
    Ok(())
}

fn convert_chart(c: &helm2::Chart, notes: &mut Notes) -> Result<helm3::Chart, ConvertError> {
    let metadata = c.metadata.as_ref().map(|m| convert_metadata(m, notes));

    let templates: Vec<helm3::File> = c.templates.iter().map(|t| file(&t.name, &t.data)).collect();
    let files: Vec<helm3::File> = c.files.iter().map(|f| file(&f.type_url, &f.value)).collect();

    let values = match &c.values {
        Some(v) => {
            if !v.values.is_empty() {
                notes.add(
                    NoteKind::ValuesMapDropped,
                    format!("chart values.values map ({}, unused by Tiller) dropped; values.raw is kept", plural(v.values.len(), "entry")),
                );
            }
            Some(parse_values(&v.raw, ValuesSource::ChartValues)?)
        }
        None => None,
    };

    for sub in &c.dependencies {
        notes.add(NoteKind::SubchartDropped, subchart_note(sub));
    }

    Ok(helm3::Chart {
        metadata,
        lock: None,
        templates: (!templates.is_empty()).then_some(templates),
        values,
        schema: None,
        schemamodtime: Time::absent(),
        files: (!files.is_empty()).then_some(files),
        modtime: Time::absent(),
        extra: Map::new(),
    })
}

fn file(name: &str, data: &[u8]) -> helm3::File {
    helm3::File { name: name.to_owned(), data: (!data.is_empty()).then(|| data.to_vec()), modtime: Time::absent(), extra: Map::new() }
}

fn plural(n: usize, one: &str) -> String {
    match (n, one.strip_suffix('y')) {
        (1, _) => format!("1 {one}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        (_, None) => format!("{n} {one}s"),
    }
}

fn subchart_note(sub: &helm2::Chart) -> String {
    fn count(c: &helm2::Chart, acc: &mut (usize, usize, usize)) {
        acc.0 += c.templates.len();
        acc.1 += c.files.len();
        for d in &c.dependencies {
            acc.2 += 1;
            count(d, acc);
        }
    }
    let mut acc = (0, 0, 0);
    count(sub, &mut acc);
    let (name, version) = sub.metadata.as_ref().map_or(("(unnamed)", ""), |m| (m.name.as_str(), m.version.as_str()));
    let mut what = plural(acc.0, "template");
    if acc.1 > 0 {
        what.push_str(&format!(", {}", plural(acc.1, "file")));
    }
    if acc.2 > 0 {
        what.push_str(&format!(", {}", plural(acc.2, "nested subchart")));
    }
    let title = if version.is_empty() { name.to_owned() } else { format!("{name} {version}") };
    format!("subchart {title} ({what}) not stored: Helm 3 storage never holds subcharts (its objects stay in the manifest)")
}

fn convert_metadata(m: &helm2::Metadata, notes: &mut Notes) -> helm3::Metadata {
    if !m.engine.is_empty() {
        notes.add(NoteKind::ChartFieldDropped, format!("chart.metadata.engine {:?} dropped (Helm 3 has no engine field)", m.engine));
    }
    if !m.tiller_version.is_empty() {
        notes
            .add(NoteKind::ChartFieldDropped, format!("chart.metadata.tillerVersion {:?} dropped (no Tiller in Helm 3)", m.tiller_version));
    }
    if m.api_version.is_empty() {
        notes.add(
            NoteKind::ChartMetadata,
            "chart.metadata.apiVersion is empty (pre-v1 Helm 2 chart); kept empty, Helm 3 only requires it when loading a chart from disk",
        );
    }
    notes.add(NoteKind::ChartMetadata, "chart.metadata.type set to application (every Helm 2 chart is an application chart)");
    helm3::Metadata {
        name: m.name.clone(),
        home: m.home.clone(),
        sources: m.sources.clone(),
        version: m.version.clone(),
        description: m.description.clone(),
        keywords: m.keywords.clone(),
        maintainers: m
            .maintainers
            .iter()
            .map(|x| helm3::Maintainer { name: x.name.clone(), email: x.email.clone(), url: x.url.clone(), extra: Map::new() })
            .collect(),
        icon: m.icon.clone(),
        api_version: m.api_version.clone(),
        condition: m.condition.clone(),
        tags: m.tags.clone(),
        app_version: m.app_version.clone(),
        deprecated: m.deprecated,
        annotations: m.annotations.clone(),
        kube_version: m.kube_version.clone(),
        dependencies: Vec::new(),
        chart_type: "application".to_owned(),
        extra: Map::new(),
    }
}

/// Parses Helm 2 values YAML into the JSON map Helm 3 stores, as Helm reads it
/// ([`crate::golang::yaml::unmarshal_values`]). Errors say which values failed, never what they hold.
pub fn parse_values(raw: &str, source: ValuesSource) -> Result<Map<String, Value>, ConvertError> {
    crate::golang::yaml::unmarshal_values(raw).map_err(|message| ConvertError::Values { which: source, message })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(raw: &str) -> Value {
        Value::Object(parse_values(raw, ValuesSource::Config).unwrap())
    }

    #[test]
    fn empty_values_are_empty_maps() {
        for raw in ["", "{}\n", "{}", "\n\n", "# only a comment\n", "null\n", "~", "---\n"] {
            assert_eq!(parse_values(raw, ValuesSource::Config).unwrap(), Map::new(), "{raw:?}");
        }
    }

    #[test]
    fn yaml_1_1_scalars_like_go_yaml_v2() {
        let v = vals("a: yes\nb: off\nc: '1.27'\nd: 0755\ne: 0x1F\nf: 1_000\ng: 0.75\nh: ~\ni: \"yes\"\nj: 2020-01-02\nk: -3\n");
        assert_eq!(
            v,
            serde_json::json!({"a": true, "b": false, "c": "1.27", "d": 493, "e": 31, "f": 1000, "g": 0.75, "h": null,
                "i": "yes", "j": "2020-01-02", "k": -3})
        );
    }

    #[test]
    fn big_numbers_like_go() {
        let v = vals("exact: 9007199254740993\nbig: 18446744073709551615\nhuge: 100000000000000000000000\nneg: -9223372036854775808\n");
        assert_eq!(v["exact"], serde_json::json!(9_007_199_254_740_993_u64), "integers are kept exact");
        assert_eq!(v["big"], serde_json::json!(u64::MAX));
        assert_eq!(v["huge"], serde_json::json!(1e23), "beyond 64 bits Go falls back to float64");
        assert_eq!(v["neg"], serde_json::json!(i64::MIN));
        // Integral floats are written by Go as plain digits; held as integers so a stored record reads back equal.
        let v = vals("a: 2.0\nb: 1e3\nc: -0.0\nd: 0.5\n");
        assert_eq!(v, serde_json::json!({"a": 2, "b": 1000, "c": -0.0, "d": 0.5}));
        assert!(v["a"].is_i64() && v["c"].is_f64());
        let text = String::from_utf8(crate::golang::json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(text, r#"{"a":2,"b":1000,"c":-0,"d":0.5}"#);
    }

    #[test]
    fn last_duplicate_key_wins_like_helm() {
        assert_eq!(vals("a: 1\nb: 2\na: 3\n"), serde_json::json!({"a": 3, "b": 2}));
    }

    #[test]
    fn non_string_keys_become_strings() {
        let v = vals("1: a\ntrue: b\n1.5: c\nnested:\n  2: d\n");
        assert_eq!(v, serde_json::json!({"1": "a", "true": "b", "1.5": "c", "nested": {"2": "d"}}));
        // go-yaml v2 reads a plain `y`/`n`/`on` as a boolean, keys included; Helm then writes "true"/"false".
        assert_eq!(vals("y: 1\nn: 2\n'on': 3\n"), serde_json::json!({"true": 1, "false": 2, "on": 3}));
    }

    #[test]
    fn anchors_and_merges() {
        let v = vals("base: &b {p: 1, q: 2}\nderived:\n  <<: *b\n  q: 3\nlist: [*b]\n");
        assert_eq!(v["derived"], serde_json::json!({"p": 1, "q": 3}));
        assert_eq!(v["list"], serde_json::json!([{"p": 1, "q": 2}]));
    }

    #[test]
    fn bad_values_are_errors_that_do_not_quote_the_input() {
        for raw in ["- a\n- b\n", "just text\n", "42\n", "a: [1, 2\n", "a: .inf\n", "key: secret-value\n  bad: indent\n"] {
            let e = parse_values(raw, ValuesSource::ChartValues).unwrap_err();
            let ConvertError::Values { which, message } = &e else { panic!("{e:?}") };
            assert_eq!(*which, ValuesSource::ChartValues);
            assert!(!message.contains("secret-value"), "{message}");
            assert!(e.to_string().starts_with("chart values (chart.values.raw): "), "{e}");
        }
    }

    #[test]
    fn zero_and_out_of_range_times() {
        assert_eq!(time(None, "x").unwrap(), Time::ZERO);
        assert_eq!(time(Some(&helm2::Timestamp { seconds: 0, nanos: 0 }), "x").unwrap(), Time::ZERO);
        let t = time(Some(&helm2::Timestamp { seconds: 1_795_300_486, nanos: 806_313_336 }), "x").unwrap();
        assert_eq!(t.to_rfc3339().unwrap(), "2026-11-21T22:34:46.806313336Z");
        let e = time(Some(&helm2::Timestamp { seconds: i64::MAX, nanos: 0 }), "info.deleted").unwrap_err();
        assert!(matches!(e, ConvertError::Timestamp { ref field, .. } if field == "info.deleted"), "{e:?}");
    }
}
