//! How doctor prints its findings: a table grouped per release (SEVERITY CHECK FINDING, evidence and
//! fix lines under each), or `-o json|yaml`: the list of findings and a count per severity.

use std::io::Write;

use serde::Serialize;

use super::model::{Finding, Severity};
use crate::cli::OutputFormat;

/// How much was read.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Checked {
    pub releases: usize,
    pub records: usize,
    /// Something could not be read or checked (named on stderr): "no problems" would overstate it.
    pub incomplete: bool,
}

#[derive(Serialize)]
struct Summary {
    error: usize,
    warning: usize,
    info: usize,
    releases: usize,
    records: usize,
}

#[derive(Serialize)]
struct Document<'a> {
    findings: &'a [Finding],
    summary: Summary,
}

pub fn print(findings: &[Finding], checked: &Checked, format: OutputFormat) -> std::io::Result<()> {
    let text = render(findings, checked, format)?;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

pub fn render(findings: &[Finding], checked: &Checked, format: OutputFormat) -> std::io::Result<String> {
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    match format {
        OutputFormat::Json | OutputFormat::Yaml => {
            let doc = Document {
                findings,
                summary: Summary {
                    error: count(Severity::Error),
                    warning: count(Severity::Warning),
                    info: count(Severity::Info),
                    releases: checked.releases,
                    records: checked.records,
                },
            };
            crate::output::render_structured(&doc, format)
        }
        OutputFormat::Table => Ok(table(findings, checked, count(Severity::Error), count(Severity::Warning))),
    }
}

fn table(findings: &[Finding], checked: &Checked, errors: usize, warnings: usize) -> String {
    let mut out = String::new();
    if findings.is_empty() {
        let what = if checked.incomplete { "No problems found in what could be checked" } else { "No problems found" };
        out.push_str(&format!("{what}: {} release(s), {} record(s) checked.\n", checked.releases, checked.records));
        return out;
    }
    let mut start = 0;
    while start < findings.len() {
        let release = &findings[start].release;
        let end = start + findings[start..].iter().take_while(|f| &f.release == release).count();
        let group = &findings[start..end];
        out.push_str(&format!("RELEASE {} (namespace {}, {})\n", release.name, release.namespace, release.storage));
        let rows: Vec<Vec<String>> =
            group.iter().map(|f| vec![f.severity.as_str().to_string(), f.check.as_str().to_string(), f.summary.clone()]).collect();
        let laid = crate::output::columns("  ", 2, &["SEVERITY", "CHECK", "FINDING"], &rows);
        let mut lines = laid.lines();
        if let Some(header) = lines.next() {
            out.push_str(header);
            out.push('\n');
        }
        for (f, line) in group.iter().zip(lines) {
            out.push_str(line);
            out.push('\n');
            for e in &f.evidence {
                out.push_str(&format!("      {e}\n"));
            }
            if let Some(c) = &f.fix.command {
                out.push_str(&format!("      fix: {c}\n"));
                if f.fix.asks_confirmation {
                    out.push_str("           (asks for confirmation; without a terminal add --yes)\n");
                }
            }
            if let Some(a) = &f.fix.advice {
                out.push_str(&format!("      advice: {a}\n"));
            }
        }
        out.push('\n');
        start = end;
    }
    let infos = findings.len() - errors - warnings;
    out.push_str(&format!(
        "{} error(s), {} warning(s), {} info in {} release(s), {} record(s) checked.\n",
        errors, warnings, infos, checked.releases, checked.records
    ));
    out
}
