"""The fake Core's model: blocks, a mempool, and which coin each transaction spends.

No lock of its own (`FakeCore` holds one around every use) and no HTTP. ``accept`` is
``sendrawtransaction``'s verdict, with Core's error codes and reasons; the rest moves
the chain and the mempool for the tests (mine, reorg, evict, third parties).

Coins. An output of a transaction the model knows exists while that transaction is in
the mempool or the active chain, unless something spends it (OP_RETURN outputs never
exist). Every other outpoint is a funding coin that exists until spent: the tests'
peg-outs spend made-up prevouts (`btc.testing`), and this is how they are funded.
``mark_missing`` takes a funding coin away.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from embit.script import Script
from embit.transaction import Transaction, TransactionInput, TransactionOutput

from tests.support.jsonrpc import RpcFault

# sendrawtransaction's verdicts: Bitcoin Core's codes (src/rpc/protocol.h) and reasons.
DESERIALIZATION_ERROR = -22
TRANSACTION_ERROR = -25  # RPC_VERIFY_ERROR
TRANSACTION_REJECTED = -26
ALREADY_IN_UTXO_SET = -27
DECODE_FAILED = "TX decode failed. Make sure the tx has at least one input."
INPUTS_MISSING = "bad-txns-inputs-missingorspent"
MEMPOOL_CONFLICT = "txn-mempool-conflict"
DUPLICATE_INPUTS = "bad-txns-inputs-duplicate"
ALREADY_CONFIRMED = "Transaction outputs already in utxo set"

_OP_RETURN = 0x6A
_GENESIS_TIME = 1_700_000_000
_THIRD_PARTY = Script(b"\x00\x14" + hashlib.sha256(b"fakecore/third party").digest()[:20])

Outpoint = tuple[str, int]


@dataclass(frozen=True)
class Block:
    hash: str
    height: int
    txids: tuple[str, ...]

    @property
    def time(self) -> int:
        return _GENESIS_TIME + 600 * self.height


def make_tx(prevouts: Sequence[Outpoint], *, outputs: int = 1, value_sat: int = 10_000,
            tag: str = "") -> tuple[str, str]:
    """``(tx_hex, txid)`` of a transaction spending `prevouts` to `outputs` P2WPKH outputs
    of `value_sat` each; `tag` makes otherwise equal transactions differ."""
    vin = [TransactionInput(bytes.fromhex(txid), vout, sequence=0xFFFFFFFD)
           for txid, vout in prevouts]
    vout = [TransactionOutput(value_sat, Script(b"\x00\x14" + _digest("payee", tag, n)[:20]))
            for n in range(outputs)]
    tx = Transaction(version=2, vin=vin, vout=vout, locktime=0)
    return tx.serialize().hex(), tx.txid().hex()


def funding(tag: str, n: int = 1) -> list[Outpoint]:
    """`n` made-up funding outpoints: coins the fake takes to exist until spent."""
    return [(_digest("funding", tag, index).hex(), index) for index in range(n)]


def _digest(label: str, tag: str, index: int) -> bytes:
    return hashlib.sha256(f"fakecore/{label}/{tag}/{index}".encode()).digest()


def decode(tx_hex: object) -> Transaction:
    """The transaction, or Core's -22 (-3 for a value that is not a string)."""
    if not isinstance(tx_hex, str):
        raise RpcFault(-3, f"JSON value of type {type(tx_hex).__name__} is not of expected "
                           "type string")
    try:
        raw = bytes.fromhex(tx_hex)
        tx = Transaction.parse(raw)
        # embit reads past the end without complaint: only an exact round trip is a tx.
        if not tx.vin or tx.serialize() != raw:
            raise ValueError("not a whole transaction")
    except Exception:
        raise RpcFault(DESERIALIZATION_ERROR, DECODE_FAILED) from None
    return tx


def spendable(output: TransactionOutput) -> bool:
    return output.script_pubkey.data[:1] != bytes([_OP_RETURN])


def _coins(tx: Transaction) -> list[Outpoint]:
    return [(tx_input.txid.hex(), tx_input.vout) for tx_input in tx.vin]


class Chain:
    """Blocks from a genesis at height 0, a mempool, and the spender of each coin."""

    def __init__(self) -> None:
        self.txs: dict[str, Transaction] = {}  # every transaction the model has known
        self.raw: dict[str, str] = {}  # its hex, as last accepted
        self.blocks: dict[str, Block] = {}  # every block, stale ones included
        self.active: list[Block] = []
        self.height_of: dict[str, int] = {}  # transactions in the active chain
        self.mempool: dict[str, None] = {}  # txids in the order they entered
        # -txindex: txid -> the last block that confirmed it. Like Core's, an entry stays
        # when a reorg disconnects its block.
        self.index: dict[str, str] = {}
        self._spender: dict[Outpoint, str] = {}  # by a chain or a mempool transaction
        self._missing: set[Outpoint] = set()
        self._mined = 0
        self._connect(())

    @property
    def tip(self) -> Block:
        return self.active[-1]

    def is_active(self, block: Block) -> bool:
        return block.height < len(self.active) and self.active[block.height] is block

    def confirmations(self, txid: str) -> int | None:
        """0 in the mempool, the confirmations in the active chain, None if in neither."""
        if txid in self.mempool:
            return 0
        height = self.height_of.get(txid)
        return None if height is None else len(self.active) - height

    def accept(self, tx_hex: object, allow_replacement: bool) -> tuple[str, bool]:
        """``sendrawtransaction``: the txid and whether it entered the mempool now, or
        Core's refusal as an RpcFault."""
        tx = decode(tx_hex)
        assert isinstance(tx_hex, str)
        txid = tx.txid().hex()
        if txid in self.mempool:
            return txid, False  # current Core: success, the txid, nothing changes
        if txid in self.height_of and any(
                spendable(output) and self._chain_spender((txid, n)) is None
                for n, output in enumerate(tx.vout)):
            raise RpcFault(ALREADY_IN_UTXO_SET, ALREADY_CONFIRMED)
        coins = _coins(tx)
        if len(set(coins)) != len(coins):
            raise RpcFault(TRANSACTION_REJECTED, DUPLICATE_INPUTS)
        conflicts = {spender for coin in coins
                     if (spender := self._spender.get(coin)) in self.mempool}
        if any(not self.exists(coin) for coin in coins
               if self._spender.get(coin) not in conflicts):
            raise RpcFault(TRANSACTION_ERROR, INPUTS_MISSING)
        if conflicts and not allow_replacement:
            raise RpcFault(TRANSACTION_REJECTED, MEMPOOL_CONFLICT)
        for conflict in conflicts:
            if conflict in self.mempool:  # not already gone as another's descendant
                self.evict(conflict)
        self.txs[txid], self.raw[txid] = tx, tx_hex.lower()
        self.mempool[txid] = None
        for coin in coins:
            self._spender[coin] = txid
        return txid, True

    def unspent(self, coin: Outpoint,
                include_mempool: bool) -> tuple[TransactionOutput, int] | None:
        """An output of a known transaction that is unspent, and its confirmations (0 in
        the mempool); None for any other outpoint."""
        txid, n = coin
        spender = self._spender.get(coin)
        if spender in self.height_of or (include_mempool and spender in self.mempool):
            return None
        confirmations = self.confirmations(txid)
        if confirmations is None or (confirmations == 0 and not include_mempool):
            return None
        vout = self.txs[txid].vout
        if n >= len(vout) or not spendable(vout[n]):
            return None
        return vout[n], confirmations

    def exists(self, coin: Outpoint) -> bool:
        """Whether `coin` is unspent in the chain (mempool spends are conflicts, apart)."""
        if coin in self._missing or self._chain_spender(coin) is not None:
            return False
        txid, n = coin
        if txid not in self.txs:
            return True  # a funding coin
        if txid not in self.height_of and txid not in self.mempool:
            return False
        vout = self.txs[txid].vout
        return n < len(vout) and spendable(vout[n])

    def mark_missing(self, coin: Outpoint) -> None:
        self._missing.add(coin)

    def mine(self, n: int, include_mempool: bool) -> list[str]:
        return [self._connect(self._mining_order() if include_mempool and index == 0 else ())
                for index in range(n)]

    def reorg(self, depth: int, return_to_mempool: bool) -> list[str]:
        if not 1 <= depth < len(self.active):
            raise ValueError(f"cannot disconnect {depth} of {len(self.active) - 1} blocks")
        disconnected = self.active[-depth:]
        del self.active[-depth:]
        dropped: list[str] = []
        for block in reversed(disconnected):
            for txid in reversed(block.txids):
                del self.height_of[txid]
                if return_to_mempool:
                    self.mempool[txid] = None  # its spends stay, now the mempool's
                else:
                    self._unspend(txid)
                    dropped.append(txid)
        for txid in dropped:
            for child in self._mempool_children(txid):
                if child in self.mempool:
                    self.evict(child)
        return [self._connect(()) for _ in range(depth)]

    def evict(self, txid: str) -> list[str]:
        """`txid` and its descendants leave the mempool; their txids."""
        evicted = [txid]
        for child in self._mempool_children(txid):
            if child in self.mempool:
                evicted += self.evict(child)
        del self.mempool[txid]
        self._unspend(txid)
        return evicted

    def spend_outputs(self, txid: str) -> str:
        if txid not in self.height_of:
            raise ValueError(f"{txid} is not confirmed")
        vout = self.txs[txid].vout
        coins = [(txid, n) for n, output in enumerate(vout)
                 if spendable(output) and self._chain_spender((txid, n)) is None]
        if not coins:
            raise ValueError(f"{txid} has no unspent outputs")
        return self._third_party(coins, sum(vout[n].value for _, n in coins))

    def spend_inputs(self, tx_hex: str) -> str:
        tx = Transaction.parse(bytes.fromhex(tx_hex))
        if tx.txid().hex() in self.height_of:
            raise ValueError("the transaction is confirmed; reorg it out first")
        coins = _coins(tx)
        if not all(self.exists(coin) for coin in coins):
            raise ValueError("an input of the transaction is already spent in the chain")
        return self._third_party(coins, sum(output.value for output in tx.vout))

    def _chain_spender(self, coin: Outpoint) -> str | None:
        spender = self._spender.get(coin)
        return spender if spender in self.height_of else None

    def _unspend(self, txid: str) -> None:
        for coin in _coins(self.txs[txid]):
            if self._spender.get(coin) == txid:
                del self._spender[coin]

    def _mempool_children(self, txid: str) -> list[str]:
        return [spender for n in range(len(self.txs[txid].vout))
                if (spender := self._spender.get((txid, n))) in self.mempool]

    def _mining_order(self) -> list[str]:
        # Parents before children: after a reorg a returned parent may follow its child.
        order: list[str] = []
        pending = list(self.mempool)
        while pending:
            placed = set(order)
            ready = [txid for txid in pending
                     if all(parent not in self.mempool or parent in placed
                            for parent, _ in _coins(self.txs[txid]))]
            order += ready
            pending = [txid for txid in pending if txid not in set(ready)]
        return order

    def _connect(self, txids: Sequence[str]) -> str:
        height = len(self.active)
        previous = self.active[-1].hash if self.active else "0" * 64
        self._mined += 1
        material = f"fakecore/block/{previous}/{height}/{self._mined}/{','.join(txids)}"
        block = Block(hashlib.sha256(material.encode()).hexdigest(), height, tuple(txids))
        self.active.append(block)
        self.blocks[block.hash] = block
        for txid in txids:
            self.mempool.pop(txid, None)
            for coin in _coins(self.txs[txid]):
                rival = self._spender.get(coin)
                if rival is not None and rival != txid and rival in self.mempool:
                    self.evict(rival)  # a block's transaction wins over the mempool's
                self._spender[coin] = txid
            self.height_of[txid] = height
            self.index[txid] = block.hash
        return block.hash

    def _third_party(self, coins: Sequence[Outpoint], value_sat: int) -> str:
        tx = Transaction(version=2, vin=[TransactionInput(bytes.fromhex(t), n) for t, n in coins],
                         vout=[TransactionOutput(value_sat, _THIRD_PARTY)], locktime=0)
        txid = tx.txid().hex()
        self.txs[txid], self.raw[txid] = tx, tx.serialize().hex()
        self._connect((txid,))
        return txid
