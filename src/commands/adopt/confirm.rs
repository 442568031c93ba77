//! adopt's confirmation: which objects to adopt (terminal pick and confirm, or `--yes`); foreign objects only
//! with `--force`.

use crate::error::AppError;
use crate::interact;
use crate::ownership::Ownership;

use super::inputs::TargetRelease;
use super::report::plan_table;
use super::{AdoptOptions, Item, owner_text, state_word};

/// Let the person at the terminal pick; `None` when they cancelled.
pub(super) fn pick(items: &[Item], selectable: &[usize], defaults: &[bool]) -> Result<Option<Vec<usize>>, AppError> {
    let labels: Vec<String> = selectable
        .iter()
        .map(|&i| {
            let it = &items[i];
            let ns = it.candidate.namespace.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
            let state = match it.ownership() {
                Some(Ownership::Foreign { release, namespace }) => {
                    format!("foreign: take from {}", owner_text(release.as_deref(), namespace.as_deref()))
                }
                Some(Ownership::OwnedByThis) => "owned: hand the fields it sets to helm (Apply)".to_string(),
                _ => state_word(&it.observed).to_string(),
            };
            format!("{}{ns} — {state}", it.candidate.display())
        })
        .collect();
    let _guard = crate::interact::PromptGuard::new();
    let chosen = dialoguer::MultiSelect::new()
        .with_prompt("Objects to adopt (space toggles, enter accepts, q cancels)")
        .items(&labels)
        .defaults(defaults)
        .interact_opt()
        .map_err(|e| AppError::Failed(format!("cannot read the answer: {e}")))?;
    Ok(chosen.map(|picked| picked.into_iter().map(|p| selectable[p]).collect()))
}

/// Mark the objects to adopt `selected`. Returns whether the user cancelled (nothing is then adopted).
pub(super) fn choose(items: &mut [Item], target: &TargetRelease, opts: &AdoptOptions) -> Result<bool, AppError> {
    let table_mode = opts.output == crate::cli::OutputFormat::Table;
    let selectable: Vec<usize> = (0..items.len())
        .filter(|&i| match items[i].ownership() {
            Some(Ownership::Unowned | Ownership::Partial { .. }) => true,
            Some(Ownership::Foreign { .. }) => opts.force,
            Some(Ownership::OwnedByThis) => items[i].needs_handover(),
            _ => false,
        })
        .collect();
    let defaults: Vec<bool> = selectable.iter().map(|&i| !items[i].is_foreign() || (opts.force && (opts.yes || opts.dry_run))).collect();
    let foreign_without_force = items.iter().filter(|it| it.is_foreign()).count() > 0 && !opts.force;
    let mut chosen: Vec<usize> = selectable.iter().zip(&defaults).filter(|(_, d)| **d).map(|(i, _)| *i).collect();
    let mut cancelled = false;
    if !opts.dry_run && !selectable.is_empty() {
        if opts.yes {
            for &i in &chosen {
                if let Some(Ownership::Foreign { release, namespace }) = items[i].ownership() {
                    eprintln!(
                        "--force: taking {} from {}",
                        items[i].candidate.display(),
                        owner_text(release.as_deref(), namespace.as_deref())
                    );
                }
            }
        } else if interact::interactive() {
            if !table_mode {
                eprint!("{}", plan_table(items, target));
            }
            match pick(items, &selectable, &defaults)? {
                None => cancelled = true,
                Some(picked) => {
                    chosen = picked;
                    let foreign = chosen.iter().filter(|&&i| items[i].is_foreign()).count();
                    let question = if foreign > 0 {
                        format!(
                            "Adopt {} object(s) into release {} ({}), taking {foreign} from another release?",
                            chosen.len(),
                            target.release,
                            target.namespace
                        )
                    } else {
                        format!("Adopt {} object(s) into release {} ({})?", chosen.len(), target.release, target.namespace)
                    };
                    if chosen.is_empty() || !interact::confirm(&question, false)? {
                        cancelled = true;
                    }
                }
            }
        } else {
            interact::confirm(
                &format!("would adopt {} object(s) into release {} ({})", chosen.len(), target.release, target.namespace),
                false,
            )?;
        }
    }
    if cancelled {
        eprintln!("Cancelled; nothing was changed.");
        chosen.clear();
    }
    for &i in &chosen {
        items[i].selected = true;
    }
    if foreign_without_force {
        eprintln!(
            "note: objects owned by another release are left alone; --force allows taking them (you still pick them, or --yes selects them)"
        );
    }
    Ok(cancelled)
}
