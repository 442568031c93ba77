//! Release and namespace resolution shared by every verb.
//!
//! Rules (werf's, see conventions.md):
//! - `--release NAME` is used as given, validated as a Helm release name (DNS-1123 subdomain,
//!   at most 53 characters); it is never slugged.
//! - Otherwise the release template is rendered — `deploy.helmRelease` from werf.yaml, else
//!   `[[ project ]]-[[ env ]]`, or just `[[ project ]]` when env is empty — and slugged with
//!   [`slug_release`] unless slugging is off (`--no-slug` or `deploy.helmReleaseSlug: false`), in which
//!   case the rendered name is validated instead.
//! - `--namespace NAME` is used as given (validated as a DNS-1123 label). Otherwise, when a project
//!   is known, the namespace template — `deploy.namespace`, else the same defaults as the release —
//!   is rendered and slugged with [`slug_namespace`] unless `deploy.namespaceSlug: false` (then it is
//!   validated instead; `--no-slug` concerns the release only). Without a project (only `--release`)
//!   the namespace stays `None` and the CLI falls back to the kube context's namespace.
//! - `[[ namespace ]]` in the release template is the resolved namespace.
//! - An explicit template is rendered literally: with an empty env `[[ project ]]-[[ env ]]` renders
//!   `project-` (which then slugs, as in werf). Only the *default* template drops `-[[ env ]]`.
//! - Flags beat werf.yaml field by field: `--project` replaces werf.yaml's `project`, while werf.yaml's
//!   deploy templates and slug switches still apply.

use std::path::PathBuf;

use thiserror::Error;

use super::config::{WerfConfig, WerfConfigError, load_werf_config, werf_config_file};
use super::slug::{slug_namespace, slug_release};
use super::template::{Template, TemplateError, TemplateValues};
use crate::names::{NameError, validate_namespace_name, validate_release_name};

/// What the user asked for (already merged with environment variables by the CLI layer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamingInput {
    /// `--project`.
    pub project: Option<String>,
    /// `--env` / `WERF_ENV`; an empty string means no env.
    pub env: Option<String>,
    /// `--release`.
    pub release: Option<String>,
    /// `--namespace`.
    pub namespace: Option<String>,
    /// `--no-slug`: validate the rendered release name instead of slugging it. The namespace is
    /// not affected (werf.yaml's `deploy.namespaceSlug` decides).
    pub no_slug: bool,
    /// werf.yaml file, or a directory holding one. The CLI fills this from `--werf-config` or
    /// [`discover_werf_config`](super::discover_werf_config) on the current directory.
    pub werf_config: Option<PathBuf>,
}

/// Where the release name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameSource {
    /// `--release`.
    ReleaseFlag,
    /// Rendered from `--project` (and `--env`).
    ProjectFlag,
    /// Rendered from werf.yaml's `project` (and `--env`).
    WerfConfig,
}

/// The outcome of [`resolve_names`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedNames {
    /// Helm release name (valid Helm release name).
    pub release: String,
    /// Namespace of the release, `None` when it cannot be derived (only `--release` given).
    pub namespace: Option<String>,
    /// werf project (flag or werf.yaml), if known; for `project.werf.io/name`.
    pub project: Option<String>,
    /// Non-empty env, if given; for `project.werf.io/env`.
    pub env: Option<String>,
    /// Where the release name came from.
    pub source: NameSource,
    /// The werf.yaml that was read, if any.
    pub werf_config: Option<PathBuf>,
}

/// Why names could not be resolved. Messages are meant for the user as they are.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NamingError {
    #[error(
        "--project or --release is required (or run in a werf project directory with werf.yaml, \
         or pass --werf-config)"
    )]
    MissingTarget,
    #[error("--project must not be empty")]
    EmptyProject,
    #[error("{context}: {error}")]
    Invalid {
        context: String,
        #[source]
        error: NameError,
    },
    #[error("{}: {error}", path.display())]
    WerfConfig {
        path: PathBuf,
        #[source]
        error: WerfConfigError,
    },
    #[error("{what} template {template:?}: {error}")]
    Template {
        what: &'static str,
        template: String,
        #[source]
        error: TemplateError,
    },
    #[error("{what} template {template:?} renders an empty name")]
    EmptyRendered { what: &'static str, template: String },
}

/// werf's default template for both release and namespace: `[[ project ]]-[[ env ]]`, or
/// `[[ project ]]` when env is empty.
pub fn default_template(env: Option<&str>) -> Template {
    let text = match env {
        Some(e) if !e.is_empty() => "[[ project ]]-[[ env ]]",
        _ => "[[ project ]]",
    };
    Template::parse(text).expect("default template is valid")
}

fn render(what: &'static str, template: &Template, values: &TemplateValues<'_>) -> Result<String, NamingError> {
    let rendered =
        template.render(values).map_err(|error| NamingError::Template { what, template: template.source().to_string(), error })?;
    if rendered.is_empty() {
        return Err(NamingError::EmptyRendered { what, template: template.source().to_string() });
    }
    Ok(rendered)
}

fn slug_off_context(what: &str, rendered: &str, template: &Template, switch: &str) -> String {
    format!("{what} {rendered:?} (rendered from {:?}, not slugged because of {switch})", template.source())
}

/// Resolves the release name and namespace. Reads werf.yaml only when `input.werf_config` is set
/// and something is still missing after the flags.
pub fn resolve_names(input: &NamingInput) -> Result<ResolvedNames, NamingError> {
    let env = input.env.as_deref().filter(|e| !e.is_empty());

    if let Some(p) = &input.project
        && p.trim().is_empty()
    {
        return Err(NamingError::EmptyProject);
    }
    if let Some(r) = &input.release {
        validate_release_name(r).map_err(|error| NamingError::Invalid { context: "--release".to_string(), error })?;
    }
    if let Some(n) = &input.namespace {
        validate_namespace_name(n).map_err(|error| NamingError::Invalid { context: "--namespace".to_string(), error })?;
    }

    let need_config = input.release.is_none() || input.namespace.is_none();
    let (config, config_path): (Option<WerfConfig>, Option<PathBuf>) = match (&input.werf_config, need_config) {
        (Some(path), true) => {
            let wrap = |error| NamingError::WerfConfig { path: path.clone(), error };
            let file = werf_config_file(path).map_err(wrap)?;
            let config = load_werf_config(&file).map_err(|error| NamingError::WerfConfig { path: file.clone(), error })?;
            (Some(config), Some(file))
        }
        _ => (None, None),
    };

    let project: Option<String> = input.project.clone().or_else(|| config.as_ref().map(|c| c.project.clone()));

    if project.is_none() && input.release.is_none() {
        return Err(NamingError::MissingTarget);
    }

    let default = default_template(env);
    let release_slug_switch = if input.no_slug {
        Some("--no-slug")
    } else if config.as_ref().is_some_and(|c| !c.helm_release_slug) {
        Some("deploy.helmReleaseSlug: false")
    } else {
        None
    };
    // --no-slug is about the release name only; the namespace follows werf.yaml like werf does.
    let namespace_slug_switch = if config.as_ref().is_some_and(|c| !c.namespace_slug) { Some("deploy.namespaceSlug: false") } else { None };

    let namespace = match (&input.namespace, &project) {
        (Some(n), _) => Some(n.clone()),
        (None, Some(project)) => {
            let template = config.as_ref().and_then(|c| c.namespace.as_ref()).unwrap_or(&default);
            let values = TemplateValues { project, env: env.unwrap_or(""), namespace: None };
            let rendered = render("namespace", template, &values)?;
            Some(match namespace_slug_switch {
                None => slug_namespace(&rendered),
                Some(switch) => {
                    validate_namespace_name(&rendered).map_err(|error| NamingError::Invalid {
                        context: slug_off_context("namespace", &rendered, template, switch),
                        error,
                    })?;
                    rendered
                }
            })
        }
        (None, None) => None,
    };

    let (release, source) = match (&input.release, &project) {
        (Some(r), _) => (r.clone(), NameSource::ReleaseFlag),
        (None, Some(project)) => {
            let template = config.as_ref().and_then(|c| c.helm_release.as_ref()).unwrap_or(&default);
            let values = TemplateValues { project, env: env.unwrap_or(""), namespace: namespace.as_deref() };
            let rendered = render("release", template, &values)?;
            let release = match release_slug_switch {
                None => slug_release(&rendered),
                Some(switch) => {
                    validate_release_name(&rendered).map_err(|error| NamingError::Invalid {
                        context: slug_off_context("release", &rendered, template, switch),
                        error,
                    })?;
                    rendered
                }
            };
            let source = if input.project.is_some() { NameSource::ProjectFlag } else { NameSource::WerfConfig };
            (release, source)
        }
        (None, None) => unreachable!("checked above: project or release is set"),
    };

    Ok(ResolvedNames { release, namespace, project, env: env.map(str::to_string), source, werf_config: config_path })
}
