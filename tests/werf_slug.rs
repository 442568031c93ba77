//! werf slug compatibility: the reference vectors, werf's documented examples, and properties.

use kubectl_werf::names::{is_dns1123_label, is_dns1123_subdomain};
use kubectl_werf::werf::murmur3_32;
use kubectl_werf::werf::slug::{NAMESPACE_MAX_LEN, RELEASE_MAX_LEN, hash_suffix, transliterate};
use kubectl_werf::werf::{slug_namespace, slug_release};
use proptest::prelude::*;

const VECTORS: &str = include_str!("data/werf-slug-vectors.tsv");

fn vectors() -> Vec<(&'static str, &'static str, &'static str)> {
    VECTORS
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 3, "malformed vector line {l:?}");
            (f[0], f[1], f[2])
        })
        .collect()
}

#[test]
fn every_vector_row_passes() {
    let rows = vectors();
    assert!(rows.len() >= 21, "vectors file lost rows: {}", rows.len());
    let mut failures = Vec::new();
    for (input, release, namespace) in &rows {
        let got_r = slug_release(input);
        let got_n = slug_namespace(input);
        if got_r != *release {
            failures.push(format!("release {input:?}: got {got_r:?}, want {release:?}"));
        }
        if got_n != *namespace {
            failures.push(format!("namespace {input:?}: got {got_n:?}, want {namespace:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn vector_outputs_are_valid_and_fixed_points() {
    for (_, release, namespace) in vectors() {
        assert!(is_dns1123_subdomain(release) && release.len() <= RELEASE_MAX_LEN, "{release}");
        assert!(is_dns1123_label(namespace) && namespace.len() <= NAMESPACE_MAX_LEN, "{namespace}");
        assert_eq!(slug_release(release), release);
        assert_eq!(slug_namespace(namespace), namespace);
    }
}

/// Examples from werf's `werf slugify` documentation.
#[test]
fn werf_documented_examples() {
    assert_eq!(slug_namespace("feature-fix-2"), "feature-fix-2");
    assert_eq!(slug_namespace("branch/one/!@#4.4-3"), "branch-one-4-4-3-4fe08955");
    assert_eq!(slug_namespace("My_branch"), "my-branch-8ebf2d1d");
    assert_eq!(
        slug_release("looooooooooooooooooooooooooooooooooooooooooong_string"),
        "looooooooooooooooooooooooooooooooooooooooooo-b150a895"
    );
}

#[test]
fn dots_split_release_and_namespace_rules() {
    assert_eq!(slug_release("release.name"), "release.name");
    assert_eq!(slug_namespace("release.name"), "release-name-2164be04");
}

#[test]
fn cut_ending_in_dash_gives_double_dash() {
    // 7-char hash -> cut to 45 chars, which ends in '-': werf keeps it, producing "--".
    let r = slug_release("shop-review-app-feature-xxx-yyyy-zzzzz-aaaaa-bbbbb-cc-dd");
    assert_eq!(r, "shop-review-app-feature-xxx-yyyy-zzzzz-aaaaa--6f55354");
    assert!(r.contains("--"));
}

#[test]
fn hash_is_of_original_input_not_slug() {
    // Same transliteration, different originals -> different hashes.
    assert_eq!(transliterate("a_b"), transliterate("a/b"));
    assert_ne!(slug_release("a_b"), slug_release("a/b"));
    assert!(slug_release("a_b").ends_with(&format!("-{:x}", murmur3_32(b"a_b", 0))));
}

#[test]
fn only_hash_when_nothing_survives() {
    assert_eq!(slug_release("!!!"), "4e4955fc");
    assert_eq!(slug_namespace("---"), hash_suffix("---"));
    assert_eq!(slug_release("日本語"), hash_suffix("日本語"));
}

#[test]
fn length_boundaries() {
    let r53 = "a".repeat(53);
    let r54 = "a".repeat(54);
    assert_eq!(slug_release(&r53), r53);
    let s = slug_release(&r54);
    assert_ne!(s, r54);
    assert!(s.len() <= 53 && is_dns1123_subdomain(&s), "{s}");

    let n63 = "b".repeat(63);
    let n64 = "b".repeat(64);
    assert_eq!(slug_namespace(&n63), n63);
    let s = slug_namespace(&n64);
    assert!(s.len() <= 63 && is_dns1123_label(&s), "{s}");
    // The cut fills the budget exactly: cut + "-" + hash == 63.
    assert_eq!(s.len(), 63);
}

#[test]
fn very_long_non_ascii_input() {
    let input = "Ärger-Über-Öl ".repeat(500);
    let r = slug_release(&input);
    let n = slug_namespace(&input);
    assert!(r.len() <= 53 && is_dns1123_subdomain(&r), "{r}");
    assert!(n.len() <= 63 && is_dns1123_label(&n), "{n}");
}

fn messy_string() -> impl Strategy<Value = String> {
    prop_oneof![
        // Arbitrary unicode.
        any::<String>(),
        // Name-ish strings with separators, dots, upper case, sometimes very long.
        proptest::collection::vec(
            prop_oneof![
                Just("-".to_string()),
                Just(".".to_string()),
                Just("_".to_string()),
                Just("/".to_string()),
                Just(" ".to_string()),
                "[a-zA-Z0-9]{1,12}",
                "[ÄÖÜßЁёЖжПрое日本]{1,3}",
            ],
            0..60,
        )
        .prop_map(|parts| parts.concat()),
        // Already-valid names (to exercise pass-through).
        "[a-z0-9]([-a-z0-9]{0,60}[a-z0-9])?",
        "[a-z0-9]{1,20}(\\.[a-z0-9]{1,20}){0,3}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn release_slug_is_valid_bounded_nonempty(input in messy_string()) {
        let s = slug_release(&input);
        prop_assert!(!s.is_empty());
        prop_assert!(s.len() <= RELEASE_MAX_LEN, "{s:?} too long");
        prop_assert!(is_dns1123_subdomain(&s), "{s:?} not a subdomain");
    }

    #[test]
    fn namespace_slug_is_valid_bounded_nonempty(input in messy_string()) {
        let s = slug_namespace(&input);
        prop_assert!(!s.is_empty());
        prop_assert!(s.len() <= NAMESPACE_MAX_LEN, "{s:?} too long");
        prop_assert!(is_dns1123_label(&s), "{s:?} not a label");
    }

    #[test]
    fn slugs_are_stable_and_idempotent(input in messy_string()) {
        let r = slug_release(&input);
        let n = slug_namespace(&input);
        prop_assert_eq!(&slug_release(&input), &r);
        prop_assert_eq!(&slug_namespace(&input), &n);
        // A slug is itself valid, so slugging it again changes nothing.
        prop_assert_eq!(&slug_release(&r), &r);
        prop_assert_eq!(&slug_namespace(&n), &n);
    }

    #[test]
    fn valid_names_pass_through(input in messy_string()) {
        if input.len() <= RELEASE_MAX_LEN && is_dns1123_subdomain(&input) {
            prop_assert_eq!(slug_release(&input), input.clone());
        } else {
            prop_assert_ne!(slug_release(&input), input.clone());
        }
        if is_dns1123_label(&input) {
            prop_assert_eq!(slug_namespace(&input), input.clone());
        } else {
            prop_assert_ne!(slug_namespace(&input), input.clone());
        }
    }

    #[test]
    fn slugged_names_end_with_the_hash_of_the_input(input in messy_string()) {
        let h = hash_suffix(&input);
        let r = slug_release(&input);
        if !(input.len() <= RELEASE_MAX_LEN && is_dns1123_subdomain(&input)) {
            prop_assert!(r == h || r.ends_with(&format!("-{h}")), "{r:?} vs {h}");
        }
    }

    #[test]
    fn transliteration_is_ascii_without_edge_or_double_dashes(input in messy_string()) {
        let t = transliterate(&input);
        prop_assert!(t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        prop_assert!(!t.starts_with('-') && !t.ends_with('-') && !t.contains("--"), "{t:?}");
    }
}
