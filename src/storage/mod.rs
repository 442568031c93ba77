//! Release storage: codecs and drivers. The only code that reads or writes release records.

pub mod codec;
pub mod helm2;
pub mod helm3;
pub mod listing;
pub mod objects;

pub use helm2::{Helm2Record, Helm2Store};
pub use helm3::{Helm3Record, Helm3Store, Helm3Summary, WriteError};
pub use listing::{Listing, RecordError};
pub use objects::{NewObject, ObjectInfo, ObjectKind};
