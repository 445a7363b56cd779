//! Writes as fast as it can once it wins, never returning: each unguarded `set` of
//! `/fenced/progress` bumps a counter. When a call is refused it logs
//! `refused: <error>`, tries one last write to `/fenced/after-refusal`, and spins without
//! calling the host. A revoked leader must see its calls refused, change nothing, and be
//! interrupted without its callback ever completing.

use ballot_guest::{Candidate, CreateMode, Leader, Term, log, namespace};

/// Parent of the nodes it writes.
const ROOT: &str = "/fenced";
/// Its progress counter.
const PROGRESS: &str = "/fenced/progress";
/// Written only if a refused leader could still write.
const AFTER_REFUSAL: &str = "/fenced/after-refusal";

#[derive(Default)]
struct FencedWriter;

impl Candidate for FencedWriter {
    fn on_winning_election(&mut self, term: Term) -> Result<(), String> {
        let _ = namespace::create(ROOT, b"", CreateMode::PERSISTENT);
        let _ = namespace::create(PROGRESS, b"0", CreateMode::PERSISTENT);
        log::info(&format!("fenced-writer leads term {term}"));
        let mut count: u64 = 0;
        loop {
            count += 1;
            if let Err(error) = namespace::set(PROGRESS, count.to_string().as_bytes(), None) {
                log::warn(&format!("refused: {error:?}"));
                let _ = namespace::create(AFTER_REFUSAL, b"", CreateMode::PERSISTENT);
                let mut x = count;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
        }
    }

    fn on_losing_election(&mut self, _leader: Leader) {}
}

ballot_guest::export_candidate!(FencedWriter);
