"""Change a running process's log level (a reloaded `logging.level`).

The level is set on the logger and on each of its handlers: `runtime.logs` sets both
when a process starts, and a handler left at the old level would still drop (or let
through) what the logger now lets through (or drops).
"""

from __future__ import annotations

import logging


def apply_level(logger: logging.Logger, level: str) -> bool:
    """Set `level` on `logger` and its handlers; True if the logger's level changed."""
    number = logging.getLevelName(level)
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {level!r}")
    changed = logger.level != number
    logger.setLevel(number)
    for handler in logger.handlers:
        handler.setLevel(number)
    return changed
