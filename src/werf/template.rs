//! werf's deploy-parameter templates: literal text with `[[ project ]]`, `[[ env ]]` and
//! `[[ namespace ]]` placeholders (whitespace inside the brackets optional).
//!
//! werf evaluates these as Go templates with `[[ ]]` delimiters; kubectl-werf supports exactly the
//! three placeholders werf documents for `deploy.helmRelease` / `deploy.namespace`, and rejects
//! anything else by name instead of guessing.

use thiserror::Error;

/// A placeholder werf substitutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    Project,
    Env,
    Namespace,
}

impl Placeholder {
    fn as_str(self) -> &'static str {
        match self {
            Placeholder::Project => "project",
            Placeholder::Env => "env",
            Placeholder::Namespace => "namespace",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Placeholder(Placeholder),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    pieces: Vec<Piece>,
}

/// Why a template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TemplateError {
    #[error("unsupported placeholder {0:?} (supported: [[ project ]], [[ env ]], [[ namespace ]])")]
    UnsupportedPlaceholder(String),
    #[error("unclosed placeholder: \"[[\" without \"]]\" in {0:?}")]
    Unclosed(String),
    #[error("[[ namespace ]] cannot be used in the namespace template itself")]
    NamespaceInNamespace,
}

/// Values the placeholders take.
#[derive(Debug, Clone, Copy, Default)]
pub struct TemplateValues<'a> {
    pub project: &'a str,
    pub env: &'a str,
    /// `None` while resolving the namespace itself.
    pub namespace: Option<&'a str>,
}

impl Template {
    /// Parses `text`, rejecting any `[[ ... ]]` other than the three supported placeholders.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("[[") {
            if open > 0 {
                pieces.push(Piece::Literal(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let Some(close) = after.find("]]") else {
                return Err(TemplateError::Unclosed(text.to_string()));
            };
            let inner = after[..close].trim();
            let placeholder = match inner {
                "project" => Placeholder::Project,
                "env" => Placeholder::Env,
                "namespace" => Placeholder::Namespace,
                _ => {
                    return Err(TemplateError::UnsupportedPlaceholder(format!("[[{}]]", &after[..close])));
                }
            };
            pieces.push(Piece::Placeholder(placeholder));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Literal(rest.to_string()));
        }
        Ok(Template { source: text.to_string(), pieces })
    }

    /// The template text as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the template uses `placeholder`.
    pub fn uses(&self, placeholder: Placeholder) -> bool {
        self.pieces.contains(&Piece::Placeholder(placeholder))
    }

    /// Substitutes the placeholders. An empty env renders as empty text (as werf does).
    pub fn render(&self, values: &TemplateValues<'_>) -> Result<String, TemplateError> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::Placeholder(p) => out.push_str(match p {
                    Placeholder::Project => values.project,
                    Placeholder::Env => values.env,
                    Placeholder::Namespace => values.namespace.ok_or(TemplateError::NamespaceInNamespace)?,
                }),
            }
        }
        Ok(out)
    }
}

impl std::fmt::Display for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source)
    }
}

impl std::fmt::Display for Placeholder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[[ {} ]]", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: &str, env: &str, ns: Option<&str>) -> Result<String, TemplateError> {
        Template::parse(t)?.render(&TemplateValues { project: "app", env, namespace: ns })
    }

    #[test]
    fn placeholders_with_and_without_spaces() {
        assert_eq!(render("[[ project ]]-[[ env ]]", "prod", None).unwrap(), "app-prod");
        assert_eq!(render("[[project]]-[[env]]", "prod", None).unwrap(), "app-prod");
        assert_eq!(render("[[   project\t]]", "", None).unwrap(), "app");
        assert_eq!(render("x-[[ namespace ]]-y", "", Some("ns")).unwrap(), "x-ns-y");
        assert_eq!(render("literal", "prod", None).unwrap(), "literal");
        assert_eq!(render("", "prod", None).unwrap(), "");
    }

    #[test]
    fn empty_env_renders_empty() {
        assert_eq!(render("[[ project ]]-[[ env ]]", "", None).unwrap(), "app-");
    }

    #[test]
    fn unsupported_and_unclosed() {
        assert_eq!(render("[[ .Values.x ]]", "", None), Err(TemplateError::UnsupportedPlaceholder("[[ .Values.x ]]".into())));
        assert_eq!(render("[[ project ]]-[[ env", "", None), Err(TemplateError::Unclosed("[[ project ]]-[[ env".into())));
        assert_eq!(render("[[ namespace ]]", "", None), Err(TemplateError::NamespaceInNamespace));
    }

    #[test]
    fn uses_reports_placeholders() {
        let t = Template::parse("[[ namespace ]]-x").unwrap();
        assert!(t.uses(Placeholder::Namespace));
        assert!(!t.uses(Placeholder::Env));
        assert_eq!(t.to_string(), "[[ namespace ]]-x");
    }
}
