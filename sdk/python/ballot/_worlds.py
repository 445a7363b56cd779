"""Base classes for the three worlds, and the adapters componentize-py exports.

componentize-py calls the exports on a ``WitWorld`` class the app module defines. The
``export_*`` functions build that class around the user's: one instance of the user's
class, made at the first callback (imports cannot be called while componentize-py
pre-initializes the module at build time), keeps its state across callbacks, as a Rust
worker's ``&mut self`` does.
"""

from componentize_py_types import Err

from ._errors import Refuse


class Candidate:
    """A candidate: stands in its deployment's election. Override what you need; every
    callback does nothing by default (and winning accepts the win)."""

    def on_winning_election(self, term):
        """This candidate leads under ``term``. Returning acks the win (observers and
        losers hear of it after this returns); raise :class:`ballot.Refuse` to decline
        it."""

    def on_losing_election(self, leader):
        """This candidate lost to ``leader`` (told once per vote, after the ack)."""

    def on_new_leader(self, leader):
        """A new leader acknowledged (only when deployed with ``--follow``)."""

    def on_event(self, event):
        """A watch this candidate registered fired."""

    def tick(self):
        """Called every ``--tick-ms`` while deployed with one."""


class Observer:
    """An observer: follows an election's leaders without standing in it."""

    def on_new_leader(self, leader):
        """A leader acknowledged (or re-acknowledged with new data)."""

    def on_leaders_death(self, term):
        """The leader of ``term`` is gone (died, expired or resigned)."""


class TxnFn:
    """A transaction function: reads one snapshot (``ballot.snapshot``) and returns the
    operations of one commit."""

    def apply(self, args):
        """The commit's operations for the caller's ``args`` (bytes). Raise
        :class:`ballot.Refuse` to abort the commit."""
        raise Refuse("apply is not implemented")


class _One:
    """Makes the user's instance at first use and keeps it."""

    def __init__(self, cls):
        self.cls = cls
        self.instance = None

    def __call__(self):
        if self.instance is None:
            self.instance = self.cls()
        return self.instance


def export_candidate(cls):
    """The ``WitWorld`` class of the ``candidate`` world for a :class:`Candidate`
    subclass: assign it to ``WitWorld`` in the app module."""
    worker = _One(cls)

    class WitWorld:
        def on_winning_election(self, term):
            try:
                worker().on_winning_election(term)
            except Refuse as refusal:
                raise Err(refusal.reason) from None

        def on_losing_election(self, leader):
            worker().on_losing_election(leader)

        def on_new_leader(self, leader):
            worker().on_new_leader(leader)

        def on_event(self, event):
            worker().on_event(event)

        def tick(self):
            worker().tick()

    return WitWorld


def export_observer(cls):
    """The ``WitWorld`` class of the ``observer`` world for an :class:`Observer`
    subclass."""
    worker = _One(cls)

    class WitWorld:
        def on_new_leader(self, leader):
            worker().on_new_leader(leader)

        def on_leaders_death(self, term):
            worker().on_leaders_death(term)

    return WitWorld


def export_txn_fn(cls):
    """The ``WitWorld`` class of the ``txn-fn`` world for a :class:`TxnFn` subclass. Each
    commit runs in a fresh instance, so nothing carries over between calls."""
    worker = _One(cls)

    class WitWorld:
        def apply(self, args):
            try:
                return list(worker().apply(bytes(args)))
            except Refuse as refusal:
                raise Err(refusal.reason) from None

    return WitWorld
