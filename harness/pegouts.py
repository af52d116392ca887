"""Peg-outs a node can sign: a federation the mock and the node share, and transactions for it.

The mock governance server signs as the first `size` keys derived from a
seed (`btc.seeded`), and a node in local mode (no `chain.federation`) starts
with the same public keys, so every peg-out built here for that federation
goes through to the spool. Each seed gives other prevouts, so another txid.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from actors.messages import InitiatePegout, Member
from btc.federation import Federation as NodeFederation
from btc.pegout import parse_pegout
from btc.seeded import federation_keys
from btc.testing import make_unsigned_pegout
from harness.mock import MockGovernance, start_mock_governance
from harness.nodes import LocalNode, running_node


@dataclass(frozen=True)
class Federation:
    """The signing federation of the mock and of a node in local mode.

    A `p2tr` one is given to the node as `chain.federation` (local mode derives P2WSH)."""

    seed: str
    size: int = 5
    threshold: int = 3
    script_type: str = "p2wsh"

    @cached_property
    def keys(self) -> tuple[bytes, ...]:
        return federation_keys(self.seed, self.size)

    @cached_property
    def node_federation(self) -> NodeFederation[Member]:
        members = tuple(Member(f"mock-{i}", key) for i, key in enumerate(self.keys))
        return NodeFederation(0, members, self.threshold, script_type=self.script_type)

    @cached_property
    def script(self) -> bytes:
        """The script every peg-out input spends: the witness script, or the P2TR leaf."""
        return self.node_federation.witness_script

    def mock_args(self) -> tuple[str, ...]:
        """The mock server's options to sign as this federation."""
        return (f"--federation-seed={self.seed}", f"--federation-size={self.size}",
                f"--federation-threshold={self.threshold}",
                f"--federation-script-type={self.script_type}")

    def chain_federation(self) -> dict[str, Any]:
        """`chain.federation` for this federation: the mock's keys, its script type."""
        members = [{"member_id": m.member_id, "public_key": m.public_key.hex()}
                   for m in self.node_federation.members]
        return {"threshold": self.threshold, "members": members,
                "script_type": self.script_type}

    def mock_section(self) -> dict[str, Any]:
        """The node's `governance.mock`: off-port (1, 2), only its federation counts."""
        return {"enabled": True, "port": 1, "control_port": 2, "federation_seed": self.seed,
                "federation_size": self.size, "federation_threshold": self.threshold}


def unsigned_pegout(request_id: str, script: bytes, seed: int, *, n_inputs: int = 2,
                    amounts: Sequence[int] | None = None, padding_bytes: int = 0,
                    network: str = "regtest") -> InitiatePegout:
    """An `InitiatePegout` spending `n_inputs` coins of `script`'s federation (`btc.testing`)."""
    tx_hex, indices, values = make_unsigned_pegout(
        script, n_inputs=n_inputs, amounts=amounts, seed=seed, padding_bytes=padding_bytes,
        network=network)
    return InitiatePegout(request_id, tx_hex, indices, values)


def txid_of(request: InitiatePegout) -> str:
    """The txid the signed transaction will have (segwit signatures leave it as it is)."""
    return parse_pegout(request.tx_hex, request.input_indices, request.amounts,
                        max_pegout_sat=sum(request.amounts)).txid


@contextmanager
def pegout_node(directory: Path, federation: Federation, *, mock_args: tuple[str, ...] = (),
                governance: dict[str, Any] | None = None,
                **sections: Any) -> Iterator[tuple[LocalNode, MockGovernance]]:
    """A mock governance process signing as `federation`, and a node wired to it.

    The node's governance section is the mock's endpoint and `federation`,
    with `governance`'s keys on top; `sections` replace whole sections of
    its config (a P2TR federation's node gets it as `chain.federation` unless
    `chain` is given). Both are stopped afterwards, the mock after the node.
    """
    if federation.script_type != "p2wsh" and "chain" not in sections:
        sections["chain"] = {"federation": federation.chain_federation()}
    mock = start_mock_governance(directory / "mock",
                                 extra_args=(*federation.mock_args(), *mock_args))
    section = {"endpoints": [{"url": mock.target, "priority": 10}],
               "mock": federation.mock_section(), **(governance or {})}
    try:
        with running_node(directory / "node", governance=section, **sections) as node:
            yield node, mock
    finally:
        mock.stop()
