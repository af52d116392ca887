"""A client cannot write a line of its own into the node's log through a request id."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from actors.messages import PegoutRejected
from harness.nodes import log_text
from harness.waiting import wait_until
from tests.support.pegouts import initiate, pegout, pegout_node

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

FORGED = "2026-05-01 12:00:00,000 INFO alys.bridge pid=1 peg-out po-x broadcast: txid FORGED"


def test_a_request_id_carrying_a_log_line_cannot_forge_one(tmp_path: Path) -> None:
    with pegout_node(tmp_path) as (node, _mock):
        # Both are refused (an id with a control character is never accepted), and the
        # refusal's INFO line names the id: the log must still hold it as one line.
        first = pegout(f"good\n{FORGED}", seed=1)
        refused = dataclasses.replace(pegout(f"bad\n{FORGED}\r\u2028", seed=2), tx_hex="zz")

        replies = initiate(node, [first, refused])

        assert replies == [PegoutRejected(refused.request_id, replies[0].reason),
                           PegoutRejected(first.request_id, replies[1].reason)]
        wait_until(lambda: log_text(node.config).count(" rejected: ") >= 2, timeout=30,
                   message="the refusals were never logged")

    with Path(node.config.logging.file).open(encoding="utf-8", newline="") as file:
        text = file.read()
    # Every break some reader honours (\r, U+2028 ...) counts as a line here.
    lines = text.splitlines()
    assert [line for line in lines if line.startswith(FORGED[:23])] == []
    assert [line for line in lines if "FORGED" in line and not line.startswith("20")] == []
    assert f"peg-out bad\\n{FORGED}\\r\\u2028 rejected: " in text
