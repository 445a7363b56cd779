"""The lease elector: one master at a time among a named set of peers."""

from wit_world.imports import elector as _wit
from wit_world.imports.elector import LeaseOutcome_Held, LeaseOutcome_Renewed, LeaseOutcome_Won

from ._errors import call

__all__ = ["LeaseOutcome_Held", "LeaseOutcome_Renewed", "LeaseOutcome_Won", "elect_for_duration", "reset_elector"]


def reset_elector(name, duration_ms, peer):
    """Adds ``peer`` to elector ``name``, creating it with ``duration_ms``."""
    call(_wit.reset_elector, name, duration_ms, peer)


def elect_for_duration(name, peer):
    """Wins, renews or says who holds the lease: ``LeaseOutcome_Won(term)``,
    ``LeaseOutcome_Renewed(term)`` or ``LeaseOutcome_Held(lease)``."""
    return call(_wit.elect_for_duration, name, peer)
