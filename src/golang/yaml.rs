//! YAML as `sigs.k8s.io/yaml` writes it (JSON → go-yaml v2 generic value → go-yaml v2 emitter),
//! which is how helm prints `-o yaml` and values, and reads it (values documents: YAML 1.1 scalars,
//! keys made strings, the last duplicate key winning).

use std::cmp::Ordering;
use std::fmt;
use std::fmt::Write as _;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::strconv::{go_format_g, go_format_g32};

/// A value as sigs.k8s.io/yaml's `Marshal` (and so helm's `output.EncodeYAML`) writes it: keys sorted the go-yaml v2 way, block style,
/// sequences inside mappings not indented, long plain lines folded after column 80, multi-line
/// strings as literal blocks, strings that would read back as another type double-quoted.
pub fn marshal(value: &Value) -> String {
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
    if style == Style::Plain && (!a.block_plain_allowed || (s.is_empty() && simple_key)) {
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
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' if followed_by_ws => block_indicators = true,
                '-' if followed_by_ws => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_ws => block_indicators = true,
                '#' if preceded_by_ws => block_indicators = true,
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
        "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
        "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF",
        "-.inf", "-.Inf", "-.INF",
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

// ---------------------------------------------------------------------------------------------
// Reading: values documents as Helm unmarshals them

/// Reads a values document as Helm does (`yaml.Unmarshal` into `map[string]interface{}` with
/// `sigs.k8s.io/yaml` over go-yaml v2) into a JSON map. Empty, comment-only, `null` and `{}` documents
/// give an empty map; a document that is not a mapping is an error. Errors never quote the input.
pub fn unmarshal_values(raw: &str) -> Result<Map<String, Value>, String> {
    if raw.trim().is_empty() {
        return Ok(Map::new());
    }
    let mut budget = serde_saphyr::Budget::default();
    // Tiller payloads are capped by the decoder (64 MiB); allow big values documents, keep the
    // nesting well inside serde_json's recursion limit for the JSON we write.
    budget.max_nodes = 16_000_000;
    budget.max_events = 32_000_000;
    budget.max_depth = 100;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.legacy_octal_numbers = true;
    options.strict_booleans = false;
    options.non_finite_float_policy = serde_saphyr::NonFiniteFloatPolicy::Reject;
    options.with_snippet = false;
    // go-yaml v2's Unmarshal (what Helm uses) lets the last duplicate key win.
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    let doc: YamlDoc = serde_saphyr::from_str_with_options(raw, options).map_err(|e| format!("YAML: {e}"))?;
    match doc.0 {
        Value::Null => Ok(Map::new()),
        Value::Object(m) => Ok(m),
        other => Err(format!(
            "YAML document is {}, not a mapping",
            match other {
                Value::Array(_) => "a sequence",
                Value::String(_) => "a string",
                Value::Bool(_) => "a boolean",
                _ => "a number",
            }
        )),
    }
}

/// A YAML node converted to JSON the way `sigs.k8s.io/yaml` does.
struct YamlDoc(Value);

impl<'de> Deserialize<'de> for YamlDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor).map(YamlDoc)
    }
}

struct NodeVisitor;

/// A float as the JSON number Go writes for it. Integral values below 2^63 are held as integers: Go
/// writes them as plain digits either way, and reading the stored JSON back then gives the same value.
fn float<E: de::Error>(f: f64) -> Result<Value, E> {
    // A whole number is written by Go as plain digits and read back as an integer, so store it as
    // one whenever an integer type holds it exactly: i64 below 2^63, u64 up to 2^64.
    if f.fract() == 0.0 && !(f == 0.0 && f.is_sign_negative()) {
        const TWO_63: f64 = 9_223_372_036_854_775_808.0;
        const TWO_64: f64 = 18_446_744_073_709_551_616.0;
        if (-TWO_63..TWO_63).contains(&f) {
            return Ok(Value::Number((f as i64).into()));
        }
        if (TWO_63..TWO_64).contains(&f) {
            return Ok(Value::Number((f as u64).into()));
        }
    }
    Number::from_f64(f).map(Value::Number).ok_or_else(|| E::custom("non-finite number cannot be stored as JSON"))
}

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML node")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        match i64::try_from(v) {
            Ok(i) => self.visit_i64(i),
            // Go falls back to a float64 when an integer does not fit.
            Err(_) => float(v as f64),
        }
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        match u64::try_from(v) {
            Ok(u) => self.visit_u64(u),
            Err(_) => float(v as f64),
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        float(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        // `!!binary`: Go decodes it into a string of those bytes.
        Ok(Value::String(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(YamlDoc(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(YamlKey(k)) = map.next_key()? {
            let YamlDoc(v) = map.next_value()?;
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

/// A mapping key as `sigs.k8s.io/yaml` turns it into a JSON key: strings as they are, integers in
/// decimal, booleans `true`/`false`, floats as Go's `FormatFloat(f, 'g', -1, 32)`. Other keys are an error.
struct YamlKey(String);

impl<'de> Deserialize<'de> for YamlKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KeyVisitor).map(YamlKey)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number or boolean mapping key")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(go_format_g32(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<String, E> {
        Ok(String::from_utf8_lossy(v).into_owned())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_any(KeyVisitor)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_any(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_basics() {
        let v = json!({"b": [1, "x"], "a": {"c": "1.27", "d": "", "e": true, "f": null, "g": {}, "h": []}, "s": "a\nb\n"});
        assert_eq!(marshal(&v), "a:\n  c: \"1.27\"\n  d: \"\"\n  e: true\n  f: null\n  g: {}\n  h: []\nb:\n- 1\n- x\ns: |\n  a\n  b\n");
        assert_eq!(marshal(&json!(null)), "null\n");
        assert_eq!(marshal(&json!("x")), "x\n");
        assert_eq!(marshal(&json!([])), "[]\n");
        assert_eq!(
            marshal(&json!({"t": "2026-11-21T22:34:42.739011037Z", "u": "2026-11-21 22:34:56.457826462 +0000 UTC"})),
            "t: \"2026-11-21T22:34:42.739011037Z\"\nu: 2026-11-21 22:34:56.457826462 +0000 UTC\n"
        );
        // go-yaml v2 reads y/n/on/off as booleans, so such keys are quoted
        assert_eq!(marshal(&json!({"n": 1, "on": "yes"})), "\"n\": 1\n\"on\": \"yes\"\n");
        assert_eq!(marshal(&json!({"sku": "99585e209080", "f": "1e3"})), "f: \"1e3\"\nsku: 99585e209080\n");
        assert_eq!(marshal(&json!({"a": "- x", "b": "x: y", "c": "it's", "d": " lead"})), "a: '- x'\nb: 'x: y'\nc: it's\nd: ' lead'\n");
    }

    #[test]
    fn yaml_key_order_is_natural() {
        let mut keys = vec!["a10", "a2", "B", "a", "_x", "1"];
        keys.sort_by(|a, b| yaml_key_cmp(a, b));
        // non-letters first; "_" has no digits (0) so it precedes "1"
        assert_eq!(keys, ["_x", "1", "B", "a", "a2", "a10"]);
    }
}
