//! `plugin.yaml` (the Helm plugin `helm werf-releases`) in Helm's legacy format, which Helm 3 parses
//! strictly and Helm 4 still loads: no `apiVersion`, only the legacy keys, a valid name, the crate's
//! version, and a command that runs kubectl-werf.

use std::fs;
use std::path::PathBuf;

use serde_json::Value;

const LEGACY_KEYS: &[&str] =
    &["name", "version", "usage", "description", "command", "platformCommand", "ignoreFlags", "downloaders", "useTunnel"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn crate_version() -> String {
    let text = fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let mut in_package = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && line.starts_with("version") && line.contains('=') {
            return line.split_once('=').unwrap().1.trim().trim_matches('"').to_string();
        }
    }
    panic!("no version in the [package] table of Cargo.toml");
}

fn plugin() -> Value {
    let text = fs::read_to_string(repo().join("plugin.yaml")).unwrap();
    serde_saphyr::from_str::<Value>(&text).unwrap()
}

fn names_kubectl_werf(command: &str) -> bool {
    command.split(' ').next().is_some_and(|program| program.rsplit('/').next() == Some("kubectl-werf"))
}

#[test]
fn plugin_yaml_is_in_helms_legacy_format() {
    let plugin = plugin();
    let map = plugin.as_object().expect("plugin.yaml is a mapping");
    assert!(!map.contains_key("apiVersion"), "apiVersion makes Helm 3 read the Helm 4 format (and reject it)");
    for key in map.keys() {
        assert!(LEGACY_KEYS.contains(&key.as_str()), "plugin.yaml: {key:?} is not a legacy plugin.yaml field");
    }

    let name = plugin["name"].as_str().expect("name");
    assert!(
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
        "name {name:?} does not match ^[A-Za-z0-9_-]+$"
    );
    assert_eq!(name, "werf-releases");
    assert_eq!(plugin["version"].as_str(), Some(crate_version().as_str()), "version is the crate version");
    for key in ["usage", "description"] {
        assert!(plugin[key].as_str().is_some_and(|s| !s.trim().is_empty()), "{key} is set");
    }
    if let Some(flag) = plugin.get("ignoreFlags") {
        assert!(flag.is_boolean(), "ignoreFlags is a boolean");
    }

    // Helm splits `command` on spaces and expands env vars, without a shell.
    let command = plugin["command"].as_str().expect("command names kubectl-werf");
    assert!(names_kubectl_werf(command), "command {command:?} does not run kubectl-werf");
    assert!(!command.contains(['|', ';', '&', '>', '<', '`', '\'', '"']), "command {command:?} needs a shell");
    if let Some(platforms) = plugin.get("platformCommand") {
        for p in platforms.as_array().expect("platformCommand is a list") {
            let object = p.as_object().expect("platformCommand entries are mappings");
            for key in object.keys() {
                assert!(["os", "arch", "command"].contains(&key.as_str()), "platformCommand: {key:?} breaks Helm 3 < 3.18");
            }
            assert!(p["command"].as_str().is_some_and(names_kubectl_werf), "{p}");
        }
    }
    // No hooks: Helm runs legacy hooks through `sh -c`, which Windows lacks, and the plugin needs none.
    assert!(plugin.get("hooks").is_none(), "plugin.yaml must not need a hook");
    // Helm 4's fields must not be mixed into the legacy file (Helm 4 then refuses it).
    for key in ["apiVersion", "type", "runtime", "runtimeConfig", "config", "platformHooks"] {
        assert!(plugin.get(key).is_none(), "{key:?} is a Helm 4 (apiVersion: v1) field");
    }
    assert!(
        !(plugin.get("command").is_some() && plugin.get("platformCommand").is_some()),
        "Helm 4 refuses command together with platformCommand"
    );
}

/// scripts/helm-plugin rewrites only `version` and `command` of this file for a platform's tarball;
/// both lines must be there, each exactly once.
#[test]
fn the_packaging_script_finds_the_lines_it_rewrites() {
    let text = fs::read_to_string(repo().join("plugin.yaml")).unwrap();
    for key in ["version:", "command:"] {
        assert_eq!(text.lines().filter(|l| l.starts_with(key)).count(), 1, "plugin.yaml: one top-level {key} line");
    }
}
