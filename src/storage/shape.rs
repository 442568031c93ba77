//! What a LIST of record objects asks for. Its own module because the store (`objects`) names it
//! when it lists and the raw LIST (`rawlist`) answers it, and `rawlist` builds on `objects`' types.

/// What a LIST asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Whole objects, payloads included.
    Full,
    /// `PartialObjectMetadataList`: names, labels, versions.
    Meta,
}
