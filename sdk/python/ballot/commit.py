"""Commits fenced by a lease elector: guarded, speculative, and previews."""

from wit_world.imports import commit as _wit

from ._errors import call


def ops(operations):
    """A commit of these operations, as given."""
    return _wit.Txn_Ops(list(operations))


def function(sha256, args=b""):
    """A commit of the operations the transaction function ``sha256`` returns."""
    return _wit.Txn_Function(_wit.TxnCall(sha256=sha256, args=bytes(args)))


def guarded_commit(elector, peer, txn):
    """Commits ``txn`` under ``peer``'s term, holding an election first if needed."""
    return call(_wit.guarded_commit, elector, peer, txn)


def speculative_commit(elector, peer, term, txn):
    """Commits ``txn`` under ``term`` with no election; refused if the term is gone."""
    return call(_wit.speculative_commit, elector, peer, term, txn)


def preview(txn):
    """What ``txn`` would do on the last durable revision, writing nothing."""
    return call(_wit.preview, txn)
