//! Printing data as `-o table|json|yaml`, the same way for every verb.

use std::io::Write;

use serde::Serialize;

use crate::cli::OutputFormat;

/// Print a value as pretty JSON or YAML. Tables are each verb's own business.
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
