//! The command line: every clap definition lives here, the verbs' logic lives in `commands`.
//!
//! kubectl refuses global flags before a plugin's name (`kubectl --context x werf ...` fails), so the
//! plugin accepts kubectl's connection flags itself, anywhere after the verb.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// kubectl's connection flags, accepted on every verb.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Cluster connection (kubectl flags)")]
pub struct ConnectionArgs {
    /// Path to the kubeconfig file to use (otherwise $KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// The name of the kubeconfig context to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,

    /// The name of the kubeconfig cluster to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub cluster: Option<String>,

    /// The name of the kubeconfig user to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub user: Option<String>,

    /// The namespace scope for this request (default: the context's namespace).
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,

    /// Username to impersonate for the operation.
    #[arg(long = "as", global = true, value_name = "USER")]
    pub as_user: Option<String>,

    /// Group to impersonate for the operation; repeat for several groups.
    #[arg(long = "as-group", global = true, value_name = "GROUP")]
    pub as_group: Vec<String>,

    /// How long to wait for a single server response ("0" = no timeout; e.g. 30s, 2m, 1h, or seconds).
    #[arg(long, global = true, value_name = "DURATION")]
    pub request_timeout: Option<String>,

    /// The address and port of the Kubernetes API server.
    #[arg(long, short = 's', global = true, value_name = "URL")]
    pub server: Option<String>,

    /// Bearer token for authentication to the API server.
    #[arg(long, global = true, value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Path to a CA certificate file for the API server.
    #[arg(long, global = true, value_name = "PATH")]
    pub certificate_authority: Option<PathBuf>,

    /// Do not verify the server's certificate (insecure; only when you ask for it).
    #[arg(long, global = true)]
    pub insecure_skip_tls_verify: bool,

    /// Server name to verify the server's certificate against (default: the host of the server address).
    #[arg(long, global = true, value_name = "NAME")]
    pub tls_server_name: Option<String>,

    /// Path to a client certificate file for TLS.
    #[arg(long, global = true, value_name = "PATH")]
    pub client_certificate: Option<PathBuf>,

    /// Path to a client key file for TLS.
    #[arg(long, global = true, value_name = "PATH")]
    pub client_key: Option<PathBuf>,

    /// UID to impersonate for the operation (together with --as).
    #[arg(long = "as-uid", global = true, value_name = "UID")]
    pub as_uid: Option<String>,

    /// Client-side limit on API requests per second (env: HELM_QPS; default: no limit).
    #[arg(long, global = true, value_name = "QPS")]
    pub qps: Option<f64>,

    /// Requests allowed at once before --qps applies (env: HELM_BURST_LIMIT; default 100).
    #[arg(long = "burst-limit", global = true, value_name = "N")]
    pub burst_limit: Option<u32>,

    /// Log level as kubectl's -v: 4 logs requests, 6 adds timing, 8 adds response summaries.
    #[arg(short = 'v', long = "v", global = true, value_name = "LEVEL", default_value_t = 0)]
    pub verbosity: u8,
}

/// Where release records live; one definition shared by every verb.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Release storage")]
pub struct StorageArgs {
    /// Helm 3 storage driver: secret or configmap (env: WERF_RELEASE_STORAGE, then HELM_DRIVER; default secret).
    #[arg(long = "release-storage", global = true, value_name = "DRIVER")]
    pub release_storage: Option<String>,

    /// Namespace of Helm 2 (Tiller) records (env: WERF_HELM2_RELEASE_STORAGE_NAMESPACE,
    /// WERF_HELM_RELEASE_STORAGE_NAMESPACE, TILLER_NAMESPACE; default kube-system).
    #[arg(
        long = "helm-release-storage-namespace",
        visible_aliases = ["tiller-namespace", "helm2-release-storage-namespace"],
        global = true,
        value_name = "NAMESPACE"
    )]
    pub helm2_namespace: Option<String>,

    /// Helm 2 storage type: configmap, secret or auto = both (env: WERF_HELM2_RELEASE_STORAGE_TYPE,
    /// WERF_HELM_RELEASE_STORAGE_TYPE; default auto).
    #[arg(
        long = "helm-release-storage-type",
        visible_aliases = ["tiller-storage", "helm2-release-storage-type"],
        global = true,
        value_name = "TYPE"
    )]
    pub helm2_storage_type: Option<String>,

    /// Refuse release payloads that inflate beyond this many MiB (protects against damaged or hostile records).
    #[arg(long = "max-decompressed-mib", global = true, value_name = "MIB", default_value_t = 64)]
    pub max_decompressed_mib: u64,
}

/// werf's way of naming a release: `--project P --env E`, or `--release NAME` as given.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "werf naming")]
pub struct WerfNameArgs {
    /// werf project name; the release is `[[ project ]]-[[ env ]]`, slugged as werf does.
    #[arg(long, value_name = "PROJECT")]
    pub project: Option<String>,

    /// werf environment (env: WERF_ENV).
    #[arg(long, env = "WERF_ENV", value_name = "ENV")]
    pub env: Option<String>,

    /// Do not slug the release name: validate it and fail when it is not a valid release name.
    #[arg(long)]
    pub no_slug: bool,

    /// werf.yaml to read `project` and `deploy.*` naming from (default: ./werf.yaml when present).
    #[arg(long = "werf-config", value_name = "PATH")]
    pub werf_config: Option<PathBuf>,
}

/// Output formats for data.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    #[default]
    Table,
    Json,
    Yaml,
}

/// Output formats of `releases list`: the data formats, and kubectl's `name` for pipes.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListOutputFormat {
    #[default]
    Table,
    Json,
    Yaml,
    /// One NAMESPACE/NAME a line.
    Name,
}

#[derive(Parser, Debug)]
#[command(
    name = "kubectl-werf",
    bin_name = "kubectl werf",
    version,
    about = "Work directly on Helm release storage: list Helm 2 and Helm 3 releases, migrate, adopt, annotate",
    long_about = None,
    propagate_version = true,
    disable_help_subcommand = true,
    arg_required_else_help = true,
    after_help = "Examples:\n  kubectl werf releases list -A\n  kubectl werf release-name --project myapp --env production\n  kubectl werf version"
)]
pub struct Cli {
    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the client version and, when reachable, the API server's version.
    #[command(after_help = "Examples:\n  kubectl werf version\n  kubectl werf version -o json")]
    Version(VersionArgs),

    /// Print the release name (and namespace) werf would use.
    #[command(
        name = "release-name",
        after_help = "Examples:\n  kubectl werf release-name --project myapp --env production\n  WERF_ENV=stage kubectl werf release-name --project my_app --namespace-only\n  kubectl werf release-name            # reads ./werf.yaml"
    )]
    ReleaseName(ReleaseNameArgs),

    /// Set werf's annotations and labels (auto, CI and custom) on every resource of a release.
    #[command(
        long_about = "Set werf's annotations and labels (auto, CI and custom) on every resource of a Helm 3 release.\n\n\
Targets every object of the release's latest stored manifest (hook objects with --include-hooks), with one \
JSON merge patch per object that touches only the given keys, guarded by the object's resourceVersion. \
Every key and value is checked by Kubernetes' rules before anything is changed.\n\n\
Inputs are taken as werf takes them: --add-annotation/--add-label KEY=VALUE (split at the first '='), \
WERF_ADD_ANNOTATION_*/WERF_ADD_LABEL_* variables holding KEY=VALUE, werf's auto annotations \
(--werf-auto-annotations) and the CI annotations `werf ci-env` would set (--ci-env). When a key comes from \
several places the most explicit wins: flags, then variables, then CI, then auto annotations.\n\n\
Helm keeps keys its chart does not set through later upgrades; keys the chart sets are put back by the next \
upgrade, and this command warns about them.",
        after_help = "Examples:\n  kubectl werf annotate shop -n shop --add-annotation team.io/owner=pay --add-label tier=web\n  kubectl werf annotate --project shop --env prod --werf-auto-annotations --werf-version v2.35.1\n  WERF_ADD_LABEL_TEAM=team=pay kubectl werf annotate shop -n shop --ci-env auto --dry-run\n  kubectl werf annotate shop -n shop --remove-label tier --include-hooks -o json --yes"
    )]
    Annotate(Box<AnnotateArgs>),

    /// List and inspect Helm 3/4 and Helm 2 (Tiller) releases straight from release storage,
    /// answering like helm list/history/status/get.
    #[command(
        after_help = "Examples:\n  kubectl werf releases list -A\n  kubectl werf releases ls -n shop --failed -o json\n  kubectl werf releases list -A -o name\n  kubectl werf releases history shop -n shop\n  kubectl werf releases status shop -n shop --show-resources --show-desc\n  kubectl werf releases get values shop -n shop -a"
    )]
    Releases(ReleasesArgs),

    /// Adopt existing cluster objects into a Helm release: classify their ownership metadata, let you pick,
    /// stamp the three keys Helm checks (optionally taking them from another release and detaching them from it).
    #[command(
        long_about = "Adopt existing cluster objects into a Helm release.\n\n\
Every candidate is classified: missing (Helm will create it), unowned, partial (some ownership keys \
missing or wrong), owned (already in this release) or foreign (owned by another release). Unowned and \
partial objects are selected by default; on a terminal you pick and confirm, otherwise --yes is needed. \
Objects of another release are only taken with --force: on a terminal you still pick them explicitly, \
with --yes, --force selects them too (each one is named on stderr). Each patch is a JSON merge patch of \
exactly the label app.kubernetes.io/managed-by=Helm and the annotations meta.helm.sh/release-name and \
meta.helm.sh/release-namespace, carrying the resourceVersion that was classified; when the object changed \
meanwhile it is read and classified again (a steal by another release is then refused without --force).\n\n\
Helm 4 applies server-side (field manager helm, operation Apply): a field the chart sets that another \
field manager owns with a different value is a conflict and Helm 4 fails. With a manifest of the object \
(-f, --from-release, or -f beside --from-error; e.g. `helm template ...`), adopt also moves exactly the fields \
it sets to helm (Apply), from whichever managers own them, by rewriting metadata.managedFields under the \
object's resourceVersion (values do not change); objects already in the release are handed over too. \
Fields owned through a subresource (status, scale) or by another server-side apply manager (Argo CD, \
Flux; not kubectl) move only with --force. --keep-field-managers skips this. Without a manifest only \
the ownership metadata is stamped and a warning says how to pass one.\n\n\
Namespaced RESOURCE arguments are looked up in -n (default: the release namespace); objects of -f \
without a namespace are where Helm would put them: the release namespace. With --dry-run nothing \
changes, the exact patches are printed and the exit code is 1 when any object would fail Helm's \
ownership check (a CI preflight; Helm's would-be error is printed for each). With a manifest, --dry-run also \
asks the server for the server-side dry-run apply Helm 4 would send (manager helm, no force, with Helm's \
ownership metadata), reports each conflicting field and its manager and whether it passes after this \
adopt, and exits 1 when Helm 4 would fail now.\n\n\
--detach, for objects taken from another release A: A's stored revision is backed up, then a new \
revision of A is written whose manifest lacks the moved objects (so a later upgrade of A does not delete \
them). It is based on A's last deployed revision (the one Helm's upgrade compares against) and becomes \
deployed, that revision is then marked superseded; when A has no deployed revision the new one is based on \
the latest and keeps its status. A release with an operation in flight (pending-*, uninstalling) is refused.",
        after_help = "Examples:\n  kubectl werf adopt deploy/web configmap/settings --release app -n prod\n  helm template app ./chart -n prod | kubectl werf adopt -f - --release app -n prod --dry-run\n  helm upgrade --install app ./chart 2>&1 | kubectl werf adopt --from-error - --yes\n  kubectl werf adopt --from-release old --release app --force --detach --yes\n  helm template app ./chart -n prod > app.yaml; helm upgrade --install app ./chart -n prod 2>err.txt || kubectl werf adopt -f app.yaml --from-error err.txt --yes\n  kubectl werf adopt --from-release app -n prod --yes   # Helm 3 -> Helm 4: hand the release's fields to helm (Apply)"
    )]
    Adopt(Box<AdoptArgs>),

    /// Migrate Helm 2 (Tiller) releases to Helm 3 storage, losslessly and resumably; or, with --cleanup,
    /// delete Helm 2 records that have an equal Helm 3 copy.
    #[command(
        name = "migrate2to3",
        long_about = MIGRATE_LONG_ABOUT,
        after_help = MIGRATE_EXAMPLES
    )]
    Migrate2to3(Migrate2to3Args),

    /// Print a shell completion script (bash, zsh, fish, powershell) for kubectl-werf.
    #[command(long_about = COMPLETION_LONG_ABOUT, after_help = COMPLETION_EXAMPLES)]
    Completion(CompletionArgs),

    /// Answer a shell completion request (cobra's protocol; what kubectl_complete-werf runs).
    #[command(name = "__complete", hide = true)]
    Complete(CompleteArgs),
}

const COMPLETION_LONG_ABOUT: &str = concat!(
    "Print a shell completion script for the kubectl-werf binary (verbs, flags and flag values).\n\n",
    "`kubectl werf <TAB>` (kubectl 1.26+): kubectl completes a plugin by running an executable named ",
    "kubectl_complete-werf from PATH. Put the kubectl_complete-werf binary shipped next to kubectl-werf on ",
    "PATH (or a script running `kubectl werf __complete \"$@\"`) and kubectl's own completion completes ",
    "verbs, flags, flag values, namespaces and release names (read from the cluster). No script from this ",
    "command is needed for that.\n\n",
    "Scripts from this command complete the kubectl-werf binary when it is run directly:\n",
    "  bash:        source <(kubectl werf completion bash)     (add to ~/.bashrc)\n",
    "  zsh:         kubectl werf completion zsh > \"${fpath[1]}/_kubectl-werf\"   (then restart zsh)\n",
    "  fish:        kubectl werf completion fish > ~/.config/fish/completions/kubectl-werf.fish\n",
    "  powershell:  kubectl werf completion powershell | Out-String | Invoke-Expression   (add to $PROFILE)"
);

const COMPLETION_EXAMPLES: &str = "Examples:\n  kubectl werf completion bash > ~/.local/share/bash-completion/completions/kubectl-werf\n  kubectl __complete werf releases history -n shop \"\"   # what kubectl asks kubectl_complete-werf";

#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// The shell to print the script for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct CompleteArgs {
    /// The words after `kubectl werf`, the last one being the word being completed (possibly empty).
    #[arg(num_args = 0.., allow_hyphen_values = true, trailing_var_arg = true)]
    pub words: Vec<String>,
}

const MIGRATE_LONG_ABOUT: &str = concat!(
    "Migrate Helm 2 (Tiller) releases to Helm 3 storage, losslessly and resumably.\n\n",
    "Every revision is converted (revision numbers and gaps kept), planned, written oldest to newest with create (never a blind overwrite), read back and compared. The plan lists every release and revision with its target, size after conversion, every conversion note and any blocker; nothing is written before you confirm (--yes on non-terminals). Re-running the same command finishes an interrupted migration and skips records already migrated. Helm 2 records are deleted only with --delete-v2-releases, only after every revision of the release was written and verified, and only after they were saved to the backup directory as plain Kubernetes YAML (`kubectl create -f DIR` restores them).\n\n",
    "Live objects of the latest revision get Helm's ownership metadata (label app.kubernetes.io/managed-by=Helm, annotations meta.helm.sh/release-name and meta.helm.sh/release-namespace) so Helm 3 and 4 upgrades can take them over; objects owned by another release are left alone and reported (--skip-ownership opts out).\n\n",
    "Helm 2 records are read where werf v1.1 and Tiller kept them: --helm-release-storage-namespace (alias --tiller-namespace; env WERF_HELM2_RELEASE_STORAGE_NAMESPACE, WERF_HELM_RELEASE_STORAGE_NAMESPACE, TILLER_NAMESPACE; default kube-system) and --helm-release-storage-type (configmap, secret, or auto = both; default auto). Helm 3 records go to the release's own namespace with --release-storage (env WERF_RELEASE_STORAGE, HELM_DRIVER; default secret).\n\n",
    "Exit codes: 0 everything done, 1 some release failed or is blocked (the others were done), 2 usage error."
);

const MIGRATE_EXAMPLES: &str = "\
Examples:
  # See what would happen to every Helm 2 release in kube-system
  kubectl werf migrate2to3 --all --dry-run

  # Migrate two releases, keep the Helm 2 records
  kubectl werf migrate2to3 shop cart

  # werf v1.1 project release (myproject-production), deleting the Helm 2 records once verified
  kubectl werf migrate2to3 --project myproject --env production --delete-v2-releases --yes

  # Tiller kept Secrets in another namespace; migrate into another namespace under another name
  kubectl werf migrate2to3 legacy --tiller-namespace tiller-apps --helm-release-storage-type secret \\
      --target-release shop --target-namespace shop

  # Only the newest 5 revisions, ConfigMap storage for Helm 3
  kubectl werf migrate2to3 --all --release-versions-max 5 --release-storage configmap

  # Later: delete the Helm 2 records that have an equal Helm 3 copy
  kubectl werf migrate2to3 --cleanup --all --dry-run
  kubectl werf migrate2to3 --cleanup --all --yes";

#[derive(Args, Debug)]
pub struct Migrate2to3Args {
    /// Helm 2 releases to migrate (or clean up with --cleanup).
    #[arg(value_name = "RELEASE")]
    pub releases: Vec<String>,

    /// Every Helm 2 release in the Tiller namespace.
    #[arg(long, conflicts_with = "releases")]
    pub all: bool,

    #[command(flatten)]
    pub werf: WerfNameArgs,

    #[command(flatten)]
    pub storage: StorageArgs,

    /// Store the (single) release under this name in Helm 3.
    #[arg(long, value_name = "NAME")]
    pub target_release: Option<String>,

    /// Store the (single) release in this namespace in Helm 3 (default: the namespace in the Helm 2 record).
    /// Live objects stay where they are; only the release record moves.
    #[arg(long, value_name = "NAMESPACE")]
    pub target_namespace: Option<String>,

    /// Migrate only the newest N revisions of each release (default: all). Older revisions stay in Helm 2
    /// storage, even with --delete-v2-releases.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub release_versions_max: Option<u32>,

    /// Delete the migrated Helm 2 records once every revision of their release was written and verified
    /// (after saving them to the backup directory).
    #[arg(long, conflicts_with = "cleanup")]
    pub delete_v2_releases: bool,

    /// Delete Helm 2 records that have an equal Helm 3 copy (nothing is migrated); report the others.
    #[arg(long)]
    pub cleanup: bool,

    /// Where records are saved before being deleted or replaced (default: a new timestamped directory
    /// under ~/.cache/kubectl-werf/backups).
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,

    /// Replace Helm 3 records that exist and differ from the conversion (they are backed up first).
    #[arg(long)]
    pub force: bool,

    /// Do not stamp Helm ownership metadata on the release's live objects.
    #[arg(long)]
    pub skip_ownership: bool,

    /// Do not add the revision that maps removed Kubernetes APIs (see `releases apis --fix`): the migrated
    /// release then keeps API versions this cluster may not serve, and helm may fail to upgrade it.
    #[arg(long)]
    pub no_map_apis: bool,

    /// Only print the plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,

    /// How many releases are migrated at once (each has at most one request in flight).
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,

    /// Output format of the plan and the result.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

#[derive(Args, Debug)]
pub struct VersionArgs {
    /// Only print the client version, do not contact the server.
    #[arg(long)]
    pub client: bool,

    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

#[derive(Args, Debug)]
pub struct ReleaseNameArgs {
    #[command(flatten)]
    pub werf: WerfNameArgs,

    /// Print only the release name.
    #[arg(long, conflicts_with = "namespace_only")]
    pub release_only: bool,

    /// Print only the namespace.
    #[arg(long)]
    pub namespace_only: bool,

    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Which CI system's variables `--ci-env` reads.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CiEnvChoice {
    /// GitLab CI when `GITLAB_CI` is set, GitHub Actions when `GITHUB_ACTIONS` is set, else nothing.
    Auto,
    Gitlab,
    Github,
    /// No CI annotations (the default).
    #[default]
    None,
}

#[derive(Args, Debug)]
pub struct AnnotateArgs {
    /// The Helm 3 release (or name it werf's way with --project/--env).
    #[arg(value_name = "RELEASE")]
    pub release: Option<String>,

    /// Annotation to set, KEY=VALUE (split at the first '='); repeatable. Also read from
    /// WERF_ADD_ANNOTATION_* variables holding KEY=VALUE.
    #[arg(long = "add-annotation", value_name = "KEY=VALUE")]
    pub add_annotation: Vec<String>,

    /// Label to set, KEY=VALUE (split at the first '='); repeatable. Also read from WERF_ADD_LABEL_*
    /// variables holding KEY=VALUE.
    #[arg(long = "add-label", value_name = "KEY=VALUE")]
    pub add_label: Vec<String>,

    /// Annotation key to remove; repeatable.
    #[arg(long = "remove-annotation", value_name = "KEY")]
    pub remove_annotation: Vec<String>,

    /// Label key to remove; repeatable.
    #[arg(long = "remove-label", value_name = "KEY")]
    pub remove_label: Vec<String>,

    /// Add werf's auto annotations: werf.io/version, project.werf.io/name and project.werf.io/env
    /// (project and env from --project/--env, else from the release's own werf annotations).
    #[arg(long)]
    pub werf_auto_annotations: bool,

    /// Value of werf.io/version for --werf-auto-annotations (default: the value the release's
    /// manifest already carries; required when it carries none).
    #[arg(long, value_name = "VERSION", requires = "werf_auto_annotations")]
    pub werf_version: Option<String>,

    /// Add the annotations `werf ci-env` would set, from this CI system's variables.
    #[arg(long = "ci-env", value_enum, value_name = "SYSTEM", default_value_t = CiEnvChoice::None)]
    pub ci_env: CiEnvChoice,

    /// Also annotate the release's hook objects (Helm recreates most hooks on each run, so their keys do
    /// not last).
    #[arg(long)]
    pub include_hooks: bool,

    /// Print the patches and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Do not ask for confirmation (required without a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,

    /// Output format of the per-object results.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    // Flattened last: their help headings would otherwise carry over to the options above.
    #[command(flatten)]
    pub werf: WerfNameArgs,

    #[command(flatten)]
    pub storage: StorageArgs,
}

#[derive(Args, Debug)]
pub struct AdoptArgs {
    /// Objects as kubectl names them: TYPE/NAME (deploy/web, configmaps/settings, widgets.shop.example.com/x).
    #[arg(value_name = "RESOURCE")]
    pub resources: Vec<String>,

    /// The release to adopt into (default: the release named by --from-error or --from-release).
    #[arg(long, value_name = "NAME")]
    pub release: Option<String>,

    /// Namespace of the release (default: werf's for --project, else the pasted error's, else -n / the context's).
    #[arg(long = "release-namespace", value_name = "NAMESPACE")]
    pub release_namespace: Option<String>,

    /// Manifest with the objects to adopt (multi-document YAML or JSON; `-` reads stdin). Repeatable.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub filename: Vec<PathBuf>,

    /// Helm output holding ownership errors (`Unable to continue with install: ...`); `-` reads stdin.
    #[arg(long = "from-error", value_name = "FILE")]
    pub from_error: Option<PathBuf>,

    /// Adopt the objects of this release's latest stored manifest (in the release namespace).
    #[arg(long = "from-release", value_name = "NAME")]
    pub from_release: Option<String>,

    /// Change nothing: print the plan and the exact patches; exit 1 when any object would fail Helm's check.
    #[arg(long)]
    pub dry_run: bool,

    /// Adopt the default selection without asking (needed when there is no terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,

    /// Allow taking objects owned by another release (on a terminal you still pick them; with --yes they are selected).
    #[arg(long)]
    pub force: bool,

    /// Also remove objects taken from another release from that release's stored manifest (new revision).
    #[arg(long, requires = "force")]
    pub detach: bool,

    /// Stamp ownership only: leave field ownership (managedFields) as it is. By default, with a manifest (-f,
    /// --from-release), the fields it sets move to Helm 4's field manager (helm, Apply).
    #[arg(long = "keep-field-managers")]
    pub keep_field_managers: bool,

    /// Where --detach backs up release records first (default: a new directory under ~/.cache/kubectl-werf/backups).
    #[arg(long = "backup-dir", value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,

    /// How many objects are read and patched at once.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,

    /// Output format of the report.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    #[command(flatten)]
    pub werf: WerfNameArgs,

    #[command(flatten)]
    pub storage: StorageArgs,
}

/// `kubectl werf releases ...`: Helm's read-only release verbs over Helm 3 and Helm 2 storage.
#[derive(Args, Debug)]
pub struct ReleasesArgs {
    #[command(flatten)]
    pub storage: StorageArgs,

    /// Only this Helm generation: 2 (Tiller records) or 3 (Helm 3/4 records); default both.
    #[arg(long = "helm-version", global = true, value_name = "2|3", value_parser = clap::value_parser!(u8).range(2..=3))]
    pub helm_version: Option<u8>,

    #[command(subcommand)]
    pub command: ReleasesCommand,
}

#[derive(Subcommand, Debug)]
pub enum ReleasesCommand {
    /// List releases (helm list): the latest revision of each release, Helm 2 ones included.
    #[command(
        visible_alias = "ls",
        after_help = "Examples:\n  kubectl werf releases list -A\n  kubectl werf releases ls -n shop --failed -o json\n  kubectl werf releases list -A --helm-version 2\n  kubectl werf releases list -A --release-storage secret   # exactly helm's view\n  kubectl werf releases list -n shop -f '^api' --max 0\n\nScope: -n NS = Helm 3/4 releases in NS (both drivers unless --release-storage) and Helm 2 releases of\nrelease namespace NS; -A = every release of every storage; see the README."
    )]
    List(ReleasesListArgs),
    /// Revisions of one release (helm history).
    #[command(
        visible_alias = "hist",
        after_help = "Examples:\n  kubectl werf releases history shop -n shop\n  kubectl werf releases history shop -n shop -o json --max 5\n  kubectl werf releases history legacy --tiller-namespace kube-system   # a Helm 2 release"
    )]
    History(ReleasesHistoryArgs),
    /// Status of one release (helm status).
    #[command(
        after_help = "Examples:\n  kubectl werf releases status shop -n shop\n  kubectl werf releases status shop -n shop -o json\n  kubectl werf releases status shop -n shop --revision 2"
    )]
    Status(ReleasesStatusArgs),
    /// Details of one release (helm get).
    #[command(
        after_help = "Examples:\n  kubectl werf releases get values shop -n shop -a\n  kubectl werf releases get manifest shop -n shop --revision 2\n  kubectl werf releases get all shop -n shop\n  kubectl werf releases get metadata shop -n shop -o json"
    )]
    Get(ReleasesGetArgs),
    /// Release a release stuck in pending-install/-upgrade/-rollback (mark it failed, or delete it), or
    /// with several deployed revisions (--to superseded).
    #[command(
        long_about = "Release a release stuck in pending-install, pending-upgrade or pending-rollback: Helm refuses \
every operation on it (\"another operation (install/upgrade/rollback) is in progress\").\n\n\
The stuck revision (the latest, or --revision N) is shown with its age, backed up (one YAML file that \
`kubectl create -f` and `releases restore` accept), then marked failed (the default), marked superseded, \
or deleted; every write is guarded by the record's resourceVersion. info.description records what was \
done and what the status was before.\n\n\
When the record was written in the last 5 minutes an operation may really be running: the command warns \
and asks again; with --yes it refuses unless --force is given too.\n\n\
--to superseded is accepted only when another revision of the release is deployed (the release keeps \
that deployed revision). A release that is not stuck is reported and nothing is done (exit 0).\n\n\
Several revisions deployed at once (helm/helm#7274, after an interrupted upgrade or a tool that wrote \
records by hand): --to superseded marks every deployed revision but the latest deployed one superseded, \
and a pending revision after it too, so that one run leaves exactly one deployed revision and nothing \
stuck (--revision N: only that one); the 5-minute rule applies to the pending one only. The plan lists every record it changes (namespace, object, storage) \
and the one kept; each is backed up and written under its resourceVersion; one that cannot be written \
is named and the others are still done (exit 1); running it again finishes the job. With several \
deployed revisions and nothing pending, --to failed and --to delete are refused (exit 2) with the \
--to superseded command; when the latest revision is also pending they unlock it and print that \
command as a note.",
        after_help = "Examples:\n  kubectl werf releases unlock shop -n shop --dry-run\n  kubectl werf releases unlock shop -n shop --yes\n  kubectl werf releases unlock shop -n shop --to superseded --yes     # several deployed revisions\n  kubectl werf releases unlock shop -n shop --to delete --backup-dir ./backup --yes\n  kubectl werf releases unlock legacy --helm-version 2 --tiller-namespace kube-system"
    )]
    Unlock(ReleasesUnlockArgs),
    /// Delete old revisions beyond --keep N per release, as Helm's --history-max would have.
    #[command(
        long_about = "Delete the oldest revisions of releases beyond --keep N, as Helm's --history-max would have, \
except that the latest revision and the last deployed one are never deleted (so a release may keep N+1).\n\n\
Shows the plan, asks (or --yes), backs every record up before deleting it (--backup-dir, default a new \
directory under ~/.cache/kubectl-werf/backups), and deletes only the version that was planned \
(resourceVersion precondition). Re-running after an interruption finishes the job. Exit 1 when \
anything failed.",
        after_help = "Examples:\n  kubectl werf releases prune shop -n shop --keep 10 --dry-run\n  kubectl werf releases prune -A --keep 5 --yes --backup-dir ./pruned\n  kubectl werf releases prune legacy --helm-version 2 --keep 3"
    )]
    Prune(ReleasesPruneArgs),
    /// Write release records (every revision) as plain YAML files `kubectl create -f DIR` accepts.
    #[command(
        long_about = "Write release records, every revision, Helm 3/4 (Secrets and ConfigMaps) and Helm 2 (Tiller), \
as one plain Kubernetes YAML file per record: `kubectl create -f DIR` and `kubectl werf releases restore \
--dir DIR` accept them. A file of the same record already in DIR is replaced.\n\n\
Without NAME or -A: every release of the namespace: Helm 3/4 records of both drivers and Helm 2 releases \
whose release namespace it is (with --tiller-namespace and no -n: every release of that Tiller). -A: every \
release of every storage. Payloads are written exactly as stored.",
        after_help = "Examples:\n  kubectl werf releases export shop -n shop --dir ./shop-records\n  kubectl werf releases export -A --dir ./all-releases\n  kubectl create -f ./shop-records     # or: kubectl werf releases restore --dir ./shop-records"
    )]
    Export(ReleasesExportArgs),
    /// Put records from an export or backup directory back: create what is missing, skip what is equal.
    #[command(
        long_about = "Read an export or backup directory (releases export, or the backups of unlock/prune/restore) \
and put the records back: a missing record is created, an equal one (same decoded release, same labels \
apart from createdAt/modifiedAt) is skipped, a different one is refused and named, unless --force, which \
backs the current record up and then replaces it (resourceVersion precondition). Exit 1 when anything \
was refused or failed.",
        after_help = "Examples:\n  kubectl werf releases restore --dir ./shop-records --dry-run\n  kubectl werf releases restore --dir ~/.cache/kubectl-werf/backups/2025-01-01T000000Z-prune-42 --yes\n  kubectl werf releases restore --dir ./shop-records --force --yes --backup-dir ./replaced"
    )]
    Restore(ReleasesRestoreArgs),
    /// Delete every record of a release but keep its objects running (Helm forgets the release).
    #[command(
        long_about = "Delete every record of a release, every revision, from Helm's storage, and leave every object \
of it in place: Helm no longer knows the release, its objects keep running.\n\n\
Helm 3/4 records of both drivers (Secrets and ConfigMaps) in the namespace are taken; --helm-version 2 takes \
the Helm 2 (Tiller) records instead. The objects of the latest revision's manifest keep their ownership keys \
by default (a later `helm install NAME` takes them over again), lose them with --strip-ownership, or are \
handed to another release with --to-release R (as `adopt --force` would). Objects another release claims \
are left alone.\n\n\
Shows the plan, asks (or --yes), backs every record and every object's ownership keys up first (--backup-dir; \
`releases restore --dir DIR` puts both back), changes the objects, then deletes the records, oldest first, \
each under its resourceVersion. A release whose latest revision is pending or uninstalling is refused (see \
`releases unlock`). Re-running after an interruption finishes the job.",
        after_help = "Examples:\n  kubectl werf releases forget shop -n shop --dry-run\n  kubectl werf releases forget shop -n shop --yes\n  kubectl werf releases forget shop -n shop --strip-ownership --yes --backup-dir ./shop-forgotten\n  kubectl werf releases forget shop -n shop --to-release store --yes\n  kubectl werf releases restore --dir ./shop-forgotten --yes     # undo"
    )]
    Forget(ReleasesForgetArgs),
    /// Rename a release: every revision under a new name, its objects' ownership keys re-stamped.
    #[command(
        long_about = "Rename a Helm 3/4 release: every revision is written again under --to-name (the name inside \
the payload and in the labels; nothing else changes), each new record is read back and compared, the live \
objects of the latest revision that name the release in their ownership annotations are re-stamped, and \
only then are the old records deleted (backed up first, each under its resourceVersion).\n\n\
Renaming a release does not rename its objects: every place the old name appears in object names, labels \
or selectors is listed as a warning. --to-namespace moves the records to another namespace too, but only \
when every namespaced object of every revision names its namespace explicitly (a chart relying on the \
release namespace would be re-created elsewhere by the next upgrade).\n\n\
Refused when the new name already has records (unless --force, which backs them up and replaces them), \
and for a release whose latest revision is pending or uninstalling. Re-running after an interruption \
finishes the job.",
        after_help = "Examples:\n  kubectl werf releases move shop -n shop --to-name store --dry-run\n  kubectl werf releases move shop -n shop --to-name store --yes\n  kubectl werf releases move shop -n shop --to-name shop --to-namespace shop-prod --yes"
    )]
    Move(ReleasesMoveArgs),
    /// Find stored objects whose Kubernetes API versions this cluster no longer serves (helm upgrade and
    /// rollback then fail); --fix writes a revision that uses the replacements.
    #[command(long_about = RELEASES_APIS_LONG_ABOUT, after_help = RELEASES_APIS_EXAMPLES)]
    Apis(ReleasesApisArgs),
    /// Find what will break the next helm upgrade: several deployed revisions, stuck or missing deployed
    /// revisions, label drift, duplicate storages, oversized records, removed APIs, ownership, drift.
    #[command(long_about = RELEASES_DOCTOR_LONG_ABOUT, after_help = RELEASES_DOCTOR_EXAMPLES)]
    Doctor(ReleasesDoctorArgs),
    /// Bytes of each stored release record against the 1 MiB object limit, by part and by revision.
    #[command(long_about = RELEASES_SIZE_LONG_ABOUT, after_help = RELEASES_SIZE_EXAMPLES)]
    Size(ReleasesSizeArgs),
    /// Rewrite the labels of a release's records from their payloads (status, name, version, owner).
    #[command(long_about = RELEASES_RELABEL_LONG_ABOUT, after_help = RELEASES_RELABEL_EXAMPLES)]
    Relabel(ReleasesRelabelArgs),
}

// The long help of doctor, size and relabel: written by the modules that implement them.
const RELEASES_DOCTOR_LONG_ABOUT: &str = concat!(
    "Read release storage (and, for the ownership checks, the live objects labelled app.kubernetes.io/managed-by=Helm) ",
    "in one read-only pass and report, per release, each finding with its severity, its evidence and its fix: a command ",
    "of this tool (with the flags that pick the release's storage), or advice.\n\n",
    "Checks: several-deployed, no-deployed, pending (with age), label-drift, undecodable, size (latest record + largest ",
    "growth against 1,048,576 bytes), removed-api (the revisions helm reads), both-drivers, helm2-and-helm3, ",
    "foreign-owner, shared-object; with --drift, drift-missing and drift-field.\n\n",
    "Storage is read like `releases list -A`: the labels of every record, payloads only of the records a check needs ",
    "(latest, last deployed, pending, mislabelled). A fix command that asks for confirmation says so; without a terminal ",
    "it needs --yes.\n\n",
    "Exit codes: 0 healthy (or info only), 3 the worst finding is a warning, 4 an error, 1 a storage could not be read ",
    "at all (or a named release was not found), 2 usage."
);
const RELEASES_DOCTOR_EXAMPLES: &str = "Examples:\n  kubectl werf releases doctor -A\n  kubectl werf releases doctor shop -n shop -o json\n  kubectl werf releases doctor -n shop --target-version 1.25\n  kubectl werf releases doctor -A --drift";
const RELEASES_SIZE_LONG_ABOUT: &str = "Bytes of each stored release record against the 1,048,576 bytes the API server accepts \
for a Secret's or ConfigMap's data, broken down by part, with growth over the revisions.";
const RELEASES_SIZE_EXAMPLES: &str = "Examples:\n  kubectl werf releases size -A\n  kubectl werf releases size shop -n shop -o json\n  kubectl werf releases size -A --warn-at 50";
const RELEASES_RELABEL_LONG_ABOUT: &str = "Rewrite the labels of a release's records so that they say what the payloads say \
(Helm 3/4: name, owner, status, version; Helm 2: NAME, OWNER, STATUS, VERSION), as helm would have written them. \
helm list, history and upgrade select records by these labels without decoding them, so a label left behind \
by a hand edit or a broken tool makes helm list the wrong revision, hide one from history, or miss the \
deployed one.\n\n\
The release is found as by every write verb (one storage; -n, --helm-version, --release-storage, \
--tiller-namespace pick it). Its records are those its name label selects (whatever their owner label says) \
and those whose object name is the release's (whatever their name label says). Only the labels that \
disagree change; every other label (werf's, yours, createdAt) is kept, modifiedAt (MODIFIED_AT) is set as \
helm sets it on an update, and the payload is written back byte for byte. `releases doctor` reports label \
drift with the same rule.\n\n\
The plan lists record, label, stored value and new value; every record is backed up first (--backup-dir), \
read again right before its write and written under its resourceVersion. On a terminal you confirm (or \
--yes); --dry-run changes nothing. Running it again finds nothing to do (exit 0).\n\n\
Refused records, named on stderr, the others still done: one that cannot be decoded, and one whose object \
name disagrees with its payload (sh.helm.release.v1.NAME.vN; Tiller NAME.vN), which relabelling cannot \
fix because objects cannot be renamed (export it, then re-create it under its own name or delete the stray \
copy; `releases move` renames whole releases). A payload naming another namespace than its record's is a \
warning: no label carries the namespace.\n\n\
Exit codes: 0 done or nothing to do; 1 a record was refused or could not be written; 2 usage error.";
const RELEASES_RELABEL_EXAMPLES: &str = "Examples:\n  kubectl werf releases relabel shop -n shop --dry-run\n  kubectl werf releases relabel shop -n shop --yes\n  kubectl werf releases relabel shop -n shop --release-storage configmap --yes --backup-dir ./before-relabel\n  kubectl werf releases relabel legacy --helm-version 2 --tiller-namespace kube-system --yes";

/// `doctor --drift`: how live objects are compared with the manifest.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftMode {
    /// Client-side, with the documented normalisation (quantities, int-or-string, defaulted fields ignored).
    Client,
    /// Exactly, by a server-side dry-run apply of each manifest object.
    Server,
}

#[derive(Args, Debug, Clone)]
pub struct ReleasesDoctorArgs {
    /// Releases to check (in the namespace); default every release of the namespace.
    pub names: Vec<String>,
    /// Every release in every namespace (and every Helm 2 release), and every Helm-managed object.
    #[arg(short = 'A', long, conflicts_with = "names")]
    pub all_namespaces: bool,
    /// Also compare the latest deployed manifest with the live objects (client, the default, or server).
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "client", value_name = "MODE")]
    pub drift: Option<DriftMode>,
    /// Answer the removed-API check for this Kubernetes version (e.g. 1.25) instead of the cluster's own.
    #[arg(long, value_name = "1.NN")]
    pub target_version: Option<String>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// `releases size --sort`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SizeSort {
    /// Largest record first.
    #[default]
    Size,
    /// Largest growth between two revisions first.
    Growth,
    /// By namespace and name.
    Name,
}

#[derive(Args, Debug, Clone)]
pub struct ReleasesSizeArgs {
    /// Release name (in the namespace); default every release of the namespace.
    #[arg(conflicts_with = "all_namespaces")]
    pub name: Option<String>,
    /// Every release in every namespace (and every Helm 2 release).
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Mark records at or above this share of the 1,048,576-byte limit (and exit 3 when there is one).
    #[arg(long, value_name = "PERCENT", default_value_t = 80, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub warn_at: u8,
    /// Order of the releases.
    #[arg(long, value_enum, default_value_t = SizeSort::Size)]
    pub sort: SizeSort,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

#[derive(Args, Debug, Clone)]
pub struct ReleasesRelabelArgs {
    /// Release name.
    pub name: String,
    /// Show what would be done and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Directory for the backup (default: a new directory under ~/.cache/kubectl-werf/backups).
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

const RELEASES_APIS_LONG_ABOUT: &str = concat!(
    "Find the objects of stored releases whose Kubernetes API versions this cluster no longer serves, and with --fix ",
    "write a revision helm can upgrade from.\n\n",
    "helm builds the stored manifest of a release's latest and last deployed revisions on every upgrade and rollback; an ",
    "object whose apiVersion the cluster stopped serving (a PodDisruptionBudget policy/v1beta1 after Kubernetes 1.25, ...) ",
    "makes them fail: \"resource mapping not found ... ensure CRDs are installed first\".\n\n",
    "Scanned: every release (Helm 3/4 records of both drivers, Secrets and ConfigMaps; Helm 2 records in Tiller's ",
    "namespace, or everywhere with -A), the revisions helm reads (latest, last deployed, pending; every revision with ",
    "--all-revisions), manifest and hooks, each YAML document parsed. Per object: kind, name, stored apiVersion, whether ",
    "this cluster serves it (discovery, CRDs included), the Kubernetes version that removed it and its replacement. ",
    "--target-version 1.NN answers for a cluster not yet upgraded to that version.\n\n",
    "--fix: per release, revision latest+1 is written as a copy of the last deployed revision whose manifest and hooks ",
    "use the replacements (with the field changes they need: Ingress backends and pathType, HPA v2beta1 targets, the ",
    "apps/v1 selector, CRD versions and schema, webhook admissionReviewVersions and sideEffects, the PDB empty selector, ",
    "...), status deployed, a description saying what was mapped; kinds without a replacement (PodSecurityPolicy) are ",
    "taken out of the stored manifest with a note. The plan is shown first; on a terminal you confirm (or --yes). Every ",
    "record that changes is backed up first (--backup-dir); the new revision is read back before the previous deployed ",
    "one is marked superseded; running the same command again finishes an interrupted fix. --all-revisions also ",
    "rewrites older revisions in place, so that helm rollback to them works.\n\n",
    "Exit codes: 0 nothing found; 3 a revision helm reads (with --all-revisions: any revision) holds an API version ",
    "removed by the target version or not served here (after --fix: still holds one); 1 a record could not be read or ",
    "written; 2 usage error."
);

const RELEASES_APIS_EXAMPLES: &str = "Examples:\n  kubectl werf releases apis -A                          # every release, exit code 3 when helm would fail\n  kubectl werf releases apis -A --target-version 1.25 -o json\n  kubectl werf releases apis shop -n shop --fix --dry-run\n  kubectl werf releases apis -A --fix --yes --backup-dir ./before-fix\n  kubectl werf releases apis legacy --helm-version 2 --tiller-namespace kube-system";

#[derive(Args, Debug, Clone)]
pub struct ReleasesApisArgs {
    /// Releases to scan (in the namespace); default every release of the namespace.
    pub names: Vec<String>,
    /// Every release in every namespace (and every Helm 2 release).
    #[arg(short = 'A', long, conflicts_with = "names")]
    pub all_namespaces: bool,
    /// Answer for this Kubernetes version (e.g. 1.25) instead of the cluster's own.
    #[arg(long, value_name = "1.NN")]
    pub target_version: Option<String>,
    /// Every revision, not only the ones helm reads; with --fix, rewrite older revisions in place too.
    #[arg(long)]
    pub all_revisions: bool,
    /// Write revisions that use the replacement API versions (shows the plan first).
    #[arg(long)]
    pub fix: bool,
    /// With --fix: show the plan and change nothing.
    #[arg(long, requires = "fix")]
    pub dry_run: bool,
    /// With --fix: do not ask for confirmation (required without a terminal).
    #[arg(short = 'y', long, requires = "fix")]
    pub yes: bool,
    /// With --fix: directory for the backups (default: a new directory under ~/.cache/kubectl-werf/backups).
    #[arg(long, value_name = "DIR", requires = "fix")]
    pub backup_dir: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Where `unlock --to` leaves the stuck revision.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnlockTarget {
    /// Mark it failed (Helm then upgrades or rolls back from it as from any failed revision).
    #[default]
    Failed,
    /// Mark it superseded (only when another revision is deployed); with several deployed revisions, all
    /// but the latest deployed.
    Superseded,
    /// Delete the record (the previous revision becomes the latest).
    Delete,
}

#[derive(Args, Debug, Clone)]
pub struct ReleasesUnlockArgs {
    /// Release name.
    pub name: String,
    /// What to make of the stuck revision.
    #[arg(long = "to", value_enum, default_value_t = UnlockTarget::Failed)]
    pub to: UnlockTarget,
    /// This revision instead of the latest.
    #[arg(long, value_name = "N")]
    pub revision: Option<i64>,
    /// Show what would be done and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Proceed with --yes even though the record was written in the last 5 minutes.
    #[arg(long)]
    pub force: bool,
    /// Directory for the backup (default: a new directory under ~/.cache/kubectl-werf/backups).
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

#[derive(Args, Debug, Clone)]
pub struct ReleasesPruneArgs {
    /// Releases to prune (in the namespace); or -A for every release.
    pub names: Vec<String>,
    /// Every release in every namespace (and every Helm 2 release).
    #[arg(short = 'A', long, conflicts_with = "names")]
    pub all_namespaces: bool,
    /// Revisions to keep per release (at least 1). Required, except as a Helm plugin, where Helm's
    /// $HELM_MAX_HISTORY (helm upgrade's --history-max default, 10) is the default.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: Option<u32>,
    /// Show the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Directory for the backups (default: a new directory under ~/.cache/kubectl-werf/backups).
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Output format of the results.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

#[derive(Args, Debug, Clone)]
pub struct ReleasesExportArgs {
    /// Releases to export (in the namespace); or -A for every release.
    pub names: Vec<String>,
    /// Every release in every namespace (and every Helm 2 release).
    #[arg(short = 'A', long, conflicts_with = "names")]
    pub all_namespaces: bool,
    /// Directory to write the files to (created when missing).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct ReleasesRestoreArgs {
    /// Directory of record files (releases export, or a backup directory).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Replace records that differ (after backing the current ones up).
    #[arg(long)]
    pub force: bool,
    /// Show the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Directory for backups of replaced records (default: a new directory under ~/.cache/kubectl-werf/backups).
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Output format of the results.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

#[derive(Args, Debug, Clone)]
pub struct ReleasesForgetArgs {
    /// Release name.
    pub name: String,
    /// Remove the ownership keys (managed-by label, release-name/-namespace annotations) from its objects.
    #[arg(long, conflicts_with = "to_release")]
    pub strip_ownership: bool,
    /// Hand its objects to this release (same namespace unless --to-release-namespace).
    #[arg(long, value_name = "RELEASE")]
    pub to_release: Option<String>,
    /// Namespace of the --to-release release (default: the release's own).
    #[arg(long, value_name = "NAMESPACE", requires = "to_release")]
    pub to_release_namespace: Option<String>,
    /// Show the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Directory for the backup (default: a new directory under ~/.cache/kubectl-werf/backups).
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Output format of the results.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

#[derive(Args, Debug, Clone)]
pub struct ReleasesMoveArgs {
    /// Release name.
    pub name: String,
    /// The new release name.
    #[arg(long, value_name = "NAME")]
    pub to_name: String,
    /// Move the records to this namespace too.
    #[arg(long, value_name = "NAMESPACE")]
    pub to_namespace: Option<String>,
    /// Replace the records the new name already has (after backing them up).
    #[arg(long)]
    pub force: bool,
    /// Show the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Directory for the backup (default: a new directory under ~/.cache/kubectl-werf/backups).
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Output format of the results.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ReleasesListArgs {
    /// List releases across all namespaces (Helm 2 records wherever Tiller keeps them).
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Accepted for Helm 3 habits: every status is listed by default (Helm 4's default).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Show deployed releases.
    #[arg(long)]
    pub deployed: bool,
    /// Show failed releases.
    #[arg(long)]
    pub failed: bool,
    /// Show pending releases (pending-install, pending-upgrade, pending-rollback).
    #[arg(long)]
    pub pending: bool,
    /// Show superseded releases (alone: every superseded revision, as helm does).
    #[arg(long)]
    pub superseded: bool,
    /// Show uninstalled releases (Helm 2: DELETED).
    #[arg(long)]
    pub uninstalled: bool,
    /// Show releases being uninstalled (Helm 2: DELETING).
    #[arg(long)]
    pub uninstalling: bool,
    /// A regular expression; only releases whose name matches are listed.
    #[arg(short = 'f', long, value_name = "REGEX")]
    pub filter: Option<String>,
    /// Label selector on the release records' labels (=, ==, !=, in, notin, exists, !key).
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Maximum number of releases to print (0 = no limit).
    #[arg(short = 'm', long, default_value_t = 256, value_name = "N")]
    pub max: usize,
    /// Index of the first release to print.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub offset: usize,
    /// Sort by release date.
    #[arg(short = 'd', long)]
    pub date: bool,
    /// Reverse the sort order.
    #[arg(short = 'r', long)]
    pub reverse: bool,
    /// Print release names only.
    #[arg(short = 'q', long)]
    pub short: bool,
    /// Do not print the table header.
    #[arg(long)]
    pub no_headers: bool,
    /// Format UPDATED with a Go time layout, e.g. "2006-01-02 15:04:05Z0700".
    #[arg(long, value_name = "LAYOUT")]
    pub time_format: Option<String>,
    /// Output format (name: one NAMESPACE/NAME a line, for pipes).
    #[arg(short = 'o', long, value_enum, default_value_t = ListOutputFormat::Table)]
    pub output: ListOutputFormat,
}

#[derive(Args, Debug, Clone)]
pub struct ReleasesHistoryArgs {
    /// Release name.
    pub name: String,
    /// Maximum number of revisions to print (the latest ones).
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub max: usize,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

#[derive(Args, Debug, Clone)]
pub struct ReleasesStatusArgs {
    /// Release name.
    pub name: String,
    /// This revision instead of the latest.
    #[arg(long, value_name = "N")]
    pub revision: Option<i64>,
    /// Also show the release's resources as the cluster has them (helm 3's layout; reads each object).
    #[arg(long)]
    pub show_resources: bool,
    /// Also show the release's description (its completion or error message).
    #[arg(long)]
    pub show_desc: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

#[derive(Args, Debug)]
pub struct ReleasesGetArgs {
    #[command(subcommand)]
    pub what: ReleasesGetCommand,
}

#[derive(Subcommand, Debug, Clone)]
pub enum ReleasesGetCommand {
    /// Notes, hooks, values and manifest (helm get all).
    All(ReleasesGetTextArgs),
    /// The rendered manifest.
    Manifest(ReleasesGetTextArgs),
    /// User-supplied values, or all computed values with -a.
    Values(ReleasesGetValuesArgs),
    /// The chart's notes.
    Notes(ReleasesGetTextArgs),
    /// The hooks' manifests.
    Hooks(ReleasesGetTextArgs),
    /// Chart and release metadata.
    Metadata(ReleasesGetMetadataArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ReleasesGetTextArgs {
    /// Release name.
    pub name: String,
    /// This revision instead of the latest.
    #[arg(long, value_name = "N")]
    pub revision: Option<i64>,
}

#[derive(Args, Debug, Clone)]
pub struct ReleasesGetValuesArgs {
    /// Release name.
    pub name: String,
    /// This revision instead of the latest.
    #[arg(long, value_name = "N")]
    pub revision: Option<i64>,
    /// All values: the chart's defaults coalesced with the user's (user wins).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

#[derive(Args, Debug, Clone)]
pub struct ReleasesGetMetadataArgs {
    /// Release name.
    pub name: String,
    /// This revision instead of the latest.
    #[arg(long, value_name = "N")]
    pub revision: Option<i64>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}
