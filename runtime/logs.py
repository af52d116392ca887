"""One log file for the whole node.

Every actor process appends its own records (`alys.*` loggers) straight to
the file, one `write` per line in append mode, so lines from different
processes never interleave. They used to travel to Thespian's logging
process as messages, which cost a busy actor about a Thespian send per line:
with a line per federation update, logging was most of the ChainActor's
time. Records of other loggers still go the Thespian way, through the
`logDefs` dictConfig built here. Either way: one line per record with time,
level, actor (the logger name `alys.<actor>`) and pid.

Every writer of the file (each actor process, Thespian's logging process, the
launcher) writes through a `NodeLogHandler`, so two guards sit in one
place and no call site has to remember them: every record is escaped into
exactly one line (runtime/logline.py), and repeated warnings of one kind are
counted instead of written past a limit (runtime/lograte.py). Thespian's own
internal log goes beside the file (`THESPLOG_FILE`), not to /tmp; it is
Thespian's format, not guarded here.

The line is text (`LINE_FORMAT`) or, with `logging.format: json`, one JSON
object (runtime/logline.py lists its fields).

Rotation loses no line and needs no signal: every writer watches the file's
name. At most once a `REOPEN_CHECK_S`, before writing a line, a handler
compares the inode at the file's path with the one it holds open; when the
file was renamed away (logrotate's default), or removed, it closes its copy
and opens the path again (creating it in append mode if nobody has yet). Until
then its lines go on to the renamed file, whole: a line is in the old file or
the new one, never lost and never split; so they do while the path cannot be
opened. A removed file loses the lines of that second. Why not a signal that the launcher
passes on: the file's writers include processes the launcher does not know
by pid (Thespian's logging process; an actor forked a moment after the pids
were read), and a signal sent to a process that did not install a handler
for it kills it. With `delaycompress` (ops/logrotate/alys-node) the renamed
file is compressed a whole rotation later, when no process writes it any more.
`copytruncate` must not be used: it loses the lines written between its copy
and its truncation.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nodeconfig import LogRateLimitConfig
from runtime.logline import LINE_FORMAT, formatter_for
from runtime.lograte import RepeatFilter

__all__ = [
    "LINE_FORMAT",
    "REOPEN_CHECK_S",
    "NodeLogHandler",
    "actor_logger",
    "log_defs",
    "log_directly",
    "thespian_log_path",
]

# How often, at most, a writer looks whether the log file was rotated away.
REOPEN_CHECK_S = 1.0


class NodeLogHandler(logging.FileHandler):
    """The handler every writer of the node's log uses: it appends one escaped line
    per record (`log_format`: `text` or `json`), holds back repeated warnings
    (`rate_limit`, the config's defaults when None), and follows the file's name when
    it is rotated. Also the dictConfig factory of `log_defs`."""

    def __init__(
        self,
        log_file: str | os.PathLike[str],
        level: str | int = logging.NOTSET,
        rate_limit: LogRateLimitConfig | None = None,
        *,
        log_format: str = "text",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # errors="backslashreplace": the formatter already escapes lone surrogates;
        # this is the net under it, so an unencodable character never loses a record.
        super().__init__(log_file, mode="a", encoding="utf-8", errors="backslashreplace")
        self.setFormatter(formatter_for(log_format))
        self._clock = clock
        self._check_due = clock() + REOPEN_CHECK_S
        self._identity = self._open_identity()
        self.setLevel(level)
        limits = rate_limit or LogRateLimitConfig()
        self.repeats = RepeatFilter(limits.lines, limits.window_s, clock=clock,
                                    sink=self.handle)
        self.addFilter(self.repeats)
        self._owner_pid = os.getpid()

    def emit(self, record: logging.LogRecord) -> None:
        # Called with the handler's lock held: no other thread of this process writes
        # while the file is swapped.
        now = self._clock()
        if now >= self._check_due:
            self._check_due = now + REOPEN_CHECK_S
            self.reopen_if_rotated()
        super().emit(record)

    def reopen_if_rotated(self) -> bool:
        """Open the path again if the file there is no longer the one written; whether
        it did."""
        try:
            info = os.stat(self.baseFilename)
            if (info.st_dev, info.st_ino) == self._identity:
                return False
        except FileNotFoundError:
            pass  # removed or renamed, and not yet created again: this writer creates it
        try:
            opened = self._open()
        except OSError:
            # The path cannot be opened (logrotate's `create` gave it to another user, say):
            # lines go on to the file held open, renamed but not lost, until a later check.
            return False
        if self.stream is not None:
            self.stream.close()
        self.stream = opened
        self._identity = self._open_identity()
        return True

    def _open_identity(self) -> tuple[int, int] | None:
        if self.stream is None:
            return None
        info = os.fstat(self.stream.fileno())
        return info.st_dev, info.st_ino

    def close(self) -> None:
        # At a clean exit the counts of windows still open would be lost. Only in
        # the process that made the handler: a forked child inherits a copy of
        # the counts, and must not report its parent's suppressed lines as well.
        if os.getpid() == self._owner_pid and self.stream is not None:
            self.repeats.flush_summaries()
        super().close()


def thespian_log_path(node_log: str | os.PathLike[str]) -> Path:
    path = Path(node_log)
    return path.with_name(path.stem + ".thespian" + path.suffix)


def log_defs(
    log_file: str | os.PathLike[str], level: str, rate_limit: LogRateLimitConfig | None = None,
    log_format: str = "text",
) -> dict[str, Any]:
    """The logDefs for `ActorSystem(...)`; also points Thespian's own log beside it."""
    path = Path(log_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.environ["THESPLOG_FILE"] = str(thespian_log_path(path))
    os.environ.setdefault("THESPLOG_THRESHOLD", "WARNING")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {
            "file": {
                "()": f"{__name__}.NodeLogHandler",
                "log_file": str(path),
                "rate_limit": rate_limit,
                "level": level,
                "log_format": log_format,
            }
        },
        "root": {"handlers": ["file"], "level": level},
    }


def actor_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"alys.{name}")


_direct_for_pid: int | None = None


def log_directly(
    log_file: str | os.PathLike[str], level: str, rate_limit: LogRateLimitConfig | None = None,
    log_format: str = "text",
) -> None:
    """Make this process's `alys.*` records go straight to the node's log file.

    Once per process: a forked child finds its parent's handler and replaces it
    with its own, so no two processes share a buffered stream (or a count of
    suppressed lines)."""
    global _direct_for_pid
    if _direct_for_pid == os.getpid():
        return
    _direct_for_pid = os.getpid()
    logger = logging.getLogger("alys")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.addHandler(NodeLogHandler(log_file, level, rate_limit, log_format=log_format))
    logger.setLevel(level)
    logger.propagate = False
