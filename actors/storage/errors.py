"""What can go wrong with the database, each with the path and a precise reason."""

from __future__ import annotations


class StorageError(Exception):
    """Root of the storage errors; `str()` names the database file and the problem.
    `permanent`: writing the same records again must fail the same way."""

    permanent = False

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"storage {path}: {problem}")
        self.path = path
        self.problem = problem

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # pickles across processes
        return (type(self), (self.path, self.problem))


class StorageCorrupt(StorageError):
    """The file is not a database, or SQLite's integrity check fails."""


class SchemaTooNew(StorageError):
    """Written by a newer node: this one does not know its schema."""


class StorageFull(StorageError):
    """The disk, or the configured size limit, is full: nothing was written."""


class StorageUnavailable(StorageError):
    """Cannot open or write the file (permissions, a missing directory, I/O)."""


class StorageRefused(StorageError):
    """SQLite would not take these records (a constraint, a value it cannot bind): the same
    write fails again however often it is sent."""

    permanent = True


def is_permanent(exc: BaseException) -> bool:
    """Whether a write that raised `exc` must fail again with the same records.

    The database's own errors say so themselves. Of the rest, only what comes from the
    machine (memory, the operating system) may pass on a later try: anything else that
    escapes a write (a ValueError, an OverflowError, a TypeError) was raised by the
    records, and retrying them would block every write queued behind them."""
    if isinstance(exc, StorageError):
        return exc.permanent
    return not isinstance(exc, MemoryError | OSError)
