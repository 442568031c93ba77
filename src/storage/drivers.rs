//! The storage drivers and where records live, as the settings resolved them (`settings` reads them
//! from flags and environment; storage only uses them).

/// The Helm 3 storage driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Helm3Driver {
    Secret,
    ConfigMap,
}

impl Helm3Driver {
    pub fn as_str(self) -> &'static str {
        match self {
            Helm3Driver::Secret => "secret",
            Helm3Driver::ConfigMap => "configmap",
        }
    }
}

/// Which kinds of object hold Helm 2 (Tiller) records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Helm2Storage {
    ConfigMap,
    Secret,
    /// Look in both; a release found in both is reported.
    Auto,
}

/// Where release records live, resolved once and shared by every verb.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageSettings {
    /// Helm 3 records always live in the release's own namespace; this picks Secrets or ConfigMaps.
    pub helm3_driver: Helm3Driver,
    /// Tiller's namespace.
    pub helm2_namespace: String,
    pub helm2_storage: Helm2Storage,
    /// Largest decompressed payload accepted, in bytes.
    pub max_decompressed_bytes: u64,
    /// `--release-storage` (or `WERF_RELEASE_STORAGE`/`HELM_DRIVER`) picked the driver; otherwise
    /// reads cover both drivers (see `storage::scope`).
    pub helm3_driver_chosen: bool,
    /// The Tiller namespace was named (flag or variable); otherwise Helm 2 records are looked for in
    /// every namespace.
    pub helm2_namespace_chosen: bool,
}
