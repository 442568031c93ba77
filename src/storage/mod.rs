//! Release storage: codecs and drivers. The only code that reads or writes release records.

pub mod codec;
