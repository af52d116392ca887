"""Repeated warnings are counted, not written: the limiter alone, the logging filter with a
fake clock, the handler the node installs, and the config keys that set the limits."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from nodeconfig import ConfigError, LogRateLimitConfig, build_config
from runtime.lograte import OTHER_KINDS, Kind, RepeatFilter, RepeatLimiter, Suppressed
from runtime.logs import NodeLogHandler

FRAME = "unexpected frame from governance (%s): %s"
SUPERVISION = ("supervision event=restart supervisor=root child=bridge reason=killed "
               "decision=restart attempt=%d old_pid=1 new_pid=2")


@dataclass
class FakeClock:
    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    """A filter on a fake clock; what it lets through and what it summarises, in order."""

    clock: FakeClock = field(default_factory=FakeClock)
    written: list[str] = field(default_factory=list)
    filter: RepeatFilter = field(init=False)

    def __post_init__(self) -> None:
        self.filter = RepeatFilter(10, 60.0, clock=self.clock, sink=self.sink)

    def sink(self, record: logging.LogRecord) -> None:
        assert self.filter.filter(record), "a summary must pass the filter it came from"
        self.written.append(record.getMessage())

    def log(self, msg: str, *args: object, level: int = logging.WARNING,
            name: str = "alys.stream") -> None:
        record = logging.LogRecord(name, level, __file__, 1, msg, args, None)
        if self.filter.filter(record):
            self.written.append(record.getMessage())


# --- the limiter ------------------------------------------------------------------------------


def test_the_first_lines_of_a_kind_pass_and_the_rest_are_counted() -> None:
    limiter = RepeatLimiter(lines=3, window_s=60.0)
    kind = Kind("alys.stream", logging.WARNING, FRAME)

    admitted = [limiter.admit(kind, 100.0 + n) for n in range(8)]

    assert admitted == [True] * 3 + [False] * 5
    assert limiter.close_due(159.9) == []
    assert limiter.close_due(160.0) == [Suppressed(kind, 5)]
    assert not limiter
    assert limiter.admit(kind, 161.0), "a new window lets lines through again"


def test_a_window_that_held_nothing_back_closes_silently() -> None:
    limiter = RepeatLimiter(lines=3, window_s=60.0)
    limiter.admit(Kind("alys.chain", logging.ERROR, "x %s"), 0.0)

    assert limiter.close_due(60.0) == []
    assert not limiter


def test_kinds_differ_by_logger_level_and_template() -> None:
    limiter = RepeatLimiter(lines=1, window_s=60.0)
    kinds = [Kind("alys.stream", logging.WARNING, FRAME),
             Kind("alys.bridge", logging.WARNING, FRAME),
             Kind("alys.stream", logging.ERROR, FRAME),
             Kind("alys.stream", logging.WARNING, "another %s")]

    assert [limiter.admit(kind, 0.0) for kind in kinds] == [True] * 4
    assert [limiter.admit(kind, 1.0) for kind in kinds] == [False] * 4


def test_kinds_past_the_tracked_maximum_share_one_window() -> None:
    limiter = RepeatLimiter(lines=2, window_s=60.0, max_kinds=3)
    for n in range(3):
        limiter.admit(Kind("alys.stream", logging.WARNING, f"pre-formatted {n}"), 0.0)

    admitted = [limiter.admit(Kind("alys.stream", logging.WARNING, f"more {n}"), 1.0)
                for n in range(5)]

    assert admitted == [True, True, False, False, False]
    assert limiter.close_due(61.0) == [
        Suppressed(Kind("alys.stream", logging.WARNING, OTHER_KINDS), 3)]


def test_the_limits_must_make_sense() -> None:
    with pytest.raises(ValueError, match="lines=0"):
        RepeatLimiter(lines=0, window_s=60.0)


# --- the filter, on a fake clock ----------------------------------------------------------------


def test_a_flood_writes_ten_lines_then_one_count_when_its_window_ends() -> None:
    rig = Rig()

    for n in range(1_244):
        rig.log(FRAME, "kind", f"frame {n}")
        rig.clock.now += 0.01
    rig.clock.now = 1_060.0
    rig.log("stream connected to %s", "gov:443", level=logging.INFO)

    assert rig.written == [
        *[f"unexpected frame from governance (kind): frame {n}" for n in range(10)],
        f'suppressed 1234 similar lines within 60s: "{FRAME}"',
        "stream connected to gov:443",
    ]


def test_another_template_is_not_held_back_by_a_flood() -> None:
    rig = Rig()
    for _ in range(50):
        rig.log(FRAME, "kind", "x")

    rig.log("governance refused our credentials: %s", "expired")

    assert rig.written[-1] == "governance refused our credentials: expired"
    assert len(rig.written) == 11


def test_info_lines_are_never_held_back() -> None:
    rig = Rig()

    for n in range(100):
        rig.log("peg-out %s broadcast: txid %s", f"po-{n}", "ab", level=logging.INFO)

    assert len(rig.written) == 100


@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING, logging.ERROR])
def test_supervision_events_are_never_held_back(level: int) -> None:
    rig = Rig()

    for attempt in range(30):
        rig.log(SUPERVISION, attempt, level=level)
        rig.log(SUPERVISION % attempt, level=level)

    assert len(rig.written) == 60
    rig.clock.now += 120
    rig.log("tick", level=logging.INFO)
    assert rig.written[-1] == "tick", "nothing was counted, so nothing is summarised"


def test_closing_reports_the_windows_still_open() -> None:
    rig = Rig()
    for _ in range(15):
        rig.log(FRAME, "kind", "x")

    rig.filter.flush_summaries()

    assert rig.written[-1] == f'suppressed 5 similar lines within 60s: "{FRAME}"'


# --- the handler the node installs ------------------------------------------------------------


def test_the_node_handler_writes_the_count_into_the_log_file(tmp_path: Path) -> None:
    path = tmp_path / "node.log"
    clock = FakeClock()
    handler = NodeLogHandler(path, "INFO", LogRateLimitConfig(lines=10, window_s=60.0),
                             clock=clock)
    log = logging.Logger("alys.stream")
    log.addHandler(handler)

    for n in range(25):
        log.warning(FRAME, "kind", n)
    clock.now += 60
    log.info("stream connected")
    handler.close()

    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 12
    assert " WARNING alys.stream pid=" in lines[10]
    assert lines[10].endswith(f'suppressed 15 similar lines within 60s: "{FRAME}"')
    assert " INFO alys.stream pid=" in lines[11] and lines[11].endswith(" stream connected")


# --- the config -------------------------------------------------------------------------------


def test_the_limits_come_from_the_logging_section() -> None:
    assert build_config({}, source="t").logging.rate_limit == LogRateLimitConfig(10, 60.0)

    config = build_config({"logging": {"rate_limit": {"lines": 3, "window_s": 5}}}, source="t")

    assert config.logging.rate_limit == LogRateLimitConfig(lines=3, window_s=5.0)


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("lines", 0, "must be at least 1, got 0"),
    ("window_s", 0, "must be greater than 0"),
    ("burst", 1, "unknown key 'burst'"),
])
def test_bad_limits_are_refused(key: str, value: object, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as caught:
        build_config({"logging": {"rate_limit": {key: value}}}, source="t")
    assert caught.value.key == f"logging.rate_limit.{key}"


def test_preformatted_lines_that_differ_only_in_numbers_are_one_kind() -> None:
    rig = Rig()

    for n in range(30):
        rig.log(f"Actor StreamActor @ ActorAddr-(T|:{35000 + n}) retryable exception on "
                f"message <WatchMessage object at 0x7f4b{n:08x}>")
    rig.log("retried %d times", 3)

    assert len(rig.written) == 11
    rig.clock.now += 60
    rig.log("tick", level=logging.INFO)
    assert rig.written[-2] == ('suppressed 20 similar lines within 60s: "Actor StreamActor @ '
                               'ActorAddr-(T|:#) retryable exception on message <WatchMessage '
                               'object at #>"')
