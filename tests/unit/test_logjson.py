"""`logging.format: json`: one JSON object per record, with the fields tools read; and a
writer that follows the file's name when it is rotated, losing no line."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nodeconfig import ConfigError, build_config
from runtime import logcontext
from runtime.logline import JsonLineFormatter, OneLineFormatter, formatter_for, rfc3339_utc
from runtime.logs import REOPEN_CHECK_S, NodeLogHandler

REPO = Path(__file__).resolve().parents[2]


def record(msg: str, *args: object, name: str = "alys.bridge", level: int = logging.INFO,
           **extra: object) -> logging.LogRecord:
    made = logging.LogRecord(name, level, __file__, 1, msg, args, None)
    made.created = 1_780_000_000.25
    made.process = 4242
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def test_a_json_line_holds_time_level_actor_pid_and_message() -> None:
    line = JsonLineFormatter().format(record("federation version %d", 7))

    assert json.loads(line) == {"time": "2026-05-28T20:26:40.250Z", "level": "INFO",
                                "actor": "bridge", "pid": 4242,
                                "message": "federation version 7"}


def test_the_id_and_event_being_handled_are_fields_of_the_line() -> None:
    previous = logcontext.about("po-1", "rejected")
    try:
        line = json.loads(JsonLineFormatter().format(record("peg-out %s rejected", "po-1")))
    finally:
        logcontext.restore(previous)

    assert (line["request_id"], line["event"]) == ("po-1", "rejected")
    assert logcontext.current == logcontext.NONE


def test_a_line_written_while_a_message_is_handled_names_the_message_s_id() -> None:
    from actors.messages import Batch, InitiatePegout, ProposalReceived

    formatter = JsonLineFormatter()
    cases = [(InitiatePegout("po-9", "00", (0,), (1,)), "po-9"),
             (ProposalReceived("prop-3", "t", b"", 0, 1), "prop-3"),
             (Batch(()), None)]
    for message, expected in cases:
        previous, logcontext.handling = logcontext.handling, message
        try:
            line = json.loads(formatter.format(record("x")))
        finally:
            logcontext.handling = previous
        assert line.get("request_id") == expected
    # What names its own id (a peg-out's event) wins over the message being handled.
    previous_handling, logcontext.handling = logcontext.handling, cases[0][0]
    previous = logcontext.about("po-other", "failed")
    try:
        assert json.loads(formatter.format(record("x")))["request_id"] == "po-other"
    finally:
        logcontext.restore(previous)
        logcontext.handling = previous_handling


def test_a_trace_id_given_with_the_context_is_a_field_of_the_line() -> None:
    previous = logcontext.about("po-1", "broadcast", "0af7651916cd43dd8448eb211c80319c")
    try:
        line = json.loads(JsonLineFormatter().format(record("peg-out po-1 broadcast")))
    finally:
        logcontext.restore(previous)
    assert line["trace_id"] == "0af7651916cd43dd8448eb211c80319c"


def test_a_record_s_own_request_id_wins_over_the_context() -> None:
    previous = logcontext.about("outer")
    try:
        line = json.loads(JsonLineFormatter().format(record("x", request_id="inner")))
    finally:
        logcontext.restore(previous)
    assert line["request_id"] == "inner"


def test_a_supervision_line_names_its_event() -> None:
    line = json.loads(JsonLineFormatter().format(
        record("supervision event=restart child=stream", name="alys.root")))
    assert (line["actor"], line["event"]) == ("root", "restart")


def test_a_line_outside_any_request_or_trace_has_neither_field() -> None:
    line = json.loads(JsonLineFormatter().format(record("started", name="thespian.admin")))
    assert line["actor"] == "thespian.admin"
    assert not {"request_id", "trace_id", "event", "exception"} & set(line)


def test_hostile_text_stays_one_ascii_line_and_urls_are_redacted() -> None:
    text = "a\nb\r\u2028\u202e\ud800 http://user:secret@h/x"
    line = JsonLineFormatter().format(record("%s", text))

    assert line.isascii() and "\n" not in line and "\r" not in line
    assert "secret" not in line
    assert json.loads(line)["message"].startswith("a\nb\r\u2028\u202e")


def test_a_request_id_holding_a_url_is_redacted_as_the_message_is() -> None:
    rid = "http://ops:s3cretpass@10.0.0.5:8332/x"
    line = JsonLineFormatter().format(record("peg-out %s refused", rid, request_id=rid))
    assert "s3cretpass" not in line
    assert json.loads(line)["request_id"] == "http://***@10.0.0.5:8332/x"


def test_a_lone_surrogate_is_written_as_text_so_strict_parsers_take_the_line() -> None:
    undecodable = b"name-\xff".decode("utf-8", "surrogateescape")
    line = JsonLineFormatter().format(record("file %s", undecodable, request_id=undecodable))

    parsed = json.loads(line)
    for field in ("message", "request_id"):
        parsed[field].encode("utf-8")  # well-formed: a lone surrogate would raise here
    assert parsed["message"] == "file name-\\udcff"
    # A character beyond the BMP stays itself (a surrogate pair in the JSON text).
    assert json.loads(JsonLineFormatter().format(record("%s", "\U0001f600")))["message"] == (
        "\U0001f600")


def test_a_traceback_is_a_field_of_the_same_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        made = logging.LogRecord("alys.chain", logging.ERROR, __file__, 1, "failed", (),
                                 sys.exc_info())
    line = JsonLineFormatter().format(made)
    assert line.count("\n") == 0
    assert "ValueError: boom" in json.loads(line)["exception"]


def test_a_huge_message_is_cut() -> None:
    line = JsonLineFormatter(max_chars=1000).format(record("%s", "x" * 100_000))
    assert len(line) < 1500 and "characters cut" in line


def test_time_is_rfc3339_utc_with_milliseconds() -> None:
    assert rfc3339_utc(0.9996) == "1970-01-01T00:00:00.999Z"
    assert rfc3339_utc(1_000_000_000.0) == "2001-09-09T01:46:40.000Z"


def test_the_formats_are_text_and_json_and_nothing_else() -> None:
    assert isinstance(formatter_for("text"), OneLineFormatter)
    assert isinstance(formatter_for("json"), JsonLineFormatter)
    with pytest.raises(ValueError, match="'text' or 'json'"):
        formatter_for("xml")


def test_the_config_refuses_another_format_naming_the_allowed_ones() -> None:
    assert build_config({}, source="/n.yaml", env={}).logging.format == "text"
    assert build_config({"logging": {"format": "json"}}, source="/n.yaml",
                        env={}).logging.format == "json"
    with pytest.raises(ConfigError, match=re.escape(
            "logging.format: unknown value 'yaml'; expected one of: text, json")):
        build_config({"logging": {"format": "yaml"}}, source="/n.yaml", env={})


# --- rotation ---------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def write(handler: NodeLogHandler, text: str) -> None:
    handler.handle(record("%s", text))


def test_a_renamed_file_is_followed_within_the_check_interval(tmp_path: Path) -> None:
    path, clock = tmp_path / "node.log", FakeClock()
    handler = NodeLogHandler(path, log_format="json", clock=clock)
    try:
        write(handler, "one")
        os.rename(path, tmp_path / "node.log.1")
        write(handler, "two")  # before the check is due: to the renamed file, whole
        clock.now += REOPEN_CHECK_S
        write(handler, "three")
    finally:
        handler.close()

    assert (messages(tmp_path / "node.log.1"), messages(path)) == (["one", "two"], ["three"])


def messages(path: Path) -> list[str]:
    """The message of each JSON line of the file at `path`."""
    return [json.loads(line)["message"] for line in path.read_text().splitlines()]


def test_a_path_that_cannot_be_opened_after_the_rename_loses_no_line(tmp_path: Path) -> None:
    path, clock = tmp_path / "node.log", FakeClock()
    handler = NodeLogHandler(path, log_format="json", clock=clock)
    write(handler, "one")
    os.rename(path, tmp_path / "node.log.1")
    path.mkdir()  # what is at the path now cannot be opened for appending (as root too)
    clock.now += REOPEN_CHECK_S
    write(handler, "two")  # kept in the file held open
    path.rmdir()
    clock.now += REOPEN_CHECK_S
    write(handler, "three")  # the next check opens the path
    handler.close()
    assert (messages(tmp_path / "node.log.1"), messages(path)) == (["one", "two"], ["three"])


def test_a_file_created_again_by_another_writer_is_appended_to(tmp_path: Path) -> None:
    path, clock = tmp_path / "node.log", FakeClock()
    handler = NodeLogHandler(path, clock=clock)
    try:
        write(handler, "one")
        os.rename(path, tmp_path / "node.log.1")
        path.write_text("another process\n")
        clock.now += REOPEN_CHECK_S
        write(handler, "two")
    finally:
        handler.close()

    lines = path.read_text().splitlines()
    assert lines[0] == "another process" and lines[1].endswith(" two")


def test_an_unrotated_file_is_not_reopened(tmp_path: Path) -> None:
    clock = FakeClock()
    handler = NodeLogHandler(tmp_path / "node.log", clock=clock)
    try:
        stream = handler.stream
        clock.now += 10 * REOPEN_CHECK_S
        write(handler, "one")
        assert handler.stream is stream
        assert handler.reopen_if_rotated() is False
    finally:
        handler.close()


def test_lines_far_longer_than_pipe_buf_from_two_processes_never_interleave(
        tmp_path: Path) -> None:
    """Each line is one write(2) in append mode, however long: the kernel appends it whole."""
    path = tmp_path / "node.log"
    writer = (
        "import sys\n"
        "from runtime.logs import NodeLogHandler\n"
        "from runtime.logline import MAX_LINE_CHARS\n"
        "import logging\n"
        f"handler = NodeLogHandler({str(path)!r}, log_format='json')\n"
        "mark = sys.argv[1]\n"
        "for n in range(150):\n"
        "    handler.handle(logging.LogRecord('alys.bridge', logging.INFO, 'x', 1, '%s',\n"
        "                   (mark * (MAX_LINE_CHARS - 10),), None))\n"
        "handler.close()\n")
    processes = [subprocess.Popen([sys.executable, "-c", writer, mark], cwd=REPO)
                 for mark in "ab"]
    assert [process.wait(timeout=60) for process in processes] == [0, 0]

    lines = path.read_text().splitlines()
    assert len(lines) == 300
    marks = [json.loads(line)["message"] for line in lines]  # each line parses: none torn
    assert all(len(set(message)) == 1 for message in marks)  # no line holds both
    assert sorted(message[0] for message in marks) == ["a"] * 150 + ["b"] * 150
    assert len(lines[0]) > 16 * 4096  # PIPE_BUF is 4096 bytes
