//! One module per verb, plus the glue every verb shares.

pub mod adopt;
pub mod annotate;
pub mod completion;
pub mod context;
pub mod migrate2to3;
pub mod release_name;
pub mod releases;
pub mod version;

use crate::cli::WerfNameArgs;
use crate::error::AppError;
use crate::werf::naming::{NamingInput, ResolvedNames, resolve_names};

/// Resolve a release name the way every verb takes it: `--release NAME` (or a positional name) as
/// given, else werf's `--project/--env` (or werf.yaml) rules. `./werf.yaml` is read by default only
/// when neither a release nor a project was named, so a stray file never renames an explicit project.
pub fn resolve_release_names(werf: &WerfNameArgs, release: Option<String>, namespace: Option<String>) -> Result<ResolvedNames, AppError> {
    let werf_config = werf.werf_config.clone().or_else(|| {
        if release.is_none() && werf.project.is_none() {
            std::env::current_dir().ok().and_then(|d| crate::werf::config::discover_werf_config(&d))
        } else {
            None
        }
    });
    let input =
        NamingInput { project: werf.project.clone(), env: werf.env.clone(), release, namespace, no_slug: werf.no_slug, werf_config };
    resolve_names(&input).map_err(|e| AppError::Usage(e.to_string()))
}
