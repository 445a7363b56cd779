//! An actor: one instance of a deployed component, run by one tokio task that owns its
//! wasmtime `Store` and is the only one to call into it. Everything reaches it through
//! its bounded mailbox, in the order the store made it durable. It runs until its fence
//! is thrown or it crashes; its supervisor decides what comes next.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use wasmtime::Store;

use crate::host_impl::{HostState, to_wit_event};
use ballot_check::models::LeadershipCall;
use ballot_core::command::Command;
use ballot_core::election::{Callback, CandidateId, Recipient};
use ballot_core::namespace::{Data, SessionId, WatchEvent, WatcherId};
use ballot_store::Hooks;
use ballot_store::embedded::OnApplied;

use super::bindings::{candidate::Candidate, observer::Observer};
use super::deploy::Role;
use super::sandbox::{self, Fence, Interrupted, Revocation};
use super::swap::{self, SwapOutcome, SwapReport, SwapRequest};
use super::{Delivered, Shared, Standing, TimelineEvent};

/// What an actor is told.
#[derive(Debug)]
pub(crate) enum Message {
    /// An election callback.
    Notify(Callback),
    /// One of its watches fired.
    Event(WatchEvent),
}

/// The instance, by world.
pub(crate) enum Guest {
    Candidate(Candidate),
    Observer(Observer),
}

/// One instance of a deployment with everything that identifies it to the host. A
/// restart makes a new one: new store, new session, new ballot.
pub(crate) struct Incarnation {
    pub(crate) store: Store<HostState>,
    pub(crate) guest: Guest,
    pub(crate) mailbox: mpsc::Receiver<Message>,
    pub(crate) fence: Arc<Fence>,
    pub(crate) recipient: Recipient,
    pub(crate) session: SessionId,
    pub(crate) watcher: WatcherId,
    pub(crate) candidate: Option<CandidateId>,
    /// Prepared instances to switch to (hot-swaps), and the sender for them.
    pub(crate) swaps: mpsc::Receiver<SwapRequest>,
    pub(crate) swap_sender: mpsc::Sender<SwapRequest>,
    /// Wins its `on-winning-election` refused in a row (the re-vote backoff grows with it).
    pub(crate) refusals: u32,
}

/// The first wait before a candidate whose win was refused stands again.
pub(crate) const FIRST_REVOTE: Duration = Duration::from_millis(250);

/// The longest wait before a candidate whose win was refused stands again.
pub(crate) const LONGEST_REVOTE: Duration = Duration::from_secs(30);

/// How long a candidate whose win was refused `refusals` times in a row waits before it
/// stands again: doubling from [`FIRST_REVOTE`] up to [`LONGEST_REVOTE`].
fn revote_backoff(refusals: u32) -> Duration {
    FIRST_REVOTE
        .saturating_mul(1 << refusals.saturating_sub(1).min(16))
        .min(LONGEST_REVOTE)
}

/// When the host votes again for a candidate whose win was refused, if it is waiting to.
fn revote_due(me: &Incarnation) -> Option<tokio::time::Instant> {
    match me.store.data().identity.standing() {
        Standing::WinRefused { votes_again_at, .. } => Some(votes_again_at),
        _ => None,
    }
}

/// Casts the ballot again (with the deployment's ballot data) for a candidate whose win
/// was refused. A refused vote (its instance revoked meanwhile) leaves it out; the
/// revocation ends the instance anyway.
async fn stand_again(shared: &Arc<Shared>, me: &mut Incarnation) -> wasmtime::Result<()> {
    let identity = &me.store.data().identity;
    let Some(candidate) = me.candidate else {
        return Ok(());
    };
    let command = Command::Vote {
        candidate,
        data: Some(Data::from(identity.about.ballot_data.clone())),
    };
    let hooks = me.store.data().fenced().hooks();
    let voted = shared.propose(command, hooks).await;
    let identity = &me.store.data().identity;
    if matches!(voted, Ok(Ok(_))) {
        identity.set_standing(Standing::In);
        shared.note(&identity.name, TimelineEvent::StandsAgain(me.refusals));
    } else {
        // Try again after the same wait rather than spin.
        if let Standing::WinRefused {
            reason, attempts, ..
        } = identity.standing()
        {
            identity.set_standing(Standing::WinRefused {
                reason,
                attempts,
                votes_again_at: tokio::time::Instant::now() + revote_backoff(attempts),
            });
        }
    }
    Ok(())
}

/// How an actor runs.
#[derive(Debug, Clone)]
pub(crate) struct ActorConfig {
    /// Its role, to tell a swapped-in instance where it stands.
    pub role: Role,
    /// The session TTL; heartbeats go out every third of it while the actor is idle.
    pub ttl: Duration,
    /// How often to call `tick`, if at all.
    pub tick: Option<Duration>,
    /// The deadline of each callback.
    pub deadline: Duration,
    /// A leader silent (no import call) for this long is deposed as stalled.
    pub max_silence: Option<Duration>,
}

/// Why an instance stopped running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Its fence was thrown (by the host, for a reason outside the guest).
    Revoked(Revocation),
    /// Its own doing: a trap, a deadline, a memory limit.
    Crashed(String),
}

/// The actor's loop: callbacks in mailbox order, heartbeats while idle, ticks if asked,
/// until the fence is thrown or a callback fails.
pub(crate) async fn run(shared: &Arc<Shared>, me: &mut Incarnation, config: &ActorConfig) -> Exit {
    let session = me.session;
    // The session was opened (or last renewed) just now: the first heartbeat is due a
    // third of the TTL from here, not at once (which would put a durable commit between
    // a fresh instance and its first callback).
    let mut heartbeat =
        tokio::time::interval_at(tokio::time::Instant::now() + config.ttl / 3, config.ttl / 3);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is due one period from now. (Awaiting an interval's immediate
    // first tick instead costs up to a millisecond: tokio's timer rounds deadlines up to
    // its millisecond resolution, and that millisecond sat between every fresh instance
    // and its first callback.)
    let period = config.tick.unwrap_or(Duration::from_secs(3600));
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let fence = me.fence.clone();
    // When this instance last won, while it may still lead: its silence counts from the
    // later of that and its last import call.
    let mut won_at: Option<std::time::Instant> = None;
    loop {
        if let Some(why) = fence.reason() {
            return Exit::Revoked(why.clone());
        }
        let revote_at = revote_due(me);
        let silence_due = silence_due(me, config, won_at);
        let outcome = tokio::select! {
            biased;
            () = fence.revoked() => continue,
            Some(request) = me.swaps.recv() => activate(shared, me, request, config).await,
            message = me.mailbox.recv() => match message {
                // Every sender is gone: the runtime itself is going away.
                None => return Exit::Revoked(Revocation::Undeployed),
                Some(message) => {
                    let wins = matches!(message, Message::Notify(Callback::WinningElection { .. }));
                    let handled = handle(shared, me, message, config.deadline).await;
                    if wins && handled.is_ok() {
                        won_at = Some(std::time::Instant::now());
                    }
                    handled
                }
            },
            _ = heartbeat.tick() => {
                let beat = shared.store.propose(Command::Heartbeat { session }).await;
                if !matches!(beat, Ok(Ok(_))) {
                    fence.revoke(Revocation::SessionEnded);
                }
                Ok(())
            }
            () = tokio::time::sleep_until(revote_at.unwrap_or_else(tokio::time::Instant::now)), if revote_at.is_some() => {
                stand_again(shared, me).await
            }
            () = tokio::time::sleep_until(silence_due.unwrap_or_else(tokio::time::Instant::now)), if silence_due.is_some() => {
                if !still_leads(shared, me.candidate).await {
                    won_at = None;
                } else if silence_due == self::silence_due(me, config, won_at) {
                    // No import call moved the deadline while the store was asked.
                    let silence = config.max_silence.unwrap_or_default();
                    fence.revoke(Revocation::Stalled(silence));
                }
                Ok(())
            }
            _ = ticker.tick(), if config.tick.is_some() => {
                match &me.guest {
                    Guest::Candidate(candidate) => {
                        sandbox::arm(&mut me.store, config.deadline);
                        let done = sandbox::within(config.deadline, candidate.call_tick(&mut me.store)).await;
                        sandbox::disarm(&mut me.store);
                        done
                    }
                    Guest::Observer(_) => Ok(()),
                }
            }
        };
        if let Err(error) = outcome {
            return match error.downcast_ref::<Interrupted>() {
                Some(Interrupted::Revoked(why)) => Exit::Revoked(why.clone()),
                // A callback cut short by a revocation that was thrown while it waited
                // in a host call: the revocation, not the guest, ended it.
                _ if fence.is_revoked() => {
                    Exit::Revoked(fence.reason().cloned().unwrap_or(Revocation::Undeployed))
                }
                _ => Exit::Crashed(crash_reason(&me.store, &error)),
            };
        }
    }
}

/// When a leader's max silence runs out: its window starts at the later of its win and
/// its last import call. `None` when it has no max silence or has not won.
fn silence_due(
    me: &Incarnation,
    config: &ActorConfig,
    won_at: Option<std::time::Instant>,
) -> Option<tokio::time::Instant> {
    let max_silence = config.max_silence?;
    let won = won_at?;
    let since = me
        .store
        .data()
        .imports
        .last
        .map_or(won, |last| last.max(won));
    Some(tokio::time::Instant::from_std(since + max_silence))
}

/// Whether this instance's candidate leads now, as the store says (it may have resigned
/// by itself, which ends its silence check rather than deposing it).
async fn still_leads(shared: &Arc<Shared>, candidate: Option<CandidateId>) -> bool {
    let Some(candidate) = candidate else {
        return false;
    };
    shared
        .store
        .inspect(move |elections, _| elections.leading_term(candidate).is_some())
        .await
        .unwrap_or(false)
}

/// Switches to a swapped-in instance between two callbacks: the old instance is dropped
/// (its in-flight callback is over: this runs only between callbacks), the new one is
/// activated on the same mailbox, fence and identity, and told where it stands.
async fn activate(
    shared: &Arc<Shared>,
    me: &mut Incarnation,
    request: SwapRequest,
    config: &ActorConfig,
) -> wasmtime::Result<()> {
    let SwapRequest {
        mut store,
        guest,
        install,
        reply,
    } = request;
    let old_last_import = me.store.data().imports.last;
    store.data_mut().active = true;
    let old_store = std::mem::replace(&mut me.store, store);
    let old_guest = std::mem::replace(&mut me.guest, guest);
    // The old instance never runs again. Freeing it (returning its memory to the pool
    // takes a millisecond or more) is left to a blocking thread, off the blackout.
    tokio::task::spawn_blocking(move || drop((old_guest, old_store)));
    install();
    let told = swap::where_it_stands(shared, &config.role, me.session);
    let first_callback = std::time::Instant::now();
    let (name, term) = match &told {
        Some(Message::Notify(Callback::WinningElection { term })) => {
            (Some("on-winning-election"), Some(*term))
        }
        Some(Message::Notify(Callback::LosingElection { .. })) => {
            (Some("on-losing-election"), None)
        }
        Some(Message::Notify(Callback::NewLeader { .. })) => (Some("on-new-leader"), None),
        _ => (None, None),
    };
    let name = name.map(str::to_string);
    let result = match told {
        Some(message) => handle(shared, me, message, config.deadline).await,
        None => Ok(()),
    };
    let report = SwapReport {
        term,
        told: name,
        old_last_import,
        first_callback,
        new_first_import: me.store.data().imports.first,
        outcome: match &result {
            Ok(()) => SwapOutcome::Activated,
            Err(error) => SwapOutcome::TrappedAfterActivation(crash_reason(&me.store, error)),
        },
    };
    let _ = reply.send(report);
    result
}

/// Why a callback failed: the host's description, and the guest's last words on stderr
/// (a Rust panic's message) when it left any.
fn crash_reason(store: &Store<HostState>, error: &wasmtime::Error) -> String {
    let why = sandbox::describe(error);
    match store.data().last_words() {
        Some(words) => format!("{why} ({words})"),
        None => why,
    }
}

/// Runs one message's callback under the deadline. An error ends the instance.
async fn handle(
    shared: &Arc<Shared>,
    me: &mut Incarnation,
    message: Message,
    deadline: Duration,
) -> wasmtime::Result<()> {
    sandbox::arm(&mut me.store, deadline);
    let result = sandbox::within(deadline, callback(shared, me, message)).await;
    sandbox::disarm(&mut me.store);
    result
}

async fn callback(
    shared: &Arc<Shared>,
    me: &mut Incarnation,
    message: Message,
) -> wasmtime::Result<()> {
    let store = &mut me.store;
    let name = store.data().identity.name.clone();
    let process = store.data().identity.process;
    match (&me.guest, message) {
        (Guest::Candidate(c), Message::Notify(Callback::WinningElection { term })) => {
            shared.note(
                &name,
                TimelineEvent::Callback(Delivered::WinningElection { term: term.0 }),
            );
            me.fence.lead(term.0);
            let token = shared.recorder.leadership(
                super::recorded_process(process, super::Lane::Election),
                LeadershipCall::Elected,
                store.data().identity.election.as_str(),
                &name,
                term.0,
            );
            match c.call_on_winning_election(&mut *store, term.0).await? {
                Ok(()) => {
                    let id = me
                        .candidate
                        .expect("a candidate deployment has a candidate");
                    let check = store.data().fenced();
                    // The ack's line goes into the timeline once the ack is durable and
                    // published, before what it causes is delivered: it follows the state
                    // readers see and precedes every reaction.
                    let (me_shared, who) = (shared.clone(), name.clone());
                    let note: OnApplied = Box::new(move |applied| {
                        if applied.is_ok() {
                            me_shared.note(&who, TimelineEvent::Acked(term.0));
                        }
                    });
                    let hooks = Hooks {
                        admit: Some(check.admit()),
                        applied: None,
                        durable: Some(note),
                    };
                    let command = Command::Acknowledge {
                        candidate: id,
                        term: Some(term),
                        data: None,
                    };
                    let acked = shared.propose(command, hooks).await;
                    if matches!(acked, Ok(Ok(_))) {
                        token.ok();
                        me.refusals = 0;
                    } else {
                        token.fail();
                    }
                }
                Err(reason) => {
                    token.fail();
                    shared.note(&name, TimelineEvent::WinRefused(reason.clone()));
                    let id = me
                        .candidate
                        .expect("a candidate deployment has a candidate");
                    let hooks = store.data().fenced().hooks();
                    let resigned = shared
                        .propose(Command::Resign { candidate: id }, hooks)
                        .await;
                    if matches!(resigned, Ok(Ok(_))) {
                        // Out of the election, not for good: it stands again after a
                        // backoff, so a leader that could not start (a dependency down, a
                        // bad config read) is retried rather than silently left out.
                        me.refusals = me.refusals.saturating_add(1);
                        store.data().identity.set_standing(Standing::WinRefused {
                            reason,
                            attempts: me.refusals,
                            votes_again_at: tokio::time::Instant::now()
                                + revote_backoff(me.refusals),
                        });
                    }
                }
            }
        }
        (Guest::Candidate(c), Message::Notify(Callback::LosingElection { leader })) => {
            shared.note(
                &name,
                TimelineEvent::Callback(Delivered::LosingElection {
                    leader_term: leader.term.0,
                }),
            );
            c.call_on_losing_election(&mut *store, &shared.wit_leader(&leader))
                .await?;
        }
        (Guest::Candidate(c), Message::Notify(Callback::NewLeader { leader })) => {
            shared.note(
                &name,
                TimelineEvent::Callback(Delivered::NewLeader {
                    term: leader.term.0,
                }),
            );
            c.call_on_new_leader(&mut *store, &shared.wit_leader(&leader))
                .await?;
        }
        (Guest::Candidate(_), Message::Notify(Callback::Deposed { term, .. })) => {
            shared.note(&name, TimelineEvent::Deposed(term.0));
        }
        (Guest::Candidate(c), Message::Event(event)) => {
            c.call_on_event(&mut *store, &to_wit_event(&event)).await?;
        }
        (Guest::Observer(o), Message::Notify(Callback::NewLeader { leader })) => {
            shared.note(
                &name,
                TimelineEvent::Callback(Delivered::NewLeader {
                    term: leader.term.0,
                }),
            );
            o.call_on_new_leader(&mut *store, &shared.wit_leader(&leader))
                .await?;
        }
        (Guest::Observer(o), Message::Notify(Callback::LeadersDeath { term })) => {
            shared.note(
                &name,
                TimelineEvent::Callback(Delivered::LeadersDeath { term: term.0 }),
            );
            o.call_on_leaders_death(&mut *store, term.0).await?;
        }
        (_, message) => {
            tracing::debug!(deployment = %name, ?message, "not for this world; dropped");
        }
    }
    Ok(())
}
