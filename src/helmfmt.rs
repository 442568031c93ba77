//! Output exactly as the helm CLI prints it: gosuri/uitable tables, Go `encoding/json` with a trailing
//! newline (`output.EncodeJSON`), and sigs.k8s.io/yaml (go-yaml v2) documents (`output.EncodeYAML`).
//! The Go encoders themselves live in [`crate::golang`]; this module is helm's use of them.
//!
//! Everything here was checked byte for byte against helm 3.17 and helm 4.1 outputs.

use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Tables (github.com/gosuri/uitable with helm's defaults: tab separator, no wrapping, no max width)
// ---------------------------------------------------------------------------------------------

/// A table rendered like `uitable.New()` + `output.EncodeTable`: every cell padded to its column's
/// width (the last column too), cells joined with a tab, rows joined with a newline, one trailing
/// newline. An empty table is a single newline.
#[derive(Debug, Default, Clone)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new() -> Self {
        Table::default()
    }

    pub fn add_row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as helm writes it (with the final newline `EncodeTable` adds).
    pub fn render(&self) -> Vec<u8> {
        let mut out = self.render_body();
        out.push(b'\n');
        out
    }

    fn render_body(&self) -> Vec<u8> {
        if self.rows.is_empty() {
            return Vec::new();
        }
        let mut widths: Vec<usize> = Vec::new();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if widths.len() <= i {
                    widths.push(0);
                }
                let w = cell.split('\n').map(string_width).max().unwrap_or(0);
                widths[i] = widths[i].max(w);
            }
        }
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for row in &self.rows {
            lines.push(render_row(row, &widths));
        }
        join_bytes(&lines, b"\n")
    }
}

/// `Row.String()`: a cell holding newlines spreads over several lines; each piece is resized again.
fn render_row(row: &[String], widths: &[usize]) -> Vec<u8> {
    let sized: Vec<Vec<u8>> = row.iter().enumerate().map(|(i, c)| resize(c.as_bytes(), widths[i])).collect();
    let split: Vec<Vec<&[u8]>> = sized.iter().map(|c| c.split(|b| *b == b'\n').collect()).collect();
    let line_count = split.iter().map(Vec::len).max().unwrap_or(1);
    let mut lines = Vec::with_capacity(line_count);
    for x in 0..line_count {
        let parts: Vec<Vec<u8>> = (0..row.len())
            .map(|y| match split[y].get(x) {
                Some(piece) => resize(piece, widths[y]),
                // uitable's empty cell: `fmt.Sprintf("%v", nil)`-free path pads "" to the width
                None => resize(b"", widths[y]),
            })
            .collect();
        lines.push(join_bytes(&parts, b"\t"));
    }
    join_bytes(&lines, b"\n")
}

/// `strutil.Resize`: pad with spaces to `width`, or cut to `width - 3` bytes plus `...`.
fn resize(s: &[u8], width: usize) -> Vec<u8> {
    if width == 0 {
        return s.to_vec();
    }
    let text = String::from_utf8_lossy(s);
    let len = string_width(&text);
    if len == width {
        return s.to_vec();
    }
    let mut out = s.to_vec();
    if len < width {
        out.extend(std::iter::repeat_n(b' ', width - len));
        return out;
    }
    let keep = width.saturating_sub(3).min(out.len());
    out.truncate(keep);
    out.extend_from_slice(b"...");
    out
}

fn join_bytes(parts: &[Vec<u8>], sep: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(sep);
        }
        out.extend_from_slice(p);
    }
    out
}

/// Display width as go-runewidth counts it (non-East-Asian locale): control characters and
/// combining marks are 0, wide East Asian characters 2, everything else 1.
pub fn string_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

fn char_width(c: char) -> usize {
    let u = c as u32;
    if u < 0x20 || (0x7f..0xa0).contains(&u) {
        return 0;
    }
    if (0x300..0x370).contains(&u) || (0x200b..0x2010).contains(&u) || (0xfe00..0xfe10).contains(&u) {
        return 0;
    }
    let wide = (0x1100..=0x115f).contains(&u)
        || (0x2e80..=0x303e).contains(&u)
        || (0x3041..=0x33ff).contains(&u)
        || (0x3400..=0x4dbf).contains(&u)
        || (0x4e00..=0x9fff).contains(&u)
        || (0xa000..=0xa4cf).contains(&u)
        || (0xac00..=0xd7a3).contains(&u)
        || (0xf900..=0xfaff).contains(&u)
        || (0xfe30..=0xfe4f).contains(&u)
        || (0xff00..=0xff60).contains(&u)
        || (0xffe0..=0xffe6).contains(&u)
        || (0x1f300..=0x1f64f).contains(&u)
        || (0x1f900..=0x1f9ff).contains(&u)
        || (0x20000..=0x3fffd).contains(&u);
    if wide { 2 } else { 1 }
}

// ---------------------------------------------------------------------------------------------
// JSON (output.EncodeJSON: json.NewEncoder(out).Encode(v), compact, HTML-escaped, newline)
// ---------------------------------------------------------------------------------------------

/// A value as `output.EncodeJSON` writes it. Object keys keep their order (build values in Go's
/// struct field order, or sort them for Go maps with [`sorted`]).
pub fn json(value: &Value) -> Vec<u8> {
    let mut out = crate::golang::json::to_vec(value).unwrap_or_default();
    out.push(b'\n');
    out
}

/// A copy of `value` with every object's keys sorted, as Go writes `map[string]any`.
pub fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&m[k]))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// YAML (output.EncodeYAML: sigs.k8s.io/yaml's Marshal)
// ---------------------------------------------------------------------------------------------

/// A value as `output.EncodeYAML` writes it (see [`crate::golang::yaml::marshal`]).
pub fn yaml(value: &Value) -> String {
    crate::golang::yaml::marshal(value)
}

/// `labels.Set(m).String()`: `k=v` pairs sorted by key, joined with commas.
pub fn label_set_string(m: &std::collections::BTreeMap<String, String>) -> String {
    m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_pads_every_column() {
        let mut t = Table::new();
        t.add_row(["NAME", "REVISION"]);
        t.add_row(["shop", "4"]);
        assert_eq!(String::from_utf8(t.render()).unwrap(), "NAME\tREVISION\nshop\t4       \n");
        assert_eq!(Table::new().render(), b"\n");
    }
}
