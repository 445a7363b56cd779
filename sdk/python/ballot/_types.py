"""Builders for the operations of a multi and its term guard, and the create modes."""

from wit_world.imports import types as _wit

PERSISTENT = _wit.CreateMode(lifetime=_wit.Lifetime.PERSISTENT, sequential=False)
"""A node that stays until deleted."""
PERSISTENT_SEQUENTIAL = _wit.CreateMode(lifetime=_wit.Lifetime.PERSISTENT, sequential=True)
"""A persistent node whose name gets the parent's next sequence number."""
EPHEMERAL = _wit.CreateMode(lifetime=_wit.Lifetime.EPHEMERAL, sequential=False)
"""A node owned by the caller's session, deleted when it ends."""
EPHEMERAL_SEQUENTIAL = _wit.CreateMode(lifetime=_wit.Lifetime.EPHEMERAL, sequential=True)
"""An ephemeral node with a sequence number: the recipe's ballots."""


def create(path, data=b"", mode=PERSISTENT):
    """An operation creating ``path`` with ``data``."""
    return _wit.Op_Create(_wit.CreateOp(path=path, data=bytes(data), mode=mode))


def set(path, data, expected=None):
    """An operation replacing ``path``'s data, if its data version is ``expected``."""
    return _wit.Op_Set(_wit.SetOp(path=path, data=bytes(data), expected=expected))


def delete(path, expected=None):
    """An operation deleting the childless ``path``, if its version is ``expected``."""
    return _wit.Op_Delete(_wit.PathOp(path=path, expected=expected))


def check(path, expected=None):
    """An operation requiring that ``path`` exists (at version ``expected``)."""
    return _wit.Op_Check(_wit.PathOp(path=path, expected=expected))


def guard(election, term):
    """The fence of a leader's writes: the multi applies only while the caller holds
    ``term`` of ``election``."""
    return _wit.TermGuard(election=election, term=term)
