//! `releases relabel`: labels of a release's records rewritten from their payloads.

use crate::cli::ReleasesRelabelArgs;
use crate::commands::context::Outcome;
use crate::error::AppError;

use super::Scope;

pub async fn run(_scope: &Scope, _args: ReleasesRelabelArgs) -> Result<Outcome, AppError> {
    Err(AppError::Failed("releases relabel: not built yet".into()))
}
