//! `kubectl werf release-name`: the release and namespace werf would use.

use crate::app::{Context, Outcome};
use crate::cli::ReleaseNameArgs;
use crate::error::AppError;

pub fn run(_ctx: &Context<'_>, _args: ReleaseNameArgs) -> Result<Outcome, AppError> {
    Err(AppError::Failed("release-name: werf naming is not wired yet".into()))
}
