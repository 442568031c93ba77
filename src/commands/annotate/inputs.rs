//! What to set and remove, gathered the way werf gathers it: flags, `WERF_ADD_*` variables, the CI
//! annotations of `werf ci-env`, and werf's auto annotations. Pure functions over an [`EnvLookup`].

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::cli::CiEnvChoice;
use crate::names::{self, NameError, TOTAL_ANNOTATION_SIZE_LIMIT};
use crate::settings::EnvLookup;

pub const ANNOTATION_ENV_PREFIX: &str = "WERF_ADD_ANNOTATION_";
pub const LABEL_ENV_PREFIX: &str = "WERF_ADD_LABEL_";

/// werf's auto annotations.
pub const WERF_VERSION_ANNOTATION: &str = "werf.io/version";
pub const PROJECT_NAME_ANNOTATION: &str = "project.werf.io/name";
pub const PROJECT_ENV_ANNOTATION: &str = "project.werf.io/env";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Label,
    Annotation,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Label => "label",
            Field::Annotation => "annotation",
        }
    }
}

/// One requested key, with where it came from (for error messages and the precedence rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub field: Field,
    pub key: String,
    pub value: String,
    pub origin: String,
}

/// Requested entries, lowest precedence first: auto, then CI, then variables, then flags. A later entry
/// for the same key replaces an earlier one.
#[derive(Debug, Clone, Default)]
pub struct Requests {
    pub auto: Vec<Entry>,
    pub ci: Vec<Entry>,
    pub env: Vec<Entry>,
    pub flags: Vec<Entry>,
    pub remove: Vec<(Field, String)>,
}

/// The final change set, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Changes {
    pub set_annotations: BTreeMap<String, String>,
    pub set_labels: BTreeMap<String, String>,
    pub remove_annotations: BTreeSet<String>,
    pub remove_labels: BTreeSet<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.set_annotations.is_empty() && self.set_labels.is_empty() && self.remove_annotations.is_empty() && self.remove_labels.is_empty()
    }

    pub fn set(&self, field: Field) -> &BTreeMap<String, String> {
        match field {
            Field::Label => &self.set_labels,
            Field::Annotation => &self.set_annotations,
        }
    }

    pub fn remove(&self, field: Field) -> &BTreeSet<String> {
        match field {
            Field::Label => &self.remove_labels,
            Field::Annotation => &self.remove_annotations,
        }
    }
}

/// Why the inputs cannot be used; always a usage error (exit 2), before anything is read or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

fn name_error(e: NameError, origin: &str) -> InputError {
    InputError(format!("{e} (from {origin})"))
}

/// Parse `--add-annotation`/`--add-label` values and `--remove-*` keys.
pub fn from_flags(
    add_annotations: &[String],
    add_labels: &[String],
    remove_annotations: &[String],
    remove_labels: &[String],
    requests: &mut Requests,
) -> Result<(), InputError> {
    for (field, flag, values) in [(Field::Annotation, "--add-annotation", add_annotations), (Field::Label, "--add-label", add_labels)] {
        for raw in values {
            let origin = format!("{flag} {raw:?}");
            let (key, value) = names::parse_key_value(raw).map_err(|e| name_error(e, flag))?;
            requests.flags.push(Entry { field, key, value, origin });
        }
    }
    for (field, keys) in [(Field::Annotation, remove_annotations), (Field::Label, remove_labels)] {
        for key in keys {
            requests.remove.push((field, key.clone()));
        }
    }
    Ok(())
}

/// werf's `WERF_ADD_ANNOTATION_<ANY>` / `WERF_ADD_LABEL_<ANY>` variables, each holding `key=value`, in
/// variable-name order. Empty variables count as unset (as `werf ci-env` leaves unknown ones out).
pub fn from_env(env: &dyn EnvLookup, requests: &mut Requests) -> Result<(), InputError> {
    for (field, prefix) in [(Field::Annotation, ANNOTATION_ENV_PREFIX), (Field::Label, LABEL_ENV_PREFIX)] {
        for (name, raw) in env.with_prefix(prefix) {
            if raw.is_empty() {
                continue;
            }
            let (key, value) = names::parse_key_value(&raw).map_err(|e| name_error(e, &format!("${name}")))?;
            requests.env.push(Entry { field, key, value, origin: format!("${name}") });
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiSystem {
    Gitlab,
    Github,
}

impl CiSystem {
    pub fn name(self) -> &'static str {
        match self {
            CiSystem::Gitlab => "GitLab CI",
            CiSystem::Github => "GitHub Actions",
        }
    }
}

/// `--ci-env`: `auto` looks at `GITLAB_CI`, then `GITHUB_ACTIONS`.
pub fn ci_system(choice: CiEnvChoice, env: &dyn EnvLookup) -> Option<CiSystem> {
    match choice {
        CiEnvChoice::None => None,
        CiEnvChoice::Gitlab => Some(CiSystem::Gitlab),
        CiEnvChoice::Github => Some(CiSystem::Github),
        CiEnvChoice::Auto => {
            if env.non_empty("GITLAB_CI").is_some() {
                Some(CiSystem::Gitlab)
            } else if env.non_empty("GITHUB_ACTIONS").is_some() {
                Some(CiSystem::Github)
            } else {
                None
            }
        }
    }
}

/// The annotations `werf ci-env gitlab|github` exports as `WERF_ADD_ANNOTATION_*`, computed from the same CI
/// variables. A key whose variables are unset is left out, as werf leaves it out.
pub fn ci_annotations(system: CiSystem, env: &dyn EnvLookup) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut push = |key: &str, value: String, origin: String| {
        out.push(Entry { field: Field::Annotation, key: key.to_string(), value, origin });
    };
    if let Some(channel) = env.non_empty("TRDL_USE_WERF_GROUP_CHANNEL") {
        push("werf.io/release-channel", channel, "$TRDL_USE_WERF_GROUP_CHANNEL".into());
    }
    match system {
        CiSystem::Gitlab => {
            let project_url = env.non_empty("CI_PROJECT_URL");
            if let Some(url) = &project_url {
                push("project.werf.io/git", url.clone(), "$CI_PROJECT_URL".into());
            }
            if let Some(sha) = env.non_empty("CI_COMMIT_SHA") {
                push("ci.werf.io/commit", sha, "$CI_COMMIT_SHA".into());
            }
            if let Some(tag) = env.non_empty("CI_COMMIT_TAG") {
                push("ci.werf.io/tag", tag, "$CI_COMMIT_TAG".into());
            }
            // werf reads CI_PIPELINE_URL / CI_JOB_URL; older werf built them from the project URL and the
            // ids, which is kept as a fallback for runners that lack the URL variables.
            match (env.non_empty("CI_PIPELINE_URL"), &project_url, env.non_empty("CI_PIPELINE_ID")) {
                (Some(url), _, _) => push("gitlab.ci.werf.io/pipeline-url", url, "$CI_PIPELINE_URL".into()),
                (None, Some(project), Some(id)) => push(
                    "gitlab.ci.werf.io/pipeline-url",
                    format!("{project}/pipelines/{id}"),
                    "$CI_PROJECT_URL and $CI_PIPELINE_ID".into(),
                ),
                _ => {}
            }
            match (env.non_empty("CI_JOB_URL"), &project_url, env.non_empty("CI_JOB_ID")) {
                (Some(url), _, _) => push("gitlab.ci.werf.io/job-url", url, "$CI_JOB_URL".into()),
                (None, Some(project), Some(id)) => {
                    push("gitlab.ci.werf.io/job-url", format!("{project}/-/jobs/{id}"), "$CI_PROJECT_URL and $CI_JOB_ID".into())
                }
                _ => {}
            }
        }
        CiSystem::Github => {
            let repository = env.non_empty("GITHUB_REPOSITORY");
            if let Some(repo) = &repository {
                push("project.werf.io/git", format!("https://github.com/{repo}"), "$GITHUB_REPOSITORY".into());
            }
            if let Some(sha) = env.non_empty("GITHUB_SHA") {
                push("ci.werf.io/commit", sha, "$GITHUB_SHA".into());
            }
            if env.var("GITHUB_REF_TYPE").as_deref() == Some("tag")
                && let Some(tag) = env.non_empty("GITHUB_REF_NAME")
            {
                push("ci.werf.io/tag", tag, "$GITHUB_REF_NAME".into());
            }
            if let (Some(repo), Some(run)) = (&repository, env.non_empty("GITHUB_RUN_ID")) {
                let server = env.non_empty("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into());
                let server = server.trim_end_matches('/');
                push(
                    "github.ci.werf.io/workflow-run-url",
                    format!("{server}/{repo}/actions/runs/{run}"),
                    "$GITHUB_SERVER_URL, $GITHUB_REPOSITORY and $GITHUB_RUN_ID".into(),
                );
            }
        }
    }
    out
}

/// werf's auto annotations from known values. `env` is left out when unknown or empty, as werf does.
pub fn auto_annotations(version: &str, version_origin: &str, project: (&str, &str), env: Option<(&str, &str)>) -> Vec<Entry> {
    let mut out = vec![
        Entry { field: Field::Annotation, key: WERF_VERSION_ANNOTATION.into(), value: version.into(), origin: version_origin.into() },
        Entry { field: Field::Annotation, key: PROJECT_NAME_ANNOTATION.into(), value: project.0.into(), origin: project.1.into() },
    ];
    if let Some((value, origin)) = env.filter(|(v, _)| !v.is_empty()) {
        out.push(Entry { field: Field::Annotation, key: PROJECT_ENV_ANNOTATION.into(), value: value.into(), origin: origin.into() });
    }
    out
}

/// Merge by precedence and validate every key and value by Kubernetes' rules; the set annotations alone
/// must also fit in the 256 KiB per-object total. A key both set and removed is an error.
pub fn finalize(requests: &Requests) -> Result<Changes, InputError> {
    let mut changes = Changes::default();
    let mut origins: BTreeMap<(Field, String), String> = BTreeMap::new();
    for entry in requests.auto.iter().chain(&requests.ci).chain(&requests.env).chain(&requests.flags) {
        match entry.field {
            Field::Label => {
                names::validate_label_key(&entry.key).map_err(|e| name_error(e, &entry.origin))?;
                names::validate_label_value(&entry.value)
                    .map_err(|e| InputError(format!("{e} for label {:?} (from {})", entry.key, entry.origin)))?;
                changes.set_labels.insert(entry.key.clone(), entry.value.clone());
            }
            Field::Annotation => {
                names::validate_annotation_key(&entry.key).map_err(|e| name_error(e, &entry.origin))?;
                changes.set_annotations.insert(entry.key.clone(), entry.value.clone());
            }
        }
        origins.insert((entry.field, entry.key.clone()), entry.origin.clone());
    }
    for (field, key) in &requests.remove {
        let flag = format!("--remove-{}", field.as_str());
        match field {
            Field::Label => names::validate_label_key(key),
            Field::Annotation => names::validate_annotation_key(key),
        }
        .map_err(|e| name_error(e, &format!("{flag} {key:?}")))?;
        if let Some(origin) = origins.get(&(*field, key.clone())) {
            return Err(InputError(format!("{flag} {key:?} conflicts with the {} set by {origin}", field.as_str())));
        }
        match field {
            Field::Label => changes.remove_labels.insert(key.clone()),
            Field::Annotation => changes.remove_annotations.insert(key.clone()),
        };
    }
    let total = names::annotations_size(&changes.set_annotations);
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        return Err(InputError(format!(
            "{}; the annotations to set alone are too long for any object",
            NameError::AnnotationsTooLong { total, limit: TOTAL_ANNOTATION_SIZE_LIMIT }
        )));
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn annotations(entries: &[Entry]) -> BTreeMap<String, String> {
        entries.iter().map(|e| (e.key.clone(), e.value.clone())).collect()
    }

    #[test]
    fn flags_split_at_the_first_equals_and_later_wins() {
        let mut r = Requests::default();
        from_flags(&strings(&["a.io/x=1=2", "b=", "a.io/x=3"]), &strings(&["tier=web"]), &[], &strings(&["old"]), &mut r).unwrap();
        let c = finalize(&r).unwrap();
        assert_eq!(c.set_annotations, BTreeMap::from([("a.io/x".into(), "3".into()), ("b".into(), "".into())]));
        assert_eq!(c.set_labels["tier"], "web");
        assert!(c.remove_labels.contains("old"));
        let err = from_flags(&strings(&["novalue"]), &[], &[], &[], &mut Requests::default()).unwrap_err();
        assert!(err.0.contains("\"novalue\"") && err.0.contains("--add-annotation"), "{err}");
    }

    #[test]
    fn env_variables_and_precedence() {
        let e = env(&[
            ("WERF_ADD_ANNOTATION_B", "team.io/owner=env"),
            ("WERF_ADD_ANNOTATION_A", "a=from-env"),
            ("WERF_ADD_ANNOTATION_EMPTY", ""),
            ("WERF_ADD_LABEL_1", "tier=backend"),
            ("OTHER", "x=y"),
        ]);
        let mut r = Requests::default();
        from_env(&e, &mut r).unwrap();
        from_flags(&strings(&["team.io/owner=flag"]), &[], &[], &[], &mut r).unwrap();
        r.ci.push(Entry { field: Field::Annotation, key: "a".into(), value: "ci".into(), origin: "ci".into() });
        let c = finalize(&r).unwrap();
        assert_eq!(c.set_annotations["team.io/owner"], "flag");
        assert_eq!(c.set_annotations["a"], "from-env");
        assert_eq!(c.set_labels["tier"], "backend");
        assert_eq!(c.set_annotations.len(), 2);
        let bad = env(&[("WERF_ADD_LABEL_X", "broken")]);
        let err = from_env(&bad, &mut Requests::default()).unwrap_err();
        assert!(err.0.contains("$WERF_ADD_LABEL_X"), "{err}");
    }

    #[test]
    fn validation_names_the_culprit() {
        let mut r = Requests::default();
        from_flags(&strings(&["bad key=1"]), &[], &[], &[], &mut r).unwrap();
        let err = finalize(&r).unwrap_err();
        assert!(err.0.contains("invalid annotation key \"bad key\"") && err.0.contains("--add-annotation"), "{err}");

        let mut r = Requests::default();
        from_flags(&[], &strings(&["tier=not valid!"]), &[], &[], &mut r).unwrap();
        let err = finalize(&r).unwrap_err();
        assert!(err.0.contains("invalid label value \"not valid!\"") && err.0.contains("\"tier\""), "{err}");

        let mut r = Requests::default();
        from_flags(&[], &[], &[], &strings(&["-x"]), &mut r).unwrap();
        assert!(finalize(&r).unwrap_err().0.contains("--remove-label"));

        let mut r = Requests::default();
        from_flags(&strings(&["k=v"]), &[], &strings(&["k"]), &[], &mut r).unwrap();
        assert!(finalize(&r).unwrap_err().0.contains("conflicts"));

        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT);
        let mut r = Requests::default();
        from_flags(&[format!("big={big}")], &[], &[], &[], &mut r).unwrap();
        assert!(finalize(&r).unwrap_err().0.contains("annotations too long"));
    }

    #[test]
    fn gitlab_annotations() {
        let e = env(&[
            ("GITLAB_CI", "true"),
            ("CI_PROJECT_URL", "https://gitlab.example.com/group/shop"),
            ("CI_COMMIT_SHA", "0123abc"),
            ("CI_COMMIT_TAG", "v1.2.3"),
            ("CI_PIPELINE_URL", "https://gitlab.example.com/group/shop/-/pipelines/77"),
            ("CI_JOB_ID", "901"),
            ("TRDL_USE_WERF_GROUP_CHANNEL", "2 stable"),
        ]);
        assert_eq!(ci_system(CiEnvChoice::Auto, &e), Some(CiSystem::Gitlab));
        let got = annotations(&ci_annotations(CiSystem::Gitlab, &e));
        assert_eq!(got["project.werf.io/git"], "https://gitlab.example.com/group/shop");
        assert_eq!(got["ci.werf.io/commit"], "0123abc");
        assert_eq!(got["ci.werf.io/tag"], "v1.2.3");
        assert_eq!(got["gitlab.ci.werf.io/pipeline-url"], "https://gitlab.example.com/group/shop/-/pipelines/77");
        assert_eq!(got["gitlab.ci.werf.io/job-url"], "https://gitlab.example.com/group/shop/-/jobs/901");
        assert_eq!(got["werf.io/release-channel"], "2 stable");
        assert!(ci_annotations(CiSystem::Gitlab, &env(&[])).is_empty());
    }

    #[test]
    fn github_annotations() {
        let e = env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "acme/shop"),
            ("GITHUB_SHA", "fedcba9"),
            ("GITHUB_REF_TYPE", "branch"),
            ("GITHUB_REF_NAME", "main"),
            ("GITHUB_RUN_ID", "4242"),
        ]);
        assert_eq!(ci_system(CiEnvChoice::Auto, &e), Some(CiSystem::Github));
        assert_eq!(ci_system(CiEnvChoice::None, &e), None);
        assert_eq!(ci_system(CiEnvChoice::Auto, &env(&[])), None);
        let got = annotations(&ci_annotations(CiSystem::Github, &e));
        assert_eq!(got["project.werf.io/git"], "https://github.com/acme/shop");
        assert_eq!(got["ci.werf.io/commit"], "fedcba9");
        assert!(!got.contains_key("ci.werf.io/tag"), "a branch is no tag");
        assert_eq!(got["github.ci.werf.io/workflow-run-url"], "https://github.com/acme/shop/actions/runs/4242");
        let mut tagged = e.clone();
        tagged.insert("GITHUB_REF_TYPE".into(), "tag".into());
        tagged.insert("GITHUB_REF_NAME".into(), "v2.0.0".into());
        tagged.insert("GITHUB_SERVER_URL".into(), "https://ghe.example.com/".into());
        let got = annotations(&ci_annotations(CiSystem::Github, &tagged));
        assert_eq!(got["ci.werf.io/tag"], "v2.0.0");
        assert_eq!(got["github.ci.werf.io/workflow-run-url"], "https://ghe.example.com/acme/shop/actions/runs/4242");
    }

    #[test]
    fn auto_annotations_leave_out_an_empty_env() {
        let a = annotations(&auto_annotations("v2.1.0", "--werf-version", ("shop", "--project"), Some(("", "--env"))));
        assert_eq!(a.len(), 2);
        let a = annotations(&auto_annotations("v2.1.0", "--werf-version", ("shop", "--project"), Some(("prod", "--env"))));
        assert_eq!(a[PROJECT_ENV_ANNOTATION], "prod");
        assert_eq!(a[WERF_VERSION_ANNOTATION], "v2.1.0");
    }
}
