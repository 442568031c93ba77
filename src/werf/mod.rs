//! werf's naming rules (release and namespace slugs) and werf.yaml.
//!
//! - [`slug`]: werf's slug algorithm (`slug_release`, `slug_namespace`) with its transliteration
//!   table compiled in, and [`murmur3`] for the hash suffix.
//! - [`template`]: `[[ project ]]` / `[[ env ]]` / `[[ namespace ]]` templates.
//! - [`config`]: the meta section of werf.yaml.
//! - [`naming`]: release/namespace resolution from flags and werf.yaml, used by every verb.
//!
//! Everything here is pure except reading the werf.yaml file named by the caller.

pub mod config;
pub mod murmur3;
pub mod naming;
pub mod slug;
pub mod template;

pub use config::{WerfConfig, WerfConfigError, discover_werf_config, load_werf_config, parse_werf_config, werf_config_file};
pub use murmur3::murmur3_32;
pub use naming::{NameSource, NamingError, NamingInput, ResolvedNames, resolve_names};
pub use slug::{slug_namespace, slug_release};
pub use template::{Template, TemplateError};
