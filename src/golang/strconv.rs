//! Go's `strconv` as Helm's output shows it: `Quote`/`%q` (and undoing it), and
//! `FormatFloat(f, 'g', -1, 64 or 32)`.

/// Quotes like Go's `%q` / `strconv.Quote` for the characters that appear in metadata: backslash, double
/// quote and control characters are escaped, other printable characters are kept.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => {
                if (c as u32) <= 0xffff {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32))
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Undoes Go's `%q` quoting; unknown or broken escapes are kept literally. Input includes the quotes.
pub fn go_unquote(quoted: &str) -> String {
    let inner = quoted.strip_prefix('"').unwrap_or(quoted);
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            out.push('\\');
            break;
        };
        let simple = match e {
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'v' => Some('\u{b}'),
            '\\' => Some('\\'),
            '"' => Some('"'),
            '\'' => Some('\''),
            _ => None,
        };
        if let Some(s) = simple {
            out.push(s);
            continue;
        }
        let (digits, radix) = match e {
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            '0'..='7' => (2, 8),
            _ => (0, 0),
        };
        if digits == 0 {
            out.push('\\');
            out.push(e);
            continue;
        }
        let mut taken = String::new();
        if radix == 8 {
            taken.push(e);
        }
        while taken.len() < digits + usize::from(radix == 8) {
            match chars.peek() {
                Some(d) if d.is_digit(radix) => {
                    taken.push(*d);
                    chars.next();
                }
                _ => break,
            }
        }
        let decoded = if taken.len() == digits + usize::from(radix == 8) {
            u32::from_str_radix(&taken, radix).ok().and_then(char::from_u32)
        } else {
            None
        };
        match decoded {
            Some(ch) => out.push(ch),
            None => {
                out.push('\\');
                if radix != 8 {
                    out.push(e);
                }
                out.push_str(&taken);
            }
        }
    }
    out
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`.
pub fn go_format_g(f: f64) -> String {
    if let Some(special) = special_float(f.is_nan(), f.is_infinite(), f > 0.0, f == 0.0, f.is_sign_negative()) {
        return special;
    }
    shortest_g(&format!("{f:e}"))
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)` (shortest digits that round-trip as a float32).
pub fn go_format_g32(f: f64) -> String {
    let f = f as f32;
    if let Some(special) = special_float(f.is_nan(), f.is_infinite(), f > 0.0, f == 0.0, f.is_sign_negative()) {
        return special;
    }
    shortest_g(&format!("{f:e}"))
}

/// NaN, the infinities (as YAML writes them) and the zeros.
fn special_float(nan: bool, infinite: bool, positive: bool, zero: bool, negative: bool) -> Option<String> {
    if nan {
        return Some(".nan".into());
    }
    if infinite {
        return Some(if positive { ".inf".into() } else { "-.inf".into() });
    }
    if zero {
        return Some(if negative { "-0".into() } else { "0".into() });
    }
    None
}

/// The 'g' form of Rust's shortest round-trip digits (`{:e}`: `d.ddde±x`): the exponent form when the
/// decimal exponent is below -4 or at least 6 (Go's precision 6 for the shortest form), else plain decimal.
fn shortest_g(e: &str) -> String {
    let (mant, exp) = e.split_once('e').unwrap_or((e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if neg { "-" } else { "" };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_quote_escapes() {
        assert_eq!(go_quote("a\"b\\c\nd\u{1}é"), r#""a\"b\\c\nd\x01é""#);
    }

    #[test]
    fn unquote() {
        for s in ["plain", "a\"b", "back\\slash", "nl\nx", "\u{1}\u{7f}", "é漢🎉", "tab\tcr\r"] {
            assert_eq!(go_unquote(&go_quote(s)), s);
        }
        assert_eq!(go_unquote(r#""\101\x41\u0041\U00000041""#), "AAAA");
        assert_eq!(go_unquote(r#""bad\q\x4\""#), "bad\\q\\x4\\");
        assert_eq!(go_unquote(r#""\U0011ffff""#), "\\U0011ffff");
    }

    #[test]
    fn go_g_format() {
        assert_eq!(go_format_g(0.75), "0.75");
        assert_eq!(go_format_g(1234567.5), "1.2345675e+06");
        assert_eq!(go_format_g(0.00001), "1e-05");
        assert_eq!(go_format_g(100.5), "100.5");
    }

    #[test]
    fn go_float_keys() {
        for (f, s) in [
            (1.5, "1.5"),
            (100.0, "100"),
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.25, "-2.25"),
            (0.1, "0.1"),
        ] {
            assert_eq!(go_format_g32(f), s, "{f}");
        }
    }
}
