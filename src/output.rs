//! Printing data as `-o table|json|yaml`, the same way for every verb.

use std::io::Write;

use serde::Serialize;

use crate::cli::OutputFormat;

/// Print a value as pretty JSON or YAML. Tables are each verb's own business ([`columns`] lays them out).
pub fn print_structured<T: Serialize>(value: &T, format: OutputFormat) -> std::io::Result<()> {
    let text = render_structured(value, format)?;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

pub fn render_structured<T: Serialize>(value: &T, format: OutputFormat) -> std::io::Result<String> {
    match format {
        OutputFormat::Json | OutputFormat::Table => {
            let mut s = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
            s.push('\n');
            Ok(s)
        }
        OutputFormat::Yaml => serde_saphyr::to_string(value).map_err(std::io::Error::other),
    }
}

/// Rows laid out in kubectl-style columns: every column but the last padded with spaces to its widest
/// cell (headers included; give them upper-case), `gap` spaces between columns, each line after
/// `indent`, trailing spaces dropped. Widths count characters and skip ANSI colour sequences, so a
/// painted cell lines up as its plain text would.
pub fn columns(indent: &str, gap: usize, headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| visible_width(h)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(visible_width(cell));
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        out.push_str(indent);
        let last = cells.len().saturating_sub(1);
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i < last {
                out.push_str(&" ".repeat(widths[i] - visible_width(cell) + gap));
            }
        }
        out.truncate(out.trim_end_matches(' ').len());
        out.push('\n');
    };
    line(headers);
    for row in rows {
        line(&row.iter().map(String::as_str).collect::<Vec<_>>());
    }
    out
}

/// Characters of `s` as a terminal shows them: ANSI escape sequences (`ESC [ ... letter`) take no room.
fn visible_width(s: &str) -> usize {
    let mut n = 0;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_pad_all_but_the_last() {
        let rows = vec![vec!["deploy/web".to_string(), "prod".into(), "ok".into()], vec!["cm/x".into(), "-".into(), String::new()]];
        assert_eq!(
            columns("", 3, &["RESOURCE", "NAMESPACE", "RESULT"], &rows),
            "RESOURCE     NAMESPACE   RESULT\ndeploy/web   prod        ok\ncm/x         -\n"
        );
        assert_eq!(columns("  ", 2, &["A", "B"], &[vec!["xyz".into(), "1".into()]]), "  A    B\n  xyz  1\n");
    }

    #[test]
    fn painted_cells_line_up_as_plain_ones() {
        let painted = "\u{1b}[32mok\u{1b}[0m".to_string();
        let rows = vec![vec![painted.clone(), "a".into()], vec!["failed".into(), "b".into()]];
        assert_eq!(columns("", 3, &["RESULT", "DETAIL"], &rows), format!("RESULT   DETAIL\n{painted}       a\nfailed   b\n"));
    }
}
