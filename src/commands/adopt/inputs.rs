//! adopt's inputs: the files and pasted Helm errors (read before anything touches the cluster), the release
//! to adopt into, and the candidate objects they name, resolved once through discovery.

use std::io::Read;
use std::path::Path;

use crate::cli::WerfNameArgs;
use crate::commands::context::Context;
use crate::error::AppError;
use crate::helm_errors::{self, OwnershipError};
use crate::live::targets::{Unresolved, resolve_objects};
use crate::live::{ResolveError, ResolvedResource, ResourceCatalog, discovery};
use crate::manifest::{ManifestObject, parse_json_objects, parse_objects};
use crate::storage::Helm3Store;

use super::{AdoptOptions, Candidate, Observed};

/// Text of every input file, read before anything touches the cluster; `-` (stdin) at most once.
pub(super) struct Inputs {
    pub(super) files: Vec<(String, String)>,
    pub(super) errors: Option<(String, String)>,
}

pub(super) fn read_source(path: &Path, stdin_used: &mut bool) -> Result<(String, String), AppError> {
    if path.as_os_str() == "-" {
        if *stdin_used {
            return Err(AppError::Usage("only one of -f and --from-error can read stdin (-)".into()));
        }
        *stdin_used = true;
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| AppError::Io(format!("cannot read stdin: {e}")))?;
        return Ok(("stdin".into(), text));
    }
    let text = std::fs::read_to_string(path).map_err(|e| AppError::Io(format!("{}: {e}", path.display())))?;
    Ok((path.display().to_string(), text))
}

pub(super) fn read_inputs(opts: &AdoptOptions) -> Result<Inputs, AppError> {
    let mut stdin_used = false;
    let mut files = Vec::new();
    for path in &opts.filename {
        files.push(read_source(path, &mut stdin_used)?);
    }
    let errors = match &opts.from_error {
        Some(path) => Some(read_source(path, &mut stdin_used)?),
        None => None,
    };
    Ok(Inputs { files, errors })
}

/// Parse the pasted Helm output; every error must name a resource we can find.
pub(super) fn parse_errors(source: &str, text: &str) -> Result<Vec<OwnershipError>, AppError> {
    let errors = helm_errors::parse(text);
    if errors.is_empty() {
        return Err(AppError::Failed(format!(
            "{source}: no Helm ownership error found (expected \"... exists and cannot be imported into the current release: invalid ownership metadata; ...\")"
        )));
    }
    Ok(errors)
}

/// The release (and its namespace, when the errors say) all pasted errors agree on.
pub(super) fn release_from_errors(errors: &[OwnershipError]) -> Result<(Option<String>, Option<String>), AppError> {
    let mut release: Option<String> = None;
    let mut namespace: Option<String> = None;
    for e in errors {
        for (slot, value, what) in [(&mut release, &e.release, "releases"), (&mut namespace, &e.release_namespace, "release namespaces")] {
            if let Some(v) = value {
                match slot {
                    Some(cur) if cur != v => {
                        return Err(AppError::Usage(format!(
                            "the pasted errors name different {what} ({cur} and {v}); adopt into one release at a time"
                        )));
                    }
                    _ => *slot = Some(v.clone()),
                }
            }
        }
    }
    Ok((release, namespace))
}

/// The release and release namespace to adopt into.
pub(super) struct TargetRelease {
    pub(super) release: String,
    pub(super) namespace: String,
}

pub(super) fn resolve_target(
    ctx: &Context<'_>,
    opts: &AdoptOptions,
    werf: &WerfNameArgs,
    errors: &[OwnershipError],
    context_namespace: &str,
) -> Result<TargetRelease, AppError> {
    let (err_release, err_namespace) = release_from_errors(errors)?;
    let named = opts.release.is_some() || werf.project.is_some();
    let release_hint = opts.release.clone().or_else(|| if named { None } else { err_release.clone().or(opts.from_release.clone()) });
    if release_hint.is_none() && werf.project.is_none() && werf.werf_config.is_none() {
        let has_werf_yaml = std::env::current_dir().ok().and_then(|d| crate::werf::config::discover_werf_config(&d)).is_some();
        if !has_werf_yaml {
            return Err(AppError::Usage(
                "which release? give --release NAME (or --project/--env); --from-error and --from-release name one too".into(),
            ));
        }
    }
    let explicit_ns = opts.release_namespace.clone().or_else(|| ctx.connection.namespace.clone());
    let names = super::super::resolve_release_names(werf, release_hint, opts.release_namespace.clone())?;
    if let Some(er) = &err_release
        && *er != names.release
    {
        return Err(AppError::Usage(format!(
            "the pasted error is about release {er}, not {}; drop --release or adopt into {er}",
            names.release
        )));
    }
    // Explicit --release-namespace, then werf's namespace for a project, then the error's, then -n / context.
    let namespace = match (&opts.release_namespace, &names.namespace) {
        (Some(ns), _) => ns.clone(),
        (None, Some(ns)) if werf.project.is_some() || names.werf_config.is_some() => ns.clone(),
        _ => err_namespace.clone().or(explicit_ns).unwrap_or_else(|| context_namespace.to_string()),
    };
    if let Some(en) = &err_namespace
        && *en != namespace
    {
        return Err(AppError::Usage(format!(
            "the pasted error is about release namespace {en}, not {namespace}; drop --release-namespace or use {en}"
        )));
    }
    crate::names::validate_namespace_name(&namespace).map_err(|e| AppError::Usage(format!("release namespace {namespace:?}: {e}")))?;
    Ok(TargetRelease { release: names.release, namespace })
}

/// Collects candidates without duplicates, in the order given.
#[derive(Default)]
pub(super) struct Candidates {
    pub(super) items: Vec<(Candidate, Observed)>,
    pub(super) seen: std::collections::HashSet<(String, String, Option<String>, String)>,
    /// The first manifest object naming each candidate.
    pub(super) manifests: std::collections::HashMap<(String, String, Option<String>, String), ManifestObject>,
}

impl Candidates {
    fn push(&mut self, c: Candidate, preset: Option<Observed>) {
        if self.seen.insert(c.key()) {
            let observed = preset.unwrap_or(Observed::Error(String::new()));
            self.items.push((c, observed));
        }
    }

    fn push_resolved(&mut self, resource: &ResolvedResource, namespace: Option<String>, name: String) {
        let namespace = if resource.namespaced { namespace } else { None };
        self.push(Candidate { resource: resource.clone(), namespace, name }, None);
    }

    fn push_unresolved(&mut self, u: Unresolved, namespace: Option<String>) {
        // `Kind/name` from targets::resolve_objects; keep the kind as typed.
        let (kind, name) = u.what.split_once('/').unwrap_or(("", &u.what));
        let resource = ResolvedResource {
            group: String::new(),
            version: String::new(),
            kind: kind.to_string(),
            plural: format!("?{kind}"),
            singular: String::new(),
            namespaced: true,
            verbs: Vec::new(),
            short_names: Vec::new(),
            categories: Vec::new(),
            preferred: true,
        };
        self.push(Candidate { resource, namespace, name: name.to_string() }, Some(Observed::UnknownType(u.reason)));
    }
}

pub(super) fn manifest_objects(source: &str, text: &str) -> Result<Vec<Result<ManifestObject, crate::manifest::ManifestError>>, AppError> {
    let objects = if text.trim_start().starts_with('{') { parse_json_objects(text, true) } else { parse_objects(text, true) };
    if let Some(Err(e)) = objects.iter().find(|o| o.is_err()) {
        return Err(AppError::Failed(format!("{source}: {e}")));
    }
    // A values file, a README or Helm's notes is not a manifest: say so rather than adopt nothing.
    if objects.is_empty() {
        return Err(AppError::Failed(format!(
            "{source}: not Kubernetes YAML: no document with apiVersion and kind (expected a manifest such as `helm template` prints)"
        )));
    }
    Ok(objects)
}

/// Kubernetes' rule for an object's name: a DNS-1123 subdomain, except RBAC objects (path segments,
/// e.g. `system:aggregate-to-edit`).
pub(super) fn object_name_error(resource: &ResolvedResource, name: &str) -> Option<String> {
    let rbac = resource.group == "rbac.authorization.k8s.io";
    let valid = if rbac {
        !name.is_empty() && name != "." && name != ".." && !name.contains('/') && !name.contains('%')
    } else {
        crate::names::is_dns1123_subdomain(name)
    };
    (!valid).then(|| {
        if rbac {
            format!("invalid name {name:?}: must be non-empty and contain no '/' or '%'")
        } else {
            format!(
                "invalid name {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (at most 253)"
            )
        }
    })
}

pub(super) fn add_targets(cands: &mut Candidates, targets: Vec<crate::live::targets::Target>, unresolved: Vec<Unresolved>, ns: &str) {
    for t in targets {
        if let Some(why) = object_name_error(&t.resource, &t.name) {
            let namespace = if t.resource.namespaced { t.namespace } else { None };
            cands.push(Candidate { resource: t.resource.clone(), namespace, name: t.name }, Some(Observed::Error(why)));
            continue;
        }
        let namespace = if t.resource.namespaced { t.namespace.clone() } else { None };
        let key = (t.resource.group.clone(), t.resource.plural.clone(), namespace, t.name.clone());
        cands.manifests.entry(key).or_insert(t.manifest);
        cands.push_resolved(&t.resource, t.namespace, t.name);
    }
    for u in unresolved {
        cands.push_unresolved(u, Some(ns.to_string()));
    }
}

/// Helm errors name a Kind only (`ConfigMap`, `Widget`): resolve it like kubectl resolves a type.
pub(super) fn resolve_kind<'a>(catalog: &'a ResourceCatalog, kind: &str) -> Result<&'a ResolvedResource, ResolveError> {
    catalog.resolve_type(kind)
}

/// Every object the arguments, `-f` manifests, pasted errors and `--from-release` name, without duplicates.
pub(super) async fn gather_candidates(
    ctx: &Context<'_>,
    client: &kube::Client,
    helm3: &Helm3Store,
    opts: &AdoptOptions,
    inputs: &Inputs,
    errors: &[OwnershipError],
    target: &TargetRelease,
) -> Result<Candidates, AppError> {
    let catalog = discovery::load(client).await.map_err(|e| AppError::Kube(e.to_string()))?;
    let mut cands = Candidates::default();
    let arg_ns = ctx.connection.namespace.clone().unwrap_or_else(|| target.namespace.clone());
    for arg in &opts.resources {
        let (res, name) = catalog.resolve_ref(arg).map_err(|e| AppError::Failed(format!("{arg}: {e}")))?;
        if let Some(why) = object_name_error(res, &name) {
            return Err(AppError::Usage(format!("{arg}: {why}")));
        }
        cands.push_resolved(res, Some(arg_ns.clone()), name);
    }
    for (source, text) in &inputs.files {
        let (targets, unresolved) = resolve_objects(&catalog, manifest_objects(source, text)?, &target.namespace);
        add_targets(&mut cands, targets, unresolved, &target.namespace);
    }
    for e in errors {
        let res = resolve_kind(&catalog, &e.kind).map_err(|err| AppError::Failed(format!("{} {:?}: {err}", e.kind, e.name)))?;
        cands.push_resolved(res, e.namespace.clone().or_else(|| Some(target.namespace.clone())), e.name.clone());
    }
    if let Some(from) = &opts.from_release {
        let listing = helm3.history(&target.namespace, from).await.map_err(|e| {
            AppError::Kube(format!("reading release {from} ({}): {}", target.namespace, crate::error::describe_kube_error(&e)))
        })?;
        let Some(latest) = listing.records.last() else {
            return Err(AppError::Failed(format!(
                "release {from} has no stored revision in namespace {} (storage: {})",
                target.namespace,
                helm3.storage_name()
            )));
        };
        eprintln!("Objects of release {from} revision {} ({}):", latest.release.version, latest.release.info.status.as_str());
        // Helm keeps a release's records in the release's namespace, where its objects default to.
        let ns = latest.object.namespace.clone();
        let (targets, unresolved) = crate::live::targets::resolve_manifest(&catalog, &latest.release.manifest, &ns);
        add_targets(&mut cands, targets, unresolved, &ns);
    }
    Ok(cands)
}
