"""The Bitcoin Core broadcaster: ``sendrawtransaction``, and what became of each transaction.

Core's answers to a broadcast are sorted into "new", "already known" (both success),
a rejection for good (`BroadcastRejected`, whose ``inputs_spent`` marks "inputs missing
or spent") and trouble worth a retry (`BroadcastUnavailable`). The look-ups (`find`,
`follow`) answer, per txid, a `Seen`: in the mempool, confirmed (with how many
confirmations) or unknown. The calls go through `core.CoreRpc`; each carries a short
timeout, since they run inside an actor.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from embit.base import EmbitError
from embit.transaction import Transaction

from actors.bridge.broadcast_errors import BroadcastRejected, BroadcastUnavailable, check_tx
from actors.bridge.core import METHOD_NOT_FOUND, CoreRpc, Fault, Reply

# Shared with spool.py: operators and tests filter on one broadcast logger.
log = logging.getLogger("alys.bridge.broadcast")


# Bitcoin Core's answers that mean "the network already has this transaction".
#
# -27 RPC_VERIFY_ALREADY_IN_UTXO_SET (formerly RPC_VERIFY_ALREADY_IN_CHAIN): an
#     output of the tx is in the UTXO set, so it is confirmed. Core words it
#     "Transaction outputs already in utxo set" (v28+) or "Transaction already
#     in block chain" (older); the code alone decides.
# -26/-25 with one of the reasons below; the code alone does not (-26 is also a
#     real policy rejection, -25 also "bad-txns-inputs-missingorspent"):
#     "txn-already-in-mempool"     the same wtxid is in the mempool;
#     "txn-same-nonwitness-data-in-mempool"  the same txid with another witness:
#                                  same inputs and outputs, so the same peg-out;
#     "txn-already-known"          outputs seen in the coins cache (confirmed);
#     "already in block chain" / "already in utxo set"  the -27 texts, in case
#                                  a proxy or older node pairs them with -25/-26.
# Current Core answers a tx already in its mempool with the txid (success), so
# the mempool reasons come from older nodes and from other implementations.
# Deliberately NOT here: "bad-txns-inputs-missingorspent" / "Inputs missing or
# spent", which also follows when our tx confirmed and its outputs were spent
# since. The answer alone cannot tell that from a double spend, so it stays a
# rejection, marked `inputs_spent`, and the caller looks its own txid up (`find`).
_ALREADY_IN_UTXO_SET = -27
_ALREADY_KNOWN_REASONS = (
    "txn-already-in-mempool",
    "txn-same-nonwitness-data-in-mempool",
    "txn-already-known",
    "already in block chain",
    "already in utxo set",
)
# Codes that are a verdict on the transaction itself. Any other RPC error
# (warming up -28, method not found, ...) says nothing about the tx: retryable.
_DESERIALIZATION_ERROR = -22
_VERDICT_CODES = frozenset({_DESERIALIZATION_ERROR, -25, -26})
# -26 answers about the mempool's state, not the transaction: they pass (a parent
# confirms, the mempool drains), so they are retried, not taken as a verdict.
_MEMPOOL_STATE_REASONS = ("too-long-mempool-chain", "mempool min fee not met", "mempool full")
# RPC_INVALID_ADDRESS_OR_KEY: getrawtransaction's "no such transaction".
_NOT_FOUND = -5
_TXID = re.compile(r"[0-9a-fA-F]{64}")
# Core never puts an output into the UTXO set whose script begins with OP_RETURN or is
# over the script size limit, so gettxout is not asked about those.
_OP_RETURN = 0x6A
_MAX_SCRIPT_BYTES = 10_000
_PARSE_ERRORS = (EmbitError, ValueError, RuntimeError, TypeError, IndexError, OverflowError)


def _already_known(code: int, message: str) -> bool:
    if code == _ALREADY_IN_UTXO_SET:
        return True
    lowered = message.lower()
    return code in (-25, -26) and any(reason in lowered for reason in _ALREADY_KNOWN_REASONS)


@dataclass(frozen=True)
class Seen:
    """What Bitcoin Core knows of one transaction at one moment.

    ``confirmed`` carries ``confirmations`` (1 or more); ``block_hash`` is the block's
    when Core named it (``getrawtransaction``), None when the transaction was found
    through an unspent output (``gettxout`` names the tip, not the block). ``unknown``:
    neither in the mempool nor, as far as Core can tell, in the chain; without
    ``-txindex`` that includes a confirmed transaction whose outputs are all spent.
    """

    txid: str
    state: Literal["mempool", "confirmed", "unknown"]
    confirmations: int = 0
    block_hash: str | None = None

    @property
    def known(self) -> bool:
        """In the mempool or the chain: the network has it."""
        return self.state != "unknown"


def _spendable_outputs(txid: str, tx_hex: str) -> list[int]:
    """The indices of the outputs of `tx_hex` that can be in the UTXO set; raise
    ValueError unless `tx_hex` parses as the transaction `txid`."""
    try:
        tx = Transaction.parse(bytes.fromhex(tx_hex))
    except _PARSE_ERRORS as exc:
        raise ValueError(f"tx_hex for {txid} does not parse as a transaction: {exc}") from None
    parsed = tx.txid().hex()
    if parsed != txid.lower():
        raise ValueError(f"tx_hex given for {txid} is transaction {parsed}")
    return [n for n, output in enumerate(tx.vout)
            if output.script_pubkey.data[:1] != bytes([_OP_RETURN])
            and len(output.script_pubkey.data) <= _MAX_SCRIPT_BYTES]


class BitcoinRpcBroadcaster:
    """``sendrawtransaction`` on a Bitcoin Core node, and look-ups of what it broadcast."""

    follows = True

    def __init__(
        self, url: str, user: str | None, password: str | None, timeout_s: float = 5.0
    ) -> None:
        self._core = CoreRpc(url, user, password, timeout_s)

    def broadcast(self, tx_hex: str, txid: str) -> bool:
        """True if the node accepted it now, False if it already had it; raises otherwise."""
        check_tx(tx_hex, txid)
        reply = self._core.call("sendrawtransaction", [tx_hex])
        if reply.fault is not None:
            return self._judge(reply.fault, txid)
        if reply.result != txid:
            # The network has the transaction either way; a mismatch means our txid
            # bookkeeping and the node disagree, which someone must hear about.
            log.warning("bitcoin RPC at %s returned txid %r for %s", self._core.where,
                        reply.result, txid)
        return True

    def broadcast_many(self, items: Sequence[tuple[str, str]]) -> int:
        """Broadcast each in turn; the count of new ones. Stops at the first error."""
        return sum(self.broadcast(tx_hex, txid) for tx_hex, txid in items)

    def find(self, txid: str, tx_hex: str) -> Seen:
        """What Core knows of this one transaction (see `follow`)."""
        return self.follow([(txid, tx_hex)])[txid]

    def follow(self, items: Sequence[tuple[str, str]]) -> dict[str, Seen]:
        """What Core knows of each ``(txid, tx_hex)``, by txid, in at most two round trips.

        One batch of ``getrawtransaction txid true`` (the mempool, and with ``-txindex``
        the chain); then, for those not found, one batch of ``gettxout`` on each output
        that can be unspent: one answered means the transaction is in the chain (or has
        just entered the mempool). Raises `BroadcastUnavailable` when Core cannot be
        asked or answers out of the documented shapes; ValueError, before asking, when a
        txid is not 64 hex digits (a pair in ``broadcast``'s order, say), and when a
        ``tx_hex`` parsed for its outputs is not the transaction ``txid``.
        """
        wanted = dict(items)
        for txid, tx_hex in wanted.items():
            if not _TXID.fullmatch(txid):
                raise ValueError(f"txid must be 64 hex digits, got {txid!r}")
            check_tx(tx_hex, txid)
        txids = list(wanted)
        replies = self._core.call_many([("getrawtransaction", [txid, True]) for txid in txids])
        seen: dict[str, Seen] = {}
        not_found: dict[str, str] = {}
        for txid, reply in zip(txids, replies, strict=True):
            if reply.fault is not None and reply.fault.code == _NOT_FOUND:
                not_found[txid] = wanted[txid]
            else:
                seen[txid] = self._seen_in(txid, self._result(reply, "getrawtransaction", txid))
        seen.update(self._find_by_outputs(not_found))
        return {txid: seen[txid] for txid in txids}

    def txindex(self) -> bool | None:
        """Whether Core keeps ``-txindex`` (``getindexinfo``): True when it is on and synced,
        False when it is off, None when that cannot be told now (Core unreachable or still
        warming up, the index still syncing). A Core without ``getindexinfo`` (before
        0.21) counts as False: the node cannot tell, so it takes the worse case."""
        try:
            reply = self._core.call("getindexinfo", [])
        except BroadcastUnavailable as exc:
            log.warning("%s; whether it keeps -txindex is not known yet", exc)
            return None
        if reply.fault is not None:
            if reply.fault.code == METHOD_NOT_FOUND:
                log.warning("bitcoin RPC at %s has no getindexinfo (Bitcoin Core before 0.21): "
                            "taken as running without -txindex", self._core.where)
                return False
            log.warning("bitcoin RPC at %s: getindexinfo: error %d: %s", self._core.where,
                        reply.fault.code, reply.fault.message)
            return None
        indexes = reply.result
        info = indexes.get("txindex") if isinstance(indexes, dict) else None
        if isinstance(indexes, dict) and info is None:
            return False
        if not isinstance(info, dict) or not isinstance(info.get("synced"), bool):
            log.warning("bitcoin RPC at %s: getindexinfo answered %r", self._core.where, indexes)
            return None
        if not info["synced"]:
            log.info("bitcoin RPC at %s: -txindex is still syncing (at height %s)",
                     self._core.where, info.get("best_block_height"))
            return None
        return True

    def block_count(self) -> int:
        """The height of Core's best chain (``getblockcount``)."""
        count = self._result(self._core.call("getblockcount", []), "getblockcount", "")
        if type(count) is not int or count < 0:
            raise self._core.unavailable(f"getblockcount answered {count!r}")
        return count

    def _judge(self, fault: Fault, txid: str) -> bool:
        if _already_known(fault.code, fault.message):
            log.info("bitcoin RPC at %s already has %s (%d: %s)", self._core.where, txid,
                     fault.code, fault.message)
            return False
        passing = fault.code == -26 and any(
            reason in fault.message.lower() for reason in _MEMPOOL_STATE_REASONS)
        if fault.code in _VERDICT_CODES and not passing:
            raise BroadcastRejected(fault.code, fault.message)
        raise self._core.unavailable(f"error {fault.code}: {fault.message}")

    def _result(self, reply: Reply, method: str, subject: str) -> Any:
        if reply.fault is not None:
            raise self._core.unavailable(
                f"{method} {subject}: error {reply.fault.code}: {reply.fault.message}")
        return reply.result

    def _seen_in(self, txid: str, found: Any) -> Seen:
        """The `Seen` of a ``getrawtransaction`` verbose result."""
        block_hash = found.get("blockhash") if isinstance(found, dict) else None
        confirmations = found.get("confirmations") if isinstance(found, dict) else None
        if isinstance(found, dict) and block_hash is None and confirmations is None:
            return Seen(txid, "mempool")
        if isinstance(block_hash, str) and type(confirmations) is int and confirmations >= 0:
            if confirmations:
                return Seen(txid, "confirmed", confirmations, block_hash)
            # -txindex keeps the transactions of a block a reorg took off the chain, and
            # Core names that block with 0 confirmations: the tx is in no chain of note.
            return Seen(txid, "unknown")
        shape = (f"blockhash {block_hash!r}, confirmations {confirmations!r}"
                 if isinstance(found, dict) else f"{type(found).__name__} {found!r}")
        raise self._core.unavailable(f"getrawtransaction {txid} answered {shape}")

    def _find_by_outputs(self, wanted: dict[str, str]) -> dict[str, Seen]:
        """`Seen` for transactions ``getrawtransaction`` did not find, from ``gettxout``
        (include_mempool true) on their outputs: any unspent output is found."""
        outputs = [(txid, n) for txid, tx_hex in wanted.items()
                   for n in _spendable_outputs(txid, tx_hex)]
        replies = self._core.call_many([("gettxout", [txid, n, True]) for txid, n in outputs])
        found = {txid: Seen(txid, "unknown") for txid in wanted}
        for (txid, n), reply in zip(outputs, replies, strict=True):
            coin = self._result(reply, "gettxout", f"{txid}:{n}")
            if coin is None:  # spent, or never there: Core's answer is a JSON null
                continue
            confirmations = coin.get("confirmations") if isinstance(coin, dict) else None
            if type(confirmations) is not int or confirmations < 0:
                raise self._core.unavailable(f"gettxout {txid}:{n} answered {coin!r}")
            found[txid] = (Seen(txid, "confirmed", confirmations) if confirmations
                           else Seen(txid, "mempool"))
        return found
