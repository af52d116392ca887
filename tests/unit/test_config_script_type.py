"""`chain.federation.script_type`: p2wsh by default, p2tr on request, anything else refused
naming the two."""

from __future__ import annotations

from pathlib import Path

from actors.chain.initial import initial_federation
from tests.unit.test_config import KEY_A, KEY_B, federation, load, load_error


def chain(script_type: str | None) -> dict[str, object]:
    section = federation(("m1", KEY_A), ("m2", KEY_B), threshold=2)
    if script_type is not None:
        section["script_type"] = script_type
    return {"chain": {"federation": section}}


def test_a_federation_is_p2wsh_unless_it_says_otherwise(tmp_path: Path) -> None:
    config = load(tmp_path, chain(None))
    assert config.chain.federation is not None
    assert config.chain.federation.script_type == "p2wsh"
    assert initial_federation(config).address("regtest").startswith("bcrt1q")


def test_a_p2tr_federation_starts_the_chain_with_a_taproot_address(tmp_path: Path) -> None:
    config = load(tmp_path, chain("p2tr"))
    started = initial_federation(config)
    assert started.script_type == "p2tr"
    assert started.address("regtest").startswith("bcrt1p")


def test_another_script_type_is_refused_naming_the_known_ones(tmp_path: Path) -> None:
    error = load_error(tmp_path, chain("p2sh"))
    assert error.key == "chain.federation.script_type"
    assert "expected one of: p2wsh, p2tr" in error.problem


def test_a_p2tr_federation_with_two_keys_of_one_x_coordinate_is_refused(tmp_path: Path) -> None:
    twin = ("03" if KEY_A.startswith("02") else "02") + KEY_A[2:]  # the negated point
    section = federation(("m1", KEY_A), ("m2", KEY_B), ("m3", twin), threshold=2)
    error = load_error(tmp_path, {"chain": {"federation": {**section, "script_type": "p2tr"}}})
    assert error.key == "chain.federation.members[2].public_key"
    assert f"duplicate x-only key {KEY_A[2:]!r}" in error.problem
    assert "chain.federation.members[0].public_key" in error.problem
    # The same keys are two distinct keys for P2WSH.
    assert load(tmp_path, {"chain": {"federation": section}}).chain.federation is not None
