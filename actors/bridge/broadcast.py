"""Hand a signed peg-out transaction to the outside world, at most once per txid.

Two broadcasters share one small interface (``broadcast``, ``broadcast_many``):

- ``SpoolBroadcaster``, the embedded default, appends ``<txid> <raw tx hex>\\n``
  to an append-only file and fsyncs before it answers. The spool is what
  tools read to judge "broadcast exactly once" (docs/architecture.md).
- ``BitcoinRpcBroadcaster`` calls Bitcoin Core's ``sendrawtransaction``.

Both return True when the transaction is new and False when it was already
known; both outcomes are success, since re-broadcasting after a SIGKILL is
expected. Calls run inside an actor, so they never sleep and every network
call carries a short timeout; failures raise a ``BroadcastError`` whose
``retryable`` tells the caller whether to try again later.
"""

from __future__ import annotations

import base64
import fcntl
import http.client
import itertools
import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from nodeconfig import BroadcasterConfig

log = logging.getLogger("alys.bridge.broadcast")

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


class BroadcastError(Exception):
    """Root of every error a broadcaster raises; ``retryable`` says whether a retry can help."""

    retryable: bool = False


class BroadcastRejected(BroadcastError):
    """The network refused this transaction for good: retrying the same bytes cannot succeed."""

    retryable = False

    def __init__(self, code: int, message: str) -> None:
        # Both values go to Exception so the error survives pickling between actor processes.
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"transaction rejected (RPC error {self.code}): {self.message}"


class BroadcastUnavailable(BroadcastError):
    """The transaction could not be handed over now (network, server or auth trouble)."""

    retryable = True


class SpoolCorrupt(BroadcastError):
    """A spool line other than a torn last one is malformed: a person has to look at it."""


class BroadcasterMisconfigured(BroadcastError, ValueError):
    """The config cannot build a broadcaster (missing URL, unset environment variable)."""


class Broadcaster(Protocol):
    def broadcast(self, tx_hex: str, txid: str) -> bool: ...

    def broadcast_many(self, items: Sequence[tuple[str, str]]) -> int: ...


class SpoolEntry(NamedTuple):
    """One spool line, in the order it is written: ``<txid> <tx_hex>``."""

    txid: str
    tx_hex: str


def _check_tx(tx_hex: str, txid: str) -> None:
    # Whitespace in either field would break the one-line-per-transaction format.
    if not txid or any(char.isspace() for char in txid):
        raise ValueError(f"txid must be a non-empty token without whitespace, got {txid!r}")
    if not tx_hex or len(tx_hex) % 2 or not _HEX_DIGITS.issuperset(tx_hex):
        raise ValueError(f"tx_hex for {txid} is not an even-length hex string")


def _parse_line(line: bytes, path: Path, number: int) -> SpoolEntry:
    try:
        txid, tx_hex = line.decode("ascii").split(" ")
        _check_tx(tx_hex, txid)
    except (UnicodeDecodeError, ValueError):
        raise SpoolCorrupt(f"{path}: line {number} is not '<txid> <raw tx hex>'") from None
    return SpoolEntry(txid, tx_hex)


def _split_spool(data: bytes, path: Path) -> tuple[list[SpoolEntry], int]:
    """The complete lines of a spool, and the byte count of a torn last line (0 if none).

    Only the last line can be torn: every append is fsynced before the next
    begins, so a crash can cut short at most the append in flight, which
    never got its trailing newline.
    """
    end = data.rfind(b"\n") + 1
    body = data[:end]
    lines = body.split(b"\n")[:-1] if body else []
    return [_parse_line(line, path, n) for n, line in enumerate(lines, 1)], len(data) - end


def read_spool(path: str | os.PathLike[str]) -> list[SpoolEntry]:
    """Every complete line of the spool in file order, duplicates kept (tools count them).

    Read-only: a torn last line is skipped here, and repaired only by the
    broadcaster that owns the file when it opens it.
    """
    spool = Path(path)
    entries, _ = _split_spool(spool.read_bytes(), spool)
    return entries


def _fsync_directory(directory: Path) -> None:
    # A new file's name lives in its directory: without this a crash can lose the file itself.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SpoolBroadcaster:
    """The embedded broadcaster: an append-only, fsynced file of transactions, one per txid.

    Holds an exclusive ``flock`` while open, so two bridge processes can never
    both append (each would trust its own index and could write a txid twice).
    The lock dies with the process, so a SIGKILLed owner never blocks a restart.

    Its index of txids covers the spool from byte `read_from` on, not the whole
    file: the bridge stores, with its broadcast commits, an offset before which
    every line's peg-out is committed `broadcast` (so never handed over again),
    and a start reads only what follows it (`actors.bridge.spoolmarks`). With
    `read_from=None` the file is opened and locked but not read until `index`
    is called (or, failing that, the first broadcast reads it whole).
    """

    def __init__(self, path: str | os.PathLike[str], read_from: int | None = 0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        self._txids: set[str] = set()
        self._size = 0
        self._indexed = False
        try:
            self._lock()
            if created:
                _fsync_directory(self.path.parent)
            if read_from is not None:
                self.index(read_from)
        except BaseException:
            os.close(self._fd)
            raise

    def index(self, read_from: int = 0) -> None:
        """Know the txids spooled from byte `read_from` on (0: the whole file). An offset
        that is not the start of a line of this file (a spool replaced or cut) reads the
        whole file instead, with a warning."""
        size = os.fstat(self._fd).st_size
        if read_from and (read_from > size
                          or os.pread(self._fd, 1, read_from - 1) != b"\n"):
            log.warning("spool %s: offset %d is not a line start of this %d-byte file; "
                        "reading all of it", self.path, read_from, size)
            read_from = 0
        self._txids, self._size = self._load(read_from, size)
        self._indexed = True

    @property
    def offset(self) -> int:
        """The spool's size: where the next append begins."""
        return self._size

    def _lock(self) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BroadcastUnavailable(
                f"spool {self.path} is already open by another broadcaster"
            ) from None

    def _load(self, read_from: int, size: int) -> tuple[set[str], int]:
        data = os.pread(self._fd, size - read_from, read_from)
        entries, torn = _split_spool(data, self.path)
        if torn:
            # The cut-short append never counted as spooled: its caller got no True
            # back, so the bridge broadcasts it again and it is appended whole.
            log.warning("spool %s: removing a torn last line of %d bytes", self.path, torn)
            size -= torn
            os.ftruncate(self._fd, size)
            os.fsync(self._fd)
        return {entry.txid for entry in entries}, size

    def broadcast(self, tx_hex: str, txid: str) -> bool:
        """Append the transaction unless its txid is spooled; True if it was appended."""
        return self.broadcast_many([(tx_hex, txid)]) == 1

    def broadcast_many(self, items: Sequence[tuple[str, str]]) -> int:
        """Append every transaction not yet spooled with one write and one fsync.

        Returns how many were appended. Nothing counts as spooled until the
        fsync succeeds, so a failure leaves the caller free to retry them all.
        """
        if not self._indexed:
            self.index(0)
        fresh: dict[str, str] = {}
        for tx_hex, txid in items:
            _check_tx(tx_hex, txid)
            if txid not in self._txids:
                fresh.setdefault(txid, tx_hex)
        if not fresh:
            return 0
        self._append(f"{txid} {tx_hex}\n" for txid, tx_hex in fresh.items())
        self._txids.update(fresh)
        return len(fresh)

    def _append(self, lines: Iterable[str]) -> None:
        data = "".join(lines).encode("ascii")
        try:
            view = memoryview(data)
            while view:  # a write to a regular file may still be partial (disk full)
                view = view[os.write(self._fd, view):]
            os.fsync(self._fd)
        except OSError as exc:
            # Leave the file as it was, so a retry appends whole lines again.
            try:
                os.ftruncate(self._fd, self._size)
            except OSError:
                log.exception("spool %s: could not undo a failed append", self.path)
            raise BroadcastUnavailable(f"spool {self.path}: append failed: {exc}") from exc
        self._size += len(data)

    def txids(self) -> frozenset[str]:
        return frozenset(self._txids)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # also releases the flock
            self._fd = -1

    def __enter__(self) -> SpoolBroadcaster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


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
        _check_tx(tx_hex, txid)
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


def _credential(env: Mapping[str, str], name: str | None, key: str) -> str | None:
    if name is None:
        return None
    try:
        return env[name]
    except KeyError:
        # Name the variable and the key that points at it, never a value.
        raise BroadcasterMisconfigured(
            f"environment variable {name} (bridge.broadcaster.{key}) is not set"
        ) from None


def make_broadcaster(
    config: BroadcasterConfig, env: Mapping[str, str] = os.environ
) -> SpoolBroadcaster | BitcoinRpcBroadcaster:
    """The broadcaster ``bridge.broadcaster`` asks for; credentials come from ``env``.
    A spool is opened and locked, not read: its owner calls ``index`` with where to read
    from, and a spool of millions of lines is never read whole at a start."""
    if config.kind == "spool":
        return SpoolBroadcaster(config.spool_path, read_from=None)
    if config.kind == "bitcoin_rpc":
        if not config.rpc_url:
            raise BroadcasterMisconfigured(
                "bridge.broadcaster.rpc_url is required when kind is bitcoin_rpc"
            )
        user = _credential(env, config.rpc_user_env, "rpc_user_env")
        password = _credential(env, config.rpc_password_env, "rpc_password_env")
        return BitcoinRpcBroadcaster(config.rpc_url, user, password)
    raise BroadcasterMisconfigured(f"unknown bridge.broadcaster.kind {config.kind!r}")
