"""A node with a real-signing mock governance server, for peg-out and federation tests.

The mock and the node share the federation `LOCAL` (`harness.pegouts`): the
mock signs as its keys, and the node's ChainActor starts with the same public
keys (local mode: no `chain.federation`). The node is driven through its
client (`node.client`). Signed transactions are checked here with
python-bitcoinlib and coincurve, which the node's code (embit) never imports:
two implementations have to agree.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
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

from actors.messages import ChainStatus, InitiatePegout, PegoutAccepted, PegoutStatus
from harness.mock import MockGovernance
from harness.nodes import LocalNode
from harness.pegouts import Federation, unsigned_pegout
from harness.pegouts import pegout_node as federation_node
from harness.stream import FAST_GOVERNANCE
from harness.waiting import wait_until
from tests.support.kernel import kernel_verify, p2wsh_script_pubkey

SEED = "pegout-tests"
FEDERATION_SIZE = 5
THRESHOLD = 3
LOCAL = Federation(SEED, FEDERATION_SIZE, THRESHOLD)


@contextmanager
def pegout_node(tmp_path: Path, *, mock_args: tuple[str, ...] = (),
                governance: dict[str, Any] | None = None,
                **sections: Any) -> Iterator[tuple[LocalNode, MockGovernance]]:
    """The mock governance process and a node wired to it (fast intervals), both stopped
    afterwards. `governance` overrides keys of the node's governance section; `sections`
    replace whole sections of its config."""
    with federation_node(tmp_path, LOCAL, mock_args=mock_args,
                         governance={**FAST_GOVERNANCE, **(governance or {})},
                         **sections) as (node, mock):
        yield node, mock


def local_keys(size: int = FEDERATION_SIZE) -> tuple[bytes, ...]:
    return Federation(SEED, size).keys


def local_script(size: int = FEDERATION_SIZE, threshold: int = THRESHOLD) -> bytes:
    return Federation(SEED, size, threshold).script


def pegout(request_id: str, seed: int, *, script: bytes | None = None, n_inputs: int = 2,
           amounts: tuple[int, ...] | None = None) -> InitiatePegout:
    return unsigned_pegout(request_id, script or LOCAL.script, seed, n_inputs=n_inputs,
                           amounts=amounts)


def initiate(node: LocalNode, messages: Sequence[Any], timeout: float = 60) -> list[Any]:
    """Tell the BridgeActor each message on its own (peg-outs, peg-in notices); the replies,
    sorted by request id (refusals come back at once, acceptances after the commit, so
    arrival order says nothing)."""
    return _told(node, messages, 1, timeout)


def initiate_many(node: LocalNode, messages: Sequence[Any], *, batch: int = 250,
                  timeout: float = 120) -> list[Any]:
    """Like `initiate`, for thousands: Batches of `batch` requests, one Thespian send each."""
    return _told(node, messages, batch, timeout)


def _told(node: LocalNode, messages: Sequence[Any], batch: int, timeout: float) -> list[Any]:
    node.client.tell_batches("bridge", messages, batch)
    replies: list[Any] = node.client.replies(len(messages), object, timeout)
    return sorted(replies, key=lambda reply: reply.request_id)


def query(node: LocalNode, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of the node's database, read-only: what was committed, not what the node says."""
    with sqlite3.connect(f"file:{node.config.storage.path}?mode=ro", uri=True) as db:
        return db.execute(sql, params).fetchall()


def broadcast_ids(node: LocalNode) -> list[str]:
    """Request ids of the peg-outs in state `broadcast`, from the database."""
    return [row[0] for row in query(
        node, "SELECT request_id FROM pegouts WHERE state = 'broadcast' ORDER BY request_id")]


def running_pid(node: LocalNode, name: str) -> int | None:
    """The pid of the actor `name` while it runs; None while it is being restarted."""
    for actor in node.client.node_status().actors:
        if actor.name == name and actor.state == "running":
            return actor.pid
    return None


def accepted(requests: list[InitiatePegout]) -> list[PegoutAccepted]:
    return sorted((PegoutAccepted(r.request_id) for r in requests),
                  key=lambda reply: reply.request_id)


def status(node: LocalNode, request_id: str) -> PegoutStatus:
    return node.client.pegout_status(request_id)


def wait_stored(node: LocalNode, request_id: str, state: str, timeout: float = 30) -> None:
    """Until the peg-out's committed row is in `state`. The bridge answers statuses from
    memory, which is ahead of storage: a `broadcast` state's write waits up to 50 ms for
    company. A test that kills the bridge next and expects the state back waits here."""
    wait_until(lambda: query(node, "SELECT 1 FROM pegouts WHERE request_id = ? AND state = ?",
                             request_id, state), timeout=timeout,
               message=lambda: f"peg-out {request_id} never stored {state}: "
               f"{query(node, 'SELECT state FROM pegouts WHERE request_id = ?', request_id)}")


def wait_pegout(node: LocalNode, request_id: str, state: str,
                timeout: float = 60) -> PegoutStatus:
    def reached() -> PegoutStatus | None:
        current = status(node, request_id)
        return current if current.state == state else None

    return wait_until(reached, timeout=timeout,
                      message=lambda: f"peg-out {request_id} never {state}: "
                      f"{status(node, request_id)}")


def chain_status(node: LocalNode) -> ChainStatus:
    return node.client.chain_status()


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
    # And Bitcoin Core's consensus engine, input by input, as a node would judge it.
    script_pubkey = p2wsh_script_pubkey(bytes(script))
    kernel_verify(signed_tx_hex, [(index, script_pubkey, amount) for index, amount
                                  in zip(request.input_indices, request.amounts, strict=True)])
