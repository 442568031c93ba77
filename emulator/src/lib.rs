//! # kube-emulator
//!
//! An in-process HTTP server that behaves like kube-apiserver 1.36 for what kubectl-werf,
//! `kubectl`, `helm3`/`helm4` and kube-rs use: discovery (plain and aggregated v2),
//! OpenAPI v3, CRUD on every resource of the captured discovery documents (including the
//! custom resource `widgets.shop.example.com`), selectors, pagination, patches, field
//! validation, metadata-only and Table answers, bearer-token authentication, a pluggable
//! authorization step, fault injection and a request log.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use kube_emulator::{Emulator, Fault};
//! let emu = Emulator::start().await?;                 // 127.0.0.1:<free port>
//! emu.write_kubeconfig(std::path::Path::new("/tmp/kubeconfig"))?;
//! emu.seed_documents("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: demo}\n").unwrap();
//! emu.inject(Fault::on("list", "secrets").nth(2).respond_retry_after(429, 1));
//! // ... run clients against emu.url() ...
//! assert!(emu.request_log().iter().any(|r| r.verb == "list"));
//! # Ok(()) }
//! ```
//!
//! From synchronous tests use [`Emulator::start_blocking`], which runs the server on its
//! own runtime thread.
//!
//! ## Behaviour notes (what is faithful, what is simplified)
//! - Objects are stored as serialized JSON; LISTs are streamed from the stored bytes.
//!   List items carry no `kind`/`apiVersion` (as on the real server).
//! - `resourceVersion` is one global counter (starts at 1000 by default). Continue tokens are
//!   base64url JSON like the real ones; a continued LIST reads the *current* state from the
//!   key after the token (no snapshot, never `410 Expired`). `remainingItemCount` is given
//!   only for LISTs without selectors (as on the real server).
//! - `managedFields` are never stored or returned; `selfLink` never set. `generation` is
//!   kept for non-core workload groups and custom resources (bumped on spec changes).
//! - Namespaces get the `kubernetes.io/metadata.name` label, `spec.finalizers: [kubernetes]`
//!   and `status.phase: Active`; deleting one removes it and all its objects at once (the
//!   DELETE answer shows it `Terminating`). `default`, `kube-system`, `kube-public`,
//!   `kube-node-lease` exist at start.
//! - DELETE answers a `Success` Status (with `details.uid`) for most kinds, the object for
//!   namespaces, pods, services and custom resources.
//! - Validation: name syntax per kind, label keys/values, Secret base64 and the 1 MiB
//!   Secret/ConfigMap data limit (Go `len`: bytes), the 3 MiB body limit, `fieldValidation`
//!   (Strict/Warn/Ignore, default Warn) with unknown fields found from the served OpenAPI v3
//!   schemas (and pruned, as the real decoder drops them).
//! - PATCH: merge, JSON (RFC 6902) and strategic merge patch (list merge keys and strategies
//!   read from the OpenAPI `x-kubernetes-patch-*` extensions; directives `$patch`,
//!   `$deleteFromPrimitiveList`, `$setElementOrder` (ignored), `$retainKeys` (ignored)).
//!   Strategic merge on custom resources answers 415 like the real server. Server-side apply
//!   (`application/apply-patch+yaml`) requires `fieldManager`, creates missing objects and
//!   otherwise merges like a strategic merge patch: there is no field ownership, no conflict
//!   detection and fields are never removed by omission.
//! - `watch=true` answers 405 MethodNotAllowed. Subresources: only `GET .../status`.
//!   `/openapi/v2` answers 404 (clients then use v3). Protobuf is never produced: every
//!   answer is JSON (clients that list JSON in `Accept` accept this). Protobuf request bodies
//!   are read for the kinds client-go's typed clients write here (Secret, ConfigMap, Namespace,
//!   DeleteOptions), so real helm can install and upgrade; other kinds' protobuf answers 415.
//! - CRDs created through the API are stored but do not add resources to discovery.
//! - Transport: one port speaks both HTTPS (test CA, see [`ca_certificate_pem`]; the
//!   kubeconfig carries it) and plain HTTP (detected from the first byte). client-go based
//!   clients (kubectl, helm) only send bearer tokens over TLS, so kubeconfigs use `https`.
//! - Authentication: bearer tokens only. An admin token (`system:masters`) is generated at
//!   start; [`Emulator::add_user`] registers more. No/unknown token → 401 (except
//!   `/healthz`, `/livez`, `/readyz`). Authorization: `system:masters` always passes;
//!   other users go to the [`Authorizer`] set with [`Emulator::set_authorizer`] (none set =
//!   allow everything). [`Emulator::enable_rbac`] (or `EmulatorConfig { rbac: true, .. }`)
//!   installs the real RBAC authorizer ([`RbacAuthorizer`], see the [`rbac`] module notes):
//!   Roles, ClusterRoles and bindings created through the API then decide, and Forbidden
//!   answers read like the real server's. Users named `system:serviceaccount:NS:NAME` get
//!   the groups `system:serviceaccounts` and `system:serviceaccounts:NS`, as from a token.

#![allow(clippy::result_large_err)] // ApiError is a plain public value type; boxing it would complicate callers

mod discovery;
mod embedded;
mod faults;
mod patch;
mod protobuf;
pub mod rbac;
mod schema;
mod seed;
mod selector;
mod server;
mod status;
mod store;
mod util;
mod validate;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;

pub use discovery::{Resource, resources};
pub use faults::{Authorizer, Decision, Fault, FaultAction, LoggedRequest, RequestAttributes};
pub use patch::{json_patch, merge_patch};
pub use rbac::{Policy, PolicyRule, RbacAuthorizer, Subject, bootstrap_documents};
pub use seed::{SeedError, parse_documents};
pub use selector::{FieldSelector, LabelSelector};
pub use status::{ApiError, Cause};
pub use store::{PatchType, StoreHandle};

use server::{Shared, User};

/// Configuration of [`Emulator::start_with`].
#[derive(Clone)]
pub struct EmulatorConfig {
    /// Address to listen on (default `127.0.0.1:0`, a free port).
    pub listen: SocketAddr,
    /// The admin token (default: random).
    pub admin_token: Option<String>,
    /// The first resourceVersion handed out is this + 1 (default 1000).
    pub initial_resource_version: u64,
    /// Create `default`, `kube-system`, `kube-public`, `kube-node-lease` (default true).
    pub default_namespaces: bool,
    /// Authorizer for non-`system:masters` users (default: allow all).
    pub authorizer: Option<Arc<dyn Authorizer>>,
    /// Start with RBAC on (see [`Emulator::enable_rbac`]); replaces `authorizer` (default false).
    pub rbac: bool,
    /// How many requests the log keeps (oldest dropped first; default 1,000,000).
    pub max_logged_requests: usize,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_token: None,
            initial_resource_version: 1000,
            default_namespaces: true,
            authorizer: None,
            rbac: false,
            max_logged_requests: 1_000_000,
        }
    }
}

/// A running emulator. Dropping it stops the server.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    admin_token: String,
    shutdown: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator").field("addr", &self.addr).finish()
    }
}

fn build_shared(cfg: &EmulatorConfig, admin_token: &str) -> Arc<Shared> {
    let mut users = HashMap::new();
    users.insert(
        admin_token.to_string(),
        User { name: "admin".into(), groups: vec!["system:masters".into(), "system:authenticated".into()] },
    );
    let shared = Arc::new(Shared {
        store: Arc::new(store::Store::new(cfg.initial_resource_version)),
        users: RwLock::new(users),
        authorizer: RwLock::new(cfg.authorizer.clone()),
        faults: Mutex::new(Vec::new()),
        log: Mutex::new(Vec::new()),
        counters: Mutex::new(BTreeMap::new()),
        max_log: cfg.max_logged_requests.max(1),
    });
    if cfg.default_namespaces {
        let h = StoreHandle { store: shared.store.clone() };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let _ = h.ensure_namespace(ns);
        }
    }
    if cfg.rbac {
        install_rbac(&shared);
    }
    shared
}

/// Creates the bootstrap roles (those already present are kept) and installs the RBAC authorizer.
fn install_rbac(shared: &Shared) {
    let h = StoreHandle { store: shared.store.clone() };
    for doc in parse_documents(bootstrap_documents()).unwrap_or_default() {
        let _ = h.create(doc);
    }
    *shared.authorizer.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(RbacAuthorizer::new(h)));
}

static CA_PEM: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/certs/ca.crt"));
static SERVER_CERT_DER: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/certs/server.crt.der"));
static SERVER_KEY_DER: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/certs/server.key.der"));

/// The PEM of the test CA that signed the emulator's serving certificate.
pub fn ca_certificate_pem() -> &'static str {
    std::str::from_utf8(CA_PEM).unwrap_or("")
}

fn tls_acceptor() -> std::io::Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(SERVER_CERT_DER.to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(SERVER_KEY_DER.to_vec())),
        )
        .map_err(std::io::Error::other)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

async fn serve_conn<S>(io: S, shared: Arc<Shared>, mut stop: watch::Receiver<bool>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| server::handle(shared.clone(), req));
    let conn = http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(io), svc);
    tokio::select! {
        _ = conn => {}
        _ = stop.changed() => {}
    }
}

/// Accepts connections; each one is TLS if it starts with a TLS handshake, else plain HTTP.
async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let acceptor = match tls_acceptor() {
        Ok(a) => Some(a),
        Err(e) => {
            eprintln!("kube-emulator: TLS disabled: {e}");
            None
        }
    };
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let stop = shutdown.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let mut first = [0u8; 1];
            let is_tls = matches!(
                tokio::time::timeout(std::time::Duration::from_secs(30), stream.peek(&mut first)).await,
                Ok(Ok(1))
            ) && first[0] == 0x16;
            match (is_tls, acceptor) {
                (true, Some(acc)) => {
                    if let Ok(Ok(tls)) = tokio::time::timeout(std::time::Duration::from_secs(10), acc.accept(stream)).await {
                        serve_conn(tls, shared, stop).await;
                    }
                }
                _ => serve_conn(stream, shared, stop).await,
            }
        });
    }
}

impl Emulator {
    /// Starts on `127.0.0.1:<free port>` on the current tokio runtime.
    pub async fn start() -> std::io::Result<Emulator> {
        Emulator::start_with(EmulatorConfig::default()).await
    }

    /// Starts with a configuration on the current tokio runtime.
    pub async fn start_with(cfg: EmulatorConfig) -> std::io::Result<Emulator> {
        let admin_token = cfg.admin_token.clone().unwrap_or_else(|| format!("emu-admin-{:016x}", util::random_u64()));
        let shared = build_shared(&cfg, &admin_token);
        let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = watch::channel(false);
        tokio::spawn(serve(listener, shared.clone(), rx));
        Ok(Emulator { shared, addr, admin_token, shutdown: tx, thread: None })
    }

    /// Starts on its own background runtime thread (for synchronous tests).
    pub fn start_blocking() -> std::io::Result<Emulator> {
        Emulator::start_blocking_with(EmulatorConfig::default())
    }

    /// [`Emulator::start_blocking`] with a configuration.
    pub fn start_blocking_with(cfg: EmulatorConfig) -> std::io::Result<Emulator> {
        let admin_token = cfg.admin_token.clone().unwrap_or_else(|| format!("emu-admin-{:016x}", util::random_u64()));
        let shared = build_shared(&cfg, &admin_token);
        let std_listener = std::net::TcpListener::bind(cfg.listen)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (tx, rx) = watch::channel(false);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kube-emulator")
            .enable_all()
            .build()?;
        let s2 = shared.clone();
        let thread = std::thread::Builder::new().name("kube-emulator-main".into()).spawn(move || {
            rt.block_on(async move {
                match tokio::net::TcpListener::from_std(std_listener) {
                    Ok(l) => serve(l, s2, rx).await,
                    Err(e) => eprintln!("kube-emulator: cannot listen: {e}"),
                }
            });
            rt.shutdown_timeout(std::time::Duration::from_secs(1));
        })?;
        Ok(Emulator { shared, addr, admin_token, shutdown: tx, thread: Some(thread) })
    }

    /// `https://127.0.0.1:PORT` (TLS with the test CA of [`ca_certificate_pem`]; client-go
    /// sends bearer tokens only over TLS).
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT`: the same port also speaks plain HTTP (tokens still required).
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bearer token of the `admin` user (group `system:masters`).
    pub fn admin_token(&self) -> String {
        self.admin_token.clone()
    }

    /// Registers a bearer-token user; `system:authenticated` is always added to the groups. A
    /// ServiceAccount user (`system:serviceaccount:NS:NAME`) also gets `system:serviceaccounts`
    /// and `system:serviceaccounts:NS`, as the real token authenticator gives them.
    pub fn add_user(&self, token: &str, user: &str, groups: &[&str]) {
        let mut g: Vec<String> = groups.iter().map(|s| s.to_string()).collect();
        let mut implied = Vec::new();
        if let Some((ns, _)) = user.strip_prefix("system:serviceaccount:").and_then(|r| r.split_once(':')) {
            implied.push("system:serviceaccounts".to_string());
            implied.push(format!("system:serviceaccounts:{ns}"));
        }
        implied.push("system:authenticated".to_string());
        for i in implied {
            if !g.contains(&i) {
                g.push(i);
            }
        }
        self.shared
            .users
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.to_string(), User { name: user.to_string(), groups: g });
    }

    /// Installs (or with `None` removes) the authorizer for non-`system:masters` users.
    pub fn set_authorizer(&self, authorizer: Option<Arc<dyn Authorizer>>) {
        *self.shared.authorizer.write().unwrap_or_else(|e| e.into_inner()) = authorizer;
    }

    /// Turns RBAC on: creates the default ClusterRoles and ClusterRoleBindings of a real cluster
    /// ([`bootstrap_documents`]: `cluster-admin`, `system:discovery`, `system:public-info-viewer`,
    /// `system:basic-user`; existing objects of those names are kept) and installs
    /// [`RbacAuthorizer`] over this emulator's store, replacing any other authorizer. From then
    /// on users added with [`Emulator::add_user`] may do only what the stored Roles,
    /// ClusterRoles, RoleBindings and ClusterRoleBindings grant them (`system:masters`, like the
    /// admin token, still bypasses). `set_authorizer(None)` turns it off again.
    pub fn enable_rbac(&self) {
        install_rbac(&self.shared);
    }

    /// A kubeconfig whose cluster, user and context are all named `emulator` (admin token,
    /// `https` URL with the test CA as `certificate-authority-data`).
    pub fn kubeconfig_yaml(&self, namespace: Option<&str>) -> String {
        self.kubeconfig_yaml_for(&self.admin_token, namespace)
    }

    /// A kubeconfig for another token (e.g. a user added with [`Emulator::add_user`]).
    pub fn kubeconfig_yaml_for(&self, token: &str, namespace: Option<&str>) -> String {
        let ns = namespace.map(|n| format!("    namespace: {n}\n")).unwrap_or_default();
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: emulator\n  cluster:\n    server: {url}\n    certificate-authority-data: {ca}\ncontexts:\n- name: emulator\n  context:\n    cluster: emulator\n    user: emulator\n{ns}current-context: emulator\nusers:\n- name: emulator\n  user:\n    token: {token}\npreferences: {{}}\n",
            url = self.url(),
            ca = util::b64_encode(CA_PEM)
        )
    }

    /// Writes [`Emulator::kubeconfig_yaml`] (no namespace) to `path`.
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig_yaml(None))
    }

    /// Loads the `*.yaml`/`*.yml`/`*.json` files of `dir` (see [`Emulator::seed_documents`]).
    pub fn seed_dir(&self, dir: &Path) -> Result<usize, SeedError> {
        seed::seed_dir(&self.store(), dir)
    }

    /// Creates the objects of YAML (multi-document) or JSON text: `kind: List` expands,
    /// documents without `apiVersion`+`kind` are skipped, server-set metadata is dropped,
    /// missing namespaces are created (namespaced objects without one go to `default`).
    pub fn seed_documents(&self, text: &str) -> Result<usize, SeedError> {
        seed::seed_text(&self.store(), text, Path::new("<text>"))
    }

    /// Adds a fault rule (rules are checked in the order added).
    pub fn inject(&self, fault: Fault) {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(faults::FaultState { fault, seen: 0, fired: 0 });
    }

    pub fn clear_faults(&self) {
        self.shared.faults.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Every request served so far (oldest first).
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.shared.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn clear_request_log(&self) {
        self.shared.log.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.shared.counters.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Requests per route, keyed like `GET /api/v1/namespaces/{namespace}/secrets` or
    /// `GET /version` (non-resource paths verbatim).
    pub fn route_counters(&self) -> BTreeMap<String, u64> {
        self.shared.counters.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Direct store access (reads and writes like another API client).
    pub fn store(&self) -> StoreHandle {
        StoreHandle { store: self.shared.store.clone() }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
