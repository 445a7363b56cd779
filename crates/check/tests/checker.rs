//! Histories and the linearizability checker: hand-written histories with known
//! answers for every model, malformed files, the recorder, and
//! property tests (generated histories are linearizable, mutated ones are not, and the
//! checker agrees with brute force on small histories).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use ballot_check::history::generate::{GenConfig, Mutation, generate, mutate};
use ballot_check::history::{Call, History, Op, OpType, Outcome, Recorder, parse_str};
use ballot_check::models::LeadershipCall;
use ballot_check::{
    Budget, Exhausted, Interner, Model, ModelKind, Verdict, check, check_with, models, render_svg,
};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Builds a history from `(process, type, f, value)` rows, 10 ns apart.
fn hist(rows: &[(u64, &str, &str, Value)]) -> History {
    let ops = rows
        .iter()
        .enumerate()
        .map(|(i, (process, kind, f, value))| Op {
            kind: OpType::parse(kind).expect("a type word"),
            process: *process,
            f: (*f).to_string(),
            value: value.clone(),
            time: 10 * i as u64,
            extra: BTreeMap::new(),
        });
    History::from_ops(ops).expect("a well-formed history")
}

fn verdict(history: &History, model: ModelKind) -> Verdict {
    check(history, model, &Budget::default())
        .expect("a history the model reads")
        .verdict
}

fn linearizable(history: &History, model: ModelKind) -> bool {
    match verdict(history, model) {
        Verdict::Linearizable => true,
        Verdict::NotLinearizable(_) => false,
        Verdict::Unknown(why) => panic!("no verdict within the default budget: {why:?}"),
    }
}

// ---------------------------------------------------------------- register

#[test]
fn register_concurrent_overlaps_are_linearizable() {
    // p0 writes 1 while p1 reads null and then 1: both reads overlap the write.
    let h = hist(&[
        (0, "invoke", "write", json!(1)),
        (1, "invoke", "read", Value::Null),
        (1, "ok", "read", Value::Null),
        (1, "invoke", "read", Value::Null),
        (1, "ok", "read", json!(1)),
        (0, "ok", "write", json!(1)),
    ]);
    assert!(linearizable(&h, ModelKind::Register));
}

#[test]
fn register_read_going_back_in_time_is_caught() {
    // Two concurrent reads may disagree, but a read that starts after a read of 1
    // completed cannot see the older null again.
    let h = hist(&[
        (0, "invoke", "write", json!(1)),
        (1, "invoke", "read", Value::Null),
        (1, "ok", "read", json!(1)),
        (2, "invoke", "read", Value::Null),
        (2, "ok", "read", Value::Null),
        (0, "ok", "write", json!(1)),
    ]);
    assert!(!linearizable(&h, ModelKind::Register));
}

#[test]
fn register_stale_read_after_overwrite_is_caught() {
    let h = hist(&[
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
        (0, "invoke", "write", json!(2)),
        (0, "ok", "write", json!(2)),
        (1, "invoke", "read", Value::Null),
        (1, "ok", "read", json!(1)),
    ]);
    let Verdict::NotLinearizable(violation) = verdict(&h, ModelKind::Register) else {
        panic!("a stale read must be a violation");
    };
    assert_eq!(
        violation.linearized.len(),
        2,
        "both writes fit, the read does not"
    );
    let blocking = violation
        .unplaced
        .iter()
        .find(|u| u.blocking)
        .expect("the read blocks");
    assert!(
        blocking.reason.contains("read 1 but the value was 2"),
        "{}",
        blocking.reason
    );
    let text = violation.render_text();
    assert!(text.contains("NOT PLACED"), "{text}");
    let svg = render_svg(&violation);
    assert!(
        svg.starts_with("<svg") && svg.contains("read -&gt; 1"),
        "{svg}"
    );
}

#[test]
fn register_read_of_value_never_written_is_caught() {
    let h = hist(&[
        (0, "invoke", "write", json!(1)),
        (1, "invoke", "read", Value::Null),
        (1, "ok", "read", json!(7)),
        (0, "ok", "write", json!(1)),
    ]);
    assert!(!linearizable(&h, ModelKind::Register));
}

#[test]
fn info_write_that_must_have_happened() {
    // The write of 2 timed out, yet 2 is read later: it took effect.
    let h = hist(&[
        (0, "invoke", "write", json!(2)),
        (0, "info", "write", json!(2)),
        (1, "invoke", "read", Value::Null),
        (1, "ok", "read", json!(2)),
    ]);
    assert!(linearizable(&h, ModelKind::Register));
}

#[test]
fn info_write_may_take_effect_long_after_its_info() {
    // The info line is not a deadline: the write may land after later calls.
    let h = hist(&[
        (0, "invoke", "write", json!(2)),
        (0, "info", "write", json!(2)),
        (1, "invoke", "read", Value::Null),
        (1, "ok", "read", Value::Null),
        (1, "invoke", "read", Value::Null),
        (1, "ok", "read", json!(2)),
    ]);
    assert!(linearizable(&h, ModelKind::Register));
}

#[test]
fn info_write_that_must_not_have_happened() {
    // The timed-out write of 2 is never seen: it never took effect.
    let h = hist(&[
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
        (1, "invoke", "write", json!(2)),
        (1, "info", "write", json!(2)),
        (2, "invoke", "read", Value::Null),
        (2, "ok", "read", json!(1)),
    ]);
    assert!(linearizable(&h, ModelKind::Register));
}

#[test]
fn info_write_cannot_happen_twice() {
    // Seeing 2, then 1, then 2 again needs the single write of 2 twice.
    let h = hist(&[
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
        (1, "invoke", "write", json!(2)),
        (1, "info", "write", json!(2)),
        (2, "invoke", "read", Value::Null),
        (2, "ok", "read", json!(2)),
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
        (2, "invoke", "read", Value::Null),
        (2, "ok", "read", json!(2)),
    ]);
    assert!(!linearizable(&h, ModelKind::Register));
}

#[test]
fn info_read_constrains_nothing() {
    let h = hist(&[
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
        (1, "invoke", "read", Value::Null),
        (1, "info", "read", Value::Null),
    ]);
    let report = check(&h, ModelKind::Register, &Budget::default()).expect("readable");
    assert!(report.verdict.is_linearizable());
    assert_eq!(
        report.stats.pruned, 1,
        "an unknown read is pruned before the search"
    );
}

#[test]
fn pending_call_at_the_end_counts_as_info() {
    let h = hist(&[
        (0, "invoke", "write", json!(3)),
        (1, "invoke", "read", Value::Null),
        (1, "ok", "read", json!(3)),
    ]);
    assert!(linearizable(&h, ModelKind::Register));
}

#[test]
fn register_model_rejects_cas_and_names_the_line() {
    let h = hist(&[
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
        (0, "invoke", "cas", json!([1, 2])),
        (0, "ok", "cas", json!([1, 2])),
    ]);
    let error = check(&h, ModelKind::Register, &Budget::default()).expect_err("no cas here");
    let text = error.to_string();
    assert!(
        text.starts_with("line 3:") && text.contains("cas"),
        "{text}"
    );
}

// ---------------------------------------------------------------- cas register

#[test]
fn failed_cas_took_no_effect() {
    let h = hist(&[
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
        (1, "invoke", "cas", json!([0, 5])),
        (1, "fail", "cas", json!([0, 5])),
        (2, "invoke", "read", Value::Null),
        (2, "ok", "read", json!(1)),
    ]);
    assert!(linearizable(&h, ModelKind::CasRegister));
    // ... and a read that saw the failed cas's value is a violation.
    let h = hist(&[
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
        (1, "invoke", "cas", json!([1, 5])),
        (1, "fail", "cas", json!([1, 5])),
        (2, "invoke", "read", Value::Null),
        (2, "ok", "read", json!(5)),
    ]);
    assert!(!linearizable(&h, ModelKind::CasRegister));
}

#[test]
fn two_successful_cas_from_one_value_are_caught() {
    let h = hist(&[
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
        (1, "invoke", "cas", json!([1, 2])),
        (2, "invoke", "cas", json!([1, 3])),
        (1, "ok", "cas", json!([1, 2])),
        (2, "ok", "cas", json!([1, 3])),
    ]);
    assert!(!linearizable(&h, ModelKind::CasRegister));
}

#[test]
fn concurrent_cas_chain_is_linearizable() {
    let h = hist(&[
        (0, "invoke", "cas", json!([2, 3])),
        (1, "invoke", "cas", json!([Value::Null, 1])),
        (2, "invoke", "cas", json!([1, 2])),
        (2, "ok", "cas", json!([1, 2])),
        (1, "ok", "cas", json!([Value::Null, 1])),
        (0, "ok", "cas", json!([2, 3])),
        (1, "invoke", "read", Value::Null),
        (1, "ok", "read", json!(3)),
    ]);
    assert!(linearizable(&h, ModelKind::CasRegister));
}

#[test]
fn info_cas_must_have_applied() {
    let h = hist(&[
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
        (1, "invoke", "cas", json!([1, 2])),
        (1, "info", "cas", json!([1, 2])),
        (2, "invoke", "read", Value::Null),
        (2, "ok", "read", json!(2)),
    ]);
    assert!(linearizable(&h, ModelKind::CasRegister));
    // It could not have applied from 4.
    let h = hist(&[
        (0, "invoke", "write", json!(4)),
        (0, "ok", "write", json!(4)),
        (1, "invoke", "cas", json!([1, 2])),
        (1, "info", "cas", json!([1, 2])),
        (2, "invoke", "read", Value::Null),
        (2, "ok", "read", json!(2)),
    ]);
    assert!(!linearizable(&h, ModelKind::CasRegister));
}

// ---------------------------------------------------------------- kv

#[test]
fn kv_checks_keys_independently_and_names_the_key() {
    let h = hist(&[
        (0, "invoke", "write", json!(["a", 1])),
        (1, "invoke", "write", json!(["b", 1])),
        (0, "ok", "write", json!(["a", 1])),
        (1, "ok", "write", json!(["b", 1])),
        (0, "invoke", "write", json!(["b", 2])),
        (0, "ok", "write", json!(["b", 2])),
        (1, "invoke", "read", json!(["a", null])),
        (1, "ok", "read", json!(["a", 1])),
        (1, "invoke", "read", json!(["b", null])),
        (1, "ok", "read", json!(["b", 1])),
    ]);
    let Verdict::NotLinearizable(violation) = verdict(&h, ModelKind::Kv) else {
        panic!("stale read of b");
    };
    assert_eq!(violation.partition.as_deref(), Some("key \"b\""));
    let report = check(&h, ModelKind::Kv, &Budget::default()).expect("readable");
    assert_eq!(report.stats.partitions, 2);
}

#[test]
fn kv_concurrent_ops_on_many_keys_are_linearizable() {
    let h = hist(&[
        (0, "invoke", "write", json!(["a", 1])),
        (1, "invoke", "cas", json!(["a", [1, 2]])),
        (2, "invoke", "read", json!(["b", null])),
        (2, "ok", "read", json!(["b", null])),
        (0, "ok", "write", json!(["a", 1])),
        (1, "ok", "cas", json!(["a", [1, 2]])),
        (2, "invoke", "read", json!(["a", null])),
        (2, "ok", "read", json!(["a", 2])),
    ]);
    assert!(linearizable(&h, ModelKind::Kv));
}

#[test]
fn kv_completion_for_another_key_is_an_error() {
    let h = hist(&[
        (0, "invoke", "read", json!(["a", null])),
        (0, "ok", "read", json!(["b", 1])),
    ]);
    let error = check(&h, ModelKind::Kv, &Budget::default()).expect_err("key mismatch");
    assert!(error.to_string().contains("line 1"), "{error}");
}

// ---------------------------------------------------------------- multi

/// A transaction writes x and y together; p1 reads x = 1, and after that y = null.
fn half_visible_multi() -> History {
    hist(&[
        (0, "invoke", "txn", json!([["w", "x", 1], ["w", "y", 1]])),
        (1, "invoke", "read", json!(["x", null])),
        (1, "ok", "read", json!(["x", 1])),
        (1, "invoke", "read", json!(["y", null])),
        (1, "ok", "read", json!(["y", null])),
        (0, "ok", "txn", json!([["w", "x", 1], ["w", "y", 1]])),
    ])
}

#[test]
fn partly_visible_multi_is_caught_unsplit() {
    let h = half_visible_multi();
    assert!(!linearizable(&h, ModelKind::Multi));
}

#[test]
fn partly_visible_multi_read_in_one_txn_is_caught() {
    let h = hist(&[
        (0, "invoke", "txn", json!([["w", "x", 1], ["w", "y", 1]])),
        (0, "ok", "txn", json!([["w", "x", 1], ["w", "y", 1]])),
        (
            1,
            "invoke",
            "txn",
            json!([["r", "x", null], ["r", "y", null]]),
        ),
        (1, "ok", "txn", json!([["r", "x", 1], ["r", "y", null]])),
    ]);
    assert!(!linearizable(&h, ModelKind::Multi));
}

#[test]
fn atomic_multi_seen_whole_is_linearizable() {
    let h = hist(&[
        (0, "invoke", "txn", json!([["w", "x", 1], ["w", "y", 1]])),
        (
            1,
            "invoke",
            "txn",
            json!([["r", "x", null], ["r", "y", null]]),
        ),
        (1, "ok", "txn", json!([["r", "x", null], ["r", "y", null]])),
        (1, "invoke", "read", json!(["y", null])),
        (1, "ok", "read", json!(["y", 1])),
        (
            1,
            "invoke",
            "txn",
            json!([["r", "x", null], ["cas", "y", [1, 2]], ["r", "y", null]]),
        ),
        (
            1,
            "ok",
            "txn",
            json!([["r", "x", 1], ["cas", "y", [1, 2]], ["r", "y", 2]]),
        ),
        (0, "ok", "txn", json!([["w", "x", 1], ["w", "y", 1]])),
    ]);
    assert!(linearizable(&h, ModelKind::Multi));
}

#[test]
fn info_multi_applies_whole_or_not_at_all() {
    // The timed-out transaction is seen on x; then y must show it too.
    let h = hist(&[
        (0, "invoke", "txn", json!([["w", "x", 1], ["w", "y", 1]])),
        (0, "info", "txn", json!([["w", "x", 1], ["w", "y", 1]])),
        (1, "invoke", "read", json!(["x", null])),
        (1, "ok", "read", json!(["x", 1])),
        (1, "invoke", "read", json!(["y", null])),
        (1, "ok", "read", json!(["y", null])),
    ]);
    assert!(!linearizable(&h, ModelKind::Multi));
}

#[test]
fn malformed_txn_names_the_line() {
    let h = hist(&[
        (0, "invoke", "write", json!(["x", 1])),
        (0, "ok", "write", json!(["x", 1])),
        (0, "invoke", "txn", json!([["w", "x"]])),
        (0, "ok", "txn", json!([["w", "x"]])),
    ]);
    let error = check(&h, ModelKind::Multi, &Budget::default()).expect_err("bad micro-op");
    assert!(error.to_string().starts_with("line 3:"), "{error}");
}

// ---------------------------------------------------------------- leadership

#[test]
fn two_leaders_in_one_term_are_caught() {
    let h = hist(&[
        (0, "invoke", "elected", json!(["a", 5])),
        (1, "invoke", "elected", json!(["b", 5])),
        (0, "ok", "elected", json!(["a", 5])),
        (1, "ok", "elected", json!(["b", 5])),
    ]);
    let Verdict::NotLinearizable(violation) = verdict(&h, ModelKind::Leadership) else {
        panic!("two leaders in term 5");
    };
    assert!(
        violation
            .unplaced
            .iter()
            .any(|u| u.reason.contains("one leader per term")),
        "{}",
        violation.render_text()
    );
}

#[test]
fn terms_must_increase() {
    let h = hist(&[
        (0, "invoke", "elected", json!(["a", 7])),
        (0, "ok", "elected", json!(["a", 7])),
        (1, "invoke", "elected", json!(["b", 3])),
        (1, "ok", "elected", json!(["b", 3])),
    ]);
    assert!(!linearizable(&h, ModelKind::Leadership));
}

#[test]
fn commit_under_the_holding_term_is_fine_even_when_deposed_concurrently() {
    // a's commit overlaps b's election: it may have applied just before.
    let h = hist(&[
        (0, "invoke", "elected", json!(["a", 1])),
        (0, "ok", "elected", json!(["a", 1])),
        (0, "invoke", "commit", json!(["a", 1, "x=1"])),
        (1, "invoke", "elected", json!(["b", 2])),
        (1, "ok", "elected", json!(["b", 2])),
        (0, "ok", "commit", json!(["a", 1, "x=1"])),
        (2, "invoke", "read-leader", Value::Null),
        (2, "ok", "read-leader", json!(["b", 2])),
    ]);
    assert!(linearizable(&h, ModelKind::Leadership));
}

#[test]
fn stale_commit_after_deposition_is_caught_and_refused_one_is_fine() {
    let deposed = |outcome: &str| {
        hist(&[
            (0, "invoke", "elected", json!(["a", 1])),
            (0, "ok", "elected", json!(["a", 1])),
            (1, "invoke", "elected", json!(["b", 2])),
            (1, "ok", "elected", json!(["b", 2])),
            (0, "invoke", "commit", json!(["a", 1])),
            (0, outcome, "commit", json!(["a", 1])),
        ])
    };
    assert!(!linearizable(&deposed("ok"), ModelKind::Leadership));
    assert!(linearizable(&deposed("fail"), ModelKind::Leadership));
    assert!(linearizable(&deposed("info"), ModelKind::Leadership));
}

#[test]
fn resign_clears_the_leader() {
    let h = hist(&[
        (0, "invoke", "elected", json!(["a", 1])),
        (0, "ok", "elected", json!(["a", 1])),
        (0, "invoke", "resign", json!(["a", 1])),
        (0, "ok", "resign", json!(["a", 1])),
        (1, "invoke", "read-leader", Value::Null),
        (1, "ok", "read-leader", Value::Null),
        (1, "invoke", "commit", json!(["a", 1])),
        (1, "ok", "commit", json!(["a", 1])),
    ]);
    assert!(
        !linearizable(&h, ModelKind::Leadership),
        "no commit after resigning"
    );
}

#[test]
fn info_election_may_explain_a_later_leader() {
    let h = hist(&[
        (0, "invoke", "elected", json!(["a", 3])),
        (0, "info", "elected", json!(["a", 3])),
        (1, "invoke", "read-leader", Value::Null),
        (1, "ok", "read-leader", json!(["a", 3])),
    ]);
    assert!(linearizable(&h, ModelKind::Leadership));
}

#[test]
fn exclusive_leadership_needs_the_old_leader_revoked_first() {
    let promoted = |revoked_first: bool| {
        let mut ops = vec![
            (0, "invoke", "elected", json!(["a", 1])),
            (0, "ok", "elected", json!(["a", 1])),
        ];
        let revoke = [
            (0, "invoke", "revoke", json!(["a", 1])),
            (0, "ok", "revoke", json!(["a", 1])),
        ];
        let successor = [
            (1, "invoke", "elected", json!(["b", 2])),
            (1, "ok", "elected", json!(["b", 2])),
        ];
        if revoked_first {
            ops.extend(revoke);
            ops.extend(successor);
        } else {
            ops.extend(successor);
            ops.extend(revoke);
        }
        hist(&ops)
    };
    // Per term, both orders are fine: terms increase, one leader per term.
    assert!(linearizable(&promoted(true), ModelKind::Leadership));
    assert!(linearizable(&promoted(false), ModelKind::Leadership));
    // Exclusive: b may win only once a is revoked.
    assert!(linearizable(
        &promoted(true),
        ModelKind::LeadershipExclusive
    ));
    let Verdict::NotLinearizable(violation) =
        verdict(&promoted(false), ModelKind::LeadershipExclusive)
    else {
        panic!("b promoted while a still led");
    };
    assert!(
        violation
            .unplaced
            .iter()
            .any(|u| u.reason.contains("revoked first")),
        "{}",
        violation.render_text()
    );
}

/// Planned changes (handoff, preempt, drain, stall) end terms as a revoke with a
/// `cause`, as the host records them: a history of them reads as any other, the JSON
/// lines keep the cause, and a successor acting before the handed-off leader's revoke is
/// still a violation of exclusive leadership.
#[test]
fn revokes_with_a_cause_read_like_any_revoke() {
    let recorder = Recorder::new();
    let mut term = 1;
    let leaders = ["a", "b", "c", "d", "e"];
    for (i, cause) in ["handoff", "preempt", "drain", "stall"].iter().enumerate() {
        recorder
            .leadership(i as u64, LeadershipCall::Elected, "e", leaders[i], term)
            .ok();
        recorder.revoked(100 + i as u64, "e", leaders[i], term, cause);
        term += 1;
    }
    recorder
        .leadership(9, LeadershipCall::Elected, "e", leaders[4], term)
        .ok();
    let history = recorder.history();
    let text = history.to_jsonl();
    for cause in ["handoff", "preempt", "drain", "stall"] {
        assert!(text.contains(&format!(r#""cause":"{cause}""#)), "{text}");
    }
    let reread = parse_str(&text).expect("the JSON lines read back");
    assert!(linearizable(&reread, ModelKind::LeadershipExclusive));

    // The handoff's successor acting before the handed-off leader was revoked: caught.
    let early = Recorder::new();
    early
        .leadership(0, LeadershipCall::Elected, "e", "a", 1)
        .ok();
    early
        .leadership(1, LeadershipCall::Elected, "e", "b", 2)
        .ok();
    early.revoked(2, "e", "a", 1, "handoff");
    assert!(!linearizable(
        &early.history(),
        ModelKind::LeadershipExclusive
    ));
}

// ---------------------------------------------------------------- budgets

#[test]
fn budgets_give_unknown_not_a_hang() {
    let h = generate(&GenConfig {
        processes: 5,
        calls: 3_000,
        seed: 9,
        ..GenConfig::default()
    });
    let tiny_time = Budget {
        time: Duration::ZERO,
        ..Budget::default()
    };
    let report = check(&h, ModelKind::CasRegister, &tiny_time).expect("readable");
    assert!(matches!(report.verdict, Verdict::Unknown(Exhausted::Time)));
    assert_eq!(report.verdict.exit_code(), 2);
    let tiny_memory = Budget {
        memory: 1,
        ..Budget::default()
    };
    let report = check(&h, ModelKind::CasRegister, &tiny_memory).expect("readable");
    assert!(matches!(
        report.verdict,
        Verdict::Unknown(Exhausted::Memory)
    ));
}

// ---------------------------------------------------------------- malformed files

#[test]
fn malformed_histories_name_the_line_and_the_problem() {
    let good = r#"{"type":"invoke","process":0,"f":"read","value":null,"time":1}"#;
    let cases = [
        (format!("{good}\n{{not json"), "line 2: not a JSON object"),
        (
            format!("{good}\n[1,2]"),
            "line 2: not a JSON object: found an array",
        ),
        (
            format!("{good}\n{{\"type\":\"ok\",\"f\":\"read\",\"value\":1,\"time\":2}}"),
            "line 2: field `process` is missing",
        ),
        (
            r#"{"type":"done","process":0,"f":"read","time":1}"#.to_string(),
            "line 1: field `type` must be invoke, ok, fail or info",
        ),
        (
            r#"{"type":"invoke","process":-1,"f":"read","time":1}"#.to_string(),
            "line 1: field `process` must be a non-negative integer",
        ),
        (
            r#"{"type":"invoke","process":0,"f":"read","time":"soon"}"#.to_string(),
            "line 1: field `time`",
        ),
        (
            r#"{"type":"ok","process":3,"f":"read","value":1,"time":1}"#.to_string(),
            "line 1: ok for process 3 which has no operation in flight",
        ),
        (
            format!("{good}\n\n{good}"),
            "line 3: process 0 invokes read while its read from line 1 is still in flight",
        ),
        (
            format!(
                "{good}\n{{\"type\":\"ok\",\"process\":0,\"f\":\"write\",\"value\":1,\"time\":2}}"
            ),
            "line 2: ok write for process 0 answers the read invoked on line 1",
        ),
        (
            format!(
                "{good}\n{{\"type\":\"ok\",\"process\":0,\"f\":\"read\",\"value\":1,\"time\":0}}"
            ),
            "line 2: time 0 goes backwards",
        ),
    ];
    for (text, expected) in cases {
        let error = parse_str(&text).expect_err("malformed").to_string();
        assert!(
            error.starts_with(expected),
            "expected {expected:?}, got {error:?}"
        );
    }
}

// ---------------------------------------------------------------- recorder

#[test]
fn recorder_off_records_nothing() {
    let recorder = Recorder::off();
    recorder.invoke(0, "write", json!(1)).ok(json!(1));
    assert!(!recorder.is_on());
    assert!(recorder.is_empty());
}

#[test]
fn recorder_records_calls_and_dropped_tokens_as_info() {
    let recorder = Recorder::new();
    let token = recorder.invoke(0, "write", json!(1));
    let mut extra = BTreeMap::new();
    extra.insert("term".to_string(), json!(4));
    token.complete(OpType::Ok, json!(1), extra);
    drop(recorder.invoke(1, "read", Value::Null));
    let history = recorder.history();
    let kinds: Vec<OpType> = history.ops.iter().map(|op| op.kind).collect();
    assert_eq!(
        kinds,
        [OpType::Invoke, OpType::Ok, OpType::Invoke, OpType::Info]
    );
    assert_eq!(history.ops[1].extra.get("term"), Some(&json!(4)));
    // Round trip through the file format.
    assert_eq!(parse_str(&history.to_jsonl()).expect("parses"), history);
}

#[test]
fn recorder_is_thread_safe_and_streams() {
    #[derive(Clone, Default)]
    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("sink").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let recorder = Recorder::new().streaming_to(sink.clone());
    let register = std::sync::Arc::new(std::sync::Mutex::new(Value::Null));
    let threads: Vec<_> = (0..4u64)
        .map(|process| {
            let recorder = recorder.clone();
            let register = std::sync::Arc::clone(&register);
            std::thread::spawn(move || {
                for i in 0..50u64 {
                    if i % 2 == 0 {
                        let value = json!(process * 1000 + i);
                        let token = recorder.invoke(process, "write", value.clone());
                        *register.lock().expect("register") = value.clone();
                        token.ok(value);
                    } else {
                        let token = recorder.invoke(process, "read", Value::Null);
                        let seen = register.lock().expect("register").clone();
                        token.ok(seen);
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("recording thread");
    }
    recorder.flush();
    // Streamed, not kept: the host's history lives only in its file.
    assert!(recorder.history().ops.is_empty());
    assert_eq!(recorder.len(), 400);
    let streamed = String::from_utf8(sink.0.lock().expect("sink").clone()).expect("utf-8");
    let history = parse_str(&streamed).expect("streamed lines parse");
    assert_eq!(history.ops.len(), 400);
    assert!(
        history.ops.windows(2).all(|w| w[0].time <= w[1].time),
        "lines are written in the order of their times"
    );
    assert!(linearizable(&history, ModelKind::Register));
}

// ---------------------------------------------------------------- properties

/// Is there an order of the calls that the model accepts? Tries every subset of the
/// unknown calls and every real-time-respecting order: the definition, without any of
/// the checker's shortcuts.
fn brute_force<M: Model>(model: &M, history: &History) -> bool {
    let calls: Vec<Call> = history
        .calls()
        .into_iter()
        .filter(|call| call.outcome != Outcome::Fail)
        .collect();
    let mut values = Interner::default();
    let ops: Vec<M::Op> = calls
        .iter()
        .map(|call| model.compile(call, &mut values).expect("readable"))
        .collect();
    let required: Vec<bool> = calls
        .iter()
        .map(|c| matches!(c.outcome, Outcome::Ok(_)))
        .collect();
    // must_precede[x] = ok calls that completed before x was invoked.
    let must_precede: Vec<Vec<usize>> = calls
        .iter()
        .map(|x| {
            (0..calls.len())
                .filter(|&y| required[y] && calls[y].complete.is_some_and(|c| c < x.invoke))
                .collect()
        })
        .collect();
    fn go<M: Model>(
        model: &M,
        ops: &[M::Op],
        required: &[bool],
        must_precede: &[Vec<usize>],
        placed: &mut Vec<bool>,
        state: &M::State,
    ) -> bool {
        if (0..ops.len()).all(|i| placed[i] || !required[i]) {
            return true;
        }
        for x in 0..ops.len() {
            if placed[x] || must_precede[x].iter().any(|&y| !placed[y]) {
                continue;
            }
            if let Some(next) = model.step(state, &ops[x]) {
                placed[x] = true;
                let found = go(model, ops, required, must_precede, placed, &next);
                placed[x] = false;
                if found {
                    return true;
                }
            }
        }
        false
    }
    let mut placed = vec![false; ops.len()];
    go(
        model,
        &ops,
        &required,
        &must_precede,
        &mut placed,
        &model.init(),
    )
}

/// A small generated history whose `ok` reads are sometimes replaced by random values
/// from the same small domain, so that both answers occur.
fn small_history(seed: u64, processes: usize, calls: usize, keyed: bool, scramble: u8) -> History {
    let mut history = generate(&GenConfig {
        processes,
        calls,
        keys: keyed.then_some(2),
        info_share: 0.25,
        cas: true,
        value_domain: Some(3),
        seed,
    });
    let mut x = seed ^ 0x9e37_79b9_7f4a_7c15;
    for op in &mut history.ops {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        if op.kind == OpType::Ok && op.f == "read" && (x >> 60) as u8 % 4 < scramble {
            let value = json!((x >> 33) % 3);
            op.value = match &op.value {
                Value::Array(pair) if keyed => json!([pair[0], value]),
                _ => value,
            };
        }
    }
    history
}

proptest! {
    // proptest's default of 256 cases; PROPTEST_CASES raises it for a long run.
    #[test]
    fn generated_histories_are_linearizable(
        seed in any::<u64>(),
        processes in 1usize..8,
        calls in 1usize..400,
        keys in prop::option::of(1u64..6),
        info in 0.0f64..0.3,
        domain in prop::option::of(1u64..5),
    ) {
        let history = generate(&GenConfig {
            processes, calls, keys, info_share: info, cas: true, value_domain: domain, seed,
        });
        let model = if keys.is_some() { ModelKind::Kv } else { ModelKind::CasRegister };
        prop_assert!(linearizable(&history, model));
        if keys.is_some() {
            prop_assert!(linearizable(&history, ModelKind::Multi));
        }
    }

    #[test]
    fn mutated_histories_are_not_linearizable(
        seed in any::<u64>(),
        processes in 1usize..8,
        calls in 1usize..300,
        keyed in any::<bool>(),
        stale in any::<bool>(),
        info in 0.0f64..0.2,
    ) {
        let history = generate(&GenConfig {
            processes, calls, keys: keyed.then_some(3), info_share: info, cas: true,
            value_domain: None, seed,
        });
        let mutation = if stale { Mutation::StaleRead } else { Mutation::ReadNeverWritten };
        let mutated = mutate(&history, mutation, keyed, seed);
        let model = if keyed { ModelKind::Kv } else { ModelKind::CasRegister };
        prop_assert!(!linearizable(&mutated, model), "{:?} not caught", mutation);
    }

    #[test]
    fn checker_agrees_with_brute_force_on_small_histories(
        seed in any::<u64>(),
        processes in 1usize..5,
        calls in 1usize..=8,
        keyed in any::<bool>(),
        scramble in 0u8..3,
    ) {
        let history = small_history(seed, processes, calls, keyed, scramble);
        if keyed {
            // kv splits by key and prunes; brute force runs the unsplit multi model.
            let expected = brute_force(&models::Multi, &history);
            prop_assert_eq!(linearizable(&history, ModelKind::Kv), expected);
            prop_assert_eq!(linearizable(&history, ModelKind::Multi), expected);
        } else {
            let expected = brute_force(&models::Register { cas: true }, &history);
            prop_assert_eq!(linearizable(&history, ModelKind::CasRegister), expected);
        }
    }
}

#[test]
fn differential_test_sees_both_answers() {
    // Guards the property above against testing only one side.
    let (mut yes, mut no) = (0, 0);
    for seed in 0..200 {
        let history = small_history(seed, 3, 8, seed % 2 == 0, 2);
        if brute_force(&models::Register { cas: true }, &history)
            || (seed % 2 == 0 && brute_force(&models::Multi, &history))
        {
            yes += 1;
        } else {
            no += 1;
        }
    }
    assert!(yes > 20 && no > 20, "yes {yes}, no {no}");
}

#[test]
fn check_with_accepts_a_model_value() {
    let h = hist(&[
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
    ]);
    let report =
        check_with(&models::Register { cas: false }, &h, &Budget::default()).expect("readable");
    assert_eq!(report.model, "register");
    assert!(report.verdict.is_linearizable());
}

#[test]
fn a_term_revoked_before_its_leader_acted_moves_terms_on_and_fences_it() {
    // Another host recorded that term 7 ended before its leader ("c") heard it had won.
    let revoked_ahead = |then: &[(u64, &'static str, &'static str, Value)]| {
        let mut ops = vec![
            (0, "invoke", "elected", json!(["a", 1])),
            (0, "ok", "elected", json!(["a", 1])),
            (0, "invoke", "revoke", json!(["a", 1])),
            (0, "ok", "revoke", json!(["a", 1])),
            (2, "invoke", "revoke", json!(["c", 7])),
            (2, "ok", "revoke", json!(["c", 7])),
        ];
        ops.extend_from_slice(then);
        hist(&ops)
    };
    let later = revoked_ahead(&[
        (1, "invoke", "elected", json!(["b", 8])),
        (1, "ok", "elected", json!(["b", 8])),
    ]);
    assert!(linearizable(&later, ModelKind::LeadershipExclusive));
    // Term 7 is over: its leader acting on it afterwards is a violation.
    let late = revoked_ahead(&[
        (3, "invoke", "elected", json!(["c", 7])),
        (3, "ok", "elected", json!(["c", 7])),
    ]);
    assert!(!linearizable(&late, ModelKind::LeadershipExclusive));
    // In the exclusive model a term cannot end ahead while someone still leads.
    let overlapping = hist(&[
        (0, "invoke", "elected", json!(["a", 1])),
        (0, "ok", "elected", json!(["a", 1])),
        (2, "invoke", "revoke", json!(["c", 7])),
        (2, "ok", "revoke", json!(["c", 7])),
    ]);
    assert!(!linearizable(&overlapping, ModelKind::LeadershipExclusive));
    assert!(linearizable(&overlapping, ModelKind::Leadership));
}

/// A host runs many elections, each with its own leaders: a leadership history recorded
/// with the election on each invoke is checked election by election, so two elections led
/// at once are fine, and a violation names its election.
#[test]
fn leadership_is_checked_election_by_election() {
    use ballot_check::models::LeadershipCall::{Commit, Elected};
    let recorder = Recorder::new();
    recorder.leadership_now(1, Elected, "a", "alpha", 5);
    recorder.leadership_now(2, Elected, "b", "bravo", 7);
    // alpha still leads a under term 5 while bravo leads b under term 7.
    recorder.leadership(3, Commit, "a", "alpha", 5).ok();
    recorder.leadership(4, Commit, "b", "bravo", 7).ok();
    let history = recorder.history();
    for model in [ModelKind::Leadership, ModelKind::LeadershipExclusive] {
        assert!(linearizable(&history, model), "{model:?}");
    }
    // The same calls without their elections are one election with two leaders at once.
    let mut unscoped = history.clone();
    for op in &mut unscoped.ops {
        op.extra.clear();
    }
    assert!(!linearizable(&unscoped, ModelKind::Leadership));
    // A stale commit in b is caught, and named.
    recorder.leadership(5, Commit, "b", "bravo", 3).ok();
    match verdict(&recorder.history(), ModelKind::Leadership) {
        Verdict::NotLinearizable(violation) => {
            assert_eq!(violation.partition.as_deref(), Some("election b"))
        }
        other => panic!("{other:?}"),
    }
    // The split keeps each completion with its invoke and the source lines.
    let parts = recorder.history().split_by("election");
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].0, Some(json!("a")));
    assert_eq!(parts[0].1.ops.len(), 4);
    assert_eq!(parts[1].1.lines, vec![3, 4, 7, 8, 9, 10]);
}

// ---------------------------------------------------------------- kv-append

fn string_history(rows: &[(u64, &str, &str, &str, Value)]) -> History {
    let ops: Vec<(u64, &str, &str, Value)> = rows
        .iter()
        .map(|(p, kind, f, key, value)| (*p, *kind, *f, json!([key, value])))
        .collect();
    hist(&ops)
}

/// Porcupine's get/put/append with known answers: appends concurrent with each other
/// may land in either order, but every read must agree with one order.
#[test]
fn kv_append_known_answers() {
    let both_orders_seen = string_history(&[
        (0, "invoke", "put", "x", json!("a")),
        (0, "ok", "put", "x", json!("a")),
        (1, "invoke", "append", "x", json!("b")),
        (2, "invoke", "append", "x", json!("c")),
        (1, "ok", "append", "x", json!("b")),
        (2, "ok", "append", "x", json!("c")),
        (3, "invoke", "get", "x", Value::Null),
        (3, "ok", "get", "x", json!("acb")),
        (4, "invoke", "get", "y", Value::Null),
        (4, "ok", "get", "y", json!("")),
    ]);
    assert!(linearizable(&both_orders_seen, ModelKind::KvAppend));
    // Two reads after both appends completed that disagree on their order.
    let mut rows = vec![
        (0, "invoke", "append", "x", json!("b")),
        (1, "invoke", "append", "x", json!("c")),
        (0, "ok", "append", "x", json!("b")),
        (1, "ok", "append", "x", json!("c")),
        (2, "invoke", "get", "x", Value::Null),
        (2, "ok", "get", "x", json!("bc")),
    ];
    rows.push((3, "invoke", "read", "x", Value::Null));
    rows.push((3, "ok", "read", "x", json!("cb")));
    assert!(!linearizable(&string_history(&rows), ModelKind::KvAppend));
    // An append of unknown outcome may or may not have happened; a failed one did not.
    let unknown = string_history(&[
        (0, "invoke", "append", "x", json!("z")),
        (0, "info", "append", "x", json!("z")),
        (1, "invoke", "get", "x", Value::Null),
        (1, "ok", "get", "x", json!("z")),
        (2, "invoke", "append", "x", json!("q")),
        (2, "fail", "append", "x", json!("q")),
        (3, "invoke", "write", "x", json!("w")),
        (3, "ok", "write", "x", json!("w")),
    ]);
    assert!(linearizable(&unknown, ModelKind::KvAppend));
    let failed_seen = string_history(&[
        (0, "invoke", "append", "x", json!("q")),
        (0, "fail", "append", "x", json!("q")),
        (1, "invoke", "get", "x", Value::Null),
        (1, "ok", "get", "x", json!("q")),
    ]);
    assert!(!linearizable(&failed_seen, ModelKind::KvAppend));
}

/// A small get/put/append history from a real execution (each call takes effect at a
/// random point between its invoke and its completion), some of whose reads are then
/// replaced by other strings, so that both answers occur.
fn small_append_history(seed: u64, processes: usize, calls: usize) -> History {
    let mut x = seed | 1;
    let mut next = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let keys = ["x", "y"];
    let mut state = std::collections::HashMap::<&str, String>::new();
    // Per process: the call in flight, as (f, key, input, result once applied).
    type InFlight<'a> = Option<(&'a str, &'a str, Value, Option<Value>)>;
    let mut flight: Vec<InFlight> = vec![None; processes];
    let mut rows: Vec<(u64, &str, &str, &str, Value)> = Vec::new();
    let mut started = 0;
    while started < calls || flight.iter().any(Option::is_some) {
        let p = next(processes as u64) as usize;
        match flight[p].take() {
            None if started < calls => {
                started += 1;
                let key = keys[next(2) as usize];
                let (f, input) = match next(3) {
                    0 => ("get", Value::Null),
                    1 => ("put", json!(["a", "b"][next(2) as usize])),
                    _ => ("append", json!(["a", "b"][next(2) as usize])),
                };
                rows.push((p as u64, "invoke", f, key, input.clone()));
                flight[p] = Some((f, key, input, None));
            }
            None => {}
            Some((f, key, input, None)) => {
                let value = state.entry(key).or_default();
                let result = match f {
                    "get" => json!(value.clone()),
                    "put" => {
                        *value = input.as_str().unwrap().to_string();
                        input.clone()
                    }
                    _ => {
                        value.push_str(input.as_str().unwrap());
                        input.clone()
                    }
                };
                flight[p] = Some((f, key, input, Some(result)));
            }
            Some((f, key, _, Some(result))) => {
                let result = if f == "get" && next(4) == 0 {
                    json!(["", "a", "ab", "ba", "b"][next(5) as usize])
                } else {
                    result
                };
                let kind = if f != "get" && next(6) == 0 {
                    "info"
                } else {
                    "ok"
                };
                rows.push((p as u64, kind, f, key, result));
            }
        }
    }
    string_history(&rows)
}

/// Brute force on each key's calls alone (the model's state is one key's string).
fn brute_force_by_key(history: &History) -> bool {
    ["x", "y"].iter().all(|key| {
        let ops = history
            .ops
            .iter()
            .filter(|op| op.value.get(0) == Some(&json!(key)))
            .cloned();
        brute_force(&models::KvAppend, &History::from_ops(ops).unwrap())
    })
}

proptest! {
    #[test]
    fn kv_append_agrees_with_brute_force(
        seed in any::<u64>(),
        processes in 1usize..4,
        calls in 1usize..=7,
    ) {
        let history = small_append_history(seed, processes, calls);
        prop_assert_eq!(
            linearizable(&history, ModelKind::KvAppend),
            brute_force_by_key(&history)
        );
    }
}

#[test]
fn kv_append_differential_test_sees_both_answers() {
    let (mut yes, mut no) = (0, 0);
    for seed in 0..300 {
        if brute_force_by_key(&small_append_history(seed, 3, 7)) {
            yes += 1;
        } else {
            no += 1;
        }
    }
    assert!(yes > 20 && no > 20, "{yes} linearizable, {no} not");
}

// ---------------------------------------------------------------- Knossos's other models

/// A tiny xorshift, for the generators below.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// A small history from a real execution: each call takes effect (`apply` gives its
/// outcome and result) at a random point between its invoke and its completion; some
/// completions are then `info`, and `scramble` may replace an ok result, so that both
/// answers occur.
fn executed<S: Default>(
    seed: u64,
    processes: usize,
    calls: usize,
    choose: impl Fn(&mut Dice) -> (&'static str, Value),
    apply: impl Fn(&mut S, &str, &Value, &mut Dice) -> (&'static str, Value),
    scramble: impl Fn(&str, &mut Dice) -> Option<Value>,
) -> History {
    let mut dice = Dice(seed | 1);
    let mut state = S::default();
    type InFlight = Option<(&'static str, Value, Option<(&'static str, Value)>)>;
    let mut flight: Vec<InFlight> = vec![None; processes];
    let mut rows: Vec<(u64, &str, &str, Value)> = Vec::new();
    let mut started = 0;
    while started < calls || flight.iter().any(Option::is_some) {
        let p = dice.roll(processes as u64) as usize;
        match flight[p].take() {
            None if started < calls => {
                started += 1;
                let (f, input) = choose(&mut dice);
                rows.push((p as u64, "invoke", f, input.clone()));
                flight[p] = Some((f, input, None));
            }
            None => {}
            Some((f, input, None)) => {
                let done = apply(&mut state, f, &input, &mut dice);
                flight[p] = Some((f, input, Some(done)));
            }
            Some((f, input, Some((kind, result)))) => {
                let (kind, result) = if dice.roll(7) == 0 {
                    ("info", input)
                } else if dice.roll(4) == 0 {
                    match scramble(f, &mut dice) {
                        Some(other) => ("ok", other),
                        None => (kind, result),
                    }
                } else {
                    (kind, result)
                };
                rows.push((p as u64, kind, f, result));
            }
        }
    }
    hist(&rows)
}

fn mutex_history(seed: u64, processes: usize, calls: usize) -> History {
    executed::<bool>(
        seed,
        processes,
        calls,
        |d| (["acquire", "release"][d.roll(2) as usize], Value::Null),
        |held, f, _, _| match (f, *held) {
            ("acquire", false) => {
                *held = true;
                ("ok", Value::Null)
            }
            ("release", true) => {
                *held = false;
                ("ok", Value::Null)
            }
            _ => ("fail", Value::Null),
        },
        |_, _| Some(Value::Null),
    )
}

fn set_history(seed: u64, processes: usize, calls: usize) -> History {
    executed::<std::collections::BTreeSet<u64>>(
        seed,
        processes,
        calls,
        |d| match d.roll(2) {
            0 => ("add", json!(d.roll(3))),
            _ => ("read", Value::Null),
        },
        |set, f, input, _| match f {
            "add" => {
                set.insert(input.as_u64().unwrap());
                ("ok", input.clone())
            }
            _ => ("ok", json!(set.iter().rev().collect::<Vec<_>>())),
        },
        |f, d| (f == "read").then(|| json!((0..3).filter(|_| d.roll(2) == 0).collect::<Vec<_>>())),
    )
}

fn queue_history(seed: u64, processes: usize, calls: usize, fifo: bool) -> History {
    executed::<VecDeque<u64>>(
        seed,
        processes,
        calls,
        |d| match d.roll(2) {
            0 => ("enqueue", json!(d.roll(3))),
            _ => ("dequeue", Value::Null),
        },
        |queue, f, input, d| match f {
            "enqueue" => {
                queue.push_back(input.as_u64().unwrap());
                ("ok", input.clone())
            }
            _ if queue.is_empty() => ("ok", Value::Null),
            _ if fifo => ("ok", json!(queue.pop_front())),
            _ => {
                let at = d.roll(queue.len() as u64) as usize;
                ("ok", json!(queue.remove(at)))
            }
        },
        |f, d| {
            (f == "dequeue")
                .then(|| [Value::Null, json!(0), json!(1), json!(2)][d.roll(4) as usize].clone())
        },
    )
}

#[test]
fn knossos_models_known_answers() {
    let lock = |rows: &[(u64, &str, &str)]| {
        hist(
            &rows
                .iter()
                .map(|(p, k, f)| (*p, *k, *f, Value::Null))
                .collect::<Vec<_>>(),
        )
    };
    let handed_over = lock(&[
        (0, "invoke", "acquire"),
        (0, "ok", "acquire"),
        (1, "invoke", "acquire"),
        (0, "invoke", "release"),
        (0, "ok", "release"),
        (1, "ok", "acquire"),
    ]);
    assert!(linearizable(&handed_over, ModelKind::Mutex));
    let both_hold = lock(&[
        (0, "invoke", "acquire"),
        (0, "ok", "acquire"),
        (1, "invoke", "acquire"),
        (1, "ok", "acquire"),
    ]);
    assert!(!linearizable(&both_hold, ModelKind::Mutex));

    let set = hist(&[
        (0, "invoke", "add", json!(1)),
        (0, "ok", "add", json!(1)),
        (1, "invoke", "add", json!(2)),
        (2, "invoke", "read", Value::Null),
        (2, "ok", "read", json!([1])),
        (1, "ok", "add", json!(2)),
        (2, "invoke", "read", Value::Null),
        (2, "ok", "read", json!([2, 1])),
    ]);
    assert!(linearizable(&set, ModelKind::Set));
    let lost = hist(&[
        (0, "invoke", "add", json!(1)),
        (0, "ok", "add", json!(1)),
        (2, "invoke", "read", Value::Null),
        (2, "ok", "read", json!([])),
    ]);
    assert!(!linearizable(&lost, ModelKind::Set));

    let queue = |order: [u64; 2]| {
        hist(&[
            (0, "invoke", "enqueue", json!(1)),
            (0, "ok", "enqueue", json!(1)),
            (0, "invoke", "enqueue", json!(2)),
            (0, "ok", "enqueue", json!(2)),
            (1, "invoke", "dequeue", Value::Null),
            (1, "ok", "dequeue", json!(order[0])),
            (1, "invoke", "dequeue", Value::Null),
            (1, "ok", "dequeue", json!(order[1])),
            (1, "invoke", "dequeue", Value::Null),
            (1, "ok", "dequeue", Value::Null),
        ])
    };
    assert!(linearizable(&queue([1, 2]), ModelKind::FifoQueue));
    assert!(!linearizable(&queue([2, 1]), ModelKind::FifoQueue));
    assert!(linearizable(&queue([2, 1]), ModelKind::UnorderedQueue));
    assert!(!linearizable(&queue([2, 2]), ModelKind::UnorderedQueue));
    // A FIFO dequeue of unknown outcome may have taken the head.
    let took_head = hist(&[
        (0, "invoke", "enqueue", json!(1)),
        (0, "ok", "enqueue", json!(1)),
        (0, "invoke", "enqueue", json!(2)),
        (0, "ok", "enqueue", json!(2)),
        (1, "invoke", "dequeue", Value::Null),
        (1, "info", "dequeue", Value::Null),
        (2, "invoke", "dequeue", Value::Null),
        (2, "ok", "dequeue", json!(2)),
    ]);
    assert!(linearizable(&took_head, ModelKind::FifoQueue));
}

proptest! {
    #[test]
    fn knossos_models_agree_with_brute_force(
        seed in any::<u64>(),
        processes in 1usize..4,
        calls in 1usize..=7,
    ) {
        let mutex = mutex_history(seed, processes, calls);
        prop_assert_eq!(linearizable(&mutex, ModelKind::Mutex), brute_force(&models::Mutex, &mutex));
        let set = set_history(seed, processes, calls);
        prop_assert_eq!(linearizable(&set, ModelKind::Set), brute_force(&models::Set, &set));
        for fifo in [true, false] {
            let queue = queue_history(seed, processes, calls, fifo);
            let kind = if fifo { ModelKind::FifoQueue } else { ModelKind::UnorderedQueue };
            prop_assert_eq!(
                linearizable(&queue, kind),
                brute_force(&models::Queue { fifo }, &queue)
            );
        }
    }
}

#[test]
fn knossos_differential_tests_see_both_answers() {
    type Generated = fn(u64, usize, usize) -> History;
    type Brute = Box<dyn Fn(&History) -> bool>;
    let cases: [(&str, Generated, Brute); 4] = [
        (
            "mutex",
            mutex_history,
            Box::new(|h| brute_force(&models::Mutex, h)),
        ),
        (
            "set",
            set_history,
            Box::new(|h| brute_force(&models::Set, h)),
        ),
        (
            "fifo-queue",
            |s, p, c| queue_history(s, p, c, true),
            Box::new(|h| brute_force(&models::Queue { fifo: true }, h)),
        ),
        (
            "unordered-queue",
            |s, p, c| queue_history(s, p, c, false),
            Box::new(|h| brute_force(&models::Queue { fifo: false }, h)),
        ),
    ];
    for (name, generate, brute) in cases {
        let (mut yes, mut no) = (0, 0);
        for seed in 0..300 {
            if brute(&generate(seed, 3, 7)) {
                yes += 1;
            } else {
                no += 1;
            }
        }
        assert!(yes > 20 && no > 20, "{name}: {yes} linearizable, {no} not");
    }
}

proptest! {
    /// Keyed histories checked on four threads give the verdict, and the violation, that
    /// one thread gives.
    #[test]
    fn parallel_parts_give_the_sequential_verdict(
        seed in any::<u64>(),
        processes in 1usize..6,
        calls in 1usize..200,
        keys in 2u64..8,
        mutate_it in any::<bool>(),
    ) {
        let mut history = generate(&GenConfig {
            processes, calls, keys: Some(keys), info_share: 0.1, cas: true, value_domain: None, seed,
        });
        if mutate_it {
            history = mutate(&history, Mutation::ReadNeverWritten, true, seed);
        }
        let on = |threads| {
            let budget = Budget { threads, ..Budget::default() };
            check(&history, ModelKind::Kv, &budget).expect("readable").verdict
        };
        let (one, four) = (on(1), on(4));
        prop_assert_eq!(one.exit_code(), four.exit_code());
        if let (Verdict::NotLinearizable(a), Verdict::NotLinearizable(b)) = (&one, &four) {
            prop_assert_eq!(&a.partition, &b.partition);
        }
    }
}

/// A generated register history with unique written values (so most writes are never
/// read), some of whose reads are then made to return another written value.
fn unread_heavy_history(seed: u64, processes: usize, calls: usize, cas: bool) -> History {
    let mut history = generate(&GenConfig {
        processes,
        calls,
        keys: None,
        info_share: 0.25,
        cas,
        value_domain: None,
        seed,
    });
    let written: Vec<Value> = history
        .ops
        .iter()
        .filter(|op| op.kind == OpType::Invoke && op.f == "write")
        .map(|op| op.value.clone())
        .collect();
    let mut dice = Dice(seed | 1);
    for op in &mut history.ops {
        if op.kind == OpType::Ok && op.f == "read" && !written.is_empty() && dice.roll(3) == 0 {
            op.value = written[dice.roll(written.len() as u64) as usize].clone();
        }
    }
    history
}

proptest! {
    /// Merging unread values and forcing writes of them (the single register's speed-up)
    /// changes no verdict: the search agrees with brute force over the ops as written.
    #[test]
    fn merging_unread_values_agrees_with_brute_force(
        seed in any::<u64>(),
        processes in 1usize..5,
        calls in 1usize..=9,
        cas in any::<bool>(),
    ) {
        let history = unread_heavy_history(seed, processes, calls, cas);
        let kind = if cas { ModelKind::CasRegister } else { ModelKind::Register };
        prop_assert_eq!(
            linearizable(&history, kind),
            brute_force(&models::Register { cas }, &history)
        );
    }
}

#[test]
fn unread_heavy_histories_see_both_answers() {
    let (mut yes, mut no) = (0, 0);
    for seed in 0..300 {
        if brute_force(
            &models::Register { cas: false },
            &unread_heavy_history(seed, 4, 9, false),
        ) {
            yes += 1;
        } else {
            no += 1;
        }
    }
    assert!(yes > 20 && no > 20, "{yes} linearizable, {no} not");
}
