//! Live cluster objects that are not release records: which resource types exist (`discovery`) and reading and
//! patching single objects (`objects`). Used by `adopt`, `annotate` and `migrate2to3`; a release's objects as
//! `status --show-resources` shows them (`resources`).

pub mod discovery;
pub mod objects;
pub mod resources;
pub mod targets;

pub use discovery::{ResolveError, ResolvedResource, ResourceCatalog};
pub use objects::PatchError;
