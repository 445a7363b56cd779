"""Taking part in the deployment's election (candidates)."""

from wit_world.imports import election as _wit

from ._errors import call


def vote(data=b""):
    """Casts a new ballot with ``data``, after a resign."""
    call(_wit.vote, bytes(data))


def resign():
    """Withdraws the ballot (and the ack, if leading) in one step."""
    call(_wit.resign)


def leader(election):
    """The acknowledged leader of ``election`` (``.candidate``, ``.term``, ``.data``,
    ``.deployment``), or ``None``."""
    return call(_wit.leader, election)


def ack(data):
    """As leader, replaces the ack data observers see."""
    call(_wit.ack, bytes(data))


def hand_off(to=None):
    """As leader, gives the leadership to deployment ``to`` (or the next in line). This
    instance is revoked in that step: nothing it does afterwards takes effect."""
    call(_wit.hand_off, to)
