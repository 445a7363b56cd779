//! The JSON shapes of the HTTP API. The server writes them and the CLI reads them, so the
//! two cannot drift apart.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// Node or ballot data on the wire: text when it is UTF-8 (the common case: addresses,
/// JSON), base64 otherwise, so binary data round-trips.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// The data as text, if it is UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The data as base64, if it is not UTF-8 (or if the client chose to send it so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<String>,
}

impl Payload {
    /// Wraps bytes, as text when they are UTF-8.
    pub fn of(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => Payload {
                data: Some(text.to_string()),
                data_base64: None,
            },
            Err(_) => Payload {
                data: None,
                data_base64: Some(STANDARD.encode(bytes)),
            },
        }
    }

    /// The bytes; empty when neither field is set. Both set, or bad base64, is an error.
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        match (&self.data, &self.data_base64) {
            (Some(_), Some(_)) => Err("give data or data_base64, not both".into()),
            (Some(text), None) => Ok(text.as_bytes().to_vec()),
            (None, Some(encoded)) => STANDARD
                .decode(encoded)
                .map_err(|e| format!("data_base64 is not base64: {e}")),
            (None, None) => Ok(Vec::new()),
        }
    }

    /// The data for a person to read: the text, or a note of how many bytes of binary.
    pub fn display(&self) -> String {
        match (&self.data, &self.data_base64) {
            (Some(text), _) => text.clone(),
            (None, Some(encoded)) => format!("base64:{encoded}"),
            (None, None) => String::new(),
        }
    }
}

/// An error answer: a stable machine-readable code and a readable message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// See [`ErrorBody`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable across releases: clients branch on it (`unauthorized`, `not-found`,
    /// `malformed-component`, `not-leader`, ...).
    pub code: String,
    /// For people; may change.
    pub message: String,
}

/// A deployment as the API lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeploymentView {
    /// Stable across host restarts.
    pub id: u64,
    /// Its name, for logs and the timeline.
    pub name: String,
    /// `candidate` or `observer`.
    pub role: String,
    /// The election it stands in or follows.
    pub election: String,
    /// `running`; `out-of-election` (it runs but has no ballot: it resigned, or its
    /// on-winning-election failed and it stands again after a backoff); `restarting`;
    /// `failed`; `not-started` (it did not come back when the host started).
    pub status: String,
    /// Why it is out of its election, restarts or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The running instance's session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<u64>,
    /// The term it leads under, if it leads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<u64>,
    /// Instances started after the first since this host started it (crashes, kills,
    /// depositions): a number that keeps growing says the component is unwell.
    #[serde(default)]
    pub restarts: u32,
    /// Bytes of linear memory its running instance holds, against its limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// Its priority, when it stands in a priority election.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    /// With a priority: it waits for the leader to go instead of taking over.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_preempt: bool,
    /// SHA-256 of the code it runs (changes with each swap).
    pub sha256: String,
}

/// A deployment's log lines (`GET /v1/components/{id}/logs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogsView {
    /// The deployment.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its kept lines from the asked number on, oldest first.
    pub lines: Vec<LogLineView>,
    /// Ask again with `after` set to this to get only newer lines.
    pub next: u64,
}

/// One log line of a deployment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogLineView {
    /// Its number: numbers grow with every line of any deployment, so they have gaps.
    pub seq: u64,
    /// What the component wrote.
    pub line: String,
}

/// What a hot-swap did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SwapView {
    /// The deployment.
    pub id: u64,
    /// `activated`, or `trapped-after-activation` (leadership lost; supervision applies).
    pub outcome: String,
    /// The trap, when the new code trapped in its first callback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trap: Option<String>,
    /// The term it leads under, unchanged by the swap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<u64>,
    /// What the new code was told first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub told: Option<String>,
    /// The old instance's last import call to the new instance's first callback.
    pub blackout_us: u64,
    /// SHA-256 of the code now running.
    pub sha256: String,
}

/// An election as `GET /v1/elections/{name}` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ElectionView {
    /// Its name.
    pub election: String,
    /// The acknowledged leader, if any.
    pub leader: Option<LeaderView>,
    /// The ballots, lowest (the leader's, once it acks) first.
    pub queue: Vec<BallotView>,
    /// The revision of the state this was read from.
    pub revision: u64,
}

/// An acknowledged leader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderView {
    /// Its term: the fencing token its writes carry.
    pub term: u64,
    /// Its ack data.
    #[serde(flatten)]
    pub payload: Payload,
}

/// One ballot in an election's queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BallotView {
    /// The ballot node's name.
    pub ballot: String,
    /// The session that owns it.
    pub session: Option<u64>,
    /// The revision it was created at: the term it will lead under.
    pub created: u64,
    /// The candidate's ballot data.
    #[serde(flatten)]
    pub payload: Payload,
}

/// A session opened for a client that is not a component.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionView {
    /// Its id: name it in every call, heartbeat it within its TTL.
    pub session: u64,
    /// Its TTL in milliseconds.
    pub ttl_ms: u64,
}

/// What a handoff did: who leads now (its win and ack follow at once).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HandOffView {
    /// The election.
    pub election: String,
    /// The candidate that holds the lowest ballot now.
    pub candidate: u64,
    /// Its deployment on this host, when it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<u64>,
}

/// What a drain did: the leaderships it handed to candidates of other hosts, and those it
/// could not (no other host's candidate stands), which resign when the host stops.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrainView {
    /// The host drained (`embedded` on the embedded store).
    pub host: String,
    /// Each leadership handed over.
    pub handed_off: Vec<HandOffView>,
    /// Elections its deployments still lead: nobody of another host stands in them.
    pub kept: Vec<String>,
    /// Whether the drained host is this one, which now stops.
    pub stopping: bool,
}

/// A candidate registered for a client that is not a component.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CandidateView {
    /// Its id, for ack and resign.
    pub candidate: u64,
    /// Its election.
    pub election: String,
    /// Its session.
    pub session: u64,
    /// Its ballot, if it has one in the queue.
    pub ballot: Option<String>,
    /// The term it leads under, if its ballot is the lowest.
    pub term: Option<u64>,
}

/// A node as read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeView {
    /// Its path.
    pub path: String,
    /// Its data.
    #[serde(flatten)]
    pub payload: Payload,
    /// Revision it was created at.
    pub created: u64,
    /// Revision of its last data change.
    pub modified: u64,
    /// Its data version, for conditional writes.
    pub version: u64,
    /// The owning session of an ephemeral node.
    pub ephemeral_owner: Option<u64>,
    /// Its children's names, in order.
    pub children: Vec<String>,
    /// The revision of the state this was read from.
    pub revision: u64,
}

/// One operation of a multi.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum OpRequest {
    /// Create a node.
    Create {
        /// Where (for a sequential node, the name's prefix).
        path: String,
        /// Initial data.
        #[serde(flatten)]
        payload: Payload,
        /// Owned by the multi's session and deleted with it.
        #[serde(default)]
        ephemeral: bool,
        /// Append the parent's next sequence number.
        #[serde(default)]
        sequential: bool,
    },
    /// Replace a node's data.
    Set {
        /// The node.
        path: String,
        /// New data.
        #[serde(flatten)]
        payload: Payload,
        /// Required current data version.
        #[serde(default)]
        expected: Option<u64>,
    },
    /// Delete a childless node.
    Delete {
        /// The node.
        path: String,
        /// Required current data version.
        #[serde(default)]
        expected: Option<u64>,
    },
    /// Require that a node exists (with the data version, if given).
    Check {
        /// The node.
        path: String,
        /// Required current data version.
        #[serde(default)]
        expected: Option<u64>,
    },
}

/// A guarded multi: every operation or none, and only while the guard holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MultiRequest {
    /// The session ephemeral creates belong to and the guard names.
    pub session: Option<u64>,
    /// Commit only while `session` holds this term of this election.
    #[serde(default)]
    pub guard: Option<TermGuard>,
    /// The operations, in order.
    pub ops: Vec<OpRequest>,
}

/// A fencing token checked in the commit: "the session holds `term` of `election`", or
/// "`peer` holds the lease of `elector` under `term`". Give `election` or `elector`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TermGuard {
    /// A ballot-queue election.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub election: Option<String>,
    /// ... or a lease elector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elector: Option<String>,
    /// The lease holder, for an elector guard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// The term.
    pub term: u64,
}

/// The hosts sharing a namespace (`GET /v1/hosts`); empty on the embedded store.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostsView {
    /// Every live host, by epoch.
    pub hosts: Vec<HostView>,
    /// Deployments whose host is not live (it was killed or is restarting): their
    /// records stay until it comes back.
    #[serde(default)]
    pub unhosted: Vec<SharedDeploymentView>,
}

/// A deployment as the shared namespace records it, readable from any host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedDeploymentView {
    /// Its id on the host that runs it (ids are unique across the cluster).
    pub id: u64,
    /// Its name.
    pub name: String,
    /// `candidate` or `observer`.
    pub role: String,
    /// The election it stands in or follows.
    pub election: String,
    /// SHA-256 of the code it runs.
    pub sha256: String,
    /// The host that runs it (`--host-id`).
    pub host: String,
}

/// One host sharing the namespace, as the answering host last heard of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostView {
    /// Its name (`--host-id`).
    pub id: String,
    /// Its epoch: the log position where it (re)joined.
    pub epoch: u64,
    /// Whether it is the host that answered.
    pub this_host: bool,
    /// Milliseconds since its last heartbeat reached the answering host (for the
    /// answering host itself: since its last acknowledged one was sent); `None` when none
    /// has yet.
    pub since_heartbeat_ms: Option<u64>,
    /// The log position it had applied at that heartbeat.
    pub applied: u64,
    /// The deployments it runs, from the shared namespace.
    #[serde(default)]
    pub deployments: Vec<SharedDeploymentView>,
}

/// A lease elector's answer: who is master, under which term, for how long.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseView {
    /// `won` (a new term), `renewed`, `held` (by `master`), or `lapsed` (no master).
    pub outcome: String,
    /// The master.
    pub master: Option<String>,
    /// Its term.
    pub term: Option<u64>,
    /// How long its lease has left, in milliseconds.
    pub left_ms: u64,
}

/// What a committed multi did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MultiView {
    /// The revision it committed at.
    pub revision: u64,
    /// Per operation: the path it touched (a sequential create's full name).
    pub paths: Vec<String>,
}

/// One event of the `/v1/events` stream: what one durable state changed since the one
/// before. Its SSE id is `revision`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    /// The revision of the state the changes are in.
    pub revision: u64,
    /// Nodes created, changed or deleted.
    pub nodes: Vec<NodeChange>,
    /// Elections whose acknowledged leader changed.
    pub leaders: Vec<LeaderChange>,
}

/// A node change within an [`EventView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeChange {
    /// The node.
    pub path: String,
    /// `created`, `changed` or `deleted`.
    pub change: String,
}

/// A leader change within an [`EventView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderChange {
    /// The election.
    pub election: String,
    /// The new leader, or none (the leader is gone and no successor has acked yet).
    pub leader: Option<LeaderView>,
}

/// Body of `POST /v1/electors/{name}/commit`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitBody {
    /// The committing peer.
    pub peer: String,
    /// `guarded` (the default), `speculative` (with `term`) or `preview`.
    #[serde(default)]
    pub mode: Option<String>,
    /// The term a speculative commit claims.
    #[serde(default)]
    pub term: Option<u64>,
    /// Plain operations...
    #[serde(default)]
    pub ops: Option<Vec<OpRequest>>,
    /// ... or a transaction function uploaded to `/v1/txn-fns`, by its SHA-256.
    #[serde(default)]
    pub txn_fn: Option<String>,
    /// Its arguments, as text...
    #[serde(default)]
    pub args: Option<String>,
    /// ... or base64.
    #[serde(default)]
    pub args_base64: Option<String>,
    /// Longest one run of the function may take (default 1000).
    #[serde(default)]
    pub deadline_ms: Option<u64>,
}

/// What a commit did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommitView {
    /// The term it was fenced by (none for a preview).
    pub term: Option<u64>,
    /// The revision it committed at (a preview: the revision it read).
    pub revision: u64,
    /// How many times the function ran (stale reads run it again).
    pub attempts: usize,
    /// Per operation, the path it touched (a sequential create's full name).
    pub paths: Vec<String>,
    /// Whether it was only a preview.
    pub preview: bool,
}

/// An uploaded transaction function.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TxnFnView {
    /// Its SHA-256, which commits name it by.
    pub sha256: String,
}
