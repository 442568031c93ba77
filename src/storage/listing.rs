//! Streaming, parallel decoding of LIST pages: the next page is fetched while the current one is
//! decoded on every core, and only decoded results are kept (never all payloads at once). A damaged
//! record becomes an error value naming the object; it never stops the listing.

use std::sync::Arc;

use super::objects::{Cursor, ObjectInfo, ObjectKind, ObjectStore, PAYLOAD_PAGE, RawObject};

/// A record that could not be decoded, named as `namespace/object: reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{namespace}/{object}: {reason}")]
pub struct RecordError {
    pub kind: ObjectKind,
    pub namespace: String,
    pub object: String,
    pub reason: String,
}

impl RecordError {
    pub fn new(info: &ObjectInfo, reason: impl std::fmt::Display) -> Self {
        RecordError { kind: info.kind, namespace: info.namespace.clone(), object: info.name.clone(), reason: reason.to_string() }
    }
}

/// Decoded records, the records that failed, and warnings (e.g. labels disagreeing with payloads).
#[derive(Debug)]
pub struct Listing<T> {
    pub records: Vec<T>,
    pub errors: Vec<RecordError>,
    pub warnings: Vec<String>,
}

impl<T> Default for Listing<T> {
    fn default() -> Self {
        Listing { records: Vec::new(), errors: Vec::new(), warnings: Vec::new() }
    }
}

impl<T> Listing<T> {
    pub fn extend(&mut self, other: Listing<T>) {
        self.records.extend(other.records);
        self.errors.extend(other.errors);
        self.warnings.extend(other.warnings);
    }
}

/// What a decoder makes of one object: a value and maybe a warning, or an error.
pub type Decoded<T> = Result<(T, Option<String>), RecordError>;

/// `f` over `items` on all cores, results in the order of `items`. Small batches stay on the calling
/// thread.
pub fn par_map<I, O, F>(items: Vec<I>, f: &F) -> Vec<O>
where
    I: Send,
    O: Send,
    F: Fn(I) -> O + Sync,
{
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(8);
    if threads <= 1 || items.len() < 4 {
        return items.into_iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let mut chunks: Vec<Vec<I>> = Vec::new();
    let mut items = items;
    while !items.is_empty() {
        let rest = items.split_off(chunk.min(items.len()));
        chunks.push(std::mem::replace(&mut items, rest));
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks.into_iter().map(|c| scope.spawn(move || c.into_iter().map(f).collect::<Vec<_>>())).collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    })
}

/// Decode a batch on all cores.
pub fn decode_batch<T, F>(items: Vec<RawObject>, decode: &F) -> Listing<T>
where
    T: Send,
    F: Fn(RawObject) -> Decoded<T> + Sync,
{
    let results: Vec<Decoded<T>> = par_map(items, decode);
    let mut listing = Listing::default();
    for r in results {
        match r {
            Ok((v, warning)) => {
                listing.records.push(v);
                listing.warnings.extend(warning);
            }
            Err(e) => listing.errors.push(e),
        }
    }
    listing
}

/// LIST every object matching `selector` and decode each as pages arrive.
pub async fn list_decoded<T, F>(store: &ObjectStore, ns: Option<&str>, selector: &str, decode: F) -> Result<Listing<T>, kube::Error>
where
    T: Send + 'static,
    F: Fn(RawObject) -> Decoded<T> + Send + Sync + 'static,
{
    let decode = Arc::new(decode);
    let mut listing = Listing::default();
    let mut pending: Option<tokio::task::JoinHandle<Listing<T>>> = None;
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = store.list_page(ns, selector, PAYLOAD_PAGE, cursor.as_ref()).await?;
        // Decode this page while the next one is on the wire.
        if let Some(handle) = pending.take() {
            listing.extend(handle.await.unwrap_or_default());
        }
        let d = decode.clone();
        let items = page.items;
        pending = Some(tokio::task::spawn_blocking(move || decode_batch(items, &*d)));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    if let Some(handle) = pending.take() {
        listing.extend(handle.await.unwrap_or_default());
    }
    Ok(listing)
}
