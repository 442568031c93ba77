//! Kubernetes name, label-key/value and annotation validation.
//!
//! The rules and messages follow Kubernetes' apimachinery validation (`IsDNS1123Subdomain`,
//! `IsDNS1123Label`, `IsQualifiedName`, `IsValidLabelValue`, `ValidateAnnotations`) and Helm's
//! release-name rule (DNS-1123 subdomain of at most 53 characters). Lengths are counted in bytes,
//! as Kubernetes does; every valid name is ASCII, so bytes and characters agree for them.

use thiserror::Error;

/// Maximum length of a DNS-1123 subdomain.
pub const DNS1123_SUBDOMAIN_MAX_LEN: usize = 253;
/// Maximum length of a DNS-1123 label.
pub const DNS1123_LABEL_MAX_LEN: usize = 63;
/// Maximum length of a Helm release name.
pub const RELEASE_NAME_MAX_LEN: usize = 53;
/// Maximum length of the name part of a qualified name (label / annotation key).
pub const QUALIFIED_NAME_MAX_LEN: usize = 63;
/// Maximum length of a label value.
pub const LABEL_VALUE_MAX_LEN: usize = 63;
/// Maximum total size of all annotation keys and values of one object (256 KiB).
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric \
     characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric \
     characters or '-', and must start and end with an alphanumeric character";
const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start \
     and end with an alphanumeric character";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, \
     '-', '_' or '.', and must start and end with an alphanumeric character";

/// A name, key or value that Kubernetes (or Helm) would reject.
///
/// `reason` holds Kubernetes' message(s); several are joined with `"; "`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    #[error("invalid release name {name:?}: {reason}")]
    ReleaseName { name: String, reason: String },
    #[error("invalid namespace name {name:?}: {reason}")]
    NamespaceName { name: String, reason: String },
    #[error("invalid label key {key:?}: {reason}")]
    LabelKey { key: String, reason: String },
    #[error("invalid label value {value:?}: {reason}")]
    LabelValue { value: String, reason: String },
    #[error("invalid annotation key {key:?}: {reason}")]
    AnnotationKey { key: String, reason: String },
    #[error("annotations too long: keys and values total {total} bytes, must have at most {limit} bytes")]
    AnnotationsTooLong { total: usize, limit: usize },
    #[error("invalid key=value {input:?}: {reason}")]
    KeyValue { input: String, reason: String },
}

fn max_len_msg(max: usize) -> String {
    format!("must be no more than {max} characters")
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?` without a length limit.
fn matches_dns1123_label_shape(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => is_lower_alnum(first) && is_lower_alnum(last) && b.iter().all(|&c| is_lower_alnum(c) || c == b'-'),
        _ => false,
    }
}

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?` without a length limit (qualified-name part and
/// non-empty label value).
fn matches_qualified_shape(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// Kubernetes' `IsDNS1123Subdomain` messages (empty when valid).
fn dns1123_subdomain_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_SUBDOMAIN_MAX_LEN {
        errs.push(max_len_msg(DNS1123_SUBDOMAIN_MAX_LEN));
    }
    // Dot-separated labels, each `[a-z0-9]([-a-z0-9]*[a-z0-9])?`; Kubernetes' regex puts no
    // length limit on the individual parts.
    if !s.split('.').all(matches_dns1123_label_shape) {
        errs.push(DNS1123_SUBDOMAIN_MSG.to_string());
    }
    errs
}

/// Kubernetes' `IsDNS1123Label` messages (empty when valid).
fn dns1123_label_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_LABEL_MAX_LEN {
        errs.push(max_len_msg(DNS1123_LABEL_MAX_LEN));
    }
    if !matches_dns1123_label_shape(s) {
        errs.push(DNS1123_LABEL_MSG.to_string());
    }
    errs
}

/// Kubernetes' `IsQualifiedName` messages (empty when valid).
fn qualified_name_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = s.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(dns1123_subdomain_errors(prefix).into_iter().map(|m| format!("prefix part {m}")));
            }
            *name
        }
        _ => return vec![format!("a qualified name {QUALIFIED_NAME_MSG}")],
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > QUALIFIED_NAME_MAX_LEN {
        errs.push(format!("name part {}", max_len_msg(QUALIFIED_NAME_MAX_LEN)));
    }
    if !matches_qualified_shape(name) {
        errs.push(format!("name part {QUALIFIED_NAME_MSG}"));
    }
    errs
}

/// Kubernetes' `IsValidLabelValue` messages (empty when valid).
fn label_value_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > LABEL_VALUE_MAX_LEN {
        errs.push(max_len_msg(LABEL_VALUE_MAX_LEN));
    }
    if !s.is_empty() && !matches_qualified_shape(s) {
        errs.push(LABEL_VALUE_MSG.to_string());
    }
    errs
}

fn into_result(errs: Vec<String>, make: impl FnOnce(String) -> NameError) -> Result<(), NameError> {
    if errs.is_empty() { Ok(()) } else { Err(make(errs.join("; "))) }
}

/// DNS-1123 subdomain: at most 253 characters, dot-separated parts of lower-case alphanumerics and
/// `-`, each starting and ending with an alphanumeric.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= DNS1123_SUBDOMAIN_MAX_LEN && s.split('.').all(matches_dns1123_label_shape)
}

/// DNS-1123 label: at most 63 characters of lower-case alphanumerics and `-`, starting and ending
/// with an alphanumeric.
pub fn is_dns1123_label(s: &str) -> bool {
    s.len() <= DNS1123_LABEL_MAX_LEN && matches_dns1123_label_shape(s)
}

/// Helm's release-name rule: non-empty DNS-1123 subdomain of at most 53 characters.
pub fn validate_release_name(name: &str) -> Result<(), NameError> {
    let mut errs = Vec::new();
    if name.is_empty() {
        errs.push("must be non-empty".to_string());
    } else {
        if name.len() > RELEASE_NAME_MAX_LEN {
            errs.push(format!("{} (Helm's limit for release names)", max_len_msg(RELEASE_NAME_MAX_LEN)));
        }
        errs.extend(dns1123_subdomain_errors(name).into_iter().filter(|m| m != &max_len_msg(DNS1123_SUBDOMAIN_MAX_LEN)));
    }
    into_result(errs, |reason| NameError::ReleaseName { name: name.to_string(), reason })
}

/// Kubernetes' namespace rule: DNS-1123 label.
pub fn validate_namespace_name(name: &str) -> Result<(), NameError> {
    let errs = if name.is_empty() { vec!["must be non-empty".to_string()] } else { dns1123_label_errors(name) };
    into_result(errs, |reason| NameError::NamespaceName { name: name.to_string(), reason })
}

/// Label key: optional DNS-1123 subdomain prefix (<= 253) and `/`, then a name part (<= 63,
/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`). The prefix must be lower case.
pub fn validate_label_key(key: &str) -> Result<(), NameError> {
    into_result(qualified_name_errors(key), |reason| NameError::LabelKey { key: key.to_string(), reason })
}

/// Label value: empty, or at most 63 characters of `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`.
pub fn validate_label_value(value: &str) -> Result<(), NameError> {
    into_result(label_value_errors(value), |reason| NameError::LabelValue { value: value.to_string(), reason })
}

/// Annotation key: a qualified name like a label key, but — as in Kubernetes'
/// `ValidateAnnotations`, which lower-cases the key before checking — the prefix may contain
/// upper-case letters.
pub fn validate_annotation_key(key: &str) -> Result<(), NameError> {
    into_result(qualified_name_errors(&key.to_ascii_lowercase()), |reason| NameError::AnnotationKey { key: key.to_string(), reason })
}

/// Checks every key and value of a label set; stops at the first error.
pub fn validate_labels<I, K, V>(labels: I) -> Result<(), NameError>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    for (k, v) in labels {
        validate_label_key(k.as_ref())?;
        validate_label_value(v.as_ref())?;
    }
    Ok(())
}

/// Total size in bytes of all annotation keys and values, as Kubernetes counts it.
pub fn annotations_size<I, K, V>(annotations: I) -> usize
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    annotations.into_iter().map(|(k, v)| k.as_ref().len() + v.as_ref().len()).sum()
}

/// Checks every annotation key and the 256 KiB total of all keys and values of one object.
/// Pass the object's complete resulting annotation set (existing plus added).
pub fn validate_annotations<I, K, V>(annotations: I) -> Result<(), NameError>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut total = 0usize;
    for (k, v) in annotations {
        let (k, v) = (k.as_ref(), v.as_ref());
        validate_annotation_key(k)?;
        total += k.len() + v.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        return Err(NameError::AnnotationsTooLong { total, limit: TOTAL_ANNOTATION_SIZE_LIMIT });
    }
    Ok(())
}

/// werf's `--add-annotation` / `--add-label` syntax: `key=value`, split at the FIRST `=`
/// (the value may contain `=` and may be empty). Errors when there is no `=` or the key is empty.
/// The key and value are not validated here; use the label/annotation validators.
pub fn parse_key_value(input: &str) -> Result<(String, String), NameError> {
    let Some((key, value)) = input.split_once('=') else {
        return Err(NameError::KeyValue { input: input.to_string(), reason: "expected key=value, found no '='".to_string() });
    };
    if key.is_empty() {
        return Err(NameError::KeyValue { input: input.to_string(), reason: "key must be non-empty".to_string() });
    }
    Ok((key.to_string(), value.to_string()))
}
