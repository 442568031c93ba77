//! The fuzzing that CI can afford.
//!
//! - Replays every input in `tests/data/fuzz-regressions/<target>/` (fixed findings of the fuzzer,
//!   minimized, and interesting corpus entries; every target has some) through the same checks the libFuzzer targets run
//!   (`fuzz/src/checks.rs`, included below, so a fuzzer finding reproduces here exactly).
//! - Runs each target's checks over a few thousand deterministic pseudo-random and mutated-fixture
//!   inputs (xorshift PRNG, fixed seeds), a cheap stand-in for `scripts/fuzz`, which CI does not run.
//! - Pins a few hostile payloads by name: decompression bombs, deep nesting, invalid UTF-8.

mod release_fixtures;

#[allow(dead_code)]
#[path = "../fuzz/src/checks.rs"]
mod checks;

use std::path::{Path, PathBuf};

use kubectl_werf::storage::codec::{self, CodecError, DecodeLimits};
use serde_json::Value;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz-regressions")
}

fn read(rel: &str) -> Vec<u8> {
    let p = data_dir().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

// ---------------------------------------------------------------------------------------------
// Replay

/// Every saved input runs through its target's checks, and every fuzz target (each file of
/// `fuzz/fuzz_targets/`, each name of `checks::TARGETS`) has saved inputs: a target without any would
/// never be exercised by CI.
#[test]
fn replay_saved_inputs() {
    let mut on_disk: Vec<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets"))
        .unwrap()
        .map(|e| e.unwrap().path().file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut known: Vec<String> = checks::TARGETS.iter().map(|t| t.to_string()).collect();
    known.sort();
    assert_eq!(on_disk, known, "fuzz/fuzz_targets and checks::TARGETS name the same targets");
    for target in checks::TARGETS {
        let dir = data_dir().join(target);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{target}: no saved inputs in {}: {e}", dir.display()));
        let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
        paths.sort();
        assert!(!paths.is_empty(), "{target}: no saved inputs in {}", dir.display());
        for p in paths {
            let bytes = std::fs::read(&p).unwrap();
            let outcome = std::panic::catch_unwind(|| checks::run(target, &bytes));
            assert!(outcome.is_ok(), "{target}: {} fails its checks", p.display());
        }
    }
}

/// The `helm2_text` inputs reach the decoder's both sides: a genuine Tiller record (gzip) and its
/// body as plain base64 decode to the same release; cut in half or garbled they are errors.
#[test]
fn helm2_text_inputs_decode_or_fail_as_meant() {
    let limits = &checks::LIMITS;
    let gz = codec::decode_helm2(&read("helm2_text/genuine-tiller-blog-gzip.b64"), limits).unwrap();
    assert_eq!(gz.name, "blog");
    assert_eq!(codec::decode_helm2(&read("helm2_text/genuine-tiller-blog-plain-base64.b64"), limits).unwrap(), gz);
    assert!(codec::decode_helm2(&read("helm2_text/genuine-tiller-blog-truncated.b64"), limits).is_err());
    assert!(codec::decode_helm2(&read("helm2_text/gzip-magic-then-garbage.b64"), limits).is_err());
    assert!(codec::decode_helm2(&read("helm2_text/values-large-integral-floats.b64"), limits).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Hostile payloads, by name

const KIB: u64 = 1024;

/// The bomb tests use a 256 KiB limit (the fuzz targets use 4 MiB): same code path, and inflating
/// megabytes in an unoptimized test build would take seconds.
const SMALL: DecodeLimits = DecodeLimits { max_decompressed: 256 * KIB };

#[test]
fn gzip_inflating_past_the_limit_is_refused() {
    // 1 KiB of gzip inflating to 1 MiB of spaces; made with Python's gzip, level 9.
    let text = read("bombs/gzip-1mib-of-spaces.b64");
    for r in [
        codec::decode_helm3(&text, &SMALL).map(drop),
        codec::decode_helm3_summary(&text, &SMALL).map(drop),
        codec::decode_helm3_value(&text, &SMALL).map(drop),
        codec::decode_helm2(&text, &SMALL).map(drop),
    ] {
        assert!(matches!(r, Err(CodecError::TooLarge { limit }) if limit == 256 * KIB), "{r:?}");
    }
    assert_eq!(codec::decode_payload(&text, &DecodeLimits { max_decompressed: 1024 * KIB }).unwrap().len(), 1 << 20);
}

#[test]
fn gzip_members_each_small_but_together_past_the_limit_are_refused() {
    // Go's reader (and ours) reads every gzip member: 5 members of 64 KiB each, 256 KiB limit.
    let text = read("bombs/gzip-5-members-of-64kib.b64");
    let r = codec::decode_helm3_value(&text, &SMALL);
    assert!(matches!(r, Err(CodecError::TooLarge { .. })), "{r:?}");
    // Exactly at the limit is fine as far as the gzip layer goes (the JSON is then invalid).
    let text = read("bombs/gzip-4-members-of-64kib.b64");
    let r = codec::decode_helm3_value(&text, &SMALL);
    assert!(matches!(r, Err(CodecError::Json(_))), "{r:?}");
}

#[test]
fn raw_body_past_the_limit_is_refused_without_gzip() {
    let text = codec::encode_base64(&vec![b' '; 256 * KIB as usize + 1]);
    let r = codec::decode_helm3(text.as_bytes(), &SMALL);
    assert!(matches!(r, Err(CodecError::TooLarge { .. })), "{r:?}");
}

#[test]
fn truncated_and_corrupt_gzip_are_errors() {
    let gz = codec::gzip_best(br#"{"name":"a","version":1}"#);
    for cut in 3..gz.len() {
        let text = codec::encode_base64(&gz[..cut]);
        assert!(codec::decode_helm3(text.as_bytes(), &checks::LIMITS).is_err(), "cut at {cut}");
    }
    let mut bad = gz.clone();
    let n = bad.len();
    bad[n - 5] ^= 0xff; // CRC/size trailer
    assert!(matches!(codec::decode_helm3(codec::encode_base64(&bad).as_bytes(), &checks::LIMITS), Err(CodecError::Gzip(_))));
}

#[test]
fn deep_json_is_refused_not_a_stack_overflow() {
    for depth in [129usize, 20_000] {
        for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
            // At the top level, and inside the free-form `config` and an unknown field.
            let nest = format!("{}1{}", open.repeat(depth), close.repeat(depth));
            for body in [nest.clone(), format!(r#"{{"name":"x","config":{{"v":{nest}}}}}"#), format!(r#"{{"future":{nest}}}"#)] {
                let text = codec::encode_base64(body.as_bytes());
                assert!(matches!(codec::decode_helm3(text.as_bytes(), &checks::LIMITS), Err(CodecError::Json(_))), "depth {depth}");
                assert!(codec::decode_helm3_value(text.as_bytes(), &checks::LIMITS).is_err());
                // The summary skips what it does not need without recursing, so it may succeed.
                let _ = codec::decode_helm3_summary(text.as_bytes(), &checks::LIMITS);
                checks::helm3_text(body.as_bytes());
            }
        }
    }
    // Once through the gzip layer as Helm stores it.
    let body = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
    checks::helm3_json(body.as_bytes());
    assert!(codec::decode_helm3_value(codec::encode_payload(body.as_bytes()).as_bytes(), &checks::LIMITS).is_err());
}

#[test]
fn deep_protobuf_nesting_is_refused() {
    // Field 3 (chart, a message) nested into itself through chart.dependencies (field 3) many times.
    let mut msg: Vec<u8> = Vec::new();
    for _ in 0..200 {
        let mut outer = vec![0x1a];
        push_varint(&mut outer, msg.len() as u64);
        outer.extend_from_slice(&msg);
        msg = outer;
    }
    let mut rel = vec![0x1a];
    push_varint(&mut rel, msg.len() as u64);
    rel.extend_from_slice(&msg);
    let r = codec::decode_helm2(codec::encode_base64(&rel).as_bytes(), &checks::LIMITS);
    assert!(matches!(r, Err(CodecError::Protobuf(_))), "{r:?}");
    checks::helm2_proto(&rel);
}

#[test]
fn protobuf_length_prefix_past_the_end_is_an_error() {
    // name (field 1, string) claiming 2^62 bytes.
    let mut rel = vec![0x0a];
    push_varint(&mut rel, 1 << 62);
    rel.extend_from_slice(b"abc");
    let r = codec::decode_helm2(codec::encode_base64(&rel).as_bytes(), &checks::LIMITS);
    assert!(matches!(r, Err(CodecError::Protobuf(_))), "{r:?}");
}

fn push_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[test]
fn manifest_with_invalid_utf8_and_odd_separators() {
    let bytes = read("manifest/invalid-utf8.yaml");
    assert!(std::str::from_utf8(&bytes).is_err());
    checks::manifest(&bytes);
    let text = String::from_utf8_lossy(&bytes);
    let objs = kubectl_werf::manifest::parse_objects(&text, false);
    assert!(objs.iter().any(Result::is_ok), "{objs:?}");
    // A stream that is only separators and a BOM, CR-only line ends, `---` glued to text.
    for t in ["---", "---\r---\r\n---", "\u{feff}---\nkind: x\n", "---apiVersion: v1\n", "--- a: 1\n--- b: 2", "\n---\t#c\n..."] {
        checks::manifest(t.as_bytes());
    }
}

#[test]
fn manifest_yaml_alias_bomb_is_bounded() {
    // Billion laughs: nine levels of ten aliases each.
    let mut y = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\na0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for i in 1..10 {
        let p = format!("*a{}", i - 1);
        y.push_str(&format!("a{i}: &a{i} [{}]\n", [p.as_str(); 10].join(",")));
    }
    // serde-saphyr stops at its node budget (250 000 nodes) instead of expanding 10^9.
    let start = std::time::Instant::now();
    let r = kubectl_werf::manifest::parse_objects(&y, false);
    assert!(matches!(&r[..], [Err(e)] if e.reason.contains("budget")), "{r:?}");
    assert!(start.elapsed() < std::time::Duration::from_secs(8), "alias expansion took {:?}", start.elapsed());
}

/// Nesting within the parser's depth budget (64) is an object; deeper is one error naming the limit
/// (serde-saphyr's depth budget, or for very deep flow collections its recursion limit), not a crash.
#[test]
fn manifest_deep_yaml_nesting() {
    let flow = |depth: usize| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\ndata: {}1{}\n", "[".repeat(depth), "]".repeat(depth))
    };
    let block = |depth: usize| {
        let mut block = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n");
        for i in 0..depth.min(1_000) {
            block.push_str(&" ".repeat(i + 1));
            block.push_str("- \n");
        }
        block
    };
    for text in [flow(20), block(20)] {
        let r = kubectl_werf::manifest::parse_objects(&text, false);
        assert!(matches!(&r[..], [Ok(o)] if o.kind == "ConfigMap" && o.name == "x"), "{r:?}");
    }
    for (text, limit) in [
        (flow(200), "budget breached: Depth"),
        (block(200), "budget breached: Depth"),
        (flow(5_000), "recursion limit exceeded"),
        (block(5_000), "budget breached: Depth"),
    ] {
        let r = kubectl_werf::manifest::parse_objects(&text, false);
        assert!(matches!(&r[..], [Err(e)] if e.reason.contains(limit)), "{limit}: {r:?}");
    }
}

/// Saved oddities parse to exactly this: escapes Go's `%q` cannot write (`\777`, `\q`, `\x4`) leave a
/// quoted value verbatim, quotes included; a marker without a subject, and bare bytes, are no error.
#[test]
fn helm_error_text_oddities() {
    use kubectl_werf::helm_errors::parse_bytes;
    use kubectl_werf::ownership::{HelmAction, MetaField};
    for name in ["helm_errors/quoted-escapes.txt", "helm_errors/marker-without-subject.txt"] {
        checks::helm_errors(&read(name));
    }
    let odd = parse_bytes(&read("helm_errors/quoted-escapes.txt"));
    assert_eq!(odd.len(), 1, "{odd:?}");
    let e = &odd[0];
    assert_eq!((e.action, e.kind.as_str()), (Some(HelmAction::Upgrade), "Widget"));
    assert_eq!(e.name, r#""a\"b\\c\x41\u00e9\U0001F389\777\q""#);
    assert_eq!(e.namespace.as_deref(), Some(r#""\""#));
    assert_eq!((e.release.as_deref(), e.release_namespace.as_deref()), (Some(r"\x4"), None));
    let problems: Vec<(MetaField, &str, &str, Option<&str>)> =
        e.problems.iter().map(|p| (p.field, p.key.as_str(), p.expected.as_str(), p.current.as_deref())).collect();
    assert_eq!(
        problems,
        [(MetaField::Annotation, "meta.helm.sh/release-name", r"\x4", Some(r"\U0011ffff")), (MetaField::Label, r"\", "\"", None)]
    );
    assert_eq!(parse_bytes(&read("helm_errors/marker-without-subject.txt")), []);
    checks::helm_errors(&[0xff, 0xfe, b'"', b'\\', b'x']);
    assert_eq!(parse_bytes(&[0xff, 0xfe, b'"', b'\\', b'x']), []);
}

// ---------------------------------------------------------------------------------------------
// Cheap deterministic fuzzing

/// xorshift64: tiny, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One to four libFuzzer-style edits: flip, overwrite, insert a token, delete or duplicate a range,
/// truncate.
fn mutate(rng: &mut Rng, input: &[u8], tokens: &[&[u8]]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next() as u8;
            }
            2 if !tokens.is_empty() => {
                let i = rng.below(len + 1);
                let t = rng.pick(tokens);
                v.splice(i..i, t.iter().copied());
            }
            3 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(16)).min(len);
                v.drain(a..b);
            }
            4 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(32)).min(len);
                let piece = v[a..b].to_vec();
                let at = rng.below(len + 1);
                v.splice(at..at, piece);
            }
            5 => v.truncate(rng.below(len + 1)),
            _ => {
                let i = rng.below(len + 1);
                let junk = rng.bytes(4);
                v.splice(i..i, junk);
            }
        }
    }
    v
}

/// Runs `check` on `rounds` inputs: random bytes, random token soup, and mutated seeds.
fn cheap_fuzz(name: &str, seed: u64, rounds: usize, seeds: &[Vec<u8>], tokens: &[&[u8]], check: fn(&[u8])) {
    let mut rng = Rng(seed);
    for round in 0..rounds {
        let input = match round % 4 {
            0 => rng.bytes(64),
            1 => {
                let mut v = Vec::new();
                for _ in 0..rng.below(16) {
                    let token: &[u8] = rng.pick::<&[u8]>(tokens);
                    v.extend_from_slice(token);
                }
                v
            }
            _ if !seeds.is_empty() => {
                let base = &seeds[rng.below(seeds.len())];
                mutate(&mut rng, base, tokens)
            }
            _ => rng.bytes(256),
        };
        if let Err(e) = std::panic::catch_unwind(|| check(&input)) {
            let msg = e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
            panic!(
                "{name}: round {round} (seed {seed:#x}) fails: {msg:?}\ninput ({} bytes): {:?}",
                input.len(),
                String::from_utf8_lossy(&input)
            );
        }
    }
}

/// JSON shrunk for mutation: long strings cut to 24 bytes, arrays and objects to their first 6
/// entries. Keeps every key Helm writes, at a size where a debug-build round trip is fast.
fn shrink(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(s.chars().take(24).collect()),
        Value::Array(a) => Value::Array(a.iter().take(6).map(shrink).collect()),
        Value::Object(m) => Value::Object(m.iter().take(12).map(|(k, v)| (k.clone(), shrink(v))).collect()),
        other => other.clone(),
    }
}

fn helm3_bodies() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = release_fixtures::load("helm3")
        .iter()
        .map(|r| {
            let body = codec::decode_payload(&r.payload, &codec::DecodeLimits::default()).unwrap();
            let v: Value = serde_json::from_slice(&body).unwrap();
            serde_json::to_vec(&shrink(&v)).unwrap()
        })
        .collect();
    out.dedup();
    out
}

/// Helm 2 protobuf bodies of the fixtures, shrunk like [`shrink`]: every field Tiller set kept,
/// texts and lists cut.
fn helm2_bodies() -> Vec<Vec<u8>> {
    use kubectl_werf::release::helm2;
    use prost::Message;
    fn cut(s: &mut String, n: usize) {
        let mut end = n.min(s.len());
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    fn shrink_chart(c: &mut helm2::Chart) {
        c.templates.truncate(3);
        for t in &mut c.templates {
            t.data.truncate(64);
        }
        c.files.truncate(2);
        for f in &mut c.files {
            f.value.truncate(32);
        }
        if let Some(v) = &mut c.values {
            cut(&mut v.raw, 64);
        }
        c.dependencies.truncate(1);
        c.dependencies.iter_mut().for_each(shrink_chart);
    }
    let mut out = Vec::new();
    for sub in ["helm2", "helm2-synthetic"] {
        for r in release_fixtures::load(sub) {
            let Ok(mut rel) = codec::decode_helm2(&r.payload, &codec::DecodeLimits::default()) else { continue };
            cut(&mut rel.manifest, 200);
            if let Some(c) = &mut rel.chart {
                shrink_chart(c);
            }
            if let Some(c) = &mut rel.config {
                cut(&mut c.raw, 64);
            }
            rel.hooks.truncate(3);
            for h in &mut rel.hooks {
                cut(&mut h.manifest, 64);
            }
            if let Some(st) = rel.info.as_mut().and_then(|i| i.status.as_mut()) {
                cut(&mut st.notes, 64);
                cut(&mut st.resources, 64);
            }
            out.push(rel.encode_to_vec());
        }
    }
    out
}

const JSON_TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"\"",
    b"null",
    b"true",
    b"1e400",
    b"-0",
    b"1.5",
    b"9223372036854775808",
    b"\"name\":",
    b"\"version\":",
    b"\"info\":",
    b"\"status\":",
    b"\"chart\":",
    b"\"metadata\":",
    b"\"hooks\":",
    b"\"config\":",
    b"\"last_deployed\":",
    b"\"deleted\":\"\"",
    b"\"2020-01-01T00:00:00+05:30\"",
    b"\"templates\":",
    b"\"data\":",
    b"\"annotations\":",
    b"\\u0000",
    b"\\ud800",
    b"\"weight\":",
    b"\"events\":",
    b"\"last_run\":",
];

#[test]
fn cheap_fuzz_helm3_json() {
    let seeds = helm3_bodies();
    cheap_fuzz("helm3_json", 0x1234_5678_9abc_def1, 400, &seeds, JSON_TOKENS, checks::helm3_json);
}

#[test]
fn cheap_fuzz_helm3_text() {
    // Stored texts: mutations mostly stop at base64 or gzip; the target also base64-encodes the
    // input, so mutated JSON bodies and gzip streams are used as seeds too.
    let mut seeds: Vec<Vec<u8>> = helm3_bodies();
    seeds.extend(seeds.clone().iter().take(4).map(|b| codec::gzip_best(b)));
    seeds.extend(seeds.clone().iter().take(4).map(|b| codec::encode_payload(b).into_bytes()));
    let tokens: &[&[u8]] = &[b"H4sI", b"=", b"\n", b"\x1f\x8b\x08", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff", b"{}", b"A"];
    cheap_fuzz("helm3_text", 0x0bad_cafe_f00d_0001, 400, &seeds, tokens, checks::helm3_text);
}

const PROTO_TOKENS: &[&[u8]] = &[
    b"\x0a\x01a",
    b"\x12\x00",
    b"\x1a\x00",
    b"\x22\x00",
    b"\x2a\x00",
    b"\x30\x01",
    b"\x38\x01",
    b"\x42\x02ns",
    b"\x52\x00",
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
    b"\x08\x80\x80\x80\x80\x10",
    b"\x0a\x02\x08\x01",
];

#[test]
fn cheap_fuzz_helm2_proto_and_convert() {
    let seeds = helm2_bodies();
    assert!(!seeds.is_empty());
    cheap_fuzz("helm2_proto", 0x5eed_0002_0000_0001, 600, &seeds, PROTO_TOKENS, checks::helm2_proto);
    cheap_fuzz("convert", 0x5eed_0002_0000_0002, 600, &seeds, PROTO_TOKENS, checks::convert);
    let texts: Vec<Vec<u8>> = seeds.iter().take(3).map(|b| codec::encode_base64(b).into_bytes()).collect();
    cheap_fuzz("helm2_text", 0x5eed_0002_0000_0003, 300, &texts, &[b"H4sI", b"="], checks::helm2_text);
}

#[test]
fn cheap_fuzz_manifest() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/helm3");
    let mut seeds = Vec::new();
    for f in ["fx-helm3-shop-manifest.txt", "fx-helm3-shop-hooks.txt", "fx-helm4-shop-manifest.txt"] {
        let text = std::fs::read(dir.join(f)).unwrap();
        // Whole manifests are large for a debug build; mutate their first documents.
        seeds.push(text[..text.len().min(1200)].to_vec());
    }
    seeds.push(read("manifest/invalid-utf8.yaml"));
    let tokens: &[&[u8]] = &[
        b"---",
        b"\n---\n",
        b"--- ",
        b"...",
        b"\n",
        b"\r\n",
        b"# Source: x/y.yaml\n",
        b"apiVersion: v1\n",
        b"kind: List\n",
        b"items:\n- ",
        b"metadata:\n  name: a\n",
        b"&a ",
        b"*a",
        b"!!binary ",
        b"{",
        b"[",
        b"'",
        b"\"",
        b"\xff",
        b"\t",
        b": ",
        b"<<: *a\n",
        b"? ",
        b"|\n",
        b">-\n",
    ];
    cheap_fuzz("manifest", 0x3a11_fe57_0000_0001, 500, &seeds, tokens, checks::manifest);
}

#[test]
fn cheap_fuzz_helm_errors() {
    let captured = String::from_utf8(read("helm_errors/captured-helm3.txt")).unwrap();
    let mut seeds: Vec<Vec<u8>> = captured.lines().map(|l| l.as_bytes().to_vec()).collect();
    for name in ["helm_errors/quoted-escapes.txt", "helm_errors/marker-without-subject.txt"] {
        seeds.push(read(name));
    }
    let tokens: &[&[u8]] = &[
        b" exists and cannot be imported into the current release: invalid ownership metadata",
        b"; label validation error: ",
        b"; annotation validation error: ",
        b"missing key ",
        b"key ",
        b": must be set to ",
        b" must equal ",
        b": current value is ",
        b"\"",
        b"\\",
        b"\\x4",
        b"\\u00e9",
        b"\\U0010ffff",
        b"\\777",
        b" in namespace ",
        b"Unable to continue with install: ",
        b"\r\n",
        b"\xc3",
        b"\xe2\x82",
    ];
    cheap_fuzz("helm_errors", 0xe770_0000_0000_0001, 2000, &seeds, tokens, checks::helm_errors);
}

#[test]
fn cheap_fuzz_names_and_slugs() {
    let vectors = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/werf-slug-vectors.tsv")).unwrap();
    let seeds: Vec<Vec<u8>> =
        vectors.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split('\t').next()).map(|s| s.as_bytes().to_vec()).collect();
    assert!(seeds.len() >= 10);
    let tokens: &[&[u8]] = &[
        b"a",
        b"Z",
        b"0",
        b"-",
        b".",
        b"_",
        b"/",
        b"=",
        b" ",
        b"\xc3\xa9",
        b"\xd0\x96",
        b"\xe6\xbc\xa2",
        b"\xf0\x9f\x8e\x89",
        b"example.com/",
        b"app.kubernetes.io/name",
        b"--",
        b"..",
        b"\xc4\xb0",
    ];
    cheap_fuzz("names", 0x51a6_0000_0000_0001, 4000, &seeds, tokens, checks::names);
    // Long inputs around the length limits.
    let mut rng = Rng(7);
    for len in [52usize, 53, 54, 62, 63, 64, 200, 253, 254, 1000] {
        for _ in 0..20 {
            let s: String = (0..len).map(|_| *rng.pick(&['a', 'B', '-', '.', '9', 'é', '_'])).collect();
            checks::names(s.as_bytes());
        }
    }
}

#[test]
fn cheap_fuzz_gotime() {
    let seeds: Vec<Vec<u8>> = [
        "2026-11-21T22:34:46.806313336Z\n2006-01-02 15:04:05.999999999 -0700 MST",
        "2020-03-01T01:02:03.5+05:30\nMon Jan _2 15:04:05 2006",
        "0001-01-01T00:00:00Z\nMonday, 02-Jan-06 15:04:05 MST",
        "9999-12-31T23:59:59.999999999-23:59\n002 __2 .999 ,000000 Z07:00:00 -07 PM pm",
        "0000-01-01T00:00:00+23:59\n_2006 January 2 3:4:5",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let tokens: &[&[u8]] = &[
        b"2006",
        b"01",
        b"02",
        b"Jan",
        b"January",
        b"Mon",
        b"Monday",
        b"MST",
        b"15",
        b"03",
        b"04",
        b"05",
        b"06",
        b"002",
        b"__2",
        b"_2",
        b"PM",
        b"pm",
        b"Z07:00",
        b"Z0700",
        b"Z07",
        b"-07:00:00",
        b"-070000",
        b".000",
        b".999999999",
        b",9",
        b"\n",
        b"T",
        b"Z",
        b"+",
        b":",
        b"\xe2\x82\xac",
    ];
    cheap_fuzz("gotime", 0x7173_0000_0000_0001, 3000, &seeds, tokens, checks::gotime);
}

// ---------------------------------------------------------------------------------------------
// Findings of the fuzzer, fixed; each pinned by name.

/// F1: a Helm 3 release JSON without an `info` object. The full decoder fills in `Info::default()`
/// (status `unknown`, zero times written back as `""`), the summary decoder leaves the status unset
/// (`""`), so `list` and `get`/`status` disagree on such a record, and rewriting `{}` adds an `info`
/// object that was not there. (`{"info":{}}` is consistent: status unset in both.)
#[test]
fn f1_release_without_info_has_the_same_status_in_summary_and_full_decode() {
    let text = codec::encode_base64(b"{}");
    let full = codec::decode_helm3(text.as_bytes(), &checks::LIMITS).unwrap();
    let summary = codec::decode_helm3_summary(text.as_bytes(), &checks::LIMITS).unwrap();
    assert_eq!(summary.status, full.info.status);
}

/// F2: Helm 2 values with an integral float in [9.2e18, 2^64) or [-2^63, -9.2e18] (e.g. `a: 1e19`).
/// `convert` keeps it as a float (its integer rule stops at 9.2e18), Go's format writes it as plain
/// digits (`10000000000000000000`), and reading the stored record back gives an integer: the
/// converted release does not read back equal from its own Helm 3 record.
#[test]
fn f2_converted_large_integral_float_reads_back_equal() {
    use kubectl_werf::release::helm2;
    use prost::Message;
    for raw in ["a: 1e19\n", "a: 9.21e18\n", "a: -9.21e18\n"] {
        let rel = helm2::Release {
            name: "x".into(),
            namespace: "ns".into(),
            version: 1,
            config: Some(helm2::Config { raw: raw.into(), ..Default::default() }),
            ..Default::default()
        };
        let conv = kubectl_werf::release::convert::convert(&rel, &Default::default()).unwrap();
        let text = codec::encode_helm3(&conv.release).unwrap();
        let back = codec::decode_helm3(text.as_bytes(), &checks::LIMITS).unwrap();
        assert_eq!(back.config, conv.release.config, "{raw:?}");
        checks::convert(&rel.encode_to_vec()); // tolerant of F2 (numbers compared as f64)
    }
}
