"""The fake Core as a node: its JSON-RPC server, the RPCs' shapes and errors, the controls.

Every RPC and every control runs under one lock, around the model (`chain.Chain`): the
server answers on its own threads while a test moves the chain.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

from tests.support.fakecore.chain import Block, Chain, decode
from tests.support.jsonrpc import JsonRpcServer, RecordedRequest, RpcFault

# Bitcoin Core's codes (src/rpc/protocol.h) and messages for the look-ups.
MISC_ERROR = -1  # also a wrong argument count: Core answers with the method's usage
TYPE_ERROR = -3
NOT_FOUND = -5  # RPC_INVALID_ADDRESS_OR_KEY
INVALID_PARAMETER = -8
IN_WARMUP = -28
WARMING_UP = "Loading block index..."
_WALLET_HINT = " Use gettransaction for wallet transactions."
NO_TX_WITH_TXINDEX = "No such mempool or blockchain transaction." + _WALLET_HINT
NO_TX_WITHOUT_TXINDEX = ("No such mempool transaction. Use -txindex or provide a block hash "
                         "to enable blockchain transaction queries." + _WALLET_HINT)
NO_TX_INDEXING = ("No such mempool transaction. Blockchain transactions are still in the "
                  "process of being indexed." + _WALLET_HINT)
NO_TX_IN_BLOCK = "No such transaction found in the provided block." + _WALLET_HINT

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_SAT_PER_BTC = 100_000_000


class Sent(NamedTuple):
    """One ``sendrawtransaction`` call: the txid of its hex (None when it did not decode)
    and what Core answered, the txid or an error's ``(code, message)``."""

    txid: str | None
    result: str | tuple[int, str]


def _txid_of(tx_hex: object) -> str | None:
    try:
        return decode(tx_hex).txid().hex()
    except RpcFault:
        return None


def _hash_param(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise RpcFault(TYPE_ERROR, f"JSON value of type {type(value).__name__} is not of "
                                   "expected type string")
    if len(value) != 64:
        raise RpcFault(INVALID_PARAMETER,
                       f"{name} must be of length 64 (not {len(value)}, for '{value}')")
    if not _HEX64.fullmatch(value):
        raise RpcFault(INVALID_PARAMETER, f"{name} must be hexadecimal string (not '{value}')")
    return value.lower()


def _positional(params: Any, method: str, least: int, most: int) -> list[Any]:
    args = [] if params is None else params
    if not isinstance(args, list) or not least <= len(args) <= most:
        raise RpcFault(MISC_ERROR, f"{method} takes {least} to {most} arguments")
    return args + [None] * (most - len(args))


def _btc(value_sat: int) -> float:
    return round(value_sat / _SAT_PER_BTC, 8)


class FakeCore:
    """A Bitcoin Core stand-in on 127.0.0.1 (see the package docstring)."""

    def __init__(self, auth: tuple[str, str] | None = None, *, txindex: bool = True,
                 allow_replacement: bool = True) -> None:
        self._lock = threading.RLock()
        self._chain = Chain()
        self._txindex, self._synced = txindex, True
        self.allow_replacement = allow_replacement
        self._accepted: list[str] = []
        self._sent: list[Sent] = []
        self._refusals: deque[tuple[int, str]] = deque()
        self._warmup = 0
        self._on_send: Callable[[Sent], None] | None = None
        self.server = JsonRpcServer(auth=auth)
        self.server.handle("sendrawtransaction", self._sendrawtransaction)
        handlers: dict[str, Callable[[Any], Any]] = {
            "getrawtransaction": self._getrawtransaction,
            "gettxout": self._gettxout,
            "getindexinfo": self._getindexinfo,
            "getblockcount": self._getblockcount,
            "getbestblockhash": self._getbestblockhash,
            "getblockhash": self._getblockhash,
        }
        for method, handler in handlers.items():
            self.server.handle(method, self._guarded(handler))

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.server.requests

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> FakeCore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- what tests read ----------------------------------------------------------------

    @property
    def accepted(self) -> list[str]:
        """Each txid ``sendrawtransaction`` put into the mempool, in order; one handed over
        again after leaving the mempool appears again."""
        with self._lock:
            return list(self._accepted)

    @property
    def sent(self) -> list[Sent]:
        """Every ``sendrawtransaction`` call and its answer, in order."""
        with self._lock:
            return list(self._sent)

    @property
    def height(self) -> int:
        with self._lock:
            return self._chain.tip.height

    @property
    def tip(self) -> str:
        with self._lock:
            return self._chain.tip.hash

    @property
    def mempool(self) -> list[str]:
        with self._lock:
            return list(self._chain.mempool)

    def confirmations(self, txid: str) -> int | None:
        """0 in the mempool, the confirmations in the active chain, None if in neither."""
        with self._lock:
            return self._chain.confirmations(txid)

    # --- controls -----------------------------------------------------------------------

    def mine(self, n: int = 1, *, include_mempool: bool = True) -> list[str]:
        """Add `n` blocks, the first with every mempool transaction unless told not to;
        their hashes."""
        with self._lock:
            return self._chain.mine(n, include_mempool)

    def reorg(self, depth: int, *, return_to_mempool: bool = True) -> list[str]:
        """Disconnect the last `depth` blocks, put their transactions back into the mempool
        (or drop them, with their mempool descendants), then mine `depth` empty blocks in
        their place; the new blocks' hashes."""
        with self._lock:
            return self._chain.reorg(depth, return_to_mempool)

    def evict(self, txid: str) -> list[str]:
        """`txid` leaves the mempool unconfirmed, with its descendants; the evicted txids."""
        with self._lock:
            if txid not in self._chain.mempool:
                raise ValueError(f"{txid} is not in the mempool")
            return self._chain.evict(txid)

    def spend_outputs(self, txid: str) -> str:
        """A third party spends every unspent output of the confirmed `txid` in a new
        block; the spending transaction's txid."""
        with self._lock:
            return self._chain.spend_outputs(txid)

    def spend_inputs(self, tx_hex: str) -> str:
        """A third party spends the inputs of `tx_hex` in a new block (a double spend: the
        transaction, if in the mempool, is evicted); the spending transaction's txid."""
        with self._lock:
            return self._chain.spend_inputs(tx_hex)

    def mark_missing(self, txid: str, vout: int) -> None:
        """The funding coin ``txid:vout`` does not exist."""
        with self._lock:
            self._chain.mark_missing((txid.lower(), vout))

    def set_txindex(self, enabled: bool, *, synced: bool = True) -> None:
        """Run with or without -txindex; an index not `synced` finds no chain transaction."""
        with self._lock:
            self._txindex, self._synced = enabled, synced

    def on_send(self, hook: Callable[[Sent], None] | None) -> None:
        """Call `hook` with the record of each ``sendrawtransaction`` once Core has decided
        and before the caller hears the answer, on the server's thread (None: no hook).
        A chaos test kills the caller there, so that the answer is lost."""
        with self._lock:
            self._on_send = hook

    def refuse_next(self, code: int, message: str) -> None:
        """The next ``sendrawtransaction`` not held up by `unavailable` answers this error;
        each call queues one more."""
        with self._lock:
            self._refusals.append((code, message))

    def unavailable(self, n: int) -> None:
        """The next `n` calls of the modelled methods answer -28, as Core does while it
        starts."""
        with self._lock:
            self._warmup = n

    # --- the RPCs -----------------------------------------------------------------------

    def _guarded(self, handler: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def guarded(params: Any) -> Any:
            with self._lock:
                self._check_warmup()
                return handler(params)

        return guarded

    def _check_warmup(self) -> None:
        if self._warmup:
            self._warmup -= 1
            raise RpcFault(IN_WARMUP, WARMING_UP)

    def _sendrawtransaction(self, params: Any) -> str:
        refusal: RpcFault | None = None
        with self._lock:
            try:
                self._check_warmup()
                # Later arguments (maxfeerate, maxburnamount) are taken and ignored.
                [tx_hex, _, _] = _positional(params, "sendrawtransaction", 1, 3)
                if self._refusals:
                    raise RpcFault(*self._refusals.popleft())
                txid, entered = self._chain.accept(tx_hex, self.allow_replacement)
            except RpcFault as fault:
                given = params[0] if isinstance(params, list) and params else None
                sent = Sent(_txid_of(given), (fault.code, fault.message))
                refusal = fault
            else:
                sent = Sent(txid, txid)
                if entered:
                    self._accepted.append(txid)
            self._sent.append(sent)
            hook = self._on_send
        # Outside the lock: a hook may move the chain through the controls.
        if hook is not None:
            hook(sent)
        if refusal is not None:
            raise refusal
        return txid

    def _getrawtransaction(self, params: Any) -> Any:
        txid_param, verbosity, block_hash = _positional(params, "getrawtransaction", 1, 3)
        txid = _hash_param(txid_param, "txid")
        if verbosity is not None and not isinstance(verbosity, bool | int):
            raise RpcFault(TYPE_ERROR, "verbosity must be a boolean or a number")
        chain = self._chain
        block: Block | None = None
        if block_hash is not None:
            block = chain.blocks.get(_hash_param(block_hash, "blockhash"))
            if block is None:
                raise RpcFault(NOT_FOUND, "Block hash not found")
            if txid not in block.txids:
                raise RpcFault(NOT_FOUND, NO_TX_IN_BLOCK)
        elif txid in chain.mempool:
            pass
        elif not self._txindex:
            raise RpcFault(NOT_FOUND, NO_TX_WITHOUT_TXINDEX)
        elif not self._synced:
            raise RpcFault(NOT_FOUND, NO_TX_INDEXING)
        elif txid in chain.index:
            block = chain.blocks[chain.index[txid]]
        else:
            raise RpcFault(NOT_FOUND, NO_TX_WITH_TXINDEX)
        if not verbosity:
            return chain.raw[txid]
        return self._describe(txid, block, named=block_hash is not None)

    def _gettxout(self, params: Any) -> Any:
        txid_param, n, include_mempool = _positional(params, "gettxout", 2, 3)
        txid = _hash_param(txid_param, "txid")
        if not isinstance(n, int) or isinstance(n, bool):
            raise RpcFault(TYPE_ERROR, "n must be a number")
        if n < 0:
            raise RpcFault(INVALID_PARAMETER, "Invalid parameter, vout cannot be negative")
        found = self._chain.unspent((txid, n), include_mempool in (None, True))
        if found is None:
            return None  # Core's answer for a coin it does not have: a JSON null
        output, confirmations = found
        return {
            "bestblock": self._chain.tip.hash,
            "confirmations": confirmations,
            "value": _btc(output.value),
            "scriptPubKey": {"hex": output.script_pubkey.data.hex()},
            "coinbase": False,
        }

    def _getindexinfo(self, params: Any) -> Any:
        [name] = _positional(params, "getindexinfo", 0, 1)
        if not self._txindex or name not in (None, "txindex"):
            return {}
        height = self._chain.tip.height if self._synced else 0
        return {"txindex": {"synced": self._synced, "best_block_height": height}}

    def _getblockcount(self, params: Any) -> int:
        _positional(params, "getblockcount", 0, 0)
        return self._chain.tip.height

    def _getbestblockhash(self, params: Any) -> str:
        _positional(params, "getbestblockhash", 0, 0)
        return self._chain.tip.hash

    def _getblockhash(self, params: Any) -> str:
        [height] = _positional(params, "getblockhash", 1, 1)
        if not isinstance(height, int) or not 0 <= height < len(self._chain.active):
            raise RpcFault(INVALID_PARAMETER, "Block height out of range")
        return self._chain.active[height].hash

    def _describe(self, txid: str, block: Block | None, named: bool) -> dict[str, Any]:
        tx, raw = self._chain.txs[txid], self._chain.raw[txid]
        entry: dict[str, Any] = {}
        if named:  # only when the caller named the block
            assert block is not None
            entry["in_active_chain"] = self._chain.is_active(block)
        entry.update({
            "txid": txid,
            "hash": hashlib.sha256(hashlib.sha256(bytes.fromhex(raw)).digest()).digest()[::-1]
            .hex(),
            "version": tx.version,
            "size": len(raw) // 2,
            "locktime": tx.locktime,
            "vin": [{"txid": i.txid.hex(), "vout": i.vout, "sequence": i.sequence}
                    for i in tx.vin],
            "vout": [{"value": _btc(o.value), "n": n,
                      "scriptPubKey": {"hex": o.script_pubkey.data.hex()}}
                     for n, o in enumerate(tx.vout)],
            "hex": raw,
        })
        if block is not None:
            entry["blockhash"] = block.hash
            # A block off the active chain (kept by -txindex) has 0 confirmations.
            if self._chain.is_active(block):
                entry["confirmations"] = self._chain.tip.height - block.height + 1
                entry["time"] = entry["blocktime"] = block.time
            else:
                entry["confirmations"] = 0
        return entry
