//! `releases size`: bytes of each stored record against the API server's 1 MiB limit, by part, by
//! file and by revision.
//!
//! Decisions:
//! - Which records: the shared scope rule (`storage::scope`), gathered as `export` gathers them (every
//!   revision of the named release in every storage it is found in, or of every release in scope).
//! - A record's size is what the server counts (`RawObject::stored_bytes`): the key `release` plus
//!   helm's base64 text. That is exact; the breakdown is an estimate. The text is
//!   base64(gzip(payload)) and gzip mixes the parts, so each part's uncompressed bytes (exact: its
//!   span in the Helm 3 JSON, its field in the Helm 2 protobuf) are compressed on their own and the
//!   stored bytes are shared out in proportion to those compressed sizes. Deflate looks back only
//!   32 KiB, so a large part costs in the whole about what it costs alone, and a stray archive weighs
//!   what it really costs, not what text of its length would. The key's 7 bytes count as `other`.
//! - Parts: `templates`, `files` (the chart's non-template files), `subcharts` (dependencies,
//!   recursively: Tiller stores them; Helm 3/4 do not store subcharts, whose rendered objects are in
//!   the manifest), `values` (user values, chart default values, values.schema.json), `manifest`,
//!   `hooks`, `other` (chart metadata, release info and notes, JSON/protobuf framing).
//! - Growth: between consecutive stored revisions. The next upgrade's record is estimated as the
//!   latest record plus the largest growth seen (`growth`), which `doctor` uses for its size finding.
//! - Exit codes: 3 when any record is at or above `--warn-at` (its size is known even when its payload
//!   cannot be decoded), else 1 when a record could not be decoded (named on stderr; its size is still
//!   reported, its breakdown is not), else 0.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;
use std::ops::Range;

use prost::Message;
use serde::Serialize;

use crate::cli::{OutputFormat, ReleasesSizeArgs, SizeSort};
use crate::commands::context::Outcome;
use crate::error::AppError;
use crate::release::helm2;
use crate::storage::RecordError;
use crate::storage::codec::{self, DecodeLimits};
use crate::storage::objects::{ObjectKind, RawObject};
use crate::storage::record_object::OBJECT_DATA_LIMIT;

use super::{Scope, print_problems};

/// Exit code when a record is at or above `--warn-at`.
pub(crate) const EXIT_AT_OR_ABOVE: u8 = 3;

/// Files listed per release in the table (JSON/YAML list them all, per revision).
const TABLE_FILES: usize = 5;

// ---------------------------------------------------------------------------------------------
// Growth (shared with doctor)

/// The change between two consecutive stored revisions of a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Step {
    pub from: i64,
    pub to: i64,
    /// Stored bytes of `to` minus those of `from`.
    pub bytes: i64,
}

/// A release's size history in short: its latest record and its largest growth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Growth {
    /// The highest revision and its stored bytes (`None` for an empty history).
    pub latest: Option<(i64, usize)>,
    /// The largest increase between consecutive stored revisions (`None` when none grew).
    pub largest: Option<Step>,
}

impl Growth {
    /// What the next revision's record may weigh: the latest plus the largest growth seen.
    pub(crate) fn projected(&self) -> usize {
        let latest = self.latest.map_or(0, |(_, b)| b);
        latest.saturating_add(self.largest.map_or(0, |s| usize::try_from(s.bytes).unwrap_or(0)))
    }

    /// True when [`Growth::projected`] exceeds the 1,048,576 bytes the server accepts: the next upgrade
    /// will likely fail to store its record.
    pub(crate) fn next_may_exceed(&self) -> bool {
        self.projected() > OBJECT_DATA_LIMIT
    }
}

/// Growth over a history given as `(revision, stored bytes)` pairs, in any order (sorted by revision
/// here). Consecutive means consecutive among the stored records: after pruning, revision 3 → 7 is
/// one step. Stored bytes are `RawObject::stored_bytes`.
pub(crate) fn growth(sizes: &[(i64, usize)]) -> Growth {
    let mut sorted = sizes.to_vec();
    sorted.sort_by_key(|(rev, _)| *rev);
    let mut largest: Option<Step> = None;
    for pair in sorted.windows(2) {
        let ((from, a), (to, b)) = (pair[0], pair[1]);
        let bytes = b as i64 - a as i64;
        if bytes > 0 && largest.is_none_or(|s| bytes > s.bytes) {
            largest = Some(Step { from, to, bytes });
        }
    }
    Growth { latest: sorted.last().copied(), largest }
}

// ---------------------------------------------------------------------------------------------
// The model

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
enum Part {
    Templates,
    Files,
    Subcharts,
    Values,
    Manifest,
    Hooks,
    Other,
}

/// Bytes per part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
struct Parts {
    templates: usize,
    files: usize,
    subcharts: usize,
    values: usize,
    manifest: usize,
    hooks: usize,
    other: usize,
}

impl Parts {
    fn slot(&mut self, part: Part) -> &mut usize {
        match part {
            Part::Templates => &mut self.templates,
            Part::Files => &mut self.files,
            Part::Subcharts => &mut self.subcharts,
            Part::Values => &mut self.values,
            Part::Manifest => &mut self.manifest,
            Part::Hooks => &mut self.hooks,
            Part::Other => &mut self.other,
        }
    }

    fn cells(&self) -> [usize; 7] {
        [self.templates, self.files, self.subcharts, self.values, self.manifest, self.hooks, self.other]
    }
}

/// One stretch of a payload: a file, the values, the manifest, ...
#[derive(Debug)]
struct Piece {
    part: Part,
    /// The file's path (subchart files prefixed with `charts/NAME/`); `None` for what is not a file.
    name: Option<String>,
    /// Bytes in the uncompressed payload (JSON text or protobuf field, framing included).
    raw: usize,
    /// The file's own bytes (decoded).
    content: usize,
    /// `raw` deflated on its own: the weight by which stored bytes are shared out.
    weight: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct FileSize {
    name: String,
    part: Part,
    /// The file's own size.
    bytes: usize,
    /// Its share of the record's stored bytes (estimate, see the module doc).
    stored: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct RecordSize {
    revision: i64,
    /// `namespace/name` of the record object.
    object: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    /// What the server counts against the limit (exact).
    bytes: usize,
    /// `bytes` as a percentage of 1,048,576.
    percent: f64,
    at_or_above: bool,
    /// Change from the previous stored revision.
    #[serde(skip_serializing_if = "Option::is_none")]
    growth: Option<i64>,
    /// `bytes` shared out by part (estimate; sums to `bytes`). Absent when the payload cannot be decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    parts: Option<Parts>,
    /// Uncompressed payload bytes by part (exact).
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_parts: Option<Parts>,
    /// Every file of the chart (templates, files, subchart files), largest share first.
    files: Vec<FileSize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct ReleaseSize {
    name: String,
    /// The release's namespace (`?` for a Helm 2 release no record of which can be decoded).
    namespace: String,
    storage: &'static str,
    /// Where the record objects are (Tiller's namespace for Helm 2).
    records_namespace: String,
    latest_revision: Option<i64>,
    /// Stored bytes of the latest revision.
    bytes: usize,
    percent: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    largest_growth: Option<Step>,
    /// Latest plus largest growth: what the next upgrade's record may weigh.
    next_estimate: usize,
    next_may_exceed: bool,
    /// Some record of the release is at or above `--warn-at`.
    at_or_above: bool,
    revisions: Vec<RecordSize>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    limit: usize,
    warn_at_percent: u8,
    releases: Vec<ReleaseSize>,
}

// ---------------------------------------------------------------------------------------------
// Measuring one record

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Generation {
    Helm3,
    Helm2,
}

/// What the payload says of itself (used when labels and object name do not tell).
#[derive(Debug, Default)]
struct Said {
    name: Option<String>,
    namespace: Option<String>,
    version: Option<i64>,
}

struct Measured {
    parts: Parts,
    payload_parts: Parts,
    files: Vec<FileSize>,
    said: Said,
}

/// Counts what is written to it.
struct Count(usize);

impl Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Size of `bytes` deflated on its own (default level: the weights only need to be proportionate).
fn deflated_len(bytes: &[u8]) -> usize {
    if bytes.is_empty() {
        return 0;
    }
    let mut enc = flate2::write::DeflateEncoder::new(Count(0), flate2::Compression::default());
    match enc.write_all(bytes).and_then(|()| enc.finish()) {
        Ok(c) => c.0,
        Err(_) => bytes.len(),
    }
}

fn measure(raw: &RawObject, generation: Generation, limits: &DecodeLimits) -> Result<Measured, String> {
    let text = raw.payload.as_deref().ok_or("no data.release (not a release record)")?;
    let decoded = codec::decode_base64(text).map_err(|e| e.to_string())?;
    let compressed = codec::is_gzip(&decoded);
    let body: Cow<[u8]> = if compressed {
        Cow::Owned(codec::gunzip_limited(&decoded, limits.max_decompressed).map_err(|e| e.to_string())?)
    } else if decoded.len() as u64 > limits.max_decompressed {
        return Err(codec::CodecError::TooLarge { limit: limits.max_decompressed }.to_string());
    } else {
        Cow::Borrowed(&decoded)
    };
    let (mut pieces, said) = match generation {
        Generation::Helm3 => helm3_pieces(&body)?,
        Generation::Helm2 => helm2_pieces(&body)?,
    };
    if !compressed {
        // Stored as is: every byte costs the same.
        for p in &mut pieces {
            p.weight = p.raw;
        }
    }
    Ok(attribute(raw.stored_bytes(), pieces, said))
}

/// Shares `stored` out over the pieces by weight (largest remainder, so the shares sum exactly).
fn attribute(stored: usize, pieces: Vec<Piece>, said: Said) -> Measured {
    let key = codec::DATA_KEY.len().min(stored);
    let spread = (stored - key) as u128;
    let total: u128 = pieces.iter().map(|p| p.weight as u128).sum();
    let mut shares: Vec<usize> = vec![0; pieces.len()];
    let mut other_extra = key;
    match std::num::NonZeroU128::new(total) {
        None => other_extra += spread as usize,
        Some(total) => {
            let mut given = 0u128;
            let mut rests: Vec<(u128, usize)> = Vec::with_capacity(pieces.len());
            for (i, p) in pieces.iter().enumerate() {
                let exact = spread * p.weight as u128;
                shares[i] = (exact / total) as usize;
                given += exact / total;
                rests.push((exact % total, i));
            }
            rests.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            for (_, i) in rests.into_iter().take((spread - given) as usize) {
                shares[i] += 1;
            }
        }
    }
    let mut parts = Parts::default();
    let mut payload_parts = Parts::default();
    let mut files = Vec::new();
    for (p, share) in pieces.into_iter().zip(shares) {
        *parts.slot(p.part) += share;
        *payload_parts.slot(p.part) += p.raw;
        if let Some(name) = p.name {
            files.push(FileSize { name, part: p.part, bytes: p.content, stored: share });
        }
    }
    parts.other += other_extra;
    files.sort_by(|a, b| b.stored.cmp(&a.stored).then(b.bytes.cmp(&a.bytes)).then(a.name.cmp(&b.name)));
    Measured { parts, payload_parts, files, said }
}

// --- Helm 3/4: spans of the JSON text -----------------------------------------------------------

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

/// End of the JSON value starting at `i` (the text is known to be valid JSON).
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n') {
                j += 1;
            }
            Some(j)
        }
    }
}

fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// The members of the object spanning `span`: key and the span of its value.
fn members(b: &[u8], span: Range<usize>) -> Option<Vec<(String, Range<usize>)>> {
    let mut i = skip_ws(b, span.start);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    let mut out = Vec::new();
    if b.get(i) == Some(&b'}') {
        return Some(out);
    }
    loop {
        let key_end = string_end(b, i)?;
        let key: String = serde_json::from_slice(&b[i..key_end]).ok()?;
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(b, i + 1);
        let end = value_end(b, start)?;
        out.push((key, start..end));
        i = skip_ws(b, end);
        match b.get(i)? {
            b',' => i = skip_ws(b, i + 1),
            b'}' => return Some(out),
            _ => return None,
        }
    }
}

/// The element spans of the array spanning `span` (none for `null` or anything else).
fn elements(b: &[u8], span: Range<usize>) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut i = skip_ws(b, span.start);
    if b.get(i) != Some(&b'[') {
        return out;
    }
    i = skip_ws(b, i + 1);
    while i < span.end && b[i] != b']' {
        let Some(end) = value_end(b, i) else { break };
        out.push(i..end);
        i = skip_ws(b, end);
        if b.get(i) == Some(&b',') {
            i = skip_ws(b, i + 1);
        }
    }
    out
}

/// Bytes a JSON base64 string decodes to.
fn base64_len(b: &[u8], span: &Range<usize>) -> usize {
    let text = &b[span.clone()];
    let Some(inner) = text.strip_prefix(b"\"").and_then(|t| t.strip_suffix(b"\"")) else { return 0 };
    let pad = inner.iter().rev().take_while(|c| **c == b'=').count();
    (inner.len() * 3 / 4).saturating_sub(pad)
}

/// A piece for `span`, weighed by deflating it.
fn json_piece(b: &[u8], span: &Range<usize>, part: Part, name: Option<String>, content: usize) -> (Range<usize>, Piece) {
    let bytes = &b[span.clone()];
    (span.clone(), Piece { part, name, raw: bytes.len(), content, weight: deflated_len(bytes) })
}

/// The pieces of a chart object: its templates and files (as `part_of_files` when a subchart), its
/// values and schema, and stored dependencies (not written by helm, read if some writer added them).
fn chart_json_pieces(b: &[u8], span: Range<usize>, prefix: &str, sub: bool, out: &mut Vec<(Range<usize>, Piece)>) {
    let Some(fields) = members(b, span) else { return };
    for (key, value) in fields {
        match key.as_str() {
            "templates" | "files" => {
                let part = match (sub, key.as_str()) {
                    (true, _) => Part::Subcharts,
                    (false, "templates") => Part::Templates,
                    _ => Part::Files,
                };
                for el in elements(b, value) {
                    let file = members(b, el.clone()).unwrap_or_default();
                    let name = file
                        .iter()
                        .find(|(k, _)| k == "name")
                        .and_then(|(_, s)| serde_json::from_slice::<String>(&b[s.clone()]).ok())
                        .unwrap_or_default();
                    let content = file.iter().find(|(k, _)| k == "data").map_or(0, |(_, s)| base64_len(b, s));
                    out.push(json_piece(b, &el, part, Some(format!("{prefix}{name}")), content));
                }
            }
            "dependencies" => {
                for el in elements(b, value) {
                    let name = members(b, el.clone())
                        .and_then(|m| m.into_iter().find(|(k, _)| k == "metadata"))
                        .and_then(|(_, s)| members(b, s))
                        .and_then(|m| m.into_iter().find(|(k, _)| k == "name"))
                        .and_then(|(_, s)| serde_json::from_slice::<String>(&b[s]).ok())
                        .unwrap_or_else(|| "?".into());
                    chart_json_pieces(b, el, &format!("{prefix}charts/{name}/"), true, out);
                }
            }
            "values" | "schema" => out.push(json_piece(b, &value, if sub { Part::Subcharts } else { Part::Values }, None, 0)),
            _ if sub => out.push(json_piece(b, &value, Part::Subcharts, None, 0)),
            _ => {}
        }
    }
}

fn helm3_pieces(body: &[u8]) -> Result<(Vec<Piece>, Said), String> {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(|e| format!("release JSON: {e}"))?;
    let fields = members(body, 0..body.len()).ok_or("release JSON: not an object")?;
    let mut spans: Vec<(Range<usize>, Piece)> = Vec::new();
    let mut said = Said::default();
    for (key, value) in fields {
        match key.as_str() {
            "chart" => chart_json_pieces(body, value, "", false, &mut spans),
            "config" => spans.push(json_piece(body, &value, Part::Values, None, 0)),
            "manifest" => spans.push(json_piece(body, &value, Part::Manifest, None, 0)),
            "hooks" => spans.push(json_piece(body, &value, Part::Hooks, None, 0)),
            "version" => said.version = serde_json::from_slice(&body[value]).ok(),
            "name" => said.name = serde_json::from_slice(&body[value]).ok(),
            "namespace" => said.namespace = serde_json::from_slice(&body[value]).ok(),
            _ => {}
        }
    }
    // Everything between the pieces (keys, metadata, info, notes, ...) is `other`, weighed as one text.
    spans.sort_by_key(|(r, _)| r.start);
    let mut rest = Vec::new();
    let mut at = 0;
    for (r, _) in &spans {
        if r.start > at {
            rest.extend_from_slice(&body[at..r.start]);
        }
        at = at.max(r.end);
    }
    rest.extend_from_slice(&body[at.min(body.len())..]);
    let mut pieces: Vec<Piece> = spans.into_iter().map(|(_, p)| p).collect();
    pieces.push(Piece { part: Part::Other, name: None, raw: rest.len(), content: 0, weight: deflated_len(&rest) });
    Ok((pieces, said))
}

// --- Helm 2: fields of the protobuf message -------------------------------------------------------

/// Bytes of a length-delimited field: key, length, body.
fn field_len(tag: u32, body: usize) -> usize {
    prost::encoding::key_len(tag) + prost::encoding::encoded_len_varint(body as u64) + body
}

fn proto_piece<M: Message>(tag: u32, msg: &M, part: Part, name: Option<String>, content: usize) -> Piece {
    let bytes = msg.encode_to_vec();
    Piece { part, name, raw: field_len(tag, bytes.len()), content, weight: deflated_len(&bytes) }
}

/// The pieces of a Tiller chart; a subchart's every byte is `subcharts`. Returns the bytes covered.
fn chart_proto_pieces(mut chart: helm2::Chart, prefix: &str, sub: bool, out: &mut Vec<Piece>) -> usize {
    let start = out.len();
    for t in std::mem::take(&mut chart.templates) {
        let content = t.data.len();
        let name = format!("{prefix}{}", t.name);
        out.push(proto_piece(2, &t, if sub { Part::Subcharts } else { Part::Templates }, Some(name), content));
    }
    for f in std::mem::take(&mut chart.files) {
        let content = f.value.len();
        let name = format!("{prefix}{}", f.type_url);
        out.push(proto_piece(5, &f, if sub { Part::Subcharts } else { Part::Files }, Some(name), content));
    }
    for dep in std::mem::take(&mut chart.dependencies) {
        let whole = field_len(3, dep.encoded_len());
        let name = dep.metadata.as_ref().map_or("?", |m| m.name.as_str()).to_string();
        let inner = chart_proto_pieces(dep, &format!("{prefix}charts/{name}/"), true, out);
        // The subchart's framing (its field key and length) is part of it too.
        let framing = whole.saturating_sub(inner);
        if framing > 0 {
            out.push(Piece { part: Part::Subcharts, name: None, raw: framing, content: 0, weight: 0 });
        }
    }
    if let Some(values) = chart.values.take() {
        out.push(proto_piece(4, &values, if sub { Part::Subcharts } else { Part::Values }, None, 0));
    }
    if sub {
        // What is left of a subchart (its metadata) is the subchart's too.
        let rest = chart.encode_to_vec();
        out.push(Piece { part: Part::Subcharts, name: None, raw: rest.len(), content: 0, weight: deflated_len(&rest) });
    } else if let Some(m) = chart.metadata.take() {
        out.push(proto_piece(1, &m, Part::Other, None, 0));
    }
    out[start..].iter().map(|p| p.raw).sum()
}

fn helm2_pieces(body: &[u8]) -> Result<(Vec<Piece>, Said), String> {
    let mut release = helm2::Release::decode(body).map_err(|e| format!("release protobuf: {e}"))?;
    let said = Said { name: Some(release.name.clone()), namespace: Some(release.namespace.clone()), version: Some(release.version.into()) };
    let mut pieces = Vec::new();
    if let Some(chart) = release.chart.take() {
        chart_proto_pieces(chart, "", false, &mut pieces);
    }
    if let Some(config) = release.config.take() {
        pieces.push(proto_piece(4, &config, Part::Values, None, 0));
    }
    let manifest = std::mem::take(&mut release.manifest);
    if !manifest.is_empty() {
        pieces.push(Piece {
            part: Part::Manifest,
            name: None,
            raw: field_len(5, manifest.len()),
            content: 0,
            weight: deflated_len(manifest.as_bytes()),
        });
    }
    for hook in std::mem::take(&mut release.hooks) {
        pieces.push(proto_piece(6, &hook, Part::Hooks, None, 0));
    }
    // What is left: the release's info (status, notes, times), name, version and the chart framing.
    let covered: usize = pieces.iter().filter(|p| p.part != Part::Other).map(|p| p.raw).sum();
    let rest = release.encode_to_vec();
    let framing = body.len().saturating_sub(covered + pieces.iter().filter(|p| p.part == Part::Other).map(|p| p.raw).sum::<usize>());
    pieces.push(Piece { part: Part::Other, name: None, raw: framing, content: 0, weight: deflated_len(&rest) });
    Ok((pieces, said))
}

// ---------------------------------------------------------------------------------------------
// Gathering and grouping

fn generation_of(raw: &RawObject) -> Generation {
    if codec::parse_helm3_labels(&raw.info.labels).is_helm() {
        Generation::Helm3
    } else if codec::parse_helm2_labels(&raw.info.labels).is_tiller() {
        Generation::Helm2
    } else if codec::parse_helm3_object_name(&raw.info.name).is_some() {
        Generation::Helm3
    } else {
        Generation::Helm2
    }
}

/// Name and revision by labels, then object name, then payload.
fn identity(raw: &RawObject, generation: Generation, said: Option<&Said>) -> (String, i64, Option<String>) {
    let info = &raw.info;
    let (label_name, label_rev, status, parsed) = match generation {
        Generation::Helm3 => {
            let l = codec::parse_helm3_labels(&info.labels);
            let parsed = codec::parse_helm3_object_name(&info.name).map(|(n, r)| (n.to_string(), r));
            (l.name, l.version, info.labels.get("status").cloned(), parsed)
        }
        Generation::Helm2 => {
            let l = codec::parse_helm2_labels(&info.labels);
            let parsed = codec::parse_helm2_object_name(&info.name).map(|(n, r)| (n.to_string(), i64::from(r)));
            (l.name, l.version.map(i64::from), l.status, parsed)
        }
    };
    let name = label_name
        .or_else(|| parsed.as_ref().map(|(n, _)| n.clone()))
        .or_else(|| said.and_then(|s| s.name.clone()))
        .unwrap_or_else(|| info.name.clone());
    let revision = label_rev.or_else(|| parsed.map(|(_, r)| r)).or_else(|| said.and_then(|s| s.version)).unwrap_or(0);
    (name, revision, status)
}

fn percent(bytes: usize) -> f64 {
    (bytes as f64 * 1000.0 / OBJECT_DATA_LIMIT as f64).round() / 10.0
}

fn at_or_above(bytes: usize, warn_at: u8) -> bool {
    bytes as u128 * 100 >= warn_at as u128 * OBJECT_DATA_LIMIT as u128
}

struct Gathered {
    releases: Vec<ReleaseSize>,
    errors: Vec<RecordError>,
}

fn size_records(raws: Vec<RawObject>, limits: &DecodeLimits, warn_at: u8) -> Gathered {
    // (generation, kind, records namespace, release name) -> records
    type Key = (Generation, ObjectKind, String, String);
    let mut groups: BTreeMap<Key, Vec<(RecordSize, Option<String>)>> = BTreeMap::new();
    let mut errors = Vec::new();
    for raw in raws {
        let generation = generation_of(&raw);
        let bytes = raw.stored_bytes();
        let measured = measure(&raw, generation, limits);
        let said = measured.as_ref().ok().map(|m| &m.said);
        let (name, revision, status) = identity(&raw, generation, said);
        let release_ns = said.and_then(|s| s.namespace.clone());
        let mut record = RecordSize {
            revision,
            object: raw.info.key(),
            status,
            bytes,
            percent: percent(bytes),
            at_or_above: at_or_above(bytes, warn_at),
            growth: None,
            parts: None,
            payload_parts: None,
            files: Vec::new(),
            error: None,
        };
        match measured {
            Ok(m) => {
                record.parts = Some(m.parts);
                record.payload_parts = Some(m.payload_parts);
                record.files = m.files;
            }
            Err(reason) => {
                errors.push(RecordError::new(&raw.info, format!("{reason} (sized, not broken down)")));
                record.error = Some(reason);
            }
        }
        groups.entry((generation, raw.info.kind, raw.info.namespace.clone(), name)).or_default().push((record, release_ns));
    }
    let mut releases = Vec::new();
    for ((generation, kind, records_ns, name), mut records) in groups {
        records.sort_by_key(|(r, _)| r.revision);
        let namespace = match generation {
            Generation::Helm3 => records_ns.clone(),
            Generation::Helm2 => records.iter().rev().find_map(|(_, ns)| ns.clone()).unwrap_or_else(|| "?".into()),
        };
        let mut revisions: Vec<RecordSize> = records.into_iter().map(|(r, _)| r).collect();
        for i in 1..revisions.len() {
            revisions[i].growth = Some(revisions[i].bytes as i64 - revisions[i - 1].bytes as i64);
        }
        let g = growth(&revisions.iter().map(|r| (r.revision, r.bytes)).collect::<Vec<_>>());
        let bytes = g.latest.map_or(0, |(_, b)| b);
        releases.push(ReleaseSize {
            name,
            namespace,
            storage: match generation {
                Generation::Helm3 => match kind {
                    ObjectKind::Secret => "secret",
                    ObjectKind::ConfigMap => "configmap",
                },
                Generation::Helm2 => crate::storage::helm2::storage_name(kind),
            },
            records_namespace: records_ns,
            latest_revision: g.latest.map(|(r, _)| r),
            bytes,
            percent: percent(bytes),
            largest_growth: g.largest,
            next_estimate: g.projected(),
            next_may_exceed: g.next_may_exceed(),
            at_or_above: revisions.iter().any(|r| r.at_or_above),
            revisions,
        });
    }
    Gathered { releases, errors }
}

fn sort_releases(releases: &mut [ReleaseSize], sort: SizeSort) {
    let by_name = |a: &ReleaseSize, b: &ReleaseSize| (&a.namespace, &a.name, a.storage).cmp(&(&b.namespace, &b.name, b.storage));
    match sort {
        SizeSort::Size => releases.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| by_name(a, b))),
        SizeSort::Growth => releases.sort_by(|a, b| {
            let g = |r: &ReleaseSize| r.largest_growth.map_or(0, |s| s.bytes);
            g(b).cmp(&g(a)).then_with(|| by_name(a, b))
        }),
        SizeSort::Name => releases.sort_by(by_name),
    }
}

// ---------------------------------------------------------------------------------------------
// Output

/// `812.4Ki`, `1.2Mi`, `512B`.
fn human(n: usize) -> String {
    const KI: f64 = 1024.0;
    let f = n as f64;
    if f < KI {
        format!("{n}B")
    } else if f < KI * KI {
        format!("{:.1}Ki", f / KI)
    } else {
        format!("{:.1}Mi", f / (KI * KI))
    }
}

fn render_table(report: &Report) -> String {
    let mut rows = Vec::new();
    for r in &report.releases {
        let latest = r.revisions.last();
        let parts = latest.and_then(|l| l.parts);
        let mut row = vec![
            r.namespace.clone(),
            r.name.clone(),
            r.storage.to_string(),
            r.latest_revision.map_or_else(|| "-".into(), |v| v.to_string()),
            r.bytes.to_string(),
            format!("{:.1}%{}", r.percent, if latest.is_some_and(|l| l.at_or_above) { " !" } else { "" }),
            r.largest_growth.map_or_else(|| "-".into(), |s| format!("+{} ({}→{})", human(s.bytes as usize), s.from, s.to)),
            format!("{}{}", r.next_estimate, if r.next_may_exceed { " !" } else { "" }),
        ];
        match parts {
            Some(p) => row.extend(p.cells().iter().map(|b| human(*b))),
            None => row.extend(std::iter::repeat_n("?".to_string(), 7)),
        }
        rows.push(row);
    }
    let mut out = crate::output::columns(
        "",
        3,
        &[
            "NAMESPACE",
            "NAME",
            "STORAGE",
            "REVISION",
            "BYTES",
            "OF LIMIT",
            "LARGEST GROWTH",
            "EST. NEXT",
            "TEMPLATES",
            "FILES",
            "SUBCHARTS",
            "VALUES",
            "MANIFEST",
            "HOOKS",
            "OTHER",
        ],
        &rows,
    );
    let mut files = Vec::new();
    for r in &report.releases {
        // The latest record that could be broken down.
        let Some(rec) = r.revisions.iter().rev().find(|x| x.parts.is_some()) else { continue };
        for f in rec.files.iter().take(TABLE_FILES) {
            files.push(vec![
                r.namespace.clone(),
                r.name.clone(),
                rec.revision.to_string(),
                f.name.clone(),
                format!("{:?}", f.part).to_lowercase(),
                human(f.bytes),
                human(f.stored),
            ]);
        }
    }
    if !files.is_empty() {
        out.push('\n');
        out.push_str(&crate::output::columns(
            "",
            3,
            &["NAMESPACE", "NAME", "REVISION", "LARGEST FILES", "PART", "SIZE", "EST. STORED"],
            &files,
        ));
    }
    let marked: Vec<String> = report
        .releases
        .iter()
        .flat_map(|r| r.revisions.iter().filter(|x| x.at_or_above).map(|x| format!("{} ({:.1}%)", x.object, x.percent)))
        .collect();
    if !marked.is_empty() {
        out.push_str(&format!(
            "\n! {} record(s) at or above {}% of {} bytes: {}\n",
            marked.len(),
            report.warn_at_percent,
            report.limit,
            marked.join(", ")
        ));
    }
    let risky: Vec<String> = report
        .releases
        .iter()
        .filter(|r| r.next_may_exceed)
        .map(|r| format!("{}/{} ({} bytes)", r.namespace, r.name, r.next_estimate))
        .collect();
    if !risky.is_empty() {
        if marked.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("! the next upgrade may not fit (latest + largest growth > {} bytes): {}\n", report.limit, risky.join(", ")));
    }
    out
}

// ---------------------------------------------------------------------------------------------

pub async fn run(scope: &Scope, args: ReleasesSizeArgs) -> Result<Outcome, AppError> {
    let names: Vec<String> = args.name.iter().cloned().collect();
    let raws = super::export::collect(scope, &names, args.all_namespaces).await?;
    let limits = scope.limits();
    let Gathered { mut releases, errors } = size_records(raws, &limits, args.warn_at);
    sort_releases(&mut releases, args.sort);
    print_problems(&errors, &[]);
    let any_marked = releases.iter().any(|r| r.at_or_above);
    let report = Report { limit: OBJECT_DATA_LIMIT, warn_at_percent: args.warn_at, releases };
    let io = |e: std::io::Error| AppError::Io(format!("writing the output: {e}"));
    match args.output {
        OutputFormat::Table if report.releases.is_empty() => eprintln!("no release records found"),
        OutputFormat::Table => {
            let mut out = std::io::stdout().lock();
            out.write_all(render_table(&report).as_bytes()).and_then(|()| out.flush()).map_err(io)?;
        }
        format => crate::output::print_structured(&report, format).map_err(io)?,
    }
    if any_marked {
        return Ok(Outcome::Code(EXIT_AT_OR_ABOVE));
    }
    if !errors.is_empty() {
        return Ok(Outcome::PartialFailure);
    }
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_takes_the_largest_step_between_consecutive_stored_revisions() {
        let g = growth(&[(3, 300), (1, 100), (7, 250), (8, 900)]);
        assert_eq!(g.latest, Some((8, 900)));
        assert_eq!(g.largest, Some(Step { from: 7, to: 8, bytes: 650 }));
        assert_eq!(g.projected(), 1550);
        assert!(!g.next_may_exceed());
        let shrinking = growth(&[(1, 900), (2, 800)]);
        assert_eq!(shrinking.largest, None);
        assert_eq!(shrinking.projected(), 800);
        assert_eq!(growth(&[]).latest, None);
        let big = growth(&[(1, 600_000), (2, 1_000_000)]);
        assert!(big.next_may_exceed(), "1,000,000 + 400,000 > 1,048,576");
        assert!(!growth(&[(1, 1_048_576)]).next_may_exceed(), "exactly the limit fits");
    }

    #[test]
    fn json_spans_cover_the_payload_and_shares_sum_to_the_stored_bytes() {
        let body = br#"{"name":"x","info":{"status":"deployed","notes":"n"},"chart":{"metadata":{"name":"c"},"templates":[{"name":"templates/a.yaml","data":"YWJj"}],"values":{"k":1},"schema":null,"files":[{"name":"blob.bin","data":"AAAAAAAA"}]},"config":{"u":2},"manifest":"---\nkind: X\n","hooks":[{"name":"h"}],"version":4,"namespace":"ns"}"#;
        let (pieces, said) = helm3_pieces(body).unwrap();
        assert_eq!(said.version, Some(4));
        assert_eq!(pieces.iter().map(|p| p.raw).sum::<usize>(), body.len());
        let m = attribute(1000, pieces, said);
        assert_eq!(m.parts.cells().iter().sum::<usize>(), 1000);
        assert_eq!(m.payload_parts.cells().iter().sum::<usize>(), body.len());
        let names: Vec<(&str, usize)> = m.files.iter().map(|f| (f.name.as_str(), f.bytes)).collect();
        assert!(names.contains(&("templates/a.yaml", 3)) && names.contains(&("blob.bin", 6)), "{names:?}");
        assert_eq!(m.payload_parts.manifest, r#""---\nkind: X\n""#.len());
    }

    #[test]
    fn protobuf_fields_cover_the_payload() {
        let sub = helm2::Chart {
            metadata: Some(helm2::Metadata { name: "sub".into(), ..Default::default() }),
            templates: vec![helm2::Template { name: "templates/s.yaml".into(), data: vec![b's'; 300] }],
            ..Default::default()
        };
        let chart = helm2::Chart {
            metadata: Some(helm2::Metadata { name: "top".into(), ..Default::default() }),
            templates: vec![helm2::Template { name: "templates/t.yaml".into(), data: vec![b't'; 100] }],
            dependencies: vec![sub],
            values: Some(helm2::Config { raw: "a: 1\n".into(), ..Default::default() }),
            files: vec![helm2::Any { type_url: "files/f".into(), value: vec![7; 50] }],
        };
        let release = helm2::Release {
            name: "r".into(),
            chart: Some(chart),
            manifest: "kind: X\n".into(),
            version: 2,
            namespace: "ns".into(),
            ..Default::default()
        };
        let body = release.encode_to_vec();
        let (pieces, said) = helm2_pieces(&body).unwrap();
        assert_eq!(said.version, Some(2));
        assert_eq!(pieces.iter().map(|p| p.raw).sum::<usize>(), body.len());
        let m = attribute(4000, pieces, said);
        assert_eq!(m.parts.cells().iter().sum::<usize>(), 4000);
        assert!(m.files.iter().any(|f| f.name == "charts/sub/templates/s.yaml" && f.part == Part::Subcharts && f.bytes == 300));
        assert!(m.payload_parts.subcharts > 300);
    }
}
