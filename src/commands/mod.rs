//! One module per verb.

pub mod release_name;
pub mod version;
