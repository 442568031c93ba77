//! werf's slug algorithm for Helm release names and Kubernetes namespaces.
//!
//! The algorithm (conventions.md, "werf naming, storage and annotations"):
//! 1. A name that is already valid (DNS-1123 subdomain <= 53 for releases, DNS-1123 label <= 63 for
//!    namespaces) is returned unchanged.
//! 2. Otherwise every character is mapped through werf's transliteration table (`slug-map.tsv`;
//!    unlisted characters are dropped), leading dashes are skipped, dash runs collapse to one dash and
//!    one trailing dash is removed.
//! 3. `h` = MurmurHash3 x86_32 (seed 0) of the ORIGINAL input bytes, lower-case hex, no zero padding.
//! 4. The slug is cut to `max - len(h) - 1` characters. werf checks the cut for a *leading* dash where
//!    a trailing one was meant (kept quirk), so a cut ending in `-` produces `--` before the hash.
//! 5. Result: `cut + "-" + h`, or just `h` when nothing survived transliteration.
//!
//! Empty input is not a valid name, so it goes through step 2-5 and yields the hash of nothing, `"0"`.
//! (Callers in this crate reject empty names before slugging.)

use std::collections::HashMap;
use std::sync::LazyLock;

use super::murmur3::murmur3_32;
use crate::names::{is_dns1123_label, is_dns1123_subdomain};

/// Maximum length of a Helm release name (Helm's own limit).
pub const RELEASE_MAX_LEN: usize = 53;
/// Maximum length of a Kubernetes namespace name (DNS-1123 label).
pub const NAMESPACE_MAX_LEN: usize = 63;

/// werf's transliteration table, compiled into the binary.
const SLUG_MAP_TSV: &str = include_str!("slug-map.tsv");

/// Lazily parsed table: character -> ASCII replacement (possibly empty, meaning "drop").
static SLUG_MAP: LazyLock<HashMap<char, &'static str>> = LazyLock::new(|| parse_map(SLUG_MAP_TSV));

/// Parses the TSV: `U+XXXX <TAB> character <TAB> replacement`; `#` lines are comments.
///
/// The codepoint column is authoritative: the character column can be blank for whitespace
/// (U+0020's line is `U+0020<TAB><TAB>-` after editors trim it).
fn parse_map(tsv: &'static str) -> HashMap<char, &'static str> {
    let mut map = HashMap::new();
    for (lineno, line) in tsv.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split('\t');
        let (Some(cp), Some(_ch), Some(rep)) = (fields.next(), fields.next(), fields.next()) else {
            panic!("slug-map.tsv line {}: expected 3 tab-separated fields", lineno + 1);
        };
        let hex = cp.strip_prefix("U+").unwrap_or_else(|| panic!("slug-map.tsv line {}: bad codepoint {cp:?}", lineno + 1));
        let ch = u32::from_str_radix(hex, 16)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or_else(|| panic!("slug-map.tsv line {}: bad codepoint {cp:?}", lineno + 1));
        map.insert(ch, rep);
    }
    map
}

/// Number of entries in the transliteration table (exposed for tests).
pub fn slug_map_len() -> usize {
    SLUG_MAP.len()
}

/// werf's transliteration step: map, skip leading dashes, collapse dash runs, drop one trailing dash.
/// The result contains only characters from the table's replacements (`[a-z0-9-]`).
pub fn transliterate(input: &str) -> String {
    let map = &*SLUG_MAP;
    let mut out = String::with_capacity(input.len());
    for ch in input.chars() {
        let Some(&rep) = map.get(&ch) else { continue };
        if rep.is_empty() {
            continue;
        }
        // werf compares the whole replacement with "-"; no multi-character replacement contains a dash.
        if rep == "-" && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push_str(rep);
    }
    if out.ends_with('-') {
        out.pop();
    }
    out
}

/// werf's hash suffix: murmur3 x86_32 (seed 0) of the input bytes, lower-case hex, no padding.
pub fn hash_suffix(input: &str) -> String {
    format!("{:x}", murmur3_32(input.as_bytes(), 0))
}

/// Slug for a Helm release name: max 53 characters, DNS-1123 subdomain.
pub fn slug_release(input: &str) -> String {
    if input.len() <= RELEASE_MAX_LEN && is_dns1123_subdomain(input) {
        return input.to_string();
    }
    slug_with_hash(input, RELEASE_MAX_LEN)
}

/// Slug for a Kubernetes namespace: max 63 characters, DNS-1123 label (no dots).
pub fn slug_namespace(input: &str) -> String {
    if is_dns1123_label(input) {
        return input.to_string();
    }
    slug_with_hash(input, NAMESPACE_MAX_LEN)
}

fn slug_with_hash(input: &str, max_len: usize) -> String {
    let slugged = transliterate(input);
    let hash = hash_suffix(input);
    if slugged.is_empty() {
        return hash;
    }
    let keep = max_len - hash.len() - 1;
    // The slug is pure ASCII, so byte and character counts agree; cut by characters anyway.
    let mut cut: String = slugged.chars().take(keep).collect();
    // werf's kept quirk: it meant to drop a trailing dash but tests for a leading one. The
    // transliteration never leaves a leading dash, so this branch is dead in practice and a cut
    // ending in '-' yields "--" before the hash, exactly as werf does.
    if cut.starts_with('-') {
        cut.pop();
    }
    format!("{cut}-{hash}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_parses_completely() {
        assert_eq!(slug_map_len(), 971);
        assert_eq!(SLUG_MAP.get(&' '), Some(&"-"));
        assert_eq!(SLUG_MAP.get(&'A'), Some(&"a"));
        assert_eq!(SLUG_MAP.get(&'z'), Some(&"z"));
        assert_eq!(SLUG_MAP.get(&'Æ'), Some(&"ae"));
        assert_eq!(SLUG_MAP.get(&'_'), Some(&"-"));
        assert_eq!(SLUG_MAP.get(&'!'), None);
    }

    #[test]
    fn table_replacements_are_slug_safe() {
        for (ch, rep) in SLUG_MAP.iter() {
            assert!(rep.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'), "{ch:?} -> {rep:?}");
            assert!(*rep == "-" || !rep.contains('-'), "{ch:?} -> {rep:?}");
        }
    }

    #[test]
    fn transliteration_rules() {
        assert_eq!(transliterate("--a"), "a");
        assert_eq!(transliterate("a---b"), "a-b");
        assert_eq!(transliterate("a _/.b"), "a-b");
        assert_eq!(transliterate("ab--"), "ab");
        assert_eq!(transliterate("!!!"), "");
        assert_eq!(transliterate("-"), "");
        assert_eq!(transliterate("Проект"), "proyekt");
    }

    #[test]
    fn hash_suffix_has_no_zero_padding() {
        assert_eq!(hash_suffix(""), "0");
        assert_eq!(hash_suffix("hello"), "248bfa47");
    }

    #[test]
    fn empty_input_is_hash_only() {
        assert_eq!(slug_release(""), "0");
        assert_eq!(slug_namespace(""), "0");
    }
}
