//! The event stream: one server-sent event per durable state that changed a node, whose
//! id is that state's revision, listing the nodes it changed and the elections whose
//! leader changed. A client that reconnects with `Last-Event-ID` gets every event after
//! that revision, none twice, as long as the host still holds them (the last
//! [`RETAINED`] events since it started); older revisions are answered 410 `compacted`.
//!
//! Events are worked out by diffing successive published states, so a node created and
//! deleted between two of them shows no event (as a ZooKeeper watch would not either),
//! and one event may cover several commits.
//!
//! Slow clients are dropped, never waited for: each stream reads from a bounded
//! broadcast, and one that falls [`BUFFERED`] events behind is ended; its client may
//! reconnect and resume from its last id. Each event is encoded once, when it is
//! published, and every stream sends those same bytes (a stream narrowed by `prefix`
//! encodes again only an event it actually narrows).

use std::collections::{BTreeSet, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use tokio::sync::{broadcast, watch};

use ballot_core::election::{ElectionName, read_leader};
use ballot_core::namespace::{NodeChangeKind, NodePath, State as NsState};

use super::error::{ApiError, ApiResult};
use super::wire::{EventView, LeaderChange, LeaderView, NodeChange, Payload};

/// Events kept for clients that resume.
pub const RETAINED: usize = 10_000;
/// Events a stream may fall behind before it is dropped.
pub const BUFFERED: usize = 1_024;

/// An event as the feed keeps it: what changed, and its JSON, encoded once for every
/// stream that sends it.
#[derive(Debug, PartialEq)]
struct Published {
    view: EventView,
    json: String,
}

impl Published {
    fn new(view: EventView) -> Self {
        let json = serde_json::to_string(&view).expect("an event is always serialisable");
        Published { view, json }
    }

    fn revision(&self) -> u64 {
        self.view.revision
    }
}

/// Where a resuming client picks up: the retained events it missed, and the live ones.
type Resumed = (
    VecDeque<Arc<Published>>,
    broadcast::Receiver<Arc<Published>>,
);

/// The host's event history and its live broadcast.
pub struct Feed {
    inner: Mutex<Retained>,
    live: broadcast::Sender<Arc<Published>>,
}

struct Retained {
    events: VecDeque<Arc<Published>>,
    /// Every event after this revision is in `events` (or yet to come).
    horizon: u64,
}

impl Feed {
    /// A feed whose history starts at `revision` (the state the host started from).
    pub fn new(revision: u64) -> Arc<Self> {
        Arc::new(Feed {
            inner: Mutex::new(Retained {
                events: VecDeque::new(),
                horizon: revision,
            }),
            live: broadcast::channel(BUFFERED).0,
        })
    }

    /// Follows the published states after `initial` (the state the feed was created at)
    /// until the store closes, publishing what each changed.
    /// `on_leaders` hears of each batch of leader changes (for metrics).
    pub async fn follow(
        self: Arc<Self>,
        mut states: watch::Receiver<NsState>,
        initial: NsState,
        mut on_leaders: impl FnMut(&[LeaderChange]) + Send,
    ) {
        let mut previous = initial;
        while states.changed().await.is_ok() {
            let current = states.borrow_and_update().clone();
            if let Some(event) = describe(&previous, &current) {
                on_leaders(&event.leaders);
                self.publish(event);
            }
            previous = current;
        }
    }

    fn publish(&self, event: EventView) {
        // Encoded before the lock: the lock orders events, and is not held for this.
        let event = Arc::new(Published::new(event));
        let mut inner = self.lock();
        inner.events.push_back(event.clone());
        if inner.events.len() > RETAINED
            && let Some(dropped) = inner.events.pop_front()
        {
            inner.horizon = dropped.revision();
        }
        // Sent under the lock, so a resuming client sees each event once: either in the
        // retained copy it took or on the broadcast it subscribed to, never both.
        let _ = self.live.send(event);
    }

    /// The retained events after `since` and a subscription to later ones; `None` if some
    /// event after `since` is no longer retained.
    fn resume(&self, since: Option<u64>) -> Option<Resumed> {
        let inner = self.lock();
        let backlog = match since {
            None => VecDeque::new(),
            Some(since) if since < inner.horizon => return None,
            Some(since) => inner
                .events
                .iter()
                .filter(|event| event.revision() > since)
                .cloned()
                .collect(),
        };
        Some((backlog, self.live.subscribe()))
    }

    /// The oldest revision a client may resume from.
    pub fn horizon(&self) -> u64 {
        self.lock().horizon
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Retained> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What changed from `older` to `newer`, if any node did.
pub fn describe(older: &NsState, newer: &NsState) -> Option<EventView> {
    let mut nodes = Vec::new();
    let mut elections = BTreeSet::new();
    let root = NodePath::parse(ballot_core::election::ELECTIONS_ROOT).expect("a valid path");
    for (path, kind) in older.changes_to(newer) {
        if let Some(name) = election_of(&root, path) {
            elections.insert(name);
        }
        let change = match kind {
            NodeChangeKind::Created => "created",
            NodeChangeKind::DataChanged => "changed",
            NodeChangeKind::ChildrenChanged => "children",
            NodeChangeKind::Deleted => "deleted",
        };
        nodes.push(NodeChange {
            path: path.to_string(),
            change: change.to_string(),
        });
    }
    if nodes.is_empty() {
        return None;
    }
    let leaders = elections
        .into_iter()
        .filter_map(|name| {
            let (before, after) = (read_leader(older, &name), read_leader(newer, &name));
            (before != after).then(|| LeaderChange {
                election: name.to_string(),
                leader: after.map(|leader| leader_view(&leader)),
            })
        })
        .collect();
    Some(EventView {
        revision: newer.revision().0,
        nodes,
        leaders,
    })
}

/// An election's leader as the API shows it.
pub fn leader_view(leader: &ballot_core::election::Leader) -> LeaderView {
    LeaderView {
        term: leader.term.0,
        payload: Payload::of(leader.data.as_bytes()),
    }
}

/// The election `path` belongs to, if it is under the elections root.
fn election_of(root: &NodePath, path: &NodePath) -> Option<ElectionName> {
    let rest = path
        .as_str()
        .strip_prefix(root.as_str())?
        .strip_prefix('/')?;
    let name = rest.split('/').next()?;
    ElectionName::parse(name).ok()
}

/// Query of `GET /v1/events`. Unknown parameters are refused, as on every route: a
/// misspelt `prefix` must not silently widen the stream.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Resume after this revision (like `Last-Event-ID`, for clients that cannot set it).
    since: Option<u64>,
    /// Only node changes under this path (leader changes always come).
    prefix: Option<String>,
}

/// `GET /v1/events`: the stream.
pub async fn stream(
    State(host): State<Arc<super::Host>>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let Query(query) = query?;
    let since = last_event_id(&headers, "a revision")?.or(query.since);
    let current = host.runtime.state().revision().0;
    if let Some(since) = since.filter(|since| *since > current) {
        return Err(ApiError::bad_request(format!(
            "revision {since} is ahead of this host's {current}: an id from another host or data directory?"
        )));
    }
    let prefix = match query.prefix {
        Some(raw) => Some(NodePath::parse(&raw).map_err(ApiError::from)?),
        None => None,
    };
    let feed = &host.feed;
    let (backlog, live) = feed.resume(since).ok_or_else(|| {
        ApiError::new(
            StatusCode::GONE,
            "compacted",
            format!(
                "events after revision {} are no longer held (this host holds those after {}): read the current state and follow from now",
                since.unwrap_or_default(),
                feed.horizon()
            ),
        )
    })?;
    let guard = super::memory::StreamGuard::new();
    let events = events_after(backlog, live, since.unwrap_or(0))
        .take_until(host.stopped())
        .filter_map(move |delivery| {
            let _held_until_the_stream_closes = &guard;
            std::future::ready(to_sse_delivery(&delivery, prefix.as_ref()).map(Ok))
        });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// The `Last-Event-ID` a resuming event-stream client sent, if any: a number, `what` says
/// of what (refused with 400 otherwise). Every stream of the API resumes this way.
pub fn last_event_id(headers: &HeaderMap, what: &str) -> ApiResult<Option<u64>> {
    headers
        .get("last-event-id")
        .map(|value| {
            value
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse::<u64>().ok())
                .ok_or_else(|| ApiError::bad_request(format!("Last-Event-ID must be {what}")))
        })
        .transpose()
}

/// What a stream sends: an event, or, last of all, that it fell behind.
#[derive(Debug, Clone, PartialEq)]
enum Delivery {
    Event(Arc<Published>),
    /// The subscriber fell [`BUFFERED`] events behind; the stream ends here, and its
    /// client resumes after the revision `last` it was sent.
    Behind {
        last: u64,
    },
}

/// The events after revision `last`: the backlog, then live ones, each once, in order.
/// When the subscriber has fallen [`BUFFERED`] events behind (it is dropped, not waited
/// for), a last [`Delivery::Behind`] says where to resume; ends when the feed is gone.
fn events_after(
    backlog: VecDeque<Arc<Published>>,
    live: broadcast::Receiver<Arc<Published>>,
    last: u64,
) -> impl Stream<Item = Delivery> {
    futures_util::stream::unfold(Some((backlog, live, last)), |following| async move {
        let (mut backlog, mut live, mut last) = following?;
        loop {
            let event = match backlog.pop_front() {
                Some(event) => event,
                None => match live.recv().await {
                    Ok(event) => event,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        return Some((Delivery::Behind { last }, None));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            };
            if event.revision() > last {
                last = event.revision();
                return Some((Delivery::Event(event), Some((backlog, live, last))));
            }
        }
    })
}

/// The SSE form of `delivery`: an event narrowed to `prefix` (`None` if nothing is left),
/// or the `behind` event that ends a stream that fell behind, with the id to resume from.
fn to_sse_delivery(delivery: &Delivery, prefix: Option<&NodePath>) -> Option<Event> {
    match delivery {
        Delivery::Event(event) => to_sse(event, prefix),
        Delivery::Behind { last } => {
            let json = serde_json::json!({
                "resume_after": last,
                "reason": format!(
                    "this stream fell {BUFFERED} events behind and was ended; reconnect \
                     with Last-Event-ID: {last} (or ?since={last}) to resume with nothing lost"
                ),
            });
            Some(
                Event::default()
                    .id(last.to_string())
                    .event("behind")
                    .data(json.to_string()),
            )
        }
    }
}

/// The SSE form of `event`, narrowed to `prefix`; `None` if nothing is left. Sends the
/// bytes encoded at publishing unless the prefix leaves out some of the event's nodes.
fn to_sse(event: &Published, prefix: Option<&NodePath>) -> Option<Event> {
    let within = |change: &&NodeChange| {
        prefix.is_none_or(|prefix| {
            NodePath::parse(&change.path).is_ok_and(|path| path.is_within(prefix))
        })
    };
    let view = &event.view;
    let kept = view.nodes.iter().filter(within).count();
    let json = if kept == view.nodes.len() {
        None
    } else if kept == 0 && view.leaders.is_empty() {
        return None;
    } else {
        let narrowed = EventView {
            nodes: view.nodes.iter().filter(within).cloned().collect(),
            ..view.clone()
        };
        Some(serde_json::to_string(&narrowed).expect("an event is always serialisable"))
    };
    Some(
        Event::default()
            .id(view.revision.to_string())
            .event("change")
            .data(json.as_deref().unwrap_or(&event.json)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(revision: u64) -> EventView {
        EventView {
            revision,
            nodes: vec![NodeChange {
                path: format!("/n{revision}"),
                change: "created".into(),
            }],
            leaders: Vec::new(),
        }
    }

    fn deliveries(stream: impl Stream<Item = Delivery>) -> Vec<Delivery> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(stream.collect())
    }

    fn revisions(stream: impl Stream<Item = Delivery>) -> Vec<u64> {
        deliveries(stream)
            .into_iter()
            .filter_map(|delivery| match delivery {
                Delivery::Event(event) => Some(event.revision()),
                Delivery::Behind { .. } => None,
            })
            .collect()
    }

    #[test]
    fn an_event_is_encoded_once_and_a_prefix_narrows_it_or_drops_it() {
        let view = EventView {
            revision: 7,
            nodes: vec![
                NodeChange {
                    path: "/a/x".into(),
                    change: "created".into(),
                },
                NodeChange {
                    path: "/b/y".into(),
                    change: "deleted".into(),
                },
            ],
            leaders: Vec::new(),
        };
        let published = Published::new(view.clone());
        assert_eq!(published.json, serde_json::to_string(&view).unwrap());
        let render = |event: Event| format!("{event:?}");
        // Every stream without a prefix, and one whose prefix keeps every node, sends
        // the bytes encoded at publishing, taken from the event, never encoded again.
        let planted = Published {
            view: view.clone(),
            json: "encoded-once".into(),
        };
        assert!(render(to_sse(&planted, None).unwrap()).contains("encoded-once"));
        let root = NodePath::parse("/").unwrap();
        assert!(render(to_sse(&planted, Some(&root)).unwrap()).contains("encoded-once"));
        // A prefix that leaves nodes out is encoded for that stream alone.
        let a = NodePath::parse("/a").unwrap();
        let narrowed = render(to_sse(&planted, Some(&a)).unwrap());
        assert!(
            narrowed.contains("/a/x") && !narrowed.contains("/b/y"),
            "{narrowed}"
        );
        // A prefix that leaves nothing (and no leader change) sends nothing.
        let c = NodePath::parse("/c").unwrap();
        assert!(to_sse(&planted, Some(&c)).is_none());
    }

    #[test]
    fn a_resumed_stream_has_each_event_once_and_old_revisions_are_compacted() {
        let feed = Feed::new(10);
        for revision in 11..=15 {
            feed.publish(event(revision));
        }
        let (backlog, live) = feed.resume(Some(12)).expect("retained");
        for revision in 16..=17 {
            feed.publish(event(revision));
        }
        drop(feed);
        assert_eq!(
            revisions(events_after(backlog, live, 12)),
            [13, 14, 15, 16, 17]
        );
        let feed = Feed::new(10);
        assert!(feed.resume(Some(9)).is_none(), "before the horizon");
        for revision in 11..(12 + RETAINED as u64) {
            feed.publish(event(revision));
        }
        assert_eq!(feed.horizon(), 11);
        assert!(feed.resume(Some(10)).is_none(), "revision 11 was dropped");
        assert!(feed.resume(Some(11)).is_some());
    }

    #[test]
    fn a_subscriber_that_falls_behind_is_dropped_and_publishing_never_waits() {
        let feed = Feed::new(0);
        let (backlog, live) = feed.resume(None).unwrap();
        let total = BUFFERED as u64 * 3;
        for revision in 1..=total {
            feed.publish(event(revision));
        }
        let seen = deliveries(events_after(backlog, live, 0));
        assert!(
            seen.len() <= BUFFERED,
            "dropped, not buffered without end: {}",
            seen.len()
        );
        // It ends saying so, with the last revision it was sent: resuming from there
        // misses nothing the host still holds.
        let Some(Delivery::Behind { last }) = seen.last() else {
            panic!("ended without saying why: {:?}", seen.last());
        };
        assert_eq!(*last, 0, "it was sent nothing before it fell behind");
        let (backlog, live) = feed.resume(Some(*last)).expect("still held");
        drop(live);
        assert_eq!(backlog.front().map(|e| e.revision()), Some(1));
    }
}
