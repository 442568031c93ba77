//! Thin access to single live objects of any resource type: get and JSON merge patch. The only code that reads
//! or writes non-release resources.
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
}

impl From<kube::Error> for PatchError {
    fn from(err: kube::Error) -> Self {
        match err {
            kube::Error::Api(status)
                if status.reason == "Conflict" || (status.code == 409 && status.reason != "AlreadyExists") =>
            {
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

/// Reads one object; `Ok(None)` when it does not exist (404).
pub async fn get(
    client: &Client,
    res: &ResolvedResource,
    namespace: Option<&str>,
    name: &str,
) -> Result<Option<DynamicObject>, kube::Error> {
    api_for(client, res, namespace).get_opt(name).await
}

/// Applies a JSON merge patch (`application/merge-patch+json`), e.g. from
/// [`crate::ownership::adoption_patch`] or [`crate::ownership::metadata_patch`], and returns the object as
/// stored afterwards.
pub async fn merge_patch(
    client: &Client,
    res: &ResolvedResource,
    namespace: Option<&str>,
    name: &str,
    patch: &serde_json::Value,
) -> Result<DynamicObject, PatchError> {
    let params = PatchParams { field_manager: Some(FIELD_MANAGER.to_string()), ..PatchParams::default() };
    api_for(client, res, namespace).patch(name, &params, &Patch::Merge(patch)).await.map_err(PatchError::from)
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
        assert!(matches!(
            PatchError::from(kube::Error::Api(status_of("get_missing.json").boxed())),
            PatchError::NotFound(_)
        ));
        assert!(matches!(
            PatchError::from(kube::Error::Api(status_of("create_configmap_already_exists.json").boxed())),
            PatchError::Other(_)
        ));
        assert!(matches!(
            PatchError::from(kube::Error::Api(status_of("list_forbidden.json").boxed())),
            PatchError::Other(_)
        ));
    }
}
