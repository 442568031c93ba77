//! Packaging for krew: the distribution archive made by `scripts/dist`, and `plugins/werf.yaml`
//! checked against krew's rules (those of krew's manifest validation and krew-index's review).
//!
//! # Where the archive comes from
//! By default the test packs the binary of this very test build: `scripts/dist --binary
//! $CARGO_BIN_EXE_kubectl-werf --strip-debug --out $CARGO_TARGET_TMPDIR/packaging-krew/dist`. The checks are
//! of the packing (layout, modes, reproducibility, the manifest, that the packed program runs and completes),
//! which an optimized binary does not change; building one (`--release`, thin LTO) cost CI about 350 s. The
//! man page and `kubectl_complete-werf` come from the same build (`target/debug/build/kubectl-werf-*/out/`,
//! `target/debug/`). With `KUBECTL_WERF_DIST_DIR=DIR` it takes the host platform's archive from DIR instead
//! (the release workflow points it at what `scripts/dist` just made from the release build) and skips the
//! repacking check, which needs the binary the archive was packed from.
//!
//! # The rule for the committed sha256
//! The binary embeds the commit it was built from (`kubectl werf version`), so the archive of a
//! commit can never be described by a manifest committed in that same commit: committing the
//! manifest makes a new commit, hence a new binary and a new hash. A check "the committed hash
//! equals the archive of the current checkout" (or of the tag, at a tag) cannot hold, so it is
//! not made. Instead:
//! - the committed manifest must be valid by krew's rules, and its hashes well-formed: each one is
//!   real, the sha256 of an archive `scripts/dist` built (packaging/README.md says from which
//!   commit); placeholder platforms are not allowed, only platforms with a real archive appear;
//! - `scripts/dist --update-manifest` applied to a copy of the manifest must give a valid manifest
//!   carrying the fresh archive's hash for this platform, and change nothing else;
//! - `scripts/krew-manifest` fed with archives of all five platforms (what the release workflow
//!   does) must give a valid manifest with their hashes and the given repository's URLs;
//! - when HEAD is exactly a `v*` tag, that tag must be `v` + the crate version (what the release
//!   workflow publishes). The manifest to submit to krew-index is the release asset that the
//!   workflow writes from the tag's archives, not the committed file.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

const API_VERSION: &str = "krew.googlecontainertools.github.com/v1alpha2";
/// The <os, arch> pairs krew's `validate-krew-manifest` checks selectors against (`allPlatforms`).
const KREW_PLATFORMS: &[(&str, &str)] = &[
    ("windows", "386"),
    ("windows", "amd64"),
    ("windows", "arm64"),
    ("linux", "386"),
    ("linux", "amd64"),
    ("linux", "arm"),
    ("linux", "arm64"),
    ("linux", "ppc64le"),
    ("darwin", "386"),
    ("darwin", "amd64"),
    ("darwin", "arm64"),
];
/// Names krew's validation refuses as plugin names (Windows device names).
const WINDOWS_RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9", "LPT1", "LPT2", "LPT3", "LPT4",
    "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];
/// File names krew's validation accepts as the license an installation must extract.
const LICENSE_FILES: &[&str] =
    &["license", "license.txt", "license.md", "licenses", "licenses.txt", "licenses.md", "copying", "copying.txt"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `version` of Cargo.toml's `[package]` table, read from the file itself.
fn crate_version() -> String {
    let text = fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(rest) = line.strip_prefix("version") {
            let value = rest.trim_start().strip_prefix('=').expect("version = \"...\"").trim();
            let version = value.trim_matches('"').to_string();
            assert_eq!(version, env!("CARGO_PKG_VERSION"));
            return version;
        }
    }
    panic!("no version in the [package] table of Cargo.toml");
}

fn yaml_file(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn sha256_hex(path: &Path) -> String {
    let out = run(Command::new("sha256sum").arg(path));
    out.split_whitespace().next().unwrap().to_string()
}

/// The os/arch words krew uses for the machine running the tests.
fn host_platform() -> (&'static str, &'static str) {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    (os, arch)
}

fn archive_name(version: &str, os: &str, arch: &str) -> String {
    let ext = if os == "windows" { "zip" } else { "tar.gz" };
    format!("kubectl-werf_v{version}_{os}_{arch}.{ext}")
}

// ---------------------------------------------------------------------------------------------
// krew's rules

fn str_at<'a>(v: &'a Value, key: &str, errors: &mut Vec<String>, what: &str) -> Option<&'a str> {
    match v.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
        Some(Value::String(_)) => {
            errors.push(format!("{what}.{key} is empty"));
            None
        }
        Some(other) => {
            errors.push(format!("{what}.{key} must be a string, not {other}"));
            None
        }
        None => {
            errors.push(format!("{what}.{key} is missing"));
            None
        }
    }
}

fn only_keys(v: &Value, allowed: &[&str], what: &str, errors: &mut Vec<String>) {
    match v.as_object() {
        Some(map) => {
            for key in map.keys() {
                if !allowed.contains(&key.as_str()) {
                    errors.push(format!("{what}: unknown field {key:?}"));
                }
            }
        }
        None => errors.push(format!("{what} must be a mapping")),
    }
}

fn is_semver_with_v(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else { return false };
    let core = rest.split(['-', '+']).next().unwrap();
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (p == &"0" || !p.starts_with('0')))
        && rest[core.len()..].bytes().all(|b| b.is_ascii_alphanumeric() || b"-+.".contains(&b))
}

/// Where krew puts a file entry: `to` is a directory relative to the plugin's install directory
/// (`.` is the directory itself) into which `from` is moved.
fn installed_path(from: &str, to: &str) -> String {
    let base = from.rsplit('/').next().unwrap();
    let dir = to.trim_start_matches("./").trim_end_matches('/');
    if dir.is_empty() || dir == "." { base.to_string() } else { format!("{dir}/{base}") }
}

/// Every way `manifest` breaks krew's rules (and this project's packaging conventions).
fn krew_violations(manifest: &Value, crate_version: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let e = &mut errors;
    only_keys(manifest, &["apiVersion", "kind", "metadata", "spec"], "manifest", e);
    if manifest.get("apiVersion").and_then(Value::as_str) != Some(API_VERSION) {
        e.push(format!("apiVersion must be {API_VERSION}"));
    }
    if manifest.get("kind").and_then(Value::as_str) != Some("Plugin") {
        e.push("kind must be Plugin".into());
    }
    let metadata = manifest.get("metadata").cloned().unwrap_or(Value::Null);
    only_keys(&metadata, &["name"], "metadata", e);
    match str_at(&metadata, "name", e, "metadata") {
        Some("werf") => {}
        Some(other) => {
            if !other.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-')
                || WINDOWS_RESERVED.iter().any(|r| r.eq_ignore_ascii_case(other))
            {
                e.push(format!("metadata.name {other:?} is not a name krew allows (^[\\w-]+$, no Windows device name)"));
            }
            e.push(format!("metadata.name must be werf (the plugin is `kubectl werf`), not {other:?}"));
        }
        None => {}
    }
    let Some(spec) = manifest.get("spec") else {
        e.push("spec is missing".into());
        return errors;
    };
    only_keys(spec, &["version", "homepage", "shortDescription", "description", "caveats", "platforms"], "spec", e);

    let version = str_at(spec, "version", e, "spec").unwrap_or_default().to_string();
    if !is_semver_with_v(&version) {
        e.push(format!("spec.version {version:?} is not v + a semantic version"));
    }
    if version != format!("v{crate_version}") {
        e.push(format!("spec.version {version:?} is not v + the crate version {crate_version}"));
    }
    if let Some(homepage) = str_at(spec, "homepage", e, "spec")
        && !homepage.starts_with("https://")
    {
        e.push(format!("spec.homepage {homepage:?} is not an https URL"));
    }
    if let Some(short) = str_at(spec, "shortDescription", e, "spec") {
        if short.chars().count() > 50 {
            e.push(format!("spec.shortDescription is {} characters, at most 50", short.chars().count()));
        }
        if short.contains(['\n', '\r']) {
            e.push("spec.shortDescription must be a single line".into());
        }
    }
    if let Some(description) = str_at(spec, "description", e, "spec") {
        for (n, line) in description.lines().enumerate() {
            if line.chars().count() > 80 {
                e.push(format!("spec.description line {} is wider than 80 columns", n + 1));
            }
            let t = line.trim_start();
            let lower = t.to_ascii_lowercase();
            if ["kubectl werf", "helm werf-releases", "$", "#", "```", "usage:", "example"].iter().any(|p| lower.starts_with(p)) {
                e.push(format!("spec.description line {} looks like a usage example: {t:?}", n + 1));
            }
        }
    }
    if let Some(caveats) = str_at(spec, "caveats", e, "spec") {
        // Caveats are what users must know after installing, not a manual.
        if caveats.lines().count() > 10 {
            e.push(format!("spec.caveats has {} lines, at most 10: put usage in the README", caveats.lines().count()));
        }
        for (n, line) in caveats.lines().enumerate() {
            if line.chars().count() > 80 {
                e.push(format!("spec.caveats line {} is wider than 80 columns", n + 1));
            }
            let lower = line.trim_start().to_ascii_lowercase();
            if ["kubectl werf ", "usage:", "examples:", "flags:"].iter().any(|p| lower.starts_with(p)) {
                e.push(format!("spec.caveats line {} is usage, not a caveat: {:?}", n + 1, line.trim()));
            }
            if line.contains("/store/") {
                e.push(format!("spec.caveats line {} names a versioned store path, which krew upgrade removes", n + 1));
            }
        }
    }

    let platforms = match spec.get("platforms").and_then(Value::as_array) {
        Some(p) if !p.is_empty() => p.clone(),
        _ => {
            e.push("spec.platforms must list at least one platform".into());
            Vec::new()
        }
    };
    let mut selectors: Vec<(usize, Value)> = Vec::new();
    for (i, p) in platforms.iter().enumerate() {
        let what = format!("spec.platforms[{i}]");
        only_keys(p, &["selector", "uri", "sha256", "files", "bin"], &what, e);
        let selector = p.get("selector").cloned().unwrap_or(Value::Null);
        selector_violations(&selector, &format!("{what}.selector"), e);
        let labels = selector.get("matchLabels").and_then(Value::as_object).cloned().unwrap_or_default();
        let os = labels.get("os").and_then(Value::as_str).unwrap_or_default().to_string();
        let arch = labels.get("arch").and_then(Value::as_str).unwrap_or_default().to_string();
        let matched: Vec<_> = KREW_PLATFORMS.iter().filter(|(o, a)| selector_matches(&selector, o, a)).collect();
        if matched.is_empty() {
            e.push(format!("{what}: the selector matches no platform krew supports (os {os:?}, arch {arch:?})"));
        }
        // This project publishes one archive per platform: each selector names exactly one os and arch.
        if !(labels.contains_key("os") && labels.contains_key("arch")) {
            e.push(format!("{what}: the selector must name one os and one arch (matchLabels os and arch)"));
        }
        selectors.push((i, selector));

        if let Some(uri) = str_at(p, "uri", e, &what) {
            if !uri.starts_with("https://") {
                e.push(format!("{what}.uri {uri:?} is not an https URL"));
            }
            if !(uri.ends_with(".tar.gz") || uri.ends_with(".zip")) {
                e.push(format!("{what}.uri {uri:?} is neither .tar.gz nor .zip"));
            }
            let expected = archive_name(crate_version, &os, &arch);
            if uri.rsplit('/').next() != Some(expected.as_str()) {
                e.push(format!("{what}.uri {uri:?} does not name the archive {expected}"));
            }
        }
        if let Some(sha) = str_at(p, "sha256", e, &what)
            && !(sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        {
            e.push(format!("{what}.sha256 {sha:?} is not 64 lowercase hex digits"));
        }
        let bin = str_at(p, "bin", e, &what).unwrap_or_default().to_string();
        let expected_bin = if os == "windows" { "kubectl-werf.exe" } else { "kubectl-werf" };
        if bin != expected_bin {
            e.push(format!("{what}.bin must be {expected_bin}, not {bin:?}"));
        }
        let files = p.get("files").and_then(Value::as_array).cloned().unwrap_or_default();
        if files.is_empty() {
            e.push(format!("{what}.files must list the files to extract"));
        }
        let mut sources = BTreeSet::new();
        let mut installed = BTreeSet::new();
        for (j, f) in files.iter().enumerate() {
            let fwhat = format!("{what}.files[{j}]");
            only_keys(f, &["from", "to"], &fwhat, e);
            let (Some(from), Some(to)) = (str_at(f, "from", e, &fwhat), str_at(f, "to", e, &fwhat)) else { continue };
            if from.split('/').any(|c| c == "..") || to.split('/').any(|c| c == "..") || to.starts_with('/') {
                e.push(format!("{fwhat}: paths must stay inside the archive and the install directory"));
            }
            sources.insert(from.to_string());
            installed.insert(installed_path(from, to));
        }
        if !sources.contains(expected_bin) {
            e.push(format!("{what}.files do not extract {expected_bin}"));
        }
        if !sources.contains("LICENSE") {
            e.push(format!("{what}.files do not extract LICENSE"));
        }
        if !installed.iter().any(|f| LICENSE_FILES.contains(&f.rsplit('/').next().unwrap().to_ascii_lowercase().as_str())) {
            e.push(format!("{what}.files install no license file krew recognises ({LICENSE_FILES:?})"));
        }
        if !bin.is_empty() && !installed.contains(&bin) {
            e.push(format!("{what}.bin {bin:?} is not where any file is installed ({installed:?})"));
        }
    }
    // As krew's validate-krew-manifest: no supported <os, arch> may be matched by two platforms.
    for (os, arch) in KREW_PLATFORMS {
        let matching: Vec<usize> = selectors.iter().filter(|(_, s)| selector_matches(s, os, arch)).map(|(i, _)| *i).collect();
        if matching.len() > 1 {
            e.push(format!("spec.platforms{matching:?} have overlapping selectors: each selects os={os}/arch={arch}"));
        }
    }
    errors
}

/// krew's `validateSelector`: present, not empty, only the keys os and arch, and a `matchLabels` or
/// `matchExpressions` that is given is not empty; expressions use Kubernetes' operators.
fn selector_violations(selector: &Value, what: &str, e: &mut Vec<String>) {
    let Some(map) = selector.as_object() else {
        e.push(format!("{what}: a platform needs a selector"));
        return;
    };
    only_keys(selector, &["matchLabels", "matchExpressions"], what, e);
    let labels = map.get("matchLabels");
    let exprs = map.get("matchExpressions");
    if labels.is_none() && exprs.and_then(Value::as_array).is_none_or(|a| a.is_empty()) {
        e.push(format!("{what}: an empty selector is not supported"));
    }
    if let Some(l) = labels {
        match l.as_object() {
            Some(m) if m.is_empty() => e.push(format!("{what}: matchLabels specified but empty")),
            Some(m) => {
                for (k, v) in m {
                    if k != "os" && k != "arch" {
                        e.push(format!("{what}.matchLabels: unknown label {k:?} (only os and arch)"));
                    }
                    if !v.is_string() {
                        e.push(format!("{what}.matchLabels.{k} must be a string"));
                    }
                }
            }
            None => e.push(format!("{what}.matchLabels must be a mapping")),
        }
    }
    if let Some(x) = exprs {
        match x.as_array() {
            Some(a) if a.is_empty() => e.push(format!("{what}: matchExpressions specified but empty")),
            Some(a) => {
                for (j, expr) in a.iter().enumerate() {
                    let key = expr.get("key").and_then(Value::as_str).unwrap_or_default();
                    if key != "os" && key != "arch" {
                        e.push(format!("{what}.matchExpressions[{j}]: unknown label {key:?} (only os and arch)"));
                    }
                    let op = expr.get("operator").and_then(Value::as_str).unwrap_or_default();
                    let n = expr.get("values").and_then(Value::as_array).map_or(0, Vec::len);
                    let ok = match op {
                        "In" | "NotIn" => n > 0,
                        "Exists" | "DoesNotExist" => n == 0,
                        _ => false,
                    };
                    if !ok {
                        e.push(format!("{what}.matchExpressions[{j}]: operator {op:?} with {n} values is not a valid requirement"));
                    }
                }
            }
            None => e.push(format!("{what}.matchExpressions must be a list")),
        }
    }
}

/// Whether a label selector selects the labels {os, arch}, as Kubernetes' LabelSelectorAsSelector does.
fn selector_matches(selector: &Value, os: &str, arch: &str) -> bool {
    let label = |k: &str| match k {
        "os" => Some(os),
        "arch" => Some(arch),
        _ => None,
    };
    let labels_ok = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .is_none_or(|m| m.iter().all(|(k, v)| label(k).is_some_and(|l| v.as_str() == Some(l))));
    let exprs_ok = selector.get("matchExpressions").and_then(Value::as_array).is_none_or(|a| {
        a.iter().all(|x| {
            let value = label(x.get("key").and_then(Value::as_str).unwrap_or_default());
            let values: Vec<&str> =
                x.get("values").and_then(Value::as_array).map(|v| v.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
            match x.get("operator").and_then(Value::as_str).unwrap_or_default() {
                "In" => value.is_some_and(|v| values.contains(&v)),
                "NotIn" => value.is_none_or(|v| !values.contains(&v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
    });
    selector.is_object() && labels_ok && exprs_ok
}

fn assert_valid(manifest: &Value, what: &str) {
    let errors = krew_violations(manifest, &crate_version());
    assert!(errors.is_empty(), "{what} breaks krew's rules:\n  {}", errors.join("\n  "));
}

fn platform<'a>(manifest: &'a Value, os: &str, arch: &str) -> Option<&'a Value> {
    manifest["spec"]["platforms"]
        .as_array()?
        .iter()
        .find(|p| p["selector"]["matchLabels"]["os"] == os && p["selector"]["matchLabels"]["arch"] == arch)
}

// ---------------------------------------------------------------------------------------------
// The committed manifest

#[test]
fn committed_manifest_follows_krews_rules() {
    let manifest = yaml_file(&repo().join("plugins/werf.yaml"));
    assert_valid(&manifest, "plugins/werf.yaml");
    // The platform built here is always there (with a real hash, see the module doc).
    assert!(platform(&manifest, "linux", "amd64").is_some(), "plugins/werf.yaml lacks linux/amd64");
    // The caveats tell how to get completion (without a versioned path) and what permissions are needed.
    let caveats = manifest["spec"]["caveats"].as_str().unwrap();
    for needle in ["kubectl_complete-werf", "~/.krew/bin", "-A", "Secrets", "ConfigMaps", "README"] {
        assert!(caveats.contains(needle), "caveats do not mention {needle:?}");
    }
}

#[test]
fn committed_manifest_is_in_the_generators_layout() {
    // scripts/krew-manifest reads back only the layout it writes, so the committed file must be
    // exactly its output: regenerate the host entry from a stand-in archive into a copy, put the
    // committed hash back, and the text must not change.
    let committed = fs::read_to_string(repo().join("plugins/werf.yaml")).unwrap();
    let manifest = serde_saphyr::from_str::<Value>(&committed).unwrap();
    let entry = platform(&manifest, "linux", "amd64").expect("linux/amd64 in plugins/werf.yaml");
    let uri = entry["uri"].as_str().unwrap();
    let (base_url, name) = uri.rsplit_once('/').unwrap();

    let work = fresh_dir("layout");
    let content = work.join("content");
    fs::create_dir_all(&content).unwrap();
    let files: Vec<&str> = entry["files"].as_array().unwrap().iter().map(|f| f["from"].as_str().unwrap()).collect();
    for file in &files {
        fs::write(content.join(file), "stand-in\n").unwrap();
    }
    let archive = work.join(name);
    run(Command::new("tar").arg("-czf").arg(&archive).arg("-C").arg(&content).args(&files));
    let copy = work.join("werf.yaml");
    fs::write(&copy, &committed).unwrap();
    run(Command::new(repo().join("scripts/krew-manifest"))
        .arg("--manifest")
        .arg(&copy)
        .arg("--in-place")
        .args(["--base-url", base_url])
        .arg(&archive));
    let regenerated = fs::read_to_string(&copy).unwrap().replace(&sha256_hex(&archive), entry["sha256"].as_str().unwrap());
    assert_eq!(regenerated, committed, "plugins/werf.yaml is not in the layout scripts/krew-manifest writes");
}

/// When HEAD of the git repository `dir` is exactly a `v*` tag: `Ok(tag)` if the tag is `v` + the crate
/// version and `plugins/werf.yaml` there says that version, else what is wrong. `None` when HEAD is not at
/// a `v*` tag (or `dir` is no git repository).
fn tag_violation(dir: &Path) -> Option<Result<String, String>> {
    let out = Command::new("git").args(["describe", "--exact-match", "--tags", "HEAD"]).current_dir(dir).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let tag = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !tag.starts_with('v') {
        return None;
    }
    let want = format!("v{}", crate_version());
    if tag != want {
        return Some(Err(format!("HEAD is tagged {tag}, Cargo.toml says {}", crate_version())));
    }
    let manifest = yaml_file(&dir.join("plugins/werf.yaml"));
    if manifest["spec"]["version"] != tag.as_str() {
        return Some(Err(format!("HEAD is tagged {tag}, plugins/werf.yaml says {}", manifest["spec"]["version"])));
    }
    Some(Ok(tag))
}

/// The tag rule, run for real in a scratch repository holding this checkout's plugins/werf.yaml (so it
/// cannot pass by never meeting a tag), then on this checkout when it is at a tag.
#[test]
fn a_tag_at_head_names_the_crate_version() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let work = dir.path().join("repo");
    fs::create_dir_all(work.join("plugins")).unwrap();
    fs::create_dir_all(&home).unwrap();
    fs::copy(repo().join("plugins/werf.yaml"), work.join("plugins/werf.yaml")).unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "tag.gpgSign=false", "-c", "commit.gpgSign=false"])
            .args(args)
            .current_dir(&work)
            .env("HOME", &home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git is needed for the tag rule");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    git(&["init", "-q"]);
    git(&["add", "plugins/werf.yaml"]);
    git(&["commit", "-q", "-m", "manifest"]);
    assert_eq!(tag_violation(&work), None, "no tag yet");
    let good = format!("v{}", crate_version());
    git(&["tag", &good]);
    assert_eq!(tag_violation(&work), Some(Ok(good.clone())));
    git(&["commit", "-q", "--allow-empty", "-m", "next"]);
    git(&["tag", "v0.0.0-not-the-crate"]);
    assert_eq!(tag_violation(&work), Some(Err(format!("HEAD is tagged v0.0.0-not-the-crate, Cargo.toml says {}", crate_version()))));
    git(&["tag", "-d", "v0.0.0-not-the-crate"]);
    git(&["tag", "not-a-version"]);
    assert_eq!(tag_violation(&work), None, "only v* tags are release tags");

    match tag_violation(&repo()) {
        None => eprintln!("this checkout's HEAD is not at a v* tag: the rule was checked on the scratch repository only"),
        Some(result) => {
            result.unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

#[test]
fn the_rules_catch_broken_manifests() {
    let good = yaml_file(&repo().join("plugins/werf.yaml"));
    let version = crate_version();
    assert!(krew_violations(&good, &version).is_empty());
    type Breakage = fn(&mut Value);
    let cases: &[(&str, Breakage)] = &[
        ("apiVersion", |m| m["apiVersion"] = "krew.googlecontainertools.github.com/v1alpha1".into()),
        ("kind", |m| m["kind"] = "Plugins".into()),
        ("metadata.name", |m| m["metadata"]["name"] = "kubectl-werf".into()),
        ("spec.version", |m| m["spec"]["version"] = "0.1.0".into()),
        ("the crate version", |m| m["spec"]["version"] = "v9.9.9".into()),
        ("shortDescription", |m| m["spec"]["shortDescription"] = "x".repeat(51).into()),
        ("single line", |m| m["spec"]["shortDescription"] = "two\nlines".into()),
        ("wider than 80 columns", |m| m["spec"]["description"] = format!("{}\n", "w".repeat(81)).into()),
        ("usage example", |m| m["spec"]["description"] = "Lists releases.\n\n  kubectl werf releases list -A\n".into()),
        ("usage example", |m| m["spec"]["description"] = "Lists releases.\n$ helm werf-releases list\n".into()),
        ("caveats", |m| {
            m["spec"].as_object_mut().unwrap().remove("caveats");
        }),
        ("platforms", |m| m["spec"]["platforms"] = Value::Array(vec![])),
        ("overlapping selectors", |m| {
            let first = m["spec"]["platforms"][0].clone();
            m["spec"]["platforms"].as_array_mut().unwrap().push(first);
        }),
        ("overlapping selectors", |m| {
            let mut any_arch = m["spec"]["platforms"][0].clone();
            any_arch["selector"]["matchLabels"].as_object_mut().unwrap().remove("arch");
            any_arch["selector"]["matchLabels"]["os"] = "linux".into();
            m["spec"]["platforms"].as_array_mut().unwrap().push(any_arch);
        }),
        ("os", |m| m["spec"]["platforms"][0]["selector"]["matchLabels"]["os"] = "Linux".into()),
        ("arch", |m| m["spec"]["platforms"][0]["selector"]["matchLabels"]["arch"] = "x86_64".into()),
        ("uri", |m| m["spec"]["platforms"][0]["uri"] = "https://example.com/kubectl-werf_v0.1.0_linux_amd64.tar.xz".into()),
        ("sha256", |m| {
            let upper = m["spec"]["platforms"][0]["sha256"].as_str().unwrap().to_uppercase();
            m["spec"]["platforms"][0]["sha256"] = upper.into();
        }),
        ("sha256", |m| m["spec"]["platforms"][0]["sha256"] = "0".repeat(63).into()),
        ("LICENSE", |m| {
            m["spec"]["platforms"][0]["files"].as_array_mut().unwrap().retain(|f| f["from"] != "LICENSE");
        }),
        ("bin", |m| m["spec"]["platforms"][0]["bin"] = "kubectl-werf.exe".into()),
        ("where any file is installed", |m| {
            for f in m["spec"]["platforms"][0]["files"].as_array_mut().unwrap() {
                f["to"] = "bin".into();
            }
        }),
        ("unknown field", |m| m["spec"]["platforms"][0]["sha"] = "x".into()),
        ("not a name krew allows", |m| m["metadata"]["name"] = "con".into()),
        ("not a name krew allows", |m| m["metadata"]["name"] = "werf.io".into()),
        ("single line", |m| m["spec"]["shortDescription"] = "carriage\rreturn".into()),
        ("at most 10", |m| m["spec"]["caveats"] = "line\n".repeat(11).into()),
        ("usage, not a caveat", |m| m["spec"]["caveats"] = "Usage:\n  kubectl werf releases list\n".into()),
        ("versioned store path", |m| m["spec"]["caveats"] = "ln -s ~/.krew/store/werf/v0.1.0/x ~/.krew/bin/x\n".into()),
        ("needs a selector", |m| {
            m["spec"]["platforms"][0].as_object_mut().unwrap().remove("selector");
        }),
        ("matchLabels specified but empty", |m| m["spec"]["platforms"][0]["selector"]["matchLabels"] = serde_json::json!({})),
        ("unknown label", |m| m["spec"]["platforms"][0]["selector"]["matchLabels"]["distro"] = "debian".into()),
        ("not a valid requirement", |m| {
            m["spec"]["platforms"][0]["selector"]["matchExpressions"] = serde_json::json!([{"key": "os", "operator": "In", "values": []}]);
        }),
        ("matches no platform krew supports", |m| {
            m["spec"]["platforms"][0]["selector"]["matchExpressions"] =
                serde_json::json!([{"key": "arch", "operator": "NotIn", "values": ["amd64"]}]);
        }),
        ("no license file krew recognises", |m| {
            for f in m["spec"]["platforms"][0]["files"].as_array_mut().unwrap() {
                if f["from"] == "LICENSE" {
                    f["from"] = "NOTICE".into();
                }
            }
        }),
    ];
    for (what, breakage) in cases {
        let mut broken = good.clone();
        breakage(&mut broken);
        let errors = krew_violations(&broken, &version);
        assert!(errors.iter().any(|e| e.contains(what)), "a broken {what} was not caught as such: {errors:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// The archive

struct Dist {
    archive: PathBuf,
    /// The archive was packed by this test from this test build's binary.
    built_here: bool,
}

/// `scripts/dist` packing this test build's kubectl-werf (see the module doc).
fn dist_command(out: &Path) -> Command {
    let mut cmd = Command::new(repo().join("scripts/dist"));
    cmd.arg("--binary").arg(env!("CARGO_BIN_EXE_kubectl-werf")).arg("--strip-debug").arg("--out").arg(out).current_dir(repo());
    cmd
}

fn tmp_root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("packaging-krew")
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = tmp_root().join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn dist() -> &'static Dist {
    static DIST: OnceLock<Dist> = OnceLock::new();
    DIST.get_or_init(|| {
        let (os, arch) = host_platform();
        let name = archive_name(&crate_version(), os, arch);
        if let Some(dir) = std::env::var_os("KUBECTL_WERF_DIST_DIR").filter(|d| !d.is_empty()) {
            let archive = PathBuf::from(dir).join(&name);
            assert!(archive.is_file(), "KUBECTL_WERF_DIST_DIR has no {name}");
            return Dist { archive, built_here: false };
        }
        let out = fresh_dir("dist");
        let started = std::time::Instant::now();
        let stdout = run(&mut dist_command(&out));
        eprintln!("scripts/dist took {:.1}s", started.elapsed().as_secs_f64());
        let archive = PathBuf::from(stdout.lines().last().expect("scripts/dist prints the archive path"));
        assert_eq!(archive, out.join(&name));
        Dist { archive, built_here: true }
    })
}

#[test]
fn archive_holds_the_binary_and_license_at_its_root() {
    let Dist { archive, .. } = dist();
    let version = crate_version();
    // The listing: exactly the expected files, at the root, owned by 0:0.
    let listing = run(Command::new("tar").args(["--numeric-owner", "-tvzf"]).arg(archive));
    let mut names = Vec::new();
    for line in listing.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields[1], "0/0", "entry not owned by 0:0: {line}");
        assert!(fields[0].starts_with('-'), "only regular files: {line}");
        names.push(fields.last().unwrap().to_string());
    }
    let mut expected = vec!["LICENSE".to_string(), "kubectl-werf".to_string(), "kubectl-werf.1".to_string()];
    if names.iter().any(|n| n == "kubectl_complete-werf") {
        expected.push("kubectl_complete-werf".into());
    }
    assert_eq!(names, expected, "archive entries (sorted by name, at the root)");

    let unpacked = fresh_dir("unpacked");
    run(Command::new("tar").arg("-xzf").arg(archive).arg("-C").arg(&unpacked));
    assert_eq!(
        fs::read(unpacked.join("LICENSE")).unwrap(),
        fs::read(repo().join("LICENSE")).unwrap(),
        "LICENSE in the archive differs from the repository's"
    );
    // The man page rendered at build from the clap definitions.
    let man = fs::read_to_string(unpacked.join("kubectl-werf.1")).unwrap();
    assert!(man.starts_with(".ie") || man.starts_with(".TH"), "not a man page: {}", &man[..man.len().min(200)]);
    assert!(man.contains("releases") && man.contains("migrate2to3"), "the man page names the verbs");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(fs::metadata(unpacked.join("kubectl-werf.1")).unwrap().permissions().mode() & 0o777, 0o644);
    for program in expected.iter().filter(|n| *n != "LICENSE" && !n.ends_with(".1")) {
        let mode = fs::metadata(unpacked.join(program)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755, "{program} mode {mode:o}");
    }

    // The packed binary is this version of kubectl-werf.
    let binary = unpacked.join("kubectl-werf");
    let json = run(Command::new(&binary).args(["version", "--client", "-o", "json"]).env_remove("KUBECONFIG"));
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["clientVersion"]["version"], format!("v{version}").as_str(), "{json}");
    assert!(report.get("serverVersion").is_none(), "--client does not contact a server");
    let table = run(Command::new(&binary).args(["version", "--client"]));
    assert!(table.contains(&format!("v{version}")), "{table}");

    // The .sha256 beside it, in sha256sum's format.
    let sum_file = fs::read_to_string(format!("{}.sha256", archive.display())).unwrap();
    let file_name = archive.file_name().unwrap().to_str().unwrap();
    assert_eq!(sum_file, format!("{}  {file_name}\n", sha256_hex(archive)));
}

#[test]
fn archive_is_reproducible_and_updates_a_manifest_copy() {
    let dist = dist();
    let (os, arch) = host_platform();
    let fresh_sha = sha256_hex(&dist.archive);
    let copy = fresh_dir("manifest").join("werf.yaml");
    fs::copy(repo().join("plugins/werf.yaml"), &copy).unwrap();

    if dist.built_here {
        // Packing the same binary again (other staging files, other mtimes) gives the same bytes,
        // and --update-manifest writes that archive into the copy.
        let again = fresh_dir("dist-again");
        let stdout = run(dist_command(&again).arg("--update-manifest").arg(&copy));
        let repacked = PathBuf::from(stdout.lines().last().unwrap());
        assert_eq!(fs::read(&repacked).unwrap(), fs::read(&dist.archive).unwrap(), "repacking changed the archive");
    } else {
        eprintln!("KUBECTL_WERF_DIST_DIR given: not the binary of this build, nothing to repack");
        run(Command::new(repo().join("scripts/krew-manifest")).arg("--manifest").arg(&copy).arg("--in-place").arg(&dist.archive));
    }

    let committed_text = fs::read_to_string(repo().join("plugins/werf.yaml")).unwrap();
    let updated_text = fs::read_to_string(&copy).unwrap();
    let updated = serde_saphyr::from_str::<Value>(&updated_text).unwrap();
    assert_valid(&updated, "the manifest after --update-manifest");
    let entry = platform(&updated, os, arch).expect("the host platform is in the updated manifest");
    assert_eq!(entry["sha256"], fresh_sha.as_str());
    assert!(entry["uri"].as_str().unwrap().ends_with(&format!("/{}", dist.archive.file_name().unwrap().to_str().unwrap())));
    // The hand-written part is untouched, and so are the other platforms.
    let head = |t: &str| t.split_once("\n  platforms:\n").unwrap().0.to_string();
    assert_eq!(head(&updated_text), head(&committed_text));
    let committed = serde_saphyr::from_str::<Value>(&committed_text).unwrap();
    let others = |m: &Value| -> Vec<Value> {
        m["spec"]["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| !(p["selector"]["matchLabels"]["os"] == os && p["selector"]["matchLabels"]["arch"] == arch))
            .cloned()
            .collect()
    };
    assert_eq!(others(&updated), others(&committed));
    // The committed entry has the same shape; only its hash may differ (see the module doc).
    let mut committed_entry = platform(&committed, os, arch).expect("committed host platform").clone();
    committed_entry["sha256"] = fresh_sha.as_str().into();
    assert_eq!(&committed_entry, entry, "the committed {os}/{arch} entry differs beyond its sha256");

    // Updating again is a no-op.
    run(Command::new(repo().join("scripts/krew-manifest")).arg("--manifest").arg(&copy).arg("--in-place").arg(&dist.archive));
    assert_eq!(fs::read_to_string(&copy).unwrap(), updated_text);
}

#[test]
fn generator_writes_all_five_platforms_like_the_release_workflow() {
    let version = crate_version();
    let work = fresh_dir("five");
    let content = work.join("content");
    let archives = work.join("archives");
    fs::create_dir_all(&content).unwrap();
    fs::create_dir_all(&archives).unwrap();
    fs::copy(repo().join("LICENSE"), content.join("LICENSE")).unwrap();
    fs::write(content.join("kubectl-werf"), "not a real binary\n").unwrap();
    fs::write(content.join("kubectl-werf.exe"), "not a real binary either\n").unwrap();
    let mut paths = Vec::new();
    for (os, arch) in [("windows", "amd64"), ("darwin", "arm64"), ("linux", "arm64"), ("darwin", "amd64"), ("linux", "amd64")] {
        let path = archives.join(archive_name(&version, os, arch));
        if os == "windows" {
            let script = "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z:\n    for f in sys.argv[3:]:\n        z.write(sys.argv[2] + '/' + f, f)\n";
            run(Command::new("python3").args(["-c", script]).arg(&path).arg(&content).args(["kubectl-werf.exe", "LICENSE"]));
        } else {
            let extra = if arch == "arm64" { vec!["kubectl-werf.exe"] } else { vec![] }; // vary the bytes
            run(Command::new("tar").arg("-czf").arg(&path).arg("-C").arg(&content).args(["kubectl-werf", "LICENSE"]).args(extra));
        }
        paths.push(path);
    }
    let out = work.join("werf.yaml");
    run(Command::new(repo().join("scripts/krew-manifest"))
        .arg("--manifest")
        .arg(repo().join("plugins/werf.yaml"))
        .arg("--replace-platforms")
        .args(["--homepage", "https://github.com/example/kubectl-werf"])
        .arg("--out")
        .arg(&out)
        .args(&paths));
    let manifest = yaml_file(&out);
    assert_valid(&manifest, "the five-platform manifest");
    assert_eq!(manifest["spec"]["homepage"], "https://github.com/example/kubectl-werf");
    let listed: Vec<(String, String)> = manifest["spec"]["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let labels = &p["selector"]["matchLabels"];
            (labels["os"].as_str().unwrap().to_string(), labels["arch"].as_str().unwrap().to_string())
        })
        .collect();
    let expected: Vec<(String, String)> =
        [("linux", "amd64"), ("linux", "arm64"), ("darwin", "amd64"), ("darwin", "arm64"), ("windows", "amd64")]
            .iter()
            .map(|(o, a)| (o.to_string(), a.to_string()))
            .collect();
    assert_eq!(listed, expected, "platforms in a stable order");
    for path in &paths {
        let name = path.file_name().unwrap().to_str().unwrap();
        let p = manifest["spec"]["platforms"].as_array().unwrap().iter().find(|p| p["uri"].as_str().unwrap().ends_with(name)).unwrap();
        assert_eq!(p["uri"], format!("https://github.com/example/kubectl-werf/releases/download/v{version}/{name}").as_str());
        assert_eq!(p["sha256"], sha256_hex(path).as_str(), "{name}");
    }
    let windows = platform(&manifest, "windows", "amd64").unwrap();
    assert_eq!(windows["bin"], "kubectl-werf.exe");
    // Extra root files are extracted too (that is how kubectl_complete-werf gets installed).
    let arm = platform(&manifest, "linux", "arm64").unwrap();
    assert_eq!(arm["files"].as_array().unwrap().len(), 3);
}

// ---------------------------------------------------------------------------------------------
// The custom index, the krew-release-bot template, and an installation done by hand

/// `kubectl krew index add werf <this repository>` clones it and reads every manifest directly in
/// `plugins/`; each must be named after its plugin and be valid.
#[test]
fn the_repository_is_a_custom_krew_index() {
    let dir = repo().join("plugins");
    let mut manifests = Vec::new();
    for entry in fs::read_dir(&dir).expect("plugins/ at the repository root") {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(entry.file_type().unwrap().is_file(), "plugins/{name}: krew reads manifests directly in plugins/, not in subdirectories");
        let stem = name.strip_suffix(".yaml").unwrap_or_else(|| panic!("plugins/{name}: krew reads only *.yaml"));
        let manifest = yaml_file(&entry.path());
        assert_eq!(manifest["metadata"]["name"], stem, "plugins/{name} must be named after its plugin");
        assert_valid(&manifest, &format!("plugins/{name}"));
        manifests.push(name);
    }
    assert_eq!(manifests, ["werf.yaml"]);
    // krew clones the repository: the manifest must be committed, not just present here.
    let out = Command::new("git").args(["ls-files", "--error-unmatch", "plugins/werf.yaml"]).current_dir(repo()).output();
    match out {
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("not a git repository") => {} // an unpacked source tarball
        Ok(o) => assert!(o.status.success(), "plugins/werf.yaml is not committed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(_) => {} // no git here
    }
}

/// Renders `.krew.yaml` as krew-release-bot's `template` command does: `{{ .TagName }}` is the tag and
/// `{{addURIAndSha "URL" .TagName }}` becomes `uri: URL` and `sha256: <sha256 of what URL serves>`
/// (here: the local archive of that file name).
fn render_krew_template(template: &str, tag: &str, owner_repo: &str, archives: &[PathBuf]) -> String {
    let add = regex::Regex::new(r#"\{\{\s*addURIAndSha\s+"(.*)"\s+\.TagName\s*\}\}"#).unwrap();
    let tag_re = regex::Regex::new(r"\{\{\s*\.TagName\s*\}\}").unwrap();
    let mut out = String::new();
    for line in template.lines() {
        let line = line.replace("OWNER/kubectl-werf", owner_repo);
        if let Some(m) = add.captures(&line) {
            let url = tag_re.replace_all(&m[1], tag).into_owned();
            let file = url.rsplit('/').next().unwrap();
            let archive = archives.iter().find(|a| a.file_name().unwrap() == file).unwrap_or_else(|| panic!("no archive for {url}"));
            let indent = &line[..line.find("{{").unwrap()];
            out.push_str(&format!("{indent}uri: {url}\n{indent}sha256: {}\n", sha256_hex(archive)));
        } else {
            out.push_str(&tag_re.replace_all(&line, tag));
            out.push('\n');
        }
    }
    assert!(!out.contains("{{"), "unrendered template left:\n{out}");
    out
}

/// Five stand-in archives of this version (the layout scripts/dist writes).
fn five_archives(work: &Path) -> Vec<PathBuf> {
    let version = crate_version();
    let content = work.join("content");
    let archives = work.join("archives");
    fs::create_dir_all(&content).unwrap();
    fs::create_dir_all(&archives).unwrap();
    fs::copy(repo().join("LICENSE"), content.join("LICENSE")).unwrap();
    // scripts/dist packs the man page on every platform
    for (i, f) in
        ["kubectl-werf", "kubectl-werf.exe", "kubectl_complete-werf", "kubectl_complete-werf.exe", "kubectl-werf.1"].iter().enumerate()
    {
        fs::write(content.join(f), format!("stand-in {i}\n")).unwrap();
    }
    let mut paths = Vec::new();
    for (os, arch) in [("linux", "amd64"), ("linux", "arm64"), ("darwin", "amd64"), ("darwin", "arm64"), ("windows", "amd64")] {
        let path = archives.join(archive_name(&version, os, arch));
        if os == "windows" {
            let script = "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z:\n    for f in sys.argv[3:]:\n        z.write(sys.argv[2] + '/' + f, f)\n";
            run(Command::new("python3").args(["-c", script]).arg(&path).arg(&content).args([
                "kubectl-werf.exe",
                "LICENSE",
                "kubectl-werf.1",
                "kubectl_complete-werf.exe",
            ]));
        } else {
            fs::write(content.join("platform"), format!("{os}/{arch}\n")).unwrap(); // distinct bytes per archive
            run(Command::new("tar").arg("-czf").arg(&path).arg("-C").arg(&content).args([
                "kubectl-werf",
                "LICENSE",
                "kubectl-werf.1",
                "kubectl_complete-werf",
            ]));
        }
        paths.push(path);
    }
    paths
}

/// The release workflow renders `.krew.yaml` with krew-release-bot into `plugins/werf.yaml`: the result
/// must be exactly what scripts/krew-manifest writes from the same archives (same text above
/// `platforms:`, same platforms), and valid.
#[test]
fn the_krew_release_bot_template_renders_what_the_generator_writes() {
    let version = crate_version();
    let work = fresh_dir("template");
    let archives = five_archives(&work);
    let rendered = render_krew_template(
        &fs::read_to_string(repo().join(".krew.yaml")).unwrap(),
        &format!("v{version}"),
        "example/kubectl-werf",
        &archives,
    );
    let rendered: Value = serde_saphyr::from_str(&rendered).unwrap_or_else(|e| panic!("{e}:\n{rendered}"));
    assert_valid(&rendered, "the rendered .krew.yaml");
    let generated = work.join("werf.yaml");
    run(Command::new(repo().join("scripts/krew-manifest"))
        .arg("--manifest")
        .arg(repo().join("plugins/werf.yaml"))
        .arg("--replace-platforms")
        .args(["--homepage", "https://github.com/example/kubectl-werf"])
        .arg("--out")
        .arg(&generated)
        .args(&archives));
    assert_eq!(rendered, yaml_file(&generated), "the template drifted from plugins/werf.yaml");
}

/// Installs the host archive the way krew does, by hand (krew itself is not installable here): unpack,
/// apply the manifest's `files` into `~/.krew/store/werf/<version>`, link `bin` as
/// `~/.krew/bin/kubectl-werf`; kubectl then finds the plugin. The caveats' completion command, run as
/// written, makes `kubectl werf <TAB>` work, and keeps working after a simulated `krew upgrade`
/// (a new version directory, the link moved, the old directory deleted).
#[test]
fn installing_the_archive_by_hand_as_krew_does() {
    let Dist { archive, .. } = dist();
    let (os, arch) = host_platform();
    let manifest = yaml_file(&repo().join("plugins/werf.yaml"));
    let version = manifest["spec"]["version"].as_str().unwrap().to_string();
    let entry = platform(&manifest, os, arch).expect("the host platform is in plugins/werf.yaml").clone();
    let home = fresh_dir("krew-home");
    let krew = home.join(".krew");
    let extracted = fresh_dir("krew-extracted");
    run(Command::new("tar").arg("-xzf").arg(archive).arg("-C").arg(&extracted));

    let install = |version: &str| -> PathBuf {
        let store = krew.join("store/werf").join(version);
        fs::create_dir_all(&store).unwrap();
        for op in entry["files"].as_array().unwrap() {
            let (from, to) = (op["from"].as_str().unwrap(), op["to"].as_str().unwrap());
            let pattern = regex::Regex::new(&format!("^{}$", regex::escape(from).replace(r"\*", "[^/]*"))).unwrap();
            let matches: Vec<_> = fs::read_dir(&extracted)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| pattern.is_match(n))
                .collect();
            assert!(!matches.is_empty(), "krew fails when `from: {from}` matches nothing in the archive");
            let dest = store.join(to);
            fs::create_dir_all(&dest).unwrap();
            for m in matches {
                fs::copy(extracted.join(&m), dest.join(&m)).unwrap();
                use std::os::unix::fs::PermissionsExt;
                let mode = fs::metadata(extracted.join(&m)).unwrap().permissions().mode();
                fs::set_permissions(dest.join(&m), fs::Permissions::from_mode(mode)).unwrap();
            }
        }
        let bin = store.join(entry["bin"].as_str().unwrap());
        assert!(bin.is_file(), "bin {} was not installed", bin.display());
        // krew's link: ~/.krew/bin/kubectl-<plugin> -> the bin in the store (replaced on upgrade).
        fs::create_dir_all(krew.join("bin")).unwrap();
        let link = krew.join("bin/kubectl-werf");
        let tmp = krew.join("bin/.kubectl-werf.new");
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&bin, &tmp).unwrap();
        fs::rename(&tmp, &link).unwrap();
        store
    };
    let path = format!("{}:{}", krew.join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let kubectl = |args: &[&str]| -> String {
        run(Command::new("kubectl").args(args).env("HOME", &home).env("PATH", &path).env_remove("KUBECONFIG"))
    };
    let old_store = install(&version);
    let report: Value = serde_json::from_str(&kubectl(&["werf", "version", "--client", "-o", "json"])).unwrap();
    assert_eq!(report["clientVersion"]["version"], format!("v{}", crate_version()).as_str());

    // The caveats' completion step, exactly as written there (~ is this test's HOME).
    let caveats = manifest["spec"]["caveats"].as_str().unwrap();
    let step = caveats.lines().map(str::trim).find(|l| l.starts_with("ln ")).expect("the caveats give the completion command");
    run(Command::new("sh").args(["-c", step]).env("HOME", &home));
    let complete = || kubectl(&["__complete", "werf", "rel"]);
    let before = complete();
    assert!(before.lines().any(|l| l.starts_with("releases")) && before.lines().any(|l| l.starts_with("release-name")), "{before}");
    // A link into the versioned store (what caveats must not suggest) for comparison.
    std::os::unix::fs::symlink(old_store.join("kubectl-werf"), krew.join("bin/versioned-link")).unwrap();

    // krew upgrade: a new version directory, the link moved to it, the old directory removed.
    install("v99.0.0");
    fs::remove_dir_all(&old_store).unwrap();
    assert!(fs::metadata(krew.join("bin/versioned-link")).is_err(), "a link into the old store dangles after the upgrade");
    let after = complete();
    assert_eq!(after, before, "completion survives krew upgrade");
    let report: Value = serde_json::from_str(&kubectl(&["werf", "version", "--client", "-o", "json"])).unwrap();
    assert_eq!(report["clientVersion"]["version"], format!("v{}", crate_version()).as_str());
}
