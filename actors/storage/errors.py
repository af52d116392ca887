"""What can go wrong with the database, each with the path and a precise reason."""

from __future__ import annotations


class StorageError(Exception):
    """Root of the storage errors; `str()` names the database file and the problem."""

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
