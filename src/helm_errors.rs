//! Reads Helm's ownership errors out of pasted output (`adopt --from-error`).
//!
//! Pure and total: [`parse`] accepts any text (noise, several errors, CRLF line endings) and never panics.
//! Understood forms, all ending in `exists and cannot be imported into the current release: invalid ownership
//! metadata; <problems>`:
//! - Helm 3.17 / 4.x: `Unable to continue with install: ConfigMap "settings" in namespace "adopt-test" exists ...`
//!   (Helm 4: lower-case `unable`), with `Error: INSTALLATION FAILED: ` / `UPGRADE FAILED: ` prefixes or none;
//! - older Helm 3: `rendered manifests contain a resource that already exists. Unable to continue with update:
//!   ConfigMap settings in namespace adopt-test exists ...` with unquoted kind, name, namespace and values;
//! - cluster-scoped objects: no `in namespace` part, or `in namespace ""`.
//!
//! Problems are `label validation error: ...` / `annotation validation error: ...` with either
//! `missing key "K": must be set to "V"` or `key "K" must equal "V": current value is "C"` (values quoted or not).

use std::sync::LazyLock;

use regex::Regex;

use crate::golang::strconv::go_unquote;
use crate::ownership::{HelmAction, MetaField, Problem, RELEASE_NAME_ANNOTATION, RELEASE_NAMESPACE_ANNOTATION};

/// One object Helm refused to import, as named in its error text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnershipError {
    /// `install` or `update` from `Unable to continue with ...`, when the text says.
    pub action: Option<HelmAction>,
    pub kind: String,
    pub name: String,
    /// `None` for cluster-scoped objects (no `in namespace` part, or an empty one).
    pub namespace: Option<String>,
    /// The release Helm wanted: the required value of `meta.helm.sh/release-name`; `None` when the text does
    /// not mention that annotation (e.g. only the label was wrong).
    pub release: Option<String>,
    /// The required value of `meta.helm.sh/release-namespace`, when mentioned.
    pub release_namespace: Option<String>,
    /// Every problem listed, in the text's order.
    pub problems: Vec<Problem>,
}

const MARKER: &str = " exists and cannot be imported into the current release: invalid ownership metadata";

/// A Go `%q` string: quotes with backslash escapes inside.
const QSTR: &str = r#""(?:[^"\\]|\\.)*""#;

static SUBJECT_QUOTED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r#"(\S+) ({QSTR})(?: in namespace ({QSTR}))?$"#)).expect("valid regex"));
static SUBJECT_PLAIN_NS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"(\S+) (\S+) in namespace (\S*)$"#).expect("valid regex"));
static SUBJECT_PLAIN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"(\S+) (\S+)$"#).expect("valid regex"));
static ACTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)continue with (install|update|upgrade)\s*:\s*$"#).expect("valid regex"));
static PROBLEM_HEAD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"^\s*;\s*(label|annotation) validation error:\s*"#).expect("valid regex"));
static MISSING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r#"^missing key ({QSTR}|[^\s:;]+):\s*must be set to ({QSTR}|[^\s;]*)"#)).expect("valid regex"));
static MISMATCH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r#"^key ({QSTR}|[^\s;]+) must equal ({QSTR}|[^\s;:]*):\s*current value is ({QSTR}|[^;]*)"#)).expect("valid regex")
});

/// Every ownership error found in `text`, in order of appearance; exact repeats (Helm output often prints the
/// same error twice) are kept once.
pub fn parse(text: &str) -> Vec<OwnershipError> {
    let mut found: Vec<OwnershipError> = Vec::new();
    for raw_line in text.split('\n') {
        let line = raw_line.trim_end_matches('\r');
        let mut start = 0;
        while let Some(rel) = line[start..].find(MARKER) {
            let at = start + rel;
            let after = at + MARKER.len();
            let (problems, end) = parse_problems(line, after);
            if let Some(err) = parse_subject(&line[start..at], problems)
                && !found.contains(&err)
            {
                found.push(err);
            }
            start = end.max(after);
        }
    }
    found
}

/// [`parse`] for raw bytes (invalid UTF-8 is replaced, never rejected).
pub fn parse_bytes(bytes: &[u8]) -> Vec<OwnershipError> {
    parse(&String::from_utf8_lossy(bytes))
}

/// Kind, name and namespace are at the end of the text before the marker.
fn parse_subject(before: &str, problems: Vec<Problem>) -> Option<OwnershipError> {
    let (kind, name, namespace, head) = if let Some(c) = SUBJECT_QUOTED.captures(before) {
        let whole = c.get(0)?;
        (c.get(1)?.as_str().to_string(), go_unquote(c.get(2)?.as_str()), c.get(3).map(|m| go_unquote(m.as_str())), &before[..whole.start()])
    } else if let Some(c) = SUBJECT_PLAIN_NS.captures(before) {
        let whole = c.get(0)?;
        (c.get(1)?.as_str().to_string(), c.get(2)?.as_str().to_string(), Some(c.get(3)?.as_str().to_string()), &before[..whole.start()])
    } else if let Some(c) = SUBJECT_PLAIN.captures(before) {
        let whole = c.get(0)?;
        (c.get(1)?.as_str().to_string(), c.get(2)?.as_str().to_string(), None, &before[..whole.start()])
    } else {
        return None;
    };
    let action = ACTION
        .captures(head)
        .and_then(|c| c.get(1))
        .map(|m| if m.as_str().eq_ignore_ascii_case("install") { HelmAction::Install } else { HelmAction::Upgrade });
    let expected_of = |key: &str| problems.iter().find(|p| p.field == MetaField::Annotation && p.key == key).map(|p| p.expected.clone());
    Some(OwnershipError {
        action,
        kind,
        name,
        namespace: namespace.filter(|ns| !ns.is_empty()),
        release: expected_of(RELEASE_NAME_ANNOTATION).filter(|s| !s.is_empty()),
        release_namespace: expected_of(RELEASE_NAMESPACE_ANNOTATION).filter(|s| !s.is_empty()),
        problems,
    })
}

/// Reads `; label|annotation validation error: ...` items starting at byte `pos`; returns them and where
/// reading stopped.
fn parse_problems(line: &str, mut pos: usize) -> (Vec<Problem>, usize) {
    let mut problems = Vec::new();
    loop {
        let rest = &line[pos..];
        let Some(head) = PROBLEM_HEAD.captures(rest) else { break };
        let (Some(whole), Some(field)) = (head.get(0), head.get(1)) else { break };
        let field = if field.as_str() == "label" { MetaField::Label } else { MetaField::Annotation };
        let body_at = pos + whole.end();
        let body = &line[body_at..];
        if let Some(c) = MISSING.captures(body) {
            let (Some(all), Some(k), Some(v)) = (c.get(0), c.get(1), c.get(2)) else { break };
            problems.push(Problem { field, key: value(k.as_str()), expected: value(v.as_str()), current: None });
            pos = body_at + all.end();
        } else if let Some(c) = MISMATCH.captures(body) {
            let (Some(all), Some(k), Some(v), Some(cur)) = (c.get(0), c.get(1), c.get(2), c.get(3)) else { break };
            problems.push(Problem {
                field,
                key: value(k.as_str()),
                expected: value(v.as_str()),
                current: Some(value(cur.as_str().trim_end())),
            });
            pos = body_at + all.end();
        } else {
            break;
        }
    }
    (problems, pos)
}

/// A quoted Go string unquoted, or an unquoted word as is.
fn value(s: &str) -> String {
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') { go_unquote(s) } else { s.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ownership::MANAGED_BY_LABEL;

    const CAPTURED_ALL_MISSING: &str = r#"Error: INSTALLATION FAILED: Unable to continue with install: ConfigMap "settings" in namespace "adopt-test" exists and cannot be imported into the current release: invalid ownership metadata; label validation error: missing key "app.kubernetes.io/managed-by": must be set to "Helm"; annotation validation error: missing key "meta.helm.sh/release-name": must be set to "app"; annotation validation error: missing key "meta.helm.sh/release-namespace": must be set to "adopt-test""#;
    const CAPTURED_WRONG_RELEASE: &str = r#"Error: INSTALLATION FAILED: Unable to continue with install: ConfigMap "settings" in namespace "adopt-test" exists and cannot be imported into the current release: invalid ownership metadata; annotation validation error: key "meta.helm.sh/release-name" must equal "app": current value is "other""#;
    const OLD_UNQUOTED: &str = "Error: UPGRADE FAILED: rendered manifests contain a resource that already exists. Unable to continue with update: ConfigMap settings in namespace adopt-test exists and cannot be imported into the current release: invalid ownership metadata; annotation validation error: missing key \"meta.helm.sh/release-name\": must be set to app";

    fn missing(field: MetaField, key: &str, expected: &str) -> Problem {
        Problem { field, key: key.into(), expected: expected.into(), current: None }
    }

    #[test]
    fn captured_all_missing() {
        let got = parse(CAPTURED_ALL_MISSING);
        assert_eq!(
            got,
            vec![OwnershipError {
                action: Some(HelmAction::Install),
                kind: "ConfigMap".into(),
                name: "settings".into(),
                namespace: Some("adopt-test".into()),
                release: Some("app".into()),
                release_namespace: Some("adopt-test".into()),
                problems: vec![
                    missing(MetaField::Label, MANAGED_BY_LABEL, "Helm"),
                    missing(MetaField::Annotation, RELEASE_NAME_ANNOTATION, "app"),
                    missing(MetaField::Annotation, RELEASE_NAMESPACE_ANNOTATION, "adopt-test"),
                ],
            }]
        );
    }

    #[test]
    fn captured_wrong_release() {
        let got = parse(CAPTURED_WRONG_RELEASE);
        assert_eq!(got.len(), 1);
        let e = &got[0];
        assert_eq!((e.kind.as_str(), e.name.as_str()), ("ConfigMap", "settings"));
        assert_eq!(e.release.as_deref(), Some("app"));
        assert_eq!(e.release_namespace, None);
        assert_eq!(
            e.problems,
            vec![Problem {
                field: MetaField::Annotation,
                key: RELEASE_NAME_ANNOTATION.into(),
                expected: "app".into(),
                current: Some("other".into())
            }]
        );
    }

    #[test]
    fn helm4_lower_case_and_upgrade_prefix() {
        let text = CAPTURED_ALL_MISSING
            .replace("Unable to continue with install", "unable to continue with update")
            .replace("INSTALLATION FAILED", "UPGRADE FAILED");
        let got = parse(&text);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].action, Some(HelmAction::Upgrade));
        assert_eq!(got[0].release.as_deref(), Some("app"));
    }

    #[test]
    fn old_unquoted_form() {
        let got = parse(OLD_UNQUOTED);
        assert_eq!(
            got,
            vec![OwnershipError {
                action: Some(HelmAction::Upgrade),
                kind: "ConfigMap".into(),
                name: "settings".into(),
                namespace: Some("adopt-test".into()),
                release: Some("app".into()),
                release_namespace: None,
                problems: vec![missing(MetaField::Annotation, RELEASE_NAME_ANNOTATION, "app")],
            }]
        );
        let mismatch = "Unable to continue with update: Service web in namespace shop exists and cannot be imported into the current release: invalid ownership metadata; annotation validation error: key \"meta.helm.sh/release-namespace\" must equal shop: current value is legacy; label validation error: missing key \"app.kubernetes.io/managed-by\": must be set to Helm";
        let got = parse(mismatch);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].release_namespace.as_deref(), Some("shop"));
        assert_eq!(got[0].problems.len(), 2);
        assert_eq!(got[0].problems[0].current.as_deref(), Some("legacy"));
        assert_eq!(got[0].problems[1].expected, "Helm");
    }

    #[test]
    fn label_only_means_release_unknown() {
        let text = r#"Error: UPGRADE FAILED: Unable to continue with update: Secret "db" in namespace "prod" exists and cannot be imported into the current release: invalid ownership metadata; label validation error: key "app.kubernetes.io/managed-by" must equal "Helm": current value is "werf""#;
        let got = parse(text);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].release, None);
        assert_eq!(got[0].release_namespace, None);
        assert_eq!(got[0].problems[0].current.as_deref(), Some("werf"));
    }

    #[test]
    fn cluster_scoped_forms() {
        let a = r#"Error: INSTALLATION FAILED: Unable to continue with install: ClusterRole "system:reader" exists and cannot be imported into the current release: invalid ownership metadata; annotation validation error: missing key "meta.helm.sh/release-name": must be set to "app""#;
        let b = r#"Error: rendered manifests contain a resource that already exists. Unable to continue with install: IngressClass "nginx" in namespace "" exists and cannot be imported into the current release: invalid ownership metadata; annotation validation error: missing key "meta.helm.sh/release-namespace": must be set to "ingress""#;
        let c = "Unable to continue with update: Namespace shop exists and cannot be imported into the current release: invalid ownership metadata; annotation validation error: missing key \"meta.helm.sh/release-name\": must be set to app";
        let ga = parse(a);
        assert_eq!((ga[0].kind.as_str(), ga[0].name.as_str(), ga[0].namespace.clone()), ("ClusterRole", "system:reader", None));
        let gb = parse(b);
        assert_eq!((gb[0].kind.as_str(), gb[0].name.as_str(), gb[0].namespace.clone()), ("IngressClass", "nginx", None));
        assert_eq!(gb[0].release_namespace.as_deref(), Some("ingress"));
        let gc = parse(c);
        assert_eq!((gc[0].kind.as_str(), gc[0].name.as_str(), gc[0].namespace.clone()), ("Namespace", "shop", None));
    }

    #[test]
    fn several_errors_noise_and_crlf() {
        let text = format!(
            "W1121 warning: something\r\n{CAPTURED_ALL_MISSING}\r\nsome noise line\r\n{}\r\n  {OLD_UNQUOTED}\r\n{CAPTURED_ALL_MISSING}\r\n",
            CAPTURED_WRONG_RELEASE.replace("ConfigMap \"settings\"", "Deployment \"web\"")
        );
        let got = parse(&text);
        assert_eq!(got.len(), 3, "{got:#?}");
        assert_eq!(got[0].name, "settings");
        assert_eq!(got[0].problems.len(), 3);
        assert_eq!(got[0].release_namespace.as_deref(), Some("adopt-test"));
        assert_eq!((got[1].kind.as_str(), got[1].name.as_str()), ("Deployment", "web"));
        assert_eq!(got[2].problems.len(), 1);
        assert!(!got[2].problems[0].expected.ends_with('\r'));
    }

    #[test]
    fn two_errors_on_one_line() {
        let text = format!("{CAPTURED_WRONG_RELEASE} {CAPTURED_ALL_MISSING}");
        let got = parse(&text);
        assert_eq!(got.len(), 2, "{got:#?}");
        assert_eq!(got[0].problems.len(), 1);
        assert_eq!(got[1].problems.len(), 3);
    }

    #[test]
    fn round_trip_with_helm_error_text() {
        use crate::ownership::{check, helm_error_text};
        use std::collections::BTreeMap;
        let mut ann = BTreeMap::new();
        ann.insert(RELEASE_NAME_ANNOTATION.to_string(), "we\"ird\\name".to_string());
        let problems = check(&BTreeMap::new(), &ann, "app", "ns");
        let text = helm_error_text(HelmAction::Upgrade, "Widget", "x", Some("ns"), &problems);
        let got = parse(&text);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].problems, problems);
        assert_eq!(got[0].release.as_deref(), Some("app"));
    }

    /// Small deterministic generator (xorshift) so the robustness test needs no extra crates.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// `parse`'s output for any text: the same as `parse_bytes` of its bytes, every error with a kind (a
    /// quoted name may be `""`), no exact repeats, at most one error per marker, none without a marker.
    fn check(text: &str) -> Vec<OwnershipError> {
        let got = parse(text);
        assert_eq!(got, parse_bytes(text.as_bytes()), "{text:?}");
        assert!(got.len() <= text.matches(MARKER).count(), "{text:?}: {got:?}");
        for (i, e) in got.iter().enumerate() {
            assert!(!e.kind.is_empty(), "{text:?}: {e:?}");
            assert!(!got[..i].contains(e), "{text:?}: repeated {e:?}");
            assert_ne!(e.namespace.as_deref(), Some(""), "an empty namespace is none: {e:?}");
        }
        got
    }

    #[test]
    fn never_panics_on_random_input() {
        let pieces: Vec<&str> = vec![
            MARKER,
            "; label validation error: ",
            "; annotation validation error: ",
            "missing key ",
            "key ",
            ": must be set to ",
            " must equal ",
            ": current value is ",
            "\"",
            "\\",
            "\\x",
            "\\u12",
            "\\U0010ffff",
            "\\777",
            " in namespace ",
            "\"\"",
            "Unable to continue with install: ",
            "unable to continue with update: ",
            "ConfigMap",
            "settings",
            " ",
            ";",
            ":",
            "\r\n",
            "\n",
            "\r",
            "é",
            "🎉",
            "\u{0}",
            CAPTURED_ALL_MISSING,
            OLD_UNQUOTED,
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..4000 {
            // Shape 1: random concatenation of meaningful pieces.
            let mut s = String::new();
            for _ in 0..rng.below(24) {
                s.push_str(pieces[rng.below(pieces.len())]);
            }
            check(&s);
            // Shape 2: a real error cut or with one byte changed.
            let base = if round % 2 == 0 { CAPTURED_ALL_MISSING } else { OLD_UNQUOTED }.as_bytes();
            let mut bytes = base.to_vec();
            let cut = rng.below(bytes.len() + 1);
            bytes.truncate(cut);
            if !bytes.is_empty() {
                let i = rng.below(bytes.len());
                bytes[i] = rng.next() as u8;
            }
            check(&String::from_utf8_lossy(&bytes));
            assert_eq!(parse_bytes(&bytes), parse(&String::from_utf8_lossy(&bytes)));
            // Shape 3: random bytes.
            let len = rng.below(300);
            let raw: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            check(&String::from_utf8_lossy(&raw));
            // Shape 4: random chars incl. multibyte around the marker.
            let mut t = String::new();
            for _ in 0..rng.below(40) {
                let c = char::from_u32(rng.next() as u32 % 0x11_0000).unwrap_or('x');
                t.push(c);
                if rng.below(8) == 0 {
                    t.push_str(pieces[rng.below(pieces.len())]);
                }
            }
            check(&t);
        }
        // Pathological sizes.
        assert!(check(&MARKER.repeat(2000)).is_empty(), "a marker with no subject before it is no error");
        assert!(check(&"\"".repeat(100_000)).is_empty());
        // The last `must be set to "b"` before the marker reads as a subject (kind `to`, name `b`); the
        // problems are those after the marker: none.
        let long_head = check(&format!("{}{}", "; label validation error: missing key \"a\": must be set to \"b\"".repeat(500), MARKER));
        assert_eq!(long_head.iter().map(|e| (e.kind.as_str(), e.name.as_str(), e.problems.len())).collect::<Vec<_>>(), [("to", "b", 0)]);
        // 500 identical problems after the subject are all read.
        let long_tail = check(&format!("x x{MARKER}{}", "; label validation error: missing key \"a\": must be set to \"b\"".repeat(500)));
        assert_eq!(long_tail.iter().map(|e| (e.kind.as_str(), e.name.as_str(), e.problems.len())).collect::<Vec<_>>(), [("x", "x", 500)]);
    }
}
