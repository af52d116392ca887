"""Where one run of the node keeps its working files, derived from the config.

Everything lives in `<directory of storage.path>/run/`, named by admin port so
that two nodes on one machine never share files:

- `node-<port>.json`: the run file (launcher pid, admin pid, session id, mock
  pid), used by the next start to find processes an earlier run left behind;
- `metrics-<port>/`: prometheus-client's multiprocess directory, emptied at
  every start;
- `mock-governance-<port>.out`: the local mock server's stdout;
- `actor-secret-<port>`: the key that tags every actor frame (runtime/frames.py),
  mode 0600, kept from one start to the next.

This module imports nothing from prometheus_client on purpose: the launcher
must point `PROMETHEUS_MULTIPROC_DIR` at the fresh directory before the
client is first imported.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from nodeconfig import NodeConfig

METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True)
class RunPaths:
    directory: Path
    run_file: Path
    metrics_dir: Path
    mock_output: Path
    secret_file: Path


def run_paths(config: NodeConfig) -> RunPaths:
    directory = Path(config.storage.path).parent / "run"
    port = config.actor_system.admin_port
    return RunPaths(
        directory=directory,
        run_file=directory / f"node-{port}.json",
        metrics_dir=directory / f"metrics-{port}",
        mock_output=directory / f"mock-governance-{port}.out",
        secret_file=directory / f"actor-secret-{port}",
    )


# Files 0600, directories 0700: the log quotes peg-outs, the database holds them, the run
# directory holds the frame secret. Nothing the node writes is for another user.
PRIVATE_UMASK = 0o077


def node_directories(config: NodeConfig) -> tuple[Path, ...]:
    """The directories the node writes into (database, spool, log, run files)."""
    found: list[Path] = []
    for directory in (Path(config.storage.path).parent, run_paths(config).directory,
                      Path(config.logging.file).parent,
                      Path(config.bridge.broadcaster.spool_path).parent):
        if directory not in found:
            found.append(directory)
    return tuple(found)


def node_files(config: NodeConfig) -> tuple[Path, ...]:
    """The files the node writes outside its run directory."""
    database = config.storage.path
    log = Path(config.logging.file)
    thespian_log = log.with_name(log.stem + ".thespian" + log.suffix)  # runtime.logs' name
    return (Path(database), *(Path(database + suffix) for suffix in ("-wal", "-shm", "-journal")),
            Path(config.bridge.broadcaster.spool_path), log, thespian_log,
            thespian_log.with_name(thespian_log.name + ".old"))


def make_private(config: NodeConfig) -> int:
    """From now on this process, and every process it starts, creates files 0600 and
    directories 0700; what the node wrote before (its files, its directories, the whole
    run directory) is tightened to that. Returns the umask it replaced.

    A directory is tightened only if this user owns it and it is not sticky: a shared
    directory such as /tmp is left as it is, and of what it holds only the node's own
    files are touched."""
    previous = os.umask(PRIVATE_UMASK)
    uid = os.getuid()
    for directory in node_directories(config):
        _tighten(directory, uid, 0o700)
    for path in node_files(config):
        _tighten(path, uid, 0o600)
    _tighten_tree(run_paths(config).directory, uid)
    return previous


def _tighten(path: Path, uid: int, mode: int) -> os.stat_result | None:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    if info.st_uid != uid or stat.S_ISLNK(info.st_mode):
        return None
    if stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX:
        return None
    _chmod(path, info, mode)
    return info


def _tighten_tree(directory: Path, uid: int) -> None:
    info = _tighten(directory, uid, 0o700)
    if info is None or not stat.S_ISDIR(info.st_mode):
        return
    for entry in directory.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            _tighten_tree(entry, uid)
        else:
            _tighten(entry, uid, 0o600)


def _chmod(path: Path, info: os.stat_result, mode: int) -> None:
    if stat.S_IMODE(info.st_mode) & ~mode:
        os.chmod(path, stat.S_IMODE(info.st_mode) & mode)


def prepare_metrics_dir(path: str | os.PathLike[str]) -> Path:
    """Empty (or create) `path` and make it this process tree's metrics directory."""
    directory = Path(path)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[METRICS_ENV] = str(directory)
    return directory
