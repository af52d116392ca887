"""The embedded broadcaster: an append-only, fsynced spool file, one line per txid.

Each line is ``<txid> <raw tx hex>\\n``. The spool is what tools read to judge
"broadcast exactly once" (docs/formats.md); `read_spool` is their reader.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from actors.bridge.broadcast_errors import BroadcastUnavailable, SpoolCorrupt, check_tx

# Shared with rpc.py: operators and tests filter on one broadcast logger.
log = logging.getLogger("alys.bridge.broadcast")


class SpoolEntry(NamedTuple):
    """One spool line, in the order it is written: ``<txid> <tx_hex>``."""

    txid: str
    tx_hex: str



def _parse_line(line: bytes, path: Path, number: int) -> SpoolEntry:
    try:
        txid, tx_hex = line.decode("ascii").split(" ")
        check_tx(tx_hex, txid)
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

    A spool is a hand-off: what becomes of its transactions is someone else's to
    follow, so it answers no look-ups (``follows`` is False; `broadcast.Followable`).
    """

    follows = False

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
            check_tx(tx_hex, txid)
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

