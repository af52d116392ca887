"""A node with a real-signing mock governance server, for peg-out and federation tests.

The mock and the node share a federation seed: the mock signs as the first
`FEDERATION_SIZE` keys derived from it, and the node's ChainActor starts with
the same public keys (local mode: no `chain.federation`). Signed transactions
are checked here with python-bitcoinlib and coincurve, which the node's code
(embit) never imports: two implementations have to agree.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import coincurve
from bitcoin.core import CTransaction
from bitcoin.core.script import (
    OP_CHECKMULTISIG,
    SIGHASH_ALL,
    SIGVERSION_WITNESS_V0,
    CScript,
    CScriptOp,
    SignatureHash,
)

from actors.messages import (
    Batch,
    ChainStatus,
    GetChainStatus,
    GetPegoutStatus,
    InitiatePegout,
    PegoutAccepted,
    PegoutStatus,
)
from btc.federation import witness_script
from btc.testing import make_unsigned_pegout
from mock_governance.federation import federation_keys
from tests.support.mock import MockGovernance, start_mock_governance
from tests.support.nodes import running_node
from tests.support.stream import governance_section
from tests.support.waiting import wait_until

SEED = "pegout-tests"
FEDERATION_SIZE = 5
THRESHOLD = 3


def federation_args(seed: str = SEED, size: int = FEDERATION_SIZE,
                    threshold: int = THRESHOLD) -> tuple[str, ...]:
    return (f"--federation-seed={seed}", f"--federation-size={size}",
            f"--federation-threshold={threshold}")


@contextmanager
def pegout_node(tmp_path: Path, *, mock_args: tuple[str, ...] = (),
                governance: dict[str, Any] | None = None,
                **sections: Any) -> Iterator[tuple[Any, MockGovernance]]:
    """The mock governance process and a node wired to it, both stopped afterwards.

    `governance` overrides keys of the node's governance section; `sections`
    replace whole sections of its config."""
    mock = start_mock_governance(tmp_path / "mock", extra_args=(*federation_args(), *mock_args))
    governance = governance_section(
        [mock.target],
        mock={"enabled": True, "port": 1, "control_port": 2, "federation_seed": SEED,
              "federation_size": FEDERATION_SIZE, "federation_threshold": THRESHOLD},
        **(governance or {}))
    try:
        with running_node(tmp_path / "node", governance=governance, **sections) as node:
            yield node, mock
    finally:
        mock.stop()


def local_keys(size: int = FEDERATION_SIZE) -> tuple[bytes, ...]:
    return federation_keys(SEED, size)


def local_script(size: int = FEDERATION_SIZE, threshold: int = THRESHOLD) -> bytes:
    return witness_script(local_keys(size), threshold)


def pegout(request_id: str, seed: int, *, script: bytes | None = None, n_inputs: int = 2,
           amounts: tuple[int, ...] | None = None) -> InitiatePegout:
    tx_hex, indices, values = make_unsigned_pegout(script or local_script(), n_inputs=n_inputs,
                                                   amounts=amounts, seed=seed)
    return InitiatePegout(request_id, tx_hex, indices, values)


def initiate(node: Any, messages: list[Any], timeout: float = 60) -> list[Any]:
    """Tell the BridgeActor each message; the replies, sorted by request id (refusals come
    back at once, acceptances after the commit, so arrival order says nothing)."""
    bridge = node.lookup("bridge")
    for message in messages:
        node.asys.tell(bridge, message)
    return gather_replies(node, len(messages), timeout)


def initiate_many(node: Any, messages: list[Any], *, batch: int = 250,
                  timeout: float = 120) -> list[Any]:
    """Like `initiate`, for thousands: Batches of `batch` requests, one Thespian send each."""
    bridge = node.lookup("bridge")
    for start in range(0, len(messages), batch):
        node.asys.tell(bridge, Batch(tuple(messages[start:start + batch])))
    return gather_replies(node, len(messages), timeout)


def gather_replies(node: Any, count: int, timeout: float) -> list[Any]:
    """The next `count` replies to this ActorSystem handle, Batches flattened (the bridge
    batches the replies one commit releases), sorted by request id."""
    replies: list[Any] = []

    def got_all() -> bool:
        reply = node.listen(0.5)
        if isinstance(reply, Batch):
            replies.extend(reply.items)
        elif reply is not None:
            replies.append(reply)
        return len(replies) >= count

    wait_until(got_all, timeout=timeout, interval=0,
               message=lambda: f"{len(replies)} of {count} replies")
    return sorted(replies, key=lambda reply: reply.request_id)


def query(node: Any, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of the node's database, read-only: what was committed, not what the node says."""
    with sqlite3.connect(f"file:{node.config.storage.path}?mode=ro", uri=True) as db:
        return db.execute(sql, params).fetchall()


def broadcast_ids(node: Any) -> list[str]:
    """Request ids of the peg-outs in state `broadcast`, from the database."""
    return [row[0] for row in query(
        node, "SELECT request_id FROM pegouts WHERE state = 'broadcast' ORDER BY request_id")]


def running_pid(node: Any, name: str) -> int | None:
    """The pid of the actor `name` while it runs; None while it is being restarted."""
    for actor in node.status().actors:
        if actor.name == name and actor.state == "running":
            return actor.pid
    return None


def accepted(requests: list[InitiatePegout]) -> list[PegoutAccepted]:
    return sorted((PegoutAccepted(r.request_id) for r in requests),
                  key=lambda reply: reply.request_id)


def status(node: Any, request_id: str) -> PegoutStatus:
    reply = node.ask(node.lookup("bridge"), GetPegoutStatus(request_id), expect=PegoutStatus)
    assert isinstance(reply, PegoutStatus), reply
    return reply


def wait_pegout(node: Any, request_id: str, state: str, timeout: float = 60) -> PegoutStatus:
    def reached() -> PegoutStatus | None:
        current = status(node, request_id)
        return current if current.state == state else None

    return wait_until(reached, timeout=timeout,
                      message=lambda: f"peg-out {request_id} never {state}: "
                      f"{status(node, request_id)}")


def chain_status(node: Any) -> ChainStatus:
    reply = node.ask(node.lookup("chain"), GetChainStatus(), expect=ChainStatus)
    assert isinstance(reply, ChainStatus), reply
    return reply


def verify_signed(signed_tx_hex: str, request: InitiatePegout, keys: tuple[bytes, ...],
                  threshold: int) -> None:
    """Check every signed input as Bitcoin's CHECKMULTISIG would, with python-bitcoinlib
    for the transaction and sighash and coincurve for ECDSA."""
    tx = CTransaction.deserialize(bytes.fromhex(signed_tx_hex))
    unsigned = CTransaction.deserialize(bytes.fromhex(request.tx_hex))
    assert tx.GetTxid() == unsigned.GetTxid(), "signing changed the txid"
    script = CScript([CScriptOp.encode_op_n(threshold), *sorted(keys),
                      CScriptOp.encode_op_n(len(keys)), OP_CHECKMULTISIG])
    for index, amount in zip(request.input_indices, request.amounts, strict=True):
        stack = list(tx.wit.vtxinwit[index].scriptWitness.stack)
        assert stack[0] == b"", f"input {index}: the dummy element is not empty"
        assert stack[-1] == bytes(script), f"input {index}: unexpected witness script"
        signatures = stack[1:-1]
        assert len(signatures) == threshold, f"input {index}: {len(signatures)} signatures"
        digest = SignatureHash(script, tx, index, SIGHASH_ALL, amount=amount,
                               sigversion=SIGVERSION_WITNESS_V0)
        # CHECKMULTISIG walks keys and signatures in order: each signature must
        # match a key after the previous signature's key.
        remaining = list(sorted(keys))
        for signature in signatures:
            assert signature[-1] == SIGHASH_ALL, f"input {index}: not SIGHASH_ALL"
            while remaining:
                key = remaining.pop(0)
                if coincurve.PublicKey(key).verify(signature[:-1], digest, hasher=None):
                    break
            else:
                raise AssertionError(f"input {index}: a signature matches no remaining key")
