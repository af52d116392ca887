"""`scripts/ctl` without a node: its command line, the request file, and what it prints
for each outcome, with its exit code."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from actors.messages import (
    ChainStatus,
    ConfigReloaded,
    DrainState,
    FederationVersion,
    InitiatePegout,
    PegoutStatus,
)
from client.ctl import render
from client.ctl.args import parse
from client.ctl.commands import Done, Refused
from client.ctl.main import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, main, report
from client.ctl.submit import MAX_FILE_BYTES, SubmitFileError, read_request, request_from
from harness.nodes import write_config

# -- the command line ---------------------------------------------------------------------


def test_options_go_before_or_after_the_command() -> None:
    before = parse(["--config", "/n.yaml", "--json", "pegouts", "list", "--state", "failed"])
    after = parse(["pegouts", "list", "--state", "failed", "--json", "--config", "/n.yaml"])
    for args in (before, after):
        assert (args.config, args.json, args.command, args.action, args.state, args.limit) == (
            "/n.yaml", True, "pegouts", "list", "failed", 100)
    assert parse(["pegouts", "list", "--limit", "5"]).limit == 5


def test_without_options_the_defaults_hold() -> None:
    args = parse(["status"])
    assert args.json is False and args.config.endswith("configs/local.yaml")


@pytest.mark.parametrize(("typed", "outcome"), [("paid", "paid"), ("not_paid", "not_paid"),
                                                ("failed", "not_paid")])
def test_failed_is_the_operators_word_for_not_paid(typed: str, outcome: str) -> None:
    assert parse(["pegouts", "resolve", "po-1", typed]).outcome == outcome


@pytest.mark.parametrize("argv", [
    [], ["frobnicate"], ["pegouts"], ["pegouts", "show"], ["pegouts", "resolve", "po", "maybe"],
    ["pegouts", "list", "--state", "lost"], ["federation", "history", "--limit", "0"],
    ["federation", "history", "--limit", "10001"], ["federation", "history", "--limit", "x"],
    ["pegouts", "list", "--limit", "0"], ["pegouts", "list", "--limit", "10001"],
])
def test_a_usage_error_exits_2_as_argparse_does(argv: list[str],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(argv)
    assert exited.value.code == 2
    assert "usage: scripts/ctl" in capsys.readouterr().err


def test_drain_takes_a_reason_and_history_a_limit() -> None:
    assert parse(["drain", "--reason", "disk swap"]).reason == "disk swap"
    assert parse(["drain"]).reason == ""
    assert parse(["federation", "history", "--limit", "5"]).limit == 5


# -- the request file ---------------------------------------------------------------------

REQUEST = {"request_id": "po-1", "tx_hex": "0200", "input_indices": [0, 1],
           "amounts": [5, 6]}


def test_a_request_file_becomes_an_initiate_pegout(tmp_path: Path) -> None:
    path = tmp_path / "po.json"
    path.write_text(json.dumps({**REQUEST, "replaces": "po-0"}))
    assert read_request(str(path)) == InitiatePegout("po-1", "0200", (0, 1), (5, 6),
                                                     replaces="po-0")
    assert request_from({**REQUEST, "replaces": None}).replaces is None


@pytest.mark.parametrize(("document", "problem"), [
    ([], "must hold a JSON object, got a list"),
    ({"request_id": "x"}, "missing tx_hex, input_indices, amounts"),
    ({**REQUEST, "fee": 1}, "unknown keys fee; the keys are request_id, tx_hex, "
                            "input_indices, amounts, replaces"),
    ({**REQUEST, "request_id": 7}, "request_id must be a string, got a number"),
    ({**REQUEST, "amounts": [1, "2"]}, "amounts must be a list of whole numbers"),
    ({**REQUEST, "amounts": [1, True]}, "amounts must be a list of whole numbers"),
    ({**REQUEST, "input_indices": 0}, "input_indices must be a list of whole numbers"),
    ({**REQUEST, "replaces": 3}, "replaces must be a string or null, got a number"),
])
def test_a_malformed_request_is_named(document: object, problem: str) -> None:
    with pytest.raises(SubmitFileError) as refused:
        request_from(document, "po.json")
    assert str(refused.value) == f"po.json: {problem}"


def test_an_unreadable_oversized_or_non_json_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SubmitFileError, match="cannot read it"):
        read_request(str(tmp_path / "absent.json"))
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (MAX_FILE_BYTES + 1))
    with pytest.raises(SubmitFileError, match="over 1048576 bytes"):
        read_request(str(big))
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(SubmitFileError, match="not JSON"):
        read_request(str(broken))


@pytest.mark.parametrize(("text", "problem"), [
    ("[" * 100_000, "nested too deeply"),  # json.loads recurses: no RecursionError out
    ('{"amounts": [' + "1" * 5000 + "]}", "not JSON: Exceeds the limit"),  # int digits
])
def test_a_file_json_cannot_hold_is_named_not_a_traceback(tmp_path: Path, text: str,
                                                         problem: str) -> None:
    path = tmp_path / "po.json"
    path.write_text(text)
    with pytest.raises(SubmitFileError, match=problem):
        read_request(str(path))


def test_an_unusable_request_file_is_a_usage_error_before_any_node_is_looked_for(
        tmp_path: Path) -> None:
    # As bitcoin-cli checks its arguments first: exit 2 naming the file, not 3 for a node
    # that happens not to run (nothing runs on this config's free ports).
    broken = tmp_path / "po.json"
    broken.write_text('{"request_id": 1')
    err = io.StringIO()
    code = main(["--config", str(write_config(tmp_path / "node")), "pegouts", "submit",
                 str(broken)], out=io.StringIO(), err=err)
    assert (code, err.getvalue().startswith(f"alys-ctl: {broken}: not JSON: ")) == \
        (EXIT_USAGE, True), err.getvalue()


# -- output and exit codes ----------------------------------------------------------------


def printed(outcome: Done | Refused, as_json: bool = False) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = report(outcome, as_json=as_json, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_a_refusal_goes_to_stderr_as_bitcoin_cli_prints_it_and_exits_1() -> None:
    refusal = Refused("draining", "the node is draining", {"request_id": "po-1"})
    assert printed(refusal) == (EXIT_REFUSED, "",
                                "error code: draining\nerror message:\nthe node is draining\n")
    code, out, err = printed(refusal, as_json=True)
    assert (code, out) == (EXIT_REFUSED, "")
    assert json.loads(err) == {"error": {"code": "draining", "message": "the node is draining"},
                               "reply": {"request_id": "po-1"}}


def test_a_partial_result_is_printed_with_its_warning_on_stderr_and_exits_0() -> None:
    done = Done([], "(none)", warning="could not read storage (open peg-outs listed): locked")
    assert printed(done) == (
        EXIT_OK, "(none)\n", "warning: could not read storage (open peg-outs listed): locked\n")
    assert printed(done, as_json=True)[2].startswith("warning: ")


def test_a_result_goes_to_stdout_as_text_or_json_and_exits_0() -> None:
    done = Done({"drained": False}, "pegouts: accepting")
    assert printed(done) == (EXIT_OK, "pegouts: accepting\n", "")
    assert printed(done, as_json=True) == (EXIT_OK, '{\n  "drained": false\n}\n', "")


def test_replies_become_plain_json() -> None:
    status = PegoutStatus("po-1", "broadcast", txid="ab", resolved_at=0.0)
    assert render.plain(status)["txid"] == "ab"
    assert render.plain((status,))[0]["state"] == "broadcast"
    assert render.plain(b"\x01\xff") == "01ff"


def test_the_drain_line_says_since_when_and_why() -> None:
    drained = DrainState(True, "disk swap", 1_700_000_000.0, open_pegouts=2)
    assert render.drain_text(drained) == (
        "pegouts: DRAINED since 2023-11-14T22:13:20Z (disk swap); new peg-outs are "
        "refused, 2 open ones go on")
    assert render.drain_text(DrainState(False, open_pegouts=3)) == \
        "pegouts: accepting new peg-outs (3 open)"


def test_federation_text_names_threshold_members_and_schedule() -> None:
    chain = ChainStatus(height=12, federation_version=3, federation_address="bc1p...",
                        threshold=2, members=("02aa", "03bb", "02cc"), scheduled=((4, 20),),
                        script_type="p2tr")
    assert render.federation_text(chain).splitlines() == [
        "federation version 3: 2-of-3 p2tr at bc1p...", "height 12", "members:", "  02aa",
        "  03bb", "  02cc", "scheduled: version 4 at height 20"]
    assert render.federation_text(ChainStatus(0, None, None, None, (), ())) == \
        "height 0: no federation yet"


def test_history_and_lists_say_none_when_empty() -> None:
    assert render.history_text([]).endswith("(none)")
    assert render.pegouts_text([]).endswith("(none)")
    version = FederationVersion(1, "config_change", 2, ("02aa", "03bb"), "bcrt1q", 10,
                                "applied", 1_700_000_000.0)
    assert "2-of-2" in render.history_text([version])
    assert " p2wsh " in render.history_text([version])
    taproot = FederationVersion(2, "config_change", 2, ("02aa", "03bb"), "bcrt1p", 20,
                                "scheduled", 1_700_000_000.0, script_type="p2tr")
    assert " p2tr " in render.history_text([taproot]).splitlines()[1]


def test_a_reload_says_what_is_now_in_force() -> None:
    assert render.reload_text(ConfigReloaded("/n.yaml", ("logging.level",))) == \
        "reloaded /n.yaml: now in force: logging.level; credential files re-read"
    assert render.reload_text(ConfigReloaded("/n.yaml")) == \
        "reloaded /n.yaml: no key changed; credential files re-read"


def test_a_request_comes_from_stdin_for_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    class Stdin:
        buffer = io.BytesIO(json.dumps(REQUEST).encode())

    monkeypatch.setattr("sys.stdin", Stdin)
    assert read_request("-").request_id == "po-1"
