//! The HTTP layer: routing, authentication, fault injection, authorization, content
//! negotiation, and the request log.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::{Request, Response};
use serde_json::{Map, Value, json};

use crate::discovery::{self, Resource};
use crate::faults::{Authorizer, Decision, FaultAction, FaultState, LoggedRequest, RequestAttributes};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{self, ApiError};
use crate::store::{FieldValidation, ListQuery, Obj, PatchType, Store, StoreHandle, WriteOptions, json_str};
use crate::util;

/// Maximum accepted request body (the real server's 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;
/// How much of a too-large body is read (and dropped) before answering 413.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// A response body made of shared chunks (objects are served from their stored bytes).
pub struct ChunkBody {
    chunks: VecDeque<Bytes>,
    remaining: u64,
}

impl ChunkBody {
    pub fn new(chunks: Vec<Bytes>) -> ChunkBody {
        let remaining = chunks.iter().map(|c| c.len() as u64).sum();
        ChunkBody { chunks: chunks.into_iter().filter(|c| !c.is_empty()).collect(), remaining }
    }
}

impl Body for ChunkBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.chunks.pop_front() {
            Some(c) => {
                self.remaining -= c.len() as u64;
                Poll::Ready(Some(Ok(Frame::data(c))))
            }
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct User {
    pub name: String,
    pub groups: Vec<String>,
}

/// State shared by all connections.
pub(crate) struct Shared {
    pub store: Arc<Store>,
    pub users: RwLock<HashMap<String, User>>,
    pub authorizer: RwLock<Option<Arc<dyn Authorizer>>>,
    pub faults: Mutex<Vec<FaultState>>,
    pub log: Mutex<Vec<LoggedRequest>>,
    pub counters: Mutex<BTreeMap<String, u64>>,
    pub max_log: usize,
    /// Whether LISTs may be answered in protobuf (`protobuf_lists`); on unless a test turns it off.
    pub protobuf_lists: std::sync::atomic::AtomicBool,
    /// Removed API versions served on request (see `removed_apis`).
    pub removed: RwLock<crate::removed_apis::Served>,
}

/// A prepared answer.
struct Reply {
    status: u16,
    content_type: String,
    headers: Vec<(String, String)>,
    chunks: Vec<Bytes>,
}

impl Reply {
    fn json(status: u16, v: &Value) -> Reply {
        Reply {
            status,
            content_type: "application/json".into(),
            headers: vec![],
            chunks: vec![Bytes::from(serde_json::to_vec(v).unwrap_or_default())],
        }
    }
    fn raw(status: u16, ct: &str, b: Bytes) -> Reply {
        Reply { status, content_type: ct.into(), headers: vec![], chunks: vec![b] }
    }
    fn error(e: &ApiError) -> Reply {
        let mut r = Reply::raw(e.code, "application/json", Bytes::from(e.to_bytes()));
        if let Some(ra) = e.retry_after {
            r.headers.push(("Retry-After".into(), ra.to_string()));
        }
        r
    }
    fn text(status: u16, t: &str) -> Reply {
        Reply::raw(status, "text/plain; charset=utf-8", Bytes::from(t.to_string()))
    }
}

/// Parsed request routing information (like the server's RequestInfo).
#[derive(Debug, Default, Clone)]
struct Info {
    is_resource: bool,
    /// `api` or `apis` path with a known group/version.
    group: String,
    version: String,
    namespace: String,
    resource: String,
    name: String,
    subresource: String,
    verb: String,
    route: String,
    /// `User-Agent` (field tracking names the writer from it when there is no fieldManager).
    user_agent: String,
}

fn parse_info(method: &str, path: &str, query: &[(String, String)]) -> Info {
    let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let method_verb = method.to_ascii_lowercase();
    let mut info = Info { verb: method_verb.clone(), route: format!("{method} {path}"), ..Default::default() };
    let (group, version, rest) = match parts.as_slice() {
        ["api", v, rest @ ..] if !rest.is_empty() => ("", *v, rest),
        ["apis", g, v, rest @ ..] if !rest.is_empty() => (*g, *v, rest),
        _ => return info,
    };
    info.is_resource = true;
    info.group = group.to_string();
    info.version = version.to_string();
    let mut rest: Vec<&str> = rest.to_vec();
    if rest.first() == Some(&"namespaces") {
        if rest.len() >= 3 {
            info.namespace = rest[1].to_string();
            rest.drain(0..2);
        } else if rest.len() == 2 {
            info.namespace = rest[1].to_string();
        }
    }
    info.resource = rest.first().map(|s| s.to_string()).unwrap_or_default();
    info.name = rest.get(1).map(|s| s.to_string()).unwrap_or_default();
    info.subresource = rest.get(2..).map(|s| s.join("/")).unwrap_or_default();
    let watch = query.iter().any(|(k, v)| k == "watch" && (v == "true" || v == "1"));
    info.verb = match method {
        "GET" | "HEAD" if watch => "watch",
        "GET" | "HEAD" if info.name.is_empty() => "list",
        "GET" | "HEAD" => "get",
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" if info.name.is_empty() => "deletecollection",
        "DELETE" => "delete",
        _ => method_verb.as_str(),
    }
    .to_string();
    let prefix = if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") };
    let mut route = prefix;
    let is_the_namespace_itself = info.resource == "namespaces" && rest.len() <= 2 && info.name == info.namespace;
    if !info.namespace.is_empty() && !is_the_namespace_itself {
        route.push_str("/namespaces/{namespace}");
    }
    route.push('/');
    route.push_str(&info.resource);
    if !info.name.is_empty() {
        route.push_str("/{name}");
    }
    if !info.subresource.is_empty() {
        route.push('/');
        route.push_str(&info.subresource);
    }
    info.route = format!("{method} {route}");
    if info.resource == "namespaces" && parts.len() <= 4 && !info.name.is_empty() {
        // `/api/v1/namespaces/{name}`: the namespace itself
        info.namespace = info.name.clone();
    }
    info
}

enum Want {
    Full,
    Table,
    Meta,
}

fn media_params(part: &str) -> (String, HashMap<String, String>) {
    let mut it = part.split(';');
    let base = it.next().unwrap_or("").trim().to_ascii_lowercase();
    let params = it.filter_map(|p| p.split_once('=')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
    (base, params)
}

fn negotiate(accept: &str) -> Want {
    for part in accept.split(',') {
        let (base, p) = media_params(part);
        let json_like = base == "application/json" || base == "*/*" || base == "application/*" || base.is_empty();
        if !json_like {
            continue;
        }
        match p.get("as").map(String::as_str) {
            None => return Want::Full,
            Some("Table") if p.get("g").map(String::as_str) == Some("meta.k8s.io") && p.get("v").map(String::as_str) == Some("v1") => {
                return Want::Table;
            }
            Some("PartialObjectMetadata") | Some("PartialObjectMetadataList")
                if p.get("g").map(String::as_str) == Some("meta.k8s.io") && p.get("v").map(String::as_str) == Some("v1") =>
            {
                return Want::Meta;
            }
            _ => continue,
        }
    }
    Want::Full
}

fn wants_aggregated(accept: &str) -> bool {
    accept.split(',').any(|part| {
        let (base, p) = media_params(part);
        base == "application/json"
            && p.get("g").map(String::as_str) == Some("apidiscovery.k8s.io")
            && p.get("v").map(String::as_str) == Some("v2")
            && p.get("as").map(String::as_str) == Some("APIGroupDiscoveryList")
    })
}

const AGGREGATED_CT: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

fn header(req: &Request<Incoming>, name: &str) -> String {
    req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
}

/// Serves one HTTP request. `Err` means "drop the connection".
pub(crate) async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<ChunkBody>, std::io::Error> {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let path = util::url_decode(req.uri().path(), false);
    let raw_query = req.uri().query().unwrap_or("").to_string();
    let query = util::parse_query(&raw_query);
    let content_type = header(&req, "content-type");
    let accept = header(&req, "accept");
    let auth = header(&req, "authorization");
    let mut info = parse_info(&method, &path, &query);
    info.user_agent = header(&req, "user-agent");

    let mut log = LoggedRequest {
        method: method.clone(),
        path: path.clone(),
        query: raw_query.clone(),
        status: 0,
        response_bytes: 0,
        request_bytes: 0,
        user: String::new(),
        verb: info.verb.clone(),
        resource: info.resource.clone(),
        namespace: info.namespace.clone(),
        name: info.name.clone(),
        content_type: content_type.clone(),
        accept: accept.clone(),
        route: info.route.clone(),
        duration: Default::default(),
        dropped: false,
    };

    let reply = async {
        // body, with the 3 MiB limit
        let declared: Option<u64> = req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        // Too large: answered 413 once the client has sent it all (as kube-apiserver does; answering
        // early breaks the client's write). At most DRAIN_LIMIT is read.
        let mut too_large = declared.is_some_and(|n| n > MAX_BODY as u64);
        let mut drained = 0usize;
        let user = match authenticate(&shared, &auth, &path) {
            Ok(u) => u,
            Err(e) => return Ok(Reply::error(&e)),
        };
        log.user = user.as_ref().map(|u| u.name.clone()).unwrap_or_default();
        let mut body_bytes = Vec::new();
        let mut incoming = req.into_body();
        while let Some(frame) = incoming.frame().await {
            match frame {
                Ok(f) => {
                    if let Some(d) = f.data_ref() {
                        if too_large {
                            drained += d.len();
                            if drained > DRAIN_LIMIT {
                                return Err(());
                            }
                            continue;
                        }
                        body_bytes.extend_from_slice(d);
                        if body_bytes.len() > MAX_BODY {
                            too_large = true;
                            body_bytes = Vec::new();
                        }
                    }
                }
                Err(_) => return Err(()),
            }
        }
        if too_large {
            return Ok(Reply::error(&ApiError::too_large()));
        }
        log.request_bytes = body_bytes.len() as u64;
        let attrs = RequestAttributes {
            user: user.as_ref().map(|u| u.name.clone()).unwrap_or_default(),
            groups: user.as_ref().map(|u| u.groups.clone()).unwrap_or_default(),
            verb: info.verb.clone(),
            is_resource: info.is_resource,
            api_group: info.group.clone(),
            api_version: info.version.clone(),
            resource: info.resource.clone(),
            subresource: info.subresource.clone(),
            namespace: info.namespace.clone(),
            name: info.name.clone(),
            path: path.clone(),
        };
        // fault injection
        let actions: Vec<FaultAction> = {
            let mut faults = shared.faults.lock().unwrap_or_else(|e| e.into_inner());
            let mut out = Vec::new();
            for st in faults.iter_mut() {
                if st.fault.matches(&attrs) {
                    st.seen += 1;
                    if st.seen >= st.fault.nth && st.fault.times.is_none_or(|t| st.fired < t) {
                        st.fired += 1;
                        out.push(st.fault.action.clone());
                    }
                }
            }
            out
        };
        for a in actions {
            match a {
                FaultAction::Delay(d) => tokio::time::sleep(d).await,
                FaultAction::Mutate(f) => {
                    let h = StoreHandle { store: shared.store.clone() };
                    f(&h);
                }
                FaultAction::DropConnection => return Err(()),
                FaultAction::Status { code, retry_after, message } => {
                    let mut e = ApiError::for_code(code, message.as_deref());
                    e.retry_after = retry_after;
                    return Ok(Reply::error(&e));
                }
            }
        }
        if user.is_some()
            && let Some(e) = authorize(&shared, &authorization_attributes(attrs, &query))
        {
            return Ok(Reply::error(&e));
        }
        Ok(dispatch(&shared, &method, &path, &query, &info, &content_type, &accept, &body_bytes))
    }
    .await;

    log.duration = started.elapsed();
    let reply = match reply {
        Ok(r) => r,
        Err(()) => {
            log.dropped = true;
            record(&shared, log);
            return Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "fault: drop connection"));
        }
    };
    let body = ChunkBody::new(reply.chunks);
    log.status = reply.status;
    log.response_bytes = body.remaining;
    record(&shared, log);
    let mut builder = Response::builder().status(reply.status).header("Content-Type", reply.content_type.as_str());
    builder = builder.header("Cache-Control", "no-cache, private");
    for (k, v) in &reply.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    match builder.body(body) {
        Ok(r) => Ok(r),
        Err(_) => {
            let mut r = Response::new(ChunkBody::new(vec![Bytes::from(ApiError::internal("bad response header").to_bytes())]));
            *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            Ok(r)
        }
    }
}

fn record(shared: &Shared, log: LoggedRequest) {
    {
        let mut c = shared.counters.lock().unwrap_or_else(|e| e.into_inner());
        *c.entry(log.route.clone()).or_insert(0) += 1;
    }
    let mut l = shared.log.lock().unwrap_or_else(|e| e.into_inner());
    if l.len() >= shared.max_log {
        let n = l.len() / 10 + 1;
        l.drain(0..n);
    }
    l.push(log);
}

fn authenticate(shared: &Shared, auth: &str, path: &str) -> Result<Option<User>, ApiError> {
    let public = matches!(path, "/healthz" | "/livez" | "/readyz")
        || path.starts_with("/healthz/")
        || path.starts_with("/livez/")
        || path.starts_with("/readyz/");
    let token = auth.strip_prefix("Bearer ").or_else(|| auth.strip_prefix("bearer ")).map(str::trim).filter(|t| !t.is_empty());
    match token {
        Some(t) => match shared.users.read().unwrap_or_else(|e| e.into_inner()).get(t) {
            Some(u) => Ok(Some(u.clone())),
            None => Err(ApiError::unauthorized()),
        },
        None if public => Ok(None),
        None => Err(ApiError::unauthorized()),
    }
}

/// The attributes the authorizer sees: as the real RequestInfo, a list or watch whose field
/// selector requires `metadata.name=NAME` names that object (so `resourceNames` rules apply).
fn authorization_attributes(mut a: RequestAttributes, query: &[(String, String)]) -> RequestAttributes {
    if a.is_resource
        && a.name.is_empty()
        && matches!(a.verb.as_str(), "list" | "watch")
        && let Some(sel) = qget(query, "fieldSelector")
    {
        let name = sel.split(',').find_map(|req| {
            let (k, v) = req.split_once("==").or_else(|| req.split_once('=')).filter(|(k, _)| !k.ends_with('!'))?;
            (k.trim() == "metadata.name").then(|| v.trim().to_string())
        });
        if let Some(n) = name.filter(|n| !n.is_empty() && n != "." && n != ".." && !n.contains('/') && !n.contains('%')) {
            a.name = n;
        }
    }
    a
}

fn authorize(shared: &Shared, a: &RequestAttributes) -> Option<ApiError> {
    if a.groups.iter().any(|g| g == "system:masters") {
        return None;
    }
    let authz = shared.authorizer.read().unwrap_or_else(|e| e.into_inner()).clone();
    let decision = authz.map(|z| z.authorize(a)).unwrap_or(Decision::Allow);
    let Decision::Deny(reason) = decision else { return None };
    let suffix = reason.map(|r| format!(": {r}")).unwrap_or_default();
    if !a.is_resource {
        return Some(
            ApiError::new(403, "Forbidden", format!("forbidden: User \"{}\" cannot {} path \"{}\"{suffix}", a.user, a.verb, a.path))
                .with_details(json!({})),
        );
    }
    let res = if a.subresource.is_empty() { a.resource.clone() } else { format!("{}/{}", a.resource, a.subresource) };
    // `GET /api/v1/namespaces/NS` is "in the namespace NS" on the real server too
    let scope = if a.namespace.is_empty() { "at the cluster scope".to_string() } else { format!("in the namespace \"{}\"", a.namespace) };
    let msg = format!("User \"{}\" cannot {} resource \"{}\" in API group \"{}\" {}{}", a.user, a.verb, res, a.api_group, scope, suffix);
    Some(ApiError::forbidden(status::Gr { group: &a.api_group, resource: &a.resource }, &a.name, &msg))
}

#[allow(clippy::too_many_arguments)]
fn dispatch(
    shared: &Shared,
    method: &str,
    path: &str,
    query: &[(String, String)],
    info: &Info,
    content_type: &str,
    accept: &str,
    body: &[u8],
) -> Reply {
    let removed = shared.removed.read().unwrap_or_else(|e| e.into_inner()).clone();
    if !info.is_resource {
        let trimmed = path.trim_end_matches('/');
        let aggregated = wants_aggregated(accept);
        if (method == "GET" || method == "HEAD")
            && let Some(doc) = merge_discovery(
                shared.store.crds.discovery(trimmed, aggregated),
                crate::removed_apis::discovery(&removed, trimmed, aggregated),
            )
            .or_else(|| crate::removed_apis::openapi(&removed, path))
        {
            let mut r = Reply::json(200, &doc);
            if wants_aggregated(accept) && path.trim_end_matches('/') == "/apis" {
                r.content_type = AGGREGATED_CT.into();
            }
            return r;
        }
        return non_resource(method, path, accept);
    }
    let found = shared
        .store
        .find_resource(&info.group, &info.version, &info.resource)
        .or_else(|| crate::removed_apis::find(&removed, &info.group, &info.version, &info.resource));
    let Some(res) = found else {
        if discovery::group_versions()
            .iter()
            .chain(shared.store.crds.group_versions().iter())
            .any(|(g, v)| *g == info.group && *v == info.version)
        {
            return Reply::error(&ApiError::resource_not_found());
        }
        return Reply::text(404, "404 page not found\n");
    };
    match resource_request(shared, res, query, info, content_type, accept, body) {
        Ok(r) => r,
        Err(e) => Reply::error(&e),
    }
}

/// One discovery document from the CRDs' and the removed versions' (each is the captured document plus
/// its own additions): groups, and versions within a group, from both, each once.
fn merge_discovery(crds: Option<Value>, removed: Option<Value>) -> Option<Value> {
    let (mut doc, extra) = match (crds, removed) {
        (Some(a), Some(b)) => (a, b),
        (a, b) => return a.or(b),
    };
    fn merge_versions(into: &mut Value, from: &Value) {
        let (Some(have), Some(more)) =
            (into.get_mut("versions").and_then(Value::as_array_mut), from.get("versions").and_then(Value::as_array))
        else {
            return;
        };
        for v in more {
            let key = v.get("version").or_else(|| v.get("groupVersion"));
            if !have.iter().any(|h| h.get("version").or_else(|| h.get("groupVersion")) == key) {
                have.push(v.clone());
            }
        }
    }
    // /apis: aggregated (`items`, named by metadata.name) or plain (`groups`, named by name).
    for (list, name) in [("items", "/metadata/name"), ("groups", "/name")] {
        let Some(more) = extra.get(list).and_then(Value::as_array) else { continue };
        let Some(have) = doc.get_mut(list).and_then(Value::as_array_mut) else { continue };
        for g in more {
            match have.iter_mut().find(|h| h.pointer(name) == g.pointer(name)) {
                Some(h) => merge_versions(h, g),
                None => have.push(g.clone()),
            }
        }
        return Some(doc);
    }
    // /apis/GROUP
    if doc.get("name") == extra.get("name") {
        merge_versions(&mut doc, &extra);
    }
    Some(doc)
}

fn non_resource(method: &str, path: &str, accept: &str) -> Reply {
    if method != "GET" && method != "HEAD" {
        return Reply::error(&ApiError::method_not_allowed("the server does not allow this method on the requested resource"));
    }
    let p = path.trim_end_matches('/');
    let file = |stem: &str| discovery::discovery_file(stem).map(|b| Reply::raw(200, "application/json", Bytes::from_static(b)));
    let agg = wants_aggregated(accept);
    let found = match p {
        "/healthz" | "/livez" | "/readyz" => Some(Reply::text(200, "ok")),
        _ if p.starts_with("/healthz/") || p.starts_with("/livez/") || p.starts_with("/readyz/") => Some(Reply::text(200, "ok")),
        "/version" => file("version"),
        "/api" if agg => file("aggregated_api").map(|mut r| {
            r.content_type = AGGREGATED_CT.into();
            r
        }),
        "/apis" if agg => file("aggregated_apis").map(|mut r| {
            r.content_type = AGGREGATED_CT.into();
            r
        }),
        "/api" => file("api"),
        "/apis" => file("apis"),
        "/openapi/v3" => discovery::openapi_file("index").map(|b| Reply::raw(200, "application/json", Bytes::from_static(b))),
        _ if p.starts_with("/openapi/v3/") => {
            let rest = &p["/openapi/v3/".len()..];
            discovery::openapi_file(&discovery::stem_of(rest)).map(|b| Reply::raw(200, "application/json", Bytes::from_static(b)))
        }
        _ if p.starts_with("/api/") || p.starts_with("/apis/") => {
            let parts: Vec<&str> = p.trim_matches('/').split('/').collect();
            match parts.as_slice() {
                ["api", v] => file(&format!("api_{v}")),
                ["apis", g] => discovery::api_group_doc(g).map(|d| Reply::json(200, &d)),
                ["apis", g, v] => file(&discovery::stem_of(&format!("apis/{g}/{v}"))),
                _ => None,
            }
        }
        _ => None,
    };
    found.unwrap_or_else(|| Reply::text(404, "404 page not found\n"))
}

fn qget<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn write_options(query: &[(String, String)], info: &Info) -> Result<WriteOptions, ApiError> {
    let fv = match qget(query, "fieldValidation") {
        None | Some("") | Some("Warn") => FieldValidation::Warn,
        Some("Strict") => FieldValidation::Strict,
        Some("Ignore") => FieldValidation::Ignore,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "fieldValidation parameter unsupported: {other}, valid values are: Ignore, Warn, Strict"
            )));
        }
    };
    let dry_run = match qget(query, "dryRun") {
        None | Some("") => false,
        Some("All") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "meta.k8s.io",
                "CreateOptions",
                "",
                vec![status::Cause {
                    reason: "FieldValueNotSupported".into(),
                    message: format!("Unsupported value: \"{other}\": supported values: \"All\""),
                    field: "dryRun".into(),
                }],
            ));
        }
    };
    Ok(WriteOptions {
        dry_run,
        field_validation: fv,
        field_manager: qget(query, "fieldManager").map(String::from),
        force: qget(query, "force") == Some("true"),
        user_agent: info.user_agent.clone(),
        subresource: info.subresource.clone(),
        apply: false,
    })
}

fn parse_body(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    let base = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if body.is_empty() {
        return Err(ApiError::bad_request("the body of the request was empty"));
    }
    match base.as_str() {
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            let text = std::str::from_utf8(body).map_err(|_| ApiError::bad_request("invalid UTF-8 in YAML body"))?;
            serde_saphyr::from_str::<Value>(text).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
        }
        "application/json" | "" | "*/*" => {
            serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}")))
        }
        "application/vnd.kubernetes.protobuf" => crate::protobuf::decode(body).map_err(|reason| {
            ApiError::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format: {reason}"))
        }),
        "application/cbor" => Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml; got {base}"
            ),
        )),
        _ => Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml; got {base}"
            ),
        )),
    }
}

fn with_warnings(mut r: Reply, warnings: &[String]) -> Reply {
    for w in warnings {
        r.headers.push(("Warning".into(), format!("299 - {}", json_str(w))));
    }
    r
}

fn resource_request(
    shared: &Shared,
    res: &'static Resource,
    query: &[(String, String)],
    info: &Info,
    content_type: &str,
    accept: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let store = &shared.store;
    let verb = info.verb.as_str();
    if !info.subresource.is_empty() {
        if crate::managed::tracked(res) && (info.subresource == "scale" || verb != "get") {
            let opts = write_options(query, info)?;
            return crate::subresource::serve_subresource(store, res, &info.namespace, &info.name, verb, content_type, body, &opts)
                .map(|v| Reply::json(200, &v));
        }
        if info.subresource == "status" && verb == "get" && res.subresources.iter().any(|s| s == "status") {
            let o = store.get(res, &info.namespace, &info.name)?;
            return Ok(Reply { status: 200, content_type: "application/json".into(), headers: vec![], chunks: o.typed_chunks(res) });
        }
        return Err(ApiError::resource_not_found());
    }
    // namespace scoping of the URL
    let is_namespaces = res.group.is_empty() && res.plural == "namespaces";
    let ns_in_url = !info.namespace.is_empty() && !is_namespaces;
    if !res.namespaced && ns_in_url {
        return Err(ApiError::resource_not_found());
    }
    if res.namespaced && info.namespace.is_empty() && !matches!(verb, "list" | "watch" | "deletecollection") {
        return Err(ApiError::resource_not_found());
    }
    if !res.has_verb(verb) && verb != "watch" {
        return Err(ApiError::method_not_allowed("the server does not allow this method on the requested resource"));
    }
    let ns = info.namespace.as_str();
    match verb {
        "watch" => Err(ApiError::method_not_allowed("watch is not supported by the kube-emulator")),
        "get" => {
            let o = store.get(res, ns, &info.name)?;
            Ok(match negotiate(accept) {
                Want::Full => Reply { status: 200, content_type: "application/json".into(), headers: vec![], chunks: o.typed_chunks(res) },
                Want::Meta => {
                    let v = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o.head.get("metadata").cloned().unwrap_or(json!({}))});
                    let mut r = Reply::json(200, &v);
                    r.content_type = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1".into();
                    r
                }
                Want::Table => table_reply(res, std::slice::from_ref(&o), store.resource_version(), None, None, query),
            })
        }
        "list" => {
            let label = match qget(query, "labelSelector") {
                Some(s) if !s.is_empty() => Some(LabelSelector::parse(s).map_err(ApiError::bad_request)?),
                _ => None,
            };
            let mut supported = vec!["metadata.name", "metadata.namespace"];
            if res.group.is_empty() && res.plural == "secrets" {
                supported.push("type");
            }
            let field = match qget(query, "fieldSelector") {
                Some(s) if !s.is_empty() => Some(FieldSelector::parse(s, &supported).map_err(ApiError::bad_request)?),
                _ => None,
            };
            let limit = match qget(query, "limit") {
                Some(l) if !l.is_empty() => {
                    Some(l.parse::<i64>().map_err(|_| ApiError::bad_request(format!("invalid limit: {l}")))?.max(0) as usize)
                }
                _ => None,
            };
            let q = ListQuery { label, field, limit, continue_token: qget(query, "continue").map(String::from) };
            let nsopt = if ns.is_empty() { None } else { Some(ns) };
            let page = store.list(res, nsopt, &q)?;
            if let Some(want) =
                crate::protobuf_lists::wanted(res, accept).filter(|_| shared.protobuf_lists.load(std::sync::atomic::Ordering::Relaxed))
            {
                let (body, ct) = crate::protobuf_lists::list_body(
                    res,
                    want,
                    &page.items,
                    page.resource_version,
                    page.continue_token.as_deref(),
                    page.remaining,
                )
                .map_err(|e| ApiError::new(500, "InternalError", format!("encoding the list as protobuf: {e}")))?;
                return Ok(Reply::raw(200, ct, body));
            }
            Ok(match negotiate(accept) {
                Want::Full => list_reply(res, &page.items, page.resource_version, page.continue_token.as_deref(), page.remaining),
                Want::Meta => meta_list_reply(&page.items, page.resource_version, page.continue_token.as_deref(), page.remaining),
                Want::Table => table_reply(res, &page.items, page.resource_version, page.continue_token.as_deref(), page.remaining, query),
            })
        }
        "create" => {
            let opts = write_options(query, info)?;
            let obj = parse_body(content_type, body)?;
            let out = store.create(res, ns, obj, &opts)?;
            Ok(with_warnings(Reply::json(201, &out.object), &out.warnings))
        }
        "update" => {
            let opts = write_options(query, info)?;
            let obj = parse_body(content_type, body)?;
            let out = store.update(res, ns, &info.name, obj, &opts)?;
            Ok(with_warnings(Reply::json(200, &out.object), &out.warnings))
        }
        "patch" => {
            let opts = write_options(query, info)?;
            let Some(pt) = PatchType::from_content_type(content_type) else {
                return Err(ApiError::unsupported_media_type(content_type));
            };
            if body.is_empty() {
                return Err(ApiError::bad_request("the body of the request was empty"));
            }
            let out = store.patch(res, ns, &info.name, pt, body, &opts)?;
            Ok(with_warnings(Reply::json(if out.created { 201 } else { 200 }, &out.object), &out.warnings))
        }
        "delete" => {
            // client-go's typed clients (helm uninstall) send DeleteOptions as protobuf
            let opts: Value = if body.is_empty() { Value::Null } else { parse_body(content_type, body)? };
            let pre_rv = opts.pointer("/preconditions/resourceVersion").and_then(Value::as_str);
            let pre_uid = opts.pointer("/preconditions/uid").and_then(Value::as_str);
            let dry_run = qget(query, "dryRun") == Some("All")
                || opts.get("dryRun").and_then(Value::as_array).is_some_and(|a| a.iter().any(|x| x == "All"));
            let deleted = store.delete(res, ns, &info.name, pre_rv, pre_uid, dry_run)?;
            Ok(delete_reply(res, deleted))
        }
        "deletecollection" => {
            let label = match qget(query, "labelSelector") {
                Some(s) if !s.is_empty() => Some(LabelSelector::parse(s).map_err(ApiError::bad_request)?),
                _ => None,
            };
            let field = match qget(query, "fieldSelector") {
                Some(s) if !s.is_empty() => {
                    Some(FieldSelector::parse(s, &["metadata.name", "metadata.namespace"]).map_err(ApiError::bad_request)?)
                }
                _ => None,
            };
            let dry_run = qget(query, "dryRun") == Some("All");
            let nsopt = if ns.is_empty() { None } else { Some(ns) };
            let page = store.list(res, nsopt, &ListQuery { label, field, ..Default::default() })?;
            let mut deleted = Vec::new();
            for o in &page.items {
                if let Ok(v) = store.delete(res, o.meta_str("namespace"), o.meta_str("name"), None, None, dry_run) {
                    deleted.push(v);
                }
            }
            let items: Vec<Value> = deleted
                .into_iter()
                .map(|mut v| {
                    if let Value::Object(m) = &mut v {
                        m.shift_remove("kind");
                        m.shift_remove("apiVersion");
                    }
                    v
                })
                .collect();
            Ok(Reply::json(
                200,
                &json!({"kind": format!("{}List", res.kind), "apiVersion": res.api_version(), "metadata": {"resourceVersion": store.resource_version().to_string()}, "items": items}),
            ))
        }
        _ => Err(ApiError::method_not_allowed("the server does not allow this method on the requested resource")),
    }
}

fn delete_reply(res: &Resource, mut deleted: Value) -> Reply {
    let returns_object = (res.group.is_empty() && matches!(res.plural.as_str(), "namespaces" | "pods" | "services")) || res.custom;
    if res.group.is_empty() && res.plural == "namespaces" {
        if let Some(Value::Object(m)) = deleted.get_mut("metadata") {
            m.insert("deletionTimestamp".into(), util::rfc3339(util::now_unix()).into());
        }
        if let Some(Value::Object(s)) = deleted.get_mut("status") {
            s.insert("phase".into(), "Terminating".into());
        }
    }
    if returns_object {
        return Reply::json(200, &deleted);
    }
    let name = deleted.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    let uid = deleted.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("");
    Reply::json(200, &status::success_status(name, &res.group, &res.plural, uid))
}

fn list_meta_json(rv: u64, cont: Option<&str>, remaining: Option<u64>) -> String {
    let mut m = Map::new();
    m.insert("resourceVersion".into(), rv.to_string().into());
    if let Some(c) = cont {
        m.insert("continue".into(), c.into());
    }
    if let Some(r) = remaining {
        m.insert("remainingItemCount".into(), r.into());
    }
    Value::Object(m).to_string()
}

fn list_reply(res: &Resource, items: &[Obj], rv: u64, cont: Option<&str>, remaining: Option<u64>) -> Reply {
    let head = format!(
        "{{\"kind\":{},\"apiVersion\":{},\"metadata\":{},\"items\":[",
        json_str(&format!("{}List", res.kind)),
        json_str(&res.api_version()),
        list_meta_json(rv, cont, remaining)
    );
    let mut chunks = Vec::with_capacity(items.len() * 2 + 2);
    chunks.push(Bytes::from(head));
    for (i, o) in items.iter().enumerate() {
        if i > 0 {
            chunks.push(Bytes::from_static(b","));
        }
        chunks.push(o.body.clone());
    }
    chunks.push(Bytes::from_static(b"]}"));
    Reply { status: 200, content_type: "application/json".into(), headers: vec![], chunks }
}

fn partial_meta(o: &Obj) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o.head.get("metadata").cloned().unwrap_or(json!({}))})
}

fn meta_list_reply(items: &[Obj], rv: u64, cont: Option<&str>, remaining: Option<u64>) -> Reply {
    let meta: Value = serde_json::from_str(&list_meta_json(rv, cont, remaining)).unwrap_or(json!({}));
    let v = json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "items": items.iter().map(partial_meta).collect::<Vec<_>>(),
    });
    let mut r = Reply::json(200, &v);
    r.content_type = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1".into();
    r
}

fn col(name: &str, ty: &str, format: &str, description: &str) -> Value {
    json!({"name": name, "type": ty, "format": format, "description": description, "priority": 0})
}

fn table_reply(res: &Resource, items: &[Obj], rv: u64, cont: Option<&str>, remaining: Option<u64>, query: &[(String, String)]) -> Reply {
    let now = util::now_unix();
    let name_col = col(
        "Name",
        "string",
        "name",
        "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    );
    let age_col = col(
        "Age",
        "string",
        "",
        "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    );
    let kind = (res.group.as_str(), res.plural.as_str());
    let mut columns = vec![name_col];
    match kind {
        ("", "configmaps") => columns.push(col("Data", "integer", "", "Data contains the configuration data.")),
        ("", "secrets") => {
            columns.push(col("Type", "string", "", "The type of the secret."));
            columns.push(col("Data", "integer", "", "Data contains the secret data."));
        }
        ("", "namespaces") => columns.push(col("Status", "string", "", "The status of the namespace")),
        ("", "pods") => columns.push(col("Status", "string", "", "The phase of the pod.")),
        ("apps", "deployments") => columns.push(col("Ready", "string", "", "Number of the pod with ready state")),
        _ => {}
    }
    columns.push(age_col);
    let include = qget(query, "includeObject").unwrap_or("Metadata");
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let mut cells = vec![Value::String(o.meta_str("name").to_string())];
            let full = match kind {
                ("", "configmaps") | ("", "secrets") | ("", "pods") | ("apps", "deployments") => Some(o.value()),
                _ => None,
            };
            let count = |v: &Option<Value>, k: &str| -> usize {
                v.as_ref().and_then(|v| v.get(k)).and_then(Value::as_object).map_or(0, |m| m.len())
            };
            match kind {
                ("", "configmaps") => cells.push((count(&full, "data") + count(&full, "binaryData")).into()),
                ("", "secrets") => {
                    cells.push(o.head.get("type").cloned().unwrap_or(Value::String(String::new())));
                    cells.push(count(&full, "data").into());
                }
                ("", "namespaces") => {
                    let v = o.value();
                    cells.push(v.pointer("/status/phase").cloned().unwrap_or(Value::String(String::new())));
                }
                ("", "pods") => cells.push(full.as_ref().and_then(|v| v.pointer("/status/phase")).cloned().unwrap_or(json!(""))),
                ("apps", "deployments") => {
                    let f = full.as_ref();
                    let ready = f.and_then(|v| v.pointer("/status/readyReplicas")).and_then(Value::as_i64).unwrap_or(0);
                    let want = f.and_then(|v| v.pointer("/spec/replicas")).and_then(Value::as_i64).unwrap_or(1);
                    cells.push(format!("{ready}/{want}").into());
                }
                _ => {}
            }
            let created = util::parse_rfc3339(o.meta_str("creationTimestamp")).unwrap_or(now);
            cells.push(util::human_duration(now - created).into());
            let mut row = Map::new();
            row.insert("cells".into(), Value::Array(cells));
            match include {
                "None" => {}
                "Object" => {
                    row.insert("object".into(), o.typed_value(res));
                }
                _ => {
                    row.insert("object".into(), partial_meta(o));
                }
            }
            Value::Object(row)
        })
        .collect();
    let meta: Value = serde_json::from_str(&list_meta_json(rv, cont, remaining)).unwrap_or(json!({}));
    let v = json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": columns, "rows": rows});
    let mut r = Reply::json(200, &v);
    r.content_type = "application/json;as=Table;g=meta.k8s.io;v=v1".into();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_info() {
        let i = parse_info("GET", "/api/v1/namespaces/ns/secrets/x", &[]);
        assert_eq!((i.verb.as_str(), i.namespace.as_str(), i.resource.as_str(), i.name.as_str()), ("get", "ns", "secrets", "x"));
        assert_eq!(i.route, "GET /api/v1/namespaces/{namespace}/secrets/{name}");
        let i = parse_info("GET", "/api/v1/namespaces/ns", &[]);
        assert_eq!((i.resource.as_str(), i.name.as_str(), i.namespace.as_str()), ("namespaces", "ns", "ns"));
        assert_eq!(i.route, "GET /api/v1/namespaces/{name}");
        let i = parse_info("GET", "/api/v1/secrets", &[]);
        assert_eq!(i.verb, "list");
        let i = parse_info("GET", "/apis/apps/v1/namespaces/a/deployments", &[("watch".into(), "true".into())]);
        assert_eq!((i.verb.as_str(), i.group.as_str()), ("watch", "apps"));
        let i = parse_info("DELETE", "/api/v1/namespaces/a/configmaps", &[]);
        assert_eq!(i.verb, "deletecollection");
        let i = parse_info("GET", "/version", &[]);
        assert!(!i.is_resource);
        let i = parse_info("PATCH", "/api/v1/namespaces/a/pods/p/status", &[]);
        assert_eq!(i.subresource, "status");
    }

    #[test]
    fn accept_negotiation() {
        assert!(matches!(
            negotiate("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"),
            Want::Table
        ));
        assert!(matches!(negotiate("application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"), Want::Full));
        assert!(matches!(negotiate("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"), Want::Meta));
        assert!(matches!(negotiate("application/vnd.kubernetes.protobuf, */*"), Want::Full));
        assert!(matches!(negotiate(""), Want::Full));
        assert!(wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
        ));
        assert!(!wants_aggregated("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"));
        assert!(!wants_aggregated("application/json"));
    }
}
