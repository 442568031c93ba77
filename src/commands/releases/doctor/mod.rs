//! `releases doctor`: one read-only pass over release storage (and the Helm-managed live objects) that
//! reports what will make the next helm upgrade fail, each finding with its evidence and its fix.

#[allow(dead_code)] // until run calls it (issue 20, in progress)
mod drift;
mod model;
#[allow(dead_code)] // until run calls it (issue 20, in progress)
mod ownership;

#[allow(unused_imports)] // until run uses them (issue 20, in progress)
pub use model::{Check, Finding, Fix, ReleaseManifest, ReleaseRef, Severity};

use crate::cli::ReleasesDoctorArgs;
use crate::commands::context::Outcome;
use crate::error::AppError;

use super::Scope;

pub async fn run(_scope: &Scope, _args: ReleasesDoctorArgs) -> Result<Outcome, AppError> {
    Err(AppError::Failed("releases doctor: not built yet".into()))
}
