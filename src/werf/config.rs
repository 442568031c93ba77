//! The part of werf.yaml that decides release and namespace names: the meta section.
//!
//! werf.yaml is a stream of YAML documents and, as a whole, a Go template that werf renders before
//! parsing. kubectl-werf does not render Go templates. It only needs the meta section — the first
//! document with a top-level `project:` key — so it splits the stream itself and parses only that
//! document; other documents may contain arbitrary `{{ ... }}` without harm. Go-template syntax in
//! the meta fields themselves is a clear error.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use super::template::{Template, TemplateError};

/// File names werf looks for in a project directory, in order.
pub const WERF_CONFIG_FILE_NAMES: [&str; 2] = ["werf.yaml", "werf.yml"];

/// Naming-relevant settings of werf.yaml's meta section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WerfConfig {
    /// `project`.
    pub project: String,
    /// `deploy.helmRelease` (a `[[ ... ]]` template), if set.
    pub helm_release: Option<Template>,
    /// `deploy.helmReleaseSlug`, default true.
    pub helm_release_slug: bool,
    /// `deploy.namespace` (a `[[ ... ]]` template), if set.
    pub namespace: Option<Template>,
    /// `deploy.namespaceSlug`, default true.
    pub namespace_slug: bool,
}

/// What is wrong with a werf.yaml (the path is added by [`NamingError`](super::NamingError)).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WerfConfigError {
    #[error("cannot read: {0}")]
    Read(String),
    #[error("no meta section: expected a YAML document with a top-level `project:` key (werf's meta section)")]
    NoMetaSection,
    #[error(
        "the meta section uses Go-template syntax ({{{{ ... }}}}), which kubectl-werf does not render; \
         pass --project/--env or --release explicitly"
    )]
    GoTemplateInMeta,
    #[error("meta section: invalid YAML: {0}")]
    Yaml(String),
    #[error("meta section: `project` must be a non-empty string")]
    EmptyProject,
    #[error(
        "meta section: `{field}` uses Go-template syntax ({{{{ ... }}}}), which kubectl-werf does not \
         render; only [[ project ]], [[ env ]] and [[ namespace ]] are supported"
    )]
    GoTemplateInField { field: &'static str },
    #[error("meta section: `{field}`: {error}")]
    Template {
        field: &'static str,
        #[source]
        error: TemplateError,
    },
}

#[derive(Deserialize)]
struct MetaDoc {
    project: Option<String>,
    deploy: Option<DeployDoc>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DeployDoc {
    helm_release: Option<String>,
    helm_release_slug: Option<bool>,
    namespace: Option<String>,
    namespace_slug: Option<bool>,
}

/// Splits a YAML stream into documents at `---` marker lines (a line starting with `---` followed
/// by whitespace or the line end). Text after the marker on the same line starts the next document.
/// `...` end-of-document lines become empty lines. Each document is returned with the 1-based line number
/// it starts on, so YAML errors can point into the file.
fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut docs = Vec::new();
    let mut start = 1;
    let mut current = String::new();
    for (idx, line) in text.lines().enumerate() {
        let bare = line.strip_suffix('\r').unwrap_or(line);
        if let Some(rest) = bare.strip_prefix("---")
            && (rest.is_empty() || rest.starts_with([' ', '\t']))
        {
            docs.push((start, std::mem::take(&mut current)));
            let rest = rest.trim_start();
            if rest.is_empty() || rest.starts_with('#') {
                // The next document starts on the following line (idx is 0-based).
                start = idx + 2;
            } else {
                start = idx + 1;
                current.push_str(rest);
                current.push('\n');
            }
            continue;
        }
        if bare.trim_end() == "..." {
            current.push('\n');
            continue;
        }
        current.push_str(bare);
        current.push('\n');
    }
    docs.push((start, current));
    docs
}

/// True when the document has a top-level `project:` key (at column 0, possibly quoted).
fn has_top_level_project(doc: &str) -> bool {
    doc.lines().any(|line| {
        let key = line.strip_prefix("project").or_else(|| line.strip_prefix("\"project\"")).or_else(|| line.strip_prefix("'project'"));
        key.is_some_and(|rest| rest.trim_start().starts_with(':'))
    })
}

fn field_template(field: &'static str, value: Option<String>) -> Result<Option<Template>, WerfConfigError> {
    let Some(value) = value else { return Ok(None) };
    if value.contains("{{") {
        return Err(WerfConfigError::GoTemplateInField { field });
    }
    Template::parse(&value).map(Some).map_err(|error| WerfConfigError::Template { field, error })
}

/// Parses werf.yaml text and extracts the meta section's naming settings.
pub fn parse_werf_config(text: &str) -> Result<WerfConfig, WerfConfigError> {
    let docs = split_documents(text);
    let (start, meta) = docs.iter().find(|(_, d)| has_top_level_project(d)).ok_or(WerfConfigError::NoMetaSection)?;
    if meta.contains("{{") && serde_saphyr::from_str::<MetaDoc>(meta).is_err() {
        return Err(WerfConfigError::GoTemplateInMeta);
    }
    // Pad with empty lines so the parser's line numbers are the file's.
    let padded = format!("{}{meta}", "\n".repeat(start - 1));
    let parsed: MetaDoc = serde_saphyr::from_str(&padded).map_err(|e| {
        // serde-saphyr appends a source snippet; the first line carries the position and reason.
        let msg = e.to_string();
        let first = msg.lines().next().unwrap_or_default();
        WerfConfigError::Yaml(first.trim_start_matches("error: ").to_string())
    })?;
    let project = parsed.project.unwrap_or_default();
    if project.contains("{{") {
        return Err(WerfConfigError::GoTemplateInField { field: "project" });
    }
    if project.trim().is_empty() {
        return Err(WerfConfigError::EmptyProject);
    }
    let deploy = parsed.deploy.unwrap_or_default();
    Ok(WerfConfig {
        project,
        helm_release: field_template("deploy.helmRelease", deploy.helm_release)?,
        helm_release_slug: deploy.helm_release_slug.unwrap_or(true),
        namespace: field_template("deploy.namespace", deploy.namespace)?,
        namespace_slug: deploy.namespace_slug.unwrap_or(true),
    })
}

/// Reads and parses a werf.yaml file.
pub fn load_werf_config(path: &Path) -> Result<WerfConfig, WerfConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| WerfConfigError::Read(e.to_string()))?;
    parse_werf_config(&text)
}

/// werf's default discovery: `werf.yaml`, then `werf.yml`, in `dir`. `None` when neither exists.
/// The CLI calls this with the current directory when `--werf-config` is not given.
pub fn discover_werf_config(dir: &Path) -> Option<PathBuf> {
    WERF_CONFIG_FILE_NAMES.iter().map(|name| dir.join(name)).find(|p| p.is_file())
}

/// Turns a `--werf-config` argument into a file: a directory is searched like
/// [`discover_werf_config`]; anything else is taken as the file itself.
pub fn werf_config_file(path: &Path) -> Result<PathBuf, WerfConfigError> {
    if path.is_dir() {
        discover_werf_config(path)
            .ok_or_else(|| WerfConfigError::Read(format!("directory {} contains no werf.yaml or werf.yml", path.display())))
    } else {
        Ok(path.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_marker_lines_only() {
        let docs = split_documents("a: 1\n---\nb: 2\n--- # c\nc: 3\n----\n---x\n--- d: 4\n");
        assert_eq!(
            docs,
            vec![(1, "a: 1\n".to_string()), (3, "b: 2\n".to_string()), (5, "c: 3\n----\n---x\n".to_string()), (8, "d: 4\n".to_string()),]
        );
    }

    #[test]
    fn detects_top_level_project_only() {
        assert!(has_top_level_project("project: x\n"));
        assert!(has_top_level_project("configVersion: 1\nproject : x\n"));
        assert!(has_top_level_project("\"project\": x\n"));
        assert!(!has_top_level_project("image: x\n  project: y\n"));
        assert!(!has_top_level_project("projects: x\n"));
    }
}
