"""`scripts/ctl` as an operator runs it: a real subprocess against a real node and the mock
governance server, for every command, with its exit codes and its refusals; and draining,
end to end, through a SIGKILL of the bridge and a restart of the whole node."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from actors.messages import InitiatePegout, PegoutAccepted, PegoutRejected
from harness.launcher import REPO
from harness.nodes import LocalNode, own_node, running_node
from harness.waiting import wait_until
from tests.support.pegouts import initiate, pegout, pegout_node, running_pid, wait_pegout

pytestmark = pytest.mark.timeout(180)
CTL = REPO / "scripts" / "ctl"


def ctl(node: LocalNode, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CTL), "--config", node.config.source, *args],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def ctl_json(node: LocalNode, *args: str) -> Any:
    result = ctl(node, "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def request_file(directory: Path, request: InitiatePegout) -> Path:
    path = directory / f"{request.request_id}.json"
    path.write_text(json.dumps({"request_id": request.request_id, "tx_hex": request.tx_hex,
                                "input_indices": list(request.input_indices),
                                "amounts": list(request.amounts)}))
    return path


def refused(result: subprocess.CompletedProcess[str], code: str) -> str:
    """The refusal's message, after checking bitcoin-cli's form and exit code 1."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    head, message = result.stderr.split("\nerror message:\n", 1)
    assert head == f"error code: {code}", result.stderr
    return message.strip()


def test_every_pegout_and_federation_command_answers_with_bitcoin_cli_exit_codes(
        tmp_path: Path) -> None:
    with pegout_node(tmp_path) as (node, _mock):
        request = pegout("po-ctl-1", seed=501)
        submitted = ctl(node, "pegouts", "submit", str(request_file(tmp_path, request)))
        assert (submitted.returncode, submitted.stdout.strip()) == (
            0, "accepted po-ctl-1: awaiting signatures")
        wait_pegout(node, "po-ctl-1", "broadcast")

        shown = ctl_json(node, "pegouts", "show", "po-ctl-1")
        assert shown["state"] == "broadcast" and shown["signed_tx_hex"]
        assert [p["request_id"] for p in ctl_json(node, "pegouts", "list", "--state",
                                                  "broadcast")] == ["po-ctl-1"]
        assert ctl_json(node, "pegouts", "list", "--state", "failed") == []
        assert "po-ctl-1" in ctl(node, "pegouts", "list").stdout

        assert refused(ctl(node, "pegouts", "show", "nope"), "unknown_pegout") == \
            "no peg-out 'nope'"
        assert "not failed" in refused(ctl(node, "pegouts", "retry", "po-ctl-1"), "not_failed")
        assert "needs_review" in refused(ctl(node, "pegouts", "resolve", "po-ctl-1", "failed"),
                                         "not_in_review")
        again = ctl(node, "pegouts", "submit", str(request_file(tmp_path, pegout("po-ctl-1",
                                                                                 seed=502))))
        assert "already used" in refused(again, "duplicate")
        as_json = ctl(node, "--json", "pegouts", "show", "nope")
        assert as_json.returncode == 1
        assert json.loads(as_json.stderr)["error"] == {"code": "unknown_pegout",
                                                       "message": "no peg-out 'nope'"}

        federation = ctl_json(node, "federation", "show")
        assert federation["threshold"] == 3 and len(federation["members"]) == 5
        history = ctl_json(node, "federation", "history")
        assert [v["version"] for v in history] == [federation["federation_version"]]
        assert history[0]["state"] == "applied"
        assert "3-of-5" in ctl(node, "federation", "show").stdout
        assert node.client.federation_history(0).error == \
            "limit must be a whole number from 1 to 10000, got 0"

        status = ctl_json(node, "status")
        assert status["drain"]["drained"] is False
        assert {a["name"] for a in status["actors"]} >= {"bridge", "chain", "stream"}

        bad = tmp_path / "bad.json"
        bad.write_text('{"request_id": "x", "tx_hex": "00", "input_indices": [0]}')
        usage = ctl(node, "pegouts", "submit", str(bad))
        assert (usage.returncode, usage.stderr.strip()) == (
            2, f"alys-ctl: {bad}: missing amounts")
        assert ctl(node, "pegouts", "resolve", "po-ctl-1", "maybe").returncode == 2
        assert ctl(node, "frobnicate").returncode == 2
    gone = ctl(node, "status")
    assert gone.returncode == 3 and "cannot reach the node" in gone.stderr


def test_a_drained_node_refuses_new_pegouts_finishes_accepted_ones_and_stays_drained(
        tmp_path: Path) -> None:
    with pegout_node(tmp_path) as (node, mock):
        mock.behave(hold_signatures=True)
        assert initiate(node, [pegout("in-flight", seed=511)]) == [PegoutAccepted("in-flight")]

        drained = ctl_json(node, "drain", "--reason", "disk swap")
        assert drained["drained"] is True and drained["reason"] == "disk swap"
        assert drained["open_pegouts"] == 1
        message = refused(ctl(node, "pegouts", "submit",
                              str(request_file(tmp_path, pegout("new-1", seed=512)))),
                          "draining")
        assert "disk swap" in message and "since 20" in message
        assert "DRAINED since" in ctl(node, "status").stdout

        bridge = running_pid(node, "bridge")
        assert bridge is not None
        os.kill(bridge, signal.SIGKILL)
        assert node.client.wait_replaced("bridge", bridge, timeout_s=30) is not None
        [after_kill] = initiate(node, [pegout("new-2", seed=513)])
        assert isinstance(after_kill, PegoutRejected) and after_kill.kind == "draining"
        assert node.client.drain_state().since == drained["since"]

        mock.behave(hold_signatures=False)
        mock.release()
        wait_pegout(node, "in-flight", "broadcast")  # accepted before the drain: finished
        # Finished, it leaves the bridge's memory; the same request sent again (a client
        # unsure it got through) is still answered as taken, not as refused for the drain,
        # and other content under its id is a duplicate.
        wait_until(lambda: node.client.drain_state().open_pegouts == 0, timeout=30,
                   message="the broadcast peg-out stayed in the bridge's memory")
        assert initiate(node, [pegout("in-flight", seed=511)]) == [PegoutAccepted("in-flight")]
        [other] = initiate(node, [pegout("in-flight", seed=515)])
        assert isinstance(other, PegoutRejected) and other.kind == "duplicate"

        undrained = ctl_json(node, "undrain")
        assert undrained["drained"] is False
        assert initiate(node, [pegout("new-3", seed=514)]) == [PegoutAccepted("new-3")]


def test_a_drain_survives_a_restart_of_the_whole_node(tmp_path: Path) -> None:
    with running_node(tmp_path / "node") as node:
        config = node.config
        state = node.client.drain("upgrade")
        assert state.drained and state.refused is None
        refusal = node.client.drain("two\nlines")
        assert refusal.refused == "the reason must be printable text on one line"
        assert refusal.reason == "upgrade"  # a refused drain changes nothing
    with own_node(config) as again:
        wait_until(lambda: again.client.drain_state().drained, timeout=30)
        after = again.client.drain_state()
        assert (after.reason, after.since) == ("upgrade", state.since)
        assert again.client.undrain().drained is False
