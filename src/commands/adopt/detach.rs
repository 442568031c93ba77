//! `adopt --detach`: after objects moved from release A to the adopting release, A's stored manifest must
//! stop listing them, or A's next upgrade (which no longer renders them) deletes them. This writes a new
//! revision of A without those documents; every other byte of the manifest stays as it was.

use std::ops::Range;

use crate::manifest::{ManifestObject, parse_objects};
use crate::release::helm3::{Release, Status};
use crate::storage::Helm3Record;

/// Byte ranges of the documents of a YAML stream. Each range starts at its `---` separator line (or at 0 for
/// text before the first separator) and ends where the next separator line starts, so the ranges cover the
/// text exactly and removing some leaves the others byte-identical. Separators follow
/// [`crate::manifest::split_documents`]: `---` at the start of a line, alone or followed by blank/comment.
pub fn document_spans(text: &str) -> Vec<Range<usize>> {
    let mut starts = vec![0];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end_matches(['\n', '\r']);
        let is_separator = trimmed.strip_prefix("---").is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']));
        if is_separator && offset > 0 {
            starts.push(offset);
        }
        offset += line.len();
    }
    let mut spans = Vec::with_capacity(starts.len());
    for (i, start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(text.len());
        spans.push(*start..end);
    }
    spans
}

/// `manifest` without the documents holding exactly one object for which `drop` is true, and how many were
/// removed. Documents that do not parse, hold several objects (a `List` of more than one) or none are kept.
pub fn remove_documents(manifest: &str, mut drop: impl FnMut(&ManifestObject) -> bool) -> (String, usize) {
    let mut out = String::with_capacity(manifest.len());
    let mut removed = 0;
    for span in document_spans(manifest) {
        let piece = &manifest[span];
        let objects = parse_objects(piece, true);
        let single = match objects.as_slice() {
            [Ok(obj)] => Some(obj),
            _ => None,
        };
        if single.is_some_and(&mut drop) {
            removed += 1;
        } else {
            out.push_str(piece);
        }
    }
    (out, removed)
}

/// Statuses of a release with an operation in flight: writing a revision then would race with it.
pub fn in_flight(status: &Status) -> bool {
    status.is_pending() || *status == Status::Uninstalling
}

/// Which stored revision a detach rewrites: the last `deployed` one (what Helm's upgrade diffs against and
/// deletes from), else the latest. `history` is oldest first.
pub fn base_revision(history: &[Helm3Record]) -> Option<&Helm3Record> {
    history.iter().rev().find(|r| r.release.info.status == Status::Deployed).or_else(|| history.last())
}

/// The new revision: `base` without the moved documents, numbered after `latest_version`, deployed when the base
/// was (else the base's status is kept), with a description saying what moved where.
pub fn detached_revision(base: &Release, latest_version: i64, manifest: String, description: String) -> Release {
    let mut next = base.clone();
    next.version = latest_version + 1;
    next.manifest = manifest;
    next.info.description = description;
    next.info.last_deployed = crate::release::Time::now();
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOP: &str = include_str!("../../../fixtures/helm3/fx-helm3-shop-manifest.txt");

    #[test]
    fn spans_cover_the_text() {
        for text in [SHOP, "", "a: 1\n", "---\na: 1\n---\nb: 2", "x: 1\n---\n---\ny: 2\n", "---\r\na: 1\r\n--- # c\r\nb: 2\r\n"] {
            let spans = document_spans(text);
            let joined: String = spans.iter().map(|s| &text[s.clone()]).collect();
            assert_eq!(joined, text);
        }
    }

    #[test]
    fn removes_exactly_the_named_documents() {
        let (out, n) = remove_documents(SHOP, |o| o.kind == "Service" && o.name == "shop-cache");
        assert_eq!(n, 1);
        assert!(!out.contains("# Source: shop/charts/cache/templates/service.yaml"));
        // Everything else is byte-identical: putting the removed document back gives the original.
        let start = SHOP.find("---\n# Source: shop/charts/cache/templates/service.yaml").unwrap();
        let removed_len = SHOP.len() - out.len();
        assert_eq!(format!("{}{}{}", &out[..start], &SHOP[start..start + removed_len], &out[start..]), SHOP);
        let (out2, n2) = remove_documents(SHOP, |o| o.kind == "Widget" || (o.kind == "Deployment" && o.name == "shop"));
        assert_eq!(n2, 2);
        assert!(out2.starts_with(&SHOP[..SHOP.find("---\n# Source: shop/templates/deployment.yaml").unwrap()]));
        let (same, none) = remove_documents(SHOP, |_| false);
        assert_eq!((same.as_str(), none), (SHOP, 0));
    }

    #[test]
    fn first_document_without_separator_and_lists() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b2}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n";
        let (out, n) = remove_documents(text, |o| o.name == "a" || o.name == "b");
        assert_eq!(n, 1);
        assert!(out.starts_with("---\napiVersion: v1\nkind: List"), "{out}");
        assert!(out.ends_with("name: c\n"));
    }
}
