//! Live cluster objects that are not release records: which resource types exist (`discovery`) and reading and
//! patching single objects (`objects`), field ownership and server-side apply (`fields`). Used by `adopt`, `annotate` and `migrate2to3`.

pub mod discovery;
pub mod fields;
pub mod objects;
pub mod targets;

pub use discovery::{ResolveError, ResolvedResource, ResourceCatalog};
pub use objects::PatchError;
