"""One record, one line: whatever text a record carries, it cannot start another line.

Ids, reasons and error details in log records come from governance and from
clients. Written as they are, a request id holding a newline and a log-shaped
tail writes a second, forged record into the node's log. So the formatter the
node installs escapes the finished line (message, exception traceback, stack)
before it reaches the file:

- ``\\n``, ``\\r`` and ``\\t`` are written as those two-character escapes;
- every other C0 control, DEL and every C1 control (among them U+0085, which
  ``str.splitlines`` and some viewers take for a line break) as ``\\xNN``;
- the Unicode line and paragraph separators U+2028/U+2029, and the bidi
  controls that can make a terminal show a line other than the one written
  (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069), as ``\\uNNNN``;
- a lone surrogate (from a ``surrogateescape``-decoded name, say) as
  ``\\udNNN``, where it would otherwise make the UTF-8 encoding raise and lose
  the record.

Backslashes themselves are left alone: a client may put a literal ``\\n`` in
an id and the line stays one line; escaping every backslash would make
ordinary paths and reprs harder to read for no gain in safety.

A traceback is escaped like the rest, so it sits on its record's line, its
line breaks shown as ``\\n``: one record is one line, which is what ``grep``,
``tail -f`` and the tests that read the log rely on, and no continuation
line can be taken for a record (or be forged to look like one).
``sed 's/\\\\n/\\n/g'`` gives the traceback its shape back for reading.

Every URL in the line is redacted (``nodeconfig/redact.py``: user information,
query values, key-like path segments), whoever logged it: a config, an
exception or a message printed whole shows no credential.

A record longer than ``max_chars`` keeps its head and its tail, which for a
traceback holds the exception, and says how much was cut from the middle:
one hostile multi-megabyte string must not become a multi-megabyte line.

With ``logging.format: json`` each record is one JSON object on one line
(``JsonLineFormatter``), for log shippers. Fields, in this order:

- ``time``: RFC 3339, UTC, milliseconds (``2026-12-05T07:30:00.123Z``);
- ``level``: ``DEBUG`` .. ``CRITICAL``;
- ``actor``: the logger's name without ``alys.`` (``bridge``, ``stream``,
  ``root``, ``launcher``; another library's logger keeps its full name);
- ``pid``;
- ``message``: the text a text line would show after ``pid=``, redacted and
  cut as above;
- ``event``, only where there is one: a peg-out's event (``rejected``,
  ``failed``, ``broadcast``...) or a supervision event (``restart``...);
- ``request_id``, only where there is one: the id of the peg-out, peg-in,
  push or proposal the line is about (the message being handled, or the
  peg-out event), redacted like the message;
- ``trace_id``, only while tracing is on, for a line written inside a traced
  span or about a traced peg-out's event (32 hex digits, the trace's id in the
  tracing backend);
- ``exception``, only with a traceback or stack.

The JSON is ASCII (``\\uNNNN`` escapes): no character in it can break,
forge or hide a line. A lone surrogate is written as the text ``\\udNNN``, so
every line is well-formed Unicode that strict JSON parsers take.
"""

from __future__ import annotations

import json
import logging
import re
import time

from nodeconfig.redact import redact_text
from runtime import logcontext, tracing
from runtime.lograte import SUPERVISION_PREFIX

LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s pid=%(process)d %(message)s"
MAX_LINE_CHARS = 64 * 1024

_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    short = _SHORT.get(char)
    if short is not None:
        return short
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_line(text: str) -> str:
    """`text` with every character that could break, forge or hide a line made visible."""
    # Nearly every line is printable as it is; isprintable() is false for every
    # character the pattern matches (all are Cc, Cf, Cs, Zl or Zp), so the
    # regular expression only runs on the rare line that needs it.
    if text.isprintable():
        return text
    return _UNSAFE.sub(_escape_char, text)


def well_formed(text: str) -> str:
    """`text` with each lone surrogate (a `surrogateescape`-decoded byte, say) written as
    the text `\\udNNN`: what is left encodes as UTF-8 and parses as I-JSON."""
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def shorten(text: str, max_chars: int) -> str:
    """`text` cut in the middle to about `max_chars`, saying how many characters went."""
    if len(text) <= max_chars:
        return text
    keep = max_chars // 2
    cut = len(text) - 2 * keep
    return f"{text[:keep]} ...[{cut} characters cut]... {text[len(text) - keep:]}"


class OneLineFormatter(logging.Formatter):
    """The node's line format, escaped so that every record is exactly one line."""

    def __init__(self, fmt: str = LINE_FORMAT, *, max_chars: int = MAX_LINE_CHARS) -> None:
        super().__init__(fmt)
        self.max_chars = max_chars

    def format(self, record: logging.LogRecord) -> str:
        # Shortened before escaping so the cut never splits an escape; escaping
        # at most sextuples the length, which keeps the line bounded.
        # Redacted first: a URL's credentials must not survive in either half of a cut.
        return escape_line(shorten(redact_text(super().format(record)), self.max_chars))


_SUPERVISION_EVENT = re.compile(re.escape(SUPERVISION_PREFIX) + r"(\S+)")


def rfc3339_utc(created: float) -> str:
    """`created` (seconds since the epoch) as RFC 3339 UTC with milliseconds."""
    seconds = int(created)
    millis = min(int((created - seconds) * 1000), 999)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


class JsonLineFormatter(logging.Formatter):
    """The node's JSON line: one object per record (fields in the module's docstring)."""

    def __init__(self, *, max_chars: int = MAX_LINE_CHARS) -> None:
        super().__init__()
        self.max_chars = max_chars

    def format(self, record: logging.LogRecord) -> str:
        message = shorten(redact_text(record.getMessage()), self.max_chars)
        name = record.name
        line: dict[str, object] = {
            "time": rfc3339_utc(record.created),
            "level": record.levelname,
            "actor": name[5:] if name.startswith("alys.") else name,
            "pid": record.process,
            "message": message,
        }
        request_id, event, trace_id = logcontext.current
        event = getattr(record, "event", None) or event
        if event is None and message.startswith(SUPERVISION_PREFIX):
            found = _SUPERVISION_EVENT.match(message)
            event = found.group(1) if found else None
        if event is not None:
            line["event"] = event
        if request_id is None and logcontext.handling is not None:
            request_id = logcontext.request_id_of(logcontext.handling)
        request_id = getattr(record, "request_id", None) or request_id
        if request_id is not None:
            # Redacted like the message: the text line shows an id only inside it.
            line["request_id"] = shorten(redact_text(str(request_id)), 1024)
        trace_id = tracing.current_trace_id() or trace_id
        if trace_id is not None:
            line["trace_id"] = trace_id
        trouble = self._trouble(record)
        if trouble:
            line["exception"] = shorten(redact_text(trouble), self.max_chars)
        # ASCII: every control, separator and bidi character is a \\u escape. A lone
        # surrogate would be one too, which strict parsers (I-JSON, serde_json) refuse, losing
        # the line at the shipper: it is written as text, `\\udNNN`, as the text format does.
        return json.dumps({key: well_formed(value) if isinstance(value, str) else value
                           for key, value in line.items()}, ensure_ascii=True)

    def _trouble(self, record: logging.LogRecord) -> str:
        parts = []
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            parts.append(record.exc_text)
        if record.stack_info:
            parts.append(self.formatStack(record.stack_info))
        return "\n".join(parts)


def formatter_for(log_format: str) -> logging.Formatter:
    """The formatter of `logging.format` (`text` or `json`, checked by the config)."""
    if log_format == "json":
        return JsonLineFormatter()
    if log_format == "text":
        return OneLineFormatter()
    raise ValueError(f"logging.format must be 'text' or 'json', got {log_format!r}")
