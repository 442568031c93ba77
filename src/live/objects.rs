//! Thin access to single live objects of any resource type: get and JSON merge patch. The only code that reads
//! or writes non-release resources.
//!
//! Reads retry transient failures ([`crate::retry::read`]); a patch is sent once. A patch that met a transient
//! failure ([`PatchError::is_transient`]) may or may not have landed: the caller reads the object again and
//! decides, pausing [`PatchError::retry_pause`] before it writes again: [`patch_settled`] is that loop, the one
//! `adopt`, `annotate`, `migrate2to3` and the release surgery verbs use. Its patches carry a `resourceVersion`
//! precondition, so a second one can never apply on top of a first that landed unseen.
//!
//! ```no_run
//! # async fn example(client: kube::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use kubectl_werf::live::{discovery, objects, PatchError};
//! use kubectl_werf::ownership::adoption_patch;
//! use kube::ResourceExt;
//!
//! let catalog = discovery::load(&client).await?;
//! let (res, name) = catalog.resolve_ref("cm/settings")?;
//! let Some(obj) = objects::get(&client, res, Some("adopt-test"), &name).await? else {
//!     println!("{} {name} does not exist", res.kind);
//!     return Ok(());
//! };
//! let patch = adoption_patch("app", "adopt-test", obj.resource_version().as_deref());
//! match objects::merge_patch(&client, res, Some("adopt-test"), &name, &patch).await {
//!     Ok(patched) => println!("adopted at resourceVersion {:?}", patched.resource_version()),
//!     Err(PatchError::Conflict(_)) => println!("changed meanwhile; read it again and retry"),
//!     Err(other) => return Err(other.into()),
//! }
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::Status;

use super::discovery::ResolvedResource;
use crate::error::describe_kube_error;

/// Field manager recorded in `managedFields` for this tool's patches.
pub const FIELD_MANAGER: &str = "kubectl-werf";

/// Why a patch failed, with the case callers act on separately.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// 409: the `metadata.resourceVersion` precondition is stale (the object changed since it was read).
    #[error("{}", .0.message)]
    Conflict(Box<Status>),
    /// 404: the object is gone.
    #[error("{}", .0.message)]
    NotFound(Box<Status>),
    /// Anything else (forbidden, invalid, transport, ...).
    #[error("{}", describe_kube_error(.0))]
    Other(kube::Error),
}

impl PatchError {
    pub fn is_conflict(&self) -> bool {
        matches!(self, PatchError::Conflict(_))
    }

    /// 429, 5xx or a broken connection: the write may have landed or not; read again before deciding.
    pub fn is_transient(&self) -> bool {
        matches!(self, PatchError::Other(e) if crate::retry::is_transient(e))
    }

    /// How long to wait before the next write after this failure (`attempt` counts from 1): as for
    /// release records, [`crate::retry::write_pause`].
    pub fn retry_pause(&self, attempt: u32) -> Duration {
        match self {
            PatchError::Other(e) => crate::retry::write_pause(e, attempt),
            PatchError::Conflict(_) | PatchError::NotFound(_) => crate::retry::write_backoff(attempt),
        }
    }
}

impl From<kube::Error> for PatchError {
    fn from(err: kube::Error) -> Self {
        match err {
            kube::Error::Api(status) if status.reason == "Conflict" || (status.code == 409 && status.reason != "AlreadyExists") => {
                PatchError::Conflict(status)
            }
            kube::Error::Api(status) if status.is_not_found() => PatchError::NotFound(status),
            other => PatchError::Other(other),
        }
    }
}

/// The `Api` for `res`: cluster-scoped types ignore `namespace`; namespaced ones use it, or the client's
/// default namespace when it is `None`.
pub fn api_for(client: &Client, res: &ResolvedResource, namespace: Option<&str>) -> Api<DynamicObject> {
    let ar = res.api_resource();
    if !res.namespaced {
        Api::all_with(client.clone(), &ar)
    } else {
        match namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
            None => Api::default_namespaced_with(client.clone(), &ar),
        }
    }
}

/// Reads one object; `Ok(None)` when it does not exist (404). Transient failures (429, 5xx, a broken
/// connection) are retried with backoff until [`crate::retry::ReadRetry`]'s deadline.
pub async fn get(
    client: &Client,
    res: &ResolvedResource,
    namespace: Option<&str>,
    name: &str,
) -> Result<Option<DynamicObject>, kube::Error> {
    let api = api_for(client, res, namespace);
    crate::retry::read(crate::retry::ReadRetry::default(), || api.get_opt(name)).await
}

/// Applies a JSON merge patch (`application/merge-patch+json`), e.g. from
/// [`crate::ownership::adoption_patch`] or [`crate::ownership::metadata_patch`], and returns the object as
/// stored afterwards. A patch the server throttles (429) is sent again until
/// [`crate::retry::THROTTLED_DEADLINE`].
pub async fn merge_patch(
    client: &Client,
    res: &ResolvedResource,
    namespace: Option<&str>,
    name: &str,
    patch: &serde_json::Value,
) -> Result<DynamicObject, PatchError> {
    let params = PatchParams { field_manager: Some(FIELD_MANAGER.to_string()), ..PatchParams::default() };
    let api = api_for(client, res, namespace);
    // Throttled (429): not executed, so sent again as it is (see crate::retry).
    let patch = Patch::Merge(patch);
    crate::retry::throttled(None, || api.patch(name, &params, &patch)).await.map_err(PatchError::from)
}

/// What a settled patch wants to do with the object as it was just read.
pub enum PatchDecision {
    /// Send this merge patch (without `resourceVersion`: the settled path adds the one it read).
    Patch(serde_json::Value),
    /// The object already is as wanted.
    Nothing,
    /// Leave it alone, for this reason (e.g. another release claims it).
    Refuse(String),
}

/// What a settled patch met on its way, for reports.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PatchTrail {
    /// How many patches met a 409 (the object changed since it was read) and were decided again.
    pub conflicts: u32,
    /// Set when the last patch's answer was lost (an unsure failure) and reading again found the object
    /// as wanted: the failure that hid the answer.
    pub lost: Option<String>,
}

/// How a settled patch ended.
#[derive(Debug)]
pub enum PatchSettled {
    /// This call changed the object (its answer said so, or a read after an unsure answer found it done);
    /// the object as the server answered or as read back.
    Patched(DynamicObject, PatchTrail),
    /// The object already was as wanted (perhaps after someone else's change met on a conflict); nothing
    /// of this call's landed.
    Unchanged(DynamicObject, PatchTrail),
    /// The object does not exist.
    Missing,
}

/// Why a settled patch did not happen. Callers name the object.
#[derive(Debug, thiserror::Error)]
pub enum PatchFailure {
    /// The decision refused it (after reading the object as it is now).
    #[error("{0}")]
    Refused(String),
    /// The server refused for sure (forbidden, invalid, ...): nothing was written.
    #[error("{0}")]
    Failed(PatchError),
    /// The object could not be read (before the first patch, or after a failed one: after an unsure one,
    /// whether it landed is unknown). `after` is the failure that made the read needed.
    #[error("{}", describe_kube_error(.read))]
    Unread { read: kube::Error, after: Option<PatchError> },
    /// Every attempt met a conflict or an unsure failure, and the object still needs the change.
    #[error("{}", gave_up_text(*.attempts, .last))]
    GaveUp { attempts: u32, last: PatchError },
    /// An interrupt came after a failure: the patch was not sent again (the object is as last read).
    #[error("interrupted before the patch could be sent again: {0}")]
    Interrupted(PatchError),
}

/// A run of conflicts says the object keeps changing under other writers (load tests and users look for
/// "still changing"); other failures are named as they are.
fn gave_up_text(attempts: u32, last: &PatchError) -> String {
    match last {
        PatchError::Conflict(status) => format!("still changing after {attempts} attempts: conflict: {}", status.message),
        other => format!("not patched after {attempts} attempts, last: {other}"),
    }
}

/// Read, decide, patch under the resourceVersion just read, and make sure of it: the one settled-patch path
/// for live objects (shaped like kube-rs's `Api::entry`: read, modify, commit at the version read). After a
/// 409 or an unsure failure (429, 5xx, a lost answer) it pauses ([`crate::retry::write_pause`]: the server's
/// `Retry-After`, else backoff), reads the object again and asks `decide` again, so a patch that landed unseen
/// is recognised (`Nothing` to do) and never sent twice, and a change someone made meanwhile is decided on
/// afresh, never overwritten blindly. At most [`crate::retry::WRITE_ATTEMPTS`] patches are sent, and none
/// again once `stop` is requested.
///
/// `known` is the object as the caller just read it, if it has it: the first decision is made on it, without
/// another GET.
#[allow(clippy::too_many_arguments)]
pub async fn patch_settled(
    client: &Client,
    res: &ResolvedResource,
    namespace: Option<&str>,
    name: &str,
    known: Option<DynamicObject>,
    stop: &crate::stop::StopSignal,
    mut decide: impl FnMut(&DynamicObject) -> PatchDecision,
) -> Result<PatchSettled, PatchFailure> {
    let mut trail = PatchTrail::default();
    // The last patch's failure, and whether that patch may have landed (no answer said it did not).
    let mut last: Option<PatchError> = None;
    let mut unsure = false;
    let mut known = known;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let current = match known.take() {
            Some(obj) => Some(obj),
            None => get(client, res, namespace, name).await.map_err(|read| PatchFailure::Unread { read, after: last.take() })?,
        };
        let Some(current) = current else { return Ok(PatchSettled::Missing) };
        let mut patch = match decide(&current) {
            PatchDecision::Nothing => {
                return Ok(match last.filter(|_| unsure) {
                    Some(lost) => PatchSettled::Patched(current, PatchTrail { lost: Some(lost.to_string()), ..trail }),
                    None => PatchSettled::Unchanged(current, trail),
                });
            }
            PatchDecision::Refuse(why) => return Err(PatchFailure::Refused(why)),
            PatchDecision::Patch(p) => p,
        };
        if let (Some(meta), Some(rv)) = (
            patch.as_object_mut().map(|o| o.entry("metadata").or_insert_with(|| serde_json::json!({}))),
            current.metadata.resource_version.as_deref(),
        ) {
            meta["resourceVersion"] = serde_json::Value::String(rv.to_string());
        }
        let err = match merge_patch(client, res, namespace, name, &patch).await {
            Ok(patched) => return Ok(PatchSettled::Patched(patched, trail)),
            Err(PatchError::NotFound(_)) => return Ok(PatchSettled::Missing),
            Err(e) if e.is_conflict() => {
                trail.conflicts += 1;
                e
            }
            Err(e) if e.is_transient() => e,
            Err(e) => return Err(PatchFailure::Failed(e)),
        };
        let pause = err.retry_pause(attempt);
        if attempt >= crate::retry::WRITE_ATTEMPTS {
            return Err(PatchFailure::GaveUp { attempts: attempt, last: err });
        }
        if stop.requested() {
            return Err(PatchFailure::Interrupted(err));
        }
        // A conflict says for sure that this patch did not land; a transient failure leaves it open. (An
        // earlier unsure patch that a read found still needed did not leave the object as wanted either.)
        unsure = err.is_transient();
        last = Some(err);
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(file: &str) -> Status {
        let path = format!("{}/fixtures/apiserver-1.36/responses/{file}", env!("CARGO_MANIFEST_DIR"));
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        serde_json::from_value(v["response"].clone()).unwrap()
    }

    #[test]
    fn stale_resource_version_is_a_conflict() {
        let err = PatchError::from(kube::Error::Api(status_of("patch_merge_stale_resource_version.json").boxed()));
        assert!(err.is_conflict());
        assert!(err.to_string().contains("the object has been modified"));
    }

    #[test]
    fn other_statuses() {
        assert!(matches!(PatchError::from(kube::Error::Api(status_of("get_missing.json").boxed())), PatchError::NotFound(_)));
        assert!(matches!(
            PatchError::from(kube::Error::Api(status_of("create_configmap_already_exists.json").boxed())),
            PatchError::Other(_)
        ));
        assert!(matches!(PatchError::from(kube::Error::Api(status_of("list_forbidden.json").boxed())), PatchError::Other(_)));
    }

    #[test]
    fn transient_failures_and_their_pauses() {
        let status = |code: u16| kube::Error::Api(Status::failure("boom", "").with_code(code).boxed());
        for code in [429, 500, 503] {
            assert!(PatchError::from(status(code)).is_transient(), "{code}");
        }
        for code in [400, 403, 404, 409, 422] {
            assert!(!PatchError::from(status(code)).is_transient(), "{code}");
        }
        let plain = PatchError::from(status(503));
        assert_eq!(plain.retry_pause(1), Duration::from_millis(200));
        assert_eq!(plain.retry_pause(3), Duration::from_millis(800));
        assert_eq!(plain.retry_pause(40), Duration::from_secs(5));
        let mut hinted = Status::failure("slow down", "TooManyRequests").with_code(429);
        hinted.details = Some(serde_json::from_value(serde_json::json!({"retryAfterSeconds": 2})).unwrap());
        assert_eq!(PatchError::from(kube::Error::Api(hinted.clone().boxed())).retry_pause(1), Duration::from_secs(2));
        hinted.details.as_mut().unwrap().retry_after_seconds = 3600;
        assert_eq!(PatchError::from(kube::Error::Api(hinted.boxed())).retry_pause(1), Duration::from_secs(5), "a server's hint is capped");
    }
}
