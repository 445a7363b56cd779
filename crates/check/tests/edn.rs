//! Jepsen's EDN and log-line histories, read as Jepsen and Knossos write them, give the
//! same verdicts as the same histories in JSON lines.

use ballot_check::history::edn::{Format, parse_any};
use ballot_check::history::{OpType, ParseError};
use ballot_check::{Budget, ModelKind, Verdict, check};

fn verdict(text: &str, model: ModelKind) -> Verdict {
    let read = parse_any(text).expect("a readable history");
    check(&read.history, model, &Budget::default())
        .expect("a history the model reads")
        .verdict
}

fn linearizable(text: &str, model: ModelKind) -> bool {
    match verdict(text, model) {
        Verdict::Linearizable => true,
        Verdict::NotLinearizable(_) => false,
        Verdict::Unknown(why) => panic!("no verdict: {why:?}"),
    }
}

/// A cas register in Knossos's shape, one op map per line, with a nemesis in between and
/// fields the checker does not use.
const CAS_OK: &str = r#"
{:type :invoke, :f :write, :value 1, :process 0, :time 10, :index 0}
{:type :info, :f :start, :value nil, :process :nemesis, :time 11}
{:type :ok, :f :write, :value 1, :process 0, :time 20, :index 1}
{:type :invoke, :f :cas, :value [1 2], :process 1, :time 30}
{:type :invoke, :f :read, :value nil, :process 2, :time 31}
{:type :ok, :f :cas, :value [1 2], :process 1, :time 40}
{:type :ok, :f :read, :value 2, :process 2, :time 50}
{:type :info, :f :stop, :value "healed", :process :nemesis, :time 51}
"#;

#[test]
fn op_maps_one_per_line_are_read_and_nemesis_ops_skipped() {
    assert_eq!(Format::detect(CAS_OK), Format::Edn);
    let read = parse_any(CAS_OK).unwrap();
    assert_eq!(read.nemesis_ops, 2);
    assert_eq!(read.history.ops.len(), 6);
    let first = &read.history.ops[0];
    assert_eq!(
        (first.kind, first.f.as_str(), first.process),
        (OpType::Invoke, "write", 0)
    );
    assert_eq!(first.extra.get("index"), Some(&serde_json::json!(0)));
    assert_eq!(read.history.ops[2].value, serde_json::json!([1, 2]));
    assert!(linearizable(CAS_OK, ModelKind::CasRegister));
    // The read of 2 moved before the cas completed its invoke: still fine; a read of 1
    // after the cas returned is not.
    let stale = CAS_OK.replace(":ok, :f :read, :value 2", ":ok, :f :read, :value 1");
    let late_read = stale.replace(
        "{:type :invoke, :f :read, :value nil, :process 2, :time 31}\n",
        "",
    ) + "{:type :invoke, :f :read, :value nil, :process 2, :time 60}\n{:type :ok, :f :read, :value 1, :process 2, :time 70}\n";
    let late_read = late_read.replace(
        "{:type :ok, :f :read, :value 1, :process 2, :time 50}\n",
        "",
    );
    assert!(
        !linearizable(&late_read, ModelKind::CasRegister),
        "{late_read}"
    );
}

#[test]
fn a_vector_of_maps_reads_as_the_same_history() {
    let lines: Vec<&str> = CAS_OK.lines().filter(|l| !l.trim().is_empty()).collect();
    let vector = format!("[{}]", lines.join("\n "));
    assert_eq!(Format::detect(&vector), Format::Edn);
    let from_vector = parse_any(&vector).unwrap();
    let from_lines = parse_any(CAS_OK).unwrap();
    assert_eq!(from_vector.history.ops, from_lines.history.ops);
    assert_eq!(from_vector.nemesis_ops, 2);
}

#[test]
fn a_map_spread_over_lines_is_one_op() {
    let text = "{:type :invoke,\n :f :write,\n :value 3,\n :process 0}\n{:type :ok, :f :write, :value 3, :process 0}\n";
    let read = parse_any(text).unwrap();
    assert_eq!(read.history.ops.len(), 2);
    assert_eq!(read.history.lines, [1, 5]);
}

/// Knossos's and Porcupine's corpora keep histories as Jepsen's log lines.
#[test]
fn jepsen_log_lines_are_read() {
    let log = "\
INFO  jepsen.util - 0\t:invoke\t:write\t4
INFO  jepsen.util - 1\t:invoke\t:read\tnil
INFO  jepsen.util - :nemesis\t:info\t:start\tnil
INFO  jepsen.util - 0\t:ok\t:write\t4
some other log output
INFO  jepsen.util - 1\t:ok\t:read\t4
INFO  jepsen.util - 2\t:invoke\t:cas\t[4 0]
INFO  jepsen.util - 2\t:fail\t:cas\t[4 0]
";
    assert_eq!(Format::detect(log), Format::JepsenLog);
    let read = parse_any(log).unwrap();
    assert_eq!(read.nemesis_ops, 1);
    assert_eq!(read.history.ops.len(), 6);
    assert!(linearizable(log, ModelKind::CasRegister));
    // Without the logger's prefix too.
    let bare: String = log.replace("INFO  jepsen.util - ", "");
    assert_eq!(parse_any(&bare).unwrap().history.ops, read.history.ops);
}

/// Porcupine's key-value logs carry the key in its own field; it becomes Jepsen's
/// independent `[key value]`, checked key by key.
#[test]
fn a_separate_key_field_is_folded_into_the_value() {
    let text = r#"
{:process 0, :type :invoke, :f :write, :key "x", :value 1}
{:process 1, :type :invoke, :f :write, :key "y", :value 2}
{:process 0, :type :ok, :f :write, :key "x", :value 1}
{:process 1, :type :ok, :f :write, :key "y", :value 2}
{:process 2, :type :invoke, :f :read, :key "x", :value nil}
{:process 2, :type :ok, :f :read, :key "x", :value 1}
"#;
    let read = parse_any(text).unwrap();
    assert_eq!(read.history.ops[0].value, serde_json::json!(["x", 1]));
    assert!(linearizable(text, ModelKind::Kv));
    let wrong = text.replace(
        r#"{:process 2, :type :ok, :f :read, :key "x", :value 1}"#,
        r#"{:process 2, :type :ok, :f :read, :key "x", :value 2}"#,
    );
    assert!(!linearizable(&wrong, ModelKind::Kv));
}

#[test]
fn malformed_edn_is_an_error_naming_line_and_column() {
    let text = "{:type :invoke, :f :write, :value 1, :process 0}\n{:type :ok, :f :write, :value #{1 1}, :process 0}\n";
    match parse_any(text) {
        Err(ParseError::Edn {
            line,
            column,
            problem,
        }) => {
            assert_eq!(line, 2, "{problem}");
            assert!((30..=40).contains(&column), "{column}: {problem}");
        }
        other => panic!("{other:?}"),
    }
    let unclosed = "[{:type :invoke, :f :write, :value 1, :process 0}\n {:type :ok";
    assert!(matches!(
        parse_any(unclosed),
        Err(ParseError::Edn { line: 2, .. })
    ));
    let not_a_map = "{:type :invoke, :f :write, :value 1, :process 0}\n[1 2]\n";
    assert!(matches!(
        parse_any(not_a_map),
        Err(ParseError::Edn { .. } | ParseError::Structure { .. })
    ));
    let no_process = "{:type :invoke, :f :write, :value 1}\n";
    assert!(matches!(
        parse_any(no_process),
        Err(ParseError::Field {
            field: "process",
            ..
        })
    ));
    let bad_type = "{:type :maybe, :f :write, :value 1, :process 0}\n";
    assert!(matches!(
        parse_any(bad_type),
        Err(ParseError::Field { field: "type", .. })
    ));
    let bad_log_value = "0\t:invoke\t:write\t[1 2\n";
    assert!(matches!(
        parse_any(bad_log_value),
        Err(ParseError::Edn { line: 1, .. })
    ));
}

/// JSON lines are told apart from EDN and read as before.
#[test]
fn json_lines_still_read_as_json_lines() {
    let text = "{\"type\":\"invoke\",\"f\":\"write\",\"value\":1,\"process\":0,\"time\":1}\n{\"type\":\"ok\",\"f\":\"write\",\"value\":1,\"process\":0,\"time\":2}\n";
    assert_eq!(Format::detect(text), Format::JsonLines);
    assert_eq!(parse_any(text).unwrap().history.ops.len(), 2);
    let spaced = text.replace("{\"", "{ \"");
    assert_eq!(Format::detect(&spaced), Format::JsonLines);
    assert_eq!(parse_any(&spaced).unwrap().history.ops.len(), 2);
}

/// Porcupine's key-value test log shape (`:key` beside `:value`, get/put/append) under
/// the `kv-append` model, with a non-linearizable append order caught.
#[test]
fn porcupine_key_value_logs_check_under_kv_append() {
    let text = r#"
{:process 0, :type :invoke, :f :put, :key "1", :value "x"}
{:process 0, :type :ok, :f :put, :key "1", :value "x"}
{:process 1, :type :invoke, :f :append, :key "1", :value "y"}
{:process 2, :type :invoke, :f :append, :key "1", :value "z"}
{:process 1, :type :ok, :f :append, :key "1", :value "y"}
{:process 2, :type :ok, :f :append, :key "1", :value "z"}
{:process 3, :type :invoke, :f :get, :key "1", :value nil}
{:process 3, :type :ok, :f :get, :key "1", :value "xzy"}
{:process 4, :type :invoke, :f :get, :key "2", :value nil}
{:process 4, :type :ok, :f :get, :key "2", :value ""}
"#;
    assert!(linearizable(text, ModelKind::KvAppend));
    let disagreeing = format!(
        "{text}{}",
        r#"{:process 5, :type :invoke, :f :get, :key "1", :value nil}
{:process 5, :type :ok, :f :get, :key "1", :value "xyz"}
"#
    );
    assert!(!linearizable(&disagreeing, ModelKind::KvAppend));
}

/// One hand-written EDN history per model, each linearizable, and one variant of each
/// that is not: every model reads Jepsen's shapes.
#[test]
fn every_model_reads_edn() {
    let cases: [(ModelKind, &str, &str, &str); 9] = [
        (
            ModelKind::Register,
            "{:type :invoke, :f :write, :value 3, :process 0}\n{:type :ok, :f :write, :value 3, :process 0}\n{:type :invoke, :f :read, :value nil, :process 1}\n{:type :ok, :f :read, :value 3, :process 1}\n",
            ":ok, :f :read, :value 3",
            ":ok, :f :read, :value 4",
        ),
        (
            ModelKind::Kv,
            "{:type :invoke, :f :write, :value [:k 1], :process 0}\n{:type :ok, :f :write, :value [:k 1], :process 0}\n{:type :invoke, :f :read, :value [:k nil], :process 1}\n{:type :ok, :f :read, :value [:k 1], :process 1}\n",
            ":ok, :f :read, :value [:k 1]",
            ":ok, :f :read, :value [:k 2]",
        ),
        (
            ModelKind::Multi,
            "{:type :invoke, :f :txn, :value [[:w :a 1] [:w :b 1]], :process 0}\n{:type :ok, :f :txn, :value [[:w :a 1] [:w :b 1]], :process 0}\n{:type :invoke, :f :txn, :value [[:r :a nil] [:r :b nil]], :process 1}\n{:type :ok, :f :txn, :value [[:r :a 1] [:r :b 1]], :process 1}\n",
            "[[:r :a 1] [:r :b 1]]",
            "[[:r :a 1] [:r :b nil]]",
        ),
        (
            ModelKind::KvAppend,
            "{:type :invoke, :f :append, :key 1, :value \"x\", :process 0}\n{:type :ok, :f :append, :key 1, :value \"x\", :process 0}\n{:type :invoke, :f :get, :key 1, :value nil, :process 1}\n{:type :ok, :f :get, :key 1, :value \"x\", :process 1}\n",
            ":ok, :f :get, :key 1, :value \"x\"",
            ":ok, :f :get, :key 1, :value \"xx\"",
        ),
        (
            ModelKind::Mutex,
            "{:type :invoke, :f :acquire, :value nil, :process 0}\n{:type :ok, :f :acquire, :value nil, :process 0}\n{:type :invoke, :f :release, :value nil, :process 0}\n{:type :ok, :f :release, :value nil, :process 0}\n{:type :invoke, :f :acquire, :value nil, :process 1}\n{:type :ok, :f :acquire, :value nil, :process 1}\n",
            "{:type :invoke, :f :release, :value nil, :process 0}\n{:type :ok, :f :release, :value nil, :process 0}\n",
            "",
        ),
        (
            ModelKind::Set,
            "{:type :invoke, :f :add, :value 1, :process 0}\n{:type :ok, :f :add, :value 1, :process 0}\n{:type :invoke, :f :read, :value nil, :process 1}\n{:type :ok, :f :read, :value #{1}, :process 1}\n",
            ":value #{1}",
            ":value #{}",
        ),
        (
            ModelKind::FifoQueue,
            "{:type :invoke, :f :enqueue, :value 1, :process 0}\n{:type :ok, :f :enqueue, :value 1, :process 0}\n{:type :invoke, :f :dequeue, :value nil, :process 1}\n{:type :ok, :f :dequeue, :value 1, :process 1}\n",
            ":ok, :f :dequeue, :value 1",
            ":ok, :f :dequeue, :value 2",
        ),
        (
            ModelKind::UnorderedQueue,
            "{:type :invoke, :f :enqueue, :value 1, :process 0}\n{:type :ok, :f :enqueue, :value 1, :process 0}\n{:type :invoke, :f :dequeue, :value nil, :process 1}\n{:type :ok, :f :dequeue, :value 1, :process 1}\n",
            ":ok, :f :dequeue, :value 1",
            ":ok, :f :dequeue, :value nil",
        ),
        (
            ModelKind::LeadershipExclusive,
            "{:type :invoke, :f :elected, :value [\"a\" 1], :process 0}\n{:type :ok, :f :elected, :value [\"a\" 1], :process 0}\n{:type :invoke, :f :read-leader, :value nil, :process 1}\n{:type :ok, :f :read-leader, :value [\"a\" 1], :process 1}\n",
            ":ok, :f :read-leader, :value [\"a\" 1]",
            ":ok, :f :read-leader, :value [\"b\" 1]",
        ),
    ];
    for (model, text, good, bad) in cases {
        assert!(text.contains(good), "{model}: the test's own text");
        assert!(linearizable(text, model), "{model}:\n{text}");
        let broken = text.replace(good, bad);
        assert!(!linearizable(&broken, model), "{model}:\n{broken}");
    }
}
