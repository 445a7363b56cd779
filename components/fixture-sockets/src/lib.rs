//! Opens a TCP connection when it wins, so the component imports `wasi:sockets`. The
//! host links the interface with every use denied: the connect fails with permission
//! denied, and the component refuses its win with that error.

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
