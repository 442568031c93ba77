//! Which releases a command line selects: one rule, used by every verb that names or lists releases
//! (`releases list|history|status|get|unlock|prune|export`, `annotate`; `migrate2to3` keeps Tiller's
//! global names and applies only the `-n` filter, see its module).
//!
//! | scope | Helm 3/4 records | Helm 2 (Tiller) releases |
//! |---|---|---|
//! | `-n NS` | releases whose records are in NS | releases whose release namespace is NS |
//! | no `-n` | the context's namespace | a NAME is Tiller's global name, a named Tiller namespace is that Tiller's releases (any release namespace); otherwise (list, export without NAME) release namespace = the context's |
//! | `-A` | every namespace | every release |
//!
//! - Helm 3 drivers: Secret and ConfigMap records both, unless `--release-storage`
//!   (`WERF_RELEASE_STORAGE`, `HELM_DRIVER`) picks one; `--release-storage secret` is exactly helm's view.
//! - Tiller records are looked for in every namespace holding `OWNER=TILLER` objects (as
//!   `list -A --helm-version 2` always did), unless a Tiller namespace is named
//!   (`--tiller-namespace`/variables; `-A` still means every namespace). Without the right to list
//!   cluster-wide, the default Tiller namespace is read instead.
//! - A release found in several storages (both drivers, several Tillers, or Helm 2 and Helm 3 with the
//!   same name and release namespace): read verbs show each one (`list`, `export`) or the first in the
//!   order secret, configmap, Helm 2 with a warning naming the others (`history|status|get`); write verbs
//!   refuse with a usage error (exit 2) naming the storages and the flags that pick one.
//! - "not found" names where it looked and, when the name exists elsewhere, the flags that reach it.

use std::collections::{BTreeMap, BTreeSet};

use super::drivers::{Helm2Storage, Helm3Driver, StorageSettings};
use crate::error::AppError;

use super::codec::{self, DecodeLimits, HELM2_LIST_SELECTOR, HELM3_LIST_SELECTOR, helm3_history_selector};
use super::helm2::{Helm2Record, Helm2Store};
use super::listing::Listing;
use super::objects::{ObjectKind, ObjectStore, PAYLOAD_PAGE, RawObject};
use super::record_object::ObjectInfo;

/// Where one release's records are.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Place {
    Helm3 { kind: ObjectKind, namespace: String },
    Helm2 { kind: ObjectKind, tiller_namespace: String, release_namespace: String },
}

impl Place {
    /// The STORAGE column's word.
    pub fn storage(&self) -> &'static str {
        match self {
            Place::Helm3 { kind: ObjectKind::Secret, .. } => "secret",
            Place::Helm3 { kind: ObjectKind::ConfigMap, .. } => "configmap",
            Place::Helm2 { kind, .. } => super::helm2::storage_name(*kind),
        }
    }

    pub fn kind(&self) -> ObjectKind {
        match self {
            Place::Helm3 { kind, .. } | Place::Helm2 { kind, .. } => *kind,
        }
    }

    /// Namespace of the record objects.
    pub fn records_namespace(&self) -> &str {
        match self {
            Place::Helm3 { namespace, .. } => namespace,
            Place::Helm2 { tiller_namespace, .. } => tiller_namespace,
        }
    }

    /// The release's own namespace (`?` when no record could be decoded).
    pub fn release_namespace(&self) -> &str {
        match self {
            Place::Helm3 { namespace, .. } => namespace,
            Place::Helm2 { release_namespace, .. } if release_namespace.is_empty() => "?",
            Place::Helm2 { release_namespace, .. } => release_namespace,
        }
    }

    pub fn is_helm2(&self) -> bool {
        matches!(self, Place::Helm2 { .. })
    }

    /// `Helm 3 release shop in namespace x (secret records)`.
    pub fn describe(&self, name: &str) -> String {
        match self {
            Place::Helm3 { namespace, .. } => format!("Helm 3 release {name} in namespace {namespace} ({} records)", self.storage()),
            Place::Helm2 { tiller_namespace, .. } => format!(
                "Helm 2 release {name} of namespace {} ({} records in namespace {tiller_namespace})",
                self.release_namespace(),
                self.storage()
            ),
        }
    }

    /// The flags that select exactly this place.
    pub fn picking_flags(&self) -> String {
        match self {
            Place::Helm3 { namespace, kind } => {
                format!("-n {namespace} --helm-version 3 --release-storage {}", kind_word(*kind))
            }
            Place::Helm2 { kind, tiller_namespace, .. } => {
                let ns = match self.release_namespace() {
                    "?" => String::new(),
                    ns => format!("-n {ns} "),
                };
                format!("{ns}--helm-version 2 --tiller-namespace {tiller_namespace} --helm-release-storage-type {}", kind_word(*kind))
            }
        }
    }
}

fn kind_word(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Secret => "secret",
        ObjectKind::ConfigMap => "configmap",
    }
}

fn kinds_plural(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Secret => "secrets",
        ObjectKind::ConfigMap => "configmaps",
    }
}

pub fn helm3_driver(kind: ObjectKind) -> Helm3Driver {
    match kind {
        ObjectKind::Secret => Helm3Driver::Secret,
        ObjectKind::ConfigMap => Helm3Driver::ConfigMap,
    }
}

pub fn helm2_storage(kind: ObjectKind) -> Helm2Storage {
    match kind {
        ObjectKind::Secret => Helm2Storage::Secret,
        ObjectKind::ConfigMap => Helm2Storage::ConfigMap,
    }
}

fn forbidden(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 403)
}

/// The selection rule applied to one command line.
#[derive(Debug, Clone)]
pub struct ReleaseScope {
    pub all_namespaces: bool,
    /// `-n`, Helm's `HELM_NAMESPACE`, or the context's namespace.
    pub namespace: String,
    /// `-n` (or `HELM_NAMESPACE`) was given.
    pub explicit_namespace: bool,
    /// Helm 3 record kinds read, in precedence order (empty with `--helm-version 2`).
    pub helm3_kinds: Vec<ObjectKind>,
    /// Helm 2 record kinds read (empty with `--helm-version 3`).
    pub helm2_kinds: Vec<ObjectKind>,
    /// The Tiller namespace the user named, if any.
    pub tiller_namespace: Option<String>,
    /// Where Tiller records are read when cluster-wide reads are forbidden.
    pub default_tiller_namespace: String,
    pub helm_version: Option<u8>,
    pub limits: DecodeLimits,
}

impl ReleaseScope {
    pub fn new(
        storage: &StorageSettings,
        helm_version: Option<u8>,
        namespace: &str,
        explicit_namespace: bool,
        all_namespaces: bool,
    ) -> Self {
        let helm3_kinds = match (helm_version, storage.helm3_driver_chosen) {
            (Some(2), _) => Vec::new(),
            (_, true) => vec![storage.helm3_driver.object_kind()],
            (_, false) => vec![ObjectKind::Secret, ObjectKind::ConfigMap],
        };
        let helm2_kinds = match (helm_version, storage.helm2_storage) {
            (Some(3), _) => Vec::new(),
            (_, Helm2Storage::ConfigMap) => vec![ObjectKind::ConfigMap],
            (_, Helm2Storage::Secret) => vec![ObjectKind::Secret],
            (_, Helm2Storage::Auto) => vec![ObjectKind::ConfigMap, ObjectKind::Secret],
        };
        ReleaseScope {
            all_namespaces,
            namespace: namespace.to_string(),
            explicit_namespace,
            helm3_kinds,
            helm2_kinds,
            tiller_namespace: storage.helm2_namespace_chosen.then(|| storage.helm2_namespace.clone()),
            default_tiller_namespace: storage.helm2_namespace.clone(),
            helm_version,
            limits: DecodeLimits { max_decompressed: storage.max_decompressed_bytes },
        }
    }

    /// Namespace of the Helm 3 records read (`None`: every namespace).
    pub fn helm3_namespace(&self) -> Option<&str> {
        (!self.all_namespaces).then_some(self.namespace.as_str())
    }

    /// Namespace of the Tiller records read (`None`: every namespace).
    pub fn helm2_records_namespace(&self) -> Option<&str> {
        if self.all_namespaces { None } else { self.tiller_namespace.as_deref() }
    }

    /// The release namespace Helm 2 releases must have (`None`: any). `named`: the verb was given
    /// release names. Without `-n`, Tiller's names are global and a named Tiller namespace is the
    /// scope helm 2 itself had, so neither is filtered by the context's namespace.
    pub fn helm2_release_namespace(&self, named: bool) -> Option<&str> {
        if self.all_namespaces || (!self.explicit_namespace && (named || self.tiller_namespace.is_some())) {
            None
        } else {
            Some(self.namespace.as_str())
        }
    }

    /// Where Helm 3 records are read, for messages.
    fn helm3_where(&self) -> String {
        let kinds: Vec<&str> = self.helm3_kinds.iter().map(|k| kind_word(*k)).collect();
        match self.helm3_namespace() {
            Some(ns) => format!("Helm 3 {} records in namespace {ns}", kinds.join(" and ")),
            None => format!("Helm 3 {} records in every namespace", kinds.join(" and ")),
        }
    }
}

/// One storage holding the release.
#[derive(Debug)]
pub struct Found {
    pub place: Place,
    /// Helm 2: the release's records, already read and decoded.
    pub helm2: Option<Listing<Helm2Record>>,
    /// Helm 3: the metadata of the release's records there, as the lookup read them (readers pick a
    /// record by its labels without asking again).
    pub helm3_records: Vec<ObjectInfo>,
}

/// Where a release of one name is, under a scope.
#[derive(Debug, Default)]
pub struct Located {
    pub name: String,
    /// In scope, in precedence order.
    pub found: Vec<Found>,
    /// Where it looked, for "not found".
    pub looked: Vec<String>,
    /// Problems worth a warning (a Tiller namespace that could not be read, ...).
    pub warnings: Vec<String>,
    /// Releases of that name outside the scope (filled only when none is in scope).
    pub elsewhere: Vec<Place>,
}

impl Located {
    /// For read verbs: the first storage in precedence order; the others are named in a warning.
    pub fn for_read(mut self) -> Result<(Found, Vec<String>), AppError> {
        if self.found.is_empty() {
            return Err(self.not_found());
        }
        let mut warnings = std::mem::take(&mut self.warnings);
        let first = self.found.remove(0);
        if !self.found.is_empty() {
            let others: Vec<String> =
                self.found.iter().map(|f| format!("{} (pick it with {})", f.place.describe(&self.name), f.place.picking_flags())).collect();
            warnings.push(format!("showing the {}; also found: {}", first.place.describe(&self.name), others.join("; ")));
        }
        Ok((first, warnings))
    }

    /// For write verbs: exactly one storage, else a usage error naming them all.
    pub fn for_write(mut self) -> Result<(Found, Vec<String>), AppError> {
        if self.found.is_empty() {
            return Err(self.not_found());
        }
        if self.found.len() > 1 {
            return Err(ambiguous(&self.name, self.found.iter().map(|f| &f.place)));
        }
        let warnings = std::mem::take(&mut self.warnings);
        Ok((self.found.remove(0), warnings))
    }

    pub fn not_found(&self) -> AppError {
        let mut text = format!("release {:?} not found: looked for {}", self.name, self.looked.join(" and "));
        if !self.elsewhere.is_empty() {
            let hints: Vec<String> =
                self.elsewhere.iter().take(3).map(|p| format!("{} (use {})", p.describe(&self.name), p.picking_flags())).collect();
            let more = if self.elsewhere.len() > 3 { format!(" and {} more", self.elsewhere.len() - 3) } else { String::new() };
            text.push_str(&format!("; found outside that scope: {}{more}", hints.join("; ")));
        }
        AppError::Failed(text)
    }
}

/// The usage error for a release found in several storages.
pub fn ambiguous<'a>(name: &str, places: impl Iterator<Item = &'a Place>) -> AppError {
    let list: Vec<String> = places.map(|p| format!("{} (pick it with {})", p.describe(name), p.picking_flags())).collect();
    AppError::Usage(format!(
        "release {name:?} is stored in {} places: {}; a change applies to one, so pick it with --helm-version and --release-storage (or --tiller-namespace)",
        list.len(),
        list.join("; ")
    ))
}

/// Releases stored in several places among `places` (name, place): the same name and release
/// namespace under both Helm 3 drivers, as Helm 2 and Helm 3, or under both kinds of one Tiller. Two
/// Tillers are two release stores: the same name in each is two releases.
pub fn ambiguities<'a>(places: impl Iterator<Item = (&'a str, &'a Place)>) -> Vec<(String, Vec<Place>)> {
    let mut by_release: BTreeMap<(String, String), BTreeSet<Place>> = BTreeMap::new();
    for (name, place) in places {
        by_release.entry((name.to_string(), place.release_namespace().to_string())).or_default().insert(place.clone());
    }
    by_release
        .into_iter()
        .filter(|(_, p)| {
            let helm3 = p.iter().filter(|x| !x.is_helm2()).count();
            let tillers: Vec<&str> = p.iter().filter(|x| x.is_helm2()).map(Place::records_namespace).collect();
            let tiller_twice = tillers.iter().collect::<BTreeSet<_>>().len() < tillers.len();
            (helm3 > 0 && p.len() > 1) || tiller_twice
        })
        .map(|((name, _), p)| (name, p.into_iter().collect()))
        .collect()
}

/// Release names must be valid before they reach a label selector (the server would answer with a
/// selector error that names no rule).
pub fn validate_name(name: &str) -> Result<(), AppError> {
    crate::names::validate_release_name(name).map_err(|e| AppError::Usage(e.to_string()))
}

/// Find the release `name` under `scope`. The Helm 3 and Helm 2 lookups are sent at once: one round
/// trip of latency.
pub async fn locate(client: &kube::Client, scope: &ReleaseScope, name: &str) -> Result<Located, AppError> {
    validate_name(name)?;
    let (helm3, helm2) = futures::future::join(locate_helm3(client, scope, name), locate_helm2(client, scope, name)).await;
    let mut located = Located { name: name.to_string(), ..Default::default() };
    located.absorb(helm3?);
    located.absorb(helm2?);
    if located.found.is_empty() {
        look_elsewhere(client, scope, name, &mut located).await;
    }
    Ok(located)
}

impl Located {
    fn absorb(&mut self, part: Located) {
        self.found.extend(part.found);
        self.looked.extend(part.looked);
        self.warnings.extend(part.warnings);
        self.elsewhere.extend(part.elsewhere);
    }
}

/// Helm 3: the labels say whether a kind holds records of the release.
async fn locate_helm3(client: &kube::Client, scope: &ReleaseScope, name: &str) -> Result<Located, AppError> {
    let mut located = Located::default();
    if scope.helm3_kinds.is_empty() {
        return Ok(located);
    }
    let ns = scope.namespace.as_str();
    located.looked.push(scope.helm3_where());
    let selector = helm3_history_selector(name);
    let mut readable = 0;
    let mut last_error = None;
    // Both drivers (and below, both Tiller kinds) are asked at once: one round trip of latency.
    let lookups = futures::future::join_all(scope.helm3_kinds.iter().map(|kind| {
        let store = ObjectStore::new(client.clone(), *kind);
        let selector = selector.clone();
        let ns = scope.helm3_namespace().map(str::to_string);
        async move { store.list_meta_all(ns.as_deref(), &selector).await }
    }))
    .await;
    for (kind, lookup) in scope.helm3_kinds.iter().zip(lookups) {
        match lookup {
            Ok(metas) => {
                readable += 1;
                let mut by_namespace: BTreeMap<String, Vec<ObjectInfo>> = BTreeMap::new();
                for meta in metas {
                    by_namespace.entry(meta.namespace.clone()).or_default().push(meta);
                }
                if scope.helm3_namespace().is_some() && !by_namespace.is_empty() {
                    // The records of the namespace asked for (a server answering for another is not trusted).
                    let records = by_namespace.remove(ns).unwrap_or_default();
                    by_namespace = BTreeMap::from([(ns.to_string(), records)]);
                }
                for (namespace, helm3_records) in by_namespace {
                    located.found.push(Found { place: Place::Helm3 { kind: *kind, namespace }, helm2: None, helm3_records });
                }
            }
            // One driver unreadable while the other is read: only that driver is missed.
            Err(e) if forbidden(&e) && scope.helm3_kinds.len() > 1 => {
                located.looked.push(format!("(not {}: {})", kinds_plural(*kind), crate::error::describe_kube_error(&e)));
                last_error = Some(e);
            }
            Err(e) => return Err(AppError::kube(&e)),
        }
    }
    if readable == 0
        && let Some(e) = last_error
    {
        return Err(AppError::kube(&e));
    }
    Ok(located)
}

/// Helm 2: labels find the Tiller namespaces holding the name; payloads give the release namespace.
async fn locate_helm2(client: &kube::Client, scope: &ReleaseScope, name: &str) -> Result<Located, AppError> {
    let mut located = Located::default();
    if scope.helm2_kinds.is_empty() {
        return Ok(located);
    }
    let want_ns = scope.helm2_release_namespace(true).map(str::to_string);
    let (records_ns, note) = match scope.helm2_records_namespace() {
        Some(t) => (Some(t.to_string()), format!("Helm 2 records in namespace {t}")),
        None => (None, "Helm 2 records in every namespace".to_string()),
    };
    located.looked.push(match &want_ns {
        Some(ns) => format!("{note} (release namespace {ns})"),
        None => note,
    });
    let selector = format!("NAME={name},{HELM2_LIST_SELECTOR}");
    let lookups = futures::future::join_all(scope.helm2_kinds.iter().map(|kind| {
        let selector = selector.clone();
        let records_ns = records_ns.clone();
        async move {
            let mut notes = Located::default();
            let r = helm2_namespaces_holding(client, scope, *kind, records_ns.as_deref(), &selector, &mut notes).await;
            (r, notes.looked)
        }
    }))
    .await;
    for (kind, (lookup, notes)) in scope.helm2_kinds.iter().zip(lookups) {
        located.looked.extend(notes);
        let tillers = match lookup {
            Ok(t) => t,
            Err(e) if forbidden(&e) && scope.helm_version != Some(2) => {
                located.warnings.push(format!(
                    "cannot look for a Helm 2 release: no right to list {}: {}",
                    kinds_plural(*kind),
                    crate::error::describe_kube_error(&e)
                ));
                continue;
            }
            Err(e) => return Err(AppError::kube(&e)),
        };
        for tiller in tillers {
            let store = Helm2Store::new(client.clone(), &tiller, helm2_storage(*kind), scope.limits);
            let listing = store.history(name).await.map_err(|e| AppError::kube(&e))?;
            if listing.records.is_empty() && listing.errors.is_empty() {
                continue;
            }
            let release_namespace =
                listing.records.iter().max_by_key(|r| r.release.version).map(|r| r.release.namespace.clone()).unwrap_or_default();
            let place = Place::Helm2 { kind: *kind, tiller_namespace: tiller.clone(), release_namespace: release_namespace.clone() };
            let in_scope = match &want_ns {
                Some(ns) => release_namespace.is_empty() || &release_namespace == ns,
                None => true,
            };
            if in_scope {
                located.found.push(Found { place, helm2: Some(listing), helm3_records: Vec::new() });
            } else {
                located.elsewhere.push(place);
            }
        }
    }
    Ok(located)
}

/// Tiller namespaces whose `kind` objects match `selector`: in `records_ns`, or in every namespace
/// (the default Tiller namespace when listing cluster-wide is forbidden).
async fn helm2_namespaces_holding(
    client: &kube::Client,
    scope: &ReleaseScope,
    kind: ObjectKind,
    records_ns: Option<&str>,
    selector: &str,
    located: &mut Located,
) -> Result<BTreeSet<String>, kube::Error> {
    let store = ObjectStore::new(client.clone(), kind);
    // Cluster-wide, a consistent LIST makes the server read every Secret (ConfigMap) from etcd even
    // when, as on most clusters, no Tiller record exists; the watch cache answers that from memory.
    if records_ns.is_none() && matches!(store.lister().any_in_cache(None, selector).await, Ok(false)) {
        return Ok(BTreeSet::new());
    }
    let metas = match store.list_meta_all(records_ns, selector).await {
        Ok(m) => m,
        Err(e) if forbidden(&e) && records_ns.is_none() => {
            let t = scope.default_tiller_namespace.as_str();
            located.looked.push(format!("(no right to list {} cluster-wide: Helm 2 records only in namespace {t})", kinds_plural(kind)));
            store.list_meta_all(Some(t), selector).await?
        }
        Err(e) => return Err(e),
    };
    Ok(metas.into_iter().map(|m| m.namespace).collect())
}

/// Releases of this name anywhere (both drivers, every Tiller), for the "not found" hint. Reads that
/// are not allowed are simply skipped.
async fn look_elsewhere(client: &kube::Client, scope: &ReleaseScope, name: &str, located: &mut Located) {
    let selector = helm3_history_selector(name);
    for kind in [ObjectKind::Secret, ObjectKind::ConfigMap] {
        let store = ObjectStore::new(client.clone(), kind);
        let metas = match store.list_meta_all(None, &selector).await {
            Ok(m) => m,
            Err(_) => match store.list_meta_all(Some(&scope.namespace), &selector).await {
                Ok(m) => m,
                Err(_) => continue,
            },
        };
        let namespaces: BTreeSet<String> = metas.into_iter().map(|m| m.namespace).collect();
        for namespace in namespaces {
            let place = Place::Helm3 { kind, namespace };
            if !located.elsewhere.contains(&place) {
                located.elsewhere.push(place);
            }
        }
    }
    let selector = format!("NAME={name},{HELM2_LIST_SELECTOR}");
    for kind in [ObjectKind::ConfigMap, ObjectKind::Secret] {
        let store = ObjectStore::new(client.clone(), kind);
        let metas = match store.list_meta_all(None, &selector).await {
            Ok(m) => m,
            Err(_) => match store.list_meta_all(Some(&scope.default_tiller_namespace), &selector).await {
                Ok(m) => m,
                Err(_) => continue,
            },
        };
        let tillers: BTreeSet<String> = metas.into_iter().map(|m| m.namespace).collect();
        for tiller in tillers {
            if located
                .elsewhere
                .iter()
                .any(|p| matches!(p, Place::Helm2 { kind: k, tiller_namespace, .. } if *k == kind && *tiller_namespace == tiller))
            {
                continue;
            }
            let store = Helm2Store::new(client.clone(), &tiller, helm2_storage(kind), scope.limits);
            let release_namespace = match store.history(name).await {
                Ok(l) => l.records.iter().max_by_key(|r| r.release.version).map(|r| r.release.namespace.clone()).unwrap_or_default(),
                Err(_) => String::new(),
            };
            located.elsewhere.push(Place::Helm2 { kind, tiller_namespace: tiller, release_namespace });
        }
    }
}

/// Every Helm 3 record of the scope's kinds, decoded as summaries (for verbs over many releases).
pub async fn helm3_summaries(
    client: &kube::Client,
    scope: &ReleaseScope,
) -> Result<Vec<(ObjectKind, Listing<super::Helm3Summary>)>, AppError> {
    let mut out = Vec::new();
    for kind in &scope.helm3_kinds {
        let store = super::Helm3Store::new(client.clone(), helm3_driver(*kind), scope.limits);
        match store.list_summaries(scope.helm3_namespace(), None).await {
            Ok(l) => out.push((*kind, l)),
            Err(e) if forbidden(&e) && scope.all_namespaces => {
                return Err(AppError::Failed(format!(
                    "you lack the right to list {} in all namespaces (cluster-wide), which -A needs: {}; use -n NAMESPACE instead",
                    kinds_plural(*kind),
                    crate::error::describe_kube_error(&e)
                )));
            }
            Err(e) => return Err(AppError::kube(&e)),
        }
    }
    Ok(out)
}

/// Every Helm 2 record of the scope (no release names given: the release-namespace filter of a listing).
pub async fn helm2_records(client: &kube::Client, scope: &ReleaseScope) -> Result<(Listing<Helm2Record>, Vec<String>), AppError> {
    let mut listing: Listing<Helm2Record> = Listing::default();
    let mut warnings = Vec::new();
    let records_ns = scope.helm2_records_namespace();
    for kind in &scope.helm2_kinds {
        let store = ObjectStore::new(client.clone(), *kind);
        let limits = scope.limits;
        let decode = move |raw: RawObject| super::helm2::decode_record(raw, &limits);
        let part = match super::listing::list_decoded(&store, records_ns, HELM2_LIST_SELECTOR, decode).await {
            Ok(p) => p,
            Err(e) if forbidden(&e) && records_ns.is_none() && !scope.all_namespaces => {
                let t = scope.default_tiller_namespace.clone();
                match super::listing::list_decoded(&store, Some(&t), HELM2_LIST_SELECTOR, decode).await {
                    Ok(p) => p,
                    Err(e) if forbidden(&e) && scope.helm_version != Some(2) => {
                        warnings.push(format!("skipping Helm 2 releases: no right to list {} in namespace {t}", kinds_plural(*kind)));
                        continue;
                    }
                    Err(e) => return Err(AppError::kube(&e)),
                }
            }
            Err(e) if forbidden(&e) && scope.helm_version != Some(2) => {
                warnings.push(format!(
                    "skipping Helm 2 releases: no right to list {}: {}",
                    kinds_plural(*kind),
                    crate::error::describe_kube_error(&e)
                ));
                continue;
            }
            Err(e) => return Err(AppError::kube(&e)),
        };
        listing.extend(part);
    }
    if let Some(ns) = scope.helm2_release_namespace(false) {
        listing.records.retain(|r| r.release.namespace == ns);
        // A damaged Tiller record cannot say its release namespace: not this scope's failure.
        let unknown = std::mem::take(&mut listing.errors);
        warnings.extend(unknown.into_iter().map(|e| format!("{e} (a damaged Helm 2 record; its release namespace is unknown)")));
    }
    Ok((listing, warnings))
}

/// Every record object (payload as stored) of the releases `located` found.
pub async fn raw_records(client: &kube::Client, name: &str, found: &Found) -> Result<Vec<RawObject>, kube::Error> {
    let store = ObjectStore::new(client.clone(), found.place.kind());
    let selector = match &found.place {
        Place::Helm3 { .. } => helm3_history_selector(name),
        Place::Helm2 { .. } => format!("NAME={name},{HELM2_LIST_SELECTOR}"),
    };
    let mut out = list_raw(&store, Some(found.place.records_namespace()), &selector).await?;
    if let Some(listing) = &found.helm2 {
        // records found by object name although their NAME label is missing or different
        for r in &listing.records {
            if !out.iter().any(|o| o.info.name == r.object.name)
                && let Some(raw) = store.get(&r.object.namespace, &r.object.name).await?
            {
                out.push(raw);
            }
        }
    }
    Ok(out)
}

/// Every full object matching `selector`, following `continue` tokens.
pub async fn list_raw(store: &ObjectStore, ns: Option<&str>, selector: &str) -> Result<Vec<RawObject>, kube::Error> {
    let mut out = Vec::new();
    let mut cursor: Option<super::objects::Cursor> = None;
    loop {
        let page = store.list_page(ns, selector, PAYLOAD_PAGE, cursor.as_ref()).await?;
        out.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// Every record object of the scope, no names given (export): Helm 3 records of the scope's kinds and
/// namespace, Helm 2 records of releases in scope (a damaged Helm 2 release whose namespace cannot be
/// told is left out, with a warning, unless `-A`).
pub async fn raw_records_in_scope(client: &kube::Client, scope: &ReleaseScope) -> Result<(Vec<RawObject>, Vec<String>), AppError> {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for kind in &scope.helm3_kinds {
        let store = ObjectStore::new(client.clone(), *kind);
        out.extend(list_raw(&store, scope.helm3_namespace(), HELM3_LIST_SELECTOR).await.map_err(|e| AppError::kube(&e))?);
    }
    for kind in &scope.helm2_kinds {
        let store = ObjectStore::new(client.clone(), *kind);
        let records_ns = scope.helm2_records_namespace();
        let raws = match list_raw(&store, records_ns, HELM2_LIST_SELECTOR).await {
            Ok(r) => r,
            Err(e) if forbidden(&e) && records_ns.is_none() && !scope.all_namespaces => {
                match list_raw(&store, Some(&scope.default_tiller_namespace), HELM2_LIST_SELECTOR).await {
                    Ok(r) => r,
                    Err(e) if forbidden(&e) && scope.helm_version != Some(2) => {
                        warnings.push(format!("cannot read Helm 2 records: {}", crate::error::describe_kube_error(&e)));
                        continue;
                    }
                    Err(e) => return Err(AppError::kube(&e)),
                }
            }
            Err(e) if forbidden(&e) && scope.helm_version != Some(2) => {
                warnings.push(format!("cannot read Helm 2 records: {}", crate::error::describe_kube_error(&e)));
                continue;
            }
            Err(e) => return Err(AppError::kube(&e)),
        };
        match scope.helm2_release_namespace(false) {
            None => out.extend(raws),
            Some(ns) => {
                // A release is in scope when its decodable records say so.
                let mut groups: BTreeMap<(String, String), Vec<RawObject>> = BTreeMap::new();
                for raw in raws {
                    let release = codec::parse_helm2_labels(&raw.info.labels)
                        .name
                        .or_else(|| codec::parse_helm2_object_name(&raw.info.name).map(|(n, _)| n.to_string()))
                        .unwrap_or_else(|| raw.info.name.clone());
                    groups.entry((raw.info.namespace.clone(), release)).or_default().push(raw);
                }
                for ((tiller, release), raws) in groups {
                    let namespaces: BTreeSet<String> = raws
                        .iter()
                        .filter_map(|r| r.payload.as_deref().and_then(|p| codec::decode_helm2(p, &scope.limits).ok()))
                        .map(|r| r.namespace)
                        .collect();
                    if namespaces.is_empty() {
                        warnings.push(format!(
                            "Helm 2 release {release} in namespace {tiller}: no record can be decoded, so its release namespace is unknown; not exported (use -A, or name it)"
                        ));
                    } else if namespaces.contains(ns) {
                        out.extend(raws);
                    }
                }
            }
        }
    }
    Ok((out, warnings))
}
