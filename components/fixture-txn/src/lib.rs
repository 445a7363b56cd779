//! A transaction function whose arguments (text: a verb and its paths) pick what it does,
//! so one component covers every case the host must handle:
//!
//! - `count PATH`: increments the decimal counter at PATH (creating it at 1). Its data
//!   also carries the time and a `HashMap`'s iteration order, which are the same on every
//!   run only because the host fixes the clocks and seeds the random source.
//! - `copy FROM TO`: writes FROM's data to TO, after spinning ~10^8 steps, so a writer
//!   can change FROM while it runs (a read that goes stale: the host runs it again).
//! - `trap`, `loop`, `bad-ops`: panics, never returns, returns an operation on a path
//!   that is not absolute.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use ballot_guest::{CreateMode, Op, TxnFn, snapshot};

struct Fixture;

/// Sets `path` to `data`: a conditional set if it exists (so a concurrent change
/// conflicts), else a create.
fn put(path: &str, data: Vec<u8>) -> Op {
    match snapshot::get(path) {
        Ok((_, stat)) => Op::set(path, data, Some(stat.data_version)),
        Err(_) => Op::create(path, data, CreateMode::PERSISTENT),
    }
}

impl TxnFn for Fixture {
    fn apply(args: Vec<u8>) -> Result<Vec<Op>, String> {
        let text = String::from_utf8(args).map_err(|e| format!("arguments: {e}"))?;
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            ["count", path] => {
                let count = match snapshot::get(path) {
                    Ok((data, _)) => String::from_utf8_lossy(&data)
                        .split('|')
                        .next()
                        .and_then(|n| n.parse::<u64>().ok())
                        .ok_or("the counter is not a number")?,
                    Err(_) => 0,
                };
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                let order: HashMap<u32, u32> = (0..16).map(|i| (i, i * i)).collect();
                let order: Vec<String> = order.keys().map(|k| k.to_string()).collect();
                let data = format!("{}|{now}|{}", count + 1, order.join(","));
                Ok(vec![put(path, data.into_bytes())])
            }
            ["copy", from, to] => {
                let (data, _) = snapshot::get(from).map_err(|e| format!("{from}: {e:?}"))?;
                let mut x = 1u64;
                for i in 0..100_000_000u64 {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
                }
                std::hint::black_box(x);
                Ok(vec![put(to, data)])
            }
            ["trap"] => panic!("the fixture traps on purpose"),
            ["loop"] => loop {
                std::hint::black_box(());
            },
            ["bad-ops"] => Ok(vec![Op::create(
                "not/absolute",
                Vec::new(),
                CreateMode::PERSISTENT,
            )]),
            _ => Err(format!("unknown arguments {text:?}")),
        }
    }
}

ballot_guest::export_txn_fn!(Fixture);
