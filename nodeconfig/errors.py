"""The one error the config loader raises."""

from __future__ import annotations

from nodeconfig.redact import redact_text


class ConfigError(Exception):
    """A config file that cannot be used: names the file, the key and the problem.

    ``key`` is a dotted path (``governance.reconnect.multiplier``,
    ``governance.endpoints[0].url``), or None when the problem concerns the
    whole file (missing, unreadable, not YAML).
    """

    def __init__(self, file: str, key: str | None, problem: str) -> None:
        # A bad value is quoted in the problem: an RPC URL's credentials must not be.
        problem = redact_text(problem)
        # Passing every field to Exception keeps the error picklable: it may
        # be raised in one process and reported by another.
        super().__init__(file, key, problem)
        self.file = file
        self.key = key
        self.problem = problem

    def __str__(self) -> str:
        if self.key is None:
            return f"{self.file}: {self.problem}"
        return f"{self.file}: {self.key}: {self.problem}"
