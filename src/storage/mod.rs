//! Release storage: codecs and drivers. The only code that reads or writes release records.
//!
//! Inside, from the bottom up: `record_object` (a record object, whichever kind holds it), `shape`,
//! `codec`, `drivers`; `protobuf` and `rawlist` (LIST answers); `objects` (the object store and its
//! settled writes); `helm3`, `helm2`, `listing`, `backup`; `scope` (which releases a command line selects).

pub mod backup;
pub mod codec;
pub mod drivers;
pub mod helm2;
pub mod helm3;
pub mod listing;
pub mod objects;
pub mod protobuf;
pub mod rawlist;
pub mod record_object;
pub mod scope;
pub mod shape;
pub mod texts;

pub use drivers::{Helm2Storage, Helm3Driver, StorageSettings};
pub use helm2::{Helm2Record, Helm2Store};
pub use helm3::{Helm3Record, Helm3Store, Helm3Summary, WriteError};
pub use listing::{Listing, RecordError};
pub use objects::{NewObject, ObjectInfo, ObjectKind};

/// Both stores as the user's storage settings describe them.
pub fn open_stores(client: &kube::Client, settings: &StorageSettings) -> (Helm3Store, Helm2Store) {
    let limits = codec::DecodeLimits { max_decompressed: settings.max_decompressed_bytes };
    (
        Helm3Store::new(client.clone(), settings.helm3_driver, limits),
        Helm2Store::new(client.clone(), &settings.helm2_namespace, settings.helm2_storage, limits),
    )
}
