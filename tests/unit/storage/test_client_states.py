"""DurableStore under any order of writes (some that can wait), flushes, timers, commits,
failures, retries and storage restarts: every write commits exactly once; writes that
never failed commit in the order they were made (a failed one waits for the retry timer
while newer ones go: records carry revisions, so order matters only within a record,
whose next write follows its commit); and writes that can wait never start a
transaction of their own before the owner's timer said they had waited."""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from actors.storage.client import DurableStore
from actors.storage.protocol import _Persist

STORAGE = "storage-1"


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[_Persist] = []
        self.store = DurableStore("bridge", lambda _to, message: self.sent.append(message),
                                  check=lambda records: None)
        self.made: list[str] = []  # write names, in the order written
        self.can_wait: set[str] = set()
        self.written_at: dict[str, int] = {}  # name -> step it was written at
        self.committed: list[str] = []
        self.step = 0
        self.last_timer = -1  # the step of the last `flush(waited=True)`
        self.retried: set[str] = set()  # writes that failed once: a retry has waited
        self.seen_seqs: set[int] = set()

    def _in_flight(self) -> list[_Persist]:
        return [p for p in self.sent if p.seq not in self.seen_seqs]

    @rule(can_wait=st.booleans())
    def write(self, can_wait: bool) -> None:
        self.step += 1
        name = f"w{len(self.made)}"
        self.made.append(name)
        self.written_at[name] = self.step
        if can_wait:
            self.can_wait.add(name)
        self.store.write([name], then=lambda: self.committed.append(name),
                         can_wait=can_wait)

    @rule()
    def end_of_turn(self) -> None:
        self.step += 1
        self._flush(waited=False)

    @rule()
    def timer(self) -> None:
        self.step += 1
        self.last_timer = self.step
        self._flush(waited=True)

    def _flush(self, waited: bool) -> None:
        before = len(self.sent)
        self.store.flush(STORAGE, waited=waited)
        for persist in self.sent[before:]:
            names = [str(r) for r in persist.records]
            if names and all(n in self.can_wait for n in names) \
                    and not any(n in self.retried for n in names):
                # Only writes that can wait: the timer must have fired since the oldest.
                assert self.last_timer >= min(self.written_at[n] for n in names), names

    @precondition(lambda self: self._in_flight())
    @rule()
    def commit(self) -> None:
        persist = self._in_flight()[0]
        self.seen_seqs.add(persist.seq)
        self.store.persisted(persist.seq)

    @precondition(lambda self: self._in_flight())
    @rule()
    def fail_for_now(self) -> None:
        persist = self._in_flight()[0]
        self.seen_seqs.add(persist.seq)
        self.retried.update(str(r) for r in persist.records)
        self.store.failed(persist.seq, "disk full")

    @rule()
    def retry(self) -> None:
        self.step += 1
        self.store.retry(STORAGE)

    @precondition(lambda self: self._in_flight())
    @rule()
    def storage_restarted(self) -> None:
        # The owner sends what is in flight again; the first answer counts, a second is
        # ignored (the same seq).
        self.store.resend(STORAGE)

    @invariant()
    def commits_are_once_and_in_order(self) -> None:
        assert len(set(self.committed)) == len(self.committed)
        never_failed = [n for n in self.committed if n not in self.retried]
        assert never_failed == sorted(never_failed, key=self.made.index)

    def teardown(self) -> None:
        # Drain: whatever is left commits, exactly once each, in order.
        for _ in range(4 * len(self.made) + 4):
            self.store.retry(STORAGE)
            self.store.flush(STORAGE, waited=True)
            for persist in self._in_flight():
                self.seen_seqs.add(persist.seq)
                self.store.persisted(persist.seq)
        assert sorted(self.committed, key=self.made.index) == self.made
        assert len(self.committed) == len(self.made) and len(self.store) == 0


StoreMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40,
                                          deadline=None)
test_durable_store_states: Any = StoreMachine.TestCase
