"""Repeated warnings are counted, not written: a hostile peer must not flood the log.

Every unexpected frame from governance, every failed attempt a client can
provoke, writes a WARNING or an ERROR. Lines of one *kind* (logger name,
level, message template ``record.msg``) pass until ``lines`` of them were
written in the kind's window of ``window_s``; the rest of that window is only
counted, and once the window is over one line says how many were held back:

    ... WARNING alys.stream pid=7 suppressed 1234 similar lines within 60s: "unexpected frame ..."

The template, not the finished message, makes the kind: the lines a flood
repeats differ only in their arguments.

What is never held back:

- INFO and DEBUG: the node's lifecycle and audit trail (an actor started, a
  peg-out was broadcast) where every line is a distinct fact, written by
  the node on its own schedule rather than once per hostile frame;
- supervision events (``supervision event=...``, any level): the record of
  restarts and escalations must be whole to be trusted;
- the summary lines themselves.

The summary of a window is written by the first record (of any kind) that
arrives after the window ended, or when the handler is closed: an actor has
no thread to spare for a timer. The count comes late, then, but is not lost
(short of a kill). The clock is injected: tests advance a fake one.

Memory and output are bounded: templates are keyed by their first
``TEMPLATE_CHARS`` characters, numbers masked when the message came already
formatted; and since a call site that pre-formats hostile text still makes a
new kind per line, past ``max_kinds`` open windows the new kinds of a logger
and level share one window. So a process writes at most ``max_kinds * lines``
WARNING-or-worse lines a window, plus ``lines`` per logger and level.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

SUPERVISION_PREFIX = "supervision event="
TEMPLATE_CHARS = 200
MAX_KINDS = 256
_NUMBERS = re.compile(r"0x[0-9a-fA-F]+|[0-9]+")
OTHER_KINDS = "(lines of kinds past the tracked maximum)"
# The attribute that marks a summary record, so the filter lets it through.
SUMMARY_MARK = "alys_suppressed_summary"


@dataclass(frozen=True)
class Kind:
    logger: str
    level: int
    template: str


@dataclass
class _Window:
    opened_at: float
    passed: int = 0
    suppressed: int = 0


@dataclass(frozen=True)
class Suppressed:
    """What one closed window held back."""

    kind: Kind
    count: int


@dataclass
class RepeatLimiter:
    """At most `lines` records of one kind per window of `window_s`; pure, time comes in."""

    lines: int
    window_s: float
    max_kinds: int = MAX_KINDS
    # Insertion order is opening order (time only moves forward), so the
    # windows due to close are always at the front.
    _windows: dict[Kind, _Window] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.lines < 1 or self.window_s <= 0 or self.max_kinds < 1:
            raise ValueError(f"bad limits: lines={self.lines} window_s={self.window_s} "
                             f"max_kinds={self.max_kinds}")

    def __bool__(self) -> bool:
        """Whether any window is open (and so may close)."""
        return bool(self._windows)

    def admit(self, kind: Kind, now: float) -> bool:
        """Count a record of `kind` at `now`; True if it is to be written."""
        window = self._windows.get(kind)
        if window is None:
            if len(self._windows) >= self.max_kinds:
                kind = Kind(kind.logger, kind.level, OTHER_KINDS)
                window = self._windows.get(kind)
            if window is None:
                window = self._windows[kind] = _Window(opened_at=now)
        if window.passed < self.lines:
            window.passed += 1
            return True
        window.suppressed += 1
        return False

    def close_due(self, now: float) -> list[Suppressed]:
        """Forget the windows that ended by `now`; what those held back."""
        held: list[Suppressed] = []
        deadline = now - self.window_s
        while self._windows:
            kind, window = next(iter(self._windows.items()))
            if window.opened_at > deadline:
                break
            del self._windows[kind]
            if window.suppressed:
                held.append(Suppressed(kind, window.suppressed))
        return held

    def close_all(self) -> list[Suppressed]:
        """Forget every window, ended or not (at shutdown); what they held back."""
        held = [Suppressed(kind, w.suppressed) for kind, w in self._windows.items() if w.suppressed]
        self._windows.clear()
        return held


def kind_of(record: logging.LogRecord) -> Kind:
    msg = record.msg
    if not isinstance(msg, str):
        # An exception, a dict: grouped by type, as its value may be unhashable
        # and grouping by value would not bound the keys.
        return Kind(record.name, record.levelno, f"<{type(msg).__name__}>")
    template = msg[:TEMPLATE_CHARS]
    if not record.args:
        # Formatted before it reached logging (an f-string, or a record Thespian
        # forwarded: it formats them in the sending actor): what varies between
        # repeats is mostly numbers, pids and object addresses, so they are masked.
        template = _NUMBERS.sub("#", template)
    return Kind(record.name, record.levelno, template)


def is_supervision_event(record: logging.LogRecord) -> bool:
    msg = record.msg
    return isinstance(msg, str) and msg.startswith(SUPERVISION_PREFIX)


def summary_record(held: Suppressed, window_s: float) -> logging.LogRecord:
    record = logging.LogRecord(
        held.kind.logger, held.kind.level, pathname=__file__, lineno=0,
        msg='suppressed %d similar lines within %gs: "%s"',
        args=(held.count, window_s, held.kind.template), exc_info=None)
    setattr(record, SUMMARY_MARK, True)
    return record


def _to_own_logger(record: logging.LogRecord) -> None:
    logging.getLogger(record.name).handle(record)


class RepeatFilter(logging.Filter):
    """The logging side of `RepeatLimiter`: drops held-back records, writes the summaries.

    `sink` receives the summary records: the handler the filter sits on, so the
    summary goes where the suppressed lines would have gone (by default, the
    logger the kind came from)."""

    def __init__(
        self,
        lines: int,
        window_s: float,
        *,
        min_level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
        sink: Callable[[logging.LogRecord], object] = _to_own_logger,
        max_kinds: int = MAX_KINDS,
    ) -> None:
        super().__init__()
        self.limiter = RepeatLimiter(lines, window_s, max_kinds)
        self.min_level = min_level
        self.clock = clock
        self.sink = sink
        self._lock = threading.Lock()
        # Kept beside the limiter so the common case reads one attribute.
        self._any_open = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.min_level and not self._any_open:
            return True  # nearly every record: below the limit, no window to close
        if getattr(record, SUMMARY_MARK, False):
            return True
        now = self.clock()
        # A process may log from threads besides the actor's (the stream runs a
        # reader); the handler's own lock is taken only after the filters ran.
        with self._lock:
            held = self.limiter.close_due(now)
            admitted = (record.levelno < self.min_level or is_supervision_event(record)
                        or self.limiter.admit(kind_of(record), now))
            self._any_open = bool(self.limiter)
        # Outside the lock: the sink hands the summaries back to this filter.
        self._write(held)
        return admitted

    def flush_summaries(self) -> None:
        """Write what every open window held back so far (the handler is closing)."""
        with self._lock:
            held = self.limiter.close_all()
            self._any_open = False
        self._write(held)

    def _write(self, held: list[Suppressed]) -> None:
        for suppressed in held:
            self.sink(summary_record(suppressed, self.limiter.window_s))
