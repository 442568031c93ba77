//! `kubectl werf release-name`: the release and namespace werf would use.

use serde::Serialize;

use crate::cli::{OutputFormat, ReleaseNameArgs};
use crate::commands::context::{Context, Outcome};
use crate::error::AppError;

#[derive(Serialize)]
struct Names<'a> {
    release: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    project: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    env: Option<&'a str>,
}

pub fn run(ctx: &Context<'_>, args: ReleaseNameArgs) -> Result<Outcome, AppError> {
    let resolved = super::resolve_release_names(&args.werf, None, ctx.connection.namespace.clone())?;
    let names = Names {
        release: &resolved.release,
        namespace: resolved.namespace.as_deref(),
        project: resolved.project.as_deref(),
        env: resolved.env.as_deref(),
    };
    if args.release_only {
        println!("{}", names.release);
    } else if args.namespace_only {
        match names.namespace {
            Some(ns) => println!("{ns}"),
            None => {
                return Err(AppError::Usage("no namespace: give --project (werf derives the namespace from it) or -n".into()));
            }
        }
    } else {
        match args.output {
            OutputFormat::Table => {
                println!("RELEASE    {}", names.release);
                println!("NAMESPACE  {}", names.namespace.unwrap_or("-"));
            }
            format => crate::output::print_structured(&names, format)?,
        }
    }
    Ok(Outcome::Success)
}
