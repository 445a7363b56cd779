"""A Python transaction function. ``count PATH`` increments the decimal counter at PATH,
creating it at 1; the JavaScript and Rust counters return the same operations, byte for
byte, on the same snapshot."""

import ballot
from ballot import snapshot


class Counter(ballot.TxnFn):
    def apply(self, args):
        words = bytes(args).decode().split()
        if len(words) != 2 or words[0] != "count":
            raise ballot.Refuse(f"expected `count PATH`, got {words!r}")
        path = words[1]
        try:
            data, stat = snapshot.get(path)
        except ballot.NoNode:
            return [ballot.create(path, b"1")]
        count = int(bytes(data).decode()) + 1
        return [ballot.set(path, str(count).encode(), stat.data_version)]


WitWorld = ballot.export_txn_fn(Counter)
