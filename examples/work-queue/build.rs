//! Embeds the worker component in the program, so `work-queue` runs wherever it is
//! installed (see [`ballot_artifacts::embed`]).

fn main() {
    ballot_artifacts::embed(&["work-queue-worker"], "worker_component.rs");
}
