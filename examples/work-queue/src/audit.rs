//! Reading the outcome back: every item done, each with exactly one effect that names
//! the peer and term that completed it; and the lease's recorded history, checked.

use std::collections::BTreeMap;

use ballot_check::history::History;
use ballot_check::{Budget, ModelKind, Verdict, check};
use ballot_core::namespace::{NodePath, State};

use crate::queue::{self, Effect, Item};

/// What the store holds at the end of a run.
#[derive(Debug, Clone, Default)]
pub struct Audit {
    /// Items the producers enqueued.
    pub expected: usize,
    /// Items in the store.
    pub items: usize,
    /// Effects in the store.
    pub effects: usize,
    /// Items not done (still pending or claimed, or unreadable).
    pub not_done: Vec<String>,
    /// Done items without an effect.
    pub missing: Vec<String>,
    /// Items with more than one effect, and how many.
    pub duplicated: Vec<(String, usize)>,
    /// Effects whose peer or term differ from the completion their item records, or
    /// that name no item, or cannot be read.
    pub mismatched: Vec<String>,
    /// Whether every item was done before the deadline.
    pub finished: bool,
}

impl Audit {
    /// Audits `state` for `expected` items.
    pub fn of(state: &State, expected: usize, finished: bool) -> Audit {
        let items = queue::items(state);
        let mut effects: BTreeMap<String, Vec<Effect>> = BTreeMap::new();
        let mut audit = Audit {
            expected,
            items: items.len(),
            finished,
            ..Audit::default()
        };
        let effects_dir = NodePath::parse(queue::EFFECTS).expect("a valid path");
        for name in state.children(&effects_dir).unwrap_or_default() {
            audit.effects += 1;
            let effect = effects_dir
                .child(&name)
                .ok()
                .and_then(|path| state.get(&path).ok())
                .and_then(|(data, _)| Effect::parse(data.as_bytes()));
            match effect {
                Some(effect) => effects.entry(effect.item.clone()).or_default().push(effect),
                None => audit.mismatched.push(format!("{name}: unreadable")),
            }
        }
        for (name, item) in &items {
            let mine = effects.remove(name).unwrap_or_default();
            let Some(Item::Done { peer, term }) = item else {
                audit.not_done.push(name.clone());
                continue;
            };
            match mine.as_slice() {
                [] => audit.missing.push(name.clone()),
                [effect] if effect.peer == *peer && effect.term == *term => {}
                [effect] => audit.mismatched.push(format!(
                    "{name}: done by {peer} under term {term}, effect says {} under {}",
                    effect.peer, effect.term
                )),
                more => audit.duplicated.push((name.clone(), more.len())),
            }
        }
        for item in effects.into_keys() {
            audit
                .mismatched
                .push(format!("an effect names {item}, which is not an item"));
        }
        audit
    }

    /// Every expected item done, each with exactly one matching effect.
    pub fn exactly_once(&self) -> bool {
        self.finished
            && self.items == self.expected
            && self.effects == self.expected
            && self.not_done.is_empty()
            && self.missing.is_empty()
            && self.duplicated.is_empty()
            && self.mismatched.is_empty()
    }
}

/// How many of the items in `cut_short` (item, killed peer) some other peer completed.
pub fn taken_over(state: &State, cut_short: &[(String, String)]) -> usize {
    let items: BTreeMap<String, Option<Item>> = queue::items(state).into_iter().collect();
    cut_short
        .iter()
        .filter(|(item, killed)| {
            matches!(items.get(item), Some(Some(Item::Done { peer, .. })) if peer != killed)
        })
        .count()
}

/// The lease's part of a recorded history: the workers' elections and commits (their
/// peer names start with `w-`), without the ballot election their deployments also
/// stand in, whose terms are another election's.
pub fn lease_history(history: &History) -> History {
    let ops = history.ops.iter().filter(|op| {
        (op.f == "elected" || op.f == "commit")
            && op
                .value
                .get(0)
                .and_then(|peer| peer.as_str())
                .is_some_and(|peer| peer.starts_with("w-"))
    });
    History::from_ops(ops.cloned()).expect("a subset of a valid history is valid")
}

/// Checks the lease's history against the leadership model.
pub fn check_lease(history: &History) -> Result<(), String> {
    let report = check(history, ModelKind::Leadership, &Budget::default())
        .map_err(|e| format!("the checker refused the history: {e}"))?;
    match report.verdict {
        Verdict::Linearizable => Ok(()),
        other => Err(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use ballot_core::namespace::{CreateMode, Data, Limits, Namespace, NodePath, Op};

    use super::Audit;

    fn state(nodes: &[(&str, &str)]) -> ballot_core::namespace::State {
        let mut ns = Namespace::new(Limits::default());
        let ops: Vec<Op> = ["/work-queue", "/work-queue/items", "/work-queue/effects"]
            .iter()
            .map(|p| (*p, ""))
            .chain(nodes.iter().copied())
            .map(|(path, data)| Op::Create {
                path: NodePath::parse(path).unwrap(),
                data: Data::from(data),
                mode: CreateMode::PERSISTENT,
            })
            .collect();
        ns.multi(None, &ops).unwrap();
        ns.snapshot()
    }

    #[test]
    fn one_matching_effect_per_done_item_passes() {
        let s = state(&[
            ("/work-queue/items/item-1", "done w-1 5"),
            ("/work-queue/items/item-2", "done w-2 9"),
            ("/work-queue/effects/effect-1", "item-1 w-1 5"),
            ("/work-queue/effects/effect-2", "item-2 w-2 9"),
        ]);
        let audit = Audit::of(&s, 2, true);
        assert!(audit.exactly_once(), "{audit:?}");
    }

    #[test]
    fn duplicates_losses_strays_and_unfinished_items_are_named() {
        let s = state(&[
            ("/work-queue/items/item-1", "done w-1 5"),
            ("/work-queue/items/item-2", "done w-2 9"),
            ("/work-queue/items/item-3", "claimed w-2 9"),
            ("/work-queue/items/item-4", "done w-2 9"),
            ("/work-queue/effects/effect-1", "item-1 w-1 5"),
            ("/work-queue/effects/effect-2", "item-1 w-3 7"),
            ("/work-queue/effects/effect-3", "item-4 w-1 5"),
            ("/work-queue/effects/effect-4", "item-9 w-1 5"),
        ]);
        let audit = Audit::of(&s, 4, true);
        assert!(!audit.exactly_once());
        assert_eq!(audit.duplicated, vec![("item-1".to_string(), 2)]);
        assert_eq!(audit.missing, vec!["item-2".to_string()]);
        assert_eq!(audit.not_done, vec!["item-3".to_string()]);
        assert_eq!(audit.mismatched.len(), 2, "{:?}", audit.mismatched);
        assert!(
            !Audit::of(&state(&[]), 1, true).exactly_once(),
            "nothing enqueued"
        );
    }
}
