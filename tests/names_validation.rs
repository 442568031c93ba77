//! Kubernetes / Helm name, label and annotation validation.

use std::collections::BTreeMap;

use kubectl_werf::names::*;
use proptest::prelude::*;

// ---------- DNS-1123 subdomain / label ----------

#[test]
fn subdomain_valid() {
    for s in ["a", "0", "abc", "a-b", "a--b", "a.b", "example.com", "my-app.v1.example-domain.io", "1.2.3.4", "123-abc"] {
        assert!(is_dns1123_subdomain(s), "{s:?} should be valid");
    }
}

#[test]
fn subdomain_invalid() {
    for s in ["", "A", "aB", "-a", "a-", ".a", "a.", "a..b", "a.-b", "a-.b", "a_b", "a b", "a/b", "ä", "a\n"] {
        assert!(!is_dns1123_subdomain(s), "{s:?} should be invalid");
    }
}

#[test]
fn subdomain_length_boundary_253() {
    // 4 x 63 + 3 dots = 255; build exactly 253 and 254.
    let part = "a".repeat(63);
    let s253 = format!("{part}.{part}.{part}.{}", "a".repeat(61));
    assert_eq!(s253.len(), 253);
    assert!(is_dns1123_subdomain(&s253));
    let s254 = format!("{part}.{part}.{part}.{}", "a".repeat(62));
    assert_eq!(s254.len(), 254);
    assert!(!is_dns1123_subdomain(&s254));
    // Kubernetes puts no 63 limit on the individual parts of a subdomain.
    assert!(is_dns1123_subdomain(&"a".repeat(253)));
    assert!(!is_dns1123_subdomain(&"a".repeat(254)));
}

#[test]
fn label_rules_and_boundary_63() {
    for s in ["a", "a-b", "a--b", "0a", "abc123"] {
        assert!(is_dns1123_label(s), "{s:?}");
    }
    for s in ["", "a.b", "A", "-a", "a-", "a_b", "ß"] {
        assert!(!is_dns1123_label(s), "{s:?}");
    }
    assert!(is_dns1123_label(&"x".repeat(63)));
    assert!(!is_dns1123_label(&"x".repeat(64)));
}

// ---------- release and namespace names ----------

#[test]
fn release_names() {
    assert_eq!(validate_release_name("myapp-prod"), Ok(()));
    assert_eq!(validate_release_name("release.name"), Ok(()));
    assert_eq!(validate_release_name(&"r".repeat(53)), Ok(()));

    let e = validate_release_name(&"r".repeat(54)).unwrap_err();
    let msg = e.to_string();
    assert!(msg.starts_with(&format!("invalid release name \"{}\"", "r".repeat(54))), "{msg}");
    assert!(msg.contains("must be no more than 53 characters"), "{msg}");
    assert!(!msg.contains("RFC 1123"), "{msg}");

    let msg = validate_release_name("My_App").unwrap_err().to_string();
    assert!(msg.contains("\"My_App\""), "{msg}");
    assert!(msg.contains("RFC 1123 subdomain"), "{msg}");
    assert!(!msg.contains("53"), "{msg}");

    let msg = validate_release_name("").unwrap_err().to_string();
    assert!(msg.contains("must be non-empty"), "{msg}");

    // Both rules at once.
    let msg = validate_release_name(&"R".repeat(60)).unwrap_err().to_string();
    assert!(msg.contains("53") && msg.contains("RFC 1123"), "{msg}");
}

#[test]
fn namespace_names() {
    assert_eq!(validate_namespace_name("default"), Ok(()));
    assert_eq!(validate_namespace_name(&"n".repeat(63)), Ok(()));
    let msg = validate_namespace_name("a.b").unwrap_err().to_string();
    assert_eq!(
        msg,
        "invalid namespace name \"a.b\": a lowercase RFC 1123 label must consist of lower case \
         alphanumeric characters or '-', and must start and end with an alphanumeric character"
    );
    let msg = validate_namespace_name(&"n".repeat(64)).unwrap_err().to_string();
    assert!(msg.contains("must be no more than 63 characters"), "{msg}");
    assert!(validate_namespace_name("").is_err());
}

// ---------- label keys ----------

#[test]
fn label_keys_valid() {
    for k in [
        "app",
        "App",
        "a",
        "A1",
        "app.kubernetes.io/name",
        "werf.io/version",
        "project.werf.io/name",
        "example.com/My_Key.v1",
        "a/b",
        "x_y.z-w",
        "1",
    ] {
        assert_eq!(validate_label_key(k), Ok(()), "{k:?}");
    }
}

#[test]
fn label_keys_invalid() {
    for k in [
        "",
        "/",
        "/a",
        "a/",
        "a/b/c",
        "-a",
        "a-",
        "_a",
        "a_",
        ".a",
        "a.",
        "a b",
        "a=b",
        "Example.com/a",
        "ex_ample.com/a",
        "example..com/a",
        "ä",
    ] {
        assert!(validate_label_key(k).is_err(), "{k:?} should be invalid");
    }
}

#[test]
fn label_key_messages_match_kubernetes() {
    assert_eq!(
        validate_label_key("a/b/c").unwrap_err().to_string(),
        "invalid label key \"a/b/c\": a qualified name must consist of alphanumeric characters, \
         '-', '_' or '.', and must start and end with an alphanumeric character"
    );
    let msg = validate_label_key("/a").unwrap_err().to_string();
    assert!(msg.contains("prefix part must be non-empty"), "{msg}");
    let msg = validate_label_key("a/").unwrap_err().to_string();
    assert!(msg.contains("name part must be non-empty"), "{msg}");
    let msg = validate_label_key("Example.com/a").unwrap_err().to_string();
    assert!(msg.contains("prefix part a lowercase RFC 1123 subdomain"), "{msg}");
    let msg = validate_label_key("-a").unwrap_err().to_string();
    assert!(msg.contains("name part must consist of alphanumeric characters"), "{msg}");
    assert!(matches!(validate_label_key("-a"), Err(NameError::LabelKey { ref key, .. }) if key == "-a"));
}

#[test]
fn label_key_length_boundaries() {
    let name63 = "n".repeat(63);
    let name64 = "n".repeat(64);
    assert_eq!(validate_label_key(&name63), Ok(()));
    let msg = validate_label_key(&name64).unwrap_err().to_string();
    assert!(msg.contains("name part must be no more than 63 characters"), "{msg}");

    let part = "p".repeat(63);
    let prefix253 = format!("{part}.{part}.{part}.{}", "p".repeat(61));
    let prefix254 = format!("{prefix253}p");
    assert_eq!(validate_label_key(&format!("{prefix253}/{name63}")), Ok(()));
    let msg = validate_label_key(&format!("{prefix254}/x")).unwrap_err().to_string();
    assert!(msg.contains("prefix part must be no more than 253 characters"), "{msg}");
    let msg = validate_label_key(&format!("{prefix253}/{name64}")).unwrap_err().to_string();
    assert!(msg.contains("name part must be no more than 63"), "{msg}");
}

// ---------- label values ----------

#[test]
fn label_values() {
    for v in ["", "a", "A", "1", "my_value", "MyValue", "v1.2.3", "a-b_c.d", &"v".repeat(63)] {
        assert_eq!(validate_label_value(v), Ok(()), "{v:?}");
    }
    for v in ["-a", "a-", "_", ".", "a b", "a/b", "a=b", "ü", "a\n", &"v".repeat(64)] {
        assert!(validate_label_value(v).is_err(), "{v:?} should be invalid");
    }
    let msg = validate_label_value("a b").unwrap_err().to_string();
    assert_eq!(
        msg,
        "invalid label value \"a b\": a valid label must be an empty string or consist of \
         alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric \
         character"
    );
    let msg = validate_label_value(&"v".repeat(64)).unwrap_err().to_string();
    assert!(msg.contains("must be no more than 63 characters"), "{msg}");
}

#[test]
fn label_sets() {
    let mut labels = BTreeMap::new();
    labels.insert("app".to_string(), "web".to_string());
    labels.insert("app.kubernetes.io/managed-by".to_string(), "Helm".to_string());
    assert_eq!(validate_labels(&labels), Ok(()));
    labels.insert("bad key".to_string(), "x".to_string());
    assert!(matches!(validate_labels(&labels), Err(NameError::LabelKey { .. })));
    assert!(matches!(validate_labels([("ok", "bad value")]), Err(NameError::LabelValue { .. })));
}

// ---------- annotations ----------

#[test]
fn annotation_keys() {
    for k in [
        "werf.io/version",
        "project.werf.io/name",
        "ci.werf.io/commit",
        "gitlab.ci.werf.io/pipeline-url",
        "meta.helm.sh/release-name",
        "kubectl.kubernetes.io/last-applied-configuration",
        "description",
        // Kubernetes lower-cases annotation keys before checking them.
        "Example.COM/Key",
    ] {
        assert_eq!(validate_annotation_key(k), Ok(()), "{k:?}");
    }
    for k in ["", "a/b/c", "/x", "x/", "-x", "x y", "a_b.com/x", &"k".repeat(64)] {
        assert!(validate_annotation_key(k).is_err(), "{k:?} should be invalid");
    }
    let msg = validate_annotation_key("a/b/c").unwrap_err().to_string();
    assert!(msg.starts_with("invalid annotation key \"a/b/c\": a qualified name"), "{msg}");
}

#[test]
fn annotation_total_size_boundary() {
    // Exactly 256 KiB counting keys and values is allowed.
    let key = "werf.io/big";
    let value = "v".repeat(TOTAL_ANNOTATION_SIZE_LIMIT - key.len());
    assert_eq!(annotations_size([(key, value.as_str())]), TOTAL_ANNOTATION_SIZE_LIMIT);
    assert_eq!(validate_annotations([(key, value.as_str())]), Ok(()));

    // One more byte (spread over two annotations) is not.
    let value2 = "v".repeat(TOTAL_ANNOTATION_SIZE_LIMIT - key.len() - "b".len());
    let err = validate_annotations([(key, value2.as_str()), ("b", "x")]).unwrap_err();
    assert_eq!(err, NameError::AnnotationsTooLong { total: TOTAL_ANNOTATION_SIZE_LIMIT + 1, limit: 262144 });
    assert!(err.to_string().contains("262144"), "{err}");

    // Values are free-form.
    assert_eq!(validate_annotations([("note", "any text: ünïcödé, spaces, = and / ...\n")]), Ok(()));
    // Keys are still checked.
    assert!(matches!(validate_annotations([("bad key", "v")]), Err(NameError::AnnotationKey { .. })));
}

#[test]
fn annotation_size_counts_bytes() {
    assert_eq!(annotations_size([("k", "ü")]), 3);
    let map: BTreeMap<String, String> = [("a".into(), "bc".into()), ("de".into(), "".into())].into();
    assert_eq!(annotations_size(&map), 5);
    assert_eq!(validate_annotations(&map), Ok(()));
}

// ---------- key=value ----------

#[test]
fn parse_key_value_splits_at_first_equals() {
    assert_eq!(parse_key_value("k=v"), Ok(("k".into(), "v".into())));
    assert_eq!(parse_key_value("k="), Ok(("k".into(), "".into())));
    assert_eq!(parse_key_value("k=a=b"), Ok(("k".into(), "a=b".into())));
    assert_eq!(parse_key_value("werf.io/x==y"), Ok(("werf.io/x".into(), "=y".into())));
    assert_eq!(parse_key_value("k= v "), Ok(("k".into(), " v ".into())));
}

#[test]
fn parse_key_value_errors() {
    let e = parse_key_value("novalue").unwrap_err();
    assert!(matches!(e, NameError::KeyValue { .. }));
    assert!(e.to_string().contains("\"novalue\""), "{e}");
    assert!(e.to_string().contains("no '='"), "{e}");
    let e = parse_key_value("=v").unwrap_err();
    assert!(e.to_string().contains("key must be non-empty"), "{e}");
    assert!(parse_key_value("").is_err());
}

// ---------- properties ----------

proptest! {
    #[test]
    fn label_is_subdomain(s in "\\PC{0,70}") {
        if is_dns1123_label(&s) {
            prop_assert!(is_dns1123_subdomain(&s));
        }
    }

    #[test]
    fn generated_labels_are_valid(s in "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?") {
        prop_assert!(is_dns1123_label(&s));
        prop_assert!(validate_namespace_name(&s).is_ok());
        prop_assert!(validate_label_value(&s).is_ok());
        prop_assert!(validate_label_key(&s).is_ok());
    }

    #[test]
    fn generated_qualified_keys_are_valid(
        prefix in "[a-z0-9]{1,10}(\\.[a-z0-9]{1,10}){0,3}",
        name in "[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?",
    ) {
        let key = format!("{prefix}/{name}");
        prop_assert!(validate_label_key(&key).is_ok(), "{key}");
        prop_assert!(validate_annotation_key(&key).is_ok(), "{key}");
    }

    #[test]
    fn key_value_round_trip(k in "[^=]{1,20}", v in "\\PC{0,20}") {
        let (pk, pv) = parse_key_value(&format!("{k}={v}")).unwrap();
        prop_assert_eq!(pk, k);
        prop_assert_eq!(pv, v);
    }
}
