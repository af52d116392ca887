"""The benchmarks' `SpoolWatcher`: every txid line once, with the time it was first seen,
woken by inotify where the kernel offers it and by polling where not."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from bench.pegouts import load
from bench.pegouts.load import FileWrites, SpoolWatcher

pytestmark = pytest.mark.timeout(30)


def append(path: Path, text: str) -> None:
    with path.open("ab") as spool:
        spool.write(text.encode("ascii"))


def wait_for(condition, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the watcher never saw it"
        time.sleep(0.001)


def _inotify_here(path: Path) -> bool:
    writes = FileWrites.watching(path)
    if writes is None:
        return False
    writes.close()  # an inotify instance each: a user has 128
    return True


@pytest.mark.parametrize("inotify", [True, False], ids=["inotify", "polling"])
def test_each_txid_is_recorded_once_with_lines_written_in_pieces(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inotify: bool) -> None:
    if not inotify:
        monkeypatch.setattr(FileWrites, "watching", classmethod(lambda cls, path: None))
    elif not _inotify_here(tmp_path):
        pytest.skip("no inotify here")
    spool = tmp_path / "spool"
    watcher = SpoolWatcher(spool)
    watcher.start()
    try:
        append(spool, "aa 1\nbb")  # a line written half
        assert watcher.changed.wait(10)
        assert "aa" in watcher.seen and "bb" not in watcher.seen
        # The way it was meant to wake: the watch is set just after the first lines are
        # seen, so that it may not be there yet.
        wait_for(lambda: watcher._watch_tried)
        wait_for(lambda: (watcher._writes is not None) == inotify)
        watcher.changed.clear()
        append(spool, " 2\naa 3\n")  # the rest, then a txid again
        assert watcher.changed.wait(10)
        wait_for(lambda: watcher.duplicates == 1)
        assert set(watcher.seen) == {"aa", "bb"}
        assert watcher.seen["aa"] < watcher.seen["bb"]
    finally:
        watcher.stop()


def test_a_write_wakes_the_wait_long_before_its_timeout(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.touch()
    writes = FileWrites.watching(spool)
    if writes is None:
        pytest.skip("no inotify here")
    try:
        timer = threading.Timer(0.05, append, (spool, "aa 1\n"))
        timer.start()
        started = time.monotonic()
        writes.wait(20.0)
        assert time.monotonic() - started < 10.0  # woken by the write, not the timeout
        timer.join()
        started = time.monotonic()
        writes.wait(0.05)  # the event was read: nothing new, so the timeout ends it
        assert time.monotonic() - started >= 0.04
    finally:
        writes.close()


def test_a_file_that_cannot_be_watched_gives_no_watcher(tmp_path: Path) -> None:
    assert FileWrites.watching(tmp_path / "absent") is None


def test_stop_returns_promptly_with_nothing_written(tmp_path: Path) -> None:
    if not _inotify_here(tmp_path):
        pytest.skip("no inotify here")
    spool = tmp_path / "spool"
    spool.touch()
    watcher = SpoolWatcher(spool)
    watcher.start()
    try:
        wait_for(lambda: watcher._writes is not None)  # asleep on inotify
    finally:
        started = time.monotonic()
        watcher.stop()
    assert time.monotonic() - started < 10 * load.WATCH_S


def test_a_watcher_without_inotify_tries_it_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tries: list[Path] = []
    monkeypatch.setattr(FileWrites, "watching",
                        classmethod(lambda cls, path: tries.append(path)))
    spool = tmp_path / "spool"
    spool.touch()
    watcher = SpoolWatcher(spool)
    polls: list[None] = []
    look = watcher.poll
    watcher.poll = lambda: (polls.append(None), look())[1]  # type: ignore[method-assign]
    watcher.start()
    try:
        append(spool, "aa 1\n")
        assert watcher.changed.wait(10)
        wait_for(lambda: len(polls) >= 20)  # it goes on polling, without trying again
    finally:
        watcher.stop()
    assert tries == [spool]
