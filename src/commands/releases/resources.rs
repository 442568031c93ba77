//! `releases status --show-resources`: the release's objects printed as helm 3.17 prints them.
//!
//! helm writes, for each `VERSION/KIND` group, `==> GROUP`, then each object's server-side table through
//! kubectl's table printer, then an empty line; the whole under `RESOURCES:` and followed by one more
//! empty line. kubectl's printer details that show in the output:
//! - each object is printed on its own (a tabwriter per object: minimum width 6, padding 3, so rows of
//!   one group are aligned each by itself, as in helm's output);
//! - the header is printed when the table's columns differ from the previous table's, and never for a
//!   table without rows (an empty pod list prints nothing);
//! - only columns of priority 0 (not the `-o wide` ones); cells are cut at the first line break (`...`
//!   appended), numbers and booleans as Go prints them.
//!
//! helm iterates the groups in Go map order (random from run to run); they are printed here sorted by
//! name, the order helm's `-o json` uses.

use std::collections::BTreeMap;

use serde_json::Value;

/// Go's text/tabwriter as kubectl configures it (minwidth 6, padding 3, padchar ' ', no flags).
fn tabwrite(lines: &[Vec<String>]) -> String {
    const MIN_WIDTH: usize = 6;
    const PADDING: usize = 3;
    let columns = lines.iter().map(|l| l.len().saturating_sub(1)).max().unwrap_or(0);
    let mut widths = vec![MIN_WIDTH; columns];
    for line in lines {
        for (i, cell) in line.iter().enumerate().take(line.len().saturating_sub(1)) {
            widths[i] = widths[i].max(cell.chars().count() + PADDING);
        }
    }
    let mut out = String::new();
    for line in lines {
        for (i, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < line.len() {
                out.push_str(&" ".repeat(widths[i] - cell.chars().count()));
            }
        }
        out.push('\n');
    }
    out
}

/// A cell as kubectl prints it (`fmt.Sprint` for what is not a string).
fn cell_text(cell: &Value) -> String {
    match cell {
        Value::Null => String::new(),
        Value::String(s) => match s.find(['\n', '\r', '\x0c']) {
            Some(i) => format!("{}...", &s[..i]),
            None => s.clone(),
        },
        Value::Array(a) => format!("[{}]", a.iter().map(cell_text).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let mut pairs: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{}", cell_text(v))).collect();
            pairs.sort();
            format!("map[{}]", pairs.join(" "))
        }
        other => other.to_string(),
    }
}

/// kubectl's table printer across calls: the columns of the last table printed.
#[derive(Default)]
struct Printer {
    last_columns: Option<Value>,
}

impl Printer {
    fn print(&mut self, table: &Value, out: &mut String) {
        if table.get("kind").and_then(Value::as_str) != Some("Table") {
            // The server gave the object itself (no table support): its name, as a one-column table.
            let name = table.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
            out.push_str(&tabwrite(&[vec!["NAME".into()], vec![name.into()]]));
            return;
        }
        let mut columns = table.get("columnDefinitions").cloned().unwrap_or(Value::Array(Vec::new()));
        let empty = columns.as_array().is_none_or(Vec::is_empty);
        let mut headers = !empty && self.last_columns.as_ref() != Some(&columns);
        if empty {
            columns = self.last_columns.clone().unwrap_or(Value::Array(Vec::new()));
            headers = false;
        } else if self.last_columns.as_ref() != Some(&columns) {
            self.last_columns = Some(columns.clone());
        }
        let defs = columns.as_array().cloned().unwrap_or_default();
        let visible: Vec<bool> = defs.iter().map(|c| c.get("priority").and_then(Value::as_i64).unwrap_or(0) == 0).collect();
        let rows = table.get("rows").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut lines: Vec<Vec<String>> = Vec::new();
        if headers {
            if rows.is_empty() {
                return;
            }
            lines.push(
                defs.iter()
                    .zip(&visible)
                    .filter(|(_, v)| **v)
                    .map(|(c, _)| c.get("name").and_then(Value::as_str).unwrap_or_default().to_uppercase())
                    .collect(),
            );
        }
        for row in &rows {
            let cells = row.get("cells").and_then(Value::as_array).cloned().unwrap_or_default();
            lines.push(
                cells.iter().enumerate().filter(|(i, _)| visible.get(*i).copied().unwrap_or(false)).map(|(_, c)| cell_text(c)).collect(),
            );
        }
        out.push_str(&tabwrite(&lines));
    }
}

/// The `RESOURCES:` section of helm 3.17's status, or nothing when no object could be read.
pub fn resources_section(groups: &BTreeMap<String, Vec<Value>>) -> String {
    if groups.is_empty() {
        return String::new();
    }
    let mut buf = String::new();
    let mut printer = Printer::default();
    for (key, objects) in groups {
        buf.push_str(&format!("==> {key}\n"));
        for o in objects {
            printer.print(o, &mut buf);
        }
        buf.push('\n');
    }
    format!("RESOURCES:\n{buf}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table(columns: &[&str], rows: &[Vec<Value>]) -> Value {
        json!({
            "kind": "Table",
            "columnDefinitions": columns.iter().map(|c| {
                let (name, priority) = c.split_once(':').map_or((*c, 0), |(n, p)| (n, p.parse().unwrap()));
                json!({"name": name, "type": "string", "format": "", "description": "", "priority": priority})
            }).collect::<Vec<_>>(),
            "rows": rows.iter().map(|cells| json!({"cells": cells})).collect::<Vec<_>>(),
        })
    }

    #[test]
    fn each_object_is_aligned_by_itself_and_headers_repeat_only_when_columns_change() {
        let deploy = ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers:1"];
        let mut groups = BTreeMap::new();
        groups.insert(
            "v1/Deployment".to_string(),
            vec![
                table(&deploy, &[vec![json!("shop-cache"), json!("0/1"), json!(0), json!(0), json!("1s"), json!("c")]]),
                table(&deploy, &[vec![json!("shop"), json!("0/2"), json!(0), json!(0), json!("1s"), json!("c")]]),
            ],
        );
        groups.insert("v1/Pod(related)".to_string(), vec![table(&["Name", "Ready"], &[])]);
        groups.insert("v1/Widget".to_string(), vec![table(&["Name", "Age"], &[vec![json!("shop"), json!("2m")]])]);
        let text = resources_section(&groups);
        assert_eq!(
            text,
            "RESOURCES:\n==> v1/Deployment\nNAME         READY   UP-TO-DATE   AVAILABLE   AGE\nshop-cache   0/1     0            0           1s\nshop   0/2   0     0     1s\n\n==> v1/Pod(related)\n\n==> v1/Widget\nNAME   AGE\nshop   2m\n\n\n"
        );
    }

    #[test]
    fn cells_print_as_go_prints_them() {
        assert_eq!(cell_text(&json!("a\nb")), "a...");
        assert_eq!(cell_text(&json!(3)), "3");
        assert_eq!(cell_text(&json!(true)), "true");
        assert_eq!(cell_text(&json!(null)), "");
        assert_eq!(cell_text(&json!(["a", 1])), "[a 1]");
    }
}
