//! `ballot:election/namespace`: reads come from the last durable state; writes go through
//! the store's writer and return once durable. Every call is admitted first, before its
//! arguments are parsed (fence, quotas; see `admission`), and every write is checked
//! again by the writer in the step that applies it.

use crate::bindings::{namespace_api, wit};
use ballot_core::command::{Command, Outcome};
use ballot_core::election::{ElectionName, Elections};
use ballot_core::namespace::{self as ns, Data, Guard, Revision};

use super::HostState;
use super::convert::{self, refusal_to_wit, to_wit_error, to_wit_result, to_wit_stat};
use crate::{Lane, recorded_process};
use ballot_check::models::LeadershipCall;

type Answer<T> = wasmtime::Result<Result<T, wit::Error>>;

impl HostState {
    /// Commits `ops` (under `guard`) for this actor, delivering what the commit causes to
    /// whoever it concerns. The caller has admitted the call ([`HostState::admit`]) before
    /// parsing anything, so a revoked instance hears `not-leader` and a malformed call
    /// still pays its quota. A storage failure traps: the guest cannot act on it.
    pub(crate) async fn commit_ops(
        &mut self,
        ops: Vec<ns::Op>,
        guard: Option<Guard>,
    ) -> Answer<Vec<ns::OpResult>> {
        if let Err(refused) = self.admit_write(&ops) {
            return Ok(Err(refused));
        }
        let check = self.fenced();
        let recorded = match &guard {
            Some(Guard::HoldsTerm { term, ballots, .. }) => Some(
                self.shared.recorder.leadership(
                    recorded_process(self.identity.process, Lane::Commit),
                    LeadershipCall::Commit,
                    // The guard's election: `<root>/<election>/ballots`.
                    ballots
                        .parent()
                        .as_ref()
                        .map_or("", |election| election.name()),
                    &self.identity.name,
                    term.0,
                ),
            ),
            None => None,
        };
        let command = Command::Multi {
            guard,
            ops,
            quota: Some(check.quota()),
        };
        let outcome = match self.shared.propose(command, check.hooks()).await? {
            Ok(Outcome::Committed(committed)) => Ok(committed.results),
            Ok(other) => {
                return Err(wasmtime::Error::msg(format!(
                    "a multi committed as {other:?}"
                )));
            }
            Err(refused) => Err(refusal_to_wit(refused)),
        };
        if let Some(token) = recorded {
            match &outcome {
                Ok(_) => token.ok(),
                Err(_) => token.fail(),
            }
        }
        Ok(outcome)
    }

    /// Admits a read: the fence and the call quota.
    fn admit_read(&mut self, raw: &str) -> Result<ns::NodePath, wit::Error> {
        self.admit()?;
        convert::path(raw)
    }
}

impl namespace_api::Host for HostState {
    async fn create(
        &mut self,
        path: String,
        data: Vec<u8>,
        mode: wit::CreateMode,
    ) -> Answer<String> {
        if let Err(refused) = self.admit() {
            return Ok(Err(refused));
        }
        let path = match convert::path(&path) {
            Ok(path) => path,
            Err(error) => return Ok(Err(error)),
        };
        let op = ns::Op::Create {
            path,
            data: Data::from(data),
            mode: convert::create_mode(mode, self.identity.session),
        };
        Ok(self
            .commit_ops(vec![op], None)
            .await?
            .map(|mut results| match results.remove(0) {
                ns::OpResult::Created { path, .. } => path.to_string(),
                other => unreachable!("a create returned {other:?}"),
            }))
    }

    async fn get(&mut self, path: String) -> Answer<wit::Node> {
        let path = match self.admit_read(&path) {
            Ok(path) => path,
            Err(error) => return Ok(Err(error)),
        };
        let state = self.shared.store.published();
        Ok(state
            .get(&path)
            .map(|(data, stat)| wit::Node {
                path: path.to_string(),
                data: data.as_bytes().to_vec(),
                stat: to_wit_stat(stat),
            })
            .map_err(to_wit_error))
    }

    async fn children(&mut self, path: String) -> Answer<Vec<String>> {
        let path = match self.admit_read(&path) {
            Ok(path) => path,
            Err(error) => return Ok(Err(error)),
        };
        Ok(self
            .shared
            .store
            .published()
            .children(&path)
            .map_err(to_wit_error))
    }

    async fn set(
        &mut self,
        path: String,
        data: Vec<u8>,
        expected: Option<u64>,
    ) -> Answer<wit::Stat> {
        if let Err(refused) = self.admit() {
            return Ok(Err(refused));
        }
        let path = match convert::path(&path) {
            Ok(path) => path,
            Err(error) => return Ok(Err(error)),
        };
        let op = ns::Op::Set {
            path,
            data: Data::from(data),
            expected,
        };
        Ok(self
            .commit_ops(vec![op], None)
            .await?
            .map(|mut results| match results.remove(0) {
                ns::OpResult::Set { stat } => to_wit_stat(stat),
                other => unreachable!("a set returned {other:?}"),
            }))
    }

    async fn delete(&mut self, path: String, expected: Option<u64>) -> Answer<()> {
        if let Err(refused) = self.admit() {
            return Ok(Err(refused));
        }
        let path = match convert::path(&path) {
            Ok(path) => path,
            Err(error) => return Ok(Err(error)),
        };
        let op = ns::Op::Delete { path, expected };
        Ok(self.commit_ops(vec![op], None).await?.map(|_| ()))
    }

    async fn watch(&mut self, path: String, kind: wit::WatchKind) -> Answer<()> {
        let path = match self.admit_read(&path) {
            Ok(path) => path,
            Err(error) => return Ok(Err(error)),
        };
        let watcher = self.identity.watcher;
        let kind = convert::watch_kind(kind);
        let check = self.fenced();
        let most = self.quota.quotas.watches;
        let command = Command::Watch {
            watcher,
            path,
            kind,
            most,
        };
        let outcome = self
            .shared
            .store
            .propose_with(command, check.hooks())
            .await?
            .map(drop)
            .map_err(refusal_to_wit);
        Ok(outcome)
    }

    async fn multi(
        &mut self,
        ops: Vec<wit::Op>,
        guard: Option<wit::TermGuard>,
    ) -> Answer<Vec<wit::OpResult>> {
        if let Err(refused) = self.admit() {
            return Ok(Err(refused));
        }
        let session = self.identity.session;
        let ops: Result<Vec<ns::Op>, wit::Error> =
            ops.into_iter().map(|op| convert::op(op, session)).collect();
        let ops = match ops {
            Ok(ops) => ops,
            Err(error) => return Ok(Err(error)),
        };
        let guard = match guard {
            None => None,
            Some(guard) => match ElectionName::parse(&guard.election) {
                Ok(election) => Some(Elections::term_guard(
                    &election,
                    session,
                    Revision(guard.term),
                )),
                Err(error) => return Ok(Err(to_wit_error(error))),
            },
        };
        Ok(self
            .commit_ops(ops, guard)
            .await?
            .map(|results| results.into_iter().map(to_wit_result).collect()))
    }
}
