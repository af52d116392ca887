"""Every record the node writes is exactly one line, whatever text governance or a client
put into it: escaping alone, then through the handler the node installs, into a file."""

from __future__ import annotations

import logging
import logging.config
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nodeconfig import LogRateLimitConfig
from runtime import logs
from runtime.logline import OneLineFormatter, escape_line, shorten
from runtime.logs import NodeLogHandler, actor_logger, log_defs, log_directly

FORGED = "2026-05-01 12:00:00,000 INFO alys.bridge pid=1 peg-out po-x broadcast: txid FORGED"


def lines_of(path: Path) -> list[str]:
    # newline="" and split("\n"): only a real line feed ends a line here, so a
    # stray \r or \u2028 in the file would show up as part of a line, not be
    # silently taken for a break.
    with path.open(encoding="utf-8", newline="") as file:
        text = file.read()
    assert text.endswith("\n")
    return text[:-1].split("\n")


def write_one(path: Path, msg: str, *args: object, level: int = logging.WARNING,
              exc_info: Any = None) -> None:
    handler = NodeLogHandler(path)
    try:
        handler.handle(logging.LogRecord("alys.bridge", level, __file__, 1, msg, args, exc_info))
    finally:
        handler.close()


# --- escaping ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\nb", "a\\nb"),
        ("a\rb", "a\\rb"),
        ("a\tb", "a\\tb"),
        ("a\x00b", "a\\x00b"),
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("a\x7fb", "a\\x7fb"),
        ("a\x85b", "a\\x85b"),
        ("a\x9bb", "a\\x9bb"),
        ("a\u2028b", "a\\u2028b"),
        ("a\u2029b", "a\\u2029b"),
        ("a\u202eb", "a\\u202eb"),
        ("a\x0b\x0c\x1cb", "a\\x0b\\x0c\\x1cb"),
        ("a\ud800b", "a\\ud800b"),
    ],
)
def test_control_characters_and_separators_become_visible_escapes(raw: str, shown: str) -> None:
    assert escape_line(raw) == shown


def test_printable_text_is_written_as_it_is() -> None:
    text = r"peg-out po-1 to bc1q... für 日本 ok C:\spool\n is a literal backslash-n"
    assert escape_line(text) is text


def test_no_character_of_the_basic_plane_can_break_an_escaped_line() -> None:
    # Every character str.splitlines breaks on lies in the basic plane.
    for code in range(0x10000):
        escaped = escape_line(f"x{chr(code)}x")
        assert len(escaped.splitlines()) == 1, hex(code)
        escaped.encode("utf-8")  # no lone surrogate is left to make the file write raise


def test_an_overlong_record_keeps_its_head_and_tail() -> None:
    text = "head" + "x" * 1000 + "tail"
    short = shorten(text, 100)
    assert short.startswith("head") and short.endswith("tail")
    assert "[908 characters cut]" in short
    assert shorten("fine", 100) == "fine"


# --- through the handler into a file ------------------------------------------------------------


def test_a_forged_record_in_a_request_id_stays_on_the_line_that_carries_it(tmp_path: Path) -> None:
    path = tmp_path / "node.log"

    write_one(path, "peg-out %s rejected: %s", f"po-1\n{FORGED}", "bad amount", level=logging.INFO)

    lines = lines_of(path)
    assert len(lines) == 1
    assert f"peg-out po-1\\n{FORGED} rejected: bad amount" in lines[0]
    assert not any(line.startswith("2026-05-01") for line in lines)


def test_a_carriage_return_a_separator_and_an_escape_sequence_stay_on_one_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "node.log"

    write_one(path, "unexpected frame from governance (%s): %s", "kind",
              f"x\r{FORGED}\u2028{FORGED}\x1b[1A\x85")

    (line,) = lines_of(path)
    assert f"x\\r{FORGED}\\u2028{FORGED}\\x1b[1A\\x85" in line


def test_a_lone_surrogate_is_escaped_and_the_record_still_written(tmp_path: Path) -> None:
    path = tmp_path / "node.log"
    name = b"id-\xff".decode("utf-8", "surrogateescape")

    write_one(path, "peg-out %s failed", name)

    (line,) = lines_of(path)
    assert line.endswith("peg-out id-\\udcff failed")


def test_a_traceback_is_written_on_its_records_line(tmp_path: Path) -> None:
    path = tmp_path / "node.log"
    try:
        raise ValueError(f"bad frame\n{FORGED}")
    except ValueError:
        exc_info = sys.exc_info()

    write_one(path, "spool %s: could not undo a failed append", "s1", level=logging.ERROR,
              exc_info=exc_info)

    (line,) = lines_of(path)
    assert "could not undo a failed append\\nTraceback (most recent call last):\\n  File " in line
    assert line.endswith(f"ValueError: bad frame\\n{FORGED}")


def test_the_formatter_bounds_the_length_of_a_line() -> None:
    record = logging.LogRecord("alys.stream", logging.WARNING, __file__, 1, "detail %s",
                               ("\n" * 10_000,), None)

    line = OneLineFormatter(max_chars=1000).format(record)

    # Cut before escaping: 1,000 characters kept, each at most six once escaped.
    assert len(line) <= 6 * 1000 + 50 and "characters cut" in line


# --- the setup the node's processes use ---------------------------------------------------------


@pytest.fixture
def node_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Lets this process install the node's logging again, and puts the old one back after."""
    alys = logging.getLogger("alys")
    saved = [(alys, list(alys.handlers), alys.level, alys.propagate)]
    monkeypatch.setattr(logs, "_direct_for_pid", None)
    yield
    for logger, handlers, level, propagate in saved:
        for handler in list(logger.handlers):
            if handler not in handlers:
                logger.removeHandler(handler)
                handler.close()
        for handler in handlers:
            if handler not in logger.handlers:
                logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def close_handlers(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


@pytest.mark.usefixtures("node_logging")
def test_an_actor_process_writes_one_line_per_record_and_counts_repeats(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "node.log"
    path.parent.mkdir()
    log_directly(path, "INFO", LogRateLimitConfig(lines=3, window_s=60.0))
    log = actor_logger("stream")

    log.info("started pid=%d supervisor=%s", 1234, "system_supervisor")
    for n in range(10):
        log.warning("unexpected frame from governance (%s): %s", "kind", f"n{n}\n{FORGED}")
    log.warning("supervision event=restart supervisor=root child=bridge reason=killed "
                "decision=restart attempt=1 old_pid=1 new_pid=2")
    close_handlers(logging.getLogger("alys"))  # a clean exit: the open window is reported

    lines = lines_of(path)
    assert [line.split(" ", 4)[2:4] for line in lines] == [
        ["INFO", "alys.stream"], *[["WARNING", "alys.stream"]] * 5]
    assert lines[1].endswith(f"unexpected frame from governance (kind): n0\\n{FORGED}")
    assert lines[3].endswith("n2\\n" + FORGED)
    assert lines[4].endswith(" supervision event=restart supervisor=root child=bridge "
                             "reason=killed decision=restart attempt=1 old_pid=1 new_pid=2")
    assert lines[5].endswith(
        'suppressed 7 similar lines within 60s: "unexpected frame from governance (%s): %s"')


def test_the_thespian_logging_process_writes_through_the_same_handler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("THESPLOG_FILE", raising=False)
    monkeypatch.delenv("THESPLOG_THRESHOLD", raising=False)
    path = tmp_path / "node.log"
    defs = log_defs(path, "INFO", LogRateLimitConfig(lines=2))
    # The handler as dictConfig builds it in Thespian's logging process, without
    # reconfiguring this process's root logger.
    configurator = logging.config.DictConfigurator(defs)
    handler = configurator.configure_handler(configurator.config["handlers"]["file"])
    assert isinstance(handler, NodeLogHandler) and handler.level == logging.INFO
    other = logging.Logger("grpc.somewhere")
    other.addHandler(handler)

    for n in range(4):
        other.warning("peer said %s", f"n{n}\n{FORGED}")
    handler.close()

    lines = lines_of(path)
    assert len(lines) == 3
    assert " WARNING grpc.somewhere pid=" in lines[0]
    assert lines[1].endswith(f"peer said n1\\n{FORGED}")
    assert lines[2].endswith('suppressed 2 similar lines within 60s: "peer said %s"')
