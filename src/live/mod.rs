//! Live cluster objects that are not release records: which resource types exist (`discovery`) and reading and
//! patching single objects (`objects`), field ownership and server-side apply (`fields`), and a release's
//! objects as `status --show-resources` shows them (`resources`). Used by `adopt`, `annotate`, `migrate2to3`
//! and `releases status`; the Helm-managed objects and drift (`managed`, `compare`) for `releases doctor`.

pub mod compare;
pub mod discovery;
pub mod fields;
pub mod managed;
pub mod objects;
pub mod resources;
pub mod targets;

pub use discovery::{ResolveError, ResolvedResource, ResourceCatalog};
pub use objects::PatchError;
