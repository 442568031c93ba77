//! Output exactly as the helm CLI prints it: gosuri/uitable tables, Go `encoding/json` with a trailing
//! newline (`output.EncodeJSON`), and sigs.k8s.io/yaml (go-yaml v2) documents (`output.EncodeYAML`).
//!
//! Everything here was checked byte for byte against helm 3.17 and helm 4.1 outputs.

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde_json::{Map, Value};

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
    let mut out = crate::release::gojson::to_vec(value).unwrap_or_default();
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
// YAML (sigs.k8s.io/yaml: JSON → go-yaml v2 generic value → go-yaml v2 emitter)
// ---------------------------------------------------------------------------------------------

/// A value as `output.EncodeYAML` writes it: keys sorted the go-yaml v2 way, block style,
/// sequences inside mappings not indented, long plain lines folded after column 80, multi-line
/// strings as literal blocks, strings that would read back as another type double-quoted.
pub fn yaml(value: &Value) -> String {
    let mut e = Emitter { whitespace: true, ..Emitter::default() };
    match value {
        Value::Object(m) if !m.is_empty() => e.mapping(m, 0),
        Value::Array(a) if !a.is_empty() => e.sequence(a, 0),
        scalar => {
            e.scalar(scalar, 0, false);
        }
    }
    if !e.out.ends_with('\n') {
        e.out.push('\n');
    }
    e.out
}

const BEST_WIDTH: usize = 80;

#[derive(Default)]
struct Emitter {
    out: String,
    /// Characters on the current line.
    column: usize,
    /// The last thing written was whitespace (or nothing on this line).
    whitespace: bool,
}

impl Emitter {
    fn put(&mut self, s: &str) {
        for c in s.chars() {
            if c == '\n' {
                self.out.push('\n');
                self.column = 0;
            } else {
                self.out.push(c);
                self.column += 1;
            }
        }
        self.whitespace = s.ends_with(' ') || s.ends_with('\n');
    }

    fn newline_indent(&mut self, indent: usize) {
        if self.column != 0 {
            self.out.push('\n');
        }
        self.column = 0;
        for _ in 0..indent {
            self.out.push(' ');
        }
        self.column = indent;
        self.whitespace = true;
    }

    fn mapping(&mut self, m: &Map<String, Value>, indent: usize) {
        let mut keys: Vec<&String> = m.keys().collect();
        keys.sort_by(|a, b| yaml_key_cmp(a, b));
        for (i, k) in keys.into_iter().enumerate() {
            if i > 0 || self.column != indent || !self.whitespace {
                self.newline_indent(indent);
            }
            self.key(k);
            self.put(":");
            self.whitespace = false;
            self.value(&m[k], indent);
        }
    }

    fn sequence(&mut self, a: &[Value], indent: usize) {
        for (i, item) in a.iter().enumerate() {
            if i > 0 || self.column != indent || !self.whitespace {
                self.newline_indent(indent);
            }
            self.put("-");
            self.whitespace = false;
            match item {
                Value::Object(m) if !m.is_empty() => {
                    self.put(" ");
                    self.mapping(m, indent + 2);
                }
                Value::Array(inner) if !inner.is_empty() => {
                    self.put(" ");
                    self.sequence(inner, indent + 2);
                }
                scalar => self.scalar(scalar, indent + 2, false),
            }
        }
    }

    /// A mapping value after `key:`.
    fn value(&mut self, v: &Value, indent: usize) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                self.newline_indent(indent + 2);
                self.mapping(m, indent + 2);
            }
            Value::Array(a) if !a.is_empty() => {
                // go-yaml v2 writes sequences in a mapping without extra indentation
                self.newline_indent(indent);
                self.sequence(a, indent);
            }
            scalar => self.scalar(scalar, indent + 2, false),
        }
    }

    fn key(&mut self, k: &str) {
        let style = choose_style(k, true);
        self.write_string(k, style, 0, false);
    }

    /// A scalar (or empty collection) in a value position; `indent` is the continuation indent.
    fn scalar(&mut self, v: &Value, indent: usize, _simple_key: bool) {
        match v {
            Value::Null => self.word("null"),
            Value::Bool(b) => self.word(if *b { "true" } else { "false" }),
            Value::Number(n) => {
                let text = yaml_number(n);
                self.word(&text)
            }
            Value::String(s) => {
                let style = choose_style(s, false);
                if !self.whitespace {
                    self.put(" ");
                }
                self.write_string(s, style, indent, true);
            }
            Value::Object(_) => self.word("{}"),
            Value::Array(_) => self.word("[]"),
        }
    }

    fn word(&mut self, w: &str) {
        if !self.whitespace {
            self.put(" ");
        }
        self.put(w);
    }

    fn write_string(&mut self, s: &str, style: Style, indent: usize, allow_breaks: bool) {
        match style {
            Style::Plain => self.write_plain(s, indent, allow_breaks),
            Style::Single => self.write_single(s, indent, allow_breaks),
            Style::Double => self.write_double(s, indent, allow_breaks),
            Style::Literal => self.write_literal(s, indent),
        }
    }

    fn write_plain(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks && !spaces && self.column > BEST_WIDTH && !next_space {
                    self.newline_indent(indent);
                } else {
                    self.push_char(c);
                }
                spaces = true;
            } else {
                self.push_char(c);
                spaces = false;
            }
        }
        self.whitespace = false;
    }

    fn write_single(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.push_char('\'');
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        let n = chars.len();
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks && !spaces && self.column > BEST_WIDTH && i != 0 && i != n - 1 && !next_space {
                    self.newline_indent(indent);
                } else {
                    self.push_char(c);
                }
                spaces = true;
            } else {
                self.push_char(c);
                if c == '\'' {
                    self.push_char('\'');
                }
                spaces = false;
            }
        }
        self.push_char('\'');
        self.whitespace = false;
    }

    fn write_double(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.push_char('"');
        let chars: Vec<char> = s.chars().collect();
        let n = chars.len();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !is_printable(c) || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\' {
                self.push_char('\\');
                let esc: String = match c {
                    '\0' => "0".into(),
                    '\u{7}' => "a".into(),
                    '\u{8}' => "b".into(),
                    '\t' => "t".into(),
                    '\n' => "n".into(),
                    '\u{b}' => "v".into(),
                    '\u{c}' => "f".into(),
                    '\r' => "r".into(),
                    '\u{1b}' => "e".into(),
                    '"' => "\"".into(),
                    '\\' => "\\".into(),
                    '\u{85}' => "N".into(),
                    '\u{a0}' => "_".into(),
                    '\u{2028}' => "L".into(),
                    '\u{2029}' => "P".into(),
                    c if (c as u32) <= 0xff => format!("x{:02X}", c as u32),
                    c if (c as u32) <= 0xffff => format!("u{:04X}", c as u32),
                    c => format!("U{:08X}", c as u32),
                };
                for e in esc.chars() {
                    self.push_char(e);
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && i != 0 && i != n - 1 {
                    self.newline_indent(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.push_char('\\');
                    }
                } else {
                    self.push_char(c);
                }
                spaces = true;
            } else {
                self.push_char(c);
                spaces = false;
            }
        }
        self.push_char('"');
        self.whitespace = false;
    }

    fn write_literal(&mut self, s: &str, indent: usize) {
        self.push_char('|');
        // block scalar hints: indentation indicator, then chomping
        if s.starts_with(' ') || s.starts_with('\n') {
            let _ = write!(self.out, "2");
            self.column += 1;
        }
        let chars: Vec<char> = s.chars().collect();
        let last = chars.last().copied();
        if !last.is_some_and(is_break) {
            self.push_char('-');
        } else if chars.len() == 1 || chars.get(chars.len() - 2).copied().is_some_and(is_break) {
            self.push_char('+');
        }
        self.out.push('\n');
        self.column = 0;
        let mut breaks = true;
        for &c in &chars {
            if is_break(c) {
                self.out.push('\n');
                self.column = 0;
                breaks = true;
            } else {
                if breaks {
                    for _ in 0..indent {
                        self.out.push(' ');
                    }
                    self.column = indent;
                    breaks = false;
                }
                self.push_char(c);
            }
        }
        self.whitespace = self.column == 0;
    }

    fn push_char(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0a
        || (0x20..=0x7e).contains(&u)
        || u == 0x85
        || (0xa0..=0xd7ff).contains(&u)
        || ((0xe000..=0xfffd).contains(&u) && u != 0xfeff)
        || (0x10000..=0x10ffff).contains(&u)
}

fn is_blank_or_end(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => c == ' ' || c == '\t' || is_break(c),
    }
}

/// The style go-yaml v2 ends up with for a string: the encoder's request (literal for multi-line,
/// double-quoted when the plain text would read back as another type, else plain), then the
/// emitter's downgrade after analysing the text.
fn choose_style(s: &str, simple_key: bool) -> Style {
    let requested = if s.contains('\n') {
        Style::Literal
    } else if resolves_to_non_string(s) || is_base60_float(s) {
        Style::Double
    } else {
        Style::Plain
    };
    let a = analyze(s);
    let mut style = requested;
    if style == Style::Plain
        && (!a.block_plain_allowed || (s.is_empty() && simple_key)) {
            style = Style::Single;
        }
    if style == Style::Single && !a.single_quoted_allowed {
        style = Style::Double;
    }
    if style == Style::Literal && (!a.block_allowed || simple_key) {
        style = Style::Double;
    }
    style
}

struct Analysis {
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis { block_plain_allowed: true, single_quoted_allowed: true, block_allowed: false };
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_indicators = false;
    let mut special = false;
    let mut line_breaks = false;
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) = (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    if s.starts_with("---") || s.starts_with("...") {
        block_indicators = true;
    }
    let mut preceded_by_ws = true;
    let n = chars.len();
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_ws = is_blank_or_end(chars.get(i + 1).copied());
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%' | '@' | '`' => {
                    block_indicators = true
                }
                '?' | ':'
                    if followed_by_ws => {
                        block_indicators = true
                    }
                '-'
                    if followed_by_ws => {
                        block_indicators = true
                    }
                _ => {}
            }
        } else {
            match c {
                ':'
                    if followed_by_ws => {
                        block_indicators = true
                    }
                '#'
                    if preceded_by_ws => {
                        block_indicators = true
                    }
                _ => {}
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i == n - 1 {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            if i == 0 {
                leading_break = true;
            }
            if i == n - 1 {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_break = true;
            previous_space = false;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_ws = c == ' ' || c == '\t' || is_break(c);
    }
    let mut a = Analysis { block_plain_allowed: true, single_quoted_allowed: true, block_allowed: true };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks {
        a.block_plain_allowed = false;
    }
    if block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// go-yaml v2's `resolve("", s)`: would this text, written plain, read back as null, bool, a number,
/// a timestamp or a merge key?
fn resolves_to_non_string(s: &str) -> bool {
    const MAP: &[&str] = &[
        "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE",
        "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF",
        "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
    ];
    let first = match s.as_bytes().first() {
        None => return true,
        Some(b) => *b,
    };
    let hint = match first {
        b'+' | b'-' => 'S',
        b'0'..=b'9' => 'D',
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => 'M',
        b'.' => '.',
        _ => return false,
    };
    if MAP.contains(&s) {
        return true;
    }
    match hint {
        '.' => go_parse_float(s),
        'D' | 'S' => {
            if parse_timestamp(s) {
                return true;
            }
            let plain: String = s.chars().filter(|c| *c != '_').collect();
            if go_parse_int(&plain) {
                return true;
            }
            if yaml_style_float(&plain) && go_parse_float(&plain) {
                return true;
            }
            if let Some(rest) = plain.strip_prefix("0b").or_else(|| plain.strip_prefix("-0b")) {
                return !rest.is_empty() && rest.bytes().all(|b| b == b'0' || b == b'1');
            }
            false
        }
        _ => false,
    }
}

/// `strconv.ParseInt(s, 0, 64)` or `ParseUint(s, 0, 64)` succeeds (range aside, which only matters
/// beyond 64 bits).
fn go_parse_int(s: &str) -> bool {
    let body = s.strip_prefix('+').or_else(|| s.strip_prefix('-')).unwrap_or(s);
    if body.is_empty() {
        return false;
    }
    let (digits, radix) = if let Some(r) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        (r, 16)
    } else if let Some(r) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        (r, 2)
    } else if let Some(r) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        (r, 8)
    } else if body.len() > 1 && body.starts_with('0') {
        (&body[1..], 8)
    } else {
        (body, 10)
    };
    !digits.is_empty() && u128::from_str_radix(digits, radix).is_ok_and(|v| v <= u64::MAX as u128)
}

fn yaml_style_float(s: &str) -> bool {
    // ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// `strconv.ParseFloat(s, 64)` accepts it (decimal, hex floats aside, inf/nan words).
fn go_parse_float(s: &str) -> bool {
    let body = s.strip_prefix('+').or_else(|| s.strip_prefix('-')).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" || lower == "nan" {
        return true;
    }
    // out of range (±Inf) is an error for Go's ParseFloat; underflow to zero is not
    let finite = body.parse::<f64>().is_ok_and(f64::is_finite);
    finite && (yaml_style_float(body) || body.contains('.'))
}

/// go-yaml v2's `parseTimestamp`: `YYYY-M-D` optionally followed by a time in one of its layouts.
fn parse_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let year_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if year_digits != 4 || year_digits == b.len() || b[4] != b'-' {
        return false;
    }
    let num = |p: &mut usize, min: usize, max: usize| -> Option<u32> {
        let start = *p;
        while *p < b.len() && b[*p].is_ascii_digit() && *p - start < max {
            *p += 1;
        }
        if *p - start < min {
            return None;
        }
        std::str::from_utf8(&b[start..*p]).ok()?.parse().ok()
    };
    let mut p = 5;
    let Some(month) = num(&mut p, 1, 2) else { return false };
    if p >= b.len() || b[p] != b'-' {
        return false;
    }
    p += 1;
    let Some(day) = num(&mut p, 1, 2) else { return false };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return false;
    }
    if p == b.len() {
        return true;
    }
    // time part: [Tt ]H:M:S(.frac)?(Z|±hh:mm)? — "2006-1-2 15:4:5.999999999" has no zone
    let sep = b[p];
    if sep != b'T' && sep != b't' && sep != b' ' {
        return false;
    }
    p += 1;
    let Some(h) = num(&mut p, 1, 2) else { return false };
    if p >= b.len() || b[p] != b':' {
        return false;
    }
    p += 1;
    let Some(m) = num(&mut p, 1, 2) else { return false };
    if p >= b.len() || b[p] != b':' {
        return false;
    }
    p += 1;
    let Some(sec) = num(&mut p, 1, 2) else { return false };
    if h > 23 || m > 59 || sec > 59 {
        return false;
    }
    if p < b.len() && (b[p] == b'.') {
        p += 1;
        let start = p;
        while p < b.len() && b[p].is_ascii_digit() {
            p += 1;
        }
        if p == start {
            return false;
        }
    }
    if p == b.len() {
        return true;
    }
    if sep == b' ' {
        return false;
    }
    match b[p] {
        b'Z' => p + 1 == b.len(),
        b'+' | b'-' => {
            let rest = &s[p + 1..];
            rest.len() == 5 && rest.as_bytes()[2] == b':' && rest.bytes().enumerate().all(|(i, c)| i == 2 || c.is_ascii_digit())
        }
        _ => false,
    }
}

fn is_base60_float(s: &str) -> bool {
    // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    if i >= b.len() || !b[i].is_ascii_digit() {
        return false;
    }
    i += 1;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 2 {
            i += 1;
        }
        let len = i - start;
        if len == 0 || (len == 2 && b[start] > b'5') {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// Numbers as go-yaml v2 writes what it parsed from JSON: integers as integers, other floats with
/// `strconv.FormatFloat(f, 'g', -1, 64)`.
fn yaml_number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let text = n.to_string();
    // JSON text without fraction or exponent that overflowed 64 bits still reads as a float.
    let f = n.as_f64().unwrap_or(0.0);
    if !text.contains(['.', 'e', 'E']) && f.fract() == 0.0 && f.abs() < 9.2e18 {
        return format!("{}", f as i64);
    }
    // go-yaml resolves "1.0" style JSON numbers as floats; integral floats print without a fraction
    go_format_g(f)
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`.
pub fn go_format_g(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf".into() } else { "-.inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let e = format!("{:e}", f); // shortest digits: d.ddddde[-]x
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if neg { "-" } else { "" };
    // shortest 'g': exponent form when the decimal exponent is below -4 or at least 6 (eprec = 6)
    if !(-4..6).contains(&exp) {
        let mut m = String::new();
        m.push_str(&digits[..1]);
        if digits.len() > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        let es = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{m}e{es}{:02}", exp.abs());
    }
    // plain decimal
    let mut out = String::from(sign);
    if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

/// go-yaml v2's map key order (`keyList.Less`) for string keys: letters after non-letters, runs of
/// digits compared as numbers.
pub fn yaml_key_cmp(a: &str, b: &str) -> Ordering {
    if yaml_key_less(a, b) {
        Ordering::Less
    } else if yaml_key_less(b, a) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

fn yaml_key_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn): (i64, i64) = (0, 0);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an.wrapping_mul(10).wrapping_add(ar[ai] as i64 - '0' as i64);
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn.wrapping_mul(10).wrapping_add(br[bi] as i64 - '0' as i64);
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

/// `labels.Set(m).String()`: `k=v` pairs sorted by key, joined with commas.
pub fn label_set_string(m: &std::collections::BTreeMap<String, String>) -> String {
    m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_pads_every_column() {
        let mut t = Table::new();
        t.add_row(["NAME", "REVISION"]);
        t.add_row(["shop", "4"]);
        assert_eq!(String::from_utf8(t.render()).unwrap(), "NAME\tREVISION\nshop\t4       \n");
        assert_eq!(Table::new().render(), b"\n");
    }

    #[test]
    fn yaml_basics() {
        let v = json!({"b": [1, "x"], "a": {"c": "1.27", "d": "", "e": true, "f": null, "g": {}, "h": []}, "s": "a\nb\n"});
        assert_eq!(
            yaml(&v),
            "a:\n  c: \"1.27\"\n  d: \"\"\n  e: true\n  f: null\n  g: {}\n  h: []\nb:\n- 1\n- x\ns: |\n  a\n  b\n"
        );
        assert_eq!(yaml(&json!(null)), "null\n");
        assert_eq!(yaml(&json!("x")), "x\n");
        assert_eq!(yaml(&json!([])), "[]\n");
        assert_eq!(yaml(&json!({"t": "2026-11-21T22:34:42.739011037Z", "u": "2026-11-21 22:34:56.457826462 +0000 UTC"})),
            "t: \"2026-11-21T22:34:42.739011037Z\"\nu: 2026-11-21 22:34:56.457826462 +0000 UTC\n");
        // go-yaml v2 reads y/n/on/off as booleans, so such keys are quoted
        assert_eq!(yaml(&json!({"n": 1, "on": "yes"})), "\"n\": 1\n\"on\": \"yes\"\n");
        assert_eq!(yaml(&json!({"sku": "99585e209080", "f": "1e3"})), "f: \"1e3\"\nsku: 99585e209080\n");
        assert_eq!(yaml(&json!({"a": "- x", "b": "x: y", "c": "it's", "d": " lead"})), "a: '- x'\nb: 'x: y'\nc: it's\nd: ' lead'\n");
    }

    #[test]
    fn yaml_key_order_is_natural() {
        let mut keys = vec!["a10", "a2", "B", "a", "_x", "1"];
        keys.sort_by(|a, b| yaml_key_cmp(a, b));
        // non-letters first; "_" has no digits (0) so it precedes "1"
        assert_eq!(keys, ["_x", "1", "B", "a", "a2", "a10"]);
    }

    #[test]
    fn go_g_format() {
        assert_eq!(go_format_g(0.75), "0.75");
        assert_eq!(go_format_g(1234567.5), "1.2345675e+06");
        assert_eq!(go_format_g(0.00001), "1e-05");
        assert_eq!(go_format_g(100.5), "100.5");
    }
}
