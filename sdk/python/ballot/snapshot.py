"""Read-only reads of one durable revision (transaction functions). The host records
every read, so the commit is re-run if anything read changed."""

from wit_world.imports import snapshot as _wit

from ._errors import call


def revision():
    """The revision every read sees."""
    return _wit.revision()


def get(path):
    """A node's ``(data, stat)``."""
    return call(_wit.get, path)


def children(path):
    """The names of a node's children, in order."""
    return call(_wit.children, path)
