"""One log file for the whole node.

Every actor process appends its own records (`alys.*` loggers) straight to
the file, one `write` per line in append mode, so lines from different
processes never interleave. They used to travel to Thespian's logging
process as messages, which cost a busy actor about a Thespian send per line:
with a line per federation update, logging was most of the ChainActor's
time. Records of other loggers still go the Thespian way, through the
`logDefs` dictConfig built here. Either way: one line per record with time,
level, actor (the logger name `alys.<actor>`) and pid. Thespian's own
internal log goes beside it (`THESPLOG_FILE`), not to /tmp.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s pid=%(process)d %(message)s"


def thespian_log_path(node_log: str | os.PathLike[str]) -> Path:
    path = Path(node_log)
    return path.with_name(path.stem + ".thespian" + path.suffix)


def log_defs(log_file: str | os.PathLike[str], level: str) -> dict[str, Any]:
    """The logDefs for `ActorSystem(...)`; also points Thespian's own log beside it."""
    path = Path(log_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.environ["THESPLOG_FILE"] = str(thespian_log_path(path))
    os.environ.setdefault("THESPLOG_THRESHOLD", "WARNING")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"format": LINE_FORMAT}},
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "filename": str(path),
                "formatter": "line",
                "level": level,
            }
        },
        "root": {"handlers": ["file"], "level": level},
    }


def actor_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"alys.{name}")


_direct_for_pid: int | None = None


def log_directly(log_file: str | os.PathLike[str], level: str) -> None:
    """Make this process's `alys.*` records go straight to the node's log file.

    Once per process: a forked child finds its parent's handler and replaces it
    with its own, so no two processes share a buffered stream."""
    global _direct_for_pid
    if _direct_for_pid == os.getpid():
        return
    _direct_for_pid = os.getpid()
    logger = logging.getLogger("alys")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.FileHandler(log_file, mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter(LINE_FORMAT))
    handler.setLevel(level)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
