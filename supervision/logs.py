"""One log file for the whole node.

Thespian forwards every actor process's log records to its logging process,
which applies the `logDefs` dictConfig built here: one file, one line per
record with time, level, actor (the logger name `alys.<actor>`) and pid.
Thespian's own internal log goes beside it (`THESPLOG_FILE`), not to /tmp.
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
