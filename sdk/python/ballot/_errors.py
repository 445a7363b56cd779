"""The WIT ``error`` variant as Python exceptions, so a refused host call raises."""

from componentize_py_types import Err


class BallotError(Exception):
    """A host call was refused; it changed nothing. ``detail`` is the variant's payload
    (a path, a reason, a term), or ``None``."""

    def __init__(self, detail=None):
        super().__init__(detail)
        self.detail = detail

    def __str__(self):
        name = type(self).__name__
        return name if self.detail is None else f"{name}: {self.detail}"


class NoNode(BallotError):
    """The node (or, for a create, its parent) does not exist. ``detail``: the path."""


class NodeExists(BallotError):
    """A create named a node that exists. ``detail``: the path."""


class BadVersion(BallotError):
    """An expected version did not match. ``detail``: the path."""


class NotEmpty(BallotError):
    """A delete named a node with children. ``detail``: the path."""


class NotLeader(BallotError):
    """A term guard failed: the caller does not hold the term it claimed. ``detail``: the
    current term, or ``None`` when the election has no leader."""


class SessionExpired(BallotError):
    """The caller's session has expired or was closed."""


class Invalid(BallotError):
    """The request is malformed or not allowed. ``detail``: why."""


class TooLarge(BallotError):
    """Data or a request exceeds a size limit. ``detail``: the limit."""


class QuotaExceeded(BallotError):
    """A per-session quota is used up. ``detail``: which."""


class Denied(BallotError):
    """Not granted, or a write to what only the election machinery writes."""


class Deadline(BallotError):
    """The callback's deadline passed."""


class TxnAborted(BallotError):
    """A transaction function aborted its commit. ``detail``: the reason."""


class Refuse(Exception):
    """Raise from ``on_winning_election`` to decline the win (the host resigns the ballot
    and votes again after a backoff), or from a transaction function's ``apply`` to abort
    its commit. Any other exception crashes the instance, as a Rust panic would."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = str(reason)


_BY_VARIANT = {
    "Error_NoNode": NoNode,
    "Error_NodeExists": NodeExists,
    "Error_BadVersion": BadVersion,
    "Error_NotEmpty": NotEmpty,
    "Error_NotLeader": NotLeader,
    "Error_SessionExpired": SessionExpired,
    "Error_Invalid": Invalid,
    "Error_TooLarge": TooLarge,
    "Error_QuotaExceeded": QuotaExceeded,
    "Error_Denied": Denied,
    "Error_Deadline": Deadline,
    "Error_TxnAborted": TxnAborted,
}


def from_wit(error):
    """The exception for a WIT ``error`` value."""
    kind = _BY_VARIANT.get(type(error).__name__, BallotError)
    return kind(getattr(error, "value", None))


def call(function, *args):
    """Calls a generated import, raising a :class:`BallotError` for an ``err`` result."""
    try:
        return function(*args)
    except Err as refused:
        raise from_wit(refused.value) from None
