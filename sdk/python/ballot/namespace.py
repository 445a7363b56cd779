"""The namespace, as the caller's session sees it (candidates and observers). Every call
is one atomic step and raises a :class:`ballot.BallotError` when refused."""

from wit_world.imports import namespace as _wit
from wit_world.imports.types import WatchKind

from ._errors import call
from ._types import PERSISTENT

__all__ = ["WatchKind", "children", "create", "delete", "get", "multi", "set", "watch"]


def create(path, data=b"", mode=PERSISTENT):
    """Creates a node; returns its full path (with any sequence number)."""
    return call(_wit.create, path, bytes(data), mode)


def get(path):
    """A node: ``.path``, ``.data`` (bytes) and ``.stat`` (``.data_version`` ...)."""
    return call(_wit.get, path)


def children(path):
    """The children's names, in order."""
    return call(_wit.children, path)


def set(path, data, expected=None):
    """Replaces a node's data if its data version is ``expected``; returns its stat."""
    return call(_wit.set, path, bytes(data), expected)


def delete(path, expected=None):
    """Deletes a childless node if its data version is ``expected``."""
    call(_wit.delete, path, expected)


def watch(path, kind=WatchKind.DATA):
    """Registers a watch; it fires later through ``on_event``, never inside a call."""
    call(_wit.watch, path, kind)


def multi(ops, guard=None):
    """Applies ``ops`` all or nothing; with ``guard`` (:func:`ballot.guard`) only while
    the caller holds that term. Returns one result per operation."""
    return call(_wit.multi, list(ops), guard)
