"""Who and where this component is, as its deployment says."""

from wit_world.imports import deployment as _wit
from wit_world.imports.deployment import Role

__all__ = ["Role", "whoami"]


def whoami():
    """``.id``, ``.name``, ``.role``, ``.election``, ``.ballot_data``, ``.host`` and
    ``.session`` of this instance."""
    return _wit.whoami()
