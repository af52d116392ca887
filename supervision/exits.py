"""The launcher's exit codes and its one error type.

A module of their own: `scripts/start` runs `supervision.launcher` as
`__main__`, so a class defined there and imported by `running.py` would be
two different classes, and the launcher would not catch its own error.
"""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2


class LauncherError(Exception):
    """The node cannot start or keep running; the message tells the operator why."""
