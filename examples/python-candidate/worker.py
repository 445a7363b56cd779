"""The example candidate in Python: the same leader-only work as the Rust
``example-candidate``, every write fenced by its term.

It stands in the election it is deployed into (``example`` in the README). When it wins
under term ``T`` it writes ``/example/leader`` = CBOR ``{name: "python-candidate", term: T,
version: 1}`` in one multi guarded by "holds ``T``" (creating ``/example`` if missing). On
every tick while it leads it bumps ``/example/ticks`` (CBOR ``{count, term}``) with a set at
the version it read, under the same guard. A refused guard (not-leader) ends its leader
work until it wins again.
"""

import ballot
from ballot import namespace, log

NAME = "python-candidate"
VERSION = 1
ROOT = "/example"
LEADER = "/example/leader"
TICKS = "/example/ticks"
ATTEMPTS = 3


def upsert(path, data):
    """An operation writing ``data`` to ``path`` whether or not it exists yet, refused if
    the node changes between this read and the multi."""
    try:
        node = namespace.get(path)
    except ballot.NoNode:
        return ballot.create(path, data)
    return ballot.set(path, data, expected=node.stat.data_version)


def retry(write):
    """Runs ``write`` again when a concurrent change beat it."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return write()
        except (ballot.BadVersion, ballot.NodeExists, ballot.NoNode):
            if attempt == ATTEMPTS:
                raise


class Worker(ballot.Candidate):
    def __init__(self):
        self.leading = None
        self.election = ballot.deployment.whoami().election

    def on_winning_election(self, term):
        try:
            namespace.create(ROOT)
        except ballot.NodeExists:
            pass
        record = ballot.cbor.dumps({"name": NAME, "term": term, "version": VERSION})
        guard = ballot.guard(self.election, term)
        retry(lambda: namespace.multi([upsert(LEADER, record)], guard))
        log.info(f"{NAME} v{VERSION} leads under term {term}")
        self.leading = term

    def on_losing_election(self, leader):
        log.info(f"{NAME}: candidate {leader.candidate} leads under term {leader.term}")
        self.leading = None

    def on_new_leader(self, leader):
        if self.leading is not None and self.leading != leader.term:
            log.warn(f"{NAME}: deposed by term {leader.term}")
            self.leading = None

    def tick(self):
        term = self.leading
        if term is None:
            return
        try:
            count = retry(lambda: self.bump_ticks(term))
            log.debug(f"{NAME}: tick {count} under term {term}")
        except ballot.NotLeader as refused:
            log.warn(f"{NAME}: term {term} is over (current: {refused.detail}); stopping leader work")
            self.leading = None
        except ballot.BallotError as error:
            log.warn(f"{NAME}: tick under term {term} failed: {error}")

    def bump_ticks(self, term):
        try:
            node = namespace.get(TICKS)
            count = ballot.cbor.loads(node.data).get("count", 0) + 1
            op = ballot.set(TICKS, ballot.cbor.dumps({"count": count, "term": term}), node.stat.data_version)
        except ballot.NoNode:
            count = 1
            op = ballot.create(TICKS, ballot.cbor.dumps({"count": 1, "term": term}))
        namespace.multi([op], ballot.guard(self.election, term))
        return count


WitWorld = ballot.export_candidate(Worker)
