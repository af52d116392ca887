"""Bitcoin Core's ``sendrawtransaction`` over JSON-RPC 1.0 with Basic auth.

Every call carries a short timeout (it runs inside an actor), and Core's
answers are sorted into "new", "already known" (both success), a rejection
for good (`BroadcastRejected`) and trouble worth a retry (`BroadcastUnavailable`).
"""

from __future__ import annotations

import base64
import http.client
import itertools
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from actors.bridge.broadcast_errors import BroadcastRejected, BroadcastUnavailable, check_tx

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
# since; the node cannot tell that from a double spend, so it stays a rejection.
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


def _already_known(code: int, message: str) -> bool:
    if code == _ALREADY_IN_UTXO_SET:
        return True
    lowered = message.lower()
    return code in (-25, -26) and any(reason in lowered for reason in _ALREADY_KNOWN_REASONS)


def _direct_opener() -> urllib.request.OpenerDirector:
    # Ignore *_proxy environment variables: the RPC endpoint is configured to be
    # reached directly, and a proxy would be handed the node's credentials.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


class BitcoinRpcBroadcaster:
    """``sendrawtransaction`` on a Bitcoin Core node over JSON-RPC 1.0 with Basic auth."""

    def __init__(
        self, url: str, user: str | None, password: str | None, timeout_s: float = 5.0
    ) -> None:
        parts = urlsplit(url)
        # Messages name scheme, host and port only: a URL may embed credentials.
        port = f":{parts.port}" if parts.port else ""
        self._where = f"{parts.scheme}://{parts.hostname}{port}"
        self._url = url
        self._timeout_s = timeout_s
        self._headers = {"Content-Type": "application/json"}
        if user is not None or password is not None:
            token = base64.b64encode(f"{user or ''}:{password or ''}".encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {token}"
        self._ids = itertools.count(1)
        self._opener = _direct_opener()

    def broadcast(self, tx_hex: str, txid: str) -> bool:
        """True if the node accepted it now, False if it already had it; raises otherwise."""
        check_tx(tx_hex, txid)
        status, body = self._post("sendrawtransaction", [tx_hex])
        reply = self._decode(status, body)
        error = reply.get("error")
        if error is not None:
            return self._judge_error(error, txid)
        if status != http.client.OK:
            raise BroadcastUnavailable(f"bitcoin RPC at {self._where}: HTTP {status}")
        result = reply.get("result")
        if result != txid:
            # The network has the transaction either way; a mismatch means our txid
            # bookkeeping and the node disagree, which someone must hear about.
            log.warning("bitcoin RPC at %s returned txid %r for %s", self._where, result, txid)
        return True

    def broadcast_many(self, items: Sequence[tuple[str, str]]) -> int:
        """Broadcast each in turn; the count of new ones. Stops at the first error."""
        return sum(self.broadcast(tx_hex, txid) for tx_hex, txid in items)

    def _post(self, method: str, params: list[Any]) -> tuple[int, bytes]:
        body = json.dumps(
            {"jsonrpc": "1.0", "id": next(self._ids), "method": method, "params": params}
        ).encode()
        request = urllib.request.Request(self._url, data=body, headers=self._headers,
                                         method="POST")
        try:
            with self._opener.open(request, timeout=self._timeout_s) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            # Core answers RPC errors with HTTP 500 (404 for an unknown method) and
            # the JSON error in the body; read it rather than stop at the status.
            with exc:
                try:
                    return exc.code, exc.read()
                except (OSError, http.client.HTTPException):
                    return exc.code, b""
        except (OSError, http.client.HTTPException) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise BroadcastUnavailable(
                f"bitcoin RPC at {self._where} unreachable: {reason}"
            ) from None

    def _decode(self, status: int, body: bytes) -> dict[str, Any]:
        if status == http.client.UNAUTHORIZED:
            # Core's 401 has no body; the credentials stay out of the message on purpose.
            raise BroadcastUnavailable(
                f"bitcoin RPC at {self._where}: authentication failed (HTTP 401)"
            )
        try:
            reply = json.loads(body)
        except ValueError:
            reply = None
        if not isinstance(reply, dict) or not ({"result", "error"} & reply.keys()):
            raise BroadcastUnavailable(
                f"bitcoin RPC at {self._where}: HTTP {status} without a JSON-RPC reply"
            )
        return reply

    def _judge_error(self, error: object, txid: str) -> bool:
        if not isinstance(error, dict) or not isinstance(error.get("code"), int):
            raise BroadcastUnavailable(f"bitcoin RPC at {self._where}: malformed error {error!r}")
        code, message = error["code"], str(error.get("message", ""))
        if _already_known(code, message):
            log.info("bitcoin RPC at %s already has %s (%d: %s)", self._where, txid, code,
                     message)
            return False
        if code in _VERDICT_CODES:
            raise BroadcastRejected(code, message)
        raise BroadcastUnavailable(f"bitcoin RPC at {self._where}: error {code}: {message}")
