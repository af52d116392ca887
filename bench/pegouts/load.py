"""What the peg-out benchmarks send, and where they see it land.

- `Requests`: unsigned peg-outs for the benchmark's federation (`FEDERATION`,
  3-of-5, two inputs each: six signatures made by the mock, verified by the
  bridge; ECDSA for P2WSH, Schnorr for P2TR, `FEDERATIONS`), each with a seed
  never used before in the run, so a txid of its own;
- `SpoolWatcher`: when each txid's line is first in the spool and durable;
- `pegout_node`: the real-signing mock and a node wired to it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from actors.messages import InitiatePegout
from btc.pegout import MAX_MONEY_SAT
from harness.mock import MockGovernance
from harness.nodes import LocalNode
from harness.pegouts import Federation, txid_of, unsigned_pegout
from harness.pegouts import pegout_node as federation_node

FEDERATION_SEED = "bench-pegouts"
FEDERATION_SIZE = 5
THRESHOLD = 3
FEDERATION = Federation(FEDERATION_SEED, FEDERATION_SIZE, THRESHOLD)
# The benchmark's federation by script type (`scripts/bench --pegout-script-type`).
FEDERATIONS = {script_type: Federation(FEDERATION_SEED, FEDERATION_SIZE, THRESHOLD, script_type)
               for script_type in ("p2wsh", "p2tr")}
INPUTS = 2
# Peg-outs per Batch when many go at once, as a client with many should send them.
BURST_BATCH = 250
POLL_S = 0.001  # between looks at the spool, where inotify cannot tell of its writes
# With inotify, the longest wait between looks: a write is never missed (its event waits
# in the queue), so this only bounds how long `stop` takes.
WATCH_S = 0.05
# What the node's code fixes (StorageActor's PRAGMAs, SpoolBroadcaster's appends);
# the rest of the settings are read from the node's config when it runs.
DURABILITY = {"sqlite": "WAL, synchronous=FULL", "spool": "fsync per append"}


@dataclass(frozen=True)
class Request:
    message: InitiatePegout
    txid: str


class Requests:
    """Peg-outs with seeds never used before in this run, so every txid is new."""

    def __init__(self, padding_bytes: int = 0, federation: Federation = FEDERATION) -> None:
        self.script = federation.script
        self.next_seed = 1
        self.padding_bytes = padding_bytes  # grows each transaction by about this much

    def make(self, label: str, count: int) -> list[Request]:
        made = []
        for _ in range(count):
            seed, self.next_seed = self.next_seed, self.next_seed + 1
            message = unsigned_pegout(f"bench-{label}-{seed}", self.script, seed,
                                      n_inputs=INPUTS, padding_bytes=self.padding_bytes)
            # A segwit signature leaves the txid as it is: the unsigned one is the spooled one.
            made.append(Request(message, txid_of(message)))
        return made


class SpoolWatcher:
    """Records, from its own thread, when each txid's line is first in the spool and durable.

    Once the file exists, the thread sleeps until it is written (inotify); polling it every
    `interval_s` instead took 3 % of a CPU the node shares in `--cpus 0` runs. Without
    inotify it polls. `changed` is set whenever new txids were recorded."""

    def __init__(self, path: Path, interval_s: float = POLL_S) -> None:
        self.path = path
        self.interval_s = interval_s
        self.seen: dict[str, float] = {}
        self.duplicates = 0
        self.changed = threading.Event()
        self._fd = -1
        self._offset = 0
        self._partial = b""
        self._writes: FileWrites | None = None
        self._watch_tried = False  # once: where inotify fails, it fails every time
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="spool-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.poll()
                if not self._watch_tried and self._fd >= 0:
                    self._watch_tried = True
                    self._writes = FileWrites.watching(self.path)
                    if self._writes is not None:
                        continue  # look again: a write before the watch raised no event
                if self._writes is not None:
                    self._writes.wait(WATCH_S)
                else:
                    time.sleep(self.interval_s)
        finally:
            if self._writes is not None:
                self._writes.close()

    def poll(self) -> None:
        if self._fd < 0:
            try:
                self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return  # the bridge creates it when it starts
        size = os.fstat(self._fd).st_size
        if size <= self._offset:
            return
        data = os.pread(self._fd, size - self._offset, self._offset)
        # The bridge writes, then fsyncs: this fsync returns once what was read is on
        # disk, so the clock below never runs ahead of the bridge's own fsync.
        os.fsync(self._fd)
        now = time.perf_counter()
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()  # a write seen half done: the rest comes next poll
        for line in lines:
            txid = line.split(b" ", 1)[0].decode("ascii")
            if txid in self.seen:
                self.duplicates += 1
            else:
                self.seen[txid] = now
        if lines:
            self.changed.set()


class FileWrites:
    """Waits for writes to one file through Linux's inotify (ctypes: the standard library
    has no binding). `watching` returns None where inotify is not to be had."""

    _IN_MODIFY = 0x2
    _IN_NONBLOCK_CLOEXEC = os.O_NONBLOCK | os.O_CLOEXEC

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._poller = select.poll()  # not select(): it refuses descriptors past 1023
        self._poller.register(fd, select.POLLIN)

    @classmethod
    def watching(cls, path: Path) -> FileWrites | None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.inotify_init1(cls._IN_NONBLOCK_CLOEXEC)
        except (OSError, AttributeError):
            return None
        if fd < 0:
            return None
        if libc.inotify_add_watch(fd, os.fsencode(path), cls._IN_MODIFY) < 0:
            os.close(fd)
            return None
        return cls(fd)

    def wait(self, timeout_s: float) -> None:
        """Until the file was written since the last wait, or `timeout_s`."""
        if self._poller.poll(1000 * timeout_s):
            with contextlib.suppress(BlockingIOError):
                os.read(self._fd, 65536)  # the events themselves say nothing more

    def close(self) -> None:
        os.close(self._fd)


@contextmanager
def pegout_node(directory: Path, log_level: str = "INFO",
                federation: Federation = FEDERATION, tracing_endpoint: str | None = None
                ) -> Iterator[tuple[LocalNode, MockGovernance]]:
    """The real-signing mock and a node wired to it, with the node's default intervals and
    durability, at `log_level`, tracing every peg-out to `tracing_endpoint` if one is
    given: yields (node, mock)."""
    logging = {"file": str(directory / "node" / "logs" / "node.log"), "level": log_level}
    tracing = {"endpoint": tracing_endpoint, "sample_ratio": 1.0}
    # The outflow window is checked for every peg-out as in production, with a cap no run
    # reaches: the default's 50 BTC a day is about 50,000 of these peg-outs, which a long
    # run at 1,000/s offers in under a minute (and the rest would be refused).
    bridge = {"broadcaster": {"spool_path": str(directory / "node" / "data" / "broadcast.spool")},
              "outflow": {"max_sat": MAX_MONEY_SAT}}
    with federation_node(directory, federation, logging=logging, tracing=tracing,
                         bridge=bridge) as (node, mock):
        yield node, mock
