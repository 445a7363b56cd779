//! An actor: one deployed component instance, run by one tokio task that owns its
//! wasmtime `Store` and is the only one to call into it. Everything reaches it through
//! its bounded mailbox, in the order the store made it durable.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use wasmtime::Store;

use crate::election::{Callback, Effects, Elections};
use crate::host_impl::{HostState, to_wit_event, to_wit_leader};
use crate::namespace::WatchEvent;

use super::bindings::{candidate::Candidate, observer::Observer};
use super::{Shared, TimelineEvent};

/// What an actor is told.
#[derive(Debug)]
pub(crate) enum Message {
    /// An election callback.
    Notify(Callback),
    /// One of its watches fired.
    Event(WatchEvent),
    /// Stop after the current callback; answer when stopped.
    Stop(oneshot::Sender<()>),
}

/// The instance, by world.
pub(crate) enum Guest {
    Candidate(Candidate),
    Observer(Observer),
}

/// How an actor runs.
pub(crate) struct ActorConfig {
    /// The session TTL; heartbeats go out every third of it while the actor is responsive.
    pub ttl: Duration,
    /// How often to call `tick`, if at all.
    pub tick: Option<Duration>,
}

/// The actor's loop: callbacks in mailbox order, heartbeats while idle, ticks if asked.
pub(crate) async fn run(
    shared: Arc<Shared>,
    mut store: Store<HostState>,
    guest: Guest,
    mut mailbox: mpsc::Receiver<Message>,
    config: ActorConfig,
) {
    let name = store.data().identity.name.clone();
    let session = store.data().identity.session;
    let mut heartbeat = tokio::time::interval(config.ttl / 3);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticker = tokio::time::interval(config.tick.unwrap_or(Duration::from_secs(3600)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        tokio::select! {
            biased;
            message = mailbox.recv() => match message {
                None => break,
                Some(Message::Stop(done)) => {
                    let _ = done.send(());
                    break;
                }
                Some(message) => {
                    if let Err(trap) = handle(&shared, &mut store, &guest, message).await {
                        tracing::error!(deployment = %name, error = %format!("{trap:#}"), "the component trapped; its session is closed");
                        shared.note(&name, TimelineEvent::Trapped(format!("{trap:#}")));
                        shared.close_session(session).await;
                        break;
                    }
                }
            },
            _ = heartbeat.tick() => {
                let beat = shared.store.execute_async(move |el: &mut Elections, now| el.heartbeat(session, now)).await;
                if !matches!(beat, Ok(Ok(()))) {
                    tracing::warn!(deployment = %name, "the session is gone; the actor stops");
                    break;
                }
            }
            _ = ticker.tick(), if config.tick.is_some() => {
                if let Guest::Candidate(candidate) = &guest
                    && let Err(trap) = candidate.call_tick(&mut store).await {
                        tracing::error!(deployment = %name, error = %format!("{trap:#}"), "tick trapped");
                        shared.close_session(session).await;
                        break;
                    }
            }
        }
    }
}

/// Runs one message's callback. An error is a trap: the instance is poisoned.
async fn handle(
    shared: &Arc<Shared>,
    store: &mut Store<HostState>,
    guest: &Guest,
    message: Message,
) -> wasmtime::Result<()> {
    let name = store.data().identity.name.clone();
    let process = store.data().identity.process;
    let candidate_id = store.data().identity.candidate;
    match (guest, message) {
        (Guest::Candidate(c), Message::Notify(Callback::WinningElection { term })) => {
            shared.note(
                &name,
                TimelineEvent::Callback(format!("on-winning-election(term {term})")),
            );
            let elected = serde_json::json!([name, term.0]);
            let token = shared.recorder.invoke(process, "elected", elected.clone());
            match c.call_on_winning_election(&mut *store, term.0).await? {
                Ok(()) => {
                    let id = candidate_id.expect("a candidate deployment has a candidate");
                    // The ack's line goes into the timeline on the writer thread, right
                    // before what it causes is delivered, so it precedes every reaction.
                    let (me, who) = (shared.clone(), name.clone());
                    let acked = shared
                        .store
                        .execute_ordered(
                            move |el: &mut Elections, now| match el.acknowledge(id, term, None, now)
                            {
                                Ok(effects) => (true, Some(effects)),
                                Err(_) => (false, None),
                            },
                            move |effects: Option<Effects>| {
                                if let Some(effects) = effects {
                                    me.note(&who, TimelineEvent::Acked(term.0));
                                    me.deliver(effects);
                                }
                            },
                        )
                        .await;
                    if matches!(acked, Ok(true)) {
                        token.ok(elected);
                    } else {
                        token.fail(elected);
                    }
                }
                Err(reason) => {
                    token.fail(elected);
                    shared.note(
                        &name,
                        TimelineEvent::Callback(format!(
                            "on-winning-election failed: {reason}; resigning"
                        )),
                    );
                    let id = candidate_id.expect("a candidate deployment has a candidate");
                    let _ = shared
                        .commit(move |el: &mut Elections, now| {
                            ((), el.resign(id, now).unwrap_or_default())
                        })
                        .await;
                }
            }
        }
        (Guest::Candidate(c), Message::Notify(Callback::LosingElection { leader })) => {
            shared.note(
                &name,
                TimelineEvent::Callback(format!("on-losing-election(leader term {})", leader.term)),
            );
            c.call_on_losing_election(&mut *store, &to_wit_leader(&leader))
                .await?;
        }
        (Guest::Candidate(c), Message::Notify(Callback::NewLeader { leader })) => {
            shared.note(
                &name,
                TimelineEvent::Callback(format!("on-new-leader(term {})", leader.term)),
            );
            c.call_on_new_leader(&mut *store, &to_wit_leader(&leader))
                .await?;
        }
        (Guest::Candidate(_), Message::Notify(Callback::Deposed { term })) => {
            shared.note(&name, TimelineEvent::Deposed(term.0));
        }
        (Guest::Candidate(c), Message::Event(event)) => {
            c.call_on_event(&mut *store, &to_wit_event(&event)).await?;
        }
        (Guest::Observer(o), Message::Notify(Callback::NewLeader { leader })) => {
            shared.note(
                &name,
                TimelineEvent::Callback(format!("on-new-leader(term {})", leader.term)),
            );
            o.call_on_new_leader(&mut *store, &to_wit_leader(&leader))
                .await?;
        }
        (Guest::Observer(o), Message::Notify(Callback::LeadersDeath { term })) => {
            shared.note(
                &name,
                TimelineEvent::Callback(format!("on-leaders-death(term {term})")),
            );
            o.call_on_leaders_death(&mut *store, term.0).await?;
        }
        (_, message) => {
            tracing::debug!(deployment = %name, ?message, "not for this world; dropped");
        }
    }
    Ok(())
}
