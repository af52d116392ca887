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
"""

from __future__ import annotations

import logging
import re

from nodeconfig.redact import redact_text

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
