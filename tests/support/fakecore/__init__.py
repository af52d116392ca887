"""A small Bitcoin Core for tests: a chain, a mempool, and the RPCs the bridge calls.

`FakeCore` serves JSON-RPC 1.0 on 127.0.0.1 at a free port (`tests.support.jsonrpc`),
single calls and batches, from construction until ``stop()``; a node in other
processes reaches it at ``url``. It answers, in the shapes and with the error codes
Bitcoin Core documents: ``sendrawtransaction``, ``getrawtransaction`` (verbosity a
bool or an int, optionally a block hash), ``gettxout``, ``getindexinfo``,
``getblockcount``, ``getbestblockhash`` and ``getblockhash``.

What is modelled is which coins exist and what spends them, since that decides
"accepted", "already known", "inputs missing or spent" and "conflict"
(`chain.Chain`, which says how funding coins are taken to exist): transactions are
parsed with embit, and no script, signature, amount or fee is checked. ``gettxout``
answers only for outputs of transactions the fake knows.

Mempool replacement is full RBF without fee rules: a transaction that spends a coin a
mempool transaction spends evicts it (and its descendants), or, with
``allow_replacement`` False, is refused with -26 "txn-mempool-conflict".

-txindex is on unless told otherwise. Without it, as in Core, getrawtransaction finds
only mempool transactions; with it, a transaction of a block a reorg disconnected is
still found, in that block, with 0 confirmations.

The Python controls (``mine``, ``reorg``, ``evict``, ``spend_outputs``,
``spend_inputs``, ``mark_missing``, ``set_txindex``, ``refuse_next``, ``unavailable``)
and the records (``accepted``, ``sent``) are thread-safe. ``on_send`` runs a test's hook
after each ``sendrawtransaction`` is decided, before its answer goes out. `make_tx` and
`funding` build transactions for it.
"""

from tests.support.fakecore.chain import (
    ALREADY_CONFIRMED,
    ALREADY_IN_UTXO_SET,
    DECODE_FAILED,
    DESERIALIZATION_ERROR,
    DUPLICATE_INPUTS,
    INPUTS_MISSING,
    MEMPOOL_CONFLICT,
    TRANSACTION_ERROR,
    TRANSACTION_REJECTED,
    Outpoint,
    funding,
    make_tx,
)
from tests.support.fakecore.node import (
    IN_WARMUP,
    NO_TX_IN_BLOCK,
    NO_TX_INDEXING,
    NO_TX_WITH_TXINDEX,
    NO_TX_WITHOUT_TXINDEX,
    NOT_FOUND,
    WARMING_UP,
    FakeCore,
    Sent,
)

__all__ = [
    "ALREADY_CONFIRMED",
    "ALREADY_IN_UTXO_SET",
    "DECODE_FAILED",
    "DESERIALIZATION_ERROR",
    "DUPLICATE_INPUTS",
    "INPUTS_MISSING",
    "IN_WARMUP",
    "MEMPOOL_CONFLICT",
    "NOT_FOUND",
    "NO_TX_INDEXING",
    "NO_TX_IN_BLOCK",
    "NO_TX_WITHOUT_TXINDEX",
    "NO_TX_WITH_TXINDEX",
    "TRANSACTION_ERROR",
    "TRANSACTION_REJECTED",
    "WARMING_UP",
    "FakeCore",
    "Outpoint",
    "Sent",
    "funding",
    "make_tx",
]
