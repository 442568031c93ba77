//! `releases size`: bytes of each stored record against the API server's 1 MiB limit.

use crate::cli::ReleasesSizeArgs;
use crate::commands::context::Outcome;
use crate::error::AppError;

use super::Scope;

pub async fn run(_scope: &Scope, _args: ReleasesSizeArgs) -> Result<Outcome, AppError> {
    Err(AppError::Failed("releases size: not built yet".into()))
}
