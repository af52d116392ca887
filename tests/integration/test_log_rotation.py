"""Rotating the node's one log file while every actor process writes to it loses no line
and splits none: each process follows the file's name (runtime/logs.py), logrotate's
way (rename, then the writers move to a new file), with no signal and no restart."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from actors.messages import PegoutResolved
from harness.nodes import running_node
from harness.waiting import wait_until
from nodeconfig.names import ACTOR_NAMES
from runtime.logs import REOPEN_CHECK_S

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

PER_ROUND = 20  # lines each actor process writes per round (one Batch)
ROUNDS_AFTER = 5  # rounds sent once every process writes the new file


def entries(path: Path, writing: bool = False) -> list[dict[str, Any]]:
    """Every line of `path` as JSON; a torn or interleaved line fails to parse. While
    processes are `writing`, a read may catch the last line half copied in (a write is not
    atomic against a read): that one is left for the next read."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as file:
        text = file.read()
    assert writing or text == "" or text.endswith("\n"), f"{path} ends inside a line"
    return [json.loads(line) for line in text.split("\n")[:-1]]


def ours(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if str(line.get("request_id", "")).startswith("rot-")]


def test_renaming_the_log_while_every_actor_writes_loses_and_splits_no_line(
        tmp_path: Path) -> None:
    log = tmp_path / "node" / "logs" / "node.log"
    rotated = log.with_name("node.log.1")
    logging_section = {"file": str(log), "level": "INFO", "format": "json",
                       "rate_limit": {"lines": 1_000_000, "window_s": 60}}
    with running_node(tmp_path / "node", logging=logging_section) as node:
        addresses = {name: node.client.lookup(name) for name in ACTOR_NAMES}
        sent = 0

        def round_of_lines() -> None:
            # A message no actor handles: each item is one WARNING line naming its id.
            nonlocal sent
            for name, address in addresses.items():
                node.client.tell_batches(address, [
                    PegoutResolved(f"rot-{name}-{sent + i}", "x") for i in range(PER_ROUND)],
                    PER_ROUND)
            sent += PER_ROUND

        for _ in range(5):
            round_of_lines()
        os.rename(log, rotated)

        def every_process_writes_the_new_file() -> bool:
            round_of_lines()  # keep them writing while they move over
            return {line["actor"] for line in ours(entries(log, writing=True))} >= \
                set(ACTOR_NAMES)

        wait_until(every_process_writes_the_new_file, timeout=20 + 10 * REOPEN_CHECK_S,
                   interval=0.05, message="not every actor process reopened the log")
        for _ in range(ROUNDS_AFTER):
            round_of_lines()
        expected = {f"rot-{name}-{i}" for name in ACTOR_NAMES for i in range(sent)}

        def all_written() -> bool:
            seen = {line["request_id"] for line in
                    ours(entries(rotated, writing=True) + entries(log, writing=True))}
            return seen >= expected

        wait_until(all_written, timeout=30, message="lines are missing")

    old, new = ours(entries(rotated)), ours(entries(log))
    print(f"{len(old)} lines in the renamed file, {len(new)} in the new one")
    counts = Counter(line["request_id"] for line in old + new)
    assert set(counts) == expected and set(counts.values()) == {1}  # none lost, none twice
    # Every process wrote to both files, and each line is a whole record of its writer.
    assert {line["actor"] for line in old} == {line["actor"] for line in new} == set(ACTOR_NAMES)
    for line in old + new:
        assert line["level"] == "WARNING" and line["request_id"] in line["message"]
        assert line["message"].startswith(f"unexpected message received by {line['actor']}")
