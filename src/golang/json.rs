//! JSON written the way Go's `encoding/json` (`json.Marshal`) writes it, which is what Helm stores.
//!
//! Differences from serde_json's compact output that matter here:
//! - HTML-safe escaping: `<`, `>`, `&` become `\u003c`, `\u003e`, `\u0026`; U+2028 and U+2029 become
//!   `\u2028`, `\u2029`. Control characters are escaped the same way by both (`\b \f \n \r \t`,
//!   otherwise `\u00XX` in lower-case hex).
//! - floats: Go's `strconv.FormatFloat(f, 'f' or 'e', -1, 64)` (exponent form below 1e-6 and from 1e21
//!   on, written `1e+21` / `1e-7`).
//! - Go sorts the keys of every map (`map[string]any`); [`SortedMap`]/[`SortedValue`] do that for the
//!   fields Helm declares as maps (values, config). Struct fields keep declaration order.

use std::io;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value};

/// serde_json formatter producing Go `encoding/json` compact output.
#[derive(Clone, Copy, Debug, Default)]
pub struct GoFormatter;

impl serde_json::ser::Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        let bytes = fragment.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            let esc: Option<&[u8]> = match bytes[i] {
                b'<' => Some(b"\\u003c"),
                b'>' => Some(b"\\u003e"),
                b'&' => Some(b"\\u0026"),
                0xE2 if i + 2 < bytes.len() && bytes[i + 1] == 0x80 && (bytes[i + 2] == 0xA8 || bytes[i + 2] == 0xA9) => {
                    Some(if bytes[i + 2] == 0xA8 { b"\\u2028" } else { b"\\u2029" })
                }
                _ => None,
            };
            if let Some(esc) = esc {
                writer.write_all(&bytes[start..i])?;
                writer.write_all(esc)?;
                i += if bytes[i] == 0xE2 { 3 } else { 1 };
                start = i;
            } else {
                i += 1;
            }
        }
        writer.write_all(&bytes[start..])
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(format_go_float(value).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        writer.write_all(format_go_float(f64::from(value)).as_bytes())
    }
}

/// Formats a float like Go's `encoding/json` does for `float64`.
pub fn format_go_float(f: f64) -> String {
    if !f.is_finite() {
        // Go refuses to marshal these (UnsupportedValueError); serde_json would write null.
        return "null".to_owned();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust `{:e}` gives the shortest digits like Go's 'e' with precision -1, but writes the
        // exponent as `e21` / `e-7`; Go writes `e+21` / `e-07`, then json trims `e-07` to `e-7`.
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((mant, exp)) if !exp.starts_with('-') => format!("{mant}e+{exp}"),
            _ => s,
        }
    } else {
        // Rust `Display` for f64 is the shortest round-trip digits in plain notation, as Go's 'f', -1.
        format!("{f}")
    }
}

/// Serializes `value` to compact JSON exactly as Go's `json.Marshal` would.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(4096);
    to_writer(&mut out, value)?;
    Ok(out)
}

/// Streams `value` as Go-style JSON into `writer`.
pub fn to_writer<W: io::Write, T: Serialize + ?Sized>(writer: W, value: &T) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(writer, GoFormatter);
    value.serialize(&mut ser)
}

/// A JSON value serialized with every object's keys sorted (Go writes `map[string]any` that way).
pub struct SortedValue<'a>(pub &'a Value);

/// A JSON object serialized with its keys sorted, recursively.
pub struct SortedMap<'a>(pub &'a Map<String, Value>);

impl Serialize for SortedValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(m) => SortedMap(m).serialize(serializer),
            Value::Array(a) => {
                let mut seq = serializer.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(&SortedValue(v))?;
                }
                seq.end()
            }
            other => other.serialize(serializer),
        }
    }
}

impl Serialize for SortedMap<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut entries: Vec<(&String, &Value)> = self.0.iter().collect();
        // Already sorted (the usual case for data Helm wrote) costs one linear check.
        if !entries.windows(2).all(|w| w[0].0 <= w[1].0) {
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        }
        let mut map = serializer.serialize_map(Some(entries.len()))?;
        for (k, v) in entries {
            map.serialize_entry(k, &SortedValue(v))?;
        }
        map.end()
    }
}

/// `serialize_with` helper for `Map` fields that Go declares as `map[string]any`.
pub fn serialize_sorted_map<S: Serializer>(map: &Map<String, Value>, serializer: S) -> Result<S::Ok, S::Error> {
    SortedMap(map).serialize(serializer)
}

/// `serialize_with` helper for `Option<Map>` fields that Go declares as `map[string]any` (nil = null).
pub fn serialize_sorted_opt_map<S: Serializer>(map: &Option<Map<String, Value>>, serializer: S) -> Result<S::Ok, S::Error> {
    match map {
        Some(m) => SortedMap(m).serialize(serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(v: &Value) -> String {
        String::from_utf8(to_vec(v).unwrap()).unwrap()
    }

    #[test]
    fn html_safe_escaping_like_go() {
        let v = Value::String("a<b>&c\u{2028}d\u{2029}e\"\\\n\t\u{1}\u{8}\u{c}\u{7f}é".into());
        assert_eq!(go(&v), r#""a\u003cb\u003e\u0026c\u2028d\u2029e\"\\\n\t\u0001\b\f"#.to_owned() + "\u{7f}é\"");
        // keys are escaped too
        let v = serde_json::json!({"<k>": ">=1.20.0-0"});
        assert_eq!(go(&v), r#"{"\u003ck\u003e":"\u003e=1.20.0-0"}"#);
    }

    #[test]
    fn floats_like_go() {
        for (f, s) in [
            (0.5, "0.5"),
            (1.0, "1"),
            (-2.25, "-2.25"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (1e-6, "0.000001"),
            (1e-7, "1e-7"),
            (1.25e-10, "1.25e-10"),
            (0.1 + 0.2, "0.30000000000000004"),
            (12345678901234567890.0, "12345678901234567000"),
        ] {
            assert_eq!(format_go_float(f), s, "{f}");
        }
    }

    #[test]
    fn sorted_maps() {
        let v = serde_json::json!({"b": {"z": 1, "a": [ {"y": 1, "x": 2} ]}, "a": 0.5});
        assert_eq!(String::from_utf8(to_vec(&SortedValue(&v)).unwrap()).unwrap(), r#"{"a":0.5,"b":{"a":[{"x":2,"y":1}],"z":1}}"#);
    }
}
