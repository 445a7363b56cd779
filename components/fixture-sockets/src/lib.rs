//! Opens a TCP connection when it wins, so the component imports `wasi:sockets`. The
//! host must refuse it at deploy, naming the import.

use ballot_guest::{Candidate, Leader, Term};

#[derive(Default)]
struct Sockets;

impl Candidate for Sockets {
    fn on_winning_election(&mut self, _term: Term) -> Result<(), String> {
        std::net::TcpStream::connect("127.0.0.1:9")
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn on_losing_election(&mut self, _leader: Leader) {}
}

ballot_guest::export_candidate!(Sockets);
