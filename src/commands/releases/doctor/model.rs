//! What doctor reports: findings, their severities and fixes. Shared by the storage checks (`mod.rs`,
//! `storage.rs`) and the live-object checks (`ownership.rs`, `drift.rs`).

use serde::Serialize;

/// How bad a finding is; the worst one sets the exit code.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; the next upgrade is not expected to fail (exit 0).
    Info,
    /// Something helm will trip on sooner or later, or that can lose objects (exit 3).
    Warning,
    /// The next helm upgrade/rollback is expected to fail, or a record cannot be read (exit 4).
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    /// The documented exit code when this is the worst finding.
    pub fn exit_code(self) -> i32 {
        match self {
            Severity::Info => 0,
            Severity::Warning => 3,
            Severity::Error => 4,
        }
    }
}

/// The checks doctor runs; `as_str` is the name in the table, JSON/YAML and README.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    SeveralDeployed,
    NoDeployed,
    Pending,
    LabelDrift,
    BothDrivers,
    Helm2AndHelm3,
    Undecodable,
    Size,
    RemovedApi,
    /// An object's ownership annotations name a release whose manifest does not contain it, or no
    /// existing release.
    ForeignOwner,
    /// An object in the manifests of two releases.
    SharedObject,
    /// `--drift`: an object of the latest deployed manifest is missing live.
    DriftMissing,
    /// `--drift`: a field the manifest sets differs live.
    DriftField,
}

impl Check {
    pub fn as_str(self) -> &'static str {
        match self {
            Check::SeveralDeployed => "several-deployed",
            Check::NoDeployed => "no-deployed",
            Check::Pending => "pending",
            Check::LabelDrift => "label-drift",
            Check::BothDrivers => "both-drivers",
            Check::Helm2AndHelm3 => "helm2-and-helm3",
            Check::Undecodable => "undecodable",
            Check::Size => "size",
            Check::RemovedApi => "removed-api",
            Check::ForeignOwner => "foreign-owner",
            Check::SharedObject => "shared-object",
            Check::DriftMissing => "drift-missing",
            Check::DriftField => "drift-field",
        }
    }
}

/// Which release a finding is about.
#[derive(Serialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReleaseRef {
    pub name: String,
    /// The release namespace.
    pub namespace: String,
    /// Where its records live: `secret`, `configmap`, `helm2/configmap`, `helm2/secret`.
    pub storage: String,
}

/// What to do about a finding: an exact command of this tool where one exists, otherwise advice (or
/// both: a command that helps, and what to do with its result).
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct Fix {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
    /// The command asks for confirmation (on a terminal; without one it needs `--yes`).
    #[serde(rename = "asksConfirmation", skip_serializing_if = "std::ops::Not::not")]
    pub asks_confirmation: bool,
}

impl Fix {
    pub fn command(command: impl Into<String>) -> Self {
        Fix { command: Some(command.into()), advice: None, asks_confirmation: false }
    }
    pub fn advice(advice: impl Into<String>) -> Self {
        Fix { command: None, advice: Some(advice.into()), asks_confirmation: false }
    }
    pub fn both(command: impl Into<String>, advice: impl Into<String>) -> Self {
        Fix { command: Some(command.into()), advice: Some(advice.into()), asks_confirmation: false }
    }
    /// The command asks for confirmation.
    pub fn confirming(mut self) -> Self {
        self.asks_confirmation = true;
        self
    }
}

/// One finding: what is wrong, the evidence (revisions, objects, sizes), and the fix.
#[derive(Serialize, Debug, Clone)]
pub struct Finding {
    pub release: ReleaseRef,
    pub check: Check,
    pub severity: Severity,
    /// One line saying what is wrong.
    pub summary: String,
    /// Revisions, objects, sizes: one fact a line.
    pub evidence: Vec<String>,
    pub fix: Fix,
}

/// What the live-object checks need of each release: the manifest helm compares against on the next
/// upgrade (the last deployed revision's; the latest's when none is deployed).
#[derive(Debug, Clone)]
pub struct ReleaseManifest {
    pub release: ReleaseRef,
    pub revision: i64,
    /// Every object of the manifest (hooks excluded, as helm excludes them from ownership).
    pub manifest: String,
}
