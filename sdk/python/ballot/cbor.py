"""CBOR, the namespace's convention for structured data: ``dumps`` and ``loads`` of the
``cbor2`` library (its pure-Python implementation, bundled into the component)."""

from cbor2 import dumps, loads

__all__ = ["dumps", "loads"]
