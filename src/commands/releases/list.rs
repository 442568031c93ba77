//! `releases list`: helm list's answer (latest revision per release, then the status mask, then the
//! selector, then sort, offset and max), over Helm 3/4 and Helm 2 storage at once.

use std::io::Write;

use serde_json::{Map, Value};

use crate::cli::{ListOutputFormat, ReleasesListArgs};
use crate::commands::context::Outcome;
use crate::error::AppError;
use crate::helmfmt::{self, Table};
use crate::release::helm3::Status;
use crate::storage::objects::{ObjectKind, ObjectStore};

use super::collect::{Collected, Generation, Row, Source, Want, latest_per_release};
use super::selector::Selector;
use super::{Scope, is_forbidden, print_problems, time_of};

/// helm's `ListStates` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mask(u16);

const DEPLOYED: u16 = 1;
const UNINSTALLED: u16 = 2;
const UNINSTALLING: u16 = 4;
const PENDING_INSTALL: u16 = 8;
const PENDING_UPGRADE: u16 = 16;
const PENDING_ROLLBACK: u16 = 32;
const SUPERSEDED: u16 = 64;
const FAILED: u16 = 128;
const ALL: u16 = 255;

impl Mask {
    /// From the flags. No flag (or `-a`) means every status, as Helm 4 lists by default.
    pub fn from_args(a: &ReleasesListArgs) -> Mask {
        if a.all {
            return Mask(ALL);
        }
        let mut m = 0;
        if a.deployed {
            m |= DEPLOYED;
        }
        if a.uninstalled {
            m |= UNINSTALLED;
        }
        if a.uninstalling {
            m |= UNINSTALLING;
        }
        if a.pending {
            m |= PENDING_INSTALL | PENDING_UPGRADE | PENDING_ROLLBACK;
        }
        if a.failed {
            m |= FAILED;
        }
        if a.superseded {
            m |= SUPERSEDED;
        }
        Mask(if m == 0 { ALL } else { m })
    }

    /// helm's `FromName`: an unknown (or `unknown`) status matches no flag, so it is never listed.
    pub fn allows(self, status: &Status) -> bool {
        let bit = match status {
            Status::Deployed => DEPLOYED,
            Status::Uninstalled => UNINSTALLED,
            Status::Uninstalling => UNINSTALLING,
            Status::PendingInstall => PENDING_INSTALL,
            Status::PendingUpgrade => PENDING_UPGRADE,
            Status::PendingRollback => PENDING_ROLLBACK,
            Status::Superseded => SUPERSEDED,
            Status::Failed => FAILED,
            _ => 0,
        };
        self.0 & bit != 0
    }

    pub fn superseded_only(self) -> bool {
        self.0 == SUPERSEDED
    }
}

pub async fn run(scope: &Scope, args: ReleasesListArgs) -> Result<Outcome, AppError> {
    let filter = match &args.filter {
        Some(f) if !f.is_empty() => Some(regex::Regex::new(f).map_err(|e| AppError::Usage(format!("invalid --filter: {e}")))?),
        _ => None,
    };
    let selector = Selector::parse(args.selector.as_deref().unwrap_or("")).map_err(AppError::Usage)?;
    let mask = Mask::from_args(&args);
    let want = if mask.superseded_only() { Want::Superseded } else { Want::Latest };
    let all_ns = args.all_namespaces;

    // Every storage is read at once: the Helm 2 LISTs need not wait for the Helm 3 ones. Which
    // storages and namespaces: the rule every verb shares (`storage::scope`).
    let sel = scope.selection(all_ns);
    let mut sources: Vec<Source> = Vec::new();
    // The first Helm 3 driver (Secrets, helm's default, unless one was chosen) is read at once; the
    // others are looked for in the server's cache first (`Source::probe`).
    for (n, kind) in sel.helm3_kinds.iter().enumerate() {
        sources.push(Source {
            store: ObjectStore::new(scope.client.clone(), *kind),
            scope: sel.helm3_namespace().map(str::to_string),
            generation: Generation::Helm3,
            limits: scope.limits(),
            probe: n > 0,
        });
    }
    for kind in &sel.helm2_kinds {
        sources.push(Source {
            store: ObjectStore::new(scope.client.clone(), *kind),
            scope: sel.helm2_records_namespace().map(str::to_string),
            generation: Generation::Helm2,
            limits: scope.limits(),
            probe: true,
        });
    }
    let results = futures::future::join_all(sources.iter().map(|source| source.collect(want, filter.as_ref()))).await;
    let mut collected = Collected::default();
    let mut helm3_forbidden = 0;
    for (source, result) in sources.iter().zip(results) {
        let kind = source.store.kind();
        // Without the right to list Tiller records cluster-wide, read the default Tiller namespace.
        let result = match result {
            Err(e) if source.generation == Generation::Helm2 && is_forbidden(&e) && source.scope.is_none() && !all_ns => {
                let fallback = Source { scope: Some(sel.default_tiller_namespace.clone()), ..source.clone() };
                fallback.collect(want, filter.as_ref()).await
            }
            r => r,
        };
        match (source.generation, result) {
            (Generation::Helm3, Ok(c)) => collected.extend(c),
            (Generation::Helm3, Err(e)) if is_forbidden(&e) && all_ns => {
                return Err(AppError::Failed(format!(
                    "you lack the right to list {} in all namespaces (cluster-wide), which -A needs: {}; list one namespace with -n NAMESPACE instead",
                    kind_plural(kind),
                    crate::error::describe_kube_error(&e)
                )));
            }
            // One driver unreadable while the other is read (no --release-storage): that driver is skipped.
            (Generation::Helm3, Err(e)) if is_forbidden(&e) && sel.helm3_kinds.len() > 1 && helm3_forbidden == 0 => {
                helm3_forbidden += 1;
                collected.warnings.push(format!(
                    "skipping Helm 3 {} records: {}",
                    kind_plural(kind).trim_end_matches('s').to_ascii_lowercase(),
                    crate::error::describe_kube_error(&e)
                ));
            }
            (Generation::Helm2, Ok(mut c)) => {
                if let Some(ns) = sel.helm2_release_namespace(false) {
                    // Tiller keeps every release in its own namespace: show this namespace's. A damaged
                    // record cannot say its namespace: a warning, not this listing's failure.
                    c.rows.retain(|r| r.namespace == ns);
                    let errors = std::mem::take(&mut c.errors);
                    c.warnings.extend(errors.into_iter().map(|e| e.to_string()));
                }
                collected.extend(c);
            }
            (Generation::Helm2, Err(e)) if is_forbidden(&e) => {
                let place = match &source.scope {
                    None => "in all namespaces".to_string(),
                    Some(ns) => format!("in namespace {ns}"),
                };
                collected.warnings.push(format!(
                    "skipping Helm 2 releases: no right to list {} {place}: {}",
                    kind_plural(kind),
                    crate::error::describe_kube_error(&e)
                ));
            }
            (_, Err(e)) => return Err(AppError::kube(&e)),
        }
    }

    let Collected { rows, errors, mut warnings } = collected;
    let decoded_any = !rows.is_empty();
    warnings.extend(helm2_stored_twice(&rows));
    let rows = if want == Want::Latest { latest_per_release(rows) } else { rows };
    let mut rows: Vec<Row> = rows
        .into_iter()
        .filter(|r| filter.as_ref().is_none_or(|re| re.is_match(&r.name)))
        .filter(|r| mask.allows(&r.status))
        .filter(|r| selector.matches(&r.labels))
        .collect();
    sort_rows(&mut rows, args.date, args.reverse);
    let shown_end = if args.max > 0 { args.offset.saturating_add(args.max) } else { usize::MAX };
    if rows.len() > shown_end {
        // helm stops at --max silently; say so on stderr (stdout stays helm's answer)
        warnings.push(format!(
            "{} more release(s) not shown: the list stops at --max {} (see them all with --max 0, or the next ones with --offset {shown_end})",
            rows.len() - shown_end,
            args.max
        ));
    }
    let rows: Vec<Row> = if args.offset >= rows.len() {
        Vec::new()
    } else {
        let end = if args.max > 0 { (args.offset + args.max).min(rows.len()) } else { rows.len() };
        rows[args.offset..end].to_vec()
    };

    print_problems(&errors, &warnings);
    let text = render(&rows, &ListView::from_args(&args));
    let mut out = std::io::stdout().lock();
    out.write_all(&text)?;
    out.flush()?;
    // Damaged records were reported; the listing still answers unless nothing at all could be read.
    if !errors.is_empty() && !decoded_any {
        eprintln!("error: {} release record(s) in scope could not be decoded and none could; nothing to list", errors.len());
        return Ok(Outcome::PartialFailure);
    }
    Ok(Outcome::Success)
}

/// A Tiller release found both as ConfigMaps and as Secrets: two Tillers wrote it; it is listed once
/// per storage, and the user is told.
fn helm2_stored_twice(rows: &[Row]) -> Vec<String> {
    let mut kinds: std::collections::BTreeMap<(&str, &str), std::collections::BTreeSet<&str>> = Default::default();
    for r in rows.iter().filter(|r| r.generation == Generation::Helm2) {
        kinds.entry((r.object_namespace.as_str(), r.name.as_str())).or_default().insert(r.storage);
    }
    kinds
        .into_iter()
        .filter(|(_, k)| k.len() > 1)
        .map(|((ns, name), _)| format!("Helm 2 release {name:?} is stored both as ConfigMaps and as Secrets in namespace {ns}"))
        .collect()
}

fn kind_plural(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Secret => "Secrets",
        ObjectKind::ConfigMap => "ConfigMaps",
    }
}

/// helm's sort: by name (`-r` reverses); `-d` by last deployment, oldest first (`-d -r`: newest
/// first). Ties, which helm leaves in map order, are broken by namespace then storage here.
pub fn sort_rows(rows: &mut [Row], by_date: bool, reverse: bool) {
    let tie = |a: &Row, b: &Row| (&a.namespace, a.storage, &a.object_namespace).cmp(&(&b.namespace, b.storage, &b.object_namespace));
    if by_date {
        let secs = |r: &Row| r.last_deployed.unix_seconds().unwrap_or(crate::golang::time::GoTime::ZERO_UNIX);
        rows.sort_by(|a, b| secs(a).cmp(&secs(b)).then_with(|| a.name.cmp(&b.name)).then_with(|| tie(a, b)));
        if reverse {
            rows.reverse();
        }
    } else {
        rows.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| tie(a, b)));
        if reverse {
            rows.reverse();
        }
    }
}

fn updated(row: &Row, time_format: Option<&str>) -> String {
    match time_of(&row.last_deployed) {
        None => "-".into(),
        Some(t) => match time_format {
            Some(layout) if !layout.is_empty() => t.format(layout),
            _ => t.to_go_string(),
        },
    }
}

/// The JSON object of one row: helm's `releaseElement` fields in helm's order, then ours.
fn element(row: &Row, time_format: Option<&str>) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), row.name.clone().into());
    m.insert("namespace".into(), row.namespace.clone().into());
    m.insert("revision".into(), row.revision.to_string().into());
    m.insert("updated".into(), updated(row, time_format).into());
    m.insert("status".into(), row.status.as_str().into());
    m.insert("chart".into(), row.chart.clone().into());
    m.insert("app_version".into(), row.app_version.clone().into());
    m.insert("storage".into(), row.storage.into());
    if let Some(p) = &row.project {
        m.insert("project".into(), p.clone().into());
    }
    if let Some(e) = &row.env {
        m.insert("env".into(), e.clone().into());
    }
    Value::Object(m)
}

/// How the rows are printed (from the clap args at the top of `run`).
pub struct ListView {
    pub output: ListOutputFormat,
    pub short: bool,
    pub no_headers: bool,
    pub time_format: Option<String>,
}

impl ListView {
    pub fn from_args(args: &ReleasesListArgs) -> Self {
        ListView { output: args.output, short: args.short, no_headers: args.no_headers, time_format: args.time_format.clone() }
    }
}

pub fn render(rows: &[Row], args: &ListView) -> Vec<u8> {
    let tf = args.time_format.as_deref();
    if args.output == ListOutputFormat::Name {
        // kubectl's `-o name`, one NAMESPACE/NAME a line (the release's namespace), for pipes.
        return rows.iter().flat_map(|r| format!("{}/{}\n", r.namespace, r.name).into_bytes()).collect();
    }
    if args.short {
        let names: Vec<Value> = rows.iter().map(|r| Value::String(r.name.clone())).collect();
        return match args.output {
            ListOutputFormat::Json => helmfmt::json(&Value::Array(names)),
            ListOutputFormat::Yaml => helmfmt::yaml(&Value::Array(names)).into_bytes(),
            ListOutputFormat::Table | ListOutputFormat::Name => rows.iter().flat_map(|r| format!("{}\n", r.name).into_bytes()).collect(),
        };
    }
    match args.output {
        ListOutputFormat::Json => helmfmt::json(&Value::Array(rows.iter().map(|r| element(r, tf)).collect())),
        ListOutputFormat::Yaml => helmfmt::yaml(&Value::Array(rows.iter().map(|r| element(r, tf)).collect())).into_bytes(),
        ListOutputFormat::Table | ListOutputFormat::Name => {
            let mut t = Table::new();
            if !args.no_headers {
                t.add_row(["NAME", "NAMESPACE", "REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION", "STORAGE"]);
            }
            for r in rows {
                t.add_row([
                    r.name.clone(),
                    r.namespace.clone(),
                    r.revision.to_string(),
                    updated(r, tf),
                    r.status.as_str().to_string(),
                    r.chart.clone(),
                    r.app_version.clone(),
                    r.storage.to_string(),
                ]);
            }
            let text = t.render();
            if crate::interact::colors_enabled() { paint_status_column(&text, 4) } else { text }
        }
    }
}

/// Colour the STATUS cells of a rendered table (for a terminal): padding is kept outside the colour
/// codes so the columns stay aligned.
fn paint_status_column(table: &[u8], column: usize) -> Vec<u8> {
    let text = String::from_utf8_lossy(table);
    let mut out = String::with_capacity(text.len() + 64);
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let (body, newline) = line.strip_suffix('\n').map_or((line, ""), |b| (b, "\n"));
        let mut cells: Vec<String> = body.split('\t').map(String::from).collect();
        if (i > 0 || !body.starts_with("NAME"))
            && let Some(cell) = cells.get_mut(column)
        {
            let word = cell.trim_end().to_string();
            let pad = cell.len() - word.len();
            *cell = format!("{}{}", crate::interact::paint_status(&word, true), " ".repeat(pad));
        }
        out.push_str(&cells.join("\t"));
        out.push_str(newline);
    }
    out.into_bytes()
}

#[cfg(test)]
mod paint_tests {
    #[test]
    fn status_cells_are_coloured_and_columns_stay_aligned() {
        let table = b"NAME\tSTATUS  \tX\nshop\tdeployed\tY\ncart\tfailed  \tZ\n";
        let painted = String::from_utf8(super::paint_status_column(table, 1)).unwrap();
        let lines: Vec<&str> = painted.lines().collect();
        assert_eq!(lines[0], "NAME\tSTATUS  \tX");
        assert_eq!(lines[1], "shop\t\u{1b}[32mdeployed\u{1b}[0m\tY");
        assert_eq!(lines[2], "cart\t\u{1b}[31mfailed\u{1b}[0m  \tZ");
    }
}
