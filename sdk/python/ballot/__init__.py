"""ballot's guest SDK for Python: write a candidate, an observer or a transaction function
as a class, and build it into a component with componentize-py.

What ``ballot-guest`` is to Rust: base classes whose callbacks default to doing nothing,
one function per host import that raises a :class:`BallotError` subclass instead of
returning a WIT ``result``, operation builders, and CBOR helpers (the ``cbor2`` library,
pure Python, bundled into the component). A candidate module ends with::

    import ballot

    class Worker(ballot.Candidate):
        def on_winning_election(self, term):
            ballot.log.info(f"leading under term {term}")

    WitWorld = ballot.export_candidate(Worker)

and is built with ``componentize-py -d wit -w candidate componentize app -p . -p sdk/python
-o worker.wasm`` (see the README's "Writing a component in Python").

The host imports live in submodules, one per WIT interface. Each world has its own: a
candidate may use all of them, an observer ``namespace``, ``log`` and ``deployment``, a
transaction function ``snapshot`` and ``log``; importing ``ballot`` imports those of the
world being built.
"""

from ._errors import (
    BadVersion,
    BallotError,
    Deadline,
    Denied,
    Invalid,
    NoNode,
    NodeExists,
    NotEmpty,
    NotLeader,
    QuotaExceeded,
    Refuse,
    SessionExpired,
    TooLarge,
    TxnAborted,
)
from ._types import (
    EPHEMERAL,
    EPHEMERAL_SEQUENTIAL,
    PERSISTENT,
    PERSISTENT_SEQUENTIAL,
    check,
    create,
    delete,
    guard,
    set,
)
from ._worlds import (
    Candidate,
    Observer,
    TxnFn,
    export_candidate,
    export_observer,
    export_txn_fn,
)
from . import cbor

__all__ = [
    "BadVersion",
    "BallotError",
    "Candidate",
    "Deadline",
    "Denied",
    "EPHEMERAL",
    "EPHEMERAL_SEQUENTIAL",
    "Invalid",
    "NoNode",
    "NodeExists",
    "NotEmpty",
    "NotLeader",
    "Observer",
    "PERSISTENT",
    "PERSISTENT_SEQUENTIAL",
    "QuotaExceeded",
    "Refuse",
    "SessionExpired",
    "TooLarge",
    "TxnAborted",
    "TxnFn",
    "cbor",
    "check",
    "create",
    "delete",
    "export_candidate",
    "export_observer",
    "export_txn_fn",
    "guard",
    "set",
]


def _import_worlds_modules():
    # componentize-py bundles only the modules imported while it pre-initializes the app
    # at build time, so every import module is imported here, each only if the world has
    # its interface (a transaction function has no namespace, say).
    import importlib

    for name in ("namespace", "election", "elector", "commit", "log", "deployment", "snapshot"):
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ImportError as missing:
            if not (missing.name or "").startswith("wit_world"):
                raise


_import_worlds_modules()
