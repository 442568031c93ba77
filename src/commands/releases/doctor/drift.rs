//! `doctor --drift`: objects of the latest deployed manifest missing live, and fields the manifest sets
//! whose live value differs. (Being built: issue 20.)

use crate::cli::DriftMode;
use crate::error::AppError;

use super::ownership::{LiveInput, LiveReport};

pub async fn check_drift(_input: &LiveInput<'_>, _mode: DriftMode) -> Result<LiveReport, AppError> {
    Ok(LiveReport::default())
}
