//! adopt's execution: stamp Helm's ownership on each selected object through the one settled patch, then hand
//! the fields its manifest sets to Helm's field manager.

use futures::StreamExt;
use kube::ResourceExt;
use serde_json::Value;

use crate::interact;
use crate::live::objects::{self, PatchDecision, PatchFailure, PatchSettled, PatchTrail};
use crate::ownership::{self, Ownership, Problem};
use crate::stop::StopSignal;

use super::handover;
use super::inputs::TargetRelease;
use super::plan::observed_of;
use super::{AdoptOptions, Done, Fields, Item, Observed, owner_text, state_detail};

/// What happened to one selected object: result, object as last read, note, handover outcome.
type Adopted = (usize, Done, Observed, Option<String>, Option<Result<handover::Done, String>>);

/// Patch one object through the settled patch (`live::objects::patch_settled`): on a conflict it is read and
/// classified again and patched again while it is still ours to take. An object that another release took
/// meanwhile is taken only when `take_foreign` (`--force --yes`: foreign objects are selected anyway);
/// otherwise only the owner the user saw and picked may be replaced.
///
/// A patch that met a transient failure may have landed with its answer lost: the object is read and
/// classified again, exactly as after a conflict. Found in the release, it was ours: adopted. Otherwise the
/// next patch carries the fresh `resourceVersion`, so it can never apply on top of a first one that landed
/// unseen. No patch starts once `stop` is requested.
///
/// Returns what happened, the object as last read, a note for the report and the object as patched.
async fn adopt_one(
    client: &kube::Client,
    item: &Item,
    release: &str,
    release_ns: &str,
    take_foreign: bool,
    stop: &StopSignal,
) -> (Done, Observed, Option<String>, Option<Value>) {
    let c = &item.candidate;
    let original = item.ownership().cloned();
    let mut observed = item.observed.clone();
    if !matches!(observed, Observed::Read { .. }) {
        return (Done::Failed(state_detail(&observed, release, release_ns)), observed, None, None);
    }
    if stop.requested() {
        return (Done::Interrupted, observed, None, None);
    }
    // Why the last decision left the object alone.
    let mut refusal: Option<Done> = None;
    let settled = objects::patch_settled(client, &c.resource, c.namespace.as_deref(), &c.name, item.seen.clone(), stop, |obj| {
        observed = observed_of(obj, release, release_ns);
        let Observed::Read { ownership: current, .. } = &observed else { unreachable!("observed_of reads") };
        match current {
            Ownership::OwnedByThis => PatchDecision::Nothing,
            Ownership::Missing => {
                refusal = Some(Done::Failed("deleted meanwhile".into()));
                PatchDecision::Refuse(String::new())
            }
            Ownership::Foreign { release: r, namespace: n } if !take_foreign && original.as_ref() != Some(current) => {
                let why =
                    format!("changed meanwhile: now owned by {}; re-run with --force to take it", owner_text(r.as_deref(), n.as_deref()));
                refusal = Some(Done::Refused(why));
                PatchDecision::Refuse(String::new())
            }
            Ownership::Foreign { .. } | Ownership::Unowned | Ownership::Partial { .. } => {
                PatchDecision::Patch(ownership::adoption_patch(release, release_ns, None))
            }
        }
    })
    .await;
    match settled {
        Ok(PatchSettled::Patched(_, PatchTrail { lost: Some(lost), .. })) => {
            let note = format!("the patch's answer was lost ({lost}); read back: in release {release}");
            (Done::Adopted, observed, Some(note), None)
        }
        Ok(PatchSettled::Patched(obj, _)) => {
            let problems = ownership::check(obj.labels(), obj.annotations(), release, release_ns);
            if !problems.is_empty() {
                let text: Vec<String> = problems.iter().map(Problem::helm_text).collect();
                return (Done::Failed(format!("patched, but the server kept: {}", text.join("; "))), observed, None, None);
            }
            (Done::Adopted, observed, None, serde_json::to_value(&obj).ok())
        }
        Ok(PatchSettled::Unchanged(..)) => (Done::Unchanged("already in the release (changed meanwhile)".into()), observed, None, None),
        Ok(PatchSettled::Missing) => (Done::Failed("deleted meanwhile".into()), observed, None, None),
        Err(PatchFailure::Refused(_)) => (refusal.unwrap_or_else(|| Done::Failed("left alone".into())), observed, None, None),
        Err(PatchFailure::Interrupted(_)) => (Done::Interrupted, observed, None, None),
        Err(PatchFailure::Unread { read, after }) => {
            observed = Observed::Error(crate::error::describe_kube_error(&read));
            let why = match after {
                Some(e) => format!("{e}; then cannot read it again: {}", state_detail(&observed, release, release_ns)),
                None => state_detail(&observed, release, release_ns),
            };
            (Done::Failed(why), observed, None, None)
        }
        Err(e @ PatchFailure::GaveUp { .. }) => (Done::Failed(format!("{e}; try again")), observed, None, None),
        Err(PatchFailure::Failed(e)) => (Done::Failed(e.to_string()), observed, None, None),
    }
}

/// What happens to the objects not selected, and why.
pub(super) fn settle_unselected(items: &mut [Item], opts: &AdoptOptions, cancelled: bool) {
    for (i, it) in items.iter_mut().enumerate() {
        if it.selected {
            continue;
        }
        it.done = Some(match it.ownership() {
            Some(Ownership::Missing) => Done::Unchanged("Helm will create it".into()),
            Some(Ownership::OwnedByThis) if !it.needs_handover() => Done::Unchanged(match &it.fields {
                Fields::Planned { .. } => "already in the release; the fields it sets are with helm (Apply)".into(),
                _ => "already in the release".into(),
            }),
            Some(Ownership::Foreign { .. }) if !opts.force => Done::Skipped("owned by another release (needs --force)".into()),
            Some(_) if cancelled => Done::Skipped("cancelled".into()),
            Some(_) => Done::Skipped("not selected".into()),
            None => match &it.observed {
                Observed::Error(e) => Done::Failed(e.clone()),
                Observed::UnknownType(e) => Done::Unchanged(e.clone()),
                Observed::Read { .. } => unreachable!("index {i} has an ownership"),
            },
        });
    }
}

/// Patch the selected objects (or, with `--dry-run`, say what would be patched). Returns the stop signal the
/// patches ran under (installed only when something is patched).
pub(super) async fn adopt_selected(client: &kube::Client, items: &mut [Item], target: &TargetRelease, opts: &AdoptOptions) -> StopSignal {
    let concurrency = opts.concurrency;
    let selected: Vec<usize> = (0..items.len()).filter(|&i| items[i].selected).collect();
    // From here on the first SIGINT/SIGTERM stops new patches and lets those sent settle (installed only now, so
    // an interrupt while reading or at the prompt still ends the run at once, with nothing changed).
    let stop = if opts.dry_run || selected.is_empty() { StopSignal::never() } else { StopSignal::install() };
    if opts.dry_run {
        for &i in &selected {
            items[i].done =
                Some(if items[i].ownership() == Some(&Ownership::OwnedByThis) { Done::WouldHandOver } else { Done::WouldAdopt });
        }
    } else if !selected.is_empty() {
        let take_foreign = opts.force && opts.yes;
        let bar = interact::progress(selected.len() as u64, "adopting");
        let stop = &stop;
        let results: Vec<Adopted> = futures::stream::iter(selected.iter().map(|&i| {
            let (client, item, bar) = (&client, &items[i], &bar);
            let (release, ns) = (&target.release, &target.namespace);
            let force = opts.force;
            async move {
                let (done, observed, note, patched) = if item.ownership() == Some(&Ownership::OwnedByThis) {
                    (Done::HandedOver, item.observed.clone(), None, None)
                } else {
                    adopt_one(client, item, release, ns, take_foreign, stop).await
                };
                let in_release = matches!(&observed, Observed::Read { ownership: Ownership::OwnedByThis, .. });
                let handed = match item.field_set() {
                    Some(set) if matches!(done, Done::Adopted | Done::HandedOver) || (in_release && matches!(done, Done::Unchanged(_))) => {
                        let c = &item.candidate;
                        Some(handover::hand_over(client, &c.resource, c.namespace.as_deref(), &c.name, set, force, stop, patched).await)
                    }
                    _ => None,
                };
                bar.inc(1);
                (i, done, observed, note, handed)
            }
        }))
        .buffer_unordered(concurrency)
        .collect()
        .await;
        bar.finish_and_clear();
        for (i, mut done, observed, note, handed) in results {
            if note.is_some() {
                items[i].note = note;
            } else if observed != items[i].observed {
                items[i].note = Some(format!("re-read: {}", state_detail(&observed, &target.release, &target.namespace)));
            }
            items[i].stamped = done == Done::Adopted;
            if let Some(Err(e)) = &handed {
                done = match done {
                    Done::HandedOver | Done::Unchanged(_) if stop.requested() => Done::Interrupted,
                    Done::HandedOver | Done::Unchanged(_) => Done::Failed(format!("its fields were not handed to helm: {e}")),
                    _ if stop.requested() => {
                        items[i].note = Some(format!("ownership stamped; {e}; run the same command again"));
                        Done::Interrupted
                    }
                    _ => {
                        Done::Failed(format!("ownership stamped, but its fields were not handed to helm: {e}; run the same command again"))
                    }
                };
            } else if let (Some(Ok(h)), Done::Unchanged(_)) = (&handed, &done)
                && !h.moves.is_empty()
            {
                done = Done::HandedOver;
            }
            items[i].handed = handed;
            items[i].done = Some(done);
        }
    }
    stop
}
