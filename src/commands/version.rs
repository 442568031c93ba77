//! `kubectl werf version`: what the user runs, and what it talks to.

use serde::Serialize;

use crate::cli::{OutputFormat, VersionArgs};
use crate::commands::context::{Context, Outcome};
use crate::error::AppError;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_COMMIT: &str = env!("KUBECTL_WERF_GIT_COMMIT");

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClientVersion {
    version: String,
    git_commit: &'static str,
    platform: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VersionReport {
    client_version: ClientVersion,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_version: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_error: Option<String>,
}

pub async fn run(ctx: &Context<'_>, args: VersionArgs) -> Result<Outcome, AppError> {
    let client_version = ClientVersion {
        version: format!("v{VERSION}"),
        git_commit: GIT_COMMIT,
        platform: format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    };
    let mut report = VersionReport { client_version, server_version: None, server_error: None };
    if !args.client {
        // Like kubectl version: the client version is printed either way; an unreachable server is an
        // error (exit 1) after it.
        match ctx.connect().await {
            Ok(access) => match access.client.apiserver_version().await {
                Ok(info) => report.server_version = Some(serde_json::to_value(info).unwrap_or_default()),
                Err(e) => report.server_error = Some(crate::error::describe_kube_error(&e)),
            },
            Err(e) => report.server_error = Some(e.to_string()),
        }
    }
    match args.output {
        OutputFormat::Table => {
            println!(
                "Client Version: {} (commit {}, {})",
                report.client_version.version, report.client_version.git_commit, report.client_version.platform
            );
            if let Some(server) = &report.server_version {
                let v = server.get("gitVersion").and_then(|v| v.as_str()).unwrap_or("unknown");
                println!("Server Version: {v}");
            }
        }
        format => crate::output::print_structured(&report, format)?,
    }
    if let Some(err) = &report.server_error {
        eprintln!("error: cannot reach the API server: {err}");
        return Ok(Outcome::PartialFailure);
    }
    Ok(Outcome::Success)
}
