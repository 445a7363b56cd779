"""Log lines that land in the host's log, tagged with the deployment."""

from wit_world.imports import log as _wit
from wit_world.imports.log import Level

__all__ = ["Level", "debug", "error", "info", "log", "trace", "warn"]


def log(level, message):
    """Writes one line at ``level``."""
    _wit.log(level, str(message))


def trace(message):
    """Writes one trace line."""
    log(Level.TRACE, message)


def debug(message):
    """Writes one debug line."""
    log(Level.DEBUG, message)


def info(message):
    """Writes one info line."""
    log(Level.INFO, message)


def warn(message):
    """Writes one warning."""
    log(Level.WARN, message)


def error(message):
    """Writes one error line."""
    log(Level.ERROR, message)
