use ballot_guest::{Candidate, CreateMode, Error, Leader, Op, Term, TermGuard, cbor, deployment, log, namespace};
use serde::Serialize;

#[derive(Serialize)]
struct Owner {
    name: String,
    term: Term,
}

#[derive(Default)]
struct Worker {
    leading: Option<Term>,
}

impl Candidate for Worker {
    fn on_winning_election(&mut self, term: Term) -> Result<(), String> {
        let me = deployment::whoami(); // its name, election, ballot data, host, id
        let root = format!("/{}", me.election);
        // The parent may exist already.
        match namespace::create(&root, b"", CreateMode::PERSISTENT) {
            Ok(_) | Err(Error::NodeExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let owner = format!("{root}/owner");
        let data = cbor::to_vec(&Owner { name: me.name.clone(), term })?;
        let op = match namespace::get(&owner) {
            Ok(node) => Op::set(&owner, data, Some(node.stat.data_version)),
            Err(Error::NoNode(_)) => Op::create(&owner, data, CreateMode::PERSISTENT),
            Err(e) => return Err(e.into()),
        };
        // Refused with not-leader, and nothing written, unless we still hold `term`.
        namespace::multi(&[op], Some(&TermGuard::new(&me.election, term)))?;
        log::info(&format!("{} leads {} under term {term}", me.name, me.election));
        self.leading = Some(term); // Ok(()) makes the host write our ack
        Ok(())
    }

    fn on_losing_election(&mut self, leader: Leader) {
        log::info(&format!("{} leads under term {}", leader.who(), leader.term));
        self.leading = None;
    }

    // on_new_leader, on_event and tick have default no-op bodies.
}

ballot_guest::export_candidate!(Worker);
