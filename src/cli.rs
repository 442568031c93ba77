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

    /// Migrate Helm 2 (Tiller) releases to Helm 3 storage, losslessly and resumably; or, with --cleanup,
    /// delete Helm 2 records that have an equal Helm 3 copy.
    #[command(
        name = "migrate2to3",
        long_about = MIGRATE_LONG_ABOUT,
        after_help = MIGRATE_EXAMPLES
    )]
    Migrate2to3(Migrate2to3Args),
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

/// Adjust usage lines to how the user reached us: `kubectl werf ...` or `helm werf-releases ...`.
pub fn command_for_mode(command: clap::Command, mode: crate::settings::InvocationMode) -> clap::Command {
    match mode {
        crate::settings::InvocationMode::Kubectl => command.bin_name("kubectl werf"),
        // Helm runs `kubectl-werf releases ...` for `helm werf-releases ...`.
        crate::settings::InvocationMode::Helm => command.bin_name("helm werf-releases").mut_subcommands(|sub| {
            if sub.get_name() == "releases" { sub.bin_name("helm werf-releases") } else { sub }
        }),
    }
}
