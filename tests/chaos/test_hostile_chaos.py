"""`scripts/chaos --hostile` on a node started by `scripts/start`, briefly, with a fixed seed.

The run's own verdict is the point (its exit code and report, read from the
database and the spool); this test only checks that the run did what the
report says it did: faults of both sorts were injected, peg-outs and
federation versions flowed, and nothing is stranded, paid twice or lost.
The bridge's bounds are short so that the drain, which waits out the
liveness bound, stays short too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.launcher import launch, stop, wait_ready
from tests.chaos.test_chaos import edit_config, run_chaos, stream_processes

pytestmark = pytest.mark.timeout(300)

# The liveness bound is deadline + attempt timeout from a series' start: 30 + 7 s.
BRIDGE = {"signature_deadline_s": 30, "attempt_timeout_s": 7}
GOVERNANCE = {
    "request_timeout_s": {"signature": 5, "pegin": 5, "status": 5},
    # retry_after 2^31-1 is cut to this: a hostile frame may pause the node, not stop it.
    "max_retry_after_s": 2,
    # Small, so that an oversized frame is cheap to build and send.
    "limits": {"max_frame_bytes": 65536, "max_proposal_data_bytes": 16384},
}
WIDE = {"strategy": "one_for_one", "intensity": 100, "period_s": 60}


def test_a_short_hostile_run_strands_loses_and_duplicates_nothing(
    config_path: Path, tmp_path: Path
) -> None:
    edit_config(config_path, bridge=BRIDGE, governance=GOVERNANCE, supervision={
        "supervisors": {name: WIDE for name in ("root", "storage_supervisor",
                                                "system_supervisor")}})
    launched = launch(config_path, tmp_path / "start.out")
    try:
        wait_ready(launched)
        code, report = run_chaos(config_path, tmp_path, "--hostile", "--duration-s", "40",
                                 "--seed", "5", "--rate", "10", "--gap-s", "0.3", "1.2")
        streams = len(stream_processes(launched))
    finally:
        stopped = stop(launched)
    output = (tmp_path / "chaos.out").read_text()
    assert code == 0, output
    assert report["mode"] == "hostile" and report["node_stopped"] is None, output
    assert report["kills"] >= 1 and report["recovered"] == report["kills"], output
    frames = sum(n for action, n in report["actions"].items() if not action.startswith("kill"))
    assert frames >= 5, report["actions"]
    pegouts = report["pegouts"]
    assert pegouts["accepted"] > 0 and pegouts["stranded"] == 0, pegouts
    assert pegouts["paid_twice"] == 0 and pegouts["lost"] == 0, pegouts
    federation = report["federation"]
    assert federation["pushed"] >= 1 and federation["stored"] == federation["pushed"], federation
    assert not (federation["lost"] or federation["duplicated"] or federation["wrongly_applied"])
    # Convention 8, from the mock's record: the node acknowledged every valid push.
    assert federation["acknowledges"] and federation["unacknowledged"] == [], federation
    assert report["memory_kib"]["before"] and report["memory_kib"]["after"]
    assert streams == 1 and stopped == 0
